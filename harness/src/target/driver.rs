//! Driver targets: a long-lived external process, one JSON plan per line in,
//! one JSON [`super::TargetRun`] per line out; stderr kept for the report.

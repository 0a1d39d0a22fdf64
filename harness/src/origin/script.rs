//! Answering requests from a case's origin script.

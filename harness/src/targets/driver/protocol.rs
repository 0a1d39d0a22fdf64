//! The driver protocol's lines: the plan line a driver reads (the [`Plan`]
//! with its `id` and `timeout_ms`) and the answer line it writes back.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::case::Feature;
use crate::targets::{Plan, StepResult};

/// Most of an unreadable line quoted in an error.
pub(super) const MAX_QUOTED: usize = 4 << 10;

/// Plan ids, unique among the plans of this process.
static NEXT_PLAN_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh plan id.
pub(super) fn next_plan_id() -> u64 {
    NEXT_PLAN_ID.fetch_add(1, Ordering::Relaxed)
}

/// The line a driver reads: the plan's fields, plus the id its answer must
/// echo and the case's time limit (so a driver can give its client a deadline).
#[derive(Debug, Serialize)]
pub(super) struct PlanLine<'a> {
    pub id: u64,
    pub timeout_ms: u64,
    #[serde(flatten)]
    pub plan: &'a Plan,
}

impl PlanLine<'_> {
    /// The JSON line, newline included.
    pub(super) fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut line = serde_json::to_vec(self)?;
        line.push(b'\n');
        Ok(line)
    }
}

/// A driver's answer line as written.
#[derive(Debug, Deserialize)]
pub(super) struct Answer {
    /// The id of the plan answered, as written (any JSON value).
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub steps: Vec<AnswerStep>,
    #[serde(default)]
    pub unsupported: BTreeSet<Feature>,
    /// The driver could not handle the plan at all.
    #[serde(default)]
    pub driver_error: Option<String>,
}

/// One step of an answer: what the client reported, or the driver's own fault.
#[derive(Debug, Deserialize)]
pub(super) struct AnswerStep {
    #[serde(flatten)]
    pub result: StepResult,
    #[serde(default)]
    pub driver_error: Option<String>,
}

/// How an answer's id relates to the plan it should answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum IdCheck {
    Matches,
    /// No `id` (or `null`).
    Missing,
    /// Another id, as written, and the number when it is one.
    Other {
        written: String,
        number: Option<u64>,
    },
}

impl Answer {
    pub(super) fn check_id(&self, expected: u64) -> IdCheck {
        match &self.id {
            None | Some(serde_json::Value::Null) => IdCheck::Missing,
            Some(id) if id.as_u64() == Some(expected) => IdCheck::Matches,
            Some(id) => IdCheck::Other {
                written: quote(id.to_string().as_bytes()),
                number: id.as_u64(),
            },
        }
    }
}

/// A driver's answer line, or why it is not one.
pub(super) fn parse_answer(line: &[u8]) -> Result<Answer, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| format!("not an answer: {e}"))
}

/// The start of an unreadable line, for the error.
pub(super) fn quote(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_without_panicking() {
        assert!(parse_answer(b"{\"steps\": []}\r").is_ok());
        assert!(parse_answer(b"\xff\xfe").unwrap_err().starts_with("not UTF-8"));
        assert!(parse_answer(b"").is_err());
        assert!(parse_answer(b"{\"steps\": [{\"body\": \"not base64!\"}]}").is_err());
        assert!(parse_answer(b"{\"steps\": [{\"status\": 70000}]}").is_err());
        assert_eq!(
            quote("é".repeat(MAX_QUOTED + 5).as_bytes()).chars().count(),
            MAX_QUOTED + 1
        );
    }

    #[test]
    fn ids_are_checked_as_written() {
        let check = |line: &str| parse_answer(line.as_bytes()).expect("answer").check_id(7);
        assert_eq!(check("{\"id\": 7, \"steps\": []}"), IdCheck::Matches);
        assert_eq!(check("{\"steps\": []}"), IdCheck::Missing);
        assert_eq!(check("{\"id\": null}"), IdCheck::Missing);
        assert_eq!(
            check("{\"id\": 6}"),
            IdCheck::Other {
                written: "6".to_owned(),
                number: Some(6)
            }
        );
        assert_eq!(
            check("{\"id\": \"7\"}"),
            IdCheck::Other {
                written: "\"7\"".to_owned(),
                number: None
            }
        );
        assert_eq!(
            check("{\"id\": 7.5}"),
            IdCheck::Other {
                written: "7.5".to_owned(),
                number: None
            }
        );
    }
}

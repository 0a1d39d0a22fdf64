//! What both Rust targets report the same way, whatever the client: header
//! bytes as text, a client error with its causes, and a fault of the target
//! itself. Each target crate includes this file as its `support` module
//! (`#[path = "../../rust-common/support.rs"]`).

use hopcheck::targets::TargetError;

/// Bytes as UTF-8 when they are, else each byte as the character of the
/// same number (Latin-1), so that no byte of a header is lost or replaced.
pub fn header_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The error with its causes, `: `-separated; a cause whose text the
/// message already ends with (clients often quote their inner error) is not
/// repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A fault of the target itself (not of the client) for the plan (`step`
/// is `None`) or for step `step` (1-based): the case is `error`.
pub fn target_fault(step: Option<usize>, message: String) -> TargetError {
    TargetError::Driver {
        step,
        message,
        stderr: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_that_are_not_utf8_keep_every_byte() {
        assert_eq!(header_text("é".as_bytes()), "é");
        assert_eq!(header_text(b"caf\xe9"), "caf\u{e9}");
        let text = header_text(b"\xff\x80");
        assert_eq!(text.chars().map(|c| c as u32).collect::<Vec<_>>(), [0xff, 0x80]);
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn an_error_names_its_causes_once() {
        let inner = Layer("too many redirects", None);
        let quoting = Layer("redirect: too many redirects", Some(Box::new(inner)));
        let outer = Layer("error following redirect", Some(Box::new(quoting)));
        assert_eq!(
            error_chain(&outer),
            "error following redirect: redirect: too many redirects"
        );
    }
}

//! Reading one results file: the format version first, then the rest, with
//! errors that name the file and, for bad JSON, the line and column. A file
//! whose name ends in `.gz` is gunzipped first (the published results in
//! `reports/results/` are kept that way: a run's JSON compresses about
//! twentyfold).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Report, FORMAT};

/// Why a results file could not be read. Each names the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    Io { path: PathBuf, source: std::io::Error },
    /// The file ends in the middle of the JSON (a write cut short, a copy
    /// not finished).
    Truncated { path: PathBuf, line: usize, column: usize },
    /// The file is not JSON.
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON has no `format` key: not a results file, or one written
    /// before the format was versioned.
    MissingFormat { path: PathBuf },
    /// The file is in a format version this hopcheck does not read.
    UnsupportedFormat { path: PathBuf, found: String },
    /// The format version is right, but a key is missing or of the wrong
    /// type (a hand-edited file).
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io { path, source } => write!(f, "{}: cannot read: {source}", path.display()),
            ReadError::Truncated { path, line, column } => write!(
                f,
                "{}:{line}:{column}: the JSON ends too early; the file is truncated (write it again with `hopcheck run`)",
                path.display()
            ),
            ReadError::NotJson {
                path,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: not JSON: {message}", path.display()),
            ReadError::MissingFormat { path } => write!(
                f,
                "{}: no `format` key: not a hopcheck results file, or one older than format {FORMAT}",
                path.display()
            ),
            ReadError::UnsupportedFormat { path, found } => write!(
                f,
                "{}: results format {found}, but this hopcheck reads format {FORMAT}; run the suite again with it",
                path.display()
            ),
            ReadError::Invalid {
                path,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}:{column}: not a results file of format {FORMAT}: {message}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Read the results file at `path`, written by `hopcheck run`, or that file
/// gzipped when `path` ends in `.gz`.
pub fn read(path: &Path) -> Result<Report, ReadError> {
    let io_error = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io_error)?;
    if is_gzipped(path) {
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut json).map_err(io_error)?;
        return parse(path, &json);
    }
    parse(path, &bytes)
}

/// Whether `path` names a gzipped file (`*.gz`).
fn is_gzipped(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "gz")
}

/// Parse `bytes`, the content of the file `path`.
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Report, ReadError> {
    /// Only the version, so that a file of another format is named as such
    /// rather than as a file with missing keys.
    #[derive(Deserialize)]
    struct Version {
        format: Option<serde_json::Value>,
    }
    let version: Version = serde_json::from_slice(bytes).map_err(|e| syntax_error(path, &e))?;
    match version.format {
        None => return Err(ReadError::MissingFormat { path: path.to_owned() }),
        Some(found) if found != FORMAT => {
            return Err(ReadError::UnsupportedFormat {
                path: path.to_owned(),
                found: found.to_string(),
            })
        }
        Some(_) => {}
    }
    serde_json::from_slice(bytes).map_err(|e| ReadError::Invalid {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// The error for JSON that does not parse, or whose top level is no object.
fn syntax_error(path: &Path, e: &serde_json::Error) -> ReadError {
    let path = path.to_owned();
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Eof => ReadError::Truncated { path, line, column },
        _ => ReadError::NotJson {
            path,
            line,
            column,
            message: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::super::TargetInfo;
    use super::*;
    use crate::case::Profile;
    use crate::verdict::VerdictKind;

    fn written() -> (tempfile::TempDir, PathBuf, String) {
        let report = Report::new(
            "fnv64:1".into(),
            TargetInfo {
                name: "t".into(),
                version: "1".into(),
            },
            Profile::Rfc9110,
            vec![record("a/b", VerdictKind::Pass, None)],
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        report.write_json(&path).expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        (dir, path, text)
    }

    fn read_text(path: &Path, text: &str) -> Result<Report, ReadError> {
        std::fs::write(path, text).expect("write");
        read(path)
    }

    #[test]
    fn a_written_report_reads_back_equal() {
        let (_dir, path, text) = written();
        let back = read(&path).expect("reads");
        assert_eq!(back, serde_json::from_str::<Report>(&text).expect("same"));
        assert_eq!(back.results[0].result.id, "a/b");
    }

    #[test]
    fn a_truncated_file_is_named_with_where_it_ends() {
        let (_dir, path, text) = written();
        let err = read_text(&path, &text[..text.len() / 2]).expect_err("truncated");
        assert!(matches!(err, ReadError::Truncated { line, .. } if line > 1), "{err:?}");
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("{}:", path.display())), "{shown}");
        assert!(shown.contains("truncated"), "{shown}");
    }

    #[test]
    fn a_file_that_is_not_json_is_named_with_line_and_column() {
        let (_dir, path, _) = written();
        let err = read_text(&path, "{\n  \"format\": 1,\n  oops\n}").expect_err("not JSON");
        assert!(matches!(err, ReadError::NotJson { line: 3, column: 3, .. }), "{err:?}");
        assert!(err
            .to_string()
            .starts_with(&format!("{}:3:3: not JSON", path.display())));
        let err = read_text(&path, "[1, 2]").expect_err("not an object");
        assert!(matches!(err, ReadError::NotJson { .. }), "{err:?}");
        let err = read_text(&path, "").expect_err("empty");
        assert!(matches!(err, ReadError::Truncated { .. }), "{err:?}");
    }

    #[test]
    fn a_missing_or_other_format_version_is_refused() {
        let (_dir, path, text) = written();
        let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
        json.as_object_mut().expect("object").remove("format");
        let err = read_text(&path, &json.to_string()).expect_err("no format");
        assert!(matches!(err, ReadError::MissingFormat { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
        json["format"] = serde_json::Value::Null;
        let err = read_text(&path, &json.to_string()).expect_err("null format");
        assert!(matches!(err, ReadError::MissingFormat { .. }), "{err:?}");
        for other in [serde_json::json!(2), serde_json::json!("1"), serde_json::json!(1.5)] {
            json["format"] = other.clone();
            let err = read_text(&path, &json.to_string()).expect_err("other format");
            assert!(matches!(err, ReadError::UnsupportedFormat { .. }), "{other}: {err:?}");
            assert!(err.to_string().contains("reads format 1"), "{err}");
        }
    }

    #[test]
    fn a_hand_edited_file_with_a_wrong_key_is_named_with_the_place() {
        let (_dir, path, text) = written();
        let edited = text.replacen("\"verdict\": \"pass\"", "\"verdict\": \"great\"", 1);
        assert_ne!(edited, text);
        let err = read_text(&path, &edited).expect_err("bad verdict");
        assert!(matches!(err, ReadError::Invalid { line, .. } if line > 1), "{err:?}");
        assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
    }

    fn gzip(path: &Path, text: &str) {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).expect("compress");
        std::fs::write(path, encoder.finish().expect("compress")).expect("write");
    }

    #[test]
    fn a_gzipped_report_reads_back_equal_to_the_plain_one() {
        let (dir, path, text) = written();
        let gzipped = dir.path().join("t.json.gz");
        gzip(&gzipped, &text);
        assert_eq!(read(&gzipped).expect("reads"), read(&path).expect("reads"));
    }

    #[test]
    fn a_gzipped_file_is_checked_like_a_plain_one() {
        let (dir, _path, text) = written();
        let gzipped = dir.path().join("t.json.gz");
        gzip(&gzipped, &text[..text.len() / 2]);
        let err = read(&gzipped).expect_err("truncated");
        assert!(matches!(err, ReadError::Truncated { .. }), "{err:?}");
        assert!(err.to_string().starts_with(&gzipped.display().to_string()), "{err}");
        // Plain JSON under a `.gz` name is not gzip: an error naming the file.
        std::fs::write(&gzipped, &text).expect("write");
        let err = read(&gzipped).expect_err("not gzip");
        assert!(matches!(err, ReadError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("t.json.gz"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent.json");
        let err = read(&path).expect_err("absent");
        assert!(matches!(err, ReadError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("absent.json"), "{err}");
    }
}

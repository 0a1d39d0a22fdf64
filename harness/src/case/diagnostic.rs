//! Case-file problems for people: byte spans become line and column, key paths
//! become `step[0].method`, and errors render as annotated source snippets.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::CaseFileError;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

impl From<&str> for Segment {
    fn from(key: &str) -> Self {
        Segment::Key(key.to_owned())
    }
}

impl From<usize> for Segment {
    fn from(index: usize) -> Self {
        Segment::Index(index)
    }
}

/// A path to a key or value, displayed like `step[0].headers[1][0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Segment>);

impl KeyPath {
    pub(crate) fn child(&self, segment: impl Into<Segment>) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(segment.into());
        KeyPath(segments)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Builds a [`KeyPath`] from keys and indices: `key_path!["step", 0, "method"]`.
macro_rules! key_path {
    ($($segment:expr),* $(,)?) => {
        $crate::case::diagnostic::KeyPath(vec![$($crate::case::diagnostic::Segment::from($segment)),*])
    };
}
pub(crate) use key_path;

/// A located problem, before it is tied to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) span: Range<usize>,
    pub(crate) key: Option<String>,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

impl Problem {
    /// The finished error for case `id` at `path`, whose text is `src`.
    pub(crate) fn into_error(self, id: &str, path: &Path, src: &str) -> CaseFileError {
        let mut span = clamp(src, self.span);
        if span.start == src.len() && src.ends_with('\n') {
            // Past the final newline is a line no renderer shows (the end of
            // a truncated file, say): point at the end of the last line instead.
            span = src.len() - 1..src.len() - 1;
        }
        let (line, column) = line_column(src, span.start);
        let rendered = render(path, Some(src), span, &self.message, self.help.as_deref());
        CaseFileError {
            id: id.to_owned(),
            path: path.to_owned(),
            line,
            column,
            key: self.key,
            message: self.message,
            help: self.help,
            rendered,
        }
    }
}

/// An error about a file that has no usable text (unreadable, say); line and column are 0.
pub(crate) fn file_error(id: &str, path: &Path, message: String) -> CaseFileError {
    let rendered = render(path, None, 0..0, &message, None);
    CaseFileError {
        id: id.to_owned(),
        path: path.to_owned(),
        line: 0,
        column: 0,
        key: None,
        message,
        help: None,
        rendered,
    }
}

/// The text of a file read as `bytes`, or the error pointing at its first
/// byte that is not UTF-8 (the source shown up to that line's end, the bad
/// bytes as U+FFFD, so the caret lands on the first).
// A CaseFileError is large, but it is the documented error of the loader and
// only ever built for a bad file.
#[allow(clippy::result_large_err)]
pub(crate) fn utf8_text(id: &str, path: &Path, bytes: Vec<u8>) -> Result<String, CaseFileError> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid_up_to = e.utf8_error().valid_up_to();
        let line_end = bytes[valid_up_to..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |n| valid_up_to + n);
        let shown = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
        let problem = Problem {
            span: valid_up_to..valid_up_to + char::REPLACEMENT_CHARACTER.len_utf8(),
            key: None,
            message: "the file is not valid UTF-8".to_owned(),
            help: Some(
                "suite files are UTF-8 text; a case writes arbitrary bytes as `{ base64 = \"...\" }`".to_owned(),
            ),
        };
        problem.into_error(id, path, &shown)
    })
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub(crate) fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Renders an error the way compilers do: title, `--> path:line:column`, the
/// source line with a caret under `span`, and the help line. No colour.
pub(crate) fn render(path: &Path, src: Option<&str>, span: Range<usize>, message: &str, help: Option<&str>) -> String {
    let shown_path = path.display().to_string();
    let title = Level::ERROR.primary_title(message);
    let mut group: Group<'_> = match src {
        Some(src) => title.element(
            Snippet::source(src)
                .path(shown_path.as_str())
                .annotation(AnnotationKind::Primary.span(span)),
        ),
        None => title.element(Origin::path(shown_path.as_str())),
    };
    if let Some(help) = help {
        group = group.element(Level::HELP.message(help));
    }
    Renderer::plain().render(&[group])
}

/// Where `span` is in `doc`: the path of the deepest key or value whose span
/// is exactly `span`, else of the deepest value that contains it.
pub(crate) fn path_at(doc: &Spanned<DeTable<'_>>, span: &Range<usize>) -> KeyPath {
    let mut best: Option<(bool, usize, KeyPath)> = None;
    search_table(doc.get_ref(), span, &KeyPath::default(), &mut best);
    best.map(|(_, _, path)| path).unwrap_or_default()
}

type Best = Option<(bool, usize, KeyPath)>;

fn consider(best: &mut Best, exact: bool, path: &KeyPath) {
    let depth = path.0.len();
    let better = match best {
        None => true,
        Some((best_exact, best_depth, _)) => (exact, depth) > (*best_exact, *best_depth),
    };
    if better {
        *best = Some((exact, depth, path.clone()));
    }
}

fn search_table(table: &DeTable<'_>, span: &Range<usize>, at: &KeyPath, best: &mut Best) {
    for (key, value) in table.iter() {
        let path = at.child(key.get_ref().as_ref());
        if key.span() == *span {
            consider(best, true, &path);
        }
        search_value(value, span, &path, best);
    }
}

fn search_value(value: &Spanned<DeValue<'_>>, span: &Range<usize>, at: &KeyPath, best: &mut Best) {
    let own = value.span();
    if own == *span {
        consider(best, true, at);
    } else if own.start <= span.start && span.end <= own.end {
        consider(best, false, at);
    }
    match value.get_ref() {
        DeValue::Table(table) => search_table(table, span, at, best),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                search_value(item, span, &at.child(index), best);
            }
        }
        _ => {}
    }
}

/// A value in the document, or the document's root table.
enum Node<'d, 'i> {
    Root(&'d DeTable<'i>),
    Value(&'d Spanned<DeValue<'i>>),
}

/// Follows `path` as far as the file states it: the deepest node reached and
/// how many segments it took.
fn lookup<'d, 'i>(doc: &'d Spanned<DeTable<'i>>, path: &[Segment]) -> (Node<'d, 'i>, usize) {
    let mut node = Node::Root(doc.get_ref());
    for (depth, segment) in path.iter().enumerate() {
        let next = match (segment, &node) {
            (Segment::Key(key), Node::Root(table)) => table.get(key.as_str()),
            (Segment::Key(key), Node::Value(value)) => match value.get_ref() {
                DeValue::Table(table) => table.get(key.as_str()),
                _ => None,
            },
            (Segment::Index(index), Node::Value(value)) => match value.get_ref() {
                DeValue::Array(array) => array.get(*index),
                _ => None,
            },
            (Segment::Index(_), Node::Root(_)) => None,
        };
        match next {
            Some(value) => node = Node::Value(value),
            None => return (node, depth),
        }
    }
    (node, path.len())
}

/// The span of the value at `path`, or of the deepest part of it that the
/// file states (a defaulted key points at its table).
pub(crate) fn span_of(doc: &Spanned<DeTable<'_>>, path: &KeyPath) -> Range<usize> {
    match lookup(doc, &path.0).0 {
        Node::Root(_) => 0..0,
        Node::Value(value) => value.span(),
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub(crate) fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn clamp(src: &str, span: Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(src, span.start);
    let end = floor_char_boundary(src, span.end.max(start));
    start..end
}

fn floor_char_boundary(src: &str, offset: usize) -> usize {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Turns a TOML syntax or serde error about `src` into a located problem.
/// `doc` is the same text parsed as a spanned tree, when it is valid TOML.
pub(crate) fn toml_problem(err: &toml::de::Error, src: &str, doc: Option<&Spanned<DeTable<'_>>>) -> Problem {
    if err.span().is_none() && err.message().trim_end() == "recursion limit" {
        return too_deep(src);
    }
    let span = err.span().unwrap_or(0..0);
    let path = doc.map(|doc| path_at(doc, &span)).unwrap_or_default();
    let raw = err.message().trim_end();
    let mut key = (!path.0.is_empty()).then(|| path.to_string());
    let (message, help) = if let Some(rest) = raw.strip_prefix("unknown field ") {
        unknown("key", rest)
    } else if let Some(rest) = raw.strip_prefix("unknown variant ") {
        unknown("value", rest)
    } else if let Some(field) = raw.strip_prefix("missing field ").and_then(between_backticks) {
        key = Some(path.child(field).to_string());
        (format!("missing key `{field}`"), None)
    } else if raw.starts_with("cannot recurse further") {
        (
            "this value nests too deeply".to_owned(),
            Some(format!(
                "arrays and inline tables nest at most {KEY_DEPTH_LIMIT} levels; case files need a handful"
            )),
        )
    } else if raw.starts_with("data did not match any variant of untagged enum ") {
        untagged(raw)
    } else {
        (raw.to_owned(), None)
    };
    Problem {
        span,
        key,
        message,
        help,
    }
}

/// The TOML reader stops at keys of more than 80 dotted parts (bracket
/// nesting it locates itself) but says not where: point at the first such key.
fn too_deep(src: &str) -> Problem {
    let runs = dotted_runs(src);
    let deep = runs.iter().find(|(_, dots)| *dots >= KEY_DEPTH_LIMIT);
    let deepest = runs.iter().max_by_key(|(_, dots)| *dots);
    Problem {
        span: deep.or(deepest).map_or(0..0, |(span, _)| span.clone()),
        key: None,
        message: "this key nests too deeply".to_owned(),
        help: Some(format!(
            "a dotted key or table name has at most {KEY_DEPTH_LIMIT} parts; case files need a handful"
        )),
    }
}

/// How deep the TOML reader nests: dotted keys of more parts, and arrays or
/// inline tables nested deeper, are refused.
const KEY_DEPTH_LIMIT: usize = 80;

/// The spans of the dotted runs outside strings and comments (keys, and
/// numbers such as `1.5`) with how many dots each holds. A run is bare-key
/// characters, one-line quoted strings, blanks and dots; anything else ends it.
fn dotted_runs(src: &str) -> Vec<(Range<usize>, usize)> {
    let bytes = src.as_bytes();
    let mut runs = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    let mut close = |run: &mut Option<(usize, usize)>, mut end: usize| {
        if let Some((start, dots)) = run.take() {
            while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
                end -= 1;
            }
            if dots > 0 {
                runs.push((start..end, dots));
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b'"' | b'\'' => {
                let triple = [byte; 3];
                if bytes[i..].starts_with(&triple) {
                    close(&mut run, i);
                    i = skip_multiline_string(bytes, i + 3, byte);
                } else {
                    run.get_or_insert((i, 0));
                    i = skip_string(bytes, i + 1, byte);
                }
                continue;
            }
            b'#' => {
                close(&mut run, i);
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'.' => run.get_or_insert((i, 0)).1 += 1,
            b' ' | b'\t' => {}
            _ if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' => {
                run.get_or_insert((i, 0));
            }
            _ => close(&mut run, i),
        }
        i += 1;
    }
    close(&mut run, bytes.len());
    runs
}

/// The index after a one-line string opened before `i` by `quote`, or of the
/// line end where it is left open.
fn skip_string(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    i.min(bytes.len())
}

/// The index after a multi-line string opened before `i` by three `quote`s.
fn skip_multiline_string(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    let end = [quote; 3];
    while i < bytes.len() {
        if bytes[i] == b'\\' && quote == b'"' {
            i += 2;
        } else if bytes[i..].starts_with(&end) {
            return i + 3;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// "`x`, expected one of `a`, `b`" → ("unknown {what} `x`", "did you mean `a`?").
fn unknown(what: &str, rest: &str) -> (String, Option<String>) {
    let (word, expected) = rest.split_once(", ").unwrap_or((rest, ""));
    let word = between_backticks(word).unwrap_or(word);
    let names = all_between_backticks(expected);
    let help = match closest(word, names.iter().copied()) {
        Some(name) => Some(format!("did you mean `{name}`?")),
        None if names.is_empty() => None,
        None => Some(format!(
            "expected one of {}",
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        )),
    };
    (format!("unknown {what} `{word}`"), help)
}

/// serde only says "did not match any variant"; say what the forms are.
fn untagged(raw: &str) -> (String, Option<String>) {
    let help = match raw.rsplit(' ').next().unwrap_or("") {
        "Body" => "a body is a string, `{ base64 = \"...\" }` or `{ cycle = N }`",
        "BodyExpect" => "a body is a string, `{ base64 = \"...\" }`, `{ cycle = N }` or `{ step = N }`",
        "GradeSpec" => {
            "a grade is `pass`, `fail`, `warn` or `info`, or one per profile: `{ rfc9110 = \"pass\", fetch = \"fail\" }`"
        }
        _ => return (raw.to_owned(), None),
    };
    ("invalid value".to_owned(), Some(help.to_owned()))
}

fn between_backticks(text: &str) -> Option<&str> {
    all_between_backticks(text).into_iter().next()
}

fn all_between_backticks(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_path_line_caret_and_help() {
        let src = "title = \"x\"\n\n[[step]]\nhedaers = []\n";
        let problem = Problem {
            span: 22..29,
            key: Some("step[0].hedaers".to_owned()),
            message: "unknown key `hedaers`".to_owned(),
            help: Some("did you mean `headers`?".to_owned()),
        };
        let err = problem.into_error("x", Path::new("suites/x.toml"), src);
        assert_eq!((err.line, err.column), (4, 1));
        let expected = "\
error: unknown key `hedaers`
 --> suites/x.toml:4:1
  |
4 | hedaers = []
  | ^^^^^^^
  |
  = help: did you mean `headers`?";
        assert_eq!(err.rendered, expected);
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn the_end_of_a_file_is_shown_where_its_last_line_ends() {
        let src = "title = \"x\"\ns = \"\"\"abc\n";
        let problem = Problem {
            span: src.len()..src.len(),
            key: None,
            message: "unterminated string".to_owned(),
            help: None,
        };
        let err = problem.into_error("x", Path::new("x.toml"), src);
        assert_eq!((err.line, err.column), (2, 11));
        assert!(err.rendered.contains("x.toml:2:11"), "{}", err.rendered);
    }

    #[test]
    fn renders_an_unreadable_file_without_source() {
        let err = file_error("x", Path::new("suites/x.toml"), "cannot read the case file".to_owned());
        assert_eq!(err.rendered, "error: cannot read the case file\n--> suites/x.toml");
    }

    #[rstest::rstest]
    #[case("", 0, (1, 1))]
    #[case("a\nbc", 3, (2, 2))]
    #[case("é = 1", 3, (1, 3))]
    #[case("é", 1, (1, 1))]
    #[case("ab", 99, (1, 3))]
    fn line_column_counts_characters(#[case] src: &str, #[case] offset: usize, #[case] expected: (usize, usize)) {
        assert_eq!(line_column(src, offset), expected);
    }

    #[rstest::rstest]
    #[case("step[0].method", key_path!["step", 0, "method"])]
    #[case("step[0].headers[1][0]", key_path!["step", 0, "headers", 1, 0])]
    #[case("expect.hop[2]", key_path!["expect", "hop", 2])]
    fn key_paths_display_like_toml_access(#[case] text: &str, #[case] path: KeyPath) {
        assert_eq!(path.to_string(), text);
    }

    #[rstest::rstest]
    #[case::table_name("title = \"x\"\n\n[{deep}]\n", (3, 2))]
    #[case::key("title = \"x\"\n# a.b.c\n{deep} = 1\n", (3, 1))]
    #[case::in_an_inline_table("title = \"x\"\nt = {{ s = \"a.b\", {deep} = 1 }}\n", (2, 18))]
    #[case::after_a_multiline_string("s = \"\"\"\n{shallow}\n\"\"\"\n\n[{deep}]\n", (5, 2))]
    fn a_key_nested_too_deeply_is_located(#[case] template: &str, #[case] at: (usize, usize)) {
        let deep = vec!["a"; 90].join(".");
        let shallow = vec!["a"; 85].join(".");
        let src = template
            .replace("{deep}", &deep)
            .replace("{shallow}", &shallow)
            .replace("{{", "{")
            .replace("}}", "}");
        let err = toml::de::DeTable::parse(&src).expect_err("too deep");
        let problem = toml_problem(&err, &src, None);
        let span = problem.span.clone();
        let error = problem.into_error("x", Path::new("x.toml"), &src);
        assert_eq!((error.line, error.column), at, "{error}");
        assert_eq!(error.message, "this key nests too deeply");
        assert_eq!(&src[span], deep, "the caret covers the key, nothing more");
    }

    #[test]
    fn invalid_utf8_opening_a_line_is_shown_on_that_line() {
        let err = utf8_text("x", Path::new("x.toml"), b"a = 1\n\xffb = 2\nc = 3\n".to_vec()).expect_err("not UTF-8");
        assert_eq!((err.line, err.column), (2, 1));
        assert!(err.rendered.contains("x.toml:2:1"), "{}", err.rendered);
    }

    #[test]
    fn invalid_utf8_is_located_at_the_bad_byte() {
        let err = utf8_text("x", Path::new("x.toml"), b"a = 1\nb = \"\xc3(\"\n".to_vec()).expect_err("not UTF-8");
        assert_eq!((err.line, err.column), (2, 6));
        assert_eq!(err.message, "the file is not valid UTF-8");
    }

    #[rstest::rstest]
    #[case("hedaers", Some("headers"))]
    #[case("metod", Some("method"))]
    #[case("zzz", None)]
    fn closest_suggests_only_near_misses(#[case] word: &str, #[case] expected: Option<&str>) {
        assert_eq!(closest(word, ["headers", "method", "url", "body"]), expected);
    }
}

//! The loader never crashes and always says where: the suite's own case
//! files and catalogue, mutated (bit flips, truncations, lines spliced from
//! other files, duplicated lines and so keys, huge and negative numbers, deep
//! nesting, bytes that are not UTF-8, huge bodies, delimiters and control
//! characters inside strings), either load — and then their origin starts and
//! their steps are sendable — or are rejected with the file, a line and a
//! column. Deterministic: a fixed seed, a bounded count.
//!
//! Beside it, one fixture per gap found this way (`tests/fixtures/cases/`),
//! each rejected at a known place.

// The loader's documented error, CaseFileError, is large; it is only ever built for a bad file.
#![allow(clippy::result_large_err)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use hopcheck::case::validate::MAX_BODY_BYTES;
use hopcheck::case::{load_case, Case, CaseFileError, Catalogue};
use hopcheck::origin::{Limits, Origin, TestCa};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Mutated files per run: enough to reach every mutation on many files, few
/// enough for a few seconds in a debug build.
const CASES: u32 = 3000;

/// The seed of every run, so that a failure comes back the same.
const SEED: [u8; 32] = *b"hopcheck: fuzz the case loader!!";

/// Numbers a mutation writes over one of the file's own: at the limits of
/// u64 and i64, negative, huge as a body length, and not integers at all.
const NUMBERS: [&str; 10] = [
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "100000000000",
    "1000000000",
    "-1",
    "0",
    "65536",
    "1e400",
    "nan",
];

/// The suite's files, read once.
struct Corpus {
    cases: Vec<Vec<u8>>,
    catalogue: Vec<u8>,
}

fn suites() -> PathBuf {
    hopcheck::project_dir("suites")
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut paths = Vec::new();
        case_files(&suites(), &mut paths);
        paths.sort();
        assert!(paths.len() > 100, "the suite has {} case files", paths.len());
        Corpus {
            cases: paths
                .iter()
                .map(|p| std::fs::read(p).expect("read a case file"))
                .collect(),
            catalogue: std::fs::read(suites().join("requirements.toml")).expect("read the catalogue"),
        }
    })
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the suites folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            case_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") && !path.ends_with("requirements.toml") {
            out.push(path);
        }
    }
}

/// One change to a file; positions are taken modulo what the file has.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        at: usize,
    },
    /// Line `line` of case file `from` (or of the catalogue) inserted before line `at`.
    Splice {
        from: usize,
        catalogue: bool,
        line: usize,
        at: usize,
    },
    /// A line written twice: a duplicated key, or a table opened twice.
    DuplicateLine {
        line: usize,
    },
    /// The `nth` run of digits replaced by one of [`NUMBERS`].
    Number {
        nth: usize,
        with: usize,
    },
    /// Every `body = …` line (or the first step's, when none) made a cycle of one of [`NUMBERS`].
    Cycle {
        with: usize,
    },
    /// `depth` nested arrays, inline tables or dotted table names inserted before line `at`.
    Nest {
        at: usize,
        depth: usize,
        kind: u8,
    },
    /// A byte that cannot start or continue UTF-8 here, written over byte `at`.
    NotUtf8 {
        at: usize,
        byte: u8,
    },
    /// One of [`ODD_TEXT`] written into the `nth` one-line string, at `at`:
    /// the file stays TOML, so what it reaches is the validator and the run.
    OddText {
        nth: usize,
        at: usize,
        with: usize,
    },
}

/// Text a mutation writes into a string: URL and header delimiters,
/// whitespace, and control characters as TOML escapes.
const ODD_TEXT: [&str; 24] = [
    "@", "*", "#", " ", "%", "%zz", "[", "]", ":", ":99999", "..", "xn--", "é", "//", "\\\\", "\\\"", "{hop}",
    "\\u0000", "\\u0001", "\\u007f", "\\u00ff", "\\u2028", "\\r\\n", "\\t",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = || 0..usize::MAX;
    prop_oneof![
        (index(), 0..8u8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        index().prop_map(|at| Mutation::Truncate { at }),
        (index(), any::<bool>(), index(), index()).prop_map(|(from, catalogue, line, at)| Mutation::Splice {
            from,
            catalogue,
            line,
            at
        }),
        index().prop_map(|line| Mutation::DuplicateLine { line }),
        (index(), 0..NUMBERS.len()).prop_map(|(nth, with)| Mutation::Number { nth, with }),
        (0..NUMBERS.len()).prop_map(|with| Mutation::Cycle { with }),
        (index(), 1..400usize, 0..3u8).prop_map(|(at, depth, kind)| Mutation::Nest { at, depth, kind }),
        (index(), 0x80..=0xffu8).prop_map(|(at, byte)| Mutation::NotUtf8 { at, byte }),
        (index(), index(), 0..ODD_TEXT.len()).prop_map(|(nth, at, with)| Mutation::OddText { nth, at, with }),
    ]
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').collect()
}

/// `bytes` with `insert` placed before line `at` (modulo the line count).
fn insert_line(bytes: &[u8], at: usize, insert: &[u8]) -> Vec<u8> {
    let lines = lines(bytes);
    let at = at % (lines.len() + 1);
    let mut out: Vec<u8> = lines[..at].concat();
    out.extend_from_slice(insert);
    if !insert.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend(lines[at..].concat());
    out
}

fn apply(bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let corpus = corpus();
    match *mutation {
        Mutation::FlipBit { at, bit } if !bytes.is_empty() => {
            let mut bytes = bytes;
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            bytes
        }
        Mutation::Truncate { at } => bytes[..at % (bytes.len() + 1)].to_vec(),
        Mutation::Splice {
            from,
            catalogue,
            line,
            at,
        } => {
            let source = if catalogue {
                &corpus.catalogue
            } else {
                &corpus.cases[from % corpus.cases.len()]
            };
            let source = lines(source);
            insert_line(&bytes, at, source[line % source.len()])
        }
        Mutation::DuplicateLine { line } => {
            let all = lines(&bytes);
            match all.len() {
                0 => bytes,
                n => {
                    let copy = all[line % n].to_vec();
                    insert_line(&bytes, line % n, &copy)
                }
            }
        }
        Mutation::Number { nth, with } => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let runs: Vec<(usize, usize)> = digit_runs(&text);
            match runs.len() {
                0 => bytes,
                n => {
                    let (start, end) = runs[nth % n];
                    format!("{}{}{}", &text[..start], NUMBERS[with], &text[end..]).into_bytes()
                }
            }
        }
        Mutation::Cycle { with } => {
            let body = format!("body = {{ cycle = {} }}\n", NUMBERS[with]);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if text.lines().any(|line| line.starts_with("body = ")) {
                let replaced: Vec<String> = text
                    .split_inclusive('\n')
                    .map(|line| {
                        if line.starts_with("body = ") {
                            body.clone()
                        } else {
                            line.to_owned()
                        }
                    })
                    .collect();
                replaced.concat().into_bytes()
            } else {
                match text.find("[[step]]\n") {
                    Some(at) => {
                        let at = at + "[[step]]\n".len();
                        format!("{}{body}{}", &text[..at], &text[at..]).into_bytes()
                    }
                    None => insert_line(&bytes, 0, body.as_bytes()),
                }
            }
        }
        Mutation::Nest { at, depth, kind } => {
            let nested = match kind {
                0 => format!("nested = {}{}", "[".repeat(depth), "]".repeat(depth)),
                1 => format!("nested = {}1{}", "{ a = ".repeat(depth), " }".repeat(depth)),
                _ => format!("[{}]", vec!["a"; depth].join(".")),
            };
            insert_line(&bytes, at, nested.as_bytes())
        }
        Mutation::NotUtf8 { at, byte } if !bytes.is_empty() => {
            let mut bytes = bytes;
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes
        }
        Mutation::OddText { nth, at, with } => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let strings = string_contents(&text);
            match strings.len() {
                0 => bytes,
                n => {
                    let (start, end) = strings[nth % n];
                    let mut at = start + at % (end - start + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    format!("{}{}{}", &text[..at], ODD_TEXT[with], &text[at..]).into_bytes()
                }
            }
        }
        Mutation::FlipBit { .. } | Mutation::NotUtf8 { .. } => bytes,
    }
}

/// Byte ranges of the contents of the one-line basic strings in `text`
/// (between the quotes; an escaped quote does not end one).
fn string_contents(text: &str) -> Vec<(usize, usize)> {
    let mut strings = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let bytes = line.as_bytes();
        let mut open = None;
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], open) {
                (b'\\', Some(_)) => i += 1,
                (b'"', None) => open = Some(i + 1),
                (b'"', Some(start)) => {
                    strings.push((line_start + start, line_start + i));
                    open = None;
                }
                _ => {}
            }
            i += 1;
        }
        line_start += line.len();
    }
    strings
}

/// Byte ranges of the runs of ASCII digits in `text`.
fn digit_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, byte) in text.bytes().enumerate().chain([(text.len(), b' ')]) {
        match (byte.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// What the fuzzer loads: a case file, or the catalogue.
#[derive(Debug, Clone)]
enum Subject {
    Case(usize),
    Catalogue,
}

fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![4 => (0..usize::MAX).prop_map(Subject::Case), 1 => Just(Subject::Catalogue)]
}

/// A rejection names `path` and a line and column inside the file.
fn check_located(err: &CaseFileError, path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    prop_assert_eq!(&err.path, path, "{}", err);
    prop_assert!(err.line >= 1 && err.column >= 1, "not located: {}", err);
    let lines = bytes.split(|b| *b == b'\n').count();
    prop_assert!(err.line <= lines, "line {} of a {}-line file: {}", err.line, lines, err);
    let at = format!("{}:{}:{}", path.display(), err.line, err.column);
    prop_assert!(err.rendered.contains(&at), "{} does not show {}", err.rendered, at);
    Ok(())
}

/// What a loaded case promises the run: its origin starts, and what its
/// steps hand to a target is sendable and within the body limit.
fn check_runnable(case: &Case, runtime: &tokio::runtime::Runtime, ca: &Arc<TestCa>) -> Result<(), TestCaseError> {
    let started = runtime.block_on(async {
        let origin = Origin::start(
            case.file.origin.clone(),
            case.file.hosts.clone(),
            ca.clone(),
            Limits::default(),
        )
        .await;
        origin.map(drop)
    });
    prop_assert!(
        started.is_ok(),
        "{} loads, but its origin does not start: {:?}",
        case.id,
        started
    );
    for step in &case.file.steps {
        prop_assert!(
            http::Method::from_bytes(step.method.as_bytes()).is_ok(),
            "method {:?}",
            step.method
        );
        for (name, value) in &step.headers {
            prop_assert!(
                http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                "header name {:?}",
                name
            );
            prop_assert!(http::HeaderValue::from_str(value).is_ok(), "header value {:?}", value);
        }
        if let Some(body) = &step.body {
            let len = body.byte_len().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(len <= MAX_BODY_BYTES, "a {len}-byte step body loads");
        }
    }
    Ok(())
}

/// Loads `bytes` as `subject` from a scratch suites folder; a panic is a failure.
fn load(
    subject: &Subject,
    bytes: &[u8],
    catalogue: &Catalogue,
) -> Result<(PathBuf, Result<Option<Case>, CaseFileError>), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let name = match subject {
        Subject::Case(_) => "fuzzed.toml",
        Subject::Catalogue => "requirements.toml",
    };
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let loaded = catch_unwind(AssertUnwindSafe(|| match subject {
        Subject::Case(_) => load_case(dir.path(), catalogue, "fuzzed").map(Some),
        Subject::Catalogue => Catalogue::load(&path).map(|_| None),
    }));
    match loaded {
        Ok(loaded) => Ok((path, loaded)),
        Err(_) => Err(TestCaseError::fail(format!(
            "the loader panicked on:\n{}",
            String::from_utf8_lossy(bytes)
        ))),
    }
}

#[test]
fn mutated_suite_files_load_or_are_rejected_with_a_location() {
    let corpus = corpus();
    let catalogue = Catalogue::load(&suites().join("requirements.toml")).expect("the real catalogue");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ca = Arc::new(TestCa::new().expect("test CA"));
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let strategy = (subject(), prop::collection::vec(mutation(), 1..4));
    let (cases_loaded, rejected) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let result = runner.run(&strategy, |(subject, mutations)| {
        let original = match &subject {
            Subject::Case(i) => &corpus.cases[i % corpus.cases.len()],
            Subject::Catalogue => &corpus.catalogue,
        };
        let bytes = mutations.iter().fold(original.clone(), apply);
        let (path, loaded) = load(&subject, &bytes, &catalogue)?;
        match loaded {
            Err(err) => {
                rejected.fetch_add(1, Ordering::Relaxed);
                check_located(&err, &path, &bytes)
            }
            Ok(Some(case)) => {
                cases_loaded.fetch_add(1, Ordering::Relaxed);
                check_runnable(&case, &runtime, &ca)
            }
            Ok(None) => Ok(()),
        }
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Both sides are exercised: mutants that still load, and rejections.
    let (cases_loaded, rejected) = (cases_loaded.into_inner(), rejected.into_inner());
    assert!(
        cases_loaded > CASES as usize / 40,
        "{cases_loaded} mutated cases loaded"
    );
    assert!(rejected > CASES as usize / 2, "{rejected} mutants rejected");
}

/// The findings that once crashed `list` and `run` for the whole suite, or
/// made a load take a gigabyte: each is now rejected at its value.
#[test]
fn huge_cycle_bodies_are_rejected_at_their_value() {
    let catalogue = Catalogue::load(&suites().join("requirements.toml")).expect("the real catalogue");
    let original = std::fs::read_to_string(suites().join("redirect/method-body/308/put-mib-http.toml")).expect("read");
    assert!(original.contains("body = { cycle = 1048576 }"));
    for huge in [
        "100000000000",
        "9223372036854775807",
        "1000000000",
        "18446744073709551615",
    ] {
        let src = original.replace("cycle = 1048576", &format!("cycle = {huge}"));
        let (path, loaded) = load(&Subject::Case(0), src.as_bytes(), &catalogue).expect("no panic");
        let Err(err) = loaded else {
            panic!("a {huge}-byte body loads");
        };
        assert_eq!((err.line, err.column), (9, 18), "{err}");
        check_located(&err, &path, src.as_bytes()).expect("located");
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases")
}

/// Case files that once loaded and then crashed or failed at run time, or
/// were rejected without a usable place: id, line, column, message.
const CASE_FIXTURES: [(&str, usize, usize, &str); 16] = [
    (
        "cycle-of-100-gb",
        7,
        18,
        "a body of 100000000000 bytes is over the limit of 67108864 bytes",
    ),
    (
        "cycle-at-the-largest-integer",
        7,
        18,
        "a body of 9223372036854775807 bytes is over the limit",
    ),
    (
        "cycle-beyond-every-integer",
        7,
        18,
        "a body of 18446744073709551615 bytes is over the limit",
    ),
    ("cycle-of-1-gb", 7, 18, "a body of 1000000000 bytes is over the limit"),
    ("negative-cycle", 7, 8, "invalid value"),
    (
        "reply-cycle-over-the-limit",
        15,
        42,
        "a body of 67108865 bytes is over the limit",
    ),
    (
        "hop-body-beyond-the-recorded-cap",
        20,
        8,
        "a hop body of 4194305 bytes can never be seen whole",
    ),
    ("informational-final-status", 11, 20, "status 103 is informational"),
    ("unservable-on", 14, 6, "`on` cannot be served"),
    (
        "reply-header-crlf",
        11,
        49,
        "header value `/now\\r\\nSet-Cookie: a=1` contains CR, LF or NUL",
    ),
    (
        "reply-header-name-not-a-token",
        11,
        37,
        "`Loc ation` is not a header field name",
    ),
    (
        "step-header-control-byte",
        8,
        23,
        "header value `a\\u{1}b` contains a control character",
    ),
    ("deep-dotted-table", 17, 2, "this key nests too deeply"),
    ("deep-array", 8, 90, "this value nests too deeply"),
    ("long-wait", 8, 12, "the steps wait 60000 ms in all"),
    ("not-utf8", 1, 25, "the file is not valid UTF-8"),
];

#[test]
fn each_case_fixture_is_rejected_where_its_fault_is() {
    let catalogue = Catalogue::load(&suites().join("requirements.toml")).expect("the real catalogue");
    for (id, line, column, message) in CASE_FIXTURES {
        let loaded = catch_unwind(AssertUnwindSafe(|| load_case(&fixtures(), &catalogue, id)));
        let Ok(Err(err)) = loaded else {
            panic!("{id} loads or panics");
        };
        assert_eq!((err.line, err.column), (line, column), "{err}");
        assert!(err.message.starts_with(message), "{id}: {}", err.message);
        let at = format!("{id}.toml:{line}:{column}");
        assert!(err.rendered.contains(&at), "{}", err.rendered);
    }
}

#[test]
fn bad_case_files_never_stop_the_others_loading() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(suites().join("requirements.toml"), dir.path().join("requirements.toml")).expect("catalogue");
    let good = "redirect/method-body/308/put-mib-http.toml";
    std::fs::copy(suites().join(good), dir.path().join("good.toml")).expect("good case");
    for (id, ..) in CASE_FIXTURES {
        let name = format!("{id}.toml");
        std::fs::copy(fixtures().join(&name), dir.path().join(&name)).expect("fixture");
    }
    let suite = hopcheck::case::load_suite(dir.path()).expect("the suite loads");
    let ids: Vec<&str> = suite.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["good"]);
    assert_eq!(suite.errors.len(), CASE_FIXTURES.len());
}

/// Catalogues that were accepted as empty, or rejected without a place.
#[test]
fn each_catalogue_fixture_is_rejected_where_its_fault_is() {
    let catalogues = [
        ("empty", 1, 1, "the catalogue lists no requirements"),
        ("comments-only", 1, 1, "the catalogue lists no requirements"),
        ("empty-list", 1, 15, "the catalogue lists no requirements"),
        ("not-utf8", 4, 20, "the file is not valid UTF-8"),
    ];
    for (name, line, column, message) in catalogues {
        let path = fixtures().join("catalogue").join(format!("{name}.toml"));
        let err = Catalogue::load(&path).expect_err(name);
        assert_eq!((err.line, err.column), (line, column), "{err}");
        assert_eq!(err.message, message);
    }
}

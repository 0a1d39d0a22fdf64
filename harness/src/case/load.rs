//! Loading and validating case files. A bad file becomes a [`CaseFileError`]
//! naming file, line, column and key; it never stops other files loading.

// A CaseFileError is large, but it is the documented error of these calls and
// only ever built for a bad file, never on a hot path.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::diagnostic::{self, Problem};
use super::requirements::CATALOGUE_ID;
use super::{validate, Case, CaseFile, Catalogue};

/// A loaded suite: the catalogue, every valid case (sorted by id), and one
/// error per invalid case file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub root: PathBuf,
    pub catalogue: Catalogue,
    pub cases: Vec<Case>,
    pub errors: Vec<CaseFileError>,
}

/// A problem in one case file (or the catalogue), located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFileError {
    /// The case id, or `requirements` for the catalogue.
    pub id: String,
    pub path: PathBuf,
    /// 1-based line and column of the offending key or value; both 0 when
    /// the file could not be read at all.
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending key, e.g. `step[0].headers`.
    pub key: Option<String>,
    pub message: String,
    /// A suggested fix, e.g. "did you mean `headers`?".
    pub help: Option<String>,
    /// The message rendered with the source line, for people.
    pub rendered: String,
}

impl std::fmt::Display for CaseFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for CaseFileError {}

/// Why a suite could not be loaded at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum SuiteError {
    /// The suites folder or its catalogue cannot be read.
    Io { path: PathBuf, source: std::io::Error },
    /// The catalogue itself is invalid.
    Catalogue(CaseFileError),
}

impl std::fmt::Display for SuiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SuiteError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            SuiteError::Catalogue(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SuiteError {}

/// The catalogue's file name inside a suites folder; every other `*.toml` is a case.
pub const CATALOGUE_FILE: &str = "requirements.toml";

/// Load `root/requirements.toml` and every `*.toml` below `root` (except the catalogue).
///
/// Cases are sorted by id. A bad case file becomes one entry in
/// [`Suite::errors`] and never stops the others; only an unreadable folder
/// or a bad catalogue fails the whole suite.
pub fn load_suite(root: &Path) -> Result<Suite, SuiteError> {
    let catalogue_path = root.join(CATALOGUE_FILE);
    let catalogue_bytes = std::fs::read(&catalogue_path).map_err(|source| SuiteError::Io {
        path: catalogue_path.clone(),
        source,
    })?;
    let mut files = Vec::new();
    find_case_files(root, &mut Vec::new(), &mut files)?;
    let files = files.into_iter().map(|(id, path)| {
        let bytes = read_bytes(&id, &path);
        (id, path, bytes)
    });
    assemble(root, catalogue_bytes, files)
}

/// The suite embedded in this library when it was built (the `suites`
/// folder beside the `hopcheck` crate), loaded like [`load_suite`] loads a
/// folder; paths in errors point into the folder it was embedded from.
/// What [`crate::conformance`] runs unless told another folder.
pub fn load_embedded() -> Result<Suite, SuiteError> {
    let root = Path::new(embedded::ROOT);
    let catalogue_bytes = embedded::FILES
        .iter()
        .find(|(relative, _)| *relative == CATALOGUE_FILE)
        .map(|(_, bytes)| bytes.to_vec())
        .ok_or_else(|| SuiteError::Io {
            path: root.join(CATALOGUE_FILE),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "this build of hopcheck embeds no suite (its `suites` folder was missing when it was built)",
            ),
        })?;
    let files = embedded::FILES
        .iter()
        .filter(|(relative, _)| *relative != CATALOGUE_FILE)
        .filter_map(|(relative, bytes)| {
            let id = relative.strip_suffix(".toml")?;
            Some((id.to_owned(), root.join(relative), Ok(bytes.to_vec())))
        });
    assemble(root, catalogue_bytes, files)
}

/// The embedded suite's files, written by `build.rs`.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_suite.rs"));
}

/// A suite from its catalogue's bytes and its case files' `(id, path,
/// bytes)`: cases sorted by id, one error per bad file.
fn assemble(
    root: &Path,
    catalogue_bytes: Vec<u8>,
    files: impl Iterator<Item = (String, PathBuf, Result<Vec<u8>, CaseFileError>)>,
) -> Result<Suite, SuiteError> {
    let catalogue_path = root.join(CATALOGUE_FILE);
    let catalogue_src =
        diagnostic::utf8_text(CATALOGUE_ID, &catalogue_path, catalogue_bytes).map_err(SuiteError::Catalogue)?;
    let catalogue = Catalogue::parse(&catalogue_path, &catalogue_src).map_err(SuiteError::Catalogue)?;

    let mut files: Vec<_> = files.collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for (id, path, bytes) in files {
        let parsed = bytes
            .and_then(|bytes| diagnostic::utf8_text(&id, &path, bytes))
            .and_then(|src| parse_case(&id, &path, &src, &catalogue));
        match parsed {
            Ok(case) => cases.push(case),
            Err(error) => errors.push(error),
        }
    }
    Ok(Suite {
        root: root.to_owned(),
        catalogue,
        cases,
        errors,
    })
}

/// The suite below `root` with only case `id` loaded (what `cargo test --
/// --exact ID` runs): the catalogue and that one file, no other.
pub fn load_one(root: &Path, id: &str) -> Result<Suite, SuiteError> {
    let catalogue = Catalogue::load(&root.join(CATALOGUE_FILE)).map_err(SuiteError::Catalogue)?;
    let (cases, errors) = match load_case(root, &catalogue, id) {
        Ok(case) => (vec![case], Vec::new()),
        Err(e) => (Vec::new(), vec![e]),
    };
    Ok(Suite {
        root: root.to_owned(),
        catalogue,
        cases,
        errors,
    })
}

/// Load one case by id (what `cargo test -- --exact ID` uses); reads no other case file.
pub fn load_case(root: &Path, catalogue: &Catalogue, id: &str) -> Result<Case, CaseFileError> {
    let mut path = root.to_owned();
    let segments: Vec<&str> = id.split('/').collect();
    let well_formed = segments
        .iter()
        .all(|s| !s.is_empty() && *s != "." && *s != ".." && !s.contains('\\'));
    if !well_formed || id == CATALOGUE_ID {
        return Err(diagnostic::file_error(
            id,
            &root.join(format!("{id}.toml")),
            format!("`{id}` is not a case id (a path under the suites folder, `/`-separated, without `.toml`)"),
        ));
    }
    for segment in &segments {
        path.push(segment);
    }
    path.set_extension("toml");
    read_case(id, &path, catalogue)
}

/// Parse and validate the text of case `id`, read from `path`.
pub fn parse_case(id: &str, path: &Path, src: &str, catalogue: &Catalogue) -> Result<Case, CaseFileError> {
    let fail = |problem: Problem| problem.into_error(id, path, src);
    let doc = DeTable::parse(src).map_err(|e| fail(diagnostic::toml_problem(&e, src, None)))?;
    let file: CaseFile = toml::from_str(src).map_err(|e| fail(diagnostic::toml_problem(&e, src, Some(&doc))))?;
    let mut problems = validate::check(&file, &doc, catalogue);
    problems.sort_by_key(|p| p.span.start);
    if let Some(first) = problems.into_iter().next() {
        return Err(fail(first));
    }
    Ok(Case {
        id: id.to_owned(),
        path: path.to_owned(),
        file,
    })
}

fn read_case(id: &str, path: &Path, catalogue: &Catalogue) -> Result<Case, CaseFileError> {
    let src = diagnostic::utf8_text(id, path, read_bytes(id, path)?)?;
    parse_case(id, path, &src, catalogue)
}

fn read_bytes(id: &str, path: &Path) -> Result<Vec<u8>, CaseFileError> {
    std::fs::read(path).map_err(|e| diagnostic::file_error(id, path, format!("cannot read the case file: {e}")))
}

/// Collects `(id, path)` of every `*.toml` below `dir`, skipping the catalogue
/// at the top and hidden entries. Symlinked folders are not followed.
fn find_case_files(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<(String, PathBuf)>) -> Result<(), SuiteError> {
    let io = |source| SuiteError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(io)?;
        if file_type.is_dir() {
            prefix.push(name);
            find_case_files(&path, prefix, out)?;
            prefix.pop();
        } else if let Some(stem) = name.strip_suffix(".toml") {
            if prefix.is_empty() && name == CATALOGUE_FILE {
                continue;
            }
            let is_file = file_type.is_file() || std::fs::metadata(&path).is_ok_and(|m| m.is_file());
            if is_file && !stem.is_empty() {
                let mut id = prefix.join("/");
                if !id.is_empty() {
                    id.push('/');
                }
                id.push_str(stem);
                out.push((id, path));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const CATALOGUE: &str = r#"
[[requirement]]
id = "RED-307-METHOD"
level = "must"
source = "RFC 9110 §15.4.8"
rule = "Method not changed when following 307."
quote = "The user agent MUST NOT change the request method if it performs an automatic redirection to that URI."
"#;

    const GOOD: &str = r#"title = "307 keeps POST"
requirements = ["RED-307-METHOD"]

[[step]]
method = "POST"
url = "http://origin.test/start"
body = "a=1"

[[origin]]
on = "http://origin.test/start"
reply = { status = 307, headers = [["Location", "/now"]] }

[[origin]]
on = "http://origin.test/now"
reply = { status = 200 }

[[expect.hop]]
index = 2
method = "POST"
"#;

    fn suite_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(CATALOGUE_FILE), CATALOGUE).expect("write catalogue");
        for (name, text) in files {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, text).expect("write case");
        }
        dir
    }

    fn catalogue() -> Catalogue {
        Catalogue::parse(Path::new("requirements.toml"), CATALOGUE).expect("catalogue")
    }

    #[test]
    fn the_embedded_suite_is_the_suites_folder() {
        let embedded = load_embedded().expect("the embedded suite loads");
        let folder = load_suite(&crate::project_dir("suites")).expect("the suites folder loads");
        let ids = |suite: &Suite| suite.cases.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert!(!embedded.cases.is_empty());
        assert_eq!(ids(&embedded), ids(&folder));
        assert_eq!(embedded.errors, folder.errors);
        let files = |suite: &Suite| {
            serde_json::to_value(suite.cases.iter().map(|c| &c.file).collect::<Vec<_>>()).expect("JSON")
        };
        assert_eq!(files(&embedded), files(&folder));
    }

    #[test]
    fn misspelt_key_points_at_it_and_suggests_the_name() {
        let src = GOOD.replace("body = \"a=1\"", "hedaers = []");
        let err = parse_case("x", Path::new("x.toml"), &src, &catalogue()).expect_err("misspelt key");
        assert_eq!((err.line, err.column), (7, 1));
        assert_eq!(err.key.as_deref(), Some("step[0].hedaers"));
        assert_eq!(err.message, "unknown key `hedaers`");
        assert_eq!(err.help.as_deref(), Some("did you mean `headers`?"));
    }

    #[test]
    fn unknown_key_far_from_any_lists_the_expected_ones() {
        let src = GOOD.replace("body = \"a=1\"", "zzz = 1");
        let err = parse_case("x", Path::new("x.toml"), &src, &catalogue()).expect_err("unknown key");
        assert_eq!(err.message, "unknown key `zzz`");
        let help = err.help.unwrap_or_default();
        assert!(help.starts_with("expected one of `method`, `url`, `headers`"), "{help}");
    }

    #[test]
    fn missing_key_names_the_table_it_belongs_to() {
        let src = GOOD.replace("url = \"http://origin.test/start\"\n", "");
        let err = parse_case("x", Path::new("x.toml"), &src, &catalogue()).expect_err("missing url");
        assert_eq!(err.message, "missing key `url`");
        assert_eq!(err.key.as_deref(), Some("step[0].url"));
        assert_eq!((err.line, err.column), (4, 1));
    }

    #[test]
    fn suite_loads_good_cases_and_reports_bad_ones() {
        let dir = suite_dir(&[
            ("redirect/307/post-keeps-body.toml", GOOD),
            ("redirect/broken.toml", "title = \"no steps\"\n"),
            ("notes.txt", "not a case"),
        ]);
        let suite = load_suite(dir.path()).expect("suite");
        let ids: Vec<&str> = suite.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["redirect/307/post-keeps-body"]);
        assert_eq!(suite.errors.len(), 1);
        let err = &suite.errors[0];
        assert_eq!(err.id, "redirect/broken");
        assert_eq!(err.path, dir.path().join("redirect/broken.toml"));
        assert!(err.message.contains("missing key `"), "{}", err.message);
        assert_eq!(suite.catalogue.requirements.len(), 1);
    }

    #[test]
    fn cases_are_sorted_by_id() {
        let dir = suite_dir(&[("b.toml", GOOD), ("a/z.toml", GOOD), ("a.toml", GOOD)]);
        let suite = load_suite(dir.path()).expect("suite");
        let ids: Vec<&str> = suite.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "a/z", "b"]);
        assert!(suite.errors.is_empty(), "{:?}", suite.errors);
    }

    #[test]
    fn load_case_reads_only_the_named_file() {
        let dir = suite_dir(&[("redirect/ok.toml", GOOD), ("redirect/bad.toml", "not toml at all")]);
        let case = load_case(dir.path(), &catalogue(), "redirect/ok").expect("case");
        assert_eq!(case.id, "redirect/ok");
        assert_eq!(case.file.steps[0].method, "POST");
        assert_eq!(case.outcomes().count(), 1);
    }

    #[rstest::rstest]
    #[case::missing("redirect/none")]
    #[case::parent("../secret")]
    #[case::empty_segment("redirect//ok")]
    #[case::catalogue("requirements")]
    fn load_case_refuses_what_is_not_a_case(#[case] id: &str) {
        let dir = suite_dir(&[("redirect/ok.toml", GOOD)]);
        let err = load_case(dir.path(), &catalogue(), id).expect_err("not a case");
        assert_eq!(err.id, id);
        assert_eq!((err.line, err.column), (0, 0));
        assert!(err.rendered.contains(&err.message), "{}", err.rendered);
    }

    #[test]
    fn missing_catalogue_fails_the_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load_suite(dir.path()).expect_err("no catalogue");
        assert!(
            matches!(err, SuiteError::Io { ref path, .. } if path.ends_with(CATALOGUE_FILE)),
            "{err:?}"
        );
    }

    #[test]
    fn non_utf8_file_is_located_at_the_bad_byte() {
        let dir = suite_dir(&[]);
        fs::write(dir.path().join("bin.toml"), b"title = \"a\"\nx = \"\xff\"\n").expect("write");
        let suite = load_suite(dir.path()).expect("suite");
        let err = &suite.errors[0];
        assert_eq!((err.line, err.column), (2, 6));
        assert_eq!(err.message, "the file is not valid UTF-8");
    }

    #[test]
    fn non_utf8_catalogue_is_located_at_the_bad_byte() {
        let dir = suite_dir(&[("a.toml", GOOD)]);
        let mut bytes = CATALOGUE.as_bytes().to_vec();
        bytes.extend_from_slice(b"[[requirement]]\nid = \"\xe9\"\n");
        fs::write(dir.path().join(CATALOGUE_FILE), bytes).expect("write");
        let Err(SuiteError::Catalogue(err)) = load_suite(dir.path()) else {
            panic!("the catalogue is not UTF-8");
        };
        assert_eq!((err.id.as_str(), err.line, err.column), (CATALOGUE_ID, 9, 7));
        assert_eq!(err.message, "the file is not valid UTF-8");
    }

    #[test]
    fn empty_catalogue_fails_the_suite() {
        let dir = suite_dir(&[("a.toml", GOOD)]);
        fs::write(dir.path().join(CATALOGUE_FILE), "\n# no rules yet\n").expect("write");
        let Err(SuiteError::Catalogue(err)) = load_suite(dir.path()) else {
            panic!("an empty catalogue loads");
        };
        assert_eq!(err.message, "the catalogue lists no requirements");
    }

    #[test]
    fn syntax_error_is_located() {
        let err = parse_case("x", Path::new("x.toml"), "title = \"a\"\nstep = \n", &catalogue()).expect_err("syntax");
        assert_eq!(err.line, 2);
        assert_eq!(err.key, None);
    }
}

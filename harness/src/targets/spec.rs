//! Target files: `targets/<name>/target.toml` (how to start a driver, what it
//! lacks, which client versions its known failures were made with) and its
//! known-failures file (case id → the verdict the target is expected to get,
//! and why).
//!
//! A target file, every key shown:
//!
//! ```toml
//! name = "curl"                       # report file and snapshot folder; [a-z0-9._-]
//! description = "curl, the command-line client, run once per step"
//! command = ["python3", "driver.py"]  # argv, started in this folder
//! version_command = ["curl", "--version"]  # optional: first stdout line is the version
//! tested_versions = ["curl 7.88.1"]   # optional: version lines the known failures were made with
//! requires = ["python3", "curl"]      # programs that must be on PATH (else: skipped, with reason)
//! unsupported = ["streamed-body", "final-fragment"]  # case::Feature values
//! routing = "connect-to"              # "proxy" or "connect-to": the path a typical user takes
//! known_failures = "known-failures.toml"  # optional, this is the default
//! ```
//!
//! An entry of `tested_versions` matches a version line that starts with it
//! and goes on with neither a letter, a digit nor a dot (`curl 7.88.1` matches
//! `curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1`, not `curl 7.88.10`).
//! Against a version no entry matches, runs still compare the results with
//! the known failures but say plainly that the version differs
//! ([`VersionCheck`]).
//!
//! A known-failures file maps case ids to the verdict expected and the
//! reason, per profile:
//!
//! ```toml
//! [all]      # the same verdict under every profile
//! "redirect/303/put-becomes-get" = { verdict = "fail", reason = "-X pins the method on every hop" }
//! [rfc9110]  # only when judged by RFC 9110
//! "redirect/301/put-keeps-method" = { verdict = "warn", reason = "..." }
//! [fetch]    # only when judged by WHATWG Fetch
//! ```
//!
//! `verdict` is `fail`, `warn` or `error`: a case listed with one verdict
//! that gets another (`fail` → `warn`, `warn` → `pass`, ...) is unexpected,
//! and so is an unlisted case that gets `fail`, `warn` or `error`. An id in
//! `[all]` sits in no other table; it may sit in both `[rfc9110]` and
//! `[fetch]` (with different verdicts). Every reason is a non-empty sentence.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::case::{Feature, Profile};
use crate::verdict::VerdictKind;

/// The file a target folder must hold.
pub const TARGET_FILE: &str = "target.toml";
/// The known-failures file name when `known_failures` is not set.
pub const DEFAULT_KNOWN_FAILURES: &str = "known-failures.toml";

/// How a target's client reaches the one-port listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// The listener is the client's forward proxy (absolute-form and CONNECT).
    Proxy,
    /// The client dials the listener directly; the host travels in SNI and `Host`.
    ConnectTo,
}

/// A loaded, validated target file.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub name: String,
    pub description: String,
    /// The target file itself.
    pub path: PathBuf,
    /// The folder holding it (absolute): the driver's working directory.
    pub dir: PathBuf,
    /// Driver argv; a program containing `/` is relative to [`TargetSpec::dir`].
    pub command: Vec<String>,
    /// Argv whose first stdout line is the client's version.
    pub version_command: Option<Vec<String>>,
    /// Version lines (prefixes) the known failures were made with; empty
    /// when the target does not say.
    pub tested_versions: Vec<String>,
    /// Programs that must be on `PATH`.
    pub requires: Vec<String>,
    /// Features the client lacks.
    pub unsupported: BTreeSet<Feature>,
    pub routing: Routing,
    pub known_failures: KnownFailures,
}

/// Case id → the verdict the target is expected to get and why, per profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownFailures {
    /// The file read, `None` when the target has none.
    pub path: Option<PathBuf>,
    all: BTreeMap<String, KnownFailure>,
    rfc9110: BTreeMap<String, KnownFailure>,
    fetch: BTreeMap<String, KnownFailure>,
}

/// One entry of a known-failures file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFailure {
    /// `fail`, `warn` or `error`: what the target gets on the case.
    pub verdict: VerdictKind,
    /// What the client does, and where that is documented.
    pub reason: String,
}

impl KnownFailure {
    /// The verdicts an entry may expect: the ones that are not a pass.
    pub const VERDICTS: [VerdictKind; 3] = [VerdictKind::Fail, VerdictKind::Warn, VerdictKind::Error];
}

/// Whether the client's version is one the known failures were made with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionCheck {
    /// The target file lists no `tested_versions`.
    Undeclared,
    /// The version line matches an entry of `tested_versions`.
    Tested,
    /// The version line matches none: verdicts that differ from the known
    /// failures may come from the version.
    Untested { version: String, tested: Vec<String> },
}

impl VersionCheck {
    /// Compare the version line `version` with the `tested` prefixes.
    pub fn new(tested: &[String], version: &str) -> VersionCheck {
        if tested.is_empty() {
            return VersionCheck::Undeclared;
        }
        let version = version.trim();
        let matches = |prefix: &String| {
            version
                .strip_prefix(prefix.trim())
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '.'))
        };
        if tested.iter().any(matches) {
            VersionCheck::Tested
        } else {
            VersionCheck::Untested {
                version: version.to_owned(),
                tested: tested.to_vec(),
            }
        }
    }

    /// The sentence to show next to the results, when there is one to say.
    pub fn note(&self, target: &str) -> Option<String> {
        match self {
            VersionCheck::Untested { version, tested } => Some(format!(
                "`{target}` is {version}, but its known failures were made with {}: results that differ from them may come from the version, not from a regression",
                tested.join(", ")
            )),
            _ => None,
        }
    }
}

/// Why a target file or known-failures file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// The file cannot be read.
    Io { path: PathBuf, reason: String },
    /// The file says something invalid, at `line`:`column` (1-based).
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        /// Dotted path of the offending key, e.g. `command` or `fetch."a/b"`.
        key: Option<String>,
        message: String,
        /// A suggested fix, e.g. "did you mean `command`?".
        help: Option<String>,
    },
    /// No folder `targets_root/name` holds a target file.
    NotFound {
        name: String,
        root: PathBuf,
        /// Target names that do exist under `root`.
        available: Vec<String>,
    },
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecError::Io { path, reason } => write!(f, "cannot read {}: {reason}", path.display()),
            SpecError::Invalid {
                path,
                line,
                column,
                key,
                message,
                help,
            } => {
                write!(f, "{}:{line}:{column}: ", path.display())?;
                if let Some(key) = key {
                    write!(f, "`{key}`: ")?;
                }
                f.write_str(message)?;
                if let Some(help) = help {
                    write!(f, " ({help})")?;
                }
                Ok(())
            }
            SpecError::NotFound { name, root, available } => {
                write!(f, "no target `{name}` under {}", root.display())?;
                match closest(name, available.iter().map(String::as_str)) {
                    Some(near) => write!(f, " (did you mean `{near}`?)"),
                    None if available.is_empty() => Ok(()),
                    None => write!(f, " (known: {})", available.join(", ")),
                }
            }
        }
    }
}

impl std::error::Error for SpecError {}

/// The target file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Spanned<String>,
    description: String,
    command: Spanned<Vec<String>>,
    #[serde(default)]
    version_command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    tested_versions: Vec<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    unsupported: BTreeSet<Feature>,
    routing: Routing,
    #[serde(default)]
    known_failures: Option<Spanned<String>>,
}

/// The known-failures file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKnownFailures {
    #[serde(default)]
    all: BTreeMap<String, Spanned<RawKnownFailure>>,
    #[serde(default)]
    rfc9110: BTreeMap<String, Spanned<RawKnownFailure>>,
    #[serde(default)]
    fetch: BTreeMap<String, Spanned<RawKnownFailure>>,
}

/// One entry as written: `{ verdict = "fail", reason = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKnownFailure {
    verdict: Spanned<VerdictKind>,
    reason: Spanned<String>,
}

impl TargetSpec {
    /// Load `dir/target.toml`, or the file itself, and its known failures.
    pub fn load(dir_or_file: &Path) -> Result<TargetSpec, SpecError> {
        let path = if dir_or_file.is_dir() {
            dir_or_file.join(TARGET_FILE)
        } else {
            dir_or_file.to_path_buf()
        };
        let text = read(&path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = std::path::absolute(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &dir
        })
        .map_err(|e| io_error(&path, &e))?;
        TargetSpec::parse(&text, &path, &dir)
    }

    /// Load `targets_root/name/target.toml`; its `name` must be `name`.
    pub fn find(name: &str, targets_root: &Path) -> Result<TargetSpec, SpecError> {
        let dir = targets_root.join(name);
        if !valid_name(name) || !dir.join(TARGET_FILE).is_file() {
            return Err(SpecError::NotFound {
                name: name.to_owned(),
                root: targets_root.to_path_buf(),
                available: TargetSpec::available(targets_root),
            });
        }
        let spec = TargetSpec::load(&dir)?;
        if spec.name != name {
            let text = read(&spec.path)?;
            let at = text.find("name").unwrap_or(0);
            return Err(invalid(
                &spec.path,
                &text,
                at..at,
                Some("name".to_owned()),
                format!("target in folder `{name}` is named `{}`", spec.name),
                Some(format!("name it `{name}`, the folder's name")),
            ));
        }
        Ok(spec)
    }

    /// Names of the folders under `targets_root` that hold a target file, sorted.
    pub fn available(targets_root: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(targets_root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join(TARGET_FILE).is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// Parse a target file's text; `dir` is its (absolute) folder.
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<TargetSpec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|e| from_toml(path, text, &e))?;
        let bad = |span: std::ops::Range<usize>, key: &str, message: String, help: Option<String>| {
            invalid(path, text, span, Some(key.to_owned()), message, help)
        };
        if !valid_name(raw.name.get_ref()) {
            return Err(bad(
                raw.name.span(),
                "name",
                format!("`{}` is not a usable target name", raw.name.get_ref()),
                Some("use lowercase letters, digits, `.`, `_` and `-`".to_owned()),
            ));
        }
        check_argv(raw.command.get_ref(), "command").map_err(|m| bad(raw.command.span(), "command", m, None))?;
        if let Some(argv) = &raw.version_command {
            check_argv(argv.get_ref(), "version_command").map_err(|m| bad(argv.span(), "version_command", m, None))?;
        }
        for version in &raw.tested_versions {
            if version.get_ref().trim().is_empty() {
                return Err(bad(
                    version.span(),
                    "tested_versions",
                    "empty version".to_owned(),
                    Some("write the start of the version line, e.g. `curl 7.88.1`".to_owned()),
                ));
            }
        }
        for program in &raw.requires {
            if program.get_ref().trim().is_empty() {
                return Err(bad(program.span(), "requires", "empty program name".to_owned(), None));
            }
        }
        let known_failures = match &raw.known_failures {
            Some(file) => {
                let name = Path::new(file.get_ref());
                if name.is_absolute() || name.components().any(|c| c == std::path::Component::ParentDir) {
                    return Err(bad(
                        file.span(),
                        "known_failures",
                        "the known-failures file must be inside the target folder".to_owned(),
                        Some(format!("use a name like `{DEFAULT_KNOWN_FAILURES}`")),
                    ));
                }
                let known = dir.join(name);
                if !known.is_file() {
                    return Err(bad(
                        file.span(),
                        "known_failures",
                        format!("{} does not exist", known.display()),
                        None,
                    ));
                }
                KnownFailures::load(&known)?
            }
            None => {
                let known = dir.join(DEFAULT_KNOWN_FAILURES);
                if known.is_file() {
                    KnownFailures::load(&known)?
                } else {
                    KnownFailures::default()
                }
            }
        };
        Ok(TargetSpec {
            name: raw.name.into_inner(),
            description: raw.description,
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            command: raw.command.into_inner(),
            version_command: raw.version_command.map(Spanned::into_inner),
            tested_versions: raw
                .tested_versions
                .into_iter()
                .map(|v| v.into_inner().trim().to_owned())
                .collect(),
            requires: raw.requires.into_iter().map(Spanned::into_inner).collect(),
            unsupported: raw.unsupported,
            routing: raw.routing,
            known_failures,
        })
    }

    /// The required programs that cannot be found (on `PATH`, or relative to
    /// the target folder when the name contains `/`).
    pub fn missing_requirements(&self) -> Vec<String> {
        self.requires
            .iter()
            .filter(|program| find_program(program, &self.dir).is_none())
            .cloned()
            .collect()
    }

    /// The driver's program, resolved against the target folder when it
    /// names a path (`./driver`, `bin/driver`); bare names are left for `PATH`.
    /// `None` only for a hand-built spec with an empty command.
    pub fn program(&self) -> Option<PathBuf> {
        self.command.first().map(|program| resolve_relative(program, &self.dir))
    }
}

impl KnownFailures {
    /// Read and validate a known-failures file.
    pub fn load(path: &Path) -> Result<KnownFailures, SpecError> {
        let text = read(path)?;
        KnownFailures::parse(&text, path)
    }

    /// Parse a known-failures file's text.
    pub fn parse(text: &str, path: &Path) -> Result<KnownFailures, SpecError> {
        let raw: RawKnownFailures = toml::from_str(text).map_err(|e| {
            let mut error = from_toml(path, text, &e);
            if let SpecError::Invalid { message, help, .. } = &mut error {
                if message.contains("expected struct RawKnownFailure") {
                    *message = "an entry is a table, not a plain reason".to_owned();
                    *help = Some("write `{ verdict = \"fail\", reason = \"...\" }`".to_owned());
                }
            }
            error
        })?;
        let tables = [("all", &raw.all), ("rfc9110", &raw.rfc9110), ("fetch", &raw.fetch)];
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (table, entries) in tables {
            for (id, entry) in entries {
                let key = |field: &str| Some(format!("{table}.\"{id}\"{field}"));
                let entry_ref = entry.get_ref();
                if let Some(problem) = bad_case_id(id) {
                    return Err(invalid(
                        path,
                        text,
                        entry.span(),
                        key(""),
                        problem,
                        Some("a case id is its path under suites/ without `.toml`".to_owned()),
                    ));
                }
                let verdict = *entry_ref.verdict.get_ref();
                if !KnownFailure::VERDICTS.contains(&verdict) {
                    return Err(invalid(
                        path,
                        text,
                        entry_ref.verdict.span(),
                        key(".verdict"),
                        format!("`{verdict}` is not a failure to expect"),
                        Some("use `fail`, `warn` or `error`; remove the entry when the case passes".to_owned()),
                    ));
                }
                if entry_ref.reason.get_ref().trim().is_empty() {
                    return Err(invalid(
                        path,
                        text,
                        entry_ref.reason.span(),
                        key(".reason"),
                        "empty reason".to_owned(),
                        Some("say what the target does and where that is documented".to_owned()),
                    ));
                }
                // [all] excludes the profile tables; the two profile tables
                // may both list an id (with different verdicts).
                if let Some(first) = seen.get(id.as_str()).copied() {
                    if first == "all" || table == "all" {
                        return Err(invalid(
                            path,
                            text,
                            entry.span(),
                            key(""),
                            format!("`{id}` is listed under both [{first}] and [{table}]"),
                            Some(
                                "keep it in [all] when the verdict is the same under every profile, else in the profile tables"
                                    .into(),
                            ),
                        ));
                    }
                }
                seen.insert(id, table);
            }
        }
        let plain = |m: &BTreeMap<String, Spanned<RawKnownFailure>>| -> BTreeMap<String, KnownFailure> {
            m.iter()
                .map(|(id, entry)| {
                    let entry = entry.get_ref();
                    let known = KnownFailure {
                        verdict: *entry.verdict.get_ref(),
                        reason: entry.reason.get_ref().trim().to_owned(),
                    };
                    (id.clone(), known)
                })
                .collect()
        };
        Ok(KnownFailures {
            path: Some(path.to_path_buf()),
            all: plain(&raw.all),
            rfc9110: plain(&raw.rfc9110),
            fetch: plain(&raw.fetch),
        })
    }

    /// The verdict expected of `case_id` under `profile` and why, if listed.
    pub fn expected(&self, case_id: &str, profile: Profile) -> Option<&KnownFailure> {
        self.table(profile).get(case_id).or_else(|| self.all.get(case_id))
    }

    /// Why `case_id` is expected not to pass under `profile`, if it is.
    pub fn reason(&self, case_id: &str, profile: Profile) -> Option<&str> {
        self.expected(case_id, profile).map(|k| k.reason.as_str())
    }

    /// Every case id the file names, under any profile.
    pub fn ids(&self) -> BTreeSet<&str> {
        self.all
            .keys()
            .chain(self.rfc9110.keys())
            .chain(self.fetch.keys())
            .map(String::as_str)
            .collect()
    }

    /// The case ids listed under `profile`.
    pub fn ids_for(&self, profile: Profile) -> BTreeSet<&str> {
        self.all
            .keys()
            .chain(self.table(profile).keys())
            .map(String::as_str)
            .collect()
    }

    fn table(&self, profile: Profile) -> &BTreeMap<String, KnownFailure> {
        match profile {
            Profile::Rfc9110 => &self.rfc9110,
            Profile::Fetch => &self.fetch,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.rfc9110.is_empty() && self.fetch.is_empty()
    }
}

fn read(path: &Path) -> Result<String, SpecError> {
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> SpecError {
    SpecError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn check_argv(argv: &[String], key: &str) -> Result<(), String> {
    match argv.first() {
        None => Err(format!("`{key}` needs at least the program to run")),
        Some(program) if program.trim().is_empty() => Err("the program name is empty".to_owned()),
        Some(_) => Ok(()),
    }
}

fn bad_case_id(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("empty case id".to_owned())
    } else if id.starts_with('/') || id.ends_with('/') || id.contains("//") || id.contains('\\') {
        Some(format!("`{id}` is not a case id"))
    } else if id.ends_with(".toml") {
        Some(format!("`{id}` names a file, not a case id"))
    } else {
        None
    }
}

fn resolve_relative(program: &str, dir: &Path) -> PathBuf {
    let path = Path::new(program);
    if program.contains('/') && path.is_relative() {
        dir.join(path)
    } else {
        path.to_path_buf()
    }
}

/// Where `program` would be found, if anywhere.
fn find_program(program: &str, dir: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        let path = resolve_relative(program, dir);
        return is_executable(&path).then_some(path);
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|folder| folder.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A toml error, located: line and column from its span, the key from its
/// key path (or the line it points at), a "did you mean" for unknown keys.
fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> SpecError {
    let message = e.message().trim().to_owned();
    let span = e.span().unwrap_or(0..0);
    let key = error_keys(e).or_else(|| key_at(text, span.start));
    let help = unknown_field_help(&message);
    let message = message.lines().next().unwrap_or_default().to_owned();
    invalid(path, text, span, key, message, help)
}

fn invalid(
    path: &Path,
    text: &str,
    span: std::ops::Range<usize>,
    key: Option<String>,
    message: String,
    help: Option<String>,
) -> SpecError {
    let (line, column) = line_column(text, span.start);
    SpecError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        key,
        message,
        help,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// toml keeps the key path of an error private but prints it (`in `a.b``)
/// when it has no input to quote.
fn error_keys(e: &toml::de::Error) -> Option<String> {
    let mut bare = e.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let line = shown.lines().rev().find(|l| l.starts_with("in `"))?;
    let keys = line.strip_prefix("in `")?.strip_suffix('`')?;
    (!keys.is_empty()).then(|| keys.to_owned())
}

/// The dotted key written on the line holding `offset`, under its table header.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default().trim();
    let key = line.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty());
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    match (table, key) {
        (Some(table), Some(key)) => Some(format!("{table}.{key}")),
        (None, Some(key)) => Some(key.to_owned()),
        (Some(table), None) if line.starts_with('[') => Some(table),
        _ => None,
    }
}

/// "did you mean `command`?" for serde's "unknown field `comand`, expected one of ...".
fn unknown_field_help(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    closest(unknown, expected.iter().copied()).map(|near| format!("did you mean `{near}`?"))
}

fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"name = "demo"
description = "a demo client"
command = ["./driver.sh", "--fast"]
version_command = ["demo", "--version"]
requires = ["sh"]
unsupported = ["streamed-body", "final-fragment"]
routing = "proxy"
"#;

    fn target_dir(target: &str, known: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(TARGET_FILE), target).expect("write target");
        if let Some(known) = known {
            std::fs::write(dir.path().join(DEFAULT_KNOWN_FAILURES), known).expect("write known failures");
        }
        dir
    }

    fn located(e: SpecError) -> (usize, usize, Option<String>, String, Option<String>) {
        match e {
            SpecError::Invalid {
                line,
                column,
                key,
                message,
                help,
                ..
            } => (line, column, key, message, help),
            other => panic!("expected a located error, got {other:?}"),
        }
    }

    #[test]
    fn loads_every_key() {
        let dir = target_dir(GOOD, None);
        let spec = TargetSpec::load(dir.path()).expect("valid target");
        assert_eq!(spec.name, "demo");
        assert_eq!(spec.description, "a demo client");
        assert_eq!(spec.command, ["./driver.sh", "--fast"]);
        assert_eq!(
            spec.version_command,
            Some(vec!["demo".to_owned(), "--version".to_owned()])
        );
        assert_eq!(spec.requires, ["sh"]);
        assert_eq!(
            spec.unsupported,
            BTreeSet::from([Feature::StreamedBody, Feature::FinalFragment])
        );
        assert_eq!(spec.routing, Routing::Proxy);
        assert!(spec.known_failures.is_empty());
        assert_eq!(spec.known_failures.path, None);
        assert!(spec.dir.is_absolute());
        assert_eq!(spec.program(), Some(spec.dir.join("./driver.sh")));
        // The file itself loads the same.
        let same = TargetSpec::load(&dir.path().join(TARGET_FILE)).expect("valid target");
        assert_eq!(same.dir, spec.dir);
    }

    #[test]
    fn unknown_key_is_located_with_a_suggestion() {
        let text = GOOD.replace("command = [\"./", "comand = [\"./");
        let dir = target_dir(&text, None);
        let (line, column, key, message, help) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!((line, column), (3, 1));
        assert_eq!(key.as_deref(), Some("comand"));
        assert!(message.contains("unknown field `comand`"), "{message}");
        assert_eq!(help.as_deref(), Some("did you mean `command`?"));
    }

    #[test]
    fn wrong_type_is_located_at_the_value() {
        let text = GOOD.replace("[\"./driver.sh\", \"--fast\"]", "\"./driver.sh --fast\"");
        let dir = target_dir(&text, None);
        let err = TargetSpec::load(dir.path()).unwrap_err();
        let shown = err.to_string();
        let (line, column, key, _, _) = located(err);
        assert_eq!((line, column), (3, 11));
        assert_eq!(key.as_deref(), Some("command"));
        assert!(shown.contains("target.toml:3:11: `command`"), "{shown}");
    }

    #[test]
    fn unknown_feature_and_routing_are_located() {
        let dir = target_dir(&GOOD.replace("final-fragment", "fragment"), None);
        let (line, _, key, message, _) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!(line, 6);
        assert_eq!(key.as_deref(), Some("unsupported"));
        assert!(message.contains("fragment"), "{message}");

        let dir = target_dir(&GOOD.replace("\"proxy\"", "\"conect-to\""), None);
        let (line, column, key, _, help) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!((line, column), (7, 11));
        assert_eq!(key.as_deref(), Some("routing"));
        assert_eq!(help.as_deref(), Some("did you mean `connect-to`?"));
    }

    #[test]
    fn empty_command_and_bad_name_are_refused() {
        let dir = target_dir(&GOOD.replace("[\"./driver.sh\", \"--fast\"]", "[]"), None);
        let (line, _, key, _, _) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!((line, key.as_deref()), (3, Some("command")));

        let dir = target_dir(&GOOD.replace("\"demo\"", "\"My Client\""), None);
        let (line, column, key, _, help) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!((line, column, key.as_deref()), (1, 8, Some("name")));
        assert!(help.is_some());
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(TargetSpec::load(dir.path()), Err(SpecError::Io { .. })));
    }

    #[test]
    fn missing_requirements_names_absent_programs_only() {
        let text = GOOD.replace(
            "requires = [\"sh\"]",
            "requires = [\"sh\", \"no-such-program-hopcheck\", \"./here.sh\", \"./not-executable.sh\"]",
        );
        let dir = target_dir(&text, None);
        std::fs::write(dir.path().join("here.sh"), "#!/bin/sh\n").expect("write");
        std::fs::write(dir.path().join("not-executable.sh"), "#!/bin/sh\n").expect("write");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path().join("here.sh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let spec = TargetSpec::load(dir.path()).expect("valid target");
        assert_eq!(
            spec.missing_requirements(),
            ["no-such-program-hopcheck", "./not-executable.sh"]
        );
    }

    const KNOWN: &str = r#"# why curl fails these
[all]
"redirect/303/put-becomes-get" = { verdict = "fail", reason = "-X pins the method on every hop" }

[fetch]
"redirect/302/post-becomes-get" = { verdict = "fail", reason = "keeps POST on 302" }
"redirect/301/put-keeps-method" = { verdict = "error", reason = "times out" }

[rfc9110]
"redirect/301/put-keeps-method" = { verdict = "warn", reason = "drops the body" }
"#;

    #[test]
    fn known_failures_lookup_per_profile() {
        let dir = target_dir(GOOD, Some(KNOWN));
        let spec = TargetSpec::load(dir.path()).expect("valid target");
        let known = &spec.known_failures;
        assert_eq!(
            known.path.as_deref(),
            Some(dir.path().join(DEFAULT_KNOWN_FAILURES).as_path())
        );
        for profile in Profile::ALL {
            assert_eq!(
                known.expected("redirect/303/put-becomes-get", profile),
                Some(&KnownFailure {
                    verdict: VerdictKind::Fail,
                    reason: "-X pins the method on every hop".to_owned()
                })
            );
        }
        assert_eq!(
            known.reason("redirect/302/post-becomes-get", Profile::Fetch),
            Some("keeps POST on 302")
        );
        assert_eq!(known.reason("redirect/302/post-becomes-get", Profile::Rfc9110), None);
        assert_eq!(known.reason("redirect/307/post-keeps-body", Profile::Fetch), None);
        let verdict = |profile| {
            known
                .expected("redirect/301/put-keeps-method", profile)
                .map(|k| k.verdict)
        };
        assert_eq!(verdict(Profile::Rfc9110), Some(VerdictKind::Warn));
        assert_eq!(verdict(Profile::Fetch), Some(VerdictKind::Error));
        assert_eq!(
            known.ids(),
            BTreeSet::from([
                "redirect/301/put-keeps-method",
                "redirect/302/post-becomes-get",
                "redirect/303/put-becomes-get"
            ])
        );
        assert_eq!(
            known.ids_for(Profile::Rfc9110),
            BTreeSet::from(["redirect/301/put-keeps-method", "redirect/303/put-becomes-get"])
        );
    }

    #[test]
    fn known_failures_errors_are_located() {
        let path = Path::new("known-failures.toml");
        let twice = format!("{KNOWN}\"redirect/303/put-becomes-get\" = {{ verdict = \"fail\", reason = \"again\" }}\n");
        let (line, column, key, message, _) = located(KnownFailures::parse(&twice, path).unwrap_err());
        assert_eq!((line, column), (11, 34));
        assert_eq!(key.as_deref(), Some("rfc9110.\"redirect/303/put-becomes-get\""));
        assert!(message.contains("[all] and [rfc9110]"), "{message}");

        let empty = "[all]\n\"a/b\" = { verdict = \"fail\", reason = \"  \" }\n";
        let (line, column, key, message, _) = located(KnownFailures::parse(empty, path).unwrap_err());
        assert_eq!((line, column, message.as_str()), (2, 38, "empty reason"));
        assert_eq!(key.as_deref(), Some("all.\"a/b\".reason"));

        let file_name = "[fetch]\n\"a/b.toml\" = { verdict = \"fail\", reason = \"why\" }\n";
        let (line, _, _, message, _) = located(KnownFailures::parse(file_name, path).unwrap_err());
        assert_eq!(line, 2);
        assert!(message.contains("names a file"), "{message}");

        let table = "[all]\n[fecth]\n\"a/b\" = { verdict = \"fail\", reason = \"why\" }\n";
        let (line, _, _, _, help) = located(KnownFailures::parse(table, path).unwrap_err());
        assert_eq!(line, 2);
        assert_eq!(help.as_deref(), Some("did you mean `fetch`?"));
    }

    #[test]
    fn known_failure_verdicts_are_checked_and_located() {
        let path = Path::new("known-failures.toml");
        let pass = "[all]\n\"a/b\" = { verdict = \"pass\", reason = \"why\" }\n";
        let (line, column, key, message, help) = located(KnownFailures::parse(pass, path).unwrap_err());
        assert_eq!((line, column), (2, 21));
        assert_eq!(key.as_deref(), Some("all.\"a/b\".verdict"));
        assert!(message.contains("`pass` is not a failure"), "{message}");
        assert!(help.is_some_and(|h| h.contains("`fail`, `warn` or `error`")));

        let unknown = "[all]\n\"a/b\" = { verdict = \"fial\", reason = \"why\" }\n";
        let (line, column, _, message, _) = located(KnownFailures::parse(unknown, path).unwrap_err());
        assert_eq!((line, column), (2, 21));
        assert!(message.contains("fial"), "{message}");

        let missing = "[rfc9110]\n\"a/b\" = { reason = \"why\" }\n";
        let (line, _, _, message, _) = located(KnownFailures::parse(missing, path).unwrap_err());
        assert_eq!(line, 2);
        assert!(message.contains("missing field `verdict`"), "{message}");

        let extra = "[rfc9110]\n\"a/b\" = { verdict = \"warn\", reason = \"why\", reasn = \"x\" }\n";
        let (line, _, _, message, help) = located(KnownFailures::parse(extra, path).unwrap_err());
        assert_eq!(line, 2);
        assert!(message.contains("unknown field `reasn`"), "{message}");
        assert_eq!(help.as_deref(), Some("did you mean `reason`?"));

        // The format before verdicts were recorded: a plain reason.
        let plain = "[all]\n\"a/b\" = \"why\"\n";
        let (line, column, _, message, help) = located(KnownFailures::parse(plain, path).unwrap_err());
        assert_eq!((line, column), (2, 9));
        assert_eq!(message, "an entry is a table, not a plain reason");
        assert!(help.is_some_and(|h| h.contains("verdict = ")));
    }

    #[test]
    fn versions_match_by_prefix_up_to_a_word_boundary() {
        let tested = vec!["curl 7.88.1".to_owned(), "curl 8.5.0".to_owned()];
        let line = "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 OpenSSL/3.0.19";
        assert_eq!(VersionCheck::new(&tested, line), VersionCheck::Tested);
        assert_eq!(VersionCheck::new(&tested, "curl 8.5.0"), VersionCheck::Tested);
        let newer = VersionCheck::new(&tested, "curl 7.88.10 (x86_64-pc-linux-gnu)");
        assert!(matches!(&newer, VersionCheck::Untested { version, .. } if version.starts_with("curl 7.88.10")));
        let note = newer.note("curl").expect("a note");
        assert!(note.contains("curl 7.88.1, curl 8.5.0"), "{note}");
        assert_eq!(VersionCheck::new(&[], line), VersionCheck::Undeclared);
        assert_eq!(VersionCheck::new(&[], line).note("curl"), None);
        assert_eq!(VersionCheck::Tested.note("curl"), None);
    }

    #[test]
    fn tested_versions_are_read_and_checked() {
        let dir = target_dir(&format!("{GOOD}tested_versions = [\"demo 1.2\"]\n"), None);
        let spec = TargetSpec::load(dir.path()).expect("valid target");
        assert_eq!(spec.tested_versions, ["demo 1.2"]);
        let dir = target_dir(&format!("{GOOD}tested_versions = [\" \"]\n"), None);
        let (line, column, key, message, _) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!((line, column, key.as_deref()), (8, 20, Some("tested_versions")));
        assert_eq!(message, "empty version");
    }

    #[test]
    fn a_broken_known_failures_file_fails_the_target() {
        let dir = target_dir(GOOD, Some("[all]\n\"a/b\" = { verdict = \"fail\", reason = 3 }\n"));
        let err = TargetSpec::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("known-failures.toml:2:"), "{err}");
        let dir = target_dir(&format!("{GOOD}known_failures = \"../elsewhere.toml\"\n"), None);
        let (line, _, key, _, _) = located(TargetSpec::load(dir.path()).unwrap_err());
        assert_eq!((line, key.as_deref()), (8, Some("known_failures")));
    }

    #[test]
    fn find_by_name() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("demo")).expect("mkdir");
        std::fs::write(root.path().join("demo").join(TARGET_FILE), GOOD).expect("write");
        assert_eq!(TargetSpec::find("demo", root.path()).expect("found").name, "demo");
        assert_eq!(TargetSpec::available(root.path()), ["demo"]);

        let err = TargetSpec::find("dmeo", root.path()).unwrap_err();
        assert!(matches!(&err, SpecError::NotFound { available, .. } if available == &["demo"]));
        assert!(err.to_string().contains("did you mean `demo`?"), "{err}");

        std::fs::create_dir(root.path().join("other")).expect("mkdir");
        std::fs::write(root.path().join("other").join(TARGET_FILE), GOOD).expect("write");
        let (line, _, key, message, _) = located(TargetSpec::find("other", root.path()).unwrap_err());
        assert_eq!((line, key.as_deref()), (1, Some("name")));
        assert!(message.contains("named `demo`"), "{message}");
    }
}

//! Choosing a target by name: `reference`, `reference~<Mutant>`, a folder
//! under `targets/`, or a path to a target file.

use std::path::Path;
use std::sync::Arc;

use super::mutant::Mutant;
use super::reference::ReferenceAgent;
use super::spec::{KnownFailures, SpecError, TargetSpec, VersionCheck};
use super::Target;

/// A target ready to run, with what is expected of it.
pub struct Resolved {
    pub target: Arc<dyn Target>,
    /// The target's known failures (empty for the reference and mutants).
    pub known_failures: KnownFailures,
    /// The client versions the known failures were made with (empty when
    /// the target does not say, and for the reference and mutants).
    pub tested_versions: Vec<String>,
    /// Set when the target cannot run on this machine (a required program is
    /// missing): why, to show as `skipped: <target>: <reason>` instead of
    /// running it.
    pub skip: Option<String>,
}

/// Why a target name could not be resolved.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResolveError {
    UnknownMutant { name: String, known: Vec<String> },
    Spec(SpecError),
}

impl Resolved {
    /// Whether the target's version is one its known failures were made with.
    /// Asks the target its version (drivers run their `version_command` once).
    pub fn version_check(&self) -> VersionCheck {
        if self.tested_versions.is_empty() {
            return VersionCheck::Undeclared;
        }
        VersionCheck::new(&self.tested_versions, &self.target.version())
    }
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::UnknownMutant { name, known } => {
                write!(f, "no mutant named `{name}`; known mutants: {}", known.join(", "))
            }
            ResolveError::Spec(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Resolve `name` against the targets folder `targets_root`.
pub fn resolve(name: &str, targets_root: &Path) -> Result<Resolved, ResolveError> {
    if name == "reference" {
        return Ok(in_process(ReferenceAgent::new()));
    }
    if let Some(mutant) = name.strip_prefix("reference~") {
        let found = Mutant::ALL.iter().find(|m| m.name() == mutant).copied();
        return match found {
            Some(m) => Ok(in_process(ReferenceAgent::with_mutant(m))),
            None => Err(ResolveError::UnknownMutant {
                name: mutant.to_owned(),
                known: Mutant::ALL.iter().map(|m| m.name()).collect(),
            }),
        };
    }
    let path = Path::new(name);
    let spec = if name.contains('/') || name.ends_with(".toml") || path.is_file() {
        TargetSpec::load(path)
    } else {
        TargetSpec::find(name, targets_root)
    }
    .map_err(ResolveError::Spec)?;
    let missing = spec.missing_requirements();
    let skip = (!missing.is_empty()).then(|| format!("not installed here: {}", missing.join(", ")));
    let known_failures = spec.known_failures.clone();
    let tested_versions = spec.tested_versions.clone();
    Ok(Resolved {
        target: Arc::new(super::driver::DriverTarget::new(spec)),
        known_failures,
        tested_versions,
        skip,
    })
}

fn in_process(agent: ReferenceAgent) -> Resolved {
    Resolved {
        target: Arc::new(agent),
        known_failures: KnownFailures::default(),
        tested_versions: Vec::new(),
        skip: None,
    }
}

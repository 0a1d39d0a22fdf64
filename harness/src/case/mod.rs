//! Case files: the data model, the requirements catalogue, and loading with
//! validation. Owns everything between a TOML file on disk and a [`Case`].

pub(crate) mod diagnostic;
pub mod load;
pub mod model;
pub mod requirements;
pub mod schema;
pub mod validate;

pub use load::{load_case, load_embedded, load_suite, parse_case, CaseFileError, Suite, SuiteError};
pub use model::*;
pub use requirements::{Catalogue, Level, Requirement};

use std::path::PathBuf;

/// A validated case: its id (the path under `suites/` without `.toml`) and contents.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub path: PathBuf,
    pub file: CaseFile,
}

impl Case {
    /// The outcomes in order, the `expect` shorthand first.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.file.expect.iter().chain(self.file.outcomes.iter())
    }

    /// Every requirement id the case names: its `requirements` and each
    /// expectation's `rule` (repeats included).
    pub fn citations(&self) -> impl Iterator<Item = &str> {
        let rules = self.outcomes().flat_map(Outcome::cited_rules);
        self.file.requirements.iter().map(String::as_str).chain(rules)
    }
}

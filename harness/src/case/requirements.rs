//! The requirements catalogue, `suites/requirements.toml`: one testable rule
//! per entry, with its level and the section it comes from.

// A CaseFileError is large, but it is the documented error of these calls and
// only ever built for a bad file, never on a hot path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::diagnostic::{self, key_path, Problem};
use super::CaseFileError;

/// The id [`CaseFileError`]s about the catalogue carry.
pub const CATALOGUE_ID: &str = "requirements";

/// The values `side` may take.
pub const SIDES: [&str; 3] = ["client", "server", "both"];

/// How binding a requirement is; decides the verdict when no outcome matches.
/// Ordered strongest first (`Fetch` binds like `Must` under the fetch profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST / MUST NOT / REQUIRED: a miss is `fail`.
    Must,
    /// SHOULD / SHOULD NOT: a miss is `warn`.
    Should,
    /// WHATWG Fetch/URL only: `fail` under the fetch profile, `info` under rfc9110.
    Fetch,
    /// MAY: behaviour recorded as `info`.
    May,
    /// No rule; behaviour recorded.
    Info,
}

impl Level {
    /// The level as it binds under `profile`: Fetch rules bind like MUSTs
    /// under the fetch profile and decide nothing under rfc9110.
    pub fn under(self, profile: super::Profile) -> Level {
        match (self, profile) {
            (Level::Fetch, super::Profile::Fetch) => Level::Must,
            (Level::Fetch, super::Profile::Rfc9110) => Level::Info,
            (level, _) => level,
        }
    }
}

/// One requirement.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub level: Level,
    /// Where the rule is written, e.g. `RFC 9110 §15.4.8`.
    pub source: String,
    /// The rule as one sentence.
    pub rule: String,
    /// Who the rule binds: `client`, `server` (probe mode) or `both`.
    #[serde(default = "default_side")]
    pub side: String,
    /// Why no case can observe this rule, when none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_observable: Option<String>,
}

fn default_side() -> String {
    "client".to_owned()
}

/// All requirements by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub requirements: BTreeMap<String, Requirement>,
}

/// The file as written: `[[requirement]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default)]
    requirement: Vec<Requirement>,
}

impl Catalogue {
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.get(id)
    }

    /// Reads and checks a catalogue file (`suites/requirements.toml`).
    pub fn load(path: &Path) -> Result<Catalogue, CaseFileError> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| diagnostic::file_error(CATALOGUE_ID, path, format!("cannot read the catalogue: {e}")))?;
        Catalogue::parse(path, &src)
    }

    /// Checks catalogue text read from `path`: unknown keys, duplicate ids and
    /// unknown sides are errors.
    pub fn parse(path: &Path, src: &str) -> Result<Catalogue, CaseFileError> {
        let fail = |problem: Problem| problem.into_error(CATALOGUE_ID, path, src);
        let doc = toml::de::DeTable::parse(src).map_err(|e| fail(diagnostic::toml_problem(&e, None)))?;
        let file: CatalogueFile = toml::from_str(src).map_err(|e| fail(diagnostic::toml_problem(&e, Some(&doc))))?;
        let mut requirements = BTreeMap::new();
        for (index, requirement) in file.requirement.into_iter().enumerate() {
            if !SIDES.contains(&requirement.side.as_str()) {
                let path = key_path!["requirement", index, "side"];
                return Err(fail(Problem {
                    span: diagnostic::span_of(&doc, &path),
                    key: Some(path.to_string()),
                    message: format!("unknown side `{}`", requirement.side),
                    help: Some("side is `client`, `server` or `both`".to_owned()),
                }));
            }
            if requirements.contains_key(&requirement.id) {
                let path = key_path!["requirement", index, "id"];
                return Err(fail(Problem {
                    span: diagnostic::span_of(&doc, &path),
                    key: Some(path.to_string()),
                    message: format!("duplicate requirement id `{}`", requirement.id),
                    help: Some("ids are unique; give this rule its own id".to_owned()),
                }));
            }
            requirements.insert(requirement.id.clone(), requirement);
        }
        Ok(Catalogue { requirements })
    }

    /// The id closest to `id`, for "did you mean" help.
    pub fn closest(&self, id: &str) -> Option<&str> {
        diagnostic::closest(id, self.requirements.keys().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn suites() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites")
    }

    #[test]
    fn the_real_catalogue_loads_every_row() {
        let path = suites().join("requirements.toml");
        let catalogue = Catalogue::load(&path).expect("catalogue");
        let tables = std::fs::read_to_string(&path)
            .expect("read")
            .matches("\n[[requirement]]")
            .count();
        // Every table loads; the 104 rows of the spec list are the floor.
        assert_eq!(catalogue.requirements.len(), tables);
        assert!(tables >= 104, "{tables}");
        let method = catalogue.get("RED-307-METHOD").expect("RED-307-METHOD");
        assert_eq!(method.level, Level::Must);
        assert_eq!(method.source, "RFC 9110 §15.4.8");
        assert_eq!(catalogue.get("URL-DOT").map(|r| r.level), Some(Level::Fetch));
        assert!(catalogue.requirements.values().all(|r| r.rule.ends_with('.')));
    }

    #[rstest::rstest]
    #[case::duplicate_id(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\n\n\
         [[requirement]]\nid = \"A\"\nlevel = \"may\"\nsource = \"s\"\nrule = \"r.\"\n",
        (8, 6), "requirement[1].id", "duplicate requirement id `A`"
    )]
    #[case::unknown_key(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nrul = \"x\"\n",
        (6, 1), "requirement[0].rul", "unknown key `rul`"
    )]
    #[case::unknown_level(
        "[[requirement]]\nid = \"A\"\nlevel = \"mst\"\nsource = \"s\"\nrule = \"r.\"\n",
        (3, 9), "requirement[0].level", "unknown value `mst`"
    )]
    #[case::unknown_side(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nside = \"proxy\"\n",
        (6, 8), "requirement[0].side", "unknown side `proxy`"
    )]
    fn catalogue_errors_are_located(
        #[case] src: &str,
        #[case] at: (usize, usize),
        #[case] key: &str,
        #[case] message: &str,
    ) {
        let err = Catalogue::parse(Path::new("requirements.toml"), src).expect_err("invalid catalogue");
        assert_eq!(err.id, CATALOGUE_ID);
        assert_eq!((err.line, err.column), at);
        assert_eq!(err.key.as_deref(), Some(key));
        assert_eq!(err.message, message);
    }
}

//! The requirements catalogue, `suites/requirements.toml`: one testable rule
//! per entry, with its level, the section it comes from, and the sentence of
//! that section which carries it.
//!
//! A level is never stronger than the spec's own words: the loader rejects a
//! requirement whose level is stronger than the strongest BCP 14 keyword in
//! its `quote` unless a `why` says where the level comes from.

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
    /// The level as the catalogue writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::Fetch => "fetch",
            Level::May => "may",
            Level::Info => "info",
        }
    }

    /// How a quote's strongest keyword is named in messages.
    fn keyword_name(self) -> &'static str {
        match self {
            Level::Must | Level::Fetch => "MUST at most",
            Level::Should => "SHOULD at most",
            Level::May | Level::Info => "MAY at most",
        }
    }

    /// How strongly the level binds a client, for comparing it with a BCP 14
    /// keyword: 3 for `must`, 2 for `should`, 1 for `may`, 0 for `info`.
    /// `fetch` counts as `must`: WHATWG algorithm steps are requirements.
    fn strength(self) -> u8 {
        match self {
            Level::Must | Level::Fetch => 3,
            Level::Should => 2,
            Level::May => 1,
            Level::Info => 0,
        }
    }

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
    /// The exact sentence of the source that carries the rule, with its
    /// BCP 14 keyword if it has one. Required and never empty.
    pub quote: String,
    /// Where the level comes from when it is stronger than the strongest
    /// keyword of `quote` (a definition, a prohibition in other words, the
    /// sentence the rule rides on, a WHATWG algorithm step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
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

/// The strongest BCP 14 keyword (RFC 2119, RFC 8174: only in capitals) in
/// `text`, as the level it gives: MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT
/// give `must`; SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED give
/// `should`; MAY and OPTIONAL give `may`. `None` when the text has none.
pub fn strongest_keyword(text: &str) -> Option<Level> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter_map(|word| match word {
            "MUST" | "REQUIRED" | "SHALL" => Some(Level::Must),
            "SHOULD" | "RECOMMENDED" => Some(Level::Should),
            "MAY" | "OPTIONAL" => Some(Level::May),
            _ => None,
        })
        .min()
}

impl Requirement {
    /// Whether `level` is stronger than the strongest keyword of `quote`
    /// (a quote without a keyword allows `info` only).
    pub fn level_exceeds_quote(&self) -> bool {
        let keyword = strongest_keyword(&self.quote).map_or(0, Level::strength);
        self.level.strength() > keyword
    }
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
        let bytes = std::fs::read(path)
            .map_err(|e| diagnostic::file_error(CATALOGUE_ID, path, format!("cannot read the catalogue: {e}")))?;
        let src = diagnostic::utf8_text(CATALOGUE_ID, path, bytes)?;
        Catalogue::parse(path, &src)
    }

    /// Checks catalogue text read from `path`: unknown keys, duplicate ids,
    /// unknown sides, a missing or empty `quote`, a level stronger than its
    /// quote's keyword without a `why`, and a catalogue with no requirement
    /// at all (an empty or truncated file) are errors.
    pub fn parse(path: &Path, src: &str) -> Result<Catalogue, CaseFileError> {
        let fail = |problem: Problem| problem.into_error(CATALOGUE_ID, path, src);
        let doc = toml::de::DeTable::parse(src).map_err(|e| fail(diagnostic::toml_problem(&e, src, None)))?;
        let file: CatalogueFile =
            toml::from_str(src).map_err(|e| fail(diagnostic::toml_problem(&e, src, Some(&doc))))?;
        if file.requirement.is_empty() {
            let path = key_path!["requirement"];
            return Err(fail(Problem {
                span: diagnostic::span_of(&doc, &path),
                key: doc.get_ref().contains_key("requirement").then(|| path.to_string()),
                message: "the catalogue lists no requirements".to_owned(),
                help: Some(
                    "every case cites requirements from here; add `[[requirement]]` tables \
                     (an empty catalogue is a truncated or misplaced file)"
                        .to_owned(),
                ),
            }));
        }
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
            if requirement.quote.trim().is_empty() {
                let path = key_path!["requirement", index, "quote"];
                return Err(fail(Problem {
                    span: diagnostic::span_of(&doc, &path),
                    key: Some(path.to_string()),
                    message: format!("requirement `{}` has an empty quote", requirement.id),
                    help: Some("quote the exact sentence of the source that carries the rule".to_owned()),
                }));
            }
            if requirement.why.as_deref().is_some_and(|why| why.trim().is_empty()) {
                let path = key_path!["requirement", index, "why"];
                return Err(fail(Problem {
                    span: diagnostic::span_of(&doc, &path),
                    key: Some(path.to_string()),
                    message: format!("requirement `{}` has an empty why", requirement.id),
                    help: Some("say where the level comes from, or drop `why`".to_owned()),
                }));
            }
            if requirement.level_exceeds_quote() && requirement.why.is_none() {
                let path = key_path!["requirement", index, "level"];
                let keyword = strongest_keyword(&requirement.quote).map_or("no BCP 14 keyword", Level::keyword_name);
                return Err(fail(Problem {
                    span: diagnostic::span_of(&doc, &path),
                    key: Some(path.to_string()),
                    message: format!(
                        "requirement `{}` is `{}` but its quote has {keyword}",
                        requirement.id,
                        requirement.level.as_str()
                    ),
                    help: Some(
                        "lower the level to what the quote says, or add a `why` saying where the level comes from"
                            .to_owned(),
                    ),
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

    #[test]
    fn every_real_requirement_is_quoted_and_no_level_outranks_its_words() {
        let catalogue = Catalogue::load(&suites().join("requirements.toml")).expect("catalogue");
        for r in catalogue.requirements.values() {
            assert!(!r.quote.trim().is_empty(), "{} has no quote", r.id);
            assert!(
                !r.level_exceeds_quote() || r.why.is_some(),
                "{} is {} but its quote has no keyword that strong, and no why",
                r.id,
                r.level.as_str()
            );
            // WHATWG rules quote algorithm steps, which carry no BCP 14 keyword.
            if r.level == Level::Fetch {
                assert!(r.why.is_some(), "{} is a WHATWG rule without a why", r.id);
            }
        }
    }

    #[rstest::rstest]
    #[case("A user agent MUST NOT change the method.", Some(Level::Must))]
    #[case("It is REQUIRED.", Some(Level::Must))]
    #[case("A server SHALL answer.", Some(Level::Must))]
    #[case("A client SHOULD retry, and MAY stop.", Some(Level::Should))]
    #[case("NOT RECOMMENDED", Some(Level::Should))]
    #[case("The user agent MAY follow; it is OPTIONAL.", Some(Level::May))]
    #[case("A user agent must not do this (lower case is no keyword).", None)]
    #[case("MUSTARD and MAYBE are not keywords.", None)]
    #[case("", None)]
    fn keywords_are_bcp14_words_in_capitals(#[case] text: &str, #[case] level: Option<Level>) {
        assert_eq!(strongest_keyword(text), level);
    }

    const ROW: &str = "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\n";

    #[rstest::rstest]
    #[case::must_quote("quote = \"It MUST.\"\n")]
    #[case::weaker_level("quote = \"It SHOULD.\"\nwhy = \"defined outright\"\n")]
    fn a_level_within_its_quote_or_with_a_why_loads(#[case] tail: &str) {
        let src = format!("{ROW}{tail}");
        Catalogue::parse(Path::new("requirements.toml"), &src).expect("valid catalogue");
    }

    #[rstest::rstest]
    #[case::empty_file("", (1, 1), None, "the catalogue lists no requirements")]
    #[case::comments_only("# rules\n\n  # more\n", (1, 1), None, "the catalogue lists no requirements")]
    #[case::empty_list("# rules\nrequirement = []\n", (2, 15), Some("requirement"), "the catalogue lists no requirements")]
    #[case::duplicate_id(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"MUST\"\n\n\
         [[requirement]]\nid = \"A\"\nlevel = \"may\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"MAY\"\n",
        (9, 6), Some("requirement[1].id"), "duplicate requirement id `A`"
    )]
    #[case::unknown_key(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"MUST\"\nrul = \"x\"\n",
        (7, 1), Some("requirement[0].rul"), "unknown key `rul`"
    )]
    #[case::unknown_level(
        "[[requirement]]\nid = \"A\"\nlevel = \"mst\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"MUST\"\n",
        (3, 9), Some("requirement[0].level"), "unknown value `mst`"
    )]
    #[case::unknown_side(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"MUST\"\nside = \"proxy\"\n",
        (7, 8), Some("requirement[0].side"), "unknown side `proxy`"
    )]
    #[case::missing_quote(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\n",
        (1, 1), Some("requirement[0].quote"), "missing key `quote`"
    )]
    #[case::empty_quote(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nquote = \" \"\n",
        (6, 9), Some("requirement[0].quote"), "requirement `A` has an empty quote"
    )]
    #[case::empty_why(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"MUST\"\nwhy = \"\"\n",
        (7, 7), Some("requirement[0].why"), "requirement `A` has an empty why"
    )]
    #[case::must_on_a_should(
        "[[requirement]]\nid = \"A\"\nlevel = \"must\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"It SHOULD.\"\n",
        (3, 9), Some("requirement[0].level"), "requirement `A` is `must` but its quote has SHOULD at most"
    )]
    #[case::should_without_keyword(
        "[[requirement]]\nid = \"A\"\nlevel = \"should\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"It is so.\"\n",
        (3, 9), Some("requirement[0].level"), "requirement `A` is `should` but its quote has no BCP 14 keyword"
    )]
    #[case::fetch_without_why(
        "[[requirement]]\nid = \"A\"\nlevel = \"fetch\"\nsource = \"s\"\nrule = \"r.\"\nquote = \"Return a network error.\"\n",
        (3, 9), Some("requirement[0].level"), "requirement `A` is `fetch` but its quote has no BCP 14 keyword"
    )]
    fn catalogue_errors_are_located(
        #[case] src: &str,
        #[case] at: (usize, usize),
        #[case] key: Option<&str>,
        #[case] message: &str,
    ) {
        let err = Catalogue::parse(Path::new("requirements.toml"), src).expect_err("invalid catalogue");
        assert_eq!(err.id, CATALOGUE_ID);
        assert_eq!((err.line, err.column), at);
        assert_eq!(err.key.as_deref(), key);
        assert_eq!(err.message, message);
    }
}

//! The requirements catalogue, `suites/requirements.toml`: one testable rule
//! per entry, with its level and the section it comes from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How binding a requirement is; decides the verdict when no outcome matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST / MUST NOT / REQUIRED: a miss is `fail`.
    Must,
    /// SHOULD / SHOULD NOT: a miss is `warn`.
    Should,
    /// MAY: behaviour recorded as `info`.
    May,
    /// WHATWG Fetch/URL only: `fail` under the fetch profile, `info` under rfc9110.
    Fetch,
    /// No rule; behaviour recorded.
    Info,
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
    /// `client` or `server` (probe mode).
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

impl Catalogue {
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.get(id)
    }
}

//! Verdicts: judging what the origins saw and what the client reported
//! against a case's graded outcomes. The one place a verdict is decided.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::case::{
    Body, BodyExpect, Case, Catalogue, Feature, Grade, HopExpect, Level, Outcome, Profile, ResultExpect, Rules,
};
use crate::origin::{normalise_host, Hop};
use crate::targets::StepResult;

/// Every outcome a case can have. Reports derive from this enum only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// The behaviour conforms.
    Pass,
    /// A MUST was broken.
    Fail,
    /// A SHOULD was missed.
    Warn,
    /// No rule decides; the behaviour is recorded.
    Info,
    /// The target declares it lacks a feature the case needs.
    Unsupported,
    /// The harness or the target broke (timeout, crash, unreadable output).
    Error,
}

impl VerdictKind {
    pub const ALL: [VerdictKind; 6] = [
        VerdictKind::Pass,
        VerdictKind::Fail,
        VerdictKind::Warn,
        VerdictKind::Info,
        VerdictKind::Unsupported,
        VerdictKind::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Pass => "pass",
            VerdictKind::Fail => "fail",
            VerdictKind::Warn => "warn",
            VerdictKind::Info => "info",
            VerdictKind::Unsupported => "unsupported",
            VerdictKind::Error => "error",
        }
    }
}

impl std::fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Grade> for VerdictKind {
    fn from(grade: Grade) -> Self {
        match grade {
            Grade::Pass => VerdictKind::Pass,
            Grade::Fail => VerdictKind::Fail,
            Grade::Warn => VerdictKind::Warn,
            Grade::Info => VerdictKind::Info,
        }
    }
}

/// One expectation that did not hold: where, what, and which rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mismatch {
    /// The hop (1-based) the expectation is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<usize>,
    /// The step (1-based) whose reported result it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// `method`, `body`, `header.absent`, `status`, `url`, `hops`, ...
    pub field: String,
    pub expected: String,
    pub seen: String,
    /// Requirement id, and the section it comes from.
    pub rule: String,
    pub section: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.hop, self.step) {
            (Some(hop), _) => write!(f, "hop {hop} ")?,
            (None, Some(step)) => write!(f, "step {step} result ")?,
            (None, None) => {}
        }
        write!(
            f,
            "{}: expected {}, saw {} ({}, {})",
            self.field, self.expected, self.seen, self.rule, self.section
        )
    }
}

/// What a run of one case produced, as the verdict sees it.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub hops: Vec<Hop>,
    pub steps: Vec<StepResult>,
    /// The origin's loop guard stopped answering.
    pub hop_cap: Option<usize>,
    /// Features the target declared it lacks.
    pub unsupported: BTreeSet<Feature>,
}

/// The judgement of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// Serialised as `verdict`: a results row reads `"verdict": "fail"`.
    #[serde(rename = "verdict")]
    pub kind: VerdictKind,
    /// One line for people: the matched outcome, or the first broken expectation.
    pub detail: String,
    /// The name of the outcome that matched, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Every expectation that did not hold (of the closest outcome when none matched).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Mismatch>,
}

impl Verdict {
    /// A verdict of kind `error`: the harness or the target broke.
    pub fn error(detail: impl Into<String>) -> Verdict {
        Verdict {
            kind: VerdictKind::Error,
            detail: detail.into(),
            outcome: None,
            evidence: Vec::new(),
        }
    }

    /// A verdict of kind `unsupported`.
    pub fn unsupported(features: &BTreeSet<Feature>) -> Verdict {
        let names: Vec<String> = features.iter().map(|f| feature_name(*f)).collect();
        Verdict {
            kind: VerdictKind::Unsupported,
            detail: format!("target declares unsupported: {}", names.join(", ")),
            outcome: None,
            evidence: Vec::new(),
        }
    }
}

/// The feature's name as written in case files.
pub fn feature_name(feature: Feature) -> String {
    serde_json::to_value(feature)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The strongest level among the case's requirements (`must` first).
pub fn case_level(case: &Case, catalogue: &Catalogue) -> Level {
    case.file
        .requirements
        .iter()
        .filter_map(|id| catalogue.get(id))
        .map(|r| r.level)
        .min()
        .unwrap_or(Level::Info)
}

/// Judge one observation of `case` under `profile`.
pub fn judge(case: &Case, catalogue: &Catalogue, profile: Profile, obs: &Observation) -> Verdict {
    let lacking: BTreeSet<Feature> = case
        .file
        .needs
        .iter()
        .copied()
        .filter(|f| obs.unsupported.contains(f))
        .collect();
    if !lacking.is_empty() {
        return Verdict::unsupported(&lacking);
    }
    let judge = Judge {
        case,
        catalogue,
        profile,
        obs,
    };
    // The closest outcome (fewest broken expectations, the first on a tie)
    // is the evidence when none matches: the first may be far off.
    let mut closest: Option<(&Outcome, Vec<Mismatch>)> = None;
    let applicable = || case.outcomes().filter(|o| o.applies_under(profile));
    for (i, outcome) in applicable().enumerate() {
        let misses = judge.check(outcome);
        if misses.is_empty() {
            let grade = outcome.grade.map(|g| g.for_profile(profile)).unwrap_or(Grade::Pass);
            let name = outcome.name.clone().unwrap_or_else(|| "expected behaviour".to_owned());
            return Verdict {
                kind: grade.into(),
                detail: if i == 0 {
                    name.clone()
                } else {
                    format!("outcome {}: {name}", i + 1)
                },
                outcome: Some(name),
                evidence: Vec::new(),
            };
        }
        if closest.as_ref().is_none_or(|(_, best)| misses.len() < best.len()) {
            closest = Some((outcome, misses));
        }
    }
    let (closest_name, mut evidence) = match closest {
        Some((outcome, misses)) => (outcome.name.clone(), misses),
        None => (None, Vec::new()),
    };
    if let Some(cap) = obs.hop_cap {
        let rule = evidence
            .first()
            .map(|m| m.rule.clone())
            .or_else(|| case.file.requirements.first().cloned())
            .unwrap_or_default();
        evidence.insert(
            0,
            Mismatch {
                hop: None,
                step: None,
                field: "hops".into(),
                expected: "the client to stop following by itself".into(),
                seen: format!("client followed more than {cap} redirects (the origin's loop guard stopped it)"),
                section: judge.section(&rule),
                rule,
            },
        );
    }
    let level_of = |m: &Mismatch| catalogue.get(&m.rule).map(|r| r.level.under(profile));
    let level = evidence
        .iter()
        .filter_map(level_of)
        .min()
        .unwrap_or_else(|| case_level(case, catalogue).under(profile));
    let kind = match level {
        Level::Must => VerdictKind::Fail,
        Level::Should => VerdictKind::Warn,
        _ => VerdictKind::Info,
    };
    // The line for people names a miss that decided the verdict.
    let mut detail = evidence
        .iter()
        .find(|m| level_of(m) == Some(level))
        .or(evidence.first())
        .map(ToString::to_string)
        .unwrap_or_else(|| "no outcome matched".into());
    if let Some(name) = closest_name.filter(|_| applicable().nth(1).is_some()) {
        detail.push_str(&format!(" (closest outcome: {name})"));
    }
    Verdict {
        kind,
        detail,
        outcome: None,
        evidence,
    }
}

struct Judge<'a> {
    case: &'a Case,
    catalogue: &'a Catalogue,
    profile: Profile,
    obs: &'a Observation,
}

impl Judge<'_> {
    fn section(&self, rule: &str) -> String {
        self.catalogue.get(rule).map(|r| r.source.clone()).unwrap_or_default()
    }

    /// The requirement a miss of an expectation checking `rules` breaks: the
    /// one that binds strongest under the profile (the first on a tie);
    /// with none named, the case's first requirement.
    fn binding_rule(&self, rules: Option<&Rules>) -> String {
        let Some(rules) = rules else {
            return self.case.file.requirements.first().cloned().unwrap_or_default();
        };
        let level = |id: &String| {
            self.catalogue
                .get(id)
                .map_or(Level::Info, |r| r.level.under(self.profile))
        };
        rules
            .ids()
            .iter()
            .enumerate()
            .min_by_key(|(i, id)| (level(id), *i))
            .map(|(_, id)| id.clone())
            .unwrap_or_default()
    }

    fn miss(
        &self,
        hop: Option<usize>,
        step: Option<usize>,
        rules: Option<&Rules>,
        field: &str,
        expected: String,
        seen: String,
    ) -> Mismatch {
        let rule = self.binding_rule(rules);
        Mismatch {
            hop,
            step,
            field: field.to_owned(),
            expected,
            seen,
            section: self.section(&rule),
            rule,
        }
    }

    fn check(&self, outcome: &Outcome) -> Vec<Mismatch> {
        let mut misses = Vec::new();
        let rules = outcome.rule.as_ref();
        if let Some(count) = outcome.hops {
            if !count.admits(self.obs.hops.len()) {
                let urls: Vec<String> = self.obs.hops.iter().map(Hop::summary).collect();
                misses.push(self.miss(
                    None,
                    None,
                    rules,
                    "hops",
                    count.to_string(),
                    format!("{} [{}]", self.obs.hops.len(), urls.join(", ")),
                ));
            }
        }
        // A hop or result that never came is charged to the outcome's rule
        // (following at all), not to the rule of the fields it would have had.
        for expect in &outcome.hop {
            let own = expect.rule.as_ref().or(rules);
            self.check_hop(expect, own, rules.or(own), &mut misses);
        }
        for expect in &outcome.result {
            let own = expect.rule.as_ref().or(rules);
            self.check_result(expect, own, rules.or(own), &mut misses);
        }
        misses
    }

    fn check_hop(&self, e: &HopExpect, rules: Option<&Rules>, absent: Option<&Rules>, misses: &mut Vec<Mismatch>) {
        let at = Some(e.index);
        let Some(hop) = e.index.checked_sub(1).and_then(|i| self.obs.hops.get(i)) else {
            misses.push(self.miss(
                at,
                None,
                absent,
                "hop",
                format!("a hop {}", describe_hop_expect(e)),
                format!("only {} hops", self.obs.hops.len()),
            ));
            return;
        };
        // An expectation is about a request unless it names another kind.
        let kind = e.kind.unwrap_or_default();
        if hop.kind != kind {
            misses.push(self.miss(at, None, rules, "kind", kind.to_string(), hop.summary()));
            return;
        }
        let mut field = |name: &str, expected: Option<String>, seen: String, same: bool| {
            if let Some(expected) = expected {
                if !same {
                    misses.push(self.miss(at, None, rules, name, expected, seen));
                }
            }
        };
        field(
            "url",
            e.url.clone(),
            hop.url(),
            e.url.as_deref().is_none_or(|u| same_url(u, &hop.url())),
        );
        field(
            "scheme",
            e.scheme.clone(),
            hop.scheme.clone(),
            e.scheme.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(&hop.scheme)),
        );
        field(
            "host",
            e.host.clone(),
            hop.host.clone(),
            e.host
                .as_deref()
                .is_none_or(|h| normalise_host(h) == normalise_host(&hop.host)),
        );
        field(
            "port",
            e.port.map(|p| p.to_string()),
            hop.port.to_string(),
            e.port.is_none_or(|p| p == hop.port),
        );
        field(
            "method",
            e.method.clone(),
            hop.method.clone(),
            e.method.as_deref().is_none_or(|m| m == hop.method),
        );
        field(
            "target",
            e.target.clone(),
            hop.target.clone(),
            e.target.as_deref().is_none_or(|t| t == hop.target),
        );
        if let Some(body) = &e.body {
            let missed = self.expected_body(body).and_then(|expected| {
                body_miss(expected, &hop.body, hop.body_truncated).map_err(|e| format!("invalid base64: {e}"))
            });
            match missed {
                Ok(None) => {}
                Ok(Some(expected)) => misses.push(self.miss(
                    at,
                    None,
                    rules,
                    "body",
                    describe_bytes(&expected),
                    describe_body_seen(&expected, hop),
                )),
                Err(reason) => misses.push(self.miss(at, None, rules, "body", reason, "-".into())),
            }
        }
        for name in &e.header.present {
            if hop.header_values(name).next().is_none() {
                misses.push(self.miss(
                    at,
                    None,
                    rules,
                    "header.present",
                    format!("`{name}` present"),
                    "absent".into(),
                ));
            }
        }
        for name in &e.header.absent {
            let values: Vec<&str> = hop.header_values(name).collect();
            if !values.is_empty() {
                misses.push(self.miss(
                    at,
                    None,
                    rules,
                    "header.absent",
                    format!("no `{name}`"),
                    format!("`{name}: {}`", values.join("`, `")),
                ));
            }
        }
        for (name, value) in &e.header.equal {
            let values: Vec<&str> = hop.header_values(name).collect();
            if values != [value.as_str()] {
                let seen = if values.is_empty() {
                    "absent".into()
                } else {
                    format!("`{name}: {}`", values.join("`, `"))
                };
                misses.push(self.miss(at, None, rules, "header.equal", format!("`{name}: {value}`"), seen));
            }
        }
    }

    fn check_result(
        &self,
        e: &ResultExpect,
        rules: Option<&Rules>,
        absent: Option<&Rules>,
        misses: &mut Vec<Mismatch>,
    ) {
        let at = Some(e.step);
        let Some(result) = e.step.checked_sub(1).and_then(|i| self.obs.steps.get(i)) else {
            misses.push(self.miss(None, at, absent, "result", "a result".into(), "none".into()));
            return;
        };
        let seen_status = match (&result.error, result.status) {
            (Some(err), _) => format!("error: {err}"),
            (None, Some(s)) => s.to_string(),
            (None, None) => "no status".into(),
        };
        if let Some(status) = e.status {
            if result.error.is_some() || result.status != Some(status) {
                misses.push(self.miss(None, at, rules, "status", status.to_string(), seen_status.clone()));
            }
        }
        if let Some(want_error) = e.error {
            if want_error != result.error.is_some() {
                let expected = if want_error { "an error" } else { "no error" };
                misses.push(self.miss(None, at, rules, "error", expected.into(), seen_status.clone()));
            }
        }
        if let Some(url) = &e.url {
            if !result.url.as_deref().is_some_and(|seen| same_url(url, seen)) {
                let seen = result.url.clone().unwrap_or_else(|| seen_status.clone());
                misses.push(self.miss(None, at, rules, "url", url.clone(), seen));
            }
        }
        if let Some(body) = &e.body {
            match body_miss(Some(body), &result.body, false) {
                Ok(None) => {}
                Ok(Some(expected)) => misses.push(self.miss(
                    None,
                    at,
                    rules,
                    "body",
                    describe_bytes(&expected),
                    describe_bytes(&result.body),
                )),
                Err(err) => {
                    misses.push(self.miss(None, at, rules, "body", format!("invalid base64: {err}"), "-".into()))
                }
            }
        }
    }

    /// The body a hop is expected to carry; `None` for a step that has none.
    fn expected_body<'b>(&'b self, body: &'b BodyExpect) -> Result<Option<&'b Body>, String> {
        match body {
            BodyExpect::Bytes(body) => Ok(Some(body)),
            BodyExpect::SameAsStep { step } => match step.checked_sub(1).and_then(|i| self.case.file.steps.get(i)) {
                Some(s) => Ok(s.body.as_ref()),
                None => Err(format!("the body of step {step}, which does not exist")),
            },
        }
    }
}

fn describe_hop_expect(e: &HopExpect) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &e.method {
        parts.push(m.clone());
    }
    if let Some(u) = &e.url {
        parts.push(u.clone());
    }
    if parts.is_empty() {
        format!("#{}", e.index)
    } else {
        parts.join(" ")
    }
}

/// URLs equal up to RFC 3986 §6.2.2.1 and §6.2.3 normalisation of the
/// authority: scheme and host compare case-insensitively, the host through
/// [`normalise_host`] (the origin's routing does the same, so `h.` is `h`), and
/// a port equal to the scheme's default is the same as none. Paths, queries
/// and fragments compare exactly: how a client spells them is what cases check.
pub fn same_url(expected: &str, seen: &str) -> bool {
    expected == seen || normalise_authority(expected) == normalise_authority(seen)
}

fn normalise_authority(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (format!("{userinfo}@"), host_port),
        None => (String::new(), authority),
    };
    let Some((host, port)) = crate::case::split_authority(host_port) else {
        return format!("{scheme}://{userinfo}{}{tail}", host_port.to_ascii_lowercase());
    };
    let host = normalise_host(host);
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    let default = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let port = match port {
        Some(port) if Some(port) != default => format!(":{port}"),
        _ => String::new(),
    };
    format!("{scheme}://{userinfo}{host}{port}{tail}")
}

/// The expected bytes when `seen` (cut short when `cut`) is not `expected`
/// (no body meaning an empty one), `None` when it is: bodies are compared by
/// rule, and a `{ cycle = N }` is produced only to describe a miss.
fn body_miss(expected: Option<&Body>, seen: &[u8], cut: bool) -> Result<Option<Vec<u8>>, base64::DecodeError> {
    let matched = match expected {
        Some(expected) => expected.matches(seen)?,
        None => seen.is_empty(),
    };
    if matched && !cut {
        return Ok(None);
    }
    expected.map_or(Ok(Vec::new()), Body::bytes).map(Some)
}

/// Bytes for people: short printable text quoted, else a length and a digest-like summary.
pub fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "no body".into();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.len() <= 80 && !text.chars().any(char::is_control) => format!("{:?}", text),
        _ => format!("{} bytes (fnv64 {:016x})", bytes.len(), fnv64(bytes)),
    }
}

fn describe_body_seen(expected: &[u8], hop: &Hop) -> String {
    let mut seen = describe_bytes(&hop.body);
    if hop.body_truncated {
        seen.push_str(", cut at the origin's body cap");
    } else if let Some(at) = expected.iter().zip(&hop.body).position(|(a, b)| a != b) {
        seen.push_str(&format!(", first difference at byte {at}"));
    }
    seen
}

/// FNV-1a, 64 bits: a stable fingerprint for bodies and suite revisions.
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::case::{parse_case, Catalogue};
    use crate::origin::Arrival;

    #[rstest]
    #[case::cycle_matches(Some(Body::Cycle { cycle: 300 }), (0..300).map(|i| (i % 256) as u8).collect(), false, None)]
    #[case::cycle_one_byte_off(Some(Body::Cycle { cycle: 3 }), vec![0, 1, 3], false, Some(vec![0, 1, 2]))]
    #[case::cycle_too_short(Some(Body::Cycle { cycle: 3 }), vec![0, 1], false, Some(vec![0, 1, 2]))]
    #[case::cut_never_matches(Some(Body::Text("ab".into())), b"ab".to_vec(), true, Some(b"ab".to_vec()))]
    #[case::no_body_is_empty(None, Vec::new(), false, None)]
    #[case::no_body_but_bytes(None, b"x".to_vec(), false, Some(Vec::new()))]
    fn bodies_compare_by_rule(
        #[case] expected: Option<Body>,
        #[case] seen: Vec<u8>,
        #[case] cut: bool,
        #[case] missed: Option<Vec<u8>>,
    ) {
        assert_eq!(body_miss(expected.as_ref(), &seen, cut), Ok(missed));
    }

    const CATALOGUE: &str = r#"
[[requirement]]
id = "MUST-RULE"
level = "must"
source = "RFC 1 §1"
rule = "a must"
quote = "It MUST."
[[requirement]]
id = "SHOULD-RULE"
level = "should"
source = "RFC 1 §2"
rule = "a should"
quote = "It SHOULD."
[[requirement]]
id = "FETCH-RULE"
level = "fetch"
source = "Fetch §3"
rule = "a fetch rule"
quote = "Return a network error."
why = "WHATWG algorithm steps are requirements."
"#;

    fn catalogue() -> Catalogue {
        Catalogue::parse(std::path::Path::new("requirements.toml"), CATALOGUE).expect("catalogue")
    }

    fn case(requirements: &str, outcomes: &str) -> Case {
        let src = format!(
            "title = \"t\"\nrequirements = {requirements}\n[[step]]\nmethod = \"POST\"\nurl = \"http://o.test/a\"\nbody = \"x\"\n\
             [[origin]]\non = \"http://o.test/a\"\nreply = {{ status = 307, headers = [[\"Location\", \"/b\"]] }}\n{outcomes}"
        );
        parse_case("t/case", std::path::Path::new("t/case.toml"), &src, &catalogue()).expect("case")
    }

    fn hop(index: usize, method: &str, path: &str, body: &str) -> Hop {
        Hop {
            index,
            kind: crate::origin::HopKind::Request,
            reason: None,
            raw: None,
            scheme: "http".into(),
            host: "o.test".into(),
            port: 80,
            userinfo: None,
            arrival: Arrival::Direct,
            method: method.into(),
            target: path.into(),
            path_and_query: path.into(),
            headers: vec![("host".into(), "o.test".into())],
            body: body.as_bytes().to_vec(),
            body_truncated: false,
            sni: None,
            connection: 1,
            status: 200,
            unscripted: false,
        }
    }

    fn observed(second_method: &str, second_body: &str) -> Observation {
        Observation {
            hops: vec![hop(1, "POST", "/a", "x"), hop(2, second_method, "/b", second_body)],
            steps: vec![StepResult {
                status: Some(200),
                url: Some("http://o.test/b".into()),
                ..StepResult::default()
            }],
            ..Observation::default()
        }
    }

    const KEEPS: &str = "[expect]\nhops = 2\n[[expect.hop]]\nindex = 2\nmethod = \"POST\"\nbody = { step = 1 }\n";

    #[rstest]
    #[case::same("http://a/b", "http://a/b", true)]
    #[case::host_case("http://A.test/b", "http://a.test/b", true)]
    #[case::scheme_case("HTTP://a/b", "http://a/b", true)]
    #[case::default_port("http://a:80/b", "http://a/b", true)]
    #[case::https_default_port("https://a:443/b", "https://a/b", true)]
    #[case::other_port("http://a:8080/b", "http://a/b", false)]
    #[case::path_case("http://a/B", "http://a/b", false)]
    #[case::fragment("http://a/b#f", "http://a/b", false)]
    #[case::percent_case("http://a/%C3%A9", "http://a/%c3%a9", false)]
    #[case::trailing_dot("http://h./x", "http://h/x", true)]
    #[case::trailing_dot_both("http://H.:80/x", "http://h./x", true)]
    #[case::ipv6_default_port("http://[::1]:80/x", "http://[::1]/x", true)]
    #[case::two_dots("http://h../x", "http://h/x", false)]
    fn urls_compare_up_to_authority_normalisation(#[case] a: &str, #[case] b: &str, #[case] same: bool) {
        assert_eq!(same_url(a, b), same);
    }

    #[test]
    fn a_matching_outcome_passes() {
        let verdict = judge(
            &case("[\"MUST-RULE\"]", KEEPS),
            &catalogue(),
            Profile::Rfc9110,
            &observed("POST", "x"),
        );
        assert_eq!(verdict.kind, VerdictKind::Pass);
        assert!(verdict.evidence.is_empty());
    }

    #[test]
    fn a_broken_must_fails_with_hop_field_expected_seen_and_section() {
        let verdict = judge(
            &case("[\"MUST-RULE\"]", KEEPS),
            &catalogue(),
            Profile::Rfc9110,
            &observed("GET", ""),
        );
        assert_eq!(verdict.kind, VerdictKind::Fail);
        let first = &verdict.evidence[0];
        assert_eq!((first.hop, first.field.as_str()), (Some(2), "method"));
        assert_eq!((first.expected.as_str(), first.seen.as_str()), ("POST", "GET"));
        assert_eq!((first.rule.as_str(), first.section.as_str()), ("MUST-RULE", "RFC 1 §1"));
        assert_eq!(verdict.evidence[1].field, "body");
        assert!(
            verdict.detail.contains("hop 2 method: expected POST, saw GET"),
            "{}",
            verdict.detail
        );
    }

    #[rstest]
    #[case::should_warns("SHOULD-RULE", Profile::Rfc9110, VerdictKind::Warn)]
    #[case::fetch_rule_is_info_under_rfc9110("FETCH-RULE", Profile::Rfc9110, VerdictKind::Info)]
    #[case::fetch_rule_fails_under_fetch("FETCH-RULE", Profile::Fetch, VerdictKind::Fail)]
    fn the_broken_rule_s_level_decides(#[case] rule: &str, #[case] profile: Profile, #[case] kind: VerdictKind) {
        let verdict = judge(
            &case(&format!("[\"{rule}\"]"), KEEPS),
            &catalogue(),
            profile,
            &observed("GET", ""),
        );
        assert_eq!(verdict.kind, kind);
    }

    #[test]
    fn a_fetch_miss_outranks_a_should_miss_under_fetch() {
        let outcome = "[expect]\n[[expect.hop]]\nindex = 2\nrule = \"SHOULD-RULE\"\nmethod = \"POST\"\n\
                       [[expect.hop]]\nindex = 2\nrule = \"FETCH-RULE\"\nbody = { step = 1 }\n";
        let case = case("[\"SHOULD-RULE\", \"FETCH-RULE\"]", outcome);
        let under_fetch = judge(&case, &catalogue(), Profile::Fetch, &observed("GET", ""));
        assert_eq!(under_fetch.kind, VerdictKind::Fail);
        // The line for people names the miss that decided, not the first one.
        assert!(under_fetch.detail.contains("FETCH-RULE"), "{}", under_fetch.detail);
        assert_eq!(
            judge(&case, &catalogue(), Profile::Rfc9110, &observed("GET", "")).kind,
            VerdictKind::Warn
        );
    }

    #[rstest]
    #[case::rfc9110(Profile::Rfc9110, VerdictKind::Pass)]
    #[case::fetch(Profile::Fetch, VerdictKind::Fail)]
    fn graded_outcomes_first_match_wins_per_profile(#[case] profile: Profile, #[case] kind: VerdictKind) {
        let outcomes = "[[outcome]]\nname = \"rewritten\"\n[[outcome.hop]]\nindex = 2\nmethod = \"GET\"\n\
                        [[outcome]]\nname = \"kept\"\ngrade = { rfc9110 = \"pass\", fetch = \"fail\" }\n\
                        [[outcome.hop]]\nindex = 2\nmethod = \"POST\"\n";
        let verdict = judge(
            &case("[\"MUST-RULE\"]", outcomes),
            &catalogue(),
            profile,
            &observed("POST", "x"),
        );
        assert_eq!(verdict.kind, kind);
        assert_eq!(verdict.outcome.as_deref(), Some("kept"));
    }

    #[rstest]
    #[case::rfc9110(Profile::Rfc9110, VerdictKind::Fail, None)]
    #[case::fetch(Profile::Fetch, VerdictKind::Pass, Some("refused"))]
    fn an_outcome_of_one_profile_does_not_exist_under_the_other(
        #[case] profile: Profile,
        #[case] kind: VerdictKind,
        #[case] outcome: Option<&str>,
    ) {
        // The client sent POST where GET was due; only under fetch does the
        // second outcome (whose one expectation holds) exist to match it.
        let outcomes = "[[outcome]]\nname = \"rewritten\"\n[[outcome.hop]]\nindex = 2\nmethod = \"GET\"\n\
                        [[outcome]]\nname = \"refused\"\nprofile = \"fetch\"\n[[outcome.hop]]\nindex = 2\nmethod = \"POST\"\n";
        let verdict = judge(
            &case("[\"MUST-RULE\"]", outcomes),
            &catalogue(),
            profile,
            &observed("POST", "x"),
        );
        assert_eq!(verdict.kind, kind, "{}", verdict.detail);
        assert_eq!(verdict.outcome.as_deref(), outcome);
        assert!(
            !verdict.detail.contains("closest outcome"),
            "one outcome under rfc9110: {}",
            verdict.detail
        );
    }

    #[test]
    fn the_closest_outcome_gives_the_evidence() {
        // The first outcome misses method and body; the second only the body.
        let outcomes = "[[outcome]]\nname = \"kept\"\nhops = 2\n[[outcome.hop]]\nindex = 2\nmethod = \"POST\"\nbody = { step = 1 }\n\
                        [[outcome]]\nname = \"rewritten\"\nhops = 2\n[[outcome.hop]]\nindex = 2\nmethod = \"GET\"\nbody = \"\"\n";
        let verdict = judge(
            &case("[\"MUST-RULE\"]", outcomes),
            &catalogue(),
            Profile::Rfc9110,
            &observed("GET", "y"),
        );
        assert_eq!(verdict.kind, VerdictKind::Fail);
        let fields: Vec<&str> = verdict.evidence.iter().map(|m| m.field.as_str()).collect();
        assert_eq!(fields, ["body"]);
        assert!(
            verdict.detail.contains("closest outcome: rewritten"),
            "{}",
            verdict.detail
        );
    }

    #[rstest]
    #[case::rfc9110(Profile::Rfc9110, "SHOULD-RULE", VerdictKind::Warn)]
    #[case::fetch(Profile::Fetch, "FETCH-RULE", VerdictKind::Fail)]
    fn a_miss_is_charged_to_the_rule_that_binds_under_the_profile(
        #[case] profile: Profile,
        #[case] rule: &str,
        #[case] kind: VerdictKind,
    ) {
        let outcome =
            "[expect]\n[[expect.hop]]\nindex = 2\nrule = [\"SHOULD-RULE\", \"FETCH-RULE\"]\nbody = { step = 1 }\n";
        let case = case("[\"SHOULD-RULE\", \"FETCH-RULE\"]", outcome);
        let verdict = judge(&case, &catalogue(), profile, &observed("GET", ""));
        assert_eq!(verdict.kind, kind);
        assert_eq!(verdict.evidence[0].rule, rule);
    }

    #[rstest]
    #[case::fewer(1, false)]
    #[case::least(2, true)]
    #[case::most(3, true)]
    #[case::more(4, false)]
    fn a_hop_range_admits_its_bounds(#[case] count: usize, #[case] passes: bool) {
        let outcome = "[expect]\nhops = { min = 2, max = 3 }\n";
        let mut obs = observed("POST", "x");
        obs.hops.resize_with(count, || hop(9, "GET", "/c", ""));
        let verdict = judge(&case("[\"MUST-RULE\"]", outcome), &catalogue(), Profile::Rfc9110, &obs);
        assert_eq!(verdict.kind == VerdictKind::Pass, passes, "{verdict:?}");
        if !passes {
            assert_eq!(verdict.evidence[0].expected, "2 to 3");
        }
    }

    #[test]
    fn a_declared_missing_feature_is_unsupported() {
        let mut case = case("[\"MUST-RULE\"]", KEEPS);
        case.file.needs = vec![Feature::Hsts];
        let obs = Observation {
            unsupported: [Feature::Hsts].into(),
            ..observed("GET", "")
        };
        assert_eq!(
            judge(&case, &catalogue(), Profile::Rfc9110, &obs).kind,
            VerdictKind::Unsupported
        );
    }

    #[test]
    fn the_loop_guard_is_named_in_the_evidence() {
        let obs = Observation {
            hop_cap: Some(64),
            ..observed("GET", "")
        };
        let verdict = judge(&case("[\"MUST-RULE\"]", KEEPS), &catalogue(), Profile::Rfc9110, &obs);
        assert_eq!(verdict.kind, VerdictKind::Fail);
        assert!(verdict.evidence[0].seen.contains("more than 64 redirects"));
    }

    /// Hop 2 was a handshake the client refused, not a request.
    fn refused_second_hop() -> Observation {
        let mut obs = observed("POST", "x");
        let mut refused = Hop::attempt(2, crate::origin::HopKind::TlsFailed, 2);
        refused.scheme = "https".into();
        refused.host = "O.Test.".into();
        refused.port = 443;
        refused.reason = Some("received fatal alert: BadCertificate".into());
        obs.hops[1] = refused;
        obs
    }

    #[test]
    fn an_expectation_is_about_a_request_unless_it_names_a_kind() {
        let about_request = "[expect]\nhops = 2\n[[expect.hop]]\nindex = 2\nheader.absent = [\"Authorization\"]\n";
        let verdict = judge(
            &case("[\"MUST-RULE\"]", about_request),
            &catalogue(),
            Profile::Rfc9110,
            &refused_second_hop(),
        );
        assert_eq!(verdict.kind, VerdictKind::Fail);
        let miss = &verdict.evidence[0];
        assert_eq!(
            (miss.hop, miss.field.as_str(), miss.expected.as_str()),
            (Some(2), "kind", "request")
        );
        assert!(miss.seen.starts_with("tls-failed"), "{}", miss.seen);
        let about_refusal =
            "[expect]\nhops = 2\n[[expect.hop]]\nindex = 2\nkind = \"tls-failed\"\nhost = \"o.test\"\nport = 443\n";
        let verdict = judge(
            &case("[\"MUST-RULE\"]", about_refusal),
            &catalogue(),
            Profile::Rfc9110,
            &refused_second_hop(),
        );
        assert_eq!(verdict.kind, VerdictKind::Pass, "{:?}", verdict.evidence);
    }

    #[test]
    fn a_missing_hop_and_an_error_result_are_evidence() {
        let outcome = "[expect]\n[[expect.hop]]\nindex = 3\nmethod = \"GET\"\n[[expect.result]]\nstatus = 200\n";
        let mut obs = observed("POST", "x");
        obs.steps[0] = StepResult {
            error: Some("boom".into()),
            ..StepResult::default()
        };
        let verdict = judge(&case("[\"MUST-RULE\"]", outcome), &catalogue(), Profile::Rfc9110, &obs);
        let fields: Vec<&str> = verdict.evidence.iter().map(|m| m.field.as_str()).collect();
        assert_eq!(fields, ["hop", "status"]);
        assert_eq!(verdict.evidence[1].seen, "error: boom");
    }
}

//! Property-based cases: proptest strategies that generate whole case files,
//! run them against a target, and shrink a failure to a minimal, saveable case.
//!
//! Each [`Property`] is a strategy producing a [`CaseFile`]: a real case, run
//! by the [`Runner`] and judged by the verdict like any file under `suites/`.
//! A sample fails when its verdict is not `pass`; proptest then shrinks it,
//! and the smallest failing case comes back as TOML that loads with
//! [`crate::case::parse_case`]. Runs are deterministic: the RNG has a fixed seed.

mod authorization;
mod method_body;
mod resolution;
pub mod rfc3986;

use std::path::PathBuf;

use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::case::{self, Body, CaseFile, Catalogue, OriginRule, Profile, Reply};
use crate::runner::Runner;
use crate::targets::Target;
use crate::verdict::VerdictKind;

/// One generated family of cases and the rule it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Property {
    /// Any method token and any body (up to 64 KiB) keep method and bytes across a 307 or 308.
    MethodAndBody,
    /// Any relative reference from the RFC 3986 grammar resolves as RFC 3986
    /// §5.2 (rfc9110) or the WHATWG URL parser (fetch) says; both oracles are
    /// implementations other than the reference user agent's.
    LocationResolution,
    /// Along any chain of origins, caller-set Authorization reaches only the
    /// hops before the first origin change.
    AuthorizationScope,
}

impl Property {
    pub const ALL: [Property; 3] = [
        Property::MethodAndBody,
        Property::LocationResolution,
        Property::AuthorizationScope,
    ];

    /// Stable name, as printed and used in generated case ids.
    pub fn name(self) -> &'static str {
        match self {
            Property::MethodAndBody => "method-body",
            Property::LocationResolution => "location-resolution",
            Property::AuthorizationScope => "authorization-scope",
        }
    }

    /// The property in one sentence.
    pub fn statement(self) -> &'static str {
        match self {
            Property::MethodAndBody => {
                "after a 307 or 308 the next hop carries the same method and byte-identical body"
            }
            Property::LocationResolution => {
                "the next hop's URL is the Location resolved by RFC 3986 §5.2 (rfc9110) or WHATWG URL (fetch)"
            }
            Property::AuthorizationScope => {
                "caller-set Authorization reaches only the hops before the first origin change"
            }
        }
    }

    /// Requirement ids the generated cases cite (all in `suites/requirements.toml`).
    pub fn requirements(self) -> &'static [&'static str] {
        match self {
            Property::MethodAndBody => method_body::REQUIREMENTS,
            Property::LocationResolution => resolution::REQUIREMENTS,
            Property::AuthorizationScope => authorization::REQUIREMENTS,
        }
    }

    /// The id a counterexample would have once saved under `suites/`.
    pub fn suggested_id(self) -> String {
        match self {
            Property::MethodAndBody => "redirect/method-body/found-by-property",
            Property::LocationResolution => "location/resolution/found-by-property",
            Property::AuthorizationScope => "redirect/credentials/found-by-property",
        }
        .to_owned()
    }

    /// The strategy generating this property's cases.
    pub fn strategy(self) -> BoxedStrategy<CaseFile> {
        match self {
            Property::MethodAndBody => method_body::cases().boxed(),
            Property::LocationResolution => resolution::cases().boxed(),
            Property::AuthorizationScope => authorization::cases().boxed(),
        }
    }
}

/// What running one property against one target found.
#[derive(Debug, Clone)]
pub struct PropertyOutcome {
    pub property: Property,
    pub profile: Profile,
    /// Samples asked for.
    pub samples: u32,
    pub verdict: PropertyVerdict,
}

/// Whether a property held.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PropertyVerdict {
    /// Every sample passed.
    Held,
    /// A sample did not pass; this is the smallest failing case shrinking found.
    Falsified(Box<Counterexample>),
    /// The run could not complete (too many rejected samples, or a generated
    /// case that does not load: a harness fault, never the target's).
    Aborted { reason: String },
}

/// A minimal failing case.
#[derive(Debug, Clone)]
pub struct Counterexample {
    pub case: CaseFile,
    /// The case as a TOML case file, with a comment saying where it came from.
    pub toml: String,
    /// The verdict the target earned on it, as `kind: detail`.
    pub failure: String,
}

/// Run `property` with `samples` generated cases against `target` under
/// `profile`, blocking on `runtime` for each case (call it from outside that runtime).
pub fn run_property(
    property: Property,
    target: &dyn Target,
    runner: &Runner,
    catalogue: &Catalogue,
    profile: Profile,
    samples: u32,
    runtime: &tokio::runtime::Handle,
) -> PropertyOutcome {
    let config = Config {
        cases: samples,
        // Nothing is written next to the sources, and the run never forks.
        failure_persistence: None,
        fork: false,
        timeout: 0,
        verbose: 0,
        max_shrink_iters: 1024,
        ..Config::default()
    };
    let mut test_runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let id = property.suggested_id();
    let run = test_runner.run(&property.strategy(), |file| {
        let case = load(&id, &file, catalogue).map_err(|e| TestCaseError::fail(format!("{HARNESS}{e}")))?;
        let result = runtime.block_on(runner.run_case(target, &case, catalogue, profile));
        match result.verdict.kind {
            VerdictKind::Pass => Ok(()),
            kind => Err(TestCaseError::fail(format!("{kind}: {}", result.verdict.detail))),
        }
    });
    let verdict = match run {
        Ok(()) => PropertyVerdict::Held,
        Err(TestError::Abort(reason)) => PropertyVerdict::Aborted {
            reason: reason.message().to_owned(),
        },
        Err(TestError::Fail(reason, _)) if reason.message().starts_with(HARNESS) => PropertyVerdict::Aborted {
            reason: reason.message().to_owned(),
        },
        Err(TestError::Fail(reason, file)) => match to_toml(property, profile, &file) {
            Ok(toml) => PropertyVerdict::Falsified(Box::new(Counterexample {
                case: file,
                toml,
                failure: reason.message().to_owned(),
            })),
            Err(e) => PropertyVerdict::Aborted {
                reason: format!("{HARNESS}the counterexample cannot be written as TOML: {e}"),
            },
        },
    };
    PropertyOutcome {
        property,
        profile,
        samples,
        verdict,
    }
}

/// Marks failures that are the harness's, not the target's.
const HARNESS: &str = "harness: ";

/// The generated case as the loader sees it: written as TOML and read back,
/// so every sample is a case that could be saved as is.
fn load(id: &str, file: &CaseFile, catalogue: &Catalogue) -> Result<case::Case, String> {
    let text = toml::to_string(file).map_err(|e| format!("generated case cannot be written as TOML: {e}"))?;
    case::parse_case(id, &PathBuf::from(format!("{id}.toml")), &text, catalogue)
        .map_err(|e| format!("generated case does not load: {}", e.message))
}

/// A counterexample as a case file, with a comment saying where it came from.
pub fn to_toml(property: Property, profile: Profile, file: &CaseFile) -> Result<String, toml::ser::Error> {
    let body = toml::to_string(file)?;
    Ok(format!(
        "# Found by the `{}` property under the {} profile ({}) and shrunk;\n\
         # save as suites/{}.toml (rename it after the fault it exposes).\n{body}",
        property.name(),
        profile.as_str(),
        property.requirements().join(", "),
        property.suggested_id(),
    ))
}

/// An origin rule answering `on` with `status`, these headers and an optional text body.
fn rule(on: impl Into<String>, status: u16, headers: Vec<(String, String)>, body: Option<&str>) -> OriginRule {
    OriginRule {
        on: on.into(),
        method: None,
        reply: Reply {
            status,
            headers: headers.into_iter().map(|(name, value)| (name, value.into())).collect(),
            body: body.map(|b| Body::Text(b.to_owned())),
        },
    }
}

/// `[["Location", target]]`.
fn location(target: impl Into<String>) -> Vec<(String, String)> {
    vec![("Location".to_owned(), target.into())]
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;

    use super::*;

    /// The first 64 cases of `property`, as a run with the fixed seed draws them.
    fn samples(property: Property) -> Vec<CaseFile> {
        let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let strategy = property.strategy();
        (0..64)
            .map(|_| strategy.new_tree(&mut runner).expect("a sample").current())
            .collect()
    }

    #[test]
    fn samples_reach_large_bodies_both_statuses_and_odd_methods() {
        let cases = samples(Property::MethodAndBody);
        let largest = cases
            .iter()
            .filter_map(|c| c.steps[0].body.as_ref()?.bytes().ok())
            .map(|b| b.len())
            .max();
        assert!(largest.is_some_and(|n| n > 16 << 10), "largest body {largest:?}");
        for status in [307, 308] {
            assert!(cases.iter().any(|c| c.origin[0].reply.status == status));
        }
        let usual = ["POST", "PUT", "PATCH", "DELETE", "GET", "OPTIONS", "HEAD", "TRACE"];
        assert!(cases.iter().any(|c| !usual.contains(&c.steps[0].method.as_str())));
    }

    #[test]
    fn samples_reach_every_reference_form_and_disagreeing_readings() {
        let cases = samples(Property::LocationResolution);
        let locations: Vec<&str> = cases
            .iter()
            .map(|c| c.origin[0].reply.headers[0].1.as_text().unwrap_or_default())
            .collect();
        assert!(locations.iter().any(|l| l.starts_with("//")), "{locations:?}");
        assert!(locations.iter().any(|l| l.starts_with("http")), "{locations:?}");
        assert!(locations.iter().any(|l| l.starts_with('/') && !l.starts_with("//")));
        assert!(locations.iter().any(|l| l.contains("..")));
        assert!(
            cases.iter().any(|c| c.outcomes.len() > 1),
            "no case where readings differ"
        );
    }

    #[test]
    fn samples_reach_long_chains_that_leave_and_stay() {
        let cases = samples(Property::AuthorizationScope);
        assert!(cases.iter().any(|c| c.origin.len() == 6), "no chain of 5 redirects");
        let leaves = |c: &CaseFile| {
            c.expect
                .as_ref()
                .is_some_and(|e| e.hop.iter().any(|h| !h.header.absent.is_empty()))
        };
        assert!(cases.iter().any(leaves));
        assert!(cases.iter().any(|c| !leaves(c)));
    }
}

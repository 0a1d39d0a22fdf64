//! Property P2: any reference from the RFC 3986 grammar, sent as Location,
//! makes the next hop go where RFC 3986 §5.2 (rfc9110) or WHATWG URL (fetch) says.
//!
//! The oracles are independent of the reference user agent's code: RFC 3986
//! by [`super::rfc3986`] (the reference uses `iri-string`), WHATWG URL by the
//! `url` crate (the reference uses ada). `url` lags the standard only on
//! `xn--` hosts and `///path` against an http base
//! (`harness/tests/whatwg_url.rs`), which the generator never produces.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use super::rfc3986::{self, Dots};
use super::{location, rule};
use crate::case::{CaseFile, Grade, GradeSpec, HopCount, HopExpect, Outcome, ResultExpect, Rules, Step};

pub(super) const REQUIREMENTS: &[&str] = &["LOC-RESOLVE", "URI-ALGO"];

/// Bases the step starts from: the RFC 3986 §5.4 base, a root, a deep https path with a port.
const BASES: [&str; 3] = [
    "http://a/b/c/d;p?q",
    "http://origin.test/",
    "https://origin.test:8443/x/y/z?q=1",
];

/// Pieces of path segments (pchar): dots whole and encoded, sub-delims, `:` and `@`.
const SEGMENT_ATOMS: [&str; 14] = [
    "g",
    "h",
    ".",
    "..",
    "%2e",
    "%2E",
    "%41",
    ";x",
    "=",
    "~",
    "-",
    "!$&'()*+,",
    "@",
    ":",
];

/// Pieces of queries and fragments (pchar, `/` and `?`): dot segments there must stay.
const QUERY_ATOMS: [&str; 13] = [
    "y", "/", "?", ".", "..", "/./", "/../", "a=b", "&", "%20", ":", "@", "'",
];

/// Hosts and ports of network-path and absolute references; every one routes in the virtual world.
const HOSTS: [&str; 3] = ["a", "origin.test", "other.test"];
const PORTS: [&str; 4] = ["", ":", ":80", ":8080"];

fn segment() -> impl Strategy<Value = String> {
    vec(select(SEGMENT_ATOMS.to_vec()), 0..=3).prop_map(|atoms| atoms.concat())
}

fn segments() -> impl Strategy<Value = Vec<String>> {
    vec(segment(), 1..=4)
}

fn authority() -> impl Strategy<Value = String> {
    (select(HOSTS.to_vec()), select(PORTS.to_vec())).prop_map(|(host, port)| format!("{host}{port}"))
}

fn query_like() -> impl Strategy<Value = Option<String>> {
    option::of(vec(select(QUERY_ATOMS.to_vec()), 0..=3).prop_map(|atoms| atoms.concat()))
}

/// `path-abempty`: nothing, or `/` and segments.
fn path_abempty() -> impl Strategy<Value = String> {
    option::of(segments()).prop_map(|segments| segments.map(|s| format!("/{}", s.join("/"))).unwrap_or_default())
}

/// `relative-part` or an absolute http(s) URI, without query and fragment (RFC 3986 §4.1, §4.2).
fn reference_path() -> impl Strategy<Value = String> {
    prop_oneof![
        // path-noscheme: the first segment is not empty and has no `:`.
        segments().prop_map(|mut s| {
            s[0] = s[0].replace(':', "%3A");
            if s[0].is_empty() {
                s[0] = "g".to_owned();
            }
            s.join("/")
        }),
        // path-absolute: `/`, then a first segment that is not empty unless it is the only one.
        segments().prop_map(|mut s| {
            if s.len() > 1 && s[0].is_empty() {
                s[0] = "g".to_owned();
            }
            format!("/{}", s.join("/"))
        }),
        // path-empty: only a query or fragment.
        Just(String::new()),
        // "//" authority path-abempty
        (authority(), path_abempty()).prop_map(|(a, p)| format!("//{a}{p}")),
        // an absolute URI
        (select(vec!["http", "https"]), authority(), path_abempty()).prop_map(|(s, a, p)| format!("{s}://{a}{p}")),
    ]
}

fn references() -> impl Strategy<Value = String> {
    (reference_path(), query_like(), query_like()).prop_map(|(path, query, fragment)| {
        let mut reference = path;
        if let Some(query) = query {
            reference.push('?');
            reference.push_str(&query);
        }
        if let Some(fragment) = fragment {
            reference.push('#');
            reference.push_str(&fragment);
        }
        reference
    })
}

pub(super) fn cases() -> impl Strategy<Value = CaseFile> {
    (0..BASES.len(), select(vec![302u16, 301, 303, 307, 308]), references()).prop_filter_map(
        "the reference resolves to the base itself (a loop)",
        |(base, status, reference)| case(BASES[base], status, &reference),
    )
}

/// Where a request goes, as a hop records it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HopTarget {
    scheme: String,
    host: String,
    port: u16,
    path_and_query: String,
}

impl HopTarget {
    /// `scheme://host[:port]`, the port only when not the scheme's default.
    fn origin(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }

    fn url(&self) -> String {
        format!("{}{}", self.origin(), self.path_and_query)
    }
}

/// The hop an RFC 3986 URI leads to; `None` when it is not an http(s) URI with a host.
fn rfc3986_target(uri: &str) -> Option<HopTarget> {
    let without_fragment = uri.split('#').next().unwrap_or(uri);
    let (scheme, rest) = without_fragment.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, "")) => (host, default),
        Some((host, port)) => (host, port.parse().ok()?),
        None => (authority, default),
    };
    if host.is_empty() || host.contains(['@', '[']) {
        return None;
    }
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query.to_owned()
    } else {
        // An empty path is sent as `/` (RFC 9112 §3.2.1).
        format!("/{path_and_query}")
    };
    Some(HopTarget {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path_and_query,
    })
}

/// The hop the WHATWG URL parser leads to, with `base` as the base URL: the
/// `url` crate's reading, not the reference's (ada).
fn whatwg_target(base: &str, reference: &str) -> Option<HopTarget> {
    let url = url::Url::parse(base).ok()?.join(reference).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut path_and_query = url.path().to_owned();
    if let Some(query) = url.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    Some(HopTarget {
        scheme: url.scheme().to_owned(),
        host: url.host_str()?.to_owned(),
        port: url.port_or_known_default()?,
        path_and_query,
    })
}

/// The case for `reference` sent by `base` with `status`; `None` when a
/// reading leads back to the base, which would loop.
fn case(base: &str, status: u16, reference: &str) -> Option<CaseFile> {
    let start = rfc3986_target(base)?;
    // Each reading of the Location, and the profiles it is conforming under.
    let readings = [
        (
            "RFC 3986 §5.2",
            rfc3986_target(&rfc3986::resolve_with(base, reference, Dots::Literal)),
            [true, false],
        ),
        (
            "RFC 3986 §5.2 after §6.2.2.2 normalisation (encoded dot segments removed)",
            rfc3986_target(&rfc3986::resolve_with(base, reference, Dots::Encoded)),
            [true, false],
        ),
        ("the WHATWG URL parser", whatwg_target(base, reference), [false, true]),
    ];
    if readings.iter().any(|(_, target, _)| target.as_ref() == Some(&start)) {
        return None;
    }
    // Readings leading to the same hop become one outcome.
    let mut distinct: Vec<(Vec<&str>, Option<HopTarget>, [bool; 2])> = Vec::new();
    for (name, target, conforming) in readings {
        match distinct.iter_mut().find(|(_, t, _)| *t == target) {
            Some((names, _, seen)) => {
                names.push(name);
                seen[0] |= conforming[0];
                seen[1] |= conforming[1];
            }
            None => distinct.push((vec![name], target, conforming)),
        }
    }
    let mut origin = vec![rule(base, status, location(reference), None)];
    for (_, target, _) in &distinct {
        if let Some(target) = target {
            let on = format!("{}/*", target.origin());
            if origin.iter().all(|r| r.on != on) {
                origin.push(rule(on, 200, Vec::new(), Some("resolved")));
            }
        }
    }
    let (expect, outcomes) = match distinct.as_slice() {
        [(_, target, _)] => (Some(outcome(target, None, None)), Vec::new()),
        _ => {
            let grade = |ok: bool| if ok { Grade::Pass } else { Grade::Fail };
            let outcomes = distinct
                .iter()
                .map(|(names, target, [rfc9110, fetch])| {
                    let spec = (!(*rfc9110 && *fetch)).then(|| GradeSpec::PerProfile {
                        rfc9110: grade(*rfc9110),
                        fetch: grade(*fetch),
                    });
                    outcome(target, Some(&format!("resolved by {}", names.join(" and "))), spec)
                })
                .collect();
            (None, outcomes)
        }
    };
    Some(CaseFile {
        title: format!("Location `{reference}` against {base}"),
        description: Some(
            "Generated by the location-resolution property: the next hop goes to the Location resolved by \
             RFC 3986 §5.2 (rfc9110 profile; a §6.2.2.2 normaliser may also remove percent-encoded dot \
             segments) or by the WHATWG URL parser (fetch profile); the fragment never reaches the wire."
                .to_owned(),
        ),
        requirements: REQUIREMENTS.iter().map(|r| (*r).to_owned()).collect(),
        needs: Vec::new(),
        preload: Vec::new(),
        hosts: Vec::new(),
        steps: vec![Step::new("GET", base)],
        origin,
        expect,
        outcomes,
    })
}

/// The outcome of following to `target`, or of an error when the resolution
/// is not an http(s) URL with a host.
fn outcome(target: &Option<HopTarget>, name: Option<&str>, grade: Option<GradeSpec>) -> Outcome {
    let resolution = Rules::Several(REQUIREMENTS.iter().map(|r| (*r).to_owned()).collect());
    let (rule, hops, hop, result) = match target {
        // Following at all is what the count checks; the URL is the resolution.
        Some(target) => (
            Rules::Several(vec!["RED-AUTO".to_owned(), "FET-STATUS".to_owned()]),
            2,
            vec![HopExpect {
                index: 2,
                rule: Some(resolution),
                url: Some(target.url()),
                ..HopExpect::default()
            }],
            ResultExpect::status(1, 200),
        ),
        None => (
            resolution,
            1,
            Vec::new(),
            ResultExpect {
                step: 1,
                error: Some(true),
                ..ResultExpect::default()
            },
        ),
    };
    Outcome {
        name: name.map(str::to_owned),
        grade,
        rule: Some(rule),
        hops: Some(HopCount::Exactly(hops)),
        hop,
        result: vec![result],
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;

    use super::*;
    use crate::case::Profile;

    #[test]
    fn explicit_default_and_empty_ports_leave_the_hop_url() {
        let target = rfc3986_target("http://Other.test:80/x?y#z").expect("http URI");
        assert_eq!(target.url(), "http://other.test/x?y");
        let target = rfc3986_target("https://a:/").expect("https URI");
        assert_eq!(target.url(), "https://a/");
        assert_eq!(rfc3986_target("http:g"), None);
    }

    #[test]
    fn readings_that_differ_become_two_graded_outcomes() {
        let file = case("http://a/b/c/d;p?q", 302, "%2e%2e/g").expect("not a loop");
        assert!(file.expect.is_none());
        let urls: Vec<_> = file.outcomes.iter().map(|o| o.hop[0].url.clone()).collect();
        assert_eq!(
            urls,
            [
                Some("http://a/b/c/%2e%2e/g".to_owned()),
                Some("http://a/b/g".to_owned())
            ]
        );
        assert_eq!(
            file.outcomes[1].name.as_deref(),
            Some(
                "resolved by RFC 3986 §5.2 after §6.2.2.2 normalisation (encoded dot segments removed) \
                 and the WHATWG URL parser"
            )
        );
        assert_eq!(file.outcomes[1].grade, None);
    }

    #[test]
    fn the_generator_stays_clear_of_where_the_oracle_lags() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for _ in 0..1024 {
            let reference = references().new_tree(&mut runner).expect("a sample").current();
            assert!(!reference.starts_with("///"), "{reference}");
            assert!(!reference.to_ascii_lowercase().contains("xn--"), "{reference}");
        }
    }

    #[test]
    fn the_fetch_oracle_is_not_the_reference_parser() {
        // Where the `url` crate lags the standard the two readings differ, so
        // the property compares two implementations, not one with itself.
        let base = "http://example.org/";
        assert_eq!(whatwg_target(base, "///test"), None);
        assert_eq!(
            crate::targets::reference::read_url(Profile::Fetch, Some(base), "///test").as_deref(),
            Ok("http://test/")
        );
    }

    #[test]
    fn a_reference_back_to_the_base_is_no_case() {
        assert!(case("http://a/b/c/d;p?q", 302, "d;p?q#s").is_none());
        assert!(case("http://origin.test/", 302, "//origin.test:80").is_none());
    }
}

//! Resolving a Location against the URL that produced it: RFC 3986 §5.2
//! (rfc9110 profile, strict) or the WHATWG URL parser (fetch profile).
//!
//! The WHATWG parser is ada (the `ada-url` crate, the parser Node uses): it
//! passes every http(s) vector of the standard's own test data
//! (`harness/tests/whatwg_url.rs`), where the `url` crate still rejects hosts
//! with `xn--` labels that do not decode and `///path` against an http base.

use std::fmt;

use iri_string::format::ToDedicatedString;
use iri_string::types::{UriAbsoluteStr, UriReferenceStr};

use crate::case::Profile;

/// Why a Location could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// The base is not an absolute URI (a bug of the caller).
    BadBase { base: String },
    /// The reference is not a URI-reference (rfc9110) or does not parse (fetch).
    BadReference { reference: String },
    /// RFC 3986 §5.2.4 cannot give a valid URI for this input.
    NotNormalizable { reference: String },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::BadBase { base } => write!(f, "base `{base:.200}` is not an absolute URI"),
            ResolveError::BadReference { reference } => write!(f, "Location `{reference:.200}` does not parse"),
            ResolveError::NotNormalizable { reference } => {
                write!(f, "Location `{reference:.200}` has no RFC 3986 resolution")
            }
        }
    }
}

/// Resolve `reference` against `base` (absolute, without fragment).
pub fn resolve(profile: Profile, base: &str, reference: &str) -> Result<String, ResolveError> {
    match profile {
        Profile::Rfc9110 => resolve_rfc3986(base, reference),
        Profile::Fetch => resolve_whatwg(base, reference),
    }
}

/// RFC 3986 §5.2, strict: `http:g` stays `http:g`.
pub fn resolve_rfc3986(base: &str, reference: &str) -> Result<String, ResolveError> {
    let base_uri = UriAbsoluteStr::new(base).map_err(|_| ResolveError::BadBase { base: base.to_owned() })?;
    let reference_uri = UriReferenceStr::new(reference).map_err(|_| ResolveError::BadReference {
        reference: reference.to_owned(),
    })?;
    let resolved = reference_uri.resolve_against(base_uri);
    resolved
        .ensure_rfc3986_normalizable()
        .map_err(|_| ResolveError::NotNormalizable {
            reference: reference.to_owned(),
        })?;
    Ok(resolved.to_dedicated_string().into())
}

/// The WHATWG URL parser with `base` as its base URL.
pub fn resolve_whatwg(base: &str, reference: &str) -> Result<String, ResolveError> {
    if !ada_url::Url::can_parse(base, None) {
        return Err(ResolveError::BadBase { base: base.to_owned() });
    }
    let joined = ada_url::Url::parse(reference, Some(base)).map_err(|_| ResolveError::BadReference {
        reference: reference.to_owned(),
    })?;
    Ok(joined.href().to_owned())
}

/// A common mistake, for the `NaiveResolve` mutant: references with a scheme,
/// an authority or an absolute path are taken as they are; anything else is
/// glued to the base's directory, and dot segments stay.
pub fn resolve_naive(base: &str, reference: &str) -> String {
    let has_scheme = reference
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains(['/', '?', '#']));
    if has_scheme {
        return reference.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(net_path) = reference.strip_prefix("//") {
        return format!("{scheme}://{net_path}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if reference.starts_with('/') {
        return format!("{scheme}://{authority}{reference}");
    }
    let path = &rest[authority_end..];
    let path = &path[..path.find('?').unwrap_or(path.len())];
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{authority}{dir}{reference}")
}

/// For the `LiteralPercentDots` mutant: the WHATWG parser, except that a
/// `%2e` in a segment is not taken for `.` (`/a/%2e%2e/g` stays as written).
pub fn resolve_whatwg_literal_percent_dots(base: &str, reference: &str) -> Result<String, ResolveError> {
    resolve_whatwg(base, &shield_percent_dots(reference)).map(|url| unshield_percent_dots(&url))
}

/// `%25` passes the WHATWG parser unchanged, so `%252e` hides a `%2e` from
/// its dot-segment check. Text already holding `%25` is left alone.
const SHIELD: &str = "%252e";

pub fn shield_percent_dots(text: &str) -> String {
    if text.contains("%25") {
        return text.to_owned();
    }
    replace_ignoring_ascii_case(text, "%2e", SHIELD)
}

pub fn unshield_percent_dots(text: &str) -> String {
    text.replace(SHIELD, "%2e")
}

fn replace_ignoring_ascii_case(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find(from) {
        out.push_str(&rest[..at]);
        out.push_str(to);
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// For the `KeepBaseQuery` mutant: a reference with a path but no query
/// (and no scheme or authority) keeps the base's query.
pub fn keep_base_query(base: &str, reference: &str, resolved: &str) -> String {
    let reference = reference.split('#').next().unwrap_or_default();
    let has_scheme = reference
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains(['/', '?']));
    if reference.is_empty() || reference.contains('?') || reference.starts_with("//") || has_scheme {
        return resolved.to_owned();
    }
    let Some((_, base_query)) = base.split_once('?') else {
        return resolved.to_owned();
    };
    match resolved.split_once('#') {
        Some((url, fragment)) => format!("{url}?{base_query}#{fragment}"),
        None => format!("{resolved}?{base_query}"),
    }
}

/// For the `NetworkPathAsPath` mutant: a reference starting with `//` is
/// glued to the base's scheme and authority as if it were an absolute path
/// (`//g` against `http://a/b/c/d;p?q` gives `http://a//g`). Other references
/// are left to the usual resolution (`None`).
pub fn network_path_as_path(base: &str, reference: &str) -> Option<String> {
    if !reference.starts_with("//") {
        return None;
    }
    let (scheme, rest) = base.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(format!("{scheme}://{}{reference}", &rest[..end]))
}

/// For the `DotPrefixSegments` mutant: the reference's path segments are
/// taken for dot segments when they merely start with `.` or `..`, before the
/// usual resolution (`..g` climbs like `../g`, `g.` loses its dot).
pub fn mistake_dot_prefixes(reference: &str) -> String {
    let end = reference.find(['?', '#']).unwrap_or(reference.len());
    let (path, rest) = reference.split_at(end);
    if path.contains(':') || path.starts_with("//") {
        return reference.to_owned();
    }
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| {
            if segment.len() > 2 && segment.starts_with("..") {
                format!("../{}", &segment[2..])
            } else if segment.len() > 1 && segment.starts_with('.') && !segment.starts_with("..") {
                format!("./{}", &segment[1..])
            } else if segment.len() > 2 && segment.ends_with("..") {
                segment[..segment.len() - 2].to_owned()
            } else if segment.len() > 1 && segment.ends_with('.') && segment != ".." {
                segment[..segment.len() - 1].to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect();
    format!("{}{rest}", segments.join("/"))
}

/// For the `DotSegmentsInQuery` mutant: RFC 3986 §5.2.4 run over path and
/// query together, as if the query were part of the path.
pub fn remove_dot_segments_through_query(uri: &str) -> String {
    let (without_fragment, fragment) = match uri.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (uri, None),
    };
    let Some((scheme, rest)) = without_fragment.split_once("://") else {
        return uri.to_owned();
    };
    let path_start = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(path_start);
    let mut out = format!("{scheme}://{authority}{}", remove_dot_segments(path));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// RFC 3986 §5.2.4 on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing_slash = i == last,
            ".." => {
                output.pop();
                trailing_slash = i == last;
            }
            s => {
                output.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut joined = String::new();
    for segment in &output {
        joined.push('/');
        joined.push_str(segment);
    }
    if trailing_slash || joined.is_empty() {
        joined.push('/');
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3986 §5.4, as listed in spec-requirements.md §6.
    const VECTORS: &str = r##"{"base":"http://a/b/c/d;p?q",
"normal":[["g:h","g:h"],["g","http://a/b/c/g"],["./g","http://a/b/c/g"],["g/","http://a/b/c/g/"],["/g","http://a/g"],["//g","http://g"],["?y","http://a/b/c/d;p?y"],["g?y","http://a/b/c/g?y"],["#s","http://a/b/c/d;p?q#s"],["g#s","http://a/b/c/g#s"],["g?y#s","http://a/b/c/g?y#s"],[";x","http://a/b/c/;x"],["g;x","http://a/b/c/g;x"],["g;x?y#s","http://a/b/c/g;x?y#s"],["","http://a/b/c/d;p?q"],[".","http://a/b/c/"],["./","http://a/b/c/"],["..","http://a/b/"],["../","http://a/b/"],["../g","http://a/b/g"],["../..","http://a/"],["../../","http://a/"],["../../g","http://a/g"]],
"abnormal":[["../../../g","http://a/g"],["../../../../g","http://a/g"],["/./g","http://a/g"],["/../g","http://a/g"],["g.","http://a/b/c/g."],[".g","http://a/b/c/.g"],["g..","http://a/b/c/g.."],["..g","http://a/b/c/..g"],["./../g","http://a/b/g"],["./g/.","http://a/b/c/g/"],["g/./h","http://a/b/c/g/h"],["g/../h","http://a/b/c/h"],["g;x=1/./y","http://a/b/c/g;x=1/y"],["g;x=1/../y","http://a/b/c/y"],["g?y/./x","http://a/b/c/g?y/./x"],["g?y/../x","http://a/b/c/g?y/../x"],["g#s/./x","http://a/b/c/g#s/./x"],["g#s/../x","http://a/b/c/g#s/../x"],["http:g","http:g"]],
"abnormal_compat":[["http:g","http://a/b/c/g"]]}"##;

    fn vectors() -> (String, Vec<(String, String)>) {
        #[derive(serde::Deserialize)]
        struct Vectors {
            base: String,
            normal: Vec<(String, String)>,
            abnormal: Vec<(String, String)>,
        }
        let v: Vectors = serde_json::from_str(VECTORS).unwrap();
        (v.base, v.normal.into_iter().chain(v.abnormal).collect())
    }

    #[test]
    fn rfc3986_resolver_gives_every_section_5_4_result() {
        let (base, pairs) = vectors();
        assert_eq!(pairs.len(), 42);
        for (reference, expected) in pairs {
            assert_eq!(
                resolve_rfc3986(&base, &reference).unwrap(),
                expected,
                "reference `{reference}`"
            );
        }
    }

    #[test]
    fn whatwg_resolver_differs_only_for_network_path_and_same_scheme() {
        let (base, pairs) = vectors();
        for (reference, rfc) in pairs {
            let expected = match reference.as_str() {
                "//g" => "http://g/",
                "http:g" => "http://a/b/c/g",
                _ => &rfc,
            };
            assert_eq!(
                resolve_whatwg(&base, &reference).unwrap(),
                expected,
                "reference `{reference}`"
            );
        }
    }

    #[test]
    fn rfc3986_resolver_rejects_what_is_not_a_uri_reference() {
        for bad in ["/a b", "/caf\u{e9}", "http://[x/", "/%zz"] {
            assert!(resolve_rfc3986("http://a/b", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn whatwg_resolver_repairs_what_browsers_repair() {
        let base = "http://a/b/c";
        assert_eq!(resolve_whatwg(base, "/g\t/h").unwrap(), "http://a/g/h");
        assert_eq!(resolve_whatwg(base, "/\\evil.test").unwrap(), "http://evil.test/");
        assert_eq!(resolve_whatwg(base, "http:///x").unwrap(), "http://x/");
        assert_eq!(resolve_whatwg(base, "/%2e%2e/g").unwrap(), "http://a/g");
    }

    #[test]
    fn dot_removal_through_the_query_eats_query_dots() {
        assert_eq!(
            remove_dot_segments_through_query("http://a/b/c/g?y/./x#s"),
            "http://a/b/c/g?y/x#s"
        );
        assert_eq!(
            remove_dot_segments_through_query("http://a/b/c/g?y/../x"),
            "http://a/b/c/x"
        );
        assert_eq!(remove_dot_segments_through_query("http://a/b/c/"), "http://a/b/c/");
        assert_eq!(remove_dot_segments_through_query("http://a"), "http://a/");
    }

    #[test]
    fn literal_percent_dots_survive_the_whatwg_parser() {
        let base = "http://a/b/c";
        assert_eq!(
            resolve_whatwg_literal_percent_dots(base, "/a/%2e%2e/g").unwrap(),
            "http://a/a/%2e%2e/g"
        );
        assert_eq!(
            resolve_whatwg_literal_percent_dots(base, "/a/%2E/g").unwrap(),
            "http://a/a/%2e/g"
        );
        assert_eq!(resolve_whatwg_literal_percent_dots(base, "../g").unwrap(), "http://a/g");
    }

    #[test]
    fn keeping_the_base_query_hits_references_without_query() {
        let base = "http://a/b/c/d;p?q";
        let resolved = |r: &str| keep_base_query(base, r, &resolve_rfc3986(base, r).unwrap());
        assert_eq!(resolved("g"), "http://a/b/c/g?q");
        assert_eq!(resolved("/g"), "http://a/g?q");
        assert_eq!(resolved("g#s"), "http://a/b/c/g?q#s");
        assert_eq!(resolved("g?y"), "http://a/b/c/g?y");
        assert_eq!(resolved("//g"), "http://g");
        assert_eq!(resolved(""), "http://a/b/c/d;p?q");
        assert_eq!(resolved("#s"), "http://a/b/c/d;p?q#s");
    }

    #[test]
    fn dot_prefixes_are_taken_for_dot_segments() {
        let base = "http://a/b/c/d;p?q";
        let resolved = |r: &str| resolve_rfc3986(base, &mistake_dot_prefixes(r)).unwrap();
        assert_eq!(resolved("..g"), "http://a/b/g");
        assert_eq!(resolved(".g"), "http://a/b/c/g");
        assert_eq!(resolved("g."), "http://a/b/c/g");
        assert_eq!(resolved("g.."), "http://a/b/c/g");
        assert_eq!(resolved("../g"), "http://a/b/g");
        assert_eq!(resolved("g?y/../x"), "http://a/b/c/g?y/../x");
    }

    #[test]
    fn naive_resolution_keeps_dot_segments() {
        let base = "http://a/b/c/d;p?q";
        assert_eq!(resolve_naive(base, "../g"), "http://a/b/c/../g");
        assert_eq!(resolve_naive(base, "g"), "http://a/b/c/g");
        assert_eq!(resolve_naive(base, "/./g"), "http://a/./g");
        assert_eq!(resolve_naive(base, "//g/x"), "http://g/x");
        assert_eq!(resolve_naive(base, "g:h"), "g:h");
    }
}

//! The properties' own RFC 3986 §5.2 reference resolver (strict parser),
//! kept apart from the reference user agent's so each checks the other.

/// The five components of a URI reference (RFC 3986 Appendix B).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Split a reference as the Appendix B regular expression does:
/// `^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`.
fn split(reference: &str) -> Parts<'_> {
    let (rest, fragment) = match reference.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (reference, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (scheme, rest) = match rest.split_once(':') {
        Some((scheme, after)) if !scheme.is_empty() && !scheme.contains('/') => (Some(scheme), after),
        _ => (None, rest),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(net) => {
            let end = net.find('/').unwrap_or(net.len());
            (Some(&net[..end]), &net[end..])
        }
        None => (None, rest),
    };
    Parts {
        scheme,
        authority,
        path,
        query,
        fragment,
    }
}

/// How dot segments are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dots {
    /// Only literal `.` and `..` segments, as §5.2.4 reads the path.
    Literal,
    /// Percent-encoded ones too (`%2e`, `.%2E`): `%2E` and `.` are equivalent
    /// (§2.3, §6.2.2.2), so a normaliser may remove them. Other escapes stay.
    Encoded,
}

/// Resolve `reference` against the absolute URI `base` by RFC 3986 §5.2.2
/// (strict: a reference with a scheme is taken as it is) and recompose it (§5.3).
pub fn resolve(base: &str, reference: &str) -> String {
    resolve_with(base, reference, Dots::Literal)
}

/// [`resolve`], recognising dot segments as `dots` says.
pub fn resolve_with(base: &str, reference: &str, dots: Dots) -> String {
    let b = split(base);
    let mut r = split(reference);
    let decoded;
    if dots == Dots::Encoded {
        decoded = decode_dot_segments(r.path);
        r.path = &decoded;
    }
    let (scheme, authority, path, query);
    if r.scheme.is_some() {
        scheme = r.scheme;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
    } else {
        scheme = b.scheme;
        if r.authority.is_some() {
            authority = r.authority;
            path = remove_dot_segments(r.path);
            query = r.query;
        } else {
            authority = b.authority;
            if r.path.is_empty() {
                path = b.path.to_owned();
                query = r.query.or(b.query);
            } else {
                path = if r.path.starts_with('/') {
                    remove_dot_segments(r.path)
                } else {
                    remove_dot_segments(&merge(b.authority.is_some(), b.path, r.path))
                };
                query = r.query;
            }
        }
    }
    let mut out = String::new();
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push(':');
    }
    if let Some(authority) = authority {
        out.push_str("//");
        out.push_str(authority);
    }
    out.push_str(&path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = r.fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Each segment made only of `.` and `%2e` (either case), one or two dots
/// long, becomes its literal `.` or `..`.
fn decode_dot_segments(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.to_ascii_lowercase().replace("%2e", ".").as_str() {
                "." => ".",
                ".." => "..",
                _ => segment,
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// §5.2.3: the reference's path appended to all but the last segment of the base's.
fn merge(base_has_authority: bool, base_path: &str, reference_path: &str) -> String {
    if base_has_authority && base_path.is_empty() {
        return format!("/{reference_path}");
    }
    match base_path.rfind('/') {
        Some(slash) => format!("{}{reference_path}", &base_path[..=slash]),
        None => reference_path.to_owned(),
    }
}

/// §5.2.4, step by step on an input buffer and an output buffer.
pub fn remove_dot_segments(path: &str) -> String {
    let mut input = path.to_owned();
    let mut output = String::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../").or_else(|| input.strip_prefix("./")) {
            // A: a leading `../` or `./` is dropped.
            input = rest.to_owned();
        } else if input.starts_with("/./") {
            // B: `/./` becomes `/`.
            input.replace_range(..3, "/");
        } else if input == "/." {
            input = "/".to_owned();
        } else if input.starts_with("/../") || input == "/.." {
            // C: `/../` (or a final `/..`) becomes `/` and drops the last output segment.
            let cut = if input == "/.." { 3 } else { 4 };
            input.replace_range(..cut, "/");
            let last = output.rfind('/').unwrap_or(0);
            output.truncate(last);
        } else if input == "." || input == ".." {
            // D: a lone `.` or `..` is dropped.
            input.clear();
        } else {
            // E: the first segment (with its leading `/`, if any) moves to the output.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input.replace_range(..end, "");
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://a/b/c/d;p?q";

    /// RFC 3986 §5.4.1 (normal) and §5.4.2 (abnormal, strict parser) examples.
    #[rstest::rstest]
    #[case("g:h", "g:h")]
    #[case("g", "http://a/b/c/g")]
    #[case("./g", "http://a/b/c/g")]
    #[case("g/", "http://a/b/c/g/")]
    #[case("/g", "http://a/g")]
    #[case("//g", "http://g")]
    #[case("?y", "http://a/b/c/d;p?y")]
    #[case("g?y", "http://a/b/c/g?y")]
    #[case("#s", "http://a/b/c/d;p?q#s")]
    #[case("g#s", "http://a/b/c/g#s")]
    #[case("g?y#s", "http://a/b/c/g?y#s")]
    #[case(";x", "http://a/b/c/;x")]
    #[case("g;x", "http://a/b/c/g;x")]
    #[case("g;x?y#s", "http://a/b/c/g;x?y#s")]
    #[case("", "http://a/b/c/d;p?q")]
    #[case(".", "http://a/b/c/")]
    #[case("./", "http://a/b/c/")]
    #[case("..", "http://a/b/")]
    #[case("../", "http://a/b/")]
    #[case("../g", "http://a/b/g")]
    #[case("../..", "http://a/")]
    #[case("../../", "http://a/")]
    #[case("../../g", "http://a/g")]
    #[case("../../../g", "http://a/g")]
    #[case("../../../../g", "http://a/g")]
    #[case("/./g", "http://a/g")]
    #[case("/../g", "http://a/g")]
    #[case("g.", "http://a/b/c/g.")]
    #[case(".g", "http://a/b/c/.g")]
    #[case("g..", "http://a/b/c/g..")]
    #[case("..g", "http://a/b/c/..g")]
    #[case("./../g", "http://a/b/g")]
    #[case("./g/.", "http://a/b/c/g/")]
    #[case("g/./h", "http://a/b/c/g/h")]
    #[case("g/../h", "http://a/b/c/h")]
    #[case("g;x=1/./y", "http://a/b/c/g;x=1/y")]
    #[case("g;x=1/../y", "http://a/b/c/y")]
    #[case("g?y/./x", "http://a/b/c/g?y/./x")]
    #[case("g?y/../x", "http://a/b/c/g?y/../x")]
    #[case("g#s/./x", "http://a/b/c/g#s/./x")]
    #[case("g#s/../x", "http://a/b/c/g#s/../x")]
    #[case("http:g", "http:g")]
    fn rfc3986_examples(#[case] reference: &str, #[case] expected: &str) {
        assert_eq!(resolve(BASE, reference), expected);
    }

    #[rstest::rstest]
    #[case("%2e", "http://a/b/c/%2e", "http://a/b/c/")]
    #[case("%2E%2e/g", "http://a/b/c/%2E%2e/g", "http://a/b/g")]
    #[case("/x/.%2e/y", "http://a/x/.%2e/y", "http://a/y")]
    #[case("g%2e/%2e./h%2e", "http://a/b/c/g%2e/%2e./h%2e", "http://a/b/c/h%2e")]
    #[case("g?%2e%2e/x", "http://a/b/c/g?%2e%2e/x", "http://a/b/c/g?%2e%2e/x")]
    fn encoded_dot_segments(#[case] reference: &str, #[case] literal: &str, #[case] encoded: &str) {
        assert_eq!(resolve_with(BASE, reference, Dots::Literal), literal);
        assert_eq!(resolve_with(BASE, reference, Dots::Encoded), encoded);
    }

    #[test]
    fn an_empty_base_path_under_an_authority_merges_from_the_root() {
        assert_eq!(resolve("http://a", "g"), "http://a/g");
        assert_eq!(resolve("http://a?q", "?"), "http://a?");
    }

    #[test]
    fn dot_segments_of_a_network_path_reference_are_removed() {
        assert_eq!(resolve(BASE, "//h:8080/x/../y/./z"), "http://h:8080/y/z");
    }
}

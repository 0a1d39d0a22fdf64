//! The reference user agent's WHATWG URL parsing (fetch profile) against the
//! standard's own test data: web-platform-tests `url/resources/urltestdata.json`,
//! as shipped in `tests/fixtures/wpt-url/` (see the README there for where the
//! copy comes from).
//!
//! Every vector whose base or expected result is an http(s) URL must give
//! the expected href, or no URL where the data says failure. No exception is
//! listed: the reference parses with ada, which passes them all.
//!
//! The `url` crate is the location-resolution property's oracle under fetch
//! (independent of the reference's parser); the last test pins the short
//! list of vectors where it lags the standard, so the property's generator
//! can be checked to stay clear of them.

use std::path::PathBuf;

use hopcheck::case::Profile;
use hopcheck::targets::reference::read_url;
use serde_json::Value;

/// One vector of `urltestdata.json`.
#[derive(Debug)]
struct Vector {
    input: String,
    base: Option<String>,
    /// `None` when the data expects failure.
    href: Option<String>,
}

impl Vector {
    fn label(&self) -> String {
        format!(
            "<{}> against <{}>",
            self.input.escape_debug(),
            self.base.as_deref().unwrap_or("no base")
        )
    }
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wpt-url/urltestdata.json")
}

/// `http:` or `https:` after the C0-control-or-space the parser strips.
fn is_http(text: &str) -> bool {
    let text = text.trim_start_matches(|c: char| c <= ' ').to_ascii_lowercase();
    text.starts_with("http:") || text.starts_with("https:")
}

/// Vectors whose base, result or (without a base) input is http(s): what a
/// Location or a request URL can be. Comments (strings) are skipped.
fn http_vectors() -> Vec<Vector> {
    let text = std::fs::read_to_string(fixture()).expect("urltestdata.json");
    let data: Vec<Value> = serde_json::from_str(&text).expect("urltestdata.json is a JSON array");
    data.iter()
        .filter_map(Value::as_object)
        .map(|v| {
            let failure = v.get("failure").and_then(Value::as_bool).unwrap_or(false);
            Vector {
                input: v["input"].as_str().expect("input").to_owned(),
                base: v.get("base").and_then(Value::as_str).map(str::to_owned),
                href: v
                    .get("href")
                    .and_then(Value::as_str)
                    .filter(|_| !failure)
                    .map(str::to_owned),
            }
        })
        .filter(|v| match &v.base {
            Some(base) => is_http(base) || v.href.as_deref().is_some_and(is_http),
            None => is_http(&v.input) || v.href.as_deref().is_some_and(is_http),
        })
        .collect()
}

#[test]
fn the_selection_covers_the_http_vectors_of_the_data() {
    let vectors = http_vectors();
    // Counted once from the fixture: a change here means the data or the filter changed.
    assert_eq!(vectors.len(), 482);
    assert!(vectors.iter().filter(|v| v.href.is_none()).count() > 100);
    assert!(vectors.iter().filter(|v| v.base.is_none()).count() > 100);
    assert!(vectors.iter().any(|v| v.href.as_deref().is_some_and(|h| !is_http(h))));
}

#[test]
fn the_reference_gives_every_http_vector_its_expected_href_or_failure() {
    let mismatches: Vec<String> = http_vectors()
        .iter()
        .filter_map(|v| {
            let got = read_url(Profile::Fetch, v.base.as_deref(), &v.input);
            match (&v.href, &got) {
                (Some(want), Ok(got)) if want == got => None,
                (None, Err(_)) => None,
                _ => Some(format!("{}: want {:?}, got {got:?}", v.label(), v.href)),
            }
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of the standard's http(s) vectors fail:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Where the `url` crate disagrees with the data, and why.
const URL_CRATE_LAGS: [(&str, Option<&str>, &str); 14] = [
    ("http://a.b.c.xn--pokxncvks", None, XN_LABEL),
    ("http://10.0.0.xn--pokxncvks", None, XN_LABEL),
    ("http://a.b.c.XN--pokxncvks", None, XN_LABEL),
    ("http://a.b.c.Xn--pokxncvks", None, XN_LABEL),
    ("http://10.0.0.XN--pokxncvks", None, XN_LABEL),
    ("http://10.0.0.xN--pokxncvks", None, XN_LABEL),
    ("https://xn--/", None, XN_LABEL),
    ("///test", Some("http://example.org/"), SLASHES),
    ("///\\//\\//test", Some("http://example.org/"), SLASHES),
    ("///example.org/path", Some("http://example.org/"), SLASHES),
    ("///example.org/../path", Some("http://example.org/"), SLASHES),
    ("///example.org/../../", Some("http://example.org/"), SLASHES),
    ("///example.org/../path/../../", Some("http://example.org/"), SLASHES),
    (
        "///example.org/../path/../../path",
        Some("http://example.org/"),
        SLASHES,
    ),
];
const XN_LABEL: &str = "an ASCII host with an `xn--` label that is not valid Punycode: the data keeps it \
                        (lowercased), url 2.5.8 rejects the URL";
const SLASHES: &str = "three or more slashes (or backslashes) against an http base: the data skips them \
                       all and takes the next segment as the host, url 2.5.8 fails";

#[test]
fn the_url_crate_lags_the_standard_on_exactly_these_vectors() {
    let lagging: Vec<(String, Option<String>)> = http_vectors()
        .into_iter()
        .filter(|v| {
            let got = match &v.base {
                Some(base) => url::Url::parse(base).and_then(|b| b.join(&v.input)),
                None => url::Url::parse(&v.input),
            };
            got.ok().map(String::from) != v.href
        })
        .map(|v| (v.input, v.base))
        .collect();
    let listed: Vec<(String, Option<String>)> = URL_CRATE_LAGS
        .iter()
        .map(|(input, base, _)| ((*input).to_owned(), base.map(str::to_owned)))
        .collect();
    assert_eq!(lagging, listed);
}

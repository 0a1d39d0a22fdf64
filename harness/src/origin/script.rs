//! Answering requests from a case's origin script.
//! Rules are parsed and checked once when the origin starts; answering never fails.

use std::io;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use super::normalise_host;
use crate::case::{Body, OriginRule};

/// The logical request a rule is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Logical<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub path_and_query: &'a str,
    pub method: &'a str,
}

impl Logical<'_> {
    /// `scheme://host[:port]/path?query`, the port only when not the default.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.to_owned()
        };
        if self.port == default_port(self.scheme) {
            format!("{}://{}{}", self.scheme, host, self.path_and_query)
        } else {
            format!("{}://{}:{}{}", self.scheme, host, self.port, self.path_and_query)
        }
    }
}

/// What the origin sends back for one hop.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    /// In the script's order; hyper groups repeated names at the first one's place.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// No rule matched.
    pub unscripted: bool,
}

/// A case's origin script, ready to answer.
#[derive(Debug)]
pub(crate) struct Script {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    scheme: String,
    host: String,
    port: u16,
    /// Path and query to match; a prefix when `prefix` is set.
    path: String,
    prefix: bool,
    method: Option<String>,
    status: StatusCode,
    /// Names and value templates (`{hop}`, `{next}`).
    headers: Vec<(HeaderName, String)>,
    body: ReplyBody,
}

#[derive(Debug)]
enum ReplyBody {
    /// Text: `{hop}` and `{next}` are filled in.
    Template(String),
    /// Bytes sent as they are.
    Bytes(Bytes),
}

impl Script {
    /// Parse and check every rule; an unusable one is `InvalidInput` naming the rule.
    pub fn new(rules: &[OriginRule]) -> io::Result<Script> {
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                Rule::parse(rule).map_err(|why| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("origin rule {} (`{}`): {why}", i + 1, rule.on),
                    )
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Script { rules })
    }

    /// The answer for `request`, which is hop number `hop`.
    pub fn answer(&self, request: &Logical<'_>, hop: usize) -> Answer {
        match self.rules.iter().find(|rule| rule.matches(request)) {
            Some(rule) => rule.answer(hop),
            None => Answer {
                status: StatusCode::NOT_FOUND,
                headers: vec![(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                body: Bytes::from(format!(
                    "hopcheck origin: no rule answers {} {}\n",
                    request.method,
                    request.url()
                )),
                unscripted: true,
            },
        }
    }
}

impl Rule {
    fn parse(rule: &OriginRule) -> Result<Rule, String> {
        let (scheme, host, port, path, prefix) = parse_on(&rule.on)?;
        let status = StatusCode::from_u16(rule.reply.status)
            .ok()
            .filter(|status| !status.is_informational())
            .ok_or_else(|| format!("status {} cannot be a final reply", rule.reply.status))?;
        let headers = rule
            .reply
            .headers
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("`{name}` is not a header field name"))?;
                // Filling in `{hop}` and `{next}` adds only digits, so a valid
                // template gives a valid value.
                HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
                    format!("the value of `{name}` cannot be sent (CR, LF, NUL and other controls but tab cannot)")
                })?;
                Ok((name, value.clone()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let body = match &rule.reply.body {
            None => ReplyBody::Bytes(Bytes::new()),
            Some(Body::Text(text)) => ReplyBody::Template(text.clone()),
            Some(body) => ReplyBody::Bytes(Bytes::from(body.bytes().map_err(|err| format!("reply body: {err}"))?)),
        };
        Ok(Rule {
            scheme,
            host,
            port,
            path,
            prefix,
            method: rule.method.clone(),
            status,
            headers,
            body,
        })
    }

    fn matches(&self, request: &Logical<'_>) -> bool {
        self.scheme == request.scheme
            && self.host == request.host
            && self.port == request.port
            && if self.prefix {
                request.path_and_query.starts_with(&self.path)
            } else {
                request.path_and_query == self.path
            }
            && self.method.as_deref().is_none_or(|method| method == request.method)
    }

    fn answer(&self, hop: usize) -> Answer {
        let headers = self
            .headers
            .iter()
            .filter_map(|(name, template)| {
                let value = fill(template, hop);
                // Cannot fail: the template was checked and filling adds digits.
                HeaderValue::from_bytes(value.as_bytes())
                    .ok()
                    .map(|value| (name.clone(), value))
            })
            .collect();
        let body = match &self.body {
            ReplyBody::Template(text) => Bytes::from(fill(text, hop)),
            ReplyBody::Bytes(bytes) => bytes.clone(),
        };
        Answer {
            status: self.status,
            headers,
            body,
            unscripted: false,
        }
    }
}

/// Fill `{hop}` and `{next}` into a template.
fn fill(template: &str, hop: usize) -> String {
    if !template.contains('{') {
        return template.to_owned();
    }
    template
        .replace("{hop}", &hop.to_string())
        .replace("{next}", &(hop + 1).to_string())
}

pub(crate) fn default_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

/// Split a rule's `on` URL into scheme, normalised host, port, path+query and
/// whether it is a prefix (trailing `*`).
fn parse_on(on: &str) -> Result<(String, String, u16, String, bool), String> {
    let (scheme, rest) = on.split_once("://").ok_or("not an absolute URL (`http://host/path`)")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("scheme `{scheme}` is neither http nor https"));
    }
    if rest.contains('#') {
        return Err("a rule URL has no fragment: clients never send one".to_owned());
    }
    let (rest, prefix) = match rest.strip_suffix('*') {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = match path.chars().next() {
        None => "/".to_owned(),
        Some('?') => format!("/{path}"),
        Some(_) => path.to_owned(),
    };
    if authority.contains('@') {
        return Err("a rule URL has no user information".to_owned());
    }
    let (host, port) = split_authority(authority).ok_or_else(|| format!("cannot read host and port `{authority}`"))?;
    let host = normalise_host(host);
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    let port = port.unwrap_or_else(|| default_port(&scheme));
    Ok((scheme, host, port, path, prefix))
}

/// Split `host[:port]` or `[v6][:port]`; `None` when the port is not a number.
/// An empty port (`host:`) counts as absent, as in RFC 3986.
pub(crate) fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(port.parse::<u16>().ok()?),
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::case::Reply;

    fn rule(on: &str, method: Option<&str>, status: u16) -> OriginRule {
        OriginRule {
            on: on.to_owned(),
            method: method.map(str::to_owned),
            reply: Reply {
                status,
                headers: vec![],
                body: None,
            },
        }
    }

    fn request<'a>(scheme: &'a str, host: &'a str, port: u16, path: &'a str, method: &'a str) -> Logical<'a> {
        Logical {
            scheme,
            host,
            port,
            path_and_query: path,
            method,
        }
    }

    #[rstest]
    #[case::exact("http://origin.test/a", None, ("http", "origin.test", 80, "/a", "GET"), true)]
    #[case::other_path("http://origin.test/a", None, ("http", "origin.test", 80, "/b", "GET"), false)]
    #[case::query_is_part_of_path("http://origin.test/a?x=1", None, ("http", "origin.test", 80, "/a?x=1", "GET"), true)]
    #[case::query_differs("http://origin.test/a?x=1", None, ("http", "origin.test", 80, "/a", "GET"), false)]
    #[case::scheme_differs("https://origin.test/a", None, ("http", "origin.test", 443, "/a", "GET"), false)]
    #[case::https_default_port("https://origin.test/a", None, ("https", "origin.test", 443, "/a", "GET"), true)]
    #[case::default_port_is_not_any_port("http://origin.test/a", None, ("http", "origin.test", 8080, "/a", "GET"), false)]
    #[case::explicit_default_port("http://origin.test:80/a", None, ("http", "origin.test", 80, "/a", "GET"), true)]
    #[case::explicit_port("http://origin.test:8080/a", None, ("http", "origin.test", 8080, "/a", "GET"), true)]
    #[case::host_differs("http://origin.test/a", None, ("http", "sub.origin.test", 80, "/a", "GET"), false)]
    #[case::host_normalised("http://Origin.TEST./a", None, ("http", "origin.test", 80, "/a", "GET"), true)]
    #[case::ipv6("http://[::1]:81/a", None, ("http", "::1", 81, "/a", "GET"), true)]
    #[case::no_path_is_root("http://origin.test", None, ("http", "origin.test", 80, "/", "GET"), true)]
    #[case::prefix("http://origin.test/a*", None, ("http", "origin.test", 80, "/a/b?c", "GET"), true)]
    #[case::prefix_not_elsewhere("http://origin.test/a*", None, ("http", "origin.test", 80, "/b/a", "GET"), false)]
    #[case::method_matches("http://origin.test/a", Some("POST"), ("http", "origin.test", 80, "/a", "POST"), true)]
    #[case::method_differs("http://origin.test/a", Some("POST"), ("http", "origin.test", 80, "/a", "GET"), false)]
    #[case::method_is_case_sensitive("http://origin.test/a", Some("post"), ("http", "origin.test", 80, "/a", "POST"), false)]
    fn rule_matching(
        #[case] on: &str,
        #[case] method: Option<&str>,
        #[case] req: (&str, &str, u16, &str, &str),
        #[case] matched: bool,
    ) {
        let script = Script::new(&[rule(on, method, 204)]).expect("valid rule");
        let answer = script.answer(&request(req.0, req.1, req.2, req.3, req.4), 1);
        assert_eq!(answer.unscripted, !matched);
        assert_eq!(answer.status.as_u16(), if matched { 204 } else { 404 });
    }

    #[test]
    fn first_matching_rule_wins() {
        let script = Script::new(&[
            rule("http://h.test/a", Some("POST"), 307),
            rule("http://h.test/a*", None, 302),
            rule("http://h.test/a", None, 200),
        ])
        .expect("valid rules");
        assert_eq!(
            script.answer(&request("http", "h.test", 80, "/a", "POST"), 1).status,
            307
        );
        assert_eq!(
            script.answer(&request("http", "h.test", 80, "/a", "GET"), 1).status,
            302
        );
    }

    #[test]
    fn unscripted_answer_names_the_url() {
        let script = Script::new(&[]).expect("empty script");
        let answer = script.answer(&request("https", "h.test", 8443, "/x?y", "PUT"), 3);
        assert_eq!(answer.status, 404);
        assert_eq!(
            &answer.body[..],
            b"hopcheck origin: no rule answers PUT https://h.test:8443/x?y\n"
        );
    }

    #[test]
    fn templates_fill_hop_and_next_in_headers_and_text() {
        let mut on = rule("http://h.test/*", None, 302);
        on.reply.headers = vec![
            ("Location".into(), "/step/{next}".into()),
            ("X-Hop".into(), "{hop}{hop}".into()),
        ];
        on.reply.body = Some(Body::Text("hop {hop} of {next}".into()));
        let answer = Script::new(&[on])
            .expect("valid")
            .answer(&request("http", "h.test", 80, "/", "GET"), 7);
        assert_eq!(answer.headers[0].1, "/step/8");
        assert_eq!(answer.headers[1].1, "77");
        assert_eq!(&answer.body[..], b"hop 7 of 8");
    }

    #[test]
    fn raw_bodies_are_not_templates() {
        let mut on = rule("http://h.test/", None, 200);
        on.reply.body = Some(Body::Base64 {
            base64: "e2hvcH0=".into(), // "{hop}"
        });
        let answer = Script::new(&[on])
            .expect("valid")
            .answer(&request("http", "h.test", 80, "/", "GET"), 2);
        assert_eq!(&answer.body[..], b"{hop}");
    }

    #[test]
    fn odd_but_sendable_header_values_are_kept_byte_for_byte() {
        let odd = "/caf\u{e9} a\\b\tc";
        let mut on = rule("http://h.test/", None, 302);
        on.reply.headers = vec![("Location".into(), odd.into())];
        let answer = Script::new(&[on])
            .expect("valid")
            .answer(&request("http", "h.test", 80, "/", "GET"), 1);
        assert_eq!(answer.headers[0].1.as_bytes(), odd.as_bytes());
    }

    #[rstest]
    #[case::not_absolute("/a")]
    #[case::ftp("ftp://h.test/a")]
    #[case::fragment("http://h.test/a#f")]
    #[case::bad_port("http://h.test:http/a")]
    #[case::port_too_big("http://h.test:65536/a")]
    #[case::no_host("http:///a")]
    #[case::userinfo("http://u@h.test/a")]
    fn unusable_urls_are_rejected(#[case] on: &str) {
        let err = Script::new(&[rule(on, None, 200)]).expect_err("unusable");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(on), "{err}");
    }

    #[rstest]
    #[case::crlf("a\r\nInjected: 1")]
    #[case::lf("a\nb")]
    #[case::nul("a\0b")]
    fn unsendable_header_values_are_rejected(#[case] value: &str) {
        let mut on = rule("http://h.test/", None, 302);
        on.reply.headers = vec![("Location".into(), value.into())];
        let err = Script::new(&[on]).expect_err("unsendable");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[rstest]
    #[case::informational(101)]
    #[case::too_small(42)]
    #[case::too_big(1000)]
    fn unusable_statuses_are_rejected(#[case] status: u16) {
        let err = Script::new(&[rule("http://h.test/", None, status)]).expect_err("unusable");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn bad_header_names_and_base64_are_rejected() {
        let mut named = rule("http://h.test/", None, 200);
        named.reply.headers = vec![("Bad Name".into(), "x".into())];
        assert!(Script::new(&[named]).is_err());
        let mut based = rule("http://h.test/", None, 200);
        based.reply.body = Some(Body::Base64 { base64: "!!".into() });
        assert!(Script::new(&[based]).is_err());
    }

    #[rstest]
    #[case("h.test", Some(("h.test", None)))]
    #[case("h.test:81", Some(("h.test", Some(81))))]
    #[case("h.test:", Some(("h.test", None)))]
    #[case("[::1]", Some(("[::1]", None)))]
    #[case("[::1]:8443", Some(("[::1]", Some(8443))))]
    #[case("[::1]x", None)]
    #[case("h.test:x", None)]
    fn authorities_split(#[case] authority: &str, #[case] split: Option<(&str, Option<u16>)>) {
        assert_eq!(split_authority(authority), split);
    }
}

//! Answering requests from a case's origin script.
//! Rules are parsed and checked once when the origin starts; answering never
//! fails, and a `{ cycle = N }` reply body is generated as it is sent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, StatusCode};
use hyper::body::{Frame, SizeHint};

use super::normalise_host;
use crate::case::{cycle_byte, Body, FieldValue, OriginRule, RuleTarget};

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
    /// In the script's order, values as raw bytes (any byte but CR, LF and
    /// NUL); hyper groups repeated names at the first one's place.
    pub headers: Vec<(HeaderName, Bytes)>,
    pub body: AnswerBody,
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
    /// Names and values, text ones being templates (`{hop}`, `{next}`).
    headers: Vec<(HeaderName, FieldTemplate)>,
    body: ReplyBody,
}

#[derive(Debug)]
enum FieldTemplate {
    /// Text: `{hop}` and `{next}` are filled in.
    Text(String),
    /// Bytes sent as they are.
    Bytes(Vec<u8>),
}

impl FieldTemplate {
    /// The bytes before any filling in.
    fn unfilled(&self) -> &[u8] {
        match self {
            FieldTemplate::Text(text) => text.as_bytes(),
            FieldTemplate::Bytes(bytes) => bytes,
        }
    }

    fn fill(&self, hop: usize) -> Bytes {
        match self {
            FieldTemplate::Text(text) => Bytes::from(fill(text, hop)),
            FieldTemplate::Bytes(bytes) => Bytes::copy_from_slice(bytes),
        }
    }
}

#[derive(Debug)]
enum ReplyBody {
    /// Text: `{hop}` and `{next}` are filled in.
    Template(String),
    /// Bytes sent as they are.
    Bytes(Bytes),
    /// `{ cycle = N }`: generated while it is sent, never held whole.
    Cycle(usize),
}

/// How many bytes of a cycle body go in one frame.
const CYCLE_CHUNK: usize = 64 << 10;

/// One chunk's worth of a cycle body. A chunk is a multiple of 256 bytes
/// long, so every chunk of a cycle starts at byte value 0 and is a prefix of this.
static CYCLE_BYTES: [u8; CYCLE_CHUNK] = {
    let mut bytes = [0; CYCLE_CHUNK];
    let mut i = 0;
    while i < CYCLE_CHUNK {
        bytes[i] = cycle_byte(i);
        i += 1;
    }
    bytes
};

/// A reply body as hyper sends it: bytes at hand, or the rest of a cycle,
/// produced [`CYCLE_CHUNK`] bytes at a time so that a large declared body
/// costs no memory. Its exact length is known, so it goes out with a
/// `Content-Length`.
#[derive(Debug)]
pub(crate) enum AnswerBody {
    /// The whole body, until it is sent.
    Bytes(Option<Bytes>),
    /// A cycle body, of which `remaining` bytes are still to be sent.
    Cycle { remaining: usize },
}

impl AnswerBody {
    /// Every byte of the body; frames are always ready, so no runtime is needed.
    #[cfg(test)]
    pub fn into_vec(mut self) -> Vec<u8> {
        use hyper::body::Body as _;
        let mut context = Context::from_waker(std::task::Waker::noop());
        let mut bytes = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut self).poll_frame(&mut context) {
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        bytes
    }
}

impl From<Bytes> for AnswerBody {
    fn from(bytes: Bytes) -> Self {
        AnswerBody::Bytes(Some(bytes))
    }
}

impl hyper::body::Body for AnswerBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match self.get_mut() {
            AnswerBody::Bytes(bytes) => bytes.take().filter(|bytes| !bytes.is_empty()),
            AnswerBody::Cycle { remaining } => {
                let len = (*remaining).min(CYCLE_CHUNK);
                *remaining -= len;
                (len > 0).then(|| Bytes::from_static(&CYCLE_BYTES[..len]))
            }
        };
        Poll::Ready(frame.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            AnswerBody::Bytes(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            AnswerBody::Cycle { remaining } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        let len = match self {
            AnswerBody::Bytes(bytes) => bytes.as_ref().map_or(0, Bytes::len),
            AnswerBody::Cycle { remaining } => *remaining,
        };
        SizeHint::with_exact(len as u64)
    }
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

    /// The hosts the rules answer, normalised, in script order.
    pub fn hosts(&self) -> impl Iterator<Item = &str> + '_ {
        self.rules.iter().map(|rule| rule.host.as_str())
    }

    /// Some reply value holds a byte hyper's `HeaderValue` refuses (a control
    /// character other than tab), so heads must be written raw.
    pub fn needs_raw_heads(&self) -> bool {
        self.rules.iter().any(|rule| {
            rule.headers
                .iter()
                .any(|(_, value)| value.unfilled().iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f))
        })
    }

    /// The answer for `request`, which is hop number `hop`. Hosts are
    /// compared normalised: the request's is as the client spelt it.
    pub fn answer(&self, request: &Logical<'_>, hop: usize) -> Answer {
        let host = normalise_host(request.host);
        let normalised = Logical {
            host: &host,
            ..*request
        };
        match self.rules.iter().find(|rule| rule.matches(&normalised)) {
            Some(rule) => rule.answer(hop),
            None => Answer {
                status: StatusCode::NOT_FOUND,
                headers: vec![(
                    http::header::CONTENT_TYPE,
                    Bytes::from_static(b"text/plain; charset=utf-8"),
                )],
                body: AnswerBody::from(Bytes::from(format!(
                    "hopcheck origin: no rule answers {} {}\n",
                    request.method,
                    request.url()
                ))),
                unscripted: true,
            },
        }
    }
}

impl Rule {
    fn parse(rule: &OriginRule) -> Result<Rule, String> {
        let RuleTarget {
            scheme,
            host,
            port,
            path,
            prefix,
        } = rule.target()?;
        let host = normalise_host(&host);
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
                let value = match value {
                    FieldValue::Text(text) => FieldTemplate::Text(text.clone()),
                    FieldValue::Base64 { .. } => {
                        FieldTemplate::Bytes(value.bytes().map_err(|err| format!("the value of `{name}`: {err}"))?)
                    }
                };
                // Filling in `{hop}` and `{next}` adds only digits, so a
                // template without these bytes never gains one.
                if value.unfilled().iter().any(|b| b"\r\n\0".contains(b)) {
                    return Err(format!(
                        "the value of `{name}` holds CR, LF or NUL, which no field value can"
                    ));
                }
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let body = match &rule.reply.body {
            None => ReplyBody::Bytes(Bytes::new()),
            Some(Body::Text(text)) => ReplyBody::Template(text.clone()),
            Some(Body::Cycle { cycle }) => ReplyBody::Cycle(*cycle),
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
            .map(|(name, value)| (name.clone(), value.fill(hop)))
            .collect();
        let body = match &self.body {
            ReplyBody::Template(text) => AnswerBody::from(Bytes::from(fill(text, hop))),
            ReplyBody::Bytes(bytes) => AnswerBody::from(bytes.clone()),
            ReplyBody::Cycle(len) => AnswerBody::Cycle { remaining: *len },
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

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::case::{split_authority, Reply};

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
            &answer.body.into_vec()[..],
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
        assert_eq!(&answer.body.into_vec()[..], b"hop 7 of 8");
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
        assert_eq!(&answer.body.into_vec()[..], b"{hop}");
    }

    #[test]
    fn cycle_bodies_stream_in_chunks_of_known_total_length() {
        use hyper::body::Body as _;
        let len = 3 * CYCLE_CHUNK + 5;
        let mut on = rule("http://h.test/", None, 200);
        on.reply.body = Some(Body::Cycle { cycle: len });
        let script = Script::new(&[on]).expect("valid");
        let answer = script.answer(&request("http", "h.test", 80, "/", "GET"), 1);
        assert_eq!(answer.body.size_hint().exact(), Some(len as u64));
        let expected = Body::Cycle { cycle: len }.bytes().expect("cycle");
        assert_eq!(answer.body.into_vec(), expected);
    }

    #[test]
    fn a_huge_cycle_body_is_never_held_whole() {
        use hyper::body::Body as _;
        // Far more than any machine could allocate: only generating it lazily
        // lets the script start and the first frame come out.
        let len = usize::MAX / 2;
        let mut on = rule("http://h.test/", None, 200);
        on.reply.body = Some(Body::Cycle { cycle: len });
        let script = Script::new(&[on]).expect("valid");
        let mut body = script.answer(&request("http", "h.test", 80, "/", "GET"), 1).body;
        assert_eq!(body.size_hint().exact(), Some(len as u64));
        let mut context = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut context) else {
            panic!("no first frame");
        };
        assert_eq!(frame.into_data().expect("data").len(), CYCLE_CHUNK);
        assert!(!body.is_end_stream());
    }

    #[test]
    fn odd_but_sendable_header_values_are_kept_byte_for_byte() {
        let odd = "/caf\u{e9} a\\b\tc";
        let mut on = rule("http://h.test/", None, 302);
        on.reply.headers = vec![("Location".into(), odd.into())];
        let answer = Script::new(&[on])
            .expect("valid")
            .answer(&request("http", "h.test", 80, "/", "GET"), 1);
        assert_eq!(&answer.headers[0].1[..], odd.as_bytes());
    }

    #[test]
    fn control_bytes_and_base64_values_are_kept_and_ask_for_raw_heads() {
        let mut on = rule("http://h.test/", None, 302);
        on.reply.headers = vec![
            ("Location".into(), "/a\u{1}b\u{7f}{hop}".into()),
            (
                "X-Latin-1".into(),
                FieldValue::Base64 {
                    base64: "L2PpCQ==".into(),
                },
            ),
        ];
        let script = Script::new(&[on]).expect("valid");
        assert!(script.needs_raw_heads());
        let answer = script.answer(&request("http", "h.test", 80, "/", "GET"), 4);
        assert_eq!(&answer.headers[0].1[..], b"/a\x01b\x7f4");
        assert_eq!(&answer.headers[1].1[..], b"/c\xe9\t");
        let plain = Script::new(&[rule("http://h.test/", None, 200)]).expect("valid");
        assert!(!plain.needs_raw_heads());
    }

    #[test]
    fn hosts_route_through_the_one_normalisation() {
        let script = Script::new(&[rule("http://h.test/", None, 204)]).expect("valid");
        for spelt in ["h.test", "H.Test", "h.test."] {
            let answer = script.answer(&request("http", spelt, 80, "/", "GET"), 1);
            assert_eq!(answer.status, 204, "{spelt}");
        }
        assert_eq!(script.hosts().collect::<Vec<_>>(), ["h.test"]);
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
    #[case::cr("a\rb")]
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

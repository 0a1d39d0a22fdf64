//! The http(s) URL a request is made for, parsed under the profile's URL
//! rules: RFC 3986 + RFC 9110 §4.2 (rfc9110) or the WHATWG URL Standard
//! (fetch, by ada: see [`super::resolve`] for why not the `url` crate).

use std::fmt;
use std::net::Ipv4Addr;

use iri_string::types::UriStr;

use super::resolve::{shield_percent_dots, unshield_percent_dots};
use crate::case::Profile;

pub use crate::scheme::Scheme;

/// An absolute http(s) URL split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    pub scheme: Scheme,
    /// Kept only to report the URL; never sent.
    pub userinfo: Option<String>,
    /// Lowercased; IPv6 literals keep their brackets.
    pub host: String,
    /// The port as written, when written.
    pub port: Option<u16>,
    /// Path as written (may be empty).
    pub path: String,
    pub query: Option<String>,
    pub fragment: Option<String>,
}

/// Why a string is not a URL a request can be made for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URI (rfc9110) or not a URL (fetch) at all.
    Unparseable { text: String },
    /// A scheme other than http or https.
    NotHttp { scheme: String },
    /// No authority (`http:g`).
    NoAuthority,
    /// An authority with an empty host (`http:///x`, RFC 9110 §4.2.1).
    EmptyHost,
    /// Userinfo in an http(s) URI (RFC 9110 §4.2.4).
    Userinfo,
    /// A port that is not a number below 65536.
    BadPort { port: String },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Unparseable { text } => write!(f, "not a valid URL: {text:.200}"),
            UrlError::NotHttp { scheme } => write!(f, "scheme `{scheme}` is not http or https"),
            UrlError::NoAuthority => f.write_str("URL has no authority"),
            UrlError::EmptyHost => f.write_str("URL has an empty host"),
            UrlError::Userinfo => f.write_str("URL carries userinfo"),
            UrlError::BadPort { port } => write!(f, "invalid port `{port}`"),
        }
    }
}

/// What a URL parse tolerates beyond the profile's rules (mutants only).
#[derive(Debug, Clone, Copy, Default)]
pub struct Leniency {
    pub userinfo: bool,
    pub empty_host: bool,
    /// WHATWG parsing without the `%2e` = `.` equivalence (`LiteralPercentDots`).
    pub literal_percent_dots: bool,
    /// The host keeps the case it was written in (`HstsCaseSensitiveHost`).
    pub keep_host_case: bool,
}

impl RequestUrl {
    /// Parse an absolute URL under the profile's rules.
    pub fn parse(profile: Profile, text: &str, leniency: Leniency) -> Result<RequestUrl, UrlError> {
        match profile {
            Profile::Rfc9110 => match parse_rfc3986(text, leniency) {
                // A repaired empty host is the WHATWG reading of the same string.
                Err(UrlError::EmptyHost) if leniency.empty_host => parse_whatwg(text),
                other => other,
            },
            Profile::Fetch if leniency.literal_percent_dots => {
                let mut url = parse_whatwg(&shield_percent_dots(text))?;
                url.path = unshield_percent_dots(&url.path);
                url.query = url.query.map(|q| unshield_percent_dots(&q));
                url.fragment = url.fragment.map(|f| unshield_percent_dots(&f));
                Ok(url)
            }
            Profile::Fetch => parse_whatwg(text),
        }
    }

    /// The request-target in origin-form (RFC 9110 §4.2.3: an empty path is `/`).
    pub fn origin_form(&self) -> String {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        match &self.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }

    /// The effective port.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The `Host` field value: the authority without userinfo, and without
    /// the port when it is the scheme's default.
    pub fn host_header(&self) -> String {
        match self.port {
            Some(p) if p != self.scheme.default_port() => format!("{}:{p}", self.host),
            _ => self.host.clone(),
        }
    }

    /// The authority without userinfo, the port kept as written even when it
    /// is the scheme's default (RFC 9112 §3.2's Host, read literally).
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// The host for DNS names and certificates: no brackets, no trailing dot,
    /// lowercase (RFC 6797 §8.2 and the origin's own normalisation).
    pub fn normalized_host(&self) -> String {
        normalize_host(&self.host)
    }

    /// The host is an IP literal (RFC 6797 §8.1.1: never a Known HSTS Host).
    pub fn host_is_ip(&self) -> bool {
        self.host.starts_with('[') || self.normalized_host().parse::<Ipv4Addr>().is_ok()
    }

    /// Scheme, host and port: what "same origin" compares.
    pub fn origin(&self) -> (Scheme, String, u16) {
        (self.scheme, self.normalized_host(), self.port_or_default())
    }

    /// The URL without its fragment (a base for resolution).
    pub fn without_fragment(&self) -> String {
        let mut copy = self.clone();
        copy.fragment = None;
        copy.to_string()
    }
}

impl fmt::Display for RequestUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(u) = &self.userinfo {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(&self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        if let Some(frag) = &self.fragment {
            write!(f, "#{frag}")?;
        }
        Ok(())
    }
}

/// Lowercase, strip brackets and one trailing dot.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

fn scheme_of(name: &str) -> Result<Scheme, UrlError> {
    if name.eq_ignore_ascii_case("http") {
        Ok(Scheme::Http)
    } else if name.eq_ignore_ascii_case("https") {
        Ok(Scheme::Https)
    } else {
        Err(UrlError::NotHttp {
            scheme: name.to_ascii_lowercase(),
        })
    }
}

fn parse_rfc3986(text: &str, leniency: Leniency) -> Result<RequestUrl, UrlError> {
    let uri = UriStr::new(text).map_err(|_| UrlError::Unparseable { text: text.to_owned() })?;
    let scheme = scheme_of(uri.scheme_str())?;
    let authority = uri.authority_components().ok_or(UrlError::NoAuthority)?;
    if authority.host().is_empty() {
        return Err(UrlError::EmptyHost);
    }
    let userinfo = authority.userinfo().map(str::to_owned);
    if userinfo.is_some() && !leniency.userinfo {
        return Err(UrlError::Userinfo);
    }
    let port = match authority.port() {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| UrlError::BadPort { port: p.to_owned() })?),
    };
    let host = if leniency.keep_host_case {
        authority.host().to_owned()
    } else {
        authority.host().to_ascii_lowercase()
    };
    Ok(RequestUrl {
        scheme,
        userinfo,
        host,
        port,
        path: uri.path_str().to_owned(),
        query: uri.query_str().map(str::to_owned),
        fragment: uri.fragment_str().map(str::to_owned),
    })
}

fn parse_whatwg(text: &str) -> Result<RequestUrl, UrlError> {
    let url = ada_url::Url::parse(text, None).map_err(|_| UrlError::Unparseable { text: text.to_owned() })?;
    let scheme = scheme_of(url.protocol().trim_end_matches(':'))?;
    if !url.has_hostname() || url.has_empty_hostname() {
        return Err(UrlError::EmptyHost);
    }
    let userinfo = match (url.username(), url.password()) {
        ("", "") => None,
        (user, "") => Some(user.to_owned()),
        (user, pass) => Some(format!("{user}:{pass}")),
    };
    let port = match url.port() {
        "" => None,
        port => Some(port.parse().map_err(|_| UrlError::BadPort { port: port.to_owned() })?),
    };
    // The getters give `?q` and `#f`, and "" for both an absent and an empty
    // query or fragment; `has_search`/`has_hash` tell the two apart.
    let query = url.has_search().then(|| strip_first(url.search(), '?'));
    let fragment = url.has_hash().then(|| strip_first(url.hash(), '#'));
    Ok(RequestUrl {
        scheme,
        userinfo,
        host: url.hostname().to_owned(),
        port,
        path: url.pathname().to_owned(),
        query,
        fragment,
    })
}

/// `text` without one leading `mark` (a query may itself start with `?`).
fn strip_first(text: &str, mark: char) -> String {
    text.strip_prefix(mark).unwrap_or(text).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("http://a/b?q#f", "a", None, "/b?q", Some("f"))]
    #[case::port("https://A.test:8443/", "a.test", Some(8443), "/", None)]
    #[case::empty_path("http://a", "a", None, "/", None)]
    #[case::empty_port("http://a:/x", "a", None, "/x", None)]
    #[case::ipv6("http://[::1]:81/", "[::1]", Some(81), "/", None)]
    fn parses_under_rfc9110(
        #[case] text: &str,
        #[case] host: &str,
        #[case] port: Option<u16>,
        #[case] target: &str,
        #[case] fragment: Option<&str>,
    ) {
        let url = RequestUrl::parse(Profile::Rfc9110, text, Leniency::default()).unwrap();
        assert_eq!(url.host, host);
        assert_eq!(url.port, port);
        assert_eq!(url.origin_form(), target);
        assert_eq!(url.fragment.as_deref(), fragment);
    }

    #[rstest]
    #[case::ftp("ftp://a/", UrlError::NotHttp { scheme: "ftp".into() })]
    #[case::no_authority("http:g", UrlError::NoAuthority)]
    #[case::empty_host("http:///x", UrlError::EmptyHost)]
    #[case::userinfo("http://u:p@b/", UrlError::Userinfo)]
    #[case::big_port("http://a:70000/", UrlError::BadPort { port: "70000".into() })]
    fn rejects_under_rfc9110(#[case] text: &str, #[case] error: UrlError) {
        assert_eq!(
            RequestUrl::parse(Profile::Rfc9110, text, Leniency::default()),
            Err(error)
        );
    }

    #[test]
    fn whatwg_repairs_the_empty_host_and_keeps_userinfo() {
        let url = RequestUrl::parse(Profile::Fetch, "http:///x", Leniency::default()).unwrap();
        assert_eq!(url.to_string(), "http://x/");
        let url = RequestUrl::parse(Profile::Fetch, "http://u:p@b/", Leniency::default()).unwrap();
        assert_eq!(url.userinfo.as_deref(), Some("u:p"));
        assert_eq!(url.host_header(), "b");
    }

    #[test]
    fn whatwg_tells_empty_query_and_fragment_from_absent_ones() {
        let url = |t| RequestUrl::parse(Profile::Fetch, t, Leniency::default()).unwrap();
        let empty = url("http://a/p?#");
        assert_eq!(
            (empty.query.as_deref(), empty.fragment.as_deref()),
            (Some(""), Some(""))
        );
        let absent = url("http://a/p");
        assert_eq!((absent.query, absent.fragment), (None, None));
        let doubled = url("http://a/p??x##y");
        assert_eq!(
            (doubled.query.as_deref(), doubled.fragment.as_deref()),
            (Some("?x"), Some("#y"))
        );
        assert_eq!(doubled.to_string(), "http://a/p??x##y");
        assert_eq!(url("http://a:80/").port, None);
        assert_eq!(url("http://a:8080/").port, Some(8080));
        assert_eq!(url("http://[::1]:81/").host, "[::1]");
    }

    #[test]
    fn whatwg_follows_the_current_standard_where_the_url_crate_lags() {
        let url = |t| RequestUrl::parse(Profile::Fetch, t, Leniency::default()).unwrap();
        assert_eq!(url("http://a.b.c.XN--pokxncvks").host, "a.b.c.xn--pokxncvks");
        assert_eq!(
            super::super::resolve::resolve_whatwg("http://example.org/", "///test").unwrap(),
            "http://test/"
        );
    }

    #[test]
    fn host_header_omits_only_the_default_port() {
        let url = |t| RequestUrl::parse(Profile::Rfc9110, t, Leniency::default()).unwrap();
        assert_eq!(url("http://h:80/").host_header(), "h");
        assert_eq!(url("https://h:443/").host_header(), "h");
        assert_eq!(url("https://h:80/").host_header(), "h:80");
        assert_eq!(url("http://h:8080/x?y#f").host_header(), "h:8080");
    }

    #[test]
    fn lenient_parses_for_mutants() {
        let keep_case = Leniency {
            keep_host_case: true,
            ..Leniency::default()
        };
        let url = RequestUrl::parse(Profile::Rfc9110, "http://H.Test/", keep_case).unwrap();
        assert_eq!(url.host, "H.Test");
        let literal = Leniency {
            literal_percent_dots: true,
            ..Leniency::default()
        };
        let url = RequestUrl::parse(Profile::Fetch, "http://a/b/%2E%2e/g", literal).unwrap();
        assert_eq!(url.path, "/b/%2e%2e/g");
        let url = RequestUrl::parse(Profile::Fetch, "http://a/b/%2E%2e/g", Leniency::default()).unwrap();
        assert_eq!(url.path, "/g");
    }

    #[test]
    fn ip_literals_are_recognised() {
        let url = |t| RequestUrl::parse(Profile::Rfc9110, t, Leniency::default()).unwrap();
        assert!(url("http://127.0.0.1/").host_is_ip());
        assert!(url("http://[::1]/").host_is_ip());
        assert!(!url("http://h.test./").host_is_ip());
        assert_eq!(url("http://H.Test./").normalized_host(), "h.test");
    }
}

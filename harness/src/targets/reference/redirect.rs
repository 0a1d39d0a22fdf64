//! The redirect decision, free of I/O: given the request just made and the
//! response's status and Location fields, what the next request is (RFC 9110 §15.4, Fetch).

use std::fmt;

use super::request_url::{Leniency, RequestUrl, Scheme, UrlError};
use super::resolve::{self, ResolveError};
use super::Rules;
use crate::case::Profile;
use crate::targets::mutant::Mutant;

/// Redirects followed in one step before giving up (Fetch redirect step 7).
pub const REDIRECT_LIMIT: usize = 20;

/// A ceiling for the `NoRedirectLimit` mutant, so it still ends on its own.
const NO_LIMIT_CEILING: usize = 1000;

/// The longest Location the `ShortUriLimit` mutant accepts, in octets.
const SHORT_URI_LIMIT: usize = 2048;

/// Fields that describe the content, dropped with the body (RFC 9110 §15.4 item 5).
const CONTENT_FIELDS: [&str; 7] = [
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
    "content-length",
    "digest",
    "last-modified",
];

/// Caller-set fields that stay with the origin they were meant for.
const CREDENTIAL_FIELDS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// One request as the agent means to make it (before framing and Host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: RequestUrl,
    /// Caller-set fields that survived so far, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body comes from a stream that cannot be replayed.
    pub streamed: bool,
}

/// What one step's chain remembers across hops.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The first request's URL, as sent.
    pub first_url: RequestUrl,
    /// Credentials the caller set on the first request.
    first_credentials: Vec<(String, String)>,
    credentials_dropped: bool,
    pub redirects: usize,
}

impl Chain {
    pub fn new(first: &Request) -> Chain {
        Chain {
            first_url: first.url.clone(),
            first_credentials: first
                .headers
                .iter()
                .filter(|(n, _)| is_credential(n))
                .cloned()
                .collect(),
            credentials_dropped: false,
            redirects: 0,
        }
    }
}

/// What to do after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The response is the step's answer.
    Final,
    /// Make this request next.
    Follow(Box<Request>),
}

/// Why a redirect ends the step with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// A 3xx without Location (only the `ErrorWithoutLocation` mutant calls this an error).
    MissingLocation { status: u16 },
    /// More than one Location field (RFC 9110 §10.2.2 note; Fetch: network error).
    SeveralLocations { count: usize },
    /// The Location does not resolve to a URL.
    BadLocation(ResolveError),
    /// The resolved Location is not a URL the agent can load.
    BadTarget(UrlError),
    /// The limit of redirects per step was reached.
    TooManyRedirects { limit: usize },
    /// The Location is longer than the agent accepts (only the `ShortUriLimit` mutant).
    LocationTooLong { length: usize, limit: usize },
    /// The body would have to be sent again, but it came from a stream.
    CannotReplayBody { status: u16 },
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::MissingLocation { status } => write!(f, "{status} without Location"),
            RedirectError::SeveralLocations { count } => write!(f, "{count} Location fields"),
            RedirectError::BadLocation(e) => write!(f, "bad Location: {e}"),
            RedirectError::BadTarget(e) => write!(f, "bad redirect target: {e}"),
            RedirectError::TooManyRedirects { limit } => write!(f, "too many redirects (limit {limit})"),
            RedirectError::LocationTooLong { length, limit } => {
                write!(f, "Location of {length} octets is over the limit of {limit}")
            }
            RedirectError::CannotReplayBody { status } => {
                write!(f, "cannot replay a streamed body for a {status} redirect")
            }
        }
    }
}

impl std::error::Error for RedirectError {}

/// Decide what follows a response with `status` and these Location field values.
pub fn next(
    rules: Rules,
    chain: &mut Chain,
    request: &Request,
    status: u16,
    locations: &[String],
) -> Result<Next, RedirectError> {
    if !(300..400).contains(&status) {
        return Ok(Next::Final);
    }
    if locations.is_empty() && rules.breaks(Mutant::ErrorWithoutLocation) {
        return Err(RedirectError::MissingLocation { status });
    }
    let followable = matches!(status, 301 | 302 | 303 | 307 | 308) || rules.breaks(Mutant::FollowUnknown3xx);
    if !followable {
        return Ok(Next::Final);
    }
    let location = match locations {
        [] if rules.breaks(Mutant::FollowWithoutLocation) => "",
        [] => return Ok(Next::Final),
        [one] => one.as_str(),
        [first, ..] if rules.breaks(Mutant::FirstOfMultipleLocations) => first.as_str(),
        _ if rules.breaks(Mutant::FinalOnBadLocation) => return Ok(Next::Final),
        several => return Err(RedirectError::SeveralLocations { count: several.len() }),
    };
    let target = match target_url(rules, chain, request, location) {
        Ok(url) => url,
        Err(RedirectError::BadTarget(UrlError::NotHttp { .. })) if rules.breaks(Mutant::FollowNonHttpSchemes) => {
            return Ok(Next::Final)
        }
        Err(_) if rules.breaks(Mutant::FinalOnBadLocation) => return Ok(Next::Final),
        Err(e) => return Err(e),
    };

    let limit = if rules.breaks(Mutant::NoRedirectLimit) {
        NO_LIMIT_CEILING
    } else if rules.breaks(Mutant::RedirectLimit5) {
        5
    } else if rules.breaks(Mutant::RedirectLimit4) {
        4
    } else {
        REDIRECT_LIMIT
    };
    if chain.redirects >= limit {
        return Err(RedirectError::TooManyRedirects { limit });
    }
    chain.redirects += 1;

    let mut follow = Request {
        method: request.method.clone(),
        url: target,
        headers: request.headers.clone(),
        body: request.body.clone(),
        streamed: request.streamed,
    };
    let change = method_change(rules, status, &request.method);
    // Fetch redirect step 11: any non-303 redirect of a streamed body fails,
    // even one that would drop the body.
    let fetch_refuses = rules.profile == Profile::Fetch && status != 303 && request.streamed;
    let needs_replay = change.keeps_body && request.streamed;
    if (fetch_refuses || needs_replay) && !rules.breaks(Mutant::ReplayStreamedBody) {
        return Err(RedirectError::CannotReplayBody { status });
    }
    follow.method = change.method;
    if !change.keeps_body {
        if !rules.breaks(Mutant::KeepBodyOnRewrite) || !change.rewritten {
            follow.body.clear();
            follow.streamed = false;
        }
        if change.drops_content_fields && !rules.breaks(Mutant::KeepContentHeadersOnRewrite) {
            follow.headers.retain(|(n, _)| !is_content_field(n));
        }
    }
    apply_credential_rules(rules, chain, request, &mut follow);
    follow.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("referer"));
    let referer = if rules.breaks(Mutant::AutoReferer) {
        Some(request.url.to_string())
    } else {
        referer(&request.url, &follow.url)
    };
    if let Some(referer) = referer {
        follow.headers.push(("Referer".to_owned(), referer));
    }
    Ok(Next::Follow(Box::new(follow)))
}

/// The Referer of a follow-up: the URL that answered with the redirect, as
/// RFC 9110 §10.1.3 allows it and Referrer Policy's default
/// (`strict-origin-when-cross-origin`) trims it — never from https to http,
/// only the origin across origins, never a fragment or userinfo. Sending one
/// at all makes the Referer cases observable against the reference.
fn referer(from: &RequestUrl, to: &RequestUrl) -> Option<String> {
    if from.scheme == Scheme::Https && to.scheme == Scheme::Http {
        return None;
    }
    let mut referring = from.clone();
    referring.userinfo = None;
    referring.fragment = None;
    if from.origin() != to.origin() {
        referring.path = "/".to_owned();
        referring.query = None;
    }
    Some(referring.to_string())
}

/// Resolve the Location and carry the fragment over (RFC 9110 §10.2.2).
fn target_url(rules: Rules, chain: &Chain, request: &Request, location: &str) -> Result<RequestUrl, RedirectError> {
    let base_url = if rules.breaks(Mutant::ResolveAgainstFirstUrl) {
        &chain.first_url
    } else {
        &request.url
    };
    let mut base = base_url.without_fragment();
    let url_profile = if rules.breaks(Mutant::WhatwgUnderRfc9110) {
        Profile::Fetch
    } else if rules.breaks(Mutant::Rfc3986UnderFetch) {
        Profile::Rfc9110
    } else {
        rules.profile
    };
    if rules.breaks(Mutant::ResolveAgainstFullPath) {
        let mut whole = base_url.clone();
        whole.fragment = None;
        whole.query = None;
        if !whole.path.ends_with('/') {
            whole.path.push('/');
        }
        base = whole.to_string();
    }
    if rules.breaks(Mutant::ShortUriLimit) && location.len() > SHORT_URI_LIMIT {
        return Err(RedirectError::LocationTooLong {
            length: location.len(),
            limit: SHORT_URI_LIMIT,
        });
    }
    let misread;
    let location = if rules.breaks(Mutant::DotPrefixSegments) {
        misread = resolve::mistake_dot_prefixes(location);
        misread.as_str()
    } else {
        location
    };
    let same_scheme = format!("{}:", base_url.scheme.as_str());
    let location = match location.strip_prefix(&same_scheme) {
        Some(rest) if rules.breaks(Mutant::SameSchemeRelative) && !rest.starts_with("//") => rest,
        _ => location,
    };
    let literal_percent_dots = rules.breaks(Mutant::LiteralPercentDots) && url_profile == Profile::Fetch;
    let misread_network_path = if rules.breaks(Mutant::NetworkPathAsPath) {
        resolve::network_path_as_path(&base, location)
    } else {
        None
    };
    let mut resolved = if let Some(glued) = misread_network_path {
        glued
    } else if rules.breaks(Mutant::NaiveResolve) {
        resolve::resolve_naive(&base, location)
    } else if literal_percent_dots {
        resolve::resolve_whatwg_literal_percent_dots(&base, location).map_err(RedirectError::BadLocation)?
    } else {
        resolve::resolve(url_profile, &base, location).map_err(RedirectError::BadLocation)?
    };
    if rules.breaks(Mutant::KeepBaseQuery) {
        resolved = resolve::keep_base_query(&base, location, &resolved);
    }
    if rules.breaks(Mutant::DotSegmentsInQuery) {
        resolved = resolve::remove_dot_segments_through_query(&resolved);
    }
    let leniency = Leniency {
        userinfo: rules.breaks(Mutant::AcceptUserinfo),
        empty_host: rules.breaks(Mutant::AcceptEmptyHost),
        literal_percent_dots,
        keep_host_case: rules.breaks(Mutant::HstsCaseSensitiveHost),
    };
    let mut target = RequestUrl::parse(url_profile, &resolved, leniency).map_err(RedirectError::BadTarget)?;
    let current = &request.url.fragment;
    target.fragment = match (target.fragment.take(), current) {
        (None, _) if rules.breaks(Mutant::NoFragmentInheritance) => None,
        (None, current) => current.clone(),
        (Some(_), Some(current)) if rules.breaks(Mutant::KeepsOldFragment) => Some(current.clone()),
        (Some(new), _) => Some(new),
    };
    Ok(target)
}

/// How a redirect changes the method.
struct MethodChange {
    method: String,
    keeps_body: bool,
    /// The method was changed to a retrieval (a rewrite, not a plain loss of body).
    rewritten: bool,
    drops_content_fields: bool,
}

fn method_change(rules: Rules, status: u16, method: &str) -> MethodChange {
    let keep = MethodChange {
        method: method.to_owned(),
        keeps_body: true,
        rewritten: false,
        drops_content_fields: false,
    };
    let to = |m: &str| MethodChange {
        method: m.to_owned(),
        keeps_body: false,
        rewritten: true,
        drops_content_fields: true,
    };
    let lose_body = MethodChange {
        method: method.to_owned(),
        keeps_body: false,
        rewritten: false,
        drops_content_fields: false,
    };
    let is = |m: &str| method.eq_ignore_ascii_case(m);
    match status {
        _ if is("GET") && rules.breaks(Mutant::GetFollowedAsHead) => to("HEAD"),
        307 if rules.breaks(Mutant::ChangeMethodOn307) => to("GET"),
        307 if rules.breaks(Mutant::DropBodyOn307) => lose_body,
        308 if rules.breaks(Mutant::ChangeMethodOn308) => to("GET"),
        308 if rules.breaks(Mutant::DropBodyOn308) => lose_body,
        303 if is("HEAD") && !rules.breaks(Mutant::HeadToGetOn303) => to("HEAD"),
        303 if rules.breaks(Mutant::KeepMethodOn303) && !is("GET") && !is("HEAD") => keep,
        303 => to("GET"),
        301 if is("POST") && rules.breaks(Mutant::KeepPostOn301) => keep,
        302 if is("POST") && rules.breaks(Mutant::KeepPostOn302) => keep,
        301 | 302 if is("POST") => to("GET"),
        301 | 302 if is("HEAD") && rules.breaks(Mutant::HeadToGetOn301Or302) => to("GET"),
        301 if !is("GET") && !is("HEAD") && rules.breaks(Mutant::RewritePutOn301) => to("GET"),
        302 if !is("GET") && !is("HEAD") && rules.breaks(Mutant::RewritePutOn302) => to("GET"),
        301 if rules.breaks(Mutant::DropBodyOn301) => lose_body,
        302 if rules.breaks(Mutant::DropBodyOn302) => lose_body,
        _ => keep,
    }
}

/// Drop credentials on an origin change, for good (RFC 9110 §15.4 item 3).
/// They are not restored when a later hop returns to the first origin: the
/// agent cannot know the foreign hops in between were trustworthy, and the
/// chain from there on is under another origin's control.
fn apply_credential_rules(rules: Rules, chain: &mut Chain, previous: &Request, follow: &mut Request) {
    let crossed = if rules.breaks(Mutant::DropCredentialsSameOrigin) {
        true
    } else if rules.breaks(Mutant::HostOnlyOriginCheck) {
        previous.url.normalized_host() != follow.url.normalized_host()
    } else {
        previous.url.origin() != follow.url.origin()
    };
    if crossed {
        chain.credentials_dropped = true;
        follow.headers.retain(|(name, _)| {
            let n = name.to_ascii_lowercase();
            match n.as_str() {
                "authorization" => rules.breaks(Mutant::KeepAuthorizationCrossOrigin),
                "cookie" => rules.breaks(Mutant::KeepCookieCrossOrigin),
                "proxy-authorization" => rules.breaks(Mutant::KeepProxyAuthorizationCrossOrigin),
                _ => true,
            }
        });
    } else if rules.breaks(Mutant::DropProxyAuthorizationSameOrigin) {
        follow
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("proxy-authorization"));
    }
    let back_home = follow.url.origin() == chain.first_url.origin();
    if back_home && chain.credentials_dropped && rules.breaks(Mutant::ReaddCredentialsOnReturn) {
        for field in &chain.first_credentials {
            if !follow.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(&field.0)) {
                follow.headers.push(field.clone());
            }
        }
    }
}

fn is_content_field(name: &str) -> bool {
    CONTENT_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f))
}

fn is_credential(name: &str) -> bool {
    CREDENTIAL_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const RFC: Rules = Rules {
        profile: Profile::Rfc9110,
        mutant: None,
    };
    const FETCH: Rules = Rules {
        profile: Profile::Fetch,
        mutant: None,
    };

    fn broken(mutant: Mutant) -> Rules {
        Rules {
            profile: Profile::Rfc9110,
            mutant: Some(mutant),
        }
    }

    fn request(method: &str, url: &str) -> Request {
        Request {
            method: method.to_owned(),
            url: RequestUrl::parse(Profile::Rfc9110, url, Leniency::default()).unwrap(),
            headers: vec![
                ("Content-Type".to_owned(), "text/plain".to_owned()),
                ("Authorization".to_owned(), "Bearer t".to_owned()),
                ("Cookie".to_owned(), "c=1".to_owned()),
                ("Proxy-Authorization".to_owned(), "Basic p".to_owned()),
                ("X-Keep".to_owned(), "1".to_owned()),
            ],
            body: b"a=1".to_vec(),
            streamed: false,
        }
    }

    fn decide(rules: Rules, req: &Request, status: u16, locations: &[&str]) -> Result<Next, RedirectError> {
        let mut chain = Chain::new(req);
        let locations: Vec<String> = locations.iter().map(|l| l.to_string()).collect();
        next(rules, &mut chain, req, status, &locations)
    }

    fn follow(rules: Rules, req: &Request, status: u16, location: &str) -> Request {
        match decide(rules, req, status, &[location]) {
            Ok(Next::Follow(next)) => *next,
            other => panic!("expected a follow-up, got {other:?}"),
        }
    }

    fn names(req: &Request) -> Vec<String> {
        req.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect()
    }

    #[rstest]
    #[case::s307_post(307, "POST", "POST", true)]
    #[case::s308_put(308, "PUT", "PUT", true)]
    #[case::s303_post(303, "POST", "GET", false)]
    #[case::s303_head(303, "HEAD", "HEAD", false)]
    #[case::s301_post(301, "POST", "GET", false)]
    #[case::s302_post(302, "POST", "GET", false)]
    #[case::s301_put(301, "PUT", "PUT", true)]
    #[case::s302_delete(302, "DELETE", "DELETE", true)]
    fn method_and_body(#[case] status: u16, #[case] method: &str, #[case] expected: &str, #[case] keeps_body: bool) {
        let next = follow(RFC, &request(method, "http://a.test/x"), status, "/y");
        assert_eq!(next.method, expected);
        assert_eq!(next.body.is_empty(), !keeps_body);
        assert_eq!(names(&next).contains(&"content-type".to_owned()), keeps_body);
        assert_eq!(next.url.to_string(), "http://a.test/y");
    }

    #[rstest]
    #[case::s300(300)]
    #[case::s304(304)]
    #[case::s305(305)]
    #[case::s306(306)]
    #[case::s399(399)]
    #[case::s200(200)]
    fn other_statuses_are_final(#[case] status: u16) {
        assert_eq!(
            decide(RFC, &request("GET", "http://a.test/"), status, &["/y"]),
            Ok(Next::Final)
        );
        assert_eq!(
            decide(FETCH, &request("GET", "http://a.test/"), status, &["/y"]),
            Ok(Next::Final)
        );
    }

    #[test]
    fn missing_location_is_final_and_several_are_an_error() {
        let req = request("GET", "http://a.test/");
        assert_eq!(decide(RFC, &req, 302, &[]), Ok(Next::Final));
        assert_eq!(
            decide(RFC, &req, 302, &["/a", "/b"]),
            Err(RedirectError::SeveralLocations { count: 2 })
        );
    }

    #[rstest]
    #[case::ftp("ftp://a.test/x")]
    #[case::data("data:text/plain,x")]
    #[case::no_authority("http:g")]
    #[case::empty_host("http:///x")]
    #[case::userinfo("http://u:p@b.test/")]
    #[case::not_a_uri("/a b")]
    fn bad_targets_are_errors_under_rfc9110(#[case] location: &str) {
        assert!(decide(RFC, &request("GET", "http://a.test/"), 302, &[location]).is_err());
    }

    #[test]
    fn fetch_repairs_what_whatwg_repairs() {
        let req = request("GET", "http://a.test/b/c");
        assert_eq!(follow(FETCH, &req, 302, "http:///x").url.to_string(), "http://x/");
        assert_eq!(follow(FETCH, &req, 302, "http:g").url.to_string(), "http://a.test/b/g");
        assert_eq!(
            follow(FETCH, &req, 302, "http://u:p@b.test/").url.to_string(),
            "http://u:p@b.test/"
        );
        assert!(decide(FETCH, &req, 302, &["ftp://a.test/"]).is_err());
    }

    #[rstest]
    #[case::inherit("http://a.test/x#f", "/y", Some("f"))]
    #[case::replace("http://a.test/x#f", "/y#g", Some("g"))]
    #[case::empty_replaces("http://a.test/x#f", "/y#", Some(""))]
    #[case::none("http://a.test/x", "/y", None)]
    fn fragments(#[case] start: &str, #[case] location: &str, #[case] fragment: Option<&str>) {
        let next = follow(RFC, &request("GET", start), 302, location);
        assert_eq!(next.url.fragment.as_deref(), fragment);
    }

    #[test]
    fn credentials_are_dropped_on_any_origin_change_and_stay_dropped() {
        let start = request("GET", "http://a.test/");
        let mut chain = Chain::new(&start);
        let step =
            |chain: &mut Chain, req: &Request, location: &str| match next(RFC, chain, req, 302, &[location.to_owned()])
            {
                Ok(Next::Follow(next)) => *next,
                other => panic!("{other:?}"),
            };
        let same = step(&mut chain, &start, "/same");
        assert!(names(&same).contains(&"authorization".to_owned()));
        let other_port = step(&mut chain, &same, "http://a.test:8080/");
        assert_eq!(names(&other_port), ["content-type", "x-keep", "referer"]);
        let back = step(&mut chain, &other_port, "http://a.test/");
        assert_eq!(names(&back), ["content-type", "x-keep", "referer"]);
        let https = follow(RFC, &start, 302, "https://a.test/");
        assert!(!names(&https).contains(&"authorization".to_owned()));
    }

    #[test]
    fn proxy_authorization_mutant_drops_it_on_the_same_origin() {
        let start = request("GET", "http://a.test/");
        let same = follow(broken(Mutant::DropProxyAuthorizationSameOrigin), &start, 302, "/same");
        assert_eq!(
            names(&same),
            ["content-type", "authorization", "cookie", "x-keep", "referer"]
        );
        assert!(names(&follow(RFC, &start, 302, "/same")).contains(&"proxy-authorization".to_owned()));
    }

    #[test]
    fn readding_mutant_restores_credentials_at_home() {
        let rules = broken(Mutant::ReaddCredentialsOnReturn);
        let start = request("GET", "http://a.test/");
        let mut chain = Chain::new(&start);
        let Ok(Next::Follow(away)) = next(rules, &mut chain, &start, 302, &["http://b.test/".to_owned()]) else {
            panic!("no follow-up")
        };
        assert!(!names(&away).contains(&"cookie".to_owned()));
        let Ok(Next::Follow(home)) = next(rules, &mut chain, &away, 302, &["http://a.test/".to_owned()]) else {
            panic!("no follow-up")
        };
        assert!(names(&home).contains(&"cookie".to_owned()));
    }

    #[test]
    fn chains_resolve_against_the_url_that_produced_the_redirect() {
        let start = request("GET", "http://a.test/p/q");
        let mut chain = Chain::new(&start);
        let Ok(Next::Follow(hop2)) = next(RFC, &mut chain, &start, 302, &["//b.test/x/".to_owned()]) else {
            panic!("no follow-up")
        };
        let Ok(Next::Follow(hop3)) = next(RFC, &mut chain, &hop2, 302, &["y".to_owned()]) else {
            panic!("no follow-up")
        };
        assert_eq!(hop3.url.to_string(), "http://b.test/x/y");
    }

    #[test]
    fn the_21st_redirect_is_an_error() {
        let start = request("GET", "http://a.test/");
        let mut chain = Chain::new(&start);
        let mut current = start;
        for _ in 0..REDIRECT_LIMIT {
            match next(RFC, &mut chain, &current, 302, &["/again".to_owned()]) {
                Ok(Next::Follow(n)) => current = *n,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            next(RFC, &mut chain, &current, 302, &["/again".to_owned()]),
            Err(RedirectError::TooManyRedirects { limit: 20 })
        );
    }

    #[test]
    fn streamed_bodies_are_not_replayed() {
        let mut req = request("POST", "http://a.test/");
        req.streamed = true;
        for status in [307, 308] {
            assert_eq!(
                decide(RFC, &req, status, &["/y"]),
                Err(RedirectError::CannotReplayBody { status })
            );
        }
        assert_eq!(follow(RFC, &req, 303, "/y").method, "GET");
        assert_eq!(follow(RFC, &req, 302, "/y").method, "GET");
        // Fetch redirect step 11 refuses any non-303 redirect of a streamed body.
        assert!(decide(FETCH, &req, 302, &["/y"]).is_err());
        assert_eq!(follow(broken(Mutant::ReplayStreamedBody), &req, 307, "/y").body, b"a=1");
    }

    #[rstest]
    #[case::change_307(Mutant::ChangeMethodOn307, 307, "POST", "GET", false)]
    #[case::drop_307(Mutant::DropBodyOn307, 307, "POST", "POST", false)]
    #[case::change_308(Mutant::ChangeMethodOn308, 308, "POST", "GET", false)]
    #[case::drop_308(Mutant::DropBodyOn308, 308, "POST", "POST", false)]
    #[case::keep_303(Mutant::KeepMethodOn303, 303, "POST", "POST", true)]
    #[case::head_303(Mutant::HeadToGetOn303, 303, "HEAD", "GET", false)]
    #[case::post_301(Mutant::KeepPostOn301, 301, "POST", "POST", true)]
    #[case::post_302(Mutant::KeepPostOn302, 302, "POST", "POST", true)]
    #[case::put_301(Mutant::RewritePutOn301, 301, "PUT", "GET", false)]
    #[case::put_302(Mutant::RewritePutOn302, 302, "PUT", "GET", false)]
    #[case::keep_body(Mutant::KeepBodyOnRewrite, 303, "POST", "GET", true)]
    #[case::get_as_head_307(Mutant::GetFollowedAsHead, 307, "GET", "HEAD", false)]
    #[case::get_as_head_301(Mutant::GetFollowedAsHead, 301, "GET", "HEAD", false)]
    fn method_mutants(
        #[case] mutant: Mutant,
        #[case] status: u16,
        #[case] method: &str,
        #[case] expected: &str,
        #[case] keeps_body: bool,
    ) {
        let next = follow(broken(mutant), &request(method, "http://a.test/"), status, "/y");
        assert_eq!(next.method, expected);
        assert_eq!(!next.body.is_empty(), keeps_body);
    }

    #[test]
    fn auto_referer_sends_the_whole_previous_url() {
        let start = request("GET", "https://a.test/p?q#frag");
        let next = follow(broken(Mutant::AutoReferer), &start, 302, "http://b.test/");
        assert!(next
            .headers
            .contains(&("Referer".to_owned(), "https://a.test/p?q#frag".to_owned())));
        assert!(!names(&follow(RFC, &start, 302, "http://b.test/")).contains(&"referer".to_owned()));
    }

    fn referer_of(from: &str, location: &str) -> Option<String> {
        let next = follow(RFC, &request("GET", from), 302, location);
        next.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("referer"))
            .map(|(_, v)| v.clone())
    }

    #[rstest]
    #[case::same_origin("http://a.test/p?q#f", "/next", Some("http://a.test/p?q"))]
    #[case::cross_origin("https://a.test/p?q", "https://b.test/", Some("https://a.test/"))]
    #[case::other_port("http://a.test/p", "http://a.test:8080/", Some("http://a.test/"))]
    #[case::https_to_http("https://a.test/p", "http://a.test/p", None)]
    fn the_reference_sends_a_trimmed_referer(#[case] from: &str, #[case] location: &str, #[case] sent: Option<&str>) {
        assert_eq!(referer_of(from, location).as_deref(), sent);
    }

    #[test]
    fn limit_mutants_stop_early() {
        let start = request("GET", "http://a.test/");
        let mut chain = Chain::new(&start);
        let rules = broken(Mutant::RedirectLimit4);
        let mut current = start;
        for _ in 0..4 {
            match next(rules, &mut chain, &current, 302, &["/again".to_owned()]) {
                Ok(Next::Follow(n)) => current = *n,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            next(rules, &mut chain, &current, 302, &["/again".to_owned()]),
            Err(RedirectError::TooManyRedirects { limit: 4 })
        );
        let long = format!("/{}", "a".repeat(2048));
        let req = request("GET", "http://a.test/");
        assert_eq!(follow(RFC, &req, 302, &long).url.path.len(), 2049);
        assert_eq!(
            decide(broken(Mutant::ShortUriLimit), &req, 302, &[long.as_str()]),
            Err(RedirectError::LocationTooLong {
                length: 2049,
                limit: 2048
            })
        );
    }

    #[test]
    fn resolution_mutants_for_the_section_5_4_vectors() {
        let req = request("GET", "http://a.test/b/c/d;p?q");
        let via = |m, l| follow(broken(m), &req, 302, l).url.to_string();
        assert_eq!(via(Mutant::KeepBaseQuery, "g"), "http://a.test/b/c/g?q");
        assert_eq!(via(Mutant::KeepBaseQuery, "g?y"), "http://a.test/b/c/g?y");
        assert_eq!(via(Mutant::DotPrefixSegments, "..g"), "http://a.test/b/g");
        assert_eq!(via(Mutant::DotPrefixSegments, "g."), "http://a.test/b/c/g");
        assert_eq!(follow(RFC, &req, 302, "//g").url.to_string(), "http://g");
        assert_eq!(via(Mutant::NetworkPathAsPath, "//g"), "http://a.test//g");
        assert_eq!(via(Mutant::NetworkPathAsPath, "/g"), "http://a.test/g");
        let network_path_under_fetch = Rules {
            profile: Profile::Fetch,
            mutant: Some(Mutant::NetworkPathAsPath),
        };
        assert_eq!(
            follow(network_path_under_fetch, &req, 302, "//g?y").url.to_string(),
            "http://a.test//g?y"
        );
        let fetch = Rules {
            profile: Profile::Fetch,
            mutant: Some(Mutant::LiteralPercentDots),
        };
        let req = request("GET", "http://a.test/start");
        assert_eq!(
            follow(fetch, &req, 302, "/a/%2e%2e/g").url.to_string(),
            "http://a.test/a/%2e%2e/g"
        );
        assert_eq!(
            follow(FETCH, &req, 302, "/a/%2e%2e/g").url.to_string(),
            "http://a.test/g"
        );
    }

    #[test]
    fn resolution_mutants() {
        let req = request("GET", "http://a.test/b/c/d");
        assert_eq!(
            follow(broken(Mutant::NaiveResolve), &req, 302, "../g").url.to_string(),
            "http://a.test/b/c/../g"
        );
        assert_eq!(
            follow(broken(Mutant::AcceptEmptyHost), &req, 302, "http:///x")
                .url
                .to_string(),
            "http://x/"
        );
        assert_eq!(
            decide(broken(Mutant::FollowNonHttpSchemes), &req, 302, &["ftp://a.test/"]),
            Ok(Next::Final)
        );
        assert_eq!(
            follow(broken(Mutant::FirstOfMultipleLocations), &req, 302, "/one")
                .url
                .to_string(),
            "http://a.test/one"
        );
        assert!(matches!(
            decide(broken(Mutant::FollowUnknown3xx), &req, 399, &["/y"]),
            Ok(Next::Follow(_))
        ));
        assert!(matches!(
            decide(broken(Mutant::FollowWithoutLocation), &req, 302, &[]),
            Ok(Next::Follow(_))
        ));
    }
}

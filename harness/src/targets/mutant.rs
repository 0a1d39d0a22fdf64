//! Mutants: the reference user agent with one rule deliberately broken. Each
//! declares the requirement ids (`suites/requirements.toml`) it breaks, and
//! every `must`/`should` case (every `fetch` case under fetch) must be failed
//! by a mutant that breaks one of the requirements the case cites.

use serde::{Deserialize, Serialize};

macro_rules! mutants {
    ($( $(#[doc = $doc:literal])* $name:ident => [$($id:literal),+ $(,)?] $rule:literal, )*) => {
        /// One deliberately broken rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum Mutant {
            $( $(#[doc = $doc])* $name, )*
        }

        impl Mutant {
            /// Every mutant, in a stable order.
            pub const ALL: &'static [Mutant] = &[$( Mutant::$name, )*];

            /// The rule this mutant breaks, in words, with its section.
            pub fn rule(self) -> &'static str {
                match self {
                    $( Mutant::$name => $rule, )*
                }
            }

            /// The requirement ids this mutant breaks: a case citing one of
            /// them counts as able to fail when this mutant fails it.
            pub fn breaks(self) -> &'static [&'static str] {
                match self {
                    $( Mutant::$name => &[$($id),+], )*
                }
            }
        }
    };
}

mutants! {
    // Method and body (RFC 9110 §15.4, Fetch HTTP-redirect fetch step 12).
    /// A 307 follow-up is rewritten to GET without body.
    ChangeMethodOn307 => ["RED-307-METHOD"] "RFC 9110 §15.4.8: the method is not changed when following a 307",
    /// A 307 follow-up keeps the method but sends no body.
    DropBodyOn307 => ["RED-307-METHOD", "FET-REPLAY"] "RFC 9110 §15.4.8: a 307 follow-up repeats the request with its body",
    /// A 308 follow-up is rewritten to GET without body.
    ChangeMethodOn308 => ["RED-308-METHOD"] "RFC 9110 §15.4.9, RFC 7538 §3: the method is not changed when following a 308",
    /// A 308 follow-up keeps the method but sends no body.
    DropBodyOn308 => ["RED-308-METHOD", "FET-REPLAY"] "RFC 9110 §15.4.9: a 308 follow-up repeats the request with its body",
    /// A 303 after POST (or any non-GET/HEAD) repeats the method and body.
    KeepMethodOn303 => ["RED-303", "FET-REWRITE"] "RFC 9110 §15.4.4: a 303 is followed by a retrieval (GET or HEAD) without body",
    /// A 303 after HEAD becomes GET.
    HeadToGetOn303 => ["RED-303", "FET-REWRITE"] "RFC 9110 §15.4.4, Fetch redirect step 12: HEAD stays HEAD after a 303",
    /// A 301 after POST repeats POST and its body.
    KeepPostOn301 => ["FET-REWRITE"] "RFC 9110 §15.4.2 note, Fetch redirect step 12: POST becomes GET after a 301",
    /// A 302 after POST repeats POST and its body.
    KeepPostOn302 => ["FET-REWRITE"] "RFC 9110 §15.4.3 note, Fetch redirect step 12: POST becomes GET after a 302",
    /// A 301 after PUT (or any method but GET, HEAD) becomes GET without body.
    RewritePutOn301 => ["RED-30x-OTHER"] "RFC 9110 §15.4.2: only POST may be rewritten; other methods are kept on a 301",
    /// A 302 after PUT (or any method but GET, HEAD) becomes GET without body.
    RewritePutOn302 => ["RED-30x-OTHER"] "RFC 9110 §15.4.3: only POST may be rewritten; other methods are kept on a 302",
    /// A 301 or 302 after HEAD becomes GET.
    HeadToGetOn301Or302 => ["RED-30x-OTHER"] "RFC 9110 §15.4.2, §15.4.3: only POST may be rewritten; HEAD is kept",
    /// A 301 follow-up keeps the method (other than POST) but sends no body.
    DropBodyOn301 => ["RED-30x-OTHER", "FET-REPLAY"] "RFC 9110 §15.4.2: a 301 follow-up of a method other than POST repeats the body",
    /// A 302 follow-up keeps the method (other than POST) but sends no body.
    DropBodyOn302 => ["RED-30x-OTHER", "FET-REPLAY"] "RFC 9110 §15.4.3: a 302 follow-up of a method other than POST repeats the body",
    /// A follow-up of GET is sent as HEAD, whatever the status (a link checker's shortcut: only
    /// where the chain ends matters).
    GetFollowedAsHead => ["RED-307-METHOD", "RED-308-METHOD", "RED-30x-OTHER", "RED-303"]
        "RFC 9110 §15.4.2–§15.4.9: a GET is followed with GET on every redirect status",
    /// A request rewritten to GET still carries the original body.
    KeepBodyOnRewrite => ["RED-HDR-CONTENT", "FET-REWRITE"] "RFC 9110 §15.4 item 5, Fetch redirect step 12: a request rewritten to GET has no body",
    /// A request rewritten to GET keeps Content-Type and the other content fields.
    KeepContentHeadersOnRewrite => ["RED-HDR-CONTENT", "FET-REWRITE"] "RFC 9110 §15.4 item 5: after a change to GET, drop Content-Encoding, \
        Content-Language, Content-Location, Content-Type, Content-Length, Digest, Last-Modified",
    /// A streamed (non-replayable) body is sent again on a 307/308.
    ReplayStreamedBody => ["FET-NULLSRC"] "Fetch redirect step 11: a non-303 redirect of a null-source body is a network error",

    // Target and Host (RFC 9110 §7.2, §10.2.2, §15.4; RFC 3986 §5).
    /// Every hop after the first sends the first hop's Host.
    StaleHost => ["RED-HOST", "RED-HDR-AUTO"] "RFC 9110 §7.2, §15.4 item 2: Host is regenerated for the new target",
    /// Each Location of a chain is resolved against the step's URL instead of the URL that produced it.
    ResolveAgainstFirstUrl => ["LOC-CHAIN-BASE", "LOC-RESOLVE", "RED-TARGET"] "RFC 9110 §10.2.2, RFC 3986 §5.1.3: Location resolves against the URI that got the 3xx",
    /// Relative paths merge with the whole base path, as if it ended in `/`.
    ResolveAgainstFullPath => ["URI-ALGO", "LOC-RESOLVE"] "RFC 3986 §5.2.3: merging drops the base's last segment",
    /// A network-path reference (`//g`) is taken as an absolute path: `//g` against
    /// `http://a/b/c/d;p?q` becomes `http://a//g`.
    NetworkPathAsPath => ["URI-ALGO", "LOC-RESOLVE", "URL-SLASHES"] "RFC 3986 §5.2.2, §5.4.1, WHATWG URL relative slash state: \
        a reference starting with `//` replaces the authority",
    /// Dot segments are removed from the query too.
    DotSegmentsInQuery => ["URI-QSEP", "URI-ALGO"] "RFC 3986 §5.2.4 note, §5.4.2: the query is split off before dot segments are removed",
    /// `http:g` is read as the relative `g` (the backward-compatible reading).
    SameSchemeRelative => ["URI-HTTPG", "URI-ALGO"] "RFC 3986 §5.2.2, §5.4.2: a strict parser keeps `http:g` as an absolute URI",
    /// Locations are parsed and resolved by the WHATWG URL Standard under the rfc9110 profile.
    WhatwgUnderRfc9110 => ["URI-ALGO", "LOC-RESOLVE"] "RFC 3986 §5.2, RFC 9110 §10.2.2: a Location is a URI-reference resolved by RFC 3986",
    /// Locations are parsed and resolved by RFC 3986 under the fetch profile.
    Rfc3986UnderFetch => ["URL-STRIP", "URL-BSLASH", "URL-SLASHES", "URL-SAMESCHEME", "URL-PCT", "URL-HOST", "URL-PORT", "URL-DOT", "FET-LOC-FAIL"] "Fetch location URL step 3, WHATWG URL basic URL parser: a Location is parsed as a URL \
        against the response's URL",
    /// Relative references are glued to the base's directory without removing dot segments.
    NaiveResolve => ["URI-ALGO", "URI-DOTSEG", "LOC-RESOLVE"] "RFC 3986 §5.2.2–5.2.4: references resolve by the algorithm, dot segments removed",
    /// A relative-path reference without query keeps the base's query.
    KeepBaseQuery => ["URI-ALGO", "LOC-RESOLVE"] "RFC 3986 §5.2.2: a reference with a path takes its own query, or none",
    /// Any segment starting with `.` counts as a dot segment (`..g` climbs, `g.` loses its dot).
    DotPrefixSegments => ["URI-DOTSEG", "URI-ALGO"] "RFC 3986 §5.2.4: only the complete segments `.` and `..` are dot segments",
    /// The WHATWG parser's `%2e` equivalence is skipped: `/a/%2e%2e/g` stays as written.
    LiteralPercentDots => ["URL-DOT"] "Fetch location URL step 3, WHATWG URL path state: `%2e` and `%2e%2e` \
        segments are dot segments",
    /// A Location over 2048 octets is an error.
    ShortUriLimit => ["URI-LENGTH"] "RFC 9110 §4.1: URIs of at least 8000 octets are supported in protocol elements",
    /// A Location without fragment loses the current fragment.
    NoFragmentInheritance => ["LOC-FRAG-INHERIT", "FET-FRAG"] "RFC 9110 §10.2.2: a Location without fragment inherits the original one",
    /// A Location fragment does not replace the current fragment.
    KeepsOldFragment => ["LOC-FRAG-REPLACE"] "RFC 9110 §10.2.2, RFC 3986 §5.2.2: the Location's fragment replaces the current one",
    /// The fragment goes on the wire (percent-encoded, since hyper's URI type cannot carry `#`).
    SendFragment => ["LOC-FRAG-WIRE"] "RFC 9110 §7.1, RFC 9112 §3.2: the fragment is never sent in the request-target",

    // Credentials (RFC 9110 §15.4 item 3, Fetch redirect step 13).
    /// Authorization is kept across an origin change.
    KeepAuthorizationCrossOrigin => ["RED-HDR-SENS", "FET-AUTHZ"] "RFC 9110 §15.4 item 3, Fetch redirect step 13: Authorization is \
        dropped when the redirect leaves the origin",
    /// Cookie is kept across an origin change.
    KeepCookieCrossOrigin => ["RED-HDR-SENS"] "RFC 9110 §15.4 item 3: Cookie is dropped when the redirect leaves the origin",
    /// Proxy-Authorization is kept across an origin change.
    KeepProxyAuthorizationCrossOrigin => ["RED-HDR-AUTO"] "RFC 9110 §15.4 item 2: Proxy-Authorization is not carried to \
        another origin",
    /// Proxy-Authorization is dropped on every redirect, same origin included (a client that
    /// treats it as a field it generated for one request only).
    DropProxyAuthorizationSameOrigin => ["RED-HDR-AUTO"] "RFC 9110 §15.4: the original request is resent; a caller's \
        Proxy-Authorization stays with a same-origin follow-up",
    /// Dropped credentials come back when the chain returns to the first origin (A→B→A).
    ReaddCredentialsOnReturn => ["RED-HDR-SENS", "FET-AUTHZ"] "RFC 9110 §15.4 item 3: once a chain left the origin, it cannot be \
        trusted to bring credentials back",
    /// Credentials are dropped on every redirect, same origin included.
    DropCredentialsSameOrigin => ["RED-HDR-SENS", "FET-AUTHZ"] "RFC 9110 §15.4 item 3: credentials are removed only where a redirect has \
        security implications (another origin)",
    /// Only the host is compared: a scheme or port change keeps the credentials.
    HostOnlyOriginCheck => ["RED-HDR-SENS", "FET-AUTHZ"] "Fetch redirect step 13, RFC 6454 §4: an origin is scheme, host and port",
    /// Every follow-up carries the previous hop's full URL (fragment and userinfo included)
    /// as Referer, also from https to http and to other origins.
    AutoReferer => ["REF-STRIP", "REF-DOWNGRADE", "REF-XORIGIN"] "RFC 9110 §10.1.3: Referer never carries a fragment or userinfo, is not sent from \
        https to http, and not to another origin from https unless allowed",

    // Which responses are followed (RFC 9110 §15.4, Fetch "redirect status").
    /// A Location of another scheme ends the step as a success (the 3xx is reported as final).
    FollowNonHttpSchemes => ["FET-SCHEME"] "Fetch redirect step 6: a non-HTTP(S) Location is a network error",
    /// A 3xx without Location is taken as `Location: ` (the current URL) and re-requested.
    FollowWithoutLocation => ["RED-NOLOC", "FET-LOC-NULL"] "RFC 9110 §15.4: a 3xx without Location is not followed",
    /// A 3xx without Location is an error instead of the final response.
    ErrorWithoutLocation => ["RED-NOLOC", "FET-LOC-NULL"] "RFC 9110 §15.4, Fetch HTTP-redirect fetch step 4: a 3xx without Location \
        is returned as the response",
    /// 300, 304, 305, 306 and unknown 3xx are followed when they carry a Location.
    FollowUnknown3xx => ["RED-UNKNOWN", "FET-STATUS"] "Fetch redirect status; RFC 9110 §15: only 301, 302, 303, 307, 308 are followed",
    /// An unparseable Location or several Location fields end the step as a success.
    FinalOnBadLocation => ["FET-LOC-FAIL", "LOC-INVALID"] "RFC 9110 §10.2.2 note, Fetch location URL step 3: an invalid or duplicated \
        Location is an error",
    /// Redirects are followed without a limit (until the origin stops answering 3xx).
    NoRedirectLimit => ["RED-LOOP", "FET-COUNT"] "RFC 9110 §15.4, Fetch redirect step 7: at most 20 redirects, loops detected",
    /// The 6th redirect is already an error.
    RedirectLimit5 => ["FET-COUNT"] "Fetch redirect step 7: 20 redirects are followed",
    /// The old advice of five redirects, counted as requests: the 5th redirect is already an error.
    RedirectLimit4 => ["FET-COUNT"] "Fetch redirect step 7: 20 redirects are followed",
    /// The first of several Location fields is used.
    FirstOfMultipleLocations => ["FET-LOC-FAIL", "LOC-MULTI"] "RFC 9110 §10.2.2 note, Fetch extract header list values: several \
        Location fields are an error",
    /// `http:///x` is repaired (WHATWG style) under the rfc9110 profile.
    AcceptEmptyHost => ["URI-EMPTYHOST"] "RFC 9110 §4.2.1: an http URI with an empty host is rejected",
    /// A Location with userinfo is followed under the rfc9110 profile.
    AcceptUserinfo => ["URI-USERINFO"] "RFC 9110 §4.2.4: userinfo in an http URI is treated as an error",
    /// A URL's userinfo is sent in the absolute-form request-target (through the proxy).
    SendUserinfo => ["URI-USERINFO-WIRE"] "RFC 9110 §4.2.4: a sender never generates userinfo in a target URI",

    // HSTS (RFC 6797).
    /// An upgraded `http://h:80/` goes to `https://h:80/`.
    HstsKeepsPort80 => ["HSTS-UA-PORT80"] "RFC 6797 §8.3 step 5: an explicit port 80 becomes 443",
    /// An upgraded URL loses its explicit non-80 port.
    HstsDropsExplicitPort => ["HSTS-UA-PORTX"] "RFC 6797 §8.3 step 5: another explicit port is preserved",
    /// An upgraded URL without port gets an explicit `:443`, which its Host field carries (RFC 9112
    /// §3.2: Host is the target URI's authority; without that the added port would be invisible).
    HstsAddsPort443 => ["HSTS-UA-NOPORT"] "RFC 6797 §8.3 step 5: no port is added when none was explicit",
    /// A forgiving STS parser: directives split on `;` or `,`, quotes need not
    /// close, max-age is read from its leading digits.
    HstsLenientSyntax => ["HSTS-SYN-INVALID"] "RFC 6797 §6.1 item 4: a field not matching the grammar is ignored",
    /// A missing or unreadable max-age counts as one year.
    HstsDefaultMaxAge => ["HSTS-MAXAGE-REQ", "HSTS-SYN-INVALID"] "RFC 6797 §6.1.1: max-age is required and is 1*DIGIT",
    /// Directives other than max-age and includeSubDomains make the field invalid.
    HstsRejectsUnknownDirectives => ["HSTS-SYN-UNKNOWN"] "RFC 6797 §6.1 item 5: unknown directives are ignored",
    /// No whitespace but the single space after `;`, and no empty directives.
    HstsStrictWhitespace => ["HSTS-SYN-INVALID"] "RFC 6797 §6.1: the grammar allows implied LWS and empty directives",
    /// A max-age that overflows 64 bits makes the field invalid.
    HstsRejectsHugeMaxAge => ["HSTS-MAXAGE-REQ"] "RFC 6797 §6.1.1: max-age is any 1*DIGIT, however large",
    /// A max-age with leading zeros (`060`) makes the field invalid (a parser that wants a
    /// canonical number).
    HstsRejectsLeadingZeros => ["HSTS-MAXAGE-REQ"] "RFC 6797 §6.1.1: max-age is any 1*DIGIT, \
        leading zeros included",
    /// STS over plain HTTP is noted.
    HstsOverPlainHttp => ["HSTS-UA-INSECURE"] "RFC 6797 §8.1: STS received over non-secure transport is ignored",
    /// IP-literal hosts are noted and matched.
    HstsNotesIp => ["HSTS-UA-IP"] "RFC 6797 §8.1.1, §8.3 step 3: IP-literal hosts are never Known HSTS Hosts",
    /// includeSubDomains is ignored when noting.
    HstsIgnoresIncludeSubDomains => ["HSTS-ISD"] "RFC 6797 §6.1.2, §8.2: includeSubDomains covers subdomains",
    /// Every entry covers subdomains, with or without includeSubDomains.
    HstsSubdomainsWithoutDirective => ["HSTS-ISD"] "RFC 6797 §6.1.2, §8.2: without includeSubDomains only the \
        congruent host is covered",
    /// A field with a repeated directive is accepted (the last one counts).
    HstsAcceptsDuplicates => ["HSTS-SYN-ONCE"] "RFC 6797 §6.1 item 2: a field with a repeated directive is invalid",
    /// max-age=0 is not special: it notes (or keeps) the host for the session.
    HstsIgnoresMaxAgeZero => ["HSTS-UA-ZERO"] "RFC 6797 §6.1.1 note, §8.1: max-age=0 deletes the Known HSTS Host",
    /// Directives before max-age are ignored (a parser that looks for max-age and reads on from
    /// there): `includeSubDomains; max-age=60` notes the host without includeSubDomains.
    HstsDirectivesBeforeMaxAgeIgnored => ["HSTS-SYN-ORDER"] "RFC 6797 §6.1 item 1: the order of directives is not significant",
    /// A host already known keeps its first max-age and includeSubDomains (max-age=0 still deletes).
    HstsKeepsFirstPolicy => ["HSTS-UA-UPDATE"] "RFC 6797 §8.1.1: a later valid STS updates the cached max-age and \
        includeSubDomains",
    /// No STS field is ever noted: the store stays as preloaded.
    HstsNeverNotes => ["HSTS-UA-NOTE"] "RFC 6797 §8.1: a valid STS field over error-free TLS makes the \
        host a Known HSTS Host",
    /// STS is noted only from 2xx responses.
    HstsOnlyOn2xx => ["HSTS-UA-NOTE"] "RFC 6797 §8.1: STS is processed on any response over a secure transport",
    /// Redirect targets are not upgraded, only the step's URL.
    HstsSkipsRedirectTargets => ["HSTS-UA-UPGRADE", "FET-HSTS"] "RFC 6797 §8.3: every http URI of a Known HSTS Host is upgraded, \
        redirect targets included",
    /// The last of several STS fields is processed.
    HstsLastHeaderWins => ["HSTS-UA-FIRST"] "RFC 6797 §8.1: only the first STS field is processed",
    /// Directive names match only as spelled `max-age` and `includeSubDomains`.
    HstsRequiresLowercase => ["HSTS-SYN-CASE"] "RFC 6797 §6.1 item 3: directive names are case-insensitive",
    /// A quoted max-age value makes the field invalid.
    HstsRejectsQuoted => ["HSTS-SYN-QUOTED"] "RFC 6797 §6.1, §6.2: max-age may be a quoted-string",
    /// Entries never expire.
    HstsNoExpiry => ["HSTS-UA-EXPIRE"] "RFC 6797 §8.1.1: an entry expires after max-age seconds",
    /// max-age is counted in milliseconds, so entries expire a thousand times too early.
    HstsMaxAgeInMilliseconds => ["HSTS-UA-EXPIRE"] "RFC 6797 §8.1.1: an entry lives max-age seconds after reception",
    /// STS is noted although certificate verification failed (verification switched off).
    HstsNotesDespiteTlsError => ["HSTS-UA-TLSERR"] "RFC 6797 §8.1: STS is noted only over a connection without TLS errors",
    /// The step's insecure flag (the user switching verification off) overrides the hard fail for
    /// a Known HSTS Host.
    HstsSoftFail => ["HSTS-UA-NORECOURSE"] "RFC 6797 §12.1: a TLS error to a Known HSTS Host is fatal with no user recourse",
    /// An includeSubDomains entry matches any host ending in its name (`xh.test` matches `h.test`).
    HstsSuffixMatch => ["HSTS-UA-MATCH"] "RFC 6797 §8.2: superdomain matching is label-wise",
    /// An includeSubDomains entry covers everything below its parent domain, the way a cookie
    /// Domain does (`a.h.test` covers `b.h.test`).
    HstsMatchesSiblings => ["HSTS-UA-MATCH"] "RFC 6797 §8.2: an includeSubDomains entry covers its own subdomains only",
    /// Host names are stored and compared byte for byte, as written (URL parser keeps the case).
    HstsCaseSensitiveHost => ["HSTS-UA-MATCH"] "RFC 6797 §8.2: host names match case-insensitively",
    /// A trailing dot makes a different host name (`h.test.` is not `h.test`).
    HstsTrailingDotDistinct => ["HSTS-UA-MATCH"] "RFC 6797 §8.2, §8.3: a host name is matched without its trailing dot",
    /// An entry also covers the superdomains of its host.
    HstsMatchesSuperdomain => ["HSTS-UA-MATCH"] "RFC 6797 §8.2: an entry covers its host and, with includeSubDomains, \
        its subdomains; never its superdomains",
    /// A subdomain's STS also updates (or deletes) an includeSubDomains superdomain entry.
    HstsSubdomainUpdatesParent => ["HSTS-UA-SUPER"] "RFC 6797 §8.1.1: a subdomain's STS never changes a superdomain's entry",
    /// A response without STS forgets the host.
    HstsForgetsWithoutHeader => ["HSTS-UA-MISSING"] "RFC 6797 §8.6: a response without STS does not un-note the host",
    /// Known HSTS Hosts are never upgraded.
    HstsNoUpgrade => ["HSTS-UA-UPGRADE", "FET-HSTS"] "RFC 6797 §8.3: an http URI of a Known HSTS Host is loaded over https",
    /// `localhost` and the names below it are upgraded under the fetch profile.
    HstsUpgradesLocalhostUnderFetch => ["FET-HSTS"] "Fetch main fetch: HSTS never applies to localhost",
    /// Preloaded entries cover only their own host: includeSubDomains on a preloaded entry is ignored.
    HstsPreloadWithoutSubdomains => ["HSTS-ISD"] "RFC 6797 §12.3, §8.2: a preloaded includeSubDomains entry covers subdomains \
        like a noted one",
    /// The preload list is ignored.
    HstsNoPreload => ["HSTS-UA-UPGRADE"] "RFC 6797 §12.3: preloaded hosts are Known HSTS Hosts from the start",
}

impl Mutant {
    /// The mutant's name, as printed (`KeepMethodOn303`).
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// The mutant with this name.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// Whether this mutant breaks one of `cited` (requirement ids).
    pub fn breaks_any<'a>(self, mut cited: impl Iterator<Item = &'a str>) -> bool {
        cited.any(|id| self.breaks().contains(&id))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Mutant;
    use crate::case::Catalogue;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<String> = Mutant::ALL.iter().map(|m| m.name()).collect();
        for name in &names {
            assert_eq!(
                Mutant::from_name(name).map(Mutant::name).as_deref(),
                Some(name.as_str())
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len());
    }

    #[test]
    fn every_rule_cites_a_section() {
        for m in Mutant::ALL {
            assert!(m.rule().contains('§') || m.rule().starts_with("Fetch"), "{m:?}");
        }
    }

    #[test]
    fn every_broken_requirement_is_in_the_catalogue() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/requirements.toml");
        let catalogue = Catalogue::load(&path).expect("the requirements catalogue loads");
        for m in Mutant::ALL {
            assert!(!m.breaks().is_empty(), "{m:?} declares no requirement");
            for id in m.breaks() {
                assert!(
                    catalogue.get(id).is_some(),
                    "{m:?} breaks `{id}`, which the catalogue lacks"
                );
            }
        }
    }
}

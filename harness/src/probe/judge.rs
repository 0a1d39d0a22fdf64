//! Judging a server's answers to one probe case. Pure: the responses come
//! from [`super::client`], the verdict kinds from [`crate::verdict`].
//!
//! RFC checks are graded by the strongest requirement the case cites (a
//! MUST miss is `fail`, a SHOULD miss `warn`, anything weaker `info`).
//! Preload checks follow the HSTS preload list's submission rules, which no
//! RFC states: a miss is `warn` with a stable issue code
//! (`preload.max_age_too_low`), never a `fail`.

use serde::{Deserialize, Serialize};

use crate::case::{Catalogue, Level};
use crate::verdict::VerdictKind;

use super::load::{ProbeCase, Scheme};

/// The judgement a probe case applies, by name in the case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Check {
    /// The response has the case's `status` and a Location field.
    LocationPresent,
    /// A redirect's Location is one field holding a URI-reference (no raw
    /// space, no non-ASCII).
    LocationSyntax,
    /// A redirect's Location has no userinfo.
    LocationNoUserinfo,
    /// The response is a permanent redirect (301 or 308).
    RedirectPermanent,
    /// The redirect goes to an https URI.
    RedirectToHttps,
    /// The redirect stays on the request's host.
    RedirectSameHost,
    /// The redirect keeps the request's path.
    RedirectKeepsPath,
    /// The redirect keeps the request's query.
    RedirectKeepsQuery,
    /// A redirect of a request other than GET is 307 or 308.
    RedirectKeepsMethod,
    /// The response carries a Strict-Transport-Security field.
    StsPresent,
    /// The response carries at most one Strict-Transport-Security field.
    StsAtMostOne,
    /// Every Strict-Transport-Security field matches RFC 6797's grammar.
    StsSyntax,
    /// Every Strict-Transport-Security field has a delta-seconds max-age.
    StsMaxAge,
    /// The max-age is above zero.
    StsMaxAgeNonzero,
    /// A plain-HTTP response carries no Strict-Transport-Security field.
    StsAbsentOverHttp,
    /// A 304 to the conditional request carries the fields of RFC 9110
    /// §15.4.5 that the 200 carried.
    NotModifiedHeaders,
    /// Preload: max-age at least 31536000.
    PreloadMaxAge,
    /// Preload: includeSubDomains present.
    PreloadIncludeSubdomains,
    /// Preload: the preload directive present.
    PreloadDirective,
    /// Preload: `http://host/` redirects first to `https://host/`.
    PreloadHttpRedirect,
}

impl Check {
    /// The name case files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::LocationPresent => "location-present",
            Check::LocationSyntax => "location-syntax",
            Check::LocationNoUserinfo => "location-no-userinfo",
            Check::RedirectPermanent => "redirect-permanent",
            Check::RedirectToHttps => "redirect-to-https",
            Check::RedirectSameHost => "redirect-same-host",
            Check::RedirectKeepsPath => "redirect-keeps-path",
            Check::RedirectKeepsQuery => "redirect-keeps-query",
            Check::RedirectKeepsMethod => "redirect-keeps-method",
            Check::StsPresent => "sts-present",
            Check::StsAtMostOne => "sts-at-most-one",
            Check::StsSyntax => "sts-syntax",
            Check::StsMaxAge => "sts-max-age",
            Check::StsMaxAgeNonzero => "sts-max-age-nonzero",
            Check::StsAbsentOverHttp => "sts-absent-over-http",
            Check::NotModifiedHeaders => "not-modified-headers",
            Check::PreloadMaxAge => "preload-max-age",
            Check::PreloadIncludeSubdomains => "preload-include-subdomains",
            Check::PreloadDirective => "preload-directive",
            Check::PreloadHttpRedirect => "preload-http-redirect",
        }
    }

    /// Whether the check is one of the preload list's rules (the `preload` area).
    pub fn is_preload(self) -> bool {
        matches!(
            self,
            Check::PreloadMaxAge
                | Check::PreloadIncludeSubdomains
                | Check::PreloadDirective
                | Check::PreloadHttpRedirect
        )
    }

    /// The scheme the judged (last) request must use, when the check means one.
    pub(crate) fn scheme(self) -> Option<Scheme> {
        match self {
            Check::StsAbsentOverHttp | Check::PreloadHttpRedirect => Some(Scheme::Http),
            Check::StsPresent
            | Check::StsAtMostOne
            | Check::StsSyntax
            | Check::StsMaxAge
            | Check::StsMaxAgeNonzero
            | Check::PreloadMaxAge
            | Check::PreloadIncludeSubdomains
            | Check::PreloadDirective => Some(Scheme::Https),
            _ => None,
        }
    }

    pub(crate) fn needs_status(self) -> bool {
        self == Check::LocationPresent
    }

    pub(crate) fn needs_two_requests(self) -> bool {
        self == Check::NotModifiedHeaders
    }
}

/// One response as the probe received it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Answer {
    pub status: u16,
    /// Field lines in the order received, names lower-case.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// Every value of field `name` (lower-case), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The verdict on one probe case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Judgement {
    #[serde(rename = "verdict")]
    pub kind: VerdictKind,
    /// The preload issue code of a preload miss (`preload.max_age_too_low`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub reason: String,
}

/// What a check found, before grading.
enum Finding {
    Holds(String),
    Misses(String),
    Preload(&'static str, String),
    /// The answer is not the kind the case judges (a 200 where it needs a 301).
    NotApplicable(String),
}

/// The verdict on `case` given the URL of each request and its answer.
pub fn judge(case: &ProbeCase, catalogue: &Catalogue, sent: &[(url::Url, Answer)]) -> Judgement {
    let finding = match sent.last() {
        Some((url, last)) => find(case, url, last, sent),
        None => Finding::NotApplicable("no request was sent".to_owned()),
    };
    match finding {
        Finding::Holds(reason) => Judgement {
            kind: VerdictKind::Pass,
            code: None,
            reason,
        },
        Finding::Misses(reason) => Judgement {
            kind: grade(case, catalogue),
            code: None,
            reason,
        },
        Finding::Preload(code, reason) => Judgement {
            kind: VerdictKind::Warn,
            code: Some(code.to_owned()),
            reason,
        },
        Finding::NotApplicable(reason) => Judgement {
            kind: VerdictKind::Unsupported,
            code: None,
            reason,
        },
    }
}

/// The verdict a miss gets: by the strongest requirement the case cites.
fn grade(case: &ProbeCase, catalogue: &Catalogue) -> VerdictKind {
    let strongest = case
        .file
        .requirements
        .iter()
        .filter_map(|id| catalogue.get(id))
        .map(|r| r.level)
        .min();
    match strongest {
        Some(Level::Must) => VerdictKind::Fail,
        Some(Level::Should) => VerdictKind::Warn,
        _ => VerdictKind::Info,
    }
}

const STS: &str = "strict-transport-security";
/// The fields RFC 9110 §15.4.5 has a 304 repeat from the 200.
const NOT_MODIFIED_FIELDS: [&str; 6] = ["cache-control", "content-location", "date", "etag", "expires", "vary"];
/// hstspreload.org's minimum max-age (one year).
pub const PRELOAD_MIN_MAX_AGE: u64 = 31_536_000;

fn find(case: &ProbeCase, url: &url::Url, last: &Answer, sent: &[(url::Url, Answer)]) -> Finding {
    let status = last.status;
    let is_redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
    let locations: Vec<&str> = last.values("location").collect();
    let target = || -> Result<url::Url, Finding> {
        if !is_redirect {
            return Err(Finding::NotApplicable(format!(
                "the answer is {status}, not a redirect"
            )));
        }
        let [location] = locations.as_slice() else {
            return Err(Finding::NotApplicable(format!(
                "the {status} has {} Location fields, not one",
                locations.len()
            )));
        };
        url.join(location)
            .map_err(|e| Finding::NotApplicable(format!("Location `{location}` does not resolve: {e}")))
    };
    let sts: Vec<&str> = last.values(STS).collect();
    match case.file.check {
        Check::LocationPresent => {
            let expected = case.file.status.unwrap_or_default();
            if status != expected {
                Finding::NotApplicable(format!(
                    "the answer is {status}; the case needs {} answered with {expected}",
                    url.path()
                ))
            } else if locations.is_empty() {
                Finding::Misses(format!("the {status} has no Location field"))
            } else {
                Finding::Holds(format!("the {status} has Location `{}`", locations.join(", ")))
            }
        }
        Check::LocationSyntax => {
            if !is_redirect || locations.is_empty() {
                return Finding::NotApplicable(format!("the answer is {status} without Location"));
            }
            if locations.len() > 1 {
                return Finding::Misses(format!("{} Location field lines", locations.len()));
            }
            let location = locations[0];
            if let Some(c) = location.chars().find(|c| !c.is_ascii_graphic()) {
                Finding::Misses(format!(
                    "Location `{location}` holds {c:?}, which a URI-reference cannot"
                ))
            } else if iri_string::types::UriReferenceStr::new(location).is_err() {
                Finding::Misses(format!("Location `{location}` is not a URI-reference"))
            } else {
                Finding::Holds(format!("Location `{location}` is a URI-reference"))
            }
        }
        Check::LocationNoUserinfo => match target() {
            Err(finding) => finding,
            Ok(to) if !to.username().is_empty() || to.password().is_some() => {
                Finding::Misses(format!("Location `{}` carries userinfo", locations[0]))
            }
            Ok(_) => Finding::Holds(format!("Location `{}` has no userinfo", locations[0])),
        },
        Check::RedirectPermanent => match status {
            301 | 308 => Finding::Holds(format!("{status} is a permanent redirect")),
            _ => Finding::Misses(format!("the answer is {status}, not 301 or 308")),
        },
        Check::RedirectToHttps => match target() {
            Err(finding) => finding,
            Ok(to) if to.scheme() == "https" => Finding::Holds(format!("{status} to `{to}`")),
            Ok(to) => Finding::Misses(format!("{status} to `{to}`, not https")),
        },
        Check::RedirectSameHost => match target() {
            Err(finding) => finding,
            Ok(to) if to.host_str() == url.host_str() => Finding::Holds(format!("{status} to `{to}`: same host")),
            Ok(to) => Finding::Misses(format!("{status} to `{to}`, another host than {}", host(url))),
        },
        Check::RedirectKeepsPath => match target() {
            Err(finding) => finding,
            Ok(to) if to.path() == url.path() => Finding::Holds(format!("{status} to `{to}` keeps the path")),
            Ok(to) => Finding::Misses(format!("{status} to `{to}` loses the path `{}`", url.path())),
        },
        Check::RedirectKeepsQuery => match target() {
            Err(finding) => finding,
            Ok(to) if to.query() == url.query() => Finding::Holds(format!("{status} to `{to}` keeps the query")),
            Ok(to) => Finding::Misses(format!(
                "{status} to `{to}` loses the query `{}`",
                url.query().unwrap_or_default()
            )),
        },
        Check::RedirectKeepsMethod => match status {
            307 | 308 => Finding::Holds(format!("{status} keeps the method")),
            301..=303 => Finding::Misses(format!("{status} lets the client change the method to GET")),
            _ => Finding::NotApplicable(format!("the answer is {status}, not a redirect")),
        },
        Check::StsPresent => match sts.len() {
            0 => Finding::Misses("no Strict-Transport-Security field".to_owned()),
            n => Finding::Holds(format!("{n} Strict-Transport-Security field(s)")),
        },
        Check::StsAtMostOne => match sts.len() {
            0 | 1 => Finding::Holds(format!("{} Strict-Transport-Security field(s)", sts.len())),
            n => Finding::Misses(format!("{n} Strict-Transport-Security fields: `{}`", sts.join("` `"))),
        },
        Check::StsSyntax => each_sts(&sts, |value| parse_sts(value).map(|_| ())),
        Check::StsMaxAge => each_sts(&sts, |value| max_age(value).map(|_| ())),
        Check::StsMaxAgeNonzero => each_sts(&sts, |value| match max_age(value) {
            Ok(0) => Err("max-age=0 withdraws the policy".to_owned()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }),
        Check::StsAbsentOverHttp => match sts.len() {
            0 => Finding::Holds(format!(
                "the {} answer has no Strict-Transport-Security field",
                url.scheme()
            )),
            _ => Finding::Misses(format!(
                "the {} answer has Strict-Transport-Security `{}`",
                url.scheme(),
                sts.join("` `")
            )),
        },
        Check::NotModifiedHeaders => not_modified(sent),
        Check::PreloadMaxAge => preload_field(&sts, |directives| {
            let Some(max_age) = find_directive(directives, "max-age") else {
                return Err(("preload.max_age_missing", "no max-age".to_owned()));
            };
            let value = max_age.value.as_deref().unwrap_or_default();
            let digits = !max_age.quoted && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            match value.parse::<u64>() {
                Ok(age) if digits && age >= PRELOAD_MIN_MAX_AGE => Ok(format!("max-age={age}")),
                // Digits beyond u64: far more than a year.
                Err(_) if digits => Ok(format!("max-age={value}")),
                Ok(age) if digits => Err((
                    "preload.max_age_too_low",
                    format!("max-age={age}, below {PRELOAD_MIN_MAX_AGE}"),
                )),
                _ => Err((
                    "preload.max_age_non_digit",
                    format!("max-age `{}` is not unquoted digits", value),
                )),
            }
        }),
        Check::PreloadIncludeSubdomains => {
            preload_field(&sts, |directives| match directive(directives, "includesubdomains") {
                Some(_) => Ok("includeSubDomains".to_owned()),
                None => Err(("preload.no_include_subdomains", "no includeSubDomains".to_owned())),
            })
        }
        Check::PreloadDirective => preload_field(&sts, |directives| match directive(directives, "preload") {
            Some(_) => Ok("preload".to_owned()),
            None => Err(("preload.no_preload_directive", "no preload directive".to_owned())),
        }),
        Check::PreloadHttpRedirect => match target() {
            Err(_) => Finding::Preload(
                "preload.http.no_redirect",
                format!("http answers {status} without one Location, not a redirect to https"),
            ),
            Ok(to) if to.scheme() != "https" => Finding::Preload(
                "preload.http.first_redirect_not_https",
                format!("the first redirect goes to `{to}`"),
            ),
            Ok(to) if to.host_str() != url.host_str() => Finding::Preload(
                "preload.http.first_redirect_other_host",
                format!("the first redirect goes to `{to}`, not {}", host(url)),
            ),
            Ok(to) => Finding::Holds(format!("http redirects first to `{to}`")),
        },
    }
}

fn host(url: &url::Url) -> &str {
    url.host_str().unwrap_or_default()
}

/// Applies `check` to every STS field; no field is nothing to judge.
fn each_sts(sts: &[&str], check: impl Fn(&str) -> Result<(), String>) -> Finding {
    if sts.is_empty() {
        return Finding::NotApplicable("no Strict-Transport-Security field to judge".to_owned());
    }
    for value in sts {
        if let Err(why) = check(value) {
            return Finding::Misses(format!("`{value}`: {why}"));
        }
    }
    Finding::Holds(format!("`{}`", sts.join("` `")))
}

/// A preload check on the first STS field (hstspreload reads one).
fn preload_field(sts: &[&str], check: impl Fn(&[Directive]) -> Result<String, (&'static str, String)>) -> Finding {
    let Some(value) = sts.first() else {
        return Finding::Preload("preload.no_header", "no Strict-Transport-Security field".to_owned());
    };
    match parse_sts(value) {
        Err(why) => Finding::Preload("preload.header_syntax", format!("`{value}`: {why}")),
        Ok(directives) => match check(&directives) {
            Ok(holds) => Finding::Holds(holds),
            Err((code, why)) => Finding::Preload(code, why),
        },
    }
}

fn find_directive<'d>(directives: &'d [Directive], name: &str) -> Option<&'d Directive> {
    directives.iter().find(|d| d.name == name)
}

/// The value of directive `name` (empty when it has none), if present.
fn directive<'d>(directives: &'d [Directive], name: &str) -> Option<&'d str> {
    find_directive(directives, name).map(|d| d.value.as_deref().unwrap_or_default())
}

fn not_modified(sent: &[(url::Url, Answer)]) -> Finding {
    let (Some((_, first)), Some((_, last))) = (sent.first(), sent.last()) else {
        return Finding::NotApplicable("no request was sent".to_owned());
    };
    if first.status != 200 {
        return Finding::NotApplicable(format!("the plain request got {}, not 200", first.status));
    }
    if last.status != 304 {
        return Finding::NotApplicable(format!("the conditional request got {}, not 304", last.status));
    }
    let missing: Vec<&str> = NOT_MODIFIED_FIELDS
        .iter()
        .copied()
        .filter(|name| first.values(name).next().is_some() && last.values(name).next().is_none())
        .collect();
    if missing.is_empty() {
        Finding::Holds("the 304 repeats every field of §15.4.5 the 200 carried".to_owned())
    } else {
        Finding::Misses(format!("the 200 carried, the 304 lacks: {}", missing.join(", ")))
    }
}

/// One directive of a Strict-Transport-Security value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lower-case.
    pub name: String,
    /// The value, unquoted.
    pub value: Option<String>,
    /// Whether the value was a quoted-string (valid for RFC 6797, refused
    /// by the preload list's checker).
    pub quoted: bool,
}

/// The directives of a Strict-Transport-Security value per RFC 6797 §6.1,
/// or why it does not match.
pub fn parse_sts(value: &str) -> Result<Vec<Directive>, String> {
    let mut directives: Vec<Directive> = Vec::new();
    for part in value.split(';') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() {
            continue;
        }
        let (name, raw) = match part.split_once('=') {
            Some((name, raw)) => (name.trim_matches([' ', '\t']), Some(raw.trim_matches([' ', '\t']))),
            None => (part, None),
        };
        if !is_token(name) {
            return Err(format!("directive name `{name}` is not a token"));
        }
        let (value, quoted) = match raw {
            None => (None, false),
            Some(raw) if is_token(raw) => (Some(raw.to_owned()), false),
            Some(raw) => (
                Some(unquote(raw).ok_or_else(|| format!("value `{raw}` is neither a token nor a quoted-string"))?),
                true,
            ),
        };
        let name = name.to_ascii_lowercase();
        if directives.iter().any(|d| d.name == name) {
            return Err(format!("directive `{name}` appears twice"));
        }
        directives.push(Directive { name, value, quoted });
    }
    Ok(directives)
}

/// The max-age of a valid field (delta-seconds, possibly quoted).
fn max_age(value: &str) -> Result<u64, String> {
    let directives = parse_sts(value)?;
    match directive(&directives, "max-age") {
        None => Err("no max-age directive".to_owned()),
        Some(age) if !age.is_empty() && age.bytes().all(|b| b.is_ascii_digit()) => {
            // delta-seconds beyond u64 still means "a very long time".
            Ok(age.parse().unwrap_or(u64::MAX))
        }
        Some(age) => Err(format!("max-age `{age}` is not delta-seconds")),
    }
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn unquote(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::probe::load::parse_probe;

    fn catalogue() -> Catalogue {
        Catalogue::load(&crate::project_dir("suites").join("requirements.toml")).expect("catalogue")
    }

    /// The verdict of a one-request case with `check`, citing `rule`, on `answer`.
    fn verdict(id: &str, rule: &str, check: &str, url: &str, answer: Answer) -> Judgement {
        let catalogue = catalogue();
        let src = format!(
            "description = \"d\"\nrequirements = [\"{rule}\"]\ncheck = \"{check}\"\n[[request]]\npath = \"/\"\n"
        );
        let case = parse_probe(id, Path::new("x.toml"), &src, &catalogue).expect("case");
        let url = url::Url::parse(url).expect("url");
        judge(&case, &catalogue, &[(url, answer)])
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Answer {
        Answer {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }

    #[rstest::rstest]
    #[case::must_miss_fails("HSTS-SRV-ONE", "sts-at-most-one", &[("strict-transport-security", "max-age=1"), ("strict-transport-security", "max-age=1")], VerdictKind::Fail)]
    #[case::should_miss_warns("HSTS-SRV-SEND", "sts-present", &[], VerdictKind::Warn)]
    #[case::info_miss_is_info("HSTS-SRV-MAXAGE-ZERO", "sts-max-age-nonzero", &[("strict-transport-security", "max-age=0")], VerdictKind::Info)]
    #[case::nothing_to_judge("HSTS-SRV-SYNTAX", "sts-syntax", &[], VerdictKind::Unsupported)]
    #[case::holds("HSTS-SRV-SYNTAX", "sts-syntax", &[("strict-transport-security", "max-age=1; preload")], VerdictKind::Pass)]
    fn a_miss_is_graded_by_the_cited_level(
        #[case] rule: &str,
        #[case] check: &str,
        #[case] headers: &[(&str, &str)],
        #[case] expected: VerdictKind,
    ) {
        let judgement = verdict("hsts/x", rule, check, "https://site.test/", answer(200, headers));
        assert_eq!(judgement.kind, expected, "{}", judgement.reason);
    }

    #[rstest::rstest]
    #[case(
        "max-age=300; includeSubDomains; preload",
        "preload-max-age",
        Some("preload.max_age_too_low")
    )]
    #[case(
        "max-age=\"31536000\"; includeSubDomains; preload",
        "preload-max-age",
        Some("preload.max_age_non_digit")
    )]
    #[case(
        "max-age=31536000; preload",
        "preload-include-subdomains",
        Some("preload.no_include_subdomains")
    )]
    #[case(
        "max-age=31536000; includeSubDomains",
        "preload-directive",
        Some("preload.no_preload_directive")
    )]
    #[case("max-age=31536000; includeSubDomains; preload", "preload-directive", None)]
    fn preload_misses_warn_with_their_issue_code(#[case] sts: &str, #[case] check: &str, #[case] code: Option<&str>) {
        let judgement = verdict(
            "preload/x",
            "PRE-HEADER",
            check,
            "https://site.test/",
            answer(200, &[("strict-transport-security", sts)]),
        );
        assert_eq!(judgement.code.as_deref(), code, "{}", judgement.reason);
        let kind = if code.is_some() {
            VerdictKind::Warn
        } else {
            VerdictKind::Pass
        };
        assert_eq!(judgement.kind, kind);
    }

    #[rstest::rstest]
    #[case::raw_space("/a b", VerdictKind::Fail)]
    #[case::non_ascii("/caf\u{e9}", VerdictKind::Fail)]
    #[case::bad_percent("/a%zz", VerdictKind::Fail)]
    #[case::relative("/target?x=1", VerdictKind::Pass)]
    fn location_must_be_a_uri_reference(#[case] location: &str, #[case] expected: VerdictKind) {
        let judgement = verdict(
            "location/x",
            "LOC-SYNTAX",
            "location-syntax",
            "https://site.test/moved",
            answer(301, &[("location", location)]),
        );
        assert_eq!(judgement.kind, expected, "{}", judgement.reason);
    }

    #[rstest::rstest]
    #[case::kept("https://site.test/p?x=1", VerdictKind::Pass)]
    #[case::dropped("https://site.test/p", VerdictKind::Warn)]
    #[case::not_a_redirect("", VerdictKind::Unsupported)]
    fn an_http_redirect_keeps_the_query(#[case] location: &str, #[case] expected: VerdictKind) {
        let response = if location.is_empty() {
            answer(200, &[])
        } else {
            answer(308, &[("location", location)])
        };
        let judgement = verdict(
            "redirect/x",
            "HSTS-SRV-REDIR",
            "redirect-keeps-query",
            "http://site.test/p?x=1",
            response,
        );
        assert_eq!(judgement.kind, expected, "{}", judgement.reason);
    }

    #[rstest::rstest]
    #[case("max-age=31536000; includeSubDomains; preload", Ok(3))]
    #[case("max-age=\"300\"", Ok(1))]
    #[case(" max-age=1 ;; ", Ok(1))]
    #[case("max-age=1; max-age=2", Err("appears twice"))]
    #[case("max age=1", Err("not a token"))]
    #[case("max-age=\"1", Err("neither a token"))]
    fn sts_values_follow_the_grammar(#[case] value: &str, #[case] expected: Result<usize, &str>) {
        match (parse_sts(value), expected) {
            (Ok(d), Ok(n)) => assert_eq!(d.len(), n),
            (Err(e), Err(part)) => assert!(e.contains(part), "{e}"),
            (got, want) => panic!("{value}: {got:?}, wanted {want:?}"),
        }
    }

    #[rstest::rstest]
    #[case("max-age=300", Ok(300))]
    #[case("max-age=\"300\"", Ok(300))]
    #[case("includeSubDomains", Err(()))]
    #[case("max-age=-1", Err(()))]
    #[case("max-age=", Err(()))]
    fn max_age_is_delta_seconds(#[case] value: &str, #[case] expected: Result<u64, ()>) {
        assert_eq!(max_age(value).map_err(|_| ()), expected);
    }
}

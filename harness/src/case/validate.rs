//! Semantic checks of a case file that serde cannot express: known ids,
//! tokens, URLs, step and hop references, grades no stronger than the cited
//! rules allow, and everything the run needs (header fields the origin and
//! targets can send, body sizes and waits within the harness's limits), so
//! that a case that loads never fails at run time for its file. Each problem
//! points at its key.

use std::net::IpAddr;

use http::{HeaderName, HeaderValue};

use toml::de::DeTable;
use toml::Spanned;

use super::diagnostic::{key_path, span_of, KeyPath, Problem};
use super::{
    Body, BodyExpect, CaseFile, Catalogue, Feature, FieldValue, Grade, GradeSpec, HeaderExpect, HopCount, HopExpect,
    HopKind, Level, OriginRule, Outcome, Profile, ResultExpect, Rules, Step,
};

/// The most hops an origin answers in one case (the origin's default limit);
/// an expectation on a later hop can never match.
pub const MAX_HOPS: usize = 64;

/// The largest body a case may declare, in bytes (64 MiB): sizes are checked
/// without producing the bytes, so `{ cycle = N }` costs nothing to load.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// How much of a request body the origin records, in bytes (4 MiB, the
/// origin's default limit); a hop body expected longer can never match.
pub const RECORDED_BODY_CAP: usize = 4 << 20;

/// The most a case's steps may wait in all, in milliseconds (10 s): a third
/// of the default 30 s case time limit, so that a wait never decides a verdict.
pub const MAX_TOTAL_DELAY_MS: u64 = 10_000;

/// Every problem in `file`, in no particular order; `doc` is the same text as
/// a spanned tree, used only to locate them.
pub(crate) fn check(file: &CaseFile, doc: &Spanned<DeTable<'_>>, catalogue: &Catalogue) -> Vec<Problem> {
    let mut checker = Checker {
        doc,
        catalogue,
        file,
        problems: Vec::new(),
    };
    checker.case();
    checker.problems
}

struct Checker<'a, 'i> {
    doc: &'a Spanned<DeTable<'i>>,
    catalogue: &'a Catalogue,
    file: &'a CaseFile,
    problems: Vec<Problem>,
}

impl Checker<'_, '_> {
    fn report(&mut self, path: KeyPath, message: String, help: Option<String>) {
        self.problems.push(Problem {
            span: span_of(self.doc, &path),
            key: (!path.0.is_empty()).then(|| path.to_string()),
            message,
            help,
        });
    }

    fn case(&mut self) {
        let file = self.file;
        if file.requirements.is_empty() {
            self.report(
                key_path!["requirements"],
                "`requirements` is empty".to_owned(),
                Some("name the rule this case checks, by its id in suites/requirements.toml".to_owned()),
            );
        }
        for (i, id) in file.requirements.iter().enumerate() {
            self.requirement(key_path!["requirements", i], id);
        }
        for (i, preload) in file.preload.iter().enumerate() {
            self.host(key_path!["preload", i, "host"], &preload.host);
        }
        for (i, host) in file.hosts.iter().enumerate() {
            self.host(key_path!["host", i, "name"], &host.name);
        }
        if file.steps.is_empty() {
            self.report(
                key_path!["step"],
                "the case has no steps".to_owned(),
                Some("add a `[[step]]` table with the `url` the client is asked to fetch".to_owned()),
            );
        }
        let mut waited: u64 = 0;
        for (i, step) in file.steps.iter().enumerate() {
            self.step(key_path!["step", i], step);
            let before = waited;
            waited = waited.saturating_add(step.delay_ms);
            if before <= MAX_TOTAL_DELAY_MS && waited > MAX_TOTAL_DELAY_MS {
                self.report(
                    key_path!["step", i, "delay_ms"],
                    format!("the steps wait {waited} ms in all, more than {MAX_TOTAL_DELAY_MS} ms"),
                    Some(
                        "a case waits at most 10 s in all, well within the 30 s a case may take by default; \
                         shorten the waits (an HSTS `max-age=1` expires after a 2 s wait)"
                            .to_owned(),
                    ),
                );
            }
        }
        for (i, rule) in file.origin.iter().enumerate() {
            let at = key_path!["origin", i];
            self.origin_url(at.child("on"), rule);
            if let Some(method) = &rule.method {
                self.method(at.child("method"), method);
            }
            let reply = at.child("reply");
            if !(100..=999).contains(&rule.reply.status) {
                self.report(
                    reply.child("status"),
                    format!("status {} is not a three-digit status code", rule.reply.status),
                    Some("a reply status is between 200 and 999".to_owned()),
                );
            } else if rule.reply.status < 200 {
                self.report(
                    reply.child("status"),
                    format!("status {} is informational, not a final reply", rule.reply.status),
                    Some("the origin answers each request with one final status, 200 to 999".to_owned()),
                );
            }
            self.reply_headers(reply.child("headers"), &rule.reply.headers);
            if let Some(body) = &rule.reply.body {
                self.body(reply.child("body"), body);
            }
        }
        self.outcomes();
    }

    fn step(&mut self, at: KeyPath, step: &Step) {
        self.method(at.child("method"), &step.method);
        self.http_url(at.child("url"), &step.url, "a step URL");
        self.headers(at.child("headers"), &step.headers);
        if let Some(body) = &step.body {
            self.body(at.child("body"), body);
        }
    }

    fn outcomes(&mut self) {
        let file = self.file;
        if file.expect.is_none() && file.outcomes.is_empty() {
            self.report(
                KeyPath::default(),
                "the case expects nothing".to_owned(),
                Some(
                    "add `[expect]` (the one conforming outcome) or `[[outcome]]` tables (graded outcomes)".to_owned(),
                ),
            );
        }
        if let Some(expect) = &file.expect {
            self.outcome(key_path!["expect"], expect);
        }
        let first_named = usize::from(file.expect.is_some());
        for (i, outcome) in file.outcomes.iter().enumerate() {
            let at = key_path!["outcome", i];
            if i + first_named >= 1 && outcome.name.is_none() {
                self.report(
                    at.clone(),
                    "this outcome has no `name`".to_owned(),
                    Some(
                        "every outcome after the first says what it stands for, e.g. \
                         `name = \"rewritten to GET, body dropped\"`"
                            .to_owned(),
                    ),
                );
            }
            self.outcome(at, outcome);
        }
    }

    fn outcome(&mut self, at: KeyPath, outcome: &Outcome) {
        match outcome.grade {
            Some(GradeSpec::All(grade)) => {
                for profile in Profile::ALL.into_iter().filter(|p| outcome.applies_under(*p)) {
                    if self.grade_bound(at.child("grade"), grade, profile) {
                        break;
                    }
                }
            }
            Some(GradeSpec::PerProfile { rfc9110, fetch }) => {
                self.grade_bound(at.child("grade").child("rfc9110"), rfc9110, Profile::Rfc9110);
                self.grade_bound(at.child("grade").child("fetch"), fetch, Profile::Fetch);
            }
            None => {}
        }
        if let Some(rules) = &outcome.rule {
            self.rules(at.child("rule"), rules);
        }
        if let Some(hops) = outcome.hops {
            self.hop_count(at.child("hops"), hops);
            if outcome.rule.is_none() {
                self.unnamed_rule(at.child("hops"), "the `hops` count");
            }
        }
        for (i, hop) in outcome.hop.iter().enumerate() {
            let at = at.child("hop").child(i);
            if hop.rule.is_none() && outcome.rule.is_none() {
                self.unnamed_rule(at.clone(), "this hop expectation");
            }
            self.hop(at, hop);
        }
        for (i, result) in outcome.result.iter().enumerate() {
            let at = at.child("result").child(i);
            if result.rule.is_none() && outcome.rule.is_none() {
                self.unnamed_rule(at.clone(), "this result expectation");
            }
            self.result(at, result);
        }
    }

    fn hop_count(&mut self, at: KeyPath, hops: HopCount) {
        if let HopCount::Between {
            min: Some(min),
            max: Some(max),
        } = hops
        {
            if min > max {
                self.report(
                    at.clone(),
                    format!("`hops` asks for at least {min} and at most {max}"),
                    Some("`min` is at most `max`".to_owned()),
                );
            }
        }
        if let HopCount::Between { min: None, max: None } = hops {
            self.report(
                at.clone(),
                "`hops` sets neither `min` nor `max`".to_owned(),
                Some("give a number, `{ min = N }`, `{ max = N }` or both".to_owned()),
            );
        }
        let lowest = match hops {
            HopCount::Exactly(n) => Some(n),
            HopCount::Between { min, .. } => min,
        };
        if let Some(why) = lowest.and_then(|n| self.unreachable_hop(n)) {
            self.report(at, format!("`hops = {hops}` can never be seen"), Some(why));
        }
    }

    /// With several requirements cited, an expectation that names none would
    /// charge its miss to whichever is listed first: each must say which it checks.
    fn unnamed_rule(&mut self, at: KeyPath, what: &str) {
        let cited = &self.file.requirements;
        if cited.len() > 1 {
            self.report(
                at,
                format!(
                    "{what} names no `rule`, and the case cites {} requirements",
                    cited.len()
                ),
                Some(format!(
                    "add `rule = \"…\"` (one of {}) to it or to its outcome, so a miss names the rule it breaks",
                    cited.join(", ")
                )),
            );
        }
    }

    fn rules(&mut self, at: KeyPath, rules: &Rules) {
        match rules {
            Rules::One(id) => self.requirement(at, id),
            Rules::Several(ids) => {
                if ids.is_empty() {
                    self.report(at.clone(), "`rule` is an empty list".to_owned(), None);
                }
                for (i, id) in ids.iter().enumerate() {
                    self.requirement(at.child(i), id);
                }
            }
        }
    }

    /// Reports `grade` at `at` when it is stronger under `profile` than the
    /// strongest rule the case cites allows (`fail` needs a `must`, or a
    /// `fetch` rule under the fetch profile; `warn` needs `should` or
    /// stronger); true when it did.
    fn grade_bound(&mut self, at: KeyPath, grade: Grade, profile: Profile) -> bool {
        let needed = match grade {
            Grade::Fail => Level::Must,
            Grade::Warn => Level::Should,
            Grade::Pass | Grade::Info => return false,
        };
        let strongest = self.cited_levels().map(|level| level.under(profile)).min();
        if strongest.is_some_and(|level| level <= needed) {
            return false;
        }
        let strongest = strongest.map_or("no known rule", Level::as_str);
        let grade_name = if grade == Grade::Fail { "fail" } else { "warn" };
        let needs = if grade == Grade::Fail {
            "a `must` rule (or a `fetch` rule under the fetch profile)"
        } else {
            "a `should` rule or stronger"
        };
        self.report(
            at,
            format!(
                "grade `{grade_name}` under {} is stronger than the rules this case cites allow (the strongest is `{strongest}` there)",
                profile.as_str()
            ),
            Some(format!(
                "`{grade_name}` needs {needs} among `requirements` or an expectation's `rule`; lower the grade, \
                 or cite the rule the outcome breaks"
            )),
        );
        true
    }

    /// The levels of every known requirement the case cites: in
    /// `requirements` and as the `rule` of any expectation.
    fn cited_levels(&self) -> impl Iterator<Item = Level> + '_ {
        let rules = self
            .file
            .expect
            .iter()
            .chain(&self.file.outcomes)
            .flat_map(Outcome::cited_rules);
        self.file
            .requirements
            .iter()
            .map(String::as_str)
            .chain(rules)
            .filter_map(|id| self.catalogue.get(id))
            .map(|r| r.level)
    }

    /// Why no run can produce hop number `index`, if that is so.
    fn unreachable_hop(&self, index: usize) -> Option<String> {
        let steps = self.file.steps.len();
        let redirects = self
            .file
            .origin
            .iter()
            .any(|rule| (300..=399).contains(&rule.reply.status));
        if index > MAX_HOPS {
            Some(format!("the origin answers at most {MAX_HOPS} hops per case"))
        } else if !redirects && index > steps {
            Some(format!(
                "no reply in the script is a 3xx, and without a redirect each step yields one hop \
                 ({steps} step{} here)",
                if steps == 1 { "" } else { "s" }
            ))
        } else {
            None
        }
    }

    fn hop(&mut self, at: KeyPath, hop: &HopExpect) {
        if hop.index == 0 {
            self.report(
                at.child("index"),
                "hop index 0 does not exist".to_owned(),
                Some("hops count from 1, across all steps".to_owned()),
            );
        } else if let Some(why) = self.unreachable_hop(hop.index) {
            self.report(
                at.child("index"),
                format!("hop {} can never be seen", hop.index),
                Some(why),
            );
        }
        if let Some(rules) = &hop.rule {
            self.rules(at.child("rule"), rules);
        }
        if let Some(kind) = hop.kind.filter(|kind| *kind != HopKind::Request) {
            // Only a request has these; expecting them of another kind could never hold.
            let request_only = [
                ("url", hop.url.is_some()),
                ("method", hop.method.is_some()),
                ("target", hop.target.is_some()),
                ("body", hop.body.is_some()),
                ("header", !hop.header.is_empty()),
            ];
            for (key, given) in request_only {
                if given {
                    self.report(
                        at.child(key),
                        format!("a `{kind}` hop has no `{key}`"),
                        Some(format!(
                            "only `kind = \"request\"` hops carry a `{key}`; a `{kind}` hop can be \
                             expected by `scheme`, `host` and `port`"
                        )),
                    );
                }
            }
        }
        if let Some(url) = &hop.url {
            self.hop_url(at.child("url"), url);
        }
        if let Some(scheme) = &hop.scheme {
            if scheme != "http" && scheme != "https" {
                self.report(
                    at.child("scheme"),
                    format!("unknown scheme `{scheme}`"),
                    Some("origins see `http` or `https`".to_owned()),
                );
            }
        }
        if let Some(host) = &hop.host {
            self.host(at.child("host"), host);
        }
        if let Some(method) = &hop.method {
            self.method(at.child("method"), method);
        }
        match &hop.body {
            Some(BodyExpect::Bytes(body)) => {
                self.body(at.child("body"), body);
                self.recordable(at.child("body"), body);
            }
            Some(BodyExpect::SameAsStep { step }) => {
                self.step_ref(at.child("body").child("step"), *step);
                let step_body = step.checked_sub(1).and_then(|i| self.file.steps.get(i)?.body.as_ref());
                if let Some(body) = step_body {
                    self.recordable(at.child("body"), body);
                }
            }
            None => {}
        }
        self.header_expect(at.child("header"), &hop.header);
    }

    fn result(&mut self, at: KeyPath, result: &ResultExpect) {
        self.step_ref(at.child("step"), result.step);
        if let Some(rules) = &result.rule {
            self.rules(at.child("rule"), rules);
        }
        if result.url.as_deref().is_some_and(|url| url.contains('#'))
            && !self.file.needs.contains(&Feature::FinalFragment)
        {
            self.report(
                at.child("url"),
                "this expectation judges the fragment of the reported final URL".to_owned(),
                Some("add `needs = [\"final-fragment\"]` to the case: some clients never report a fragment".to_owned()),
            );
        }
        if let Some(status) = result.status {
            if !(100..=999).contains(&status) {
                self.report(
                    at.child("status"),
                    format!("status {status} is not a three-digit status code"),
                    Some("a final status is between 100 and 999".to_owned()),
                );
            }
            if result.error == Some(true) {
                self.report(
                    at.child("status"),
                    "a step that ends in an error has no status".to_owned(),
                    Some("drop `status`, or `error = true`".to_owned()),
                );
            }
        }
        if let Some(body) = &result.body {
            self.body(at.child("body"), body);
        }
    }

    fn step_ref(&mut self, at: KeyPath, step: usize) {
        let steps = self.file.steps.len();
        if steps > 0 && !(1..=steps).contains(&step) {
            self.report(
                at,
                format!("there is no step {step}"),
                Some(format!(
                    "steps count from 1; this case has {steps} step{}",
                    if steps == 1 { "" } else { "s" }
                )),
            );
        }
    }

    fn requirement(&mut self, at: KeyPath, id: &str) {
        if self.catalogue.get(id).is_none() {
            let help = match self.catalogue.closest(id) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "requirement ids are listed in suites/requirements.toml".to_owned(),
            };
            self.report(at, format!("unknown requirement `{id}`"), Some(help));
        }
    }

    fn method(&mut self, at: KeyPath, method: &str) {
        if !is_token(method) {
            self.report(
                at,
                format!("`{method}` is not a method token"),
                Some("a method is one or more token characters (RFC 9110 §5.6.2), e.g. `POST`".to_owned()),
            );
        }
    }

    /// Request fields (a step's, or those a hop is expected to carry): token
    /// names; values `http::HeaderValue` takes, as every target is handed
    /// them and the origin reads them through it.
    fn headers(&mut self, at: KeyPath, headers: &[(String, String)]) {
        for (i, (name, value)) in headers.iter().enumerate() {
            self.header_name(at.child(i).child(0), name);
            self.header_value(at.child(i).child(1), value);
            if HeaderValue::from_str(value).is_err() && !value.contains(['\r', '\n', '\0']) {
                self.report(
                    at.child(i).child(1),
                    format!("header value `{}` contains a control character", value.escape_debug()),
                    Some(
                        "a request field value is visible characters, spaces and tabs (RFC 9110 §5.5); \
                         control bytes can only be sent by the origin, in reply headers"
                            .to_owned(),
                    ),
                );
            }
        }
    }

    /// Reply fields: token names; values of any byte but CR, LF and NUL
    /// (the origin writes other control bytes raw).
    fn reply_headers(&mut self, at: KeyPath, headers: &[(String, FieldValue)]) {
        for (i, (name, value)) in headers.iter().enumerate() {
            self.header_name(at.child(i).child(0), name);
            match value {
                FieldValue::Text(text) => self.header_value(at.child(i).child(1), text),
                FieldValue::Base64 { .. } => match value.bytes() {
                    Err(e) => self.report(
                        at.child(i).child(1).child("base64"),
                        format!("invalid base64: {e}"),
                        Some("use the standard alphabet with `=` padding".to_owned()),
                    ),
                    Ok(bytes) if bytes.iter().any(|b| b"\r\n\0".contains(b)) => self.report(
                        at.child(i).child(1).child("base64"),
                        format!(
                            "header value `{}` contains CR, LF or NUL",
                            crate::origin::escape_bytes(&bytes)
                        ),
                        Some(
                            "a field value cannot hold CR, LF or NUL (RFC 9110 §5.5); send a second field instead"
                                .to_owned(),
                        ),
                    ),
                    Ok(_) => {}
                },
            }
        }
    }

    fn header_expect(&mut self, at: KeyPath, header: &HeaderExpect) {
        for (key, names) in [("present", &header.present), ("absent", &header.absent)] {
            for (i, name) in names.iter().enumerate() {
                self.header_name(at.child(key).child(i), name);
            }
        }
        self.headers(at.child("equal"), &header.equal);
    }

    fn header_name(&mut self, at: KeyPath, name: &str) {
        if !is_token(name) {
            self.report(
                at,
                format!("`{}` is not a header field name", shorten(name).escape_debug()),
                Some("a field name is one or more token characters (RFC 9110 §5.6.2), e.g. `Location`".to_owned()),
            );
        } else if HeaderName::from_bytes(name.as_bytes()).is_err() {
            // A token every HTTP library in the harness refuses: too long.
            self.report(
                at,
                format!("header field name `{}` is {} bytes long", shorten(name), name.len()),
                Some("the origin and the targets take field names of at most 65535 bytes".to_owned()),
            );
        }
    }

    fn header_value(&mut self, at: KeyPath, value: &str) {
        if value.contains(['\r', '\n', '\0']) {
            self.report(
                at,
                format!("header value `{}` contains CR, LF or NUL", value.escape_debug()),
                Some("a field value cannot hold CR, LF or NUL (RFC 9110 §5.5); send a second field instead".to_owned()),
            );
        }
    }

    /// Base64 that decodes, and a size within [`MAX_BODY_BYTES`], computed
    /// without producing the bytes.
    fn body(&mut self, at: KeyPath, body: &Body) {
        match body.byte_len() {
            Err(e) => self.report(
                at.child("base64"),
                format!("invalid base64: {e}"),
                Some("use the standard alphabet with `=` padding".to_owned()),
            ),
            Ok(len) if len > MAX_BODY_BYTES => {
                let value = match body {
                    Body::Cycle { .. } => at.child("cycle"),
                    Body::Base64 { .. } => at.child("base64"),
                    Body::Text(_) => at,
                };
                self.report(
                    value,
                    format!("a body of {len} bytes is over the limit of {MAX_BODY_BYTES} bytes (64 MiB)"),
                    Some("declare a smaller body; the README's Limits section lists the harness's limits".to_owned()),
                );
            }
            Ok(_) => {}
        }
    }

    /// A hop body expectation the origin can record whole: it keeps only
    /// [`RECORDED_BODY_CAP`] bytes of a request body.
    fn recordable(&mut self, at: KeyPath, body: &Body) {
        let len = body.byte_len().unwrap_or(0);
        if (RECORDED_BODY_CAP + 1..=MAX_BODY_BYTES).contains(&len) {
            self.report(
                at,
                format!("a hop body of {len} bytes can never be seen whole"),
                Some(format!(
                    "the origin records at most {RECORDED_BODY_CAP} bytes (4 MiB) of a request body; \
                     expect a smaller one"
                )),
            );
        }
    }

    fn host(&mut self, at: KeyPath, host: &str) {
        if !is_host_name(host) {
            self.report(
                at,
                format!("`{}` is not a host name", host.escape_debug()),
                Some(
                    "a host is dot-separated labels of letters, digits and `-` (internationalised \
                     names as `xn--` A-labels), or an IP address"
                        .to_owned(),
                ),
            );
        }
    }

    /// An absolute `http`/`https` URL; `false` when it is not (and reported).
    fn http_url(&mut self, at: KeyPath, text: &str, what: &str) -> bool {
        let help = Some(format!(
            "{what} is absolute, `http` or `https`, e.g. `http://origin.test/start`"
        ));
        match url::Url::parse(text) {
            Err(e) => {
                self.report(at, format!("invalid URL `{}`: {e}", text.escape_debug()), help);
                false
            }
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                self.report(at, format!("URL scheme `{}` is not http or https", url.scheme()), help);
                false
            }
            Ok(_) => true,
        }
    }

    fn origin_url(&mut self, at: KeyPath, rule: &OriginRule) {
        let on = rule.on.as_str();
        let prefix = on.strip_suffix('*').unwrap_or(on);
        if prefix.contains('*') {
            self.report(
                at,
                "`*` in the middle of `on`".to_owned(),
                Some("a single `*` at the very end makes `on` a prefix; it cannot stand elsewhere".to_owned()),
            );
        } else if on.contains('#') {
            self.report(
                at,
                "`on` has a fragment".to_owned(),
                Some("a fragment never reaches the origin; drop it".to_owned()),
            );
        } else if !self.http_url(at.clone(), prefix, "`on`") {
            // Reported.
        } else if let Err(why) = rule.target() {
            // What the origin reads must be what the loader accepted.
            self.report(
                at,
                format!("`on` cannot be served: {why}"),
                Some("`on` is `http://host[:port]/path[?query]`, optionally ending in `*`".to_owned()),
            );
        }
    }

    fn hop_url(&mut self, at: KeyPath, text: &str) {
        if text.contains('#') {
            self.report(
                at,
                "a hop URL has a fragment".to_owned(),
                Some(
                    "the fragment never reaches the wire; check the URL the client reports with `result.url`"
                        .to_owned(),
                ),
            );
        } else {
            self.http_url(at, text, "a hop URL");
        }
    }
}

/// The first 40 characters of `text`, marked as cut when it is longer.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `token = 1*tchar` (RFC 9110 §5.6.2).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A DNS name of LDH labels (one trailing dot allowed), or an IP address
/// (IPv6 with or without brackets).
fn is_host_name(host: &str) -> bool {
    let unbracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if unbracketed.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rstest::rstest;

    use super::*;
    use crate::case::{parse_case, CaseFileError};

    const CATALOGUE: &str = r#"
[[requirement]]
id = "RED-307-METHOD"
level = "must"
source = "RFC 9110 §15.4.8"
rule = "Method not changed when following 307."
quote = "The user agent MUST NOT change the request method if it performs an automatic redirection to that URI."

[[requirement]]
id = "RED-308-METHOD"
level = "must"
source = "RFC 9110 §15.4.9"
rule = "308 preserves the method like 307."
quote = "It does not allow changing the request method."
why = "a prohibition in other words"

[[requirement]]
id = "RED-HDR-CONTENT"
level = "should"
source = "RFC 9110 §15.4"
rule = "Content fields dropped after a method change."
quote = "The user agent SHOULD resend the original request message with the following modifications."

[[requirement]]
id = "RED-301-POST"
level = "may"
source = "RFC 9110 §15.4.2"
rule = "POST may become GET."
quote = "A user agent MAY change the request method from POST to GET."

[[requirement]]
id = "FET-REWRITE"
level = "fetch"
source = "WHATWG Fetch"
rule = "POST becomes GET."
quote = "Set request's method to `GET` and request's body to null."
why = "WHATWG algorithm steps are requirements"
"#;

    /// A valid case; each test breaks one thing in it.
    const BASE: &str = r#"title = "307 keeps POST and its body"
requirements = ["RED-307-METHOD"]

[[step]]
method = "POST"
url = "http://origin.test/start"
headers = [["Content-Type", "text/plain"]]
body = "a=1"

[[origin]]
on = "http://origin.test/start"
reply = { status = 307, headers = [["Location", "/now"]] }

[[origin]]
on = "http://origin.test/now"
reply = { status = 200 }

[[expect.hop]]
index = 2
method = "POST"
url = "http://origin.test/now"
body = { step = 1 }

[[expect.result]]
status = 200
"#;

    #[allow(clippy::result_large_err)] // mirrors parse_case
    fn parse(src: &str) -> Result<crate::case::Case, CaseFileError> {
        let catalogue = Catalogue::parse(Path::new("requirements.toml"), CATALOGUE).expect("catalogue");
        parse_case(
            "redirect/307/x",
            Path::new("suites/redirect/307/x.toml"),
            src,
            &catalogue,
        )
    }

    fn broken(from: &str, to: &str) -> CaseFileError {
        assert!(BASE.contains(from), "BASE lacks {from:?}");
        let src = BASE.replacen(from, to, 1);
        parse(&src).expect_err("the edit makes the case invalid")
    }

    #[test]
    fn the_base_case_is_valid() {
        let case = parse(BASE).expect("valid");
        assert_eq!(case.file.steps.len(), 1);
    }

    #[rstest]
    #[case::prefix_on("on = \"http://origin.test/now\"", "on = \"http://origin.test/n*\"")]
    #[case::ip_preload("title", "preload = [{ host = \"127.0.0.1\" }]\ntitle")]
    #[case::trailing_dot_host("title", "host = [{ name = \"Origin.Test.\", cert = \"expired\" }]\ntitle")]
    #[case::raw_reply_bytes("\"/now\"]]", "\"/a\\u0001b\\u007f\\tc\"], [\"X\", { base64 = \"6Q==\" }]]")]
    #[case::silent_hop(
        "index = 2\nmethod = \"POST\"\nurl = \"http://origin.test/now\"\nbody = { step = 1 }",
        "index = 2\nkind = \"silent\"\nhost = \"origin.test.\""
    )]
    #[case::graded_outcomes(
        "[[expect.result]]\nstatus = 200\n",
        "[[outcome]]\nname = \"kept\"\ngrade = { rfc9110 = \"pass\", fetch = \"fail\" }\n"
    )]
    #[case::rules_on_the_outcome(
        "requirements = [\"RED-307-METHOD\"]\n",
        "requirements = [\"RED-307-METHOD\", \"RED-308-METHOD\"]\n[expect]\nrule = \"RED-307-METHOD\"\nhops = { min = 2 }\n"
    )]
    fn valid_variants_load(#[case] from: &str, #[case] to: &str) {
        let src = BASE.replacen(from, to, 1);
        if let Err(e) = parse(&src) {
            panic!("{e}");
        }
    }

    #[rstest]
    #[case::empty_requirements(
        "requirements = [\"RED-307-METHOD\"]", "requirements = []",
        (2, 16), Some("requirements"), "`requirements` is empty", "suites/requirements.toml"
    )]
    #[case::unknown_requirement(
        "[\"RED-307-METHOD\"]", "[\"RED-307-METHD\"]",
        (2, 17), Some("requirements[0]"), "unknown requirement `RED-307-METHD`", "did you mean `RED-307-METHOD`?"
    )]
    #[case::unknown_rule(
        "index = 2\n", "index = 2\nrule = \"RED-308-METHD\"\n",
        (20, 8), Some("expect.hop[0].rule"), "unknown requirement `RED-308-METHD`", "did you mean `RED-308-METHOD`?"
    )]
    #[case::step_method(
        "method = \"POST\"", "method = \"PO ST\"",
        (5, 10), Some("step[0].method"), "`PO ST` is not a method token", "RFC 9110 §5.6.2"
    )]
    #[case::origin_method(
        "on = \"http://origin.test/start\"\n", "on = \"http://origin.test/start\"\nmethod = \"G(ET\"\n",
        (12, 10), Some("origin[0].method"), "`G(ET` is not a method token", "token"
    )]
    #[case::hop_method(
        "index = 2\nmethod = \"POST\"", "index = 2\nmethod = \"\"",
        (20, 10), Some("expect.hop[0].method"), "`` is not a method token", "token"
    )]
    #[case::reply_status(
        "status = 307", "status = 42",
        (12, 20), Some("origin[0].reply.status"), "status 42 is not a three-digit status code", "between 200 and 999"
    )]
    #[case::informational_reply_status(
        "status = 307", "status = 103",
        (12, 20), Some("origin[0].reply.status"), "status 103 is informational, not a final reply", "one final status"
    )]
    #[case::on_unservable(
        "on = \"http://origin.test/now\"", "on = \"http:/+origin.test/now\"",
        (15, 6), Some("origin[1].on"), "`on` cannot be served: not an absolute URL", "`http://host[:port]/path[?query]`"
    )]
    #[case::reply_header_value_control(
        "\"/now\"]]", "\"/n\\r\\now\"]]",
        (12, 49), Some("origin[0].reply.headers[0][1]"), "header value `/n\\r\\now` contains CR, LF or NUL", "RFC 9110 §5.5"
    )]
    #[case::reply_header_value_base64_nul(
        "\"/now\"]]", "{ base64 = \"L24Abm93\" }]]",
        (12, 60), Some("origin[0].reply.headers[0][1].base64"), "header value `/n\\x00now` contains CR, LF or NUL",
        "RFC 9110 §5.5"
    )]
    #[case::reply_header_value_bad_base64(
        "\"/now\"]]", "{ base64 = \"!\" }]]",
        (12, 60), Some("origin[0].reply.headers[0][1].base64"), "invalid base64", "standard alphabet"
    )]
    #[case::cycle_over_the_body_limit(
        "body = \"a=1\"", "body = { cycle = 100000000000 }",
        (8, 18), Some("step[0].body.cycle"), "a body of 100000000000 bytes is over the limit of 67108864 bytes",
        "Limits"
    )]
    #[case::cycle_at_the_largest_toml_integer(
        "body = \"a=1\"", "body = { cycle = 9223372036854775807 }",
        (8, 18), Some("step[0].body.cycle"), "a body of 9223372036854775807 bytes is over the limit", "Limits"
    )]
    #[case::reply_cycle_over_the_body_limit(
        "reply = { status = 200 }", "reply = { status = 200, body = { cycle = 67108865 } }",
        (16, 42), Some("origin[1].reply.body.cycle"), "a body of 67108865 bytes is over the limit", "Limits"
    )]
    #[case::hop_body_beyond_the_recorded_cap(
        "body = \"a=1\"", "body = { cycle = 4194305 }",
        (22, 8), Some("expect.hop[0].body"), "a hop body of 4194305 bytes can never be seen whole",
        "at most 4194304 bytes"
    )]
    #[case::delay_over_the_limit(
        "body = \"a=1\"", "body = \"a=1\"\ndelay_ms = 9223372036854775807",
        (9, 12), Some("step[0].delay_ms"), "the steps wait 9223372036854775807 ms in all, more than 10000 ms",
        "at most 10 s"
    )]
    #[case::step_header_value_control(
        "\"text/plain\"]", "\"text/pl\\u0001ain\"]",
        (7, 29), Some("step[0].headers[0][1]"), "header value `text/pl\\u{1}ain` contains a control character",
        "reply headers"
    )]
    #[case::hop_header_value_delete(
        "body = { step = 1 }", "body = { step = 1 }\nheader.equal = [[\"X\", \"a\\u007f\"]]",
        (23, 23), Some("expect.hop[0].header.equal[0][1]"), "header value `a\\u{7f}` contains a control character",
        "RFC 9110 §5.5"
    )]
    #[case::kind_with_method(
        "index = 2\nmethod = \"POST\"", "index = 2\nkind = \"tls-failed\"\nmethod = \"POST\"",
        (21, 10), Some("expect.hop[0].method"), "a `tls-failed` hop has no `method`", "`scheme`, `host` and `port`"
    )]
    #[case::unknown_kind(
        "index = 2\n", "index = 2\nkind = \"tls\"\n",
        (20, 8), Some("expect.hop[0].kind"), "unknown value `tls`", "tls-failed"
    )]
    #[case::relative_step_url(
        "url = \"http://origin.test/start\"", "url = \"/start\"",
        (6, 7), Some("step[0].url"), "invalid URL `/start`: relative URL without a base", "absolute"
    )]
    #[case::step_url_scheme(
        "url = \"http://origin.test/start\"", "url = \"ftp://origin.test/start\"",
        (6, 7), Some("step[0].url"), "URL scheme `ftp` is not http or https", "`http` or `https`"
    )]
    #[case::on_fragment(
        "on = \"http://origin.test/now\"", "on = \"http://origin.test/now#f\"",
        (15, 6), Some("origin[1].on"), "`on` has a fragment", "never reaches the origin"
    )]
    #[case::on_inner_star(
        "on = \"http://origin.test/now\"", "on = \"http://origin.test/*/now\"",
        (15, 6), Some("origin[1].on"), "`*` in the middle of `on`", "at the very end"
    )]
    #[case::on_relative(
        "on = \"http://origin.test/now\"", "on = \"/now\"",
        (15, 6), Some("origin[1].on"), "invalid URL `/now`: relative URL without a base", "absolute"
    )]
    #[case::hop_url_fragment(
        "url = \"http://origin.test/now\"", "url = \"http://origin.test/now#f\"",
        (21, 7), Some("expect.hop[0].url"), "a hop URL has a fragment", "`result.url`"
    )]
    #[case::header_name(
        "[\"Content-Type\", ", "[\"Content Type\", ",
        (7, 13), Some("step[0].headers[0][0]"), "`Content Type` is not a header field name", "token"
    )]
    #[case::header_value(
        "\"text/plain\"]", "\"text/plain\\r\\nX-Injected: 1\"]",
        (7, 29), Some("step[0].headers[0][1]"), "header value `text/plain\\r\\nX-Injected: 1` contains CR, LF or NUL",
        "RFC 9110 §5.5"
    )]
    #[case::reply_header_name(
        "[[\"Location\", ", "[[\"Loc:ation\", ",
        (12, 37), Some("origin[0].reply.headers[0][0]"), "`Loc:ation` is not a header field name", "token"
    )]
    #[case::base64_body(
        "body = \"a=1\"", "body = { base64 = \"a=1\" }",
        (8, 19), Some("step[0].body.base64"), "invalid base64", "standard alphabet"
    )]
    #[case::no_expectations(
        "[[expect.hop]]\nindex = 2\nmethod = \"POST\"\nurl = \"http://origin.test/now\"\nbody = { step = 1 }\n\n\
         [[expect.result]]\nstatus = 200\n",
        "",
        (1, 1), None, "the case expects nothing", "`[[outcome]]`"
    )]
    #[case::unnamed_outcome(
        "[[expect.result]]\nstatus = 200\n", "[[expect.result]]\nstatus = 200\n\n[[outcome]]\ngrade = \"fail\"\n",
        (27, 1), Some("outcome[0]"), "this outcome has no `name`", "says what it stands for"
    )]
    #[case::result_step(
        "[[expect.result]]\n", "[[expect.result]]\nstep = 2\n",
        (25, 8), Some("expect.result[0].step"), "there is no step 2", "this case has 1 step"
    )]
    #[case::body_step(
        "body = { step = 1 }", "body = { step = 3 }",
        (22, 17), Some("expect.hop[0].body.step"), "there is no step 3", "steps count from 1"
    )]
    #[case::hop_zero(
        "index = 2", "index = 0",
        (19, 9), Some("expect.hop[0].index"), "hop index 0 does not exist", "count from 1"
    )]
    #[case::hop_beyond_limit(
        "index = 2", "index = 65",
        (19, 9), Some("expect.hop[0].index"), "hop 65 can never be seen", "at most 64 hops"
    )]
    #[case::hop_without_redirect(
        "status = 307", "status = 200",
        (19, 9), Some("expect.hop[0].index"), "hop 2 can never be seen",
        "no reply in the script is a 3xx, and without a redirect each step yields one hop (1 step here)"
    )]
    #[case::hops_count(
        "[[expect.hop]]", "[expect]\nhops = 70\n\n[[expect.hop]]",
        (19, 8), Some("expect.hops"), "`hops = 70` can never be seen", "at most 64 hops"
    )]
    #[case::hops_range(
        "[[expect.hop]]", "[expect]\nhops = { min = 3, max = 2 }\n\n[[expect.hop]]",
        (19, 8), Some("expect.hops"), "`hops` asks for at least 3 and at most 2", "`min` is at most `max`"
    )]
    #[case::unnamed_rule_with_two_requirements(
        "[\"RED-307-METHOD\"]", "[\"RED-307-METHOD\", \"RED-308-METHOD\"]",
        (18, 1), Some("expect.hop[0]"), "this hop expectation names no `rule`, and the case cites 2",
        "RED-307-METHOD, RED-308-METHOD"
    )]
    #[case::unknown_rule_in_a_list(
        "index = 2\n", "index = 2\nrule = [\"RED-307-METHOD\", \"RED-308-METHD\"]\n",
        (20, 27), Some("expect.hop[0].rule[1]"), "unknown requirement `RED-308-METHD`", "did you mean"
    )]
    #[case::fragment_without_need(
        "status = 200\n", "status = 200\nurl = \"http://origin.test/now#f\"\n",
        (26, 7), Some("expect.result[0].url"), "this expectation judges the fragment", "final-fragment"
    )]
    #[case::preload_host(
        "title", "preload = [{ host = \"bad_host.test\" }]\ntitle",
        (1, 21), Some("preload[0].host"), "`bad_host.test` is not a host name", "A-labels"
    )]
    #[case::tls_host(
        "title", "host = [{ name = \"-x.test\" }]\ntitle",
        (1, 18), Some("host[0].name"), "`-x.test` is not a host name", "letters, digits and `-`"
    )]
    #[case::error_with_status(
        "status = 200\n", "error = true\nstatus = 200\n",
        (26, 10), Some("expect.result[0].status"), "a step that ends in an error has no status", "drop `status`"
    )]
    #[case::unknown_feature(
        "title", "needs = [\"hst\"]\ntitle",
        (1, 10), Some("needs[0]"), "unknown value `hst`", "did you mean `hsts`?"
    )]
    #[case::no_steps(
        "[[step]]\nmethod = \"POST\"\nurl = \"http://origin.test/start\"\n\
         headers = [[\"Content-Type\", \"text/plain\"]]\nbody = \"a=1\"\n",
        "step = []\n",
        (4, 8), Some("step"), "the case has no steps", "`[[step]]`"
    )]
    #[case::body_form(
        "body = \"a=1\"", "body = { text = \"a=1\" }",
        (8, 8), Some("step[0].body"), "invalid value", "`{ cycle = N }`"
    )]
    #[case::grade_form(
        "[[expect.result]]\nstatus = 200\n", "[[expect.result]]\nstatus = 200\n\n[[outcome]]\nname = \"n\"\ngrade = \"ok\"\n",
        (29, 9), Some("outcome[0].grade"), "invalid value", "`pass`, `fail`, `warn` or `info`"
    )]
    #[case::misspelt_key(
        "body = \"a=1\"", "hedaers = []",
        (8, 1), Some("step[0].hedaers"), "unknown key `hedaers`", "did you mean `headers`?"
    )]
    fn each_rule_points_at_the_offending_key(
        #[case] from: &str,
        #[case] to: &str,
        #[case] at: (usize, usize),
        #[case] key: Option<&str>,
        #[case] message: &str,
        #[case] help: &str,
    ) {
        let err = broken(from, to);
        assert_eq!((err.line, err.column), at, "{err}");
        assert_eq!(err.key.as_deref(), key, "{err}");
        assert!(
            err.message.starts_with(message),
            "message {:?}, expected {message:?}",
            err.message
        );
        let got = err.help.as_deref().unwrap_or("");
        assert!(got.contains(help), "help {got:?} lacks {help:?}");
        assert!(err.rendered.contains(&err.message), "{}", err.rendered);
    }

    /// BASE with its `requirements` replaced and one graded outcome after `[expect]`.
    fn graded(requirements: &str, grade: &str) -> String {
        BASE.replacen("[\"RED-307-METHOD\"]", requirements, 1).replacen(
            "[[expect.result]]\nstatus = 200\n",
            &format!("[[expect.result]]\nstatus = 200\n\n[[outcome]]\nname = \"other\"\ngrade = {grade}\n"),
            1,
        )
    }

    #[rstest]
    #[case::fail_on_a_must("[\"RED-307-METHOD\"]", "\"fail\"")]
    #[case::warn_on_a_must("[\"RED-307-METHOD\"]", "\"warn\"")]
    #[case::warn_on_a_should("[\"RED-HDR-CONTENT\"]", "\"warn\"")]
    #[case::info_on_a_may("[\"RED-301-POST\"]", "\"info\"")]
    #[case::fail_on_fetch_only_under_fetch("[\"FET-REWRITE\"]", "{ rfc9110 = \"pass\", fetch = \"fail\" }")]
    #[case::warn_and_fail_per_profile(
        "[\"RED-HDR-CONTENT\", \"FET-REWRITE\"]",
        "{ rfc9110 = \"warn\", fetch = \"fail\" }"
    )]
    fn grades_within_the_cited_levels_load(#[case] requirements: &str, #[case] grade: &str) {
        // Each expectation names its rules, as a case citing several must.
        let src = graded(requirements, grade)
            .replacen("index = 2\n", &format!("index = 2\nrule = {requirements}\n"), 1)
            .replacen(
                "[[expect.result]]\n",
                &format!("[[expect.result]]\nrule = {requirements}\n"),
                1,
            );
        if let Err(e) = parse(&src) {
            panic!("{e}");
        }
    }

    #[test]
    fn an_expectation_rule_counts_as_cited() {
        let src = graded("[\"RED-301-POST\"]", "\"fail\"").replacen(
            "index = 2\n",
            "index = 2\nrule = \"RED-307-METHOD\"\n",
            1,
        );
        if let Err(e) = parse(&src) {
            panic!("{e}");
        }
    }

    #[rstest]
    #[case::fail_on_a_should(
        "[\"RED-HDR-CONTENT\"]", "\"fail\"", (29, 9), "outcome[0].grade",
        "grade `fail` under rfc9110 is stronger than the rules this case cites allow (the strongest is `should` there)"
    )]
    #[case::warn_on_a_may(
        "[\"RED-301-POST\"]", "\"warn\"", (29, 9), "outcome[0].grade",
        "grade `warn` under rfc9110 is stronger than the rules this case cites allow (the strongest is `may` there)"
    )]
    #[case::fail_on_fetch_under_rfc9110(
        "[\"FET-REWRITE\"]", "{ rfc9110 = \"fail\", fetch = \"fail\" }", (29, 21), "outcome[0].grade.rfc9110",
        "grade `fail` under rfc9110 is stronger than the rules this case cites allow (the strongest is `info` there)"
    )]
    #[case::fail_under_fetch_on_a_should(
        "[\"RED-HDR-CONTENT\"]", "{ rfc9110 = \"warn\", fetch = \"fail\" }", (29, 37), "outcome[0].grade.fetch",
        "grade `fail` under fetch is stronger than the rules this case cites allow (the strongest is `should` there)"
    )]
    fn an_over_graded_outcome_is_rejected_at_its_grade(
        #[case] requirements: &str,
        #[case] grade: &str,
        #[case] at: (usize, usize),
        #[case] key: &str,
        #[case] message: &str,
    ) {
        let err = parse(&graded(requirements, grade)).expect_err("over-graded");
        assert_eq!((err.line, err.column), at, "{err}");
        assert_eq!(err.key.as_deref(), Some(key), "{err}");
        assert_eq!(err.message, message);
        assert!(err.help.as_deref().unwrap_or("").contains("lower the grade"), "{err}");
    }

    #[test]
    fn a_fragment_expectation_loads_with_its_need() {
        let src = BASE
            .replacen("title", "needs = [\"final-fragment\"]\ntitle", 1)
            .replacen(
                "status = 200\n",
                "status = 200\nurl = \"http://origin.test/now#f\"\n",
                1,
            );
        if let Err(e) = parse(&src) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_header_name_too_long_for_any_library_is_rejected() {
        let long = "X".repeat(1 << 16);
        for (from, at) in [
            ("[\"Content-Type\", ", "step[0].headers[0][0]"),
            ("[[\"Location\", ", "origin[0].reply.headers[0][0]"),
        ] {
            let to = from.replace(
                if from.contains("Content") {
                    "Content-Type"
                } else {
                    "Location"
                },
                &long,
            );
            let err = broken(from, &to);
            assert_eq!(err.key.as_deref(), Some(at), "{err}");
            assert!(err.message.ends_with("is 65536 bytes long"), "{}", err.message);
        }
    }

    #[test]
    fn a_body_at_the_limit_loads_without_being_produced() {
        let src = BASE
            .replacen("body = \"a=1\"", "body = { cycle = 4194304 }", 1)
            .replacen(
                "reply = { status = 200 }",
                "reply = { status = 200, body = { cycle = 67108864 } }",
                1,
            );
        if let Err(e) = parse(&src) {
            panic!("{e}");
        }
    }

    #[test]
    fn problems_are_reported_in_file_order() {
        let src = BASE
            .replacen("method = \"POST\"", "method = \"P OST\"", 1)
            .replacen("index = 2", "index = 0", 1);
        assert_eq!(parse(&src).expect_err("two problems").line, 5);
    }

    #[rstest]
    #[case("GET", true)]
    #[case("M-SEARCH", true)]
    #[case("!#$%&'*+-.^_`|~09az", true)]
    #[case("", false)]
    #[case("GET ", false)]
    #[case("GÉT", false)]
    #[case("a\"b", false)]
    fn tokens(#[case] text: &str, #[case] expected: bool) {
        assert_eq!(is_token(text), expected);
    }

    #[rstest]
    #[case("origin.test", true)]
    #[case("xn--exmple-cua.test", true)]
    #[case("localhost", true)]
    #[case("::1", true)]
    #[case("[::1]", true)]
    #[case("a.", true)]
    #[case("", false)]
    #[case(".", false)]
    #[case("a..b", false)]
    #[case("exämple.test", false)]
    #[case("a-.test", false)]
    #[case("origin.test:8080", false)]
    fn host_names(#[case] text: &str, #[case] expected: bool) {
        assert_eq!(is_host_name(text), expected);
    }
}

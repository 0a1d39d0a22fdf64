//! The reference user agent: a strict client on hyper that follows RFC 9110
//! §15.4, RFC 3986 §5, RFC 6797 (and WHATWG Fetch under the fetch profile).
//!
//! Choices where the specs leave room, all on the strict side:
//! - Only 301, 302, 303, 307 and 308 with exactly one Location are followed;
//!   300, 304, 305, 306 and unknown 3xx are final under both profiles.
//! - Several Location fields, or one that does not resolve, are an error.
//! - Under rfc9110 a Location with userinfo or an empty host is an error;
//!   under fetch userinfo is followed, kept in the reported URL and never sent.
//! - Authorization, Cookie and Proxy-Authorization set by the caller are
//!   dropped at the first origin change and never come back in that step.
//! - A streamed body that would have to be sent again is an error.

mod hsts;
mod redirect;
mod request_url;
mod resolve;
#[cfg(test)]
mod tests;
mod transport;

use std::time::{Duration, Instant};

pub use transport::Route;

use self::hsts::{HstsStore, ParseQuirks};
use self::redirect::{Chain, Next, Request};
use self::request_url::{Leniency, RequestUrl, Scheme};
use self::transport::{Transport, TransportError, WireRequest, WireResponse};
use super::mutant::Mutant;
use super::{BoxFuture, Plan, PlanStep, StepResult, Target, TargetError, TargetRun};
use crate::case::Profile;

/// The reference user agent, optionally with one rule broken.
#[derive(Debug, Clone, Default)]
pub struct ReferenceAgent {
    mutant: Option<Mutant>,
    route: Route,
    name: String,
}

impl ReferenceAgent {
    pub fn new() -> ReferenceAgent {
        ReferenceAgent::build(None, Route::Proxy)
    }

    pub fn with_mutant(mutant: Mutant) -> ReferenceAgent {
        ReferenceAgent::build(Some(mutant), Route::Proxy)
    }

    /// Names: `reference`, `reference~KeepMethodOn303`, `reference+connect-to`.
    fn build(mutant: Option<Mutant>, route: Route) -> ReferenceAgent {
        let mut name = "reference".to_owned();
        if let Some(m) = mutant {
            name = format!("{name}~{}", m.name());
        }
        if route == Route::ConnectTo {
            name.push_str("+connect-to");
        }
        ReferenceAgent { mutant, route, name }
    }

    /// Dial the plan's `connect_to` address instead of using the proxy.
    pub fn via_connect_to(self) -> ReferenceAgent {
        self.via(Route::ConnectTo)
    }

    /// Reach the origins this way.
    pub fn via(self, route: Route) -> ReferenceAgent {
        ReferenceAgent::build(self.mutant, route)
    }

    pub fn mutant(&self) -> Option<Mutant> {
        self.mutant
    }

    pub fn route(&self) -> Route {
        self.route
    }
}

impl Target for ReferenceAgent {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        Box::pin(async move {
            let rules = Rules {
                profile: plan.profile,
                mutant: self.mutant,
            };
            run_plan(rules, self.route, plan).await
        })
    }
}

/// The profile and the broken rule, if any: everything a decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    pub profile: Profile,
    pub mutant: Option<Mutant>,
}

impl Rules {
    /// Whether this run breaks the rule `mutant` stands for.
    pub fn breaks(self, mutant: Mutant) -> bool {
        self.mutant == Some(mutant)
    }
}

/// How the reference user agent reads a URL under `profile`, as its
/// redirect rules do before fragment inheritance: `input` is a `Location`
/// resolved against `base`, or without a base an absolute http(s) URL (a
/// step's). An http(s) result is the URL the request would be made for;
/// another scheme is the resolved URL, which the redirect rules then refuse
/// to follow. `Err` says why there is no URL.
pub fn read_url(profile: Profile, base: Option<&str>, input: &str) -> Result<String, String> {
    let resolved = match base {
        Some(base) => resolve::resolve(profile, base, input).map_err(|e| e.to_string())?,
        None => input.to_owned(),
    };
    match RequestUrl::parse(profile, &resolved, Leniency::default()) {
        Ok(url) => Ok(url.to_string()),
        Err(request_url::UrlError::NotHttp { .. }) if base.is_some() => Ok(resolved),
        Err(e) => Err(e.to_string()),
    }
}

/// The plan's steps in one session. A transport failure of the harness's
/// own making (see [`TransportError::is_harness_fault`]) ends the plan as a
/// [`TargetError::Harness`], never as the step's error.
async fn run_plan(rules: Rules, route: Route, plan: &Plan) -> Result<TargetRun, TargetError> {
    let harness_fault = |step: Option<usize>, e: TransportError| TargetError::Harness {
        step,
        reason: e.to_string(),
    };
    let transport =
        Transport::new(route, &plan.proxy, plan.connect_to, &plan.ca_file).map_err(|e| harness_fault(None, e))?;
    let mut session = Session {
        rules,
        transport,
        hsts: HstsStore::new(),
    };
    if !rules.breaks(Mutant::HstsNoPreload) {
        let now = Instant::now();
        for entry in &plan.preload {
            let include_subdomains = entry.include_subdomains && !rules.breaks(Mutant::HstsPreloadWithoutSubdomains);
            session.hsts.preload(&entry.host, include_subdomains, now);
        }
    }
    let mut steps = Vec::with_capacity(plan.steps.len());
    for (i, step) in plan.steps.iter().enumerate() {
        if step.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.delay_ms)).await;
        }
        let result = session
            .run_step(step)
            .await
            .map_err(|e| harness_fault(Some(i + 1), e))?;
        steps.push(result);
    }
    Ok(TargetRun {
        steps,
        ..TargetRun::default()
    })
}

/// One client session: the HSTS store lives as long as the plan.
struct Session {
    rules: Rules,
    transport: Transport,
    hsts: HstsStore,
}

/// Caller-set fields the agent always generates itself.
const GENERATED_FIELDS: [&str; 3] = ["host", "content-length", "transfer-encoding"];

impl Session {
    /// The step's result as the client reports it; `Err` for a harness fault.
    async fn run_step(&mut self, step: &PlanStep) -> Result<StepResult, TransportError> {
        let rules = self.rules;
        let leniency = Leniency {
            keep_host_case: rules.breaks(Mutant::HstsCaseSensitiveHost),
            ..Leniency::default()
        };
        let url = match RequestUrl::parse(rules.profile, &step.url, leniency) {
            Ok(url) => url,
            Err(e) => return Ok(failure(format!("step URL: {e}"))),
        };
        let mut request = Request {
            method: step.method.clone(),
            url,
            headers: step
                .headers
                .iter()
                .filter(|(n, _)| !GENERATED_FIELDS.iter().any(|g| n.eq_ignore_ascii_case(g)))
                .cloned()
                .collect(),
            body: step.body.clone(),
            streamed: step.streamed,
        };
        hsts::upgrade(&mut request.url, &mut self.hsts, Instant::now(), rules);
        let mut chain = Chain::new(&request);
        let first_host = request.url.host_header();
        loop {
            let host_header = if rules.breaks(Mutant::StaleHost) {
                first_host.clone()
            } else if rules.breaks(Mutant::HstsAddsPort443) {
                // The port the mutant added shows only where the authority is
                // written as it stands (RFC 9112 §3.2).
                request.url.authority()
            } else {
                request.url.host_header()
            };
            let response = match self.send(&request, host_header, step.insecure).await {
                Ok(r) => r,
                Err(e) if e.is_harness_fault() => return Err(e),
                Err(e) => return Ok(failure(e)),
            };
            self.note_hsts(&request.url, &response);
            if !step.follow {
                return Ok(success(&request.url, response));
            }
            let locations = response.values("location");
            match redirect::next(rules, &mut chain, &request, response.status, &locations) {
                Ok(Next::Final) => return Ok(success(&request.url, response)),
                Ok(Next::Follow(mut next)) => {
                    if !rules.breaks(Mutant::HstsSkipsRedirectTargets) {
                        hsts::upgrade(&mut next.url, &mut self.hsts, Instant::now(), rules);
                    }
                    request = *next;
                }
                Err(e) => return Ok(failure(e.to_string())),
            }
        }
    }

    async fn send(
        &mut self,
        request: &Request,
        host_header: String,
        insecure: bool,
    ) -> Result<WireResponse, TransportError> {
        let rules = self.rules;
        let url = &request.url;
        // §8.4: no recourse for a Known HSTS Host, whatever the step says.
        let known =
            url.scheme == Scheme::Https && self.hsts.is_known(&url.host, url.host_is_ip(), Instant::now(), rules);
        let insecure = insecure && (!known || rules.breaks(Mutant::HstsSoftFail));
        let mut path_and_query = url.origin_form();
        if let (true, Some(fragment)) = (rules.breaks(Mutant::SendFragment), &url.fragment) {
            path_and_query.push_str("%23");
            path_and_query.push_str(fragment);
        }
        let target_userinfo = url.userinfo.clone().filter(|_| rules.breaks(Mutant::SendUserinfo));
        let wire = WireRequest {
            method: &request.method,
            url,
            path_and_query,
            target_userinfo,
            host_header,
            headers: &request.headers,
            body: &request.body,
            streamed: request.streamed,
            insecure,
        };
        self.transport.send(&wire).await
    }

    /// §8.1: note the first STS field of an error-free https response.
    fn note_hsts(&mut self, url: &RequestUrl, response: &WireResponse) {
        let rules = self.rules;
        let secure = match response.verified {
            Some(verified) => verified || rules.breaks(Mutant::HstsNotesDespiteTlsError),
            None => rules.breaks(Mutant::HstsOverPlainHttp),
        };
        if !secure || rules.breaks(Mutant::HstsNeverNotes) {
            return;
        }
        if rules.breaks(Mutant::HstsOnlyOn2xx) && !(200..300).contains(&response.status) {
            return;
        }
        let fields = response.values("strict-transport-security");
        let field = if rules.breaks(Mutant::HstsLastHeaderWins) {
            fields.last()
        } else {
            fields.first()
        };
        let now = Instant::now();
        match field.map(|f| hsts::parse_sts(f, ParseQuirks::of(rules))) {
            Some(Ok(policy)) => self.hsts.note(&url.host, url.host_is_ip(), policy, now, rules),
            None if rules.breaks(Mutant::HstsForgetsWithoutHeader) => self.hsts.forget(&url.host),
            // An invalid field is ignored (§6.1 item 4).
            _ => {}
        }
    }
}

fn success(url: &RequestUrl, response: WireResponse) -> StepResult {
    StepResult {
        status: Some(response.status),
        url: Some(url.to_string()),
        headers: response.headers,
        body: response.body,
        error: None,
    }
}

fn failure(reason: impl ToString) -> StepResult {
    StepResult {
        error: Some(reason.to_string()),
        ..StepResult::default()
    }
}

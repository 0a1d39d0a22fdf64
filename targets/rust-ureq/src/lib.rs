//! ureq as a hopcheck target: [`Ureq`] runs each plan in-process with a
//! fresh `ureq::Agent`, set up as ureq's documentation shows a user
//! (https://docs.rs/ureq/3/ureq/struct.Agent.html).
//!
//! ureq is blocking, so a plan runs on tokio's blocking thread pool, with an
//! agent deadline inside the case's time limit so that the thread ends too.
//! The same type serves `hopcheck run --target rust-ureq` through the
//! `ureq-driver` binary and `cargo test -p hopcheck-target-ureq` through the
//! conformance API.

#[path = "../../rust-common/support.rs"]
mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::time::Duration;

use hopcheck::case::Feature;
use hopcheck::targets::{BoxFuture, Plan, PlanStep, StepResult, Target, TargetError, TargetRun};
use ureq::http::request::Builder;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, AsSendBody, Body, Proxy, ResponseExt, SendBody};

use support::{error_chain, header_text, target_fault};

/// The ureq version compiled in, read from the workspace's `Cargo.lock` at
/// build time (see `targets/rust-common/build.rs`).
pub const UREQ_VERSION: &str = env!("HOPCHECK_CLIENT_VERSION");

/// The time limit of a plan run with [`Target::run`], which carries none.
const DEFAULT_LIMIT: Duration = Duration::from_secs(30);

/// How much earlier than the case's time limit the agent gives up, so that
/// its error, not the harness's timeout, ends a slow plan.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// ureq's `Agent`, one per plan (and per redirect setting and verification
/// setting the plan's steps ask for).
#[derive(Debug, Default)]
pub struct Ureq {
    _private: (),
}

impl Ureq {
    pub fn new() -> Ureq {
        Ureq::default()
    }
}

impl Target for Ureq {
    fn name(&self) -> &str {
        "rust-ureq"
    }

    fn version(&self) -> String {
        format!("ureq {UREQ_VERSION}")
    }

    /// ureq has no HSTS store: it never notes Strict-Transport-Security nor
    /// upgrades an `http://` request (no such option in `ureq::config`).
    /// Its URLs are `http::Uri`s, which have no fragment, so neither the
    /// request's nor the final URL's fragment is ever observable.
    fn unsupported(&self) -> BTreeSet<Feature> {
        BTreeSet::from([Feature::Hsts, Feature::HstsPreload, Feature::FinalFragment])
    }

    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        self.run_within(plan, DEFAULT_LIMIT)
    }

    /// The limit also becomes the agents' deadline (less a margin): a
    /// blocking call cannot be cancelled by dropping its future.
    fn run_within<'a>(&'a self, plan: &'a Plan, limit: Duration) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        let plan = plan.clone();
        let deadline = limit.saturating_sub(DEADLINE_MARGIN).max(limit / 2);
        Box::pin(async move {
            let work = tokio::task::spawn_blocking(move || run_plan(&plan, deadline));
            match tokio::time::timeout(limit, work).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(join)) => Err(target_fault(
                    None,
                    format!("the plan's thread ended abnormally: {join}"),
                )),
                Err(_elapsed) => Err(TargetError::Timeout {
                    after_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    stderr: String::new(),
                }),
            }
        })
    }
}

fn run_plan(plan: &Plan, deadline: Duration) -> Result<TargetRun, TargetError> {
    let ca = std::fs::read(&plan.ca_file)
        .map_err(|e| format!("cannot read the CA file {}: {e}", plan.ca_file.display()))
        .and_then(|pem| Certificate::from_pem(&pem).map_err(|e| format!("the CA file is not a PEM certificate: {e}")))
        .map_err(|message| target_fault(None, message))?;
    let mut agents = Agents {
        plan,
        roots: RootCerts::new_with_certs(&[ca]),
        deadline,
        built: HashMap::new(),
    };
    let mut steps = Vec::with_capacity(plan.steps.len());
    for (index, step) in plan.steps.iter().enumerate() {
        if step.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(step.delay_ms));
        }
        let agent = agents
            .for_step(step)
            .map_err(|message| target_fault(Some(index + 1), message))?;
        steps.push(send(agent, step));
    }
    Ok(TargetRun {
        steps,
        ..TargetRun::default()
    })
}

/// The plan's agents, built when a step first needs one: ureq fixes the
/// redirect limit and certificate verification per `Agent`.
struct Agents<'p> {
    plan: &'p Plan,
    roots: RootCerts,
    deadline: Duration,
    built: HashMap<(bool, bool), Agent>,
}

impl Agents<'_> {
    fn for_step(&mut self, step: &PlanStep) -> Result<&Agent, String> {
        let key = (step.follow, step.insecure);
        if !self.built.contains_key(&key) {
            let agent = self.build(step.follow, step.insecure)?;
            self.built.insert(key, agent);
        }
        Ok(&self.built[&key])
    }

    fn build(&self, follow: bool, insecure: bool) -> Result<Agent, String> {
        let proxy = Proxy::new(&self.plan.proxy).map_err(|e| format!("proxy `{}`: {e}", self.plan.proxy))?;
        let tls = TlsConfig::builder()
            .root_certs(self.roots.clone())
            .disable_verification(insecure)
            .build();
        // The defaults but three: the plan's proxy (given, it replaces
        // ALL_PROXY/HTTPS_PROXY/HTTP_PROXY and NO_PROXY from the
        // environment), its CA, and 4xx/5xx answered as responses rather
        // than `Error::StatusCode`, so that the final status, headers and
        // body can be reported (the documented switch for reading them;
        // redirects are followed before it applies). Up to 10 redirects are
        // followed, as by default; a step that does not follow gets
        // `max_redirects(0)`, which returns the 3xx.
        let mut config = Agent::config_builder()
            .proxy(Some(proxy))
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(self.deadline));
        if !follow {
            config = config.max_redirects(0);
        }
        Ok(config.build().new_agent())
    }
}

/// One step through ureq's http-crate API, as its documentation shows for a
/// method and headers given at run time: an `http::Request` built with
/// `ureq::http::Request::builder()` and `Agent::run`, the body read whole.
/// What the http crate or ureq refuses or fails at is the step's `error`.
fn send(agent: &Agent, step: &PlanStep) -> StepResult {
    let mut request = ureq::http::Request::builder()
        .method(step.method.as_str())
        .uri(step.url.as_str());
    for (name, value) in &step.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if step.streamed {
        // A body from a reader is sent once, chunked: ureq cannot replay it.
        let reader = Cursor::new(step.body.clone());
        call(agent, request, SendBody::from_owned_reader(reader))
    } else if step.body.is_empty() {
        call(agent, request, ())
    } else {
        call(agent, request, step.body.as_slice())
    }
}

fn call(agent: &Agent, request: Builder, body: impl AsSendBody) -> StepResult {
    let response = request
        .body(body)
        .map_err(ureq::Error::from)
        .and_then(|request| agent.run(request));
    match response {
        Ok(response) => read(response),
        Err(error) => StepResult {
            error: Some(error_chain(&error)),
            ..StepResult::default()
        },
    }
}

fn read(mut response: ureq::http::Response<Body>) -> StepResult {
    let mut result = StepResult {
        status: Some(response.status().as_u16()),
        url: Some(response.get_uri().to_string()),
        headers: response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), header_text(value.as_bytes())))
            .collect(),
        ..StepResult::default()
    };
    match response.body_mut().read_to_vec() {
        Ok(body) => result.body = body,
        Err(error) => result.error = Some(error_chain(&error)),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use hopcheck::targets::spec::TargetSpec;

    /// The driver's answers carry `Target::unsupported`, `hopcheck` reads
    /// target.toml: the two must say the same.
    #[test]
    fn target_toml_declares_what_the_target_lacks() {
        let spec = TargetSpec::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("target.toml loads");
        let target = Ureq::new();
        assert_eq!(spec.name, target.name());
        assert_eq!(spec.unsupported, target.unsupported());
    }
}

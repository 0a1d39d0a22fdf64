//! reqwest as a hopcheck target: [`Reqwest`] runs each plan in-process with
//! a fresh `reqwest::Client`, set up as reqwest's documentation shows a user
//! (https://docs.rs/reqwest/0.13/reqwest/struct.ClientBuilder.html).
//!
//! The same type serves `hopcheck run --target rust-reqwest` through the
//! `reqwest-driver` binary and `cargo test -p hopcheck-target-reqwest`
//! through the conformance API.

#[path = "../../rust-common/support.rs"]
mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use hopcheck::case::Feature;
use hopcheck::targets::{BoxFuture, Plan, PlanStep, StepResult, Target, TargetError, TargetRun};
use reqwest::{redirect, Body, Certificate, Client, Method, Proxy, Response};

use support::{error_chain, header_text, target_fault};

/// The reqwest version compiled in, read from the workspace's `Cargo.lock`
/// at build time (see `targets/rust-common/build.rs`).
pub const REQWEST_VERSION: &str = env!("HOPCHECK_CLIENT_VERSION");

/// reqwest's async `Client`, one per plan (and per redirect policy and
/// verification setting the plan's steps ask for).
#[derive(Debug, Default)]
pub struct Reqwest {
    _private: (),
}

impl Reqwest {
    pub fn new() -> Reqwest {
        Reqwest::default()
    }
}

impl Target for Reqwest {
    fn name(&self) -> &str {
        "rust-reqwest"
    }

    fn version(&self) -> String {
        format!("reqwest {REQWEST_VERSION}")
    }

    /// reqwest has no HSTS store: it never notes Strict-Transport-Security
    /// nor upgrades an `http://` request (no such option on `ClientBuilder`).
    /// `Response::url()` never shows a fragment: reqwest re-parses it from
    /// the `http::Uri` its redirect layer records, which has none.
    fn unsupported(&self) -> BTreeSet<Feature> {
        BTreeSet::from([Feature::Hsts, Feature::HstsPreload, Feature::FinalFragment])
    }

    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        Box::pin(run_plan(plan))
    }
}

async fn run_plan(plan: &Plan) -> Result<TargetRun, TargetError> {
    let ca = std::fs::read(&plan.ca_file)
        .map_err(|e| format!("cannot read the CA file {}: {e}", plan.ca_file.display()))
        .and_then(|pem| Certificate::from_pem(&pem).map_err(|e| format!("the CA file is not a PEM certificate: {e}")))
        .map_err(|message| target_fault(None, message))?;
    let mut clients = Clients::new(plan, ca);
    let mut steps = Vec::with_capacity(plan.steps.len());
    for (index, step) in plan.steps.iter().enumerate() {
        if step.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.delay_ms)).await;
        }
        let client = clients
            .for_step(step)
            .map_err(|message| target_fault(Some(index + 1), message))?;
        let method = Method::from_bytes(step.method.as_bytes())
            .map_err(|e| target_fault(Some(index + 1), format!("method `{}`: {e}", step.method)))?;
        steps.push(send(client, method, step).await);
    }
    Ok(TargetRun {
        steps,
        ..TargetRun::default()
    })
}

/// The plan's clients, built when a step first needs one: reqwest fixes the
/// redirect policy and certificate verification per `Client`.
struct Clients<'p> {
    plan: &'p Plan,
    ca: Certificate,
    built: HashMap<(bool, bool), Client>,
}

impl<'p> Clients<'p> {
    fn new(plan: &'p Plan, ca: Certificate) -> Clients<'p> {
        Clients {
            plan,
            ca,
            built: HashMap::new(),
        }
    }

    fn for_step(&mut self, step: &PlanStep) -> Result<&Client, String> {
        let key = (step.follow, step.insecure);
        if !self.built.contains_key(&key) {
            let client = self.build(step.follow, step.insecure)?;
            self.built.insert(key, client);
        }
        Ok(&self.built[&key])
    }

    fn build(&self, follow: bool, insecure: bool) -> Result<Client, String> {
        let proxy =
            Proxy::all(&self.plan.proxy).map_err(|e| format!("proxy `{}`: {}", self.plan.proxy, error_chain(&e)))?;
        // `Client::builder()` defaults: redirects followed up to 10, Referer
        // on, no cookie store. Setting a proxy turns off the system proxy
        // (HTTP_PROXY and friends are not read).
        //
        // No idle connections are kept: hyper-util's pool races a new
        // connection against one that becomes idle and lets the loser finish
        // its TLS handshake in the background, so a varying number of unused
        // connections would show up in the observations. Without idle
        // connections each request dials its own; redirect handling does not
        // depend on the pool.
        let mut builder = Client::builder()
            .pool_max_idle_per_host(0)
            .proxy(proxy)
            .tls_certs_only([self.ca.clone()])
            .tls_danger_accept_invalid_certs(insecure);
        if !follow {
            builder = builder.redirect(redirect::Policy::none());
        }
        builder
            .build()
            .map_err(|e| format!("building the client: {}", error_chain(&e)))
    }
}

/// One step as a user writes it: `client.request(method, url)`, each header
/// with `.header()`, the body, `.send()`, then the body read whole. What
/// reqwest refuses or fails at is the step's `error`.
async fn send(client: &Client, method: Method, step: &PlanStep) -> StepResult {
    let mut request = client.request(method, &step.url);
    for (name, value) in &step.headers {
        request = request.header(name, value);
    }
    if step.streamed {
        // A body from a stream is sent once: reqwest cannot replay it.
        let bytes = Bytes::from(step.body.clone());
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
        request = request.body(Body::wrap_stream(stream));
    } else if !step.body.is_empty() {
        request = request.body(step.body.clone());
    }
    match request.send().await {
        Ok(response) => read(response).await,
        Err(error) => StepResult {
            error: Some(error_chain(&error)),
            ..StepResult::default()
        },
    }
}

async fn read(response: Response) -> StepResult {
    let mut result = StepResult {
        status: Some(response.status().as_u16()),
        url: Some(response.url().to_string()),
        headers: response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), header_text(value.as_bytes())))
            .collect(),
        ..StepResult::default()
    };
    match response.bytes().await {
        Ok(body) => result.body = body.to_vec(),
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
        let target = Reqwest::new();
        assert_eq!(spec.name, target.name());
        assert_eq!(spec.unsupported, target.unsupported());
    }
}

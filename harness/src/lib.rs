//! hopcheck: a conformance suite for how HTTP clients follow redirects and
//! apply HSTS.
//!
//! Data flows one way: [`case`] (load and validate case files) → [`origin`]
//! (scripted servers, routing, TLS, recording) → [`targets`] (drive a client)
//! → [`runner`] (schedule, time out, collect) → [`verdict`] (judge) →
//! [`report`] (JSON and friends) → [`publish`] (HTML page, Markdown
//! summary, JUnit XML). Beside them: [`mutation`] (the reference
//! with one rule broken, per case), [`properties`] (generated cases, shrunk
//! to a case file on failure) and [`trace`] (requirements → cases →
//! verdicts). [`probe`] turns the roles around: hopcheck is the client and
//! a server's redirects and HSTS headers are judged (`probes/`, `hopcheck
//! probe`), with the same verdict kinds.
//!
//! The `hopcheck` command line is a crate of its own (`hopcheck-cli`, in
//! `cli/`) that only wires these: this library never prints, and without
//! its default feature `conformance` (the libtest API, whose libtest-mimic
//! parses arguments with clap) it depends on no command-line crate (clap,
//! indicatif).
//!
//! ## Running the suite against your own client
//!
//! A Rust HTTP client implements [`targets::Target`]: it gets a
//! [`targets::Plan`] per case (the steps, the proxy or connect-to address of
//! the case's origin, the test CA to trust, a state folder, HSTS hosts to
//! preload) and reports what each step ended with. `conformance` (feature
//! `conformance`, on by default) then runs the suite as one libtest trial
//! per case in the client crate's own `cargo test`, and
//! [`targets::driver::serve`] makes the same type a driver program for
//! `hopcheck run --target`. Lower down, [`runner::Runner`] runs cases and
//! returns their results:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use hopcheck::case::{load_embedded, Profile};
//! use hopcheck::runner::{RunConfig, Runner};
//! use hopcheck::targets::{BoxFuture, Plan, StepResult, Target, TargetError, TargetRun};
//! use hopcheck::verdict::VerdictKind;
//!
//! struct MyClient;
//!
//! impl Target for MyClient {
//!     fn name(&self) -> &str {
//!         "my-client"
//!     }
//!     fn version(&self) -> String {
//!         "0.1.0".into()
//!     }
//!     fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
//!         Box::pin(async move {
//!             // Send each step through `plan.proxy` (or dial `plan.connect_to`),
//!             // trusting only `plan.ca_file`, and report status, URL, headers, body.
//!             let steps = plan.steps.iter().map(|_| StepResult::default()).collect();
//!             Ok(TargetRun { steps, ..TargetRun::default() })
//!         })
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let suite = load_embedded()?;
//! let runner = Arc::new(Runner::new(RunConfig::default())?);
//! let catalogue = Arc::new(suite.catalogue.clone());
//! let results = runner.run_all(Arc::new(MyClient), &suite.cases, catalogue, Profile::Rfc9110, |_| {}).await;
//! let passed = results.iter().filter(|r| r.verdict.kind == VerdictKind::Pass).count();
//! println!("{passed} of {} cases pass", results.len());
//! # Ok(())
//! # }
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod case;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod exhaustion;
pub mod mutation;
pub mod origin;
pub mod probe;
pub mod properties;
pub mod publish;
pub mod report;
pub mod runner;
pub mod scheme;
pub mod targets;
pub mod trace;
pub mod verdict;

/// A top-level project folder (`suites`, `targets`, `reports`): `./NAME`
/// when it exists in the working directory, else the one beside this crate.
pub fn project_dir(name: &str) -> std::path::PathBuf {
    let here = std::path::Path::new(name);
    if here.is_dir() {
        return here.to_path_buf();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// Serde helper: bytes as a standard base64 string.
pub(crate) mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

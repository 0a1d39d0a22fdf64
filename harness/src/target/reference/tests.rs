//! End-to-end tests of the reference agent against a scripted origin.

use std::net::SocketAddr;

use super::ReferenceAgent;
use crate::case::Profile;
use crate::target::{Plan, PlanStep, Target};

fn step(url: &str) -> PlanStep {
    PlanStep {
        method: "GET".to_owned(),
        url: url.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
        streamed: false,
        follow: true,
        delay_ms: 0,
        insecure: false,
    }
}

#[tokio::test]
async fn an_unreadable_ca_file_fails_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan {
        case: "setup/bad-ca".to_owned(),
        profile: Profile::Rfc9110,
        steps: vec![step("http://h.test/"), step("https://h.test/")],
        proxy: "http://127.0.0.1:9".to_owned(),
        connect_to: SocketAddr::from(([127, 0, 0, 1], 9)),
        ca_file: dir.path().join("missing.pem"),
        state_dir: dir.path().to_owned(),
        preload: Vec::new(),
    };
    let run = ReferenceAgent::new().run(&plan).await.unwrap();
    assert_eq!(run.steps.len(), 2);
    for result in &run.steps {
        assert!(
            result.error.as_deref().is_some_and(|e| e.starts_with("setup: CA file")),
            "{result:?}"
        );
        assert_eq!(result.status, None);
    }
}

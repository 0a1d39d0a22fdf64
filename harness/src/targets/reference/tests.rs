//! End-to-end tests of the reference agent against a scripted origin on
//! loopback, through both routes (forward proxy and connect-to).

use std::net::SocketAddr;
use std::sync::Arc;

use super::{ReferenceAgent, Route};
use crate::case::{HostConfig, OriginRule, Preload, Profile};
use crate::origin::{Arrival, Hop, Limits, Origin, TestCa};
use crate::targets::mutant::Mutant;
use crate::targets::{Plan, PlanStep, Target, TargetError, TargetRun};

const ROUTES: [Route; 2] = [Route::Proxy, Route::ConnectTo];

fn step(method: &str, url: &str) -> PlanStep {
    PlanStep::new(method, url)
}

/// A script and host settings, written as in a case file.
#[derive(serde::Deserialize)]
struct World {
    #[serde(default)]
    origin: Vec<OriginRule>,
    #[serde(default)]
    host: Vec<HostConfig>,
    #[serde(default)]
    preload: Vec<Preload>,
}

/// Start the world's origin, run the steps with `agent`, return what the
/// agent reported and the hops the origin saw.
async fn exercise(agent: &ReferenceAgent, world: &str, steps: Vec<PlanStep>) -> (TargetRun, Vec<Hop>) {
    let world: World = toml::from_str(world).unwrap();
    let ca = Arc::new(TestCa::new().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file).unwrap();
    let origin = Origin::start(world.origin, world.host, ca, Limits::default())
        .await
        .unwrap();
    let plan = Plan {
        case: "reference/e2e".to_owned(),
        profile: Profile::Rfc9110,
        steps,
        proxy: origin.proxy_url(),
        connect_to: origin.addr(),
        ca_file,
        state_dir: dir.path().to_owned(),
        preload: world.preload,
    };
    let result = agent.run(&plan).await.unwrap();
    (result, origin.settled_hops().await)
}

const POST_307: &str = r#"
[[origin]]
on = "http://a.test/start"
reply = { status = 307, headers = [["Location", "/now"]] }
[[origin]]
on = "http://a.test/now"
reply = { status = 200, body = "done" }
"#;

fn post_with_body() -> PlanStep {
    let mut post = step("POST", "http://a.test/start");
    post.body = b"a=1".to_vec();
    post.headers = vec![(
        "Content-Type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    post
}

#[tokio::test]
async fn post_307_keeps_method_and_body_on_both_routes() {
    for route in ROUTES {
        let (run, hops) = exercise(&ReferenceAgent::new().via(route), POST_307, vec![post_with_body()]).await;
        assert_eq!(run.steps[0].status, Some(200), "{route:?}: {:?}", run.steps[0]);
        assert_eq!(run.steps[0].body, b"done");
        assert_eq!(run.steps[0].url.as_deref(), Some("http://a.test/now"));
        assert_eq!(hops.len(), 2, "{route:?}");
        let arrival = if route == Route::Proxy {
            Arrival::Absolute
        } else {
            Arrival::Direct
        };
        for hop in &hops {
            assert_eq!((hop.method.as_str(), hop.body.as_slice()), ("POST", &b"a=1"[..]));
            assert_eq!(hop.arrival, arrival);
            assert_eq!(hop.header_values("host").collect::<Vec<_>>(), ["a.test"]);
        }
        assert_eq!(hops[1].url(), "http://a.test/now");
        assert_eq!(hops[1].header_values("content-type").count(), 1);
    }
}

#[tokio::test]
async fn a_mutant_changes_the_observed_hops() {
    let agent = ReferenceAgent::with_mutant(Mutant::ChangeMethodOn307);
    let (run, hops) = exercise(&agent, POST_307, vec![post_with_body()]).await;
    assert_eq!(run.steps[0].status, Some(200));
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[1].method, "GET");
    assert!(hops[1].body.is_empty());
}

#[tokio::test]
async fn https_goes_through_connect_or_straight_with_sni() {
    let world = r#"
[[origin]]
on = "https://s.test:8443/x"
reply = { status = 200, body = "secure" }
"#;
    for route in ROUTES {
        let (run, hops) = exercise(
            &ReferenceAgent::new().via(route),
            world,
            vec![step("GET", "https://s.test:8443/x#frag")],
        )
        .await;
        assert_eq!(run.steps[0].status, Some(200), "{route:?}: {:?}", run.steps[0]);
        assert_eq!(run.steps[0].url.as_deref(), Some("https://s.test:8443/x#frag"));
        let hop = &hops[0];
        assert_eq!(
            (hop.scheme.as_str(), hop.port, hop.target.as_str()),
            ("https", 8443, "/x")
        );
        assert_eq!(hop.sni.as_deref(), Some("s.test"));
        assert_eq!(hop.header_values("host").collect::<Vec<_>>(), ["s.test:8443"]);
        let arrival = if route == Route::Proxy {
            Arrival::Connect
        } else {
            Arrival::Direct
        };
        assert_eq!(hop.arrival, arrival);
    }
}

const HSTS: &str = r#"
[[origin]]
on = "https://h.test/"
reply = { status = 200, headers = [["Strict-Transport-Security", "max-age=60"]] }
[[origin]]
on = "https://h.test/again"
reply = { status = 200, body = "upgraded" }
[[origin]]
on = "http://h.test/again"
reply = { status = 200, body = "plaintext" }
"#;

#[tokio::test]
async fn a_noted_host_is_upgraded_to_https_on_443() {
    for route in ROUTES {
        let steps = vec![step("GET", "https://h.test/"), step("GET", "http://h.test/again")];
        let (run, hops) = exercise(&ReferenceAgent::new().via(route), HSTS, steps).await;
        assert_eq!(run.steps[1].body, b"upgraded", "{route:?}: {:?}", run.steps[1]);
        assert_eq!(run.steps[1].url.as_deref(), Some("https://h.test/again"));
        assert_eq!(hops.len(), 2);
        assert_eq!((hops[1].scheme.as_str(), hops[1].port), ("https", 443));
        assert_eq!(hops[1].header_values("host").collect::<Vec<_>>(), ["h.test"]);
    }
    let steps = vec![step("GET", "https://h.test/"), step("GET", "http://h.test/again")];
    let (run, hops) = exercise(&ReferenceAgent::with_mutant(Mutant::HstsNoUpgrade), HSTS, steps).await;
    assert_eq!(run.steps[1].body, b"plaintext");
    assert_eq!(hops[1].scheme, "http");
}

const UNTRUSTED: &str = r#"
[[host]]
name = "bad.test"
cert = "untrusted"
[[origin]]
on = "https://bad.test/"
reply = { status = 200, headers = [["Strict-Transport-Security", "max-age=60"]] }
[[origin]]
on = "http://bad.test/"
reply = { status = 200, body = "plaintext" }
"#;

#[tokio::test]
async fn insecure_steps_accept_a_bad_certificate_but_never_note_it() {
    use crate::origin::HopKind;
    let mut insecure = step("GET", "https://bad.test/");
    insecure.insecure = true;
    let steps = vec![
        step("GET", "https://bad.test/"),
        insecure,
        step("GET", "http://bad.test/"),
    ];
    let (run, hops) = exercise(&ReferenceAgent::new(), UNTRUSTED, steps.clone()).await;
    assert!(
        run.steps[0].error.as_deref().is_some_and(|e| e.starts_with("tls:")),
        "{:?}",
        run.steps[0]
    );
    assert_eq!(run.steps[1].status, Some(200));
    assert_eq!(
        run.steps[2].body, b"plaintext",
        "STS over an unverified connection was noted"
    );
    // The refused handshake of step 1 is a hop too.
    let kinds: Vec<_> = hops.iter().map(|hop| hop.kind).collect();
    assert_eq!(kinds, [HopKind::TlsFailed, HopKind::Request, HopKind::Request]);

    let (run, _) = exercise(
        &ReferenceAgent::with_mutant(Mutant::HstsNotesDespiteTlsError),
        UNTRUSTED,
        steps,
    )
    .await;
    assert!(
        run.steps[2].error.is_some(),
        "the mutant upgrades to the bad certificate: {:?}",
        run.steps[2]
    );
}

#[tokio::test]
async fn a_preloaded_host_fails_hard_even_when_insecure() {
    let world = format!("{UNTRUSTED}\n[[preload]]\nhost = \"bad.test\"\n");
    let mut insecure = step("GET", "http://bad.test/");
    insecure.insecure = true;
    let (run, hops) = exercise(&ReferenceAgent::new(), &world, vec![insecure.clone()]).await;
    assert!(run.steps[0].error.is_some(), "{:?}", run.steps[0]);
    // The upgraded connection is refused at the handshake: no request is sent.
    let kinds: Vec<_> = hops.iter().map(|hop| hop.kind).collect();
    assert_eq!(kinds, [crate::origin::HopKind::TlsFailed]);

    let (run, hops) = exercise(
        &ReferenceAgent::with_mutant(Mutant::HstsSoftFail),
        &world,
        vec![insecure],
    )
    .await;
    assert_eq!(run.steps[0].status, Some(200));
    assert_eq!((hops[0].scheme.as_str(), hops[0].port), ("https", 443));
}

#[tokio::test]
async fn credentials_stay_with_their_origin_and_the_fragment_is_inherited() {
    let world = r#"
[[origin]]
on = "http://a.test/start"
reply = { status = 302, headers = [["Location", "http://b.test/there"]] }
[[origin]]
on = "http://b.test/there"
reply = { status = 303, headers = [["Location", "http://a.test/home"]] }
[[origin]]
on = "http://a.test/home"
reply = { status = 200 }
"#;
    let mut start = step("GET", "http://a.test/start#f");
    start.headers = vec![
        ("Authorization".to_owned(), "Bearer secret".to_owned()),
        ("Cookie".to_owned(), "c=1".to_owned()),
    ];
    let (run, hops) = exercise(&ReferenceAgent::new(), world, vec![start]).await;
    assert_eq!(run.steps[0].url.as_deref(), Some("http://a.test/home#f"));
    assert_eq!(hops.len(), 3);
    assert_eq!(hops[0].header_values("authorization").count(), 1);
    for hop in &hops[1..] {
        assert_eq!(hop.header_values("authorization").count(), 0, "{}", hop.url());
        assert_eq!(hop.header_values("cookie").count(), 0, "{}", hop.url());
        assert!(!hop.target.contains('#'));
    }
}

#[tokio::test]
async fn an_unreadable_ca_file_is_a_harness_fault_not_the_steps_errors() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan {
        case: "setup/bad-ca".to_owned(),
        profile: Profile::Rfc9110,
        steps: vec![step("GET", "http://h.test/"), step("GET", "https://h.test/")],
        proxy: "http://127.0.0.1:9".to_owned(),
        connect_to: SocketAddr::from(([127, 0, 0, 1], 9)),
        ca_file: dir.path().join("missing.pem"),
        state_dir: dir.path().to_owned(),
        preload: Vec::new(),
    };
    let err = ReferenceAgent::new().run(&plan).await.unwrap_err();
    assert!(
        matches!(&err, TargetError::Harness { step: None, reason } if reason.starts_with("setup: CA file")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_preloaded_includesubdomains_entry_covers_subdomains() {
    let world = r#"
[[preload]]
host = "p.test"
include_subdomains = true
[[origin]]
on = "https://a.p.test/"
reply = { status = 200, body = "upgraded" }
[[origin]]
on = "http://a.p.test/"
reply = { status = 200, body = "plaintext" }
"#;
    let (run, _) = exercise(&ReferenceAgent::new(), world, vec![step("GET", "http://a.p.test/")]).await;
    assert_eq!(run.steps[0].body, b"upgraded", "{:?}", run.steps[0]);
    let mutant = ReferenceAgent::with_mutant(Mutant::HstsPreloadWithoutSubdomains);
    let (run, hops) = exercise(&mutant, world, vec![step("GET", "http://a.p.test/")]).await;
    assert_eq!(run.steps[0].body, b"plaintext", "{:?}", run.steps[0]);
    assert_eq!(hops[0].scheme, "http");
}

#[tokio::test]
async fn the_port_mutant_sends_the_added_port_in_host() {
    let steps = vec![step("GET", "https://h.test/"), step("GET", "http://h.test/again")];
    let (run, hops) = exercise(&ReferenceAgent::with_mutant(Mutant::HstsAddsPort443), HSTS, steps).await;
    assert_eq!(run.steps[1].url.as_deref(), Some("https://h.test:443/again"));
    assert_eq!(hops[0].header_values("host").collect::<Vec<_>>(), ["h.test"]);
    assert_eq!(hops[1].header_values("host").collect::<Vec<_>>(), ["h.test:443"]);
}

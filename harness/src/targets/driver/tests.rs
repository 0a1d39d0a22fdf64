//! The driver pool against the fixture drivers in tests/fixtures/drivers,
//! and against curl when it is installed.

use std::path::{Path, PathBuf};

use super::stderr::KEEP;
use super::*;
use crate::case::{Preload, Profile};
use crate::targets::spec::{KnownFailures, Routing};
use crate::targets::PlanStep;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drivers")
}

fn fixture(script: &str) -> DriverTarget {
    let dir = fixtures();
    DriverTarget::new(TargetSpec {
        name: "fixture".to_owned(),
        description: format!("tests/fixtures/drivers/{script}"),
        path: dir.join("target.toml"),
        dir,
        command: vec!["python3".to_owned(), script.to_owned()],
        version_command: None,
        tested_versions: Vec::new(),
        requires: vec!["python3".to_owned()],
        unsupported: BTreeSet::from([Feature::StreamedBody]),
        routing: Routing::Proxy,
        known_failures: KnownFailures::default(),
    })
}

fn step(method: &str, url: &str) -> PlanStep {
    PlanStep::new(method, url)
}

fn plan(case: &str, state_dir: &Path, steps: Vec<PlanStep>) -> Plan {
    Plan {
        case: case.to_owned(),
        profile: Profile::Fetch,
        steps,
        proxy: "http://127.0.0.1:4567".to_owned(),
        connect_to: "127.0.0.1:4567".parse().expect("address"),
        ca_file: state_dir.join("ca.pem"),
        state_dir: state_dir.to_path_buf(),
        preload: vec![Preload {
            host: "origin.test".to_owned(),
            include_subdomains: true,
        }],
    }
}

fn simple(case: &str, state_dir: &Path) -> Plan {
    plan(case, state_dir, vec![step("GET", "http://origin.test/")])
}

fn header<'a>(result: &'a crate::targets::StepResult, name: &str) -> &'a str {
    result
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header in {:?}", result.headers))
}

fn pid(run: &TargetRun) -> u32 {
    header(&run.steps[0], "x-pid").parse().expect("pid")
}

#[tokio::test]
async fn echo_round_trips_the_plan() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("echo.py");
    let mut post = step("POST", "https://origin.test/form?a=1");
    post.headers = vec![
        ("X-A".to_owned(), "1".to_owned()),
        ("x-a".to_owned(), "2".to_owned()),
        ("Empty".to_owned(), String::new()),
    ];
    post.body = (0..=255u8).chain(0..=255u8).collect();
    post.streamed = true;
    post.follow = false;
    post.delay_ms = 5;
    post.insecure = true;
    let plan = plan(
        "roundtrip",
        state.path(),
        vec![post.clone(), step("GET", "http://origin.test/two")],
    );

    let run = target.run(&plan).await.expect("echo answers");

    assert_eq!(run.steps.len(), 2);
    let first = &run.steps[0];
    assert_eq!(first.status, Some(200));
    assert_eq!(first.url.as_deref(), Some("https://origin.test/form?a=1"));
    assert_eq!(first.headers[..3], post.headers[..]);
    assert_eq!(first.body, post.body);
    assert_eq!(first.error, None);
    let mut echoed: serde_json::Value = serde_json::from_str(header(first, "x-step")).expect("x-step is JSON");
    let id = echoed["plan"]
        .as_object_mut()
        .and_then(|plan| plan.remove("id"))
        .expect("the plan line has an id");
    assert!(id.as_u64().is_some_and(|id| id > 0), "{id}");
    assert_eq!(
        echoed,
        serde_json::json!({
            "method": "POST", "url": "https://origin.test/form?a=1", "streamed": true, "follow": false,
            "delay_ms": 5, "insecure": true,
            "plan": {
                "case": "roundtrip", "profile": "fetch", "proxy": "http://127.0.0.1:4567",
                "connect_to": "127.0.0.1:4567", "ca_file": state.path().join("ca.pem"),
                "state_dir": state.path(), "preload": [{"host": "origin.test", "include_subdomains": true}],
                "timeout_ms": 30_000,
            },
        })
    );
    assert_eq!(run.steps[1].url.as_deref(), Some("http://origin.test/two"));
    assert!(run.steps[1].body.is_empty());
    // The driver's declaration adds to the target file's.
    assert_eq!(run.unsupported, BTreeSet::from([Feature::Hsts, Feature::StreamedBody]));
    assert_eq!(target.unsupported(), BTreeSet::from([Feature::StreamedBody]));
    assert_eq!(run.stderr, "echo: plan roundtrip\n");
}

#[tokio::test]
async fn a_process_serves_plan_after_plan() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("echo.py");
    let one = target.run(&simple("one", state.path())).await.expect("answer");
    let two = target.run(&simple("two", state.path())).await.expect("answer");
    assert_eq!(pid(&one), pid(&two));
    // Each plan gets the stderr written for it only.
    assert_eq!(one.stderr, "echo: plan one\n");
    assert_eq!(two.stderr, "echo: plan two\n");
}

#[tokio::test]
async fn a_process_per_plan_serves_one_plan_and_is_stopped() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("echo.py").with_a_process_per_plan();
    let one = target.run(&simple("one", state.path())).await.expect("answer");
    let two = target.run(&simple("two", state.path())).await.expect("answer");
    assert_ne!(pid(&one), pid(&two));
    wait_gone(pid(&one)).await;
}

#[tokio::test]
async fn concurrent_plans_share_at_most_n_processes() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("echo.py").with_max_processes(2);
    let plans: Vec<Plan> = (0..6).map(|i| simple(&format!("p{i}"), state.path())).collect();
    let runs = futures::future::join_all(plans.iter().map(|p| target.run(p))).await;
    let pids: BTreeSet<u32> = runs.iter().map(|r| pid(r.as_ref().expect("answer"))).collect();
    assert!(!pids.is_empty() && pids.len() <= 2, "{pids:?}");
    for (i, run) in runs.iter().enumerate() {
        let run = run.as_ref().expect("answer");
        assert_eq!(run.stderr, format!("echo: plan p{i}\n"));
    }
}

/// Two live processes in the pool, so the plan after a failure does not
/// wait for a process to start.
async fn warm(target: &DriverTarget, state: &Path) -> BTreeSet<u32> {
    let (a, b) = (simple("warm-a", state), simple("warm-b", state));
    let (a, b) = tokio::join!(target.run(&a), target.run(&b));
    BTreeSet::from([pid(&a.expect("answer")), pid(&b.expect("answer"))])
}

#[tokio::test]
async fn a_hanging_driver_times_out_and_the_next_plan_runs() {
    let state = tempfile::tempdir().expect("tempdir");
    // Only the hanging plan gets a short limit: the others may take
    // their time on a busy machine.
    let target = fixture("faulty.py").with_max_processes(2);
    let warm = warm(&target, state.path()).await;

    let hang = simple("hang", state.path());
    let err = target.run_within(&hang, Duration::from_millis(1500)).await.unwrap_err();
    assert!(
        matches!(&err, TargetError::Timeout { after_ms: 1500, stderr } if stderr == "faulty: plan hang\nfaulty: hanging\n"),
        "{err:?}"
    );
    assert!(err.to_string().contains("time limit of 1500 ms"), "{err}");

    let next = target.run(&simple("after", state.path())).await.expect("answer");
    assert!(warm.contains(&pid(&next)));
    let hung: u32 = std::fs::read_to_string(state.path().join("pid"))
        .expect("pid file")
        .parse()
        .expect("pid");
    assert_ne!(pid(&next), hung);
    wait_gone(hung).await;
}

#[tokio::test]
async fn a_driver_that_exits_is_crashed_with_its_stderr() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let before = target.run(&simple("before", state.path())).await.expect("answer");

    let err = target.run(&simple("exit", state.path())).await.unwrap_err();
    let TargetError::Crashed { status, stderr } = &err else {
        panic!("expected Crashed, got {err:?}");
    };
    assert_eq!(status, "exit status: 3");
    assert_eq!(stderr, "faulty: plan exit\nfaulty: dying on purpose\n");
    assert_eq!(err.stderr(), stderr);

    let after = target.run(&simple("after", state.path())).await.expect("answer");
    assert_ne!(pid(&before), pid(&after));
}

#[tokio::test]
async fn a_driver_that_closes_its_output_is_killed() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let err = target.run(&simple("close", state.path())).await.unwrap_err();
    assert!(
        matches!(&err, TargetError::Crashed { status, .. } if status == "closed its output but kept running; killed"),
        "{err:?}"
    );
    target.run(&simple("after", state.path())).await.expect("answer");
}

#[tokio::test]
async fn long_stderr_keeps_its_head_and_tail() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let run = target.run(&simple("chatty", state.path())).await.expect("answer");
    let dropped = "faulty: plan chatty\n".len() + 100_000 + "\nlast line\n".len() - 2 * KEEP;
    assert!(run.stderr.starts_with("faulty: plan chatty\nxxx"), "{:.80}", run.stderr);
    assert!(
        run.stderr.contains(&format!("x\n[{dropped} bytes dropped]\nx")),
        "{}",
        run.stderr.len()
    );
    assert!(run.stderr.ends_with("x\nlast line\n"));
    let next = target.run(&simple("next", state.path())).await.expect("answer");
    assert_eq!(next.stderr, "faulty: plan next\n");
}

#[tokio::test]
async fn garbage_is_reported_with_the_line_and_the_reason() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let before = target.run(&simple("before", state.path())).await.expect("answer");

    let err = target.run(&simple("garbage", state.path())).await.unwrap_err();
    let TargetError::Garbage { line, reason, stderr } = &err else {
        panic!("expected Garbage, got {err:?}");
    };
    assert_eq!(line, "this is not json");
    assert!(reason.starts_with("not an answer: expected"), "{reason}");
    assert_eq!(stderr, "faulty: plan garbage\nfaulty: about to print garbage\n");

    let after = target.run(&simple("after", state.path())).await.expect("answer");
    assert_ne!(pid(&before), pid(&after));
}

#[tokio::test]
async fn a_wrong_step_count_discards_the_process() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let before = target.run(&simple("before", state.path())).await.expect("answer");

    let err = target.run(&simple("wrong-count", state.path())).await.unwrap_err();
    assert_eq!(err, TargetError::WrongStepCount { expected: 1, got: 2 });

    let after = target.run(&simple("after", state.path())).await.expect("answer");
    assert_ne!(pid(&before), pid(&after));
}

#[tokio::test]
async fn a_driver_s_own_fault_is_a_driver_error_and_the_process_stays() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let before = target.run(&simple("before", state.path())).await.expect("answer");

    let err = target.run(&simple("plan-fault", state.path())).await.unwrap_err();
    assert_eq!(
        err,
        TargetError::Driver {
            step: None,
            message: "KeyError: 'steps'".to_owned(),
            stderr: "faulty: plan plan-fault\n".to_owned()
        }
    );
    assert!(err.to_string().contains("not the client"), "{err}");

    let two_steps = plan(
        "step-fault",
        state.path(),
        vec![step("GET", "http://origin.test/"), step("GET", "http://origin.test/2")],
    );
    let err = target.run(&two_steps).await.unwrap_err();
    assert!(
        matches!(&err, TargetError::Driver { step: Some(2), message, .. } if message == "cannot read the client's output"),
        "{err:?}"
    );

    // A driver that says what went wrong is still in step with the harness.
    let after = target.run(&simple("after", state.path())).await.expect("answer");
    assert_eq!(pid(&before), pid(&after));
}

/// A target that only implements [`Target::run`]: the default
/// [`Target::run_within`] times the whole call, waiting included.
struct TimesTheWholeCall(DriverTarget);

impl Target for TimesTheWholeCall {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn version(&self) -> String {
        self.0.version()
    }
    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        self.0.run(plan)
    }
}

/// Four plans in flight (`-j 4`) on a pool of one process that takes a
/// second per plan: the last plan waits 3 s for the process, as long as
/// the limit, and must still get its answer.
#[tokio::test]
async fn waiting_for_a_free_process_does_not_count_against_the_limit() {
    let state = tempfile::tempdir().expect("tempdir");
    let limit = Duration::from_secs(3);
    let plans: Vec<Plan> = (0..4).map(|i| simple(&format!("p{i}"), state.path())).collect();

    let target = fixture("slow.py").with_max_processes(1);
    let runs = futures::future::join_all(plans.iter().map(|p| target.run_within(p, limit))).await;
    for (i, run) in runs.iter().enumerate() {
        let run = run.as_ref().unwrap_or_else(|e| panic!("plan {i}: {e}"));
        assert_eq!(run.stderr, format!("slow: plan p{i}\n"));
    }

    // The same plans timed from the call: the last one waits out its
    // limit in the queue, which is what the pool's own clock avoids.
    let whole = TimesTheWholeCall(fixture("slow.py").with_max_processes(1));
    let runs = futures::future::join_all(plans.iter().map(|p| whole.run_within(p, limit))).await;
    assert!(
        matches!(runs.last(), Some(Err(TargetError::Timeout { after_ms: 3000, .. }))),
        "{runs:?}"
    );
}

#[tokio::test]
async fn dropping_a_run_mid_plan_kills_its_process() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let hang = simple("hang", state.path());
    let pid_file = state.path().join("pid");
    let hung = {
        let mut run = target.run(&hang);
        // Drive the run until the driver has the plan, then drop it.
        loop {
            tokio::select! {
                result = &mut run => panic!("a hanging driver answered: {result:?}"),
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
            {
                break pid;
            }
        }
    };
    wait_gone(hung).await;
    let after = target.run(&simple("after", state.path())).await.expect("answer");
    assert_ne!(pid(&after), hung);
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut spec = fixture("echo.py").spec().clone();
    spec.command = vec!["./no-such-driver".to_owned()];
    let err = DriverTarget::new(spec)
        .run(&simple("x", state.path()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TargetError::Spawn { program, .. } if program == "./no-such-driver"),
        "{err:?}"
    );
}

#[test]
fn version_is_the_first_line_of_the_version_command() {
    let mut spec = fixture("echo.py").spec().clone();
    assert_eq!(DriverTarget::new(spec.clone()).version(), "unknown");
    spec.version_command = Some(vec![
        "python3".to_owned(),
        "-c".to_owned(),
        "print('demo 1.2\\nmore')".to_owned(),
    ]);
    let target = DriverTarget::new(spec);
    assert_eq!(target.version(), "demo 1.2");
    assert_eq!(target.name(), "fixture");
}

/// The curl target from `targets/curl`, or `None` (and why, printed) when
/// curl or python3 is not installed here.
#[allow(clippy::print_stderr)]
fn curl() -> Option<DriverTarget> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets");
    let spec = TargetSpec::find("curl", &root).expect("targets/curl is a valid target");
    let missing = spec.missing_requirements();
    if missing.is_empty() {
        Some(DriverTarget::new(spec))
    } else {
        eprintln!("skipped: not installed here: {}", missing.join(", "));
        None
    }
}

fn rule(on: &str, status: u16, headers: &[(&str, &str)], body: Option<&str>) -> crate::case::OriginRule {
    crate::case::OriginRule {
        on: on.to_owned(),
        method: None,
        reply: crate::case::Reply {
            status,
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).into())).collect(),
            body: body.map(|b| crate::case::Body::Text(b.to_owned())),
        },
    }
}

/// An origin serving `rules`, and a plan reaching it the way the curl target does.
async fn world(
    rules: Vec<crate::case::OriginRule>,
    steps: Vec<PlanStep>,
    files: &Path,
) -> (crate::origin::Origin, Plan) {
    let ca = std::sync::Arc::new(crate::origin::TestCa::new().expect("test CA"));
    let ca_file = files.join("ca.pem");
    ca.write_pem(&ca_file).expect("write CA");
    let state_dir = files.join("state");
    std::fs::create_dir(&state_dir).expect("state folder");
    let origin = crate::origin::Origin::start(rules, Vec::new(), ca, crate::origin::Limits::default())
        .await
        .expect("origin starts");
    let plan = Plan {
        case: "driver/curl".to_owned(),
        profile: Profile::Rfc9110,
        steps,
        proxy: origin.proxy_url(),
        connect_to: origin.addr(),
        ca_file,
        state_dir,
        preload: Vec::new(),
    };
    (origin, plan)
}

#[tokio::test]
async fn curl_keeps_post_and_its_body_across_307() {
    let Some(curl) = curl() else { return };
    let files = tempfile::tempdir().expect("tempdir");
    let rules = vec![
        rule("https://origin.test/start", 307, &[("Location", "/now")], None),
        rule("https://origin.test/now", 200, &[], Some("done")),
    ];
    let mut post = step("POST", "https://origin.test/start");
    post.headers = vec![(
        "Content-Type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    post.body = b"a=1&b=%00".to_vec();
    let (origin, plan) = world(rules, vec![post], files.path()).await;

    let run = curl.run(&plan).await.expect("curl answers");

    let result = &run.steps[0];
    assert_eq!(result.error, None, "stderr: {}", run.stderr);
    assert_eq!(result.status, Some(200));
    assert_eq!(result.url.as_deref(), Some("https://origin.test/now"));
    assert_eq!(result.body, b"done");
    assert!(result
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-length") && v == "4"));
    let hops = origin.hops();
    assert_eq!(hops.len(), 2, "{hops:?}");
    for hop in &hops {
        assert_eq!(
            (hop.scheme.as_str(), hop.host.as_str(), hop.port),
            ("https", "origin.test", 443)
        );
        assert_eq!(hop.arrival, crate::origin::Arrival::Direct);
        assert_eq!(hop.method, "POST");
        assert_eq!(hop.body, b"a=1&b=%00");
        assert_eq!(hop.sni.as_deref(), Some("origin.test"));
    }
    assert_eq!(hops[1].target, "/now");
    assert!(run.stderr.contains("$ curl -q"), "{}", run.stderr);
    assert_eq!(run.unsupported, BTreeSet::from([Feature::StreamedBody]));
    assert!(curl.version().starts_with("curl "), "{}", curl.version());
}

#[tokio::test]
async fn curl_keeps_hsts_across_the_steps_of_a_plan() {
    let Some(curl) = curl() else { return };
    let files = tempfile::tempdir().expect("tempdir");
    let sts = [("Strict-Transport-Security", "max-age=600")];
    let rules = vec![
        rule("https://learned.test/", 200, &sts, Some("secure")),
        rule("http://learned.test/again", 200, &[], Some("plain")),
        rule("https://learned.test/again", 200, &[], Some("upgraded")),
        rule("http://sub.preloaded.test/", 200, &[], Some("plain")),
        rule("https://sub.preloaded.test/", 200, &[], Some("upgraded")),
    ];
    let steps = vec![
        step("GET", "https://learned.test/"),
        step("GET", "http://learned.test/again"),
        step("GET", "http://sub.preloaded.test/"),
    ];
    let (origin, mut plan) = world(rules, steps, files.path()).await;
    plan.preload = vec![Preload {
        host: "preloaded.test".to_owned(),
        include_subdomains: true,
    }];

    let run = curl.run(&plan).await.expect("curl answers");

    let bodies: Vec<&[u8]> = run.steps.iter().map(|s| s.body.as_slice()).collect();
    assert_eq!(
        bodies,
        [&b"secure"[..], b"upgraded", b"upgraded"],
        "stderr: {}",
        run.stderr
    );
    let urls: Vec<String> = origin.hops().iter().map(|hop| hop.url()).collect();
    assert_eq!(
        urls,
        [
            "https://learned.test/",
            "https://learned.test/again",
            "https://sub.preloaded.test/"
        ]
    );
}

/// The plan id the echoing fixtures were given (from their `x-step`).
fn plan_id(run: &TargetRun) -> u64 {
    let echoed: serde_json::Value = serde_json::from_str(header(&run.steps[0], "x-step")).expect("x-step is JSON");
    echoed["plan"]["id"].as_u64().expect("numeric plan id")
}

/// A driver that prints every answer twice: no plan may be judged on
/// another plan's answer; a plan that reads a repeated answer is an
/// error, and the process is replaced.
#[tokio::test]
async fn an_answer_printed_twice_is_never_taken_for_another_plan() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("twice.py").with_max_processes(1);
    let mut answered = 0;
    for i in 0..8 {
        let url = format!("http://origin.test/{i}");
        let plan = plan(&format!("p{i}"), state.path(), vec![step("GET", &url)]);
        match target.run(&plan).await {
            Ok(run) => {
                assert_eq!(run.steps[0].url.as_deref(), Some(url.as_str()), "plan {i}");
                assert_eq!(run.stderr, format!("twice: plan p{i}\n"));
                answered += 1;
            }
            Err(err) => assert!(
                matches!(&err, TargetError::WrongAnswerId { repeated: true, .. }),
                "plan {i}: {err:?}"
            ),
        }
    }
    assert!(answered >= 4, "{answered} of 8 answered");
}

#[tokio::test]
async fn an_answer_without_the_plan_s_id_is_an_error_and_replaces_the_process() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("faulty.py");
    let before = target.run(&simple("before", state.path())).await.expect("answer");

    let err = target.run(&simple("no-id", state.path())).await.unwrap_err();
    assert!(
        matches!(&err, TargetError::WrongAnswerId { got: None, repeated: false, stderr, .. } if stderr == "faulty: plan no-id\n"),
        "{err:?}"
    );
    assert!(err.to_string().contains("carries no id"), "{err}");
    let after = target.run(&simple("after", state.path())).await.expect("answer");
    assert_ne!(pid(&before), pid(&after));

    let err = target.run(&simple("wrong-id", state.path())).await.unwrap_err();
    let TargetError::WrongAnswerId {
        expected,
        got: Some(got),
        repeated: false,
        ..
    } = &err
    else {
        panic!("expected WrongAnswerId, got {err:?}");
    };
    assert_eq!(got, &(expected + 1000).to_string());
    assert!(
        err.to_string()
            .contains(&format!("plan id `{expected}` with id `{got}`")),
        "{err}"
    );

    let first = target.run(&simple("first", state.path())).await.expect("answer");
    let err = target.run(&simple("repeat", state.path())).await.unwrap_err();
    let first_id = plan_id(&first).to_string();
    assert!(
        matches!(&err, TargetError::WrongAnswerId { got: Some(got), repeated: true, stderr, .. }
            if *got == first_id && stderr == "faulty: plan repeat\n"),
        "{err:?}"
    );
    assert!(err.to_string().contains("a repeated answer"), "{err}");
    let last = target.run(&simple("last", state.path())).await.expect("answer");
    assert_ne!(pid(&first), pid(&last));
}

#[tokio::test]
async fn the_plan_line_carries_the_case_s_time_limit() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("echo.py");
    let run = target
        .run_within(&simple("limit", state.path()), Duration::from_millis(1234))
        .await
        .expect("answer");
    let echoed: serde_json::Value = serde_json::from_str(header(&run.steps[0], "x-step")).expect("x-step is JSON");
    assert_eq!(echoed["plan"]["timeout_ms"], 1234);
}

/// Pids of the live processes whose argv contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // A zombie's argv is empty: only running processes match.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|argv| argv.split(|&b| b == 0).any(|arg| arg == marker.as_bytes()))
        })
        .collect()
}

async fn wait_until_no_process_with(marker: &str) {
    for _ in 0..500 {
        if processes_with(marker).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("processes {:?} still run with {marker}", processes_with(marker));
}

#[tokio::test]
async fn a_timeout_kills_the_driver_s_whole_process_group() {
    let state = tempfile::tempdir().expect("tempdir");
    let marker = state.path().to_str().expect("UTF-8 path").to_owned();
    let target = fixture("forks.py");
    let err = target
        // Time enough for python3 to start and write on a loaded machine.
        .run_within(&simple("hang", state.path()), Duration::from_millis(4000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TargetError::Timeout { stderr, .. } if stderr.starts_with("forks: plan hang, child ")),
        "{err:?}"
    );
    wait_until_no_process_with(&marker).await;
}

#[tokio::test]
async fn dropping_the_target_kills_what_its_drivers_started() {
    let state = tempfile::tempdir().expect("tempdir");
    let marker = state.path().to_str().expect("UTF-8 path").to_owned();
    let target = fixture("forks.py");
    let run = target.run(&simple("one", state.path())).await.expect("answer");
    // The driver is idle in the pool; its child still sleeps.
    assert_eq!(processes_with(&marker).len(), 1, "{}", run.stderr);
    let driver = pid(&run);
    drop(target);
    wait_until_no_process_with(&marker).await;
    wait_gone(driver).await;
}

#[tokio::test]
async fn a_stderr_flood_keeps_its_head_and_tail_and_counts_what_was_dropped() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("flood.py");
    let bytes = 20_000_000;
    let case = format!("flood-{bytes}");
    let run = target.run(&simple(&case, state.path())).await.expect("answer");
    let first_line = format!("flood: plan {case}\n");
    let written = first_line.len() + bytes + "end\n".len();
    let marker = format!("\n[{} bytes dropped]\n", written - 2 * KEEP);
    assert!(
        run.stderr.starts_with(&format!("{first_line}xxx")),
        "{:.80}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("xxxend\n"),
        "{}",
        &run.stderr[run.stderr.len() - 80..]
    );
    assert!(run.stderr.contains(&marker), "no {marker:?}");
    assert_eq!(run.stderr.len(), 2 * KEEP + marker.len());
    // Nothing of the flood is left for the next plan.
    let next = target.run(&simple("next", state.path())).await.expect("answer");
    assert_eq!(next.stderr, "flood: plan next\n");
}

#[tokio::test]
async fn a_driver_flooding_stderr_without_answering_keeps_it_bounded_at_the_timeout() {
    let state = tempfile::tempdir().expect("tempdir");
    let target = fixture("flood.py");
    let err = target
        // Time enough for python3 to start and write on a loaded machine.
        .run_within(&simple("flood-forever", state.path()), Duration::from_millis(4000))
        .await
        .unwrap_err();
    let TargetError::Timeout { stderr, .. } = &err else {
        panic!("expected Timeout, got {err:?}");
    };
    assert!(stderr.starts_with("flood: plan flood-forever\nxxx"), "{stderr:.80}");
    assert!(stderr.contains(" bytes dropped]\n"));
    assert!(stderr.len() < 2 * KEEP + 64, "{}", stderr.len());
}

/// Wait until process `pid` no longer runs (gone, or a zombie about to be reaped).
async fn wait_gone(pid: u32) {
    for _ in 0..1000 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                return
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("process {pid} still runs");
}

//! `hopcheck run` against fixture drivers that fork, hang and ignore
//! SIGTERM: whether the run ends normally or on SIGINT or SIGTERM, no process
//! of it is left and nothing of hopcheck's is left in its temp directory.
//!
//! Each run gets a fresh `TMPDIR`: the drivers inherit it (so their
//! environment marks them), the runner's scratch folder is made in it (so the
//! children's argv, which holds their plan's state folder, marks them too),
//! and it must be empty afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Cases the runs take: a few, so that more than one driver starts.
const CASES: &str = "redirect/status/";

/// A fixture driver target. They sit beside the library's driver fixtures:
/// their `command` runs `forks.py` from that folder, which the library's
/// driver tests use too.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../harness/tests/fixtures/drivers")
        .join(name)
}

fn python3_missing() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: python3 is not installed here");
    }
    !found
}

/// `hopcheck run` against `target_file`, with `tmp` as its TMPDIR.
fn start_run(target_file: &str, tmp: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hopcheck"))
        .args(["run", "--target"])
        .arg(fixture(target_file))
        .arg("--out")
        .arg(out)
        .args(["-j", "4", "--timeout-ms", "60000", CASES])
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hopcheck starts")
}

/// Pids of the running processes that belong to a run with TMPDIR `tmp`:
/// an argument under `tmp`, or `TMPDIR=tmp` in the environment. A zombie's
/// argv and environment read empty, so only running processes count.
fn processes_of(tmp: &Path) -> Vec<u32> {
    let tmp = tmp.as_os_str().as_encoded_bytes();
    let env_entry = [b"TMPDIR=", tmp].concat();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            argv.split(|&b| b == 0).any(|arg| arg.starts_with(tmp))
                || environ.split(|&b| b == 0).any(|entry| entry == env_entry)
        })
        .collect()
}

/// Whether a child of a driver (forks.py marks its argv) of the run with
/// TMPDIR `tmp` runs.
fn a_driver_child_runs(tmp: &Path) -> bool {
    processes_of(tmp).into_iter().any(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|argv| argv.split(|&b| b == 0).any(|arg| arg == b"hopcheck-fixture-child"))
    })
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "still not {what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hopcheck did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Read the child's stderr on a thread, so it never blocks on a full pipe.
fn collect_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take();
    std::thread::spawn(move || {
        use std::io::Read as _;
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    })
}

/// Nothing of the run is left: no process, nothing in its TMPDIR.
fn assert_nothing_left(tmp: &Path, stderr: &str) {
    wait_for("rid of the run's processes", Duration::from_secs(5), || {
        processes_of(tmp).is_empty()
    });
    let left: Vec<PathBuf> = std::fs::read_dir(tmp)
        .expect("TMPDIR readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert!(
        left.is_empty(),
        "left in TMPDIR: {left:?}\nhopcheck's stderr:\n{stderr}"
    );
}

/// A run whose drivers fork and hang, stopped by `signal` once a driver's
/// child runs: hopcheck exits with `status` and leaves nothing behind.
fn stopped_by(signal: i32, status: i32) {
    if python3_missing() {
        return;
    }
    let (tmp, out) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut run = start_run("hangs.toml", tmp.path(), out.path());
    let stderr = collect_stderr(&mut run);
    wait_for("a driver's child running", Duration::from_secs(30), || {
        a_driver_child_runs(tmp.path())
    });
    let pid = i32::try_from(run.id()).expect("pid");
    // SAFETY: kill(2) with a pid this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let exit = wait_exit(&mut run, Duration::from_secs(10));
    let stderr = stderr.join().expect("stderr");
    assert_eq!(exit.code(), Some(status), "{exit:?}\n{stderr}");
    assert!(stderr.contains("scratch folder removed"), "{stderr}");
    assert_nothing_left(tmp.path(), &stderr);
    assert!(
        std::fs::read_dir(out.path()).expect("out").next().is_none(),
        "a report was written"
    );
}

#[test]
fn sigterm_stops_drivers_that_ignore_it_and_removes_the_scratch_folder() {
    stopped_by(libc::SIGTERM, 143);
}

#[test]
fn sigint_stops_the_drivers_and_removes_the_scratch_folder() {
    stopped_by(libc::SIGINT, 130);
}

/// A run that ends normally leaves no process of its drivers either: what
/// they forked dies with their process groups when the target is dropped.
#[test]
fn a_finished_run_leaves_no_driver_process() {
    if python3_missing() {
        return;
    }
    let (tmp, out) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut run = start_run("forks.toml", tmp.path(), out.path());
    let stderr = collect_stderr(&mut run);
    let exit = wait_exit(&mut run, Duration::from_secs(120));
    let stderr = stderr.join().expect("stderr");
    assert!(stderr.contains("report: "), "{exit:?}\n{stderr}");
    assert_nothing_left(tmp.path(), &stderr);
}

/// A case whose driver writes to stderr and then hangs: the row is an
/// `error` stating the case's time limit, keeps what the driver wrote, and
/// the driver's group (its forked child included) is gone at once.
#[tokio::test]
async fn a_timed_out_case_keeps_the_driver_s_stderr_and_leaves_no_process() {
    use hopcheck::case::Profile;
    use hopcheck::runner::{RunConfig, Runner};
    use hopcheck::verdict::VerdictKind;

    if python3_missing() {
        return;
    }
    let suite = hopcheck::case::load_suite(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites")).expect("suite");
    let case = suite
        .cases
        .iter()
        .find(|c| c.id.starts_with(CASES))
        .expect("a case to run");
    let spec = hopcheck::targets::spec::TargetSpec::load(&fixture("hangs.toml")).expect("fixture target");
    let target = hopcheck::targets::driver::DriverTarget::new(spec);
    // Long enough for python3 to start and write its line on a loaded machine.
    let runner = Runner::new(RunConfig {
        case_timeout: Duration::from_millis(5000),
        ..RunConfig::default()
    })
    .expect("runner");
    let scratch = runner.scratch_dir().to_path_buf();

    let result = runner.run_case(&target, case, &suite.catalogue, Profile::Rfc9110).await;

    assert_eq!(result.verdict.kind, VerdictKind::Error, "{:?}", result.verdict);
    assert!(
        result.verdict.detail.contains("time limit of 5000 ms"),
        "{}",
        result.verdict.detail
    );
    assert!(
        result.stderr.starts_with(&format!("forks: plan {}, child ", case.id)),
        "{:?}",
        result.stderr
    );
    // The timeout killed the group; the target (still alive) holds nothing of it.
    wait_for("rid of the driver's processes", Duration::from_secs(5), || {
        processes_of(&scratch).is_empty()
    });
}

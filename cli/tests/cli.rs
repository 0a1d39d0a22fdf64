//! The `hopcheck` binary as a user meets it: usage errors, skipped targets,
//! closed pipes, report files and running short of open files.

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Cases enough to need more descriptors than [`few_descriptors`] gives
/// when run all at once.
const MANY_CASES: [&str; 2] = ["redirect/method-body/307", "hsts/upgrade"];
const ONE_CASE: &str = "redirect/method-body/307/delete-bytes-http";

fn hopcheck() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hopcheck"));
    command.stdin(Stdio::null());
    command
}

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// `hopcheck run` on the project's suite, writing to `out`.
fn run_into(out: &Path, args: &[&str]) -> Command {
    let mut command = hopcheck();
    command
        .arg("run")
        .arg("--suites")
        .arg(project("suites"))
        .arg("--out")
        .arg(out);
    command.args(args);
    command
}

fn output(command: &mut Command) -> Output {
    command.output().expect("hopcheck starts")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The write end of a pipe whose read end is already closed.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Stdio::from(writer)
}

fn results(report: &Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).expect("the report exists")).expect("the report is JSON");
    json["results"].as_array().expect("results").clone()
}

#[test]
fn a_filter_that_matches_nothing_is_a_usage_error_and_writes_nothing() {
    let out = tempfile::tempdir().expect("tempdir");
    let old = out.path().join("reference.json");
    std::fs::write(&old, "the last report").expect("write");

    let run = output(&mut run_into(out.path(), &["no-such-case-anywhere"]));
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("no case id contains `no-such-case-anywhere`"),
        "{}",
        stderr(&run)
    );
    assert_eq!(std::fs::read_to_string(&old).expect("read"), "the last report");

    let list = output(hopcheck().args(["list", "no-such-case-anywhere"]));
    assert_eq!(list.status.code(), Some(2), "{}", stderr(&list));
    assert!(list.stdout.is_empty());

    let matrix = out.path().join("mutants.json");
    let mutants = output(
        hopcheck()
            .arg("mutants")
            .arg("--out")
            .arg(&matrix)
            .arg("no-such-case-anywhere"),
    );
    assert_eq!(mutants.status.code(), Some(2), "{}", stderr(&mutants));
    assert!(!matrix.exists());
}

#[test]
fn zero_jobs_and_a_zero_timeout_are_usage_errors() {
    let out = tempfile::tempdir().expect("tempdir");
    for args in [["-j", "0"], ["--timeout-ms", "0"]] {
        let run = output(&mut run_into(out.path(), &[args[0], args[1], ONE_CASE]));
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains("invalid value '0'"), "{}", stderr(&run));
    }
    assert_eq!(std::fs::read_dir(out.path()).expect("read_dir").count(), 0);
    let help = output(hopcheck().args(["run", "--help"]));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("default: four per core"), "{help}");
    assert!(help.contains("open-file limit"), "{help}");
}

#[test]
fn a_shard_that_is_not_i_of_n_is_a_usage_error_and_writes_nothing() {
    let out = tempfile::tempdir().expect("tempdir");
    for bad in ["0/2", "3/2", "x", "2/0", "1/2/3"] {
        let run = output(&mut run_into(out.path(), &["--shard", bad, ONE_CASE]));
        assert_eq!(run.status.code(), Some(2), "{bad}: {}", stderr(&run));
        assert!(
            stderr(&run).contains(&format!("`{bad}` is not a shard")) && stderr(&run).contains("1 <= i <= n"),
            "{bad}: {}",
            stderr(&run)
        );
    }
    assert_eq!(std::fs::read_dir(out.path()).expect("read_dir").count(), 0);
}

#[test]
fn two_shards_hold_exactly_the_cases_of_a_whole_run_and_merge_into_it() {
    let out = tempfile::tempdir().expect("tempdir");
    let filter = MANY_CASES[0];
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let run = output(&mut run_into(out.path(), &["--shard", shard, filter]));
        assert_eq!(run.status.code(), Some(0), "{shard}: {}", stderr(&run));
        let name = format!("reference.shard-{}-of-2.json", &shard[..1]);
        let path = out.path().join(&name);
        let report = hopcheck::report::read(&path).expect("a shard's report reads");
        assert_eq!(report.shard.map(|s| s.to_string()).as_deref(), Some(shard), "{name}");
        files.push((path, report));
    }
    let whole = output(&mut run_into(out.path(), &[filter]));
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let whole = hopcheck::report::read(&out.path().join("reference.json")).expect("the whole run reads");
    let ids = |report: &hopcheck::report::Report| -> Vec<String> {
        report.results.iter().map(|r| r.result.id.clone()).collect()
    };
    let (first, second) = (ids(&files[0].1), ids(&files[1].1));
    assert!(!first.is_empty() && !second.is_empty(), "{first:?} {second:?}");
    assert!(first.iter().all(|id| !second.contains(id)), "{first:?} {second:?}");
    let mut both: Vec<String> = first.into_iter().chain(second).collect();
    both.sort();
    assert_eq!(both, ids(&whole));
    let merged = hopcheck::report::merge(files).expect("the shards merge");
    assert_eq!(merged.len(), 1);
    assert_eq!(ids(&merged[0]), ids(&whole));
    assert_eq!(merged[0].summary, whole.summary);
}

#[test]
fn the_printed_report_schema_is_the_committed_one() {
    let printed = output(hopcheck().args(["schema", "--report"]));
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    let committed = std::fs::read(project("reports/schema.json")).expect("reports/schema.json");
    assert!(
        printed.stdout == committed,
        "`hopcheck schema --report` differs from reports/schema.json"
    );
}

#[test]
fn profiles_are_given_by_their_library_names_and_each_is_described() {
    let out = tempfile::tempdir().expect("tempdir");
    let run = output(&mut run_into(out.path(), &["--profile", "fetch", ONE_CASE]));
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("reference.json")).expect("the report exists"))
            .expect("the report is JSON");
    assert_eq!(report["profile"], "fetch");

    for command in ["run", "mutants"] {
        let wrong = output(hopcheck().args([command, "--profile", "fech", ONE_CASE]));
        assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
        assert!(
            stderr(&wrong).contains("[possible values: rfc9110, fetch]"),
            "{}",
            stderr(&wrong)
        );
        assert!(
            stderr(&wrong).contains("a similar value exists: 'fetch'"),
            "{}",
            stderr(&wrong)
        );

        let help = output(hopcheck().args([command, "--help"]));
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(
            help.contains("- rfc9110: RFC 9110 / 9112, RFC 3986, RFC 6797"),
            "{help}"
        );
        assert!(help.contains("- fetch:   WHATWG Fetch and URL"), "{help}");
    }
}

#[test]
fn a_closed_stdout_or_stderr_ends_nothing_in_a_panic() {
    let explain = output(
        hopcheck()
            .args(["explain", ONE_CASE])
            .arg("--suites")
            .arg(project("suites"))
            .stdout(closed_pipe()),
    );
    assert_eq!(explain.status.code(), Some(0), "{}", stderr(&explain));

    let out = tempfile::tempdir().expect("tempdir");
    let run = run_into(out.path(), &[ONE_CASE])
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("hopcheck starts");
    assert_eq!(run.code(), Some(0));
    assert!(!results(&out.path().join("reference.json")).is_empty());

    let list = hopcheck()
        .arg("list")
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("hopcheck starts");
    assert_eq!(list.code(), Some(0));
}

/// A targets folder holding `ghost`, whose client is not installed here.
fn ghost_targets() -> tempfile::TempDir {
    let targets = tempfile::tempdir().expect("tempdir");
    let ghost = targets.path().join("ghost");
    std::fs::create_dir(&ghost).expect("mkdir");
    std::fs::write(
        ghost.join("target.toml"),
        "name = \"ghost\"\ndescription = \"a client not installed here\"\n\
         command = [\"no-such-program-hopcheck\"]\nrequires = [\"no-such-program-hopcheck\"]\nrouting = \"proxy\"\n",
    )
    .expect("write target");
    targets
}

#[test]
fn the_targets_list_shows_a_missing_client_as_skipped_with_its_reason() {
    let targets = ghost_targets();
    let list = output(hopcheck().arg("targets").arg("--targets").arg(targets.path()));
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(text.starts_with("reference\t"), "{text}");
    assert!(
        text.contains("ghost\tskipped: not installed here: no-such-program-hopcheck"),
        "{text}"
    );
}

#[test]
fn a_target_whose_program_is_missing_is_skipped_and_its_report_kept() {
    let targets = ghost_targets();
    let out = tempfile::tempdir().expect("tempdir");
    let old = out.path().join("ghost.json");
    std::fs::write(&old, "the last report").expect("write");

    let run = output(
        run_into(out.path(), &["--target", "ghost", ONE_CASE])
            .arg("--targets")
            .arg(targets.path()),
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("skipped: ghost: not installed here: no-such-program-hopcheck"),
        "{}",
        stderr(&run)
    );
    assert_eq!(std::fs::read_to_string(&old).expect("read"), "the last report");
}

/// Run with umask `mask`; the report's permission bits.
fn report_mode(mask: libc::mode_t) -> u32 {
    let out = tempfile::tempdir().expect("tempdir");
    let mut command = run_into(out.path(), &[ONE_CASE]);
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
    let run = output(&mut command);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let meta = std::fs::metadata(out.path().join("reference.json")).expect("the report exists");
    meta.permissions().mode() & 0o777
}

#[test]
fn reports_are_as_readable_as_the_umask_allows() {
    assert_eq!(report_mode(0o022), 0o644);
    assert_eq!(report_mode(0o077), 0o600);
}

#[test]
fn temp_files_left_by_killed_runs_are_removed_on_start() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut ended = Command::new("true").spawn().expect("spawn true");
    let ended_pid = ended.id();
    ended.wait().expect("wait");
    let stale = out
        .path()
        .join(format!(".reference.json.hopcheck-tmp-{ended_pid}-Ab12Cd"));
    // This test's own process is running: its file may be a write in progress.
    let live = out
        .path()
        .join(format!(".reference.json.hopcheck-tmp-{}-Ab12Cd", std::process::id()));
    for file in [&stale, &live] {
        std::fs::write(file, vec![b'{'; 4096]).expect("write");
    }
    let run = output(&mut run_into(out.path(), &[ONE_CASE]));
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(!stale.exists(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("left by a run that was killed"),
        "{}",
        stderr(&run)
    );
    assert!(live.exists());
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            live.file_name().expect("name").to_string_lossy().into_owned(),
            "reference.json".to_owned()
        ]
    );
}

/// Limit the child to `limit` open files, soft and hard: it cannot raise it.
fn few_descriptors(command: &mut Command, limit: libc::rlim_t) {
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn running_short_of_open_files_is_never_the_client_s_fail() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut command = run_into(out.path(), &["-j", "1000"]);
    command.args(MANY_CASES);
    few_descriptors(&mut command, 64);
    let run = output(&mut command);
    let rows = results(&out.path().join("reference.json"));
    assert!(rows.len() >= 60, "{} rows", rows.len());
    for row in &rows {
        let verdict = row["verdict"].as_str().expect("verdict");
        assert!(verdict == "pass" || verdict == "error", "{row}");
        if verdict != "error" {
            assert!(!row.to_string().contains("Too many open files"), "{row}");
        }
    }
    assert!(
        stderr(&run).contains("cases in flight, not 1000"),
        "the lowered parallelism is said: {}",
        stderr(&run)
    );
}

/// So few descriptors that even one case at a time runs out (13: the
/// runtime, the standard streams and the origin's listener leave about one
/// for the client): each case the harness cannot carry out is an `error`
/// naming the cause, never a verdict on the client (this used to give 56
/// `info` rows and exit 0).
#[test]
fn descriptors_run_out_even_one_case_at_a_time_and_the_rows_are_errors() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut command = run_into(out.path(), &["-j", "1", "--timeout-ms", "2000", MANY_CASES[0]]);
    few_descriptors(&mut command, 13);
    let run = output(&mut command);
    let report = out.path().join("reference.json");
    assert!(report.exists(), "{}", stderr(&run));
    let mut harness_faults = 0;
    for row in results(&report) {
        let verdict = row["verdict"].as_str().expect("verdict");
        assert!(verdict == "pass" || verdict == "error", "{row}");
        if row.to_string().contains("Too many open files") {
            let detail = row["detail"].as_str().expect("detail");
            assert!(verdict == "error" && detail.starts_with("harness"), "{row}");
            harness_faults += 1;
        }
    }
    assert!(harness_faults > 0, "the descriptors did not run out: {}", stderr(&run));
    assert_eq!(run.status.code(), Some(1), "errors are unexpected: {}", stderr(&run));
}

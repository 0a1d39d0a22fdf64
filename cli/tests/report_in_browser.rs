//! `hopcheck report`'s page in a real browser: results of the reference and
//! a mutant under both profiles become an index.html that headless Chromium
//! loads; `reports/browser-check/check.mjs` (puppeteer-core) checks the
//! matrix, a cell's transcript, the filters, the profile switch and links
//! to a cell (`index.html#<profile>/<target>/<case id>`, loaded and
//! followed), and saves `reports/screenshot.png`. A second trial times a page of 600 cases
//! × 15 targets × 2 profiles; a third opens a cell whose header, target and
//! version are markup, which must show as text and run nothing.
//!
//! Needs Debian's Chromium and the check's node modules; without them the
//! trials fail with the install commands, or with `HOPCHECK_ALLOW_SKIP=1`
//! are ignored, saying why.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hopcheck::case::{HopKind, Level, Profile};
use hopcheck::origin::Hop;
use hopcheck::report::{Report, ResultRecord, TargetInfo};
use hopcheck::runner::CaseResult;
use hopcheck::verdict::{Mismatch, Verdict, VerdictKind};
use libtest_mimic::{Arguments, Failed, Trial};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "apt-get install -y chromium && reports/browser-check/install";
/// The node check ends itself after two minutes; this is the backstop.
const NODE_LIMIT: Duration = Duration::from_secs(180);
/// Cases of every area, few enough to run in seconds.
const FILTERS: [&str; 4] = [
    "redirect/method-body/307",
    "redirect/bodies",
    "hsts/upgrade",
    "location/",
];
const MUTANT: &str = "reference~ChangeMethodOn307";

fn main() {
    let args = Arguments::from_args();
    let missing = missing_prerequisites();
    let allow_skip = std::env::var_os("HOPCHECK_ALLOW_SKIP").is_some_and(|v| v == "1");
    if let Some(what) = &missing {
        if allow_skip {
            eprintln!("skipped: report_in_browser: {what}; install with `{INSTALL}` (ignored: HOPCHECK_ALLOW_SKIP=1)");
        }
    }
    let ignored = missing.is_some() && allow_skip;
    let guard = move |check: fn() -> Result<(), Failed>| {
        let missing = missing.clone();
        move || match missing {
            Some(what) => Err(format!(
                "{what}; install with `{INSTALL}` (or set HOPCHECK_ALLOW_SKIP=1 to ignore this test)"
            )
            .into()),
            None => check(),
        }
    };
    let trials = vec![
        Trial::test("report_in_browser/real_results", guard(real_results)).with_ignored_flag(ignored),
        Trial::test(
            "report_in_browser/size_and_load_time_600x15x2",
            guard(size_and_load_time),
        )
        .with_ignored_flag(ignored),
        Trial::test(
            "report_in_browser/hostile_case_data_stays_text",
            guard(hostile_case_data_stays_text),
        )
        .with_ignored_flag(ignored),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// What is missing to run a browser here, if anything.
fn missing_prerequisites() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is not installed"));
    }
    if !project("reports/browser-check/node_modules/puppeteer-core").is_dir() {
        return Some("reports/browser-check/node_modules is not installed".to_owned());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".to_owned());
    }
    None
}

fn hopcheck(args: &[&str]) -> Result<std::process::Output, Failed> {
    Ok(Command::new(env!("CARGO_BIN_EXE_hopcheck"))
        .args(args)
        .stdin(Stdio::null())
        .output()?)
}

/// `hopcheck report` from one folder per profile under `root` into `root/site`.
fn report(root: &Path) -> Result<PathBuf, Failed> {
    let site = root.join("site");
    let mut args = vec!["report".to_owned()];
    for profile in Profile::ALL {
        args.extend(["--in".to_owned(), root.join(profile.as_str()).display().to_string()]);
    }
    args.extend(["--out".to_owned(), site.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = hopcheck(&args)?;
    if !out.status.success() {
        return Err(format!("hopcheck report: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(site.join("index.html"))
}

fn real_results() -> Result<(), Failed> {
    let root = tempfile::tempdir()?;
    let mut cases = 0;
    for profile in Profile::ALL {
        let out = root.path().join(profile.as_str());
        for target in ["reference", MUTANT] {
            let mut args = vec!["run", "--target", target, "--profile", profile.as_str()];
            let out_arg = out.display().to_string();
            args.extend(["--out", &out_arg, "--suites"]);
            let suites = project("suites").display().to_string();
            args.push(&suites);
            args.extend(FILTERS);
            let run = hopcheck(&args)?;
            // The mutant fails cases: exit 1 is what it should do.
            if run.status.code() != Some(0) && run.status.code() != Some(1) {
                return Err(format!("hopcheck run {target}: {}", String::from_utf8_lossy(&run.stderr)).into());
            }
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("reference.json"))?)?;
        cases = json["results"].as_array().map_or(0, Vec::len);
    }
    let index = report(root.path())?;
    let screenshot = project("reports/screenshot.png");
    let output = node(&[
        index.to_str().ok_or("path")?,
        screenshot.to_str().ok_or("path")?,
        "--rows",
        &cases.to_string(),
        "--targets",
        "2",
    ])?;
    eprintln!("{output}");
    for check in [
        "ok: the address links to the opened cell",
        "ok: a link opens",
        "ok: a changed fragment opens",
    ] {
        if !output.contains(check) {
            return Err(format!("the check did not report `{check}`").into());
        }
    }
    Ok(())
}

fn size_and_load_time() -> Result<(), Failed> {
    let root = tempfile::tempdir()?;
    let suite = hopcheck::case::load_embedded().map_err(|e| e.to_string())?;
    let rules: Vec<&str> = suite.catalogue.requirements.keys().map(String::as_str).collect();
    for profile in Profile::ALL {
        for t in 0..15 {
            let results = (0..600).map(|c| synthetic_result(c, t, &rules)).collect();
            let info = TargetInfo {
                name: format!("client-{t:02}"),
                version: format!("client-{t:02} {}.{}.0", 1 + t % 3, t),
            };
            let report = Report::new("fnv64:0".into(), info, profile, results);
            report.write_json(&root.path().join(profile.as_str()).join(format!("client-{t:02}.json")))?;
        }
    }
    let started = Instant::now();
    let index = report(root.path())?;
    let rendered = started.elapsed();
    let output = node(&["--measure", index.to_str().ok_or("path")?])?;
    eprintln!("600 cases × 15 targets × 2 profiles: hopcheck report took {rendered:.1?}; {output}");
    Ok(())
}

/// A header value, a target name and a version that would run script if
/// the page let them through as markup.
fn hostile_case_data_stays_text() -> Result<(), Failed> {
    const HEADER: &str = "<script>alert('header')</script>";
    let root = tempfile::tempdir()?;
    for profile in Profile::ALL {
        let mut result = synthetic_result(0, 1, &["RED-307-METHOD"]);
        result.result.hops[0].headers.push(("x-hostile".into(), HEADER.into()));
        let info = TargetInfo {
            name: "<img src=x onerror=alert('name')>".into(),
            version: "<svg onload=alert('version')>".into(),
        };
        let report = Report::new("fnv64:0".into(), info, profile, vec![result]);
        report.write_json(&root.path().join(profile.as_str()).join("hostile.json"))?;
    }
    let index = report(root.path())?;
    let screenshot = root.path().join("hostile.png");
    let output = node(&[
        index.to_str().ok_or("path")?,
        screenshot.to_str().ok_or("path")?,
        "--rows",
        "1",
        "--targets",
        "1",
        "--panel-text",
        &format!("x-hostile: {HEADER}"),
    ])?;
    eprintln!("{output}");
    Ok(())
}

/// Case `c` as target `t` saw it: mostly passes, some of every other verdict,
/// three hops with the headers a client sends.
fn synthetic_result(c: usize, t: usize, rules: &[&str]) -> ResultRecord {
    let kind = match (c * 7 + t * 13) % 23 {
        0 | 1 => VerdictKind::Fail,
        2 => VerdictKind::Warn,
        3 => VerdictKind::Info,
        4 => VerdictKind::Unsupported,
        5 if t.is_multiple_of(5) => VerdictKind::Error,
        _ => VerdictKind::Pass,
    };
    let area = ["redirect", "hsts", "location"][c % 3];
    let rule = rules[c % rules.len()];
    let hops = (1..=3)
        .map(|i| {
            let mut hop = Hop::attempt(i, HopKind::Request, 1);
            hop.scheme = "https".into();
            hop.host = format!("origin-{i}.test");
            hop.port = 443;
            hop.method = "POST".into();
            hop.path_and_query = format!("/case-{c}/hop-{i}?q=1");
            hop.target = hop.path_and_query.clone();
            hop.status = if i < 3 { 307 } else { 200 };
            hop.headers = vec![
                ("host".into(), hop.host.clone()),
                ("user-agent".into(), format!("client-{t:02}/1.0")),
                ("accept".into(), "*/*".into()),
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
                ("content-length".into(), "9".into()),
                ("x-case".into(), format!("{c}")),
            ];
            hop.body = b"a=1&b=two".to_vec();
            hop
        })
        .collect();
    let evidence = match kind {
        VerdictKind::Fail | VerdictKind::Warn => vec![Mismatch {
            hop: Some(2),
            step: None,
            field: "method".into(),
            expected: "POST".into(),
            seen: "GET".into(),
            rule: rule.into(),
            section: "RFC 9110 §15.4.8".into(),
        }],
        _ => Vec::new(),
    };
    ResultRecord::new(
        CaseResult {
            id: format!("{area}/group-{}/case-{c:03}", c % 20),
            requirements: vec![rule.into()],
            level: [Level::Must, Level::Must, Level::Should, Level::Fetch][c % 4],
            verdict: Verdict {
                kind,
                detail: format!("{kind}: what the verdict found for case {c}"),
                outcome: None,
                evidence,
            },
            hops,
            steps: Vec::new(),
            stderr: String::new(),
            duration_ms: 12,
        },
        None,
    )
}

/// Runs `node check.mjs ARGS`, its output on success, its output as the
/// failure otherwise. Past [`NODE_LIMIT`] its process group is ended
/// (SIGTERM first: puppeteer then closes the browser it started).
fn node(args: &[&str]) -> Result<String, Failed> {
    let mut child = Command::new("node")
        .arg(project("reports/browser-check/check.mjs"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let mut stderr = child.stderr.take().ok_or("stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > NODE_LIMIT {
            end_group(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = format!(
        "{}{}",
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default()
    );
    match status {
        Some(status) if status.success() => Ok(text),
        Some(status) => Err(format!("the browser check failed ({status}):\n{text}").into()),
        None => Err(format!("the browser check took longer than {NODE_LIMIT:?} and was ended:\n{text}").into()),
    }
}

fn end_group(child: &mut std::process::Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: signals the process group this test started for node.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
}

//! `hopcheck probe` as a user meets it: its exit codes and its report.
//! Probing real servers is tested in harness/tests/probe_servers.rs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn probe(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hopcheck"));
    command
        .stdin(Stdio::null())
        .arg("probe")
        .arg("--probes")
        .arg(project("probes"))
        .arg("--suites")
        .arg(project("suites"))
        .args(args);
    command
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn a_url_that_is_not_https_is_a_usage_error() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = probe(&["http://site.test/", "--out"])
        .arg(out.path())
        .output()
        .expect("hopcheck starts");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an https://host/ URL"));
    assert_eq!(
        std::fs::read_dir(out.path()).expect("out").count(),
        0,
        "nothing is written"
    );
}

#[test]
fn an_unreachable_server_is_an_error_per_case_exit_1_and_a_report() {
    let out = tempfile::tempdir().expect("tempdir");
    let ca = tempfile::NamedTempFile::new().expect("ca");
    std::fs::write(ca.path(), hopcheck::origin::TestCa::new().expect("ca").cert_pem()).expect("write ca");
    let address = format!("127.0.0.1:{}", closed_port());
    let output = probe(&[
        "https://site.test/",
        "--connect",
        &address,
        "--connect-http",
        &address,
        "--ca",
    ])
    .arg(ca.path())
    .arg("--out")
    .arg(out.path())
    .args(["hsts/https/sts-present", "hsts/http/"])
    .output()
    .expect("hopcheck starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("error       hsts/https/sts-present: GET https://site.test/: cannot connect"),
        "{stdout}"
    );
    assert!(stdout.contains("2 cases: 2 error"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("probe-site.test.json")).expect("report")).expect("JSON");
    assert_eq!(report["format"], "hopcheck-probe/1");
    assert_eq!(report["results"][0]["verdict"], "error");
}

#[test]
fn a_ca_file_without_certificates_is_a_usage_error() {
    let out = tempfile::tempdir().expect("tempdir");
    let ca = tempfile::NamedTempFile::new().expect("ca");
    std::fs::write(ca.path(), "not a certificate\n").expect("write");
    let output = probe(&["https://site.test/", "--connect", "127.0.0.1:1", "--ca"])
        .arg(ca.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("hopcheck starts");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no usable certificate"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

//! Embeds the suite (`../suites/**/*.toml`) in the library, so that a client
//! crate's `tests/conformance.rs` finds the case files wherever hopcheck
//! came from (a path or git dependency) without knowing its folder layout:
//! see `hopcheck::case::load_embedded`. Hidden entries are skipped, as
//! `load_suite` skips them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let suites = manifest_dir.join("..").join("suites");
    println!("cargo:rerun-if-changed={}", suites.display());
    let mut files = Vec::new();
    if suites.is_dir() {
        collect(&suites, "", &mut files);
    }
    files.sort();
    let mut code = String::from("/// `(path under the suites folder, bytes)` of every embedded file.\n");
    code.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (relative, absolute) in &files {
        writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    writeln!(
        code,
        "/// The folder the files were embedded from.\npub const ROOT: &str = {:?};",
        suites.display().to_string()
    )
    .expect("writing to a String");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_suite.rs");
    std::fs::write(&out, code).expect("writing the embedded suite's index");
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            collect(&path, &format!("{relative}/"), out);
        } else if name.ends_with(".toml") {
            out.push((relative, path));
        }
    }
}

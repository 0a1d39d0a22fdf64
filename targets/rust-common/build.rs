//! Reads the version of the client crate this target is built with from the
//! workspace's `Cargo.lock`, so `--version` and the report name the version
//! compiled in, not the requirement in Cargo.toml. The client is the package
//! name without `hopcheck-target-` (`hopcheck-target-reqwest` → `reqwest`);
//! both Rust targets build with this script (`build = "../rust-common/build.rs"`).

use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let client = package.strip_prefix("hopcheck-target-").unwrap_or(&package);
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = locked_version(&text, client).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=HOPCHECK_CLIENT_VERSION={version}");
}

/// The `version` of the `[[package]]` named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line == wanted {
            let version = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_owned());
        }
    }
    None
}

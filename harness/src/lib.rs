//! hopcheck: a conformance suite for how HTTP clients follow redirects and
//! apply HSTS.
//!
//! Data flows one way: [`case`] (load and validate case files) → [`origin`]
//! (scripted servers, routing, TLS, recording) → [`target`] (drive a client)
//! → [`runner`] (schedule, time out, collect) → [`verdict`] (judge) →
//! [`report`] (JSON and friends). The `hopcheck` binary only wires these.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod case;
pub mod mutation;
pub mod origin;
pub mod properties;
pub mod report;
pub mod runner;
pub mod target;
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

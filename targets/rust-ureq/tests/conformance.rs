//! The suite as `cargo test` trials against ureq, through hopcheck's public
//! conformance API: one trial per case, both profiles, this folder's known
//! failures checked, the snapshots in `snapshots/rust-ureq/` compared.

fn main() -> std::process::ExitCode {
    hopcheck::conformance::Conformance::new(hopcheck_target_ureq::Ureq::new())
        .known_failures(concat!(env!("CARGO_MANIFEST_DIR"), "/known-failures.toml"))
        .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/rust-ureq"))
        .run()
}

fn main() -> std::process::ExitCode {
    hopcheck::conformance::Conformance::new(hopcheck_target_reqwest::Reqwest::new())
        .known_failures(concat!(env!("CARGO_MANIFEST_DIR"), "/known-failures.toml"))
        .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/rust-reqwest"))
        .run()
}

//! `ureq-driver`: [`hopcheck_target_ureq::Ureq`] served as a hopcheck driver
//! (plan lines on stdin, answers on stdout; `--version` prints the ureq
//! version compiled in), for `targets/rust-ureq/target.toml`.

fn main() -> std::process::ExitCode {
    hopcheck::targets::driver::serve(hopcheck_target_ureq::Ureq::new())
}

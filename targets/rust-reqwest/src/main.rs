//! `reqwest-driver`: [`hopcheck_target_reqwest::Reqwest`] served as a
//! hopcheck driver (plan lines on stdin, answers on stdout; `--version`
//! prints the reqwest version compiled in), for `targets/rust-reqwest/target.toml`.

fn main() -> std::process::ExitCode {
    hopcheck::targets::driver::serve(hopcheck_target_reqwest::Reqwest::new())
}

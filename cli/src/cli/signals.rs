//! SIGINT and SIGTERM during `hopcheck run`: stop every driver (their process
//! groups get SIGKILL), remove the run's scratch folder, and exit with 130
//! (SIGINT) or 143 (SIGTERM), as a shell reports a process the signal ended.

use std::path::Path;

use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, SignalKind};

use super::print::errln;

/// Exit status after SIGINT: 128 + 2.
pub const EXIT_ON_SIGINT: i32 = 130;
/// Exit status after SIGTERM: 128 + 15.
pub const EXIT_ON_SIGTERM: i32 = 143;

/// From now on, SIGINT or SIGTERM stops the drivers, removes `scratch` and
/// exits. The handlers are in place when this returns.
pub fn stop_on_signal(rt: &Runtime, scratch: &Path) -> Result<(), String> {
    let _context = rt.enter();
    let listen = |kind: SignalKind, name: &str| signal(kind).map_err(|e| format!("cannot handle {name}: {e}"));
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
    let scratch = scratch.to_path_buf();
    rt.spawn(async move {
        let (name, status) = tokio::select! {
            _ = interrupt.recv() => ("SIGINT", EXIT_ON_SIGINT),
            _ = terminate.recv() => ("SIGTERM", EXIT_ON_SIGTERM),
        };
        hopcheck::targets::driver::stop_all();
        remove(&scratch);
        errln!("hopcheck: stopped by {name}: drivers killed, scratch folder removed");
        std::process::exit(status);
    });
    Ok(())
}

/// Remove the scratch folder; cases still finishing may be writing in it,
/// so a failed attempt is retried a few times.
fn remove(scratch: &Path) {
    for _ in 0..5 {
        match std::fs::remove_dir_all(scratch) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => return,
        }
    }
}

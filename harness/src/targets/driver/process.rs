//! One driver process: started in a process group of its own, so that
//! whatever it starts (a client, a helper that forks) ends with it. The group
//! is killed whenever the process is given up: at a timeout, when it is
//! discarded, when it is dropped, and by [`stop_all`] when hopcheck stops on
//! a signal.

use std::collections::BTreeSet;
use std::io;
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::stderr::StderrCapture;
use crate::targets::spec::TargetSpec;

/// Longest answer line accepted (bodies travel base64 inside it).
pub(super) const MAX_LINE: usize = 256 << 20;
/// How long a driver that closed its stdout gets to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The process groups of the drivers alive in this process, and whether
/// hopcheck is stopping (then no new driver may start).
struct LiveGroups {
    groups: BTreeSet<i32>,
    stopping: bool,
}

static LIVE: Mutex<LiveGroups> = Mutex::new(LiveGroups {
    groups: BTreeSet::new(),
    stopping: false,
});

fn live() -> MutexGuard<'static, LiveGroups> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Kill the process group of every driver started so far, and refuse to
/// start new ones: for hopcheck's exit on SIGINT or SIGTERM. Drivers cannot
/// delay it: the groups get SIGKILL.
pub fn stop_all() {
    let mut live = live();
    live.stopping = true;
    for &group in &live.groups {
        kill_group(group);
    }
    live.groups.clear();
}

fn kill_group(group: i32) {
    // SAFETY: kill(2) has no memory effects; a negative pid names a group.
    // The group id is the leader's pid, which is not reused while any member
    // lives or while the leader is not reaped.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// A driver's process group, registered while it lives; dropping it kills
/// the whole group.
struct ProcessGroup(i32);

impl ProcessGroup {
    /// Register the group led by `leader`; when hopcheck is stopping, the
    /// group is killed at once instead.
    fn register(leader: i32) -> Result<ProcessGroup, String> {
        let mut live = live();
        if live.stopping {
            kill_group(leader);
            return Err("hopcheck is stopping".to_owned());
        }
        live.groups.insert(leader);
        Ok(ProcessGroup(leader))
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let mut live = live();
        if live.groups.remove(&self.0) {
            kill_group(self.0);
        }
    }
}

/// One driver process, its group and its pipes.
pub(super) struct DriverProcess {
    // Declared first: the group dies before the pipes close.
    group: ProcessGroup,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub(super) stderr: StderrCapture,
    /// The plan ids this process was given, to tell a repeated answer.
    given: BTreeSet<u64>,
}

/// How one plan/answer exchange with a driver went.
pub(super) enum Exchange {
    Answer(Vec<u8>),
    TooLong,
    /// The driver stopped reading or writing: how it showed.
    Ended(&'static str),
}

impl DriverProcess {
    /// Start `spec.command` in its folder, in a new process group; the
    /// reason when it cannot start.
    pub(super) fn spawn(spec: &TargetSpec) -> Result<DriverProcess, String> {
        let program = spec.program().ok_or("the command is empty")?;
        let (stderr_read, stderr_write) = io::pipe().map_err(|e| format!("no pipe for stderr: {e}"))?;
        let mut child = {
            // The command holds the pipe's writing end until it is dropped
            // here, so only the driver keeps it open.
            let mut command = Command::new(program);
            command
                .args(&spec.command[1..])
                .current_dir(&spec.dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(stderr_write)
                .kill_on_drop(true)
                .process_group(0);
            command.spawn().map_err(|e| e.to_string())?
        };
        let leader = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or("the process ended at once")?;
        let group = ProcessGroup::register(leader)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("no pipes to the process".to_owned());
        };
        let stderr = StderrCapture::start(stderr_read).map_err(|e| format!("cannot read its stderr: {e}"))?;
        Ok(DriverProcess {
            group,
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr,
            given: BTreeSet::new(),
        })
    }

    /// Whether the process still runs (a dead or unknowable one is not).
    pub(super) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether plan `id` was handed to this process before.
    pub(super) fn was_given(&self, id: u64) -> bool {
        self.given.contains(&id)
    }

    /// Whether the driver printed more than its answer: output already read
    /// past the answer line means it is out of step.
    pub(super) fn has_unread_output(&self) -> bool {
        !self.stdout.buffer().is_empty()
    }

    /// Write plan `id`'s line and read one line back.
    pub(super) async fn exchange(&mut self, id: u64, line: &[u8]) -> Exchange {
        self.given.insert(id);
        if self.stdin.write_all(line).await.is_err() || self.stdin.flush().await.is_err() {
            return Exchange::Ended("stopped reading its input");
        }
        let mut answer = Vec::new();
        loop {
            let buf = match self.stdout.fill_buf().await {
                Ok(buf) => buf,
                Err(_) => return Exchange::Ended("its output broke"),
            };
            if buf.is_empty() {
                return Exchange::Ended("closed its output");
            }
            if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                answer.extend_from_slice(&buf[..end]);
                self.stdout.consume(end + 1);
                return Exchange::Answer(answer);
            }
            let n = buf.len();
            answer.extend_from_slice(buf);
            self.stdout.consume(n);
            if answer.len() > MAX_LINE {
                return Exchange::TooLong;
            }
        }
    }

    /// How the process ended, waiting a little for it; a process still
    /// running after that is killed with its group.
    pub(super) async fn exit_status(&mut self, how: &str) -> String {
        match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("{how}; its status is unknown: {e}"),
            Err(_) => {
                kill_group(self.group.0);
                format!("{how} but kept running; killed")
            }
        }
    }
}

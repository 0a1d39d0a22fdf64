//! Atomic writing: a report is written to `.<name>.hopcheck-tmp-<pid>-<random>`
//! in the same folder, then renamed over `<name>`. A process killed
//! mid-write leaves that file behind; [`remove_stale_temp_files`] removes
//! those whose process is gone.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Marks hopcheck's temporary files: `.<name>` + this + `<pid>-<random>`.
const TEMP_MARK: &str = ".hopcheck-tmp-";

/// Write `bytes` to `path` so that readers see the old file or the new one,
/// never a part. The file is readable as the umask allows (0644 under the
/// usual 022), like any file the user creates.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = folder_of(path);
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}{TEMP_MARK}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The folder a file `path` goes in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Remove the temporary files [`write_atomic`] left in `dir` when its process
/// was killed: those whose process is no longer running. Files of a running
/// process (another `hopcheck` writing there now) and anything not named by
/// [`write_atomic`] are left alone. Returns the files removed; a missing
/// folder has none.
pub fn remove_stale_temp_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some(pid) = temp_file_owner(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        if !process_is_running(pid) && entry.file_type()?.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(entry.path()),
                // Another run cleaned it up meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// The pid in a name `.<name>.hopcheck-tmp-<pid>-<random>`, if it is one.
fn temp_file_owner(file_name: &str) -> Option<u32> {
    let (before, after) = file_name.rsplit_once(TEMP_MARK)?;
    let (pid, random) = after.split_once('-')?;
    let named = before.len() > 1 && before.starts_with('.');
    let pid_ok = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    (named && pid_ok && !random.is_empty()).then(|| pid.parse().ok())?
}

/// Whether process `pid` exists (signal 0 checks without sending anything;
/// EPERM means it exists under another user).
fn process_is_running(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_named_after_the_report_and_their_process() {
        assert_eq!(temp_file_owner(".curl.json.hopcheck-tmp-4242-a1B2c3"), Some(4242));
        for other in [
            ".tmpA1b2C3",
            "curl.json",
            ".hopcheck-tmp-4242-a1",
            ".curl.json.hopcheck-tmp--a1",
            ".curl.json.hopcheck-tmp-42x-a1",
            ".curl.json.hopcheck-tmp-4242-",
        ] {
            assert_eq!(temp_file_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temp_files_of_ended_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ended = std::process::Command::new("true").spawn().expect("spawn true");
        let ended_pid = ended.id();
        ended.wait().expect("wait");
        let stale = dir.path().join(format!(".t.json{TEMP_MARK}{ended_pid}-abc123"));
        let live = dir
            .path()
            .join(format!(".t.json{TEMP_MARK}{}-abc123", std::process::id()));
        let foreign = dir.path().join(".tmpAbC123");
        let report = dir.path().join("t.json");
        for file in [&stale, &live, &foreign, &report] {
            std::fs::write(file, b"{").expect("write");
        }
        let removed = remove_stale_temp_files(dir.path()).expect("cleanup");
        assert_eq!(removed, std::slice::from_ref(&stale));
        assert!(!stale.exists());
        assert!(live.exists() && foreign.exists() && report.exists());
        assert_eq!(
            remove_stale_temp_files(&dir.path().join("absent")).expect("no folder"),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn a_written_report_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_atomic(&dir.path().join("t.json"), b"{}").expect("written");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["t.json"]);
    }
}

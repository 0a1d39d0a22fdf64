//! Open-file descriptors: the process's limit, raising it, and how many
//! cases in flight it holds.
//!
//! One case in flight holds at most [`PER_CASE`] descriptors: its origin's
//! listener (1), up to three connections open at once with both ends in this
//! process when the in-process reference client runs (6: a redirect's next
//! connection opens while the last one closes), and a file read while the
//! client sets up (1). The rest of the run holds at most [`RESERVED`]: the
//! standard streams, the async runtime's, the suite file being read, the
//! scratch folder's files and three per driver process (stdin, stdout, stderr
//! file). So at a soft limit `L`, at most `(L - RESERVED) / PER_CASE` cases
//! run at once (at least one): 122 at 1,024.

use std::io;

/// Most descriptors one case in flight holds.
pub const PER_CASE: u64 = 8;
/// Most descriptors the run holds besides its cases.
pub const RESERVED: u64 = 48;

/// The soft limit on open files, `None` when unlimited or unknown.
pub fn soft_limit() -> Option<u64> {
    let limit = current().ok()?;
    (limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// How many cases in flight fit under `limit` descriptors (at least one).
pub fn cases_fitting(limit: u64) -> usize {
    let cases = limit.saturating_sub(RESERVED) / PER_CASE;
    usize::try_from(cases).unwrap_or(usize::MAX).max(1)
}

/// How many cases in flight fit under this process's soft limit.
pub fn cases_fitting_now() -> usize {
    soft_limit().map_or(usize::MAX, cases_fitting)
}

/// Raise the soft limit on open files to the hard limit; returns the soft
/// limit now in force. A fresh machine's soft limit (often 1,024) is far
/// below its hard one, and the runner's parallelism is bounded by the soft one.
pub fn raise_soft_limit() -> io::Result<u64> {
    let mut limit = current()?;
    if limit.rlim_cur < limit.rlim_max {
        let wanted = limit.rlim_max;
        limit.rlim_cur = wanted;
        // SAFETY: setrlimit reads the struct we pass; nothing is retained.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

fn current() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cases_in_flight_fit_the_limit() {
        assert_eq!(cases_fitting(1024), 122);
        assert_eq!(cases_fitting(64), 2);
        for tiny in [0, 10, RESERVED, RESERVED + PER_CASE - 1] {
            assert_eq!(cases_fitting(tiny), 1, "{tiny}");
        }
        for limit in [64u64, 256, 1024, 4096, 1 << 20] {
            let cases = cases_fitting(limit) as u64;
            assert!(RESERVED + cases * PER_CASE <= limit, "{limit}");
        }
    }
}

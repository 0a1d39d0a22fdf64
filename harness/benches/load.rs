//! Load: 1,000 cases (the suite's, repeated) put in flight at once against
//! the reference user agent, then against curl, as `hopcheck run -j 1000`
//! does, at the soft open-file limit of a fresh machine (1,024). Prints per
//! target the wall time, the verdicts, the peak of open descriptors (this
//! process, and with its child processes) and the peak resident memory (this
//! process's `VmHWM`; its child processes' `VmRSS` summed, sampled).
//! Exits 1 if any case is an `error`: at that limit the runner must keep
//! within its descriptors.
//!
//! `cargo bench -p hopcheck --bench load`; `HOPCHECK_LOAD_CASES` (default 1000).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hopcheck::case::{Case, Profile};
use hopcheck::runner::{descriptors, RunConfig, Runner};
use hopcheck::verdict::VerdictKind;

/// A fresh machine's soft limit on open files.
const FRESH_SOFT_LIMIT: u64 = 1024;

fn main() -> ExitCode {
    let count = common::count_from_env("HOPCHECK_LOAD_CASES", 1000);
    let soft = lower_soft_limit(FRESH_SOFT_LIMIT);
    let suite = common::suite();
    let cases: Vec<Case> = suite.cases.iter().cycle().take(count).cloned().collect();
    let catalogue = Arc::new(suite.catalogue.clone());
    let rt = common::runtime();
    let config = RunConfig {
        parallelism: count,
        ..RunConfig::default()
    };
    let runner = Arc::new(Runner::new(config).expect("runner"));
    println!(
        "{count} cases ({} distinct, repeated) asked in flight at once; soft open-file limit {soft}, \
         so {} in flight ({} descriptors each, {} for the rest)",
        suite.cases.len(),
        runner.parallelism(),
        descriptors::PER_CASE,
        descriptors::RESERVED
    );

    let mut errors = 0;
    for name in ["reference", "curl"] {
        let Some(target) = common::installed_target(name, &mut errors) else {
            continue;
        };
        let peaks = Peaks::watch();
        let started = Instant::now();
        let results = rt.block_on(runner.run_all(target, &cases, catalogue.clone(), Profile::Rfc9110, |_| {}));
        let wall = started.elapsed();
        let seen = peaks.stop();
        let mut summary: BTreeMap<VerdictKind, usize> = BTreeMap::new();
        for r in &results {
            *summary.entry(r.verdict.kind).or_default() += 1;
        }
        let failed: Vec<String> = results
            .iter()
            .filter(|r| r.verdict.kind == VerdictKind::Error)
            .take(5)
            .map(|r| format!("  error: {}: {}", r.id, r.verdict.detail))
            .collect();
        errors += summary.get(&VerdictKind::Error).copied().unwrap_or(0);
        let counts: Vec<String> = summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "{name}: {} cases in {:.1} s: {}; peak open descriptors {} (with child processes {}); \
             peak RSS of this process so far {} MiB, of its child processes together {} MiB",
            results.len(),
            wall.as_secs_f64(),
            counts.join(", "),
            seen.own_fds,
            seen.all_fds,
            own_peak_rss_kib() / 1024,
            seen.children_rss_kib / 1024
        );
        for line in failed {
            println!("{line}");
        }
    }
    common::exit_code(errors)
}

/// Set the soft open-file limit to `limit` (or the hard limit, if lower);
/// the soft limit now in force.
fn lower_soft_limit(limit: u64) -> u64 {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) == 0 {
            current.rlim_cur = limit.min(current.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &current);
        }
    }
    descriptors::soft_limit().unwrap_or(u64::MAX)
}

/// Samples the open descriptors of this process and of its descendants,
/// and the descendants' resident memory together, every 20 ms on a thread
/// of its own, keeping the peaks.
struct Peaks {
    stop: Arc<AtomicBool>,
    own: Arc<AtomicUsize>,
    all: Arc<AtomicUsize>,
    children_rss_kib: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

/// What [`Peaks`] saw.
struct Seen {
    own_fds: usize,
    all_fds: usize,
    children_rss_kib: usize,
}

impl Peaks {
    fn watch() -> Peaks {
        let stop = Arc::new(AtomicBool::new(false));
        let counter = || Arc::new(AtomicUsize::new(0));
        let (own, all, children_rss_kib) = (counter(), counter(), counter());
        let thread = {
            let (stop, own, all, rss) = (
                stop.clone(),
                Arc::clone(&own),
                Arc::clone(&all),
                Arc::clone(&children_rss_kib),
            );
            std::thread::spawn(move || {
                let me = std::process::id();
                while !stop.load(Ordering::Relaxed) {
                    let mine = open_fds(me);
                    let children = descendants(me);
                    let theirs: usize = children.iter().copied().map(open_fds).sum();
                    own.fetch_max(mine, Ordering::Relaxed);
                    all.fetch_max(mine + theirs, Ordering::Relaxed);
                    rss.fetch_max(children.into_iter().map(resident_kib).sum(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Peaks {
            stop,
            own,
            all,
            children_rss_kib,
            thread,
        }
    }

    fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        Seen {
            own_fds: self.own.load(Ordering::Relaxed),
            all_fds: self.all.load(Ordering::Relaxed),
            children_rss_kib: self.children_rss_kib.load(Ordering::Relaxed),
        }
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Every process whose chain of parents leads to `root`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            Some((pid, parent_of(&entry.path())?))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// The parent pid from `/proc/<pid>/stat` (the field after the `(comm)`).
fn parent_of(proc_dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn own_peak_rss_kib() -> usize {
    status_kib("/proc/self/status", "VmHWM:")
}

/// A process's resident set now (`VmRSS`), in KiB; 0 once it is gone.
fn resident_kib(pid: u32) -> usize {
    status_kib(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn status_kib(path: &str, field: &str) -> usize {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

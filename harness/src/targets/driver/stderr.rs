//! A driver's stderr, read from a pipe while the driver runs and kept
//! bounded: per plan its first and last [`KEEP`] bytes and the count of the
//! bytes dropped between them.
//!
//! A task reads the pipe as the driver writes, so the driver never blocks on
//! it and nothing grows on disk. All reads happen under one lock, so bytes
//! are kept in the order written. When an answer line arrives, whatever the
//! driver wrote to stderr before it is already in the pipe (it wrote that
//! first); [`StderrCapture::take`] reads the pipe empty before handing the
//! text out, so each plan gets what was written for it, without waiting.

use std::collections::VecDeque;
use std::io::{self, Read as _};
use std::os::fd::AsRawFd as _;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::task::JoinHandle;

/// Bytes kept from the start and from the end of one plan's stderr.
pub(crate) const KEEP: usize = 32 << 10;
/// Most bytes read in one go before the reading task lets others run.
const READ_BURST: usize = 1 << 20;
/// Most bytes [`StderrCapture::take`] reads to empty the pipe: more than a
/// pipe holds, so everything written before the answer line is in.
const TAKE_DRAIN: usize = 4 << 20;

/// The reading end of a driver's stderr pipe and what it kept so far.
pub(super) struct StderrCapture {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
}

struct Shared {
    pipe: AsyncFd<io::PipeReader>,
    kept: Mutex<Kept>,
}

impl StderrCapture {
    /// Start reading `pipe` (the reading end of the driver's stderr) on the
    /// current tokio runtime.
    pub(super) fn start(pipe: io::PipeReader) -> io::Result<StderrCapture> {
        set_nonblocking(&pipe)?;
        // SAFETY: `pipe` owns its descriptor and returns that same one for
        // as long as it lives, which is as long as the `AsyncFd` holds it.
        let pipe =
            unsafe { AsyncFd::register_with_interest(pipe, Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
        let shared = Arc::new(Shared {
            pipe,
            kept: Mutex::new(Kept::default()),
        });
        let reader = tokio::spawn(read_continuously(shared.clone()));
        Ok(StderrCapture { shared, reader })
    }

    /// What the driver wrote since the last take, bounded (see [`Kept::render`]).
    pub(super) fn take(&self) -> String {
        let mut kept = self.shared.lock();
        // Whatever the driver wrote before its answer is in the pipe by now.
        let _ = read_available(self.shared.pipe.get_ref(), &mut kept, TAKE_DRAIN);
        std::mem::take(&mut *kept).render()
    }
}

impl Drop for StderrCapture {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Read the pipe whenever it has data, until the driver closes it.
async fn read_continuously(shared: Arc<Shared>) {
    loop {
        let Ok(mut ready) = shared.pipe.readable().await else {
            return;
        };
        let outcome = read_available(ready.get_inner(), &mut shared.lock(), READ_BURST);
        match outcome {
            Ok(Pipe::Empty) => ready.clear_ready(),
            Ok(Pipe::MoreToRead) => tokio::task::yield_now().await,
            Ok(Pipe::Closed) | Err(_) => return,
        }
    }
}

/// How a non-blocking read of the pipe ended.
enum Pipe {
    /// Nothing more to read for now.
    Empty,
    /// The read stopped at its limit with data left.
    MoreToRead,
    /// Every writer closed its end.
    Closed,
}

/// Read what the pipe holds now into `kept`, at most `limit` bytes.
fn read_available(mut pipe: &io::PipeReader, kept: &mut Kept, limit: usize) -> io::Result<Pipe> {
    let mut buf = [0u8; 16 << 10];
    let mut read = 0;
    while read < limit {
        match pipe.read(&mut buf) {
            Ok(0) => return Ok(Pipe::Closed),
            Ok(n) => {
                kept.push(&buf[..n]);
                read += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Pipe::Empty),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Pipe::MoreToRead)
}

fn set_nonblocking(pipe: &io::PipeReader) -> io::Result<()> {
    let fd = pipe.as_raw_fd();
    // SAFETY: `fd` is open for the duration of both calls (borrowed from `pipe`).
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; only the file status flags change.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One plan's stderr: the first [`KEEP`] bytes, the last [`KEEP`] bytes and
/// how many fell between.
#[derive(Debug, Default)]
struct Kept {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

impl Kept {
    fn push(&mut self, bytes: &[u8]) {
        let room = KEEP - self.head.len();
        let (head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(head);
        // Only the last KEEP bytes of `rest` can stay in the tail.
        let rest_kept = &rest[rest.len().saturating_sub(KEEP)..];
        self.dropped += (rest.len() - rest_kept.len()) as u64;
        self.tail.extend(rest_kept);
        let over = self.tail.len().saturating_sub(KEEP);
        self.tail.drain(..over);
        self.dropped += over as u64;
    }

    /// The text, with `[N bytes dropped]` on a line of its own where bytes
    /// were left out.
    fn render(self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        let tail: Vec<u8> = self.tail.into();
        if self.dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[{} bytes dropped]\n", self.dropped));
        }
        text.push_str(&String::from_utf8_lossy(&tail));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        let mut kept = Kept::default();
        kept.push(b"one\n");
        kept.push(b"two\n");
        assert_eq!(kept.render(), "one\ntwo\n");
    }

    #[test]
    fn long_text_keeps_its_head_and_tail_and_counts_the_rest() {
        let mut kept = Kept::default();
        kept.push(&vec![b'h'; KEEP]);
        for _ in 0..10 {
            kept.push(&vec![b'm'; KEEP / 2 + 1]);
        }
        kept.push(&vec![b't'; KEEP]);
        let dropped = 10 * (KEEP / 2 + 1);
        assert_eq!(kept.dropped, dropped as u64);
        let text = kept.render();
        let expected = format!("{}\n[{dropped} bytes dropped]\n{}", "h".repeat(KEEP), "t".repeat(KEEP));
        assert_eq!(text, expected);
    }

    #[test]
    fn one_huge_write_is_bounded_too() {
        let mut kept = Kept::default();
        let mut bytes = vec![b'x'; 5 * KEEP];
        bytes[0] = b'a';
        *bytes.last_mut().expect("bytes") = b'z';
        kept.push(&bytes);
        assert_eq!((kept.head.len(), kept.tail.len()), (KEEP, KEEP));
        assert_eq!(kept.dropped, 3 * KEEP as u64);
        let text = kept.render();
        assert!(text.starts_with('a') && text.ends_with('z'));
    }
}

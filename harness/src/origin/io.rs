//! Byte-stream wrappers the listener serves through: replaying a sniffed byte,
//! noticing input that has not yet become a hop, keeping the raw start of a
//! request head, and writing reply field values that hyper cannot carry.

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

/// Byte streams a connection can be served over (TCP, TLS, a CONNECT tunnel).
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
pub(super) type BoxIo = Box<dyn Io>;

/// Forwards writes, flushes and shutdowns of a wrapper to its `inner` field.
macro_rules! forward_writes {
    () => {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    };
}

/// A stream that yields one already-read byte before the rest.
pub(super) struct Prefixed {
    pub first: Option<u8>,
    pub inner: BoxIo,
}

impl AsyncRead for Prefixed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() > 0 {
            if let Some(byte) = self.first.take() {
                buf.put_slice(&[byte]);
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    forward_writes!();
}

/// Counts the connections of an origin holding input that is not yet a hop
/// (a handshake under way, a request head or body being read), so that the
/// hops are read only once every attempt a client made is on record: a
/// client that gives up on a handshake reports its error before the origin
/// has read the alert.
#[derive(Debug)]
pub(super) struct Unrecorded {
    connections: watch::Sender<usize>,
}

impl Unrecorded {
    pub fn new() -> Unrecorded {
        Unrecorded {
            connections: watch::Sender::new(0),
        }
    }

    /// Wait until no connection holds unrecorded input.
    pub async fn settled(&self) {
        let mut count = self.connections.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

/// One connection's share of [`Unrecorded`].
#[derive(Debug)]
pub(super) struct Pending {
    all: Arc<Unrecorded>,
    holding: AtomicBool,
}

impl Pending {
    pub fn new(all: Arc<Unrecorded>) -> Arc<Pending> {
        Arc::new(Pending {
            all,
            holding: AtomicBool::new(false),
        })
    }

    /// Bytes arrived that are not on record yet.
    fn arrived(&self) {
        if !self.holding.swap(true, Ordering::AcqRel) {
            self.all.connections.send_modify(|n| *n += 1);
        }
    }

    /// Everything that arrived so far is on record (or needs none).
    pub fn recorded(&self) {
        if self.holding.swap(false, Ordering::AcqRel) {
            self.all.connections.send_modify(|n| *n = n.saturating_sub(1));
        }
    }
}

/// The raw socket of a connection: marks its [`Pending`] whenever bytes
/// arrive, and acknowledges them at once (see [`acknowledge_now`]).
pub(super) struct Watched<S> {
    pub inner: S,
    pub pending: Arc<Pending>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + AsRawFd> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.pending.arrived();
            acknowledge_now(&self.inner);
        }
        read
    }
}

/// Send the ACK for what was just read now, and keep doing so (Linux's
/// `TCP_QUICKACK`, which the kernel resets on its own, hence after every
/// read). An origin that delays its ACKs makes a client that writes a
/// request in two parts with Nagle's algorithm on (headers, then the body:
/// urllib3 through a proxy) wait about 40 ms for the second part; that wait
/// is the test bench's, not the client's behaviour. No effect on what the
/// client sends or in which order; a failure is ignored (the ACK is then
/// only late).
fn acknowledge_now(socket: &impl AsRawFd) {
    #[cfg(target_os = "linux")]
    {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor owned by `socket`, and a c_int
        // option value of the size given.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                std::ptr::addr_of!(on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    forward_writes!();
}

/// The bytes of a request head kept while it is read, so that one hyper
/// cannot parse is recorded as received.
pub(super) type HeadBytes = Arc<Mutex<Vec<u8>>>;

/// How many bytes of a request head are kept: enough for any first line a
/// case makes a client send.
const HEAD_KEPT: usize = 16 << 10;

pub(super) fn lock(head: &HeadBytes) -> MutexGuard<'_, Vec<u8>> {
    // Bytes only: a panic elsewhere cannot leave them inconsistent.
    head.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps the bytes read since the last request was recorded (the next
/// request's head); the service clears them once a request is read whole.
pub(super) struct HeadTap {
    pub inner: BoxIo,
    pub head: HeadBytes,
}

impl AsyncRead for HeadTap {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) {
            let mut head = lock(&self.head);
            let room = HEAD_KEPT.saturating_sub(head.len());
            let new = &buf.filled()[before..];
            head.extend_from_slice(&new[..new.len().min(room)]);
        }
        read
    }
}

impl AsyncWrite for HeadTap {
    forward_writes!();
}

/// The first line of `head` (without its line end), bytes outside printable
/// ASCII written `\xNN` and a backslash `\\`, so that any byte reads back.
pub(super) fn first_line(head: &[u8]) -> String {
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let line = head[..end].strip_suffix(b"\r").unwrap_or(&head[..end]);
    escape_bytes(line)
}

/// Bytes as text: printable ASCII as is, `\` as `\\`, anything else `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(char::from(b)),
            _ => text.push_str(&format!("\\x{b:02X}")),
        }
    }
    text
}

/// Writes reply heads whose field values hyper refuses (control characters):
/// the service gives hyper a placeholder, `marker` + the value in hex +
/// `marker`, and this writer puts the raw bytes in its place on the wire.
/// Used only for scripts that need it; `marker` is random per origin, so no
/// other byte written can look like one.
pub(super) struct RawHeads {
    pub inner: BoxIo,
    pub marker: Arc<[u8]>,
    /// Bytes accepted from hyper but not yet written.
    out: Vec<u8>,
    written: usize,
}

impl RawHeads {
    pub fn new(inner: BoxIo, marker: Arc<[u8]>) -> RawHeads {
        RawHeads {
            inner,
            marker,
            out: Vec::new(),
            written: 0,
        }
    }

    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

/// The placeholder that stands for `value` in a head given to hyper.
pub(super) fn placeholder(marker: &[u8], value: &[u8]) -> Vec<u8> {
    let mut text = marker.to_vec();
    for b in value {
        text.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    text.extend_from_slice(marker);
    text
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `buf` with every placeholder replaced by the bytes it stands for.
fn substitute(buf: &[u8], marker: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let mut rest = buf;
    while let Some(start) = find(rest, marker) {
        let after = &rest[start + marker.len()..];
        let Some(len) = find(after, marker) else { break };
        let hex = &after[..len];
        let decoded: Option<Vec<u8>> = hex
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect();
        match decoded {
            Some(bytes) if hex.len().is_multiple_of(2) => {
                out.extend_from_slice(&rest[..start]);
                out.extend_from_slice(&bytes);
                rest = &after[len + marker.len()..];
            }
            // Not a placeholder after all: keep the bytes.
            _ => {
                out.extend_from_slice(&rest[..start + marker.len()]);
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

impl AsyncRead for RawHeads {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for RawHeads {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if find(buf, &self.marker).is_none() {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        self.out = substitute(buf, &self.marker);
        // The whole of `buf` is taken; what the socket does not take now is
        // written before anything else, and on flush.
        if let Poll::Ready(Err(err)) = self.drain(cx) {
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(buf.len()))
    }

    // Not vectored: hyper then hands a head to one `poll_write`, whole.
    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::plain(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".as_slice(), "GET / HTTP/1.1")]
    #[case::controls(b"GET /a\x01b\xe9 HTTP/1.1\r\n".as_slice(), "GET /a\\x01b\\xE9 HTTP/1.1")]
    #[case::backslash(b"GET /a\\b HTTP/1.1\n".as_slice(), "GET /a\\\\b HTTP/1.1")]
    #[case::no_line_end(b"GE".as_slice(), "GE")]
    fn first_lines_read_back_byte_for_byte(#[case] head: &[u8], #[case] line: &str) {
        assert_eq!(first_line(head), line);
    }

    #[test]
    fn placeholders_become_the_raw_bytes() {
        let marker = b"@@m@@";
        let value = b"/a\x01\x7f\xe9";
        let mut head = b"HTTP/1.1 302 Found\r\nLocation: ".to_vec();
        head.extend_from_slice(&placeholder(marker, value));
        head.extend_from_slice(b"\r\nX: @@m@@zz@@m@@\r\n\r\n");
        let mut expected = b"HTTP/1.1 302 Found\r\nLocation: ".to_vec();
        expected.extend_from_slice(value);
        // An odd spelling between markers is not a placeholder and stays.
        expected.extend_from_slice(b"\r\nX: @@m@@zz@@m@@\r\n\r\n");
        assert_eq!(substitute(&head, marker), expected);
    }
}

//! Splits agent output into lines with a cap on line length.
//!
//! Lines are split on `\n` as bytes first and decoded afterwards (a read can
//! end in the middle of a UTF-8 character). A line longer than the cap is
//! never buffered past the cap: the rest is skipped and its length reported.
//!
//! A reader holds a read buffer only while it holds unread output: one that
//! waits for its agent gives the buffer back to its thread's spares, and the
//! next read (by any reader on that thread) takes one. A buffer per agent
//! run kept 64 KiB resident for an idle agent's life, and on a new server
//! its first fill was 16 page faults per run (a quarter of the faults at
//! the load tool's turn; docs/PERFORMANCE.md).

use std::cell::RefCell;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Spare read buffers kept per thread: a runtime thread reads one pipe at a
/// time, so a few cover it; more are freed.
const SPARES_PER_THREAD: usize = 4;

thread_local! {
    static SPARES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer of exactly `size` bytes' room (the read size), a spare
/// one if this thread has one.
fn take_buffer(size: usize) -> Vec<u8> {
    SPARES
        .try_with(|spares| {
            let mut spares = spares.borrow_mut();
            let i = spares.iter().position(|b| b.capacity() == size)?;
            Some(spares.swap_remove(i))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(size))
}

fn give_back(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 {
        return;
    }
    buffer.clear();
    // `try_with`: a reader dropped while its thread ends frees its buffer.
    let _ = SPARES.try_with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < SPARES_PER_THREAD {
            spares.push(buffer);
        }
    });
}

#[derive(Debug, PartialEq, Eq)]
pub enum LineOut {
    Line(String),
    TooLong { len: usize },
}

pub struct LineReader<R> {
    inner: R,
    /// What was read and not yet consumed: `chunk[at..]`. Read into the
    /// vector's spare room, never zero-filled first (a `BufReader` zeroes
    /// its whole buffer when made: 64 KiB for every agent run). No room at
    /// all while everything read is consumed (the buffer is a spare then).
    chunk: Vec<u8>,
    at: usize,
    /// Bytes read at most at a time.
    chunk_size: usize,
    /// The line being gathered, up to `cap` bytes, and its length so far
    /// (past the cap too).
    line: Vec<u8>,
    len: usize,
    cap: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Reads up to `chunk` bytes at a time (one syscall for a burst of
    /// lines), keeps lines up to `cap` bytes.
    pub fn new(inner: R, chunk: usize, cap: usize) -> Self {
        Self {
            inner,
            chunk: Vec::new(),
            at: 0,
            chunk_size: chunk.max(1),
            line: Vec::new(),
            len: 0,
            cap,
        }
    }

    /// The next line without its `\n` (and `\r`), or `None` at end of input.
    /// Invalid UTF-8 is replaced, never an error. Cancel-safe: a call
    /// dropped while it waits keeps what it gathered for the next one.
    pub async fn next_line(&mut self) -> std::io::Result<Option<LineOut>> {
        loop {
            if self.at == self.chunk.len() && self.fill().await? == 0 {
                return Ok((self.len > 0).then(|| self.finish()));
            }
            let rest = &self.chunk[self.at..];
            let (take, done) = match memchr::memchr(b'\n', rest) {
                Some(i) => (i, true),
                None => (rest.len(), false),
            };
            if self.len + take <= self.cap {
                self.line.extend_from_slice(&rest[..take]);
            }
            self.len += take;
            self.at += take + usize::from(done);
            if done {
                self.release_if_consumed();
                return Ok(Some(self.finish()));
            }
        }
    }

    /// Reads once into a buffer taken for the read. A read that finds
    /// nothing yet gives the buffer back before it waits: it is taken again
    /// when the pipe has output. Cancel-safe: a read that is not ready has
    /// read nothing.
    async fn fill(&mut self) -> std::io::Result<usize> {
        give_back(std::mem::take(&mut self.chunk));
        self.at = 0;
        let (inner, chunk, size) = (&mut self.inner, &mut self.chunk, self.chunk_size);
        std::future::poll_fn(|cx| {
            let mut buffer = take_buffer(size);
            // Reads into the buffer's room (it is empty, so it never grows).
            let polled = std::pin::pin!(inner.read_buf(&mut buffer)).poll(cx);
            if polled.is_pending() {
                give_back(buffer);
            } else {
                *chunk = buffer;
            }
            polled
        })
        .await
    }

    /// Gives the buffer back once all that was read is consumed, so a
    /// reader waiting to hand its lines over holds none either.
    fn release_if_consumed(&mut self) {
        if self.at == self.chunk.len() {
            give_back(std::mem::take(&mut self.chunk));
            self.at = 0;
        }
    }

    /// The next line if the last read already holds all of it (up to the
    /// cap), without reading: the lines of a burst are handed over together.
    /// `None` leaves what is buffered to `next_line`.
    pub fn buffered_line(&mut self) -> Option<LineOut> {
        if self.len > 0 {
            return None; // a line begun in an earlier read: `next_line`'s
        }
        let rest = &self.chunk[self.at..];
        let len = memchr::memchr(b'\n', rest).filter(|&i| i <= self.cap)?;
        // `line` holds nothing here (`len` is 0): a buffer of the line's
        // size at once, without the growth path of an empty `Vec`.
        self.line = rest[..len].to_vec();
        self.len = len;
        self.at += len + 1;
        self.release_if_consumed();
        Some(self.finish())
    }

    /// The line gathered so far, ended.
    fn finish(&mut self) -> LineOut {
        let len = std::mem::take(&mut self.len);
        if len > self.cap {
            self.line.clear();
            return LineOut::TooLong { len };
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        // Valid UTF-8 (nearly always) becomes the line without a copy.
        let line = match String::from_utf8(std::mem::take(&mut self.line)) {
            Ok(line) => line,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        LineOut::Line(line)
    }

    /// Where the buffer held is, if one is.
    #[cfg(test)]
    fn buffer(&self) -> Option<*const u8> {
        (self.chunk.capacity() > 0).then_some(self.chunk.as_ptr())
    }
}

impl<R> Drop for LineReader<R> {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], cap: usize, buf_size: usize) -> Vec<LineOut> {
        let mut r = LineReader::new(input, buf_size, cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    /// As `all`, taking after each line those already read.
    async fn all_batched(input: &[u8], cap: usize, buf_size: usize) -> Vec<LineOut> {
        let mut r = LineReader::new(input, buf_size, cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
            while let Some(l) = r.buffered_line() {
                out.push(l);
            }
        }
        out
    }

    #[tokio::test]
    async fn splits_caps_and_survives_garbage() {
        let input = b"ab\r\n\xff\x00z\n0123456789\nlast";
        // Every read size: a line cut anywhere, several lines in one read.
        for size in 1..=input.len() + 1 {
            assert_eq!(
                all(input, 5, size).await,
                all_batched(input, 5, size).await,
                "read size {size}: lines taken from the buffer are the same lines"
            );
            assert_eq!(
                all(input, 5, size).await,
                [
                    LineOut::Line("ab".into()),
                    LineOut::Line("\u{fffd}\u{0}z".into()),
                    LineOut::TooLong { len: 10 },
                    LineOut::Line("last".into()),
                ],
                "read size {size}"
            );
        }
    }

    /// Tried: lines already read, one over the cap among them, an empty
    /// line, a last line without its newline. Taken from the buffer only
    /// while whole and within the cap; the rest is `next_line`'s.
    #[tokio::test]
    async fn buffered_lines_are_whole_lines_within_the_cap() {
        let input: &[u8] = b"one\ntwo\r\n\nfar too long\nfour\nfive";
        let mut r = LineReader::new(input, 64, 5);
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(LineOut::Line("one".into()))
        );
        assert_eq!(r.buffered_line(), Some(LineOut::Line("two".into())));
        assert_eq!(r.buffered_line(), Some(LineOut::Line(String::new())));
        assert_eq!(r.buffered_line(), None, "over the cap: left to next_line");
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(LineOut::TooLong { len: 12 })
        );
        assert_eq!(r.buffered_line(), Some(LineOut::Line("four".into())));
        assert_eq!(r.buffered_line(), None, "no newline yet");
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(LineOut::Line("five".into()))
        );
        assert_eq!(r.next_line().await.unwrap(), None);
    }

    fn poll_once<F: Future>(f: F) -> std::task::Poll<F::Output> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::pin!(f).poll(&mut cx)
    }

    /// Tried: an agent that has printed nothing, then a line and the start
    /// of the next, then the rest; then another agent's reader on the same
    /// thread. Each wait is a call dropped (`next_line` is cancel-safe). A
    /// reader holds a buffer only while output it read is unconsumed, and
    /// the next read on the thread takes the one given back.
    #[tokio::test]
    async fn only_unconsumed_output_holds_a_buffer() {
        use tokio::io::AsyncWriteExt;
        let (mut agent, pipe) = tokio::io::duplex(1024);
        let mut r = LineReader::new(pipe, 4096, 100);
        assert!(poll_once(r.next_line()).is_pending());
        assert_eq!(r.buffer(), None, "waiting for output: no buffer held");
        agent.write_all(b"one\ntw").await.unwrap();
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(LineOut::Line("one".into()))
        );
        let held = r.buffer().expect("\"tw\" is read and not consumed");
        assert!(poll_once(r.next_line()).is_pending());
        assert_eq!(
            r.buffer(),
            None,
            "\"tw\" waits with its line, not in the buffer"
        );
        agent.write_all(b"o\n").await.unwrap();
        assert_eq!(
            r.next_line().await.unwrap(),
            Some(LineOut::Line("two".into()))
        );
        assert_eq!(r.buffer(), None, "all consumed");

        let (mut other, pipe) = tokio::io::duplex(1024);
        let mut second = LineReader::new(pipe, 4096, 100);
        other.write_all(b"three\nfour").await.unwrap();
        assert_eq!(
            second.next_line().await.unwrap(),
            Some(LineOut::Line("three".into()))
        );
        assert_eq!(second.buffer(), Some(held), "the spare is read into again");
    }

    #[tokio::test]
    async fn multibyte_character_cut_by_a_read_boundary_is_kept() {
        let input = "é€😀\n".as_bytes();
        for size in 1..8 {
            assert_eq!(all(input, 100, size).await, [LineOut::Line("é€😀".into())]);
        }
    }
}

//! Splits agent output into lines with a cap on line length.
//!
//! Lines are split on `\n` as bytes first and decoded afterwards (a read can
//! end in the middle of a UTF-8 character). A line longer than the cap is
//! never buffered past the cap: the rest is skipped and its length reported.

use tokio::io::{AsyncRead, AsyncReadExt};

#[derive(Debug, PartialEq, Eq)]
pub enum LineOut {
    Line(String),
    TooLong { len: usize },
}

pub struct LineReader<R> {
    inner: R,
    /// What was read and not yet consumed: `chunk[at..]`. Read into the
    /// vector's spare room, never zero-filled first (a `BufReader` zeroes
    /// its whole buffer when made: 64 KiB for every agent run).
    chunk: Vec<u8>,
    at: usize,
    /// The line being gathered, up to `cap` bytes.
    line: Vec<u8>,
    cap: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Reads up to `chunk` bytes at a time (one syscall for a burst of
    /// lines), keeps lines up to `cap` bytes.
    pub fn new(inner: R, chunk: usize, cap: usize) -> Self {
        Self {
            inner,
            chunk: Vec::with_capacity(chunk.max(1)),
            at: 0,
            line: Vec::new(),
            cap,
        }
    }

    /// The next line without its `\n` (and `\r`), or `None` at end of input.
    /// Invalid UTF-8 is replaced, never an error.
    pub async fn next_line(&mut self) -> std::io::Result<Option<LineOut>> {
        self.line.clear();
        let mut len = 0usize;
        loop {
            if self.at == self.chunk.len() {
                self.chunk.clear();
                self.at = 0;
                // Reads into the capacity kept from `new` (the vector is
                // empty, so it never grows here).
                if self.inner.read_buf(&mut self.chunk).await? == 0 {
                    return Ok((len > 0).then(|| self.finish(len)));
                }
            }
            let rest = &self.chunk[self.at..];
            let (take, done) = match memchr::memchr(b'\n', rest) {
                Some(i) => (i, true),
                None => (rest.len(), false),
            };
            if len + take <= self.cap {
                self.line.extend_from_slice(&rest[..take]);
            }
            len += take;
            self.at += take + usize::from(done);
            if done {
                return Ok(Some(self.finish(len)));
            }
        }
    }

    /// The next line if the last read already holds all of it (up to the
    /// cap), without reading: the lines of a burst are handed over together.
    /// `None` leaves what is buffered to `next_line`.
    pub fn buffered_line(&mut self) -> Option<LineOut> {
        let rest = &self.chunk[self.at..];
        let len = memchr::memchr(b'\n', rest).filter(|&i| i <= self.cap)?;
        self.line.clear();
        self.line.extend_from_slice(&rest[..len]);
        self.at += len + 1;
        Some(self.finish(len))
    }

    fn finish(&mut self, len: usize) -> LineOut {
        if len > self.cap {
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

    #[tokio::test]
    async fn multibyte_character_cut_by_a_read_boundary_is_kept() {
        let input = "é€😀\n".as_bytes();
        for size in 1..8 {
            assert_eq!(all(input, 100, size).await, [LineOut::Line("é€😀".into())]);
        }
    }
}

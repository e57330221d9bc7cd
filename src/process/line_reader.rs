//! Splits agent output into lines with a cap on line length.
//!
//! Lines are split on `\n` as bytes first and decoded afterwards (a read can
//! end in the middle of a UTF-8 character). A line longer than the cap is
//! never buffered past the cap: the rest is skipped and its length reported.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug, PartialEq, Eq)]
pub enum LineOut {
    Line(String),
    TooLong { len: usize },
}

pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    cap: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, cap: usize) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            cap,
        }
    }

    /// The next line without its `\n` (and `\r`), or `None` at end of input.
    /// Invalid UTF-8 is replaced, never an error.
    pub async fn next_line(&mut self) -> std::io::Result<Option<LineOut>> {
        self.buf.clear();
        let mut len = 0usize;
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                return Ok((len > 0).then(|| self.finish(len)));
            }
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if len + take <= self.cap {
                self.buf.extend_from_slice(&chunk[..take]);
            }
            len += take;
            self.inner.consume(take + usize::from(done));
            if done {
                return Ok(Some(self.finish(len)));
            }
        }
    }

    fn finish(&mut self, len: usize) -> LineOut {
        if len > self.cap {
            return LineOut::TooLong { len };
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        // Valid UTF-8 (nearly always) becomes the line without a copy.
        let line = match String::from_utf8(std::mem::take(&mut self.buf)) {
            Ok(line) => line,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        LineOut::Line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn all(input: &[u8], cap: usize, buf_size: usize) -> Vec<LineOut> {
        let mut r = LineReader::new(BufReader::with_capacity(buf_size, input), cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn splits_caps_and_survives_garbage() {
        let input = b"ab\r\n\xff\x00z\n0123456789\nlast";
        let out = all(input, 5, 3).await;
        assert_eq!(
            out,
            [
                LineOut::Line("ab".into()),
                LineOut::Line("\u{fffd}\u{0}z".into()),
                LineOut::TooLong { len: 10 },
                LineOut::Line("last".into()),
            ]
        );
    }

    #[tokio::test]
    async fn multibyte_character_cut_by_a_read_boundary_is_kept() {
        let input = "é€😀\n".as_bytes();
        for size in 1..8 {
            assert_eq!(all(input, 100, size).await, [LineOut::Line("é€😀".into())]);
        }
    }
}

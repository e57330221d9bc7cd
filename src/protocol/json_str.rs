//! A string written as a JSON string, byte for byte as serde_json writes
//! it, for the frame that carries an agent's whole line. Such a line is
//! JSON itself, with a quote every few bytes; serde_json's writer copies
//! each short run between two escapes with a call of its own. Here the
//! line goes sixteen bytes at a time into a scratch buffer: a block is
//! stored whole, and each quote or backslash in it costs a store or two
//! (see `escape_block`), not a copy call for the run before it.

use crate::swar::{HIGH, ONES};
use std::cell::RefCell;
use wide::u8x16;

/// What follows the backslash for a byte that needs one: 0 for none, `u`
/// for `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A flag in the high bit of each byte of `w` that is a quote, a backslash
/// or below 0x20. The lowest flag is exact (a borrow starts only at such a
/// byte and runs upwards), so it both answers "any?" and says where the
/// first one is; a flag above it may be false.
fn escape_flags(w: u64) -> u64 {
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(w ^ (ONES * u64::from(b'\\')))
        | below_0x20(w)
}

/// Non-zero if any byte of `w` is below 0x20 (a control byte).
fn below_0x20(w: u64) -> u64 {
    w.wrapping_sub(ONES * 0x20) & !w & HIGH
}

#[cfg(test)]
fn needs_escape(b: u8) -> bool {
    ESCAPE[usize::from(b)] != 0
}

/// Where the first byte of `word` is that cannot stand in a JSON string
/// as it is, if any.
#[inline]
pub(crate) fn first_escape_in(word: [u8; 8]) -> Option<usize> {
    let flags = escape_flags(u64::from_le_bytes(word));
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

/// How many bytes at the start of `bytes` stand in a JSON string as they
/// are: the run before the first quote, backslash or control byte, found
/// sixteen bytes at a time (the Claude line reader skips strings with it).
pub(crate) fn plain_prefix(bytes: &[u8]) -> usize {
    let mut blocks = bytes.chunks_exact(16);
    let mut n = 0;
    for block in &mut blocks {
        let (marks, controls) = specials(block.try_into().expect("sixteen bytes"));
        if marks | controls != 0 {
            return n + (marks | controls).trailing_zeros() as usize;
        }
        n += 16;
    }
    let (rest, len) = padded(blocks.remainder());
    let (marks, controls) = specials(rest);
    n + match marks | controls {
        0 => len,
        found => found.trailing_zeros() as usize,
    }
}

/// For each byte of `block` that cannot stand in a JSON string as it is,
/// a bit at its place: quotes and backslashes in the first mask, control
/// bytes (below 0x20) in the second. Three SSE2 compares and two
/// `pmovmskb` through `wide`'s vectors (the intrinsics themselves need
/// `unsafe`, which this crate forbids); eight bytes of SWAR took ~40
/// instructions a word, ~10 of them reloading its constants.
#[inline(always)]
fn specials(block: [u8; 16]) -> (u32, u32) {
    let v = u8x16::new(block);
    let marks = v.cmp_eq(u8x16::splat(b'"')) | v.cmp_eq(u8x16::splat(b'\\'));
    let controls = v.min(u8x16::splat(0x1f)).cmp_eq(v);
    (marks.move_mask() as u32, controls.move_mask() as u32)
}

/// The last bytes of a string (fewer than sixteen) as a block, padded with
/// spaces (which need no escape), and how many there are.
#[inline(always)]
fn padded(rest: &[u8]) -> ([u8; 16], usize) {
    let mut block = [b' '; 16];
    block[..rest.len()].copy_from_slice(rest);
    (block, rest.len())
}

/// Writes byte `b` of a string into `to`, escaped if it must be; returns
/// how many bytes it took (1, 2 or 6).
fn escape_into(to: &mut [u8], b: u8) -> usize {
    match ESCAPE[usize::from(b)] {
        0 => {
            to[0] = b;
            1
        }
        b'u' => {
            to[..4].copy_from_slice(b"\\u00");
            to[4] = HEX[usize::from(b >> 4)];
            to[5] = HEX[usize::from(b & 0xf)];
            6
        }
        e => {
            to[0] = b'\\';
            to[1] = e;
            2
        }
    }
}

/// Input bytes escaped at a time: the scratch buffer holds the worst case
/// (a control byte is six bytes escaped) plus one block's overrun.
const CHUNK: usize = 4096;
const SCRATCH: usize = 6 * CHUNK + 64;

thread_local! {
    static SCRATCH_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Escapes `src` into `dst` (room for `SCRATCH` bytes, `src` at most
/// `CHUNK`), sixteen bytes at a time; returns the bytes written.
#[inline(always)]
fn escape_chunk(src: &[u8], dst: &mut [u8]) -> usize {
    let mut o = 0;
    let mut blocks = src.chunks_exact(16);
    let mut start = 0;
    for block in &mut blocks {
        let block: [u8; 16] = block.try_into().expect("sixteen bytes");
        // The block and what follows it, where sixteen more bytes do.
        let from = src[start..].first_chunk::<32>();
        o += escape_block(block, from, 16, &mut dst[o..]);
        start += 16;
    }
    if !blocks.remainder().is_empty() {
        let (rest, len) = padded(blocks.remainder());
        o += escape_block(rest, None, len, &mut dst[o..]);
    }
    o
}

/// Escapes the first `len` bytes of `block` into `dst`; returns the bytes
/// written. The block is stored whole; for each quote or backslash in it
/// (nearly every escape in a JSON line) a backslash is stored at its place
/// and the rest of the block once more one place on: a store or two per
/// escape, no copy call per run between two. A block with a control byte
/// goes byte by byte. Room: `dst` holds at least six bytes per byte left
/// plus 64 (`SCRATCH`), so 48 here, 96 for sixteen control bytes.
///
/// `from`, the block and the sixteen bytes after it in the input, makes
/// the rest of the block one load from memory no store has touched. The
/// last block or two shift a `u128` instead (~9 instructions): a load
/// from a copy just stored, across two of its stores, waits for them
/// (store forwarding fails), which made the first version of this slower
/// per line than the eight-byte one it replaced.
#[inline(always)]
fn escape_block(block: [u8; 16], from: Option<&[u8; 32]>, len: usize, dst: &mut [u8]) -> usize {
    // Sixteen bytes escape into at most 32 and the last store reaches 17
    // bytes past the last escape: one check of 48 bytes of room, none per
    // store below.
    let room: &mut [u8; 48] = (&mut dst[..48]).try_into().expect("48 bytes");
    room[..16].copy_from_slice(&block);
    let (marks, controls) = specials(block);
    let wanted = (1u32 << len) - 1;
    let mut marks = marks & wanted;
    if controls & wanted != 0 {
        return escape_bytes(&block[..len], dst);
    }
    let v = u128::from_le_bytes(block);
    // The rest of the block from byte p on (the branch is the same for
    // every escape of a block; the compiler takes it out of the loop).
    let rest = |p: usize| -> [u8; 16] {
        match from {
            Some(from) => from[p..p + 16].try_into().expect("sixteen bytes"),
            None => (v >> (8 * p)).to_le_bytes(),
        }
    };
    let mut added = 0;
    while marks != 0 {
        // The masks only tell the compiler the bounds: p and added are
        // each at most 15, so byte p of the block now sits at p + added,
        // at most 30.
        let p = marks.trailing_zeros() as usize & 15;
        let at = (p + added) & 31;
        room[at] = b'\\';
        room[at + 1..at + 17].copy_from_slice(&rest(p));
        added += 1;
        marks &= marks - 1;
    }
    len + added
}

/// Escapes `bytes` one at a time into `to` (six bytes of room each).
fn escape_bytes(bytes: &[u8], to: &mut [u8]) -> usize {
    let mut n = 0;
    for &b in bytes {
        n += escape_into(&mut to[n..n + 6], b);
    }
    n
}

/// The parts of `head`, then `s` as a JSON string (quotes included), then
/// `tail`, in one buffer. Escaped into a scratch buffer kept per thread, a
/// chunk at a time. For a string of one chunk (nearly every agent line)
/// the buffer is taken at its exact size once the escaped length is known;
/// a longer one is built at an estimate and cut to its size. A frame held
/// in a session's tail thus takes about the memory its byte budget counts
/// (an estimate of a quarter more held up to 25 % more than counted, and
/// often a larger size class).
pub fn json_str_between(head: &[&[u8]], s: &str, tail: &[u8]) -> Vec<u8> {
    let bytes = s.as_bytes();
    let around = head.iter().map(|h| h.len()).sum::<usize>() + 2 + tail.len();
    let build = |scratch: &mut Vec<u8>| {
        if scratch.len() < SCRATCH {
            scratch.resize(SCRATCH, 0);
        }
        let mut out;
        if bytes.len() <= CHUNK {
            let n = escape_chunk(bytes, scratch);
            out = Vec::with_capacity(around + n);
            head.iter().for_each(|h| out.extend_from_slice(h));
            out.push(b'"');
            out.extend_from_slice(&scratch[..n]);
        } else {
            // A JSON line quotes every key and string: about one byte in
            // six gains a backslash, so a quarter more is room for most.
            out = Vec::with_capacity(around + bytes.len() + bytes.len() / 4);
            head.iter().for_each(|h| out.extend_from_slice(h));
            out.push(b'"');
            for chunk in bytes.chunks(CHUNK) {
                let n = escape_chunk(chunk, scratch);
                out.extend_from_slice(&scratch[..n]);
            }
        }
        out.push(b'"');
        out.extend_from_slice(tail);
        // Only the long path has room to give back (a large allocation
        // shrinks in place).
        out.shrink_to_fit();
        out
    };
    // A thread that is ending has no scratch left: one of its own then.
    SCRATCH_BUF
        .try_with(|scratch| build(&mut scratch.borrow_mut()))
        .unwrap_or_else(|_| build(&mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: &str) -> String {
        let out = json_str_between(&[], s, b"");
        assert_eq!(out.capacity(), out.len(), "taken at its size");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let mut cases: Vec<String> = (0u32..0x80)
            .filter_map(char::from_u32)
            .map(|c| c.to_string())
            .collect();
        // Each special byte at every place of a word and across words.
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€', '😀'] {
            for at in 0..20 {
                let mut s: String = "abcdefghijklmnopqrstu".chars().take(20).collect();
                s.insert(at, special);
                cases.push(s);
            }
        }
        cases.push(String::new());
        cases.push(
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"a\"b\\c\nd"}]}}"#
                .into(),
        );
        let fixtures = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/claude-code-2.1.197"
        );
        for entry in std::fs::read_dir(fixtures).expect("the fixtures") {
            let path = entry.expect("a fixture").path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                let text = std::fs::read_to_string(&path).expect("a fixture's text");
                cases.extend(text.lines().map(str::to_owned));
            }
        }
        // Pseudo-random bytes of every class (no dependency: a fixed LCG).
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2_000 {
            let s: String = (0..(x % 40))
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    char::from_u32(((x >> 33) % 0x90) as u32).unwrap_or('?')
                })
                .collect();
            cases.push(s);
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(7);
        }
        for s in &cases {
            assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    /// Strings longer than a chunk (`CHUNK` bytes escaped at a time): every
    /// kind of escape at and around the chunk's end, a long mixed one, and
    /// chunks that fill the scratch buffer's worst case.
    #[test]
    fn escapes_across_chunks() {
        let mut cases = Vec::new();
        for special in ['"', '\\', '\n', '\u{1}', 'é', '😀'] {
            for len in CHUNK - 10..CHUNK + 10 {
                let mut s = "x".repeat(len);
                s.push(special);
                s.push_str("tail\"q");
                cases.push(s);
            }
        }
        cases.push("ab\"c\\d\ne\u{1}fé€😀 ".repeat(2_000));
        // The worst cases for the scratch's room: every byte six bytes
        // escaped, every byte a quote.
        cases.push("\u{1}".repeat(2 * CHUNK + 3));
        cases.push("\"".repeat(2 * CHUNK + 3));
        for s in &cases {
            assert_eq!(
                ours(s),
                serde_json::to_string(s).unwrap(),
                "{} bytes",
                s.len()
            );
        }
    }

    /// Every word of letters, quotes and backslashes (3^8), alone, twice
    /// (a whole block), twice at offsets that put it across the end of a
    /// sixteen-byte block, and with enough after it that the block's rest
    /// comes from the input.
    #[test]
    fn escapes_every_word_of_quotes_and_backslashes() {
        for n in 0..3u32.pow(8) {
            let word: String = (0..8)
                .map(|i| ['a', '"', '\\'][(n / 3u32.pow(i) % 3) as usize])
                .collect();
            let mut cases = vec![
                word.clone(),
                format!("{word}{word}"),
                format!("é{word}{word}"),
            ];
            cases.extend([3, 11, 13].map(|at| format!("{}{word}{word}", "x".repeat(at))));
            // With sixteen bytes after the block, its rest is read from
            // the input, not shifted out of the block: both ways.
            cases.extend(
                [0, 5, 16].map(|at| format!("{}{word}{word}{}", "x".repeat(at), "y".repeat(16))),
            );
            for s in cases {
                assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
            }
        }
    }

    #[test]
    fn flags_exactly_the_bytes_that_need_an_escape() {
        for b in 0u8..=255 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let flags = escape_flags(u64::from_le_bytes(word));
                assert_eq!(flags != 0, needs_escape(b), "byte {b:#x} at {at}");
                if needs_escape(b) {
                    assert_eq!(flags.trailing_zeros() / 8, at as u32, "byte {b:#x} at {at}");
                }
            }
        }
        assert!((0u8..=255)
            .filter(|&b| needs_escape(b))
            .eq((0..0x20).chain([b'"', b'\\'])));
    }

    /// The first flag is exact whatever follows it: every pair of classes
    /// of byte, the later one at every place after the earlier.
    #[test]
    fn the_plain_prefix_ends_at_the_first_byte_that_needs_an_escape() {
        let classes = [
            b'a', 0x80, 0xff, 0x7f, b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d,
        ];
        for len in 0..20 {
            for &first in &classes {
                for &second in &classes {
                    for at in 0..len {
                        for later in at..len {
                            let mut bytes = vec![b'x'; len];
                            bytes[at] = first;
                            bytes[later] = second;
                            let want = bytes.iter().position(|&b| needs_escape(b)).unwrap_or(len);
                            assert_eq!(plain_prefix(&bytes), want, "{bytes:?}");
                        }
                    }
                }
            }
        }
    }
}

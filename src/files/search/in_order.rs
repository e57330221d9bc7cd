//! Whether a path holds a query atom's characters in order: what any fuzzy
//! match of the atom needs, so a path without it matches nothing. Most
//! paths whose character set holds the atom's characters do not hold them
//! in order (`file_42` against `lib/d3/file_4107.rs`); the matcher's own
//! check took ~500 instructions a path, this goes eight bytes at a time.

use crate::swar::{HIGH, ONES};

/// Whether `needle` occurs in `hay` in order, both ASCII; case folded when
/// `ignore_case` (the needle then holds no capital, as smart case gives).
pub(super) fn in_order(hay: &[u8], needle: &[u8], ignore_case: bool) -> bool {
    let mut rest = needle.iter();
    let Some(&first) = rest.next() else {
        return true;
    };
    let mut want = first;
    let mut words = hay.chunks_exact(8);
    for word in &mut words {
        let mut w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if ignore_case {
            w = lower(w);
        }
        // The bytes of this word not yet passed.
        let mut live = HIGH;
        loop {
            let hits = zero_bytes(w ^ (ONES * u64::from(want))) & live;
            if hits == 0 {
                break;
            }
            match rest.next() {
                Some(&n) => want = n,
                None => return true,
            }
            // The hit's flag is its byte's top bit: the next byte starts
            // one bit up (none left after the last byte).
            live &= u64::MAX.checked_shl(hits.trailing_zeros() + 1).unwrap_or(0);
        }
    }
    for &b in words.remainder() {
        let b = if ignore_case {
            b.to_ascii_lowercase()
        } else {
            b
        };
        if b == want {
            match rest.next() {
                Some(&n) => want = n,
                None => return true,
            }
        }
    }
    false
}

/// `w` (ASCII bytes) with capitals made small. A byte is at most 0x7f, so
/// neither sum carries out of its byte: the top bit of `b + 0x3f` says
/// `b >= 'A'`, that of `b + 0x25` says `b > 'Z'`.
fn lower(w: u64) -> u64 {
    let from_a = w + ONES * (0x80 - u64::from(b'A'));
    let past_z = w + ONES * (0x80 - u64::from(b'Z') - 1);
    w | ((from_a & !past_z & HIGH) >> 2)
}

/// The top bit of each byte of `x` (bytes at most 0x7f) that is zero:
/// exact, as `x + 0x7f` per byte carries into the top bit for any other.
fn zero_bytes(x: u64) -> u64 {
    !(x + ONES * 0x7f) & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;
    use nucleo_matcher::{Config, Matcher, Utf32Str};
    use proptest::prelude::*;

    fn naive(hay: &[u8], needle: &[u8], ignore_case: bool) -> bool {
        let mut want = needle.iter().peekable();
        for &b in hay {
            let b = if ignore_case {
                b.to_ascii_lowercase()
            } else {
                b
            };
            if want.peek() == Some(&&b) {
                want.next();
            }
        }
        want.peek().is_none()
    }

    #[test]
    fn capitals_and_only_capitals_are_made_small() {
        for b in 0u8..0x80 {
            for at in 0..8 {
                let mut word = [b'x'; 8];
                word[at] = b;
                let got = lower(u64::from_le_bytes(word)).to_le_bytes();
                assert_eq!(got[at], b.to_ascii_lowercase(), "byte {b:#x} at {at}");
            }
        }
    }

    /// Tried: ASCII paths of every class of byte (capitals, digits,
    /// separators, the bytes around 'A', 'Z' and 0x7f) and atoms of 1-6
    /// characters, both cases. The answer is the matcher's (a greedy fuzzy
    /// match exists) and the byte-by-byte loop's.
    #[test]
    fn says_what_the_matcher_says() {
        let byte = prop::sample::select(b"aAbBzZfile_42/.-@[`{\x7f \x01".to_vec());
        let hays = prop::collection::vec(byte.clone(), 0..40);
        let needles = prop::collection::vec(byte, 1..7);
        proptest!(ProptestConfig::with_cases(20_000), |(hay in hays, needle in needles)| {
            // Smart case: a needle with a capital matches exactly.
            let ignore_case = !needle.iter().any(u8::is_ascii_uppercase);
            let got = in_order(&hay, &needle, ignore_case);
            prop_assert_eq!(got, naive(&hay, &needle, ignore_case));
            let mut matcher = Matcher::new(Config::DEFAULT.match_paths());
            matcher.config.ignore_case = ignore_case;
            matcher.config.normalize = true;
            let matched = matcher
                .fuzzy_match_greedy(Utf32Str::Ascii(&hay), Utf32Str::Ascii(&needle))
                .is_some();
            prop_assert_eq!(got, matched, "{:?} in {:?}", needle, hay);
        });
    }
}

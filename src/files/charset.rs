//! Which characters a path holds, as one 64-bit set: a search whose query
//! needs a character the path lacks skips the path with one AND, before the
//! matcher looks at it. Case is folded (smart case only ever narrows a
//! match), and a path with any non-ASCII character is never skipped (the
//! matcher's normalisation lets `e` match `é`).

/// Set for paths this test cannot judge: they always go to the matcher.
const OTHER: u64 = 1 << 63;

fn bit(b: u8) -> u64 {
    match b.to_ascii_lowercase() {
        c @ b'a'..=b'z' => 1 << (c - b'a'),
        c @ b'0'..=b'9' => 1 << (26 + c - b'0'),
        b'.' => 1 << 36,
        b'_' => 1 << 37,
        b'-' => 1 << 38,
        b'/' => 1 << 39,
        b' ' => 1 << 40,
        // Other ASCII punctuation shares one bit: a weaker but true test.
        _ => 1 << 41,
    }
}

/// The characters of `s`.
pub fn of(s: &str) -> u64 {
    if !s.is_ascii() {
        return OTHER;
    }
    s.bytes().fold(0, |set, b| set | bit(b))
}

/// The characters every path must hold to match `needles` (the query's
/// positive atoms); `None` when the query has a character this test cannot
/// judge (then no path is skipped).
pub fn needed<'a>(needles: impl IntoIterator<Item = &'a str>) -> Option<u64> {
    let mut set = 0;
    for n in needles {
        if !n.is_ascii() {
            return None;
        }
        set |= n.bytes().fold(0, |s, b| s | bit(b));
    }
    Some(set)
}

/// Whether a path with characters `has` may match a query needing `need`.
/// Whether a path with characters `has` is all ASCII (the matcher can
/// then read its bytes as they are, without a check or a conversion).
pub fn is_ascii(has: u64) -> bool {
    has & OTHER == 0
}

pub fn may_match(has: u64, need: u64) -> bool {
    has & OTHER != 0 || has & need == need
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_lacking_a_character_is_skipped_and_only_then() {
        let path = of("src/Parser_2.rs");
        assert!(may_match(path, needed(["prs"]).unwrap()));
        assert!(
            may_match(path, needed(["PARSER", "2"]).unwrap()),
            "case folded"
        );
        assert!(!may_match(path, needed(["z"]).unwrap()));
        assert!(!may_match(path, needed(["rs", "x"]).unwrap()));
        // Non-ASCII on either side: the matcher decides.
        assert!(may_match(of("docs/café.md"), needed(["z"]).unwrap()));
        assert_eq!(needed(["é"]), None);
    }
}

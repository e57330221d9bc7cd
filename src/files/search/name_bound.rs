//! The most a file name can score against a query, known before it is
//! scored: what lets the search pass most paths over for a short query
//! (`Best::scan` in the parent module).

use nucleo_matcher::pattern::{AtomKind, Pattern};

/// The matcher's scoring (nucleo-matcher 0.3, paths configuration): a
/// matched character, the bonus after a `/` (and at a string's start), the
/// largest bonus anywhere else.
const SCORE_MATCH: u32 = 16;
const DELIMITER_BONUS: u32 = 9;
const BOUNDARY_BONUS: u32 = 8;

/// The most a file name can score against a pattern of plain fuzzy ASCII
/// atoms: each atom at most every character matched at the best bonus. In
/// a name (no `/` in it) the matcher's largest bonus, the one after a
/// delimiter, comes only at its first byte (which counts as following one);
/// every other place gets at most `BOUNDARY_BONUS`. An atom of n characters
/// thus scores at most `16 + 2 * 8 + (n - 1) * (16 + 8)` (the first
/// character's bonus counts twice, later ones at most the run's), or n + 1
/// more if it starts with the name's first character. Checked against the
/// matcher in `the_name_bound_holds`.
#[derive(Debug)]
pub(super) struct NameBound {
    /// With no atom starting where the name does.
    pub(super) least: u32,
    /// With every atom starting where the name does (a bound for any name).
    pub(super) most: u32,
    /// Each atom's first character (lower case) and what it adds then.
    firsts: Vec<(u8, u32)>,
}

impl NameBound {
    pub(super) fn new(pattern: &Pattern, texts: &[String]) -> Option<NameBound> {
        let plain = pattern
            .atoms
            .iter()
            .all(|a| a.kind == AtomKind::Fuzzy && !a.negative);
        // Short enough that no bound comes near `NAME_BONUS`.
        let total: usize = texts.iter().map(String::len).sum();
        if !plain || total > 1_000 || texts.iter().any(|t| t.is_empty() || !t.is_ascii()) {
            return None;
        }
        let mut b = NameBound {
            least: 0,
            most: 0,
            firsts: Vec::new(),
        };
        for t in texts {
            let n = t.len() as u32;
            b.least += SCORE_MATCH + 2 * BOUNDARY_BONUS + (n - 1) * (SCORE_MATCH + BOUNDARY_BONUS);
            let extra = (n + 1) * (DELIMITER_BONUS - BOUNDARY_BONUS);
            b.most += extra;
            b.firsts.push((t.as_bytes()[0].to_ascii_lowercase(), extra));
        }
        b.most += b.least;
        Some(b)
    }

    /// The bound for a name starting with `first`.
    #[inline]
    pub(super) fn starting(&self, first: Option<u8>) -> u32 {
        let Some(first) = first.map(|c| c.to_ascii_lowercase()) else {
            return self.least;
        };
        if let [(c, _)] = self.firsts[..] {
            return if c == first { self.most } else { self.least };
        }
        self.least
            + self
                .firsts
                .iter()
                .filter(|&&(c, _)| c == first)
                .map(|(_, extra)| extra)
                .sum::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nucleo_matcher::pattern::{CaseMatching, Normalization};

    fn of(q: &str) -> Option<NameBound> {
        let p = Pattern::parse(q, CaseMatching::Smart, Normalization::Smart);
        let texts: Vec<String> = p
            .atoms
            .iter()
            .map(|a| a.needle_text().to_string())
            .collect();
        NameBound::new(&p, &texts)
    }

    fn bound(q: &str) -> NameBound {
        of(q).expect("a bound")
    }

    #[test]
    fn by_length_and_first_character() {
        let rs = bound("rs");
        assert_eq!((rs.least, rs.most), (56, 59));
        assert_eq!(rs.starting(Some(b'R')), 59, "case folded");
        assert_eq!(rs.starting(Some(b'f')), 56);
        assert_eq!(rs.starting(None), 56);
        // Two atoms: each adds what it adds where the name starts with it.
        let two = bound("s rs");
        assert_eq!(two.least, 32 + 56);
        assert_eq!(two.starting(Some(b'r')), 32 + 59);
        assert_eq!(two.starting(Some(b's')), 34 + 56);
    }

    #[test]
    fn none_for_queries_it_cannot_bound() {
        for q in ["^src", "!test", "'exact", "rs$", "é"] {
            assert!(of(q).is_none(), "{q}");
        }
    }
}

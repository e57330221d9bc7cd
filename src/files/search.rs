//! Fuzzy matching of project paths with nucleo-matcher (the matcher of the
//! helix editor): path-aware bonuses, smart case, match positions for
//! highlighting. A match whose characters all fall in the file name ranks
//! above one spread over directories.

use super::{charset, Entry};
use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Added to a path's score when the query matches the file name alone.
const NAME_BONUS: u32 = 1 << 16;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    pub file: HitFile,
    pub score: u32,
    /// Character positions in `relPath` that matched.
    pub matches: Vec<u32>,
    /// Offered because it was written lately (an empty query).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recent: bool,
}

fn hit(root: &str, e: &Entry, score: u32, matches: Vec<u32>, recent: bool) -> Hit {
    Hit {
        file: HitFile {
            path: format!("{root}/{}", e.rel),
            name: e.rel[e.name_start..].to_owned(),
            is_dir: e.is_dir,
            rel_path: e.rel.to_string(),
        },
        score,
        matches,
        recent,
    }
}

/// What `@` offers before a character is typed: files written lately
/// (newest first, still indexed), then the project's top level, folders
/// first.
pub fn browse(entries: &[Entry], root: &str, recent: &[Box<str>], max: usize) -> Vec<Hit> {
    let mut out: Vec<Hit> = recent
        .iter()
        .filter_map(|rel| {
            let i = entries.binary_search_by(|e| e.rel.as_ref().cmp(rel)).ok()?;
            Some(hit(root, &entries[i], 0, Vec::new(), true))
        })
        .take(10)
        .collect();
    let mut top: Vec<&Entry> = entries.iter().filter(|e| !e.rel.contains('/')).collect();
    top.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.rel.cmp(&b.rel)));
    for e in top {
        if out.len() >= max {
            break;
        }
        if !out.iter().any(|h| h.file.rel_path == *e.rel) {
            out.push(hit(root, e, 0, Vec::new(), false));
        }
    }
    out.truncate(max);
    out
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HitFile {
    pub path: String,
    pub name: String,
    pub is_dir: bool,
    pub rel_path: String,
}

/// (score, is a file, shorter path, entry index): larger is better.
type RankKey = (u32, bool, Reverse<usize>, usize);

/// The best `max` entries for `query`, best first. An empty query matches
/// nothing. Large indexes are split across the cores; call it off the async
/// runtime.
pub fn search(entries: &[Entry], root: &str, query: &str, max: usize) -> Vec<Hit> {
    let query = query.trim();
    if query.is_empty() || max == 0 {
        return Vec::new();
    }
    let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    // Large indexes are ranked with the matcher's linear (greedy) scoring,
    // keeping several times `max` candidates, which are then scored exactly:
    // the exact scoring of every match (O(path × query)) made queries that
    // match tens of thousands of deep paths take 12-15 ms on 100,000.
    let greedy = entries.len() > PARALLEL_MIN;
    let keep = if greedy { max.saturating_mul(4) } else { max };
    let mut ranked = candidates(entries, &pattern, keep, greedy, threads);
    if greedy {
        let mut scorer = Scorer::new(&pattern);
        ranked = ranked
            .into_iter()
            .filter_map(|(_, _, _, i)| scorer.key(&entries[i], i, &pattern, false))
            .collect();
    }
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    ranked.truncate(max);
    let mut matcher = Matcher::new(Config::DEFAULT.match_paths());
    let mut buf = Vec::new();
    ranked
        .into_iter()
        .map(|(score, _, _, i)| {
            let e = &entries[i];
            let mut matches = Vec::new();
            // Highlight where it was scored: in the name if it matched there.
            let name = &e.rel[e.name_start..];
            if score >= NAME_BONUS
                && pattern
                    .indices(Utf32Str::new(name, &mut buf), &mut matcher, &mut matches)
                    .is_some()
            {
                let offset = e.rel[..e.name_start].chars().count() as u32;
                matches.iter_mut().for_each(|m| *m += offset);
            } else {
                matches.clear();
                pattern.indices(Utf32Str::new(&e.rel, &mut buf), &mut matcher, &mut matches);
            }
            matches.sort_unstable();
            matches.dedup();
            hit(root, e, score, matches, false)
        })
        .collect()
}

/// The best `keep` ranks of `entries`, unordered, on `threads` cores.
fn candidates(
    entries: &[Entry],
    pattern: &Pattern,
    keep: usize,
    greedy: bool,
    threads: usize,
) -> Vec<RankKey> {
    if entries.len() <= PARALLEL_MIN || threads == 1 {
        best_of(entries, 0, pattern, keep, greedy)
    } else {
        // Blocks handed out one at a time, not one half per core: the index
        // is sorted, so a query's matches cluster (`libpsrcab` finds all its
        // candidates under `lib/`) and halves left one core idle while the
        // other scored them all. Each worker keeps the best of what it saw;
        // the best overall are among the union, whichever worker saw them.
        let blocks = entries.len().div_ceil(BLOCK);
        let next = AtomicUsize::new(0);
        // Relaxed: the counter only hands out distinct block numbers;
        // results come back through join.
        let work = || {
            let mut scorer = Scorer::new(pattern);
            let mut best = Best::new(keep);
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= blocks {
                    break;
                }
                let start = b * BLOCK;
                let part = &entries[start..(start + BLOCK).min(entries.len())];
                best.scan(part, start, &mut scorer, pattern, greedy);
            }
            best.into_keys()
        };
        // The calling thread is one of the workers: a thread less to start
        // per query.
        std::thread::scope(|scope| {
            let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
            let mut keys = work();
            for w in others {
                keys.extend(w.join().unwrap_or_default());
            }
            keys
        })
    }
}

/// Below this many entries one thread is faster than several.
const PARALLEL_MIN: usize = 20_000;

/// Entries a search worker takes at a time (25 blocks for 100,000).
const BLOCK: usize = 4_096;

/// The best `max` of `part` (whose first entry is number `offset`).
fn best_of(
    part: &[Entry],
    offset: usize,
    pattern: &Pattern,
    max: usize,
    greedy: bool,
) -> Vec<RankKey> {
    let mut best = Best::new(max);
    best.scan(part, offset, &mut Scorer::new(pattern), pattern, greedy);
    best.into_keys()
}

/// The best `max` ranks offered so far: a min-heap whose top is the one
/// to give up. Ties go to files, then to shorter paths (`RankKey`).
struct Best {
    heap: BinaryHeap<Reverse<RankKey>>,
    max: usize,
}

impl Best {
    fn new(max: usize) -> Self {
        Best {
            heap: BinaryHeap::with_capacity(max + 1),
            max,
        }
    }

    /// Offers every entry of `part` (whose first entry is number `offset`).
    fn scan(
        &mut self,
        part: &[Entry],
        offset: usize,
        scorer: &mut Scorer,
        pattern: &Pattern,
        greedy: bool,
    ) {
        // Once full, the lowest kept rank: an entry whose best possible
        // rank is below it is passed over unscored (`Scorer::cannot_beat`).
        let mut cut = self.cut(scorer, greedy);
        for (i, e) in part.iter().enumerate() {
            if cut.as_ref().is_some_and(|c| scorer.cannot_beat(e, c)) {
                continue;
            }
            let Some(key) = scorer.key(e, offset + i, pattern, greedy) else {
                continue;
            };
            if self.heap.len() < self.max {
                self.heap.push(Reverse(key));
            } else if self.heap.peek().is_some_and(|Reverse(low)| key > *low) {
                self.heap.pop();
                self.heap.push(Reverse(key));
            } else {
                continue;
            }
            cut = self.cut(scorer, greedy);
        }
    }

    /// What an entry must reach to be kept, once `max` are kept and if the
    /// pattern's bound can turn any entry away (only the greedy ranking of
    /// a large index prunes).
    fn cut(&self, scorer: &Scorer, greedy: bool) -> Option<Cut> {
        if !greedy || self.heap.len() < self.max {
            return None;
        }
        let b = scorer.bound.as_ref()?;
        let &Reverse((score, file, len, _)) = self.heap.peek()?;
        // Only a floor of name matches: any other match scores below them.
        let over = score.checked_sub(NAME_BONUS)?;
        (over >= b.least).then_some(Cut {
            over,
            file,
            len,
            all: over > b.most,
        })
    }

    fn into_keys(self) -> Vec<RankKey> {
        self.heap.into_iter().map(|Reverse(k)| k).collect()
    }
}

/// The matcher's scoring (nucleo-matcher 0.3, paths configuration): a
/// matched character, the bonus after a `/` (and at a string's start), the
/// largest bonus anywhere else.
const SCORE_MATCH: u32 = 16;
const DELIMITER_BONUS: u32 = 9;
const BOUNDARY_BONUS: u32 = 8;

/// The lowest kept rank, its score less the name bonus; `all`: above what
/// any name can score.
struct Cut {
    over: u32,
    file: bool,
    len: Reverse<usize>,
    all: bool,
}

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
struct NameBound {
    /// With no atom starting where the name does.
    least: u32,
    /// With every atom starting where the name does (a bound for any name).
    most: u32,
    /// Each atom's first character (lower case) and what it adds then.
    firsts: Vec<(u8, u32)>,
}

impl NameBound {
    fn new(pattern: &Pattern, texts: &[String]) -> Option<NameBound> {
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
    fn starting(&self, first: Option<u8>) -> u32 {
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

/// Scores entries for one pattern, with its own matcher and buffers.
struct Scorer {
    matcher: Matcher,
    buf: Vec<char>,
    /// Per atom: whether it ignores case (smart case: no capital in it).
    ignore_case: Vec<bool>,
    /// Every atom is plain fuzzy (not negated, not anchored, not exact):
    /// a match in the file name is then a match of the whole path.
    name_implies_path: bool,
    /// Characters a path must hold to match (`charset`); 0: no test.
    need: u64,
    /// The most a file name can score (`NameBound`); `None` when the
    /// pattern has an atom that is not plain fuzzy ASCII.
    bound: Option<NameBound>,
}

impl Scorer {
    fn new(pattern: &Pattern) -> Self {
        let texts: Vec<String> = pattern
            .atoms
            .iter()
            .map(|a| a.needle_text().to_string())
            .collect();
        Scorer {
            matcher: Matcher::new(Config::DEFAULT.match_paths()),
            buf: Vec::new(),
            ignore_case: texts
                .iter()
                .map(|t| !t.chars().any(char::is_uppercase))
                .collect(),
            name_implies_path: pattern
                .atoms
                .iter()
                .all(|a| a.kind == AtomKind::Fuzzy && !a.negative),
            need: charset::needed(
                pattern
                    .atoms
                    .iter()
                    .zip(&texts)
                    .filter(|(a, _)| !a.negative)
                    .map(|(_, t)| t.as_str()),
            )
            .unwrap_or(0),
            bound: NameBound::new(pattern, &texts),
        }
    }

    /// Whether entry `e` ranks below the cut whatever it scores: its name's
    /// best possible score (`NameBound`) and its tie-breaks come below the
    /// lowest kept rank's.
    #[inline]
    fn cannot_beat(&self, e: &Entry, cut: &Cut) -> bool {
        if cut.all {
            return true;
        }
        let Some(b) = &self.bound else { return false };
        if !charset::is_ascii(e.chars) {
            return false;
        }
        let most = b.starting(e.rel.as_bytes().get(e.name_start).copied());
        // Strictly below: an entry equal on all three wins on its index.
        (most, !e.is_dir, Reverse(e.rel.len())) < (cut.over, cut.file, cut.len)
    }

    /// The rank of entry `e` (number `index`), or `None` if it does not
    /// match. A path without every character of the query is turned away
    /// first (`charset`, one AND); a match that fits inside the file name
    /// is scored on the name alone and ranks above every other.
    fn key(&mut self, e: &Entry, index: usize, pattern: &Pattern, greedy: bool) -> Option<RankKey> {
        if !charset::may_match(e.chars, self.need) {
            return None;
        }
        let name = &e.rel[e.name_start..];
        // Plain fuzzy atoms that match the name match the path (the name is
        // its tail), and the name's score is the one that counts: the path
        // need not be scored at all (most paths of `rs` or `s`). The name's
        // character set first: one AND turns most names that cannot match away.
        let name_may = charset::may_match(e.name_chars, self.need);
        let ascii = charset::is_ascii(e.chars);
        if self.name_implies_path && e.name_start > 0 && name_may {
            if let Some(s) = self.score(name, ascii, pattern, greedy) {
                return Some((s + NAME_BONUS, !e.is_dir, Reverse(e.rel.len()), index));
            }
        }
        let in_path = self.score(&e.rel, ascii, pattern, greedy)?;
        let total = if e.name_start > 0 && !self.name_implies_path && name_may {
            self.score(name, ascii, pattern, greedy)
                .map_or(in_path, |s| s + NAME_BONUS)
        } else if e.name_start == 0 {
            in_path + NAME_BONUS
        } else {
            in_path
        };
        Some((total, !e.is_dir, Reverse(e.rel.len()), index))
    }

    /// The pattern's score for `hay` (`ascii`: known to be ASCII): exact,
    /// or with fuzzy atoms matched greedily (linear; the same characters, a
    /// rougher score).
    fn score(&mut self, hay: &str, ascii: bool, pattern: &Pattern, greedy: bool) -> Option<u32> {
        // Most paths are ASCII, known from their character set: no scan
        // for a wide character on every entry of every search.
        let hay = if ascii {
            Utf32Str::Ascii(hay.as_bytes())
        } else {
            Utf32Str::new(hay, &mut self.buf)
        };
        if !greedy {
            return pattern.score(hay, &mut self.matcher);
        }
        let mut total = 0u32;
        for (atom, &ignore_case) in pattern.atoms.iter().zip(&self.ignore_case) {
            // One character: the exact scoring has a fast path of its own.
            let s =
                if atom.kind == AtomKind::Fuzzy && !atom.negative && atom.needle_text().len() > 1 {
                    self.matcher.config.ignore_case = ignore_case;
                    self.matcher.config.normalize = true;
                    self.matcher.fuzzy_match_greedy(hay, atom.needle_text())?
                } else {
                    atom.score(hay, &mut self.matcher)?
                };
            total += u32::from(s);
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(paths: &[&str]) -> Vec<Entry> {
        paths
            .iter()
            .map(|p| Entry::new(p, p.ends_with('/')))
            .collect()
    }

    #[test]
    fn file_name_matches_rank_above_directory_matches() {
        let e = entries(&[
            "parser/mod.rs",
            "src/lexer/token.rs",
            "src/parser.rs",
            "docs/parse-notes.md",
        ]);
        let hits = search(&e, "/p", "parser", 10);
        assert_eq!(hits[0].file.rel_path, "src/parser.rs");
        assert!(
            hits.iter()
                .position(|h| h.file.rel_path == "parser/mod.rs")
                .unwrap()
                > 0
        );
        assert_eq!(hits[0].file.path, "/p/src/parser.rs");
        assert_eq!(hits[0].file.name, "parser.rs");
        // Positions point into relPath.
        let chars: Vec<char> = hits[0].file.rel_path.chars().collect();
        let matched: String = hits[0].matches.iter().map(|&i| chars[i as usize]).collect();
        assert_eq!(matched, "parser");
    }

    #[test]
    fn smart_case_and_dots_are_just_text() {
        let e = entries(&["Makefile", "src/make.rs", "../etc/passwd"]);
        assert_eq!(
            search(&e, "/p", "Make", 10).len(),
            1,
            "uppercase matches case"
        );
        assert_eq!(
            search(&e, "/p", "make", 10).len(),
            2,
            "lowercase ignores case"
        );
        assert!(search(&e, "/p", "", 10).is_empty());
        // An empty query browses: recent files, then the top level, folders
        // first (entries are sorted, as the index keeps them).
        let mut e = vec![
            Entry::new("Makefile", false),
            Entry::new("src", true),
            Entry::new("src/make.rs", false),
            Entry::new("zeta.md", false),
        ];
        e.sort_by(|a, b| a.rel.cmp(&b.rel));
        let b = browse(&e, "/p", &["src/make.rs".into(), "gone.rs".into()], 10);
        let rels: Vec<&str> = b.iter().map(|h| h.file.rel_path.as_str()).collect();
        assert_eq!(rels, ["src/make.rs", "src", "Makefile", "zeta.md"]);
        assert!(b[0].recent && !b[1].recent);
        assert_eq!(search(&e, "/p", "xyz", 10).len(), 0);
    }

    #[test]
    fn paths_with_wide_characters_match_beside_ascii_ones() {
        // ASCII paths are read as bytes without the matcher's check; a path
        // with a wide character still goes through it (normalised: `e`
        // finds `é`), with highlights counted in characters, in both the
        // exact (small index) and the greedy (large index) ranking.
        let mut paths: Vec<String> = (0..PARALLEL_MIN + 10)
            .map(|i| format!("src/mod_{i}.rs"))
            .collect();
        paths.extend(["docs/café.md".into(), "docs/cafe.md".into()]);
        for n in [3, paths.len()] {
            let e = entries(
                &paths[paths.len() - n..]
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            let hits = search(&e, "/p", "cafe", 10);
            let rels: Vec<&str> = hits.iter().map(|h| h.file.rel_path.as_str()).collect();
            assert_eq!(rels.len(), 2, "{n} entries: {rels:?}");
            assert!(rels.contains(&"docs/café.md") && rels.contains(&"docs/cafe.md"));
            let wide = hits
                .iter()
                .find(|h| h.file.rel_path == "docs/café.md")
                .unwrap();
            assert_eq!(wide.matches, [5, 6, 7, 8], "character positions");
        }
    }

    #[test]
    fn keeps_only_the_best_max() {
        let paths: Vec<String> = (0..1000).map(|i| format!("dir{i}/file{i}.rs")).collect();
        let e: Vec<Entry> = paths.iter().map(|p| Entry::new(p, false)).collect();
        let hits = search(&e, "/p", "file1", 5);
        assert_eq!(hits.len(), 5);
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn blocks_on_several_cores_keep_what_one_core_keeps() {
        // Matches clustered in one stretch of the sorted index (the case
        // the blocks are for) and spread over it; block edges fall inside
        // both. Whichever worker saw a candidate, the kept set is the same.
        let mut paths: Vec<String> = (0..45_000)
            .map(|i| match i % 3 {
                0 => format!("lib/p{}/src/a{}/file_{i}.rs", i % 31, i % 11),
                1 => format!("src/m{}/file_{i}.rs", i % 97),
                _ => format!("t{}/notes_{i}.md", i % 41),
            })
            .collect();
        paths.sort();
        let e: Vec<Entry> = paths.iter().map(|p| Entry::new(p, false)).collect();
        for query in ["libpsrca", "rs", "f", "notes_4", "zzz"] {
            let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
            let mut one = candidates(&e, &pattern, 200, true, 1);
            one.sort_unstable();
            for threads in [2, 3, 8] {
                let mut many = candidates(&e, &pattern, 200, true, threads);
                many.sort_unstable();
                many.reverse();
                many.truncate(200);
                many.reverse();
                assert_eq!(many, one, "{query} on {threads} cores");
            }
        }
    }

    #[test]
    fn a_large_index_ranks_like_exact_scoring() {
        // Over PARALLEL_MIN entries, candidates are picked by greedy scores
        // and then scored exactly: the best hits are those of exact scoring
        // of every entry (far down a list of thousands of near-ties, greedy
        // preselection may pick a different one of equals).
        let words = [
            "parser", "lexer", "token", "server", "client", "session", "store",
        ];
        let paths: Vec<String> = (0..30_000)
            .map(|i| {
                format!(
                    "crates/{}_{}/src/{}/{}_{i}.rs",
                    words[i % 7],
                    i % 13,
                    words[(i / 7) % 7],
                    words[(i / 49) % 7]
                )
            })
            .collect();
        let e: Vec<Entry> = paths.iter().map(|p| Entry::new(p, false)).collect();
        for query in ["rs", "srvtok", "lexer_12", "cratesparsersrc", "session_999"] {
            let fast: Vec<String> = search(&e, "/p", query, 10)
                .into_iter()
                .map(|h| h.file.rel_path)
                .collect();
            let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
            let mut exact = best_of(&e, 0, &pattern, 10, false);
            exact.sort_unstable_by(|a, b| b.cmp(a));
            let exact: Vec<String> = exact.iter().map(|k| e[k.3].rel.to_string()).collect();
            assert_eq!(fast[..5], exact[..5], "{query}");
            let shared = fast.iter().filter(|p| exact.contains(p)).count();
            assert!(shared >= 8, "{query}: {fast:?} against {exact:?}");
        }
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern(q: &str) -> Pattern {
        Pattern::parse(q, CaseMatching::Smart, Normalization::Smart)
    }

    /// The keys a greedy scan keeps, sorted, with or without pruning.
    fn kept(entries: &[Entry], query: &str, keep: usize, prune: bool) -> Vec<RankKey> {
        let p = pattern(query);
        let mut scorer = Scorer::new(&p);
        if !prune {
            scorer.bound = None;
        }
        let mut best = Best::new(keep);
        // In blocks, as the workers scan, so the floor carries over.
        for (b, part) in entries.chunks(BLOCK).enumerate() {
            best.scan(part, b * BLOCK, &mut scorer, &p, true);
        }
        let mut keys = best.into_keys();
        keys.sort_unstable();
        keys
    }

    /// A project of the finder's shape (1-4 levels), with names that start
    /// with every kind of character, folders, capitals and a few wide
    /// characters: pruning keeps exactly what scoring everything keeps.
    #[test]
    fn pruning_keeps_what_scoring_every_entry_keeps() {
        let names = [
            "file", "src", "Makefile", "_init", "rs", "mod", "s", "x-y", "9lives", "café", "lib",
        ];
        let mut paths: Vec<String> = Vec::new();
        for i in 0..30_000 {
            let dir = match i % 4 {
                0 => format!("src/m{}", i % 97),
                1 => format!("src/m{}/sub{}", i % 97, i % 13),
                2 => format!("lib/p{}/src/a{}/b{}", i % 31, i % 11, i % 5),
                _ => format!("t{}", i % 41),
            };
            paths.push(format!("{dir}/{}_{i}.rs", names[i % names.len()]));
            if i % 500 == 0 {
                paths.push(dir);
            }
        }
        paths.sort();
        paths.dedup();
        let entries: Vec<Entry> = paths
            .iter()
            .map(|p| Entry::new(p, !p.contains('.')))
            .collect();
        let queries = [
            "s",
            "rs",
            "f",
            "F",
            "mod",
            "file_42",
            "srcm3sub",
            "libpsrcab",
            "zzzz",
            "Make",
            "_",
            "9",
            "m rs",
            "lib mod",
            "caf",
            "s_1",
            "x-y",
            "src",
            "t4",
            "é",
        ];
        for q in queries {
            for keep in [1, 40, 200] {
                assert_eq!(
                    kept(&entries, q, keep, true),
                    kept(&entries, q, keep, false),
                    "{q:?}, keep {keep}"
                );
            }
        }
    }

    fn name_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::char::range('A', 'Z'),
            1 => prop::char::range('0', '9'),
            1 => prop::sample::select(vec!['_', '-', '.', ' ', ',', ':', ';', '|', '\\', '(']),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// Tried: ASCII names of every character class (no `/`), queries of
        /// one to three atoms taken from the name or made up. Neither the
        /// greedy nor the exact score of a name is above its bound.
        #[test]
        fn the_name_bound_holds(
            name in prop::collection::vec(name_char(), 1..24).prop_map(|c| c.into_iter().collect::<String>()),
            picks in prop::collection::vec((any::<prop::sample::Index>(), 1usize..5), 1..4),
            made_up in prop::collection::vec(name_char(), 1..6).prop_map(|c| c.into_iter().collect::<String>()),
        ) {
            let chars: Vec<char> = name.chars().collect();
            let mut atoms: Vec<String> = picks
                .iter()
                .map(|(at, len)| {
                    let start = at.index(chars.len());
                    chars[start..(start + len).min(chars.len())].iter().collect::<String>()
                })
                .collect();
            atoms.push(made_up);
            for query in [atoms[0].clone(), atoms.join(" "), atoms.last().cloned().unwrap_or_default()] {
                let p = pattern(&query);
                let mut scorer = Scorer::new(&p);
                let Some(bound) = scorer.bound.take() else { continue };
                let most = bound.starting(name.as_bytes().first().copied());
                for greedy in [true, false] {
                    if let Some(s) = scorer.score(&name, true, &p, greedy) {
                        prop_assert!(s <= most, "{query:?} in {name:?}: {s} over {most} (greedy {greedy})");
                    }
                }
            }
        }
    }
}

//! Fuzzy matching of project paths with nucleo-matcher (the matcher of the
//! helix editor): path-aware bonuses, smart case, match positions for
//! highlighting. A match whose characters all fall in the file name ranks
//! above one spread over directories.

mod in_order;
mod name_bound;

use super::{charset, Entry};
use in_order::in_order;
use name_bound::NameBound;
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

/// The lowest kept rank, its score less the name bonus; `all`: above what
/// any name can score.
struct Cut {
    over: u32,
    file: bool,
    len: Reverse<usize>,
    all: bool,
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
    /// Every atom is plain fuzzy of two characters or more (matched
    /// greedily): a path whose folder alone matches scores what its folder
    /// does (`path_score`). The longest atom's length.
    by_folder: Option<usize>,
    /// The last folder scored alone, and its score.
    folder: Option<(String, Option<u32>)>,
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
            by_folder: pattern
                .atoms
                .iter()
                .all(|a| a.kind == AtomKind::Fuzzy && !a.negative && a.needle_text().len() > 1)
                .then(|| texts.iter().map(String::len).max().unwrap_or(0)),
            folder: None,
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
        let in_path = self.path_score(e, ascii, pattern, greedy)?;
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

    /// The pattern's score for the whole path of `e`. A greedy match is
    /// the earliest one: where the folder alone holds every atom, the
    /// match lies in the folder and the path scores what the folder does,
    /// whatever the file's name. The index is sorted, so a folder's files
    /// come together and the folder is scored once for all of them (a
    /// query matched in folders, such as `libpsrcab`, scored the same
    /// folder for each of its files).
    fn path_score(
        &mut self,
        e: &Entry,
        ascii: bool,
        pattern: &Pattern,
        greedy: bool,
    ) -> Option<u32> {
        let folder = &e.rel[..e.name_start];
        let cacheable =
            greedy && ascii && self.by_folder.is_some_and(|longest| folder.len() > longest);
        if cacheable {
            let score = match &self.folder {
                Some((f, score)) if f == folder => *score,
                _ => {
                    let score = self.score(folder, ascii, pattern, greedy);
                    let (f, s) = self.folder.get_or_insert_with(Default::default);
                    f.clear();
                    f.push_str(folder);
                    *s = score;
                    score
                }
            };
            if score.is_some() {
                return score;
            }
        }
        self.score(&e.rel, ascii, pattern, greedy)
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
                    let needle = atom.needle_text();
                    // Most paths that hold a longer atom's characters do not
                    // hold them in order (`in_order.rs`); two characters
                    // found in a path mostly are in order, and the check
                    // would only add to the matcher's own.
                    if let (Utf32Str::Ascii(bytes), Utf32Str::Ascii(want)) = (hay, needle) {
                        if want.len() > 2 && !in_order(bytes, want, ignore_case) {
                            return None;
                        }
                    }
                    self.matcher.config.ignore_case = ignore_case;
                    self.matcher.config.normalize = true;
                    self.matcher.fuzzy_match_greedy(hay, needle)?
                } else {
                    atom.score(hay, &mut self.matcher)?
                };
            total += u32::from(s);
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests;

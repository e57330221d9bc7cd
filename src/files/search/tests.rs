//! The search's ranking: small cases by hand, a large index against exact
//! scoring, the workers' blocks, and the name bound's pruning against
//! scoring every entry.

use super::*;
use proptest::prelude::*;

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

/// `n` files in folders of the finder's shape (1-4 levels; with `wide`,
/// one folder in four holds a wide character), named after `names` in
/// turn, and every `folders_every`-th file's folder as an entry of its
/// own; sorted, as the index keeps them.
fn finder_shaped(n: usize, names: &[&str], wide: bool, folders_every: usize) -> Vec<Entry> {
    let mut paths: Vec<String> = Vec::new();
    for i in 0..n {
        let dir = match i % 4 {
            0 => format!("src/m{}", i % 97),
            1 => format!("src/m{}/sub{}", i % 97, i % 13),
            2 => format!("lib/p{}/src/a{}/b{}", i % 31, i % 11, i % 5),
            _ if wide => format!("t{}/é{}", i % 41, i % 3),
            _ => format!("t{}", i % 41),
        };
        paths.push(format!("{dir}/{}_{i}.rs", names[i % names.len()]));
        if i % folders_every == 0 {
            paths.push(dir);
        }
    }
    paths.sort();
    paths.dedup();
    paths
        .iter()
        .map(|p| Entry::new(p, !p.contains('.')))
        .collect()
}

/// A project of the finder's shape (1-4 levels), with names that start
/// with every kind of character, folders, capitals and a few wide
/// characters: pruning keeps exactly what scoring everything keeps.
#[test]
fn pruning_keeps_what_scoring_every_entry_keeps() {
    let names = [
        "file", "src", "Makefile", "_init", "rs", "mod", "s", "x-y", "9lives", "café", "lib",
    ];
    let entries = finder_shaped(30_000, &names, false, 500);
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

/// Tried: every entry of a tree of the finder's shape (folders, names with
/// and without the query's characters, wide characters) against queries
/// matched in folders, in names, in both, and not at all. With folders
/// scored once each, every entry's rank is what scoring its whole path
/// gives.
#[test]
fn a_folders_score_is_its_files_score() {
    let entries = finder_shaped(6_000, &["file", "lib", "bsrc", "sub", "ab"], true, 1);
    for q in [
        "libpsrcab",
        "srcm3sub",
        "src",
        "ab",
        "lib sub",
        "psab rs",
        "t4",
        "zz",
        "m1s",
        "é1",
    ] {
        let p = Pattern::parse(q, CaseMatching::Smart, Normalization::Smart);
        let mut cached = Scorer::new(&p);
        let mut fresh = Scorer::new(&p);
        fresh.by_folder = None;
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(
                cached.key(e, i, &p, true),
                fresh.key(e, i, &p, true),
                "{q:?} on {}",
                e.rel
            );
        }
    }
}

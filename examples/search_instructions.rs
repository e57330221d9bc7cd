//! The `@` search on 100,000 generated paths (the same tree as
//! `benches/file_index.rs`, built in memory, no disk), for instruction
//! counts that a noisy machine does not blur:
//!
//! ```sh
//! cargo build --release --example search_instructions
//! valgrind --tool=callgrind --toggle-collect='swe_swe::files::search::search*' \
//!   --toggle-collect='*best_of*' target/release/examples/search_instructions rs
//! ```
//!
//! Each argument is one query; its time (wall clock) goes to stderr. With
//! `--finder-tree` first, the paths are those of `swe-swe-finder`'s tree
//! (`tools/finder.rs`: 1-4 levels, folders included) instead.

use swe_swe::files::{search::search, Entry};

#[path = "../tools/finder_tree.rs"]
mod finder_tree;

const WORDS: [&str; 20] = [
    "parser", "lexer", "token", "config", "server", "client", "session", "store", "index",
    "render", "widget", "router", "handler", "model", "view", "util", "error", "event", "buffer",
    "stream",
];

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut entries = Vec::new();
    if args.first().is_some_and(|a| a == "--finder-tree") {
        args.remove(0);
        let mut dirs = std::collections::BTreeSet::new();
        for i in 0..100_000 {
            let dir = finder_tree::folder(i);
            entries.push(Entry::new(&format!("{dir}/file_{i}.rs"), false));
            let mut at = dir.as_str();
            while dirs.insert(at.to_owned()) {
                match at.rfind('/') {
                    Some(k) => at = &at[..k],
                    None => break,
                }
            }
        }
        entries.extend(dirs.iter().map(|d| Entry::new(d, true)));
    } else {
        for a in 0..20 {
            for b in 0..50 {
                let dir = format!("crates/{}_{a}/src/{}_{b}", WORDS[a], WORDS[(a + b) % 20]);
                for c in 0..100 {
                    let name =
                        format!("{}_{}_{c}.rs", WORDS[(b + c) % 20], WORDS[(a * 7 + c) % 20]);
                    entries.push(Entry::new(&format!("{dir}/{name}"), false));
                }
            }
        }
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    for q in args {
        let started = std::time::Instant::now();
        let n = search(&entries, "/p", &q, 50).len();
        eprintln!("{q:<10} {n} hits in {:?}", started.elapsed());
    }
}

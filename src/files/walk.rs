//! Listing the project: the full walk (ignore crate, parallel, .gitignore /
//! .ignore / hidden rules, symlinks not followed) and the same rules for
//! single paths reported by the watcher.

use super::Entry;
use ignore::gitignore::Gitignore;
use ignore::{WalkBuilder, WalkState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Walks `dir` (the project root or a folder inside it) and returns entries
/// relative to `root`, at most `max`; the flag says whether `max` cut it.
pub fn walk(root: &Path, dir: &Path, max: usize) -> (Vec<Entry>, bool) {
    let found = Mutex::new(Vec::new());
    let count = AtomicUsize::new(0);
    let truncated = AtomicBool::new(false);
    WalkBuilder::new(dir)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .ignore(true)
        .parents(true)
        .require_git(false)
        .follow_links(false)
        .build_parallel()
        .run(|| {
            let mut local = Collector {
                local: Vec::new(),
                found: &found,
            };
            let (count, truncated) = (&count, &truncated);
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                let path = entry.path();
                let Some(rel) = relative(root, path) else {
                    return WalkState::Continue;
                };
                if rel.is_empty() {
                    return WalkState::Continue;
                }
                if entry.path_is_symlink() && !inside(root, path) {
                    return WalkState::Skip;
                }
                if count.fetch_add(1, Ordering::Relaxed) >= max {
                    truncated.store(true, Ordering::Relaxed);
                    return WalkState::Quit;
                }
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                local.local.push(Entry::new(&rel, is_dir));
                if local.local.len() >= 4096 {
                    local.flush();
                }
                WalkState::Continue
            })
        });
    // Each thread's closure, and with it its `Collector`, is dropped when
    // `run` returns; the Drop hands over what it still held.
    let entries = found.into_inner().unwrap_or_else(|p| p.into_inner());
    (entries, truncated.load(Ordering::Relaxed))
}

/// One walker thread's entries, handed over in blocks.
struct Collector<'a> {
    local: Vec<Entry>,
    found: &'a Mutex<Vec<Entry>>,
}

impl Collector<'_> {
    fn flush(&mut self) {
        if self.local.is_empty() {
            return;
        }
        // Invariant: held only to append a block, never across anything else.
        let mut f = self.found.lock().unwrap_or_else(|p| p.into_inner());
        f.append(&mut self.local);
    }
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `path` relative to `root` with '/' separators, if it is inside.
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(rel.to_string_lossy().into_owned())
}

/// Whether a symlink resolves to somewhere inside `root`.
pub fn inside(root: &Path, path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(root))
}

/// The walk's rules for one path the watcher reported.
#[derive(Default)]
pub struct Rules {
    /// Ignore files by directory; `None` when the directory has none.
    cache: HashMap<PathBuf, Option<Gitignore>>,
}

impl Rules {
    /// Forgets loaded ignore files (one of them changed).
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    pub fn ignored(&mut self, root: &Path, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(root) else {
            return true;
        };
        if rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            return true;
        }
        // Every directory from the root down to the path's parent may hold
        // .gitignore / .ignore; the deepest one that decides wins.
        let mut dirs = vec![root.to_path_buf()];
        let mut d = root.to_path_buf();
        if let Some(parent) = rel.parent() {
            for c in parent.components() {
                d.push(c);
                dirs.push(d.clone());
            }
        }
        let mut verdict = false;
        for dir in dirs {
            let rules = self.cache.entry(dir.clone()).or_insert_with(|| load(&dir));
            if let Some(g) = rules {
                let m = g.matched_path_or_any_parents(path, is_dir);
                if m.is_ignore() {
                    verdict = true;
                } else if m.is_whitelist() {
                    verdict = false;
                }
            }
        }
        verdict
    }
}

fn load(dir: &Path) -> Option<Gitignore> {
    let mut b = ignore::gitignore::GitignoreBuilder::new(dir);
    let mut any = false;
    for name in [".gitignore", ".ignore"] {
        let f = dir.join(name);
        if f.is_file() {
            any |= b.add(&f).is_none();
        }
    }
    any.then(|| b.build().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_and_rules_agree_on_ignores_hidden_and_outside_links() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("src/gen")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::write(root.join("src/.gitignore"), "gen/\n").unwrap();
        for f in [
            "src/main.rs",
            "src/gen/out.rs",
            "app.log",
            ".env",
            "README.md",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::write(root.join("target/big"), "x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
        std::os::unix::fs::symlink(root.join("src"), root.join("inner")).unwrap();

        let (entries, truncated) = walk(&root, &root, 1000);
        let mut rels: Vec<&str> = entries.iter().map(|e| &*e.rel).collect();
        rels.sort();
        assert_eq!(rels, ["README.md", "inner", "src", "src/main.rs"]);
        assert!(!truncated);

        let mut rules = Rules::default();
        assert!(rules.ignored(&root, &root.join("app.log"), false));
        assert!(rules.ignored(&root, &root.join("src/gen/new.rs"), false));
        assert!(rules.ignored(&root, &root.join(".env"), false));
        assert!(rules.ignored(&root, &root.join("target/x"), false));
        assert!(!rules.ignored(&root, &root.join("src/new.rs"), false));

        let (cut, truncated) = walk(&root, &root, 2);
        assert!(truncated && cut.len() <= 2);
    }
}

//! The `@` file finder: an index of the project's paths, built by a parallel
//! walk at start-up and kept current by a file watcher (no periodic rescans),
//! searched with nucleo-matcher.
//!
//! One owner task holds the index. It publishes immutable snapshots through
//! a `watch` channel; searches run on the blocking pool over a snapshot, so a
//! search never waits for the indexer and never blocks the async runtime.

pub mod charset;
pub mod recent;
pub mod search;
pub mod walk;

use notify::{RecursiveMode, Watcher};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Watcher events waiting for the indexer; on overflow it rescans once.
const EVENT_QUEUE: usize = 8192;
/// Changes arriving together are applied together, after at most this long.
const COALESCE: Duration = Duration::from_millis(30);

/// One path of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the workdir, '/'-separated.
    pub rel: Box<str>,
    /// Byte offset of the file name in `rel`.
    pub name_start: usize,
    pub is_dir: bool,
    /// The characters `rel` holds (`charset`), for the search's first test,
    /// and those of its file name alone.
    pub chars: u64,
    pub name_chars: u64,
}

impl Entry {
    pub fn new(rel: &str, is_dir: bool) -> Self {
        let rel = rel.trim_end_matches('/');
        let name_start = rel.rfind('/').map_or(0, |i| i + 1);
        Entry {
            name_start,
            chars: charset::of(rel),
            name_chars: charset::of(&rel[name_start..]),
            rel: rel.into(),
            is_dir,
        }
    }
}

/// What searches see: the entries at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub entries: Vec<Entry>,
    /// The `--max-files` bound was reached; search covers what is indexed.
    pub truncated: bool,
    /// The first walk has finished.
    pub ready: bool,
    /// Changes are being watched (false if the watcher could not start).
    pub watching: bool,
}

#[derive(Clone)]
pub struct FileIndex {
    root_str: Arc<str>,
    recent: recent::Recent,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    refresh: mpsc::Sender<()>,
}

impl FileIndex {
    /// Starts indexing `root` in the background.
    pub fn start(
        root: &Path,
        max: usize,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> FileIndex {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        let (refresh_tx, refresh_rx) = mpsc::channel(1);
        let root: Arc<Path> = root.into();
        let recent = recent::Recent::default();
        tracker.spawn(indexer(
            root.clone(),
            max,
            tx,
            refresh_rx,
            recent.clone(),
            shutdown,
        ));
        FileIndex {
            root_str: root.to_string_lossy().into(),
            recent,
            snapshot: rx,
            refresh: refresh_tx,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// Best `max` matches for `query`, with the snapshot they came from.
    pub async fn search(&self, query: String, max: usize) -> (Vec<search::Hit>, Arc<Snapshot>) {
        let snap = self.snapshot();
        let root = self.root_str.clone();
        let s = snap.clone();
        let recent = self.recent.clone();
        let hits = tokio::task::spawn_blocking(move || {
            if query.trim().is_empty() {
                search::browse(&s.entries, &root, &recent.list(), max)
            } else {
                search::search(&s.entries, &root, &query, max)
            }
        })
        .await
        .unwrap_or_default();
        (hits, snap)
    }

    /// Asks for a full rebuild (coalesced with one already asked for).
    pub fn refresh(&self) {
        let _ = self.refresh.try_send(());
    }
}

struct Index {
    root: Arc<Path>,
    max: usize,
    paths: BTreeMap<Box<str>, bool>,
    truncated: bool,
    watching: bool,
    rules: walk::Rules,
}

impl Index {
    async fn rebuild(&mut self) {
        let (root, max) = (self.root.clone(), self.max);
        let (entries, truncated) =
            tokio::task::spawn_blocking(move || walk::walk(&root, &root, max))
                .await
                .unwrap_or_default();
        self.paths = entries.into_iter().map(|e| (e.rel, e.is_dir)).collect();
        self.truncated = truncated;
        self.rules.clear();
        if truncated {
            tracing::warn!(
                max = self.max,
                "file index is full (--max-files); search covers what is indexed"
            );
        }
    }

    fn publish(&self, tx: &watch::Sender<Arc<Snapshot>>) {
        let entries = self
            .paths
            .iter()
            .map(|(rel, is_dir)| Entry::new(rel, *is_dir))
            .collect();
        tx.send_replace(Arc::new(Snapshot {
            entries,
            truncated: self.truncated,
            ready: true,
            watching: self.watching,
        }));
    }

    /// Re-checks `paths` against the disk (blocking: file system calls and
    /// walks of folders moved in). Returns true when a full rebuild is needed
    /// (an ignore file changed).
    fn apply(&mut self, paths: Vec<PathBuf>) -> bool {
        // `paths` is sorted, so a folder comes before what is inside it. The
        // walk of a folder listed here starts after every event of this
        // batch happened, so it already has the state of what is below it.
        let mut walked: Option<String> = None;
        for path in paths {
            let Some(rel) = walk::relative(&self.root, &path) else {
                continue;
            };
            if rel.is_empty() {
                continue;
            }
            if is_ignore_file(&path) {
                return true;
            }
            if walked
                .as_deref()
                .is_some_and(|w| rel.starts_with(w) && rel.as_bytes().get(w.len()) == Some(&b'/'))
            {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).ok();
            let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
            let is_link = meta.as_ref().is_some_and(|m| m.file_type().is_symlink());
            let keep = meta.is_some()
                && !self.rules.ignored(&self.root, &path, is_dir)
                && (!is_link || walk::inside(&self.root, &path));
            if !keep {
                // Gone (or now ignored): drop it and, for a folder, all below.
                self.paths.remove(rel.as_str());
                self.remove_below(&rel);
                continue;
            }
            if self.paths.len() >= self.max && !self.paths.contains_key(rel.as_str()) {
                self.truncated = true;
                continue;
            }
            self.paths.insert(rel.clone().into(), is_dir);
            if is_dir && !is_link {
                // A folder created, moved in or replaced arrives with its
                // contents: files made before its watch was added raise no
                // event of their own.
                self.remove_below(&rel);
                let max = self.max.saturating_sub(self.paths.len());
                let (below, cut) = walk::walk(&self.root, &path, max);
                self.truncated |= cut;
                for e in below {
                    self.paths.insert(e.rel, e.is_dir);
                }
                walked = Some(rel);
            }
        }
        false
    }
}

impl Index {
    /// Drops every path under the folder `rel`.
    fn remove_below(&mut self, rel: &str) {
        let prefix = format!("{rel}/");
        let below: Vec<Box<str>> = self
            .paths
            .range::<str, _>((
                std::ops::Bound::Excluded(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            self.paths.remove(&k);
        }
    }
}

fn is_ignore_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == ".gitignore" || n == ".ignore")
}

/// Whether a watcher event can change the set of paths (or the ignore
/// rules). Opening or reading a file or folder cannot, and must not count:
/// the index's own walks open every folder they list, so treating those as
/// changes re-walked the project for ever (issue 12).
fn changes_paths(ev: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
    match ev.kind {
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => {
            true
        }
        // A rewritten ignore file changes what is listed; reading one (our
        // own rule loading does) changes nothing.
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
        | EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            ev.paths.iter().any(|p| is_ignore_file(p))
        }
        EventKind::Access(_) | EventKind::Modify(_) => false,
        // Unknown kinds: re-check the paths, which costs little.
        EventKind::Any | EventKind::Other => true,
    }
}

fn is_write(ev: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
    matches!(
        ev.kind,
        EventKind::Modify(ModifyKind::Data(_))
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

async fn indexer(
    root: Arc<Path>,
    max: usize,
    tx: watch::Sender<Arc<Snapshot>>,
    mut refresh: mpsc::Receiver<()>,
    recent: recent::Recent,
    shutdown: CancellationToken,
) {
    let watch_root = root.clone();
    let indexed = tx.subscribe();
    let (ev_tx, mut events) = mpsc::channel::<Vec<PathBuf>>(EVENT_QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let flag = overflow.clone();
    // The watcher's callback runs on notify's own thread: it only forwards.
    let watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(ev) if !ev.need_rescan() && !changes_paths(&ev) => {
                // A file's content written: not a change of paths, but what
                // `@` offers first.
                if is_write(&ev) {
                    // Only indexed files: a build writing thousands of
                    // ignored files must not push the project's out.
                    let snap = indexed.borrow().clone();
                    for p in &ev.paths {
                        if let Some(rel) = walk::relative(&watch_root, p).filter(|r| !r.is_empty())
                        {
                            let known = snap
                                .entries
                                .binary_search_by(|e| e.rel.as_ref().cmp(rel.as_str()))
                                .is_ok();
                            if known {
                                recent.touch(&rel);
                            }
                        }
                    }
                }
            }
            Ok(ev) => {
                if ev.need_rescan() {
                    flag.store(true, Ordering::Relaxed);
                }
                if ev_tx.try_send(ev.paths).is_err() {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Err(_) => {
                // Lost events: rescan, and wake the indexer to do it.
                flag.store(true, Ordering::Relaxed);
                let _ = ev_tx.try_send(Vec::new());
            }
        });
    let watcher = match watcher {
        Ok(mut w) => match w.watch(&root, RecursiveMode::Recursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "cannot watch {} for changes ({e}); use refresh_file_index",
                    root.display()
                );
                None
            }
        },
        Err(e) => {
            tracing::warn!("no file watcher ({e}); use refresh_file_index");
            None
        }
    };
    let mut index = Index {
        root,
        max,
        paths: BTreeMap::new(),
        truncated: false,
        watching: watcher.is_some(),
        rules: walk::Rules::default(),
    };
    index.rebuild().await;
    index.publish(&tx);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = refresh.recv() => {
                if r.is_none() { break; }
                index.rebuild().await;
                index.publish(&tx);
            }
            Some(first) = events.recv() => {
                // Collect what arrives together (a checkout, a build).
                let mut paths = first;
                let deadline = tokio::time::Instant::now() + COALESCE;
                while let Ok(Some(more)) = tokio::time::timeout_at(deadline, events.recv()).await {
                    paths.extend(more);
                }
                paths.sort();
                paths.dedup();
                // The index moves to the blocking pool and back: `apply`
                // touches the disk, and nothing else reads `index` meanwhile.
                let (back, changed_rules) = tokio::task::spawn_blocking(move || {
                    let r = index.apply(paths);
                    (index, r)
                })
                .await
                .expect("applying file changes does not panic");
                index = back;
                if changed_rules || overflow.swap(false, Ordering::Relaxed) {
                    index.rebuild().await;
                }
                index.publish(&tx);
            }
        }
    }
    drop(watcher);
}

#[cfg(test)]
mod tests {
    use super::changes_paths;
    use notify::event::{
        AccessKind, AccessMode, CreateKind, DataChange, EventKind, MetadataKind, ModifyKind,
        RemoveKind, RenameMode,
    };
    use std::path::PathBuf;

    fn ev(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn reads_and_opens_are_not_changes_but_ignore_file_writes_are() {
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        let read_close = EventKind::Access(AccessKind::Close(AccessMode::Read));
        let write_close = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let attrib = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        // What a walk does to every folder and ignore file it reads.
        for kind in [open, read_close] {
            assert!(!changes_paths(&ev(kind, "/p/src")));
            assert!(!changes_paths(&ev(kind, "/p/.gitignore")));
        }
        // Editing a file changes its content, not the set of paths.
        for kind in [write_close, data, attrib] {
            assert!(!changes_paths(&ev(kind, "/p/src/main.rs")));
        }
        assert!(changes_paths(&ev(write_close, "/p/.gitignore")));
        assert!(changes_paths(&ev(data, "/p/sub/.ignore")));
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Create(CreateKind::Folder),
            EventKind::Remove(RemoveKind::Any),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Any,
        ] {
            assert!(changes_paths(&ev(kind, "/p/src/new.rs")));
        }
    }
}

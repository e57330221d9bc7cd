//! The `@` file finder: an index of the project's paths, built by a parallel
//! walk at start-up and kept current by a file watcher (no periodic rescans),
//! searched with nucleo-matcher.
//!
//! One owner task holds the index. It publishes immutable snapshots through
//! a `watch` channel; searches run on the blocking pool over a snapshot, so a
//! search never waits for the indexer and never blocks the async runtime.

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
}

impl Entry {
    pub fn new(rel: &str, is_dir: bool) -> Self {
        let rel = rel.trim_end_matches('/');
        Entry {
            name_start: rel.rfind('/').map_or(0, |i| i + 1),
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
        tracker.spawn(indexer(root.clone(), max, tx, refresh_rx, shutdown));
        FileIndex {
            root_str: root.to_string_lossy().into(),
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
        let hits =
            tokio::task::spawn_blocking(move || search::search(&s.entries, &root, &query, max))
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

    /// Re-checks `paths` against the disk. Returns true when a full rebuild
    /// is needed (an ignore file changed).
    async fn apply(&mut self, paths: Vec<PathBuf>) -> bool {
        for path in paths {
            let Some(rel) = walk::relative(&self.root, &path) else {
                continue;
            };
            if rel.is_empty() {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name == ".gitignore" || name == ".ignore" {
                return true;
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
                continue;
            }
            if self.paths.len() >= self.max && !self.paths.contains_key(rel.as_str()) {
                self.truncated = true;
                continue;
            }
            self.paths.insert(rel.clone().into(), is_dir);
            if is_dir && !is_link {
                // A folder moved in arrives with its contents.
                let (root, max) = (self.root.clone(), self.max.saturating_sub(self.paths.len()));
                let (below, cut) =
                    tokio::task::spawn_blocking(move || walk::walk(&root, &path, max))
                        .await
                        .unwrap_or_default();
                self.truncated |= cut;
                for e in below {
                    self.paths.insert(e.rel, e.is_dir);
                }
            }
        }
        false
    }
}

async fn indexer(
    root: Arc<Path>,
    max: usize,
    tx: watch::Sender<Arc<Snapshot>>,
    mut refresh: mpsc::Receiver<()>,
    shutdown: CancellationToken,
) {
    let (ev_tx, mut events) = mpsc::channel::<Vec<PathBuf>>(EVENT_QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let flag = overflow.clone();
    // The watcher's callback runs on notify's own thread: it only forwards.
    let watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(ev) => {
                if ev_tx.try_send(ev.paths).is_err() {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Err(_) => flag.store(true, Ordering::Relaxed),
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
                let rebuild = index.apply(paths).await || overflow.swap(false, Ordering::Relaxed);
                if rebuild {
                    index.rebuild().await;
                }
                index.publish(&tx);
            }
        }
    }
    drop(watcher);
}

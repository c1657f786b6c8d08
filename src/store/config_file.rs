//! Metadata files (topics.json, consumerOffset.json, …) in RocketMQ's
//! `ConfigManager` style: the JSON is written to a temp file, synced, the old
//! file kept as `.bak`, then renamed into place, so a crash never leaves a
//! half-written file.
//!
//! Files changed on the request path (topics.json, subscriptionGroup.json)
//! are written by a [`ConfigWriter`]: one thread per file that folds many
//! changes into one write, so a request never waits for a disk sync.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::StoreError;

pub fn persist(path: &Path, text: &str) -> Result<(), StoreError> {
    persist_bytes(path, text.as_bytes())
}

pub fn persist_bytes(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    if path.exists() {
        std::fs::copy(path, with_suffix(path, ".bak"))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads and parses a metadata file, falling back to its `.bak` when the
/// file is missing, empty or unparsable (`ConfigManager.load` / `loadBak`).
/// None (logged) when neither yields a value.
pub fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    for p in [path.to_path_buf(), with_suffix(path, ".bak")] {
        match std::fs::read(&p) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(b) => match crate::protocol::fastjson::parse::<T>(&b) {
                Ok(v) => return Some(v),
                Err(e) => tracing::error!(path = %p.display(), "metadata file unreadable: {e}"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => tracing::error!(path = %p.display(), "cannot read metadata file: {e}"),
        }
    }
    None
}

/// Persists, logging a failure: a metadata write must not fail the request
/// that caused it (the next periodic or shutdown write retries).
pub fn persist_logged(path: &Path, text: &str) {
    if let Err(e) = persist(path, text) {
        tracing::error!(path = %path.display(), "persisting metadata failed: {e}");
    }
}

/// How long the writer lets changes gather after the first one before it
/// writes (skipped when someone is waiting in [`ConfigWriter::flush`]).
const COALESCE: Duration = Duration::from_millis(10);
/// How soon a failed write is tried again when nothing else changes.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Produces the file's whole text from the current state (the manager
/// serializes under its own read lock and releases it before returning).
pub type Snapshot = Box<dyn Fn() -> String + Send + Sync>;

/// Persists one metadata file off the request path (`ConfigManager.persist`,
/// made asynchronous and coalesced).
///
/// Managers change their state, then call [`mark_dirty`](Self::mark_dirty),
/// which only bumps a generation counter and wakes the writer thread. That
/// thread waits [`COALESCE`], reads the generation, takes a snapshot of the
/// *latest* state through the manager's closure and writes it with
/// [`persist`] (temp file, fsync, `.bak`, rename); no manager lock is held
/// during the disk I/O. Every change marked before the snapshot is in it, so
/// however many changes arrive during a write, the next write covers them
/// all, and since one thread writes the file, writes never interleave or go
/// backwards. A failed write is logged and retried (on the next change, or
/// after [`RETRY_AFTER`]); it never panics the writer.
///
/// Durability: unlike the Java broker, which rewrites topics.json before it
/// answers, a change is acknowledged before it is on disk. A crash within
/// a few milliseconds of an acknowledged change may lose it (an auto-created
/// topic or group is created again on its next use; the commit log keeps the
/// messages either way). [`flush`](Self::flush) waits until everything
/// marked so far is written: graceful shutdown calls it, and so may a caller
/// that needs the change durable before it answers.
pub struct ConfigWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Shared {
    path: PathBuf,
    snapshot: Snapshot,
    state: Mutex<WriterState>,
    /// Wakes the writer thread.
    wake: Condvar,
    /// Wakes flushers after each write attempt.
    written: Condvar,
    /// Completed successful writes (for tests and logging).
    writes: AtomicU64,
}

#[derive(Default)]
struct WriterState {
    /// Generation of the latest change.
    marked: u64,
    /// Highest generation known to be on disk.
    durable: u64,
    /// Failed attempts so far, and the generation the last one tried to write.
    failures: u64,
    failed_gen: u64,
    /// Callers blocked in `flush`: the writer skips the coalescing wait.
    flushers: usize,
    stop: bool,
}

impl ConfigWriter {
    /// Starts the writer thread of `path`; nothing is written until a change
    /// is marked.
    pub fn new(path: PathBuf, snapshot: Snapshot) -> Self {
        let shared = Arc::new(Shared {
            path,
            snapshot,
            state: Mutex::new(WriterState::default()),
            wake: Condvar::new(),
            written: Condvar::new(),
            writes: AtomicU64::new(0),
        });
        let name = shared.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("persist-{name}"))
            .spawn(move || s.run())
            .map_err(|e| tracing::error!(path = %shared.path.display(), "cannot start metadata writer: {e}"))
            .ok();
        ConfigWriter { shared, thread: Mutex::new(thread) }
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Records that the state changed (call after the change is visible to
    /// the snapshot closure). Never waits for the disk.
    pub fn mark_dirty(&self) {
        let mut st = self.shared.lock();
        st.marked += 1;
        drop(st);
        self.shared.wake.notify_one();
    }

    /// Blocks until every change marked before the call is on disk; an
    /// error when the write covering it failed (the writer keeps retrying).
    pub fn flush(&self) -> Result<(), String> {
        let mut st = self.shared.lock();
        let target = st.marked;
        if st.durable >= target {
            return Ok(());
        }
        let writer_gone = self.thread.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_none_or(|t| t.is_finished());
        if writer_gone {
            // No writer thread (it could not be started, or has stopped): write here.
            drop(st);
            self.shared.write_once().map_err(|e| e.to_string())?;
            let mut st = self.shared.lock();
            st.durable = st.durable.max(target);
            return Ok(());
        }
        let failures = st.failures;
        st.flushers += 1;
        self.shared.wake.notify_one();
        let result = loop {
            if st.durable >= target {
                break Ok(());
            }
            if st.failures > failures && st.failed_gen >= target {
                break Err(format!("persisting {} failed", self.shared.path.display()));
            }
            st = self.shared.written.wait(st).unwrap_or_else(|e| e.into_inner());
        };
        st.flushers -= 1;
        result
    }

    /// Marks the state changed and waits until it is on disk (a synchronous
    /// `persist`, still ordered with the writer's other writes); logs a failure.
    pub fn persist_now(&self) {
        self.mark_dirty();
        if let Err(e) = self.flush() {
            tracing::error!("{e}");
        }
    }

    /// Successful writes so far.
    pub fn writes(&self) -> u64 {
        self.shared.writes.load(Ordering::Relaxed)
    }
}

impl Drop for ConfigWriter {
    /// Writes what is pending, then stops the thread.
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        let thread = self.thread.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Snapshot and write, catching a panic in the snapshot closure.
    fn write_once(&self) -> Result<(), StoreError> {
        let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.snapshot)()))
            .map_err(|_| StoreError::Io(std::io::Error::other("serializing the metadata panicked")))?;
        persist(&self.path, &text)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn run(&self) {
        let mut st = self.lock();
        let mut retry_at: Option<Instant> = None;
        loop {
            // Sleep until there is something to write (or a failed write to retry).
            while st.marked == st.durable && !st.stop {
                st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.marked == st.durable && st.stop {
                return;
            }
            // Let more changes gather, unless someone waits or we are stopping.
            let until = retry_at.take().unwrap_or_else(|| Instant::now() + COALESCE);
            loop {
                if st.flushers > 0 || st.stop {
                    break;
                }
                let now = Instant::now();
                if now >= until {
                    break;
                }
                st = self.wake.wait_timeout(st, until - now).unwrap_or_else(|e| e.into_inner()).0;
            }
            let target = st.marked;
            drop(st);
            let result = self.write_once();
            st = self.lock();
            match result {
                Ok(()) => st.durable = st.durable.max(target),
                Err(e) => {
                    tracing::error!(path = %self.path.display(), "persisting metadata failed (will retry): {e}");
                    st.failures += 1;
                    st.failed_gen = target;
                    retry_at = Some(Instant::now() + RETRY_AFTER);
                    if st.stop {
                        // One last try failed at shutdown: give up rather than spin.
                        self.written.notify_all();
                        return;
                    }
                }
            }
            self.written.notify_all();
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_keeps_a_backup_and_load_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config/topics.json");
        persist(&p, "{\"a\":1}").unwrap();
        persist(&p, "{\"a\":2}").unwrap();
        let load = |p: &Path| load_json::<serde_json::Value>(p).map(|v| v["a"].as_i64().unwrap());
        assert_eq!(load(&p), Some(2));
        std::fs::write(&p, "").unwrap();
        assert_eq!(load(&p), Some(1), "an empty file falls back to .bak");
        std::fs::write(&p, "{\"a\":").unwrap();
        assert_eq!(load(&p), Some(1), "a torn file falls back to .bak");
        assert_eq!(load(&dir.path().join("none.json")), None);
    }

    /// A writer over a shared counter, as a manager would set it up.
    fn counter_writer(p: &Path) -> (Arc<Mutex<u64>>, ConfigWriter) {
        let state = Arc::new(Mutex::new(0u64));
        let s = state.clone();
        let w = ConfigWriter::new(p.to_path_buf(), Box::new(move || format!("{{\"a\":{}}}", *s.lock().unwrap())));
        (state, w)
    }

    fn on_disk(p: &Path) -> Option<u64> {
        load_json::<serde_json::Value>(p).and_then(|v| v["a"].as_u64())
    }

    #[test]
    fn many_marks_fold_into_few_writes_of_the_latest_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config/topics.json");
        let (state, w) = counter_writer(&p);
        assert_eq!(w.writes(), 0, "nothing is written before a change");
        let started = Instant::now();
        for i in 1..=10_000 {
            *state.lock().unwrap() = i;
            w.mark_dirty();
        }
        assert!(started.elapsed() < Duration::from_secs(2), "marking never waits for the disk");
        w.flush().unwrap();
        assert_eq!(on_disk(&p), Some(10_000), "the file holds the latest state");
        assert!(w.writes() >= 1 && w.writes() < 100, "10 000 changes took {} writes", w.writes());
        // Nothing new: flush returns at once and writes nothing.
        let n = w.writes();
        w.flush().unwrap();
        assert_eq!(w.writes(), n);
    }

    #[test]
    fn flush_makes_each_change_durable_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("subscriptionGroup.json");
        let (state, w) = counter_writer(&p);
        for i in 1..=3 {
            *state.lock().unwrap() = i;
            w.mark_dirty();
            w.flush().unwrap();
            assert_eq!(on_disk(&p), Some(i));
        }
        assert_eq!(w.writes(), 3);
        let bak = load_json::<serde_json::Value>(&with_suffix(&p, ".bak")).unwrap();
        assert_eq!(bak["a"].as_u64(), Some(2), ".bak holds the previous version");
        // A torn file falls back to the .bak.
        std::fs::write(&p, "{\"a\":").unwrap();
        assert_eq!(on_disk(&p), Some(2));
    }

    #[test]
    fn concurrent_markers_and_flushers_see_their_changes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("topics.json");
        let (state, w) = counter_writer(&p);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let mine = {
                            let mut g = state.lock().unwrap();
                            *g += 1;
                            *g
                        };
                        w.mark_dirty();
                        w.flush().unwrap();
                        assert!(on_disk(&p).unwrap() >= mine, "flush returned before the change was written");
                    }
                });
            }
        });
        assert_eq!(on_disk(&p), Some(200));
    }

    #[test]
    fn drop_writes_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("topics.json");
        let (state, w) = counter_writer(&p);
        *state.lock().unwrap() = 7;
        w.mark_dirty();
        drop(w);
        assert_eq!(on_disk(&p), Some(7));
    }

    #[test]
    fn a_failed_write_is_reported_and_retried_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        // The parent "directory" is a file: every write fails.
        let blocker = dir.path().join("config");
        std::fs::write(&blocker, "not a dir").unwrap();
        let p = blocker.join("topics.json");
        let (state, w) = counter_writer(&p);
        *state.lock().unwrap() = 1;
        w.mark_dirty();
        assert!(w.flush().is_err());
        // The disk comes back: the next flush (a retry) succeeds.
        std::fs::remove_file(&blocker).unwrap();
        // A retry that began before the disk came back may still fail once.
        assert!((0..3).any(|_| w.flush().is_ok()), "a flush after the disk came back succeeds");
        assert_eq!(on_disk(&p), Some(1));
    }
}

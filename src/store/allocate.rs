//! `AllocateMappedFileService`: prepares the commit log's next segment on a
//! background thread, so that a roll under the put lock takes a ready file
//! instead of reserving a whole segment's blocks (`posix_fallocate` of 1 GiB)
//! while every send waits. When the file is not ready the roll creates it
//! itself, as before: on a full disk that fails with ENOSPC, and the store
//! refuses the write.
//!
//! A file prepared but never used is zero-filled; `MappedFileQueue::load`
//! drops such a trailing segment at start (see `drop_unused_tail`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::mapped_file::MappedFile;
use super::StoreError;

/// How long a roll waits for a file the thread is creating right now (the
/// Java service's `waitTimeOut`); then it creates the file itself.
const WAIT_FOR_BUSY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct State {
    /// The segment asked for and not yet started.
    wanted: Option<i64>,
    /// The segment being created now.
    busy: Option<i64>,
    ready: Option<MappedFile>,
    stop: bool,
}

struct Shared {
    dir: PathBuf,
    file_size: usize,
    /// Bytes at the head of each prepared segment to fault in (warm-ahead).
    warm_head: usize,
    state: Mutex<State>,
    cv: Condvar,
    /// Segments created by the thread, and by a roll itself.
    background: AtomicUsize,
    inline: AtomicUsize,
}

pub struct Allocator {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Allocator {
    /// `warm_head`: bytes at the head of each prepared segment to fault in
    /// once it is made (see `warm`), so that a roll does not write into
    /// cold pages; 0 for none.
    pub fn start(dir: PathBuf, file_size: usize, warm_head: usize) -> Self {
        let shared = Arc::new(Shared {
            dir,
            file_size,
            warm_head,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            background: AtomicUsize::new(0),
            inline: AtomicUsize::new(0),
        });
        let me = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ferromq-allocate".into())
            .spawn(move || me.run())
            .expect("spawn allocate thread");
        Allocator { shared, thread: Some(thread) }
    }

    /// Asks for the segment starting at `start` to be prepared.
    pub fn request(&self, start: i64) {
        let mut st = self.shared.state.lock().unwrap();
        if st.busy == Some(start) || st.ready.as_ref().is_some_and(|f| f.start() == start) {
            return;
        }
        st.wanted = Some(start);
        self.shared.cv.notify_all();
    }

    /// The segment starting at `start`: the prepared one if ready (waiting
    /// for it if the thread is creating it), else created here.
    pub fn take(&self, start: i64) -> Result<MappedFile, StoreError> {
        let mut st = self.shared.state.lock().unwrap();
        loop {
            if st.ready.as_ref().is_some_and(|f| f.start() == start) {
                return Ok(st.ready.take().unwrap());
            }
            if st.busy != Some(start) {
                break;
            }
            let (next, timeout) = self.shared.cv.wait_timeout(st, WAIT_FOR_BUSY).unwrap();
            st = next;
            if timeout.timed_out() && st.busy == Some(start) {
                tracing::warn!(start, "preparing the next commit log file takes too long; creating it inline");
                break;
            }
        }
        if st.wanted == Some(start) {
            st.wanted = None;
        }
        drop(st);
        self.shared.inline.fetch_add(1, Ordering::Relaxed);
        MappedFile::open(&self.shared.dir, start, self.shared.file_size)
    }

    /// Segments created by the background thread so far.
    pub fn background_count(&self) -> usize {
        self.shared.background.load(Ordering::Relaxed)
    }

    /// Segments a roll had to create itself so far.
    pub fn inline_count(&self) -> usize {
        self.shared.inline.load(Ordering::Relaxed)
    }

    /// Waits until the thread has nothing left to do; true if a file is ready.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let st = self.shared.state.lock().unwrap();
        let (st, _) = self.shared.cv.wait_timeout_while(st, timeout, |s| s.wanted.is_some() || s.busy.is_some()).unwrap();
        st.ready.is_some()
    }
}

impl Shared {
    fn run(&self) {
        loop {
            let start = {
                let mut st = self.state.lock().unwrap();
                loop {
                    if st.stop {
                        return;
                    }
                    if let Some(s) = st.wanted.take() {
                        st.busy = Some(s);
                        break s;
                    }
                    st = self.cv.wait(st).unwrap();
                }
            };
            let made = MappedFile::open(&self.dir, start, self.file_size);
            if let (Ok(f), true) = (&made, self.warm_head > 0) {
                // Contents unchanged (all zeros): a segment prepared and
                // never used is still dropped at load.
                f.populate(0, self.warm_head);
            }
            let mut st = self.state.lock().unwrap();
            st.busy = None;
            match made {
                Ok(f) => {
                    self.background.fetch_add(1, Ordering::Relaxed);
                    if let Some(stale) = st.ready.replace(f) {
                        // Asked for another segment before this one was used.
                        let _ = std::fs::remove_file(stale.path());
                    }
                }
                // The roll will try again itself and report it.
                Err(e) => tracing::warn!(start, "preparing the next commit log file failed: {e}"),
            }
            self.cv.notify_all();
        }
    }
}

impl Drop for Allocator {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap().stop = true;
        self.shared.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_file_is_taken_ready_and_another_is_made_inline() {
        let dir = tempfile::tempdir().unwrap();
        let a = Allocator::start(dir.path().to_path_buf(), 4096, 0);
        a.request(4096);
        assert!(a.wait_idle(Duration::from_secs(10)));
        assert!(dir.path().join("00000000000000004096").exists());
        let f = a.take(4096).unwrap();
        assert_eq!((f.start(), f.size()), (4096, 4096));
        assert_eq!((a.background_count(), a.inline_count()), (1, 0));
        let g = a.take(8192).unwrap();
        assert_eq!(g.start(), 8192);
        assert_eq!((a.background_count(), a.inline_count()), (1, 1));
    }

    #[test]
    fn a_stale_ready_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let a = Allocator::start(dir.path().to_path_buf(), 4096, 0);
        a.request(0);
        assert!(a.wait_idle(Duration::from_secs(10)));
        a.request(4096);
        assert!(a.wait_idle(Duration::from_secs(10)));
        assert!(!dir.path().join("00000000000000000000").exists());
        assert_eq!(a.take(4096).unwrap().start(), 4096);
    }
}

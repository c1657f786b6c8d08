//! Warm-ahead (`commitLogWarmAheadMb`): keeps the next W bytes of the
//! commit log beyond the write position faulted in, on a background
//! thread, so that the put path (which writes records into the mapping
//! while holding the put lock) does not pay for the kernel allocating and
//! zeroing fresh page-cache pages on its first write to each page.
//!
//! The thread only ever calls `MappedFile::populate`, which does not change
//! a byte of the file: pages past the write position stay zeros, exactly
//! what recovery takes for unwritten space, and the appender may write the
//! same pages at the same time. At most W bytes are warmed ahead of the
//! writer (plus the first W of the next prepared segment, see `allocate`),
//! so resident memory grows by at most about 2 W.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::mapped_file::MappedFile;

/// Pages populated per `madvise` call; between calls the thread looks at the
/// write position again and skips what the writer already reached.
const STEP: usize = 1 << 20;

#[derive(Default)]
struct State {
    /// The segment being written, as last hinted.
    file: Option<Arc<MappedFile>>,
    /// A hint arrived that the thread has not acted on.
    pending: bool,
    stop: bool,
}

struct Shared {
    window: usize,
    state: Mutex<State>,
    cv: Condvar,
    /// Absolute commit log offset up to which pages are warm (i64::MIN: none).
    warmed_to: AtomicI64,
}

pub struct Warmer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Warmer {
    /// A warmer keeping `window` bytes ahead of the writer warm; with
    /// `window == 0` it starts no thread and every hint is a no-op.
    pub fn start(window: usize) -> Self {
        let shared = Arc::new(Shared {
            window,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            warmed_to: AtomicI64::new(i64::MIN),
        });
        let thread = (window > 0)
            .then(|| {
                let me = shared.clone();
                std::thread::Builder::new().name("ferromq-warm".into()).spawn(move || me.run()).ok()
            })
            .flatten();
        if window > 0 && thread.is_none() {
            tracing::warn!("could not start the commit log warm-ahead thread; running without it");
        }
        Warmer { shared, thread }
    }

    pub fn window(&self) -> usize {
        if self.thread.is_some() {
            self.shared.window
        } else {
            0
        }
    }

    /// The appender is about to write `file` up to absolute offset `end`:
    /// wakes the thread when less than half the window is warm beyond it.
    /// Cheap (one atomic load) in the common case; called under the put lock.
    pub fn hint(&self, file: &Arc<MappedFile>, end: i64) {
        if self.thread.is_none() {
            return;
        }
        let warmed = self.shared.warmed_to.load(Ordering::Relaxed);
        if warmed != i64::MIN && warmed.saturating_sub(end) >= (self.shared.window / 2) as i64 {
            return;
        }
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.file.as_ref().is_none_or(|f| !Arc::ptr_eq(f, file)) {
            st.file = Some(file.clone());
        }
        if !st.pending {
            st.pending = true;
            self.shared.cv.notify_one();
        }
    }

    /// Absolute offset up to which the thread has warmed (tests).
    #[cfg(test)]
    pub fn warmed_to(&self) -> i64 {
        self.shared.warmed_to.load(Ordering::Acquire)
    }
}

/// Warms [pos, pos + window) of `file`, pos being its write position, in
/// `STEP` pieces, re-reading the write position between them. Returns the
/// end of the range warmed (an offset inside `file`).
pub fn warm_ahead(file: &MappedFile, window: usize, mut from: usize, stop: impl Fn() -> bool) -> usize {
    let pos = file.wrote();
    let end = pos.saturating_add(window).min(file.size());
    from = from.max(pos);
    while from < end && !stop() {
        // The writer may have moved on: never spend time behind it.
        from = from.max(file.wrote());
        let to = from.saturating_add(STEP).min(end);
        if to <= from {
            break;
        }
        from = file.populate(from, to - from).end.min(end);
    }
    from.min(end)
}

impl Shared {
    fn run(&self) {
        // Where the last pass ended in which segment, to not redo it.
        let mut done: Option<(i64, usize)> = None;
        loop {
            let file = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                while !st.pending && !st.stop {
                    st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop {
                    return;
                }
                st.pending = false;
                st.file.clone()
            };
            let Some(file) = file else { continue };
            let from = match done {
                Some((start, end)) if start == file.start() => end,
                _ => 0,
            };
            let stop = || self.state.lock().map(|s| s.stop).unwrap_or(true);
            let end = warm_ahead(&file, self.window, from, stop);
            done = Some((file.start(), end));
            // A segment warmed to its end counts as warmed by a full window
            // beyond it: the next one's head is warmed when it is prepared.
            let abs = if end >= file.size() {
                file.start() + (file.size() + self.window) as i64
            } else {
                file.start() + end as i64
            };
            self.warmed_to.store(abs, Ordering::Release);
        }
    }
}

impl Drop for Warmer {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.shared.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mapped_file::MappedFile;

    /// Pages of `f` in [from, to) resident in the page cache (mincore).
    fn resident(f: &MappedFile, from: usize, to: usize) -> Vec<bool> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(f.path()).unwrap();
        let len = to - from;
        // SAFETY: a private read-only map of the file for mincore only.
        unsafe {
            let p = libc::mmap(std::ptr::null_mut(), f.size(), libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0);
            assert_ne!(p, libc::MAP_FAILED);
            let mut v = vec![0u8; len.div_ceil(4096)];
            assert_eq!(libc::mincore(p.cast::<u8>().add(from).cast(), len, v.as_mut_ptr()), 0);
            libc::munmap(p, f.size());
            v.into_iter().map(|b| b & 1 == 1).collect()
        }
    }

    #[test]
    fn warm_ahead_never_changes_content_and_stays_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let size = 8 << 20;
        let window = 1 << 20;
        let f = Arc::new(MappedFile::open(dir.path(), 0, size).unwrap());
        // Records ending mid-page.
        let rec: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8 + 1).collect();
        for _ in 0..30 {
            f.append(&rec);
        }
        let pos = f.wrote();
        // Whether the filesystem keeps unwritten pages out of the page cache
        // (ext4, xfs: yes; tmpfs: fallocate makes them all resident).
        let sparse_cache = resident(&f, 4 << 20, size).iter().all(|r| !r);

        let end = warm_ahead(&f, window, 0, || false);
        assert_eq!(end, pos + window, "warmed exactly one window past the write position");
        // A writer racing the warmer on the same pages keeps its bytes.
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..20 {
                    warm_ahead(&f, window, 0, || false);
                }
            });
            for _ in 0..40 {
                f.append(&rec);
            }
        });
        let written = f.wrote();
        for i in 0..70 {
            assert_eq!(f.read(i * rec.len(), rec.len()).unwrap(), &rec[..], "record {i} intact");
        }
        // Past the write position: still zeros, as recovery expects.
        assert!(f.read_raw(written, size - written).unwrap().iter().all(|b| *b == 0));
        // Bounded: nothing beyond the write position plus the window was touched.
        let end = warm_ahead(&f, window, 0, || false);
        assert_eq!(end, written + window);
        if sparse_cache {
            let bound = (written + window).div_ceil(4096) * 4096;
            let r = resident(&f, bound, size);
            assert!(r.iter().all(|r| !r), "pages past write position + window stayed cold");
            let r = resident(&f, written / 4096 * 4096, bound);
            assert!(r.iter().all(|r| *r), "the window is resident");
        }
        // Never past the end of the segment.
        assert_eq!(warm_ahead(&f, size * 2, 0, || false), size);
        assert!(f.read_raw(written, size - written).unwrap().iter().all(|b| *b == 0));
        // Reopened (as recovery does), the file holds exactly what was written.
        drop(f);
        let bytes = std::fs::read(dir.path().join(crate::store::mapped_file::file_name(0))).unwrap();
        assert_eq!(bytes.len(), size);
        assert!(bytes[..written].chunks(rec.len()).all(|c| c == &rec[..]));
        assert!(bytes[written..].iter().all(|b| *b == 0));
    }

    #[test]
    fn the_thread_follows_hints_and_stays_a_window_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let f = Arc::new(MappedFile::open(dir.path(), 0, 4 << 20).unwrap());
        let w = Warmer::start(1 << 20);
        f.append(&[9u8; 5000]);
        w.hint(&f, 5000);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while w.warmed_to() != 5000 + (1 << 20) {
            assert!(std::time::Instant::now() < deadline, "warmed_to = {}", w.warmed_to());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(f.read(0, 5000).unwrap(), &[9u8; 5000][..]);
        drop(w);
        let off = Warmer::start(0);
        assert_eq!(off.window(), 0);
        off.hint(&f, 0);
    }
}

//! Flushing (`FlushRealTimeService`, `GroupCommitService`,
//! `FlushConsumeQueueService`): the flush thread, group-commit waits, and
//! the full flush at shutdown.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{FlushDiskType, MessageStore, StoreError};

/// How much of the commit log's newest data stays mapped in this process;
/// older pages are left to the page cache (consumers near the tail, the
/// common case, read without a fault).
const HOT_TAIL_BYTES: usize = 16 << 20;

/// How often the dispatchers' background flush runs.
const DISPATCHER_FLUSH_EVERY: Duration = Duration::from_secs(1);

impl MessageStore {
    pub(super) fn flush_loop(&self) {
        let (lock, cv) = &self.flush_wake;
        let wait = match self.config.flush_disk_type {
            // Group commit: flush as soon as someone waits; the timeout is a safety net.
            FlushDiskType::Sync => Duration::from_millis(10),
            FlushDiskType::Async => Duration::from_millis(self.config.flush_interval_ms.max(1)),
        };
        let mut last_dispatcher_flush = Instant::now();
        while self.running.load(Ordering::Acquire) {
            {
                let mut woken = lock.lock().unwrap();
                if !*woken {
                    woken = cv.wait_timeout(woken, wait).unwrap().0;
                }
                *woken = false;
            }
            let target = self.commit_log.max_offset();
            match self.commit_log.flush() {
                Ok(()) => {
                    self.flushed.send_if_modified(|f| {
                        let moved = target > *f;
                        *f = (*f).max(target);
                        moved
                    });
                }
                Err(e) => tracing::error!("commit log flush failed: {e}"),
            }
            self.commit_log.release_cold(HOT_TAIL_BYTES);
            if last_dispatcher_flush.elapsed() >= DISPATCHER_FLUSH_EVERY {
                last_dispatcher_flush = Instant::now();
                for d in &self.dispatchers {
                    if let Err(e) = d.background_flush() {
                        tracing::error!(dispatcher = d.name(), "flush failed: {e}");
                    }
                }
            }
        }
    }

    pub fn flush_disk_type(&self) -> FlushDiskType {
        self.config.flush_disk_type
    }

    /// Waits until the commit log is on disk up to `offset`; false when
    /// `syncFlushTimeout` passes first.
    pub async fn wait_flushed(&self, offset: i64) -> bool {
        {
            let (lock, cv) = &self.flush_wake;
            *lock.lock().unwrap() = true;
            cv.notify_one();
        }
        let mut rx = self.flushed.subscribe();
        let timeout = Duration::from_millis(self.config.sync_flush_timeout_ms);
        tokio::time::timeout(timeout, rx.wait_for(|f| *f >= offset)).await.is_ok_and(|r| r.is_ok())
    }

    /// Flushes the commit log and everything derived from it.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.commit_log.flush()?;
        for d in &self.dispatchers {
            d.flush()?;
        }
        self.flushed.send_replace(self.commit_log.max_offset());
        Ok(())
    }
}

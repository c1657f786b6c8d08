//! Disk watch and retention (`CleanCommitLogService`,
//! `CleanConsumeQueueService`): refuse writes when the disk is nearly full,
//! delete commit log files older than `fileReservedTime` at `deleteWhen`
//! (or at once when the disk fills), and trim the derived data to match.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use super::MessageStore;

const CHECK_EVERY: Duration = Duration::from_secs(1);
/// At most this many files are deleted per round, as the Java broker's
/// `deleteCommitLogFilesBatchMax`.
const DELETE_BATCH_MAX: usize = 10;

use super::os::disk_usage;

fn local_hour() -> u32 {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    super::os::local_time(now).tm_hour as u32
}

pub(super) fn spawn(store: &Arc<MessageStore>) {
    let me: Weak<MessageStore> = Arc::downgrade(store);
    std::thread::Builder::new()
        .name("ferromq-clean".into())
        .spawn(move || loop {
            std::thread::sleep(CHECK_EVERY);
            let Some(s) = me.upgrade() else { return };
            if !s.running.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            s.clean_round();
        })
        .expect("spawn clean thread");
}

impl MessageStore {
    /// One round of the disk watch and retention.
    pub fn clean_round(&self) {
        let usage = disk_usage(&self.config.commit_log_dir).unwrap_or(0.0);
        self.set_disk_full(usage > self.config.disk_warning_ratio);
        let forcibly = usage > self.config.disk_clean_forcibly_ratio;
        let time_up = self.config.delete_when.contains(&local_hour());
        if time_up || usage > self.config.disk_max_used_ratio {
            self.delete_expired_files(forcibly);
        }
    }

    /// Deletes expired commit log files (all but the newest); with `forcibly`
    /// the oldest go even if not expired. Returns how many were deleted.
    pub fn delete_expired_files(&self, forcibly: bool) -> usize {
        let reserved = Duration::from_secs(self.config.file_reserved_hours * 3600);
        let now = SystemTime::now();
        let mut budget = DELETE_BATCH_MAX;
        let deleted = self.commit_log.delete_front_while(|f| {
            if budget == 0 {
                return false;
            }
            let age = std::fs::metadata(f.path())
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or(Duration::ZERO);
            let go = forcibly || age > reserved;
            if go {
                budget -= 1;
                tracing::info!(file = %f.path().display(), forcibly, "deleting commit log file");
            }
            go
        });
        if deleted > 0 {
            self.clean_expired_consume_queues();
        }
        deleted
    }

    /// Trims the derived data (consume queues, index) to the commit log's
    /// min offset (`cleanExpiredConsumerQueue`).
    pub fn clean_expired_consume_queues(&self) {
        let min_phy = self.commit_log.min_offset();
        for d in &self.dispatchers {
            d.delete_before(min_phy);
        }
    }
}

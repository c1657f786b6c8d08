//! Disk watch and retention (`CleanCommitLogService`,
//! `CleanConsumeQueueService`): refuse writes when the disk is nearly full,
//! delete commit log files older than `fileReservedTime` at `deleteWhen`
//! (or at once when the disk fills), and trim the derived data to match.
//! A file holding a timer not yet delivered is kept until it is, unless the
//! disk forces its deletion (`diskMaxUsedSpaceRatio`).

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use super::mapped_file::MappedFile;
use super::MessageStore;
use crate::protocol::message::MessageExt;

const CHECK_EVERY: Duration = Duration::from_secs(1);
/// At most this many files are deleted per round, as the Java broker's
/// `deleteCommitLogFilesBatchMax`.
const DELETE_BATCH_MAX: usize = 10;

use super::os::disk_usage;

/// How long ago `path` was last modified (zero if unknown).
fn age(path: &std::path::Path, now: SystemTime) -> Duration {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .unwrap_or(Duration::ZERO)
}

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
        let disk_pressed = usage > self.config.disk_max_used_ratio;
        if time_up || disk_pressed {
            self.delete_files(forcibly, forcibly || disk_pressed);
        }
    }

    /// Deletes expired commit log files (all but the newest); with `forcibly`
    /// the oldest go even if not expired, and so do timers not yet delivered.
    /// Returns how many were deleted.
    pub fn delete_expired_files(&self, forcibly: bool) -> usize {
        self.delete_files(forcibly, forcibly)
    }

    /// As `delete_expired_files`; unless `drop_pending` (the disk forces
    /// it), deletion stops at a file holding the message of a timer not yet
    /// delivered, which would otherwise be lost.
    fn delete_files(&self, forcibly: bool, drop_pending: bool) -> usize {
        let _round = self.clean_lock.lock().unwrap_or_else(|e| e.into_inner());
        let reserved = Duration::from_secs(self.config.file_reserved_hours * 3600);
        let now = SystemTime::now();
        let mut dropped = 0;
        // Judged without the commit log's lock, which every put takes: files
        // leave only from the front (and only in a round, which this one
        // excludes), and a file's pending timers only get fewer, so what is
        // judged here still holds when the files are taken out.
        let mut gone = Vec::new();
        for f in self.commit_log.front_segments(DELETE_BATCH_MAX) {
            if !(forcibly || age(f.path(), now) > reserved) {
                break;
            }
            let range = (f.start(), f.start() + f.size() as i64);
            if drop_pending {
                dropped += self.drop_pending_in(&f, range);
            } else if self.pending_in(range, 1) > 0 {
                tracing::info!(file = %f.path().display(), "expired commit log file kept: it holds timers not yet delivered");
                break;
            }
            tracing::info!(file = %f.path().display(), forcibly, "deleting commit log file");
            gone.push(f);
        }
        let deleted = self.commit_log.delete_front(&gone);
        if dropped > 0 {
            tracing::warn!(dropped, "the disk forced deleting commit log files holding timers not yet delivered; those timers are lost");
        }
        if deleted > 0 {
            self.clean_expired_consume_queues();
        }
        deleted
    }

    /// What the dispatchers still need in the commit log range, up to `at_most`.
    fn pending_in(&self, (start, end): (i64, i64), at_most: usize) -> usize {
        self.dispatchers.iter().map(|d| d.pending_in(start, end, at_most)).fold(0, usize::saturating_add)
    }

    /// The disk forces deleting the range: what the dispatchers still needed
    /// there is written off.
    fn drop_pending_in(&self, f: &MappedFile, (start, end): (i64, i64)) -> usize {
        // Read from the file itself, which is about to leave the commit log.
        let message_at = |phy: i64| MessageExt::decode(f.record_at(usize::try_from(phy - f.start()).ok()?)?).ok();
        self.dispatchers.iter().map(|d| d.drop_pending_in(start, end, &message_at)).fold(0, usize::saturating_add)
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

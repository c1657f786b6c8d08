//! One consume queue: the index of a topic/queue into the commit log, one
//! 20-byte entry (commit-log offset, size, tag hash) per message.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::mapped_file::{MappedFile, Prealloc, CHUNK};
use super::mapped_file_queue::{self, MappedFileQueue};
use super::StoreError;

pub const CQ_STORE_UNIT_SIZE: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    pub phy_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

pub struct ConsumeQueue {
    files: RwLock<MappedFileQueue>,
    /// Logical offset of the first entry still present.
    min_offset: AtomicI64,
}

impl ConsumeQueue {
    pub fn load(dir: &Path, file_size: usize) -> Result<Self, StoreError> {
        let file_size = file_size - file_size % CQ_STORE_UNIT_SIZE;
        // Sparse segments, blocks reserved a chunk ahead of the entries:
        // a queue holding one entry costs one chunk of disk, not 6 MB.
        let files = MappedFileQueue::load_with(dir, file_size, Prealloc::Chunked(CHUNK))?;
        let cq = ConsumeQueue { files: RwLock::new(files), min_offset: AtomicI64::new(0) };
        cq.recover();
        Ok(cq)
    }

    /// Finds the end of the written entries in the last segment.
    fn recover(&self) {
        let files = self.files.write().unwrap();
        if let Some(last) = files.last() {
            let mut pos = 0;
            while let Some(e) = last.read_raw(pos, CQ_STORE_UNIT_SIZE) {
                let e = decode(e);
                if e.phy_offset < 0 || e.size <= 0 {
                    break;
                }
                pos += CQ_STORE_UNIT_SIZE;
            }
            last.set_wrote(pos);
        }
        let min = files.min_offset() / CQ_STORE_UNIT_SIZE as i64;
        self.min_offset.store(min, Ordering::Release);
        drop(files);
        // Entries of a first file that point before the commit log's start
        // are trimmed when the store knows that offset (`delete_expired`).
    }

    /// Logical offset one past the last entry.
    pub fn max_offset(&self) -> i64 {
        self.files.read().unwrap().max_offset() / CQ_STORE_UNIT_SIZE as i64
    }

    pub fn min_offset(&self) -> i64 {
        self.min_offset.load(Ordering::Acquire)
    }

    /// Reserves disk blocks for `n` entries from `queue_offset` (as far as
    /// the current segment reaches), so that appending them cannot fail for
    /// want of space once the commit log holds their messages. Only the
    /// store's appender calls this, before `append`.
    pub fn reserve(&self, queue_offset: i64, n: usize) -> Result<(), StoreError> {
        let mut files = self.files.write().unwrap();
        let start_pos = queue_offset * CQ_STORE_UNIT_SIZE as i64;
        if !files.files().is_empty() && start_pos != files.max_offset() {
            return Ok(()); // out of order: `append` reports it
        }
        let file = files.last_for_append(start_pos)?;
        if file.start() + file.wrote() as i64 == start_pos {
            file.reserve((n * CQ_STORE_UNIT_SIZE).min(file.remaining()))?;
        }
        Ok(())
    }

    /// Appends the entry for logical offset `queue_offset`. Only the store's
    /// appender calls this, in queue-offset order.
    pub fn append(&self, queue_offset: i64, e: CqEntry) -> Result<(), StoreError> {
        let mut files = self.files.write().unwrap();
        let expected = files.max_offset() / CQ_STORE_UNIT_SIZE as i64;
        let start_pos = queue_offset * CQ_STORE_UNIT_SIZE as i64;
        if files.files().is_empty() && queue_offset > 0 {
            // A queue whose files were removed: start again at the offset.
            self.min_offset.store(queue_offset, Ordering::Release);
        } else if queue_offset != expected {
            return Err(StoreError::Corrupt(format!(
                "consume queue entry {queue_offset} out of order, expected {expected}"
            )));
        }
        let file = files.last_for_append(start_pos)?;
        if file.start() + file.wrote() as i64 != start_pos {
            // A fresh segment that begins mid-file: the entries before the
            // offset stay a never-written hole, which reads as zeros (an
            // invalid entry).
            let gap = (start_pos - file.start() - file.wrote() as i64) as usize;
            file.skip_hole(gap);
        }
        let mut buf = [0u8; CQ_STORE_UNIT_SIZE];
        buf[0..8].copy_from_slice(&e.phy_offset.to_be_bytes());
        buf[8..12].copy_from_slice(&e.size.to_be_bytes());
        buf[12..20].copy_from_slice(&e.tags_code.to_be_bytes());
        file.try_append(&buf)
    }

    /// Entry at a logical offset, if written.
    pub fn get(&self, offset: i64) -> Option<CqEntry> {
        if offset < self.min_offset() {
            return None;
        }
        let pos = offset * CQ_STORE_UNIT_SIZE as i64;
        let files = self.files.read().unwrap();
        let f = files.find(pos)?;
        let b = f.read((pos - f.start()) as usize, CQ_STORE_UNIT_SIZE)?;
        Some(decode(b))
    }

    /// Drops entries pointing at or beyond `phy_max` (commit log was cut).
    pub fn truncate_dirty(&self, phy_max: i64) -> Result<(), StoreError> {
        let max = self.max_offset();
        let mut keep = max;
        while keep > self.min_offset() {
            match self.get(keep - 1) {
                Some(e) if e.phy_offset + e.size as i64 > phy_max => keep -= 1,
                _ => break,
            }
        }
        if keep < max {
            tracing::warn!(from = keep, to = max, "consume queue entries past the commit log dropped");
            self.files.write().unwrap().truncate(keep * CQ_STORE_UNIT_SIZE as i64)?;
        }
        Ok(())
    }

    /// The commit-log offset just past the last entry's message.
    pub fn last_phy_end(&self) -> Option<i64> {
        let max = self.max_offset();
        (max > self.min_offset()).then(|| self.get(max - 1)).flatten().map(|e| e.phy_offset + e.size as i64)
    }

    /// Drops segments whose messages all lie before `min_phy` (deleted from
    /// the commit log) and moves the min offset to the first live entry.
    pub fn delete_expired(&self, min_phy: i64) {
        let gone = self.take_expired(min_phy);
        // Unlinked after the lock, as the commit log's: the put path appends
        // under it and must not wait on the file system.
        mapped_file_queue::unlink(gone);
    }

    /// `delete_expired` under the lock: the expired segments leave the list
    /// and the min offset moves; their files are left to the caller.
    fn take_expired(&self, min_phy: i64) -> Vec<Arc<MappedFile>> {
        let mut files = self.files.write().unwrap();
        let gone = files.take_front_while(|f| {
            f.is_full()
                && f.read(f.size() - CQ_STORE_UNIT_SIZE, CQ_STORE_UNIT_SIZE)
                    .map(decode)
                    .is_some_and(|e| e.phy_offset + e.size as i64 <= min_phy)
        });
        let Some(first) = files.files().first() else { return gone };
        let mut min = first.start() / CQ_STORE_UNIT_SIZE as i64;
        let mut pos = 0;
        while let Some(b) = first.read(pos, CQ_STORE_UNIT_SIZE) {
            let e = decode(b);
            if e.size > 0 && e.phy_offset >= min_phy {
                break;
            }
            pos += CQ_STORE_UNIT_SIZE;
            min += 1;
        }
        let old = self.min_offset.swap(min, Ordering::AcqRel);
        if min != old {
            tracing::info!(from = old, to = min, "consume queue min offset moved");
        }
        gone
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.files.read().unwrap().flush()
    }
}

fn decode(b: &[u8]) -> CqEntry {
    CqEntry {
        phy_offset: i64::from_be_bytes(b[0..8].try_into().unwrap()),
        size: i32::from_be_bytes(b[8..12].try_into().unwrap()),
        tags_code: i64::from_be_bytes(b[12..20].try_into().unwrap()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_get_reload() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cq = ConsumeQueue::load(dir.path(), 60).unwrap();
            for i in 0..7 {
                cq.append(i, CqEntry { phy_offset: i * 100, size: 100, tags_code: i }).unwrap();
            }
            assert_eq!(cq.max_offset(), 7);
            assert_eq!(cq.get(4).unwrap().phy_offset, 400);
            assert!(cq.get(7).is_none());
            assert!(cq.append(9, CqEntry { phy_offset: 0, size: 1, tags_code: 0 }).is_err());
            cq.flush().unwrap();
        }
        let cq = ConsumeQueue::load(dir.path(), 60).unwrap();
        assert_eq!(cq.max_offset(), 7);
        assert_eq!(cq.get(6).unwrap().tags_code, 6);
        cq.truncate_dirty(450).unwrap();
        assert_eq!(cq.max_offset(), 4);
        assert_eq!(cq.last_phy_end(), Some(400));
    }

    fn disk_bytes(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(path).unwrap().map(|e| e.unwrap().metadata().unwrap().blocks() * 512).sum()
    }

    #[test]
    fn one_entry_costs_a_chunk_not_a_segment() {
        let dir = tempfile::tempdir().unwrap();
        let size = 300_000 * CQ_STORE_UNIT_SIZE;
        {
            let cq = ConsumeQueue::load(dir.path(), size).unwrap();
            cq.reserve(0, 1).unwrap();
            cq.append(0, CqEntry { phy_offset: 0, size: 120, tags_code: 7 }).unwrap();
            cq.flush().unwrap();
        }
        let file = dir.path().join("00000000000000000000");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), size as u64, "full logical size, as Java's");
        let used = disk_bytes(dir.path());
        assert!(used < 1 << 20, "one entry took {used} bytes of disk");
        let cq = ConsumeQueue::load(dir.path(), size).unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (0, 1), "the hole after the entry reads as its end");
        assert_eq!(cq.get(0).unwrap(), CqEntry { phy_offset: 0, size: 120, tags_code: 7 });
        assert!(cq.get(1).is_none());
    }

    #[test]
    fn entries_across_chunks_and_segments_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        // 5 000 entries per segment: 100 000 bytes, over one reservation chunk.
        let size = 5_000 * CQ_STORE_UNIT_SIZE;
        let n = 12_345i64;
        {
            let cq = ConsumeQueue::load(dir.path(), size).unwrap();
            for i in 0..n {
                if i % 7 == 0 {
                    cq.reserve(i, 7).unwrap();
                }
                cq.append(i, CqEntry { phy_offset: i * 10, size: 10, tags_code: i }).unwrap();
            }
            cq.flush().unwrap();
        }
        let cq = ConsumeQueue::load(dir.path(), size).unwrap();
        assert_eq!(cq.max_offset(), n);
        for i in [0, 3275, 3276, 3277, 4999, 5000, 9999, n - 1] {
            assert_eq!(cq.get(i).unwrap().tags_code, i);
        }
        cq.append(n, CqEntry { phy_offset: n * 10, size: 10, tags_code: n }).unwrap();
        assert_eq!(cq.max_offset(), n + 1);
        cq.delete_expired(5_000 * 10);
        assert_eq!(cq.min_offset(), 5_000);
        assert!(disk_bytes(dir.path()) < 3 * size as u64);
    }

    #[test]
    fn expired_segments_leave_list_and_disk_but_never_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        // Three entries a segment.
        let cq = ConsumeQueue::load(dir.path(), 3 * CQ_STORE_UNIT_SIZE).unwrap();
        for i in 0..8 {
            cq.append(i, CqEntry { phy_offset: i * 100, size: 100, tags_code: i }).unwrap();
        }
        let names = || std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names(), 3);
        cq.delete_expired(i64::MAX);
        assert_eq!(names(), 1, "the two full segments are unlinked");
        assert_eq!(cq.files.read().unwrap().files().len(), 1);
        assert_eq!((cq.min_offset(), cq.max_offset()), (8, 8), "every entry is past");
        assert!(cq.get(5).is_none());
        let cq = ConsumeQueue::load(dir.path(), 3 * CQ_STORE_UNIT_SIZE).unwrap();
        assert_eq!(cq.max_offset(), 8, "what is left reloads");
    }

    #[test]
    fn a_queue_restarting_mid_segment_leaves_a_hole() {
        let dir = tempfile::tempdir().unwrap();
        let size = 300_000 * CQ_STORE_UNIT_SIZE;
        let cq = ConsumeQueue::load(dir.path(), size).unwrap();
        cq.append(200_000, CqEntry { phy_offset: 5, size: 10, tags_code: 1 }).unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (200_000, 200_001));
        assert_eq!(cq.get(200_000).unwrap().phy_offset, 5);
        assert!(cq.get(199_999).is_none());
        assert!(disk_bytes(dir.path()) < 1 << 20, "the skipped entries are not written");
    }
}

//! The commit log: every message of every topic, in arrival order, in
//! RocketMQ's record encoding, split over fixed-size mapped segments.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::protocol::message::{BLANK_MAGIC_CODE, MESSAGE_MAGIC_CODE};

use super::allocate::Allocator;
use super::mapped_file::MappedFile;
use super::mapped_file_queue::{self, MappedFileQueue};
use super::warm::Warmer;
use super::StoreError;

/// The smallest end-of-file blank record: size + magic.
const END_FILE_MIN_BLANK_LENGTH: usize = 8;

pub struct CommitLog {
    files: RwLock<MappedFileQueue>,
    file_size: usize,
    /// Prepares the next segment off the put lock.
    allocator: Allocator,
    /// Whether the segment after the current one was asked for since the
    /// start (the first append asks; each roll asks for the one after).
    next_requested: AtomicBool,
    /// Keeps pages ahead of the write position faulted in (`commitLogWarmAheadMb`).
    warmer: Warmer,
}

/// Where an appended batch of records landed.
pub struct Placement {
    pub file: Arc<MappedFile>,
    /// Absolute offset of the first record.
    pub offset: i64,
}

/// What a recovery scan found in a segment.
pub struct ScannedRecord {
    pub offset: i64,
    pub size: usize,
}

impl CommitLog {
    pub fn load(dir: &Path, file_size: usize) -> Result<Self, StoreError> {
        Self::load_with(dir, file_size, 0)
    }

    /// As `load`, keeping `warm_ahead` bytes beyond the write position (and
    /// at the head of each prepared segment) faulted in; 0 turns that off.
    pub fn load_with(dir: &Path, file_size: usize, warm_ahead: usize) -> Result<Self, StoreError> {
        let mut queue = MappedFileQueue::load(dir, file_size)?;
        let unused = queue.drop_unused_tail()?;
        if unused > 0 {
            tracing::info!(unused, "removed commit log files prepared but never written");
        }
        let warmer = Warmer::start(warm_ahead);
        let allocator = Allocator::start(dir.to_path_buf(), file_size, warmer.window());
        Ok(CommitLog { files: RwLock::new(queue), file_size, allocator, next_requested: AtomicBool::new(false), warmer })
    }

    pub fn allocator(&self) -> &Allocator {
        &self.allocator
    }

    pub fn file_size(&self) -> usize {
        self.file_size
    }

    pub fn max_offset(&self) -> i64 {
        self.files.read().unwrap().max_offset()
    }

    pub fn min_offset(&self) -> i64 {
        self.files.read().unwrap().min_offset()
    }

    /// Finds room for `len` contiguous bytes, closing the current segment
    /// with a blank record when they do not fit; the next segment is then
    /// usually ready (see `allocate`). Only the appender calls this.
    pub fn reserve(&self, len: usize) -> Result<Placement, StoreError> {
        if len + END_FILE_MIN_BLANK_LENGTH > self.file_size {
            return Err(StoreError::MessageTooLarge(len));
        }
        let mut files = self.files.write().unwrap();
        let segments = files.files().len();
        let file = files.last_for_append_with(0, |start| self.allocator.take(start))?;
        let file = if file.remaining() < len + END_FILE_MIN_BLANK_LENGTH {
            let blank = file.remaining();
            let mut rec = Vec::with_capacity(blank);
            rec.extend_from_slice(&(blank as i32).to_be_bytes());
            rec.extend_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
            rec.resize(blank, 0);
            file.append(&rec);
            files.last_for_append_with(0, |start| self.allocator.take(start))?
        } else {
            file
        };
        if files.files().len() > segments || !self.next_requested.swap(true, Ordering::Relaxed) {
            self.allocator.request(file.start() + self.file_size as i64);
        }
        let offset = file.start() + file.wrote() as i64;
        self.warmer.hint(&file, offset + len as i64);
        Ok(Placement { file, offset })
    }

    /// Replication: appends `data` at exactly `offset`, which must be the
    /// commit log's end (or, in an empty log, a file start); the bytes must
    /// fit in the segment holding `offset`. Only the appender calls this.
    pub fn append_at(&self, offset: i64, data: &[u8]) -> Result<(), StoreError> {
        let mut files = self.files.write().unwrap();
        let empty = files.files().is_empty();
        if empty && offset % self.file_size as i64 != 0 {
            return Err(StoreError::Corrupt(format!("replicated data at {offset}: not a file start in an empty log")));
        }
        if !empty && offset != files.max_offset() {
            return Err(StoreError::Corrupt(format!("replicated data at {offset}, log ends at {}", files.max_offset())));
        }
        let segments = files.files().len();
        let file = files.last_for_append_with(offset, |start| self.allocator.take(start))?;
        if file.start() + file.wrote() as i64 != offset || data.len() > file.remaining() {
            return Err(StoreError::Corrupt(format!("replicated data at {offset} of {} bytes does not fit its file", data.len())));
        }
        if files.files().len() > segments || !self.next_requested.swap(true, Ordering::Relaxed) {
            self.allocator.request(file.start() + self.file_size as i64);
        }
        self.warmer.hint(&file, offset + data.len() as i64);
        file.append(data);
        Ok(())
    }

    /// The written bytes from `offset` to the end of its segment's data
    /// (`getCommitLogData`), as (file, position, length); None when
    /// `offset` is not held or nothing follows it yet.
    pub fn data_from(&self, offset: i64) -> Option<(Arc<MappedFile>, usize, usize)> {
        let files = self.files.read().unwrap();
        let f = files.find(offset)?;
        let pos = (offset - f.start()) as usize;
        let len = f.wrote().checked_sub(pos)?;
        (len > 0).then(|| (f.clone(), pos, len))
    }

    /// The record bytes at `offset` (`size` as the consume queue says).
    pub fn read(&self, offset: i64, size: usize) -> Option<(Arc<MappedFile>, usize)> {
        let files = self.files.read().unwrap();
        let f = files.find(offset)?;
        let pos = (offset - f.start()) as usize;
        f.read(pos, size)?;
        Some((f.clone(), pos))
    }

    /// The whole record at `offset` as (file, position, length), its size
    /// read from the record itself (see `MappedFile::record_at`).
    pub fn record_at(&self, offset: i64) -> Option<(Arc<MappedFile>, usize, usize)> {
        let files = self.files.read().unwrap();
        let f = files.find(offset)?;
        let pos = (offset - f.start()) as usize;
        let len = f.record_at(pos)?.len();
        Some((f.clone(), pos, len))
    }

    /// Recovers the write position: segments before the last are taken as
    /// written; the last is scanned record by record, checking size, magic
    /// and body CRC, and cut at the first record that fails.
    /// Returns the records found beyond `from` (for rebuilding consume queues).
    pub fn recover(&self, from: i64) -> Result<Vec<ScannedRecord>, StoreError> {
        let mut files = self.files.write().unwrap();
        let mut found = Vec::new();
        let Some(start_idx) = files.files().len().checked_sub(1) else {
            return Ok(found);
        };
        // Scan from the segment holding `from`, or the last one.
        let first_scan = files
            .files()
            .iter()
            .position(|f| from < f.start() + self.file_size as i64)
            .unwrap_or(start_idx)
            .min(start_idx);
        let mut cut_at: Option<i64> = None;
        for f in &files.files()[first_scan..] {
            let mut pos = 0usize;
            let end = loop {
                match check_record(f, pos) {
                    Check::Record(size) => {
                        let off = f.start() + pos as i64;
                        if off >= from {
                            found.push(ScannedRecord { offset: off, size });
                        }
                        pos += size;
                    }
                    Check::Blank => break Some(self.file_size),
                    Check::End if pos >= f.size() => break Some(self.file_size),
                    Check::End => break None,
                    Check::Invalid(why) => {
                        tracing::warn!(
                            file = %f.path().display(),
                            pos,
                            "commit log record invalid ({why}); truncating there"
                        );
                        break None;
                    }
                }
            };
            match end {
                Some(full) => f.set_wrote(full),
                None => {
                    f.set_wrote(pos);
                    cut_at = Some(f.start() + pos as i64);
                    break;
                }
            }
        }
        if let Some(cut) = cut_at {
            let before = files.max_offset();
            files.truncate(cut)?;
            if let Some(last) = files.last() {
                let tail = last.size() - last.wrote();
                // Zero a torn tail so a later scan never mistakes it for data.
                let w = last.wrote();
                if let Some(b) = last.read_raw(w, 4) {
                    if b != [0, 0, 0, 0] {
                        last.zero_from(w, tail);
                    }
                }
            }
            if before > cut {
                tracing::warn!(cut, "commit log truncated");
            }
        }
        Ok(found)
    }

    /// Sets the write position from a clean stop's recorded end offset;
    /// false if the files do not agree with it (then a scan is needed).
    pub fn set_clean_end(&self, end: i64) -> bool {
        let files = self.files.read().unwrap();
        let Some(last) = files.last() else {
            return end == 0;
        };
        let pos = end - last.start();
        if pos < 0 || pos as usize > last.size() {
            return false;
        }
        last.set_wrote(pos as usize);
        true
    }

    pub fn release_cold(&self, keep: usize) {
        self.files.read().unwrap().release_cold(keep);
    }

    /// Up to `at_most` segments from the front, never the newest: what
    /// retention judges, without holding the lock the appender takes.
    pub fn front_segments(&self, at_most: usize) -> Vec<Arc<MappedFile>> {
        let files = self.files.read().unwrap();
        let n = files.files().len().saturating_sub(1).min(at_most);
        files.files()[..n].to_vec()
    }

    /// Deletes `gone`, segments from the front as `front_segments` gave
    /// them (those no longer at the front are left): out of the list under
    /// the lock, unlinked and unmapped after it, so a put never waits on the
    /// file system. Returns how many went.
    pub fn delete_front(&self, gone: &[Arc<MappedFile>]) -> usize {
        let removed = self.files.write().unwrap().remove_front(gone);
        mapped_file_queue::unlink(removed)
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.files.read().unwrap().flush()
    }
}

enum Check {
    Record(usize),
    Blank,
    End,
    Invalid(&'static str),
}

fn check_record(f: &MappedFile, pos: usize) -> Check {
    let Some(head) = f.read_raw(pos, 8) else {
        return Check::End;
    };
    let size = i32::from_be_bytes(head[0..4].try_into().unwrap());
    let magic = i32::from_be_bytes(head[4..8].try_into().unwrap());
    if size == 0 && magic == 0 {
        return Check::End;
    }
    if magic == BLANK_MAGIC_CODE {
        return Check::Blank;
    }
    if magic != MESSAGE_MAGIC_CODE {
        return Check::Invalid("bad magic code");
    }
    if size < 8 || pos + size as usize > f.size() {
        return Check::Invalid("bad record size");
    }
    let rec = f.read_raw(pos, size as usize).unwrap();
    match crate::protocol::message::MessageExt::decode(rec) {
        Ok(m) => {
            if m.body_crc != crate::protocol::message::body_crc(&m.body) {
                return Check::Invalid("body CRC mismatch");
            }
            if m.commit_log_offset != f.start() + pos as i64 {
                return Check::Invalid("record offset mismatch");
            }
            Check::Record(size as usize)
        }
        Err(_) => Check::Invalid("undecodable record"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::mapped_file::file_name;

    fn append(cl: &CommitLog, len: usize) -> i64 {
        let p = cl.reserve(len).unwrap();
        p.file.append(&vec![7u8; len]);
        p.offset
    }

    #[test]
    fn a_roll_takes_the_segment_prepared_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let cl = CommitLog::load(dir.path(), 1024).unwrap();
        assert_eq!(append(&cl, 100), 0);
        assert_eq!(cl.allocator().inline_count(), 1, "the very first segment is made by the append");
        assert!(cl.allocator().wait_idle(Duration::from_secs(10)), "the next one is prepared");
        assert!(dir.path().join(file_name(1024)).exists());
        // Does not fit: blank to the end of segment 0, roll into 1024.
        assert_eq!(append(&cl, 1000), 1024);
        assert_eq!(cl.allocator().inline_count(), 1, "no segment created (fallocate) under the put lock on the roll");
        assert!(cl.allocator().background_count() >= 1);
        assert!(cl.allocator().wait_idle(Duration::from_secs(10)));
        assert!(dir.path().join(file_name(2048)).exists(), "and the one after is prepared again");
        assert_eq!(cl.max_offset(), 2024);
    }

    #[test]
    fn a_prepared_segment_never_written_is_dropped_at_load() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cl = CommitLog::load(dir.path(), 1024).unwrap();
            append(&cl, 100);
            assert!(cl.allocator().wait_idle(Duration::from_secs(10)));
            cl.flush().unwrap();
        }
        assert!(dir.path().join(file_name(1024)).exists());
        let cl = CommitLog::load(dir.path(), 1024).unwrap();
        assert!(!dir.path().join(file_name(1024)).exists());
        assert!(cl.set_clean_end(100), "a clean end in the last real segment still matches");
        assert_eq!(cl.max_offset(), 100);
    }
}

//! The commit log: every message of every topic, in arrival order, in
//! RocketMQ's record encoding, split over fixed-size mapped segments.

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::protocol::message::{BLANK_MAGIC_CODE, MESSAGE_MAGIC_CODE};

use super::mapped_file::{MappedFile, MappedFileQueue};
use super::StoreError;

/// The smallest end-of-file blank record: size + magic.
const END_FILE_MIN_BLANK_LENGTH: usize = 8;

pub struct CommitLog {
    files: RwLock<MappedFileQueue>,
    file_size: usize,
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
        let queue = MappedFileQueue::load(dir, file_size)?;
        Ok(CommitLog { files: RwLock::new(queue), file_size })
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
    /// with a blank record when they do not fit. Only the appender calls this.
    pub fn reserve(&self, len: usize) -> Result<Placement, StoreError> {
        if len + END_FILE_MIN_BLANK_LENGTH > self.file_size {
            return Err(StoreError::MessageTooLarge(len));
        }
        let mut files = self.files.write().unwrap();
        let file = files.last_for_append(0)?;
        let file = if file.remaining() < len + END_FILE_MIN_BLANK_LENGTH {
            let blank = file.remaining();
            let mut rec = Vec::with_capacity(blank);
            rec.extend_from_slice(&(blank as i32).to_be_bytes());
            rec.extend_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
            rec.resize(blank, 0);
            file.append(&rec);
            files.last_for_append(0)?
        } else {
            file
        };
        let offset = file.start() + file.wrote() as i64;
        Ok(Placement { file, offset })
    }

    /// The record bytes at `offset` (`size` as the consume queue says).
    pub fn read(&self, offset: i64, size: usize) -> Option<(Arc<MappedFile>, usize)> {
        let files = self.files.read().unwrap();
        let f = files.find(offset)?;
        let pos = (offset - f.start()) as usize;
        f.read(pos, size)?;
        Some((f.clone(), pos))
    }

    /// The size of the record at `offset`, read from its first four bytes.
    pub fn record_size_at(&self, offset: i64) -> Option<usize> {
        let (file, pos) = self.read(offset, 4)?;
        let b = file.read(pos, 4)?;
        let size = i32::from_be_bytes(b.try_into().unwrap());
        (size > 0).then_some(size as usize)
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

    /// Deletes segments (never the newest) while `expired` says so.
    pub fn delete_front_while(&self, expired: impl FnMut(&MappedFile) -> bool) -> usize {
        self.files.write().unwrap().delete_front_while(expired)
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

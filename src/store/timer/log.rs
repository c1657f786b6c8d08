//! `TimerLog`: append-only fixed-size records (delivery time, commit log
//! offset and size of the timer message, previous record of the same wheel
//! slot), so each slot is a chain through the log from its newest record.
//!
//! Retention frees the log's front by punching holes in it (see
//! [`TimerLog::punch_front`]): positions never change, and a punched record
//! reads as zeros, which [`decode`] reports as absent.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::store::StoreError;

pub const RECORD_SIZE: u64 = 32;
const MAGIC: i32 = 0x7131_4E0F;
/// Holes are punched in whole blocks of this size (a multiple of the record
/// size, so a block boundary is a record boundary).
pub const PUNCH_BLOCK: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerRecord {
    pub deliver_ms: i64,
    /// Commit log offset and size of the message in the timer topic.
    pub phy_offset: i64,
    pub size: i32,
    /// Position of the slot's previous record, -1 for none.
    pub prev: i64,
}

/// The record in `b`, or None for bytes without the magic: a punched (or
/// never written) record, which must never be taken for a timer of time 0.
pub fn decode(b: &[u8; RECORD_SIZE as usize]) -> Option<TimerRecord> {
    let be64 = |at: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        i64::from_be_bytes(x)
    };
    let be32 = |at: usize| {
        let mut x = [0u8; 4];
        x.copy_from_slice(&b[at..at + 4]);
        i32::from_be_bytes(x)
    };
    if be32(20) != MAGIC {
        return None;
    }
    Some(TimerRecord { deliver_ms: be64(0), phy_offset: be64(8), size: be32(16), prev: be64(24) })
}

pub struct TimerLog {
    file: File,
    /// Bytes of whole, valid records.
    len: u64,
    /// Position of the first record not punched away (0 if none was).
    front: u64,
}

impl TimerLog {
    /// Opens the log and cuts a torn or zeroed tail (a crash mid-append).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let mut len = file.metadata()?.len() / RECORD_SIZE * RECORD_SIZE;
        let mut log = TimerLog { file, len, front: 0 };
        // Only the tail can be torn: the last record is never punched, and
        // the log is synced before any punch (see `punch_front`).
        while len > 0 && log.read(len - RECORD_SIZE).is_err() {
            len -= RECORD_SIZE;
        }
        log.len = len;
        log.file.set_len(len)?;
        log.front = log.find_front();
        Ok(log)
    }

    /// The first readable record: the punched records are a prefix and the
    /// rest are whole, so a binary search finds it.
    fn find_front(&self) -> u64 {
        let (mut lo, mut hi) = (0, self.len / RECORD_SIZE);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.read(mid * RECORD_SIZE).is_ok() {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo * RECORD_SIZE
    }

    pub fn front(&self) -> u64 {
        self.front
    }

    /// Frees the whole blocks before `upto` (rounded down to a block) with
    /// `FALLOC_FL_PUNCH_HOLE`, keeping the size: the records there read as
    /// zeros from then on. The last record is never punched (it tells open
    /// where the log ends and recovery which commit log offset it holds).
    /// The caller syncs the log first, so that a crash cannot leave a torn
    /// tail reaching back into the hole. False if nothing was punched
    /// (nothing to do, or the filesystem cannot punch holes).
    pub fn punch_front(&mut self, upto: u64) -> Result<bool, StoreError> {
        let keep = self.len.saturating_sub(RECORD_SIZE);
        let end = upto.min(keep) / PUNCH_BLOCK * PUNCH_BLOCK;
        let start = self.front / PUNCH_BLOCK * PUNCH_BLOCK;
        if end <= start {
            return Ok(false);
        }
        if !punch_hole(&self.file, start, end - start)? {
            return Ok(false);
        }
        self.front = end;
        Ok(true)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn last(&self) -> Option<(i64, TimerRecord)> {
        let pos = self.len.checked_sub(RECORD_SIZE)?;
        self.read(pos).ok().map(|r| (pos as i64, r))
    }

    /// Appends; the record's position.
    pub fn append(&mut self, r: &TimerRecord) -> Result<i64, StoreError> {
        let mut b = [0u8; RECORD_SIZE as usize];
        b[0..8].copy_from_slice(&r.deliver_ms.to_be_bytes());
        b[8..16].copy_from_slice(&r.phy_offset.to_be_bytes());
        b[16..20].copy_from_slice(&r.size.to_be_bytes());
        b[20..24].copy_from_slice(&MAGIC.to_be_bytes());
        b[24..32].copy_from_slice(&r.prev.to_be_bytes());
        let pos = self.len;
        self.file.write_all_at(&b, pos)?;
        self.len += RECORD_SIZE;
        Ok(pos as i64)
    }

    pub fn read(&self, pos: u64) -> Result<TimerRecord, StoreError> {
        if !pos.is_multiple_of(RECORD_SIZE) || pos + RECORD_SIZE > self.len {
            return Err(StoreError::Corrupt(format!("timer log position {pos}")));
        }
        let mut b = [0u8; RECORD_SIZE as usize];
        self.file.read_exact_at(&mut b, pos)?;
        let Some(r) = decode(&b) else {
            return Err(StoreError::Corrupt(format!("timer log record at {pos} has no magic (torn or punched)")));
        };
        if r.prev >= pos as i64 {
            return Err(StoreError::Corrupt(format!("timer log record at {pos} points forward")));
        }
        Ok(r)
    }

    /// Drops the last record (recovery: the commit log lost its message).
    pub fn pop(&mut self) -> Result<(), StoreError> {
        self.len = self.len.saturating_sub(RECORD_SIZE);
        self.front = self.front.min(self.len);
        self.file.set_len(self.len)?;
        Ok(())
    }
}

/// Punches `[offset, offset + len)` out of `file`, keeping its size; false
/// if the filesystem does not support it (the data then simply stays).
#[cfg(target_os = "linux")]
fn punch_hole(file: &File, offset: u64, len: u64) -> Result<bool, StoreError> {
    use std::os::fd::AsRawFd;
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: fallocate on an open descriptor we own; no memory is passed.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset as libc::off_t, len as libc::off_t) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(false),
        _ => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn punch_hole(_file: &File, _offset: u64, _len: u64) -> Result<bool, StoreError> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = TimerLog::open(&path).unwrap();
        let a = TimerRecord { deliver_ms: 1000, phy_offset: 0, size: 100, prev: -1 };
        let b = TimerRecord { deliver_ms: 1000, phy_offset: 100, size: 90, prev: 0 };
        assert_eq!(log.append(&a).unwrap(), 0);
        assert_eq!(log.append(&b).unwrap(), 32);
        assert_eq!(log.read(32).unwrap(), b);
        drop(log);
        // A crash mid-append: half a record, then a zeroed one.
        let f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all_at(&[0u8; 32], 64).unwrap();
        f.write_all_at(&[1u8; 10], 96).unwrap();
        let log = TimerLog::open(&path).unwrap();
        assert_eq!(log.len(), 64);
        assert_eq!(log.last(), Some((32, b)));
    }

    fn rec(i: i64) -> TimerRecord {
        TimerRecord { deliver_ms: 1000, phy_offset: i * 100, size: 100, prev: i - 1 }
    }

    #[test]
    fn the_front_is_punched_in_whole_blocks_and_found_again_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = TimerLog::open(&path).unwrap();
        for i in 0..256 {
            log.append(&TimerRecord { prev: (i - 1) * RECORD_SIZE as i64, ..rec(i) }).unwrap();
        }
        assert!(!log.punch_front(PUNCH_BLOCK - RECORD_SIZE).unwrap(), "less than a block: nothing");
        // Up to the end: the last record stays, so only the first block goes.
        if !log.punch_front(log.len()).unwrap() {
            eprintln!("this filesystem cannot punch holes; nothing to check");
            return;
        }
        assert_eq!(log.front(), PUNCH_BLOCK);
        assert!(log.read(0).is_err() && log.read(PUNCH_BLOCK - RECORD_SIZE).is_err(), "a punched record is absent");
        let mut raw = vec![1u8; PUNCH_BLOCK as usize];
        log.file.read_exact_at(&mut raw, 0).unwrap();
        assert!(raw.iter().all(|b| *b == 0), "the hole reads as zeros");
        assert_eq!(log.read(PUNCH_BLOCK).unwrap().phy_offset, 128 * 100);
        let len = log.len();
        drop(log);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "size kept");
        let log = TimerLog::open(&path).unwrap();
        assert_eq!((log.len(), log.front()), (len, PUNCH_BLOCK), "open keeps the punched log whole");
        assert_eq!(log.last().unwrap().1.phy_offset, 255 * 100);
    }
}

//! `TimerLog`: append-only fixed-size records (delivery time, commit log
//! offset and size of the timer message, previous record of the same wheel
//! slot), so each slot is a chain through the log from its newest record.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::store::StoreError;

pub const RECORD_SIZE: u64 = 32;
const MAGIC: i32 = 0x7131_4E0F;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerRecord {
    pub deliver_ms: i64,
    /// Commit log offset and size of the message in the timer topic.
    pub phy_offset: i64,
    pub size: i32,
    /// Position of the slot's previous record, -1 for none.
    pub prev: i64,
}

pub struct TimerLog {
    file: File,
    /// Bytes of whole, valid records.
    len: u64,
}

impl TimerLog {
    /// Opens the log and cuts a torn or zeroed tail (a crash mid-append).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let mut len = file.metadata()?.len() / RECORD_SIZE * RECORD_SIZE;
        let mut log = TimerLog { file, len };
        while len > 0 && log.read(len - RECORD_SIZE).is_err() {
            len -= RECORD_SIZE;
        }
        log.len = len;
        log.file.set_len(len)?;
        Ok(log)
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
        let be64 = |r: std::ops::Range<usize>| i64::from_be_bytes(b[r].try_into().unwrap());
        if i32::from_be_bytes(b[20..24].try_into().unwrap()) != MAGIC {
            return Err(StoreError::Corrupt(format!("timer log record at {pos} has no magic")));
        }
        let r = TimerRecord { deliver_ms: be64(0..8), phy_offset: be64(8..16), size: i32::from_be_bytes(b[16..20].try_into().unwrap()), prev: be64(24..32) };
        if r.prev >= pos as i64 {
            return Err(StoreError::Corrupt(format!("timer log record at {pos} points forward")));
        }
        Ok(r)
    }

    /// Drops the last record (recovery: the commit log lost its message).
    pub fn pop(&mut self) -> Result<(), StoreError> {
        self.len = self.len.saturating_sub(RECORD_SIZE);
        self.file.set_len(self.len)?;
        Ok(())
    }
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
}

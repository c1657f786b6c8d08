//! `TimerWheel`: one fixed-size slot per `timerPrecisionMs` over the wheel's
//! span, each slot holding the time it is for, the timer log position of its
//! newest record and how many it holds. A file read and written in place, so
//! its memory is the page cache's, whatever the number of pending timers.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::store::StoreError;

pub const SLOT_SIZE: u64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The delivery time this slot holds timers for (0: never used).
    pub time_ms: i64,
    /// Timer log position of the newest record, -1 for none.
    pub head: i64,
    pub count: i32,
}

impl Slot {
    pub const EMPTY: Slot = Slot { time_ms: 0, head: -1, count: 0 };
}

pub struct TimerWheel {
    file: File,
    slots: u64,
    precision_ms: i64,
}

impl TimerWheel {
    pub fn open(path: &Path, slots: u64, precision_ms: i64) -> Result<Self, StoreError> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        // A sparse file: untouched slots read as zeros (time 0, never used).
        file.set_len(slots * SLOT_SIZE)?;
        Ok(TimerWheel { file, slots, precision_ms })
    }

    fn index(&self, time_ms: i64) -> u64 {
        (time_ms / self.precision_ms).rem_euclid(self.slots as i64) as u64
    }

    /// The slot for `time_ms`; empty if the slot holds another time.
    pub fn get(&self, time_ms: i64) -> Result<Slot, StoreError> {
        let mut b = [0u8; SLOT_SIZE as usize];
        self.file.read_exact_at(&mut b, self.index(time_ms) * SLOT_SIZE)?;
        let s = Slot {
            time_ms: i64::from_be_bytes(b[0..8].try_into().unwrap()),
            head: i64::from_be_bytes(b[8..16].try_into().unwrap()),
            count: i32::from_be_bytes(b[16..20].try_into().unwrap()),
        };
        Ok(if s.time_ms == time_ms && s.time_ms != 0 { s } else { Slot::EMPTY })
    }

    pub fn put(&self, time_ms: i64, s: Slot) -> Result<(), StoreError> {
        let mut b = [0u8; SLOT_SIZE as usize];
        b[0..8].copy_from_slice(&time_ms.to_be_bytes());
        b[8..16].copy_from_slice(&s.head.to_be_bytes());
        b[16..20].copy_from_slice(&s.count.to_be_bytes());
        self.file.write_all_at(&b, self.index(time_ms) * SLOT_SIZE)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_keyed_by_time_and_reused_a_rotation_later() {
        let dir = tempfile::tempdir().unwrap();
        let w = TimerWheel::open(&dir.path().join("wheel"), 10, 1000).unwrap();
        assert_eq!(w.get(5000).unwrap(), Slot::EMPTY);
        w.put(5000, Slot { time_ms: 5000, head: 32, count: 2 }).unwrap();
        assert_eq!(w.get(5000).unwrap(), Slot { time_ms: 5000, head: 32, count: 2 });
        // Same index, another rotation: not this slot's time.
        assert_eq!(w.get(15000).unwrap(), Slot::EMPTY);
        drop(w);
        let w = TimerWheel::open(&dir.path().join("wheel"), 10, 1000).unwrap();
        assert_eq!(w.get(5000).unwrap().count, 2, "kept across reopen");
    }
}

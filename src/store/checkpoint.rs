//! The `abort` marker and the `checkpoint` file at the store root.
//!
//! `abort` exists while the store is open; finding it at start means the
//! last run did not stop cleanly. `checkpoint` has RocketMQ's layout (three
//! 8-byte timestamps: commit log, consume queues, index) and, after a clean
//! stop, ferromq's own fields behind them: the commit log's end offset and a
//! marker, so a clean start needs no scan.

use std::path::{Path, PathBuf};

use super::StoreError;

const CHECKPOINT_SIZE: usize = 4096;
const CLEAN_MARK: &[u8; 8] = b"FERROCLN";

pub struct Checkpoint {
    pub physic_msg_timestamp: i64,
    pub logics_msg_timestamp: i64,
    pub index_msg_timestamp: i64,
    /// Commit log end offset, present only if the last stop was clean.
    pub clean_max_offset: Option<i64>,
}

fn abort_path(root: &Path) -> PathBuf {
    root.join("abort")
}

fn checkpoint_path(root: &Path) -> PathBuf {
    root.join("checkpoint")
}

/// True if the previous run left its abort marker behind.
pub fn previous_run_aborted(root: &Path) -> bool {
    abort_path(root).exists()
}

pub fn create_abort(root: &Path) -> Result<(), StoreError> {
    std::fs::write(abort_path(root), b"")?;
    Ok(())
}

pub fn remove_abort(root: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(abort_path(root)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn read(root: &Path) -> Option<Checkpoint> {
    let b = std::fs::read(checkpoint_path(root)).ok()?;
    if b.len() < 24 {
        return None;
    }
    let at = |i: usize| i64::from_be_bytes(b[i..i + 8].try_into().unwrap());
    let clean = (b.len() >= 40 && &b[32..40] == CLEAN_MARK).then(|| at(24));
    Some(Checkpoint {
        physic_msg_timestamp: at(0),
        logics_msg_timestamp: at(8),
        index_msg_timestamp: at(16),
        clean_max_offset: clean,
    })
}

pub fn write(root: &Path, c: &Checkpoint) -> Result<(), StoreError> {
    let mut b = vec![0u8; CHECKPOINT_SIZE];
    b[0..8].copy_from_slice(&c.physic_msg_timestamp.to_be_bytes());
    b[8..16].copy_from_slice(&c.logics_msg_timestamp.to_be_bytes());
    b[16..24].copy_from_slice(&c.index_msg_timestamp.to_be_bytes());
    if let Some(off) = c.clean_max_offset {
        b[24..32].copy_from_slice(&off.to_be_bytes());
        b[32..40].copy_from_slice(CLEAN_MARK);
    }
    super::config_file::persist_bytes(&checkpoint_path(root), &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_marker_and_clean_offset() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!previous_run_aborted(dir.path()));
        create_abort(dir.path()).unwrap();
        assert!(previous_run_aborted(dir.path()));
        write(dir.path(), &Checkpoint { physic_msg_timestamp: 5, logics_msg_timestamp: 6, index_msg_timestamp: 7, clean_max_offset: Some(1234) }).unwrap();
        let c = read(dir.path()).unwrap();
        assert_eq!((c.physic_msg_timestamp, c.clean_max_offset), (5, Some(1234)));
        write(dir.path(), &Checkpoint { physic_msg_timestamp: 5, logics_msg_timestamp: 6, index_msg_timestamp: 7, clean_max_offset: None }).unwrap();
        assert_eq!(read(dir.path()).unwrap().clean_max_offset, None);
        remove_abort(dir.path()).unwrap();
        assert!(!previous_run_aborted(dir.path()));
    }
}

//! `MappedFileQueue`: the segments of one log (the commit log or one
//! consume queue) in offset order, and the unlinking of segments retention
//! has taken out of a queue.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mapped_file::{MappedFile, Prealloc};
use super::StoreError;

/// The segments of one log (commit log or one consume queue), in order.
pub struct MappedFileQueue {
    dir: PathBuf,
    file_size: usize,
    prealloc: Prealloc,
    files: Vec<std::sync::Arc<MappedFile>>,
}

impl MappedFileQueue {
    /// Maps every segment in `dir`, in offset order; new segments are fully
    /// preallocated.
    pub fn load(dir: &Path, file_size: usize) -> Result<Self, StoreError> {
        Self::load_with(dir, file_size, Prealloc::Full)
    }

    /// As `load`, reserving the blocks of new segments as `prealloc` says.
    pub fn load_with(dir: &Path, file_size: usize, prealloc: Prealloc) -> Result<Self, StoreError> {
        let mut starts = Vec::new();
        if dir.exists() {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.len() == 20 {
                    if let Ok(start) = name.parse::<i64>() {
                        starts.push(start);
                    }
                }
            }
        }
        starts.sort_unstable();
        let mut files = Vec::with_capacity(starts.len());
        for start in starts {
            let f = MappedFile::open_with(dir, start, file_size, prealloc)?;
            // Until recovery says otherwise, earlier segments are full.
            f.set_wrote(file_size);
            files.push(std::sync::Arc::new(f));
        }
        Ok(MappedFileQueue { dir: dir.to_path_buf(), file_size, prealloc, files })
    }

    pub fn files(&self) -> &[std::sync::Arc<MappedFile>] {
        &self.files
    }

    pub fn last(&self) -> Option<&std::sync::Arc<MappedFile>> {
        self.files.last()
    }

    pub fn file_size(&self) -> usize {
        self.file_size
    }

    /// The segment holding absolute `offset`.
    pub fn find(&self, offset: i64) -> Option<&std::sync::Arc<MappedFile>> {
        let first = self.files.first()?.start();
        if offset < first {
            return None;
        }
        let idx = ((offset - first) / self.file_size as i64) as usize;
        self.files.get(idx).filter(|f| offset < f.start() + self.file_size as i64)
    }

    /// The last segment with room, creating the next one when the last is full.
    pub fn last_for_append(&mut self, start_if_empty: i64) -> Result<std::sync::Arc<MappedFile>, StoreError> {
        let (dir, size, prealloc) = (self.dir.clone(), self.file_size, self.prealloc);
        self.last_for_append_with(start_if_empty, |start| MappedFile::open_with(&dir, start, size, prealloc))
    }

    /// As `last_for_append`, taking a new segment from `make` (given its start).
    pub fn last_for_append_with(
        &mut self,
        start_if_empty: i64,
        make: impl FnOnce(i64) -> Result<MappedFile, StoreError>,
    ) -> Result<std::sync::Arc<MappedFile>, StoreError> {
        let next_start = match self.files.last() {
            Some(f) if !f.is_full() => return Ok(f.clone()),
            Some(f) => f.start() + self.file_size as i64,
            None => start_if_empty - start_if_empty % self.file_size as i64,
        };
        let f = make(next_start)?;
        if f.start() != next_start || f.size() != self.file_size {
            return Err(StoreError::Corrupt(format!("new segment {} is not the one at {next_start}", f.path().display())));
        }
        let f = std::sync::Arc::new(f);
        self.files.push(f.clone());
        Ok(f)
    }

    /// Drops trailing segments that were never written (their first record
    /// is all zeros), keeping at least one: a segment prepared ahead of need
    /// and not used before a stop. Returns how many went.
    pub fn drop_unused_tail(&mut self) -> Result<usize, StoreError> {
        let mut n = 0;
        while self.files.len() > 1 && self.files.last().and_then(|f| f.read_raw(0, 8)) == Some(&[0u8; 8][..]) {
            let f = self.files.pop().unwrap();
            std::fs::remove_file(f.path())?;
            n += 1;
        }
        Ok(n)
    }

    /// Absolute offset just past the last written byte.
    pub fn max_offset(&self) -> i64 {
        self.files.last().map_or(0, |f| f.start() + f.wrote() as i64)
    }

    pub fn min_offset(&self) -> i64 {
        self.files.first().map_or(0, |f| f.start())
    }

    /// Drops segments that start at or after `offset` and cuts the one that
    /// holds it.
    pub fn truncate(&mut self, offset: i64) -> Result<(), StoreError> {
        while let Some(f) = self.files.last() {
            if f.start() >= offset {
                let f = self.files.pop().unwrap();
                std::fs::remove_file(f.path())?;
                continue;
            }
            let pos = (offset - f.start()) as usize;
            if pos < f.wrote() {
                f.zero_from(pos, f.wrote() - pos);
                f.set_wrote(pos);
            }
            break;
        }
        Ok(())
    }

    /// Flushes every segment with unflushed bytes (only the newest few ever have).
    pub fn flush(&self) -> Result<(), StoreError> {
        for f in self.files.iter().rev() {
            if f.flushed() >= f.wrote() && f.is_full() {
                break;
            }
            f.flush()?;
        }
        Ok(())
    }

    /// Releases the pages of everything more than `keep` bytes behind the
    /// write position (see `MappedFile::release_below`).
    pub fn release_cold(&self, keep: usize) {
        let end = self.max_offset();
        let cold_end = end - keep as i64;
        for f in &self.files {
            if f.start() >= cold_end {
                break;
            }
            let upto = ((cold_end - f.start()) as usize).min(f.size());
            f.release_below(upto);
        }
    }

    /// Takes `gone` out of the list, as far as they are its first segments in
    /// that order (never the last); the caller unlinks them (`unlink`).
    pub fn remove_front(&mut self, gone: &[Arc<MappedFile>]) -> Vec<Arc<MappedFile>> {
        let mut judged = gone.iter();
        self.take_front_while(|f| judged.next().is_some_and(|g| std::ptr::eq(Arc::as_ptr(g), f)))
    }

    /// Takes segments out of the list from the front while `expired(file)`
    /// holds, never the last one; the caller unlinks them (`unlink`) once it
    /// has let go of the lock guarding this queue.
    pub fn take_front_while(&mut self, mut expired: impl FnMut(&MappedFile) -> bool) -> Vec<Arc<MappedFile>> {
        let n = self.files.iter().take(self.files.len().saturating_sub(1)).take_while(|f| expired(f)).count();
        self.files.drain(..n).collect()
    }
}

/// Deletes the files of segments already out of their queue, and drops
/// them (unmapped once no reader holds one). Called without the queue's
/// lock, so that neither appends nor reads wait on the file system.
/// Returns how many there were.
pub fn unlink(segments: Vec<Arc<MappedFile>>) -> usize {
    for f in &segments {
        if let Err(e) = std::fs::remove_file(f.path()) {
            tracing::warn!(file = %f.path().display(), "removing expired segment failed: {e}");
        }
    }
    segments.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mapped_file::file_name;

    #[test]
    fn append_read_and_roll() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = MappedFileQueue::load(dir.path(), 64).unwrap();
        let f = q.last_for_append(0).unwrap();
        f.append(&[1u8; 40]);
        assert_eq!(f.read(0, 40).unwrap(), &[1u8; 40]);
        assert!(f.read(30, 20).is_none());
        f.append(&[2u8; 24]);
        assert!(f.is_full());
        let g = q.last_for_append(0).unwrap();
        assert_eq!(g.start(), 64);
        g.append(&[3u8; 8]);
        assert_eq!(q.max_offset(), 72);
        assert_eq!(q.find(70).unwrap().start(), 64);
        assert_eq!(q.find(10).unwrap().start(), 0);
        assert!(q.find(200).is_none());
        q.flush().unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().any(|n| n == "00000000000000000064"));
        q.truncate(40).unwrap();
        assert_eq!(q.files().len(), 1);
        assert_eq!(q.max_offset(), 40);
    }

    #[test]
    fn a_slice_outlives_its_segment_being_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = MappedFileQueue::load(dir.path(), 64).unwrap();
        let f = q.last_for_append(0).unwrap();
        f.append(&[5u8; 64]);
        let g = q.last_for_append(0).unwrap();
        g.append(&[6u8; 8]);
        assert!(f.slice(60, 8).is_none(), "past the segment");
        assert!(g.slice(4, 8).is_none(), "not yet written");
        let s = f.slice(10, 20).unwrap();
        drop(f);
        // Retention removes the file and the queue's reference to it.
        assert_eq!(unlink(q.take_front_while(|_| true)), 1);
        assert!(!dir.path().join(file_name(0)).exists());
        // The slice now holds the only reference: the mapping is still there.
        assert_eq!(&s[..], &[5u8; 20]);
    }

    /// A queue of `n` full 64-byte segments.
    fn full_segments(dir: &Path, n: usize) -> MappedFileQueue {
        let mut q = MappedFileQueue::load(dir, 64).unwrap();
        for _ in 0..n {
            q.last_for_append(0).unwrap().append(&[1u8; 64]);
        }
        q
    }

    #[test]
    fn taken_segments_leave_the_list_first_and_the_disk_on_unlink() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = full_segments(dir.path(), 3);
        let gone = q.take_front_while(|_| true);
        assert_eq!(gone.iter().map(|f| f.start()).collect::<Vec<_>>(), vec![0, 64], "never the newest");
        assert_eq!(q.min_offset(), 128);
        assert!(dir.path().join(file_name(0)).exists(), "taking out does not touch the disk");
        assert_eq!(unlink(gone), 2);
        assert!(!dir.path().join(file_name(0)).exists());
        assert!(!dir.path().join(file_name(64)).exists());
        assert!(dir.path().join(file_name(128)).exists());
    }

    #[test]
    fn remove_front_takes_only_a_judged_prefix_and_never_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = full_segments(dir.path(), 3);
        q.last_for_append(0).unwrap();
        let judged: Vec<_> = q.files().to_vec();
        assert_eq!(judged.len(), 4);
        assert!(q.remove_front(&judged[1..2]).is_empty(), "not at the front: left");
        let gone = q.remove_front(&judged);
        assert_eq!(gone.iter().map(|f| f.start()).collect::<Vec<_>>(), vec![0, 64, 128], "never the newest");
        assert_eq!(q.files().len(), 1);
        assert!(q.remove_front(&judged[..2]).is_empty(), "already gone: nothing twice");
    }
}

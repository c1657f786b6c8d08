//! A fixed-size file mapped into memory, appended at one end while readers
//! read what was already published.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use memmap2::MmapRaw;

use super::StoreError;

/// How a segment's disk blocks are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prealloc {
    /// All blocks at creation (the commit log): a full disk fails the
    /// creation, never a write into the mapping.
    Full,
    /// A sparse file whose blocks are reserved `n` bytes at a time just
    /// ahead of the write position (consume queues): disk use follows the
    /// data, and no write ever touches an unreserved page (which on a full
    /// disk would kill the process with SIGBUS).
    Chunked(usize),
}

/// Blocks reserved ahead of a consume queue's write position.
pub const CHUNK: usize = 64 * 1024;
const PAGE: usize = 4096;

pub struct MappedFile {
    path: PathBuf,
    /// Kept open for fully preallocated segments (commit log, index: few).
    /// Chunked ones (consume queues, one per written queue) close it once
    /// mapped and reopen it per chunk reserved, so that tens of thousands
    /// of queues do not need as many open files.
    file: Option<std::fs::File>,
    prealloc: Prealloc,
    /// With `Prealloc::Chunked`, [wrote, allocated) is known to be reserved
    /// whenever allocated > wrote; with `Full`, the file size.
    allocated: AtomicUsize,
    /// Absolute offset of the file's first byte; also its 20-digit name.
    start: i64,
    size: usize,
    map: MmapRaw,
    /// Bytes written and visible to readers.
    wrote: AtomicUsize,
    /// Bytes known to be flushed.
    flushed: AtomicUsize,
    /// Bytes whose pages were dropped from this process's page tables.
    released: AtomicUsize,
}

// SAFETY: the mapping is only written by the single appender (callers hold the
// store's put lock) in the region at and beyond `wrote`, and readers only read
// below `wrote` after an Acquire load, so no byte is read while written.
unsafe impl Send for MappedFile {}
unsafe impl Sync for MappedFile {}

fn allocate(file: &std::fs::File, size: usize) -> std::io::Result<()> {
    match allocate_range(file, 0, size) {
        Ok(true) => Ok(()),
        // Filesystems without fallocate: fall back to a sparse file.
        Ok(false) => file.set_len(size as u64),
        Err(e) => Err(e),
    }
}

/// Reserves the blocks of [from, from+len) (extending the file if needed).
/// Ok(false) when the filesystem cannot reserve blocks at all.
pub(crate) fn allocate_range(file: &std::fs::File, from: usize, len: usize) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    if len == 0 {
        return Ok(true);
    }
    // SAFETY: plain syscall on a valid, owned descriptor.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), from as libc::off_t, len as libc::off_t) };
    match rc {
        0 => Ok(true),
        libc::EOPNOTSUPP | libc::EINVAL => Ok(false),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

pub fn file_name(offset: i64) -> String {
    format!("{offset:020}")
}

impl MappedFile {
    /// Opens (creating and sizing if needed) the segment starting at
    /// `start`, with all its blocks reserved.
    pub fn open(dir: &Path, start: i64, size: usize) -> Result<Self, StoreError> {
        Self::open_with(dir, start, size, Prealloc::Full)
    }

    /// Opens the segment starting at `start`, reserving blocks as `prealloc` says.
    pub fn open_with(dir: &Path, start: i64, size: usize, prealloc: Prealloc) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(file_name(start));
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        let len = file.metadata()?.len() as usize;
        if len != size {
            if len > size {
                return Err(StoreError::Corrupt(format!(
                    "{} is {len} bytes, larger than the configured file size {size}",
                    path.display()
                )));
            }
            // Reserve the blocks now (Full) or just size the file, sparse,
            // and reserve before each write (Chunked): a write into a mapped
            // hole on a full disk would kill the process with SIGBUS.
            let r = match prealloc {
                Prealloc::Full => allocate(&file, size),
                Prealloc::Chunked(_) => file.set_len(size as u64),
            };
            if let Err(e) = r {
                drop(file);
                if len == 0 {
                    let _ = std::fs::remove_file(&path);
                }
                return Err(e.into());
            }
        }
        let map = MmapRaw::map_raw(&file)?;
        if let Prealloc::Chunked(_) = prealloc {
            // Small-entry files (consume queues) are mostly holes: with the
            // default read-around, the first fault on one zero-fills up to
            // the device's read_ahead_kb (8 MiB on some virtual disks), i.e.
            // the whole 6 MB file, on the put path and again at start-up for
            // every queue. A fault should bring in only the page it needs.
            if let Err(e) = map.advise(memmap2::Advice::Random) {
                tracing::debug!(path = %path.display(), "madvise(MADV_RANDOM) refused: {e}");
            }
        }
        let (allocated, file) = match prealloc {
            Prealloc::Full => (size, Some(file)),
            Prealloc::Chunked(_) => (0, None),
        };
        Ok(MappedFile {
            path,
            file,
            prealloc,
            allocated: AtomicUsize::new(allocated),
            start,
            size,
            map,
            wrote: AtomicUsize::new(0),
            flushed: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
        })
    }

    pub fn start(&self) -> i64 {
        self.start
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn wrote(&self) -> usize {
        self.wrote.load(Ordering::Acquire)
    }

    pub fn remaining(&self) -> usize {
        self.size - self.wrote()
    }

    /// Bytes known to be on disk.
    pub fn flushed(&self) -> usize {
        self.flushed.load(Ordering::Acquire)
    }

    pub fn is_full(&self) -> bool {
        self.wrote() == self.size
    }

    /// Sets the write position after recovery (and when truncating).
    pub fn set_wrote(&self, pos: usize) {
        assert!(pos <= self.size);
        self.wrote.store(pos, Ordering::Release);
        self.flushed.store(pos, Ordering::Release);
    }

    /// Reserves the blocks of the next `len` bytes from the write position
    /// (a no-op for fully preallocated files). Only the appender calls this.
    pub fn reserve(&self, len: usize) -> Result<(), StoreError> {
        let Prealloc::Chunked(chunk) = self.prealloc else {
            return Ok(());
        };
        let pos = self.wrote.load(Ordering::Relaxed);
        let end = pos.checked_add(len).filter(|e| *e <= self.size).ok_or_else(|| {
            StoreError::Corrupt(format!("reserving {len} bytes at {pos} past the end of {}", self.path.display()))
        })?;
        if end <= self.allocated.load(Ordering::Relaxed) {
            return Ok(());
        }
        let from = pos / PAGE * PAGE;
        let to = end.div_ceil(chunk.max(PAGE)).saturating_mul(chunk.max(PAGE)).min(self.size);
        // Filesystems that cannot reserve (Ok(false)) stay sparse, as the
        // Java broker's files always are.
        let reopened;
        let file = match &self.file {
            Some(f) => f,
            None => {
                reopened = OpenOptions::new().write(true).open(&self.path)?;
                &reopened
            }
        };
        allocate_range(file, from, to - from)?;
        self.allocated.store(to, Ordering::Relaxed);
        Ok(())
    }

    /// Reserves blocks as needed, then appends (consume queues).
    pub fn try_append(&self, data: &[u8]) -> Result<(), StoreError> {
        self.reserve(data.len())?;
        self.append(data);
        Ok(())
    }

    /// Moves the write position of a fresh sparse segment forward over a
    /// never-written hole, which reads as zeros.
    pub fn skip_hole(&self, len: usize) {
        let pos = self.wrote.load(Ordering::Relaxed);
        assert!(len <= self.size - pos, "skip past end of mapped file");
        self.wrote.store(pos + len, Ordering::Release);
    }

    /// Copies `data` at the write position and publishes it.
    /// The caller is the only appender and has checked `remaining()` (and,
    /// for a `Chunked` file, called `reserve`).
    pub fn append(&self, data: &[u8]) {
        let pos = self.wrote.load(Ordering::Relaxed);
        assert!(data.len() <= self.size - pos, "append past end of mapped file");
        assert!(
            self.prealloc == Prealloc::Full || pos + data.len() <= self.allocated.load(Ordering::Relaxed),
            "append into unreserved blocks"
        );
        // SAFETY: [pos, pos+len) is inside the mapping and beyond what readers may read.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.as_mut_ptr().add(pos), data.len());
        }
        self.wrote.store(pos + data.len(), Ordering::Release);
    }

    /// Lets `write` fill the next `len` bytes in place, then publishes them:
    /// a record encoded straight into the mapping, with no buffer between.
    /// The caller is the only appender and has checked `remaining()`.
    pub fn append_with(&self, len: usize, write: impl FnOnce(&mut [u8])) {
        let pos = self.wrote.load(Ordering::Relaxed);
        assert!(len <= self.size - pos, "append past end of mapped file");
        assert!(
            self.prealloc == Prealloc::Full || pos + len <= self.allocated.load(Ordering::Relaxed),
            "append into unreserved blocks"
        );
        // SAFETY: [pos, pos+len) is inside the mapping and beyond what readers
        // may read (they stop at `wrote`); only the appender writes there, so
        // this is the one reference to those bytes until they are published.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(pos), len) };
        write(dst);
        self.wrote.store(pos + len, Ordering::Release);
    }

    /// Overwrites bytes inside the unpublished region (zeroing a torn tail).
    /// Only ever called on bytes that were written, so their blocks exist.
    pub fn zero_from(&self, pos: usize, len: usize) {
        let len = len.min(self.size - pos);
        // SAFETY: only called during recovery/truncation while no reader exists past `pos`.
        unsafe { std::ptr::write_bytes(self.map.as_mut_ptr().add(pos), 0, len) }
    }

    /// Reads published bytes; `None` if the range is not fully written yet.
    pub fn read(&self, pos: usize, len: usize) -> Option<&[u8]> {
        if pos.checked_add(len)? > self.wrote() {
            return None;
        }
        // SAFETY: the range is below `wrote`, so it is fully written and never rewritten.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(pos), len) })
    }

    /// The whole record at `pos`, its length read from its first four
    /// bytes; `None` when that length is not positive or the record is not
    /// all published (cut at the file's end, or garbage read as a size).
    pub fn record_at(&self, pos: usize) -> Option<&[u8]> {
        let size = i32::from_be_bytes(self.read(pos, 4)?.try_into().ok()?);
        self.read(pos, usize::try_from(size).ok().filter(|n| *n > 0)?)
    }

    /// Published bytes as a `Bytes` that keeps this segment mapped for as
    /// long as any clone of it lives: a pull response queued for a slow
    /// socket still reads valid memory after retention deleted the file
    /// (an unlinked file stays mapped until the last `Arc` goes).
    pub fn slice(self: &Arc<Self>, pos: usize, len: usize) -> Option<Bytes> {
        self.read(pos, len)?;
        Some(Bytes::from_owner(MappedSlice { file: self.clone(), pos, len }))
    }

    /// Reads bytes regardless of the write position (recovery scans).
    pub fn read_raw(&self, pos: usize, len: usize) -> Option<&[u8]> {
        if pos.checked_add(len)? > self.size {
            return None;
        }
        // SAFETY: in bounds; only used before the file is shared with readers.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(pos), len) })
    }

    /// Drops the pages below `upto` from this process's page tables. The
    /// data stays in the page cache (the mapping is shared and file-backed),
    /// so a later read just maps it again; resident memory stays bounded by
    /// the hot tail instead of growing with everything ever written.
    pub fn release_below(&self, upto: usize) {
        let upto = upto.min(self.flushed.load(Ordering::Acquire)) / PAGE * PAGE;
        let from = self.released.load(Ordering::Acquire);
        if upto <= from {
            return;
        }
        // SAFETY: MADV_DONTNEED on a shared file mapping only unmaps pages;
        // their contents remain in the page cache and the file.
        let r = unsafe { self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, upto - from) };
        if r.is_ok() {
            self.released.store(upto, Ordering::Release);
        }
    }

    /// Faults in the pages of [from, from+len) (clamped to the segment) for
    /// writing, without changing a byte: `MADV_POPULATE_WRITE` (Linux 5.14+)
    /// takes the page-cache allocation, zeroing and `page_mkwrite` of fresh
    /// pages off whoever writes there next. On older kernels it falls back to
    /// reading one byte per page, which still allocates and zeroes the page
    /// cache page (leaving only a cheap write-protect fault to the writer).
    /// Neither writes anything, so it is safe to run concurrently with the
    /// appender on the same pages. Returns the page-aligned range covered.
    pub fn populate(&self, from: usize, len: usize) -> std::ops::Range<usize> {
        let start = (from / PAGE * PAGE).min(self.size);
        let end = from.saturating_add(len).min(self.size).div_ceil(PAGE).saturating_mul(PAGE).min(self.size);
        if end <= start {
            return start..start;
        }
        // SAFETY: [start, end) lies inside the mapping, `start` is page
        // aligned (the mapping itself is); MADV_POPULATE_WRITE only faults
        // pages in and never modifies their contents. A failed fault
        // (e.g. no disk blocks) is reported as an error, not a signal.
        let rc = unsafe {
            libc::madvise(self.map.as_mut_ptr().add(start).cast(), end - start, libc::MADV_POPULATE_WRITE)
        };
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            // Kernel without MADV_POPULATE_WRITE: a read fault per page.
            let mut p = start;
            while p < end {
                // SAFETY: in bounds of the mapping and of the file (whose
                // length is `size`), so the read cannot fault past EOF; a
                // volatile read keeps it from being optimised away.
                unsafe { std::ptr::read_volatile(self.map.as_ptr().add(p)) };
                p += PAGE;
            }
        }
        start..end
    }

    /// Flushes written-but-unflushed bytes to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        let wrote = self.wrote();
        let flushed = self.flushed.load(Ordering::Acquire);
        if wrote > flushed {
            self.map.flush_range(flushed, wrote - flushed)?;
            self.flushed.store(wrote, Ordering::Release);
        }
        Ok(())
    }
}

/// A published range of a segment, owning a reference to it.
struct MappedSlice {
    file: Arc<MappedFile>,
    pos: usize,
    len: usize,
}

impl AsRef<[u8]> for MappedSlice {
    fn as_ref(&self) -> &[u8] {
        // Checked against the write position when made; bytes below it are
        // never rewritten and the mapping lives as long as `file`.
        self.file.read_raw(self.pos, self.len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_file_holds_no_descriptor_and_still_reserves_chunk_after_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 * CHUNK;
        let f = MappedFile::open_with(dir.path(), 0, size, Prealloc::Chunked(CHUNK)).unwrap();
        assert!(f.file.is_none(), "a consume queue segment keeps no file open");
        let entry = [7u8; 20];
        let n = (3 * CHUNK + 100) / entry.len();
        for _ in 0..n {
            f.try_append(&entry).unwrap();
        }
        assert_eq!(f.wrote(), n * entry.len());
        assert!(f.allocated.load(Ordering::Relaxed) >= f.wrote());
        f.flush().unwrap();
        let back = std::fs::read(dir.path().join(file_name(0))).unwrap();
        assert!(back[..n * entry.len()].iter().all(|b| *b == 7));
        let full = MappedFile::open_with(dir.path(), size as i64, size, Prealloc::Full).unwrap();
        assert!(full.file.is_some());
    }

    fn record(len: usize) -> Vec<u8> {
        let mut r = vec![9u8; len];
        r[..4].copy_from_slice(&(len as i32).to_be_bytes());
        r
    }

    #[test]
    fn record_at_gives_whole_records_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::open(dir.path(), 0, 64).unwrap();
        f.append(&record(20));
        assert_eq!(f.record_at(0), Some(&record(20)[..]));
        f.append(&[0, 0]);
        assert_eq!(f.record_at(20), None, "size itself cut short");
        f.append(&[0, 30]);
        f.append(&[1u8; 10]);
        assert_eq!(f.record_at(20), None, "record cut at the written end");
        f.append(&(-5i32).to_be_bytes());
        assert_eq!(f.record_at(34), None, "negative size");
        f.append(&0i32.to_be_bytes());
        assert_eq!(f.record_at(38), None, "zero size");
        f.append(&40i32.to_be_bytes());
        f.append(&[1u8; 18]);
        assert!(f.is_full());
        assert_eq!(f.record_at(42), None, "size past the file's end");
        assert_eq!(f.record_at(usize::MAX - 1), None, "position past the file's end");
        assert_eq!(f.record_at(0), Some(&record(20)[..]), "the good one still reads");
    }

    #[test]
    fn append_with_fills_in_place_then_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let f = MappedFile::open(dir.path(), 0, 64).unwrap();
        f.append(&[1u8; 4]);
        f.append_with(6, |dst| {
            assert_eq!(dst.len(), 6);
            assert!(f.read(4, 1).is_none(), "not visible while written");
            dst.copy_from_slice(b"abcdef");
        });
        assert_eq!(f.read(0, 10).unwrap(), b"\x01\x01\x01\x01abcdef");
        assert_eq!(f.wrote(), 10);
    }
}

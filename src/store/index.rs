//! Index files (`IndexFile`, `IndexService`): message keys and UNIQ_KEYs
//! (`topic#key`) → commit-log offsets, for QUERY_MESSAGE.
//!
//! Layout as RocketMQ's: a 40-byte header (begin/end timestamp, begin/end
//! commit-log offset, used slot count, entry count), `slots` 4-byte hash
//! slots holding the newest entry number for that slot, then 20-byte
//! entries (key hash, commit-log offset, seconds since the file's begin
//! timestamp, previous entry number in the slot). Entry 0 is unused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use memmap2::MmapRaw;

use super::dispatch::{DispatchRequest, Dispatcher};
use super::StoreError;

const HEADER_SIZE: usize = 40;
const SLOT_SIZE: usize = 4;
const ENTRY_SIZE: usize = 20;

pub struct IndexFile {
    path: PathBuf,
    slots: usize,
    max_entries: usize,
    map: MmapRaw,
    file: std::fs::File,
    size: usize,
    /// One bit per 4 KiB page whose disk blocks are known to be reserved.
    /// The file is sparse (most hash slots are never written); a page is
    /// reserved with fallocate before its first write, since a write into
    /// a mapped hole on a full disk would kill the process with SIGBUS.
    reserved: Mutex<Vec<u64>>,
    /// Entries written (the next entry number), 1-based as in RocketMQ.
    count: AtomicUsize,
}

const PAGE: usize = 4096;

// SAFETY: one writer (the index service holds its lock while writing) and
// readers that only follow entry numbers below the published count.
unsafe impl Send for IndexFile {}
unsafe impl Sync for IndexFile {}

/// `IndexService.indexKeyHashMethod`: |String.hashCode|, with MIN_VALUE → 0.
pub fn key_hash(key: &str) -> i32 {
    let h = crate::protocol::message::java_string_hash(key);
    if h == i32::MIN {
        0
    } else {
        h.abs()
    }
}

impl IndexFile {
    fn open(path: &Path, slots: usize, max_entries: usize) -> Result<Self, StoreError> {
        let size = HEADER_SIZE + slots * SLOT_SIZE + max_entries * ENTRY_SIZE;
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        // Sparse, as the Java broker's: index files are large and rebuildable.
        if file.metadata()?.len() != size as u64 {
            file.set_len(size as u64)?;
        }
        let map = MmapRaw::map_raw(&file)?;
        let pages = size.div_ceil(PAGE);
        let f = IndexFile {
            path: path.to_path_buf(),
            slots,
            max_entries,
            map,
            file,
            size,
            reserved: Mutex::new(vec![0u64; pages.div_ceil(64)]),
            count: AtomicUsize::new(1),
        };
        let count = f.read_i32(36).max(1) as usize;
        f.count.store(count.min(max_entries), Ordering::Release);
        Ok(f)
    }

    fn read_i32(&self, pos: usize) -> i32 {
        let mut b = [0u8; 4];
        // SAFETY: pos+4 lies within the mapping (callers compute positions from the layout).
        unsafe { std::ptr::copy_nonoverlapping(self.map.as_ptr().add(pos), b.as_mut_ptr(), 4) };
        i32::from_be_bytes(b)
    }

    fn read_i64(&self, pos: usize) -> i64 {
        let mut b = [0u8; 8];
        // SAFETY: as read_i32.
        unsafe { std::ptr::copy_nonoverlapping(self.map.as_ptr().add(pos), b.as_mut_ptr(), 8) };
        i64::from_be_bytes(b)
    }

    fn write(&self, pos: usize, data: &[u8]) {
        // SAFETY: in bounds; only the index writer writes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.as_mut_ptr().add(pos), data.len()) };
    }

    pub fn begin_timestamp(&self) -> i64 {
        self.read_i64(0)
    }
    pub fn end_timestamp(&self) -> i64 {
        self.read_i64(8)
    }
    pub fn end_phy_offset(&self) -> i64 {
        self.read_i64(24)
    }

    fn is_full(&self) -> bool {
        self.count.load(Ordering::Acquire) >= self.max_entries
    }

    /// Reserves the disk blocks of the pages holding [pos, pos+len).
    fn reserve(&self, pos: usize, len: usize) -> Result<(), StoreError> {
        let mut bits = self.reserved.lock().unwrap();
        let first = pos / PAGE;
        let last = (pos + len).div_ceil(PAGE).min(self.size.div_ceil(PAGE));
        for page in first..last {
            if bits[page / 64] & (1 << (page % 64)) != 0 {
                continue;
            }
            let from = page * PAGE;
            let len = PAGE.min(self.size - from);
            // Ok(false): the filesystem cannot reserve; it stays sparse.
            super::mapped_file::allocate_range(&self.file, from, len)?;
            bits[page / 64] |= 1 << (page % 64);
        }
        Ok(())
    }

    /// `IndexFile.putKey`; false when the file is full. Fails, writing
    /// nothing, when the disk blocks to write into cannot be reserved.
    fn put_key(&self, key: &str, phy_offset: i64, store_timestamp: i64) -> Result<bool, StoreError> {
        let count = self.count.load(Ordering::Relaxed);
        if count >= self.max_entries {
            return Ok(false);
        }
        let hash = key_hash(key);
        let slot_pos = HEADER_SIZE + (hash as usize % self.slots) * SLOT_SIZE;
        let entry_pos = HEADER_SIZE + self.slots * SLOT_SIZE + count * ENTRY_SIZE;
        self.reserve(0, HEADER_SIZE)?;
        self.reserve(slot_pos, SLOT_SIZE)?;
        self.reserve(entry_pos, ENTRY_SIZE)?;
        let mut prev = self.read_i32(slot_pos);
        if prev <= 0 || prev as usize > count {
            prev = 0;
        }
        if count <= 1 {
            self.write(0, &store_timestamp.to_be_bytes());
            self.write(16, &phy_offset.to_be_bytes());
        }
        let diff = ((store_timestamp - self.begin_timestamp()) / 1000).clamp(0, i32::MAX as i64) as i32;
        let mut e = [0u8; ENTRY_SIZE];
        e[0..4].copy_from_slice(&hash.to_be_bytes());
        e[4..12].copy_from_slice(&phy_offset.to_be_bytes());
        e[12..16].copy_from_slice(&diff.to_be_bytes());
        e[16..20].copy_from_slice(&prev.to_be_bytes());
        self.write(entry_pos, &e);
        self.write(slot_pos, &(count as i32).to_be_bytes());
        if prev == 0 {
            let used = self.read_i32(32) + 1;
            self.write(32, &used.to_be_bytes());
        }
        self.write(8, &store_timestamp.to_be_bytes());
        self.write(24, &phy_offset.to_be_bytes());
        self.write(36, &((count + 1) as i32).to_be_bytes());
        self.count.store(count + 1, Ordering::Release);
        Ok(true)
    }

    /// Commit-log offsets of entries for `key` stored within [begin, end] ms.
    fn select(&self, key: &str, max: usize, begin: i64, end: i64, out: &mut Vec<i64>) {
        let count = self.count.load(Ordering::Acquire);
        let hash = key_hash(key);
        let mut n = self.read_i32(HEADER_SIZE + (hash as usize % self.slots) * SLOT_SIZE);
        let base = self.begin_timestamp();
        let mut hops = 0;
        while n > 0 && (n as usize) < count && out.len() < max && hops < self.max_entries {
            hops += 1;
            let pos = HEADER_SIZE + self.slots * SLOT_SIZE + n as usize * ENTRY_SIZE;
            let h = self.read_i32(pos);
            let phy = self.read_i64(pos + 4);
            let ts = base + self.read_i32(pos + 12) as i64 * 1000;
            let prev = self.read_i32(pos + 16);
            if h == hash && ts >= begin && ts <= end {
                out.push(phy);
            }
            if prev <= 0 || prev >= n {
                break;
            }
            n = prev;
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.map.flush()?;
        Ok(())
    }
}

/// All index files, newest last.
pub struct IndexService {
    dir: PathBuf,
    slots: usize,
    max_entries: usize,
    files: RwLock<Vec<Arc<IndexFile>>>,
    writer: Mutex<()>,
}

impl IndexService {
    pub fn load(dir: &Path, slots: usize, max_entries: usize) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        let mut files = Vec::new();
        for p in names {
            files.push(Arc::new(IndexFile::open(&p, slots, max_entries)?));
        }
        Ok(IndexService { dir: dir.to_path_buf(), slots, max_entries, files: RwLock::new(files), writer: Mutex::new(()) })
    }

    /// Commit-log offset up to which messages are indexed.
    pub fn end_phy_offset(&self) -> i64 {
        self.files.read().unwrap().last().map_or(0, |f| f.end_phy_offset())
    }

    pub fn last_update_timestamp(&self) -> i64 {
        self.files.read().unwrap().last().map_or(0, |f| f.end_timestamp())
    }

    /// Indexes one message under each of `keys` (already `topic#key`).
    pub fn build(&self, keys: &[String], phy_offset: i64, store_timestamp: i64) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let _w = self.writer.lock().unwrap();
        for key in keys {
            let file = self.writable_file(store_timestamp)?;
            if !file.put_key(key, phy_offset, store_timestamp)? {
                let file = self.new_file(store_timestamp)?;
                file.put_key(key, phy_offset, store_timestamp)?;
            }
        }
        Ok(())
    }

    fn writable_file(&self, ts: i64) -> Result<Arc<IndexFile>, StoreError> {
        if let Some(f) = self.files.read().unwrap().last() {
            if !f.is_full() {
                return Ok(f.clone());
            }
        }
        self.new_file(ts)
    }

    fn new_file(&self, ts: i64) -> Result<Arc<IndexFile>, StoreError> {
        if let Some(last) = self.files.read().unwrap().last() {
            last.flush()?;
        }
        let name = file_name_for(ts);
        let f = Arc::new(IndexFile::open(&self.dir.join(name), self.slots, self.max_entries)?);
        self.files.write().unwrap().push(f.clone());
        Ok(f)
    }

    /// `IndexService.queryOffset`: newest first, up to `max` offsets.
    pub fn query(&self, key: &str, max: usize, begin: i64, end: i64) -> Vec<i64> {
        let files: Vec<_> = self.files.read().unwrap().clone();
        let mut out = Vec::new();
        for f in files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.end_timestamp() < begin || (f.begin_timestamp() > end && f.begin_timestamp() != 0) {
                continue;
            }
            f.select(key, max, begin, end, &mut out);
        }
        out
    }

    /// Drops index files wholly before `min_phy` (the commit log was trimmed).
    pub fn delete_before(&self, min_phy: i64) {
        let mut files = self.files.write().unwrap();
        while files.len() > 1 && files[0].end_phy_offset() < min_phy {
            let f = files.remove(0);
            let _ = std::fs::remove_file(&f.path);
        }
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        if let Some(f) = self.files.read().unwrap().last() {
            f.flush()?;
        }
        Ok(())
    }
}

/// `CommitLogDispatcherBuildIndex`: a message's keys and UNIQ_KEY, except
/// for prepared or rolled-back transaction messages.
impl Dispatcher for IndexService {
    fn name(&self) -> &'static str {
        "index"
    }

    fn essential(&self) -> bool {
        false
    }

    fn dispatch(&self, r: &DispatchRequest) -> Result<(), StoreError> {
        if r.is_prepared_or_rollback() {
            return Ok(());
        }
        self.build(&index_keys(r.topic, r.uniq_key(), r.keys()), r.commit_log_offset, r.store_timestamp)
    }

    fn dispatched_to(&self) -> i64 {
        self.end_phy_offset()
    }

    fn delete_before(&self, min_phy: i64) {
        IndexService::delete_before(self, min_phy)
    }

    fn flush(&self) -> Result<(), StoreError> {
        IndexService::flush(self)
    }
}

/// Index files are named by creation time, `yyyyMMddHHmmssSSS` (local time).
fn file_name_for(ts_ms: i64) -> String {
    let tm = super::os::local_time(ts_ms / 1000);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ts_ms % 1000
    )
}

/// The index keys of a message: `topic#UNIQ_KEY` and `topic#key` for each
/// space-separated key in KEYS.
pub fn index_keys(topic: &str, uniq: Option<&str>, keys: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(u) = uniq.filter(|u| !u.is_empty()) {
        out.push(format!("{topic}#{u}"));
    }
    if let Some(ks) = keys {
        for k in ks.split(' ').filter(|k| !k.is_empty()) {
            out.push(format!("{topic}#{k}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_query_with_collisions_and_rollover() {
        let dir = tempfile::tempdir().unwrap();
        let svc = IndexService::load(dir.path(), 4, 6).unwrap();
        let now = 1_700_000_000_000;
        for i in 0..12 {
            let keys = index_keys("T", Some(&format!("U{i}")), Some(if i % 2 == 0 { "even k" } else { "odd k" }));
            svc.build(&keys, i * 100, now + i * 1000).unwrap();
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().count() > 1, "rolled to new files");
        let mut k = svc.query("T#k", 100, 0, i64::MAX);
        k.sort();
        assert_eq!(k, (0..12).map(|i| i * 100).collect::<Vec<_>>());
        assert_eq!(svc.query("T#U7", 10, 0, i64::MAX), vec![700]);
        let mut even = svc.query("T#even", 100, 0, i64::MAX);
        even.sort();
        assert_eq!(even, vec![0, 200, 400, 600, 800, 1000]);
        assert_eq!(svc.query("T#even", 2, 0, i64::MAX).len(), 2);
        assert!(svc.query("Other#k", 10, 0, i64::MAX).is_empty());
        // Time range filter.
        assert_eq!(svc.query("T#k", 100, now + 10_000, i64::MAX).len(), 2);
        drop(svc);
        let again = IndexService::load(dir.path(), 4, 6).unwrap();
        assert_eq!(again.query("T#U3", 10, 0, i64::MAX), vec![300]);
        assert_eq!(again.end_phy_offset(), 1100);
    }

    #[test]
    fn index_file_is_sparse_and_reserves_what_it_writes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let now = 1_700_000_000_000;
        {
            let svc = IndexService::load(dir.path(), 5_000_000, 20_000_000).unwrap();
            for i in 0..1000 {
                svc.build(&index_keys("T", Some(&format!("U{i}")), None), i * 100, now + i).unwrap();
            }
            svc.flush().unwrap();
        }
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap()).collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].len(), (HEADER_SIZE + 5_000_000 * SLOT_SIZE + 20_000_000 * ENTRY_SIZE) as u64);
        // Header page, at most 1000 slot pages, 5 entry pages.
        let used = files[0].blocks() * 512;
        assert!(used <= 1010 * PAGE as u64, "1000 keys took {used} bytes of disk");
        let svc = IndexService::load(dir.path(), 5_000_000, 20_000_000).unwrap();
        assert_eq!(svc.query("T#U999", 10, 0, i64::MAX), vec![99_900]);
        assert_eq!(svc.query("T#U0", 10, 0, i64::MAX), vec![0]);
        svc.build(&index_keys("T", Some("again"), None), 123, now + 5000).unwrap();
        assert_eq!(svc.query("T#again", 10, 0, i64::MAX), vec![123]);
    }

    #[test]
    fn hash_matches_java() {
        assert_eq!(key_hash("TagA"), 2598919);
        assert!(key_hash("polygenelubricants") >= 0);
    }
}

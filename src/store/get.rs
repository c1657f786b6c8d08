//! The read side: pulls (`getMessage`), queue offsets and times, single
//! records, and key queries.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::message::MessageExt;

use super::consume_queue::{ConsumeQueue, CqEntry};
use super::mapped_file::MappedFile;
use super::MessageStore;

/// `GetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    NoMatchedMessage,
    NoMatchedLogicQueue,
    NoMessageInQueue,
    OffsetFoundNull,
    OffsetOverflowBadly,
    OffsetOverflowOne,
    OffsetTooSmall,
}

pub struct GetResult {
    pub status: GetStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    /// Raw records, in queue order.
    pub messages: Vec<(Arc<MappedFile>, usize, usize)>,
    pub total_bytes: usize,
    /// The pull reads further behind the commit log's end than
    /// `accessMessageInMemoryMaxRatio` percent of physical memory
    /// (`isSuggestPullingFromSlave`).
    pub suggest_pulling_from_slave: bool,
}

impl GetStatus {
    /// The Java `GetMessageStatus` name, which pull responses carry as remark.
    pub fn name(self) -> &'static str {
        match self {
            GetStatus::Found => "FOUND",
            GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
            GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
            GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
        }
    }
}

/// `accessMessageInMemoryMaxRatio` percent of the machine's physical memory
/// (`StoreUtil.TOTAL_PHYSICAL_MEMORY_SIZE`).
fn memory_for_access(ratio: u32) -> i64 {
    static TOTAL: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let total = *TOTAL.get_or_init(|| {
        // SAFETY: sysconf only reads system constants.
        let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
        if pages > 0 && size > 0 {
            pages.saturating_mul(size)
        } else {
            i64::MAX
        }
    });
    (total as f64 * (ratio as f64 / 100.0)) as i64
}

impl GetResult {
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    /// The records as the body of a pull response, in pieces: a run of
    /// records adjacent in the commit log of at least `REFERENCE_MIN` bytes
    /// is a piece of the mapped segment itself (keeping it mapped while it
    /// lives), written to the socket with no copy into a buffer; shorter
    /// runs are copied together into one piece, which costs less than a
    /// reference and an iovec each (measured: referencing every 1 KiB
    /// record made pulls of them slower).
    pub fn body_parts(&self) -> Vec<Bytes> {
        let mut parts = Vec::new();
        let mut copied = BytesMut::new();
        let flush_run = |run: (&Arc<MappedFile>, usize, usize), parts: &mut Vec<Bytes>, copied: &mut BytesMut| {
            let (f, pos, len) = run;
            if len >= REFERENCE_MIN {
                if let Some(b) = f.slice(pos, len) {
                    if !copied.is_empty() {
                        parts.push(copied.split().freeze());
                    }
                    parts.push(b);
                }
            } else if let Some(b) = f.read(pos, len) {
                if copied.capacity() - copied.len() < len {
                    copied.reserve(self.total_bytes.min(MAX_TRANSFER_BYTES));
                }
                copied.put_slice(b);
            }
        };
        let mut run: Option<(&Arc<MappedFile>, usize, usize)> = None;
        for (f, pos, size) in &self.messages {
            match &mut run {
                Some((rf, rpos, rlen)) if Arc::ptr_eq(rf, f) && *rpos + *rlen == *pos => *rlen += size,
                _ => {
                    if let Some(r) = run.take() {
                        flush_run(r, &mut parts, &mut copied);
                    }
                    run = Some((f, *pos, *size));
                }
            }
        }
        if let Some(r) = run {
            flush_run(r, &mut parts, &mut copied);
        }
        if !copied.is_empty() {
            parts.push(copied.freeze());
        }
        parts
    }

    /// The records concatenated (a copy; pull responses use `body_parts`).
    pub fn body(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(self.total_bytes);
        for (f, pos, size) in &self.messages {
            b.put_slice(f.read(*pos, *size).expect("published record"));
        }
        b
    }
}

/// Decides which messages a read returns: first by the consume queue's tag
/// field, then (for property filters) by the stored record.
pub trait MessageMatcher {
    fn by_tags_code(&self, tags_code: i64) -> bool;
    fn by_record(&self, _record: &[u8]) -> bool {
        true
    }
}

impl<F: Fn(i64) -> bool> MessageMatcher for F {
    fn by_tags_code(&self, tags_code: i64) -> bool {
        self(tags_code)
    }
}

/// Limits of one pull, as the Java store's in-memory transfer limits.
/// Limits of one pull, as the Java store's in-memory transfer limits.
const MAX_TRANSFER_BYTES: usize = 256 * 1024;
const MAX_TRANSFER_COUNT: usize = 32;
/// Runs of records at least this long go out referenced, shorter ones copied.
const REFERENCE_MIN: usize = 8 * 1024;
/// Entries scanned per pull at most when a filter skips messages.
const MAX_FILTER_SCAN: i64 = 16000 / 20;

impl MessageStore {
    /// Commit-log offsets of messages stored under `topic#key` within
    /// [begin, end] ms, newest first (QUERY_MESSAGE).
    pub fn query_message_offsets(&self, topic: &str, key: &str, max: usize, begin: i64, end: i64) -> Vec<i64> {
        self.index.query(&format!("{topic}#{key}"), max, begin, end)
    }

    pub fn index_last_update(&self) -> (i64, i64) {
        (self.index.last_update_timestamp(), self.index.end_phy_offset())
    }

    /// Whether `topic`'s queue `queue_id` has a consume queue (`getConsumeQueue` != null).
    pub fn has_consume_queue(&self, topic: &str, queue_id: i32) -> bool {
        self.queues.find(topic, queue_id).is_some()
    }

    /// The consume queue entry at a logical offset.
    pub fn consume_queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<CqEntry> {
        self.queues.find(topic, queue_id)?.get(offset)
    }

    /// Reads up to `max_nums` messages from a queue, keeping those whose tag
    /// hash `filter` accepts (`DefaultMessageStore.getMessage`).
    pub fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_nums: i32,
        filter: &dyn MessageMatcher,
    ) -> GetResult {
        let mut r = GetResult {
            status: GetStatus::NoMatchedLogicQueue,
            next_begin_offset: offset,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            total_bytes: 0,
            suggest_pulling_from_slave: false,
        };
        let Some(cq) = self.queues.find(topic, queue_id) else {
            r.next_begin_offset = 0;
            return r;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            r.status = GetStatus::NoMessageInQueue;
            r.next_begin_offset = 0;
        } else if offset < min {
            r.status = GetStatus::OffsetTooSmall;
            r.next_begin_offset = min;
        } else if offset == max {
            r.status = GetStatus::OffsetOverflowOne;
            r.next_begin_offset = offset;
        } else if offset > max {
            r.status = GetStatus::OffsetOverflowBadly;
            r.next_begin_offset = max;
        } else {
            let max_nums = (max_nums.max(1) as usize).min(MAX_TRANSFER_COUNT);
            let mut next = offset;
            let scan_end = max.min(offset + MAX_FILTER_SCAN.max(max_nums as i64));
            let mut max_phy_pulling = 0;
            while next < scan_end && r.messages.len() < max_nums {
                let Some(e) = cq.get(next) else { break };
                max_phy_pulling = e.phy_offset;
                if !r.messages.is_empty() && r.total_bytes + e.size as usize > MAX_TRANSFER_BYTES {
                    break;
                }
                next += 1;
                if !filter.by_tags_code(e.tags_code) {
                    continue;
                }
                match self.commit_log.read(e.phy_offset, e.size as usize) {
                    Some((f, pos)) => {
                        if !filter.by_record(f.read(pos, e.size as usize).unwrap_or(&[])) {
                            continue;
                        }
                        r.total_bytes += e.size as usize;
                        r.messages.push((f, pos, e.size as usize));
                    }
                    None => {
                        if r.messages.is_empty() {
                            r.status = GetStatus::OffsetFoundNull;
                        }
                        break;
                    }
                }
            }
            r.next_begin_offset = next;
            let behind = self.commit_log.max_offset() - max_phy_pulling;
            r.suggest_pulling_from_slave = behind > memory_for_access(self.config.access_message_in_memory_max_ratio);
            r.status = if !r.messages.is_empty() {
                GetStatus::Found
            } else if r.status == GetStatus::OffsetFoundNull {
                GetStatus::OffsetFoundNull
            } else {
                GetStatus::NoMatchedMessage
            };
        }
        r
    }

    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues.find(topic, queue_id).map_or(0, |cq| cq.max_offset())
    }

    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues.find(topic, queue_id).map_or(0, |cq| cq.min_offset())
    }

    /// The message stored at `phy_offset`.
    pub fn look_message_by_offset(&self, phy_offset: i64) -> Option<MessageExt> {
        let (f, pos, size) = self.commit_log.record_at(phy_offset)?;
        MessageExt::decode(f.read(pos, size)?).ok()
    }

    /// The raw record at `phy_offset`, as a pull body carries it.
    pub fn raw_record(&self, phy_offset: i64) -> Option<bytes::Bytes> {
        let (f, pos, size) = self.commit_log.record_at(phy_offset)?;
        let rec = f.read(pos, size)?;
        // Only whole, valid message records (not a blank end-of-file filler).
        MessageExt::decode(rec).ok()?;
        Some(bytes::Bytes::copy_from_slice(rec))
    }

    fn store_time_at(&self, cq: &ConsumeQueue, offset: i64) -> Option<i64> {
        let e = cq.get(offset)?;
        self.look_message_by_offset(e.phy_offset).map(|m| m.store_timestamp)
    }

    pub fn message_store_timestamp(&self, topic: &str, queue_id: i32, offset: i64) -> i64 {
        self.queues.find(topic, queue_id)
            .and_then(|cq| self.store_time_at(&cq, offset))
            .unwrap_or(-1)
    }

    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues.find(topic, queue_id)
            .and_then(|cq| self.store_time_at(&cq, cq.min_offset()))
            .unwrap_or(-1)
    }

    /// The first queue offset whose message was stored at or after
    /// `timestamp` (max offset when none was).
    pub fn offset_in_queue_by_time(&self, topic: &str, queue_id: i32, timestamp: i64) -> i64 {
        let Some(cq) = self.queues.find(topic, queue_id) else {
            return 0;
        };
        let (mut lo, mut hi) = (cq.min_offset(), cq.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.store_time_at(&cq, mid) {
                Some(t) if t < timestamp => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// Whether the message at `offset` has left memory (`checkInDiskByConsumeOffset`):
    /// it is further behind the commit log's end than 40% of physical memory.
    pub fn check_in_disk_by_consume_offset(&self, topic: &str, queue_id: i32, offset: i64) -> bool {
        let Some(e) = self.queues.find(topic, queue_id).and_then(|cq| cq.get(offset)) else {
            return false;
        };
        let behind = self.commit_log.max_offset() - e.phy_offset;
        behind > (total_physical_memory() as f64 * 0.4) as i64
    }

    /// Store time of the oldest message in the commit log (-1 if empty).
    pub fn earliest_store_time(&self) -> i64 {
        let min = self.commit_log.min_offset();
        self.look_message_by_offset(min).map_or(-1, |m| m.store_timestamp)
    }

    pub fn commit_log_max_offset(&self) -> i64 {
        self.commit_log.max_offset()
    }

    pub fn commit_log_min_offset(&self) -> i64 {
        self.commit_log.min_offset()
    }

}

fn total_physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(8 << 30, |kb| kb * 1024)
}

#[cfg(test)]
mod body_tests {
    use crate::protocol::message::MessageExt;
    use crate::store::tests::{config, msg};
    use crate::store::MessageStore;

    #[test]
    fn body_parts_are_the_records_in_place_adjacent_ones_merged() {
        let dir = tempfile::tempdir().unwrap();
        let s = MessageStore::open(config(dir.path(), 1024)).unwrap();
        // Queue 0 alone, then queues 0 and 1 interleaved; several segments.
        for i in 0..6 {
            s.put_message(&msg("T", 0, &format!("solo-{i}"), "A")).unwrap();
        }
        for i in 0..20 {
            s.put_message(&msg("T", i % 2, &format!("mixed-{i}"), "A")).unwrap();
        }
        let g = s.get_message("T", 0, 0, 32, &|_| true);
        assert_eq!(g.message_count(), 16);
        let parts = g.body_parts();
        let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        assert_eq!(joined, g.body().to_vec());
        // Short records: copied together into one piece.
        assert_eq!(parts.len(), 1);
        let msgs = MessageExt::decode_all(&joined).unwrap();
        assert_eq!(&msgs[0].body[..], b"solo-0");
        assert_eq!(&msgs[15].body[..], b"mixed-18");
    }

    #[test]
    fn long_runs_are_referenced_in_place_short_ones_copied() {
        let dir = tempfile::tempdir().unwrap();
        let s = MessageStore::open(config(dir.path(), 1 << 20)).unwrap();
        let big = "b".repeat(super::REFERENCE_MIN);
        // Queue 0: big, s1, s2, m0 (adjacent: one long run), m2 (alone,
        // between queue 1's m1 and m3), then a big one alone.
        s.put_message(&msg("T", 0, &big, "A")).unwrap();
        s.put_message(&msg("T", 0, "s1", "A")).unwrap();
        s.put_message(&msg("T", 0, "s2", "A")).unwrap();
        for i in 0..4 {
            s.put_message(&msg("T", i % 2, &format!("m{i}"), "A")).unwrap();
        }
        s.put_message(&msg("T", 0, &big, "A")).unwrap();
        let g = s.get_message("T", 0, 0, 32, &|_| true);
        assert_eq!(g.message_count(), 6);
        let parts = g.body_parts();
        let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        assert_eq!(joined, g.body().to_vec());
        assert_eq!(parts.len(), 3, "long run, copied short ones, long record");
        let at = |i: usize| {
            let (f, pos, _) = &g.messages[i];
            f.read(*pos, 1).unwrap().as_ptr()
        };
        assert_eq!(parts[0].as_ptr(), at(0), "referenced, not copied");
        assert_eq!(parts[0].len(), g.messages[..4].iter().map(|m| m.2).sum::<usize>());
        assert_eq!(parts[1].len(), g.messages[4].2);
        assert_ne!(parts[1].as_ptr(), at(4), "copied");
        assert_eq!(parts[2].as_ptr(), at(5), "referenced, not copied");
    }
}

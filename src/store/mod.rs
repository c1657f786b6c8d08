//! The message store: commit log, consume queues, and recovery between them
//! (RocketMQ's `DefaultMessageStore`).

pub mod checkpoint;
pub mod clean;
pub mod commit_log;
pub mod config_file;
pub mod consume_queue;
pub mod index;
pub mod os;
pub mod mapped_file;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::Duration;

use bytes::{BufMut, BytesMut};

use crate::protocol::message::{
    create_message_id, property, sys_flag, tags_code, MessageExt, MessageInner, Properties, PHYSICAL_OFFSET_POS,
    QUEUE_OFFSET_POS,
};
use crate::protocol::{topics, ProtocolError};
use commit_log::CommitLog;
use consume_queue::ConsumeQueue;
pub use consume_queue::CqEntry;
use mapped_file::MappedFile;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    #[error("message of {0} bytes does not fit in a commit log file")]
    MessageTooLarge(usize),
    #[error("message body of {0} bytes exceeds maxMessageSize {1}")]
    BodyTooLarge(usize, usize),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Writes refused: the disk is (nearly) full, or the store is closed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A name the store would turn into a path is not one safe component.
    #[error("invalid name for a store path: {0:?}")]
    InvalidName(String),
}

/// Longest file name most filesystems accept (NAME_MAX).
const MAX_PATH_COMPONENT: usize = 255;

/// Checks that `name` (a topic) is a single safe path component before the
/// store creates anything from it: non-empty, at most 255 bytes, no '/',
/// '\\' or NUL, and not "." or "..". The broker validates names earlier;
/// this is the last line of defense.
pub fn check_path_component(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_PATH_COMPONENT
        && name != "."
        && name != ".."
        && !name.bytes().any(|b| b == b'/' || b == b'\\' || b == 0);
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.chars().take(MAX_PATH_COMPONENT).collect()))
    }
}

/// Maps a failure to reserve disk space to a refused write, marking the
/// disk full (as a full commit log does).
fn enospc_to_unavailable(store: &MessageStore, e: StoreError) -> StoreError {
    match e {
        StoreError::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
            store.set_disk_full(true);
            StoreError::Unavailable(format!("disk full: {io}"))
        }
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDiskType {
    /// Flush every `flush_interval_ms`; a send is acknowledged once in the page cache.
    Async,
    /// Group commit: a send waiting for its store is acknowledged once flushed.
    Sync,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub root: PathBuf,
    pub commit_log_dir: PathBuf,
    pub commit_log_file_size: usize,
    pub consume_queue_file_size: usize,
    pub max_message_size: usize,
    pub store_host: SocketAddr,
    /// Delay of each `messageDelayLevel` level in ms; level n is index n-1.
    pub delay_levels_ms: Vec<i64>,
    pub flush_disk_type: FlushDiskType,
    pub flush_interval_ms: u64,
    pub sync_flush_timeout_ms: u64,
    /// Hours a commit log file is kept (`fileReservedTime`).
    pub file_reserved_hours: u64,
    /// Hours of the day when expired files are deleted (`deleteWhen`, e.g. "04;10").
    pub delete_when: Vec<u32>,
    /// Disk usage (0..1) above which expired files are deleted at any hour.
    pub disk_max_used_ratio: f64,
    /// Disk usage above which the oldest files go even if not expired.
    pub disk_clean_forcibly_ratio: f64,
    /// Disk usage above which writes are refused.
    pub disk_warning_ratio: f64,
    /// Index file hash slots and entries (`maxHashSlotNum`, `maxIndexNum`).
    pub max_hash_slot_num: usize,
    pub max_index_num: usize,
}

impl StoreConfig {
    /// Defaults as the Java broker's `MessageStoreConfig`.
    pub fn new(root: PathBuf, store_host: SocketAddr) -> Self {
        StoreConfig {
            commit_log_dir: root.join("commitlog"),
            root,
            commit_log_file_size: 1 << 30,
            consume_queue_file_size: 300_000 * 20,
            max_message_size: 4 << 20,
            store_host,
            delay_levels_ms: Vec::new(),
            flush_disk_type: FlushDiskType::Async,
            flush_interval_ms: 500,
            sync_flush_timeout_ms: 5000,
            file_reserved_hours: 72,
            delete_when: vec![4],
            disk_max_used_ratio: 0.75,
            disk_clean_forcibly_ratio: 0.85,
            disk_warning_ratio: 0.90,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
        }
    }

    pub fn consume_queue_dir(&self) -> PathBuf {
        self.root.join("consumequeue")
    }
}

/// Where a put landed.
#[derive(Debug, Clone)]
pub struct PutResult {
    /// Offset message ids, one per message.
    pub msg_ids: Vec<String>,
    pub wrote_offset: i64,
    pub queue_offset: i64,
    pub store_timestamp: i64,
    /// Commit log offset just past the last record written.
    pub end_offset: i64,
}

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

impl GetResult {
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    /// The records concatenated: the body of a pull response.
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

/// How much of the commit log's newest data stays mapped in this process;
/// older pages are left to the page cache (consumers near the tail, the
/// common case, read without a fault).
const HOT_TAIL_BYTES: usize = 16 << 20;

/// Limits of one pull, as the Java store's in-memory transfer limits.
const MAX_TRANSFER_BYTES: usize = 256 * 1024;
const MAX_TRANSFER_COUNT: usize = 32;
/// Entries scanned per pull at most when a filter skips messages.
const MAX_FILTER_SCAN: i64 = 16000 / 20;

type ArrivalListener = Box<dyn Fn(&str, i32, i64) + Send + Sync>;

pub struct MessageStore {
    config: StoreConfig,
    commit_log: CommitLog,
    index: index::IndexService,
    queues: RwLock<HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>>,
    /// The single appender: held while placing records and indexing them.
    put_lock: Mutex<()>,
    arrival: OnceLock<ArrivalListener>,
    /// Commit log offset known to be on disk.
    flushed: tokio::sync::watch::Sender<i64>,
    /// Wakes the flush thread (SYNC_FLUSH) or stops it.
    flush_wake: (Mutex<bool>, Condvar),
    disk_full: AtomicBool,
    running: AtomicBool,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl MessageStore {
    /// Opens the store and brings commit log and consume queues into line.
    pub fn open(config: StoreConfig) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&config.root)?;
        let commit_log = CommitLog::load(&config.commit_log_dir, config.commit_log_file_size)?;
        let index = index::IndexService::load(&config.root.join("index"), config.max_hash_slot_num, config.max_index_num)?;
        let store = MessageStore {
            commit_log,
            index,
            queues: RwLock::new(HashMap::new()),
            put_lock: Mutex::new(()),
            arrival: OnceLock::new(),
            flushed: tokio::sync::watch::channel(0).0,
            flush_wake: (Mutex::new(false), Condvar::new()),
            disk_full: AtomicBool::new(false),
            running: AtomicBool::new(true),
            config,
        };
        store.load_consume_queues()?;
        let aborted = checkpoint::previous_run_aborted(&store.config.root);
        let clean_end = checkpoint::read(&store.config.root).and_then(|c| c.clean_max_offset);
        match (aborted, clean_end) {
            (false, Some(end)) if store.commit_log.set_clean_end(end) => {
                let max_phy = store.commit_log.max_offset();
                for cq in store.all_consume_queues() {
                    cq.truncate_dirty(max_phy)?;
                }
                tracing::info!(end, "clean shutdown found: store loaded without a scan");
            }
            _ => {
                if aborted {
                    tracing::warn!("the last run did not stop cleanly; recovering the commit log");
                }
                store.recover()?;
            }
        }
        // Until the next clean stop, a crash must force the recovery scan.
        checkpoint::create_abort(&store.config.root)?;
        store.write_checkpoint(None)?;
        store.flushed.send_replace(store.commit_log.max_offset());
        Ok(store)
    }

    fn write_checkpoint(&self, clean_end: Option<i64>) -> Result<(), StoreError> {
        let now = now_ms();
        checkpoint::write(
            &self.config.root,
            &checkpoint::Checkpoint {
                physic_msg_timestamp: now,
                logics_msg_timestamp: now,
                index_msg_timestamp: now,
                clean_max_offset: clean_end,
            },
        )
    }

    fn all_consume_queues(&self) -> Vec<Arc<ConsumeQueue>> {
        self.queues.read().unwrap().values().flat_map(|m| m.values().cloned()).collect()
    }

    /// Starts the flush thread and the disk/retention thread.
    pub fn start_services(self: &Arc<Self>) {
        let me = self.clone();
        std::thread::Builder::new()
            .name("ferromq-flush".into())
            .spawn(move || me.flush_loop())
            .expect("spawn flush thread");
        clean::spawn(self);
    }

    fn flush_loop(&self) {
        let (lock, cv) = &self.flush_wake;
        let wait = match self.config.flush_disk_type {
            // Group commit: flush as soon as someone waits; the timeout is a safety net.
            FlushDiskType::Sync => Duration::from_millis(10),
            FlushDiskType::Async => Duration::from_millis(self.config.flush_interval_ms.max(1)),
        };
        let mut last_cq_flush = std::time::Instant::now();
        while self.running.load(Ordering::Acquire) {
            {
                let mut woken = lock.lock().unwrap();
                if !*woken {
                    woken = cv.wait_timeout(woken, wait).unwrap().0;
                }
                *woken = false;
            }
            let target = self.commit_log.max_offset();
            match self.commit_log.flush() {
                Ok(()) => {
                    self.flushed.send_if_modified(|f| {
                        let moved = target > *f;
                        *f = (*f).max(target);
                        moved
                    });
                }
                Err(e) => tracing::error!("commit log flush failed: {e}"),
            }
            self.commit_log.release_cold(HOT_TAIL_BYTES);
            if last_cq_flush.elapsed() >= Duration::from_secs(1) {
                last_cq_flush = std::time::Instant::now();
                for cq in self.all_consume_queues() {
                    if let Err(e) = cq.flush() {
                        tracing::error!("consume queue flush failed: {e}");
                    }
                }
            }
        }
    }

    pub fn flush_disk_type(&self) -> FlushDiskType {
        self.config.flush_disk_type
    }

    /// Waits until the commit log is on disk up to `offset`; false when
    /// `syncFlushTimeout` passes first.
    pub async fn wait_flushed(&self, offset: i64) -> bool {
        {
            let (lock, cv) = &self.flush_wake;
            *lock.lock().unwrap() = true;
            cv.notify_one();
        }
        let mut rx = self.flushed.subscribe();
        let timeout = Duration::from_millis(self.config.sync_flush_timeout_ms);
        tokio::time::timeout(timeout, rx.wait_for(|f| *f >= offset)).await.is_ok_and(|r| r.is_ok())
    }

    /// Flushes everything and marks the stop clean (graceful shutdown).
    pub fn shutdown(&self) -> Result<(), StoreError> {
        let _appender = self.put_lock.lock().unwrap();
        self.running.store(false, Ordering::Release);
        self.flush_wake.1.notify_all();
        self.flush()?;
        self.write_checkpoint(Some(self.commit_log.max_offset()))?;
        checkpoint::remove_abort(&self.config.root)
    }

    pub fn is_disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Acquire)
    }

    pub(crate) fn set_disk_full(&self, full: bool) {
        if self.disk_full.swap(full, Ordering::AcqRel) != full {
            if full {
                tracing::error!("disk full: refusing writes until space is freed");
            } else {
                tracing::info!("disk space available again: accepting writes");
            }
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Called with (topic, queue id, new max offset) after each put.
    pub fn set_arrival_listener(&self, f: impl Fn(&str, i32, i64) + Send + Sync + 'static) {
        let _ = self.arrival.set(Box::new(f));
    }

    fn load_consume_queues(&self) -> Result<(), StoreError> {
        let dir = self.config.consume_queue_dir();
        if !dir.exists() {
            return Ok(());
        }
        let mut queues = self.queues.write().unwrap();
        for topic in std::fs::read_dir(&dir)? {
            let topic = topic?;
            if !topic.file_type()?.is_dir() {
                continue;
            }
            let name = topic.file_name().to_string_lossy().into_owned();
            for q in std::fs::read_dir(topic.path())? {
                let q = q?;
                let Ok(qid) = q.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cq = ConsumeQueue::load(&q.path(), self.config.consume_queue_file_size)?;
                queues.entry(name.clone()).or_default().insert(qid, Arc::new(cq));
            }
        }
        Ok(())
    }

    /// Re-indexes commit-log records the consume queues lack and drops
    /// entries that point past the commit log.
    fn recover(&self) -> Result<(), StoreError> {
        let from = {
            let queues = self.queues.read().unwrap();
            queues
                .values()
                .flat_map(|m| m.values())
                .filter_map(|cq| cq.last_phy_end())
                .max()
                .unwrap_or(0)
        };
        let index_end = self.index.end_phy_offset();
        let records = self.commit_log.recover(from.min(index_end))?;
        let max_phy = self.commit_log.max_offset();
        for cq in self.queues.read().unwrap().values().flat_map(|m| m.values()) {
            cq.truncate_dirty(max_phy)?;
        }
        let mut rebuilt = 0;
        for r in records {
            let Some((file, pos)) = self.commit_log.read(r.offset, r.size) else {
                continue;
            };
            let m = MessageExt::decode(file.read(pos, r.size).unwrap())?;
            if r.offset >= index_end {
                self.index_message(&m.topic, m.sys_flag, &m.properties, r.offset, m.store_timestamp)?;
            }
            if r.offset < from {
                continue;
            }
            if let Err(e) = check_path_component(&m.topic) {
                tracing::warn!(offset = r.offset, "record not indexed in a consume queue: {e}");
                continue;
            }
            let cq = self.consume_queue(&m.topic, m.queue_id)?;
            let max = cq.max_offset();
            if m.queue_offset == max || (max == 0 && cq.min_offset() == 0) {
                cq.append(
                    m.queue_offset,
                    CqEntry {
                        phy_offset: r.offset,
                        size: r.size as i32,
                        tags_code: self.cq_tags_code(&m.topic, &m.properties, m.store_timestamp),
                    },
                )?;
                rebuilt += 1;
            } else if m.queue_offset > max {
                tracing::warn!(topic = %m.topic, queue = m.queue_id, offset = m.queue_offset, max, "gap in consume queue");
            }
        }
        if rebuilt > 0 {
            tracing::info!(rebuilt, "consume queue entries rebuilt from the commit log");
        }
        Ok(())
    }

    fn find_consume_queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues.read().unwrap().get(topic)?.get(&queue_id).cloned()
    }

    fn consume_queue(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(cq) = self.find_consume_queue(topic, queue_id) {
            return Ok(cq);
        }
        check_path_component(topic)?;
        let mut queues = self.queues.write().unwrap();
        let by_id = queues.entry(topic.to_string()).or_default();
        if let Some(cq) = by_id.get(&queue_id) {
            return Ok(cq.clone());
        }
        let dir = self.config.consume_queue_dir().join(topic).join(queue_id.to_string());
        let cq = Arc::new(ConsumeQueue::load(&dir, self.config.consume_queue_file_size)?);
        by_id.insert(queue_id, cq.clone());
        Ok(cq)
    }

    /// Stores one message.
    pub fn put_message(&self, msg: &MessageInner) -> Result<PutResult, StoreError> {
        self.put_messages(std::slice::from_ref(msg))
    }

    /// Stores messages of one topic/queue contiguously with consecutive
    /// queue offsets (a batch).
    pub fn put_messages(&self, msgs: &[MessageInner]) -> Result<PutResult, StoreError> {
        let delayed: Vec<MessageInner>;
        let msgs = match msgs.iter().any(|m| self.delay_level(m).is_some()) {
            true => {
                delayed = msgs.iter().map(|m| self.to_schedule_topic(m)).collect();
                &delayed[..]
            }
            false => msgs,
        };
        let first = msgs.first().ok_or_else(|| StoreError::Corrupt("empty batch".into()))?;
        if !self.running.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("message store has been shut down".into()));
        }
        if self.is_disk_full() {
            return Err(StoreError::Unavailable("disk full".into()));
        }
        let store_timestamp = now_ms();
        let mut buf = Vec::new();
        let mut bounds = Vec::with_capacity(msgs.len());
        for m in msgs {
            if m.body.len() > self.config.max_message_size {
                return Err(StoreError::BodyTooLarge(m.body.len(), self.config.max_message_size));
            }
            let start = buf.len();
            m.encode_record(store_timestamp, &mut buf)?;
            bounds.push((start, buf.len() - start, self.cq_tags_code(&m.topic, &m.properties, store_timestamp)));
        }
        let cq = self.consume_queue(&first.topic, first.queue_id)?;
        let (wrote_offset, queue_offset) = {
            let _appender = self.put_lock.lock().unwrap();
            let queue_offset = cq.max_offset();
            // Consume queue blocks first: once the commit log holds the
            // records, their entries must not fail for want of space.
            cq.reserve(queue_offset, msgs.len()).map_err(|e| enospc_to_unavailable(self, e))?;
            let place = self.commit_log.reserve(buf.len()).map_err(|e| enospc_to_unavailable(self, e))?;
            for (i, (start, _, _)) in bounds.iter().enumerate() {
                let qo = queue_offset + i as i64;
                let po = place.offset + *start as i64;
                buf[start + QUEUE_OFFSET_POS..start + QUEUE_OFFSET_POS + 8].copy_from_slice(&qo.to_be_bytes());
                buf[start + PHYSICAL_OFFSET_POS..start + PHYSICAL_OFFSET_POS + 8].copy_from_slice(&po.to_be_bytes());
            }
            place.file.append(&buf);
            for (i, ((start, size, tags), m)) in bounds.iter().zip(msgs).enumerate() {
                let phy_offset = place.offset + *start as i64;
                cq.append(queue_offset + i as i64, CqEntry { phy_offset, size: *size as i32, tags_code: *tags })?;
                if let Err(e) = self.index_message(&m.topic, m.sys_flag, &m.properties, phy_offset, store_timestamp) {
                    tracing::warn!("indexing message keys failed: {e}");
                }
            }
            (place.offset, queue_offset)
        };
        if let Some(notify) = self.arrival.get() {
            notify(&first.topic, first.queue_id, queue_offset + msgs.len() as i64);
        }
        let msg_ids = bounds
            .iter()
            .map(|(start, _, _)| create_message_id(&self.config.store_host, wrote_offset + *start as i64))
            .collect();
        Ok(PutResult { msg_ids, wrote_offset, queue_offset, store_timestamp, end_offset: wrote_offset + buf.len() as i64 })
    }

    /// Indexes a message's keys and UNIQ_KEY (not prepared or rolled-back
    /// transaction messages, as `IndexService.buildIndex`).
    fn index_message(&self, topic: &str, sys: i32, props: &Properties, phy_offset: i64, ts: i64) -> Result<(), StoreError> {
        let tran = sys & sys_flag::TRANSACTION_MASK;
        if tran == sys_flag::TRANSACTION_PREPARED || tran == sys_flag::TRANSACTION_ROLLBACK {
            return Ok(());
        }
        let keys = index::index_keys(topic, props.get(property::UNIQ_KEY), props.get(property::KEYS));
        self.index.build(&keys, phy_offset, ts)
    }

    /// Commit-log offsets of messages stored under `topic#key` within
    /// [begin, end] ms, newest first (QUERY_MESSAGE).
    pub fn query_message_offsets(&self, topic: &str, key: &str, max: usize, begin: i64, end: i64) -> Vec<i64> {
        self.index.query(&format!("{topic}#{key}"), max, begin, end)
    }

    pub fn index_last_update(&self) -> (i64, i64) {
        (self.index.last_update_timestamp(), self.index.end_phy_offset())
    }

    /// The delay level a message asks for, clamped to the highest level;
    /// none for prepared or rolled-back transaction messages.
    fn delay_level(&self, m: &MessageInner) -> Option<i32> {
        let tran = m.sys_flag & sys_flag::TRANSACTION_MASK;
        if tran == sys_flag::TRANSACTION_PREPARED || tran == sys_flag::TRANSACTION_ROLLBACK {
            return None;
        }
        let level: i32 = m.properties.get(property::DELAY_TIME_LEVEL)?.trim().parse().ok()?;
        (level > 0 && !self.config.delay_levels_ms.is_empty())
            .then(|| level.min(self.config.delay_levels_ms.len() as i32))
    }

    /// Moves a delayed message to `SCHEDULE_TOPIC_XXXX`, queue level-1,
    /// keeping its real topic and queue in properties (as `CommitLog` does).
    fn to_schedule_topic(&self, m: &MessageInner) -> MessageInner {
        let Some(level) = self.delay_level(m) else {
            return m.clone();
        };
        let mut out = m.clone();
        out.properties.put(property::DELAY_TIME_LEVEL, level.to_string());
        out.properties.put(property::REAL_TOPIC, m.topic.clone());
        out.properties.put(property::REAL_QUEUE_ID, m.queue_id.to_string());
        out.topic = topics::SCHEDULE_TOPIC.to_string();
        out.queue_id = level - 1;
        out
    }

    /// The consume queue's tag field: the tag hash, or for delayed messages
    /// the time they are due.
    fn cq_tags_code(&self, topic: &str, props: &Properties, store_timestamp: i64) -> i64 {
        if topic == topics::SCHEDULE_TOPIC {
            if let Some(level) = props.get(property::DELAY_TIME_LEVEL).and_then(|l| l.parse::<usize>().ok()) {
                if let Some(delay) = self.config.delay_levels_ms.get(level.saturating_sub(1)) {
                    return store_timestamp + delay;
                }
            }
        }
        tags_code(props.get(property::TAGS))
    }

    pub fn delay_levels_ms(&self) -> &[i64] {
        &self.config.delay_levels_ms
    }

    /// The consume queue entry at a logical offset.
    pub fn consume_queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<CqEntry> {
        self.find_consume_queue(topic, queue_id)?.get(offset)
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
        };
        let Some(cq) = self.find_consume_queue(topic, queue_id) else {
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
            while next < scan_end && r.messages.len() < max_nums {
                let Some(e) = cq.get(next) else { break };
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
        self.find_consume_queue(topic, queue_id).map_or(0, |cq| cq.max_offset())
    }

    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.find_consume_queue(topic, queue_id).map_or(0, |cq| cq.min_offset())
    }

    /// The message stored at `phy_offset`.
    pub fn look_message_by_offset(&self, phy_offset: i64) -> Option<MessageExt> {
        let size = self.commit_log.record_size_at(phy_offset)?;
        let (f, pos) = self.commit_log.read(phy_offset, size)?;
        MessageExt::decode(f.read(pos, size)?).ok()
    }

    /// The raw record at `phy_offset`, as a pull body carries it.
    pub fn raw_record(&self, phy_offset: i64) -> Option<bytes::Bytes> {
        let size = self.commit_log.record_size_at(phy_offset)?;
        let (f, pos) = self.commit_log.read(phy_offset, size)?;
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
        self.find_consume_queue(topic, queue_id)
            .and_then(|cq| self.store_time_at(&cq, offset))
            .unwrap_or(-1)
    }

    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> i64 {
        self.find_consume_queue(topic, queue_id)
            .and_then(|cq| self.store_time_at(&cq, cq.min_offset()))
            .unwrap_or(-1)
    }

    /// The first queue offset whose message was stored at or after
    /// `timestamp` (max offset when none was).
    pub fn offset_in_queue_by_time(&self, topic: &str, queue_id: i32, timestamp: i64) -> i64 {
        let Some(cq) = self.find_consume_queue(topic, queue_id) else {
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
        let Some(e) = self.find_consume_queue(topic, queue_id).and_then(|cq| cq.get(offset)) else {
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

    /// Drops a deleted topic's consume queues (`cleanUnusedTopic`); its
    /// messages stay in the commit log until retention removes them.
    pub fn delete_topic(&self, topic: &str) {
        if check_path_component(topic).is_err() {
            return; // never a path of ours
        }
        let removed = self.queues.write().unwrap().remove(topic);
        if removed.is_some() {
            let dir = self.config.consume_queue_dir().join(topic);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), "removing consume queues of a deleted topic failed: {e}");
            }
        }
    }

    /// Topics that have consume queues on disk.
    pub fn topics(&self) -> Vec<String> {
        self.queues.read().unwrap().keys().cloned().collect()
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.commit_log.flush()?;
        self.index.flush()?;
        for cq in self.all_consume_queues() {
            cq.flush()?;
        }
        self.flushed.send_replace(self.commit_log.max_offset());
        Ok(())
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
mod tests;

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in ["T", "%RETRY%g", "a.b-c_d", ".hidden", "..x", &"t".repeat(255)] {
            assert!(check_path_component(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", ".", "..", "a/b", "/abs", "../up", "a\\b", "a\0b", &"t".repeat(256)] {
            assert!(matches!(check_path_component(bad), Err(StoreError::InvalidName(_))), "{bad:?}");
        }
    }

    #[test]
    fn traversal_topic_is_refused_and_creates_nothing() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("store");
        let cfg = StoreConfig {
            commit_log_file_size: 1 << 16,
            consume_queue_file_size: 20 * 100,
            max_hash_slot_num: 64,
            max_index_num: 256,
            ..StoreConfig::new(root.clone(), "127.0.0.1:10911".parse().unwrap())
        };
        let store = MessageStore::open(cfg.clone()).unwrap();
        let listing = |p: &std::path::Path| {
            let mut v: Vec<_> = walk(p);
            v.sort();
            v
        };
        let before = listing(outer.path());
        for topic in ["..", "../../escape", "a/b", "."] {
            let m = MessageInner {
                topic: topic.into(),
                queue_id: 0,
                flag: 0,
                sys_flag: 0,
                body: bytes::Bytes::from_static(b"x"),
                properties: Properties::default(),
                born_timestamp: 1,
                born_host: "127.0.0.1:5000".parse().unwrap(),
                store_host: "127.0.0.1:10911".parse().unwrap(),
                reconsume_times: 0,
                prepared_transaction_offset: 0,
            };
            assert!(matches!(store.put_message(&m), Err(StoreError::InvalidName(_))), "{topic:?}");
            store.delete_topic(topic);
        }
        assert_eq!(store.commit_log_max_offset(), 0, "nothing reached the commit log");
        assert_eq!(listing(outer.path()), before, "no file created or removed");
        assert!(root.exists());
        store.shutdown().unwrap();
        drop(store);
        let store = MessageStore::open(cfg).unwrap();
        assert!(store.topics().is_empty());
    }

    fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![p.to_path_buf()];
        if p.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                out.extend(walk(&e.unwrap().path()));
            }
        }
        out
    }
}

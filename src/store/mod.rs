//! The message store: commit log, consume queues, and recovery between them
//! (RocketMQ's `DefaultMessageStore`). This file holds the store's state and
//! its opening and closing; `put`, `get`, `recovery` and `flush` hold the
//! paths of those names, and `dispatch` the trait of derived data.

pub mod allocate;
pub mod checkpoint;
pub mod clean;
pub mod commit_log;
pub mod config_file;
pub mod consume_queue;
pub mod dispatch;
mod flush;
mod get;
pub mod ha;
pub mod index;
pub mod mapped_file;
pub mod mapped_file_queue;
pub mod os;
mod put;
pub mod queue_set;
mod recovery;
pub mod timer;
pub mod warm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::protocol::ProtocolError;
use commit_log::CommitLog;
pub use consume_queue::CqEntry;
pub use dispatch::{DispatchRequest, Dispatcher};
pub use get::{GetResult, GetStatus, MessageMatcher};
use index::IndexService;
pub use put::{PutHook, PutResult};
use queue_set::ConsumeQueueSet;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDiskType {
    /// Flush every `flush_interval_ms`; a send is acknowledged once in the page cache.
    Async,
    /// Group commit: a send waiting for its store is acknowledged once flushed.
    Sync,
}

/// Default `commitLogWarmAheadMb` (see `warm`).
pub const DEFAULT_WARM_AHEAD_MB: usize = 32;

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub root: PathBuf,
    pub commit_log_dir: PathBuf,
    pub commit_log_file_size: usize,
    pub consume_queue_file_size: usize,
    pub max_message_size: usize,
    pub store_host: SocketAddr,
    /// Not read by the store: delay levels are broker policy (see
    /// `broker::schedule`). Kept so the config builder can still set it.
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
    /// Role and replication settings.
    pub ha: ha::HaConfig,
    /// `accessMessageInMemoryMaxRatio`: a pull further behind than this
    /// percent of physical memory is pointed at a slave (see `slaveReadEnable`).
    pub access_message_in_memory_max_ratio: u32,
    /// `commitLogWarmAheadMb` in bytes: how far beyond the write position
    /// commit log pages are kept faulted in off the put path (0: off).
    pub commit_log_warm_ahead: usize,
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
            ha: ha::HaConfig::default(),
            access_message_in_memory_max_ratio: 40,
            commit_log_warm_ahead: DEFAULT_WARM_AHEAD_MB << 20,
        }
    }

    pub fn consume_queue_dir(&self) -> PathBuf {
        self.root.join("consumequeue")
    }
}

/// What the owner of the store plugs into it at open: broker policy on the
/// put path, and derived data beyond the consume queues and the index.
#[derive(Default)]
pub struct StoreExtensions {
    pub put_hook: Option<Arc<dyn PutHook>>,
    /// Fed after the consume queues and the index, and recovered with them.
    pub dispatchers: Vec<Arc<dyn Dispatcher>>,
}

type ArrivalListener = Box<dyn Fn(&str, i32, i64) + Send + Sync>;

pub struct MessageStore {
    config: StoreConfig,
    commit_log: CommitLog,
    index: Arc<IndexService>,
    queues: Arc<ConsumeQueueSet>,
    /// Everything derived from the commit log: the consume queues first,
    /// then the index, then any extension.
    dispatchers: Vec<Arc<dyn Dispatcher>>,
    put_hook: Option<Arc<dyn PutHook>>,
    /// The single appender: held while placing records and dispatching them.
    put_lock: Mutex<()>,
    /// One retention round at a time (the clean service and the admin
    /// command): a round judges files before it takes them out.
    clean_lock: Mutex<()>,
    arrival: OnceLock<ArrivalListener>,
    /// Commit log offset known to be on disk.
    flushed: tokio::sync::watch::Sender<i64>,
    /// Wakes the flush thread (SYNC_FLUSH) or stops it.
    flush_wake: (Mutex<bool>, Condvar),
    disk_full: AtomicBool,
    running: AtomicBool,
    ha: ha::HaState,
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
        Self::open_with(config, StoreExtensions::default())
    }

    /// As `open`, with a put hook and further dispatchers, which recovery
    /// already uses.
    pub fn open_with(config: StoreConfig, ext: StoreExtensions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&config.root)?;
        let commit_log = CommitLog::load_with(&config.commit_log_dir, config.commit_log_file_size, config.commit_log_warm_ahead)?;
        let index = Arc::new(IndexService::load(&config.root.join("index"), config.max_hash_slot_num, config.max_index_num)?);
        let queues = Arc::new(ConsumeQueueSet::load(config.consume_queue_dir(), config.consume_queue_file_size)?);
        let mut dispatchers: Vec<Arc<dyn Dispatcher>> = vec![queues.clone(), index.clone()];
        dispatchers.extend(ext.dispatchers);
        let store = MessageStore {
            commit_log,
            index,
            queues,
            dispatchers,
            put_hook: ext.put_hook,
            put_lock: Mutex::new(()),
            clean_lock: Mutex::new(()),
            arrival: OnceLock::new(),
            flushed: tokio::sync::watch::channel(0).0,
            flush_wake: (Mutex::new(false), Condvar::new()),
            disk_full: AtomicBool::new(false),
            running: AtomicBool::new(true),
            ha: ha::HaState::new(config.ha.clone()),
            config,
        };
        let aborted = checkpoint::previous_run_aborted(&store.config.root);
        let clean_end = checkpoint::read(&store.config.root).and_then(|c| c.clean_max_offset);
        match (aborted, clean_end) {
            (false, Some(end)) if store.commit_log.set_clean_end(end) => {
                let max_phy = store.commit_log.max_offset();
                for d in &store.dispatchers {
                    d.truncate_dirty(max_phy)?;
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

    /// Starts the flush thread and the disk/retention thread.
    pub fn start_services(self: &Arc<Self>) {
        let me = self.clone();
        std::thread::Builder::new()
            .name("ferromq-flush".into())
            .spawn(move || me.flush_loop())
            .expect("spawn flush thread");
        clean::spawn(self);
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

    /// Waits until the background allocator has no segment in preparation
    /// (false on timeout). Lets a caller observe disk usage that is not
    /// about to change under it, as the full-disk tests must.
    pub fn wait_allocator_idle(&self, timeout: std::time::Duration) -> bool {
        self.commit_log.allocator().wait_idle(timeout)
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

    /// Drops a deleted topic's consume queues (`cleanUnusedTopic`); its
    /// messages stay in the commit log until retention removes them.
    pub fn delete_topic(&self, topic: &str) {
        self.queues.remove_topic(topic);
    }

    /// Topics that have consume queues on disk.
    pub fn topics(&self) -> Vec<String> {
        self.queues.topics()
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod path_tests {
    use super::*;
    use crate::protocol::message::{MessageInner, Properties};

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

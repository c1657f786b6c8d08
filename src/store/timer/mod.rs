//! Timer messages (Java 5's `TimerMessageStore`): a message to be delivered
//! at a given time is stored in the commit log under [`TIMER_TOPIC`] with its
//! time in `TIMER_OUT_MS` and its real topic and queue in properties, so it
//! is replicated and recovered like any other. This dispatcher links each
//! such record into the [`TimerWheel`] slot of its time through the
//! [`TimerLog`]; the broker's delivery service walks due slots and puts the
//! messages back to their real topics.
//!
//! Delivery is recorded by the delivered message itself: it carries the
//! timer's commit log offset in [`TIMER_ORIGIN`], and this dispatcher notes
//! those of the slot being delivered. The checkpoint keeps where that slot's
//! first delivery is in the commit log, so after a crash recovery replays
//! from there and the service knows which timers of the slot are already
//! out: each is delivered once, whatever the moment of the crash.
//!
//! A timer can reach this dispatcher after the service has walked past its
//! slot (its put straddled the slot's boundary and the write lagged, or the
//! clock stepped back): it is due, so it is linked into the slot the service
//! walks next rather than behind it, and the service advances past a slot
//! only if nothing was linked into it while it delivered it. A delivery is
//! keyed by the slot its timer is linked into, read back from the log, so
//! that a timer linked late is known delivered too.
//!
//! Retention asks [`TimerStore::pending_in`] before deleting a commit log
//! file, so that a timer's message stays until it is delivered (unless the
//! disk forces the deletion), and trims the log's front in
//! `delete_before`: the blocks holding only records of delivered timers are
//! punched out, every position staying where it was.

pub mod log;
pub mod wheel;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::dispatch::{DispatchRequest, Dispatcher};
use crate::protocol::message::property::REAL_TOPIC;
use crate::protocol::message::MessageExt;
use super::StoreError;
use log::{decode, TimerLog, TimerRecord, PUNCH_BLOCK, RECORD_SIZE};
use wheel::{Slot, TimerWheel};

pub use crate::protocol::topics::TIMER_TOPIC;

/// Property names of `MessageConst` (5.x) for timers.
pub mod property {
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
    pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
    pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
    /// Alibaba Cloud SDK's absolute delivery time (epoch ms).
    pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
    pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
    pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
    pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
}

/// ferromq's own: on a delivered message, the commit log offset of the timer
/// message it came from.
pub const TIMER_ORIGIN: &str = "TIMER_ORIGIN_OFFSET";

/// Largest wheel accepted (slots of 24 bytes: 1.5 GiB of sparse file).
pub const MAX_SLOTS: u64 = 1 << 26;

#[derive(Debug, Clone, Copy)]
pub struct TimerConfig {
    pub precision_ms: i64,
    pub max_delay_ms: i64,
}

impl TimerConfig {
    /// Twice the longest delay (and some): a slot is reused only when every
    /// timer it held is long due.
    pub fn slots(&self) -> u64 {
        (2 * self.max_delay_ms / self.precision_ms) as u64 + 16
    }

    pub fn span_ms(&self) -> i64 {
        self.slots() as i64 * self.precision_ms
    }

    /// The slot time a delivery time falls in: rounded up, so that no
    /// message leaves before its time.
    pub fn slot_of(&self, deliver_ms: i64) -> i64 {
        let p = self.precision_ms;
        deliver_ms.div_euclid(p) * p + if deliver_ms.rem_euclid(p) == 0 { 0 } else { p }
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    precision_ms: i64,
    slots: u64,
    /// Every commit log record before this offset was dispatched here.
    seen_to: i64,
    /// All slots before this time are delivered.
    cursor_ms: i64,
    /// The slot of the newest delivery, the commit log offset of its first
    /// delivered message, and origin -> delivered offset of its deliveries.
    delivered_slot_ms: i64,
    delivered_first_phy: i64,
    delivered: Vec<(i64, i64)>,
    /// Pending timers per real topic, counting records before `seen_to`.
    pending: HashMap<String, i64>,
}

impl Inner {
    /// The slot the delivery service walks next: every slot before it is
    /// delivered (or being delivered, for `delivered_slot_ms`).
    fn walk_slot(&self, cfg: &TimerConfig) -> i64 {
        cfg.slot_of(self.cursor_ms.max(self.delivered_slot_ms))
    }

    /// The slot the timer at commit log offset `origin` is linked into, if
    /// the log still holds it. The log is in commit log order: a binary
    /// search over its readable part.
    fn linked_slot(&self, origin: i64) -> Option<i64> {
        let (mut lo, mut hi) = (self.log.front() / RECORD_SIZE, self.log.len() / RECORD_SIZE);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let r = match self.log.read(mid * RECORD_SIZE) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(origin, "timer log unreadable looking up a delivered timer: {e}");
                    return None;
                }
            };
            match r.phy_offset.cmp(&origin) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(r.deliver_ms),
            }
        }
        None
    }
}

struct Inner {
    log: TimerLog,
    wheel: TimerWheel,
    /// Commit log offset of the newest record in the log, -1 for none.
    log_max_phy: i64,
    seen_to: i64,
    /// `seen_to` of the checkpoint read at open: counts already hold the
    /// records before it, so recovery's replay does not count them again.
    counted_to: i64,
    cursor_ms: i64,
    delivered_slot_ms: i64,
    delivered_first_phy: i64,
    delivered: HashMap<i64, i64>,
    pending: HashMap<String, i64>,
    /// Every record before this log position is of a delivered timer: scans
    /// for pending timers start here rather than at the log's front.
    settled: u64,
}

/// Delivery progress at one moment. It only moves forward (recovery aside),
/// so a timer this calls delivered stays delivered.
struct Progress {
    cursor_ms: i64,
    slot_ms: i64,
    origins: HashSet<i64>,
}

impl Progress {
    /// Not yet delivered: its slot is not behind the delivery cursor nor
    /// the slot being delivered, and if it is that slot, not among its
    /// deliveries.
    fn pending(&self, r: &TimerRecord) -> bool {
        let slot = r.deliver_ms;
        !(slot < self.cursor_ms || slot < self.slot_ms || (slot == self.slot_ms && self.origins.contains(&r.phy_offset)))
    }
}

/// What a scan of the log works on, taken under the lock: records in
/// `front..len` are whole and never change (only a trim, which the scans
/// exclude, punches them).
struct LogView {
    front: u64,
    len: u64,
    settled: u64,
    progress: Progress,
}

pub struct TimerStore {
    cfg: TimerConfig,
    inner: Mutex<Inner>,
    /// A second handle on the log: records never change once written, so
    /// the delivery service reads them without the lock.
    reader: File,
    /// Handles to sync the wheel and the log with, outside the lock.
    wheel_file: File,
    checkpoint: PathBuf,
    /// What the last checkpoint held (see `write_checkpoint`).
    last_written: Mutex<Option<CheckpointKey>>,
    /// Held by retention's scans and the punch, so that no scan reads a
    /// record while it is being punched.
    trim: Mutex<()>,
}

/// A checkpoint is written again only when one of these changed; the
/// delivery cursor counts by the minute (a stale one only lengthens the
/// rescan of empty slots at restart).
type CheckpointKey = (i64, i64, i64, usize, i64);

impl TimerStore {
    /// Opens (or creates) `<dir>/wheel`, `<dir>/log` and `<dir>/checkpoint.json`.
    pub fn open(dir: &Path, cfg: TimerConfig) -> Result<Self, StoreError> {
        if cfg.precision_ms <= 0 || cfg.max_delay_ms <= 0 || cfg.slots() > MAX_SLOTS {
            return Err(StoreError::Corrupt(format!("timer wheel of {} slots is beyond {MAX_SLOTS}", cfg.slots())));
        }
        std::fs::create_dir_all(dir)?;
        let checkpoint = dir.join("checkpoint.json");
        let ck: Checkpoint = match std::fs::read(&checkpoint) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Corrupt(format!("{}: {e}", checkpoint.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => return Err(e.into()),
        };
        let log = TimerLog::open(&dir.join("log"))?;
        if !log.is_empty() && ck.precision_ms != 0 && (ck.precision_ms, ck.slots) != (cfg.precision_ms, cfg.slots()) {
            return Err(StoreError::Corrupt(format!(
                "the timer wheel was built for timerPrecisionMs={} with {} slots: set timerPrecisionMs and timerMaxDelaySec back (to change them, stop while timerPendingCount is 0 and remove the timer directory)",
                ck.precision_ms, ck.slots
            )));
        }
        let wheel = TimerWheel::open(&dir.join("wheel"), cfg.slots(), cfg.precision_ms)?;
        let reader = File::open(dir.join("log"))?;
        let wheel_file = File::open(dir.join("wheel"))?;
        let inner = Inner {
            log_max_phy: log.last().map_or(-1, |(_, r)| r.phy_offset),
            settled: log.front(),
            wheel,
            seen_to: ck.seen_to,
            counted_to: ck.seen_to,
            // A new wheel has nothing before now.
            cursor_ms: if ck.precision_ms == 0 && log.is_empty() { super::now_ms() } else { ck.cursor_ms },
            log,
            delivered_slot_ms: ck.delivered_slot_ms,
            delivered_first_phy: ck.delivered_first_phy,
            delivered: ck.delivered.into_iter().collect(),
            pending: ck.pending,
        };
        // A crash between the log append and the wheel write: link the last record.
        if let Some((pos, r)) = inner.log.last() {
            let s = inner.wheel.get(r.deliver_ms)?;
            if s.head < pos {
                inner.wheel.put(r.deliver_ms, Slot { time_ms: r.deliver_ms, head: pos, count: s.count + 1 })?;
            }
        }
        let store = TimerStore { cfg, inner: Mutex::new(inner), reader, wheel_file, checkpoint, last_written: Mutex::new(None), trim: Mutex::new(()) };
        // Records the wheel's shape at once (a crash may come before any flush).
        if ck.precision_ms == 0 {
            store.write_checkpoint()?;
        }
        Ok(store)
    }

    pub fn config(&self) -> TimerConfig {
        self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the delivery service starts: after the delivered slots, and no
    /// earlier than one wheel span ago (older slots were reused). The cursor
    /// moves there, so that a timer linked late goes to a slot this walk
    /// reaches (see `dispatch`).
    pub fn start_cursor(&self, now_ms: i64) -> i64 {
        let mut i = self.lock();
        let floor = self.cfg.slot_of(now_ms - self.cfg.span_ms()) + self.cfg.precision_ms;
        let start = self.cfg.slot_of(i.cursor_ms.max(i.delivered_slot_ms).max(floor));
        i.cursor_ms = i.cursor_ms.max(start);
        start
    }

    /// Moves the cursor past the slot `slot_ms` once it is delivered, unless
    /// a timer was linked into it since its chain was read from `seen_head`
    /// ([`Chain::head`]): false then, and the slot is to be walked again.
    /// The check and the move are one step under the lock that `dispatch`
    /// links under, so a timer is either in the chain seen or linked into
    /// a later slot.
    pub fn advance_cursor(&self, slot_ms: i64, seen_head: i64) -> Result<bool, StoreError> {
        let mut i = self.lock();
        if i.wheel.get(slot_ms)?.head != seen_head {
            return Ok(false);
        }
        i.cursor_ms = i.cursor_ms.max(slot_ms + self.cfg.precision_ms);
        Ok(true)
    }

    /// Records that every slot before `ms` is delivered.
    pub fn set_cursor(&self, ms: i64) {
        let mut i = self.lock();
        i.cursor_ms = i.cursor_ms.max(ms);
    }

    /// How many timers the slot of `slot_ms` holds.
    pub fn slot_count(&self, slot_ms: i64) -> Result<i32, StoreError> {
        Ok(self.lock().wheel.get(slot_ms)?.count)
    }

    /// The timers of the slot `slot_ms`, newest first.
    pub fn chain(&self, slot_ms: i64) -> Result<Chain<'_>, StoreError> {
        let head = self.lock().wheel.get(slot_ms)?.head;
        Ok(Chain { reader: &self.reader, head, next: head, slot_ms })
    }

    /// Whether the timer at commit log offset `origin`, of slot `slot_ms`,
    /// has been delivered.
    pub fn is_delivered(&self, slot_ms: i64, origin: i64) -> bool {
        let i = self.lock();
        slot_ms < i.delivered_slot_ms || (slot_ms == i.delivered_slot_ms && i.delivered.contains_key(&origin))
    }

    /// Pending timers per real topic.
    pub fn pending(&self) -> Vec<(String, i64)> {
        let mut v: Vec<_> = self.lock().pending.iter().map(|(t, n)| (t.clone(), *n)).collect();
        v.sort();
        v
    }

    pub fn pending_total(&self) -> i64 {
        self.lock().pending.values().sum()
    }

    /// How many timers not yet delivered have their message in the commit
    /// log range `[phy_start, phy_end)`, counting up to `at_most`. On a log
    /// it cannot read it answers `at_most`: retention then keeps the file.
    pub fn pending_in(&self, phy_start: i64, phy_end: i64, at_most: usize) -> usize {
        match self.count_pending(phy_start, phy_end, at_most) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(phy_start, phy_end, "timer log unreadable, counting its timers as pending: {e}");
                at_most
            }
        }
    }

    /// The log is appended in commit log order, so the records of a range
    /// are contiguous: found by binary search, then scanned from there (or
    /// from `settled`, if later: what is before it is delivered).
    fn count_pending(&self, phy_start: i64, phy_end: i64, at_most: usize) -> Result<usize, StoreError> {
        let _trim = self.trim.lock().unwrap_or_else(|e| e.into_inner());
        let v = self.view();
        let first = self.lower_bound(&v, phy_start)?;
        let from = first.max(v.settled);
        let (mut n, mut first_pending) = (0, None);
        let stop = self.scan(from, v.len, |pos, r| {
            if r.phy_offset >= phy_end || n >= at_most {
                return false;
            }
            if v.progress.pending(r) {
                n += 1;
                first_pending.get_or_insert(pos);
            }
            n < at_most
        })?;
        if first <= v.settled {
            self.settle(first_pending.unwrap_or(stop));
        }
        Ok(n)
    }

    /// The timers pending in the commit log range are lost to a forced
    /// deletion: they leave the per-topic pending counts (`timerPendingCount`),
    /// by the real topic their message names, read before the lock is taken.
    fn drop_pending(&self, phy_start: i64, phy_end: i64, message_at: &dyn Fn(i64) -> Option<MessageExt>) -> Result<usize, StoreError> {
        let _trim = self.trim.lock().unwrap_or_else(|e| e.into_inner());
        let v = self.view();
        let from = self.lower_bound(&v, phy_start)?.max(v.settled);
        let mut lost = Vec::new();
        self.scan(from, v.len, |_, r| {
            if r.phy_offset >= phy_end {
                return false;
            }
            if v.progress.pending(r) {
                lost.push(r.phy_offset);
            }
            true
        })?;
        let topics: Vec<String> = lost
            .iter()
            .filter_map(|&phy| message_at(phy).and_then(|m| m.properties.get(REAL_TOPIC).map(str::to_string)))
            .collect();
        let mut i = self.lock();
        for t in &topics {
            count(&mut i.pending, t, -1);
        }
        Ok(lost.len())
    }

    /// Retention's trim: punches out the log's front up to the first record
    /// still needed, a timer not yet delivered or one whose message is at or
    /// past `min_phy` (the commit log's first offset).
    fn trim_front(&self, min_phy: i64) -> Result<(), StoreError> {
        let _trim = self.trim.lock().unwrap_or_else(|e| e.into_inner());
        let v = self.view();
        let from = v.settled.max(v.front);
        let delivered_to = self.scan(from, v.len, |_, r| r.phy_offset < min_phy && !v.progress.pending(r))?;
        self.settle(delivered_to);
        let needed = delivered_to.min(self.lower_bound(&v, min_phy)?);
        if needed / PUNCH_BLOCK <= v.front / PUNCH_BLOCK {
            return Ok(()); // not one more whole block
        }
        // The records up to the tail are on disk before any is punched: a
        // crash then cannot tear the tail back into the hole (see TimerLog::open).
        self.reader.sync_data()?;
        let mut i = self.lock();
        if i.log.punch_front(needed)? {
            tracing::info!(front = i.log.front(), "timer log front punched out (delivered timers)");
        }
        Ok(())
    }

    fn view(&self) -> LogView {
        let i = self.lock();
        LogView {
            front: i.log.front(),
            len: i.log.len(),
            settled: i.settled.clamp(i.log.front(), i.log.len()),
            progress: Progress { cursor_ms: i.cursor_ms, slot_ms: i.delivered_slot_ms, origins: i.delivered.keys().copied().collect() },
        }
    }

    /// Records that every record before `pos` is of a delivered timer.
    fn settle(&self, pos: u64) {
        let mut i = self.lock();
        i.settled = i.settled.max(pos).min(i.log.len());
    }

    /// Position of the first record in the view whose message is at or past
    /// `phy` (the view's end if none).
    fn lower_bound(&self, v: &LogView, phy: i64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (v.front / RECORD_SIZE, v.len / RECORD_SIZE);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.read_record(mid * RECORD_SIZE)?.phy_offset < phy {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo * RECORD_SIZE)
    }

    fn read_record(&self, pos: u64) -> Result<TimerRecord, StoreError> {
        let mut b = [0u8; RECORD_SIZE as usize];
        self.reader.read_exact_at(&mut b, pos)?;
        decode(&b).ok_or_else(|| StoreError::Corrupt(format!("timer log record at {pos} is missing")))
    }

    /// Calls `f` with each record in `[from, to)` (record positions) until
    /// it returns false; where it stopped (`to` if it never did). Reads in
    /// chunks: retention may scan a whole commit log file's timers.
    fn scan(&self, from: u64, to: u64, mut f: impl FnMut(u64, &TimerRecord) -> bool) -> Result<u64, StoreError> {
        const CHUNK: u64 = 512 * RECORD_SIZE;
        let mut buf = vec![0u8; CHUNK as usize];
        let mut pos = from;
        while pos < to {
            let n = CHUNK.min(to - pos) as usize;
            self.reader.read_exact_at(&mut buf[..n], pos)?;
            for raw in buf[..n].chunks_exact(RECORD_SIZE as usize) {
                let r = <&[u8; RECORD_SIZE as usize]>::try_from(raw).ok().and_then(decode);
                let Some(r) = r else {
                    return Err(StoreError::Corrupt(format!("timer log record at {pos} is missing")));
                };
                if !f(pos, &r) {
                    return Ok(pos);
                }
                pos += RECORD_SIZE;
            }
        }
        Ok(pos)
    }

    fn write_checkpoint(&self) -> Result<(), StoreError> {
        let (ck, key) = {
            let i = self.lock();
            let key = (i.seen_to, i.cursor_ms / 60_000, i.delivered_slot_ms, i.delivered.len(), i.pending.values().sum());
            if *self.last_written.lock().unwrap_or_else(|e| e.into_inner()) == Some(key) {
                return Ok(());
            }
            let ck = Checkpoint {
                precision_ms: self.cfg.precision_ms,
                slots: self.cfg.slots(),
                seen_to: i.seen_to,
                cursor_ms: i.cursor_ms,
                delivered_slot_ms: i.delivered_slot_ms,
                delivered_first_phy: i.delivered_first_phy,
                delivered: i.delivered.iter().map(|(a, b)| (*a, *b)).collect(),
                pending: i.pending.clone(),
            };
            (ck, key)
        };
        // What the checkpoint counts is written by now; on disk after these.
        self.reader.sync_data()?;
        self.wheel_file.sync_data()?;
        let json = serde_json::to_vec(&ck).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        super::config_file::persist_bytes(&self.checkpoint, &json)?;
        *self.last_written.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
        Ok(())
    }
}

fn count(pending: &mut HashMap<String, i64>, topic: &str, delta: i64) {
    let n = pending.entry(topic.to_string()).or_insert(0);
    *n += delta;
    if *n <= 0 {
        pending.remove(topic);
    }
}

/// A slot's timers, walked from its newest record.
pub struct Chain<'a> {
    reader: &'a File,
    head: i64,
    next: i64,
    slot_ms: i64,
}

impl Chain<'_> {
    /// The slot's newest record when the chain was read (for
    /// [`TimerStore::advance_cursor`]).
    pub fn head(&self) -> i64 {
        self.head
    }
}

impl Iterator for Chain<'_> {
    type Item = TimerRecord;

    fn next(&mut self) -> Option<TimerRecord> {
        while self.next >= 0 {
            let mut b = [0u8; RECORD_SIZE as usize];
            if let Err(e) = self.reader.read_exact_at(&mut b, self.next as u64) {
                tracing::error!(pos = self.next, "timer log unreadable: {e}");
                return None;
            }
            // A punched record: it and all before it are of delivered
            // timers (the log's front is punched only up to the first
            // pending one), so the rest of the chain is done.
            let r = decode(&b)?;
            if r.prev >= self.next {
                tracing::error!(pos = self.next, "timer log chain points forward; slot cut short");
                return None;
            }
            self.next = r.prev;
            if r.deliver_ms == self.slot_ms {
                return Some(r);
            }
        }
        None
    }
}

fn parse_i64(v: Option<&str>) -> Option<i64> {
    v?.trim().parse().ok()
}

impl Dispatcher for TimerStore {
    fn name(&self) -> &'static str {
        "timer"
    }

    /// A timer not linked in the wheel would never be delivered.
    fn essential(&self) -> bool {
        true
    }

    fn dispatch(&self, r: &DispatchRequest) -> Result<(), StoreError> {
        let mut i = self.lock();
        let counts = r.commit_log_offset >= i.counted_to;
        i.seen_to = i.seen_to.max(r.commit_log_offset + r.size as i64);
        let out = parse_i64(r.properties.get(property::TIMER_OUT_MS));
        if r.topic == TIMER_TOPIC {
            let Some(out) = out else { return Ok(()) };
            if r.commit_log_offset > i.log_max_phy {
                // A slot the service has passed would never be walked again.
                let slot_ms = self.cfg.slot_of(out).max(i.walk_slot(&self.cfg));
                let s = i.wheel.get(slot_ms)?;
                let rec = TimerRecord { deliver_ms: slot_ms, phy_offset: r.commit_log_offset, size: r.size, prev: s.head };
                let pos = i.log.append(&rec)?;
                i.wheel.put(slot_ms, Slot { time_ms: slot_ms, head: pos, count: s.count + 1 })?;
                i.log_max_phy = r.commit_log_offset;
            }
            if counts {
                if let Some(real) = r.properties.get(REAL_TOPIC) {
                    count(&mut i.pending, real, 1);
                }
            }
        } else if let (Some(out), Some(origin)) = (out, parse_i64(r.properties.get(TIMER_ORIGIN))) {
            // The slot it was delivered from: TIMER_OUT_MS names its own,
            // an earlier one if it was linked late.
            let slot_ms = i.linked_slot(origin).unwrap_or_else(|| self.cfg.slot_of(out));
            if slot_ms > i.delivered_slot_ms {
                i.delivered_slot_ms = slot_ms;
                i.delivered_first_phy = r.commit_log_offset;
                i.delivered.clear();
            }
            if slot_ms == i.delivered_slot_ms {
                i.delivered.insert(origin, r.commit_log_offset);
            }
            if counts {
                count(&mut i.pending, r.topic, -1);
            }
        }
        Ok(())
    }

    /// Replay starts where the slot being delivered had its first delivery,
    /// so that its deliveries are known again.
    fn dispatched_to(&self) -> i64 {
        let i = self.lock();
        if i.delivered.is_empty() {
            i.seen_to
        } else {
            i.seen_to.min(i.delivered_first_phy)
        }
    }

    fn truncate_dirty(&self, phy_max: i64) -> Result<(), StoreError> {
        let mut i = self.lock();
        while let Some((pos, r)) = i.log.last() {
            if r.phy_offset < phy_max {
                break;
            }
            let s = i.wheel.get(r.deliver_ms)?;
            if s.head == pos {
                i.wheel.put(r.deliver_ms, Slot { time_ms: r.deliver_ms, head: r.prev, count: (s.count - 1).max(0) })?;
            }
            i.log.pop()?;
        }
        i.log_max_phy = i.log.last().map_or(-1, |(_, r)| r.phy_offset);
        i.delivered.retain(|_, at| *at < phy_max);
        i.seen_to = i.seen_to.min(phy_max);
        i.counted_to = i.counted_to.min(phy_max);
        // Deliveries were dropped with the cut: their timers are pending again.
        i.settled = i.log.front();
        Ok(())
    }

    fn pending_in(&self, phy_start: i64, phy_end: i64, at_most: usize) -> usize {
        TimerStore::pending_in(self, phy_start, phy_end, at_most)
    }

    fn drop_pending_in(&self, phy_start: i64, phy_end: i64, message_at: &dyn Fn(i64) -> Option<MessageExt>) -> usize {
        match self.drop_pending(phy_start, phy_end, message_at) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(phy_start, phy_end, "timer log unreadable, pending counts not reduced for lost timers: {e}");
                TimerStore::pending_in(self, phy_start, phy_end, usize::MAX)
            }
        }
    }

    /// Punches out the log's front (see `trim_front`); a failure only
    /// leaves the log longer.
    fn delete_before(&self, min_phy: i64) {
        if let Err(e) = self.trim_front(min_phy) {
            tracing::warn!(min_phy, "trimming the timer log's front failed: {e}");
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.write_checkpoint()
    }

    fn background_flush(&self) -> Result<(), StoreError> {
        self.write_checkpoint()
    }
}

#[cfg(test)]
mod tests;

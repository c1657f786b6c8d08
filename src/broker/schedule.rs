//! `ScheduleMessageService`: a message with a delay level is stored in
//! `SCHEDULE_TOPIC_XXXX` ([`DelayLevels`], the store's put hook), and moved
//! to its real topic and queue when it is due, remembering per level how
//! far it got (config/delayOffset.json).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Broker;
use crate::protocol::message::{property, sys_flag, MessageExt, MessageInner, Properties};
use crate::protocol::{fastjson, topics};
use crate::config::BrokerConfig;
use crate::store::config_file::{self, ConfigWriter};
use crate::store::{now_ms, PutHook, StoreExtensions};

/// How often due messages are looked for (the Java service's 100 ms).
const TICK: Duration = Duration::from_millis(100);
const PERSIST_EVERY: Duration = Duration::from_secs(10);

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DelayOffsetWrapper {
    offset_table: BTreeMap<i32, i64>,
}

pub struct ScheduleMessageService {
    /// Delay level → next offset to deliver in queue level-1.
    offsets: Arc<Mutex<BTreeMap<i32, i64>>>,
    /// One writer, so periodic and shutdown writes never interleave.
    writer: ConfigWriter,
}

impl ScheduleMessageService {
    pub fn load(path: PathBuf) -> Self {
        let offsets = config_file::load_json::<DelayOffsetWrapper>(&path).map(|w| w.offset_table).unwrap_or_default();
        let offsets = Arc::new(Mutex::new(offsets));
        let o = offsets.clone();
        let writer = ConfigWriter::new(path, Box::new(move || offsets_json(&o.lock().unwrap_or_else(|e| e.into_inner()))));
        ScheduleMessageService { offsets, writer }
    }

    pub fn offset(&self, level: i32) -> i64 {
        self.offsets.lock().unwrap().get(&level).copied().unwrap_or(0)
    }

    fn set_offset(&self, level: i32, offset: i64) {
        self.offsets.lock().unwrap().insert(level, offset);
    }

    pub fn to_json(&self) -> String {
        offsets_json(&self.offsets.lock().unwrap())
    }

    /// A slave's sync (`syncDelayOffset`): the master's delayOffset.json
    /// replaces ours, in memory and on disk.
    pub fn replace_from_master(&self, body: &[u8]) -> Result<(), crate::protocol::ProtocolError> {
        let w: DelayOffsetWrapper = crate::protocol::fastjson::parse(body)?;
        *self.offsets.lock().unwrap() = w.offset_table;
        self.persist();
        Ok(())
    }

    /// Writes delayOffset.json now (blocking; a failure is logged).
    pub fn persist(&self) {
        self.writer.persist_now();
    }
}

fn offsets_json(offsets: &BTreeMap<i32, i64>) -> String {
    let w = DelayOffsetWrapper { offset_table: offsets.clone() };
    fastjson::to_string(&serde_json::to_value(&w).unwrap_or_default())
}

/// The delay levels (`messageDelayLevel`), applied on the put path: a
/// message asking for a level is stored in `SCHEDULE_TOPIC_XXXX` queue
/// level-1, keeping its real topic and queue in properties, and its consume
/// queue tag field is the time it is due (as Java's `CommitLog.putMessage`
/// and `checkMessageAndReturnSize`).
pub struct DelayLevels {
    /// Delay of each level in ms; level n is index n-1.
    levels_ms: Vec<i64>,
}

impl DelayLevels {
    pub fn new(levels_ms: Vec<i64>) -> Self {
        DelayLevels { levels_ms }
    }

    /// The delay level a message asks for, clamped to the highest level;
    /// none for prepared or rolled-back transaction messages.
    fn level(&self, m: &MessageInner) -> Option<i32> {
        let tran = m.sys_flag & sys_flag::TRANSACTION_MASK;
        if tran == sys_flag::TRANSACTION_PREPARED || tran == sys_flag::TRANSACTION_ROLLBACK {
            return None;
        }
        let level: i32 = m.properties.get(property::DELAY_TIME_LEVEL)?.trim().parse().ok()?;
        (level > 0 && !self.levels_ms.is_empty()).then(|| level.min(self.levels_ms.len() as i32))
    }
}

impl PutHook for DelayLevels {
    /// Moves a delayed message to `SCHEDULE_TOPIC_XXXX`, queue level-1.
    fn rewrite(&self, m: &MessageInner) -> Option<MessageInner> {
        let level = self.level(m)?;
        let mut out = m.clone();
        out.properties.put(property::DELAY_TIME_LEVEL, level.to_string());
        out.properties.put(property::REAL_TOPIC, m.topic.clone());
        out.properties.put(property::REAL_QUEUE_ID, m.queue_id.to_string());
        out.topic = topics::SCHEDULE_TOPIC.to_string();
        out.queue_id = level - 1;
        Some(out)
    }

    /// For a delayed message, the time it is due.
    fn tags_code(&self, topic: &str, props: &Properties, store_timestamp: i64) -> Option<i64> {
        if topic != topics::SCHEDULE_TOPIC {
            return None;
        }
        let level = props.get(property::DELAY_TIME_LEVEL)?.parse::<usize>().ok()?;
        Some(store_timestamp + self.levels_ms.get(level.saturating_sub(1))?)
    }
}

/// What the broker plugs into its store: the delay levels as put hook.
pub fn store_extensions(config: &BrokerConfig) -> StoreExtensions {
    StoreExtensions { put_hook: Some(Arc::new(DelayLevels::new(config.delay_levels_ms.clone()))), ..Default::default() }
}

/// The message as it goes back to its real topic (`messageTimeup`). As in
/// Java 4.9.7 the stored properties are those of the scheduled message:
/// `DELAY`, `WAIT`, `REAL_TOPIC` and `REAL_QID` stay (Java clears DELAY and
/// sets WAIT=false only in the map, after the stored string was made), so a
/// consumer's `getDelayTimeLevel()` is the level; it is put with
/// `put_message_as_given`, past the delay levels.
pub fn message_timeup(m: &MessageExt) -> Option<MessageInner> {
    let props = m.properties.clone();
    let topic = props.get(property::REAL_TOPIC)?.to_string();
    let queue_id = props.get(property::REAL_QUEUE_ID)?.parse().ok()?;
    Some(MessageInner { topic, queue_id, properties: props, ..m.to_inner() })
}

impl Broker {
    /// Delivers every due message of one level; returns how many moved.
    fn deliver_due(&self, level: i32, delay_ms: i64) -> usize {
        let queue_id = level - 1;
        let mut offset = self.schedule.offset(level);
        let min = self.store.min_offset_in_queue(topics::SCHEDULE_TOPIC, queue_id);
        if offset < min {
            offset = min;
        }
        let mut moved = 0;
        let now = now_ms();
        while let Some(e) = self.store.consume_queue_entry(topics::SCHEDULE_TOPIC, queue_id, offset) {
            // A due time further away than the level's delay means the
            // clock went back: deliver now, as the Java service does.
            let due = if e.tags_code > now + delay_ms { now } else { e.tags_code };
            if due > now {
                break;
            }
            match self.store.look_message_by_offset(e.phy_offset).as_ref().and_then(message_timeup) {
                Some(real) => {
                    if let Err(err) = self.store.put_message_as_given(&real) {
                        tracing::warn!(level, offset, "delivering delayed message failed, will retry: {err}");
                        break;
                    }
                    moved += 1;
                }
                None => tracing::error!(level, offset, "delayed message unreadable or without real topic; skipped"),
            }
            offset += 1;
        }
        self.schedule.set_offset(level, offset);
        moved
    }

    pub(super) fn spawn_schedule_service(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            let mut last_persist = tokio::time::Instant::now();
            loop {
                tick.tick().await;
                let Some(b) = me.upgrade() else { return };
                let levels: Vec<i64> = b.cfg().delay_levels_ms.clone();
                let b2 = b.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    for (i, delay) in levels.iter().enumerate() {
                        b2.deliver_due(i as i32 + 1, *delay);
                    }
                })
                .await;
                if last_persist.elapsed() >= PERSIST_EVERY {
                    last_persist = tokio::time::Instant::now();
                    tokio::task::spawn_blocking(move || b.schedule.persist());
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageStore;
    use bytes::Bytes;

    #[test]
    fn timeup_restores_real_topic_and_queue() {
        let mut props = Properties::default();
        props.put("TAGS", "A");
        props.put("DELAY", "3");
        props.put("REAL_TOPIC", "T");
        props.put("REAL_QID", "2");
        let m = MessageExt {
            store_size: 0,
            body_crc: 0,
            queue_id: 2,
            flag: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_timestamp: 2,
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 1,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(b"x"),
            topic: topics::SCHEDULE_TOPIC.into(),
            properties: props,
        };
        let real = message_timeup(&m).unwrap();
        assert_eq!((real.topic.as_str(), real.queue_id, real.reconsume_times), ("T", 2, 1));
        assert_eq!(real.properties.get("DELAY"), Some("3"), "Java's stored properties keep DELAY");
        assert_eq!(real.properties.get("TAGS"), Some("A"));
    }

    #[test]
    fn delayed_messages_wait_in_the_schedule_topic() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::store::tests::config(dir.path(), 4096);
        let ext = StoreExtensions { put_hook: Some(Arc::new(DelayLevels::new(vec![1000, 5000]))), ..Default::default() };
        let s = MessageStore::open_with(cfg, ext).unwrap();
        let mut m = crate::store::tests::msg("T", 2, "later", "A");
        m.properties.put("DELAY", "9");
        let before = now_ms();
        s.put_message(&m).unwrap();
        assert_eq!(s.max_offset_in_queue("T", 2), 0);
        // Level 9 is clamped to the highest level, 2 (5 s).
        let e = s.consume_queue_entry(topics::SCHEDULE_TOPIC, 1, 0).unwrap();
        assert!(e.tags_code >= before + 5000 && e.tags_code <= now_ms() + 5000);
        let stored = s.look_message_by_offset(e.phy_offset).unwrap();
        assert_eq!(stored.properties.get("REAL_TOPIC"), Some("T"));
        assert_eq!(stored.properties.get("REAL_QID"), Some("2"));
        assert_eq!(stored.properties.get("DELAY"), Some("2"));
        // Delivered, it lands in its real queue and keeps DELAY (as on Apache).
        let real = message_timeup(&stored).unwrap();
        s.put_message_as_given(&real).unwrap();
        let e = s.consume_queue_entry("T", 2, 0).expect("delivered to the real queue");
        let delivered = s.look_message_by_offset(e.phy_offset).unwrap();
        assert_eq!(delivered.properties.get("DELAY"), Some("2"));
        assert_eq!(delivered.properties.get("REAL_TOPIC"), Some("T"));
        // ... and only the delivery bypasses the levels.
        s.put_message(&real).unwrap();
        assert_eq!(s.max_offset_in_queue("T", 2), 1, "a put outside delivery is delayed again");
        // A prepared transaction message is never delayed.
        let mut prepared = m.clone();
        prepared.sys_flag = sys_flag::TRANSACTION_PREPARED;
        assert!(DelayLevels::new(vec![1000]).rewrite(&prepared).is_none());
        // Without levels nothing is delayed.
        assert!(DelayLevels::new(vec![]).rewrite(&m).is_none());
    }

    #[test]
    fn offsets_persist_with_integer_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delayOffset.json");
        let s = ScheduleMessageService::load(path.clone());
        s.set_offset(3, 7);
        s.persist();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"offsetTable":{3:7}}"#);
        assert_eq!(ScheduleMessageService::load(path).offset(3), 7);
    }
}

//! `ScheduleMessageService`: moves delayed messages from
//! `SCHEDULE_TOPIC_XXXX` to their real topic and queue when they are due,
//! remembering per level how far it got (config/delayOffset.json).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Broker;
use crate::protocol::message::{property, MessageExt, MessageInner};
use crate::protocol::{fastjson, topics};
use crate::store::config_file::{self, ConfigWriter};
use crate::store::now_ms;

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

    /// Writes delayOffset.json now (blocking; a failure is logged).
    pub fn persist(&self) {
        self.writer.persist_now();
    }
}

fn offsets_json(offsets: &BTreeMap<i32, i64>) -> String {
    let w = DelayOffsetWrapper { offset_table: offsets.clone() };
    fastjson::to_string(&serde_json::to_value(&w).unwrap_or_default())
}

/// The message as it goes back to its real topic (`messageTimeup`).
pub fn message_timeup(m: &MessageExt) -> Option<MessageInner> {
    let mut props = m.properties.clone();
    props.remove(property::DELAY_TIME_LEVEL);
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
                    if let Err(err) = self.store.put_message(&real) {
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
                let levels: Vec<i64> = b.store.delay_levels_ms().to_vec();
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
    use crate::protocol::message::Properties;
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
        assert_eq!(real.properties.get("DELAY"), None);
        assert_eq!(real.properties.get("TAGS"), Some("A"));
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

//! `ConsumerOffsetManager`: committed offsets per `topic@group` and queue,
//! persisted as config/consumerOffset.json.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::protocol::fastjson;
use crate::store::config_file::{self, ConfigWriter};

const TOPIC_GROUP_SEPARATOR: &str = "@";

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetWrapper {
    offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

type Table = HashMap<String, BTreeMap<i32, i64>>;

pub struct ConsumerOffsetManager {
    table: Arc<Mutex<Table>>,
    /// Persisting goes through one writer so that the periodic and the
    /// shutdown writes never interleave on the temp file.
    writer: ConfigWriter,
}

impl ConsumerOffsetManager {
    pub fn load(path: PathBuf) -> Self {
        let mut table = HashMap::new();
        if let Some(w) = config_file::load_json::<OffsetWrapper>(&path) {
            table.extend(w.offset_table);
        }
        let table = Arc::new(Mutex::new(table));
        let t = table.clone();
        let writer = ConfigWriter::new(path, Box::new(move || table_json(&t.lock().unwrap_or_else(|e| e.into_inner()))));
        ConsumerOffsetManager { table, writer }
    }

    fn key(topic: &str, group: &str) -> String {
        format!("{topic}{TOPIC_GROUP_SEPARATOR}{group}")
    }

    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.table.lock().unwrap().entry(Self::key(topic, group)).or_default().insert(queue_id, offset);
    }

    /// A slave's sync (`syncConsumerOffset`): the master's offsets are put
    /// over ours (Java's `offsetTable.putAll`), then persisted.
    pub fn put_all_from_master(&self, body: &[u8]) -> Result<(), crate::protocol::ProtocolError> {
        let w: OffsetWrapper = fastjson::parse(body)?;
        self.table.lock().unwrap().extend(w.offset_table);
        self.persist();
        Ok(())
    }

    /// The committed offset, or -1 when none.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> i64 {
        self.table
            .lock()
            .unwrap()
            .get(&Self::key(topic, group))
            .and_then(|m| m.get(&queue_id).copied())
            .unwrap_or(-1)
    }

    /// Every (topic, group) with committed offsets.
    pub fn topic_groups(&self) -> Vec<(String, String)> {
        self.table
            .lock()
            .unwrap()
            .keys()
            .filter_map(|k| k.split_once(TOPIC_GROUP_SEPARATOR).map(|(t, g)| (t.to_string(), g.to_string())))
            .collect()
    }

    /// Lowers every committed offset above its queue's `max(topic, queue)`
    /// (the store lost a torn tail in a crash); returns how many moved.
    pub fn clamp_to(&self, max: impl Fn(&str, i32) -> i64) -> usize {
        let mut moved = 0;
        let mut t = self.table.lock().unwrap();
        for (key, queues) in t.iter_mut() {
            let topic = key.split_once(TOPIC_GROUP_SEPARATOR).map_or(key.as_str(), |(t, _)| t);
            for (q, off) in queues.iter_mut() {
                let m = max(topic, *q);
                if *off > m {
                    tracing::warn!(key = %key, queue = q, offset = *off, max = m, "consumer offset beyond the queue's end clamped");
                    *off = m;
                    moved += 1;
                }
            }
        }
        moved
    }

    pub fn remove_group(&self, group: &str) {
        let suffix = format!("{TOPIC_GROUP_SEPARATOR}{group}");
        self.table.lock().unwrap().retain(|k, _| !k.ends_with(&suffix));
    }

    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}{TOPIC_GROUP_SEPARATOR}");
        self.table.lock().unwrap().retain(|k, _| !k.starts_with(&prefix));
    }

    /// `cloneOffset`: `dest` gets `src`'s offsets of `topic`.
    pub fn clone_offset(&self, src: &str, dest: &str, topic: &str) {
        let mut t = self.table.lock().unwrap();
        if let Some(offsets) = t.get(&Self::key(topic, src)).cloned() {
            t.insert(Self::key(topic, dest), offsets);
        }
    }

    /// consumerOffset.json's text (also GET_ALL_CONSUMER_OFFSET's body).
    pub fn to_json(&self) -> String {
        table_json(&self.table.lock().unwrap())
    }

    /// Writes consumerOffset.json now (blocking; a failure is logged).
    pub fn persist(&self) {
        self.writer.persist_now();
    }
}

fn table_json(t: &Table) -> String {
    let w = OffsetWrapper { offset_table: t.iter().map(|(k, v)| (k.clone(), v.clone())).collect() };
    fastjson::to_string(&serde_json::to_value(&w).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_persist_reload_in_java_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consumerOffset.json");
        let m = ConsumerOffsetManager::load(path.clone());
        assert_eq!(m.query("G", "T", 0), -1);
        m.commit("G", "T", 0, 5);
        m.commit("G", "T", 3, 9);
        m.persist();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"{"offsetTable":{"T@G":{0:5,3:9}}}"#);
        let m = ConsumerOffsetManager::load(path);
        assert_eq!(m.query("G", "T", 3), 9);
        assert_eq!(m.topic_groups(), vec![("T".to_string(), "G".to_string())]);
        assert_eq!(m.clamp_to(|_, q| if q == 3 { 4 } else { 100 }), 1);
        assert_eq!((m.query("G", "T", 0), m.query("G", "T", 3)), (5, 4));
    }
}

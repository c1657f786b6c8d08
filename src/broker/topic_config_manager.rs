//! `TopicConfigManager`: the broker's topics, persisted as config/topics.json.
//!
//! A change is written by the file's [`ConfigWriter`] shortly after it is
//! made, not before the request is answered (the Java broker writes first):
//! a topic acknowledged just before a crash may be missing after the
//! restart. Auto-created topics come back on their next send, and the
//! commit log keeps the messages either way. Graceful shutdown flushes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::error::{BrokerError, BrokerResult};
use crate::config::BrokerConfig;
use crate::remoting::codes::response;
use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::topic::{DataVersion, TopicConfig};
use crate::protocol::{fastjson, perm, topics};
use crate::store::config_file::{self, ConfigWriter};
use crate::store::now_ms;

pub struct TopicConfigManager {
    inner: Arc<RwLock<TopicConfigSerializeWrapper>>,
    writer: ConfigWriter,
    /// Topics the broker made for itself (`TopicValidator.addSystemTopic`).
    system: std::collections::HashSet<String>,
    /// `maxTopicNums`: each topic costs files, memory and route size, and
    /// sends, retries and admin requests can all create them.
    max_topics: usize,
}

/// The refusal when a new topic would pass `maxTopicNums`.
pub fn topic_limit_reached(max: usize) -> BrokerError {
    BrokerError::new(
        response::SYSTEM_ERROR,
        format!("the broker already holds maxTopicNums[{max}] topics; delete unused topics or raise the limit"),
    )
}

impl TopicConfigManager {
    /// Loads topics.json over the system topics the Java broker creates.
    pub fn load(cfg: &BrokerConfig) -> Self {
        let mut table = BTreeMap::new();
        let mut add = |tc: TopicConfig| {
            table.insert(tc.topic_name.clone(), tc);
        };
        let rw = perm::READ | perm::WRITE;
        add(TopicConfig::new(topics::SELF_TEST_TOPIC, 1, 1, rw));
        if cfg.auto_create_topic {
            let n = cfg.default_topic_queue_nums;
            add(TopicConfig::new(topics::AUTO_CREATE_TOPIC_KEY, n, n, perm::INHERIT | rw));
            // 4.3.x clients ask for this default topic instead of TBW102;
            // serving both lets either client version auto-create topics.
            add(TopicConfig::new(topics::AUTO_CREATE_TOPIC_KEY_4_3, n, n, perm::INHERIT | rw));
        }
        add(TopicConfig::new(topics::BENCHMARK_TOPIC, 1024, 1024, rw));
        let cluster_perm = perm::INHERIT | if cfg.cluster_topic_enable { rw } else { 0 };
        add(TopicConfig::new(&cfg.cluster_name, 16, 16, cluster_perm));
        let broker_perm = perm::INHERIT | if cfg.broker_topic_enable { rw } else { 0 };
        add(TopicConfig::new(&cfg.broker_name, 1, 1, broker_perm));
        add(TopicConfig::new(topics::OFFSET_MOVED_EVENT, 1, 1, rw));
        add(TopicConfig::new(topics::SCHEDULE_TOPIC, 18, 18, rw));
        add(TopicConfig::new(&format!("{}_REPLY_TOPIC", cfg.cluster_name), 1, 1, rw));

        let mut system: std::collections::HashSet<String> = table.keys().cloned().collect();
        for t in [
            topics::TRANS_HALF_TOPIC,
            topics::TRANS_OP_HALF_TOPIC,
            topics::TRANS_CHECK_MAX_TIME_TOPIC,
            topics::SCHEDULE_TOPIC,
            "RMQ_SYS_TRACE_TOPIC",
        ] {
            system.insert(t.to_string());
        }
        // Java's TopicConfigManager: the trace topic, 1 queue, read-write, a system topic.
        if cfg.trace_topic_enable && !cfg.msg_trace_topic_name.is_empty() {
            let t = TopicConfig::new(&cfg.msg_trace_topic_name, 1, 1, rw);
            table.insert(t.topic_name.clone(), t);
            system.insert(cfg.msg_trace_topic_name.clone());
        }
        let path = cfg.config_dir().join("topics.json");
        let mut data_version = DataVersion::new(now_ms());
        if let Some(saved) = config_file::load_json::<TopicConfigSerializeWrapper>(&path) {
            data_version = saved.data_version;
            table.extend(saved.topic_config_table);
        }
        let inner = Arc::new(RwLock::new(TopicConfigSerializeWrapper { data_version, topic_config_table: table }));
        let state = inner.clone();
        let writer = ConfigWriter::new(
            path,
            Box::new(move || {
                // Copy under the lock, serialize after: requests wait for a clone, not for JSON.
                let snapshot = state.read().unwrap_or_else(|e| e.into_inner()).clone();
                fastjson::to_string(&serde_json::to_value(&snapshot).unwrap_or_default())
            }),
        );
        TopicConfigManager { inner, writer, system, max_topics: cfg.max_topic_nums }
    }

    /// `TopicValidator.isSystemTopic`.
    /// `TopicValidator.getSystemTopicSet()`, sorted.
    pub fn system_topics(&self) -> Vec<String> {
        let mut v: Vec<String> = self.system.iter().cloned().collect();
        v.sort();
        v
    }

    pub fn is_system_topic(&self, topic: &str) -> bool {
        self.system.contains(topic) || topic.starts_with("rmq_sys_")
    }

    pub fn delete(&self, topic: &str) -> bool {
        {
            let mut inner = self.inner.write().unwrap();
            if inner.topic_config_table.remove(topic).is_none() {
                return false;
            }
            inner.data_version.next(now_ms());
        }
        self.writer.mark_dirty();
        true
    }

    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.inner.read().unwrap().topic_config_table.get(topic).cloned()
    }

    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        self.inner.read().unwrap().clone()
    }

    /// Adds or replaces a topic; returns true if anything changed. A new
    /// topic past `maxTopicNums` is refused (the broker's own system topics
    /// always fit). Persisted in the background: see the module doc.
    pub fn update(&self, tc: TopicConfig) -> BrokerResult<bool> {
        {
            let mut inner = self.inner.write().unwrap();
            match inner.topic_config_table.get(&tc.topic_name) {
                Some(old) if *old == tc => return Ok(false),
                None if inner.topic_config_table.len() >= self.max_topics && !self.is_system_topic(&tc.topic_name) => {
                    tracing::warn!(topic = %tc.topic_name, max = self.max_topics, "topic refused: maxTopicNums reached");
                    return Err(topic_limit_reached(self.max_topics));
                }
                _ => {}
            }
            inner.topic_config_table.insert(tc.topic_name.clone(), tc);
            inner.data_version.next(now_ms());
        }
        self.writer.mark_dirty();
        Ok(true)
    }

    /// A slave's sync (`SlaveSynchronize.syncTopicConfig`): takes the
    /// master's whole table when its data version differs from ours.
    /// Returns whether anything changed.
    pub fn replace_from_master(&self, master: TopicConfigSerializeWrapper) -> bool {
        {
            let mut inner = self.inner.write().unwrap();
            if inner.data_version == master.data_version {
                return false;
            }
            *inner = master;
        }
        self.writer.mark_dirty();
        true
    }

    /// `createTopicInSendMessageMethod`: a new topic modelled on the default
    /// topic, if that topic lets others inherit from it.
    pub fn create_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        client_queue_nums: i32,
        sys_flag: i32,
    ) -> BrokerResult<Option<TopicConfig>> {
        if let Some(tc) = self.get(topic) {
            return Ok(Some(tc));
        }
        let Some(def) = self.get(default_topic) else {
            tracing::warn!(topic, default_topic, "create new topic failed: default topic does not exist");
            return Ok(None);
        };
        if !perm::inherited(def.perm) {
            tracing::warn!(topic, default_topic, perm = def.perm, "create new topic failed: default topic has no inherit perm");
            return Ok(None);
        }
        // Java allows zero here; a topic without a queue swallows every send.
        let n = client_queue_nums.min(def.write_queue_nums).max(1);
        let mut tc = TopicConfig::new(topic, n, n, def.perm & !perm::INHERIT);
        tc.topic_sys_flag = sys_flag;
        tc.topic_filter_type = def.topic_filter_type.clone();
        tracing::info!(topic, queues = n, "auto-created topic from {default_topic}");
        self.update(tc.clone())?;
        Ok(Some(tc))
    }

    /// `createTopicInSendMessageBackMethod`: retry and DLQ topics.
    pub fn create_if_absent(&self, topic: &str, queue_nums: i32, perm: i32, sys_flag: i32) -> BrokerResult<(TopicConfig, bool)> {
        if let Some(tc) = self.get(topic) {
            return Ok((tc, false));
        }
        let mut tc = TopicConfig::new(topic, queue_nums, queue_nums, perm);
        tc.topic_sys_flag = sys_flag;
        self.update(tc.clone())?;
        Ok((tc, true))
    }

    /// For the broker's own system topics, which `maxTopicNums` never refuses.
    pub fn create_system_if_absent(&self, topic: &str) -> bool {
        debug_assert!(self.is_system_topic(topic));
        self.create_if_absent(topic, 1, perm::READ | perm::WRITE, 0).is_ok_and(|(_, created)| created)
    }

    /// Blocks until every change made so far is in topics.json (shutdown).
    pub fn flush(&self) {
        if let Err(e) = self.writer.flush() {
            tracing::error!("{e}");
        }
    }
}

/// `TopicConfig.toString`, quoted in the Java broker's remarks.
pub fn describe(tc: &TopicConfig) -> String {
    format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, topicFilterType={}, topicSysFlag={}, order={}]",
        tc.topic_name,
        tc.read_queue_nums,
        tc.write_queue_nums,
        perm::to_string(tc.perm),
        tc.topic_filter_type,
        tc.topic_sys_flag,
        tc.order
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::broker_defaults;

    fn config(dir: &std::path::Path) -> BrokerConfig {
        let mut s = broker_defaults();
        s.apply([
            ("storePathRootDir".to_string(), dir.display().to_string()),
            ("brokerName".to_string(), "broker-a".to_string()),
        ]);
        BrokerConfig::from_settings(s).unwrap()
    }

    #[test]
    fn updates_are_written_in_the_background_and_flush_makes_them_durable() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let m = TopicConfigManager::load(&cfg);
        let start = std::time::Instant::now();
        for i in 0..2000 {
            assert!(m.update(TopicConfig::new(&format!("T{i}"), 4, 4, perm::READ | perm::WRITE)).unwrap());
        }
        assert!(m.delete("T7"));
        m.flush();
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "took {:?}", start.elapsed());
        assert!(m.writer.writes() < 200, "{} writes for 2001 changes", m.writer.writes());
        let dv = m.snapshot().data_version;
        let again = TopicConfigManager::load(&cfg);
        assert_eq!(again.snapshot().data_version, dv, "the latest state was written");
        assert!(again.get("T1999").is_some() && again.get("T0").is_some());
        assert!(again.get("T7").is_none());
        again.update(TopicConfig::new("T7", 1, 1, perm::READ)).unwrap();
        again.flush();
        assert!(cfg.config_dir().join("topics.json.bak").exists(), "the previous version is kept");
        assert!(TopicConfigManager::load(&cfg).get("T7").is_some());
    }

    #[test]
    fn the_trace_topic_is_created_only_when_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        assert!(TopicConfigManager::load(&cfg).get("RMQ_SYS_TRACE_TOPIC").is_none());
        cfg.trace_topic_enable = true;
        let m = TopicConfigManager::load(&cfg);
        let t = m.get("RMQ_SYS_TRACE_TOPIC").unwrap();
        assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (1, 1, perm::READ | perm::WRITE));
        cfg.msg_trace_topic_name = "MyTrace".into();
        let m = TopicConfigManager::load(&cfg);
        assert!(m.get("MyTrace").is_some() && m.is_system_topic("MyTrace"));
    }

    #[test]
    fn new_topics_stop_at_max_topic_nums_but_system_topics_and_updates_pass() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        let m0 = TopicConfigManager::load(&cfg);
        cfg.max_topic_nums = m0.snapshot().topic_config_table.len() + 2;
        let m = TopicConfigManager::load(&cfg);
        let rw = perm::READ | perm::WRITE;
        assert!(m.create_if_absent("A", 1, rw, 0).unwrap().1);
        assert!(m.create_in_send("B", topics::AUTO_CREATE_TOPIC_KEY, 4, 0).unwrap().is_some());
        let refused = m.create_if_absent("C", 1, rw, 0).unwrap_err();
        assert!(refused.to_string().contains("maxTopicNums"));
        assert!(m.update(TopicConfig::new("A", 2, 2, rw)).unwrap(), "an existing topic can still change");
        assert!(m.create_system_if_absent(topics::TRANS_HALF_TOPIC), "system topics always fit");
    }
}

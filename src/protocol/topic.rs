//! `TopicConfig` and `DataVersion`, as brokers persist and register them.

use serde::{Deserialize, Serialize};

use super::perm;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    #[serde(default)]
    pub order: bool,
    #[serde(default = "default_perm")]
    pub perm: i32,
    #[serde(default = "default_queue_nums")]
    pub read_queue_nums: i32,
    #[serde(default = "default_filter_type")]
    pub topic_filter_type: String,
    pub topic_name: String,
    #[serde(default, alias = "topicSynFlag")]
    pub topic_sys_flag: i32,
    #[serde(default = "default_queue_nums")]
    pub write_queue_nums: i32,
}

fn default_perm() -> i32 {
    perm::READ | perm::WRITE
}
fn default_queue_nums() -> i32 {
    16
}
fn default_filter_type() -> String {
    "SINGLE_TAG".into()
}

impl TopicConfig {
    pub fn new(name: &str, read: i32, write: i32, perm: i32) -> Self {
        TopicConfig {
            order: false,
            perm,
            read_queue_nums: read,
            topic_filter_type: default_filter_type(),
            topic_name: name.to_string(),
            topic_sys_flag: 0,
            write_queue_nums: write,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataVersion {
    #[serde(default)]
    pub counter: i64,
    #[serde(default)]
    pub timestamp: i64,
}

impl DataVersion {
    pub fn new(now_ms: i64) -> Self {
        DataVersion { counter: 0, timestamp: now_ms }
    }

    pub fn next(&mut self, now_ms: i64) {
        self.counter += 1;
        self.timestamp = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::fastjson;

    #[test]
    fn topic_config_reads_numbers_and_booleans_as_strings() {
        let t: TopicConfig = fastjson::parse(br#"{"topicName":"T","order":"1","perm":"4","readQueueNums":"8","writeQueueNums":8.0,"topicSynFlag":"2","topicFilterType":null}"#).unwrap();
        assert_eq!(t, TopicConfig { order: true, topic_sys_flag: 2, ..TopicConfig::new("T", 8, 8, 4) });
        let d: DataVersion = fastjson::parse(br#"{"counter":"5","timestamp":null,"stateVersion":0}"#).unwrap();
        assert_eq!(d, DataVersion { counter: 5, timestamp: 0 });
    }
}

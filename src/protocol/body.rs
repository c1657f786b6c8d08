//! Small JSON bodies: consumer lists, topic lists, KV tables and the broker
//! registration body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::topic::{DataVersion, TopicConfig};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerListBody {
    pub consumer_id_list: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    pub topic_list: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KvTable {
    pub table: BTreeMap<String, String>,
}

/// `TopicConfigSerializeWrapper`: also the layout of topics.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    #[serde(default)]
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::fastjson;

    #[test]
    fn register_body_reads_numbers_and_booleans_as_strings() {
        let body = br#"{"filterServerList":null,"topicConfigSerializeWrapper":{"dataVersion":{"counter":"3","timestamp":"1700000000000"},"topicConfigTable":{"T":{"order":"true","perm":"6","readQueueNums":"4","topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":"0","writeQueueNums":4}}}}"#;
        let b: RegisterBrokerBody = fastjson::parse(body).unwrap();
        let w = &b.topic_config_serialize_wrapper;
        assert_eq!((w.data_version.counter, w.data_version.timestamp), (3, 1_700_000_000_000));
        let t = &w.topic_config_table["T"];
        assert!(t.order);
        assert_eq!((t.perm, t.read_queue_nums, t.write_queue_nums), (6, 4, 4));
        assert!(b.filter_server_list.is_empty());
    }

    #[test]
    fn small_bodies_read_leniently() {
        let l: ConsumerListBody = fastjson::parse(br#"{"consumerIdList":["a",1]}"#).unwrap();
        assert_eq!(l.consumer_id_list, vec!["a", "1"]);
        let t: TopicList = fastjson::parse(br#"{"brokerAddr":null,"topicList":["T"]}"#).unwrap();
        assert_eq!((t.broker_addr, t.topic_list), (None, vec!["T".to_string()]));
        let kv: KvTable = fastjson::parse(br#"{"table":{"a":1,"b":true}}"#).unwrap();
        assert_eq!((kv.table["a"].as_str(), kv.table["b"].as_str()), ("1", "true"));
    }
}

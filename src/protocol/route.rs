//! Route bodies the name server hands out (`TopicRouteData`, `ClusterInfo`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fastjson;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "QueueDataWire")]
pub struct QueueData {
    pub broker_name: String,
    pub perm: i32,
    pub read_queue_nums: i32,
    /// 4.9.x spells it `topicSysFlag`, 4.3.x `topicSynFlag`; we write both.
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

/// Reads either spelling of the sys flag.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueDataWire {
    broker_name: String,
    perm: i32,
    read_queue_nums: i32,
    topic_sys_flag: Option<i32>,
    topic_syn_flag: Option<i32>,
    write_queue_nums: i32,
}

impl From<QueueDataWire> for QueueData {
    fn from(w: QueueDataWire) -> Self {
        QueueData {
            broker_name: w.broker_name,
            perm: w.perm,
            read_queue_nums: w.read_queue_nums,
            topic_sys_flag: w.topic_sys_flag.or(w.topic_syn_flag).unwrap_or(0),
            write_queue_nums: w.write_queue_nums,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    /// Broker id (0 = master) → "ip:port".
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
}

impl BrokerData {
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&0).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    pub broker_datas: Vec<BrokerData>,
    #[serde(default)]
    pub filter_server_table: HashMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
}

impl TopicRouteData {
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(self).expect("route data serialises");
        if let Some(Value::Array(qds)) = v.get_mut("queueDatas") {
            for qd in qds {
                let flag = qd["topicSysFlag"].clone();
                qd.as_object_mut().unwrap().insert("topicSynFlag".into(), flag);
            }
        }
        fastjson::to_vec(&v)
    }
}

/// `ClusterInfo`: broker name → broker data, cluster → broker names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    pub cluster_addr_table: BTreeMap<String, Vec<String>>,
}

impl ClusterInfo {
    pub fn to_json(&self) -> Vec<u8> {
        fastjson::to_vec(&serde_json::to_value(self).expect("cluster info serialises"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_reads_numbers_as_strings() {
        let body = br#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"b","cluster":"C"}],"filterServerTable":null,"orderTopicConf":null,"queueDatas":[{"brokerName":"b","perm":"6","readQueueNums":"4","topicSynFlag":"1","writeQueueNums":"4"}]}"#;
        let r: TopicRouteData = fastjson::parse(body).unwrap();
        assert_eq!(r.broker_datas[0].master_addr(), Some("127.0.0.1:10911"));
        let q = &r.queue_datas[0];
        assert_eq!((q.perm, q.read_queue_nums, q.write_queue_nums, q.topic_sys_flag), (6, 4, 4, 1));
        let c: ClusterInfo = fastjson::parse(br#"{"brokerAddrTable":{"b":{"brokerAddrs":{0:"x"},"brokerName":"b","cluster":"C"}},"clusterAddrTable":{"C":["b"]}}"#).unwrap();
        assert_eq!(c.broker_addr_table["b"].master_addr(), Some("x"));
    }

    #[test]
    fn route_json_is_what_fastjson_writes() {
        let r = TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: BTreeMap::from([(0, "127.0.0.1:10911".to_string())]),
                broker_name: "broker-a".into(),
                cluster: "DefaultCluster".into(),
            }],
            filter_server_table: HashMap::new(),
            order_topic_conf: None,
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm: 6,
                read_queue_nums: 4,
                topic_sys_flag: 0,
                write_queue_nums: 4,
            }],
        };
        let s = String::from_utf8(r.to_json()).unwrap();
        assert!(s.contains(r#""brokerAddrs":{0:"127.0.0.1:10911"}"#), "{s}");
        assert!(s.contains(r#""topicSynFlag":0"#) && s.contains(r#""topicSysFlag":0"#));
        let back: TopicRouteData = fastjson::parse(s.as_bytes()).unwrap();
        assert_eq!(back, r);
    }
}

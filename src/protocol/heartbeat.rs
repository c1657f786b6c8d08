//! `HeartbeatData` and `SubscriptionData`, as clients send them.

use serde::{Deserialize, Serialize};

use super::message::java_string_hash;

pub const SUB_ALL: &str = "*";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    #[serde(default)]
    pub class_filter_mode: bool,
    #[serde(default)]
    pub code_set: Vec<i32>,
    #[serde(default = "tag_type")]
    pub expression_type: String,
    pub sub_string: String,
    #[serde(default)]
    pub sub_version: i64,
    #[serde(default)]
    pub tags_set: Vec<String>,
    pub topic: String,
}

fn tag_type() -> String {
    "TAG".into()
}

impl SubscriptionData {
    /// `FilterAPI.buildSubscriptionData` for tag expressions.
    pub fn build(topic: &str, sub_string: &str, sub_version: i64) -> Self {
        let sub = sub_string.trim();
        let mut d = SubscriptionData {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: tag_type(),
            sub_string: if sub.is_empty() { SUB_ALL.into() } else { sub.to_string() },
            sub_version,
            tags_set: Vec::new(),
            topic: topic.to_string(),
        };
        if d.sub_string != SUB_ALL {
            for tag in d.sub_string.split("||") {
                let tag = tag.trim();
                if !tag.is_empty() {
                    d.tags_set.push(tag.to_string());
                    d.code_set.push(java_string_hash(tag));
                }
            }
        }
        d
    }

    pub fn is_tag_type(&self) -> bool {
        self.expression_type.is_empty() || self.expression_type == "TAG"
    }

    /// The broker's tag-hash check (`ExpressionMessageFilter.isMatchedByConsumeQueue`).
    pub fn matches_tags_code(&self, tags_code: i64) -> bool {
        if !self.is_tag_type() || self.sub_string == SUB_ALL {
            return true;
        }
        self.code_set.iter().any(|c| *c as i64 == tags_code)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    pub group_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    #[serde(default)]
    pub consume_from_where: String,
    #[serde(default)]
    pub consume_type: String,
    pub group_name: String,
    #[serde(default)]
    pub message_model: String,
    #[serde(default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(default)]
    pub unit_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatData {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "consumerDataSet", default)]
    pub consumer_data_set: Vec<ConsumerData>,
    #[serde(rename = "producerDataSet", default)]
    pub producer_data_set: Vec<ProducerData>,
}

/// Groups one heartbeat may register (consumers and producers each): a
/// client runs a handful; the bound keeps one body from filling the tables.
pub const MAX_HEARTBEAT_GROUPS: usize = 1024;
/// Topics one consumer group may subscribe to in one heartbeat.
pub const MAX_SUBSCRIPTIONS_PER_GROUP: usize = 10_000;

impl HeartbeatData {
    /// Every group and topic named in the body, checked as header names are.
    pub fn check_names(&self) -> Result<(), super::ProtocolError> {
        use super::names::{check_derived_topic, check_group};
        if self.consumer_data_set.len() > MAX_HEARTBEAT_GROUPS || self.producer_data_set.len() > MAX_HEARTBEAT_GROUPS {
            return Err(super::ProtocolError::BadBody(format!("a heartbeat registers at most {MAX_HEARTBEAT_GROUPS} groups of each kind")));
        }
        for c in &self.consumer_data_set {
            check_group(&c.group_name)?;
            if c.subscription_data_set.len() > MAX_SUBSCRIPTIONS_PER_GROUP {
                return Err(super::ProtocolError::BadBody(format!(
                    "a consumer group subscribes to at most {MAX_SUBSCRIPTIONS_PER_GROUP} topics"
                )));
            }
            for sub in &c.subscription_data_set {
                check_derived_topic(&sub.topic)?;
            }
        }
        for p in &self.producer_data_set {
            check_group(&p.group_name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_expression_builds_code_set() {
        let d = SubscriptionData::build("T", "TagA || TagB", 1);
        assert_eq!(d.tags_set, vec!["TagA", "TagB"]);
        assert!(d.matches_tags_code(java_string_hash("TagB") as i64));
        assert!(!d.matches_tags_code(java_string_hash("TagC") as i64));
        assert!(SubscriptionData::build("T", "*", 1).matches_tags_code(12345));
        assert!(SubscriptionData::build("T", "", 1).matches_tags_code(0));
    }

    #[test]
    fn parses_a_java_heartbeat() {
        let body = br#"{"clientID":"127.0.0.1@1","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"G","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1,"tagsSet":["TagA"],"topic":"T"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;
        let h: HeartbeatData = crate::protocol::fastjson::parse(body).unwrap();
        assert_eq!(h.client_id, "127.0.0.1@1");
        assert_eq!(h.consumer_data_set[0].subscription_data_set[0].code_set, vec![2598919]);
        assert!(h.check_names().is_ok());
    }

    /// What rocketmq-client-go v2.1.2 sends (captured from its debug log):
    /// its sets are JSON arrays of strings, `codeSet` too; `subVersion` is
    /// in nanoseconds; field order differs.
    #[test]
    fn parses_a_go_heartbeat() {
        let body = br#"{"clientID":"192.0.2.2@8811","producerDataSet":[{"groupName":"P"}],"consumerDataSet":[{"groupName":"G","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"TagA || TagB","tagsSet":["TagA","TagB"],"codeSet":["2598919","2598920"],"subVersion":1796527605235259359,"expressionType":"TAG"},{"classFilterMode":false,"topic":"%RETRY%G","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1796527605235451385,"expressionType":"TAG"}],"unitMode":false}]}"#;
        let h: HeartbeatData = crate::protocol::fastjson::parse(body).unwrap();
        let sub = &h.consumer_data_set[0].subscription_data_set[0];
        assert_eq!(sub.code_set, vec![2598919, 2598920]);
        assert!(sub.matches_tags_code(java_string_hash("TagA") as i64));
        assert!(!sub.matches_tags_code(java_string_hash("TagC") as i64));
        assert_eq!(h.consumer_data_set[0].subscription_data_set[1].code_set, Vec::<i32>::new());
        assert!(h.check_names().is_ok());
    }

    #[test]
    fn heartbeat_numbers_and_booleans_as_strings() {
        let body = br#"{"clientID":12,"consumerDataSet":[{"groupName":"G","unitMode":"false","subscriptionDataSet":[{"classFilterMode":"0","codeSet":null,"expressionType":null,"subString":"*","subVersion":"17","tagsSet":null,"topic":"T"}]}],"producerDataSet":null}"#;
        let h: HeartbeatData = crate::protocol::fastjson::parse(body).unwrap();
        assert_eq!(h.client_id, "12");
        let sub = &h.consumer_data_set[0].subscription_data_set[0];
        assert_eq!((sub.sub_version, sub.class_filter_mode, sub.expression_type.as_str()), (17, false, "TAG"));
        assert!(h.producer_data_set.is_empty());
    }

    #[test]
    fn names_in_a_heartbeat_are_checked() {
        let bad_group = br#"{"clientID":"c","consumerDataSet":[{"groupName":"../x","subscriptionDataSet":[]}]}"#;
        let h: HeartbeatData = crate::protocol::fastjson::parse(bad_group).unwrap();
        assert!(h.check_names().is_err());
        let bad_topic = br#"{"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[{"subString":"*","topic":"a/b"}]}]}"#;
        let h: HeartbeatData = crate::protocol::fastjson::parse(bad_topic).unwrap();
        assert!(h.check_names().is_err());
    }
}

//! Topic administration (`AdminBrokerProcessor`): UPDATE_AND_CREATE_TOPIC,
//! DELETE_TOPIC_IN_BROKER, GET_ALL_TOPIC_CONFIG, GET_TOPIC_STATS_INFO and
//! QUERY_TOPIC_CONSUME_BY_WHO.

use std::collections::BTreeSet;

use serde_json::json;

use super::{mq_json, ok, success, validate_topic};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::fastjson;
use crate::protocol::header::{
    CommandHeader, CreateTopicRequestHeader, DeleteTopicRequestHeader, GetTopicStatsInfoRequestHeader,
    QueryTopicConsumeByWhoRequestHeader,
};
use crate::protocol::topic::TopicConfig;
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// UPDATE_AND_CREATE_TOPIC (`AdminBrokerProcessor.updateAndCreateTopic`).
/// Every header field (`perm` too) is decoded before the checks.
pub fn update_and_create_topic(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = CreateTopicRequestHeader::decode(req)?;
    let topic = h.topic.as_str();
    validate_topic(topic)?;
    if b.topics.is_system_topic(topic) {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("The topic[{topic}] is conflict with system topic."),
        ));
    }
    let (read, write) = (h.read_queue_nums, h.write_queue_nums);
    let max = b.cfg().max_queue_nums_per_topic;
    if !(1..=max).contains(&read) || !(1..=max).contains(&write) {
        // Every queue costs files and a slot in every route: zero would
        // swallow sends, and huge counts were a way to fill the disk.
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("readQueueNums[{read}] and writeQueueNums[{write}] must be between 1 and {max} (maxQueueNumsPerTopic)"),
        ));
    }
    let mut tc = TopicConfig::new(topic, read, write, h.perm);
    tc.topic_filter_type = h.topic_filter_type.clone();
    tc.topic_sys_flag = h.topic_sys_flag;
    tc.order = h.order;
    tracing::info!(topic, read = tc.read_queue_nums, write = tc.write_queue_nums, perm = tc.perm, "topic created or updated");
    b.topics.update(tc)?;
    b.trigger_register();
    ok(req)
}

pub fn delete_topic_in_broker(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let topic = &DeleteTopicRequestHeader::decode(req)?.topic;
    validate_topic(topic)?;
    if b.topics.is_system_topic(topic) {
        return Err(BrokerError::new(response::SYSTEM_ERROR, format!("The topic[{topic}] is conflict with system topic.")));
    }
    b.topics.delete(topic);
    b.store.delete_topic(topic);
    b.offsets.remove_topic(topic);
    tracing::info!(topic, "topic deleted");
    b.trigger_register();
    ok(req)
}

pub fn get_all_topic_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let snapshot: TopicConfigSerializeWrapper = b.topics.snapshot();
    let body = fastjson::to_vec(&serde_json::to_value(&snapshot).unwrap());
    Ok(success(req).with_body(body).into())
}

pub fn get_topic_stats_info(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let topic = &GetTopicStatsInfoRequestHeader::decode(req)?.topic;
    let tc = b
        .topics
        .get(topic)
        .ok_or_else(|| BrokerError::new(response::TOPIC_NOT_EXIST, format!("topic[{topic}] not exist")))?;
    let broker_name = b.cfg().broker_name.clone();
    let mut entries = Vec::new();
    for q in 0..tc.write_queue_nums {
        let min = b.store.min_offset_in_queue(topic, q).max(0);
        let max = b.store.max_offset_in_queue(topic, q).max(0);
        let ts = if max > 0 { b.store.message_store_timestamp(topic, q, max - 1) } else { 0 };
        entries.push((mq_json(&broker_name, topic, q), json!({"lastUpdateTimestamp": ts, "maxOffset": max, "minOffset": min})));
    }
    let body = format!("{{\"offsetTable\":{}}}", fastjson::object_key_map(&entries));
    Ok(success(req).with_body(body.into_bytes()).into())
}

pub fn query_topic_consume_by_who(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let topic = &QueryTopicConsumeByWhoRequestHeader::decode(req)?.topic;
    let mut groups: BTreeSet<String> = b.consumers.groups_subscribed_to(topic).into_iter().collect();
    groups.extend(b.offsets.topic_groups().into_iter().filter(|(t, _)| t == topic).map(|(_, g)| g));
    let body = json!({"groupList": groups});
    Ok(success(req).with_body(serde_json::to_vec(&body).unwrap()).into())
}

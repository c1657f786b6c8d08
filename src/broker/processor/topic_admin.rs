//! Topic administration (`AdminBrokerProcessor`): UPDATE_AND_CREATE_TOPIC,
//! DELETE_TOPIC_IN_BROKER, GET_ALL_TOPIC_CONFIG, GET_TOPIC_STATS_INFO and
//! QUERY_TOPIC_CONSUME_BY_WHO.

use std::collections::BTreeSet;

use serde_json::json;

use super::{mq_json, ok, success, validate_topic};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::body::{TopicConfigSerializeWrapper, TopicList};
use crate::protocol::fastjson;
use crate::protocol::header::{
    CommandHeader, CreateTopicRequestHeader, DeleteTopicRequestHeader, GetTopicStatsInfoRequestHeader,
    QueryConsumeTimeSpanRequestHeader, QueryTopicConsumeByWhoRequestHeader,
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

/// GET_SYSTEM_TOPIC_LIST_FROM_BROKER: the broker's system topics, which
/// `DefaultMQAdminExt.getUserTopicConfig` (mqadmin exportMetrics) filters out.
pub fn get_system_topic_list(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let list = TopicList { broker_addr: None, topic_list: b.topics.system_topics() };
    Ok(success(req).with_body(serde_json::to_vec(&list).unwrap()).into())
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

/// QUERY_CONSUME_TIME_SPAN: per write queue of the topic, the store times of
/// its first and last message, of the last message `group` consumed (the
/// first message's if it consumed none) and, while behind, how long the next
/// message has waited (`QueryConsumeTimeSpanBody`, as Apache's
/// `AdminBrokerProcessor.queryConsumeTimeSpan`).
pub fn query_consume_time_span(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = QueryConsumeTimeSpanRequestHeader::decode(req)?;
    let topic = h.topic.as_str();
    let tc = b
        .topics
        .get(topic)
        .ok_or_else(|| BrokerError::new(response::TOPIC_NOT_EXIST, format!("topic[{topic}] not exist")))?;
    let broker_name = b.cfg().broker_name.clone();
    let now = crate::store::now_ms();
    let spans: Vec<_> = (0..tc.write_queue_nums)
        .map(|q| {
            let min_time = b.store.earliest_message_time(topic, q);
            let max_offset = b.store.max_offset_in_queue(topic, q);
            let max_time = if max_offset > 0 { b.store.message_store_timestamp(topic, q, max_offset - 1) } else { 0 };
            let consumer_offset = b.offsets.query(&h.group, topic, q);
            let consume_time = if consumer_offset > 0 {
                b.store.message_store_timestamp(topic, q, consumer_offset - 1)
            } else {
                min_time
            };
            let delay_time = if consumer_offset < max_offset {
                let next = b.store.message_store_timestamp(topic, q, consumer_offset.max(0));
                if next > 0 { now - next } else { 0 }
            } else {
                0
            };
            json!({
                "consumeTimeStamp": consume_time,
                "delayTime": delay_time,
                "maxTimeStamp": max_time,
                "messageQueue": mq_json(&broker_name, topic, q),
                "minTimeStamp": min_time,
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "consumeTimeSpanSet": spans })).unwrap();
    Ok(success(req).with_body(body).into())
}

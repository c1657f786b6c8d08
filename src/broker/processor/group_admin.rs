//! Consumer group administration (`AdminBrokerProcessor`): subscription
//! groups, consumer statistics and connections, offset cloning and
//! resetting, and relaying GET_CONSUMER_RUNNING_INFO /
//! CONSUME_MESSAGE_DIRECTLY to a client.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use super::{mq_json, ok, success};
use crate::broker::client_manager::ClientChannelInfo;
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::subscription_group_manager::SubscriptionGroupConfig;
use crate::broker::Broker;
use crate::protocol::header::{
    CloneGroupOffsetRequestHeader, CommandHeader, ConsumeMessageDirectlyResultRequestHeader,
    DeleteSubscriptionGroupRequestHeader, GetConsumeStatsInBrokerHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetConsumerRunningInfoRequestHeader, GetConsumerStatusRequestHeader,
    GetProducerConnectionListRequestHeader, ResetOffsetRequestHeader,
};
use crate::protocol::{fastjson, ProtocolError};
use crate::remoting::codes::{request, response};
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// `MQVersion.Version.V3_1_8_SNAPSHOT.ordinal()`: older clients cannot answer.
const V3_1_8_SNAPSHOT: i32 = 62;
/// `MQVersion.Version.V3_0_7_SNAPSHOT.ordinal()`: older clients cannot report their status.
const V3_0_7_SNAPSHOT: i32 = 28;

/// A group that is online but not subscribed to `topic` is left out of
/// per-topic admin answers, as the Java broker does.
fn online_but_not_subscribed(b: &Broker, group: &str, topic: &str) -> bool {
    b.consumers
        .with_group(group, |g| !g.subscriptions.is_empty() && !g.subscriptions.contains_key(topic))
        .unwrap_or(false)
}

pub fn get_consume_stats(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = GetConsumeStatsRequestHeader::decode(req)?;
    let group = h.consumer_group.as_str();
    // `topic` is taken unchecked; blank means every topic the group has offsets in.
    let topics: BTreeSet<String> = match h.topic.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => [t.to_string()].into(),
        None => b.offsets.topic_groups().into_iter().filter(|(_, g)| g == group).map(|(t, _)| t).collect(),
    };
    let broker_name = b.cfg().broker_name.clone();
    let mut entries = Vec::new();
    let mut tps = 0.0;
    for topic in topics {
        let Some(tc) = b.topics.get(&topic) else { continue };
        if online_but_not_subscribed(b, group, &topic) {
            continue;
        }
        for q in 0..tc.read_queue_nums {
            let broker_offset = b.store.max_offset_in_queue(&topic, q).max(0);
            let consumer_offset = b.offsets.query(group, &topic, q).max(0);
            let mut v = json!({"brokerOffset": broker_offset, "consumerOffset": consumer_offset, "lastTimestamp": 0});
            if consumer_offset > 0 {
                let ts = b.store.message_store_timestamp(&topic, q, consumer_offset - 1);
                if ts > 0 {
                    v["lastTimestamp"] = json!(ts);
                }
            }
            entries.push((mq_json(&broker_name, &topic, q), v));
        }
        tps += b.stats.group_get_tps(&topic, group);
    }
    let body = format!("{{\"consumeTps\":{tps:.1},\"offsetTable\":{}}}", fastjson::object_key_map(&entries));
    Ok(success(req).with_body(body.into_bytes()).into())
}

fn connection_set(channels: &[ClientChannelInfo]) -> Vec<Value> {
    channels
        .iter()
        .map(|c| {
            json!({
                "clientAddr": c.conn.remote_addr().to_string(),
                "clientId": c.client_id,
                "language": c.language,
                "version": c.version,
            })
        })
        .collect()
}

pub fn get_consumer_connection_list(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let group = &GetConsumerConnectionListRequestHeader::decode(req)?.consumer_group;
    let body = b.consumers.with_group(group, |g| {
        let channels: Vec<_> = g.channels.values().cloned().collect();
        let subs: serde_json::Map<String, Value> =
            g.subscriptions.iter().map(|(t, s)| (t.clone(), serde_json::to_value(s).unwrap())).collect();
        json!({
            "connectionSet": connection_set(&channels),
            "consumeFromWhere": g.consume_from_where,
            "consumeType": g.consume_type,
            "messageModel": g.message_model,
            "subscriptionTable": subs,
        })
    });
    match body {
        Some(body) => Ok(success(req).with_body(serde_json::to_vec(&body).unwrap()).into()),
        None => Err(BrokerError::new(response::CONSUMER_NOT_ONLINE, format!("the consumer group[{group}] not online"))),
    }
}

pub fn get_producer_connection_list(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let group = &GetProducerConnectionListRequestHeader::decode(req)?.producer_group;
    let channels = b.producers.channels(group);
    if channels.is_empty() {
        return Err(BrokerError::new(response::SYSTEM_ERROR, format!("the producer group[{group}] not exist")));
    }
    let body = json!({"connectionSet": connection_set(&channels)});
    Ok(success(req).with_body(serde_json::to_vec(&body).unwrap()).into())
}

pub fn get_all_consumer_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    Ok(success(req).with_body(b.offsets.to_json().into_bytes()).into())
}

pub fn get_all_delay_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    Ok(success(req).with_body(b.schedule.to_json().into_bytes()).into())
}

pub fn get_all_subscription_group(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let (dv, groups) = b.subscription_groups.all();
    let table: serde_json::Map<String, Value> =
        groups.into_iter().map(|g| (g.group_name.clone(), serde_json::to_value(&g).unwrap())).collect();
    let body = json!({"dataVersion": dv, "subscriptionGroupTable": table});
    Ok(success(req).with_body(serde_json::to_vec(&body).unwrap()).into())
}

pub fn update_and_create_subscription_group(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let body = req.body.as_deref().ok_or_else(|| ProtocolError::BadBody("subscription group config missing".into()))?;
    let group: SubscriptionGroupConfig = fastjson::parse(body)?;
    crate::protocol::names::check_group(&group.group_name)?;
    let cfg = b.cfg();
    if !(0..=cfg.max_queue_nums_per_topic).contains(&group.retry_queue_nums) {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("retryQueueNums[{}] must be between 0 and {}", group.retry_queue_nums, cfg.max_queue_nums_per_topic),
        ));
    }
    tracing::info!(group = %group.group_name, "subscription group created or updated");
    if !b.subscription_groups.update(group) {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("the broker already holds maxSubscriptionGroupNums[{}] groups", cfg.max_subscription_group_nums),
        ));
    }
    ok(req)
}

pub fn delete_subscription_group(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = DeleteSubscriptionGroupRequestHeader::decode(req)?;
    let group = h.group_name.as_str();
    b.subscription_groups.delete(group);
    if h.remove_offset {
        b.offsets.remove_group(group);
    }
    tracing::info!(group, "subscription group deleted");
    ok(req)
}

pub fn clone_group_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = CloneGroupOffsetRequestHeader::decode(req)?;
    let (src, dest, offline) = (h.src_group.as_str(), h.dest_group.as_str(), h.offline);
    // `topic` is taken unchecked; blank means every topic of `srcGroup`.
    let topics: Vec<String> = match h.topic.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => vec![t.to_string()],
        None => b.offsets.topic_groups().into_iter().filter(|(_, g)| g == src).map(|(t, _)| t).collect(),
    };
    for topic in topics {
        if b.topics.get(&topic).is_none() {
            continue;
        }
        if !offline && online_but_not_subscribed(b, src, &topic) {
            continue;
        }
        b.offsets.clone_offset(src, dest, &topic);
    }
    ok(req)
}

/// INVOKE_BROKER_TO_RESET_OFFSET (`Broker2Client.resetOffset`): tells each
/// online consumer of the group where to restart; offline groups get
/// CONSUMER_NOT_ONLINE and mqadmin falls back to updating offsets itself.
pub fn invoke_broker_to_reset_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = ResetOffsetRequestHeader::decode(req)?;
    let (topic, group, timestamp, force) = (h.topic.as_str(), h.group.as_str(), h.timestamp, h.is_force);
    let tc = b.topics.get(topic).ok_or_else(|| {
        BrokerError::new(
            response::SYSTEM_ERROR,
            format!("[reset-offset] reset offset failed, no topic in this broker. topic={topic}"),
        )
    })?;
    let broker_name = b.cfg().broker_name.clone();
    let mut entries = Vec::new();
    for q in 0..tc.write_queue_nums {
        let consumer_offset = b.offsets.query(group, topic, q);
        if consumer_offset == -1 {
            return Err(BrokerError::new(response::SYSTEM_ERROR, format!("THe consumer group <{group}> not exist")));
        }
        let by_time = if timestamp == -1 {
            b.store.max_offset_in_queue(topic, q)
        } else {
            b.store.offset_in_queue_by_time(topic, q, timestamp)
        };
        let target = if force || by_time < consumer_offset { by_time } else { consumer_offset };
        entries.push((mq_json(&broker_name, topic, q), json!(target)));
    }
    let body = format!("{{\"offsetTable\":{}}}", fastjson::object_key_map(&entries));
    let members = b.consumers.with_group(group, |g| g.channels.values().map(|c| c.conn.clone()).collect::<Vec<_>>());
    let members = members.unwrap_or_default();
    if members.is_empty() {
        return Err(BrokerError::new(
            response::CONSUMER_NOT_ONLINE,
            format!("Consumer not online, so can not reset offset, Group: {group} Topic: {topic} Timestamp: {timestamp}"),
        ));
    }
    for conn in members {
        let cmd = h.encode(RemotingCommand::request(request::RESET_CONSUMER_CLIENT_OFFSET, 0));
        let cmd = cmd.with_body(body.clone().into_bytes());
        conn.send_oneway(cmd);
    }
    tracing::info!(group, topic, timestamp, "reset offset sent to online consumers");
    Ok(success(req).with_body(body.into_bytes()).into())
}

/// GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY, relayed to the
/// client; the wait for its answer (up to 10 s) runs beside the admin
/// connection's next requests.
pub fn call_consumer(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let (group, client_id) = relayed_target(req)?;
    let (group, client_id) = (group.as_str(), client_id.as_str());
    let channel = b
        .consumers
        .with_group(group, |g| g.channels.values().find(|c| c.client_id == client_id).cloned())
        .flatten()
        .ok_or_else(|| BrokerError::new(response::SYSTEM_ERROR, format!("The Consumer <{group}> <{client_id}> not online")))?;
    if channel.version < V3_1_8_SNAPSHOT {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("The Consumer <{client_id}> Version <{}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT", channel.version),
        ));
    }
    let mut relay = RemotingCommand::request(req.code, 0);
    relay.ext_fields = req.ext_fields.clone();
    relay.body = req.body.clone();
    if req.code == request::CONSUME_MESSAGE_DIRECTLY {
        // As the Java broker: the client is handed the stored message named by msgId.
        let h = ConsumeMessageDirectlyResultRequestHeader::decode(req)?;
        let msg_id = h.msg_id.ok_or(crate::protocol::ProtocolError::MissingField("msgId"))?;
        let (_, offset) = crate::protocol::message::decode_message_id(&msg_id)?;
        let record = b
            .store
            .raw_record(offset)
            .ok_or_else(|| BrokerError::new(response::SYSTEM_ERROR, format!("can not find message by the offset, {offset}")))?;
        relay.body = Some(record);
        relay.ext_fields.insert("brokerName".into(), b.cfg().broker_name.clone());
    }
    let (req, group, client_id, cfg) = (req.clone(), group.to_string(), client_id.to_string(), b.cfg());
    Ok(Reply::later(async move {
        let result = match channel.conn.request(relay, Duration::from_secs(10)).await {
            Ok(mut resp) => {
                resp.opaque = req.opaque;
                resp.serialize_type = req.serialize_type;
                Ok(resp)
            }
            Err(crate::remoting::RemotingError::Timeout(_)) => Err(BrokerError::new(
                response::CONSUME_MSG_TIMEOUT,
                format!("consumer <{group}> <{client_id}> Timeout: no response in 10000 ms"),
            )),
            Err(err) => Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("invoke consumer <{group}> <{client_id}> Exception: {err}"),
            )),
        };
        Some(result.unwrap_or_else(|e| e.into_response(&req, &cfg)))
    }))
}

/// The consumer a relayed call is for: `(consumerGroup, clientId)` of
/// GET_CONSUMER_RUNNING_INFO's or CONSUME_MESSAGE_DIRECTLY's header.
fn relayed_target(req: &RemotingCommand) -> BrokerResult<(String, String)> {
    Ok(if req.code == request::CONSUME_MESSAGE_DIRECTLY {
        let h = ConsumeMessageDirectlyResultRequestHeader::decode(req)?;
        (h.consumer_group, h.client_id)
    } else {
        let h = GetConsumerRunningInfoRequestHeader::decode(req)?;
        (h.consumer_group, h.client_id)
    })
}

/// GET_BROKER_CONSUME_STATS (`fetchAllConsumeStatsInBroker`): every
/// subscription group's `ConsumeStats` per topic it has offsets in, as
/// `ConsumeStatsList` (`isOrder` keeps ordered topics only).
pub fn get_broker_consume_stats(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let is_order = GetConsumeStatsInBrokerHeader::decode(req)?.is_order;
    let (_, groups) = b.subscription_groups.all();
    let topic_groups = b.offsets.topic_groups();
    let broker_name = b.cfg().broker_name.clone();
    let mut total_diff: i64 = 0;
    let mut list = Vec::new();
    for group in groups.iter().map(|g| g.group_name.as_str()) {
        let topics: BTreeSet<&str> = topic_groups.iter().filter(|(_, g)| g == group).map(|(t, _)| t.as_str()).collect();
        let mut stats = Vec::new();
        for topic in topics {
            let Some(tc) = b.topics.get(topic) else { continue };
            if (is_order && !tc.order) || online_but_not_subscribed(b, group, topic) {
                continue;
            }
            let mut entries = Vec::new();
            for q in 0..tc.write_queue_nums {
                let broker_offset = b.store.max_offset_in_queue(topic, q).max(0);
                let consumer_offset = b.offsets.query(group, topic, q).max(0);
                let mut v = json!({"brokerOffset": broker_offset, "consumerOffset": consumer_offset, "lastTimestamp": 0});
                if consumer_offset > 0 {
                    let ts = b.store.message_store_timestamp(topic, q, consumer_offset - 1);
                    if ts > 0 {
                        v["lastTimestamp"] = json!(ts);
                    }
                }
                total_diff += broker_offset - consumer_offset;
                entries.push((mq_json(&broker_name, topic, q), v));
            }
            let tps = b.stats.group_get_tps(topic, group);
            stats.push(format!("{{\"consumeTps\":{tps:.1},\"offsetTable\":{}}}", fastjson::object_key_map(&entries)));
        }
        list.push(format!("{{{}:[{}]}}", Value::String(group.to_string()), stats.join(",")));
    }
    let body = format!(
        "{{\"brokerAddr\":{},\"consumeStatsList\":[{}],\"totalDiff\":{total_diff}}}",
        Value::String(b.cfg().broker_addr()),
        list.join(",")
    );
    Ok(success(req).with_body(body.into_bytes()).into())
}

/// GET_ALL_PRODUCER_INFO: every producer group's live instances, as
/// `ProducerTableInfo`.
pub fn get_all_producer_info(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let now = crate::store::now_ms();
    let data: serde_json::Map<String, Value> = b
        .producers
        .all()
        .into_iter()
        .map(|(group, channels)| {
            let infos = channels
                .iter()
                .map(|c| {
                    json!({
                        "clientId": c.client_id,
                        "language": c.language,
                        "lastUpdateTimestamp": now - c.last_update.elapsed().as_millis() as i64,
                        // `channel.remoteAddress().toString()`, slash and all.
                        "remoteIP": format!("/{}", c.conn.remote_addr()),
                        "version": c.version,
                    })
                })
                .collect();
            (group, Value::Array(infos))
        })
        .collect();
    let body = json!({ "data": data });
    Ok(success(req).with_body(serde_json::to_vec(&body).unwrap()).into())
}

/// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (`Broker2Client.getConsumeStatus`):
/// asks each consumer of the group (or only `clientAddr`, a client id, when
/// given) for its offsets with GET_CONSUMER_STATUS_FROM_CLIENT and answers
/// `GetConsumerStatusBody` with one `consumerTable` entry per client that
/// answered. The calls (5 s each) run beside the admin connection's next
/// requests.
pub fn get_consumer_status(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = GetConsumerStatusRequestHeader::decode(req)?;
    let channels = b.consumers.with_group(&h.group, |g| g.channels.values().cloned().collect::<Vec<_>>());
    let mut channels = channels.unwrap_or_default();
    if channels.is_empty() {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("No Any Consumer online in the consumer group: [{}]", h.group),
        ));
    }
    if let Some(old) = channels.iter().find(|c| c.version < V3_0_7_SNAPSHOT) {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("the client does not support this feature. version={}", old.version),
        ));
    }
    let only = h.client_addr.clone().filter(|a| !a.trim().is_empty());
    if let Some(id) = &only {
        channels.retain(|c| &c.client_id == id);
    }
    let relay = GetConsumerStatusRequestHeader { topic: h.topic.clone(), group: h.group.clone(), client_addr: None };
    let req = req.clone();
    Ok(Reply::later(async move {
        let mut table = Vec::new();
        for c in channels {
            let cmd = relay.encode(RemotingCommand::request(request::GET_CONSUMER_STATUS_FROM_CLIENT, 0));
            match c.conn.request(cmd, Duration::from_secs(5)).await {
                Ok(resp) if resp.code == response::SUCCESS => {
                    if let Some(mq_table) = resp.body.as_deref().and_then(|b| raw_field(b, "messageQueueTable")) {
                        table.push(format!("{}:{}", Value::String(c.client_id.clone()), mq_table));
                    }
                }
                Ok(resp) => tracing::warn!(client = %c.client_id, code = resp.code, "get consumer status refused"),
                Err(err) => tracing::error!(client = %c.client_id, %err, "get consumer status failed"),
            }
        }
        let body = format!("{{\"consumerTable\":{{{}}},\"messageQueueTable\":{{}}}}", table.join(","));
        Some(success(&req).with_body(body.into_bytes()))
    }))
}

/// The raw text of top-level field `key` of a fastjson object (whose maps may
/// have object keys, so it is not parsed as JSON).
fn raw_field<'a>(text: &'a [u8], key: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(text).ok()?;
    let bytes = text.as_bytes();
    let want = format!("\"{key}\"");
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i)?;
                if depth == 1 && text[i..end] == want {
                    let mut j = end;
                    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b':') {
                        let start = j + 1;
                        return value_end(bytes, start).map(|e| text[start..e].trim());
                    }
                }
                i = end;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index just past the string starting at `start` (a quote).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Index just past the value starting at `start`: at the `,` or `}` that
/// closes it at its own level.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut i) = (0usize, start);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(i),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod raw_field_tests {
    use super::raw_field;

    #[test]
    fn finds_top_level_fields_with_object_keys() {
        let body = br#"{"consumerTable":{"x":{"messageQueueTable":1}},"messageQueueTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b}","queueId":1,"topic":"T"}:7}}"#;
        assert_eq!(
            raw_field(body, "messageQueueTable"),
            Some(r#"{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b}","queueId":1,"topic":"T"}:7}"#)
        );
        assert_eq!(raw_field(br#"{"a":1, "messageQueueTable" : {} }"#, "messageQueueTable"), Some("{}"));
        assert_eq!(raw_field(br#"{"a":1}"#, "messageQueueTable"), None);
    }
}

//! Clients and their groups: HEART_BEAT, UNREGISTER_CLIENT,
//! GET_CONSUMER_LIST_BY_GROUP, CHECK_CLIENT_CONFIG, and the orderly
//! consumers' LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (`ClientManageProcessor`,
//! `ConsumerManageProcessor`, `AdminBrokerProcessor.lockBatchMQ`).

use std::collections::BTreeSet;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{ok, success};
use crate::broker::client_manager::{notify_consumer_ids_changed, ClientChannelInfo, ConsumerRegistration};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::lock_manager::MessageQueue;
use crate::broker::Broker;
use crate::protocol::body::ConsumerListBody;
use crate::protocol::header::{CommandHeader, GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use crate::protocol::heartbeat::{HeartbeatData, SubscriptionData};
use crate::protocol::{fastjson, perm, topics, ProtocolError};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

pub fn heart_beat(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let body = req.body.as_deref().ok_or_else(|| ProtocolError::BadBody("heartbeat without body".into()))?;
    let hb: HeartbeatData = fastjson::parse(body)?;
    hb.check_names()?;
    let notify_enabled = b.cfg().notify_consumer_ids_changed;
    let channel = ClientChannelInfo {
        conn: conn.clone(),
        client_id: hb.client_id.clone(),
        language: req.language.clone(),
        version: req.version,
        last_update: Instant::now(),
    };
    for data in hb.consumer_data_set {
        // Every known group gets its retry topic, as the Java broker creates it here.
        let mut notify = notify_enabled;
        if let Some(group) = b.subscription_groups.find(&data.group_name) {
            notify &= group.notify_consumer_ids_changed_enable;
            let retry = topics::retry_topic(&data.group_name);
            // A refused retry topic (too long a name, too many topics) must
            // not refuse the heartbeat: the consumer still consumes.
            let created = crate::protocol::names::check_derived_topic(&retry)
                .map_err(BrokerError::from)
                .and_then(|_| b.topics.create_if_absent(&retry, group.retry_queue_nums, perm::READ | perm::WRITE, 0));
            match created {
                Ok((_, true)) => b.trigger_register(),
                Ok(_) => {}
                Err(e) => tracing::warn!(group = %data.group_name, "retry topic not created: {e}"),
            }
        }
        let changed = b.consumers.register(ConsumerRegistration {
            group: data.group_name.clone(),
            channel: channel.clone(),
            consume_type: data.consume_type,
            message_model: data.message_model,
            consume_from_where: data.consume_from_where,
            subscriptions: data.subscription_data_set,
        });
        if let Some(members) = changed {
            if notify {
                notify_consumer_ids_changed(&data.group_name, &members);
            }
        }
    }
    for p in hb.producer_data_set {
        b.producers.register(&p.group_name, channel.clone());
    }
    ok(req)
}

pub fn unregister_client(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = UnregisterClientRequestHeader::decode(req)?;
    if let Some(group) = h.producer_group.as_deref() {
        b.producers.unregister(conn.id(), Some(group));
    }
    if let Some(group) = h.consumer_group.as_deref() {
        let notify = b.cfg().notify_consumer_ids_changed;
        for (g, remaining) in b.consumers.unregister(conn.id(), Some(group)) {
            if notify && !remaining.is_empty() {
                notify_consumer_ids_changed(&g, &remaining);
            }
        }
    }
    ok(req)
}

pub fn get_consumer_list_by_group(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let group = &GetConsumerListByGroupRequestHeader::decode(req)?.consumer_group;
    let ids = b.consumers.with_group(group, |g| g.client_ids()).unwrap_or_default();
    if ids.is_empty() {
        tracing::warn!(group, "getConsumerListByGroup: no consumer for this group");
        return Err(BrokerError::new(response::SYSTEM_ERROR, format!("no consumer for this group, {group}")));
    }
    let body = serde_json::to_vec(&ConsumerListBody { consumer_id_list: ids }).unwrap();
    Ok(success(req).with_body(body).into())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckClientRequestBody {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    group: String,
    subscription_data: Option<SubscriptionData>,
}

/// CHECK_CLIENT_CONFIG: clients ask before using a non-tag filter.
pub fn check_client_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let body = req.body.as_deref().unwrap_or(b"{}");
    let c: CheckClientRequestBody = fastjson::parse(body)?;
    if let Some(sub) = c.subscription_data.filter(|s| !s.is_tag_type()) {
        if !b.cfg().enable_property_filter {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("The broker does not support consumer to filter message by {}", sub.expression_type),
            ));
        }
        if let Err(e) = crate::broker::filter::sql::compile(&sub.sub_string) {
            tracing::warn!(client = %c.client_id, group = %c.group, "client filter does not compile: {e}");
            return Err(BrokerError::new(response::SUBSCRIPTION_PARSE_FAILED, e.to_string()));
        }
    }
    ok(req)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LockBatchRequestBody {
    client_id: String,
    consumer_group: String,
    #[serde(default)]
    mq_set: Vec<MessageQueue>,
}

#[derive(Serialize)]
struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet")]
    lock_ok_mq_set: BTreeSet<MessageQueue>,
}

fn parse_lock_body(req: &RemotingCommand) -> Result<LockBatchRequestBody, ProtocolError> {
    let body = req.body.as_deref().ok_or_else(|| ProtocolError::BadBody("lock request without body".into()))?;
    fastjson::parse(body)
}

pub fn lock_batch_mq(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let body = parse_lock_body(req)?;
    crate::protocol::names::check_group(&body.consumer_group)?;
    // Only queues this broker has can be locked: the lock table is not a
    // place for a peer to store arbitrary names.
    let mq_set: Vec<MessageQueue> = body
        .mq_set
        .into_iter()
        .filter(|mq| b.topics.get(&mq.topic).is_some_and(|tc| (0..tc.read_queue_nums.max(tc.write_queue_nums)).contains(&mq.queue_id)))
        .collect();
    let locked = b.locks.try_lock_batch(&body.consumer_group, &mq_set, &body.client_id);
    let out = serde_json::to_vec(&LockBatchResponseBody { lock_ok_mq_set: locked }).unwrap();
    Ok(success(req).with_body(out).into())
}

pub fn unlock_batch_mq(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let body = parse_lock_body(req)?;
    b.locks.unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_response_body_uses_java_field_name() {
        let mq = MessageQueue { broker_name: "b".into(), queue_id: 2, topic: "T".into() };
        let body = serde_json::to_string(&LockBatchResponseBody { lock_ok_mq_set: [mq].into() }).unwrap();
        assert_eq!(body, r#"{"lockOKMQSet":[{"brokerName":"b","queueId":2,"topic":"T"}]}"#);
    }
}

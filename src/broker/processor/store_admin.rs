//! Store administration (`AdminBrokerProcessor`): CLEAN_EXPIRED_CONSUMEQUEUE,
//! DELETE_EXPIRED_COMMITLOG, CLEAN_UNUSED_TOPIC and QUERY_CONSUME_QUEUE.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::{ok, success};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::header::{CommandHeader, QueryConsumeQueueRequestHeader};
use crate::protocol::topics;
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// How many retention passes one DELETE_EXPIRED_COMMITLOG runs, as the Java
/// store's `manualDeleteFileSeveralTimes`.
const MANUAL_DELETE_ROUNDS: usize = 20;

/// CLEAN_EXPIRED_CONSUMEQUEUE: trims every consume queue (and the index) to
/// the commit log's min offset.
pub fn clean_expired_consume_queue(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    tracing::warn!("invoke cleanExpiredConsumeQueue start.");
    b.store.clean_expired_consume_queues();
    tracing::warn!("invoke cleanExpiredConsumeQueue end.");
    ok(req)
}

/// DELETE_EXPIRED_COMMITLOG (`executeDeleteFilesManually`): runs the
/// retention pass now, whatever `deleteWhen` says: commit log files older
/// than `fileReservedTime` go (never the newest). The work runs in the
/// background; the answer is SUCCESS at once, as the Java broker's.
pub fn delete_expired_commit_log(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    tracing::warn!("invoke deleteExpiredCommitLog start.");
    let store = b.store.clone();
    let spawned = std::thread::Builder::new().name("ferromq-manual-delete".into()).spawn(move || {
        let mut total = 0;
        for _ in 0..MANUAL_DELETE_ROUNDS {
            let n = store.delete_expired_files(false);
            total += n;
            if n == 0 {
                break;
            }
        }
        tracing::warn!(deleted_files = total, "invoke deleteExpiredCommitLog end.");
    });
    if let Err(e) = spawned {
        return Err(BrokerError::new(response::SYSTEM_ERROR, format!("deleteExpiredCommitLog: {e}")));
    }
    ok(req)
}

/// Topics whose consume queues CLEAN_UNUSED_TOPIC keeps even when they are
/// not in the topic table (`DefaultMessageStore.cleanUnusedTopic`).
fn kept_without_config(topic: &str) -> bool {
    topic == topics::SCHEDULE_TOPIC || topic == topics::TRANS_OP_HALF_TOPIC || topic.starts_with("%LMQ%")
}

/// The consume-queue topics CLEAN_UNUSED_TOPIC drops: on disk, not in `configured`.
fn unused_topics(on_disk: Vec<String>, configured: &HashSet<String>) -> Vec<String> {
    on_disk.into_iter().filter(|t| !configured.contains(t) && !kept_without_config(t)).collect()
}

/// CLEAN_UNUSED_TOPIC: drops the consume queues of topics that are no longer
/// in the topic table (their messages stay in the commit log until retention).
pub fn clean_unused_topic(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    tracing::warn!("invoke cleanUnusedTopic start.");
    // Consume queues first, topic table second: a topic's config exists
    // before its first message, so one created meanwhile is never dropped.
    let on_disk = b.store.topics();
    let configured: HashSet<String> = b.topics.snapshot().topic_config_table.into_keys().collect();
    for topic in unused_topics(on_disk, &configured) {
        b.store.delete_topic(&topic);
        tracing::info!(topic, "cleanUnusedTopic: topic destroyed");
    }
    tracing::warn!("invoke cleanUnusedTopic end.");
    ok(req)
}

/// QUERY_CONSUME_QUEUE: up to `count` consume queue entries from `index`, as
/// `QueryConsumeQueueResponseBody`. ferromq keeps no consume queue
/// extension, so `extendDataJson`/`bitMap`/`msg` never appear and `eval` is
/// false; `filterData` is what the Java broker writes for a tag
/// subscription (`null`).
pub fn query_consume_queue(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = QueryConsumeQueueRequestHeader::decode(req)?;
    let (topic, queue_id) = (h.topic.as_str(), h.queue_id);
    if !b.store.has_consume_queue(topic, queue_id) {
        return Err(BrokerError::new(response::SYSTEM_ERROR, format!("{queue_id}@{topic} is not exist!")));
    }
    let max = b.store.max_offset_in_queue(topic, queue_id);
    let min = b.store.min_offset_in_queue(topic, queue_id);
    let mut body = json!({"maxQueueIndex": max, "minQueueIndex": min});
    if let Some(group) = h.consumer_group.as_deref() {
        match b.consumers.subscription(group, topic).flatten() {
            Some(sub) => {
                body["subscriptionData"] = serde_json::to_value(&sub).unwrap();
                body["filterData"] = json!("null");
            }
            None => body["filterData"] = json!(format!("{group}@{topic} is not online!")),
        }
    }
    if h.index < min || h.index >= max {
        let remark = format!("Index {} of {queue_id}@{topic} is not exist!", h.index);
        let mut resp = success(req).with_body(serde_json::to_vec(&body).unwrap());
        resp.remark = Some(remark);
        return Ok(resp.into());
    }
    let end = max.min(h.index.saturating_add(h.count.max(0) as i64));
    let queue_data: Vec<Value> = (h.index..end)
        .map_while(|i| b.store.consume_queue_entry(topic, queue_id, i))
        .map(|e| json!({"eval": false, "physicOffset": e.phy_offset, "physicSize": e.size, "tagsCode": e.tags_code}))
        .collect();
    body["queueData"] = Value::Array(queue_data);
    Ok(success(req).with_body(serde_json::to_vec(&body).unwrap()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_topics_keep_configured_and_system_ones() {
        let configured: HashSet<String> = ["T1".to_string()].into();
        let on_disk = ["T1", "Gone", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_OP_HALF_TOPIC", "%LMQ%x"];
        let got = unused_topics(on_disk.iter().map(|t| t.to_string()).collect(), &configured);
        assert_eq!(got, vec!["Gone".to_string()]);
    }
}

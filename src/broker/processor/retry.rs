//! CONSUMER_SEND_MSG_BACK: a message the consumer could not handle goes to
//! `%RETRY%group` with a delay, or to `%DLQ%group` when it has been retried
//! enough (`SendMessageProcessor.asyncConsumerSendMsgBack`).

use super::{ok, random_queue};
use crate::broker::error::{BrokerError, BrokerResult, FAQ_SUFFIX};
use crate::broker::Broker;
use crate::protocol::header::{CommandHeader, ConsumerSendMsgBackRequestHeader};
use crate::protocol::message::{property, MessageInner};
use crate::protocol::{names, perm, topics};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// `MQVersion.Version.V3_4_9.ordinal()`: from here clients send maxReconsumeTimes.
const V3_4_9: i32 = 121;
const DLQ_NUMS_PER_GROUP: i32 = 1;

pub fn consumer_send_msg_back(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = ConsumerSendMsgBackRequestHeader::decode(req)?;
    let (group, offset, mut delay_level) = (h.group.as_str(), h.offset, h.delay_level);
    let sub = b.subscription_groups.find(group).ok_or_else(|| {
        BrokerError::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {group} {FAQ_SUFFIX}"),
        )
    })?;
    let cfg = b.cfg();
    if !perm::writeable(cfg.broker_permission) {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", cfg.broker_ip),
        ));
    }
    if sub.retry_queue_nums <= 0 {
        return ok(req);
    }
    let mut topic = topics::retry_topic(group);
    // Both names become consume-queue directories: check them before anything is created.
    names::check_derived_topic(&topic)?;
    names::check_derived_topic(&topics::dlq_topic(group))?;
    let (tc, created) = b.topics.create_if_absent(&topic, sub.retry_queue_nums, perm::READ | perm::WRITE, 0)?;
    if created {
        b.trigger_register();
    }
    if !perm::writeable(tc.perm) {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("the topic[{topic}] sending message is forbidden"),
        ));
    }
    let mut queue_id = random_queue(sub.retry_queue_nums);
    let msg = b
        .store
        .look_message_by_offset(offset)
        .ok_or_else(|| BrokerError::new(response::SYSTEM_ERROR, format!("look message by offset failed, {offset}")))?;
    let mut props = msg.properties.clone();
    if props.get(property::RETRY_TOPIC).is_none() {
        props.put(property::RETRY_TOPIC, msg.topic.clone());
    }
    // Older clients' maxReconsumeTimes is ignored (decoded, but not used).
    let max_reconsume_times = match h.max_reconsume_times {
        Some(t) if req.version >= V3_4_9 => t,
        _ => sub.retry_max_times,
    };
    if msg.reconsume_times >= max_reconsume_times || delay_level < 0 {
        topic = topics::dlq_topic(group);
        queue_id = random_queue(DLQ_NUMS_PER_GROUP);
        let (_, created) = b.topics.create_if_absent(&topic, DLQ_NUMS_PER_GROUP, perm::READ | perm::WRITE, 0)?;
        if created {
            b.trigger_register();
        }
        // Java sets the level to 0 (DELAY=0 stays in the stored properties).
        props.put(property::DELAY_TIME_LEVEL, "0");
        tracing::info!(group, msg_id = %msg.msg_id(), times = msg.reconsume_times, "message moved to the dead letter queue");
    } else {
        if delay_level == 0 {
            delay_level = 3 + msg.reconsume_times;
        }
        props.put(property::DELAY_TIME_LEVEL, delay_level.to_string());
    }
    if props.get(property::ORIGIN_MESSAGE_ID).is_none() {
        props.put(property::ORIGIN_MESSAGE_ID, msg.msg_id());
    }
    let inner = MessageInner {
        topic,
        queue_id,
        properties: props,
        reconsume_times: msg.reconsume_times + 1,
        prepared_transaction_offset: 0,
        ..msg.to_inner()
    };
    b.store.put_message(&inner)?;
    // As Java's incSendBackNums: keyed by the original topic and the group.
    b.stats.on_send_back(inner.properties.get(property::RETRY_TOPIC).unwrap_or(&msg.topic), group);
    ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::Properties;
    use crate::remoting::codes::request;

    fn send_back(b: &Broker, offset: i64, delay_level: i32) {
        let req = RemotingCommand::request(request::CONSUMER_SEND_MSG_BACK, 1)
            .with_ext("group", "G")
            .with_ext("offset", offset)
            .with_ext("delayLevel", delay_level);
        let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
        assert!(consumer_send_msg_back(b, &conn, &req).is_ok());
    }

    /// As `SendMessageProcessor.asyncConsumerSendMsgBack` (4.9.7): WAIT
    /// stays, a retry sets DELAY to its level, a dead letter to 0.
    #[tokio::test]
    async fn sent_back_messages_keep_wait_and_carry_java_delay() {
        let dir = tempfile::tempdir().unwrap();
        let b = crate::broker::test_broker(dir.path(), &[]);
        let mut m = crate::store::tests::msg("T", 0, "x", "");
        m.properties = Properties::default();
        for (k, v) in [("WAIT", "true"), ("DELAY", "2"), ("REAL_TOPIC", "T"), ("REAL_QID", "0")] {
            m.properties.put(k, v);
        }
        // Stored as a delivered delayed message is (DELAY kept, not delayed again).
        let delivered = b.store.put_message_as_given(&m).unwrap().wrote_offset;
        send_back(&b, delivered, 0);
        let e = b.store.consume_queue_entry(topics::SCHEDULE_TOPIC, 2, 0).expect("retry waits at level 3");
        let retry = b.store.look_message_by_offset(e.phy_offset).unwrap();
        assert_eq!(retry.properties.get("DELAY"), Some("3"));
        assert_eq!(retry.properties.get("WAIT"), Some("true"));
        assert_eq!(retry.properties.get("REAL_TOPIC"), Some("%RETRY%G"));
        send_back(&b, delivered, -1);
        let e = b.store.consume_queue_entry("%DLQ%G", 0, 0).expect("dead letter");
        let dead = b.store.look_message_by_offset(e.phy_offset).unwrap();
        assert_eq!(dead.properties.get("DELAY"), Some("0"));
        assert_eq!(dead.properties.get("WAIT"), Some("true"));
    }
}

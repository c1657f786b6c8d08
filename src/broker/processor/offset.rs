//! Consumer offsets and queue offset look-ups: QUERY/UPDATE_CONSUMER_OFFSET
//! (`ConsumerManageProcessor`), GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP
//! and GET_EARLIEST_MSG_STORETIME (what clients ask through `MQAdminImpl`).

use super::{ok, success};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::header::Ext;
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

pub fn query_consumer_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let e = Ext::of(req);
    let (group, topic, queue_id) = (e.group("consumerGroup")?, e.topic("topic")?, e.i32("queueId")?);
    let offset = b.offsets.query(group, topic, queue_id);
    if offset >= 0 {
        return Ok(success(req).with_ext("offset", offset).into());
    }
    // A group with no committed offset starts at 0 while the queue's
    // first message is still in memory (the Java broker's rule).
    let min = b.store.min_offset_in_queue(topic, queue_id);
    if min <= 0 && !b.store.check_in_disk_by_consume_offset(topic, queue_id, 0) {
        return Ok(success(req).with_ext("offset", 0).into());
    }
    Err(BrokerError::new(response::QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"))
}

pub fn update_consumer_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let e = Ext::of(req);
    let (group, topic, queue_id) = (e.group("consumerGroup")?, e.topic("topic")?, e.i32("queueId")?);
    // Offsets are kept per topic, queue and group: only queues that exist
    // may get one, or any peer could grow the table (and its file) at will.
    let tc = b
        .topics
        .get(topic)
        .ok_or_else(|| BrokerError::new(response::TOPIC_NOT_EXIST, format!("Topic {topic} not exist!")))?;
    if queue_id < 0 || queue_id >= tc.read_queue_nums.max(tc.write_queue_nums) {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]", tc.read_queue_nums),
        ));
    }
    b.offsets.commit(group, topic, queue_id, e.i64("commitOffset")?);
    ok(req)
}

pub fn get_max_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let e = Ext::of(req);
    let offset = b.store.max_offset_in_queue(e.topic("topic")?, e.i32("queueId")?);
    Ok(success(req).with_ext("offset", offset).into())
}

pub fn get_min_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let e = Ext::of(req);
    let offset = b.store.min_offset_in_queue(e.topic("topic")?, e.i32("queueId")?);
    Ok(success(req).with_ext("offset", offset).into())
}

pub fn search_offset_by_timestamp(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let e = Ext::of(req);
    let offset = b.store.offset_in_queue_by_time(e.topic("topic")?, e.i32("queueId")?, e.i64("timestamp")?);
    Ok(success(req).with_ext("offset", offset).into())
}

pub fn get_earliest_msg_storetime(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let e = Ext::of(req);
    let ts = b.store.earliest_message_time(e.topic("topic")?, e.i32("queueId")?);
    Ok(success(req).with_ext("timestamp", ts).into())
}

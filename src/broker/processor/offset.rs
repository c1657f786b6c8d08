//! Consumer offsets and queue offset look-ups: QUERY/UPDATE_CONSUMER_OFFSET
//! (`ConsumerManageProcessor`), GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP
//! and GET_EARLIEST_MSG_STORETIME (what clients ask through `MQAdminImpl`).

use super::{ok, success};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::header::{
    CommandHeader, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader, GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

fn answer(req: &RemotingCommand, header: impl CommandHeader) -> BrokerResult<Reply> {
    Ok(header.encode(success(req)).into())
}

pub fn query_consumer_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = QueryConsumerOffsetRequestHeader::decode(req)?;
    let (topic, queue_id) = (h.topic.as_str(), h.queue_id);
    let offset = b.offsets.query(&h.consumer_group, topic, queue_id);
    if offset >= 0 {
        return answer(req, QueryConsumerOffsetResponseHeader { offset });
    }
    // A group with no committed offset starts at 0 while the queue's
    // first message is still in memory (the Java broker's rule).
    let min = b.store.min_offset_in_queue(topic, queue_id);
    if min <= 0 && !b.store.check_in_disk_by_consume_offset(topic, queue_id, 0) {
        return answer(req, QueryConsumerOffsetResponseHeader { offset: 0 });
    }
    Err(BrokerError::new(response::QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"))
}

/// A missing or bad `commitOffset` is now reported before the topic and
/// queue checks (every field is decoded first, as the Java broker does).
pub fn update_consumer_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = UpdateConsumerOffsetRequestHeader::decode(req)?;
    let (topic, queue_id) = (h.topic.as_str(), h.queue_id);
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
    b.offsets.commit(&h.consumer_group, topic, queue_id, h.commit_offset);
    ok(req)
}

pub fn get_max_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = GetMaxOffsetRequestHeader::decode(req)?;
    let offset = b.store.max_offset_in_queue(&h.topic, h.queue_id);
    answer(req, GetMaxOffsetResponseHeader { offset })
}

pub fn get_min_offset(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = GetMinOffsetRequestHeader::decode(req)?;
    let offset = b.store.min_offset_in_queue(&h.topic, h.queue_id);
    answer(req, GetMinOffsetResponseHeader { offset })
}

pub fn search_offset_by_timestamp(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = SearchOffsetRequestHeader::decode(req)?;
    let offset = b.store.offset_in_queue_by_time(&h.topic, h.queue_id, h.timestamp);
    answer(req, SearchOffsetResponseHeader { offset })
}

pub fn get_earliest_msg_storetime(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = GetEarliestMsgStoretimeRequestHeader::decode(req)?;
    let timestamp = b.store.earliest_message_time(&h.topic, h.queue_id);
    answer(req, GetEarliestMsgStoretimeResponseHeader { timestamp })
}

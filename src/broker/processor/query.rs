//! QUERY_MESSAGE (by key, from the index) and VIEW_MESSAGE_BY_ID (by
//! commit-log offset) (`QueryMessageProcessor`).

use bytes::{BufMut, BytesMut};

use super::success;
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::header::{CommandHeader, QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// `defaultQueryMaxNum` and `maxMsgsNumBatch` of the Java store.
const DEFAULT_QUERY_MAX_NUM: i32 = 32;
const MAX_MSGS_NUM_BATCH: i32 = 64;

pub fn query_message(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = QueryMessageRequestHeader::decode(req)?;
    let max = if h.unique_key_query { DEFAULT_QUERY_MAX_NUM } else { h.max_num };
    let max = max.clamp(1, MAX_MSGS_NUM_BATCH) as usize;
    let offsets = b.store.query_message_offsets(&h.topic, &h.key, max, h.begin_timestamp, h.end_timestamp);
    let mut body = BytesMut::new();
    for off in offsets {
        if let Some(rec) = b.store.raw_record(off) {
            body.put_slice(&rec);
        }
    }
    let (ts, phy) = b.store.index_last_update();
    if body.is_empty() {
        return Err(BrokerError::new(response::QUERY_NOT_FOUND, "can not find message, maybe time range not correct"));
    }
    let answer = QueryMessageResponseHeader { index_last_update_timestamp: ts, index_last_update_phyoffset: phy };
    Ok(answer.encode(success(req)).with_body(body.freeze()).into())
}

pub fn view_message_by_id(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let offset = ViewMessageRequestHeader::decode(req)?.offset;
    match b.store.raw_record(offset) {
        Some(rec) => Ok(success(req).with_body(rec).into()),
        None => Err(BrokerError::new(response::SYSTEM_ERROR, format!("can not find message by the offset, {offset}"))),
    }
}

//! QUERY_MESSAGE (by key, from the index) and VIEW_MESSAGE_BY_ID (by
//! commit-log offset) (`QueryMessageProcessor`).

use bytes::{BufMut, BytesMut};

use super::error::{BrokerError, BrokerResult};
use super::Broker;
use crate::protocol::header::Ext;
use crate::remoting::codes::response;
use crate::remoting::RemotingCommand;

/// `defaultQueryMaxNum` and `maxMsgsNumBatch` of the Java store.
const DEFAULT_QUERY_MAX_NUM: i32 = 32;
const MAX_MSGS_NUM_BATCH: i32 = 64;

impl Broker {
    pub(super) fn query_message(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let topic = e.topic("topic")?;
        let key = e.str("key")?;
        let mut max = e.i32("maxNum")?;
        if e.opt_str("_UNIQUE_KEY_QUERY") == Some("true") {
            max = DEFAULT_QUERY_MAX_NUM;
        }
        let max = max.clamp(1, MAX_MSGS_NUM_BATCH) as usize;
        let begin = e.i64("beginTimestamp")?;
        let end = e.i64("endTimestamp")?;
        let offsets = self.store.query_message_offsets(topic, key, max, begin, end);
        let mut body = BytesMut::new();
        for off in offsets {
            if let Some(rec) = self.store.raw_record(off) {
                body.put_slice(&rec);
            }
        }
        let (ts, phy) = self.store.index_last_update();
        if body.is_empty() {
            return Err(BrokerError::new(response::QUERY_NOT_FOUND, "can not find message, maybe time range not correct"));
        }
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None)
            .with_ext("indexLastUpdateTimestamp", ts)
            .with_ext("indexLastUpdatePhyoffset", phy)
            .with_body(body.freeze()))
    }

    pub(super) fn view_message_by_id(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let offset = Ext::of(req).i64("offset")?;
        match self.store.raw_record(offset) {
            Some(rec) => Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(rec)),
            None => Err(BrokerError::new(response::SYSTEM_ERROR, format!("can not find message by the offset, {offset}"))),
        }
    }
}

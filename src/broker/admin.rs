//! Offset and time look-ups clients make through `MQAdminImpl`, and topic
//! listings (`AdminBrokerProcessor`).

use super::error::BrokerResult;
use super::Broker;
use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::fastjson;
use crate::protocol::header::Ext;
use crate::remoting::codes::response;
use crate::remoting::RemotingCommand;

impl Broker {
    pub(super) fn get_max_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let offset = self.store.max_offset_in_queue(e.str("topic")?, e.i32("queueId")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset))
    }

    pub(super) fn get_min_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let offset = self.store.min_offset_in_queue(e.str("topic")?, e.i32("queueId")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset))
    }

    pub(super) fn search_offset_by_timestamp(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let offset = self.store.offset_in_queue_by_time(e.str("topic")?, e.i32("queueId")?, e.i64("timestamp")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset))
    }

    pub(super) fn get_earliest_msg_storetime(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let ts = self.store.earliest_message_time(e.str("topic")?, e.i32("queueId")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("timestamp", ts))
    }

    pub(super) fn get_all_topic_config(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let snapshot: TopicConfigSerializeWrapper = self.topics.snapshot();
        let body = fastjson::to_vec(&serde_json::to_value(&snapshot).unwrap());
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(body))
    }
}

//! Offset and time look-ups clients make through `MQAdminImpl`, and topic
//! listings (`AdminBrokerProcessor`).

use super::error::{BrokerError, BrokerResult};
use super::Broker;
use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::fastjson;
use crate::protocol::header::Ext;
use crate::protocol::topic::TopicConfig;
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

    /// UPDATE_AND_CREATE_TOPIC (`AdminBrokerProcessor.updateAndCreateTopic`).
    pub(super) fn update_and_create_topic(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let topic = e.str("topic")?;
        super::send::validate_topic(topic)?;
        if self.topics.is_system_topic(topic) {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("The topic[{topic}] is conflict with system topic."),
            ));
        }
        let mut tc = TopicConfig::new(topic, e.i32("readQueueNums")?, e.i32("writeQueueNums")?, e.i32("perm")?);
        tc.topic_filter_type = e.opt_str("topicFilterType").unwrap_or("SINGLE_TAG").to_string();
        tc.topic_sys_flag = e.opt_i32("topicSysFlag")?.unwrap_or(0);
        tc.order = e.bool_or("order", false);
        tracing::info!(topic, read = tc.read_queue_nums, write = tc.write_queue_nums, perm = tc.perm, "topic created or updated");
        self.topics.update(tc);
        self.trigger_register();
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }

    pub(super) fn get_all_topic_config(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let snapshot: TopicConfigSerializeWrapper = self.topics.snapshot();
        let body = fastjson::to_vec(&serde_json::to_value(&snapshot).unwrap());
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(body))
    }
}

//! HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP and consumer
//! offsets (`ClientManageProcessor`, `ConsumerManageProcessor`).

use std::time::Instant;

use super::client_manager::{notify_consumer_ids_changed, ClientChannelInfo, ConsumerRegistration};
use super::error::{BrokerError, BrokerResult};
use super::Broker;
use crate::protocol::body::ConsumerListBody;
use crate::protocol::header::Ext;
use crate::protocol::heartbeat::HeartbeatData;
use crate::protocol::{fastjson, perm, topics, ProtocolError};
use crate::remoting::codes::response;
use crate::remoting::{ConnectionHandle, RemotingCommand};

impl Broker {
    pub(super) fn heart_beat(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let body = req.body.as_deref().ok_or_else(|| ProtocolError::BadBody("heartbeat without body".into()))?;
        let hb: HeartbeatData = fastjson::parse(body)?;
        hb.check_names()?;
        let channel = ClientChannelInfo {
            conn: conn.clone(),
            client_id: hb.client_id.clone(),
            language: req.language.clone(),
            version: req.version,
            last_update: Instant::now(),
        };
        for data in hb.consumer_data_set {
            // Every known group gets its retry topic, as the Java broker creates it here.
            let mut notify = self.cfg().notify_consumer_ids_changed;
            if let Some(group) = self.subscription_groups.find(&data.group_name) {
                notify &= group.notify_consumer_ids_changed_enable;
                let retry = topics::retry_topic(&data.group_name);
                // A refused retry topic (too long a name, too many topics) must
                // not refuse the heartbeat: the consumer still consumes.
                let created = crate::protocol::names::check_derived_topic(&retry)
                    .map_err(BrokerError::from)
                    .and_then(|_| self.topics.create_if_absent(&retry, group.retry_queue_nums, perm::READ | perm::WRITE, 0));
                match created {
                    Ok((_, true)) => self.trigger_register(),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(group = %data.group_name, "retry topic not created: {e}"),
                }
            }
            let changed = self.consumers.register(ConsumerRegistration {
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
            self.producers.register(&p.group_name, channel.clone());
        }
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }

    pub(super) fn unregister_client(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        if let Some(group) = e.opt_group("producerGroup")? {
            self.producers.unregister(conn.id(), Some(group));
        }
        if let Some(group) = e.opt_group("consumerGroup")? {
            for (g, remaining) in self.consumers.unregister(conn.id(), Some(group)) {
                if self.cfg().notify_consumer_ids_changed && !remaining.is_empty() {
                    notify_consumer_ids_changed(&g, &remaining);
                }
            }
        }
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }

    pub(super) fn get_consumer_list_by_group(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let group = Ext::of(req).group("consumerGroup")?;
        let ids = self.consumers.with_group(group, |g| g.client_ids()).unwrap_or_default();
        if ids.is_empty() {
            tracing::warn!(group, "getConsumerListByGroup: no consumer for this group");
            return Err(BrokerError::new(response::SYSTEM_ERROR, format!("no consumer for this group, {group}")));
        }
        let body = serde_json::to_vec(&ConsumerListBody { consumer_id_list: ids }).unwrap();
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(body))
    }

    pub(super) fn query_consumer_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let (group, topic, queue_id) = (e.group("consumerGroup")?, e.topic("topic")?, e.i32("queueId")?);
        let offset = self.offsets.query(group, topic, queue_id);
        if offset >= 0 {
            return Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset));
        }
        // A group with no committed offset starts at 0 while the queue's
        // first message is still in memory (the Java broker's rule).
        let min = self.store.min_offset_in_queue(topic, queue_id);
        if min <= 0 && !self.store.check_in_disk_by_consume_offset(topic, queue_id, 0) {
            return Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", 0));
        }
        Err(BrokerError::new(response::QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"))
    }

    pub(super) fn update_consumer_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let (group, topic, queue_id) = (e.group("consumerGroup")?, e.topic("topic")?, e.i32("queueId")?);
        // Offsets are kept per topic, queue and group: only queues that exist
        // may get one, or any peer could grow the table (and its file) at will.
        let tc = self
            .topics
            .get(topic)
            .ok_or_else(|| BrokerError::new(response::TOPIC_NOT_EXIST, format!("Topic {topic} not exist!")))?;
        if queue_id < 0 || queue_id >= tc.read_queue_nums.max(tc.write_queue_nums) {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]", tc.read_queue_nums),
            ));
        }
        self.offsets.commit(group, topic, queue_id, e.i64("commitOffset")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckClientRequestBody {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    group: String,
    subscription_data: Option<crate::protocol::heartbeat::SubscriptionData>,
}

impl Broker {
    /// CHECK_CLIENT_CONFIG: clients ask before using a non-tag filter.
    pub(super) fn check_client_config(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let body = req.body.as_deref().unwrap_or(b"{}");
        let b: CheckClientRequestBody = fastjson::parse(body)?;
        if let Some(sub) = b.subscription_data.filter(|s| !s.is_tag_type()) {
            if !self.cfg().enable_property_filter {
                return Err(BrokerError::new(
                    response::SYSTEM_ERROR,
                    format!("The broker does not support consumer to filter message by {}", sub.expression_type),
                ));
            }
            if let Err(e) = super::filter::sql::compile(&sub.sub_string) {
                tracing::warn!(client = %b.client_id, group = %b.group, "client filter does not compile: {e}");
                return Err(BrokerError::new(response::SUBSCRIPTION_PARSE_FAILED, e.to_string()));
            }
        }
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }
}

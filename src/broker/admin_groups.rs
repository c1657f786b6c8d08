//! Admin requests about topics, groups and clients (`AdminBrokerProcessor`):
//! topic and consumer statistics, connections, subscription groups, topic
//! deletion, offset cloning and resetting, and relaying GET_CONSUMER_RUNNING_INFO.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use super::error::{BrokerError, BrokerResult};
use super::subscription_group_manager::SubscriptionGroupConfig;
use super::Broker;
use crate::protocol::header::Ext;
use crate::protocol::{fastjson, ProtocolError};
use crate::remoting::connection::Reply;
use crate::remoting::codes::{request, response};
use crate::remoting::RemotingCommand;

/// `MQVersion.Version.V3_1_8_SNAPSHOT.ordinal()`: older clients cannot answer.
const V3_1_8_SNAPSHOT: i32 = 70;

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS, None)
}

impl Broker {
    /// A group that is online but not subscribed to `topic` is left out of
    /// per-topic admin answers, as the Java broker does.
    fn online_but_not_subscribed(&self, group: &str, topic: &str) -> bool {
        self.consumers
            .with_group(group, |g| !g.subscriptions.is_empty() && !g.subscriptions.contains_key(topic))
            .unwrap_or(false)
    }

    fn mq_json(&self, topic: &str, queue_id: i32) -> Value {
        json!({"brokerName": self.cfg().broker_name, "queueId": queue_id, "topic": topic})
    }

    pub(super) fn get_topic_stats_info(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let topic = Ext::of(req).topic("topic")?;
        let tc = self
            .topics
            .get(topic)
            .ok_or_else(|| BrokerError::new(response::TOPIC_NOT_EXIST, format!("topic[{topic}] not exist")))?;
        let mut entries = Vec::new();
        for q in 0..tc.write_queue_nums {
            let min = self.store.min_offset_in_queue(topic, q).max(0);
            let max = self.store.max_offset_in_queue(topic, q).max(0);
            let ts = if max > 0 { self.store.message_store_timestamp(topic, q, max - 1) } else { 0 };
            entries.push((self.mq_json(topic, q), json!({"lastUpdateTimestamp": ts, "maxOffset": max, "minOffset": min})));
        }
        let body = format!("{{\"offsetTable\":{}}}", fastjson::object_key_map(&entries));
        Ok(ok(req).with_body(body.into_bytes()))
    }

    pub(super) fn get_consume_stats(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let group = e.group("consumerGroup")?;
        let topics: BTreeSet<String> = match e.opt_str("topic").filter(|t| !t.trim().is_empty()) {
            Some(t) => [t.to_string()].into(),
            None => self.offsets.topic_groups().into_iter().filter(|(_, g)| g == group).map(|(t, _)| t).collect(),
        };
        let mut entries = Vec::new();
        let mut tps = 0.0;
        for topic in topics {
            let Some(tc) = self.topics.get(&topic) else { continue };
            if self.online_but_not_subscribed(group, &topic) {
                continue;
            }
            for q in 0..tc.read_queue_nums {
                let broker_offset = self.store.max_offset_in_queue(&topic, q).max(0);
                let consumer_offset = self.offsets.query(group, &topic, q).max(0);
                let mut v = json!({"brokerOffset": broker_offset, "consumerOffset": consumer_offset, "lastTimestamp": 0});
                if consumer_offset > 0 {
                    let ts = self.store.message_store_timestamp(&topic, q, consumer_offset - 1);
                    if ts > 0 {
                        v["lastTimestamp"] = json!(ts);
                    }
                }
                entries.push((self.mq_json(&topic, q), v));
            }
            tps += self.stats.group_get_tps(&topic, group);
        }
        let body = format!("{{\"consumeTps\":{tps:.1},\"offsetTable\":{}}}", fastjson::object_key_map(&entries));
        Ok(ok(req).with_body(body.into_bytes()))
    }

    fn connection_set(channels: &[super::client_manager::ClientChannelInfo]) -> Vec<Value> {
        channels
            .iter()
            .map(|c| {
                json!({
                    "clientAddr": c.conn.remote_addr().to_string(),
                    "clientId": c.client_id,
                    "language": c.language,
                    "version": c.version,
                })
            })
            .collect()
    }

    pub(super) fn get_consumer_connection_list(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let group = Ext::of(req).group("consumerGroup")?;
        let body = self.consumers.with_group(group, |g| {
            let channels: Vec<_> = g.channels.values().cloned().collect();
            let subs: serde_json::Map<String, Value> =
                g.subscriptions.iter().map(|(t, s)| (t.clone(), serde_json::to_value(s).unwrap())).collect();
            json!({
                "connectionSet": Self::connection_set(&channels),
                "consumeFromWhere": g.consume_from_where,
                "consumeType": g.consume_type,
                "messageModel": g.message_model,
                "subscriptionTable": subs,
            })
        });
        match body {
            Some(b) => Ok(ok(req).with_body(serde_json::to_vec(&b).unwrap())),
            None => Err(BrokerError::new(response::CONSUMER_NOT_ONLINE, format!("the consumer group[{group}] not online"))),
        }
    }

    pub(super) fn get_producer_connection_list(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let group = Ext::of(req).group("producerGroup")?;
        let channels = self.producers.channels(group);
        if channels.is_empty() {
            return Err(BrokerError::new(response::SYSTEM_ERROR, format!("the producer group[{group}] not exist")));
        }
        let body = json!({"connectionSet": Self::connection_set(&channels)});
        Ok(ok(req).with_body(serde_json::to_vec(&body).unwrap()))
    }

    pub(super) fn query_topic_consume_by_who(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let topic = Ext::of(req).topic("topic")?;
        let mut groups: BTreeSet<String> = self.consumers.groups_subscribed_to(topic).into_iter().collect();
        groups.extend(self.offsets.topic_groups().into_iter().filter(|(t, _)| t == topic).map(|(_, g)| g));
        let body = json!({"groupList": groups});
        Ok(ok(req).with_body(serde_json::to_vec(&body).unwrap()))
    }

    pub(super) fn get_all_consumer_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        Ok(ok(req).with_body(self.offsets.to_json().into_bytes()))
    }

    pub(super) fn get_all_subscription_group(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let (dv, groups) = self.subscription_groups.all();
        let table: serde_json::Map<String, Value> =
            groups.into_iter().map(|g| (g.group_name.clone(), serde_json::to_value(&g).unwrap())).collect();
        let body = json!({"dataVersion": dv, "subscriptionGroupTable": table});
        Ok(ok(req).with_body(serde_json::to_vec(&body).unwrap()))
    }

    pub(super) fn update_and_create_subscription_group(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let body = req.body.as_deref().ok_or_else(|| ProtocolError::BadBody("subscription group config missing".into()))?;
        let cfg: SubscriptionGroupConfig = fastjson::parse(body)?;
        crate::protocol::names::check_group(&cfg.group_name)?;
        if !(0..=self.cfg().max_queue_nums_per_topic).contains(&cfg.retry_queue_nums) {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("retryQueueNums[{}] must be between 0 and {}", cfg.retry_queue_nums, self.cfg().max_queue_nums_per_topic),
            ));
        }
        tracing::info!(group = %cfg.group_name, "subscription group created or updated");
        if !self.subscription_groups.update(cfg) {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("the broker already holds maxSubscriptionGroupNums[{}] groups", self.cfg().max_subscription_group_nums),
            ));
        }
        Ok(ok(req))
    }

    pub(super) fn delete_subscription_group(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let group = e.group("groupName")?;
        self.subscription_groups.delete(group);
        if e.bool_or("removeOffset", false) {
            self.offsets.remove_group(group);
        }
        tracing::info!(group, "subscription group deleted");
        Ok(ok(req))
    }

    pub(super) fn delete_topic_in_broker(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let topic = Ext::of(req).topic("topic")?;
        super::send::validate_topic(topic)?;
        if self.topics.is_system_topic(topic) {
            return Err(BrokerError::new(response::SYSTEM_ERROR, format!("The topic[{topic}] is conflict with system topic.")));
        }
        self.topics.delete(topic);
        self.store.delete_topic(topic);
        self.offsets.remove_topic(topic);
        tracing::info!(topic, "topic deleted");
        self.trigger_register();
        Ok(ok(req))
    }

    pub(super) fn clone_group_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let (src, dest) = (e.group("srcGroup")?, e.group("destGroup")?);
        let offline = e.bool_or("offline", false);
        let topics: Vec<String> = match e.opt_str("topic").filter(|t| !t.trim().is_empty()) {
            Some(t) => vec![t.to_string()],
            None => self.offsets.topic_groups().into_iter().filter(|(_, g)| g == src).map(|(t, _)| t).collect(),
        };
        for topic in topics {
            if self.topics.get(&topic).is_none() {
                continue;
            }
            if !offline && self.online_but_not_subscribed(src, &topic) {
                continue;
            }
            self.offsets.clone_offset(src, dest, &topic);
        }
        Ok(ok(req))
    }

    /// INVOKE_BROKER_TO_RESET_OFFSET (`Broker2Client.resetOffset`): tells each
    /// online consumer of the group where to restart; offline groups get
    /// CONSUMER_NOT_ONLINE and mqadmin falls back to updating offsets itself.
    pub(super) fn invoke_broker_to_reset_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let topic = e.topic("topic")?;
        let group = e.group("group")?;
        let timestamp = e.i64("timestamp")?;
        let force = e.bool_or("isForce", false);
        let tc = self.topics.get(topic).ok_or_else(|| {
            BrokerError::new(
                response::SYSTEM_ERROR,
                format!("[reset-offset] reset offset failed, no topic in this broker. topic={topic}"),
            )
        })?;
        let mut entries = Vec::new();
        for q in 0..tc.write_queue_nums {
            let consumer_offset = self.offsets.query(group, topic, q);
            if consumer_offset == -1 {
                return Err(BrokerError::new(response::SYSTEM_ERROR, format!("THe consumer group <{group}> not exist")));
            }
            let by_time = if timestamp == -1 {
                self.store.max_offset_in_queue(topic, q)
            } else {
                self.store.offset_in_queue_by_time(topic, q, timestamp)
            };
            let target = if force || by_time < consumer_offset { by_time } else { consumer_offset };
            entries.push((self.mq_json(topic, q), json!(target)));
        }
        let body = format!("{{\"offsetTable\":{}}}", fastjson::object_key_map(&entries));
        let members = self.consumers.with_group(group, |g| g.channels.values().map(|c| c.conn.clone()).collect::<Vec<_>>());
        let members = members.unwrap_or_default();
        if members.is_empty() {
            return Err(BrokerError::new(
                response::CONSUMER_NOT_ONLINE,
                format!("Consumer not online, so can not reset offset, Group: {group} Topic: {topic} Timestamp: {timestamp}"),
            ));
        }
        for conn in members {
            let cmd = RemotingCommand::request(request::RESET_CONSUMER_CLIENT_OFFSET, 0)
                .with_ext("topic", topic)
                .with_ext("group", group)
                .with_ext("timestamp", timestamp)
                .with_ext("isForce", force)
                .with_body(body.clone().into_bytes());
            conn.send_oneway(cmd);
        }
        tracing::info!(group, topic, timestamp, "reset offset sent to online consumers");
        Ok(ok(req).with_body(body.into_bytes()))
    }

    /// GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY, relayed to the
    /// client; the wait for its answer (up to 10 s) runs beside the admin
    /// connection's next requests.
    pub(super) fn call_consumer(&self, req: &RemotingCommand) -> BrokerResult<Reply> {
        let e = Ext::of(req);
        let group = e.group("consumerGroup")?;
        let client_id = e.str("clientId")?;
        let channel = self
            .consumers
            .with_group(group, |g| g.channels.values().find(|c| c.client_id == client_id).cloned())
            .flatten()
            .ok_or_else(|| BrokerError::new(response::SYSTEM_ERROR, format!("The Consumer <{group}> <{client_id}> not online")))?;
        if channel.version < V3_1_8_SNAPSHOT {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("The Consumer <{client_id}> Version <{}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT", channel.version),
            ));
        }
        let mut relay = RemotingCommand::request(req.code, 0);
        relay.ext_fields = req.ext_fields.clone();
        relay.body = req.body.clone();
        let (req, group, client_id) = (req.clone(), group.to_string(), client_id.to_string());
        Ok(Reply::later(async move {
            let result = match channel.conn.request(relay, Duration::from_secs(10)).await {
                Ok(mut resp) => {
                    resp.opaque = req.opaque;
                    resp.serialize_type = req.serialize_type;
                    Ok(resp)
                }
                Err(crate::remoting::RemotingError::Timeout(_)) => Err(BrokerError::new(
                    response::CONSUME_MSG_TIMEOUT,
                    format!("consumer <{group}> <{client_id}> Timeout: no response in 10000 ms"),
                )),
                Err(err) => Err(BrokerError::new(
                    response::SYSTEM_ERROR,
                    format!("invoke consumer <{group}> <{client_id}> Exception: {err}"),
                )),
            };
            Some(result.unwrap_or_else(|e| e.into_response(&req)))
        }))
    }
}

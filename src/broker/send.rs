//! SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE
//! (`SendMessageProcessor`).

use bytes::Bytes;

use super::error::{BrokerError, BrokerResult, FAQ_SUFFIX};
use super::topic_config_manager::describe;
use super::Broker;
use crate::protocol::header::SendMessageRequestHeader;
use crate::protocol::message::{decode_batch, property, sys_flag, MessageInner, Properties};
use crate::protocol::topic::TopicConfig;
use crate::protocol::{perm, topics, ProtocolError};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};
use crate::store::{FlushDiskType, PutResult, StoreError};

impl Broker {
    /// SEND_MESSAGE(_V2) and SEND_BATCH_MESSAGE. The message is put in
    /// arrival order; with SYNC_FLUSH, a send that waits for its store (the
    /// client's default) is answered once its bytes are on disk, or with
    /// FLUSH_DISK_TIMEOUT after `syncFlushTimeout` — that wait runs beside
    /// the connection's next requests.
    pub(super) fn send_message(&self, conn: &ConnectionHandle, req: &RemotingCommand, batch: bool) -> Reply {
        match self.do_send(conn, req, batch) {
            Ok((resp, end_offset)) if self.store.flush_disk_type() == FlushDiskType::Sync && waits_for_store(req) => {
                let broker = self.arc();
                Reply::later(async move {
                    let mut resp = resp;
                    if !broker.store.wait_flushed(end_offset).await {
                        tracing::warn!(end_offset, "flush did not complete within syncFlushTimeout");
                        resp.code = response::FLUSH_DISK_TIMEOUT;
                    }
                    Some(broker.with_send_ext(resp))
                })
            }
            result => {
                let resp = result.map(|(r, _)| r).unwrap_or_else(|e| e.into_response(req));
                Reply::Now(Some(self.with_send_ext(resp)))
            }
        }
    }

    /// Every send response carries the region and trace switch, success or not.
    fn with_send_ext(&self, resp: RemotingCommand) -> RemotingCommand {
        resp.with_ext("MSG_REGION", &self.cfg().region_id).with_ext("TRACE_ON", self.cfg().trace_on)
    }

    /// Stores the message(s); returns the response and the commit log end offset.
    fn do_send(&self, conn: &ConnectionHandle, req: &RemotingCommand, batch: bool) -> BrokerResult<(RemotingCommand, i64)> {
        let h = SendMessageRequestHeader::from_command(req)?;
        let tc = self.msg_check(conn, &h)?;
        let queue_id = if h.queue_id < 0 { random_queue(tc.write_queue_nums) } else { h.queue_id };
        let body = req.body.clone().unwrap_or_default();
        let born_host = conn.remote_addr();
        let put = if batch {
            if h.topic.starts_with(topics::RETRY_GROUP_TOPIC_PREFIX) {
                return Err(BrokerError::new(response::MESSAGE_ILLEGAL, "[MSG_ILLEGAL]Retry group topic is not allowed to be sent in batch"));
            }
            refuse_undispatchable(h.sys_flag)?;
            let mut batch_props = Properties::parse(&h.properties);
            batch_props.put(property::CLUSTER, self.cfg().cluster_name.clone());
            let items = decode_batch(&body)?;
            if items.is_empty() {
                return Err(BrokerError::new(response::MESSAGE_ILLEGAL, "the batch is empty"));
            }
            let msgs: Vec<MessageInner> = items
                .into_iter()
                .map(|it| {
                    let mut props = Properties::parse(&String::from_utf8_lossy(it.properties));
                    for (k, v) in &batch_props.0 {
                        props.put(k, v.clone());
                    }
                    self.inner_message(&h, queue_id, it.flag, Bytes::copy_from_slice(it.body), props, born_host)
                })
                .collect();
            self.put(&msgs)?
        } else {
            let mut props = Properties::parse(&h.properties);
            let prepared = props.get(property::TRANSACTION_PREPARED).is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if prepared && self.cfg().reject_transaction_message {
                return Err(BrokerError::new(
                    response::NO_PERMISSION,
                    format!("the broker[{}] sending transaction message is forbidden", self.cfg().broker_ip),
                ));
            }
            if !prepared {
                refuse_undispatchable(h.sys_flag)?;
            }
            props.remove(property::WAIT_STORE_MSG_OK);
            props.put(property::CLUSTER, self.cfg().cluster_name.clone());
            let mut msg = self.inner_message(&h, queue_id, h.flag, body, props, born_host);
            if prepared {
                msg = self.half_message(msg);
            }
            self.put(std::slice::from_ref(&msg))?
        };
        self.stats.on_put(&h.topic, put.msg_ids.len() as u64, (put.end_offset - put.wrote_offset) as u64);
        let resp = RemotingCommand::response_to(req, response::SUCCESS, None)
            .with_ext("msgId", put.msg_ids.join(","))
            .with_ext("queueId", queue_id)
            .with_ext("queueOffset", put.queue_offset);
        Ok((resp, put.end_offset))
    }

    fn inner_message(
        &self,
        h: &SendMessageRequestHeader,
        queue_id: i32,
        flag: i32,
        body: Bytes,
        properties: Properties,
        born_host: std::net::SocketAddr,
    ) -> MessageInner {
        MessageInner {
            topic: h.topic.clone(),
            queue_id,
            flag,
            sys_flag: h.sys_flag,
            body,
            properties,
            born_timestamp: h.born_timestamp,
            born_host,
            store_host: self.store_host,
            reconsume_times: h.reconsume_times,
            prepared_transaction_offset: 0,
        }
    }

    /// Puts into the store, mapping store failures to the Java broker's answers.
    fn put(&self, msgs: &[MessageInner]) -> BrokerResult<PutResult> {
        self.store.put_messages(msgs).map_err(|e| match e {
            StoreError::BodyTooLarge(..)
            | StoreError::MessageTooLarge(_)
            | StoreError::Protocol(ProtocolError::PropertiesTooLong(_))
            | StoreError::Protocol(ProtocolError::TopicTooLong(_)) => {
                tracing::warn!("message refused: {e}");
                BrokerError::new(
                    response::MESSAGE_ILLEGAL,
                    format!(
                        "the message is illegal, maybe msg body or properties length not matched. msg body length limit {}B, msg properties length limit 32KB.",
                        self.cfg().max_message_size
                    ),
                )
            }
            StoreError::Unavailable(why) => {
                tracing::warn!("message refused: {why}");
                BrokerError::new(
                    response::SERVICE_NOT_AVAILABLE,
                    format!(
                        "service not available now. It may be caused by one of the following reasons: the broker's disk is full [{}], messages are put to the slave, message store has been shut down, etc.",
                        self.disk_util()
                    ),
                )
            }
            StoreError::Io(io) => {
                tracing::error!("commit log write failed: {io}");
                BrokerError::new(response::SYSTEM_ERROR, "create mapped file failed, server is busy or broken.")
            }
            other => {
                tracing::error!("put failed: {other}");
                BrokerError::new(response::SYSTEM_ERROR, "UNKNOWN_ERROR")
            }
        })
    }

    /// `AbstractSendMessageProcessor.msgCheck`.
    fn msg_check(&self, conn: &ConnectionHandle, h: &SendMessageRequestHeader) -> BrokerResult<TopicConfig> {
        if !perm::writeable(self.cfg().broker_permission) {
            return Err(BrokerError::new(
                response::NO_PERMISSION,
                format!("the broker[{}] sending message is forbidden", self.cfg().broker_ip),
            ));
        }
        validate_topic(&h.topic)?;
        if topics::is_not_allowed_send(&h.topic) {
            return Err(BrokerError::new(
                response::NO_PERMISSION,
                format!("Sending message to topic[{}] is forbidden.", h.topic),
            ));
        }
        let tc = match self.topics.get(&h.topic) {
            Some(tc) => tc,
            None => {
                tracing::warn!(topic = %h.topic, producer = %conn.remote_addr(), "the topic does not exist");
                let auto_key = h.default_topic == topics::AUTO_CREATE_TOPIC_KEY || h.default_topic == topics::AUTO_CREATE_TOPIC_KEY_4_3;
                let mut created = if auto_key && !self.cfg().auto_create_topic {
                    None
                } else {
                    // Java takes the client's count as is; a topic with no queue would swallow sends.
                    let queue_nums = h.default_topic_queue_nums.clamp(1, self.cfg().max_queue_nums_per_topic);
                    self.topics.create_in_send(&h.topic, &h.default_topic, queue_nums, 0)?
                };
                if created.is_none() && h.topic.starts_with(topics::RETRY_GROUP_TOPIC_PREFIX) {
                    created = Some(self.topics.create_if_absent(&h.topic, 1, perm::READ | perm::WRITE, 0)?.0);
                }
                match created {
                    Some(tc) => {
                        self.trigger_register();
                        tc
                    }
                    None => {
                        return Err(BrokerError::new(
                            response::TOPIC_NOT_EXIST,
                            format!("topic[{}] not exist, apply first please!{FAQ_SUFFIX}", h.topic),
                        ))
                    }
                }
            }
        };
        if h.queue_id >= tc.write_queue_nums.max(tc.read_queue_nums) {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("request queueId[{}] is illegal, {} Producer: {}", h.queue_id, describe(&tc), conn.remote_addr()),
            ));
        }
        Ok(tc)
    }
}

/// A sysFlag of a prepared or rolled-back transaction on a message that is not
/// a half message: Java stores it and never dispatches it, so it would be
/// acknowledged yet never consumable. Refusing it tells the sender.
fn refuse_undispatchable(flag: i32) -> BrokerResult<()> {
    let tran_type = flag & sys_flag::TRANSACTION_MASK;
    if tran_type == sys_flag::TRANSACTION_PREPARED || tran_type == sys_flag::TRANSACTION_ROLLBACK {
        return Err(BrokerError::new(
            response::MESSAGE_ILLEGAL,
            "the message's sysFlag marks a prepared or rolled-back transaction, but it is not a transaction half message (no TRAN_MSG property)",
        ));
    }
    Ok(())
}

/// Whether the producer waits for the store (`WAIT` property, default true).
fn waits_for_store(req: &RemotingCommand) -> bool {
    let props = req.ext("i").or_else(|| req.ext("properties")).unwrap_or("");
    Properties::parse(props).get(property::WAIT_STORE_MSG_OK) != Some("false")
}

impl Broker {
    /// `diskUtil()` as the Java broker words it in its remark.
    fn disk_util(&self) -> String {
        let pct = |p: &std::path::Path| crate::store::os::disk_usage(p).unwrap_or(0.0) * 100.0;
        format!(
            "CL: {:5.2} CQ: {:5.2} INDEX: {:5.2}",
            pct(&self.cfg().commit_log_dir),
            pct(&self.cfg().store_root),
            pct(&self.cfg().store_root)
        )
    }
}

/// `TopicValidator.validateTopic`.
pub fn validate_topic(topic: &str) -> BrokerResult<()> {
    Ok(crate::protocol::names::check_topic(topic)?)
}

pub(super) fn random_queue(write_queue_nums: i32) -> i32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    // xorshift: spreads queue choice without a dependency on a RNG crate.
    let mut x = SEED.load(Ordering::Relaxed) ^ (crate::store::now_ms() as u64);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    SEED.store(x, Ordering::Relaxed);
    (x % write_queue_nums.max(1) as u64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_validation_matches_java_rules() {
        assert!(validate_topic("Topic_A-1%x|y").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("bad topic").is_err());
        assert!(validate_topic(&"a".repeat(128)).is_err());
    }

    #[test]
    fn random_queue_stays_in_range() {
        for _ in 0..1000 {
            let q = random_queue(4);
            assert!((0..4).contains(&q));
        }
        assert_eq!(random_queue(0), 0);
    }
}

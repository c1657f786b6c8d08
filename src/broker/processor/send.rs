//! SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE
//! (`SendMessageProcessor`).

use std::time::Duration;

use bytes::Bytes;

use super::{random_queue, validate_topic};
use crate::broker::error::{BrokerError, BrokerResult, FAQ_SUFFIX};
use crate::broker::topic_config_manager::describe;
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::protocol::header::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use crate::protocol::message::{decode_batch, property, sys_flag, MessageInner, Properties};
use crate::protocol::topic::TopicConfig;
use crate::protocol::{perm, topics};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};
use crate::store::ha::{BrokerRole, ReplicaStatus};
use crate::store::timer::TIMER_ORIGIN;
use crate::store::FlushDiskType;

/// SEND_MESSAGE and SEND_MESSAGE_V2.
pub fn send_message(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    send(b, conn, req, false)
}

/// SEND_BATCH_MESSAGE.
pub fn send_batch_message(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    send(b, conn, req, true)
}

/// How long a send that created its topic waits for the name servers to
/// take the new route before it is answered anyway.
const REGISTER_NEW_TOPIC_WAIT: Duration = Duration::from_secs(3);

/// The message is put in arrival order; with SYNC_FLUSH, a send that waits
/// for its store (the client's default) is answered once its bytes are on
/// disk, or with FLUSH_DISK_TIMEOUT after `syncFlushTimeout`; on a
/// SYNC_MASTER, once a slave has them, or with FLUSH_SLAVE_TIMEOUT after
/// `syncFlushTimeout`, or at once with SLAVE_NOT_AVAILABLE when no slave
/// is connected or it is `haSlaveFallbehindMax` behind. A send that
/// created its topic is answered once the name servers have the new route
/// (at most `REGISTER_NEW_TOPIC_WAIT`). Both waits run beside the
/// connection's next requests.
fn send(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand, batch: bool) -> BrokerResult<Reply> {
    let h = SendMessageRequestHeader::decode(req)?;
    let sent = do_send(b, conn, req, &h, batch)?;
    let wait_flush = b.store.flush_disk_type() == FlushDiskType::Sync && sent.waits_for_store;
    let wait_replica = b.store.ha().role() == BrokerRole::SyncMaster && sent.waits_for_store;
    if !wait_flush && !wait_replica && !sent.created_topic {
        return Ok(sent.resp.into());
    }
    let broker = b.arc();
    Ok(Reply::later(async move {
        let Sent { mut resp, end_offset, created_topic, .. } = sent;
        let register = async {
            if created_topic {
                broker.register_and_wait(REGISTER_NEW_TOPIC_WAIT).await;
            }
        };
        let flushed = async { !wait_flush || broker.store.wait_flushed(end_offset).await };
        let replica = async {
            if wait_replica {
                broker.store.wait_replicated(end_offset).await
            } else {
                ReplicaStatus::PutOk
            }
        };
        let ((), flushed, replica) = tokio::join!(register, flushed, replica);
        if !flushed {
            tracing::warn!(end_offset, "flush did not complete within syncFlushTimeout");
            resp.code = response::FLUSH_DISK_TIMEOUT;
        }
        // As Java's handleDiskFlushAndHA: the replica's status wins over the flush's.
        match replica {
            ReplicaStatus::PutOk => {}
            ReplicaStatus::SlaveNotAvailable => resp.code = response::SLAVE_NOT_AVAILABLE,
            ReplicaStatus::FlushSlaveTimeout => {
                tracing::warn!(end_offset, "no slave had the message within syncFlushTimeout");
                resp.code = response::FLUSH_SLAVE_TIMEOUT;
            }
        }
        Some(resp)
    }))
}

/// What `do_send` did.
struct Sent {
    resp: RemotingCommand,
    /// The commit log end offset after the put.
    end_offset: i64,
    /// The send created its topic (the name servers don't know it yet).
    created_topic: bool,
    /// The producer waits for the store (`WAIT` property, default true).
    waits_for_store: bool,
}

/// Every send response carries the region and trace switch, success or not
/// (extras Java's broker adds beside `SendMessageResponseHeader`).
pub fn with_send_ext(b: &Broker, resp: RemotingCommand) -> RemotingCommand {
    let cfg = b.cfg();
    resp.with_ext("MSG_REGION", &cfg.region_id).with_ext("TRACE_ON", cfg.trace_on)
}

/// Stores the message(s).
fn do_send(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand, h: &SendMessageRequestHeader, batch: bool) -> BrokerResult<Sent> {
    let cfg = b.cfg();
    let (tc, created_topic) = msg_check(b, &cfg, conn, h)?;
    let queue_id = if h.queue_id < 0 { random_queue(tc.write_queue_nums) } else { h.queue_id };
    let body = req.body.clone().unwrap_or_default();
    let born_host = conn.remote_addr();
    let waits = |p: &Properties| p.get(property::WAIT_STORE_MSG_OK) != Some("false");
    let waits_for_store;
    let put = if batch {
        if h.topic.starts_with(topics::RETRY_GROUP_TOPIC_PREFIX) {
            return Err(BrokerError::new(response::MESSAGE_ILLEGAL, "[MSG_ILLEGAL]Retry group topic is not allowed to be sent in batch"));
        }
        refuse_undispatchable(h.sys_flag)?;
        let mut batch_props = Properties::parse(&h.properties);
        waits_for_store = waits(&batch_props);
        batch_props.put(property::CLUSTER, cfg.cluster_name.clone());
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
                props.remove(TIMER_ORIGIN);
                inner_message(b, h, queue_id, it.flag, Bytes::copy_from_slice(it.body), props, born_host)
            })
            .collect();
        b.store.put_messages(&msgs)?
    } else {
        let mut props = Properties::parse(&h.properties);
        let prepared = props.get(property::TRANSACTION_PREPARED).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if prepared && cfg.reject_transaction_message {
            return Err(BrokerError::new(
                response::NO_PERMISSION,
                format!("the broker[{}] sending transaction message is forbidden", cfg.broker_ip),
            ));
        }
        if !prepared {
            refuse_undispatchable(h.sys_flag)?;
        }
        waits_for_store = waits(&props);
        props.remove(property::WAIT_STORE_MSG_OK);
        // Only the timer delivery service marks a message as a delivered timer.
        props.remove(TIMER_ORIGIN);
        props.put(property::CLUSTER, cfg.cluster_name.clone());
        let mut msg = inner_message(b, h, queue_id, h.flag, body, props, born_host);
        if prepared {
            msg = b.half_message(msg);
        } else {
            crate::broker::timer::transform(&cfg, &mut msg, crate::store::now_ms())?;
        }
        b.store.put_messages(std::slice::from_ref(&msg))?
    };
    b.stats.on_put(&h.topic, put.msg_ids.len() as u64, (put.end_offset - put.wrote_offset) as u64);
    let answer = SendMessageResponseHeader {
        msg_id: put.msg_ids.join(","),
        queue_id,
        queue_offset: put.queue_offset,
        transaction_id: None,
    };
    let resp = answer.encode(RemotingCommand::response_to(req, response::SUCCESS, None));
    Ok(Sent { resp, end_offset: put.end_offset, created_topic, waits_for_store })
}

fn inner_message(
    b: &Broker,
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
        store_host: b.store_host,
        reconsume_times: h.reconsume_times,
        prepared_transaction_offset: 0,
    }
}

/// `AbstractSendMessageProcessor.msgCheck`; also says whether it created the
/// topic.
fn msg_check(
    b: &Broker,
    cfg: &BrokerConfig,
    conn: &ConnectionHandle,
    h: &SendMessageRequestHeader,
) -> BrokerResult<(TopicConfig, bool)> {
    if !perm::writeable(cfg.broker_permission) {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", cfg.broker_ip),
        ));
    }
    validate_topic(&h.topic)?;
    if topics::is_not_allowed_send(&h.topic) {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let (tc, created) = match b.topics.get(&h.topic) {
        Some(tc) => (tc, false),
        None => {
            tracing::warn!(topic = %h.topic, producer = %conn.remote_addr(), "the topic does not exist");
            let auto_key = h.default_topic == topics::AUTO_CREATE_TOPIC_KEY || h.default_topic == topics::AUTO_CREATE_TOPIC_KEY_4_3;
            let mut created = if auto_key && !cfg.auto_create_topic {
                None
            } else {
                // Java takes the client's count as is; a topic with no queue would swallow sends.
                let queue_nums = h.default_topic_queue_nums.clamp(1, cfg.max_queue_nums_per_topic);
                b.topics.create_in_send(&h.topic, &h.default_topic, queue_nums, 0)?
            };
            if created.is_none() && h.topic.starts_with(topics::RETRY_GROUP_TOPIC_PREFIX) {
                created = Some(b.topics.create_if_absent(&h.topic, 1, perm::READ | perm::WRITE, 0)?.0);
            }
            match created {
                Some(tc) => {
                    // The send registers and waits; this covers a send
                    // refused below (its topic exists all the same).
                    b.trigger_register();
                    (tc, true)
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
    Ok((tc, created))
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

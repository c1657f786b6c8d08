//! Transactional messages: half messages, op messages, and the check-back
//! service (`TransactionalMessageServiceImpl`,
//! `TransactionalMessageCheckService`). END_TRANSACTION is served in
//! `processor::transaction`.
//!
//! A prepared message is stored in `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 with
//! its real topic and queue in properties. Settling it writes an op message
//! (tag "d", body = the half message's queue offset) to
//! `RMQ_SYS_TRANS_OP_HALF_TOPIC` queue 0. The check service walks half
//! messages from its saved offset (consumer offsets of group
//! `CID_RMQ_SYS_TRANS`, so progress survives restarts), skips settled ones,
//! and for each old enough unsettled one appends a copy with the check count
//! raised and asks a live producer of its group about the copy.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::error::BrokerResult;
use super::Broker;
use crate::protocol::header::{CheckTransactionStateRequestHeader, CommandHeader};
use crate::protocol::message::{
    create_message_id, encode_record_parts, property, sys_flag, MessageExt, MessageInner, Properties, RecordParts,
};
use crate::protocol::topics;
use crate::remoting::codes::request;
use crate::remoting::RemotingCommand;
use crate::store::now_ms;

pub const CID_SYS_RMQ_TRANS: &str = "CID_RMQ_SYS_TRANS";
const REMOVE_TAG: &str = "d";
const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";

/// Transactions settled since start (by UNIQ_KEY), so repeated or late
/// END_TRANSACTIONs and superseded half copies are ignored.
#[derive(Default)]
pub struct TransactionState {
    settled: Mutex<HashSet<String>>,
    /// One check round at a time.
    checking: tokio::sync::Mutex<()>,
}

const SETTLED_CAP: usize = 1 << 20;

impl TransactionState {
    pub(super) fn is_settled(&self, uniq: &str) -> bool {
        self.settled.lock().unwrap().contains(uniq)
    }

    pub(super) fn mark_settled(&self, uniq: &str) {
        let mut s = self.settled.lock().unwrap();
        if s.len() >= SETTLED_CAP {
            s.clear();
        }
        s.insert(uniq.to_string());
    }
}

pub(super) fn uniq_key(m: &MessageExt) -> String {
    m.properties.get(property::UNIQ_KEY).map(str::to_string).unwrap_or_else(|| m.msg_id())
}

impl Broker {
    /// Turns a prepared message into a half message (`parseHalfMessageInner`).
    pub(super) fn half_message(&self, mut m: MessageInner) -> MessageInner {
        m.properties.put(property::REAL_TOPIC, m.topic.clone());
        m.properties.put(property::REAL_QUEUE_ID, m.queue_id.to_string());
        m.sys_flag &= !sys_flag::TRANSACTION_MASK;
        m.topic = topics::TRANS_HALF_TOPIC.to_string();
        m.queue_id = 0;
        if self.topics.create_system_if_absent(topics::TRANS_HALF_TOPIC) {
            self.trigger_register();
        }
        m
    }

    fn half_at(&self, queue_offset: i64) -> Option<MessageExt> {
        let e = self.store.consume_queue_entry(topics::TRANS_HALF_TOPIC, 0, queue_offset)?;
        self.store.look_message_by_offset(e.phy_offset)
    }

    /// Writes the op message that marks the half message at `half_offset` settled.
    pub(super) fn put_op_message(&self, half: &MessageExt) -> BrokerResult<()> {
        if self.topics.create_system_if_absent(topics::TRANS_OP_HALF_TOPIC) {
            self.trigger_register();
        }
        let mut props = Properties::default();
        props.put(property::TAGS, REMOVE_TAG);
        let op = MessageInner {
            topic: topics::TRANS_OP_HALF_TOPIC.to_string(),
            queue_id: half.queue_id,
            flag: 0,
            sys_flag: 0,
            body: Bytes::from(half.queue_offset.to_string()),
            properties: props,
            born_timestamp: now_ms(),
            born_host: self.store_host,
            store_host: self.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        self.store.put_message(&op)?;
        Ok(())
    }

    /// One check round (`TransactionalMessageServiceImpl.check`).
    pub async fn check_transactions(&self) {
        let _round = self.transactions.checking.lock().await;
        let timeout = self.cfg().transaction_timeout_ms;
        let check_max = self.cfg().transaction_check_max;
        let half_max = self.store.max_offset_in_queue(topics::TRANS_HALF_TOPIC, 0);
        let mut half_off = self.offsets.query(CID_SYS_RMQ_TRANS, topics::TRANS_HALF_TOPIC, 0).max(0);
        half_off = half_off.max(self.store.min_offset_in_queue(topics::TRANS_HALF_TOPIC, 0));
        if half_off >= half_max {
            return;
        }
        let op_start = self.offsets.query(CID_SYS_RMQ_TRANS, topics::TRANS_OP_HALF_TOPIC, 0).max(0);
        let op_max = self.store.max_offset_in_queue(topics::TRANS_OP_HALF_TOPIC, 0);
        // Half offsets with an op message, in op order (they may arrive out of order).
        let mut ops: Vec<i64> = Vec::new();
        for o in op_start..op_max {
            let Some(op) = self
                .store
                .consume_queue_entry(topics::TRANS_OP_HALF_TOPIC, 0, o)
                .and_then(|e| self.store.look_message_by_offset(e.phy_offset))
            else {
                break;
            };
            let half_offset = std::str::from_utf8(&op.body).ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or(-1);
            ops.push(half_offset);
        }
        let removed: HashSet<i64> = ops.iter().copied().collect();
        let start = now_ms();
        let mut i = half_off;
        while i < half_max {
            if removed.contains(&i) {
                i += 1;
                continue;
            }
            let Some(half) = self.half_at(i) else {
                tracing::warn!(offset = i, "half message unreadable; skipped");
                i += 1;
                continue;
            };
            if self.transactions.is_settled(&uniq_key(&half)) || half.store_timestamp >= start {
                if half.store_timestamp >= start {
                    break;
                }
                i += 1;
                continue;
            }
            let checks: i32 = half.properties.get(TRANSACTION_CHECK_TIMES).and_then(|v| v.parse().ok()).unwrap_or(0);
            if checks >= check_max {
                self.discard_half(&half);
                i += 1;
                continue;
            }
            let immunity = half
                .properties
                .get(CHECK_IMMUNITY_TIME_IN_SECONDS)
                .and_then(|v| v.parse::<i64>().ok())
                .map_or(timeout, |s| (s * 1000).max(timeout));
            let age = now_ms() - half.born_timestamp;
            if (0..immunity).contains(&age) {
                break;
            }
            let group = half.properties.get(property::PRODUCER_GROUP).unwrap_or("").to_string();
            let producer = self.producers.any_channel(&group);
            // Re-append the half message (a fresh copy at the queue's end) so
            // the scan moves on; count a check only when one is really sent.
            let mut copy = half.clone();
            if producer.is_some() {
                copy.properties.put(TRANSACTION_CHECK_TIMES, (checks + 1).to_string());
            }
            let put = match self.store.put_message(&copy.to_inner()) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("putting back half message failed, retrying next round: {e}");
                    break;
                }
            };
            copy.queue_offset = put.queue_offset;
            copy.commit_log_offset = put.wrote_offset;
            copy.store_timestamp = put.store_timestamp;
            match producer {
                Some(p) => {
                    let req = check_request(&copy, &self.store_host);
                    p.conn.send_oneway(req);
                }
                None => tracing::debug!(group, "no live producer for transaction check; message waits"),
            }
            i += 1;
        }
        self.offsets.commit(CID_SYS_RMQ_TRANS, topics::TRANS_HALF_TOPIC, 0, i);
        // The op offset moves past ops whose half message is behind the scan.
        let done = ops.iter().take_while(|h| **h < i).count() as i64;
        self.offsets.commit(CID_SYS_RMQ_TRANS, topics::TRANS_OP_HALF_TOPIC, 0, op_start + done);
    }

    /// A half message checked `transactionCheckMax` times goes to
    /// `TRANS_CHECK_MAX_TIME_TOPIC` (`resolveDiscardMsg`).
    fn discard_half(&self, half: &MessageExt) {
        tracing::error!(
            msg_id = %half.msg_id(),
            real_topic = half.properties.get(property::REAL_TOPIC).unwrap_or(""),
            "half message checked too many times; discarding it to TRANS_CHECK_MAX_TIME_TOPIC"
        );
        if self.topics.create_system_if_absent(topics::TRANS_CHECK_MAX_TIME_TOPIC) {
            self.trigger_register();
        }
        let inner = MessageInner {
            topic: topics::TRANS_CHECK_MAX_TIME_TOPIC.to_string(),
            queue_id: 0,
            prepared_transaction_offset: 0,
            ..half.to_inner()
        };
        if let Err(e) = self.store.put_message(&inner) {
            tracing::error!("discarding half message failed: {e}");
        }
        self.transactions.mark_settled(&uniq_key(half));
    }

    pub(super) fn spawn_transaction_check(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        let every = Duration::from_millis(self.cfg().transaction_check_interval_ms.max(100));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(b) = me.upgrade() else { return };
                b.check_transactions().await;
            }
        });
    }
}

/// CHECK_TRANSACTION_STATE for a half message; the body is the message as
/// the producer sent it (real topic and queue), `MessageDecoder.encode`d.
fn check_request(half: &MessageExt, store_host: &std::net::SocketAddr) -> RemotingCommand {
    let uniq = half.properties.get(property::UNIQ_KEY).unwrap_or("").to_string();
    let real_topic = half.properties.get(property::REAL_TOPIC).unwrap_or(&half.topic).to_string();
    let real_queue = half.properties.get(property::REAL_QUEUE_ID).and_then(|q| q.parse().ok()).unwrap_or(half.queue_id);
    let mut body = Vec::new();
    let props = half.properties.to_wire();
    let _ = encode_record_parts(
        &RecordParts {
            body_crc: half.body_crc,
            queue_id: real_queue,
            flag: half.flag,
            sys_flag: half.sys_flag,
            born_timestamp: half.born_timestamp,
            born_host: half.born_host,
            store_timestamp: half.store_timestamp,
            store_host: half.store_host,
            reconsume_times: half.reconsume_times,
            prepared_transaction_offset: half.prepared_transaction_offset,
            topic: &real_topic,
        },
        &half.body,
        props.as_bytes(),
        &[],
        &mut body,
    );
    if body.len() >= 36 {
        body[20..28].copy_from_slice(&half.queue_offset.to_be_bytes());
        body[28..36].copy_from_slice(&half.commit_log_offset.to_be_bytes());
    }
    let header = CheckTransactionStateRequestHeader {
        tran_state_table_offset: half.queue_offset,
        commit_log_offset: half.commit_log_offset,
        msg_id: Some(uniq.clone()),
        transaction_id: Some(uniq),
        offset_msg_id: Some(create_message_id(store_host, half.commit_log_offset)),
        bname: None,
    };
    header.encode(RemotingCommand::request(request::CHECK_TRANSACTION_STATE, 0)).with_body(body)
}

#[cfg(test)]
mod tests;

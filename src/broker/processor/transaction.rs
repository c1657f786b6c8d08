//! END_TRANSACTION (`EndTransactionProcessor`): commit writes the real
//! message from its half message, rollback writes nothing; both write the op
//! message that settles the half message (see `broker::transaction`).

use super::ok;
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::transaction::uniq_key;
use crate::broker::Broker;
use crate::protocol::header::{CommandHeader, EndTransactionRequestHeader};
use crate::protocol::message::{property, sys_flag, MessageExt, MessageInner};
use crate::protocol::topics;
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// END_TRANSACTION (usually oneway from the producer).
pub fn end_transaction(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = EndTransactionRequestHeader::decode(req)?;
    let group = h.producer_group.as_str();
    let (table_offset, commit_log_offset) = (h.tran_state_table_offset, h.commit_log_offset);
    let (kind, from_check) = (h.commit_or_rollback, h.from_transaction_check);
    if kind != sys_flag::TRANSACTION_COMMIT && kind != sys_flag::TRANSACTION_ROLLBACK {
        tracing::debug!(group, from_check, "transaction state unknown; waiting for a check");
        return ok(req);
    }
    let half = b
        .store
        .look_message_by_offset(commit_log_offset)
        .filter(|m| m.topic == topics::TRANS_HALF_TOPIC)
        .ok_or_else(|| BrokerError::new(response::SYSTEM_ERROR, "Find prepared transaction message failed"))?;
    if half.properties.get(property::PRODUCER_GROUP) != Some(group) {
        return Err(BrokerError::new(response::SYSTEM_ERROR, "The producer group wrong"));
    }
    if half.queue_offset != table_offset {
        return Err(BrokerError::new(response::SYSTEM_ERROR, "The transaction state table offset wrong"));
    }
    let uniq = uniq_key(&half);
    if b.transactions.is_settled(&uniq) {
        tracing::info!(uniq, from_check, "END_TRANSACTION for an already settled transaction ignored");
        return ok(req);
    }
    if kind == sys_flag::TRANSACTION_COMMIT {
        let real = end_message_transaction(&half)
            .ok_or_else(|| BrokerError::new(response::SYSTEM_ERROR, "half message has no real topic or queue"))?;
        b.store.put_message(&real)?;
        tracing::debug!(uniq, from_check, "transaction committed");
    } else {
        tracing::debug!(uniq, from_check, "transaction rolled back");
    }
    b.transactions.mark_settled(&uniq);
    b.put_op_message(&half)?;
    ok(req)
}

/// The committed message rebuilt from its half message (`endMessageTransaction`).
fn end_message_transaction(half: &MessageExt) -> Option<MessageInner> {
    let mut props = half.properties.clone();
    let topic = props.remove(property::REAL_TOPIC)?;
    let queue_id = props.remove(property::REAL_QUEUE_ID)?.parse().ok()?;
    props.remove(property::TRANSACTION_PREPARED);
    Some(MessageInner {
        topic,
        queue_id,
        sys_flag: (half.sys_flag & !sys_flag::TRANSACTION_MASK) | sys_flag::TRANSACTION_COMMIT,
        properties: props,
        prepared_transaction_offset: half.commit_log_offset,
        ..half.to_inner()
    })
}

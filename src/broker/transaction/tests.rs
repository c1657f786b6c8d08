use super::*;
use crate::broker::error::BrokerResult;
use crate::protocol::message::Properties;
use crate::remoting::connection::Reply;
use crate::remoting::ConnectionHandle;

fn broker(dir: &std::path::Path) -> Arc<Broker> {
    crate::broker::test_broker(dir, &[("transactionTimeOut", "0")])
}

fn prepared(b: &Broker, key: &str) -> (MessageExt, i64) {
    let mut props = Properties::default();
    props.put(property::UNIQ_KEY, key);
    props.put(property::PRODUCER_GROUP, "PG");
    props.put(property::TRANSACTION_PREPARED, "true");
    props.put(property::TAGS, "T1");
    let m = MessageInner {
        topic: "TopicTx".into(),
        queue_id: 2,
        flag: 0,
        sys_flag: sys_flag::TRANSACTION_PREPARED,
        body: Bytes::from(format!("body-{key}")),
        properties: props,
        born_timestamp: now_ms() - 10_000,
        born_host: b.store_host,
        store_host: b.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    };
    let half = b.half_message(m);
    let put = b.store.put_message(&half).unwrap();
    (b.store.look_message_by_offset(put.wrote_offset).unwrap(), put.wrote_offset)
}

/// A check round stops at a half message stored in its own starting
/// millisecond (Java's "fresh stored, check it later"), so a test that
/// expects a half to be checked waits for the clock to pass its store time.
fn clock_past(ms: i64) {
    while now_ms() <= ms {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Drives the END_TRANSACTION handler as the processor does.
fn end_tx(b: &Broker, req: &RemotingCommand) -> BrokerResult<Reply> {
    let (conn, _sent) = ConnectionHandle::detached("127.0.0.1:1".parse().unwrap());
    crate::broker::processor::transaction::end_transaction(b, &conn, req)
}

fn end(half: &MessageExt, kind: i32) -> RemotingCommand {
    RemotingCommand::request(request::END_TRANSACTION, 1)
        .with_ext("producerGroup", "PG")
        .with_ext("tranStateTableOffset", half.queue_offset)
        .with_ext("commitLogOffset", half.commit_log_offset)
        .with_ext("commitOrRollback", kind)
        .with_ext("fromTransactionCheck", false)
}

fn real_messages(b: &Broker) -> Vec<MessageExt> {
    let g = b.store.get_message("TopicTx", 2, 0, 32, &|_| true);
    MessageExt::decode_all(&g.body()).unwrap()
}

#[tokio::test]
async fn half_message_is_hidden_until_commit_and_commit_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (half, _) = prepared(&b, "K1");
    assert_eq!(half.topic, topics::TRANS_HALF_TOPIC);
    assert_eq!(half.sys_flag & sys_flag::TRANSACTION_MASK, 0);
    assert!(real_messages(&b).is_empty());
    end_tx(&b, &end(&half, sys_flag::TRANSACTION_COMMIT)).unwrap();
    let real = real_messages(&b);
    assert_eq!(real.len(), 1);
    assert_eq!(&real[0].body[..], b"body-K1");
    assert_eq!(real[0].properties.get(property::UNIQ_KEY), Some("K1"));
    assert_eq!(real[0].properties.get(property::TAGS), Some("T1"));
    assert_eq!(real[0].properties.get(property::TRANSACTION_PREPARED), None);
    assert_eq!(real[0].properties.get(property::REAL_TOPIC), None);
    assert_eq!(real[0].sys_flag & sys_flag::TRANSACTION_MASK, sys_flag::TRANSACTION_COMMIT);
    assert_eq!(b.store.max_offset_in_queue(topics::TRANS_OP_HALF_TOPIC, 0), 1);
    // A repeated commit, and a late rollback, change nothing.
    end_tx(&b, &end(&half, sys_flag::TRANSACTION_COMMIT)).unwrap();
    end_tx(&b, &end(&half, sys_flag::TRANSACTION_ROLLBACK)).unwrap();
    assert_eq!(real_messages(&b).len(), 1);
    assert_eq!(b.store.max_offset_in_queue(topics::TRANS_OP_HALF_TOPIC, 0), 1);
}

#[tokio::test]
async fn rollback_writes_only_the_op_message_and_bad_headers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (half, _) = prepared(&b, "K2");
    let wrong_group = end(&half, sys_flag::TRANSACTION_COMMIT).with_ext("producerGroup", "other");
    assert!(end_tx(&b, &wrong_group).is_err());
    let wrong_offset = end(&half, sys_flag::TRANSACTION_COMMIT).with_ext("commitLogOffset", 999_999);
    assert!(end_tx(&b, &wrong_offset).is_err());
    end_tx(&b, &end(&half, sys_flag::TRANSACTION_ROLLBACK)).unwrap();
    assert!(real_messages(&b).is_empty());
    assert_eq!(b.store.max_offset_in_queue(topics::TRANS_OP_HALF_TOPIC, 0), 1);
}

#[tokio::test]
async fn check_round_skips_settled_halves_even_when_ops_arrive_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (h0, _) = prepared(&b, "A");
    let (_h1, _) = prepared(&b, "B");
    let (h2, _) = prepared(&b, "C");
    // Settle the last one first, then the first.
    end_tx(&b, &end(&h2, sys_flag::TRANSACTION_COMMIT)).unwrap();
    end_tx(&b, &end(&h0, sys_flag::TRANSACTION_ROLLBACK)).unwrap();
    clock_past(h2.store_timestamp);
    b.check_transactions().await;
    // Only B was unsettled: with no live producer it is put back unchecked.
    assert_eq!(b.store.max_offset_in_queue(topics::TRANS_HALF_TOPIC, 0), 4);
    let copy = b.half_at(3).unwrap();
    assert_eq!(copy.properties.get(property::UNIQ_KEY), Some("B"));
    assert_eq!(copy.properties.get(TRANSACTION_CHECK_TIMES), None);
    assert_eq!(b.offsets.query(CID_SYS_RMQ_TRANS, topics::TRANS_HALF_TOPIC, 0), 3);
    assert_eq!(b.offsets.query(CID_SYS_RMQ_TRANS, topics::TRANS_OP_HALF_TOPIC, 0), 2);
    // Committing the copy settles B; the next round finds nothing to do.
    end_tx(&b, &end(&copy, sys_flag::TRANSACTION_COMMIT)).unwrap();
    clock_past(copy.store_timestamp);
    b.check_transactions().await;
    assert_eq!(b.store.max_offset_in_queue(topics::TRANS_HALF_TOPIC, 0), 4);
    assert_eq!(b.offsets.query(CID_SYS_RMQ_TRANS, topics::TRANS_HALF_TOPIC, 0), 4);
    let bodies: Vec<_> = real_messages(&b).iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, vec![Bytes::from("body-C"), Bytes::from("body-B")]);
}

#[test]
fn check_request_carries_the_real_topic_and_copy_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (half, _) = prepared(&b, "K9");
    let req = check_request(&half, &b.store_host);
    assert_eq!(req.ext("transactionId"), Some("K9"));
    assert_eq!(req.ext("tranStateTableOffset"), Some(half.queue_offset.to_string().as_str()));
    let m = MessageExt::decode(req.body.as_ref().unwrap()).unwrap();
    assert_eq!((m.topic.as_str(), m.queue_id), ("TopicTx", 2));
    assert_eq!(m.commit_log_offset, half.commit_log_offset);
}

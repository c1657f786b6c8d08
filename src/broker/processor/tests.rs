//! Handlers driven without a socket: a broker on a temporary store, a
//! detached connection, and requests built as clients build them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::broker::Broker;
use crate::protocol::header::pull_sys_flag;
use crate::protocol::message::MessageExt;
use crate::protocol::topic::TopicConfig;
use crate::remoting::connection::RequestProcessor;

fn broker(dir: &std::path::Path) -> Arc<Broker> {
    let b = crate::broker::test_broker(dir, &[("regionId", "RegionX")]);
    b.topics.update(TopicConfig::new("T", 2, 2, 6)).unwrap();
    b
}

fn conn() -> (ConnectionHandle, UnboundedReceiver<RemotingCommand>) {
    ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap())
}

fn now(reply: BrokerResult<Reply>) -> Option<RemotingCommand> {
    match reply.unwrap_or_else(|e| panic!("handler failed: {e}")) {
        Reply::Now(r) => r,
        Reply::Later(_) => panic!("expected an answer now"),
    }
}

/// What the processor answers (table, error conversion, finish included).
async fn process(b: &Broker, conn: &ConnectionHandle, req: RemotingCommand) -> Option<RemotingCommand> {
    match b.process(conn, req).await {
        Reply::Now(r) => r,
        Reply::Later(wait) => wait.await,
    }
}

fn send_request(topic: &str, queue_id: i32, body: &str) -> RemotingCommand {
    RemotingCommand::request(rc::SEND_MESSAGE, 7)
        .with_ext("producerGroup", "PG")
        .with_ext("topic", topic)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("defaultTopicQueueNums", 4)
        .with_ext("queueId", queue_id)
        .with_ext("sysFlag", 0)
        .with_ext("bornTimestamp", 1)
        .with_ext("flag", 0)
        .with_ext("properties", "TAGS\u{1}A\u{2}")
        .with_body(body.as_bytes().to_vec())
}

fn pull_request(queue_offset: i64, sys_flag: i32) -> RemotingCommand {
    RemotingCommand::request(rc::PULL_MESSAGE, 8)
        .with_ext("consumerGroup", "G")
        .with_ext("topic", "T")
        .with_ext("queueId", 1)
        .with_ext("queueOffset", queue_offset)
        .with_ext("maxMsgNums", 32)
        .with_ext("sysFlag", sys_flag | pull_sys_flag::SUBSCRIPTION)
        .with_ext("commitOffset", 0)
        .with_ext("suspendTimeoutMillis", 5000)
        .with_ext("subscription", "*")
        .with_ext("subVersion", 1)
}

#[tokio::test]
async fn unknown_code_is_answered_by_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    assert!(route(9999).is_none());
    let (c, _sent) = conn();
    let resp = process(&b, &c, RemotingCommand::request(9999, 3)).await.unwrap();
    assert_eq!(resp.code, response::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(resp.remark.as_deref(), Some(" request type 9999 not supported"));
    assert_eq!(resp.opaque, 3);
}

#[tokio::test]
async fn send_then_pull_returns_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (c, _sent) = conn();
    let resp = now(send::send_message(&b, &c, &send_request("T", 1, "hello"))).unwrap();
    assert_eq!(resp.code, response::SUCCESS);
    assert_eq!((resp.ext("queueId"), resp.ext("queueOffset")), (Some("1"), Some("0")));

    let resp = now(pull::pull_message(&b, &c, &pull_request(0, 0))).unwrap();
    assert_eq!(resp.code, response::SUCCESS);
    assert_eq!(resp.ext("nextBeginOffset"), Some("1"));
    let msgs = MessageExt::decode_all(&resp.body_bytes().unwrap()).unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(&msgs[0].body[..], b"hello");
    assert_eq!(msgs[0].properties.get("TAGS"), Some("A"));
}

#[tokio::test]
async fn every_send_response_carries_region_and_trace_even_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (c, _sent) = conn();
    let ok = process(&b, &c, send_request("T", 0, "x")).await.unwrap();
    assert_eq!(ok.code, response::SUCCESS);
    assert_eq!(ok.ext("MSG_REGION"), Some("RegionX"));
    assert!(ok.ext("TRACE_ON").is_some());
    // A bad topic name: the handler fails; the processor answers and finishes.
    let refused = process(&b, &c, send_request("bad topic", 0, "x")).await.unwrap();
    assert_ne!(refused.code, response::SUCCESS);
    assert_eq!(refused.opaque, 7);
    assert_eq!(refused.ext("MSG_REGION"), Some("RegionX"));
    assert!(refused.ext("TRACE_ON").is_some());
}

#[tokio::test]
async fn a_held_pull_is_answered_when_a_message_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (consumer, mut sent) = conn();
    let held = now(pull::pull_message(&b, &consumer, &pull_request(0, pull_sys_flag::SUSPEND)));
    assert!(held.is_none(), "nothing to read: the pull is held");
    assert_eq!(b.pull_hold.held(), 1);
    let (producer, _) = conn();
    now(send::send_message(&b, &producer, &send_request("T", 1, "late"))).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), sent.recv()).await.unwrap().unwrap();
    assert_eq!((resp.code, resp.opaque), (response::SUCCESS, 8));
    let msgs = MessageExt::decode_all(&resp.body_bytes().unwrap()).unwrap();
    assert_eq!(&msgs[0].body[..], b"late");
}

#[tokio::test]
async fn heartbeat_registers_the_consumer_and_its_retry_topic() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (c, _sent) = conn();
    let body = r#"{"clientID":"10.0.0.1@1","consumerDataSet":[{"groupName":"G","consumeType":"CONSUME_PASSIVELY",
        "messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET",
        "subscriptionDataSet":[{"topic":"T","subString":"*","subVersion":1}]}],"producerDataSet":[{"groupName":"PG"}]}"#;
    let hb = RemotingCommand::request(rc::HEART_BEAT, 1).with_body(body.as_bytes().to_vec());
    assert_eq!(now(consumer::heart_beat(&b, &c, &hb)).unwrap().code, response::SUCCESS);
    assert!(b.topics.get("%RETRY%G").is_some(), "the group's retry topic is created");
    assert_eq!(b.producers.channels("PG").len(), 1);

    let list = RemotingCommand::request(rc::GET_CONSUMER_LIST_BY_GROUP, 2).with_ext("consumerGroup", "G");
    let resp = now(consumer::get_consumer_list_by_group(&b, &c, &list)).unwrap();
    assert!(String::from_utf8_lossy(resp.body.as_ref().unwrap()).contains("10.0.0.1@1"));

    // A heartbeat without a body is refused through the one error path.
    let bad = process(&b, &c, RemotingCommand::request(rc::HEART_BEAT, 4)).await.unwrap();
    assert_eq!((bad.code, bad.opaque), (response::SYSTEM_ERROR, 4));
}

#[tokio::test]
async fn query_consume_queue_and_clean_unused_topic() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    let (c, _rx) = conn();
    b.topics.update(TopicConfig::new("Gone", 1, 1, 6)).unwrap();
    for i in 0..3 {
        now(send::send_message(&b, &c, &send_request("T", 1, &format!("m{i}")))).unwrap();
    }
    now(send::send_message(&b, &c, &send_request("Gone", 0, "x"))).unwrap();

    let query = |index: i64, count: i32| {
        RemotingCommand::request(rc::QUERY_CONSUME_QUEUE, 9)
            .with_ext("topic", "T")
            .with_ext("queueId", 1)
            .with_ext("index", index)
            .with_ext("count", count)
    };
    let resp = process(&b, &c, query(1, 10)).await.unwrap();
    assert_eq!(resp.code, response::SUCCESS);
    let body: serde_json::Value = serde_json::from_slice(resp.body.as_deref().unwrap()).unwrap();
    assert_eq!((body["maxQueueIndex"].as_i64(), body["minQueueIndex"].as_i64()), (Some(3), Some(0)));
    let entries = body["queueData"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{body}");
    assert_eq!(entries[0]["tagsCode"], serde_json::json!(65), "hash of tag A: {body}");
    assert!(entries[0]["physicOffset"].as_i64().unwrap() < entries[1]["physicOffset"].as_i64().unwrap());
    assert!(body.get("subscriptionData").is_none() && body.get("filterData").is_none());

    let past = process(&b, &c, query(3, 10)).await.unwrap();
    assert_eq!(past.code, response::SUCCESS);
    assert_eq!(past.remark.as_deref(), Some("Index 3 of 1@T is not exist!"));
    let offline = process(&b, &c, query(0, 1).with_ext("consumerGroup", "G")).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(offline.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["filterData"], "G@T is not online!");
    let missing = RemotingCommand::request(rc::QUERY_CONSUME_QUEUE, 9)
        .with_ext("topic", "T")
        .with_ext("queueId", 0)
        .with_ext("index", 0)
        .with_ext("count", 1);
    let resp = process(&b, &c, missing).await.unwrap();
    assert_eq!((resp.code, resp.remark.as_deref()), (response::SYSTEM_ERROR, Some("0@T is not exist!")));

    // "Gone" leaves the topic table but keeps its consume queue until CLEAN_UNUSED_TOPIC.
    b.topics.delete("Gone");
    assert!(b.store.topics().contains(&"Gone".to_string()));
    let resp = process(&b, &c, RemotingCommand::request(rc::CLEAN_UNUSED_TOPIC, 10)).await.unwrap();
    assert_eq!(resp.code, response::SUCCESS);
    let left = b.store.topics();
    assert!(!left.contains(&"Gone".to_string()) && left.contains(&"T".to_string()), "{left:?}");
    let resp = process(&b, &c, RemotingCommand::request(rc::CLEAN_EXPIRED_CONSUMEQUEUE, 11)).await.unwrap();
    assert_eq!(resp.code, response::SUCCESS);
    assert_eq!(b.store.max_offset_in_queue("T", 1), 3, "nothing expired, nothing trimmed");
}

//! The request pipeline against a real ferromq: a request that waits does
//! not hold up the others on its connection, while the connection's sends
//! are still stored in the order they arrived.

mod common;

use std::time::{Duration, Instant};

use common::raw::*;
use common::{start_fresh, Server};
use ferromq::remoting::RemotingCommand;

const GET_CONSUMER_RUNNING_INFO: i32 = 307;

fn start(extra: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(dir.path(), extra);
    (dir, server)
}

fn heartbeat(client_id: &str, group: &str) -> RemotingCommand {
    let body = format!(
        r#"{{"clientID":"{client_id}","consumerDataSet":[{{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"{group}","messageModel":"CLUSTERING","subscriptionDataSet":[{{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1,"tagsSet":[],"topic":"TBW102"}}],"unitMode":false}}],"producerDataSet":[]}}"#
    );
    let mut hb = RemotingCommand::request(HEART_BEAT, 0).with_body(body.into_bytes());
    hb.version = 407;
    hb
}

#[test]
fn a_relay_to_a_silent_consumer_does_not_hold_up_its_connection() {
    let (_dir, server) = start("");
    let addr = server.broker_addr.clone();
    // A consumer that registers and then never answers the broker.
    let mut silent = Raw::connect(&addr);
    assert_eq!(silent.call(heartbeat("silent@1", "GSilent")).code, 0);

    // An admin asks for its running info (relayed, up to 10 s), then at once
    // sends a heartbeat and a pull on the same connection.
    let mut admin = Raw::connect(&addr);
    let relay = admin.write(
        RemotingCommand::request(GET_CONSUMER_RUNNING_INFO, 0)
            .with_ext("consumerGroup", "GSilent")
            .with_ext("clientId", "silent@1")
            .with_ext("jstackEnable", false),
    );
    let started = Instant::now();
    let hb = admin.write(heartbeat("admin@1", "GAdmin"));
    let pl = admin.write(pull("GAdmin", "TBW102", 0, 0, 0));
    let first = admin.read_response().unwrap();
    let second = admin.read_response().unwrap();
    let waited = started.elapsed();
    assert_eq!((first.opaque, first.code), (hb, 0), "the heartbeat is answered first");
    assert_eq!(second.opaque, pl, "then the pull");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}, behind the 10 s relay");

    // The relay itself reached the silent consumer and ends with Java's timeout.
    let relayed = silent.next_request(GET_CONSUMER_RUNNING_INFO);
    assert_eq!(relayed.ext("clientId"), Some("silent@1"));
    let timeout = admin.read_response().unwrap();
    assert_eq!((timeout.opaque, timeout.code), (relay, 207), "CONSUME_MSG_TIMEOUT: {:?}", timeout.remark);
    server.stop();
}

#[test]
fn pipelined_sends_on_one_connection_keep_their_order() {
    let (_dir, server) = start("flushDiskType=SYNC_FLUSH\n");
    let mut c = Raw::connect(&server.broker_addr);
    assert_eq!(c.call(send("Ordered", 0, b"first")).code, 0);
    // 500 sends written back to back without waiting (as an async producer
    // does), each waiting for its flush on the broker.
    let n = 500;
    let opaques: Vec<i32> = (0..n).map(|i| c.write(send("Ordered", 0, format!("m{i}").as_bytes()))).collect();
    let mut offsets = Vec::new();
    for _ in 0..n {
        let r = c.read().unwrap();
        assert_eq!(r.code, 0, "{:?}", r.remark);
        let i = opaques.iter().position(|o| *o == r.opaque).expect("a response per request");
        offsets.push((i, r.ext("queueOffset").unwrap().parse::<i64>().unwrap()));
    }
    offsets.sort();
    for (i, (_, off)) in offsets.iter().enumerate() {
        assert_eq!(*off, i as i64 + 1, "send {i} was stored in arrival order");
    }
    server.stop();
}

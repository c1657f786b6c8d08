//! Metadata at scale against a real ferromq: 10 000 topics and 2 000
//! subscription groups created one request at a time must take seconds (the
//! files are written off the request path, many changes per write), and
//! every one must survive a graceful restart, and a SIGKILL once the files
//! on disk have caught up.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{broker_port, write_conf, Server};
use ferromq::protocol::fastjson;
use ferromq::remoting::RemotingCommand;

const UPDATE_AND_CREATE_TOPIC: i32 = 17;
const GET_ALL_TOPIC_CONFIG: i32 = 21;
const UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: i32 = 200;
const GET_ALL_SUBSCRIPTIONGROUP_CONFIG: i32 = 201;

/// A hang guard, not a benchmark: before the fix 5 841 topics took 90 s.
const BOUND: Duration = Duration::from_secs(120);

struct Conn {
    s: TcpStream,
    opaque: i32,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s, opaque: 0 }
    }

    fn roundtrip(&mut self, cmd: RemotingCommand) -> RemotingCommand {
        self.opaque += 1;
        let mut cmd = cmd;
        cmd.opaque = self.opaque;
        self.s.write_all(&cmd.encode()).unwrap();
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).unwrap();
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut frame).unwrap();
        let r = RemotingCommand::decode(Bytes::from(frame)).unwrap();
        assert_eq!(r.opaque, self.opaque);
        r
    }

    fn create_topic(&mut self, topic: &str) {
        let req = RemotingCommand::request(UPDATE_AND_CREATE_TOPIC, 0)
            .with_ext("topic", topic)
            .with_ext("defaultTopic", "TBW102")
            .with_ext("readQueueNums", 4)
            .with_ext("writeQueueNums", 4)
            .with_ext("perm", 6)
            .with_ext("topicFilterType", "SINGLE_TAG")
            .with_ext("topicSysFlag", 0)
            .with_ext("order", false);
        let r = self.roundtrip(req);
        assert_eq!(r.code, 0, "creating {topic}: {:?}", r.remark);
    }

    fn create_group(&mut self, group: &str) {
        let body = format!("{{\"groupName\":\"{group}\",\"retryMaxTimes\":3}}");
        let r = self.roundtrip(RemotingCommand::request(UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, 0).with_body(body.into_bytes()));
        assert_eq!(r.code, 0, "creating {group}: {:?}", r.remark);
    }

    fn table_keys(&mut self, code: i32, table: &str) -> BTreeSet<String> {
        let r = self.roundtrip(RemotingCommand::request(code, 0));
        assert_eq!(r.code, 0);
        let v = fastjson::parse_value(r.body.as_deref().expect("a body")).unwrap();
        v[table].as_object().expect(table).keys().cloned().collect()
    }
}

fn topic(i: usize) -> String {
    format!("MetaScaleTopic_{i:05}")
}

fn group(i: usize) -> String {
    format!("MetaScaleGroup_{i:04}")
}

/// Creates `topics` topics then `groups` groups, one request at a time on
/// one connection; returns the elapsed time.
fn create_all(addr: &str, topics: usize, groups: usize) -> Duration {
    let mut c = Conn::open(addr);
    let start = Instant::now();
    for i in 0..topics {
        c.create_topic(&topic(i));
        assert!(start.elapsed() < BOUND, "only {i} topics created in {BOUND:?}");
    }
    let topics_took = start.elapsed();
    for i in 0..groups {
        c.create_group(&group(i));
        assert!(start.elapsed() < BOUND, "only {i} groups created in {BOUND:?}");
    }
    let all = start.elapsed();
    eprintln!("created {topics} topics in {topics_took:?}, then {groups} groups in {:?}", all - topics_took);
    all
}

fn assert_all_present(addr: &str, topics: usize, groups: usize) {
    let mut c = Conn::open(addr);
    let have = c.table_keys(GET_ALL_TOPIC_CONFIG, "topicConfigTable");
    let missing: Vec<String> = (0..topics).map(topic).filter(|t| !have.contains(t)).collect();
    assert!(missing.is_empty(), "{} topics missing after restart, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    let have = c.table_keys(GET_ALL_SUBSCRIPTIONGROUP_CONFIG, "subscriptionGroupTable");
    let missing: Vec<String> = (0..groups).map(group).filter(|g| !have.contains(g)).collect();
    assert!(missing.is_empty(), "{} groups missing after restart, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
}

/// Polls (bounded) until `file` names `needle`.
fn wait_for_on_disk(file: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::fs::read_to_string(file).is_ok_and(|t| t.contains(&format!("\"{needle}\""))) {
            return;
        }
        assert!(Instant::now() < deadline, "{} did not get {needle} within 30 s", file.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ten_thousand_topics_and_two_thousand_groups_survive_a_graceful_restart() {
    let (topics, groups) = (10_000, 2_000);
    let dir = tempfile::tempdir().unwrap();
    let (port, ns_port) = (broker_port(), broker_port());
    let conf = write_conf(dir.path(), port, "");
    let server = Server::start(&conf, port, ns_port);
    let took = create_all(&server.broker_addr, topics, groups);
    assert!(took < BOUND);
    assert_all_present(&server.broker_addr, topics, groups);
    let (conf, ns_port) = (server.conf.clone(), server.namesrv_port);
    server.stop();

    let server = Server::start(&conf, port, ns_port);
    assert_all_present(&server.broker_addr, topics, groups);
    server.stop();
}

#[test]
fn topics_and_groups_on_disk_survive_a_sigkill() {
    let (topics, groups) = (5_000, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let (port, ns_port) = (broker_port(), broker_port());
    let conf = write_conf(dir.path(), port, "");
    let server = Server::start(&conf, port, ns_port);
    create_all(&server.broker_addr, topics, groups);
    let config = dir.path().join("store/config");
    wait_for_on_disk(&config.join("topics.json"), &topic(topics - 1));
    wait_for_on_disk(&config.join("subscriptionGroup.json"), &group(groups - 1));
    server.kill();

    let server = Server::start(&conf, port, ns_port);
    assert_all_present(&server.broker_addr, topics, groups);
    server.stop();
}

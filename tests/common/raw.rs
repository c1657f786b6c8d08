//! A blocking remoting client that can also misbehave, and request builders.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use ferromq::protocol::body::{RegisterBrokerBody, TopicConfigSerializeWrapper};
use ferromq::protocol::header::{CommandHeader, RegisterBrokerRequestHeader};
use ferromq::protocol::fastjson;
use ferromq::protocol::message::body_crc;
use ferromq::protocol::route::TopicRouteData;
use ferromq::protocol::topic::{DataVersion, TopicConfig};
use ferromq::remoting::codes::{request as rc, response};
use ferromq::remoting::RemotingCommand;

pub const SEND_V2: i32 = 310;
pub const PULL: i32 = 11;
pub const SEND_BACK: i32 = 36;
pub const CREATE_TOPIC: i32 = 17;
pub const GET_MAX_OFFSET: i32 = 30;
pub const UPDATE_OFFSET: i32 = 15;
pub const HEART_BEAT: i32 = 34;

/// A blocking remoting client that can also misbehave.
pub struct Raw {
    pub s: TcpStream,
    pub opaque: i32,
}

impl Raw {
    pub fn connect(addr: &str) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { s, opaque: 0 }
    }

    pub fn write(&mut self, mut cmd: RemotingCommand) -> i32 {
        self.opaque += 1;
        cmd.opaque = self.opaque;
        self.s.write_all(&cmd.encode()).unwrap();
        self.opaque
    }

    pub fn read(&mut self) -> std::io::Result<RemotingCommand> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len)?;
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut frame)?;
        Ok(RemotingCommand::decode(Bytes::from(frame)).unwrap())
    }

    /// Sends and waits for the response, skipping requests the broker sends
    /// meanwhile (NOTIFY_CONSUMER_IDS_CHANGED after a heartbeat, say).
    pub fn call(&mut self, cmd: RemotingCommand) -> RemotingCommand {
        let opaque = self.write(cmd);
        loop {
            let r = self.read().expect("a response");
            if r.is_response() {
                assert_eq!(r.opaque, opaque);
                return r;
            }
        }
    }

    /// The next response, skipping requests the broker sends.
    pub fn read_response(&mut self) -> std::io::Result<RemotingCommand> {
        loop {
            let r = self.read()?;
            if r.is_response() {
                return Ok(r);
            }
        }
    }

    /// The next request the broker sends us with this code.
    pub fn next_request(&mut self, code: i32) -> RemotingCommand {
        loop {
            let r = self.read().expect("a request");
            if !r.is_response() && r.code == code {
                return r;
            }
        }
    }

    /// True when the server closed the connection (EOF or reset).
    pub fn closed_by_server(&mut self) -> bool {
        let mut b = [0u8; 1];
        match self.s.read(&mut b) {
            Ok(0) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    }
}

/// One request on a new connection, sent as it is (opaque included), and its answer.
pub fn roundtrip(addr: &str, cmd: &RemotingCommand) -> RemotingCommand {
    let mut c = Raw::connect(addr);
    c.s.write_all(&cmd.encode()).unwrap();
    c.read().expect("a response")
}

pub fn send(topic: &str, queue_id: i32, body: &[u8]) -> RemotingCommand {
    send_with(topic, queue_id, 0, "", 4, body)
}

pub fn send_with(topic: &str, queue_id: i32, sys_flag: i32, props: &str, default_queues: i32, body: &[u8]) -> RemotingCommand {
    RemotingCommand::request(SEND_V2, 0)
        .with_ext("a", "PG")
        .with_ext("b", topic)
        .with_ext("c", "TBW102")
        .with_ext("d", default_queues)
        .with_ext("e", queue_id)
        .with_ext("f", sys_flag)
        .with_ext("g", 1)
        .with_ext("h", 0)
        .with_ext("i", props)
        .with_ext("j", 0)
        .with_ext("k", false)
        .with_body(Bytes::copy_from_slice(body))
}

pub fn pull(group: &str, topic: &str, queue_id: i32, offset: i64, suspend_ms: i64) -> RemotingCommand {
    RemotingCommand::request(PULL, 0)
        .with_ext("consumerGroup", group)
        .with_ext("topic", topic)
        .with_ext("queueId", queue_id)
        .with_ext("queueOffset", offset)
        .with_ext("maxMsgNums", 32)
        // SUSPEND | SUBSCRIPTION: no heartbeat needed.
        .with_ext("sysFlag", 0x2 | 0x4)
        .with_ext("commitOffset", 0)
        .with_ext("suspendTimeoutMillis", suspend_ms)
        .with_ext("subscription", "*")
        .with_ext("subVersion", 0)
}

pub fn create_topic(topic: &str, read: i32, write: i32) -> RemotingCommand {
    RemotingCommand::request(CREATE_TOPIC, 0)
        .with_ext("topic", topic)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", read)
        .with_ext("writeQueueNums", write)
        .with_ext("perm", 6)
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("topicSysFlag", 0)
        .with_ext("order", false)
}

pub fn max_offset(topic: &str, queue_id: i32) -> RemotingCommand {
    RemotingCommand::request(GET_MAX_OFFSET, 0).with_ext("topic", topic).with_ext("queueId", queue_id)
}


/// REGISTER_BROKER from a master (`brokerId` 0) serving `topics` (4 queues
/// each) at data version `counter`: a JSON body with its crc.
pub fn register_broker(cluster: &str, broker_name: &str, addr: &str, counter: i64, topics: &[&str]) -> RemotingCommand {
    let body = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion::new(counter),
            topic_config_table: topics.iter().map(|t| (t.to_string(), TopicConfig::new(t, 4, 4, 6))).collect(),
        },
    };
    let body = serde_json::to_vec(&body).unwrap();
    let header = RegisterBrokerRequestHeader {
        body_crc32: body_crc(&body),
        compressed: false,
        cluster_name: cluster.into(),
        broker_addr: addr.into(),
        broker_name: broker_name.into(),
        broker_id: 0,
        ha_server_addr: addr.into(),
    };
    header.encode(RemotingCommand::request(rc::REGISTER_BROKER, 0)).with_body(body)
}

/// The name server's route for `topic` (None: not SUCCESS).
pub fn topic_route(namesrv: &str, topic: &str) -> Option<TopicRouteData> {
    let r = roundtrip(namesrv, &RemotingCommand::request(rc::GET_ROUTEINFO_BY_TOPIC, 0).with_ext("topic", topic));
    (r.code == response::SUCCESS).then(|| fastjson::parse(r.body.as_deref().unwrap()).unwrap())
}

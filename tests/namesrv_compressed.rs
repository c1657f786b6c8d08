//! Compressed broker registrations (`compressedRegister=true`, Java's
//! `RegisterBrokerBody.encode(true)`) against a real ferromq name server: a
//! ferromq broker with the setting registers and its topics route; hostile
//! compressed bodies (a zip bomb, a truncated stream, counts and lengths the
//! data does not back, a bad crc) get `SYSTEM_ERROR` and change nothing, and
//! the name server keeps serving on the same connection.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use common::raw::*;
use common::start_fresh;
use ferromq::protocol::body::{RegisterBrokerBody, TopicConfigSerializeWrapper};
use ferromq::protocol::header::{CommandHeader, RegisterBrokerRequestHeader};
use ferromq::protocol::message::body_crc;
use ferromq::protocol::register::encode_compressed;
use ferromq::protocol::topic::{DataVersion, TopicConfig};
use ferromq::remoting::codes::{request as rc, response};
use ferromq::remoting::RemotingCommand;
use flate2::write::ZlibEncoder;
use flate2::Compression;

fn register_with(broker_name: &str, addr: &str, body: Vec<u8>, crc: i32) -> RemotingCommand {
    let header = RegisterBrokerRequestHeader {
        body_crc32: crc,
        compressed: true,
        cluster_name: "DefaultCluster".into(),
        broker_addr: addr.into(),
        broker_name: broker_name.into(),
        broker_id: 0,
        ha_server_addr: addr.into(),
    };
    header.encode(RemotingCommand::request(rc::REGISTER_BROKER, 0)).with_body(body)
}

fn register(broker_name: &str, addr: &str, body: Vec<u8>) -> RemotingCommand {
    let crc = body_crc(&body);
    register_with(broker_name, addr, body, crc)
}

fn body_with(topic: &str) -> RegisterBrokerBody {
    RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion { counter: 1, timestamp: 1_700_000_000_000 },
            topic_config_table: BTreeMap::from([(topic.to_string(), TopicConfig::new(topic, 3, 3, 6))]),
        },
    }
}

fn zlib(raw: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_broker_with_compressed_register_routes_its_topics() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(dir.path(), "compressedRegister=true");
    let ns = format!("127.0.0.1:{}", server.namesrv_port);
    let r = roundtrip(&server.broker_addr, &create_topic("CompressedRegistered", 5, 5));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    // UPDATE_AND_CREATE_TOPIC triggers a registration without waiting for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let route = loop {
        if let Some(r) = topic_route(&ns, "CompressedRegistered") {
            break r;
        }
        assert!(Instant::now() < deadline, "the topic never reached the name server");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(route.broker_datas[0].master_addr(), Some(server.broker_addr.as_str()));
    let q = &route.queue_datas[0];
    assert_eq!((q.broker_name.as_str(), q.read_queue_nums, q.write_queue_nums), ("broker-a", 5, 5));
    server.stop();
}

#[test]
fn hostile_compressed_registrations_are_refused_and_the_name_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(dir.path(), "");
    let ns = format!("127.0.0.1:{}", server.namesrv_port);
    let dv = br#"{"counter":1,"timestamp":2}"#;
    let dvl = (dv.len() as i32).to_be_bytes();
    let be = |n: i32| n.to_be_bytes();

    // A zip bomb: 256 MiB of zeros behind a length field that claims them
    // (about 256 KiB on the wire); inflation stops at frameMaxLength.
    let mut bomb = ZlibEncoder::new(Vec::new(), Compression::best());
    bomb.write_all(&be(i32::MAX)).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    let good = encode_compressed(&body_with("Hostile"));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("zip bomb", bomb),
        ("truncated stream", good[..good.len() / 2].to_vec()),
        ("not zlib at all", b"{\"filterServerList\":[]}".to_vec()),
        ("count beyond the entries", zlib(&[&dvl[..], dv, &be(1_000_000), &be(2), b"[]"].concat())),
        ("negative count", zlib(&[&dvl[..], dv, &be(-3), &be(2), b"[]"].concat())),
        ("negative length", zlib(&[&be(-1)[..], dv].concat())),
        ("length beyond the data", zlib(&[&be(1 << 30)[..], dv].concat())),
        ("bad topic entry", zlib(&[&dvl[..], dv, &be(1), &be(9), b"T 1 1 6 X", &be(2), b"[]"].concat())),
    ];
    let mut conn = Raw::connect(&ns);
    for (what, body) in cases {
        let r = conn.call(register("hostile-broker", "10.9.9.9:10911", body));
        assert_eq!(r.code, response::SYSTEM_ERROR, "{what}: {:?}", r.remark);
        let remark = r.remark.unwrap_or_default();
        assert!(remark.starts_with("Failed to decode RegisterBrokerBody"), "{what}: {remark}");
    }
    let r = conn.call(register_with("hostile-broker", "10.9.9.9:10911", good.clone(), body_crc(&good) ^ 1));
    assert_eq!((r.code, r.remark.as_deref()), (response::SYSTEM_ERROR, Some("crc32 not match")));
    assert!(topic_route(&ns, "Hostile").is_none(), "a refused registration left a route");
    let info = roundtrip(&ns, &RemotingCommand::request(rc::GET_BROKER_CLUSTER_INFO, 0));
    assert!(!String::from_utf8_lossy(info.body.as_deref().unwrap()).contains("hostile-broker"));

    // Same connection, a good compressed body: registered and routed.
    let r = conn.call(register("good-broker", "10.9.9.8:10911", good));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    let route = topic_route(&ns, "Hostile").expect("route after a good compressed registration");
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.9.9.8:10911"));
    assert_eq!(route.queue_datas[0].write_queue_nums, 3);
    server.stop();
}

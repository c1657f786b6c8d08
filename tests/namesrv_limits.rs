//! The name server's bounds (`namesrvMaxBrokers`, `namesrvMaxTopicRoutes`,
//! `namesrvMaxKvConfigs`; the Java name server has none) against a real
//! `ferromq namesrv` with small limits in its namesrv.conf: one past a bound
//! gets `SYSTEM_ERROR` naming the key, what was accepted keeps routing and
//! reading, known brokers re-register, the name server keeps serving, and
//! its metricsPort shows each bound beside what is used of it.

mod common;

use std::ffi::OsStr;
use std::process::Child;

use common::raw::*;
use common::{free_port, spawn_until};
use ferromq::remoting::codes::{request as rc, response};
use ferromq::remoting::RemotingCommand;

struct Namesrv {
    child: Child,
    addr: String,
}

impl Drop for Namesrv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ferromq namesrv -c namesrv.conf` on a free port with `extra` lines.
fn start_namesrv(dir: &std::path::Path, extra: &str) -> Namesrv {
    for _ in 0..3 {
        let port = free_port();
        let conf = dir.join("namesrv.conf");
        let kv = dir.join("kvConfig.json");
        std::fs::write(&conf, format!("listenPort={port}\nkvConfigPath={}\n{extra}\n", kv.display())).unwrap();
        let args = [OsStr::new("namesrv"), OsStr::new("-c"), conf.as_os_str()];
        if let Some(child) = spawn_until(&args, |l| l.starts_with("The Name Server boot success")) {
            return Namesrv { child, addr: format!("127.0.0.1:{port}") };
        }
    }
    panic!("the name server did not boot on three ports");
}

fn assert_refused(r: &RemotingCommand, key: &str, limit: usize) {
    assert_eq!(r.code, response::SYSTEM_ERROR, "{:?}", r.remark);
    assert_eq!(r.remark.as_deref(), Some(format!("name server limit {key} ({limit}) reached").as_str()));
}

fn put_kv(key: &str, value: &str) -> RemotingCommand {
    RemotingCommand::request(rc::PUT_KV_CONFIG, 0).with_ext("namespace", "NS").with_ext("key", key).with_ext("value", value)
}

fn get_kv(key: &str) -> RemotingCommand {
    RemotingCommand::request(rc::GET_KV_CONFIG, 0).with_ext("namespace", "NS").with_ext("key", key)
}

#[test]
fn past_its_bounds_the_name_server_refuses_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let ns = start_namesrv(
        dir.path(),
        &format!("namesrvMaxBrokers=3\nnamesrvMaxTopicRoutes=8\nnamesrvMaxKvConfigs=5\nmetricsPort={metrics_port}\nmetricsListenAddress=127.0.0.1"),
    );
    // Brokers live as long as the connection they registered over.
    let mut conn = Raw::connect(&ns.addr);
    let brokers = [("b1", "10.1.0.1:10911", "LimitT1"), ("b2", "10.1.0.2:10911", "LimitT2"), ("b3", "10.1.0.3:10911", "LimitT3")];
    for (name, addr, topic) in brokers {
        let r = conn.call(register_broker("LimitCluster", name, addr, 1, &[topic, "LimitShared"]));
        assert_eq!(r.code, response::SUCCESS, "{name}: {:?}", r.remark);
    }

    // A fourth address, even under a known name, is refused.
    assert_refused(&conn.call(register_broker("LimitCluster", "b4", "10.1.0.4:10911", 1, &["LimitT4"])), "namesrvMaxBrokers", 3);
    assert_refused(&conn.call(register_broker("LimitCluster", "b1", "10.1.0.4:10911", 1, &["LimitT4"])), "namesrvMaxBrokers", 3);
    assert!(topic_route(&ns.addr, "LimitT4").is_none());
    let info = roundtrip(&ns.addr, &RemotingCommand::request(rc::GET_BROKER_CLUSTER_INFO, 0));
    assert!(!String::from_utf8_lossy(info.body.as_deref().unwrap()).contains("10.1.0.4"));

    // Heartbeats of known brokers still succeed; the three still route.
    let r = conn.call(register_broker("LimitCluster", "b1", "10.1.0.1:10911", 1, &["LimitT1", "LimitShared"]));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    for (name, addr, topic) in brokers {
        let route = topic_route(&ns.addr, topic).unwrap_or_else(|| panic!("{topic} lost its route"));
        assert_eq!(route.broker_datas[0].master_addr(), Some(addr), "{name}");
    }
    assert_eq!(topic_route(&ns.addr, "LimitShared").unwrap().queue_datas.len(), 3);

    // Six routes of eight: b2 may swap its two for four, not for five.
    let four = ["LimitT2", "LimitShared", "LimitU1", "LimitU2"];
    assert_eq!(conn.call(register_broker("LimitCluster", "b2", "10.1.0.2:10911", 2, &four)).code, response::SUCCESS);
    let five = ["LimitT2", "LimitShared", "LimitU1", "LimitU2", "LimitU3"];
    assert_refused(&conn.call(register_broker("LimitCluster", "b2", "10.1.0.2:10911", 3, &five)), "namesrvMaxTopicRoutes", 8);
    assert!(topic_route(&ns.addr, "LimitU2").is_some() && topic_route(&ns.addr, "LimitU3").is_none());

    // Five keys; a sixth is refused, an overwrite is not, a delete makes room.
    let mut kv = Raw::connect(&ns.addr);
    for i in 1..=5 {
        assert_eq!(kv.call(put_kv(&format!("k{i}"), &format!("v{i}"))).code, response::SUCCESS);
    }
    assert_refused(&kv.call(put_kv("k6", "v6")), "namesrvMaxKvConfigs", 5);
    assert_eq!(kv.call(get_kv("k6")).code, response::QUERY_NOT_FOUND);
    assert_eq!(kv.call(put_kv("k1", "again")).code, response::SUCCESS);
    for i in 1..=5 {
        let want = if i == 1 { "again".to_string() } else { format!("v{i}") };
        assert_eq!(kv.call(get_kv(&format!("k{i}"))).ext("value"), Some(want.as_str()), "k{i}");
    }
    let delete = RemotingCommand::request(rc::DELETE_KV_CONFIG, 0).with_ext("namespace", "NS").with_ext("key", "k5");
    assert_eq!(kv.call(delete).code, response::SUCCESS);
    assert_eq!(kv.call(put_kv("k6", "v6")).code, response::SUCCESS);

    // Still serving, on the old connections and on a new one.
    assert_eq!(kv.call(get_kv("k6")).ext("value"), Some("v6"));
    let r = conn.call(register_broker("LimitCluster", "b3", "10.1.0.3:10911", 1, &["LimitT3", "LimitShared"]));
    assert_eq!(r.code, response::SUCCESS);
    let list = roundtrip(&ns.addr, &RemotingCommand::request(rc::GET_KVLIST_BY_NAMESPACE, 0).with_ext("namespace", "NS"));
    assert_eq!(list.code, response::SUCCESS);
    assert_eq!(String::from_utf8_lossy(list.body.as_deref().unwrap()).matches("\"k").count(), 5);

    // An operator sees each bound and how much of it is used.
    let text = scrape(metrics_port);
    for (line, what) in [
        ("ferromq_namesrv_brokers 3.0", "live brokers"),
        ("ferromq_namesrv_brokers_max 3.0", "namesrvMaxBrokers"),
        ("ferromq_namesrv_topic_routes 8.0", "routes: b1 2, b2 4, b3 2"),
        ("ferromq_namesrv_topic_routes_max 8.0", "namesrvMaxTopicRoutes"),
        ("ferromq_namesrv_kv_configs 5.0", "key/values"),
        ("ferromq_namesrv_kv_configs_max 5.0", "namesrvMaxKvConfigs"),
        ("ferromq_namesrv_clusters 1.0", "clusters"),
    ] {
        assert!(text.lines().any(|l| l == line), "{what}: no line {line:?} in\n{text}");
    }
}

/// The body of `GET /metrics` on the name server's metricsPort.
fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.") && out.contains(" 200 "), "{out}");
    out
}

//! Broker ACL (`aclEnable`) with a real process and a raw client: signed
//! requests pass, refusals carry the Java remark, a broken edit of the file
//! keeps the rules in force, and files the broker cannot use stop it from
//! starting (as the Java broker) instead of leaving it open.

mod common;

use std::time::{Duration, Instant};

use common::raw::*;
use common::{broker_port, start_fresh, write_conf, Server};
use ferromq::acl::sign;
use ferromq::remoting::codes::response;
use ferromq::remoting::RemotingCommand;

const ACL: &str = "accounts:
  - accessKey: appUser01
    secretKey: appSecret01
    defaultTopicPerm: DENY
    topicPerms: [AclTopic=PUB]
";

fn home_with(dir: &std::path::Path, yaml: &[u8]) -> std::path::PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::write(home.join("conf/plain_acl.yml"), yaml).unwrap();
    home
}

fn signed(mut req: RemotingCommand) -> RemotingCommand {
    sign::sign(&mut req, "appUser01", "appSecret01");
    req
}

#[test]
fn signed_requests_pass_and_a_broken_edit_keeps_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with(dir.path(), ACL.as_bytes());
    let server = start_fresh(dir.path(), &format!("aclEnable=true\nrocketmqHome={}\n", home.display()));
    let b = server.broker_addr.clone();

    let r = roundtrip(&b, &signed(send("AclTopic", 0, b"hello")));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    let r = roundtrip(&b, &signed(send("OtherTopic", 0, b"hello")));
    assert_eq!(r.code, response::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some(
            "org.apache.rocketmq.acl.common.AclException: No default permission for topic:OtherTopic, \
             org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java:605)"
        )
    );
    let mut tampered = signed(send("AclTopic", 0, b"hello"));
    tampered.body = Some(bytes::Bytes::from_static(b"HELLO"));
    let r = roundtrip(&b, &tampered);
    assert!(r.remark.unwrap_or_default().contains("Check signature failed for accessKey=appUser01"));

    // A broken edit: logged, and the last good rules stay in force.
    std::fs::write(home.join("conf/plain_acl.yml"), "accounts: [{{{ not yaml").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let r = roundtrip(&b, &signed(send("AclTopic", 0, b"still")));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);

    // A good edit takes effect without restart.
    std::fs::write(home.join("conf/plain_acl.yml"), ACL.replace("AclTopic=PUB", "AclTopic=SUB")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while roundtrip(&b, &signed(send("AclTopic", 0, b"x"))).code == response::SUCCESS {
        assert!(Instant::now() < deadline, "the edit was not picked up");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
}

#[test]
fn unusable_acl_files_stop_the_broker_from_starting() {
    for (what, yaml) in [
        ("malformed", b"accounts: [{{{".to_vec()),
        ("a short secret", b"accounts: [{accessKey: appUser01, secretKey: short}]".to_vec()),
        ("a bad address pattern", b"globalWhiteRemoteAddresses: [1.2.3]".to_vec()),
        ("a 5 MiB file", vec![b'#'; 5 << 20]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let home = home_with(dir.path(), &yaml);
        let conf = write_conf(dir.path(), broker_port(), &format!("aclEnable=true\nrocketmqHome={}\n", home.display()));
        let started = Server::try_start(&conf, broker_port(), broker_port());
        assert!(started.is_none(), "the broker started with {what}");
    }
}

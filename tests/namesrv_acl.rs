//! Name-server ACL (`namesrvAclEnable`, beyond Java) with a real process:
//! unsigned or non-admin writes are refused and change nothing; an admin's
//! signature or a white-listed address gets through; reads stay open; and a
//! ferromq broker given `namesrvAccessKey`/`namesrvSecretKey` registers.

mod common;

use std::time::{Duration, Instant};

use common::raw::*;
use common::start_fresh;
use ferromq::acl::sign;
use ferromq::remoting::codes::{request as rc, response};
use ferromq::remoting::RemotingCommand;

const ACCOUNTS: &str = "accounts:
  - accessKey: brokerAdmin
    secretKey: brokerSecret
    admin: true
  - accessKey: appUser01
    secretKey: appSecret01
    defaultTopicPerm: PUB
";

fn register(broker_name: &str, addr: &str) -> RemotingCommand {
    register_broker("DefaultCluster", broker_name, addr, 1, &[])
}

fn signed(mut req: RemotingCommand, ak: &str, sk: &str) -> RemotingCommand {
    sign::sign(&mut req, ak, sk);
    req
}

fn cluster_info(ns: &str) -> String {
    let r = roundtrip(ns, &RemotingCommand::request(rc::GET_BROKER_CLUSTER_INFO, 0));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).into_owned()
}

#[test]
fn namesrv_writes_need_an_admin_signature_or_a_white_listed_address() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::write(home.join("conf/plain_acl.yml"), ACCOUNTS).unwrap();
    let extra = format!(
        "namesrvAclEnable=true\nrocketmqHome={}\nnamesrvAccessKey=brokerAdmin\nnamesrvSecretKey=brokerSecret\n",
        home.display()
    );
    let server = start_fresh(dir.path(), &extra);
    let ns = format!("127.0.0.1:{}", server.namesrv_port);

    // The broker signed its registration with its configured admin keys.
    assert!(cluster_info(&ns).contains("broker-a"), "{}", cluster_info(&ns));

    // Unsigned, from an address on no white list: refused, routes unchanged.
    // (On a connection kept open: an accepted registration would outlive the check.)
    let mut fake_conn = Raw::connect(&ns);
    let r = fake_conn.call(register("fake-broker", "10.1.1.1:10911"));
    assert_eq!(r.code, response::SYSTEM_ERROR);
    let remark = r.remark.unwrap_or_default();
    assert!(remark.starts_with("org.apache.rocketmq.acl.common.AclException: No accessKey is configured"), "{remark}");
    assert!(!cluster_info(&ns).contains("fake-broker"));

    // A non-admin account's signature, or a bad one, is not enough.
    let r = fake_conn.call(signed(register("fake-broker", "10.1.1.1:10911"), "appUser01", "appSecret01"));
    assert_eq!(r.code, response::SYSTEM_ERROR);
    assert!(r.remark.unwrap_or_default().contains("Need admin permission for name server request code=103"));
    let r = fake_conn.call(signed(register("fake-broker", "10.1.1.1:10911"), "brokerAdmin", "wrongSecret"));
    assert!(r.remark.unwrap_or_default().contains("Check signature failed for accessKey=brokerAdmin"));
    assert!(!cluster_info(&ns).contains("fake-broker"));

    // Reads stay open.
    let route = roundtrip(&ns, &RemotingCommand::request(rc::GET_ROUTEINFO_BY_TOPIC, 0).with_ext("topic", "TBW102"));
    assert_eq!(route.code, response::SUCCESS, "{:?}", route.remark);

    // An admin's signature: accepted. A registration lives as long as its
    // connection (the name server drops a broker whose channel closes, as
    // Java's does), so each one is checked while its connection is open.
    let mut signed_conn = Raw::connect(&ns);
    let r = signed_conn.call(signed(register("signed-broker", "10.1.1.2:10911"), "brokerAdmin", "brokerSecret"));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    assert!(cluster_info(&ns).contains("signed-broker"));

    // White-listing 127.0.0.1 (an edit picked up without restart) lets unsigned writes in.
    std::fs::write(home.join("conf/plain_acl.yml"), format!("globalWhiteRemoteAddresses: [127.0.0.1]\n{ACCOUNTS}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut white_conn = Raw::connect(&ns);
    loop {
        let r = white_conn.call(register("white-broker", "10.1.1.3:10911"));
        if r.code == response::SUCCESS {
            break;
        }
        assert!(Instant::now() < deadline, "the white list was not picked up: {:?}", r.remark);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cluster_info(&ns).contains("white-broker"));
    server.stop();
}

#[test]
fn namesrv_acl_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_fresh(dir.path(), "");
    let ns = format!("127.0.0.1:{}", server.namesrv_port);
    let r = roundtrip(&ns, &register("open-broker", "10.1.1.4:10911"));
    assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
    server.stop();
}

//! Bad input against a real ferromq: unknown codes, missing header fields,
//! garbled headers and oversize frames get the Java broker's answer or a
//! closed connection — never a crash — and the server keeps serving.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::raw::roundtrip;
use common::{broker_port, write_conf, Server};
use ferromq::remoting::RemotingCommand;

/// Writes raw bytes and expects the server to close the connection.
fn expect_closed(addr: &str, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection to close, got {other:?}"),
    }
}

#[test]
fn bad_requests_get_java_answers_and_the_server_survives() {
    let dir = tempfile::tempdir().unwrap();
    let port = broker_port();
    let ns_port = broker_port();
    let conf = write_conf(dir.path(), port, "frameMaxLength=1048576\n");
    let server = Server::start(&conf, port, ns_port);
    let broker = server.broker_addr.clone();
    let namesrv = format!("127.0.0.1:{ns_port}");

    for addr in [&broker, &namesrv] {
        let r = roundtrip(addr, &RemotingCommand::request(9999, 7));
        assert_eq!((r.code, r.opaque), (3, 7), "REQUEST_CODE_NOT_SUPPORTED echoing the opaque");
        assert_eq!(r.remark.as_deref(), Some(" request type 9999 not supported"));
        assert!(r.is_response());
    }

    // A pull missing its topic field: SYSTEM_ERROR naming the field.
    let pull = RemotingCommand::request(11, 8).with_ext("consumerGroup", "G");
    let r = roundtrip(&broker, &pull);
    assert_eq!(r.code, 1);
    assert_eq!(r.remark.as_deref(), Some("the custom field <topic> is null"));

    // A garbled JSON header, an unknown serialize type, a header longer than its frame.
    expect_closed(&broker, &[0, 0, 0, 8, 0, 0, 0, 4, b'{', b'x', b'y', b'z']);
    expect_closed(&broker, &[0, 0, 0, 4, 7, 0, 0, 0]);
    expect_closed(&broker, &[0, 0, 0, 6, 0, 0, 0, 99, b'{', b'}']);
    // A frame claiming more than frameMaxLength (1 MiB here) is refused before it arrives.
    expect_closed(&broker, &[0x10, 0, 0, 0, 0, 0, 0, 0]);
    expect_closed(&namesrv, &[0x7f, 0xff, 0xff, 0xff]);

    // Still serving.
    let r = roundtrip(&broker, &RemotingCommand::request(30, 9).with_ext("topic", "TBW102").with_ext("queueId", 0));
    assert_eq!((r.code, r.ext("offset")), (0, Some("0")));
    assert!(server.child.id() > 0);
    server.stop();
}

//! The load generator runs briefly against a real ferromq and accounts for
//! every message (no timing is asserted: speed is measured by bench/).

mod common;

use common::{broker_port, write_conf, Server};
use ferromq::bench::{run, BenchArgs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_sends_and_consumes_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let port = broker_port();
    let conf = write_conf(dir.path(), port, "");
    let server = Server::start(&conf, port, broker_port());
    let report = run(BenchArgs {
        broker: server.broker_addr.clone(),
        topic: "BenchSmoke".into(),
        queues: 4,
        producers: 2,
        inflight: 2,
        messages: 2000,
        size: 256,
        consume: true,
        json: false,
    })
    .await
    .unwrap();
    assert_eq!(report.sent, 2000);
    assert_eq!(report.send_errors, 0);
    assert_eq!(report.consumed, 2000);
    assert!(report.send_p50_us <= report.send_p99_us && report.send_p99_us <= report.send_p999_us);
    server.stop();
}

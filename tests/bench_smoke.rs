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
        backlog: false,
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

/// The ceiling server (the box's reference) serves the same generator, in
/// both modes, and accounts for every message; `append` writes every body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_serves_the_generator_in_both_modes() {
    use ferromq::bench::ceiling::{start, CeilingArgs, CeilingMode};
    for mode in [CeilingMode::Nostore, CeilingMode::Append] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("append.log");
        let args = CeilingArgs { listen: "127.0.0.1:0".parse().unwrap(), mode, file: file.clone(), max_messages: 1_000_000 };
        let (addr, task) = start(&args).await.unwrap();
        let report = run(BenchArgs {
            broker: addr.to_string(),
            topic: "CeilingSmoke".into(),
            queues: 4,
            producers: 2,
            inflight: 2,
            messages: 2000,
            size: 300,
            consume: true,
            backlog: mode == CeilingMode::Append,
            json: false,
        })
        .await
        .unwrap();
        assert_eq!((report.sent, report.send_errors, report.consumed), (2000, 0, 2000), "{mode:?}");
        match mode {
            CeilingMode::Append => assert_eq!(std::fs::metadata(&file).unwrap().len(), 2000 * 300),
            CeilingMode::Nostore => assert!(!file.exists()),
        }
        task.abort();
    }
}

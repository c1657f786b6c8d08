//! A full disk: ferromq on a small tmpfs refuses sends with the Java
//! broker's SERVICE_NOT_AVAILABLE, keeps what it stored, and accepts sends
//! again once space returns, without a restart. Needs root to mount tmpfs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{broker_port, write_conf, Server};
use ferromq::client::{BrokerClient, ClientError};

const TOPIC: &str = "DiskFullTopic";
const SERVICE_NOT_AVAILABLE: i32 = 14;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let s = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).status().unwrap();
        assert!(s.success(), "remount tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_sends_keeps_data_and_recovers() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED full_disk_refuses_sends_keeps_data_and_recovers: mounting tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("fs"), "8m").expect("mount tmpfs");
    let port = broker_port();
    let ns_port = broker_port();
    // Forced deletion of unexpired files on a nearly full disk (the Java
    // broker's cleanFileForcibly) is turned off so the test sees every
    // stored message kept.
    let conf = write_conf(
        &fs.0,
        port,
        "mappedFileSizeCommitLog=1048576\nmappedFileSizeConsumeQueue=60000\ndiskSpaceCleanForciblyRatio=1.0\n",
    );
    let server = Server::start(&conf, port, ns_port);
    let client = BrokerClient::connect(&server.broker_addr).await.unwrap();

    let body = Bytes::from(vec![b'x'; 60 * 1024]);
    let mut acked = Vec::new();
    let refused = loop {
        assert!(acked.len() < 1000, "the disk never filled");
        match client.send("DiskFullProducer", TOPIC, 0, "T", body.clone()).await {
            Ok(r) => acked.push(r.queue_offset),
            Err(ClientError::Broker(code, remark)) => break (code, remark),
            Err(e) => panic!("connection failed instead of a refusal: {e}"),
        }
    };
    assert_eq!(refused.0, SERVICE_NOT_AVAILABLE, "remark: {}", refused.1);
    assert!(refused.1.contains("the broker's disk is full"), "remark: {}", refused.1);
    assert!(acked.len() > 10);

    // Everything acknowledged is still there.
    let max = client.max_offset(TOPIC, 0).await.unwrap();
    assert_eq!(max, acked.len() as i64);
    let mut off = 0;
    while off < max {
        let r = client.pull("DiskFullChecker", TOPIC, 0, off, 32, 0).await.unwrap();
        assert!(!r.messages.is_empty());
        for m in r.messages {
            assert_eq!(m.body, body);
            off += 1;
        }
    }

    // Space comes back: sends succeed again, no restart.
    fs.resize("64m");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.send("DiskFullProducer", TOPIC, 0, "T", body.clone()).await {
            Ok(r) => {
                assert_eq!(r.queue_offset, max);
                break;
            }
            Err(ClientError::Broker(SERVICE_NOT_AVAILABLE, _)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("send after space returned: {e}"),
        }
    }
    server.stop();
}

//! Sparse consume queues against a real ferromq: a topic of 64 queues with
//! one message in each costs a little disk per queue, not a 6 MB segment
//! each, and every message is still pulled back after a crash and after a
//! clean restart.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{broker_port, write_conf, Server};
use ferromq::client::BrokerClient;

const TOPIC: &str = "SparseTopic";
const QUEUES: i32 = 64;
const SUCCESS: i32 = 0;

/// Disk blocks actually used under `p` (st_blocks * 512), and the apparent size.
fn disk_usage(p: &Path) -> (u64, u64) {
    let mut used = 0;
    let mut apparent = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        if m.is_dir() {
            let (u, a) = disk_usage(&e.path());
            used += u;
            apparent += a;
        } else {
            used += m.blocks() * 512;
            apparent += m.len();
        }
    }
    (used, apparent)
}

/// Pulls queue `q` from offset 0 until one message is there (bounded: the
/// broker answers at once when recovery has already indexed it).
async fn pull_one(client: &BrokerClient, q: i32) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = client.pull("SparseChecker", TOPIC, q, 0, 32, 0).await.unwrap();
        if r.code == SUCCESS {
            assert_eq!(r.messages.len(), 1, "queue {q} holds one message");
            assert_eq!((r.min_offset, r.max_offset), (0, 1), "queue {q}");
            let m = &r.messages[0];
            assert_eq!((m.queue_id, m.queue_offset), (q, 0));
            return String::from_utf8(m.body.to_vec()).unwrap();
        }
        assert!(Instant::now() < deadline, "queue {q}: pull answered {} until the deadline", r.code);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn check_all(addr: &str) {
    let client = BrokerClient::connect(addr).await.unwrap();
    for q in 0..QUEUES {
        assert_eq!(pull_one(&client, q).await, format!("body-of-queue-{q}"));
    }
}

#[test]
fn one_message_per_queue_costs_little_disk_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let port = broker_port();
    let ns_port = broker_port();
    // The default consume queue segment (6 000 000 bytes); a small commit log.
    let conf = write_conf(dir.path(), port, "mappedFileSizeCommitLog=16777216\nflushDiskType=ASYNC_FLUSH\n");
    let cq_dir = dir.path().join("store").join("consumequeue");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let server = Server::start(&conf, port, ns_port);
    let addr = server.broker_addr.clone();
    rt.block_on(async {
        let client = BrokerClient::connect(&addr).await.unwrap();
        client.create_topic(TOPIC, QUEUES).await.unwrap();
        for q in 0..QUEUES {
            let r = client.send("SparseProducer", TOPIC, q, "T", Bytes::from(format!("body-of-queue-{q}"))).await.unwrap();
            assert_eq!((r.code, r.queue_id, r.queue_offset), (SUCCESS, q, 0));
        }
        check_all(&addr).await;
    });

    let topic_dir = cq_dir.join(TOPIC);
    let queue_dirs = std::fs::read_dir(&topic_dir).unwrap().count();
    assert_eq!(queue_dirs, QUEUES as usize);
    let (used, apparent) = disk_usage(&cq_dir);
    assert!(apparent >= QUEUES as u64 * 6_000_000, "segments keep their full logical size ({apparent})");
    assert!(used < QUEUES as u64 * 256 * 1024, "64 one-message queues use {used} bytes of disk");
    let (index_used, _) = disk_usage(&dir.path().join("store").join("index"));
    assert!(index_used < 4 << 20, "the index file uses {index_used} bytes of disk");

    // A crash: the recovery scan reads the sparse segments.
    server.kill();
    let server = Server::start(&conf, port, ns_port);
    rt.block_on(check_all(&addr));
    // A clean stop and start: loaded without a scan.
    server.stop();
    let server = Server::start(&conf, port, ns_port);
    rt.block_on(async {
        check_all(&addr).await;
        // The queues keep appending after the restarts.
        let client = BrokerClient::connect(&addr).await.unwrap();
        let r = client.send("SparseProducer", TOPIC, 5, "T", Bytes::from_static(b"second")).await.unwrap();
        assert_eq!((r.queue_id, r.queue_offset), (5, 1));
        let p = client.pull("SparseChecker", TOPIC, 5, 1, 32, 0).await.unwrap();
        assert_eq!(p.messages.len(), 1);
        assert_eq!(&p.messages[0].body[..], b"second");
    });
    let (used_after, _) = disk_usage(&cq_dir);
    assert!(used_after < QUEUES as u64 * 256 * 1024, "after restarts: {used_after} bytes");
    server.stop();
}

struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 4096];
    loop {
        if let Err(e) = f.write_all(&block).and_then(|_| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            return;
        }
    }
}

fn message(queue_id: i32, body: &'static [u8]) -> ferromq::protocol::message::MessageInner {
    ferromq::protocol::message::MessageInner {
        topic: TOPIC.into(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        body: Bytes::from_static(body),
        properties: Default::default(),
        born_timestamp: 1,
        born_host: "127.0.0.1:5000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// On a full disk a new consume queue chunk cannot be reserved: the put is
/// refused as "disk full" before the commit log is written (no SIGBUS from
/// touching an unreserved page), and goes through once space returns.
#[test]
fn full_disk_refuses_a_put_whose_consume_queue_cannot_grow() {
    use ferromq::store::{MessageStore, StoreConfig, StoreError};
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED full_disk_refuses_a_put_whose_consume_queue_cannot_grow: mounting tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("fs"), "4m").expect("mount tmpfs");
    let cfg = StoreConfig {
        commit_log_file_size: 1 << 20,
        max_hash_slot_num: 64,
        max_index_num: 256,
        ..StoreConfig::new(fs.0.join("store"), "127.0.0.1:10911".parse().unwrap())
    };
    assert_eq!(cfg.consume_queue_file_size, 6_000_000);
    let store = MessageStore::open(cfg).unwrap();
    store.put_message(&message(0, b"first")).unwrap();
    // The next segment is prepared in the background; a failed preparation
    // gives its blocks back, which would unfill the disk behind our back.
    assert!(store.wait_allocator_idle(std::time::Duration::from_secs(10)));
    let filler = fs.0.join("filler");
    fill(&filler);

    let before = store.commit_log_max_offset();
    match store.put_message(&message(1, b"refused")) {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("disk full"), "{why}"),
        Err(e) => panic!("expected a disk-full refusal, got {e}"),
        Ok(_) => panic!("a put whose consume queue cannot grow went through"),
    }
    assert!(store.is_disk_full());
    assert_eq!(store.commit_log_max_offset(), before, "nothing written to the commit log");
    assert_eq!(store.max_offset_in_queue(TOPIC, 1), 0);

    std::fs::remove_file(&filler).unwrap();
    store.clean_round();
    assert!(!store.is_disk_full());
    let r = store.put_message(&message(1, b"accepted")).unwrap();
    assert_eq!(r.queue_offset, 0);
    for (q, body) in [(0, &b"first"[..]), (1, &b"accepted"[..])] {
        let g = store.get_message(TOPIC, q, 0, 32, &|_| true);
        let msgs = ferromq::protocol::message::MessageExt::decode_all(&g.body()).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(&msgs[0].body[..], body);
    }
    store.shutdown().unwrap();
}

//! Replication between two stores in one process, and hostile peers.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame;
use super::*;
use crate::store::tests::{config, msg};
use crate::store::{MessageStore, StoreConfig};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn ha_config(dir: &std::path::Path, file_size: usize, ha: HaConfig) -> StoreConfig {
    StoreConfig { ha, ..config(dir, file_size) }
}

fn master(dir: &std::path::Path, role: BrokerRole, batch: usize) -> (Arc<MessageStore>, u16) {
    let port = free_port();
    let ha = HaConfig { role, listen_port: port, transfer_batch_size: batch, ..HaConfig::default() };
    let s = Arc::new(MessageStore::open(ha_config(dir, 4096, ha)).unwrap());
    start(&s);
    (s, port)
}

fn slave(dir: &std::path::Path, master_port: u16) -> Arc<MessageStore> {
    let ha = HaConfig {
        role: BrokerRole::Slave,
        master_address: Some(format!("127.0.0.1:{master_port}")),
        send_heartbeat_interval_ms: 200,
        ..HaConfig::default()
    };
    let s = Arc::new(MessageStore::open(ha_config(dir, 4096, ha)).unwrap());
    start(&s);
    s
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn log_bytes(s: &MessageStore, upto: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = s.commit_log.min_offset();
    while at < upto {
        let (f, pos, len) = s.commit_log.data_from(at).expect("data");
        let len = len.min((upto - at) as usize);
        out.extend_from_slice(f.read(pos, len).unwrap());
        at += len as i64;
    }
    out
}

fn put_some(m: &MessageStore, from: usize, n: usize) {
    for i in from..from + n {
        let body = "x".repeat(10 + (i * 37) % 400);
        let mut message = msg("T", (i % 3) as i32, &body, "A");
        message.properties.put("KEYS", format!("k{i}"));
        m.put_message(&message).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_copies_the_log_byte_for_byte_and_builds_its_queues() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A small batch cuts records across frames; 4 KiB files make blanks and rolls.
    let (m, port) = master(md.path(), BrokerRole::AsyncMaster, 100);
    put_some(&m, 0, 5);
    let s = slave(sd.path(), port);
    let end = m.commit_log.max_offset();
    wait_until("the slave to catch up", || s.commit_log.max_offset() == end).await;
    assert!(log_bytes(&s, end) == log_bytes(&m, end));
    put_some(&m, 5, 75);
    let end = m.commit_log.max_offset();
    assert!(end > 3 * 4096, "several files");
    wait_until("the slave to follow", || s.commit_log.max_offset() == end).await;
    assert!(log_bytes(&s, end) == log_bytes(&m, end), "byte-identical logs");
    for q in 0..3 {
        assert_eq!(s.max_offset_in_queue("T", q), m.max_offset_in_queue("T", q));
        for o in 0..m.max_offset_in_queue("T", q) {
            assert_eq!(s.consume_queue_entry("T", q, o), m.consume_queue_entry("T", q, o));
        }
    }
    assert_eq!(s.query_message_offsets("T", "k5", 10, 0, i64::MAX), m.query_message_offsets("T", "k5", 10, 0, i64::MAX));
    wait_until("the master to see the ack", || m.ha().slave_acked() == end).await;
    assert_eq!(m.ha().connections(), 1);
    // The slave refuses writes of its own.
    assert!(matches!(s.put_message(&msg("T", 0, "no", "A")), Err(StoreError::Unavailable(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_waits_for_a_slave() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (m, port) = master(md.path(), BrokerRole::SyncMaster, 32 * 1024);
    let r = m.put_message(&msg("T", 0, "a", "A")).unwrap();
    assert_eq!(m.wait_replicated(r.end_offset).await, ReplicaStatus::SlaveNotAvailable);
    let s = slave(sd.path(), port);
    wait_until("the slave to connect", || m.ha().connections() == 1).await;
    let r = m.put_message(&msg("T", 0, "b", "A")).unwrap();
    assert_eq!(m.wait_replicated(r.end_offset).await, ReplicaStatus::PutOk);
    assert!(s.commit_log.max_offset() >= r.end_offset);
}

/// A fake master that answers the slave's first report with `frames`.
async fn fake_master(frames: Vec<u8>) -> (u16, tokio::task::JoinHandle<Vec<i64>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.unwrap();
        let mut b = [0u8; 8];
        sock.read_exact(&mut b).await.unwrap();
        let mut reports = vec![i64::from_be_bytes(b)];
        let _ = sock.write_all(&frames).await;
        // Collect reports until the slave drops us.
        while tokio::time::timeout(Duration::from_secs(2), sock.read_exact(&mut b)).await.is_ok_and(|r| r.is_ok()) {
            reports.push(i64::from_be_bytes(b));
        }
        reports
    });
    (port, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_master_frames_write_nothing() {
    // A valid record from a real store, to wrap in bad frames.
    let md = tempfile::tempdir().unwrap();
    let m = MessageStore::open(config(md.path(), 4096)).unwrap();
    m.put_message(&msg("T", 0, "good", "A")).unwrap();
    let good = log_bytes(&m, m.commit_log.max_offset());
    let mut corrupt = good.clone();
    let body_at = good.windows(4).position(|w| w == b"good").unwrap();
    corrupt[body_at] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not at a file start", [&frame::encode_header(7, good.len())[..], &good].concat()),
        ("oversized frame", frame::encode_header(0, frame::MAX_FRAME_BODY + 1).to_vec()),
        ("negative size", [&0i64.to_be_bytes()[..], &(-5i32).to_be_bytes()].concat()),
        ("corrupt record", [&frame::encode_header(0, corrupt.len())[..], &corrupt].concat()),
        ("garbage", [&frame::encode_header(0, 16)[..], &[0xAB; 16]].concat()),
    ];
    for (what, frames) in cases {
        let sd = tempfile::tempdir().unwrap();
        let (port, fake) = fake_master(frames).await;
        let s = slave(sd.path(), port);
        let reports = fake.await.unwrap();
        assert_eq!(reports[0], 0, "{what}");
        assert_eq!(s.commit_log.max_offset(), 0, "{what}: nothing appended");
        assert_eq!(s.max_offset_in_queue("T", 0), 0, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_drops_a_slave_reporting_a_future_offset() {
    let md = tempfile::tempdir().unwrap();
    let (m, port) = master(md.path(), BrokerRole::AsyncMaster, 32 * 1024);
    m.put_message(&msg("T", 0, "a", "A")).unwrap();
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&frame::encode_report(1 << 40)).await.unwrap();
    let mut b = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut b)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "closed without sending data");
    assert_eq!(m.ha().slave_acked(), 0);
    wait_until("the connection to be counted out", || m.ha().connections() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_slave_starts_at_the_masters_last_file() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (m, port) = master(md.path(), BrokerRole::AsyncMaster, 32 * 1024);
    put_some(&m, 0, 60);
    let end = m.commit_log.max_offset();
    let s = slave(sd.path(), port);
    // Consume queues are built after the append (as Java's reput): wait for both.
    wait_until("the slave to catch up", || {
        s.commit_log.max_offset() == end && (0..3).all(|q| s.max_offset_in_queue("T", q) == m.max_offset_in_queue("T", q))
    })
    .await;
    let start = end - end % 4096;
    assert_eq!(s.commit_log.min_offset(), start, "as Java's nextTransferFromWhere for a slave at 0");
    let mine = log_bytes(&s, end);
    assert!(mine[..] == log_bytes(&m, end)[(start - m.commit_log.min_offset()) as usize..]);
    // Its queues start where its log does, and serve from there.
    for q in 0..3 {
        assert_eq!(s.max_offset_in_queue("T", q), m.max_offset_in_queue("T", q));
        let last = m.max_offset_in_queue("T", q) - 1;
        assert_eq!(s.consume_queue_entry("T", q, last), m.consume_queue_entry("T", q, last));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_times_out_on_a_silent_slave_and_refuses_a_lagging_one() {
    let md = tempfile::tempdir().unwrap();
    let port = free_port();
    let ha = HaConfig { role: BrokerRole::SyncMaster, listen_port: port, slave_fallbehind_max: 2000, ..HaConfig::default() };
    let m = Arc::new(MessageStore::open(StoreConfig { sync_flush_timeout_ms: 300, ..ha_config(md.path(), 4096, ha) }).unwrap());
    start(&m);
    // A slave that reports once and never acks again.
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&frame::encode_report(0)).await.unwrap();
    wait_until("the slave to connect", || m.ha().connections() == 1).await;
    let r = m.put_message(&msg("T", 0, "a", "A")).unwrap();
    let t = std::time::Instant::now();
    assert_eq!(m.wait_replicated(r.end_offset).await, ReplicaStatus::FlushSlaveTimeout);
    assert!(t.elapsed() >= Duration::from_millis(300), "waited syncFlushTimeout");
    // More than haSlaveFallbehindMax behind: refused at once.
    put_some(&m, 0, 20);
    let end = m.commit_log.max_offset();
    assert!(end > 2000);
    let t = std::time::Instant::now();
    assert_eq!(m.wait_replicated(end).await, ReplicaStatus::SlaveNotAvailable);
    assert!(t.elapsed() < Duration::from_millis(300));
    drop(sock);
    wait_until("the slave to be counted out", || m.ha().connections() == 0).await;
}

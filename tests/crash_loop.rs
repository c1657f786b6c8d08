//! Crash loops: ferromq runs as a child process under concurrent sync sends
//! and is killed with SIGKILL at random moments, then restarted. Every
//! acknowledged message must be readable exactly once at its acknowledged
//! queue offset, and committed consumer offsets must never point past the
//! data. Loopback only; bounded in cycles and time.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{broker_port, write_conf, Server};
use ferromq::client::BrokerClient;

const TOPIC: &str = "CrashLoopTopic";
const GROUP: &str = "CrashLoopGroup";
const CYCLES: usize = 20;
const WORKERS: usize = 4;

/// (queue id, queue offset) → body of each acknowledged message.
type Acks = Arc<Mutex<HashMap<(i32, i64), String>>>;

fn rand_u64(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

async fn run_cycle(addr: String, cycle: usize, acks: Acks, run_for: Duration) {
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let addr = addr.to_string();
        let acks = acks.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(client) = BrokerClient::connect(&addr).await else { return };
            let deadline = tokio::time::Instant::now() + run_for + Duration::from_secs(2);
            let mut seq = 0u64;
            while tokio::time::Instant::now() < deadline {
                let body = format!("c{cycle}-w{w}-s{seq}");
                seq += 1;
                match client.send("CrashLoopProducer", TOPIC, (seq % 4) as i32, "T", Bytes::from(body.clone())).await {
                    Ok(r) => {
                        acks.lock().unwrap().insert((r.queue_id, r.queue_offset), body);
                        // Commit consumer progress now and then; it must never pass the data.
                        if seq.is_multiple_of(10) {
                            let _ = client.update_consumer_offset(GROUP, TOPIC, r.queue_id, r.queue_offset + 1).await;
                        }
                    }
                    Err(_) => return, // the broker died under us
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn verify(addr: &str, acks: &HashMap<(i32, i64), String>) {
    let client = BrokerClient::connect(addr).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut by_pos: HashMap<(i32, i64), String> = HashMap::new();
    for q in 0..4 {
        let max = client.max_offset(TOPIC, q).await.unwrap();
        let mut off = 0;
        while off < max {
            let r = client.pull("CrashLoopChecker", TOPIC, q, off, 32, 0).await.unwrap();
            assert!(!r.messages.is_empty(), "queue {q} offset {off} < max {max} returned nothing (code {})", r.code);
            for m in &r.messages {
                assert_eq!(m.queue_offset, off, "queue {q} is contiguous");
                let body = String::from_utf8(m.body.to_vec()).unwrap();
                *seen.entry(body.clone()).or_default() += 1;
                by_pos.insert((q, off), body);
                off += 1;
            }
        }
        let committed = client.query_consumer_offset(GROUP, TOPIC, q).await.unwrap_or(0);
        assert!(committed <= max, "queue {q}: committed offset {committed} points past max {max}");
    }
    for (pos, body) in acks {
        assert_eq!(by_pos.get(pos), Some(body), "acknowledged message at {pos:?} lost or moved");
        assert_eq!(seen.get(body), Some(&1), "acknowledged message {body} stored more than once");
    }
}

async fn crash_loop(flush: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = broker_port();
    let ns_port = broker_port();
    let extra = format!("flushDiskType={flush}\nmappedFileSizeCommitLog=262144\nmappedFileSizeConsumeQueue=2000\n");
    let conf = write_conf(dir.path(), port, &extra);
    let acks: Acks = Arc::default();
    let mut seed = 0x2545_F491_4F6C_DD1D_u64 ^ std::process::id() as u64;
    for cycle in 0..CYCLES {
        let server = Server::start(&conf, port, ns_port);
        let addr = server.broker_addr.clone();
        let run_for = Duration::from_millis(100 + rand_u64(&mut seed) % 500);
        let sends = tokio::spawn(run_cycle(addr.clone(), cycle, acks.clone(), run_for));
        tokio::time::sleep(run_for).await;
        server.kill();
        sends.await.unwrap();
        if cycle % 5 == 4 {
            let server = Server::start(&conf, port, ns_port);
            let acked = acks.lock().unwrap().clone();
            verify(&server.broker_addr, &acked).await;
            server.kill();
        }
    }
    let acks = acks.lock().unwrap().clone();
    assert!(acks.len() > CYCLES * 10, "too few sends acknowledged ({}) for the test to mean much", acks.len());
    let server = Server::start(&conf, port, ns_port);
    verify(&server.broker_addr, &acks).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_flush_survives_sigkill_loops() {
    crash_loop("SYNC_FLUSH").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_flush_survives_process_crash_loops() {
    crash_loop("ASYNC_FLUSH").await;
}

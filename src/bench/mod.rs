//! `ferromq bench`: a load generator speaking the remoting protocol
//! directly, for ferromq or any RocketMQ 4.x broker. N producer connections
//! with K sends in flight each, messages of S bytes to a topic of Q queues,
//! and consumers pulling them; reports send TPS, send latency percentiles,
//! end-to-end latency (store timestamp to receipt) and errors.

pub mod ceiling;
pub mod consume;
pub mod scale;
pub mod timer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::client::BrokerClient;
use crate::store::now_ms;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
    #[arg(long, default_value = "BenchTopic")]
    pub topic: String,
    /// Queues of the topic (created with UPDATE_AND_CREATE_TOPIC).
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Producer connections.
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Sends in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub inflight: usize,
    /// Messages in total.
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Body size in bytes.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Also pull every message and measure end-to-end latency.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub consume: bool,
    /// Pull only after every send is done (a backlog read back, for pull
    /// throughput), instead of concurrently.
    #[arg(long)]
    pub backlog: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub messages: u64,
    pub size: usize,
    pub producers: usize,
    pub inflight: usize,
    pub queues: i32,
    pub sent: u64,
    pub send_errors: u64,
    pub send_seconds: f64,
    pub send_tps: f64,
    pub send_p50_us: u64,
    pub send_p99_us: u64,
    pub send_p999_us: u64,
    pub consumed: u64,
    pub e2e_p50_ms: i64,
    pub e2e_p99_ms: i64,
    /// From the consumers' start to the last message received.
    pub consume_seconds: f64,
    /// Message bodies received per second over `consume_seconds`, in MB (10^6 B).
    pub consume_mb_s: f64,
}

fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(a: BenchArgs) -> Result<BenchReport, Box<dyn std::error::Error>> {
    let admin = BrokerClient::connect(&a.broker).await?;
    admin.create_topic(&a.topic, a.queues).await?;
    let start_offsets: Vec<i64> = {
        let mut v = Vec::new();
        for q in 0..a.queues {
            v.push(admin.max_offset(&a.topic, q).await?);
        }
        v
    };
    let body = Bytes::from(vec![b'm'; a.size]);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(a.messages as usize)));

    let consumer = (a.consume && !a.backlog).then(|| {
        let (broker, topic, queues, total) = (a.broker.clone(), a.topic.clone(), a.queues, a.messages);
        let offsets = start_offsets.clone();
        tokio::spawn(async move { consume(broker, topic, queues, offsets, total).await })
    });

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.producers {
        let client = BrokerClient::connect(&a.broker).await?;
        for _ in 0..a.inflight {
            let (client, next, errors, latencies, body) =
                (client.clone(), next.clone(), errors.clone(), latencies.clone(), body.clone());
            let (topic, total, queues) = (a.topic.clone(), a.messages, a.queues);
            tasks.push(tokio::spawn(async move {
                let mut local = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let t = Instant::now();
                    match client.send("BenchProducer", &topic, (n % queues as u64) as i32, "", body.clone()).await {
                        Ok(_) => local.push(t.elapsed().as_micros() as u64),
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies.lock().unwrap().extend(local);
            }));
        }
    }
    for t in tasks {
        t.await?;
    }
    let send_seconds = started.elapsed().as_secs_f64();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort_unstable();
    let (consumed, mut e2e, consume_seconds) = match consumer {
        Some(c) => c.await?,
        None if a.consume => consume(a.broker.clone(), a.topic.clone(), a.queues, start_offsets, a.messages).await,
        None => (0, Vec::new(), 0.0),
    };
    e2e.sort_unstable();
    Ok(BenchReport {
        messages: a.messages,
        size: a.size,
        producers: a.producers,
        inflight: a.inflight,
        queues: a.queues,
        sent: lat.len() as u64,
        send_errors: errors.load(Ordering::Relaxed),
        send_seconds,
        send_tps: lat.len() as f64 / send_seconds,
        send_p50_us: percentile(&lat, 0.50),
        send_p99_us: percentile(&lat, 0.99),
        send_p999_us: percentile(&lat, 0.999),
        consumed,
        e2e_p50_ms: percentile(&e2e, 0.50),
        e2e_p99_ms: percentile(&e2e, 0.99),
        consume_seconds,
        consume_mb_s: if consume_seconds > 0.0 { (consumed * a.size as u64) as f64 / consume_seconds / 1e6 } else { 0.0 },
    })
}

/// One long-polling puller per queue until `total` messages arrived or the
/// queues stay quiet for 10 s; also returns the seconds from its start to
/// the last message received.
async fn consume(broker: String, topic: String, queues: i32, start: Vec<i64>, total: u64) -> (u64, Vec<i64>, f64) {
    let began = Instant::now();
    let last = Arc::new(Mutex::new(began));
    let received = Arc::new(AtomicU64::new(0));
    let e2e = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for q in 0..queues {
        let (broker, topic, received, e2e, last) = (broker.clone(), topic.clone(), received.clone(), e2e.clone(), last.clone());
        let mut offset = start[q as usize];
        tasks.push(tokio::spawn(async move {
            let Ok(client) = BrokerClient::connect(&broker).await else { return };
            let mut quiet_since = Instant::now();
            let mut local = Vec::new();
            while received.load(Ordering::Relaxed) < total && quiet_since.elapsed() < Duration::from_secs(10) {
                let Ok(r) = client.pull("BenchConsumer", &topic, q, offset, 32, 1000).await else { break };
                if r.messages.is_empty() {
                    if r.next_begin_offset > offset {
                        offset = r.next_begin_offset;
                    }
                    continue;
                }
                let now = now_ms();
                quiet_since = Instant::now();
                for m in &r.messages {
                    local.push(now - m.store_timestamp);
                }
                received.fetch_add(r.messages.len() as u64, Ordering::Relaxed);
                offset = r.next_begin_offset;
                let mut l = last.lock().unwrap();
                *l = (*l).max(quiet_since);
            }
            e2e.lock().unwrap().extend(local);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let v = std::mem::take(&mut *e2e.lock().unwrap());
    let seconds = last.lock().unwrap().duration_since(began).as_secs_f64();
    (received.load(Ordering::Relaxed), v, seconds)
}

pub fn print_table(r: &BenchReport) {
    println!("messages {} x {} B, {} producer connection(s) x {} in flight, {} queues", r.messages, r.size, r.producers, r.inflight, r.queues);
    println!("sent          {} ({} errors) in {:.2} s", r.sent, r.send_errors, r.send_seconds);
    println!("send TPS      {:.0}", r.send_tps);
    println!("send latency  p50 {} us  p99 {} us  p99.9 {} us", r.send_p50_us, r.send_p99_us, r.send_p999_us);
    println!("consumed      {}", r.consumed);
    println!("end-to-end    p50 {} ms  p99 {} ms", r.e2e_p50_ms, r.e2e_p99_ms);
    println!("consume       {:.2} s, {:.1} MB/s of bodies", r.consume_seconds, r.consume_mb_s);
}

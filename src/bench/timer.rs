//! `ferromq bench-timer`: load of timer messages (bench/timer.py drives it).
//!
//! Two modes, each printing one JSON object:
//! * `enqueue`: N producer connections send `--messages` messages, either timers due
//!   `--delay-sec` from now (`--kind timer`, property `TIMER_DELAY_SEC`) or plain ones
//!   (`--kind plain`), and report send TPS and latency percentiles, then the broker's timer
//!   keys of `brokerStatus` (`timerPendingCount`, ...). With a large `--messages` this is the
//!   "pending timers" scenario: the driver reads the broker's RSS and store size afterwards.
//! * `lateness`: `--messages` timers whose due times (`TIMER_DELIVER_MS`, absolute) are spread
//!   evenly over `--window-s` seconds, each sent `--lead-ms` before it is due (a steady rate),
//!   while `--load-producers` connections send plain messages to another topic at full
//!   speed; consumers pull the real topic and report lateness = receipt time − due time
//!   (p50/p99/max), the count that arrived early (must be 0), missing and duplicated.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::percentile;
use crate::client::BrokerClient;
use crate::protocol::message::Properties;
use crate::store::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Enqueue,
    Lateness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Timer,
    Plain,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TimerBenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
    #[arg(long, value_enum, default_value = "enqueue")]
    pub mode: Mode,
    /// enqueue mode: timers or plain sends (the same load otherwise).
    #[arg(long, value_enum, default_value = "timer")]
    pub kind: Kind,
    /// The real topic of the timers (created with UPDATE_AND_CREATE_TOPIC).
    #[arg(long, default_value = "TimerBenchTopic")]
    pub topic: String,
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// enqueue: producer connections (1 send in flight each). lateness: connections
    /// sending the timers.
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Timers (or plain messages) in total.
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Body size in bytes (at least what the lateness mode writes into it).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// enqueue: delay of every timer, seconds (far beyond the run).
    #[arg(long, default_value_t = 3600)]
    pub delay_sec: u64,
    /// lateness: the due times are spread over this many seconds.
    #[arg(long, default_value_t = 60)]
    pub window_s: u64,
    /// lateness: each timer is sent this long before it is due.
    #[arg(long, default_value_t = 5000)]
    pub lead_ms: u64,
    /// lateness: connections sending plain messages at full speed meanwhile.
    #[arg(long, default_value_t = 4)]
    pub load_producers: usize,
    /// lateness: body size of the plain load.
    #[arg(long, default_value_t = 1024)]
    pub load_size: usize,
    /// lateness: how long after the last due time missing timers are waited for.
    #[arg(long, default_value_t = 30)]
    pub grace_s: u64,
}

type BoxError = Box<dyn std::error::Error>;

/// Runs the load and returns one JSON object.
pub async fn run(a: TimerBenchArgs) -> Result<serde_json::Value, BoxError> {
    let admin = BrokerClient::connect(&a.broker).await?;
    admin.create_topic(&a.topic, a.queues).await?;
    let mut out = match a.mode {
        Mode::Enqueue => enqueue(&a).await?,
        Mode::Lateness => lateness(&a, &admin).await?,
    };
    // The broker's own view afterwards (pending count, commit log size); a broker
    // without these keys (or refusing) leaves them out rather than failing the run.
    out["broker_status"] = match admin.runtime_info().await {
        Ok(t) => json!(timer_keys(&t)),
        Err(e) => json!({ "error": e.to_string() }),
    };
    Ok(out)
}

/// The `brokerStatus` entries about timers and the commit log.
fn timer_keys(t: &HashMap<String, String>) -> serde_json::Map<String, serde_json::Value> {
    t.iter()
        .filter(|(k, _)| k.starts_with("timer") || k.starts_with("commitLog"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect()
}

/// The properties of one enqueue-mode message: a timer `delay_sec` from now, or none.
fn enqueue_props(kind: Kind, delay_sec: u64) -> Properties {
    let mut p = Properties::default();
    if kind == Kind::Timer {
        p.put("TIMER_DELAY_SEC", delay_sec.to_string());
    }
    p
}

/// Send latencies (µs, sorted), errors, and the first error's text.
struct SendOutcome {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
}

async fn enqueue(a: &TimerBenchArgs) -> Result<serde_json::Value, BoxError> {
    let body = Bytes::from(vec![b't'; a.size]);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(a.messages as usize)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.producers.max(1) {
        let client = BrokerClient::connect(&a.broker).await?;
        let (next, errors, first_error, latencies, body) =
            (next.clone(), errors.clone(), first_error.clone(), latencies.clone(), body.clone());
        let (topic, total, queues, kind, delay) = (a.topic.clone(), a.messages, a.queues, a.kind, a.delay_sec);
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let t = Instant::now();
                let props = enqueue_props(kind, delay);
                match client.send_with("TimerBenchProducer", &topic, (n % queues as u64) as i32, props, body.clone()).await {
                    Ok(_) => local.push(t.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e.to_string());
                    }
                }
            }
            latencies.lock().unwrap_or_else(|p| p.into_inner()).extend(local);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort_unstable();
    let o = SendOutcome {
        latencies: lat,
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.lock().unwrap_or_else(|p| p.into_inner()).take(),
        seconds,
    };
    Ok(json!({
        "mode": "enqueue",
        "kind": match a.kind { Kind::Timer => "timer", Kind::Plain => "plain" },
        "messages": a.messages,
        "size": a.size,
        "producers": a.producers,
        "queues": a.queues,
        "delay_sec": if a.kind == Kind::Timer { Some(a.delay_sec) } else { None },
        "send": send_json(&o),
    }))
}

fn send_json(o: &SendOutcome) -> serde_json::Value {
    let sent = o.latencies.len() as u64;
    json!({
        "sent": sent,
        "errors": o.errors,
        "first_error": o.first_error,
        "seconds": round3(o.seconds),
        "tps": if o.seconds > 0.0 { (sent as f64 / o.seconds).round() } else { 0.0 },
        "p50_us": percentile(&o.latencies, 0.50),
        "p99_us": percentile(&o.latencies, 0.99),
        "p999_us": percentile(&o.latencies, 0.999),
        "max_us": o.latencies.last().copied().unwrap_or(0),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Due time of timer `i` of `total`, spread evenly over `window_ms` from `first_due_ms`.
fn due_ms(first_due_ms: i64, i: u64, total: u64, window_ms: u64) -> i64 {
    if total <= 1 {
        return first_due_ms;
    }
    first_due_ms + (i as u128 * window_ms as u128 / (total - 1) as u128) as i64
}

/// The lateness mode's body: `<index>:<due epoch ms>:` padded to `size` bytes, so the
/// consumer needs nothing but the body to know what it got and when it was due.
fn lateness_body(i: u64, due: i64, size: usize) -> Bytes {
    let mut b = format!("{i}:{due}:").into_bytes();
    if b.len() < size {
        b.resize(size, b'x');
    }
    Bytes::from(b)
}

/// Inverse of `lateness_body`; None for a body that is not one (never trusted blindly).
fn parse_lateness_body(body: &[u8]) -> Option<(u64, i64)> {
    let mut it = body.splitn(3, |&c| c == b':');
    let i = std::str::from_utf8(it.next()?).ok()?.parse().ok()?;
    let due = std::str::from_utf8(it.next()?).ok()?.parse().ok()?;
    it.next()?;
    Some((i, due))
}

/// Lateness figures over the first receipt of each timer (ms, any order); duplicates and
/// bodies that are not ours are counted apart.
#[derive(Debug, PartialEq)]
struct LatenessSummary {
    received: u64,
    duplicates: u64,
    missing: u64,
    early: u64,
    p50_ms: i64,
    p99_ms: i64,
    max_ms: i64,
    min_ms: i64,
}

fn summarize(total: u64, receipts: &[(u64, i64)]) -> LatenessSummary {
    let mut seen = vec![false; total as usize];
    let mut lat = Vec::with_capacity(receipts.len());
    let mut duplicates = 0;
    for &(i, late) in receipts {
        match seen.get_mut(i as usize) {
            Some(s) if !*s => {
                *s = true;
                lat.push(late);
            }
            _ => duplicates += 1,
        }
    }
    lat.sort_unstable();
    let received = lat.len() as u64;
    LatenessSummary {
        received,
        duplicates,
        missing: total - received,
        early: lat.iter().filter(|&&l| l < 0).count() as u64,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(0),
        min_ms: lat.first().copied().unwrap_or(0),
    }
}

async fn lateness(a: &TimerBenchArgs, admin: &BrokerClient) -> Result<serde_json::Value, BoxError> {
    let load_topic = format!("{}Load", a.topic);
    admin.create_topic(&load_topic, a.queues).await?;
    let mut start_offsets = Vec::new();
    for q in 0..a.queues {
        start_offsets.push(admin.max_offset(&a.topic, q).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let first_due = now_ms() + a.lead_ms as i64;
    let last_due = first_due + a.window_s as i64 * 1000;
    // Consumers stop when every timer is in or `grace_s` after the last due time.
    let deadline = Instant::now() + Duration::from_millis(a.lead_ms + a.window_s * 1000 + a.grace_s * 1000);
    let consumer = tokio::spawn(consume_timers(a.clone(), start_offsets, deadline));
    let load = start_load(a, &load_topic, stop.clone()).await?;
    let timers = send_timers(a, first_due).await?;
    let receipts = consumer.await?;
    stop.store(true, Ordering::Relaxed);
    let (load_sent, load_errors, load_seconds) = finish_load(load).await;
    let s = summarize(a.messages, &receipts.receipts);
    Ok(json!({
        "mode": "lateness",
        "messages": a.messages,
        "size": a.size,
        "window_s": a.window_s,
        "lead_ms": a.lead_ms,
        "first_due_ms": first_due,
        "last_due_ms": last_due,
        "timer_send": send_json(&timers.outcome),
        "timers_sent_late": timers.sent_after_due,
        "timer_send_lag_max_ms": timers.max_lag_ms,
        "load": {
            "producers": a.load_producers,
            "size": a.load_size,
            "sent": load_sent,
            "errors": load_errors,
            "seconds": round3(load_seconds),
            "tps": if load_seconds > 0.0 { (load_sent as f64 / load_seconds).round() } else { 0.0 },
        },
        "received": s.received,
        "duplicates": s.duplicates,
        "foreign": receipts.foreign,
        "missing": s.missing,
        "early": s.early,
        "lateness_p50_ms": s.p50_ms,
        "lateness_p99_ms": s.p99_ms,
        "lateness_max_ms": s.max_ms,
        "lateness_min_ms": s.min_ms,
    }))
}

type LoadTask = tokio::task::JoinHandle<(u64, u64)>;

/// Connections sending plain messages to `topic` until `stop` is set.
async fn start_load(a: &TimerBenchArgs, topic: &str, stop: Arc<AtomicBool>) -> Result<(Instant, Vec<LoadTask>), BoxError> {
    let body = Bytes::from(vec![b'l'; a.load_size]);
    let mut tasks = Vec::new();
    for p in 0..a.load_producers {
        let client = BrokerClient::connect(&a.broker).await?;
        let (topic, stop, body, queues) = (topic.to_string(), stop.clone(), body.clone(), a.queues);
        tasks.push(tokio::spawn(async move {
            let (mut sent, mut errors, mut n) = (0u64, 0u64, p as u64);
            while !stop.load(Ordering::Relaxed) {
                match client.send("TimerBenchLoad", &topic, (n % queues as u64) as i32, "", body.clone()).await {
                    Ok(_) => sent += 1,
                    Err(_) => errors += 1,
                }
                n += 1;
            }
            (sent, errors)
        }));
    }
    Ok((Instant::now(), tasks))
}

async fn finish_load((started, tasks): (Instant, Vec<LoadTask>)) -> (u64, u64, f64) {
    let (mut sent, mut errors) = (0, 0);
    for t in tasks {
        if let Ok((s, e)) = t.await {
            sent += s;
            errors += e;
        }
    }
    (sent, errors, started.elapsed().as_secs_f64())
}

struct TimerSends {
    outcome: SendOutcome,
    /// Timers whose send started after their due time (the sender fell behind its
    /// schedule): the broker stores those at once, so their lateness is not the wheel's.
    sent_after_due: u64,
    max_lag_ms: i64,
}

/// Sends timer i at `due(i) - lead_ms`, `producers` connections taking every n-th one.
async fn send_timers(a: &TimerBenchArgs, first_due: i64) -> Result<TimerSends, BoxError> {
    let conns = a.producers.max(1) as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let client = BrokerClient::connect(&a.broker).await?;
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut first_error, mut late, mut max_lag) = (Vec::new(), 0u64, None, 0u64, 0i64);
            let mut i = c;
            while i < a.messages {
                let due = due_ms(first_due, i, a.messages, a.window_s * 1000);
                let send_at = due - a.lead_ms as i64;
                let wait = send_at - now_ms();
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
                let lag = now_ms() - send_at;
                max_lag = max_lag.max(lag);
                if now_ms() >= due {
                    late += 1;
                }
                let mut props = Properties::default();
                props.put("TIMER_DELIVER_MS", due.to_string());
                let t = Instant::now();
                let body = lateness_body(i, due, a.size);
                match client.send_with("TimerBenchProducer", &a.topic, (i % a.queues as u64) as i32, props, body).await {
                    Ok(_) => lat.push(t.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
                i += conns;
            }
            (lat, errors, first_error, late, max_lag)
        }));
    }
    let mut r = TimerSends {
        outcome: SendOutcome { latencies: Vec::new(), errors: 0, first_error: None, seconds: 0.0 },
        sent_after_due: 0,
        max_lag_ms: 0,
    };
    for t in tasks {
        let (lat, errors, first_error, late, max_lag) = t.await?;
        r.outcome.latencies.extend(lat);
        r.outcome.errors += errors;
        if r.outcome.first_error.is_none() {
            r.outcome.first_error = first_error;
        }
        r.sent_after_due += late;
        r.max_lag_ms = r.max_lag_ms.max(max_lag);
    }
    r.outcome.latencies.sort_unstable();
    r.outcome.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}

struct Receipts {
    /// (timer index, receipt ms − due ms) per message received.
    receipts: Vec<(u64, i64)>,
    /// Messages on the topic whose body is not one of ours.
    foreign: u64,
}

/// One long-polling puller per queue of the real topic until every timer is in or the
/// deadline passes.
async fn consume_timers(a: TimerBenchArgs, start: Vec<i64>, deadline: Instant) -> Receipts {
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for q in 0..a.queues {
        let (broker, topic, received, total) = (a.broker.clone(), a.topic.clone(), received.clone(), a.messages);
        let mut offset = start.get(q as usize).copied().unwrap_or(0);
        tasks.push(tokio::spawn(async move {
            let (mut local, mut foreign) = (Vec::new(), 0u64);
            let Ok(client) = BrokerClient::connect(&broker).await else { return (local, foreign) };
            while received.load(Ordering::Relaxed) < total && Instant::now() < deadline {
                let r = match client.pull("TimerBenchConsumer", &topic, q, offset, 32, 1000).await {
                    Ok(r) => r,
                    // A refused or timed-out pull is retried until the deadline.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let now = now_ms();
                for m in &r.messages {
                    match parse_lateness_body(&m.body) {
                        Some((i, due)) => local.push((i, now - due)),
                        None => foreign += 1,
                    }
                }
                received.fetch_add(r.messages.len() as u64, Ordering::Relaxed);
                if r.next_begin_offset > offset {
                    offset = r.next_begin_offset;
                }
            }
            (local, foreign)
        }));
    }
    let mut out = Receipts { receipts: Vec::new(), foreign: 0 };
    for t in tasks {
        if let Ok((local, foreign)) = t.await {
            out.receipts.extend(local);
            out.foreign += foreign;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_spread_over_the_window() {
        assert_eq!(due_ms(1000, 0, 5, 4000), 1000);
        assert_eq!(due_ms(1000, 2, 5, 4000), 3000);
        assert_eq!(due_ms(1000, 4, 5, 4000), 5000);
        assert_eq!(due_ms(1000, 0, 1, 4000), 1000);
    }

    #[test]
    fn lateness_body_round_trips_and_pads() {
        let b = lateness_body(42, 1_700_000_000_123, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(parse_lateness_body(&b), Some((42, 1_700_000_000_123)));
        // shorter than the prefix: not truncated
        assert_eq!(parse_lateness_body(&lateness_body(7, 9, 1)), Some((7, 9)));
        assert_eq!(parse_lateness_body(b"mmmm"), None);
        assert_eq!(parse_lateness_body(b"1:x:"), None);
        assert_eq!(parse_lateness_body(b"1:2"), None);
    }

    #[test]
    fn summary_counts_early_missing_and_duplicates() {
        let s = summarize(4, &[(0, 10), (1, -5), (1, 20), (2, 30), (9, 1)]);
        assert_eq!(s.received, 3);
        assert_eq!(s.duplicates, 2); // index 1 again, index 9 out of range
        assert_eq!(s.missing, 1);
        assert_eq!(s.early, 1);
        assert_eq!((s.min_ms, s.p50_ms, s.max_ms), (-5, 10, 30));
    }

    #[test]
    fn only_timers_carry_the_delay() {
        assert_eq!(enqueue_props(Kind::Timer, 3600).get("TIMER_DELAY_SEC"), Some("3600"));
        assert!(enqueue_props(Kind::Plain, 3600).0.is_empty());
    }

    #[test]
    fn timer_keys_keeps_timer_and_commit_log_entries() {
        let t: HashMap<String, String> = [("timerPendingCount", "3"), ("commitLogMaxOffset", "9"), ("runtime", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let m = timer_keys(&t);
        assert_eq!(m.len(), 2);
        assert_eq!(m["timerPendingCount"], json!("3"));
    }
}

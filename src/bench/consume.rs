//! `ferromq bench-consume`: consumer load. N consumer connections pull a
//! topic, either tailing it (reading what producers send meanwhile) or
//! catching up on a backlog from offset 0, and print one JSON object:
//! messages and MB (bodies, 10^6 B) per second, end-to-end latency
//! percentiles (tail mode), pulls, errors.
//!
//! Shape, like RocketMQ's push consumer: the topic's queues are spread
//! round-robin over the connections (queue q on connection q % N), and
//! each queue has one pull in flight at a time on its connection, so one
//! connection owning 64 queues multiplexes 64 pulls. Pulls long-poll
//! (suspend 1 s) when a queue is empty. Consumer offsets are committed
//! every few seconds per queue and once at the end, as a client would.
//!
//! `tail`: start at every queue's max offset (read before "ready" is
//! printed on stderr, so the caller can start producers after it); stop
//! when `--messages` arrived or no queue got anything for `--quiet-s`.
//! Rates are over first to last arrival (catch-up: start to last arrival).
//! End-to-end latency = receipt time − the message's store timestamp.
//! `catchup`: start at offset 0 (the queue's min offset when the broker
//! says it moved) and read every queue up to its max offset at start;
//! `--messages` (when > 0) caps the total.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::BrokerClient;
use crate::remoting::codes::response;
use crate::store::now_ms;

#[derive(Debug, Clone, clap::Args)]
pub struct ConsumeBenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
    #[arg(long, default_value = "BenchTopic")]
    pub topic: String,
    /// Queues of the topic; the topic is created (UPDATE_AND_CREATE_TOPIC)
    /// with this many unless `--create false`.
    #[arg(long, default_value_t = 64)]
    pub queues: i32,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub create: bool,
    /// Consumer connections; queues are spread round-robin over them.
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    #[arg(long, default_value = "BenchConsumeGroup")]
    pub group: String,
    /// tail: new messages from now on; catchup: the backlog from offset 0.
    #[arg(long, value_enum, default_value_t = Mode::Tail)]
    pub mode: Mode,
    /// Stop after this many messages (tail: required; catchup: 0 = all).
    #[arg(long, default_value_t = 0)]
    pub messages: u64,
    /// maxMsgNums of each pull (RocketMQ's pullBatchSize default is 32).
    #[arg(long, default_value_t = 32)]
    pub batch: i32,
    /// Give up when no queue received anything for this long.
    #[arg(long, default_value_t = 10)]
    pub quiet_s: u64,
    /// Seconds between consumer offset commits of a queue.
    #[arg(long, default_value_t = 5)]
    pub commit_every_s: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Tail,
    Catchup,
}

/// Queues owned by connection `conn` of `conns`: q with q % conns == conn.
/// A connection gets none when there are more connections than queues.
pub fn queues_of(conn: usize, conns: usize, queues: i32) -> Vec<i32> {
    if conns == 0 {
        return Vec::new();
    }
    (0..queues.max(0)).filter(|q| *q as usize % conns == conn).collect()
}

/// Counters shared by every queue's puller.
struct Shared {
    received: AtomicU64,
    bytes: AtomicU64,
    pulls: AtomicU64,
    errors: AtomicU64,
    commits: AtomicU64,
    /// Last arrival of any message, for the throughput window and the
    /// quiet timeout (ms since `began`).
    last_ms: AtomicU64,
    /// First arrival (ms since `began`; u64::MAX until then): a tail
    /// window starts there, not at our start, which precedes the producers'.
    first_ms: AtomicU64,
    error_samples: Mutex<Vec<String>>,
    e2e: Mutex<Vec<i64>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            received: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            pulls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
            first_ms: AtomicU64::new(u64::MAX),
            error_samples: Mutex::new(Vec::new()),
            e2e: Mutex::new(Vec::new()),
        }
    }
}

impl Shared {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut s = self.error_samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() < 5 {
            s.push(what);
        }
    }
}

/// What one queue's puller needs.
struct QueueJob {
    client: BrokerClient,
    group: String,
    topic: String,
    queue: i32,
    offset: i64,
    /// Catch-up: stop at this offset (the max offset at start).
    until: Option<i64>,
}

struct Limits {
    total: u64,
    batch: i32,
    quiet: Duration,
    commit_every: Duration,
    tail: bool,
    began: Instant,
}

impl Limits {
    fn done(&self, s: &Shared) -> bool {
        if self.total > 0 && s.received.load(Ordering::Relaxed) >= self.total {
            return true;
        }
        let last = Duration::from_millis(s.last_ms.load(Ordering::Relaxed));
        self.began.elapsed().saturating_sub(last) >= self.quiet
    }
}

pub async fn run(a: ConsumeBenchArgs) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    if a.consumers == 0 || a.queues <= 0 || a.batch <= 0 {
        return Err("--consumers, --queues and --batch must be positive".into());
    }
    if a.mode == Mode::Tail && a.messages == 0 {
        return Err("tail mode needs --messages (when to stop)".into());
    }
    let admin = BrokerClient::connect(&a.broker).await?;
    if a.create {
        admin.create_topic(&a.topic, a.queues).await?;
    }
    let mut max = Vec::with_capacity(a.queues as usize);
    for q in 0..a.queues {
        max.push(admin.max_offset(&a.topic, q).await?);
    }
    let backlog: i64 = max.iter().sum();
    let total = match a.mode {
        Mode::Tail => a.messages,
        Mode::Catchup if a.messages > 0 => a.messages.min(backlog.max(0) as u64),
        Mode::Catchup => backlog.max(0) as u64,
    };
    // Every connection is opened before "ready" so the caller's producers
    // do not race connection set-up.
    let mut clients = Vec::with_capacity(a.consumers);
    for _ in 0..a.consumers {
        clients.push(BrokerClient::connect(&a.broker).await?);
    }
    eprintln!("bench-consume: ready ({} queues, backlog {backlog})", a.queues);

    let shared = Arc::new(Shared::default());
    let limits = Arc::new(Limits {
        total,
        batch: a.batch,
        quiet: Duration::from_secs(a.quiet_s.max(1)),
        commit_every: Duration::from_secs(a.commit_every_s.max(1)),
        tail: a.mode == Mode::Tail,
        began: Instant::now(),
    });
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for q in queues_of(c, a.consumers, a.queues) {
            let job = QueueJob {
                client: client.clone(),
                group: a.group.clone(),
                topic: a.topic.clone(),
                queue: q,
                offset: if a.mode == Mode::Tail { max[q as usize] } else { 0 },
                until: (a.mode == Mode::Catchup).then(|| max[q as usize]),
            };
            tasks.push(tokio::spawn(pull_queue(job, shared.clone(), limits.clone())));
        }
    }
    for t in tasks {
        if let Err(e) = t.await {
            shared.error(format!("puller task: {e}"));
        }
    }
    Ok(report(&a, total, backlog, &shared, &limits))
}

fn report(a: &ConsumeBenchArgs, total: u64, backlog: i64, s: &Shared, l: &Limits) -> serde_json::Value {
    let consumed = s.received.load(Ordering::Relaxed);
    let bytes = s.bytes.load(Ordering::Relaxed);
    let pulls = s.pulls.load(Ordering::Relaxed);
    // The window ends at the last arrival, so the quiet timeout at the end
    // is not counted; tailing, it starts at the first arrival.
    let last = s.last_ms.load(Ordering::Relaxed);
    let first = if l.tail { s.first_ms.load(Ordering::Relaxed).min(last) } else { 0 };
    let seconds = window_seconds(first, last);
    let per_s = |x: f64| if seconds > 0.0 { x / seconds } else { 0.0 };
    let mut e2e = std::mem::take(&mut *s.e2e.lock().unwrap_or_else(|e| e.into_inner()));
    e2e.sort_unstable();
    let (p50, p99, p999) = if l.tail && !e2e.is_empty() {
        (Some(super::percentile(&e2e, 0.50)), Some(super::percentile(&e2e, 0.99)), Some(super::percentile(&e2e, 0.999)))
    } else {
        (None, None, None)
    };
    let samples = s.error_samples.lock().map(|v| v.clone()).unwrap_or_default();
    json!({
        "mode": if l.tail { "tail" } else { "catchup" },
        "consumers": a.consumers,
        "queues": a.queues,
        "batch": a.batch,
        "group": a.group,
        "expected": total,
        "backlog_at_start": backlog,
        "consumed": consumed,
        "bytes": bytes,
        "seconds": seconds,
        "msgs_per_s": per_s(consumed as f64),
        "mb_per_s": per_s(bytes as f64) / 1e6,
        "pulls": pulls,
        "msgs_per_pull": if pulls > 0 { consumed as f64 / pulls as f64 } else { 0.0 },
        "e2e_p50_ms": p50,
        "e2e_p99_ms": p99,
        "e2e_p999_ms": p999,
        "offset_commits": s.commits.load(Ordering::Relaxed),
        "errors": s.errors.load(Ordering::Relaxed),
        "error_samples": samples,
    })
}

/// Pulls one queue until the run is done (or, catching up, the queue is).
async fn pull_queue(mut j: QueueJob, s: Arc<Shared>, l: Arc<Limits>) {
    let mut local_e2e = Vec::new();
    let mut last_commit = Instant::now();
    let mut committed = j.offset;
    let mut consecutive_errors = 0u32;
    while !l.done(&s) && j.until.is_none_or(|u| j.offset < u) {
        let suspend = if l.tail { 1000 } else { 0 };
        let r = match j.client.pull(&j.group, &j.topic, j.queue, j.offset, l.batch, suspend).await {
            Ok(r) => r,
            Err(e) => {
                s.error(format!("queue {} pull: {e}", j.queue));
                consecutive_errors += 1;
                // A dead connection will not come back; do not spin on it.
                if consecutive_errors >= 5 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        s.pulls.fetch_add(1, Ordering::Relaxed);
        consecutive_errors = 0;
        match r.code {
            response::SUCCESS => {
                let now = now_ms();
                let n = r.messages.len() as u64;
                let bytes: usize = r.messages.iter().map(|m| m.body.len()).sum();
                if l.tail {
                    local_e2e.extend(r.messages.iter().map(|m| now - m.store_timestamp));
                }
                s.received.fetch_add(n, Ordering::Relaxed);
                s.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                let at = l.began.elapsed().as_millis() as u64;
                s.first_ms.fetch_min(at, Ordering::Relaxed);
                s.last_ms.fetch_max(at, Ordering::Relaxed);
                j.offset = advance(j.offset, r.next_begin_offset, &r.messages);
            }
            response::PULL_NOT_FOUND | response::PULL_RETRY_IMMEDIATELY | response::PULL_OFFSET_MOVED => {
                // Nothing here (yet), or the broker moved us (offset 0 below
                // a cleaned queue's min offset).
                if r.next_begin_offset > j.offset {
                    j.offset = r.next_begin_offset;
                } else if !l.tail {
                    // Catching up on an empty answer below the target: the
                    // broker has not indexed it yet; do not spin.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            code => {
                s.error(format!("queue {} pull answered code {code}", j.queue));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if last_commit.elapsed() >= l.commit_every && j.offset != committed {
            commit(&j, &s).await;
            committed = j.offset;
            last_commit = Instant::now();
        }
    }
    if j.offset != committed {
        commit(&j, &s).await;
    }
    s.e2e.lock().unwrap_or_else(|e| e.into_inner()).extend(local_e2e);
}

/// Seconds between two ms marks (0 when there is no window).
fn window_seconds(first_ms: u64, last_ms: u64) -> f64 {
    last_ms.saturating_sub(first_ms) as f64 / 1000.0
}

/// The next offset to pull: the broker's next_begin_offset, or past the last
/// message received when the broker sent none (never backwards).
fn advance(offset: i64, next_begin: i64, messages: &[crate::protocol::message::MessageExt]) -> i64 {
    let past_last = messages.last().map(|m| m.queue_offset + 1).unwrap_or(offset);
    next_begin.max(past_last).max(offset)
}

async fn commit(j: &QueueJob, s: &Shared) {
    match j.client.update_consumer_offset(&j.group, &j.topic, j.queue, j.offset).await {
        Ok(()) => {
            s.commits.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => s.error(format!("queue {} offset commit: {e}", j.queue)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_round_robin_cover_every_queue_once() {
        for conns in [1usize, 3, 16, 64, 100] {
            let mut all: Vec<i32> = (0..conns).flat_map(|c| queues_of(c, conns, 64)).collect();
            all.sort_unstable();
            assert_eq!(all, (0..64).collect::<Vec<_>>(), "conns {conns}");
        }
        assert_eq!(queues_of(1, 16, 64), vec![1, 17, 33, 49]);
        assert!(queues_of(70, 100, 64).is_empty());
        assert!(queues_of(0, 0, 64).is_empty());
        assert!(queues_of(0, 4, -1).is_empty());
    }

    #[test]
    fn advance_never_goes_backwards() {
        assert_eq!(advance(10, 42, &[]), 42);
        assert_eq!(advance(10, -1, &[]), 10);
        assert_eq!(advance(10, 5, &[]), 10);
    }

    #[test]
    fn window_is_never_negative() {
        assert_eq!(window_seconds(250, 1250), 1.0);
        assert_eq!(window_seconds(u64::MAX, 0), 0.0);
        assert_eq!(window_seconds(0, 0), 0.0);
    }
}

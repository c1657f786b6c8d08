//! `ferromq bench-scale`: scale load against ferromq or any RocketMQ 4.x
//! broker, one JSON object per run (driven by bench/scale.py).
//!
//! Modes:
//! * `create`: UPDATE_AND_CREATE_TOPIC for `--topics` topics of `--queues`
//!   queues over `--connections` connections, as an operator's script would;
//!   reports the time it took and per-create latency. Stops at
//!   `--time-limit-s` (a broker that rewrites its whole topic table per
//!   create can take very long) and says how many it created.
//! * `send`: `--messages` sends spread round-robin over all topics first,
//!   then over the queues of each (at most `--spread-queues` distinct queues
//!   in total, 0 = all), over `--connections` connections; it too stops at
//!   `--time-limit-s` and says how many it sent.
//! * `clients`: `--groups` x `--clients-per-group` consumer clients, one
//!   connection each, on one topic of `--queues` queues. A "join" phase (the
//!   first HEART_BEAT of every client), then `--rounds` rounds in which each
//!   client does what a client's heartbeat + rebalance does: HEART_BEAT,
//!   GET_CONSUMER_LIST_BY_GROUP, and QUERY_CONSUMER_OFFSET for each queue
//!   the averaging strategy gives it. `--watch-pid` (the broker's pids) lets
//!   it read the broker's CPU per phase and its RSS with every client still
//!   connected, from /proc.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::client::BrokerClient;
use crate::protocol::body::ConsumerListBody;
use crate::protocol::header::{CommandHeader, QueryConsumerOffsetRequestHeader};
use crate::protocol::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use crate::protocol::{fastjson, topics};
use crate::remoting::client::RemotingClient;
use crate::remoting::codes::{request, response};
use crate::remoting::{ConnectionHandle, RemotingCommand};

type BoxError = Box<dyn std::error::Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleMode {
    Create,
    Send,
    Clients,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ScaleBenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
    #[arg(long, value_enum, default_value = "send")]
    pub mode: ScaleMode,
    /// Topics are named <prefix><index, 6 digits>.
    #[arg(long, default_value = "ScaleT")]
    pub prefix: String,
    /// Topics (create, send).
    #[arg(long, default_value_t = 1000)]
    pub topics: usize,
    /// Queues per topic (create, clients).
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Connections for create and send.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Messages in total (send).
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Body size in bytes (send).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Distinct queues written at most (send; 0 = every queue of every topic).
    #[arg(long, default_value_t = 0)]
    pub spread_queues: usize,
    /// Stop creating topics / sending after this many seconds (create, send).
    #[arg(long, default_value_t = 600)]
    pub time_limit_s: u64,
    /// Consumer groups (clients).
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Clients per group (clients).
    #[arg(long, default_value_t = 100)]
    pub clients_per_group: usize,
    /// Heartbeat + rebalance rounds after the join (clients).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Clients working at the same time (clients).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Broker process ids whose CPU and RSS are read per phase (clients).
    #[arg(long)]
    pub watch_pid: Vec<u32>,
}

/// Runs the load and returns one JSON object.
pub async fn run(a: ScaleBenchArgs) -> Result<Value, BoxError> {
    match a.mode {
        ScaleMode::Create => create(&a).await,
        ScaleMode::Send => send(&a).await,
        ScaleMode::Clients => clients(&a).await,
    }
}

// ---------------------------------------------------------------------------
// pure helpers
// ---------------------------------------------------------------------------

/// The name of topic `i`: fixed width so that names sort as they are numbered.
pub fn topic_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:06}")
}

/// Queues written per topic when at most `spread` distinct queues are
/// written over `topics` topics of `queues` queues (spread 0: all).
pub fn queues_used(topics: usize, queues: i32, spread: usize) -> i32 {
    if spread == 0 || topics == 0 {
        return queues.max(1);
    }
    ((spread / topics) as i32).clamp(1, queues.max(1))
}

/// Send number `n` goes to (topic index, queue): every topic once before
/// any topic gets its next queue, so all topics are busy from the start.
pub fn send_target(n: u64, topics: usize, queues_used: i32) -> (usize, i32) {
    let t = topics.max(1) as u64;
    ((n % t) as usize, ((n / t) % queues_used.max(1) as u64) as i32)
}

/// The queues `AllocateMessageQueueAveragely` gives the client at `index`
/// of `clients` (sorted client ids) among `queues` queues.
pub fn allocate_averagely(index: usize, clients: usize, queues: usize) -> Range<usize> {
    if clients == 0 || index >= clients {
        return 0..0;
    }
    let rem = queues % clients;
    let size = if queues <= clients {
        1
    } else if rem > 0 && index < rem {
        queues / clients + 1
    } else {
        queues / clients
    };
    let start = if rem > 0 && index < rem { index * size } else { index * size + rem };
    let len = size.min(queues.saturating_sub(start));
    start..start + len
}

/// The HEART_BEAT body of a clustering push consumer of `group` on `topic`
/// (and its retry topic, which real clients subscribe to as well).
pub fn heartbeat_body(client_id: &str, group: &str, topic: &str) -> Vec<u8> {
    let hb = HeartbeatData {
        client_id: client_id.to_string(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
            consume_type: "CONSUME_PASSIVELY".into(),
            group_name: group.to_string(),
            message_model: "CLUSTERING".into(),
            subscription_data_set: vec![
                SubscriptionData::build(topic, "*", 1),
                SubscriptionData::build(&topics::retry_topic(group), "*", 1),
            ],
            unit_mode: false,
        }],
        producer_data_set: Vec::new(),
    };
    // Serializing plain structs of strings, numbers and vectors cannot fail.
    serde_json::to_vec(&hb).unwrap_or_default()
}

/// Latencies (µs) as {n, p50_us, p99_us, max_us}.
fn lat_json(mut v: Vec<u64>) -> Value {
    v.sort_unstable();
    json!({
        "n": v.len(),
        "p50_us": super::percentile(&v, 0.50),
        "p99_us": super::percentile(&v, 0.99),
        "max_us": v.last().copied().unwrap_or(0),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------
// /proc readings of the broker under test
// ---------------------------------------------------------------------------

/// utime + stime of `pid` in seconds (None when it is gone).
fn proc_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its ')' do not.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ticks as f64 / hz)
}

fn cpu_sum(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| proc_cpu_s(*p)).sum()
}

/// VmRSS, RssAnon and VmHWM (kB) of each pid.
fn rss_json(pids: &[u32]) -> Value {
    let mut out = serde_json::Map::new();
    for pid in pids {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let mut m = serde_json::Map::new();
        for line in s.lines() {
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            if matches!(k, "VmRSS" | "RssAnon" | "VmHWM") {
                if let Some(kb) = v.split_whitespace().next().and_then(|x| x.parse::<u64>().ok()) {
                    m.insert(k.to_string(), json!(kb));
                }
            }
        }
        out.insert(pid.to_string(), Value::Object(m));
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------

/// Shared tallies of a run's workers: latencies, errors and the first error seen.
#[derive(Default)]
struct Tally {
    lat: Mutex<Vec<u64>>,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut f = self.first_error.lock().unwrap();
        if f.is_none() {
            *f = Some(e.to_string());
        }
    }
    fn take(&self) -> (Vec<u64>, u64, Option<String>) {
        (std::mem::take(&mut *self.lat.lock().unwrap()), self.errors.load(Ordering::Relaxed), self.first_error.lock().unwrap().clone())
    }
}

async fn create(a: &ScaleBenchArgs) -> Result<Value, BoxError> {
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(a.time_limit_s);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.connections.max(1) {
        let client = BrokerClient::connect(&a.broker).await?;
        let (next, tally, prefix, total, queues) = (next.clone(), tally.clone(), a.prefix.clone(), a.topics as u64, a.queues);
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                match client.create_topic(&topic_name(&prefix, i as usize), queues).await {
                    Ok(()) => local.push(t.elapsed().as_micros() as u64),
                    Err(e) => tally.error(e),
                }
            }
            tally.lat.lock().unwrap().extend(local);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (lat, errors, first_error) = tally.take();
    let created = lat.len();
    Ok(json!({
        "mode": "create", "topics": a.topics, "queues": a.queues, "connections": a.connections,
        "created": created, "errors": errors, "first_error": first_error,
        "time_limited": created as u64 + errors < a.topics as u64,
        "seconds": round3(seconds), "creates_per_s": round3(created as f64 / seconds.max(1e-9)),
        "latency": lat_json(lat),
    }))
}

// ---------------------------------------------------------------------------
// send
// ---------------------------------------------------------------------------

async fn send(a: &ScaleBenchArgs) -> Result<Value, BoxError> {
    let per_topic = queues_used(a.topics, a.queues, a.spread_queues);
    let names: Arc<Vec<String>> = Arc::new((0..a.topics.max(1)).map(|i| topic_name(&a.prefix, i)).collect());
    let body = Bytes::from(vec![b'm'; a.size]);
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.time_limit_s);
    let mut tasks = Vec::new();
    for _ in 0..a.connections.max(1) {
        let client = BrokerClient::connect(&a.broker).await?;
        let (next, tally, names, body, total) = (next.clone(), tally.clone(), names.clone(), body.clone(), a.messages);
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let (t, q) = send_target(n, names.len(), per_topic);
                let began = Instant::now();
                match client.send("ScaleProducer", &names[t], q, "", body.clone()).await {
                    Ok(_) => local.push(began.elapsed().as_micros() as u64),
                    Err(e) => tally.error(format!("{}: {e}", names[t])),
                }
            }
            tally.lat.lock().unwrap().extend(local);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (lat, errors, first_error) = tally.take();
    let sent = lat.len();
    Ok(json!({
        "mode": "send", "topics": a.topics, "queues": a.queues, "queues_written_per_topic": per_topic,
        "distinct_queues_written": (a.topics as u64 * per_topic as u64).min(a.messages),
        "connections": a.connections, "messages": a.messages, "size": a.size,
        "sent": sent, "errors": errors, "first_error": first_error,
        "time_limited": sent as u64 + errors < a.messages,
        "seconds": round3(seconds), "send_tps": round3(sent as f64 / seconds.max(1e-9)),
        "latency": lat_json(lat),
    }))
}

// ---------------------------------------------------------------------------
// clients
// ---------------------------------------------------------------------------

/// One simulated consumer client: its own connection, id and group.
struct Client {
    conn: ConnectionHandle,
    id: String,
    group: String,
    heartbeat: Bytes,
}

/// Latencies and failures of one phase, per request kind.
#[derive(Default)]
struct PhaseTally {
    heartbeat: Tally,
    consumer_list: Tally,
    query_offset: Tally,
    /// Consumer lists that did not hold the whole group.
    short_lists: AtomicU64,
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// `req`, timed, into `tally` when it is answered with one of `ok_codes`.
async fn timed(conn: &ConnectionHandle, req: RemotingCommand, ok_codes: &[i32], tally: &Tally) -> Option<RemotingCommand> {
    let began = Instant::now();
    match conn.request(req, TIMEOUT).await {
        Ok(r) if ok_codes.contains(&r.code) => {
            tally.lat.lock().unwrap().push(began.elapsed().as_micros() as u64);
            Some(r)
        }
        Ok(r) => {
            tally.error(format!("code {} {}", r.code, r.remark.unwrap_or_default()));
            None
        }
        Err(e) => {
            tally.error(e);
            None
        }
    }
}

async fn heartbeat(c: &Client, t: &PhaseTally) {
    let req = RemotingCommand::request(request::HEART_BEAT, 0).with_body(c.heartbeat.clone());
    timed(&c.conn, req, &[response::SUCCESS], &t.heartbeat).await;
}

/// GET_CONSUMER_LIST_BY_GROUP then QUERY_CONSUMER_OFFSET for the queues
/// allocated to this client, as a client's rebalance does.
async fn rebalance(c: &Client, topic: &str, queues: i32, group_size: usize, t: &PhaseTally) {
    let req = RemotingCommand::request(request::GET_CONSUMER_LIST_BY_GROUP, 0).with_ext("consumerGroup", &c.group);
    let Some(r) = timed(&c.conn, req, &[response::SUCCESS], &t.consumer_list).await else { return };
    let mut ids = match fastjson::parse::<ConsumerListBody>(r.body.as_deref().unwrap_or_default()) {
        Ok(b) => b.consumer_id_list,
        Err(e) => return t.consumer_list.error(format!("consumer list body: {e}")),
    };
    if ids.len() < group_size {
        t.short_lists.fetch_add(1, Ordering::Relaxed);
    }
    ids.sort();
    let Some(index) = ids.iter().position(|i| *i == c.id) else {
        return t.consumer_list.error("own client id missing from the consumer list");
    };
    for q in allocate_averagely(index, ids.len(), queues.max(0) as usize) {
        let h = QueryConsumerOffsetRequestHeader {
            consumer_group: c.group.clone(),
            topic: topic.to_string(),
            queue_id: q as i32,
            bname: None,
        };
        let req = h.encode(RemotingCommand::request(request::QUERY_CONSUMER_OFFSET, 0));
        // No committed offset yet is QUERY_NOT_FOUND on a queue with messages: a valid answer.
        timed(&c.conn, req, &[response::SUCCESS, response::QUERY_NOT_FOUND], &t.query_offset).await;
    }
}

/// Runs `work` for every client, at most `concurrency` at a time.
async fn for_each_client<F, Fut>(clients: &Arc<Vec<Client>>, concurrency: usize, work: F)
where
    F: Fn(Arc<Vec<Client>>, usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(clients.len());
    for i in 0..clients.len() {
        let Ok(permit) = sem.clone().acquire_owned().await else { break };
        let fut = work(clients.clone(), i);
        tasks.push(tokio::spawn(async move {
            fut.await;
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn tally_json(t: &PhaseTally) -> Value {
    let mut out = serde_json::Map::new();
    for (name, tally) in [("heartbeat", &t.heartbeat), ("consumer_list", &t.consumer_list), ("query_offset", &t.query_offset)] {
        let (lat, errors, first_error) = tally.take();
        let mut v = lat_json(lat);
        v["errors"] = json!(errors);
        v["first_error"] = json!(first_error);
        out.insert(name.to_string(), v);
    }
    out.insert("short_lists".into(), json!(t.short_lists.load(Ordering::Relaxed)));
    Value::Object(out)
}

async fn connect_clients(a: &ScaleBenchArgs, topic: &str) -> Result<Vec<Client>, BoxError> {
    let mut clients = Vec::with_capacity(a.groups * a.clients_per_group);
    for g in 0..a.groups {
        let group = format!("ScaleGroup{g:03}");
        for c in 0..a.clients_per_group {
            let id = format!("127.0.0.1@scale-{g:03}-{c:04}");
            let conn = RemotingClient::connect(&a.broker, TIMEOUT).await?;
            let heartbeat = Bytes::from(heartbeat_body(&id, &group, topic));
            clients.push(Client { conn, id, group: group.clone(), heartbeat });
        }
    }
    Ok(clients)
}

async fn clients(a: &ScaleBenchArgs) -> Result<Value, BoxError> {
    let topic = topic_name(&a.prefix, 0);
    BrokerClient::connect(&a.broker).await?.create_topic(&topic, a.queues).await?;
    let pids = a.watch_pid.clone();
    let t0 = Instant::now();
    let clients = Arc::new(connect_clients(a, &topic).await?);
    let connect_s = t0.elapsed().as_secs_f64();

    // join: every client's first heartbeat registers it (and, on the Java
    // broker, makes it notify the group's members of the change).
    let join = Arc::new(PhaseTally::default());
    let (cpu0, w0) = (cpu_sum(&pids), Instant::now());
    let j = join.clone();
    for_each_client(&clients, a.concurrency, move |cs, i| {
        let j = j.clone();
        async move { heartbeat(&cs[i], &j).await }
    })
    .await;
    let join_json = json!({
        "wall_s": round3(w0.elapsed().as_secs_f64()),
        "broker_cpu_s": round3(cpu_sum(&pids) - cpu0),
        "requests": tally_json(&join),
    });

    let mut rounds = Vec::new();
    for r in 1..=a.rounds {
        let t = Arc::new(PhaseTally::default());
        let (cpu0, w0) = (cpu_sum(&pids), Instant::now());
        let (tt, topic2, queues, size) = (t.clone(), topic.clone(), a.queues, a.clients_per_group);
        for_each_client(&clients, a.concurrency, move |cs, i| {
            let (tt, topic2) = (tt.clone(), topic2.clone());
            async move {
                heartbeat(&cs[i], &tt).await;
                rebalance(&cs[i], &topic2, queues, size, &tt).await;
            }
        })
        .await;
        let cpu = cpu_sum(&pids) - cpu0;
        let n = clients.len().max(1) as f64;
        rounds.push(json!({
            "round": r,
            "wall_s": round3(w0.elapsed().as_secs_f64()),
            "broker_cpu_s": round3(cpu),
            "broker_cpu_ms_per_1000_clients": round3(cpu * 1000.0 * 1000.0 / n),
            "requests": tally_json(&t),
        }));
    }
    // Read while every client is still connected and registered.
    let rss = rss_json(&pids);
    let open = clients.iter().filter(|c| !c.conn.is_closed()).count();
    Ok(json!({
        "mode": "clients", "topic": topic, "queues": a.queues, "groups": a.groups,
        "clients_per_group": a.clients_per_group, "clients": clients.len(), "connect_s": round3(connect_s),
        "concurrency": a.concurrency, "join": join_json, "rounds": rounds,
        "connections_open_at_end": open, "rss_kb_with_clients": rss,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_fixed_width() {
        assert_eq!(topic_name("T", 7), "T000007");
        assert_eq!(topic_name("T", 99_999), "T099999");
    }

    #[test]
    fn sends_cover_every_topic_before_the_next_queue() {
        assert_eq!(send_target(0, 3, 2), (0, 0));
        assert_eq!(send_target(2, 3, 2), (2, 0));
        assert_eq!(send_target(3, 3, 2), (0, 1));
        assert_eq!(send_target(6, 3, 2), (0, 0));
        assert_eq!(queues_used(100, 1000, 0), 1000);
        assert_eq!(queues_used(100, 1000, 20_000), 200);
        assert_eq!(queues_used(10_000, 8, 5_000), 1);
    }

    #[test]
    fn averaging_allocation_matches_java() {
        // 10 queues over 4 clients: 3, 3, 2, 2
        let r: Vec<_> = (0..4).map(|i| allocate_averagely(i, 4, 10)).collect();
        assert_eq!(r, vec![0..3, 3..6, 6..8, 8..10]);
        // more clients than queues: one each, the rest none
        assert_eq!(allocate_averagely(1, 3, 2), 1..2);
        assert!(allocate_averagely(2, 3, 2).is_empty());
        assert_eq!(allocate_averagely(0, 0, 8), 0..0);
    }

    #[test]
    fn heartbeat_body_parses_back() {
        let body = heartbeat_body("127.0.0.1@c1", "G", "T");
        let h: HeartbeatData = fastjson::parse(&body).unwrap();
        assert_eq!(h.client_id, "127.0.0.1@c1");
        let c = &h.consumer_data_set[0];
        assert_eq!((c.group_name.as_str(), c.message_model.as_str()), ("G", "CLUSTERING"));
        assert_eq!(c.subscription_data_set[0].topic, "T");
        assert_eq!(c.subscription_data_set[1].topic, "%RETRY%G");
        assert!(h.check_names().is_ok());
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["consumerDataSet"][0]["subscriptionDataSet"][0]["subString"], "*");
    }
}

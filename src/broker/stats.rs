//! Broker statistics: put/get totals and TPS over 10 s, 60 s and 600 s
//! (`StoreStatsService`), and per-topic / per-group counters with minute,
//! hour and day windows (`BrokerStatsManager`), for clusterList,
//! brokerStatus, consumerProgress and statsAll.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";
/// Messages sent back by consumers (CONSUMER_SEND_MSG_BACK), keyed `topic@group`.
pub const SNDBCK_PUT_NUMS: &str = "SNDBCK_PUT_NUMS";
/// Broker-wide put / get message counts; Java keys them by the cluster name,
/// which `stats_data` callers pass through `broker_stats_key`.
pub const BROKER_PUT_NUMS: &str = "BROKER_PUT_NUMS";
pub const BROKER_GET_NUMS: &str = "BROKER_GET_NUMS";
/// The internal key of the broker-wide items.
const BROKER_KEY: &str = "";
const DAY_SECS: u64 = 86_400;

/// `StoreStatsService`'s put-time buckets (upper bounds in ms, last unbounded).
const PUT_TIME_DESC: [&str; 13] = [
    "[<=0ms]", "[0~10ms]", "[10~50ms]", "[50~100ms]", "[100~200ms]", "[200~500ms]", "[500ms~1s]", "[1~2s]",
    "[2~3s]", "[3~4s]", "[4~5s]", "[5~10s]", "[10s~]",
];
const PUT_TIME_BOUNDS: [u64; 12] = [0, 10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000];

/// A counter over fixed slots of `unit` seconds: memory per item stays the
/// same however long the broker runs (a queue of per-second entries for a
/// day cost 2 MB per busy topic).
struct Ring {
    unit: u64,
    /// (slot index since start, value added, times added).
    slots: Vec<(u64, u64, u64)>,
}

impl Ring {
    fn new(unit: u64, len: usize) -> Self {
        Ring { unit, slots: vec![(u64::MAX, 0, 0); len] }
    }

    fn add(&mut self, sec: u64, value: u64) {
        let idx = sec / self.unit;
        let n = self.slots.len() as u64;
        let slot = &mut self.slots[(idx % n) as usize];
        if slot.0 != idx {
            *slot = (idx, 0, 0);
        }
        slot.1 += value;
        slot.2 += 1;
    }

    /// (sum, times) over the slots of the last `len` units, the current one included.
    fn sum(&self, now: u64) -> (u64, u64) {
        let now_idx = now / self.unit;
        let oldest = now_idx.saturating_sub(self.slots.len() as u64 - 1);
        self.slots
            .iter()
            .filter(|(i, _, _)| *i != u64::MAX && *i >= oldest && *i <= now_idx)
            .fold((0, 0), |(s, t), (_, v, n)| (s + v, t + n))
    }
}

/// Minute, hour and day windows of one key (`StatsItem`'s three snapshots).
struct StatsItem {
    /// Everything ever added, for the Prometheus counters.
    total: u64,
    seconds: Ring,
    minutes: Ring,
    hours: Ring,
}

impl Default for StatsItem {
    fn default() -> Self {
        StatsItem { total: 0, seconds: Ring::new(1, 60), minutes: Ring::new(60, 60), hours: Ring::new(3600, 24) }
    }
}

impl StatsItem {
    fn add(&mut self, sec: u64, value: u64) {
        self.total += value;
        self.seconds.add(sec, value);
        self.minutes.add(sec, value);
        self.hours.add(sec, value);
    }

    /// (sum, tps, average per add) over the last `window` seconds (60, 3600 or a day).
    fn window(&self, now: u64, window: u64) -> (u64, f64, f64) {
        let ring = match window {
            0..=60 => &self.seconds,
            61..=3600 => &self.minutes,
            _ => &self.hours,
        };
        let (sum, times) = ring.sum(now);
        let avg = if times > 0 { sum as f64 / times as f64 } else { 0.0 };
        (sum, sum as f64 / window as f64, avg)
    }
}

/// Per-key items in shards, so sends to different topics do not queue on one lock.
type Shard = HashMap<&'static str, HashMap<String, StatsItem>>;

struct Items {
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<Shard>>,
}

const SHARDS: usize = 32;

impl Default for Items {
    fn default() -> Self {
        Items { hasher: Default::default(), shards: (0..SHARDS).map(|_| Mutex::default()).collect() }
    }
}

impl Items {
    fn shard(&self, key: &str) -> &Mutex<Shard> {
        use std::hash::BuildHasher;
        &self.shards[(self.hasher.hash_one(key) % SHARDS as u64) as usize]
    }

    fn add(&self, name: &'static str, key: &str, sec: u64, value: u64) {
        let mut shard = self.shard(key).lock().unwrap();
        let by_key = shard.entry(name).or_default();
        match by_key.get_mut(key) {
            Some(item) => item.add(sec, value),
            None => by_key.entry(key.to_string()).or_default().add(sec, value),
        }
    }

    /// (key, total, tps over the last minute) of every item of one stats name.
    fn list(&self, name: &str, now: u64) -> Vec<(String, u64, f64)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap();
            if let Some(by_key) = shard.get(name) {
                out.extend(by_key.iter().map(|(k, i)| (k.clone(), i.total, i.window(now, 60).1)));
            }
        }
        out
    }

    fn with<T>(&self, name: &str, key: &str, f: impl FnOnce(&StatsItem) -> T) -> Option<T> {
        let shard = self.shard(key).lock().unwrap();
        shard.get(name)?.get(key).map(f)
    }
}

/// Broker-wide counters and TPS (10 s, 60 s, 600 s) at one moment.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    pub put_total: u64,
    pub put_size_total: u64,
    pub put_failed: u64,
    pub get_transferred: u64,
    pub put_time_max_ms: u64,
    /// Counts per `PUT_TIME_DESC` bucket.
    pub put_time_buckets: [u64; 13],
    pub put_latency_99: f64,
    pub put_latency_999: f64,
    pub put_tps: [f64; 3],
    pub get_found_tps: [f64; 3],
    pub get_miss_tps: [f64; 3],
    pub get_total_tps: [f64; 3],
    pub get_transferred_tps: [f64; 3],
}

/// One sample per second: (second, put, found, miss, transferred).
type Sample = (u64, u64, u64, u64, u64);

pub struct BrokerStats {
    started: Instant,
    pub boot_timestamp: i64,
    put_total: AtomicU64,
    put_size_total: AtomicU64,
    get_found: AtomicU64,
    get_miss: AtomicU64,
    get_transferred: AtomicU64,
    put_failed: AtomicU64,
    put_time_max_ms: AtomicU64,
    put_time_buckets: [AtomicU64; 13],
    /// One sample per second: (second, put, found, miss, transferred).
    samples: Mutex<VecDeque<Sample>>,
    /// (stats name, key) → item.
    items: Items,
}

impl Default for BrokerStats {
    fn default() -> Self {
        BrokerStats {
            started: Instant::now(),
            boot_timestamp: crate::store::now_ms(),
            put_total: AtomicU64::new(0),
            put_size_total: AtomicU64::new(0),
            get_found: AtomicU64::new(0),
            get_miss: AtomicU64::new(0),
            get_transferred: AtomicU64::new(0),
            put_failed: AtomicU64::new(0),
            put_time_max_ms: AtomicU64::new(0),
            put_time_buckets: Default::default(),
            samples: Mutex::new(VecDeque::new()),
            items: Items::default(),
        }
    }
}

impl BrokerStats {
    fn now_sec(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn add_item(&self, name: &'static str, key: &str, value: u64) {
        self.items.add(name, key, self.now_sec(), value);
    }

    pub fn on_put(&self, topic: &str, msgs: u64, bytes: u64) {
        self.put_total.fetch_add(msgs, Ordering::Relaxed);
        self.put_size_total.fetch_add(bytes, Ordering::Relaxed);
        // One clock read for the three items (the clock showed in send profiles).
        let now = self.now_sec();
        self.items.add(BROKER_PUT_NUMS, BROKER_KEY, now, msgs);
        self.items.add(TOPIC_PUT_NUMS, topic, now, msgs);
        self.items.add(TOPIC_PUT_SIZE, topic, now, bytes);
    }

    /// Records how long a put took (store write plus any flush wait).
    pub fn on_put_time(&self, ms: u64) {
        self.put_time_max_ms.fetch_max(ms, Ordering::Relaxed);
        let i = PUT_TIME_BOUNDS.iter().position(|b| ms <= *b).unwrap_or(PUT_TIME_BOUNDS.len());
        self.put_time_buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn on_put_failed(&self) {
        self.put_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The put time below which `p` of all puts fall, in ms (bucket bound).
    fn put_latency(&self, p: f64) -> f64 {
        let counts: Vec<u64> = self.put_time_buckets.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen as f64 >= total as f64 * p {
                return PUT_TIME_BOUNDS.get(i).copied().unwrap_or(10_000) as f64;
            }
        }
        10_000.0
    }

    pub fn on_get(&self, topic: &str, group: &str, msgs: u64, bytes: u64) {
        if msgs == 0 {
            self.get_miss.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.get_found.fetch_add(1, Ordering::Relaxed);
        self.get_transferred.fetch_add(msgs, Ordering::Relaxed);
        self.add_item(BROKER_GET_NUMS, BROKER_KEY, msgs);
        let key = format!("{topic}@{group}");
        self.add_item(GROUP_GET_NUMS, &key, msgs);
        self.add_item(GROUP_GET_SIZE, &key, bytes);
    }

    /// Records one message a consumer of `group` sent back (CONSUMER_SEND_MSG_BACK
    /// stored it); `topic` is the message's original topic, as Java's `incSendBackNums`.
    pub fn on_send_back(&self, topic: &str, group: &str) {
        self.add_item(SNDBCK_PUT_NUMS, &format!("{topic}@{group}"), 1);
    }

    /// The internal key of `name`'s item for the key a client asked for:
    /// `BROKER_PUT_NUMS` / `BROKER_GET_NUMS` answer only to the broker's
    /// cluster name (Java's `BrokerStatsManager` keys them by it), every
    /// other name to the key itself.
    pub fn item_key<'a>(name: &str, key: &'a str, cluster: &str) -> Option<&'a str> {
        match name {
            BROKER_PUT_NUMS | BROKER_GET_NUMS => (key == cluster).then_some(BROKER_KEY),
            _ => Some(key),
        }
    }

    /// Records a sample; called once a second.
    pub fn sample(&self) {
        let s = (
            self.now_sec(),
            self.put_total.load(Ordering::Relaxed),
            self.get_found.load(Ordering::Relaxed),
            self.get_miss.load(Ordering::Relaxed),
            self.get_transferred.load(Ordering::Relaxed),
        );
        let mut samples = self.samples.lock().unwrap();
        samples.push_back(s);
        while samples.len() > 601 {
            samples.pop_front();
        }
    }

    /// [tps10, tps60, tps600] for one counter of the samples.
    fn tps_values(&self, pick: fn(&Sample) -> u64) -> [f64; 3] {
        let samples = self.samples.lock().unwrap();
        let Some(last) = samples.back() else { return [0.0; 3] };
        let at = |secs: u64| {
            let first = samples.iter().find(|s| s.0 + secs >= last.0).unwrap_or(last);
            let span = (last.0 - first.0).max(1) as f64;
            (pick(last) - pick(first)) as f64 / span
        };
        [at(10), at(60), at(600)]
    }

    /// "tps10 tps60 tps600" for one counter of the samples.
    fn tps(&self, pick: fn(&Sample) -> u64) -> String {
        let [a, b, c] = self.tps_values(pick);
        format!("{a:.2} {b:.2} {c:.2}")
    }

    /// (key, total, tps over the last minute) of every `TOPIC_PUT_NUMS`,
    /// `TOPIC_PUT_SIZE`, `GROUP_GET_NUMS` or `GROUP_GET_SIZE` item
    /// (group keys are `topic@group`).
    pub fn items(&self, name: &str) -> Vec<(String, u64, f64)> {
        self.items.list(name, self.now_sec())
    }

    /// Broker-wide numbers for the metrics endpoint.
    pub fn snapshot(&self) -> StatsSnapshot {
        let bucket = |i: usize| self.put_time_buckets[i].load(Ordering::Relaxed);
        StatsSnapshot {
            put_total: self.put_total.load(Ordering::Relaxed),
            put_size_total: self.put_size_total.load(Ordering::Relaxed),
            put_failed: self.put_failed.load(Ordering::Relaxed),
            get_transferred: self.get_transferred.load(Ordering::Relaxed),
            put_time_max_ms: self.put_time_max_ms.load(Ordering::Relaxed),
            put_time_buckets: std::array::from_fn(bucket),
            put_latency_99: self.put_latency(0.99),
            put_latency_999: self.put_latency(0.999),
            put_tps: self.tps_values(|s| s.1),
            get_found_tps: self.tps_values(|s| s.2),
            get_miss_tps: self.tps_values(|s| s.3),
            get_total_tps: self.tps_values(|s| s.2 + s.3),
            get_transferred_tps: self.tps_values(|s| s.4),
        }
    }

    pub fn put_tps(&self) -> String {
        self.tps(|s| s.1)
    }

    /// (put total, put bytes total, runtime info pairs).
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        let put = self.put_total.load(Ordering::Relaxed);
        let size = self.put_size_total.load(Ordering::Relaxed);
        let up = self.started.elapsed().as_secs();
        let total_get = |s: &Sample| s.2 + s.3;
        vec![
            ("bootTimestamp".into(), self.boot_timestamp.to_string()),
            (
                "runtime".into(),
                format!("[ {} days, {} hours, {} minutes, {} seconds ]", up / 86400, up / 3600 % 24, up / 60 % 60, up % 60),
            ),
            ("putMessageTimesTotal".into(), put.to_string()),
            ("putMessageSizeTotal".into(), size.to_string()),
            ("putMessageAverageSize".into(), format!("{:.2}", if put > 0 { size as f64 / put as f64 } else { 0.0 })),
            ("putTps".into(), self.put_tps()),
            ("putMessageEntireTimeMax".into(), self.put_time_max_ms.load(Ordering::Relaxed).to_string()),
            ("putMessageFailedTimes".into(), self.put_failed.load(Ordering::Relaxed).to_string()),
            (
                "putMessageDistributeTime".into(),
                PUT_TIME_DESC
                    .iter()
                    .zip(&self.put_time_buckets)
                    .map(|(d, c)| format!("{d}:{} ", c.load(Ordering::Relaxed)))
                    .collect(),
            ),
            ("putLatency99".into(), format!("{:.2}", self.put_latency(0.99))),
            ("putLatency999".into(), format!("{:.2}", self.put_latency(0.999))),
            ("dispatchMaxBuffer".into(), "0".into()),
            ("getMessageEntireTimeMax".into(), "0".into()),
            ("getFoundTps".into(), self.tps(|s| s.2)),
            ("getMissTps".into(), self.tps(|s| s.3)),
            ("getTotalTps".into(), self.tps(total_get)),
            ("getTransferedTps".into(), self.tps(|s| s.4)),
            ("msgPutTotalYesterdayMorning".into(), "0".into()),
            ("msgPutTotalTodayMorning".into(), "0".into()),
            ("msgPutTotalTodayNow".into(), put.to_string()),
            ("msgGetTotalYesterdayMorning".into(), "0".into()),
            ("msgGetTotalTodayMorning".into(), "0".into()),
            ("msgGetTotalTodayNow".into(), self.get_transferred.load(Ordering::Relaxed).to_string()),
        ]
    }

    /// `BrokerStatsData` JSON for one item, or None if it never counted.
    pub fn stats_data(&self, name: &str, key: &str) -> Option<serde_json::Value> {
        let now = self.now_sec();
        self.items.with(name, key, |item| {
            let w = |secs| {
                let (sum, tps, avgpt) = item.window(now, secs);
                serde_json::json!({"avgpt": avgpt, "sum": sum, "tps": tps})
            };
            serde_json::json!({"statsDay": w(DAY_SECS), "statsHour": w(3600), "statsMinute": w(60)})
        })
    }

    pub fn group_get_tps(&self, topic: &str, group: &str) -> f64 {
        self.items.with(GROUP_GET_NUMS, &format!("{topic}@{group}"), |i| i.window(self.now_sec(), 60).1).unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_forget_what_left_their_window() {
        let mut i = StatsItem::default();
        i.add(0, 5);
        i.add(59, 1);
        assert_eq!(i.window(59, 60).0, 6);
        assert_eq!(i.window(60, 60).0, 1, "second 0 left the minute");
        assert_eq!(i.window(60, 3600).0, 6);
        i.add(4000, 2);
        assert_eq!(i.window(4000, 3600).0, 2, "the first hour left the hour window");
        assert_eq!(i.window(4000, DAY_SECS).0, 8);
        assert_eq!(i.window(4000 + DAY_SECS, DAY_SECS).0, 0);
    }

    #[test]
    fn counts_and_windows() {
        let s = BrokerStats::default();
        s.on_put("T", 10, 1000);
        s.on_put("T", 5, 500);
        s.on_get("T", "G", 7, 700);
        s.on_get("T", "G", 0, 0);
        let d = s.stats_data(TOPIC_PUT_NUMS, "T").unwrap();
        assert_eq!(d["statsMinute"]["sum"], 15);
        assert_eq!(d["statsDay"]["avgpt"], 7.5);
        assert!(s.stats_data(TOPIC_PUT_NUMS, "other").is_none());
        assert!(s.group_get_tps("T", "G") > 0.0);
        assert_eq!(s.stats_data(GROUP_GET_SIZE, "T@G").unwrap()["statsHour"]["sum"], 700);
        s.sample();
        let info: HashMap<_, _> = s.runtime_info().into_iter().collect();
        assert_eq!(info["putMessageTimesTotal"], "15");
        assert_eq!(info["putTps"].split(' ').count(), 3);
        let puts = s.items(TOPIC_PUT_NUMS);
        assert_eq!(puts.len(), 1);
        assert_eq!((puts[0].0.as_str(), puts[0].1), ("T", 15));
        assert_eq!(s.items(GROUP_GET_NUMS)[0].1, 7);
        let key = BrokerStats::item_key(BROKER_PUT_NUMS, "C", "C").unwrap();
        assert_eq!(s.stats_data(BROKER_PUT_NUMS, key).unwrap()["statsMinute"]["sum"], 15);
        let key = BrokerStats::item_key(BROKER_GET_NUMS, "C", "C").unwrap();
        assert_eq!(s.stats_data(BROKER_GET_NUMS, key).unwrap()["statsMinute"]["sum"], 7);
        assert_eq!(BrokerStats::item_key(BROKER_PUT_NUMS, "other", "C"), None);
        assert_eq!(BrokerStats::item_key(TOPIC_PUT_NUMS, "T", "C"), Some("T"));
        s.on_send_back("T", "G");
        assert_eq!(s.stats_data(SNDBCK_PUT_NUMS, "T@G").unwrap()["statsDay"]["sum"], 1);
        assert_eq!(s.snapshot().put_total, 15);
    }
}

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
const DAY_SECS: u64 = 86_400;

/// `StoreStatsService`'s put-time buckets (upper bounds in ms, last unbounded).
const PUT_TIME_DESC: [&str; 13] = [
    "[<=0ms]", "[0~10ms]", "[10~50ms]", "[50~100ms]", "[100~200ms]", "[200~500ms]", "[500ms~1s]", "[1~2s]",
    "[2~3s]", "[3~4s]", "[4~5s]", "[5~10s]", "[10s~]",
];
const PUT_TIME_BOUNDS: [u64; 12] = [0, 10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000];

#[derive(Default)]
struct StatsItem {
    /// (second since start, value added, times added) per active second.
    seconds: VecDeque<(u64, u64, u64)>,
}

impl StatsItem {
    fn add(&mut self, sec: u64, value: u64) {
        match self.seconds.back_mut() {
            Some(last) if last.0 == sec => {
                last.1 += value;
                last.2 += 1;
            }
            _ => self.seconds.push_back((sec, value, 1)),
        }
        while self.seconds.front().is_some_and(|f| f.0 + DAY_SECS < sec) {
            self.seconds.pop_front();
        }
    }

    /// (sum, tps, average per add) over the last `window` seconds.
    fn window(&self, now: u64, window: u64) -> (u64, f64, f64) {
        let (mut sum, mut times) = (0, 0);
        for (s, v, t) in self.seconds.iter().rev() {
            if s + window <= now {
                break;
            }
            sum += v;
            times += t;
        }
        let avg = if times > 0 { sum as f64 / times as f64 } else { 0.0 };
        (sum, sum as f64 / window as f64, avg)
    }
}

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
    samples: Mutex<VecDeque<(u64, u64, u64, u64, u64)>>,
    /// Stats name → key → item.
    items: Mutex<HashMap<&'static str, HashMap<String, StatsItem>>>,
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
            items: Mutex::new(HashMap::new()),
        }
    }
}

impl BrokerStats {
    fn now_sec(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn add_item(&self, name: &'static str, key: &str, value: u64) {
        let sec = self.now_sec();
        let mut items = self.items.lock().unwrap();
        let by_key = items.entry(name).or_default();
        match by_key.get_mut(key) {
            Some(item) => item.add(sec, value),
            None => by_key.entry(key.to_string()).or_default().add(sec, value),
        }
    }

    pub fn on_put(&self, topic: &str, msgs: u64, bytes: u64) {
        self.put_total.fetch_add(msgs, Ordering::Relaxed);
        self.put_size_total.fetch_add(bytes, Ordering::Relaxed);
        self.add_item(TOPIC_PUT_NUMS, topic, msgs);
        self.add_item(TOPIC_PUT_SIZE, topic, bytes);
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
        let key = format!("{topic}@{group}");
        self.add_item(GROUP_GET_NUMS, &key, msgs);
        self.add_item(GROUP_GET_SIZE, &key, bytes);
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

    /// "tps10 tps60 tps600" for one counter of the samples.
    fn tps(&self, pick: fn(&(u64, u64, u64, u64, u64)) -> u64) -> String {
        let samples = self.samples.lock().unwrap();
        let Some(last) = samples.back() else { return "0.00 0.00 0.00".into() };
        let at = |secs: u64| {
            let first = samples.iter().find(|s| s.0 + secs >= last.0).unwrap_or(last);
            let span = (last.0 - first.0).max(1) as f64;
            (pick(last) - pick(first)) as f64 / span
        };
        format!("{:.2} {:.2} {:.2}", at(10), at(60), at(600))
    }

    pub fn put_tps(&self) -> String {
        self.tps(|s| s.1)
    }

    /// (put total, put bytes total, runtime info pairs).
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        let put = self.put_total.load(Ordering::Relaxed);
        let size = self.put_size_total.load(Ordering::Relaxed);
        let up = self.started.elapsed().as_secs();
        let total_get = |s: &(u64, u64, u64, u64, u64)| s.2 + s.3;
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
        let items = self.items.lock().unwrap();
        let item = items.get(name)?.get(key)?;
        let now = self.now_sec();
        let w = |secs| {
            let (sum, tps, avgpt) = item.window(now, secs);
            serde_json::json!({"avgpt": avgpt, "sum": sum, "tps": tps})
        };
        Some(serde_json::json!({"statsDay": w(DAY_SECS), "statsHour": w(3600), "statsMinute": w(60)}))
    }

    pub fn group_get_tps(&self, topic: &str, group: &str) -> f64 {
        let items = self.items.lock().unwrap();
        items
            .get(GROUP_GET_NUMS)
            .and_then(|m| m.get(&format!("{topic}@{group}")))
            .map_or(0.0, |i| i.window(self.now_sec(), 60).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        s.sample();
        let info: HashMap<_, _> = s.runtime_info().into_iter().collect();
        assert_eq!(info["putMessageTimesTotal"], "15");
        assert_eq!(info["putTps"].split(' ').count(), 3);
    }
}

//! Prometheus metrics, built in: what rocketmq-exporter would scrape through
//! the admin API, under the exporter's names and labels (so its Grafana
//! dashboards work unchanged), plus ferromq's own (request latency per code,
//! connections, held pulls, process RSS and CPU).
//!
//! Everything but the latency histogram is read from the broker's state at
//! scrape time by one [`Collector`]; the histogram is fed by a request hook.
//! [`serve`] answers `GET /metrics` on `metricsPort` (0: off).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::stats::{GROUP_GET_NUMS, GROUP_GET_SIZE, TOPIC_PUT_NUMS, TOPIC_PUT_SIZE};
use super::Broker;
use crate::metrics::{family, gauge, Labels};
use crate::remoting::limits::Budget;

const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";

type CodeLabel = [(&'static str, i32); 1];
type HistogramFamily = Family<CodeLabel, Histogram, fn() -> Histogram>;

/// Metrics updated as requests are served (the rest is read at scrape time).
#[derive(Clone)]
pub struct RequestMetrics {
    latency: HistogramFamily,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        fn histogram() -> Histogram {
            // 0.1 ms .. ~6.5 s.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 17))
        }
        RequestMetrics { latency: Family::new_with_constructor(histogram) }
    }
}

impl RequestMetrics {
    /// Records one answered request of `code` that took `secs`.
    pub fn observe(&self, code: i32, secs: f64) {
        self.latency.get_or_create(&[("code", code)]).observe(secs);
    }
}

/// The registry a scrape encodes: the latency histogram and the broker collector.
pub fn registry(broker: &Arc<Broker>, budget: Option<Arc<Budget>>) -> Registry {
    let mut r = Registry::default();
    r.register(
        "ferromq_request_duration_seconds",
        "Time from a request's arrival to its response, by request code",
        broker.metrics.latency.clone(),
    );
    r.register_collector(Box::new(BrokerCollector { broker: Arc::downgrade(broker), budget }));
    r
}

/// Reads the broker's state on every scrape.
struct BrokerCollector {
    broker: Weak<Broker>,
    budget: Option<Arc<Budget>>,
}

impl std::fmt::Debug for BrokerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerCollector")
    }
}

/// (topic, group) → sum of committed offsets, and per queue (queue, offset).
type GroupOffsets = BTreeMap<(String, String), Vec<(i32, i64)>>;

impl Collector for BrokerCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let Some(b) = self.broker.upgrade() else { return Ok(()) };
        let cfg = b.cfg();
        let (cluster, broker) = (cfg.cluster_name.clone(), cfg.broker_name.clone());
        let topic_l = |t: &str| -> Labels { vec![("cluster", cluster.clone()), ("broker", broker.clone()), ("topic", t.to_string())] };
        let group_l = |t: &str, g: &str| -> Labels {
            vec![("cluster", cluster.clone()), ("broker", broker.clone()), ("topic", t.to_string()), ("group", g.to_string())]
        };

        // Per topic: puts (exporter: statsMinute tps of TOPIC_PUT_NUMS / _SIZE) and totals.
        let puts = b.stats.items(TOPIC_PUT_NUMS);
        let put_sizes = b.stats.items(TOPIC_PUT_SIZE);
        gauge(&mut enc, "rocketmq_producer_tps", "TopicPutNums", &puts.iter().map(|(t, _, tps)| (topic_l(t), *tps)).collect::<Vec<_>>())?;
        gauge(
            &mut enc,
            "rocketmq_producer_message_size",
            "TopicPutMessageSize",
            &put_sizes.iter().map(|(t, _, tps)| (topic_l(t), *tps)).collect::<Vec<_>>(),
        )?;
        family(
            &mut enc,
            "ferromq_topic_put_messages",
            "Messages put to a topic since start",
            MetricType::Counter,
            &puts.iter().map(|(t, n, _)| (topic_l(t), *n as f64)).collect::<Vec<_>>(),
        )?;
        family(
            &mut enc,
            "ferromq_topic_put_bytes",
            "Stored message bytes put to a topic since start",
            MetricType::Counter,
            &put_sizes.iter().map(|(t, n, _)| (topic_l(t), *n as f64)).collect::<Vec<_>>(),
        )?;

        // Per topic: max offsets summed over queues (the exporter's topic offset).
        let mut max_offsets: HashMap<String, HashMap<i32, i64>> = HashMap::new();
        for t in b.topics.snapshot().topic_config_table.values() {
            let queues = max_offsets.entry(t.topic_name.clone()).or_default();
            for q in 0..t.write_queue_nums.max(t.read_queue_nums) {
                queues.insert(q, b.store.max_offset_in_queue(&t.topic_name, q).max(0));
            }
        }
        let (mut plain, mut retry, mut dlq) = (vec![], vec![], vec![]);
        let mut sorted: Vec<_> = max_offsets.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (topic, queues) in sorted {
            let sum = queues.values().sum::<i64>() as f64;
            if let Some(group) = topic.strip_prefix(DLQ_PREFIX) {
                dlq.push((vec![("cluster", cluster.clone()), ("broker", broker.clone()), ("group", group.to_string())], sum));
            } else if topic.starts_with(RETRY_PREFIX) {
                retry.push((topic_l(topic), sum));
            } else {
                plain.push((topic_l(topic), sum));
            }
        }
        gauge(&mut enc, "rocketmq_producer_offset", "TopicOffset", &plain)?;
        if let Some(timer) = &b.timer {
            let pending: Vec<_> = timer.pending().iter().map(|(t, n)| (topic_l(t), *n as f64)).collect();
            gauge(&mut enc, "ferromq_timer_pending", "Timer messages waiting for their time, per real topic", &pending)?;
        }
        gauge(&mut enc, "rocketmq_topic_retry_offset", "TopicRetryOffset", &retry)?;
        gauge(&mut enc, "rocketmq_topic_dlq_offset", "TopicDLQOffset", &dlq)?;

        // Per topic@group: gets.
        let split = |k: &str| k.split_once('@').map(|(t, g)| (t.to_string(), g.to_string()));
        let gets = b.stats.items(GROUP_GET_NUMS);
        let get_sizes = b.stats.items(GROUP_GET_SIZE);
        let per_group = |items: &[(String, u64, f64)], total: bool| -> Vec<(Labels, f64)> {
            items
                .iter()
                .filter_map(|(k, n, tps)| split(k).map(|(t, g)| (group_l(&t, &g), if total { *n as f64 } else { *tps })))
                .collect()
        };
        gauge(&mut enc, "rocketmq_consumer_tps", "GroupGetNums", &per_group(&gets, false))?;
        gauge(&mut enc, "rocketmq_consumer_message_size", "GroupGetMessageSize", &per_group(&get_sizes, false))?;
        family(&mut enc, "ferromq_group_get_messages", "Messages pulled by a group from a topic since start", MetricType::Counter, &per_group(&gets, true))?;
        family(&mut enc, "ferromq_group_get_bytes", "Message bytes pulled by a group from a topic since start", MetricType::Counter, &per_group(&get_sizes, true))?;

        // Per topic@group: committed offsets, lag, and the age of the oldest unconsumed message.
        let mut offsets: GroupOffsets = BTreeMap::new();
        for (topic, group) in b.offsets.topic_groups() {
            let queues = max_offsets.get(&topic).map(|q| q.keys().copied().collect::<Vec<_>>()).unwrap_or_default();
            let entry = offsets.entry((topic.clone(), group.clone())).or_default();
            for q in queues {
                let off = b.offsets.query(&group, &topic, q);
                if off >= 0 {
                    entry.push((q, off));
                }
            }
        }
        let now = crate::store::now_ms();
        let (mut consumer_offset, mut diffs, mut retry_diffs, mut dlq_diffs, mut latency) = (vec![], vec![], vec![], vec![], vec![]);
        for ((topic, group), queues) in &offsets {
            let committed: i64 = queues.iter().map(|(_, o)| o).sum();
            consumer_offset.push((group_l(topic, group), committed as f64));
            let mut diff = 0i64;
            let mut lag_ms = 0i64;
            for (q, off) in queues {
                let max = max_offsets.get(topic).and_then(|m| m.get(q)).copied().unwrap_or(0);
                diff += (max - off).max(0);
                if max > *off {
                    let stored = b.store.message_store_timestamp(topic, *q, *off);
                    if stored > 0 {
                        lag_ms = lag_ms.max(now - stored);
                    }
                }
            }
            let online = b.consumers.with_group(group, |g| g.client_ids().len()).unwrap_or(0);
            // MessageModel ordinals as the exporter prints them: BROADCASTING 0, CLUSTERING 1.
            let model = b.consumers.with_group(group, |g| g.message_model.clone()).unwrap_or_default();
            let model = if model == "BROADCASTING" { "0" } else { "1" };
            let labels = vec![
                ("group", group.clone()),
                ("topic", topic.clone()),
                ("countOfOnlineConsumers", online.to_string()),
                ("msgModel", model.to_string()),
            ];
            if topic.starts_with(RETRY_PREFIX) {
                retry_diffs.push((labels, diff as f64));
            } else if topic.starts_with(DLQ_PREFIX) {
                dlq_diffs.push((labels, diff as f64));
            } else {
                diffs.push((labels, diff as f64));
            }
            latency.push((group_l(topic, group), lag_ms.max(0) as f64));
        }
        gauge(&mut enc, "rocketmq_consumer_offset", "GroupBrokerTotalOffset", &consumer_offset)?;
        gauge(&mut enc, "rocketmq_group_diff", "GroupDiff", &diffs)?;
        gauge(&mut enc, "rocketmq_group_retrydiff", "GroupRetryDiff", &retry_diffs)?;
        gauge(&mut enc, "rocketmq_group_dlqdiff", "GroupDLQDiff", &dlq_diffs)?;
        gauge(&mut enc, "rocketmq_group_get_latency_by_storetime", "GroupGetLatencyByStoreTime", &latency)?;

        // Broker-wide, as the exporter's BrokerNums and BrokerRuntime families.
        let s = b.stats.snapshot();
        let addr = cfg.broker_addr();
        let nums_l: Labels = vec![("cluster", cluster.clone()), ("brokerIP", addr.clone()), ("broker", broker.clone())];
        gauge(&mut enc, "rocketmq_broker_tps", "BrokerPutNums", &[(nums_l.clone(), s.put_tps[1])])?;
        gauge(&mut enc, "rocketmq_broker_qps", "BrokerGetNums", &[(nums_l, s.get_transferred_tps[1])])?;
        let rt_l: Labels = vec![
            ("cluster", cluster.clone()),
            ("brokerIP", addr),
            ("brokerHost", broker.clone()),
            ("des", "V4_9_7".to_string()),
            ("boottime", b.stats.boot_timestamp.to_string()),
            ("broker_version", crate::remoting::command::SERVER_VERSION.to_string()),
        ];
        let usage = |p: &std::path::Path| crate::store::os::disk_usage(p).unwrap_or(0.0);
        let (cap_total, cap_free) = crate::store::os::disk_space(&cfg.store_root).unwrap_or((0, 0));
        let put_avg = if s.put_total > 0 { s.put_size_total as f64 / s.put_total as f64 } else { 0.0 };
        let mut runtime: Vec<(String, f64)> = [
            ("rocketmq_brokeruntime_msg_put_total_today_now", s.put_total as f64),
            ("rocketmq_brokeruntime_msg_gettotal_today_now", s.get_transferred as f64),
            ("rocketmq_brokeruntime_put_message_size_total", s.put_size_total as f64),
            ("rocketmq_brokeruntime_put_message_average_size", put_avg),
            ("rocketmq_brokeruntime_putmessage_times_total", s.put_total as f64),
            ("rocketmq_brokeruntime_putmessage_entire_time_max", s.put_time_max_ms as f64),
            ("rocketmq_brokeruntime_earliest_message_timestamp", b.store.earliest_store_time() as f64),
            ("rocketmq_brokeruntime_commitlog_disk_ratio", usage(&cfg.commit_log_dir)),
            ("rocketmq_brokeruntime_consumequeue_disk_ratio", usage(&cfg.store_root)),
            ("rocketmq_brokeruntime_commitlogdir_capacity_total", cap_total as f64),
            ("rocketmq_brokeruntime_commitlogdir_capacity_free", cap_free as f64),
            ("rocketmq_brokeruntime_commitlog_maxoffset", b.store.commit_log_max_offset() as f64),
            ("rocketmq_brokeruntime_commitlog_minoffset", b.store.commit_log_min_offset() as f64),
            ("rocketmq_brokeruntime_put_latency_99", s.put_latency_99),
            ("rocketmq_brokeruntime_put_latency_999", s.put_latency_999),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        for (prefix, tps) in [
            ("put", s.put_tps),
            ("getfound", s.get_found_tps),
            ("gettotal", s.get_total_tps),
            ("gettransfered", s.get_transferred_tps),
            ("getmiss", s.get_miss_tps),
        ] {
            for (window, v) in ["10", "60", "600"].iter().zip(tps) {
                runtime.push((format!("rocketmq_brokeruntime_{prefix}_tps{window}"), v));
            }
        }
        const PMDT: [&str; 13] = [
            "0ms", "0to10ms", "10to50ms", "50to100ms", "100to200ms", "200to500ms", "500to1s", "1to2s", "2to3s", "3to4s", "4to5s",
            "5to10s", "10stomore",
        ];
        for (suffix, n) in PMDT.iter().zip(s.put_time_buckets) {
            runtime.push((format!("rocketmq_brokeruntime_pmdt_{suffix}"), n as f64));
        }
        for (name, v) in runtime {
            gauge(&mut enc, &name, &name, &[(rt_l.clone(), v)])?;
        }

        // ferromq's own.
        let own: Labels = vec![("cluster", cluster.clone()), ("broker", broker.clone())];
        let g = |enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64| gauge(enc, name, help, &[(own.clone(), v)]);
        g(&mut enc, "ferromq_commitlog_max_offset", "Commit log max physical offset", b.store.commit_log_max_offset() as f64)?;
        g(&mut enc, "ferromq_commitlog_min_offset", "Commit log min physical offset", b.store.commit_log_min_offset() as f64)?;
        g(&mut enc, "ferromq_disk_used_ratio", "Used share of the disk holding the commit log", usage(&cfg.commit_log_dir))?;
        g(&mut enc, "ferromq_disk_full", "1 while the store refuses writes for lack of disk", b.store.is_disk_full() as u8 as f64)?;
        g(&mut enc, "ferromq_pull_held", "Pull requests held for new messages (long polling)", b.pull_hold.held() as f64)?;
        if let Some(budget) = &self.budget {
            g(&mut enc, "ferromq_connections", "Open client connections (both broker ports)", budget.connections() as f64)?;
        }
        family(&mut enc, "ferromq_put_failed", "Sends answered with an error", MetricType::Counter, &[(own.clone(), s.put_failed as f64)])?;
        process_metrics(&mut enc)
    }
}

/// The standard `process_*` metrics, from /proc/self.
fn process_metrics(enc: &mut DescriptorEncoder) -> std::fmt::Result {
    let Some(p) = read_proc() else { return Ok(()) };
    let one = |v: f64| [(Labels::new(), v)];
    family(enc, "process_cpu_seconds", "Total user and system CPU time spent in seconds", MetricType::Counter, &one(p.cpu_seconds))?;
    gauge(enc, "process_resident_memory_bytes", "Resident memory size in bytes", &one(p.rss_bytes))?;
    gauge(enc, "process_virtual_memory_bytes", "Virtual memory size in bytes", &one(p.vsize_bytes))?;
    gauge(enc, "process_start_time_seconds", "Start time of the process since unix epoch in seconds", &one(p.start_time_seconds))?;
    gauge(enc, "process_open_fds", "Number of open file descriptors", &one(p.open_fds))?;
    gauge(enc, "process_threads", "Number of OS threads in the process", &one(p.threads))?;
    Ok(())
}

#[derive(Debug, Default, PartialEq)]
struct ProcStats {
    cpu_seconds: f64,
    rss_bytes: f64,
    vsize_bytes: f64,
    start_time_seconds: f64,
    open_fds: f64,
    threads: f64,
}

fn read_proc() -> Option<ProcStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut p = parse_proc(&stat, &status, &boot, ticks)?;
    p.open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as f64).unwrap_or(0.0);
    Some(p)
}

/// Parses /proc/self/stat (fields after the parenthesised name), the VmRSS
/// line of /proc/self/status and btime of /proc/stat.
fn parse_proc(stat: &str, status: &str, proc_stat: &str, ticks: f64) -> Option<ProcStats> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15, threads 20, starttime 22, vsize 23.
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let kb = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse::<f64>().ok())
    };
    let btime = proc_stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0);
    Some(ProcStats {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        rss_bytes: kb("VmRSS:").unwrap_or(0.0) * 1024.0,
        vsize_bytes: field(23).unwrap_or(0.0),
        start_time_seconds: btime + field(22).unwrap_or(0.0) / ticks,
        open_fds: 0.0,
        threads: field(20).unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{render, serve};
    use crate::protocol::header::pull_sys_flag;
    use crate::protocol::topic::TopicConfig;
    use crate::remoting::codes::{request as rc, response};
    use crate::remoting::connection::{ConnectionHandle, Reply, RequestProcessor};
    use crate::remoting::RemotingCommand;

    fn broker(dir: &std::path::Path) -> Arc<Broker> {
        let b = crate::broker::test_broker(dir, &[("brokerClusterName", "C1")]);
        b.topics.update(TopicConfig::new("T", 2, 2, 6)).unwrap();
        b
    }

    async fn process(p: &impl RequestProcessor, req: RemotingCommand) -> RemotingCommand {
        let (conn, _out) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
        match p.process(&conn, req).await {
            Reply::Now(r) => r.unwrap(),
            Reply::Later(wait) => wait.await.unwrap(),
        }
    }

    fn send(queue_id: i32, body: &str) -> RemotingCommand {
        RemotingCommand::request(rc::SEND_MESSAGE, 7)
            .with_ext("producerGroup", "PG")
            .with_ext("topic", "T")
            .with_ext("defaultTopic", "TBW102")
            .with_ext("defaultTopicQueueNums", 4)
            .with_ext("queueId", queue_id)
            .with_ext("sysFlag", 0)
            .with_ext("bornTimestamp", 1)
            .with_ext("flag", 0)
            .with_ext("properties", "TAGS\u{1}A\u{2}")
            .with_body(body.as_bytes().to_vec())
    }

    fn pull() -> RemotingCommand {
        RemotingCommand::request(rc::PULL_MESSAGE, 8)
            .with_ext("consumerGroup", "G")
            .with_ext("topic", "T")
            .with_ext("queueId", 1)
            .with_ext("queueOffset", 0)
            .with_ext("maxMsgNums", 32)
            .with_ext("sysFlag", pull_sys_flag::SUBSCRIPTION)
            .with_ext("commitOffset", 0)
            .with_ext("suspendTimeoutMillis", 5000)
            .with_ext("subscription", "*")
            .with_ext("subVersion", 1)
    }

    /// The value of the sample whose line starts with `prefix` (name and labels).
    fn sample(text: &str, prefix: &str) -> Option<f64> {
        text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
    }

    #[tokio::test]
    async fn text_output_follows_the_exporter_and_moves_with_puts() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let registry = registry(&b, None);
        let before = render(&registry);
        assert!(before.contains("# TYPE rocketmq_producer_offset gauge"), "{before}");
        assert!(before.contains("# TYPE rocketmq_brokeruntime_put_tps10 gauge"));
        assert!(before.contains("# TYPE process_resident_memory_bytes gauge"));
        assert_eq!(sample(&before, r#"rocketmq_producer_offset{cluster="C1",broker="broker-a",topic="T"}"#), Some(0.0));
        assert_eq!(sample(&before, r#"ferromq_topic_put_messages_total{cluster="C1",broker="broker-a",topic="T"}"#), None);

        let p = b.processor();
        for i in 0..3 {
            assert_eq!(process(&*p, send(1, &format!("m{i}"))).await.code, response::SUCCESS);
        }
        assert_eq!(process(&*p, pull()).await.code, response::SUCCESS);
        b.offsets.commit("G", "T", 1, 2);

        let text = render(&registry);
        let t = r#"{cluster="C1",broker="broker-a",topic="T"}"#;
        let tg = r#"{cluster="C1",broker="broker-a",topic="T",group="G"}"#;
        assert_eq!(sample(&text, &format!("rocketmq_producer_offset{t}")), Some(3.0), "{text}");
        assert_eq!(sample(&text, &format!("ferromq_topic_put_messages_total{t}")), Some(3.0));
        // Stored record sizes, as the Java broker counts TOPIC_PUT_SIZE.
        assert!(sample(&text, &format!("ferromq_topic_put_bytes_total{t}")).unwrap() > 6.0);
        assert!(sample(&text, &format!("rocketmq_producer_tps{t}")).unwrap() > 0.0);
        assert_eq!(sample(&text, &format!("ferromq_group_get_messages_total{tg}")), Some(3.0));
        assert!(sample(&text, &format!("rocketmq_consumer_tps{tg}")).unwrap() > 0.0);
        assert_eq!(sample(&text, &format!("rocketmq_consumer_offset{tg}")), Some(2.0));
        assert_eq!(
            sample(&text, r#"rocketmq_group_diff{group="G",topic="T",countOfOnlineConsumers="0",msgModel="1"}"#),
            Some(1.0)
        );
        assert!(sample(&text, "rocketmq_brokeruntime_commitlog_maxoffset{").unwrap() > 0.0);
        assert_eq!(sample(&text, "rocketmq_brokeruntime_putmessage_times_total{"), Some(3.0));
        let code = format!(r#"ferromq_request_duration_seconds_count{{code="{}"}}"#, rc::SEND_MESSAGE);
        assert_eq!(sample(&text, &code), Some(3.0), "{text}");
        assert!(text.contains(&format!(r#"ferromq_request_duration_seconds_bucket{{code="{}",le="+Inf"}} 3"#, rc::SEND_MESSAGE)));
        assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 0.0);
    }

    #[test]
    fn serves_metrics_over_http() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let at = serve("127.0.0.1:0", registry(&b, None)).unwrap();
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(at).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("text/plain; version=0.0.4"));
        assert!(out.contains("rocketmq_broker_tps{"));
    }

    #[test]
    fn parses_proc_files() {
        let stat = "1234 (ferro mq) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 123456789 2048 ...";
        let status = "Name:\tferromq\nVmRSS:\t   8192 kB\nThreads:\t7\n";
        let p = parse_proc(stat, status, "cpu 1 2 3\nbtime 1700000000\n", 100.0).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.rss_bytes, 8192.0 * 1024.0);
        assert_eq!(p.threads, 7.0);
        assert_eq!(p.start_time_seconds, 1_700_000_010.0);
        assert_eq!(p.vsize_bytes, 123456789.0);
    }

    #[test]
    fn own_process_is_readable() {
        let p = read_proc().expect("/proc/self");
        assert!(p.rss_bytes > 0.0 && p.threads >= 1.0 && p.open_fds > 0.0);
    }
}

//! Configuration in RocketMQ's own properties format (`broker.conf`,
//! `namesrv.conf`), with the Java broker's key names and defaults.

mod properties;
pub mod runtime_update;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use tls::tls_settings;
pub use properties::{
    escape as escape_property, parse_properties, store_line, try_parse_properties, update_in_place, MalformedEscape,
    RewriteError,
};

use crate::namesrv::NamesrvLimits;
use crate::remoting::limits::Limits;
use crate::store::ha::{BrokerRole, HaConfig};
use crate::store::{FlushDiskType, StoreConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("cannot read config file {0}: {1}")]
    Syntax(PathBuf, MalformedEscape),
    #[error("config key {key}: cannot parse {value:?} as {ty}")]
    BadValue { key: String, value: String, ty: &'static str },
}

/// Effective settings: the defaults overlaid with the file's values.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<String, String>,
}

impl Settings {
    fn with_defaults(defaults: Vec<(&str, String)>) -> Self {
        Settings { values: defaults.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    /// Applies `key=value` pairs; RocketMQ 4.3's spellings map to 4.9's.
    /// Values are trimmed as `String.trim` trims (characters up to U+0020),
    /// as the Java broker's `MixAll.properties2Object` trims what it reads;
    /// the properties parser itself keeps them as written.
    pub fn apply(&mut self, pairs: impl IntoIterator<Item = (String, String)>) {
        for (k, v) in pairs {
            let k = match k.as_str() {
                "mapedFileSizeCommitLog" => "mappedFileSizeCommitLog".to_string(),
                "mapedFileSizeConsumeQueue" => "mappedFileSizeConsumeQueue".to_string(),
                _ => k,
            };
            self.values.insert(k, v.trim_matches(|c| c <= ' ').to_string());
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn str(&self, key: &str) -> String {
        self.get(key).unwrap_or("").to_string()
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, ty: &'static str) -> Result<T, ConfigError> {
        let v = self.get(key).unwrap_or("");
        v.trim().parse().map_err(|_| ConfigError::BadValue { key: key.into(), value: v.into(), ty })
    }

    pub fn i64(&self, key: &str) -> Result<i64, ConfigError> {
        self.parse(key, "a number")
    }

    pub fn f64(&self, key: &str) -> Result<f64, ConfigError> {
        self.parse(key, "a number")
    }

    pub fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        self.parse(key, "true or false")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
    }

    /// `key=value` lines, as `mqbroker -p` prints them.
    pub fn print(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "broker-a".into())
}

pub fn load_file(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
    try_parse_properties(&text).map_err(|e| ConfigError::Syntax(path.into(), e))
}

pub const DEFAULT_MESSAGE_DELAY_LEVEL: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// The broker's defaults (`BrokerConfig`, `MessageStoreConfig`, `NettyServerConfig`).
pub fn broker_defaults() -> Settings {
    let root = home().join("store");
    let d = |s: &str| s.to_string();
    Settings::with_defaults(vec![
        ("brokerClusterName", d("DefaultCluster")),
        ("brokerName", hostname()),
        ("brokerId", d("0")),
        ("brokerIP1", d("127.0.0.1")),
        ("namesrvAddr", std::env::var("NAMESRV_ADDR").unwrap_or_default()),
        ("listenPort", d("10911")),
        ("metricsPort", d("0")),
        ("metricsListenAddress", d("0.0.0.0")),
        ("storePathRootDir", root.display().to_string()),
        ("mappedFileSizeCommitLog", d("1073741824")),
        ("mappedFileSizeConsumeQueue", d("6000000")),
        ("autoCreateTopicEnable", d("true")),
        ("autoCreateSubscriptionGroup", d("true")),
        ("defaultTopicQueueNums", d("8")),
        ("maxMessageSize", d("4194304")),
        ("flushDiskType", d("ASYNC_FLUSH")),
        ("flushIntervalCommitLog", d("500")),
        ("syncFlushTimeout", d("5000")),
        ("diskMaxUsedSpaceRatio", d("75")),
        ("diskSpaceCleanForciblyRatio", d("0.85")),
        ("diskSpaceWarningLevelRatio", d("0.90")),
        ("maxHashSlotNum", d("5000000")),
        ("maxIndexNum", d("20000000")),
        ("brokerRole", d("ASYNC_MASTER")),
        // haListenPort defaults to listenPort + 1, brokerIP2 to brokerIP1;
        // haMasterAddress is unset (Java prints no null setting).
        ("haSendHeartbeatInterval", d("5000")),
        ("haHousekeepingInterval", d("20000")),
        ("haTransferBatchSize", d("32768")),
        ("haSlaveFallbehindMax", d("268435456")),
        ("slaveReadEnable", d("false")),
        ("accessMessageInMemoryMaxRatio", d("40")),
        ("commitLogWarmAheadMb", crate::store::DEFAULT_WARM_AHEAD_MB.to_string()),
        ("deleteWhen", d("04")),
        ("fileReservedTime", d("72")),
        ("messageDelayLevel", d(DEFAULT_MESSAGE_DELAY_LEVEL)),
        ("registerNameServerPeriod", d("30000")),
        ("compressedRegister", d("false")),
        ("longPollingEnable", d("true")),
        ("shortPollingTimeMills", d("1000")),
        ("notifyConsumerIdsChangedEnable", d("true")),
        ("traceOn", d("true")),
        ("regionId", d("DefaultRegion")),
        ("brokerPermission", d("6")),
        ("clusterTopicEnable", d("true")),
        ("brokerTopicEnable", d("true")),
        ("rejectTransactionMessage", d("false")),
        ("transactionTimeOut", d("6000")),
        ("transactionCheckMax", d("15")),
        ("transactionCheckInterval", d("60000")),
        ("enablePropertyFilter", d("false")),
        ("channelNotActiveInterval", d("120000")),
        ("frameMaxLength", d("16777216")),
        ("maxPullSuspendMillis", d("60000")),
        ("maxHeldPullRequests", d("65536")),
        ("maxHeldPullRequestsPerConnection", d("8192")),
        ("maxTopicNums", d("100000")),
        ("maxSubscriptionGroupNums", d("100000")),
        ("maxQueueNumsPerTopic", d("1024")),
        ("timerWheelEnable", d("true")),
        ("timerPrecisionMs", d("1000")),
        ("timerMaxDelaySec", d("259200")),
        ("traceTopicEnable", d("false")),
        ("msgTraceTopicName", d("RMQ_SYS_TRACE_TOPIC")),
        ("aclEnable", d("false")),
        ("aclConfigFile", d("")),
        ("rocketmqHome", d("")),
        ("namesrvAccessKey", d("")),
        ("namesrvSecretKey", d("")),
    ]
    .into_iter()
    .chain(server_limit_defaults())
    .collect())
}

/// Bounds every server port takes (see `remoting::limits`).
fn server_limit_defaults() -> Vec<(&'static str, String)> {
    let l = Limits::default();
    vec![
        ("writeBufferHighWaterMark", l.write_high_water.to_string()),
        ("writeBufferLowWaterMark", l.write_low_water.to_string()),
        ("serverMaxConnections", l.max_connections.to_string()),
        ("serverMaxBufferedBytes", l.max_buffered_bytes.to_string()),
        ("serverMaxInFlightPerConnection", l.max_in_flight.to_string()),
    ]
}

/// A positive count or size, refused when zero or negative.
fn positive(s: &Settings, key: &str) -> Result<usize, ConfigError> {
    match s.i64(key)? {
        n if n > 0 => Ok(n as usize),
        n => Err(ConfigError::BadValue { key: key.into(), value: n.to_string(), ty: "a positive number" }),
    }
}

/// The remoting server's bounds, read alike by broker and name server (in
/// standalone mode the name server takes them from the broker's file).
pub const SERVER_LIMIT_KEYS: [&str; 6] = [
    "frameMaxLength",
    "writeBufferHighWaterMark",
    "writeBufferLowWaterMark",
    "serverMaxConnections",
    "serverMaxBufferedBytes",
    "serverMaxInFlightPerConnection",
];

fn server_limits(s: &Settings) -> Result<Limits, ConfigError> {
    let [frame, high, low, connections, buffered, in_flight] = SERVER_LIMIT_KEYS;
    Ok(Limits {
        max_frame: positive(s, frame)?,
        write_high_water: positive(s, high)?,
        write_low_water: positive(s, low)?,
        max_connections: positive(s, connections)?,
        max_buffered_bytes: positive(s, buffered)?,
        max_in_flight: positive(s, in_flight)?,
    })
}

pub fn namesrv_defaults() -> Settings {
    let d = |s: &str| s.to_string();
    Settings::with_defaults(vec![
        ("listenPort", d("9876")),
        ("kvConfigPath", home().join("namesrv").join("kvConfig.json").display().to_string()),
        ("orderMessageEnable", d("false")),
        ("brokerExpiredMillis", d("120000")),
        ("metricsPort", d("0")),
        ("metricsListenAddress", d("0.0.0.0")),
        ("frameMaxLength", d("16777216")),
        ("namesrvAclEnable", d("false")),
        ("aclConfigFile", d("")),
        ("rocketmqHome", d("")),
    ]
    .into_iter()
    .chain(server_limit_defaults())
    .chain(namesrv_limit_defaults())
    .collect())
}

/// The name server's own bounds (see `namesrv::NamesrvLimits`). A standalone
/// server's name server takes these from its broker.conf.
pub const NAMESRV_LIMIT_KEYS: [&str; 4] =
    ["namesrvMaxBrokers", "namesrvMaxTopicRoutes", "namesrvMaxKvConfigs", "namesrvMaxKvConfigBytes"];

fn namesrv_limit_defaults() -> Vec<(&'static str, String)> {
    let l = NamesrvLimits::default();
    let values = [l.max_brokers, l.max_topic_routes, l.max_kv_configs, l.max_kv_config_bytes];
    NAMESRV_LIMIT_KEYS.into_iter().zip(values.map(|v| v.to_string())).collect()
}

fn namesrv_limits(s: &Settings) -> Result<NamesrvLimits, ConfigError> {
    let [brokers, routes, kv, kv_bytes] = NAMESRV_LIMIT_KEYS;
    Ok(NamesrvLimits {
        max_brokers: positive(s, brokers)?,
        max_topic_routes: positive(s, routes)?,
        max_kv_configs: positive(s, kv)?,
        max_kv_config_bytes: positive(s, kv_bytes)?,
    })
}

/// The broker settings ferromq acts on, typed.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub cluster_name: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub broker_ip: String,
    pub namesrv_addrs: Vec<String>,
    pub listen_port: u16,
    /// Prometheus `/metrics` port (0: off) and address.
    pub metrics_port: u16,
    pub metrics_listen_address: String,
    pub store_root: PathBuf,
    pub commit_log_dir: PathBuf,
    pub commit_log_file_size: usize,
    pub consume_queue_file_size: usize,
    pub auto_create_topic: bool,
    pub auto_create_subscription_group: bool,
    pub default_topic_queue_nums: i32,
    pub max_message_size: usize,
    pub flush_interval_ms: u64,
    pub register_period_ms: u64,
    /// `compressedRegister`: registration bodies go zlib-compressed.
    pub compressed_register: bool,
    pub long_polling: bool,
    pub short_polling_ms: u64,
    pub notify_consumer_ids_changed: bool,
    pub trace_on: bool,
    pub region_id: String,
    pub broker_permission: i32,
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    pub reject_transaction_message: bool,
    pub channel_not_active_ms: u64,
    pub limits: Limits,
    pub max_pull_suspend_ms: u64,
    pub max_held_pulls: usize,
    pub max_held_pulls_per_connection: usize,
    pub max_topic_nums: usize,
    pub max_subscription_group_nums: usize,
    pub max_queue_nums_per_topic: i32,
    /// `traceTopicEnable`: create `msgTraceTopicName` (the message trace topic) at start.
    pub trace_topic_enable: bool,
    pub msg_trace_topic_name: String,
    pub delay_levels_ms: Vec<i64>,
    /// `timerWheelEnable`: honour the timer properties (see `broker::timer`).
    pub timer_wheel_enable: bool,
    /// `timerPrecisionMs` and `timerMaxDelaySec`.
    pub timer: crate::store::timer::TimerConfig,
    pub enable_property_filter: bool,
    pub transaction_timeout_ms: i64,
    pub transaction_check_max: i32,
    pub transaction_check_interval_ms: u64,
    pub flush_disk_type: FlushDiskType,
    pub sync_flush_timeout_ms: u64,
    pub file_reserved_hours: u64,
    pub delete_when: Vec<u32>,
    pub disk_max_used_ratio: f64,
    pub disk_clean_forcibly_ratio: f64,
    pub disk_warning_ratio: f64,
    pub max_hash_slot_num: usize,
    pub max_index_num: usize,
    /// `brokerRole`; `ha` also carries it to the store.
    pub broker_role: BrokerRole,
    /// `brokerIP2`: the address slaves reach the HA port on.
    pub broker_ip2: String,
    pub ha: HaConfig,
    /// `slaveReadEnable`: pulls far behind are pointed at a slave
    /// (`suggestWhichBrokerId`).
    pub slave_read_enable: bool,
    pub access_message_in_memory_max_ratio: u32,
    /// `commitLogWarmAheadMb`, in bytes (0: off).
    pub commit_log_warm_ahead: usize,
    /// The `-c` file, where run-time config changes are written back.
    pub config_file: Option<PathBuf>,
    /// `aclEnable`: check every request against the ACL files (see `acl`).
    pub acl_enable: bool,
    /// The ACL files: `aclConfigFile`, else `${rocketmqHome}/conf/plain_acl.yml`
    /// (`rocketmqHome` defaults to `ROCKETMQ_HOME`) plus `conf/acl/*.yml`.
    pub acl_paths: Option<crate::acl::AclPaths>,
    /// `namesrvAccessKey` / `namesrvSecretKey`: the account this broker signs
    /// its name-server requests with (for a name server with ACL on).
    pub namesrv_credentials: Option<(String, String)>,
    pub settings: Settings,
}

/// `rocketmqHome` (else `ROCKETMQ_HOME`) and `aclConfigFile`, as the ACL files' paths.
fn acl_paths(s: &Settings) -> Option<crate::acl::AclPaths> {
    crate::acl::AclPaths::resolve(s.get("rocketmqHome"), s.get("aclConfigFile"))
}

/// Parses `messageDelayLevel` ("1s 5s 10s 30s 1m …"): units s, m, h, d, as
/// `ScheduleMessageService.parseDelayLevel` accepts.
pub fn parse_delay_levels(s: &str) -> Result<Vec<i64>, ConfigError> {
    let bad = || ConfigError::BadValue { key: "messageDelayLevel".into(), value: s.into(), ty: "levels like 1s 5m 2h" };
    s.split_whitespace()
        .map(|level| {
            let (num, unit) = level.split_at(level.len() - 1);
            let factor = match unit {
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            num.parse::<i64>().map(|n| n * factor).map_err(|_| bad())
        })
        .collect()
}

/// `timerPrecisionMs` (100 ms .. 60 s) and `timerMaxDelaySec` (1 s .. 30 days).
fn timer_config(s: &Settings) -> Result<crate::store::timer::TimerConfig, ConfigError> {
    let precision = s.i64("timerPrecisionMs")?;
    if !(100..=60_000).contains(&precision) {
        return Err(ConfigError::BadValue { key: "timerPrecisionMs".into(), value: precision.to_string(), ty: "ms from 100 to 60000" });
    }
    let max_delay = s.i64("timerMaxDelaySec")?;
    if !(1..=30 * 86_400).contains(&max_delay) {
        return Err(ConfigError::BadValue { key: "timerMaxDelaySec".into(), value: max_delay.to_string(), ty: "seconds from 1 to 2592000" });
    }
    Ok(crate::store::timer::TimerConfig { precision_ms: precision, max_delay_ms: max_delay * 1000 })
}

pub fn split_namesrv_addrs(s: &str) -> Vec<String> {
    s.split(';').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect()
}

/// `brokerRole` and the HA keys; a master's `brokerId` is 0 and a slave's
/// must be positive, as `BrokerStartup` enforces.
fn ha_config(s: &Settings, listen_port: u16) -> Result<(BrokerRole, i64, HaConfig), ConfigError> {
    let role = BrokerRole::parse(&s.str("brokerRole")).ok_or_else(|| ConfigError::BadValue {
        key: "brokerRole".into(),
        value: s.str("brokerRole"),
        ty: "ASYNC_MASTER, SYNC_MASTER or SLAVE",
    })?;
    let broker_id = match (role, s.i64("brokerId")?) {
        (BrokerRole::Slave, id) if id <= 0 => {
            return Err(ConfigError::BadValue { key: "brokerId".into(), value: id.to_string(), ty: "a slave's brokerId, > 0" })
        }
        (BrokerRole::Slave, id) => id,
        _ => 0,
    };
    let listen = match s.get("haListenPort").filter(|v| !v.is_empty()) {
        Some(_) => s.i64("haListenPort")? as u16,
        None => listen_port.wrapping_add(1),
    };
    let ha = HaConfig {
        role,
        listen_port: listen,
        master_address: Some(s.str("haMasterAddress")).filter(|a| a.len() >= 6),
        send_heartbeat_interval_ms: positive(s, "haSendHeartbeatInterval")? as u64,
        housekeeping_interval_ms: positive(s, "haHousekeepingInterval")? as u64,
        transfer_batch_size: positive(s, "haTransferBatchSize")?,
        slave_fallbehind_max: positive(s, "haSlaveFallbehindMax")? as i64,
    };
    Ok((role, broker_id, ha))
}

impl BrokerConfig {
    pub fn from_settings(s: Settings) -> Result<Self, ConfigError> {
        let (broker_role, broker_id, ha) = ha_config(&s, s.i64("listenPort")? as u16)?;
        let root = PathBuf::from(s.str("storePathRootDir"));
        let commit_log_dir = s.get("storePathCommitLog").map(PathBuf::from).unwrap_or_else(|| root.join("commitlog"));
        Ok(BrokerConfig {
            cluster_name: s.str("brokerClusterName"),
            broker_name: s.str("brokerName"),
            broker_id,
            broker_ip: s.str("brokerIP1"),
            broker_ip2: s.get("brokerIP2").filter(|v| !v.is_empty()).unwrap_or(s.get("brokerIP1").unwrap_or("")).to_string(),
            broker_role,
            ha,
            slave_read_enable: s.bool("slaveReadEnable")?,
            access_message_in_memory_max_ratio: s.i64("accessMessageInMemoryMaxRatio")?.clamp(0, 100) as u32,
            commit_log_warm_ahead: (s.i64("commitLogWarmAheadMb")?.clamp(0, 4096) as usize) << 20,
            namesrv_addrs: split_namesrv_addrs(&s.str("namesrvAddr")),
            listen_port: s.i64("listenPort")? as u16,
            metrics_port: s.i64("metricsPort")? as u16,
            metrics_listen_address: s.str("metricsListenAddress"),
            store_root: root,
            commit_log_dir,
            commit_log_file_size: s.i64("mappedFileSizeCommitLog")? as usize,
            consume_queue_file_size: s.i64("mappedFileSizeConsumeQueue")? as usize,
            auto_create_topic: s.bool("autoCreateTopicEnable")?,
            auto_create_subscription_group: s.bool("autoCreateSubscriptionGroup")?,
            default_topic_queue_nums: s.i64("defaultTopicQueueNums")? as i32,
            max_message_size: s.i64("maxMessageSize")? as usize,
            flush_interval_ms: s.i64("flushIntervalCommitLog")? as u64,
            register_period_ms: s.i64("registerNameServerPeriod")?.clamp(10_000, 60_000) as u64,
            compressed_register: s.bool("compressedRegister")?,
            long_polling: s.bool("longPollingEnable")?,
            short_polling_ms: s.i64("shortPollingTimeMills")? as u64,
            notify_consumer_ids_changed: s.bool("notifyConsumerIdsChangedEnable")?,
            trace_on: s.bool("traceOn")?,
            region_id: s.str("regionId"),
            broker_permission: s.i64("brokerPermission")? as i32,
            cluster_topic_enable: s.bool("clusterTopicEnable")?,
            broker_topic_enable: s.bool("brokerTopicEnable")?,
            reject_transaction_message: s.bool("rejectTransactionMessage")?,
            channel_not_active_ms: s.i64("channelNotActiveInterval")? as u64,
            limits: server_limits(&s)?,
            max_pull_suspend_ms: positive(&s, "maxPullSuspendMillis")? as u64,
            max_held_pulls: positive(&s, "maxHeldPullRequests")?,
            max_held_pulls_per_connection: positive(&s, "maxHeldPullRequestsPerConnection")?,
            max_topic_nums: positive(&s, "maxTopicNums")?,
            max_subscription_group_nums: positive(&s, "maxSubscriptionGroupNums")?,
            max_queue_nums_per_topic: positive(&s, "maxQueueNumsPerTopic")?.min(i32::MAX as usize) as i32,
            trace_topic_enable: s.bool("traceTopicEnable")?,
            msg_trace_topic_name: s.str("msgTraceTopicName"),
            delay_levels_ms: parse_delay_levels(&s.str("messageDelayLevel"))?,
            timer_wheel_enable: s.bool("timerWheelEnable")?,
            timer: timer_config(&s)?,
            enable_property_filter: s.bool("enablePropertyFilter")?,
            transaction_timeout_ms: s.i64("transactionTimeOut")?,
            transaction_check_max: s.i64("transactionCheckMax")? as i32,
            transaction_check_interval_ms: s.i64("transactionCheckInterval")? as u64,
            flush_disk_type: match s.str("flushDiskType").trim() {
                "SYNC_FLUSH" => FlushDiskType::Sync,
                "ASYNC_FLUSH" => FlushDiskType::Async,
                other => {
                    return Err(ConfigError::BadValue {
                        key: "flushDiskType".into(),
                        value: other.into(),
                        ty: "ASYNC_FLUSH or SYNC_FLUSH",
                    })
                }
            },
            sync_flush_timeout_ms: s.i64("syncFlushTimeout")? as u64,
            file_reserved_hours: s.i64("fileReservedTime")?.max(0) as u64,
            delete_when: s
                .str("deleteWhen")
                .split(';')
                .filter_map(|h| h.trim().parse().ok())
                .collect(),
            disk_max_used_ratio: (s.f64("diskMaxUsedSpaceRatio")? / 100.0).clamp(0.10, 0.95),
            disk_clean_forcibly_ratio: s.f64("diskSpaceCleanForciblyRatio")?,
            disk_warning_ratio: s.f64("diskSpaceWarningLevelRatio")?,
            max_hash_slot_num: s.i64("maxHashSlotNum")?.max(1) as usize,
            max_index_num: s.i64("maxIndexNum")?.max(2) as usize,
            config_file: None,
            acl_enable: s.bool("aclEnable")?,
            acl_paths: acl_paths(&s),
            namesrv_credentials: match (s.str("namesrvAccessKey"), s.str("namesrvSecretKey")) {
                (ak, sk) if !ak.is_empty() && !sk.is_empty() => Some((ak, sk)),
                _ => None,
            },
            settings: s,
        })
    }

    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip, self.listen_port)
    }

    /// What the broker registers as its HA address (`getHAServerAddr`).
    pub fn ha_server_addr(&self) -> String {
        format!("{}:{}", self.broker_ip2, self.ha.listen_port)
    }

    /// The VIP ("fast") port clients with `vipChannelEnabled` send to.
    pub fn fast_listen_port(&self) -> u16 {
        self.listen_port - 2
    }

    pub fn config_dir(&self) -> PathBuf {
        self.store_root.join("config")
    }

    pub fn store_config(&self, store_host: std::net::SocketAddr) -> StoreConfig {
        StoreConfig {
            commit_log_dir: self.commit_log_dir.clone(),
            commit_log_file_size: self.commit_log_file_size,
            consume_queue_file_size: self.consume_queue_file_size,
            max_message_size: self.max_message_size,
            delay_levels_ms: self.delay_levels_ms.clone(),
            flush_disk_type: self.flush_disk_type,
            flush_interval_ms: self.flush_interval_ms,
            sync_flush_timeout_ms: self.sync_flush_timeout_ms,
            file_reserved_hours: self.file_reserved_hours,
            delete_when: self.delete_when.clone(),
            disk_max_used_ratio: self.disk_max_used_ratio,
            disk_clean_forcibly_ratio: self.disk_clean_forcibly_ratio,
            disk_warning_ratio: self.disk_warning_ratio,
            max_hash_slot_num: self.max_hash_slot_num,
            max_index_num: self.max_index_num,
            ha: self.ha.clone(),
            access_message_in_memory_max_ratio: self.access_message_in_memory_max_ratio,
            commit_log_warm_ahead: self.commit_log_warm_ahead,
            ..StoreConfig::new(self.store_root.clone(), store_host)
        }
    }
}

#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    pub listen_port: u16,
    pub kv_config_path: PathBuf,
    pub broker_expired_ms: u64,
    pub limits: Limits,
    /// `namesrvMax*`: what clients can make the name server hold.
    pub namesrv_limits: NamesrvLimits,
    /// `metricsPort` (0: off) / `metricsListenAddress` of a name server run
    /// on its own; in standalone mode the broker's endpoint carries its metrics.
    pub metrics_port: u16,
    pub metrics_listen_address: String,
    /// `namesrvAclEnable` (ferromq's own): write requests need an admin
    /// account's signature or a white-listed address; reads stay open.
    pub acl_enable: bool,
    pub acl_paths: Option<crate::acl::AclPaths>,
    pub settings: Settings,
    /// The `-c` file, which updateNamesrvConfig rewrites (None: changes
    /// last until restart, as in standalone mode).
    pub config_file: Option<PathBuf>,
}

impl NamesrvConfig {
    pub fn from_settings(s: Settings) -> Result<Self, ConfigError> {
        Ok(NamesrvConfig {
            listen_port: s.i64("listenPort")? as u16,
            kv_config_path: PathBuf::from(s.str("kvConfigPath")),
            broker_expired_ms: s.i64("brokerExpiredMillis")? as u64,
            limits: server_limits(&s)?,
            namesrv_limits: namesrv_limits(&s)?,
            metrics_port: s.i64("metricsPort")? as u16,
            metrics_listen_address: s.str("metricsListenAddress"),
            acl_enable: s.bool("namesrvAclEnable")?,
            acl_paths: acl_paths(&s),
            settings: s,
            config_file: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_old_spellings_map() {
        let mut s = broker_defaults();
        s.apply(parse_properties("listenPort=20911\nmapedFileSizeCommitLog=1024\n# c\nbrokerName = b1 \n"));
        let c = BrokerConfig::from_settings(s).unwrap();
        assert_eq!(c.listen_port, 20911);
        assert_eq!(c.fast_listen_port(), 20909);
        assert_eq!(c.commit_log_file_size, 1024);
        assert_eq!(c.broker_name, "b1");
        assert!(c.auto_create_topic);
    }

    #[test]
    fn bad_values_are_named() {
        let mut s = broker_defaults();
        s.apply([("listenPort".to_string(), "abc".to_string())]);
        let e = BrokerConfig::from_settings(s).unwrap_err();
        assert!(e.to_string().contains("listenPort"));
    }

    #[test]
    fn delay_levels_parse_like_the_java_broker() {
        let l = parse_delay_levels(DEFAULT_MESSAGE_DELAY_LEVEL).unwrap();
        assert_eq!(l.len(), 18);
        assert_eq!((l[0], l[4], l[17]), (1000, 60_000, 7_200_000));
        assert_eq!(parse_delay_levels("1d").unwrap(), vec![86_400_000]);
        assert!(parse_delay_levels("1s 5x").is_err());
    }

    #[test]
    fn ha_keys_take_java_defaults_and_roles_fix_broker_ids() {
        let mut s = broker_defaults();
        s.apply(parse_properties("listenPort=20911\nbrokerId=3\n"));
        let c = BrokerConfig::from_settings(s).unwrap();
        assert_eq!((c.broker_role, c.broker_id, c.ha.listen_port), (BrokerRole::AsyncMaster, 0, 20912));
        assert_eq!((c.ha.send_heartbeat_interval_ms, c.ha.housekeeping_interval_ms), (5000, 20_000));
        assert_eq!((c.ha.transfer_batch_size, c.ha.slave_fallbehind_max), (32 * 1024, 256 << 20));
        assert_eq!((c.ha.master_address.as_deref(), c.ha_server_addr()), (None, "127.0.0.1:20912".to_string()));
        let mut s = broker_defaults();
        s.apply(parse_properties("brokerRole=SLAVE\nbrokerId=1\nhaMasterAddress=10.0.0.1:10912\nhaListenPort=7000\nbrokerIP2=10.0.0.2\n"));
        let c = BrokerConfig::from_settings(s).unwrap();
        assert_eq!((c.broker_role, c.broker_id, c.ha.master_address.as_deref()), (BrokerRole::Slave, 1, Some("10.0.0.1:10912")));
        assert_eq!(c.ha_server_addr(), "10.0.0.2:7000");
        let mut s = broker_defaults();
        s.apply(parse_properties("brokerRole=SLAVE\n"));
        assert!(BrokerConfig::from_settings(s).unwrap_err().to_string().contains("brokerId"));
        let mut s = broker_defaults();
        s.apply(parse_properties("brokerRole=MASTER\n"));
        assert!(BrokerConfig::from_settings(s).is_err());
    }

    #[test]
    fn namesrv_limits_default_and_read_from_namesrv_conf() {
        let c = NamesrvConfig::from_settings(namesrv_defaults()).unwrap();
        assert_eq!(c.namesrv_limits, NamesrvLimits::default());
        assert_eq!(c.namesrv_limits.max_brokers, 4096);
        let mut s = namesrv_defaults();
        s.apply(parse_properties("namesrvMaxBrokers=3\nnamesrvMaxTopicRoutes=10\nnamesrvMaxKvConfigs=5\nnamesrvMaxKvConfigBytes=100\n"));
        let l = NamesrvConfig::from_settings(s).unwrap().namesrv_limits;
        assert_eq!((l.max_brokers, l.max_topic_routes, l.max_kv_configs, l.max_kv_config_bytes), (3, 10, 5, 100));
        let mut s = namesrv_defaults();
        s.apply(parse_properties("namesrvMaxKvConfigs=0\n"));
        assert!(NamesrvConfig::from_settings(s).unwrap_err().to_string().contains("namesrvMaxKvConfigs"));
    }

    #[test]
    fn namesrv_list_splits_on_semicolons() {
        assert_eq!(split_namesrv_addrs("a:1; b:2;"), vec!["a:1", "b:2"]);
    }
}

//! GET_BROKER_CONFIG and UPDATE_BROKER_CONFIG.
//!
//! Only settings the broker reads while running may change, and a request
//! naming anything else (above all paths, commands and classes — the
//! CVE-2023-33246 family) is refused whole. Accepted changes are checked by
//! building the complete new configuration before anything is applied, then
//! written into the broker's config file in place, escaped as
//! `Properties.store` escapes, so the file reads back the same in ferromq and
//! in Java. Values holding a control character or a Unicode line/paragraph
//! separator are refused: no run-time setting contains one, and they are how
//! a value would try to break out of its line.

use std::path::PathBuf;

use super::{ok, success};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::config::runtime_update::{persist_changes, runtime_changes, UpdateRefused};
use crate::config::BrokerConfig;
use crate::protocol::header::{CommandHeader, GetBrokerConfigResponseHeader};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// Settings that take effect without a restart.
pub const RUNTIME_KEYS: &[&str] = &[
    "brokerPermission",
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
    "longPollingEnable",
    "shortPollingTimeMills",
    "notifyConsumerIdsChangedEnable",
    "traceOn",
    "regionId",
    "rejectTransactionMessage",
    "transactionTimeOut",
    "transactionCheckMax",
    "enablePropertyFilter",
    "channelNotActiveInterval",
];

/// Keys the Java 4.9.7 broker prints for getBrokerConfig (its `BrokerConfig`,
/// `NettyServerConfig`, `NettyClientConfig` and `MessageStoreConfig`) that
/// ferromq has no setting for, with the Java defaults: printed so tools see
/// every key they expect, not acted on. Keys whose Java default depends on
/// the host are in [`java_host_defaults`].
const JAVA_ONLY_DEFAULTS: &[(&str, &str)] = &[
    ("adminBrokerThreadPoolNums", "16"),
    ("autoDeleteUnusedStats", "false"),
    ("bitMapLengthConsumeQueueExt", "112"),
    ("brokerFastFailureEnable", "true"),
    ("checkCRCOnRecover", "true"),
    ("cleanFileForciblyEnable", "true"),
    ("cleanResourceInterval", "10000"),
    ("clientAsyncSemaphoreValue", "65535"),
    ("clientChannelMaxIdleTimeSeconds", "120"),
    ("clientCloseSocketIfTimeout", "true"),
    ("clientManageThreadPoolNums", "32"),
    ("clientManagerThreadPoolQueueCapacity", "1000000"),
    ("clientOnewaySemaphoreValue", "65535"),
    ("clientPooledByteBufAllocatorEnable", "false"),
    ("clientSocketRcvBufSize", "0"),
    ("clientSocketSndBufSize", "0"),
    ("clientWorkerThreads", "4"),
    ("commercialBaseCount", "1"),
    ("commercialBigCount", "1"),
    ("commercialEnable", "true"),
    ("commercialTimerCount", "1"),
    ("commercialTransCount", "1"),
    ("commitCommitLogLeastPages", "4"),
    ("commitCommitLogThoroughInterval", "200"),
    ("commitIntervalCommitLog", "200"),
    ("connectTimeoutMillis", "3000"),
    ("consumerFallbehindThreshold", "17179869184"),
    ("consumerManageThreadPoolNums", "32"),
    ("consumerManagerThreadPoolQueueCapacity", "1000000"),
    ("debugLockEnable", "false"),
    ("defaultQueryMaxNum", "32"),
    ("deleteCommitLogFilesInterval", "100"),
    ("deleteConsumeQueueFilesInterval", "100"),
    ("destroyMapedFileIntervalForcibly", "120000"),
    ("disableConsumeIfConsumerReadSlowly", "false"),
    ("diskFallRecorded", "true"),
    ("duplicationEnable", "false"),
    ("enableCalcFilterBitMap", "false"),
    ("enableConsumeQueueExt", "false"),
    ("enableDLegerCommitLog", "false"),
    ("enableDetailStat", "true"),
    ("enableLmq", "false"),
    ("enableMultiDispatch", "false"),
    ("enableScheduleAsyncDeliver", "false"),
    ("enableScheduleMessageStats", "true"),
    ("endTransactionPoolQueueCapacity", "100000"),
    ("expectConsumerNumUseFilter", "32"),
    ("fastFailIfNoBufferInStorePool", "false"),
    ("fetchNamesrvAddrByAddressServer", "false"),
    ("filterDataCleanTimeSpan", "86400000"),
    ("filterServerNums", "0"),
    ("filterSupportRetry", "false"),
    ("flushCommitLogLeastPages", "4"),
    ("flushCommitLogThoroughInterval", "10000"),
    ("flushCommitLogTimed", "true"),
    ("flushConsumeQueueLeastPages", "2"),
    ("flushConsumeQueueThoroughInterval", "60000"),
    ("flushConsumerOffsetHistoryInterval", "60000"),
    ("flushConsumerOffsetInterval", "5000"),
    ("flushDelayOffsetInterval", "10000"),
    ("flushIntervalConsumeQueue", "1000"),
    ("flushLeastPagesWhenWarmMapedFile", "4096"),
    ("forceRegister", "true"),
    ("heartbeatThreadPoolQueueCapacity", "50000"),
    ("highSpeedMode", "false"),
    ("isEnableBatchPush", "false"),
    ("isolateLogEnable", "false"),
    ("mappedFileSizeConsumeQueueExt", "50331648"),
    ("maxDelayTime", "40"),
    ("maxErrorRateOfBloomFilter", "20"),
    ("maxLmqConsumeQueueNum", "20000"),
    ("maxMsgsNumBatch", "64"),
    ("maxTransferBytesOnMessageInDisk", "65536"),
    ("maxTransferBytesOnMessageInMemory", "262144"),
    ("maxTransferCountOnMessageInDisk", "8"),
    ("maxTransferCountOnMessageInMemory", "32"),
    ("messageIndexEnable", "true"),
    ("messageIndexSafe", "false"),
    ("messageStorePlugIn", ""),
    ("offsetCheckInSlave", "false"),
    ("osPageCacheBusyTimeOutMills", "1000"),
    ("pullThreadPoolQueueCapacity", "100000"),
    ("putMsgIndexHightWater", "600000"),
    ("putThreadPoolQueueCapacity", "10000"),
    ("queryThreadPoolQueueCapacity", "20000"),
    ("redeleteHangedFileInterval", "120000"),
    ("registerBrokerTimeoutMills", "6000"),
    ("replyThreadPoolQueueCapacity", "10000"),
    ("scheduleAsyncDeliverMaxPendingLimit", "2000"),
    ("scheduleAsyncDeliverMaxResendNum2Blocked", "3"),
    ("sendThreadPoolQueueCapacity", "10000"),
    ("serverAsyncSemaphoreValue", "64"),
    ("serverCallbackExecutorThreads", "0"),
    ("serverChannelMaxIdleTimeSeconds", "120"),
    ("serverOnewaySemaphoreValue", "256"),
    ("serverPooledByteBufAllocatorEnable", "true"),
    ("serverSelectorThreads", "3"),
    ("serverSocketBacklog", "1024"),
    ("serverSocketRcvBufSize", "0"),
    ("serverSocketSndBufSize", "0"),
    ("serverWorkerThreads", "8"),
    ("slaveTimeout", "3000"),
    ("startAcceptSendRequestTimeStamp", "0"),
    ("storeReplyMessageEnable", "true"),
    ("transferMsgByHeap", "true"),
    ("transientStorePoolEnable", "false"),
    ("transientStorePoolSize", "5"),
    ("useEpollNativeSelector", "false"),
    ("useReentrantLockWhenPutMessage", "true"),
    ("useTLS", "false"),
    ("waitTimeMillsInHeartbeatQueue", "31000"),
    ("waitTimeMillsInPullQueue", "5000"),
    ("waitTimeMillsInSendQueue", "200"),
    ("waitTimeMillsInTransactionQueue", "3000"),
    ("warmMapedFileEnable", "false"),
];

/// The Java broker's host-dependent defaults for keys ferromq does not act
/// on: thread pool sizes from the processor count, `brokerIP2` (ferromq's
/// `brokerIP1`), `haListenPort` (`listenPort + 1`) and `rocketmqHome`
/// (`ROCKETMQ_HOME`, left out when unset, as Java leaves out null fields).
fn java_host_defaults(cfg: &BrokerConfig) -> Vec<(&'static str, String)> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let send = n.min(4);
    let mut v = vec![
        ("sendMessageThreadPoolNums", send.to_string()),
        ("putMessageFutureThreadPoolNums", n.min(4).to_string()),
        ("pullMessageThreadPoolNums", (16 + 2 * n).to_string()),
        ("processReplyMessageThreadPoolNums", (16 + 2 * n).to_string()),
        ("queryMessageThreadPoolNums", (8 + n).to_string()),
        ("heartbeatThreadPoolNums", n.min(32).to_string()),
        ("endTransactionThreadPoolNums", (8 + 2 * n).max(send * 4).to_string()),
        ("clientCallbackExecutorThreads", n.to_string()),
        ("brokerIP2", cfg.broker_ip.clone()),
        ("haListenPort", (u32::from(cfg.listen_port) + 1).to_string()),
    ];
    if let Ok(home) = std::env::var("ROCKETMQ_HOME") {
        v.push(("rocketmqHome", home));
    }
    v
}

/// What GET_BROKER_CONFIG prints: every key of the Java broker, ferromq's
/// effective value where it has a setting (its own settings override the
/// Java defaults), plus ferromq's own keys; `key=value` lines, sorted.
fn broker_config_text(cfg: &BrokerConfig) -> String {
    let mut all: std::collections::BTreeMap<String, String> =
        JAVA_ONLY_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.extend(java_host_defaults(cfg).into_iter().map(|(k, v)| (k.to_string(), v)));
    all.extend(cfg.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
    // Any account may ask for the config: the name-server secret stays hidden.
    if let Some(secret) = all.get_mut("namesrvSecretKey").filter(|v| !v.is_empty()) {
        *secret = "******".into();
    }
    all.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

pub fn get_broker_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let cfg = b.cfg();
    let dv = serde_json::to_string(&*b.config_version.lock().unwrap()).unwrap();
    let answer = GetBrokerConfigResponseHeader { version: dv };
    Ok(answer.encode(success(req)).with_body(broker_config_text(&cfg).into_bytes()).into())
}

pub fn update_broker_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let changes = runtime_changes(req.body.as_deref().unwrap_or(b""), RUNTIME_KEYS, "updateBrokerConfig").map_err(refused)?;
    if changes.is_empty() {
        return ok(req);
    }
    let old = b.cfg();
    let mut settings = old.settings.clone();
    settings.apply(changes.clone());
    let mut new = BrokerConfig::from_settings(settings)
        .map_err(|e| BrokerError::new(response::SYSTEM_ERROR, format!("Can not update config: {e}")))?;
    new.config_file = old.config_file.clone();
    persist_config_changes(&new, &changes)?;
    tracing::info!(?changes, "broker config updated");
    let perm_changed = new.broker_permission != old.broker_permission;
    b.subscription_groups.set_auto_create(new.auto_create_subscription_group);
    b.replace_config(new);
    b.config_version.lock().unwrap().next(crate::store::now_ms());
    if perm_changed {
        b.trigger_register();
    }
    ok(req)
}

/// Rewrites the changed keys in the config file, keeping everything else.
fn persist_config_changes(cfg: &BrokerConfig, changes: &[(String, String)]) -> BrokerResult<()> {
    let path: PathBuf = cfg.config_file.clone().unwrap_or_else(|| cfg.config_dir().join("broker.properties"));
    persist_changes(&path, changes).map_err(refused)
}

fn refused(r: UpdateRefused) -> BrokerError {
    BrokerError::new(r.code, r.remark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_config_prints_every_java_key_with_ferromq_values_first() {
        let mut s = crate::config::broker_defaults();
        s.apply([("listenPort".to_string(), "30911".to_string()), ("brokerIP1".to_string(), "10.0.0.7".to_string())]);
        s.apply([("namesrvSecretKey".to_string(), "s3cret-value".to_string())]);
        let cfg = BrokerConfig::from_settings(s).unwrap();
        let text = broker_config_text(&cfg);
        assert!(!text.contains("s3cret-value"));
        let printed: std::collections::BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        for (k, v) in JAVA_ONLY_DEFAULTS {
            assert_eq!(printed.get(k), Some(v), "{k}");
        }
        assert_eq!(printed["listenPort"], "30911");
        assert_eq!(printed["namesrvSecretKey"], "******");
        assert_eq!(printed["haListenPort"], "30912");
        assert_eq!(printed["brokerIP2"], "10.0.0.7");
        // ferromq acts on channelNotActiveInterval: its own default, not Java's 60000.
        assert_eq!(printed["channelNotActiveInterval"], "120000");
        for k in ["sendMessageThreadPoolNums", "pullMessageThreadPoolNums", "endTransactionThreadPoolNums", "useTLS"] {
            assert!(printed.contains_key(k), "{k}");
        }
        // The Java broker prints 176 keys (175 without rocketmqHome).
        assert!(printed.len() >= 175 + 12, "{}", printed.len());
    }

    #[test]
    fn java_only_keys_are_no_ferromq_setting() {
        // One that became a setting prints its effective value from the settings instead.
        let settings = crate::config::broker_defaults();
        assert_eq!(settings.get("haTransferBatchSize"), Some("32768"), "defaults are settings");
        for (k, _) in JAVA_ONLY_DEFAULTS {
            assert!(settings.get(k).is_none(), "{k} is a ferromq setting now: take it out of JAVA_ONLY_DEFAULTS");
        }
    }

    #[test]
    fn runtime_keys_name_no_path_command_or_class() {
        for k in RUNTIME_KEYS {
            assert!(!crate::config::runtime_update::names_path_command_or_class(k), "{k}");
        }
    }
}

//! Broker statistics for admin tools (`AdminBrokerProcessor`):
//! GET_BROKER_RUNTIME_INFO and VIEW_BROKER_STATS_DATA.

use super::success;
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::header::{CommandHeader, ViewBrokerStatsDataRequestHeader};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// "Total : 252.0 GiB, Free : 80.1 GiB." as `MixAll.humanReadableByteCount` writes it.
fn disk_capacity(path: &std::path::Path) -> String {
    let Some((total, free)) = crate::store::os::disk_space(path) else { return String::new() };
    format!("Total : {}, Free : {}.", human_bytes(total), human_bytes(free))
}

fn human_bytes(b: u64) -> String {
    if b < 1024 {
        return format!("{b} B");
    }
    let exp = ((b as f64).ln() / 1024f64.ln()) as i32;
    let unit = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"][(exp - 1) as usize];
    format!("{:.1} {unit}", b as f64 / 1024f64.powi(exp))
}

/// GET_BROKER_RUNTIME_INFO: the KV table clusterList and brokerStatus print.
pub fn get_broker_runtime_info(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let mut table: std::collections::BTreeMap<String, String> = b.stats.runtime_info().into_iter().collect();
    let cfg = b.cfg();
    let usage = |p: &std::path::Path| crate::store::os::disk_usage(p).unwrap_or(0.0);
    let kv = [
        ("brokerVersionDesc", "V4_9_7".to_string()),
        ("brokerVersion", crate::remoting::command::SERVER_VERSION.to_string()),
        ("sendThreadPoolQueueSize", "0".into()),
        ("sendThreadPoolQueueCapacity", "10000".into()),
        ("pullThreadPoolQueueSize", "0".into()),
        ("pullThreadPoolQueueCapacity", "100000".into()),
        ("queryThreadPoolQueueSize", "0".into()),
        ("queryThreadPoolQueueCapacity", "20000".into()),
        ("EndTransactionQueueSize", "0".into()),
        ("EndTransactionThreadPoolQueueCapacity", "100000".into()),
        ("dispatchBehindBytes", "0".into()),
        ("pageCacheLockTimeMills", "0".into()),
        ("sendThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("pullThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("queryThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("earliestMessageTimeStamp", b.store.earliest_store_time().to_string()),
        ("startAcceptSendRequestTimeStamp", "0".into()),
        // The Java store's answer when the transient store pool is off.
        ("remainTransientStoreBufferNumbs", i32::MAX.to_string()),
        ("remainHowManyDataToFlush", "0 B".into()),
        ("commitLogDiskRatio", usage(&cfg.commit_log_dir).to_string()),
        ("consumeQueueDiskRatio", usage(&cfg.store_root).to_string()),
        ("commitLogMinOffset", b.store.commit_log_min_offset().to_string()),
        ("commitLogMaxOffset", b.store.commit_log_max_offset().to_string()),
        ("commitLogDirCapacity", disk_capacity(&cfg.store_root)),
    ];
    for (k, v) in kv {
        table.insert(k.to_string(), v);
    }
    // Pending timer messages, in all and per real topic (bounded by the topics).
    if let Some(timer) = &b.timer {
        let pending = timer.pending();
        table.insert("timerPendingCount".into(), pending.iter().map(|(_, n)| n).sum::<i64>().to_string());
        for (topic, n) in pending {
            table.insert(format!("timerPending_{topic}"), n.to_string());
        }
    }
    // Per commit log path, as the Java store lists each of its paths.
    table.insert(
        format!("commitLogDiskRatio_{}", cfg.commit_log_dir.display()),
        usage(&cfg.commit_log_dir).to_string(),
    );
    let body = serde_json::to_vec(&serde_json::json!({ "table": table })).unwrap();
    Ok(success(req).with_body(body).into())
}

pub fn view_broker_stats_data(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let ViewBrokerStatsDataRequestHeader { stats_name: name, stats_key: key } = ViewBrokerStatsDataRequestHeader::decode(req)?;
    let cluster = b.cfg().cluster_name.clone();
    let found = crate::broker::stats::BrokerStats::item_key(&name, &key, &cluster).and_then(|k| b.stats.stats_data(&name, k));
    match found {
        Some(d) => Ok(success(req).with_body(serde_json::to_vec(&d).unwrap()).into()),
        None => Err(BrokerError::new(response::SYSTEM_ERROR, format!("The stats <{name}> <{key}> not exist"))),
    }
}

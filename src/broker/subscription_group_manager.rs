//! `SubscriptionGroupManager`: per-group consumption settings, created on
//! first use when `autoCreateSubscriptionGroup` is on, persisted as
//! config/subscriptionGroup.json.
//!
//! Changes are written in the background by the file's [`ConfigWriter`]
//! (see its doc): a group acknowledged just before a crash may be missing
//! after the restart, and is auto-created again on its next use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::protocol::topic::DataVersion;
use crate::store::config_file::{self, ConfigWriter};
use crate::store::now_ms;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    #[serde(default)]
    pub broker_id: i64,
    #[serde(default = "yes")]
    pub consume_broadcast_enable: bool,
    #[serde(default = "yes")]
    pub consume_enable: bool,
    #[serde(default = "yes")]
    pub consume_from_min_enable: bool,
    pub group_name: String,
    #[serde(default = "yes")]
    pub notify_consumer_ids_changed_enable: bool,
    #[serde(default = "default_retry_max_times")]
    pub retry_max_times: i32,
    #[serde(default = "one")]
    pub retry_queue_nums: i32,
    #[serde(default = "one_i64")]
    pub which_broker_when_consume_slowly: i64,
}

fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn one_i64() -> i64 {
    1
}
fn default_retry_max_times() -> i32 {
    16
}

impl SubscriptionGroupConfig {
    pub fn new(group: &str) -> Self {
        SubscriptionGroupConfig {
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            group_name: group.to_string(),
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wrapper {
    data_version: DataVersion,
    subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

pub struct SubscriptionGroupManager {
    auto_create: std::sync::atomic::AtomicBool,
    inner: Arc<RwLock<Wrapper>>,
    writer: ConfigWriter,
    /// `maxSubscriptionGroupNums`: any consumer can name a new group.
    max_groups: usize,
}

/// Groups the Java broker creates for its own tools.
const SYSTEM_GROUPS: [&str; 6] = [
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
];

impl SubscriptionGroupManager {
    pub fn load(path: PathBuf, auto_create: bool, max_groups: usize) -> Self {
        let mut table: BTreeMap<String, SubscriptionGroupConfig> =
            SYSTEM_GROUPS.iter().map(|g| (g.to_string(), SubscriptionGroupConfig::new(g))).collect();
        let mut data_version = DataVersion::new(now_ms());
        if let Some(w) = config_file::load_json::<Wrapper>(&path) {
            data_version = w.data_version;
            table.extend(w.subscription_group_table);
        }
        let inner = Arc::new(RwLock::new(Wrapper { data_version, subscription_group_table: table }));
        let state = inner.clone();
        let writer = ConfigWriter::new(
            path,
            Box::new(move || {
                // Copy under the lock, serialize after: requests wait for a clone, not for JSON.
                let snapshot = state.read().unwrap_or_else(|e| e.into_inner()).clone();
                serde_json::to_string(&snapshot).unwrap_or_default()
            }),
        );
        SubscriptionGroupManager { auto_create: std::sync::atomic::AtomicBool::new(auto_create), inner, writer, max_groups }
    }

    /// `findSubscriptionGroupConfig`: creates the group when allowed.
    pub fn find(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        if let Some(c) = self.inner.read().unwrap().subscription_group_table.get(group) {
            return Some(c.clone());
        }
        if !self.auto_create.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let c = {
            let mut inner = self.inner.write().unwrap();
            // Another request may have created it meanwhile.
            if let Some(c) = inner.subscription_group_table.get(group) {
                return Some(c.clone());
            }
            if inner.subscription_group_table.len() >= self.max_groups {
                tracing::warn!(group, max = self.max_groups, "group not auto-created: maxSubscriptionGroupNums reached");
                return None;
            }
            let c = SubscriptionGroupConfig::new(group);
            inner.subscription_group_table.insert(group.to_string(), c.clone());
            inner.data_version.next(now_ms());
            c
        };
        self.writer.mark_dirty();
        tracing::info!(group, "auto-created subscription group");
        Some(c)
    }

    pub fn set_auto_create(&self, on: bool) {
        self.auto_create.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Persisted in the background: see the module doc.
    /// Adds or replaces a group; a new one past `maxSubscriptionGroupNums`
    /// is refused (false).
    pub fn update(&self, c: SubscriptionGroupConfig) -> bool {
        {
            let mut inner = self.inner.write().unwrap();
            let table = &mut inner.subscription_group_table;
            if !table.contains_key(&c.group_name) && table.len() >= self.max_groups {
                return false;
            }
            table.insert(c.group_name.clone(), c);
            inner.data_version.next(now_ms());
        }
        self.writer.mark_dirty();
        true
    }

    pub fn delete(&self, group: &str) -> bool {
        {
            let mut inner = self.inner.write().unwrap();
            if inner.subscription_group_table.remove(group).is_none() {
                return false;
            }
            inner.data_version.next(now_ms());
        }
        self.writer.mark_dirty();
        true
    }

    /// A slave's sync (`syncSubscriptionGroupConfig`): takes the master's
    /// whole table when its data version differs from ours.
    pub fn replace_from_master(&self, body: &[u8]) -> Result<bool, crate::protocol::ProtocolError> {
        let master: Wrapper = crate::protocol::fastjson::parse(body)?;
        {
            let mut inner = self.inner.write().unwrap();
            if inner.data_version == master.data_version {
                return Ok(false);
            }
            *inner = master;
        }
        self.writer.mark_dirty();
        Ok(true)
    }

    /// Blocks until every change made so far is in the file (shutdown).
    pub fn flush(&self) {
        if let Err(e) = self.writer.flush() {
            tracing::error!("{e}");
        }
    }

    pub fn all(&self) -> (DataVersion, Vec<SubscriptionGroupConfig>) {
        let inner = self.inner.read().unwrap();
        (inner.data_version, inner.subscription_group_table.values().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_create_persist_and_disable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscriptionGroup.json");
        let m = SubscriptionGroupManager::load(path.clone(), true, 100);
        let g = m.find("G1").unwrap();
        assert_eq!((g.retry_max_times, g.retry_queue_nums, g.consume_enable), (16, 1, true));
        m.update(SubscriptionGroupConfig { consume_enable: false, ..g });
        m.flush();
        let m = SubscriptionGroupManager::load(path, false, 100);
        assert!(!m.find("G1").unwrap().consume_enable);
        assert!(m.find("unknown").is_none());
        assert!(m.find("TOOLS_CONSUMER").is_some());
    }
}

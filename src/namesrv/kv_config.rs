//! `KVConfigManager`: namespaced key/values, persisted as kvConfig.json.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::store::config_file::{self, ConfigWriter};

use super::{LimitReached, NamesrvLimits};

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvConfigWrapper {
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

type Table = BTreeMap<String, BTreeMap<String, String>>;

/// Changes are rare admin requests, so each one still waits until it is on
/// disk before it is answered (as the Java name server does), but through one
/// writer: concurrent changes are written in order and share a write.
///
/// `namesrvMaxKvConfigs` counts key/values, and a namespace whose keys were
/// all deleted as one: it is kept, as Java keeps it (its empty table still
/// tells brokers that no topic is ordered). `namesrvMaxKvConfigBytes` counts
/// the bytes of namespaces, keys and values. A file already past either
/// loads whole; only growth is refused.
pub struct KvConfigManager {
    table: Arc<Mutex<Table>>,
    writer: ConfigWriter,
    limits: Mutex<NamesrvLimits>,
}

/// (entries, bytes) as the bounds count them.
fn usage(t: &Table) -> (usize, usize) {
    t.iter().fold((0, 0), |(entries, bytes), (ns, m)| {
        (entries + m.len().max(1), bytes + ns.len() + m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
    })
}

impl KvConfigManager {
    pub fn load(path: PathBuf, limits: NamesrvLimits) -> Self {
        let table = config_file::load_json::<KvConfigWrapper>(&path).map(|w| w.config_table).unwrap_or_default();
        let table = Arc::new(Mutex::new(table));
        let t = table.clone();
        let writer = ConfigWriter::new(
            path,
            Box::new(move || {
                let t = t.lock().unwrap_or_else(|e| e.into_inner());
                serde_json::to_string(&KvConfigWrapper { config_table: t.clone() }).unwrap_or_default()
            }),
        );
        KvConfigManager { table, writer, limits: Mutex::new(limits) }
    }

    /// New bounds (updateNamesrvConfig): only growth past them is refused.
    pub fn set_limits(&self, limits: NamesrvLimits) {
        *self.limits.lock().unwrap() = limits;
    }

    /// Overwriting a key is refused only when it would grow the bytes past the bound.
    pub fn put(&self, ns: &str, key: &str, value: &str) -> Result<(), LimitReached> {
        let limits = *self.limits.lock().unwrap();
        {
            let mut t = self.table.lock().unwrap();
            let (entries, bytes) = usage(&t);
            let known = t.get(ns);
            let old = known.and_then(|m| m.get(key));
            // A new key in a namespace with keys, or in a new one, adds an entry.
            let adds_entry = old.is_none() && known.is_none_or(|m| !m.is_empty());
            if adds_entry && entries >= limits.max_kv_configs {
                return Err(LimitReached { key: "namesrvMaxKvConfigs", limit: limits.max_kv_configs });
            }
            let after = bytes - old.map_or(0, |v| key.len() + v.len()) + key.len() + value.len() + if known.is_none() { ns.len() } else { 0 };
            if after > limits.max_kv_config_bytes && after > bytes {
                return Err(LimitReached { key: "namesrvMaxKvConfigBytes", limit: limits.max_kv_config_bytes });
            }
            t.entry(ns.to_string()).or_default().insert(key.to_string(), value.to_string());
        }
        self.writer.persist_now();
        Ok(())
    }

    /// (entries, bytes) as the bounds count them, for metrics.
    pub fn usage(&self) -> (usize, usize) {
        usage(&self.table.lock().unwrap())
    }

    pub fn get(&self, ns: &str, key: &str) -> Option<String> {
        self.table.lock().unwrap().get(ns)?.get(key).cloned()
    }

    pub fn delete(&self, ns: &str, key: &str) {
        if let Some(m) = self.table.lock().unwrap().get_mut(ns) {
            m.remove(key);
        }
        self.writer.persist_now();
    }

    pub fn list(&self, ns: &str) -> Option<BTreeMap<String, String>> {
        self.table.lock().unwrap().get(ns).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(dir: &tempfile::TempDir, max_kv_configs: usize, max_kv_config_bytes: usize) -> KvConfigManager {
        let limits = NamesrvLimits { max_kv_configs, max_kv_config_bytes, ..NamesrvLimits::default() };
        KvConfigManager::load(dir.path().join("kvConfig.json"), limits)
    }

    #[test]
    fn keys_past_the_bound_are_refused_overwrites_and_deletes_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let kv = manager(&dir, 3, 1 << 20);
        kv.put("A", "k1", "v").unwrap();
        kv.put("A", "k2", "v").unwrap();
        kv.put("B", "k1", "v").unwrap();
        let refused = LimitReached { key: "namesrvMaxKvConfigs", limit: 3 };
        assert_eq!(kv.put("A", "k3", "v"), Err(refused.clone()));
        assert_eq!(kv.put("C", "k1", "v"), Err(refused.clone()));
        kv.put("A", "k1", "overwritten").unwrap();
        assert_eq!(kv.get("A", "k1").as_deref(), Some("overwritten"));
        assert_eq!(kv.get("A", "k3"), None);
        kv.delete("A", "k2");
        kv.put("C", "k1", "v").unwrap();
        // B's last key deleted: B stays (empty, as in Java) and keeps its place.
        kv.delete("B", "k1");
        assert_eq!(kv.list("B"), Some(BTreeMap::new()));
        assert_eq!(kv.put("D", "k1", "v"), Err(refused));
        kv.put("B", "k2", "v").unwrap();
        // What was accepted is on disk.
        let again = manager(&dir, 3, 1 << 20);
        assert_eq!(again.get("A", "k1").as_deref(), Some("overwritten"));
        assert_eq!(again.get("B", "k2").as_deref(), Some("v"));
    }

    #[test]
    fn bytes_past_the_bound_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kv = manager(&dir, 100, 20);
        kv.put("NS", "key", "0123456789").unwrap(); // 2 + 3 + 10 = 15 bytes
        let refused = Err(LimitReached { key: "namesrvMaxKvConfigBytes", limit: 20 });
        assert_eq!(kv.put("NS", "key2", "xx"), refused);
        assert_eq!(kv.put("NS", "key", "0123456789abcdef"), refused);
        kv.put("NS", "key", "012345678901").unwrap(); // 17
        kv.put("NS", "k", "v").unwrap(); // 19
        assert_eq!(kv.get("NS", "key2"), None);
    }
}

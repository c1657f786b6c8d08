//! `KVConfigManager`: namespaced key/values, persisted as kvConfig.json.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::store::config_file::{self, ConfigWriter};

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvConfigWrapper {
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

type Table = BTreeMap<String, BTreeMap<String, String>>;

/// Changes are rare admin requests, so each one still waits until it is on
/// disk before it is answered (as the Java name server does), but through one
/// writer: concurrent changes are written in order and share a write.
pub struct KvConfigManager {
    table: Arc<Mutex<Table>>,
    writer: ConfigWriter,
}

impl KvConfigManager {
    pub fn load(path: PathBuf) -> Self {
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
        KvConfigManager { table, writer }
    }

    pub fn put(&self, ns: &str, key: &str, value: &str) {
        self.table.lock().unwrap().entry(ns.to_string()).or_default().insert(key.to_string(), value.to_string());
        self.writer.persist_now();
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

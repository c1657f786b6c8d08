//! `KVConfigManager`: namespaced key/values, persisted as kvConfig.json.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::store::config_file;

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvConfigWrapper {
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

pub struct KvConfigManager {
    path: PathBuf,
    table: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

impl KvConfigManager {
    pub fn load(path: PathBuf) -> Self {
        let table = config_file::load_json::<KvConfigWrapper>(&path).map(|w| w.config_table).unwrap_or_default();
        KvConfigManager { path, table: Mutex::new(table) }
    }

    pub fn put(&self, ns: &str, key: &str, value: &str) {
        let snapshot = {
            let mut t = self.table.lock().unwrap();
            t.entry(ns.to_string()).or_default().insert(key.to_string(), value.to_string());
            serde_json::to_string(&KvConfigWrapper { config_table: t.clone() }).unwrap()
        };
        self.persist(&snapshot);
    }

    pub fn get(&self, ns: &str, key: &str) -> Option<String> {
        self.table.lock().unwrap().get(ns)?.get(key).cloned()
    }

    pub fn delete(&self, ns: &str, key: &str) {
        let snapshot = {
            let mut t = self.table.lock().unwrap();
            if let Some(m) = t.get_mut(ns) {
                m.remove(key);
            }
            serde_json::to_string(&KvConfigWrapper { config_table: t.clone() }).unwrap()
        };
        self.persist(&snapshot);
    }

    pub fn list(&self, ns: &str) -> Option<BTreeMap<String, String>> {
        self.table.lock().unwrap().get(ns).cloned()
    }

    fn persist(&self, text: &str) {
        config_file::persist_logged(&self.path, text);
    }
}

//! The ACL admin operations (`PlainPermissionManager.updateAccessConfig`,
//! `deleteAccessConfig`, `updateGlobalWhiteAddrsConfig`, `getAllAclConfig`):
//! they edit the YAML files (atomically, bumping the file's `dataVersion`),
//! then reread them, so the files stay the one source of the rules.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::address::AddressPattern;
use super::config::{self, AclFile, PlainAccessConfig, ACCOUNTS, GLOBAL_WHITE};
use super::error::AclResult;
use super::manager::{Account, AclManager};
use super::perm;
use crate::protocol::topic::DataVersion;

fn access_key_of(v: &Value) -> Option<&str> {
    match v {
        Value::Mapping(m) => m.get("accessKey").and_then(Value::as_str),
        _ => None,
    }
}

impl AclManager {
    fn write_file(&self, path: &Path, mut tree: Mapping) -> AclResult<()> {
        config::bump_version(&mut tree, crate::store::now_ms());
        config::write_tree(path, &tree)?;
        self.reload_logged();
        Ok(())
    }

    /// UPDATE_AND_CREATE_ACL_CONFIG: creates the account in the default file,
    /// or updates it in the file that holds it. Refused input changes nothing.
    pub fn update_account(&self, c: &PlainAccessConfig) -> AclResult<()> {
        let _one_at_a_time = self.write.lock().unwrap();
        // Everything Java checks before writing: key lengths, perm entries,
        // and the account as it would be loaded (address pattern included).
        Account::build(c)?;
        perm::check_resource_entries(c.topic_perms.as_deref().unwrap_or_default())?;
        perm::check_resource_entries(c.group_perms.as_deref().unwrap_or_default())?;
        let ak = c.access_key.as_deref().unwrap_or_default();
        let path = self.rules().file_of(ak).cloned().unwrap_or_else(|| self.paths.default_file.clone());
        let mut tree = config::read_tree(&path)?.unwrap_or_default();
        let accounts = match tree.get_mut(ACCOUNTS) {
            Some(Value::Sequence(list)) => list,
            _ => {
                tree.insert(ACCOUNTS.into(), Value::Sequence(vec![]));
                match tree.get_mut(ACCOUNTS) {
                    Some(Value::Sequence(list)) => list,
                    _ => unreachable!("just inserted"),
                }
            }
        };
        // An updated account moves to the end of the list, as in Java.
        let mut entry = match accounts.iter().position(|a| access_key_of(a) == Some(ak)) {
            Some(i) => match accounts.remove(i) {
                Value::Mapping(m) => m,
                _ => Mapping::new(),
            },
            None => Mapping::new(),
        };
        config::merge_account(&mut entry, c);
        accounts.push(Value::Mapping(entry));
        self.write_file(&path, tree)
    }

    /// DELETE_ACL_CONFIG: `false` when no file holds the key.
    pub fn delete_account(&self, access_key: &str) -> AclResult<bool> {
        let _one_at_a_time = self.write.lock().unwrap();
        if access_key.is_empty() {
            return Ok(false);
        }
        let Some(path) = self.rules().file_of(access_key).cloned() else { return Ok(false) };
        let Some(mut tree) = config::read_tree(&path)? else { return Ok(true) };
        let Some(Value::Sequence(accounts)) = tree.get_mut(ACCOUNTS) else { return Ok(false) };
        let Some(i) = accounts.iter().position(|a| access_key_of(a) == Some(access_key)) else { return Ok(false) };
        accounts.remove(i);
        self.write_file(&path, tree)?;
        Ok(true)
    }

    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: replaces a file's global white list
    /// (the default file unless one under ROCKETMQ_HOME is named). `false`
    /// for a file Java would not write; a pattern that would not load is
    /// refused (Java writes it, and the file then fails to reload).
    pub fn update_global_white(&self, addrs: &[String], file: Option<&str>) -> AclResult<bool> {
        let _one_at_a_time = self.write.lock().unwrap();
        let path = file.filter(|f| !f.is_empty()).map(PathBuf::from).unwrap_or_else(|| self.paths.default_file.clone());
        if !path.is_file() {
            tracing::warn!(file = %path.display(), "global white list not updated: not an existing file");
            return Ok(false);
        }
        if path != self.paths.default_file && !self.paths.home.as_ref().is_some_and(|h| path.starts_with(h)) {
            tracing::warn!(file = %path.display(), "global white list not updated: the file is not under the RocketMQ home");
            return Ok(false);
        }
        for a in addrs {
            AddressPattern::parse(Some(a))?;
        }
        let mut tree = config::read_tree(&path)?.unwrap_or_default();
        tree.insert(GLOBAL_WHITE.into(), Value::Sequence(addrs.iter().cloned().map(Value::String).collect()));
        self.write_file(&path, tree)?;
        Ok(true)
    }

    /// GET_BROKER_CLUSTER_ACL_CONFIG: every file's white list, and each
    /// account once (the first file naming it), as written.
    pub fn all_config(&self) -> (Vec<String>, Vec<PlainAccessConfig>) {
        let (mut white, mut accounts, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
        for path in &self.rules().files {
            let Ok(Some(file)) = AclFile::load(path) else { continue };
            white.extend(file.global_white);
            for a in file.accounts {
                if seen.insert(a.access_key.clone()) {
                    accounts.push(a);
                }
            }
        }
        (white, accounts)
    }

    /// The default file's data version (GET_BROKER_CLUSTER_ACL_INFO's `version`).
    pub fn default_version(&self) -> DataVersion {
        self.rules().version_of(&self.paths.default_file).unwrap_or(DataVersion::new(crate::store::now_ms()))
    }

    pub fn versions(&self) -> BTreeMap<String, DataVersion> {
        self.rules().versions.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::AclPaths;

    fn manager(yaml: &str) -> (tempfile::TempDir, std::sync::Arc<AclManager>) {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("conf")).unwrap();
        std::fs::write(home.path().join("conf/plain_acl.yml"), yaml).unwrap();
        let m = AclManager::open(AclPaths::resolve(home.path().to_str(), None).unwrap()).unwrap();
        (home, m)
    }

    fn account(ak: &str) -> PlainAccessConfig {
        PlainAccessConfig {
            access_key: Some(ak.into()),
            secret_key: Some("secret123".into()),
            topic_perms: Some(vec!["t1=PUB".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn accounts_are_created_updated_and_deleted_in_the_file() {
        let (_home, m) = manager("custom: kept\naccounts:\n  - accessKey: existing1\n    secretKey: 12345678\n");
        m.update_account(&account("newUser01")).unwrap();
        let (_, all) = m.all_config();
        assert_eq!(all.iter().map(|a| a.access_key.clone().unwrap()).collect::<Vec<_>>(), ["existing1", "newUser01"]);
        let mut upd = account("existing1");
        upd.admin = true;
        upd.secret_key = Some("changed1".into());
        m.update_account(&upd).unwrap();
        let (_, all) = m.all_config();
        let e = all.iter().find(|a| a.access_key.as_deref() == Some("existing1")).unwrap();
        assert!(e.admin && e.secret_key.as_deref() == Some("changed1"));
        assert_eq!(m.default_version().counter, 2);
        assert!(m.delete_account("newUser01").unwrap());
        assert!(!m.delete_account("newUser01").unwrap());
        let text = std::fs::read_to_string(&m.paths.default_file).unwrap();
        assert!(text.contains("custom: kept") && !text.contains("newUser01"), "{text}");
    }

    #[test]
    fn bad_updates_change_nothing() {
        let (_home, m) = manager("accounts: []\n");
        let before = std::fs::read_to_string(&m.paths.default_file).unwrap();
        let mut short = account("short");
        assert!(m.update_account(&short).is_err());
        short.access_key = Some("longEnough".into());
        short.topic_perms = Some(vec!["t1=ALL".into()]);
        assert!(m.update_account(&short).is_err());
        short.topic_perms = None;
        short.white_remote_address = Some("1.2.3".into());
        assert!(m.update_account(&short).is_err());
        assert!(m.update_global_white(&["nope".into()], None).is_err());
        assert!(!m.update_global_white(&["1.1.1.1".into()], Some("/etc/passwd")).unwrap());
        assert_eq!(std::fs::read_to_string(&m.paths.default_file).unwrap(), before);
    }

    #[test]
    fn the_global_white_list_is_replaced() {
        let (_home, m) = manager("globalWhiteRemoteAddresses: [10.0.0.1]\n");
        assert!(m.update_global_white(&["192.168.0.*".into(), "127.0.0.1".into()], None).unwrap());
        assert_eq!(m.all_config().0, ["192.168.0.*", "127.0.0.1"]);
    }
}

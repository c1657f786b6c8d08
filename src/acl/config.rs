//! The ACL files' YAML: read leniently as the Java broker reads them (a
//! generic tree, then fastjson-style coercion, so `secretKey: 12345678` is
//! the string "12345678"), and edited as a tree so keys ferromq does not know
//! survive a write-back.

use std::path::Path;

use serde_norway::{Mapping, Value};

use super::error::{AclError, AclResult};
use crate::protocol::topic::DataVersion;

/// Bigger files are refused: a plain_acl.yml is a few KiB.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

pub const GLOBAL_WHITE: &str = "globalWhiteRemoteAddresses";
pub const ACCOUNTS: &str = "accounts";
pub const DATA_VERSION: &str = "dataVersion";

/// One account as written (`PlainAccessConfig`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlainAccessConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub white_remote_address: Option<String>,
    pub admin: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_topic_perm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_group_perm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_perms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_perms: Option<Vec<String>>,
}

/// One file's content.
#[derive(Debug, Clone, Default)]
pub struct AclFile {
    pub global_white: Vec<String>,
    pub accounts: Vec<PlainAccessConfig>,
    pub data_version: Option<DataVersion>,
}

fn bad(path: &Path, why: impl std::fmt::Display) -> AclError {
    AclError::Config(format!("{}: {why}", path.display()))
}

/// Reads a file as a YAML tree: `None` for a missing or empty file.
pub fn read_tree(path: &Path) -> AclResult<Option<Mapping>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AclError::Io { path: path.display().to_string(), why: e.to_string() }),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad(path, format!("{} bytes is more than the {MAX_FILE_BYTES} an ACL file may have", meta.len())));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| AclError::Io { path: path.display().to_string(), why: e.to_string() })?;
    parse_tree(&text).map_err(|e| bad(path, e))
}

pub fn parse_tree(text: &str) -> Result<Option<Mapping>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_norway::from_str::<Value>(text).map_err(|e| e.to_string())? {
        Value::Null => Ok(None),
        Value::Mapping(m) => Ok(Some(m)),
        _ => Err("the top level is not a mapping".into()),
    }
}

/// A scalar as fastjson turns it into a Java `String`.
fn string(v: &Value) -> Result<Option<String>, String> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => return Err(format!("expected a text, found {other:?}")),
    })
}

fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() => Ok(false),
        Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64() != Some(0)),
        other => Err(format!("expected true or false, found {other:?}")),
    }
}

fn strings(v: &Value) -> Result<Option<Vec<String>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Sequence(items) => items
            .iter()
            .map(|i| string(i).map(|s| s.unwrap_or_else(|| "null".into())))
            .collect::<Result<_, _>>()
            .map(Some),
        other => Err(format!("expected a list, found {other:?}")),
    }
}

fn number(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not a whole number")),
        Value::String(s) => s.trim().parse().map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("expected a number, found {other:?}")),
    }
}

pub fn account_from(v: &Value) -> Result<PlainAccessConfig, String> {
    let Value::Mapping(m) = v else { return Err("an account is not a mapping".into()) };
    let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
    let field = |k: &'static str, r: Result<Option<String>, String>| r.map_err(|e| format!("{k}: {e}"));
    Ok(PlainAccessConfig {
        access_key: field("accessKey", string(get("accessKey")))?,
        secret_key: field("secretKey", string(get("secretKey")))?,
        white_remote_address: field("whiteRemoteAddress", string(get("whiteRemoteAddress")))?,
        admin: boolean(get("admin")).map_err(|e| format!("admin: {e}"))?,
        default_topic_perm: field("defaultTopicPerm", string(get("defaultTopicPerm")))?,
        default_group_perm: field("defaultGroupPerm", string(get("defaultGroupPerm")))?,
        topic_perms: strings(get("topicPerms")).map_err(|e| format!("topicPerms: {e}"))?,
        group_perms: strings(get("groupPerms")).map_err(|e| format!("groupPerms: {e}"))?,
    })
}

/// The first `dataVersion` entry, as `PlainPermissionManager.load` takes it.
pub fn data_version_from(m: &Mapping) -> Result<Option<DataVersion>, String> {
    let Some(Value::Sequence(list)) = m.get(DATA_VERSION) else { return Ok(None) };
    let Some(Value::Mapping(first)) = list.first() else { return Ok(None) };
    let get = |k: &str| first.get(k).map(number).transpose();
    Ok(Some(DataVersion { counter: get("counter")?.unwrap_or(0), timestamp: get("timestamp")?.unwrap_or(0) }))
}

impl AclFile {
    pub fn from_tree(m: &Mapping) -> Result<Self, String> {
        let global_white = strings(m.get(GLOBAL_WHITE).unwrap_or(&Value::Null))
            .map_err(|e| format!("{GLOBAL_WHITE}: {e}"))?
            .unwrap_or_default();
        let accounts = match m.get(ACCOUNTS).unwrap_or(&Value::Null) {
            Value::Null => vec![],
            Value::Sequence(items) => items.iter().map(account_from).collect::<Result<_, _>>()?,
            _ => return Err(format!("{ACCOUNTS} is not a list")),
        };
        Ok(AclFile { global_white, accounts, data_version: data_version_from(m)? })
    }

    pub fn load(path: &Path) -> AclResult<Option<Self>> {
        match read_tree(path)? {
            None => Ok(None),
            Some(m) => AclFile::from_tree(&m).map(Some).map_err(|e| bad(path, e)),
        }
    }
}

/// Writes an account's fields into its mapping as `createAclAccessConfigMap`
/// does: fields left out of the update keep their old values.
pub fn merge_account(into: &mut Mapping, c: &PlainAccessConfig) {
    let mut put = |k: &str, v: Value| {
        into.insert(Value::String(k.into()), v);
    };
    let list = |l: &Vec<String>| Value::Sequence(l.iter().cloned().map(Value::String).collect());
    if let Some(ak) = &c.access_key {
        put("accessKey", Value::String(ak.clone()));
    }
    if let Some(sk) = c.secret_key.as_ref().filter(|s| !s.is_empty()) {
        put("secretKey", Value::String(sk.clone()));
    }
    if let Some(w) = &c.white_remote_address {
        put("whiteRemoteAddress", Value::String(w.clone()));
    }
    put("admin", Value::Bool(c.admin));
    if let Some(p) = c.default_topic_perm.as_ref().filter(|s| !s.is_empty()) {
        put("defaultTopicPerm", Value::String(p.clone()));
    }
    if let Some(p) = c.default_group_perm.as_ref().filter(|s| !s.is_empty()) {
        put("defaultGroupPerm", Value::String(p.clone()));
    }
    if let Some(l) = &c.topic_perms {
        put("topicPerms", list(l));
    }
    if let Some(l) = &c.group_perms {
        put("groupPerms", list(l));
    }
}

/// Sets the file's `dataVersion` to the next one (`updateAclConfigFileVersion`).
pub fn bump_version(m: &mut Mapping, now_ms: i64) -> DataVersion {
    let mut v = data_version_from(m).ok().flatten().unwrap_or(DataVersion::new(now_ms));
    v.next(now_ms);
    let mut entry = Mapping::new();
    entry.insert("counter".into(), Value::Number(v.counter.into()));
    entry.insert("timestamp".into(), Value::Number(v.timestamp.into()));
    m.insert(DATA_VERSION.into(), Value::Sequence(vec![Value::Mapping(entry)]));
    v
}

/// Writes the tree back atomically (temp file, fsync, rename).
pub fn write_tree(path: &Path, m: &Mapping) -> AclResult<()> {
    let text = serde_norway::to_string(m).map_err(|e| bad(path, e))?;
    crate::store::config_file::persist(path, &text)
        .map_err(|e| AclError::Io { path: path.display().to_string(), why: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISTRIBUTION: &str = "
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*

accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
    groupPerms:
      # the group should convert to retry topic
      - groupA=DENY
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
";

    #[test]
    fn the_distribution_file_reads_with_java_coercions() {
        let f = AclFile::from_tree(&parse_tree(DISTRIBUTION).unwrap().unwrap()).unwrap();
        assert_eq!(f.global_white, vec!["10.10.103.*", "192.168.0.*"]);
        assert_eq!(f.accounts.len(), 2);
        assert_eq!(f.accounts[0].secret_key.as_deref(), Some("12345678"));
        assert_eq!(f.accounts[0].white_remote_address, None);
        assert_eq!(f.accounts[0].group_perms.as_deref(), Some(&["groupA=DENY".to_string()][..]));
        assert!(f.accounts[1].admin);
        assert!(f.data_version.is_none());
    }

    #[test]
    fn hostile_yaml_is_an_error_not_a_panic() {
        let laughs = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n\
                      g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
        for text in [
            "[1,2]",
            "accounts: 5",
            "accounts: [5]",
            "accounts:\n  - admin: maybe",
            "{{{{",
            &"[".repeat(10_000),
            laughs,
        ] {
            let r = parse_tree(text).and_then(|m| m.map(|m| AclFile::from_tree(&m)).transpose());
            assert!(r.is_err(), "{:.40} should be refused", text);
        }
        assert!(parse_tree("  \n").unwrap().is_none());
    }

    #[test]
    fn updates_keep_unknown_keys_and_bump_the_version() {
        let mut m = parse_tree(
            "custom: 1\naccounts:\n  - accessKey: abcdefg\n    secretKey: 1234567\n    topicPerms: [a=PUB]\n",
        )
        .unwrap()
        .unwrap();
        let Some(Value::Sequence(accts)) = m.get_mut(ACCOUNTS) else { panic!() };
        let Value::Mapping(a) = &mut accts[0] else { panic!() };
        merge_account(a, &PlainAccessConfig { access_key: Some("abcdefg".into()), admin: true, ..Default::default() });
        bump_version(&mut m, 5);
        let v = bump_version(&mut m, 9);
        assert_eq!((v.counter, v.timestamp), (2, 9));
        let f = AclFile::from_tree(&parse_tree(&serde_norway::to_string(&m).unwrap()).unwrap().unwrap()).unwrap();
        assert_eq!(f.accounts[0].secret_key.as_deref(), Some("1234567"));
        assert_eq!(f.accounts[0].topic_perms.as_deref(), Some(&["a=PUB".to_string()][..]));
        assert!(f.accounts[0].admin);
        assert_eq!(f.data_version.map(|v| v.counter), Some(2));
        assert!(m.contains_key("custom"));
    }
}

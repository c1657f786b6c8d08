//! The rules in force (`PlainPermissionManager`): every ACL file read into
//! one immutable snapshot, swapped whole on reload, so a request always sees
//! one consistent set and a bad edit leaves the last good set in force.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::address::AddressPattern;
use super::config::{self, AclFile, PlainAccessConfig};
use super::error::{AclError, AclResult};
use super::perm;
use super::resource::{AccessRequest, RETRY_PREFIX};
use super::sign;
use crate::protocol::topic::DataVersion;

/// Keys and secrets must be longer than this (`AclConstants.*_MIN_LENGTH`).
const MIN_KEY_LENGTH: usize = 6;
/// The message-trace topic: the Java broker lets any signed account publish to it.
const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// How often the files are checked for edits (Java's `FileWatchService`: 500 ms).
pub const WATCH_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);
/// How deep `conf/acl/` is searched for files.
const MAX_DIR_DEPTH: usize = 8;

/// Where the rules live.
#[derive(Debug, Clone)]
pub struct AclPaths {
    /// `${ROCKETMQ_HOME}/conf/plain_acl.yml` or the `aclConfigFile` key: new
    /// accounts and the global white list are written here.
    pub default_file: PathBuf,
    /// `${ROCKETMQ_HOME}/conf/acl`: every `.yml`/`.yaml` below it is read too.
    pub dir: Option<PathBuf>,
    /// `${ROCKETMQ_HOME}`: the global white list may be written to files under it only.
    pub home: Option<PathBuf>,
}

impl AclPaths {
    /// From `rocketmqHome` (else `ROCKETMQ_HOME`) and an optional explicit file.
    pub fn resolve(home: Option<&str>, explicit_file: Option<&str>) -> Option<Self> {
        let home = home
            .filter(|h| !h.trim().is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("ROCKETMQ_HOME").filter(|h| !h.is_empty()).map(PathBuf::from));
        let explicit = explicit_file.filter(|f| !f.trim().is_empty()).map(PathBuf::from);
        let default_file = explicit.or_else(|| home.as_ref().map(|h| h.join("conf").join("plain_acl.yml")))?;
        Some(AclPaths { default_file, dir: home.as_ref().map(|h| h.join("conf").join("acl")), home })
    }
}

/// One account, ready to check requests against.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_key: String,
    secret_key: String,
    white: AddressPattern,
    pub admin: bool,
    default_topic_perm: u8,
    default_group_perm: u8,
    /// Topic and retry-topic permissions; `None` when the account lists none.
    perms: Option<HashMap<String, u8>>,
}

impl Account {
    /// `buildPlainAccessResource`, refusing what Java refuses.
    pub fn build(c: &PlainAccessConfig) -> AclResult<Self> {
        let (ak, sk) = match (&c.access_key, &c.secret_key) {
            (Some(ak), Some(sk)) if ak.len() > MIN_KEY_LENGTH && sk.len() > MIN_KEY_LENGTH => (ak, sk),
            _ => {
                return Err(AclError::Config(format!(
                    "The accessKey={} and secretKey={} cannot be null and length should longer than 6",
                    c.access_key.as_deref().unwrap_or("null"),
                    c.secret_key.as_deref().unwrap_or("null")
                )))
            }
        };
        let mut perms: Option<HashMap<String, u8>> = None;
        for (list, is_topic) in [(&c.group_perms, false), (&c.topic_perms, true)] {
            for entry in list.iter().flatten() {
                let (name, p) = perm::parse_resource(entry, is_topic)?;
                let key = if is_topic { name } else { format!("{RETRY_PREFIX}{name}") };
                perms.get_or_insert_with(HashMap::new).insert(key, p);
            }
        }
        Ok(Account {
            access_key: ak.clone(),
            secret_key: sk.clone(),
            white: AddressPattern::parse(c.white_remote_address.as_deref())?,
            admin: c.admin,
            default_topic_perm: perm::parse(c.default_topic_perm.as_deref()),
            default_group_perm: perm::parse(c.default_group_perm.as_deref()),
            perms,
        })
    }
}

/// `PlainAccessResource.printStr`.
fn print_resource(resource: &str) -> String {
    match resource.strip_prefix(RETRY_PREFIX) {
        Some(group) => format!("group:{group}"),
        None => format!("topic:{resource}"),
    }
}

/// Everything read from the files at one moment.
#[derive(Debug, Default)]
pub struct Rules {
    global_white: Vec<AddressPattern>,
    accounts: HashMap<String, Account>,
    /// Which file each access key came from.
    key_file: HashMap<String, PathBuf>,
    pub files: Vec<PathBuf>,
    pub versions: BTreeMap<String, DataVersion>,
}

/// The identity a request proved.
pub enum Identity<'r> {
    /// Its address is on the global white list.
    WhiteListed,
    /// Its account's own white list, or a good signature.
    Account(&'r Account),
}

impl Rules {
    /// Reads every file; any error leaves the caller's rules as they were.
    pub fn load(paths: &AclPaths) -> AclResult<Rules> {
        let mut files = Vec::new();
        if let Some(dir) = &paths.dir {
            collect_files(dir, 0, &mut files);
        }
        if paths.default_file.exists() && !files.contains(&paths.default_file) {
            files.push(paths.default_file.clone());
        }
        let now = crate::store::now_ms();
        let mut rules = Rules { files: files.clone(), ..Default::default() };
        for path in files {
            let Some(file) = AclFile::load(&path)? else {
                tracing::debug!(file = %path.display(), "ACL file has no data");
                continue;
            };
            for w in &file.global_white {
                rules.global_white.push(AddressPattern::parse(Some(w)).map_err(|e| in_file(&path, e))?);
            }
            for c in &file.accounts {
                let account = Account::build(c).map_err(|e| in_file(&path, e))?;
                // The first file that names a key keeps it (as in Java).
                if rules.key_file.contains_key(&account.access_key) {
                    tracing::warn!(access_key = %account.access_key, file = %path.display(), "access key defined in more than one ACL file; the first is used");
                    continue;
                }
                rules.key_file.insert(account.access_key.clone(), path.clone());
                rules.accounts.insert(account.access_key.clone(), account);
            }
            let version = file.data_version.unwrap_or(DataVersion::new(now));
            rules.versions.insert(path.display().to_string(), version);
        }
        Ok(rules)
    }

    /// Who sent the request (`validate` up to the permission check).
    pub fn identify(&self, r: &AccessRequest) -> AclResult<Identity<'_>> {
        if self.global_white.iter().any(|p| p.matches(&r.host)) {
            return Ok(Identity::WhiteListed);
        }
        let ak = r.access_key.ok_or(AclError::NoAccessKey)?;
        let account = self.accounts.get(ak).ok_or_else(|| AclError::UnknownAccessKey(ak.to_string()))?;
        if account.white.matches(&r.host) {
            return Ok(Identity::Account(account));
        }
        let expected = sign::signature(&sign::server_content(r.req), &account.secret_key);
        if !r.signature.is_some_and(|got| sign::same(got, &expected)) {
            return Err(AclError::BadSignature(ak.to_string()));
        }
        Ok(Identity::Account(account))
    }

    /// `PlainPermissionManager.validate`, as the broker applies it.
    pub fn validate(&self, r: &AccessRequest) -> AclResult<()> {
        let account = match self.identify(r)? {
            Identity::WhiteListed => return Ok(()),
            Identity::Account(a) => a,
        };
        // Java returns before any permission check when the account's own
        // white list matched; identify() does not say which way it passed.
        if account.white.matches(&r.host) {
            return Ok(());
        }
        if r.resources.iter().any(|(res, p)| res == TRACE_TOPIC && *p == perm::PUB) {
            return Ok(());
        }
        check_perm(r, account)
    }

    pub fn version_of(&self, path: &Path) -> Option<DataVersion> {
        self.versions.get(&path.display().to_string()).copied()
    }

    pub fn file_of(&self, access_key: &str) -> Option<&PathBuf> {
        self.key_file.get(access_key)
    }
}

/// `PlainPermissionManager.checkPerm`.
fn check_perm(r: &AccessRequest, owned: &Account) -> AclResult<()> {
    if perm::needs_admin(r.req.code) && !owned.admin {
        return Err(AclError::NeedAdmin { code: r.req.code, access_key: owned.access_key.clone() });
    }
    if r.resources.is_empty() || (owned.perms.is_none() && owned.admin) {
        return Ok(());
    }
    for (resource, needed) in &r.resources {
        let is_group = resource.starts_with(RETRY_PREFIX);
        let listed = owned.perms.as_ref().and_then(|m| m.get(resource)).copied();
        let default = if is_group { owned.default_group_perm } else { owned.default_topic_perm };
        if !perm::check(*needed, listed.unwrap_or(default)) {
            return Err(AclError::NoPermission { resource: print_resource(resource), listed: listed.is_some() });
        }
    }
    Ok(())
}

fn in_file(path: &Path, e: AclError) -> AclError {
    AclError::Config(format!("{}: {e}", path.display()))
}

/// `getAllAclFiles`: `.yml`/`.yaml` files below `dir`, sorted by path (Java
/// takes the directory's order, which is unspecified).
fn collect_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DIR_DEPTH {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.to_string_lossy();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            if p.is_file() {
                out.push(p);
            }
        } else if p.is_dir() {
            collect_files(&p, depth + 1, out);
        }
    }
}

/// The manager: rules in force plus what the file watcher last saw.
pub struct AclManager {
    pub paths: AclPaths,
    rules: RwLock<Arc<Rules>>,
    /// Fingerprint of the files the rules were read from.
    seen: Mutex<u64>,
    /// Admin writes one at a time (Java's `synchronized` handlers).
    pub(super) write: Mutex<()>,
}

impl AclManager {
    /// Reads the files (creating an empty default file, as Java does); an
    /// error here stops the server from starting, as it does the Java broker.
    pub fn open(paths: AclPaths) -> AclResult<Arc<Self>> {
        if !paths.default_file.exists() && paths.default_file.parent().is_some_and(Path::is_dir) {
            if let Err(e) = std::fs::File::create(&paths.default_file) {
                tracing::warn!(file = %paths.default_file.display(), "cannot create the ACL file: {e}");
            }
        }
        let seen = fingerprint(&paths);
        let rules = Rules::load(&paths)?;
        tracing::info!(
            files = rules.files.len(),
            accounts = rules.accounts.len(),
            white = rules.global_white.len(),
            "ACL enabled: rules read from {}",
            paths.default_file.display()
        );
        Ok(Arc::new(AclManager {
            paths,
            rules: RwLock::new(Arc::new(rules)),
            seen: Mutex::new(seen),
            write: Mutex::new(()),
        }))
    }

    /// No rules (every check fails but the global white list's, which is
    /// empty) until the watcher reads good files: for a server that must
    /// start even when its ACL files are broken.
    pub fn closed(paths: AclPaths) -> Arc<Self> {
        Arc::new(AclManager { paths, rules: RwLock::new(Arc::new(Rules::default())), seen: Mutex::new(0), write: Mutex::new(()) })
    }

    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().unwrap().clone()
    }

    pub fn validate(&self, r: &AccessRequest) -> AclResult<()> {
        self.rules().validate(r)
    }

    /// Rereads the files if they changed since last read. A bad file leaves
    /// the rules in force and is logged; it is tried again once it changes.
    pub fn reload_if_changed(&self) {
        let now = fingerprint(&self.paths);
        let mut seen = self.seen.lock().unwrap();
        if *seen == now {
            return;
        }
        *seen = now;
        self.reload_logged();
    }

    /// Rereads the files now.
    pub fn reload_logged(&self) {
        match Rules::load(&self.paths) {
            Ok(rules) => {
                tracing::info!(files = rules.files.len(), accounts = rules.accounts.len(), "ACL files reloaded");
                *self.rules.write().unwrap() = Arc::new(rules);
            }
            Err(e) => tracing::error!("ACL files not reloaded, the previous rules stay in force: {e}"),
        }
    }

    /// Polls the files every `period` (Java's `FileWatchService` checks every
    /// 500 ms), from a thread that ends with the manager.
    pub fn spawn_watcher(self: &Arc<Self>, period: std::time::Duration) {
        let me = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("acl-watch".into()).spawn(move || loop {
            std::thread::sleep(period);
            let Some(me) = me.upgrade() else { return };
            me.reload_if_changed();
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the ACL file watcher; edits need a restart: {e}");
        }
    }
}

/// A hash of every ACL file's path and content (files are small and capped).
fn fingerprint(paths: &AclPaths) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut files = Vec::new();
    if let Some(dir) = &paths.dir {
        collect_files(dir, 0, &mut files);
    }
    files.push(paths.default_file.clone());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        match std::fs::metadata(&f) {
            Ok(m) if m.len() <= config::MAX_FILE_BYTES => std::fs::read(&f).ok().hash(&mut h),
            Ok(m) => (m.len(), m.modified().ok()).hash(&mut h),
            Err(_) => 0u8.hash(&mut h),
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remoting::codes::request as rc;
    use crate::remoting::RemotingCommand;

    fn rules(yaml: &str) -> Rules {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain_acl.yml");
        std::fs::write(&file, yaml).unwrap();
        Rules::load(&AclPaths { default_file: file, dir: None, home: None }).unwrap()
    }

    const YAML: &str = "
globalWhiteRemoteAddresses: [10.10.103.*]
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms: [topicA=DENY, topicB=PUB|SUB, topicC=SUB]
    groupPerms: [groupA=DENY]
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
";

    fn signed(mut req: RemotingCommand, ak: &str, sk: &str) -> RemotingCommand {
        sign::sign(&mut req, ak, sk);
        req
    }

    fn check(rules: &Rules, req: &RemotingCommand, from: &str) -> AclResult<()> {
        let addr = format!("{from}:1234").parse().unwrap();
        rules.validate(&AccessRequest::parse(req, &addr)?)
    }

    fn send(topic: &str) -> RemotingCommand {
        RemotingCommand::request(rc::SEND_MESSAGE_V2, 1).with_ext("a", "pg").with_ext("b", topic).with_body(&b"x"[..])
    }

    #[test]
    fn validation_follows_the_java_order() {
        let r = rules(YAML);
        // Global white list: no signature needed.
        assert!(check(&r, &send("topicA"), "10.10.103.5").is_ok());
        assert_eq!(check(&r, &send("topicB"), "10.0.0.1"), Err(AclError::NoAccessKey));
        assert_eq!(
            check(&r, &signed(send("topicB"), "nobody1", "12345678"), "10.0.0.1"),
            Err(AclError::UnknownAccessKey("nobody1".into()))
        );
        assert_eq!(
            check(&r, &signed(send("topicB"), "RocketMQ", "wrong-secret"), "10.0.0.1"),
            Err(AclError::BadSignature("RocketMQ".into()))
        );
        assert!(check(&r, &signed(send("topicB"), "RocketMQ", "12345678"), "10.0.0.1").is_ok());
        assert_eq!(
            check(&r, &signed(send("topicC"), "RocketMQ", "12345678"), "10.0.0.1"),
            Err(AclError::NoPermission { resource: "topic:topicC".into(), listed: true })
        );
        assert_eq!(
            check(&r, &signed(send("other"), "RocketMQ", "12345678"), "10.0.0.1"),
            Err(AclError::NoPermission { resource: "topic:other".into(), listed: false })
        );
        // The trace topic is open to any signed account.
        assert!(check(&r, &signed(send("RMQ_SYS_TRACE_TOPIC"), "RocketMQ", "12345678"), "10.0.0.1").is_ok());
        let back = RemotingCommand::request(rc::CONSUMER_SEND_MSG_BACK, 1).with_ext("group", "groupA");
        assert_eq!(
            check(&r, &signed(back, "RocketMQ", "12345678"), "10.0.0.1"),
            Err(AclError::NoPermission { resource: "group:groupA".into(), listed: true })
        );
        let topic = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC, 1).with_ext("topic", "x");
        assert_eq!(
            check(&r, &signed(topic.clone(), "RocketMQ", "12345678"), "10.0.0.1"),
            Err(AclError::NeedAdmin { code: rc::UPDATE_AND_CREATE_TOPIC, access_key: "RocketMQ".into() })
        );
        // An admin with no resource lists may do anything.
        assert!(check(&r, &signed(topic.clone(), "rocketmq2", "12345678"), "10.0.0.1").is_ok());
        // An account's own white list skips the signature.
        assert!(check(&r, &topic.with_ext("AccessKey", "rocketmq2"), "192.168.1.7").is_ok());
    }

    #[test]
    fn bad_files_are_refused_whole() {
        for yaml in [
            "accounts: [{accessKey: short, secretKey: 12345678}]",
            "accounts: [{accessKey: RocketMQ}]",
            "accounts: [{accessKey: RocketMQ, secretKey: 12345678, whiteRemoteAddress: 1.2.3}]",
            "accounts: [{accessKey: RocketMQ, secretKey: 12345678, topicPerms: [a]}]",
            "globalWhiteRemoteAddresses: [not-an-address]",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("plain_acl.yml");
            std::fs::write(&file, yaml).unwrap();
            assert!(Rules::load(&AclPaths { default_file: file, dir: None, home: None }).is_err(), "{yaml}");
        }
    }

    #[test]
    fn acl_dir_files_come_first_and_edits_reload() {
        let home = tempfile::tempdir().unwrap();
        let conf = home.path().join("conf");
        std::fs::create_dir_all(conf.join("acl")).unwrap();
        std::fs::write(
            conf.join("acl").join("a.yml"),
            "accounts: [{accessKey: sharedKey, secretKey: fromAclDir, defaultTopicPerm: PUB}]",
        )
        .unwrap();
        std::fs::write(
            conf.join("plain_acl.yml"),
            "accounts: [{accessKey: sharedKey, secretKey: fromPlain, defaultTopicPerm: PUB}]",
        )
        .unwrap();
        let paths = AclPaths::resolve(Some(home.path().to_str().unwrap()), None).unwrap();
        let m = AclManager::open(paths).unwrap();
        let ok = |sk: &str| check(&m.rules(), &signed(send("t"), "sharedKey", sk), "10.0.0.1").is_ok();
        assert!(ok("fromAclDir") && !ok("fromPlain"));
        std::fs::write(conf.join("acl").join("a.yml"), "accounts: [{accessKey: other12, secretKey: 12345678}]")
            .unwrap();
        m.reload_if_changed();
        assert!(ok("fromPlain"));
        // A broken edit keeps the rules in force.
        std::fs::write(conf.join("plain_acl.yml"), "accounts: [{{{").unwrap();
        m.reload_if_changed();
        assert!(ok("fromPlain"));
    }
}

//! The name server: brokers register here; clients ask it for routes.
//! `Namesrv` holds the state; what each request does is in `processor`.

pub mod acl;
pub mod kv_config;
pub mod metrics;
pub mod processor;
pub mod route_info;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::config::NamesrvConfig;
use crate::remoting::connection::{not_supported, ConnectionHandle, Reply, RequestProcessor};
use crate::remoting::limits::LogBudget;
use crate::acl::{AclManager, AclPaths};
use crate::remoting::hook::{Hooked, RequestHook, RequestLog};
use crate::remoting::RemotingCommand;
use kv_config::KvConfigManager;
use route_info::RouteInfo;

/// The name server's bounds on what clients can make it hold (ferromq's
/// own: the Java name server has none). Read from `namesrv.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamesrvLimits {
    /// `namesrvMaxBrokers`: broker addresses heard from, broker entries
    /// (name, id, address) and (cluster, broker name) memberships, each.
    pub max_brokers: usize,
    /// `namesrvMaxTopicRoutes`: (topic, broker name) queue entries.
    pub max_topic_routes: usize,
    /// `namesrvMaxKvConfigs`: key/values over all namespaces.
    pub max_kv_configs: usize,
    /// `namesrvMaxKvConfigBytes`: bytes of their namespaces, keys and values.
    pub max_kv_config_bytes: usize,
}

impl Default for NamesrvLimits {
    fn default() -> Self {
        NamesrvLimits { max_brokers: 4096, max_topic_routes: 1_000_000, max_kv_configs: 10_000, max_kv_config_bytes: 8 << 20 }
    }
}

/// A request refused because it would take the name server past a bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("name server limit {key} ({limit}) reached")]
pub struct LimitReached {
    pub key: &'static str,
    pub limit: usize,
}

pub struct Namesrv {
    /// Replaced whole by updateNamesrvConfig; readers take a snapshot.
    config: RwLock<Arc<NamesrvConfig>>,
    routes: Mutex<RouteInfo>,
    kv: KvConfigManager,
    /// `namesrvAclEnable`: the rules write requests are checked against.
    acl: Option<Arc<AclManager>>,
}

impl Namesrv {
    pub fn new(config: NamesrvConfig) -> Arc<Self> {
        let kv = KvConfigManager::load(config.kv_config_path.clone(), config.namesrv_limits);
        let acl = config.acl_enable.then(|| open_acl(&config));
        let routes = Mutex::new(RouteInfo::new(config.namesrv_limits));
        Arc::new(Namesrv { config: RwLock::new(Arc::new(config)), routes, kv, acl })
    }

    /// The name server behind its hooks (request logging, and ACL when on).
    pub fn processor(self: &Arc<Self>) -> Arc<Hooked<Namesrv>> {
        let mut hooks: Vec<Arc<dyn RequestHook>> = vec![Arc::new(RequestLog { slow: Duration::from_secs(1) })];
        if let Some(manager) = &self.acl {
            hooks.push(Arc::new(acl::NamesrvAcl { manager: manager.clone() }));
        }
        Hooked::new(self.clone(), hooks)
    }

    /// What the name server holds against its bounds (read at scrape time).
    pub fn usage(&self) -> (route_info::RouteUsage, (usize, usize)) {
        let routes = self.routes.lock().unwrap().usage();
        (routes, self.kv.usage())
    }

    pub fn config(&self) -> Arc<NamesrvConfig> {
        self.config.read().unwrap().clone()
    }

    /// Puts a validated configuration in force: the bounds apply to the
    /// next registration or key/value, the other settings where next read.
    fn replace_config(&self, new: NamesrvConfig) {
        self.routes.lock().unwrap().set_limits(new.namesrv_limits);
        self.kv.set_limits(new.namesrv_limits);
        *self.config.write().unwrap() = Arc::new(new);
    }

    /// Drops brokers silent for longer than `brokerExpiredMillis`, checking
    /// every 10 s as the Java name server does.
    pub fn spawn_broker_scan(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                let expiry = Duration::from_millis(me.config().broker_expired_ms);
                let dead = me.routes.lock().unwrap().remove_brokers(Some(expiry), None);
                for addr in dead {
                    tracing::warn!(broker = %addr, "broker expired: not heard from in {} ms", expiry.as_millis());
                }
            }
        });
    }
}

static REJECT_LOG: LogBudget = LogBudget::new(20);
/// Refusals at a bound, apart from malformed requests so neither hides the other.
static LIMIT_LOG: LogBudget = LogBudget::new(20);

impl RequestProcessor for Namesrv {
    async fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        let Some(handle) = processor::handler(req.code) else {
            return not_supported(&req).into();
        };
        handle(self, conn, &req)
            .unwrap_or_else(|e| {
                match &e {
                    processor::NamesrvError::Protocol(why) => {
                        if let Some(suppressed) = REJECT_LOG.allow() {
                            tracing::warn!(code = req.code, peer = %conn.remote_addr(), suppressed, "rejected request: {why}");
                        }
                    }
                    processor::NamesrvError::Limit(why) => {
                        if let Some(suppressed) = LIMIT_LOG.allow() {
                            tracing::warn!(code = req.code, peer = %conn.remote_addr(), suppressed, "refused request: {why}");
                        }
                    }
                    processor::NamesrvError::Response(..) => {}
                }
                e.into_response(&req)
            })
            .into()
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        let gone = self.routes.lock().unwrap().remove_brokers(None, Some(conn.id()));
        for addr in gone {
            tracing::info!(broker = %addr, "broker connection closed; removed from routes");
        }
    }
}

/// The name server's ACL rules. Unlike the broker it does not refuse to
/// start on a bad or missing file: it starts closed (writes refused, reads
/// open) and takes the rules up as soon as the file is fixed.
fn open_acl(config: &NamesrvConfig) -> Arc<AclManager> {
    let Some(paths) = config.acl_paths.clone() else {
        tracing::error!("namesrvAclEnable=true but there is no ACL file (set rocketmqHome, ROCKETMQ_HOME or aclConfigFile): every write is refused");
        return AclManager::closed(AclPaths { default_file: PathBuf::new(), dir: None, home: None });
    };
    let manager = AclManager::open(paths.clone()).unwrap_or_else(|e| {
        tracing::error!("name server ACL: {e}; every write is refused until the file is fixed");
        AclManager::closed(paths)
    });
    manager.spawn_watcher(crate::acl::manager::WATCH_PERIOD);
    manager
}

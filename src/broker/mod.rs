//! The broker: its state (store, managers, services) and construction. What
//! each request does is in `processor`, one family per file, found through
//! one table; `Broker`'s `RequestProcessor` impl looks the code up there.

pub mod client_manager;
pub mod error;
pub mod filter;
pub mod hooks;
pub mod lock_manager;
pub mod metrics;
pub mod offset_manager;
pub mod processor;
pub mod pull_hold;
pub mod register;
pub mod schedule;
pub mod timer;
pub mod slave_sync;
pub mod stats;
pub mod subscription_group_manager;
pub mod topic_config_manager;
pub mod transaction;

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::config::BrokerConfig;
use crate::remoting::client::RemotingClient;
use crate::remoting::connection::{not_supported, ConnectionHandle, Reply, RequestProcessor};
use crate::remoting::hook::Hooked;
use crate::remoting::limits::LogBudget;
use crate::remoting::RemotingCommand;
use crate::store::{MessageStore, StoreError};
use client_manager::{notify_consumer_ids_changed, ConsumerManager, ProducerManager};
use lock_manager::RebalanceLockManager;
use offset_manager::ConsumerOffsetManager;
use pull_hold::PullRequestHoldService;
use schedule::ScheduleMessageService;
use subscription_group_manager::SubscriptionGroupManager;
use topic_config_manager::TopicConfigManager;

pub struct Broker {
    /// Swapped whole when UPDATE_BROKER_CONFIG changes a run-time setting.
    config: std::sync::RwLock<Arc<BrokerConfig>>,
    pub store: Arc<MessageStore>,
    pub topics: TopicConfigManager,
    pub offsets: ConsumerOffsetManager,
    pub subscription_groups: SubscriptionGroupManager,
    pub schedule: ScheduleMessageService,
    /// The timer wheel and log (see `timer`), also a store dispatcher.
    pub timer: Option<Arc<crate::store::timer::TimerStore>>,
    pub locks: RebalanceLockManager,
    pub transactions: transaction::TransactionState,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub pull_hold: Arc<PullRequestHoldService>,
    pub stats: stats::BrokerStats,
    pub metrics: metrics::RequestMetrics,
    pub store_host: SocketAddr,
    /// The ACL rules when `aclEnable` is on (see `hooks::Acl`, `processor::acl_admin`).
    pub acl: Option<Arc<crate::acl::AclManager>>,
    namesrv_client: RemotingClient,
    /// Data version of the configuration, bumped by UPDATE_BROKER_CONFIG.
    config_version: std::sync::Mutex<crate::protocol::topic::DataVersion>,
    /// Wakes the registration task to register with the name servers now.
    register_now: tokio::sync::Notify,
    /// A slave's master, learned at registration (see `slave_sync`).
    slave_sync: slave_sync::SlaveSync,
    me: Weak<Broker>,
}

/// The ACL rules, read once at start (a bad file stops the broker, as it
/// stops the Java one) and then watched for edits.
fn open_acl(config: &BrokerConfig) -> Result<Option<Arc<crate::acl::AclManager>>, StoreError> {
    if !config.acl_enable {
        return Ok(None);
    }
    let refuse = |why: String| StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
    let paths = config.acl_paths.clone().ok_or_else(|| {
        refuse("aclEnable=true but there is no ACL file: set rocketmqHome (or ROCKETMQ_HOME) or aclConfigFile".into())
    })?;
    let manager = crate::acl::AclManager::open(paths).map_err(|e| refuse(format!("ACL: {e}")))?;
    manager.spawn_watcher(crate::acl::manager::WATCH_PERIOD);
    Ok(Some(manager))
}

impl Broker {
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, StoreError> {
        let acl = open_acl(&config)?;
        let store_host: SocketAddr = format!("{}:{}", config.broker_ip, config.listen_port)
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], config.listen_port)));
        let timer = Arc::new(crate::store::timer::TimerStore::open(&config.store_root.join("timer"), config.timer)?);
        let mut extensions = schedule::store_extensions(&config);
        extensions.dispatchers.push(timer.clone());
        let store = Arc::new(MessageStore::open_with(config.store_config(store_host), extensions)?);
        crate::store::ha::bind(&store).map_err(StoreError::Io)?;
        let pull_hold = Arc::new(PullRequestHoldService::default());
        let hold = pull_hold.clone();
        store.set_arrival_listener(move |topic, queue_id, max_offset| hold.notify(topic, queue_id, max_offset));
        let topics = TopicConfigManager::load(&config);
        let offsets = ConsumerOffsetManager::load(config.config_dir().join("consumerOffset.json"));
        // After a crash the store may have cut a torn tail: no offset may point past the data.
        if offsets.clamp_to(|topic, q| store.max_offset_in_queue(topic, q)) > 0 {
            offsets.persist();
        }
        let subscription_groups = SubscriptionGroupManager::load(
            config.config_dir().join("subscriptionGroup.json"),
            config.auto_create_subscription_group,
            config.max_subscription_group_nums,
        );
        let schedule = ScheduleMessageService::load(config.config_dir().join("delayOffset.json"));
        Ok(Arc::new_cyclic(|me| Broker {
            store,
            topics,
            offsets,
            subscription_groups,
            schedule,
            timer: Some(timer),
            locks: RebalanceLockManager::default(),
            transactions: Default::default(),
            consumers: ConsumerManager::default(),
            producers: ProducerManager::default(),
            pull_hold,
            stats: Default::default(),
            metrics: Default::default(),
            store_host,
            acl,
            namesrv_client: RemotingClient::default(),
            register_now: tokio::sync::Notify::new(),
            slave_sync: Default::default(),
            me: me.clone(),
            config: std::sync::RwLock::new(Arc::new(config)),
            config_version: std::sync::Mutex::new(crate::protocol::topic::DataVersion::new(crate::store::now_ms())),
        }))
    }

    /// The current configuration.
    pub fn cfg(&self) -> Arc<BrokerConfig> {
        self.config.read().unwrap().clone()
    }

    pub(super) fn replace_config(&self, c: BrokerConfig) {
        *self.config.write().unwrap() = Arc::new(c);
    }

    fn arc(&self) -> Arc<Broker> {
        self.me.upgrade().expect("broker is alive while serving")
    }

    /// The broker behind its hooks: what every port serves.
    pub fn processor(self: &Arc<Self>) -> Arc<Hooked<Broker>> {
        Hooked::new(self.clone(), hooks::standard(self))
    }

    /// Asks the registration task to send our topics to the name servers.
    pub fn trigger_register(&self) {
        self.register_now.notify_one();
    }

    /// Periodic housekeeping: offset persistence, idle clients; the store
    /// runs its own flush and retention threads.
    pub fn spawn_services(self: &Arc<Self>) {
        self.store.start_services();
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut offsets = tokio::time::interval(Duration::from_secs(5));
            let mut idle = tokio::time::interval(Duration::from_secs(10));
            let mut sample = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = sample.tick() => {
                        let Some(b) = me.upgrade() else { return };
                        b.stats.sample();
                    }
                    _ = offsets.tick() => {
                        let Some(b) = me.upgrade() else { return };
                        tokio::task::spawn_blocking(move || b.offsets.persist());
                    }
                    _ = idle.tick() => {
                        let Some(b) = me.upgrade() else { return };
                        let idle_for = Duration::from_millis(b.cfg().channel_not_active_ms);
                        for (group, remaining) in b.consumers.scan_idle(idle_for) {
                            if b.cfg().notify_consumer_ids_changed {
                                notify_consumer_ids_changed(&group, &remaining);
                            }
                        }
                        b.producers.scan_idle(idle_for);
                    }
                }
            }
        });
        register::spawn_register_loop(self);
        crate::store::ha::start(&self.store);
        if self.is_slave() {
            // As Java's broker: a slave delivers no delayed messages and checks
            // no transactions (its store refuses writes); it syncs metadata.
            slave_sync::spawn(self);
        } else {
            self.spawn_schedule_service();
            self.spawn_timer_service();
            self.spawn_transaction_check();
        }
    }

    /// Persists everything and flushes the store (graceful stop).
    pub async fn shutdown(&self) {
        self.unregister_all().await;
        self.topics.flush();
        self.subscription_groups.flush();
        self.offsets.persist();
        self.schedule.persist();
        if let Err(e) = self.store.shutdown() {
            tracing::error!("store shutdown failed: {e}");
        }
    }
}

static REJECT_LOG: LogBudget = LogBudget::new(20);

impl RequestProcessor for Broker {
    /// Looks the code up in the table and runs its handler. Here, and only
    /// here, an unknown code is answered and a handler's error becomes its
    /// response; a route's `finish` applies to every response it gives.
    async fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        let Some(route) = processor::route(req.code) else {
            return not_supported(&req).into();
        };
        let reply = (route.handle)(self, conn, &req).unwrap_or_else(|e| {
            if let error::BrokerError::Protocol(why) = &e {
                if let Some(suppressed) = REJECT_LOG.allow() {
                    tracing::warn!(code = req.code, peer = %conn.remote_addr(), suppressed, "rejected request: {why}");
                }
            }
            e.into_response(&req, &self.cfg()).into()
        });
        let Some(finish) = route.finish else { return reply };
        match reply {
            Reply::Now(resp) => Reply::Now(resp.map(|r| finish(self, r))),
            Reply::Later(wait) => {
                let broker = self.arc();
                Reply::later(async move { wait.await.map(|r| finish(&broker, r)) })
            }
        }
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        self.producers.unregister(conn.id(), None);
        let notify = self.cfg().notify_consumer_ids_changed;
        for (group, remaining) in self.consumers.unregister(conn.id(), None) {
            if notify && !remaining.is_empty() {
                notify_consumer_ids_changed(&group, &remaining);
            }
        }
    }
}

/// A broker on a temporary store with small segments, for tests that drive
/// handlers and services without a socket; `extra` overrides settings.
#[cfg(test)]
pub(crate) fn test_broker(dir: &std::path::Path, extra: &[(&str, &str)]) -> Arc<Broker> {
    let mut s = crate::config::broker_defaults();
    s.apply([
        ("storePathRootDir".to_string(), dir.display().to_string()),
        ("mappedFileSizeCommitLog".to_string(), "1048576".to_string()),
        ("brokerName".to_string(), "broker-a".to_string()),
        // No HA port: Broker::open binds it, and tests run side by side.
        ("haListenPort".to_string(), "0".to_string()),
    ]);
    s.apply(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Broker::open(BrokerConfig::from_settings(s).unwrap()).unwrap()
}

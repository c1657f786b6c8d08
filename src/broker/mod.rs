//! The broker: one processor per concern, all sharing the store and the
//! managers held here.

pub mod admin;
pub mod admin_groups;
pub mod client_manager;
pub mod config_admin;
pub mod consumer_manage;
pub mod error;
pub mod filter;
pub mod offset_manager;
pub mod pull;
pub mod query;
pub mod lock_manager;
pub mod register;
pub mod retry;
pub mod schedule;
pub mod send;
pub mod stats;
pub mod subscription_group_manager;
pub mod topic_config_manager;
pub mod transaction;

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::config::BrokerConfig;
use crate::remoting::client::RemotingClient;
use crate::remoting::codes::request as rc;
use crate::remoting::connection::{not_supported, ConnectionHandle, RequestProcessor};
use crate::remoting::RemotingCommand;
use crate::store::{MessageStore, StoreError};
use client_manager::{notify_consumer_ids_changed, ConsumerManager, ProducerManager};
use error::BrokerResult;
use offset_manager::ConsumerOffsetManager;
use lock_manager::RebalanceLockManager;
use pull::PullRequestHoldService;
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
    pub locks: RebalanceLockManager,
    pub transactions: transaction::TransactionState,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub pull_hold: Arc<PullRequestHoldService>,
    pub stats: stats::BrokerStats,
    pub store_host: SocketAddr,
    namesrv_client: RemotingClient,
    /// Data version of the configuration, bumped by UPDATE_BROKER_CONFIG.
    config_version: std::sync::Mutex<crate::protocol::topic::DataVersion>,
    /// Wakes the registration task to register with the name servers now.
    register_now: tokio::sync::Notify,
    me: Weak<Broker>,
}

impl Broker {
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, StoreError> {
        let store_host: SocketAddr = format!("{}:{}", config.broker_ip, config.listen_port)
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], config.listen_port)));
        let store = Arc::new(MessageStore::open_with(config.store_config(store_host), schedule::store_extensions(&config))?);
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
        );
        let schedule = ScheduleMessageService::load(config.config_dir().join("delayOffset.json"));
        Ok(Arc::new_cyclic(|me| Broker {
            store,
            topics,
            offsets,
            subscription_groups,
            schedule,
            locks: RebalanceLockManager::default(),
            transactions: Default::default(),
            consumers: ConsumerManager::default(),
            producers: ProducerManager::default(),
            pull_hold,
            stats: Default::default(),
            store_host,
            namesrv_client: RemotingClient::default(),
            register_now: tokio::sync::Notify::new(),
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
        self.spawn_schedule_service();
        self.spawn_transaction_check();
    }

    /// Persists everything and flushes the store (graceful stop).
    pub async fn shutdown(&self) {
        self.unregister_all().await;
        self.offsets.persist();
        self.schedule.persist();
        if let Err(e) = self.store.shutdown() {
            tracing::error!("store shutdown failed: {e}");
        }
    }

    async fn handle(&self, conn: &ConnectionHandle, req: RemotingCommand) -> BrokerResult<Option<RemotingCommand>> {
        let resp = match req.code {
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 => self.send_message(conn, &req).await,
            rc::SEND_BATCH_MESSAGE => self.send_batch_message(conn, &req).await,
            rc::PULL_MESSAGE => return self.pull_message(conn, req),
            rc::HEART_BEAT => self.heart_beat(conn, &req),
            rc::UNREGISTER_CLIENT => self.unregister_client(conn, &req),
            rc::GET_CONSUMER_LIST_BY_GROUP => self.get_consumer_list_by_group(&req),
            rc::QUERY_CONSUMER_OFFSET => self.query_consumer_offset(&req),
            rc::UPDATE_CONSUMER_OFFSET => self.update_consumer_offset(&req),
            rc::GET_MAX_OFFSET => self.get_max_offset(&req),
            rc::GET_MIN_OFFSET => self.get_min_offset(&req),
            rc::SEARCH_OFFSET_BY_TIMESTAMP => self.search_offset_by_timestamp(&req),
            rc::GET_EARLIEST_MSG_STORETIME => self.get_earliest_msg_storetime(&req),
            rc::GET_ALL_TOPIC_CONFIG => self.get_all_topic_config(&req),
            rc::UPDATE_AND_CREATE_TOPIC => self.update_and_create_topic(&req),
            rc::CONSUMER_SEND_MSG_BACK => self.consumer_send_msg_back(&req),
            rc::END_TRANSACTION => self.end_transaction(&req),
            rc::QUERY_MESSAGE => self.query_message(&req),
            rc::GET_BROKER_CONFIG => self.get_broker_config(&req),
            rc::GET_BROKER_RUNTIME_INFO => self.get_broker_runtime_info(&req),
            rc::VIEW_BROKER_STATS_DATA => self.view_broker_stats_data(&req),
            rc::GET_TOPIC_STATS_INFO => self.get_topic_stats_info(&req),
            rc::GET_CONSUME_STATS => self.get_consume_stats(&req),
            rc::GET_CONSUMER_CONNECTION_LIST => self.get_consumer_connection_list(&req),
            rc::GET_PRODUCER_CONNECTION_LIST => self.get_producer_connection_list(&req),
            rc::QUERY_TOPIC_CONSUME_BY_WHO => self.query_topic_consume_by_who(&req),
            rc::GET_ALL_CONSUMER_OFFSET => self.get_all_consumer_offset(&req),
            rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => self.get_all_subscription_group(&req),
            rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => self.update_and_create_subscription_group(&req),
            rc::DELETE_SUBSCRIPTIONGROUP => self.delete_subscription_group(&req),
            rc::DELETE_TOPIC_IN_BROKER => self.delete_topic_in_broker(&req),
            rc::CLONE_GROUP_OFFSET => self.clone_group_offset(&req),
            rc::INVOKE_BROKER_TO_RESET_OFFSET => self.invoke_broker_to_reset_offset(&req),
            rc::GET_CONSUMER_RUNNING_INFO | rc::CONSUME_MESSAGE_DIRECTLY => self.call_consumer(&req).await,
            rc::UPDATE_BROKER_CONFIG => self.update_broker_config(&req),
            rc::VIEW_MESSAGE_BY_ID => self.view_message_by_id(&req),
            rc::LOCK_BATCH_MQ => self.lock_batch_mq(&req),
            rc::UNLOCK_BATCH_MQ => self.unlock_batch_mq(&req),
            rc::CHECK_CLIENT_CONFIG => self.check_client_config(&req),
            rc::GET_ALL_DELAY_OFFSET => Ok(RemotingCommand::response_to(&req, crate::remoting::codes::response::SUCCESS, None)
                .with_body(self.schedule.to_json().into_bytes())),
            _ => Ok(not_supported(&req)),
        }?;
        Ok(Some(resp))
    }
}

impl RequestProcessor for Broker {
    async fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> Option<RemotingCommand> {
        let code = req.code;
        let opaque = req.opaque;
        let st = req.serialize_type;
        match self.handle(conn, req).await {
            Ok(resp) => resp,
            Err(e) => {
                let mut stub = RemotingCommand::request(code, opaque);
                stub.serialize_type = st;
                Some(e.into_response(&stub))
            }
        }
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        self.producers.unregister(conn.id(), None);
        for (group, remaining) in self.consumers.unregister(conn.id(), None) {
            if self.cfg().notify_consumer_ids_changed && !remaining.is_empty() {
                notify_consumer_ids_changed(&group, &remaining);
            }
        }
    }
}

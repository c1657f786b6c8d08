//! A slave's metadata sync (`SlaveSynchronize`) and what it learns from
//! registering (`BrokerController.doRegisterBrokerAll`): every 10 s, after
//! a first wait of 3 s, the slave asks its master (the `masterAddr` of the
//! last registration result) for topic configs, consumer offsets, delay
//! offsets and subscription groups, and takes them as its own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Broker;
use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::fastjson;
use crate::protocol::header::{CommandHeader, RegisterBrokerResponseHeader};
use crate::remoting::codes::{request, response};
use crate::remoting::RemotingCommand;
use crate::store::ha::BrokerRole;

const FIRST_SYNC: Duration = Duration::from_secs(3);
const SYNC_PERIOD: Duration = Duration::from_secs(10);
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);

/// The master's broker address, learned from the name servers.
#[derive(Default)]
pub struct SlaveSync {
    master_addr: Mutex<Option<String>>,
}

impl SlaveSync {
    pub fn master_addr(&self) -> Option<String> {
        self.master_addr.lock().unwrap().clone()
    }
}

impl Broker {
    /// The role the store was opened with (a run-time config change does
    /// not switch it).
    pub fn is_slave(&self) -> bool {
        self.store.ha().role() == BrokerRole::Slave
    }

    /// What a slave takes from a registration answer: the master's HA
    /// address (unless `haMasterAddress` fixes it) and its broker address.
    pub(super) fn on_register_result(&self, resp: &RemotingCommand) {
        if !self.is_slave() {
            return;
        }
        let Ok(h) = RegisterBrokerResponseHeader::decode(resp) else { return };
        if self.cfg().ha.master_address.is_none() {
            if let Some(ha) = h.ha_server_addr.as_deref().filter(|a| !a.is_empty()) {
                self.store.ha().update_master_address(ha);
            }
        }
        *self.slave_sync.master_addr.lock().unwrap() = h.master_addr.filter(|a| !a.is_empty());
    }

    async fn fetch(&self, master: &str, code: i32) -> Option<bytes::Bytes> {
        let req = RemotingCommand::request(code, 0);
        match self.namesrv_client.invoke(master, req, SYNC_TIMEOUT).await {
            Ok(r) if r.code == response::SUCCESS => r.body,
            Ok(r) => {
                tracing::warn!(master, code, answer = r.code, remark = ?r.remark, "slave sync refused");
                None
            }
            Err(e) => {
                tracing::warn!(master, code, "slave sync failed: {e}");
                None
            }
        }
    }

    /// `SlaveSynchronize.syncAll`.
    pub async fn sync_from_master(&self) {
        let Some(master) = self.slave_sync.master_addr() else { return };
        if master == self.cfg().broker_addr() {
            return;
        }
        if let Some(body) = self.fetch(&master, request::GET_ALL_TOPIC_CONFIG).await {
            match fastjson::parse::<TopicConfigSerializeWrapper>(&body) {
                Ok(w) => {
                    if self.topics.replace_from_master(w) {
                        tracing::info!(master, "topic configs synced from master");
                    }
                }
                Err(e) => tracing::warn!(master, "topic configs from master unreadable: {e}"),
            }
        }
        if let Some(body) = self.fetch(&master, request::GET_ALL_CONSUMER_OFFSET).await {
            if let Err(e) = self.offsets.put_all_from_master(&body) {
                tracing::warn!(master, "consumer offsets from master unreadable: {e}");
            }
        }
        if let Some(body) = self.fetch(&master, request::GET_ALL_DELAY_OFFSET).await {
            if let Err(e) = self.schedule.replace_from_master(&body) {
                tracing::warn!(master, "delay offsets from master unreadable: {e}");
            }
        }
        if let Some(body) = self.fetch(&master, request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await {
            match self.subscription_groups.replace_from_master(&body) {
                Ok(true) => tracing::info!(master, "subscription groups synced from master"),
                Ok(false) => {}
                Err(e) => tracing::warn!(master, "subscription groups from master unreadable: {e}"),
            }
        }
    }
}

pub fn spawn(broker: &Arc<Broker>) {
    let me = Arc::downgrade(broker);
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_SYNC).await;
        loop {
            let Some(b) = me.upgrade() else { return };
            b.sync_from_master().await;
            drop(b);
            tokio::time::sleep(SYNC_PERIOD).await;
        }
    });
}

//! Master/slave replication of the commit log, byte-compatible with
//! RocketMQ 4.x's `HAService`: a master accepts slaves on `haListenPort`
//! and streams its commit log to them (`master`); a slave connects to its
//! master, appends what it receives at exactly the offset the master
//! names, and builds consume queues and index from it (`slave`, `append`).
//! `frame` holds the wire format. SYNC_MASTER sends wait here
//! (`wait_replicated`) for a slave to have their bytes.

mod append;
pub mod frame;
mod master;
mod slave;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{MessageStore, StoreError};

/// `brokerRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    AsyncMaster,
    SyncMaster,
    Slave,
}

impl BrokerRole {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "ASYNC_MASTER" => Some(BrokerRole::AsyncMaster),
            "SYNC_MASTER" => Some(BrokerRole::SyncMaster),
            "SLAVE" => Some(BrokerRole::Slave),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
        }
    }
}

/// The HA part of `MessageStoreConfig`, Java's defaults.
#[derive(Debug, Clone)]
pub struct HaConfig {
    pub role: BrokerRole,
    /// 0: no HA listener.
    pub listen_port: u16,
    /// `haMasterAddress`: a fixed master HA address for a slave; when
    /// unset the slave takes the one the name server returns.
    pub master_address: Option<String>,
    pub send_heartbeat_interval_ms: u64,
    pub housekeeping_interval_ms: u64,
    pub transfer_batch_size: usize,
    pub slave_fallbehind_max: i64,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            role: BrokerRole::AsyncMaster,
            listen_port: 0,
            master_address: None,
            send_heartbeat_interval_ms: 5000,
            housekeeping_interval_ms: 20_000,
            transfer_batch_size: 32 * 1024,
            slave_fallbehind_max: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HaError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the protocol; the connection is dropped.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A frame not at the slave's end offset: the slave reconnects and
    /// resumes from its own max offset.
    #[error("master sent offset {got}, slave expects {expected}")]
    Mismatch { expected: i64, got: i64 },
    #[error("peer silent for longer than haHousekeepingInterval")]
    Expired,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How a SYNC_MASTER send's replication ended (`PutMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaStatus {
    PutOk,
    /// No slave connected, or the slaves are more than
    /// `haSlaveFallbehindMax` bytes behind.
    SlaveNotAvailable,
    /// No slave had the bytes within `syncFlushTimeout`.
    FlushSlaveTimeout,
}

/// HA state the store keeps: connected slaves, how far they have acked,
/// and the slave's master address.
pub struct HaState {
    pub(crate) config: HaConfig,
    connections: AtomicUsize,
    /// The highest offset any slave acked (`push2SlaveMaxOffset`); never goes back.
    push2slave: tokio::sync::watch::Sender<i64>,
    /// Woken after each put, so master writers stream at once.
    appended: tokio::sync::Notify,
    master_address: Mutex<Option<String>>,
    master_changed: tokio::sync::Notify,
    /// The HA port, bound at open by [`bind`] and served from [`start`].
    listener: Mutex<Option<std::net::TcpListener>>,
}

impl HaState {
    pub(crate) fn new(config: HaConfig) -> Self {
        let master_address = config.master_address.clone().filter(|a| a.len() >= 6);
        HaState {
            config,
            connections: AtomicUsize::new(0),
            push2slave: tokio::sync::watch::channel(0).0,
            appended: tokio::sync::Notify::new(),
            master_address: Mutex::new(master_address),
            master_changed: tokio::sync::Notify::new(),
            listener: Mutex::new(None),
        }
    }

    pub fn role(&self) -> BrokerRole {
        self.config.role
    }

    pub fn config(&self) -> &HaConfig {
        &self.config
    }

    /// Slaves connected now (`connectionCount`).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// `push2SlaveMaxOffset`.
    pub fn slave_acked(&self) -> i64 {
        *self.push2slave.borrow()
    }

    /// `notifyTransferSome`: raises the acked offset.
    fn acked(&self, offset: i64) {
        self.push2slave.send_if_modified(|v| {
            let up = offset > *v;
            *v = (*v).max(offset);
            up
        });
    }

    pub(crate) fn notify_appended(&self) {
        self.appended.notify_waiters();
    }

    /// `isSlaveOK`: a slave is connected and less than
    /// `haSlaveFallbehindMax` bytes behind `master_put_where`.
    pub fn is_slave_ok(&self, master_put_where: i64) -> bool {
        self.connections() > 0 && master_put_where - self.slave_acked() < self.config.slave_fallbehind_max
    }

    /// The master HA address a slave connects to.
    pub fn master_address(&self) -> Option<String> {
        self.master_address.lock().unwrap().clone()
    }

    /// `updateHaMasterAddress`.
    pub fn update_master_address(&self, addr: &str) {
        let mut cur = self.master_address.lock().unwrap();
        if cur.as_deref() != Some(addr) {
            tracing::info!(old = ?*cur, new = addr, "update master HA address");
            *cur = Some(addr.to_string());
            self.master_changed.notify_waiters();
        }
    }
}

impl MessageStore {
    pub fn ha(&self) -> &HaState {
        &self.ha
    }

    /// SYNC_MASTER: waits until a slave has the commit log up to `end`
    /// (`submitReplicaRequest` + `GroupTransferService`), at most
    /// `syncFlushTimeout`. Holds no lock while waiting.
    pub async fn wait_replicated(&self, end: i64) -> ReplicaStatus {
        if !self.ha.is_slave_ok(end) {
            return ReplicaStatus::SlaveNotAvailable;
        }
        self.ha.notify_appended();
        let mut rx = self.ha.push2slave.subscribe();
        let timeout = Duration::from_millis(self.config.sync_flush_timeout_ms);
        let done = tokio::time::timeout(timeout, rx.wait_for(|v| *v >= end)).await.is_ok_and(|r| r.is_ok());
        if done {
            ReplicaStatus::PutOk
        } else {
            ReplicaStatus::FlushSlaveTimeout
        }
    }
}

/// Binds `haListenPort` (every role listens, as Java's `HAService.start`).
/// An error is fatal to the broker, as a port Java's `AcceptSocketService`
/// cannot bind stops the Java broker's start.
pub fn bind(store: &MessageStore) -> std::io::Result<()> {
    let port = store.ha.config.listen_port;
    if port == 0 {
        return Ok(());
    }
    let l = std::net::TcpListener::bind(("0.0.0.0", port))
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen for HA slaves on haListenPort {port}: {e}")))?;
    *store.ha.listener.lock().unwrap() = Some(l);
    Ok(())
}

/// Starts the HA services: serves the port [`bind`] bound (binding it now
/// if it was not, when an error is only logged) and, on a slave, the
/// client to the master.
pub fn start(store: &Arc<MessageStore>) {
    let cfg = store.ha.config.clone();
    if store.ha.listener.lock().unwrap().is_none() {
        if let Err(e) = bind(store) {
            tracing::error!("{e}");
        }
    }
    let bound = store.ha.listener.lock().unwrap().take();
    if let Some(l) = bound {
        match tokio::net::TcpListener::from_std(l) {
            Ok(l) => {
                tokio::spawn(master::accept_loop(Arc::downgrade(store), l));
            }
            Err(e) => tracing::error!(port = cfg.listen_port, "cannot listen for HA slaves: {e}"),
        }
    }
    if cfg.role == BrokerRole::Slave {
        tokio::spawn(slave::client_loop(Arc::downgrade(store)));
    }
}

#[cfg(test)]
mod tests;

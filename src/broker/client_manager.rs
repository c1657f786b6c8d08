//! Who is connected: consumer groups with their subscriptions, and producer
//! groups (`ConsumerManager`, `ProducerManager`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::protocol::header::{CommandHeader, NotifyConsumerIdsChangedRequestHeader};
use crate::protocol::heartbeat::SubscriptionData;
use crate::remoting::codes::request;
use crate::remoting::{ConnectionHandle, RemotingCommand};

#[derive(Clone)]
pub struct ClientChannelInfo {
    pub conn: ConnectionHandle,
    pub client_id: String,
    pub language: String,
    pub version: i32,
    pub last_update: Instant,
}

pub struct ConsumerGroupInfo {
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
    pub subscriptions: HashMap<String, SubscriptionData>,
    pub channels: HashMap<u64, ClientChannelInfo>,
}

impl ConsumerGroupInfo {
    /// Client ids in a stable order, as clients sort them anyway.
    pub fn client_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.channels.values().map(|c| c.client_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[derive(Default)]
pub struct ConsumerManager {
    groups: Mutex<HashMap<String, ConsumerGroupInfo>>,
}

pub struct ConsumerRegistration {
    pub group: String,
    pub channel: ClientChannelInfo,
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
    pub subscriptions: Vec<SubscriptionData>,
}

impl ConsumerManager {
    /// Registers or refreshes a consumer. Returns the group's connections
    /// to notify when its membership changed.
    pub fn register(&self, r: ConsumerRegistration) -> Option<Vec<ConnectionHandle>> {
        let mut groups = self.groups.lock().unwrap();
        let info = groups.entry(r.group.clone()).or_insert_with(|| ConsumerGroupInfo {
            consume_type: r.consume_type.clone(),
            message_model: r.message_model.clone(),
            consume_from_where: r.consume_from_where.clone(),
            subscriptions: HashMap::new(),
            channels: HashMap::new(),
        });
        info.consume_type = r.consume_type;
        info.message_model = r.message_model;
        info.consume_from_where = r.consume_from_where;
        let new_channel = match info.channels.get_mut(&r.channel.conn.id()) {
            Some(existing) => {
                existing.last_update = Instant::now();
                existing.client_id = r.channel.client_id.clone();
                false
            }
            None => {
                tracing::info!(group = %r.group, client = %r.channel.client_id, "new consumer connected");
                info.channels.insert(r.channel.conn.id(), r.channel);
                true
            }
        };
        let topics: Vec<String> = r.subscriptions.iter().map(|s| s.topic.clone()).collect();
        for sub in r.subscriptions {
            match info.subscriptions.get(&sub.topic) {
                Some(old) if old.sub_version >= sub.sub_version => {}
                _ => {
                    info.subscriptions.insert(sub.topic.clone(), sub);
                }
            }
        }
        info.subscriptions.retain(|t, _| topics.contains(t));
        new_channel.then(|| info.channels.values().map(|c| c.conn.clone()).collect())
    }

    /// Removes a connection from every group (or from `group` only). Returns
    /// (group, remaining connections) for each group it left.
    pub fn unregister(&self, conn_id: u64, group: Option<&str>) -> Vec<(String, Vec<ConnectionHandle>)> {
        let mut groups = self.groups.lock().unwrap();
        let mut changed = Vec::new();
        for (name, info) in groups.iter_mut() {
            if group.is_some_and(|g| g != name) {
                continue;
            }
            if info.channels.remove(&conn_id).is_some() {
                tracing::info!(group = %name, "consumer left");
                changed.push((name.clone(), info.channels.values().map(|c| c.conn.clone()).collect()));
            }
        }
        groups.retain(|_, info| !info.channels.is_empty());
        changed
    }

    /// Drops connections silent for longer than `idle`; returns the groups
    /// that changed, with their remaining members.
    pub fn scan_idle(&self, idle: Duration) -> Vec<(String, Vec<ConnectionHandle>)> {
        let stale: Vec<ConnectionHandle> = {
            let groups = self.groups.lock().unwrap();
            groups
                .values()
                .flat_map(|g| g.channels.values())
                .filter(|c| c.last_update.elapsed() > idle || c.conn.is_closed())
                .map(|c| c.conn.clone())
                .collect()
        };
        let mut changed = Vec::new();
        for conn in stale {
            tracing::warn!(peer = %conn.remote_addr(), "consumer channel expired");
            conn.close();
            changed.extend(self.unregister(conn.id(), None));
        }
        changed
    }

    pub fn with_group<R>(&self, group: &str, f: impl FnOnce(&ConsumerGroupInfo) -> R) -> Option<R> {
        self.groups.lock().unwrap().get(group).map(f)
    }

    /// Online groups subscribed to `topic`.
    pub fn groups_subscribed_to(&self, topic: &str) -> Vec<String> {
        let groups = self.groups.lock().unwrap();
        groups.iter().filter(|(_, g)| g.subscriptions.contains_key(topic)).map(|(n, _)| n.clone()).collect()
    }

    pub fn subscription(&self, group: &str, topic: &str) -> Option<Option<SubscriptionData>> {
        self.with_group(group, |g| g.subscriptions.get(topic).cloned())
    }
}

/// NOTIFY_CONSUMER_IDS_CHANGED, oneway, to each remaining member.
pub fn notify_consumer_ids_changed(group: &str, conns: &[ConnectionHandle]) {
    for c in conns {
        let header = NotifyConsumerIdsChangedRequestHeader { consumer_group: group.to_string() };
        let req = header.encode(RemotingCommand::request(request::NOTIFY_CONSUMER_IDS_CHANGED, 0));
        c.send_oneway(req);
    }
}

#[derive(Default)]
pub struct ProducerManager {
    groups: Mutex<HashMap<String, HashMap<u64, ClientChannelInfo>>>,
}

impl ProducerManager {
    pub fn register(&self, group: &str, channel: ClientChannelInfo) {
        let mut groups = self.groups.lock().unwrap();
        let g = groups.entry(group.to_string()).or_default();
        match g.get_mut(&channel.conn.id()) {
            Some(c) => c.last_update = Instant::now(),
            None => {
                g.insert(channel.conn.id(), channel);
            }
        }
    }

    pub fn unregister(&self, conn_id: u64, group: Option<&str>) {
        let mut groups = self.groups.lock().unwrap();
        for (name, g) in groups.iter_mut() {
            if group.is_none_or(|want| want == name) {
                g.remove(&conn_id);
            }
        }
        groups.retain(|_, g| !g.is_empty());
    }

    pub fn scan_idle(&self, idle: Duration) {
        let mut groups = self.groups.lock().unwrap();
        for g in groups.values_mut() {
            g.retain(|_, c| {
                let keep = c.last_update.elapsed() <= idle && !c.conn.is_closed();
                if !keep {
                    c.conn.close();
                }
                keep
            });
        }
        groups.retain(|_, g| !g.is_empty());
    }

    /// A live connection of a producer in `group`.
    pub fn any_channel(&self, group: &str) -> Option<ClientChannelInfo> {
        let groups = self.groups.lock().unwrap();
        groups.get(group)?.values().find(|c| !c.conn.is_closed()).cloned()
    }

    /// Every producer group and its channels (`ProducerManager.getProducerTable`).
    pub fn all(&self) -> Vec<(String, Vec<ClientChannelInfo>)> {
        let groups = self.groups.lock().unwrap();
        let mut all: Vec<_> = groups.iter().map(|(g, c)| (g.clone(), c.values().cloned().collect())).collect();
        all.sort_by(|a: &(String, Vec<ClientChannelInfo>), b| a.0.cmp(&b.0));
        all
    }

    pub fn channels(&self, group: &str) -> Vec<ClientChannelInfo> {
        self.groups.lock().unwrap().get(group).map(|g| g.values().cloned().collect()).unwrap_or_default()
    }
}

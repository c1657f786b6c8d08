//! `RouteInfoManager`: which brokers exist, which topics they serve, and
//! when each was last heard from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::route::{BrokerData, ClusterInfo, QueueData, TopicRouteData};
use crate::protocol::topic::DataVersion;

use super::{LimitReached, NamesrvLimits};

struct BrokerLiveInfo {
    last_update: Instant,
    data_version: DataVersion,
    ha_server_addr: String,
    /// The connection the broker registered over, so a closed connection
    /// removes it at once.
    conn_id: Option<u64>,
}

pub struct RouteInfo {
    limits: NamesrvLimits,
    /// topic → broker name → queue data
    topic_queue_table: HashMap<String, BTreeMap<String, QueueData>>,
    broker_addr_table: BTreeMap<String, BrokerData>,
    cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
    broker_live_table: HashMap<String, BrokerLiveInfo>,
}

impl Default for RouteInfo {
    fn default() -> Self {
        RouteInfo::new(NamesrvLimits::default())
    }
}

pub struct Registration<'a> {
    pub cluster_name: &'a str,
    pub broker_addr: &'a str,
    pub broker_name: &'a str,
    pub broker_id: i64,
    pub ha_server_addr: &'a str,
    pub topics: Option<&'a TopicConfigSerializeWrapper>,
    pub conn_id: Option<u64>,
}

/// Counts of `RouteInfo`'s tables (see `RouteInfo::usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteUsage {
    pub brokers: usize,
    pub topic_routes: usize,
    pub topics: usize,
    pub clusters: usize,
}

pub struct RegisterResult {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

impl RouteInfo {
    pub fn new(limits: NamesrvLimits) -> Self {
        RouteInfo {
            limits,
            topic_queue_table: HashMap::new(),
            broker_addr_table: BTreeMap::new(),
            cluster_addr_table: BTreeMap::new(),
            broker_live_table: HashMap::new(),
        }
    }

    /// Registers (or re-registers) a broker. One that would take the tables
    /// past a bound is refused before anything changes: a known broker keeps
    /// its previous routes (and stays alive, as it was heard from).
    pub fn register_broker(&mut self, r: Registration<'_>) -> Result<RegisterResult, LimitReached> {
        let first_registration =
            !self.broker_addr_table.get(r.broker_name).is_some_and(|bd| bd.broker_addrs.contains_key(&r.broker_id));
        let new_topics = r.topics.filter(|wrapper| {
            r.broker_id == 0
                && (first_registration
                    || self.broker_live_table.get(r.broker_addr).is_none_or(|l| l.data_version != wrapper.data_version))
        });
        if let Err(e) = self.check_bounds(&r, new_topics) {
            self.touch(r.broker_addr);
            return Err(e);
        }
        self.cluster_addr_table.entry(r.cluster_name.to_string()).or_default().insert(r.broker_name.to_string());
        let bd = self.broker_addr_table.entry(r.broker_name.to_string()).or_insert_with(|| BrokerData {
            broker_addrs: BTreeMap::new(),
            broker_name: r.broker_name.to_string(),
            cluster: r.cluster_name.to_string(),
        });
        // One address holds one role: drop it under any other id (role switch).
        bd.broker_addrs.retain(|id, addr| !(addr == r.broker_addr && *id != r.broker_id));
        bd.broker_addrs.insert(r.broker_id, r.broker_addr.to_string());
        if let Some(wrapper) = new_topics {
            self.replace_topics_of(r.broker_name, wrapper);
        }
        let data_version = r.topics.map(|w| w.data_version).unwrap_or(DataVersion::new(0));
        self.broker_live_table.insert(
            r.broker_addr.to_string(),
            BrokerLiveInfo {
                last_update: Instant::now(),
                data_version,
                ha_server_addr: r.ha_server_addr.to_string(),
                conn_id: r.conn_id,
            },
        );
        let mut result = RegisterResult { master_addr: None, ha_server_addr: None };
        if r.broker_id != 0 {
            if let Some(master) = self.broker_addr_table.get(r.broker_name).and_then(|b| b.master_addr()) {
                result.ha_server_addr = self.broker_live_table.get(master).map(|l| l.ha_server_addr.clone());
                result.master_addr = Some(master.to_string());
            }
        }
        Ok(result)
    }

    /// `namesrvMaxBrokers` bounds live addresses, (name, id, address) entries
    /// and (cluster, name) memberships alike; only what `r` would add counts,
    /// so a known broker always re-registers. `namesrvMaxTopicRoutes` is
    /// checked with the broker's old topics replaced by `new_topics`.
    fn check_bounds(&self, r: &Registration<'_>, new_topics: Option<&TopicConfigSerializeWrapper>) -> Result<(), LimitReached> {
        let max = self.limits.max_brokers;
        let adds_address = !self.broker_live_table.contains_key(r.broker_addr);
        // A known id is replaced, and a known address under another id moves.
        let adds_entry = !self.broker_addr_table.get(r.broker_name).is_some_and(|bd| {
            bd.broker_addrs.contains_key(&r.broker_id) || bd.broker_addrs.values().any(|a| a == r.broker_addr)
        });
        let adds_membership = !self.cluster_addr_table.get(r.cluster_name).is_some_and(|names| names.contains(r.broker_name));
        let entries: usize = self.broker_addr_table.values().map(|bd| bd.broker_addrs.len()).sum();
        let memberships: usize = self.cluster_addr_table.values().map(BTreeSet::len).sum();
        if (adds_address && self.broker_live_table.len() >= max)
            || (adds_entry && entries >= max)
            || (adds_membership && memberships >= max)
        {
            return Err(LimitReached { key: "namesrvMaxBrokers", limit: max });
        }
        if let Some(wrapper) = new_topics {
            let (mut total, mut own) = (0, 0);
            for by_broker in self.topic_queue_table.values() {
                total += by_broker.len();
                own += usize::from(by_broker.contains_key(r.broker_name));
            }
            if total - own + wrapper.topic_config_table.len() > self.limits.max_topic_routes {
                return Err(LimitReached { key: "namesrvMaxTopicRoutes", limit: self.limits.max_topic_routes });
            }
        }
        Ok(())
    }

    fn replace_topics_of(&mut self, broker_name: &str, wrapper: &TopicConfigSerializeWrapper) {
        // Topics the broker no longer has lose this broker's queues.
        for (topic, by_broker) in self.topic_queue_table.iter_mut() {
            if !wrapper.topic_config_table.contains_key(topic) {
                by_broker.remove(broker_name);
            }
        }
        self.topic_queue_table.retain(|_, m| !m.is_empty());
        for (name, tc) in &wrapper.topic_config_table {
            self.topic_queue_table.entry(name.clone()).or_default().insert(
                broker_name.to_string(),
                QueueData {
                    broker_name: broker_name.to_string(),
                    perm: tc.perm,
                    read_queue_nums: tc.read_queue_nums,
                    topic_sys_flag: tc.topic_sys_flag,
                    write_queue_nums: tc.write_queue_nums,
                },
            );
        }
    }

    /// New bounds (updateNamesrvConfig): only growth past them is refused.
    pub fn set_limits(&mut self, limits: NamesrvLimits) {
        self.limits = limits;
    }

    /// What the tables hold now, for metrics: live broker addresses, (topic,
    /// broker name) routes, topics and clusters.
    pub fn usage(&self) -> RouteUsage {
        RouteUsage {
            brokers: self.broker_live_table.len(),
            topic_routes: self.topic_queue_table.values().map(BTreeMap::len).sum(),
            topics: self.topic_queue_table.len(),
            clusters: self.cluster_addr_table.len(),
        }
    }

    /// Whether the broker's topic data differs from `dv` (QUERY_DATA_VERSION).
    pub fn is_changed(&self, broker_addr: &str, dv: &DataVersion) -> bool {
        self.broker_live_table.get(broker_addr).is_none_or(|l| l.data_version != *dv)
    }

    pub fn data_version(&self, broker_addr: &str) -> Option<DataVersion> {
        self.broker_live_table.get(broker_addr).map(|l| l.data_version)
    }

    pub fn touch(&mut self, broker_addr: &str) {
        if let Some(l) = self.broker_live_table.get_mut(broker_addr) {
            l.last_update = Instant::now();
        }
    }

    /// Removes the (name, id, address) entry. The address stays alive while
    /// another broker name still holds it, so that entry still expires.
    pub fn unregister_broker(&mut self, broker_addr: &str, broker_name: &str, broker_id: i64) {
        let mut broker_gone = false;
        if let Some(bd) = self.broker_addr_table.get_mut(broker_name) {
            bd.broker_addrs.retain(|id, addr| !(*id == broker_id && addr == broker_addr));
            broker_gone = bd.broker_addrs.is_empty();
        }
        if !self.broker_addr_table.values().any(|bd| bd.broker_addrs.values().any(|a| a == broker_addr)) {
            self.broker_live_table.remove(broker_addr);
        }
        if broker_gone {
            self.broker_addr_table.remove(broker_name);
            // Every cluster it was registered under (as Java's onChannelDestroy).
            for names in self.cluster_addr_table.values_mut() {
                names.remove(broker_name);
            }
            self.cluster_addr_table.retain(|_, names| !names.is_empty());
            for by_broker in self.topic_queue_table.values_mut() {
                by_broker.remove(broker_name);
            }
            self.topic_queue_table.retain(|_, m| !m.is_empty());
        }
    }

    /// Removes brokers not heard from within `expiry`, or whose connection
    /// `conn_id` closed, under every broker name that holds their address
    /// (as Java's onChannelDestroy). Returns the removed addresses.
    pub fn remove_brokers(&mut self, expiry: Option<Duration>, conn_id: Option<u64>) -> Vec<String> {
        let now = Instant::now();
        let dead: Vec<String> = self
            .broker_live_table
            .iter()
            .filter(|(_, l)| {
                expiry.is_some_and(|e| now.duration_since(l.last_update) > e)
                    || (conn_id.is_some() && l.conn_id == conn_id)
            })
            .map(|(a, _)| a.clone())
            .collect();
        for addr in &dead {
            let holders: Vec<(String, i64)> = self
                .broker_addr_table
                .values()
                .flat_map(|bd| bd.broker_addrs.iter().filter(|(_, a)| *a == addr).map(|(id, _)| (bd.broker_name.clone(), *id)))
                .collect();
            self.broker_live_table.remove(addr);
            for (name, id) in holders {
                self.unregister_broker(addr, &name, id);
            }
        }
        dead
    }

    pub fn topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let by_broker = self.topic_queue_table.get(topic)?;
        let queue_datas: Vec<QueueData> = by_broker.values().cloned().collect();
        let broker_datas: Vec<BrokerData> =
            by_broker.keys().filter_map(|name| self.broker_addr_table.get(name).cloned()).collect();
        if broker_datas.is_empty() || queue_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData { broker_datas, filter_server_table: HashMap::new(), order_topic_conf: None, queue_datas })
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.broker_addr_table.clone(),
            cluster_addr_table: self
                .cluster_addr_table
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect(),
        }
    }

    /// Topics served by any broker of `cluster` (GET_TOPICS_BY_CLUSTER).
    pub fn topics_of_cluster(&self, cluster: &str) -> Vec<String> {
        let Some(names) = self.cluster_addr_table.get(cluster) else { return Vec::new() };
        let mut t: Vec<String> = self
            .topic_queue_table
            .iter()
            .filter(|(_, by_broker)| by_broker.keys().any(|b| names.contains(b)))
            .map(|(t, _)| t.clone())
            .collect();
        t.sort();
        t
    }

    pub fn delete_topic(&mut self, topic: &str) {
        self.topic_queue_table.remove(topic);
    }

    /// Clears the write permission of `broker_name`'s queues; returns how many topics changed.
    pub fn wipe_write_perm(&mut self, broker_name: &str) -> usize {
        let mut n = 0;
        for by_broker in self.topic_queue_table.values_mut() {
            if let Some(qd) = by_broker.get_mut(broker_name) {
                qd.perm &= !crate::protocol::perm::WRITE;
                n += 1;
            }
        }
        n
    }

    /// Gives `broker_name`'s queues write permission back (`addWritePermOfBroker`,
    /// the undo of [`Self::wipe_write_perm`]); returns how many topics changed.
    pub fn add_write_perm(&mut self, broker_name: &str) -> usize {
        let mut n = 0;
        for by_broker in self.topic_queue_table.values_mut() {
            if let Some(qd) = by_broker.get_mut(broker_name) {
                qd.perm |= crate::protocol::perm::WRITE;
                n += 1;
            }
        }
        n
    }

    pub fn all_topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.topic_queue_table.keys().cloned().collect();
        t.sort();
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::topic::TopicConfig;

    fn wrapper(topics: &[&str], counter: i64) -> TopicConfigSerializeWrapper {
        TopicConfigSerializeWrapper {
            data_version: DataVersion { counter, timestamp: 1 },
            topic_config_table: topics.iter().map(|t| (t.to_string(), TopicConfig::new(t, 4, 4, 6))).collect(),
        }
    }

    fn reg<'a>(w: &'a TopicConfigSerializeWrapper, conn: u64) -> Registration<'a> {
        reg_as("DefaultCluster", "broker-a", "127.0.0.1:10911", w, conn)
    }

    fn reg_as<'a>(cluster: &'a str, name: &'a str, addr: &'a str, w: &'a TopicConfigSerializeWrapper, conn: u64) -> Registration<'a> {
        Registration {
            cluster_name: cluster,
            broker_addr: addr,
            broker_name: name,
            broker_id: 0,
            ha_server_addr: "127.0.0.1:10912",
            topics: Some(w),
            conn_id: Some(conn),
        }
    }

    fn limited(max_brokers: usize, max_topic_routes: usize) -> RouteInfo {
        RouteInfo::new(NamesrvLimits { max_brokers, max_topic_routes, ..NamesrvLimits::default() })
    }

    /// Bound to `max_brokers`, with (cluster, name, address, connection)s registered, serving T1.
    fn with_brokers(max_brokers: usize, brokers: &[(&str, &str, &str, u64)]) -> RouteInfo {
        let mut r = limited(max_brokers, 100);
        for &(cluster, name, addr, conn) in brokers {
            r.register_broker(reg_as(cluster, name, addr, &wrapper(&["T1"], 1), conn)).unwrap();
        }
        r
    }

    #[test]
    fn brokers_past_the_bound_are_refused_and_known_ones_re_register() {
        let mut r = with_brokers(2, &[("C", "a", "10.0.0.1:1", 1), ("C", "b", "10.0.0.2:1", 2)]);
        let w = wrapper(&["T1"], 1);
        let refused = LimitReached { key: "namesrvMaxBrokers", limit: 2 };
        // A new address, a new name at a known address, a known name in a new cluster.
        assert_eq!(r.register_broker(reg_as("C", "c", "10.0.0.3:1", &w, 3)).err(), Some(refused.clone()));
        assert_eq!(r.register_broker(reg_as("C", "c", "10.0.0.1:1", &w, 1)).err(), Some(refused.clone()));
        assert_eq!(r.register_broker(reg_as("C2", "a", "10.0.0.1:1", &w, 1)).err(), Some(refused.clone()));
        assert_eq!(refused.to_string(), "name server limit namesrvMaxBrokers (2) reached");
        let info = r.cluster_info();
        assert_eq!(info.broker_addr_table.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(info.cluster_addr_table.keys().collect::<Vec<_>>(), ["C"]);
        // Heartbeats of known brokers, same or new data version, and a role switch.
        r.register_broker(reg_as("C", "a", "10.0.0.1:1", &w, 1)).unwrap();
        let w2 = wrapper(&["T1", "T2"], 2);
        r.register_broker(reg_as("C", "b", "10.0.0.2:1", &w2, 2)).unwrap();
        r.register_broker(Registration { broker_id: 1, ..reg_as("C", "b", "10.0.0.2:1", &w2, 2) }).unwrap();
        assert_eq!(r.topic_route("T1").unwrap().queue_datas.len(), 2);
        // A broker gone makes room.
        r.remove_brokers(None, Some(1));
        r.register_broker(reg_as("C", "c", "10.0.0.3:1", &w, 3)).unwrap();
    }

    #[test]
    fn a_closed_connection_removes_its_address_under_every_name_and_cluster() {
        let addr = "10.0.0.1:1";
        let mut r = with_brokers(3, &[("C1", "a", addr, 1), ("C2", "a", addr, 1), ("C1", "b", addr, 1)]);
        let w = wrapper(&["T1"], 1);
        assert!(r.register_broker(reg_as("C1", "c", "10.0.0.1:1", &w, 1)).is_err());
        // UNREGISTER of one entry leaves the address alive under the other name.
        r.unregister_broker("10.0.0.1:1", "b", 0);
        assert!(r.data_version("10.0.0.1:1").is_some());
        r.register_broker(reg_as("C1", "b", "10.0.0.1:1", &w, 1)).unwrap();
        assert_eq!(r.remove_brokers(None, Some(1)), ["10.0.0.1:1"]);
        let info = r.cluster_info();
        assert!(info.broker_addr_table.is_empty() && info.cluster_addr_table.is_empty(), "left: {:?}", info.cluster_addr_table);
        assert!(r.all_topics().is_empty());
        for (cluster, name) in [("C1", "x"), ("C2", "y"), ("C3", "z")] {
            r.register_broker(reg_as(cluster, name, "10.0.0.2:1", &w, 2)).unwrap();
        }
    }

    #[test]
    fn topic_routes_count_a_brokers_topics_as_replaced() {
        let mut r = limited(10, 3);
        r.register_broker(reg_as("C", "a", "10.0.0.1:1", &wrapper(&["T1", "T2"], 1), 1)).unwrap();
        // b's two would make four: refused whole, nothing of b is left.
        let e = r.register_broker(reg_as("C", "b", "10.0.0.2:1", &wrapper(&["T1", "T2"], 1), 2)).err().unwrap();
        assert_eq!(e, LimitReached { key: "namesrvMaxTopicRoutes", limit: 3 });
        assert!(!r.cluster_info().broker_addr_table.contains_key("b"));
        assert_eq!(r.topic_route("T1").unwrap().queue_datas.len(), 1);
        r.register_broker(reg_as("C", "b", "10.0.0.2:1", &wrapper(&["T3"], 1), 2)).unwrap();
        // a swaps its two topics for two others: still three.
        r.register_broker(reg_as("C", "a", "10.0.0.1:1", &wrapper(&["T4", "T5"], 2), 1)).unwrap();
        assert!(r.topic_route("T1").is_none());
        // Three for a would make four: a keeps its routes and its data version.
        let three = wrapper(&["T4", "T5", "T6"], 3);
        assert!(r.register_broker(reg_as("C", "a", "10.0.0.1:1", &three, 1)).is_err());
        assert!(r.topic_route("T4").is_some() && r.topic_route("T6").is_none());
        assert!(r.is_changed("10.0.0.1:1", &three.data_version));
        assert_eq!(r.all_topics(), ["T3", "T4", "T5"]);
        // Once b's topic is deleted there is room.
        r.delete_topic("T3");
        r.register_broker(reg_as("C", "a", "10.0.0.1:1", &three, 1)).unwrap();
        assert!(r.topic_route("T6").is_some());
    }

    #[test]
    fn register_route_and_expire() {
        let mut r = RouteInfo::default();
        let w = wrapper(&["T1", "TBW102"], 1);
        r.register_broker(reg(&w, 7)).unwrap();
        let route = r.topic_route("T1").unwrap();
        assert_eq!(route.queue_datas[0].write_queue_nums, 4);
        assert_eq!(route.broker_datas[0].master_addr(), Some("127.0.0.1:10911"));
        assert!(r.topic_route("nope").is_none());
        // A new data version that drops T1 removes its route.
        let w2 = wrapper(&["TBW102"], 2);
        r.register_broker(reg(&w2, 7)).unwrap();
        assert!(r.topic_route("T1").is_none());
        assert_eq!(r.cluster_info().cluster_addr_table["DefaultCluster"], vec!["broker-a"]);
        assert_eq!(r.remove_brokers(Some(Duration::from_secs(120)), None).len(), 0);
        assert_eq!(r.remove_brokers(None, Some(7)), vec!["127.0.0.1:10911"]);
        assert!(r.topic_route("TBW102").is_none());
        assert!(r.cluster_info().broker_addr_table.is_empty());
    }

    #[test]
    fn silent_broker_expires() {
        let mut r = RouteInfo::default();
        let w = wrapper(&["T1"], 1);
        r.register_broker(reg(&w, 1)).unwrap();
        assert_eq!(r.remove_brokers(Some(Duration::ZERO), None).len(), 1);
        assert!(r.topic_route("T1").is_none());
    }

    #[test]
    fn wipe_then_add_write_perm() {
        let mut r = RouteInfo::default();
        let w = wrapper(&["T1", "T2"], 1);
        r.register_broker(reg(&w, 1)).unwrap();
        assert_eq!(r.wipe_write_perm("broker-a"), 2);
        assert_eq!(r.topic_route("T1").unwrap().queue_datas[0].perm, 4);
        assert_eq!(r.add_write_perm("broker-b"), 0);
        assert_eq!(r.add_write_perm("broker-a"), 2);
        assert_eq!(r.topic_route("T1").unwrap().queue_datas[0].perm, 6);
    }
}

//! Queue locks for orderly consumers (`RebalanceLockManager`): a queue is
//! held by one client per group until it unlocks or stops renewing for 60 s.
//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ are served in `processor::consumer`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `rocketmq.broker.rebalance.lockMaxLiveTime` default.
pub const LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

struct LockEntry {
    client_id: String,
    last_update: Instant,
}

pub struct RebalanceLockManager {
    max_live: Duration,
    table: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
}

impl Default for RebalanceLockManager {
    fn default() -> Self {
        RebalanceLockManager::with_max_live(LOCK_MAX_LIVE_TIME)
    }
}

impl RebalanceLockManager {
    pub fn with_max_live(max_live: Duration) -> Self {
        RebalanceLockManager { max_live, table: Mutex::new(HashMap::new()) }
    }

    /// Locks (or renews) what it can for `client_id`; returns the queues it holds.
    pub fn try_lock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) -> BTreeSet<MessageQueue> {
        let mut table = self.table.lock().unwrap();
        let locks = table.entry(group.to_string()).or_default();
        let now = Instant::now();
        let mut ok = BTreeSet::new();
        for mq in mqs {
            match locks.get_mut(mq) {
                Some(e) if e.client_id == client_id => {
                    e.last_update = now;
                    ok.insert(mq.clone());
                }
                Some(e) if now.duration_since(e.last_update) > self.max_live => {
                    tracing::warn!(group, ?mq, old = %e.client_id, new = client_id, "expired queue lock taken over");
                    e.client_id = client_id.to_string();
                    e.last_update = now;
                    ok.insert(mq.clone());
                }
                Some(e) => {
                    tracing::debug!(group, ?mq, holder = %e.client_id, wanted_by = client_id, "queue locked by another client");
                }
                None => {
                    locks.insert(mq.clone(), LockEntry { client_id: client_id.to_string(), last_update: now });
                    ok.insert(mq.clone());
                }
            }
        }
        ok
    }

    pub fn unlock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) {
        let mut table = self.table.lock().unwrap();
        if let Some(locks) = table.get_mut(group) {
            for mq in mqs {
                if locks.get(mq).is_some_and(|e| e.client_id == client_id) {
                    locks.remove(mq);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue { broker_name: "b".into(), queue_id: q, topic: "T".into() }
    }

    #[test]
    fn one_holder_per_queue_until_unlock_or_expiry() {
        let m = RebalanceLockManager::with_max_live(Duration::from_millis(50));
        assert_eq!(m.try_lock_batch("G", &[mq(0), mq(1)], "c1").len(), 2);
        assert!(m.try_lock_batch("G", &[mq(0)], "c2").is_empty());
        // Another group is independent.
        assert_eq!(m.try_lock_batch("H", &[mq(0)], "c2").len(), 1);
        // The holder relocks (renews).
        assert_eq!(m.try_lock_batch("G", &[mq(0)], "c1").len(), 1);
        m.unlock_batch("G", &[mq(1)], "c2"); // not the holder: no effect
        assert!(m.try_lock_batch("G", &[mq(1)], "c2").is_empty());
        m.unlock_batch("G", &[mq(1)], "c1");
        assert_eq!(m.try_lock_batch("G", &[mq(1)], "c2").len(), 1);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(m.try_lock_batch("G", &[mq(0)], "c2").len(), 1, "expired lock is taken over");
    }
}

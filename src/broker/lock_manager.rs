//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ for orderly consumers
//! (`RebalanceLockManager`): a queue is held by one client per group until
//! it unlocks or stops renewing for 60 s.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::BrokerResult;
use super::Broker;
use crate::protocol::{fastjson, ProtocolError};
use crate::remoting::codes::response;
use crate::remoting::RemotingCommand;

/// `rocketmq.broker.rebalance.lockMaxLiveTime` default.
pub const LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LockBatchRequestBody {
    client_id: String,
    consumer_group: String,
    #[serde(default)]
    mq_set: Vec<MessageQueue>,
}

#[derive(Serialize)]
struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet")]
    lock_ok_mq_set: BTreeSet<MessageQueue>,
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

fn parse_body(req: &RemotingCommand) -> Result<LockBatchRequestBody, ProtocolError> {
    let body = req.body.as_deref().ok_or_else(|| ProtocolError::BadBody("lock request without body".into()))?;
    fastjson::parse(body)
}

impl Broker {
    pub(super) fn lock_batch_mq(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let b = parse_body(req)?;
        crate::protocol::names::check_group(&b.consumer_group)?;
        // Only queues this broker has can be locked: the lock table is not a
        // place for a peer to store arbitrary names.
        let mq_set: Vec<MessageQueue> = b
            .mq_set
            .into_iter()
            .filter(|mq| self.topics.get(&mq.topic).is_some_and(|tc| (0..tc.read_queue_nums.max(tc.write_queue_nums)).contains(&mq.queue_id)))
            .collect();
        let ok = self.locks.try_lock_batch(&b.consumer_group, &mq_set, &b.client_id);
        let body = serde_json::to_vec(&LockBatchResponseBody { lock_ok_mq_set: ok }).unwrap();
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(body))
    }

    pub(super) fn unlock_batch_mq(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let b = parse_body(req)?;
        self.locks.unlock_batch(&b.consumer_group, &b.mq_set, &b.client_id);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
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

    #[test]
    fn response_body_uses_java_field_name() {
        let body = serde_json::to_string(&LockBatchResponseBody { lock_ok_mq_set: [mq(2)].into() }).unwrap();
        assert_eq!(body, r#"{"lockOKMQSet":[{"brokerName":"b","queueId":2,"topic":"T"}]}"#);
    }
}

//! Long polling's state (`PullRequestHoldService`): which queues held pulls
//! wait on, and how many pulls are held. The PULL_MESSAGE handler that holds
//! them is `processor::pull`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Wakes held pulls when their queue grows: one watch channel per queue
/// carrying its max offset.
#[derive(Default)]
pub struct PullRequestHoldService {
    /// topic → queue id → max offset channel.
    queues: Mutex<HashMap<String, HashMap<i32, watch::Sender<i64>>>>,
    /// Pulls held right now, all connections together.
    held: Arc<AtomicUsize>,
}

/// One held pull, counted until dropped.
pub struct HeldPull(Arc<AtomicUsize>);

impl Drop for HeldPull {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PullRequestHoldService {
    /// Counts one more held pull, unless `max` are held already.
    pub fn try_hold(&self, max: usize) -> Option<HeldPull> {
        let n = self.held.fetch_add(1, Ordering::AcqRel);
        let guard = HeldPull(self.held.clone());
        (n < max).then_some(guard)
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn subscribe(&self, topic: &str, queue_id: i32) -> watch::Receiver<i64> {
        let mut q = self.queues.lock().unwrap();
        let by_queue = match q.get_mut(topic) {
            Some(m) => m,
            None => q.entry(topic.to_string()).or_default(),
        };
        by_queue.entry(queue_id).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Called by the store after each put; allocation-free on the hot path.
    pub fn notify(&self, topic: &str, queue_id: i32, max_offset: i64) {
        let q = self.queues.lock().unwrap();
        if let Some(tx) = q.get(topic).and_then(|m| m.get(&queue_id)) {
            if tx.receiver_count() > 0 {
                tx.send_replace(max_offset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_pulls_are_counted_and_bounded() {
        let s = PullRequestHoldService::default();
        let a = s.try_hold(2).unwrap();
        let _b = s.try_hold(2).unwrap();
        assert!(s.try_hold(2).is_none());
        assert_eq!(s.held(), 2, "a refused hold leaves no count behind");
        drop(a);
        assert!(s.try_hold(2).is_some());
    }
}

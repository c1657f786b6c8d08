//! Every consume queue of the store, by topic and queue id
//! (`consumeQueueTable`), and their dispatcher (`CommitLogDispatcherBuildConsumeQueue`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::consume_queue::{ConsumeQueue, CqEntry};
use super::dispatch::{DispatchRequest, Dispatcher};
use super::{check_path_component, StoreError};

pub struct ConsumeQueueSet {
    dir: PathBuf,
    file_size: usize,
    queues: RwLock<HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>>,
}

impl ConsumeQueueSet {
    /// Loads every queue found under `dir` (`<topic>/<queue id>/`).
    pub fn load(dir: PathBuf, file_size: usize) -> Result<Self, StoreError> {
        let mut queues: HashMap<String, HashMap<i32, Arc<ConsumeQueue>>> = HashMap::new();
        if dir.exists() {
            for topic in std::fs::read_dir(&dir)? {
                let topic = topic?;
                if !topic.file_type()?.is_dir() {
                    continue;
                }
                let name = topic.file_name().to_string_lossy().into_owned();
                for q in std::fs::read_dir(topic.path())? {
                    let q = q?;
                    let Ok(qid) = q.file_name().to_string_lossy().parse::<i32>() else {
                        continue;
                    };
                    let cq = ConsumeQueue::load(&q.path(), file_size)?;
                    queues.entry(name.clone()).or_default().insert(qid, Arc::new(cq));
                }
            }
        }
        Ok(ConsumeQueueSet { dir, file_size, queues: RwLock::new(queues) })
    }

    pub fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        self.queues.read().unwrap().values().flat_map(|m| m.values().cloned()).collect()
    }

    pub fn find(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues.read().unwrap().get(topic)?.get(&queue_id).cloned()
    }

    /// The queue, created (with its directory) if absent.
    pub fn get_or_create(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(cq) = self.find(topic, queue_id) {
            return Ok(cq);
        }
        check_path_component(topic)?;
        let mut queues = self.queues.write().unwrap();
        let by_id = queues.entry(topic.to_string()).or_default();
        if let Some(cq) = by_id.get(&queue_id) {
            return Ok(cq.clone());
        }
        let dir = self.dir.join(topic).join(queue_id.to_string());
        let cq = Arc::new(ConsumeQueue::load(&dir, self.file_size)?);
        by_id.insert(queue_id, cq.clone());
        Ok(cq)
    }

    /// Drops a topic's queues and their files; false if it had none.
    pub fn remove_topic(&self, topic: &str) -> bool {
        if check_path_component(topic).is_err() {
            return false; // never a path of ours
        }
        let removed = self.queues.write().unwrap().remove(topic).is_some();
        if removed {
            let dir = self.dir.join(topic);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), "removing consume queues of a deleted topic failed: {e}");
            }
        }
        removed
    }

    pub fn topics(&self) -> Vec<String> {
        self.queues.read().unwrap().keys().cloned().collect()
    }
}

impl Dispatcher for ConsumeQueueSet {
    fn name(&self) -> &'static str {
        "consume queues"
    }

    fn essential(&self) -> bool {
        true
    }

    fn prepare(&self, topic: &str, queue_id: i32, queue_offset: i64, n: usize) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        self.get_or_create(topic, queue_id)?.reserve(queue_offset, n)
    }

    /// Appends the entry when it is the queue's next one (always so on the
    /// put path); during recovery an entry the queue already has is left
    /// alone, and one past a gap is reported and skipped.
    fn dispatch(&self, r: &DispatchRequest) -> Result<(), StoreError> {
        if r.is_prepared_or_rollback() {
            return Ok(());
        }
        if let Err(e) = check_path_component(r.topic) {
            tracing::warn!(offset = r.commit_log_offset, "record not indexed in a consume queue: {e}");
            return Ok(());
        }
        let cq = self.get_or_create(r.topic, r.queue_id)?;
        let max = cq.max_offset();
        if r.queue_offset == max || (max == 0 && cq.min_offset() == 0) {
            let e = CqEntry { phy_offset: r.commit_log_offset, size: r.size, tags_code: r.tags_code };
            cq.append(r.queue_offset, e)?;
        } else if r.queue_offset > max {
            tracing::warn!(topic = %r.topic, queue = r.queue_id, offset = r.queue_offset, max, "gap in consume queue");
        }
        Ok(())
    }

    fn dispatched_to(&self) -> i64 {
        self.queues.read().unwrap().values().flat_map(|m| m.values()).filter_map(|cq| cq.last_phy_end()).max().unwrap_or(0)
    }

    fn truncate_dirty(&self, phy_max: i64) -> Result<(), StoreError> {
        for cq in self.all() {
            cq.truncate_dirty(phy_max)?;
        }
        Ok(())
    }

    fn delete_before(&self, min_phy: i64) {
        for cq in self.all() {
            cq.delete_expired(min_phy);
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        for cq in self.all() {
            cq.flush()?;
        }
        Ok(())
    }

    fn background_flush(&self) -> Result<(), StoreError> {
        self.flush()
    }
}

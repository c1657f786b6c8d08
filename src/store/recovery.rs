//! Recovery after a crash (`recoverAbnormally`): the commit log's tail is
//! scanned and cut at the first bad record, each dispatcher drops what
//! points past the cut, and the records it lacks are dispatched again.

use crate::protocol::message::MessageExt;

use super::dispatch::DispatchRequest;
use super::{MessageStore, StoreError};

impl MessageStore {
    /// Re-dispatches commit-log records each dispatcher lacks and drops
    /// derived data that points past the commit log.
    pub(super) fn recover(&self) -> Result<(), StoreError> {
        let starts: Vec<i64> = self.dispatchers.iter().map(|d| d.dispatched_to()).collect();
        let from = starts.iter().copied().min().unwrap_or(0);
        let records = self.commit_log.recover(from)?;
        let max_phy = self.commit_log.max_offset();
        for d in &self.dispatchers {
            d.truncate_dirty(max_phy)?;
        }
        let mut replayed = vec![0usize; self.dispatchers.len()];
        for r in records {
            let Some((file, pos)) = self.commit_log.read(r.offset, r.size) else {
                continue;
            };
            let m = MessageExt::decode(file.read(pos, r.size).unwrap())?;
            let req = DispatchRequest {
                topic: &m.topic,
                queue_id: m.queue_id,
                queue_offset: m.queue_offset,
                commit_log_offset: r.offset,
                size: r.size as i32,
                tags_code: self.tags_code(&m.topic, &m.properties, m.store_timestamp),
                store_timestamp: m.store_timestamp,
                sys_flag: m.sys_flag,
                properties: &m.properties,
            };
            for (i, d) in self.dispatchers.iter().enumerate() {
                if r.offset >= starts[i] {
                    d.dispatch(&req)?;
                    replayed[i] += 1;
                }
            }
        }
        for (d, n) in self.dispatchers.iter().zip(replayed) {
            if n > 0 {
                tracing::info!(dispatcher = d.name(), records = n, "rebuilt from the commit log");
            }
        }
        Ok(())
    }
}

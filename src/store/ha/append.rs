//! The slave's append (`DefaultMessageStore.appendToCommitLog` + reput):
//! whole records received from the master go into the commit log at the
//! master's offset and are dispatched to consume queues and index exactly
//! as the master dispatched them.

use crate::protocol::message::{body_crc, MessageExt, BLANK_MAGIC_CODE};

use super::super::dispatch::{is_prepared_or_rollback, DispatchRequest};
use super::super::{check_path_component, MessageStore, StoreError};

impl MessageStore {
    /// Appends `data`, a run of whole records (the last may be an
    /// end-of-file blank) at absolute `offset`, checking every record (size,
    /// magic, body CRC, stored offset) before a byte is written. Returns the
    /// commit log's new max offset.
    pub(crate) fn append_replicated(&self, offset: i64, data: &[u8]) -> Result<i64, StoreError> {
        let mut records = Vec::new();
        let mut pos = 0usize;
        while pos < data.len() {
            let head = data.get(pos..pos + 8).ok_or_else(|| StoreError::Corrupt("replicated record header cut".into()))?;
            let size = i32::from_be_bytes(head[..4].try_into().unwrap());
            let magic = i32::from_be_bytes(head[4..].try_into().unwrap());
            if size < 8 || pos + size as usize > data.len() {
                return Err(StoreError::Corrupt(format!("replicated record at {} has bad size {size}", offset + pos as i64)));
            }
            let size = size as usize;
            if magic != BLANK_MAGIC_CODE {
                let m = MessageExt::decode(&data[pos..pos + size])?;
                let at = offset + pos as i64;
                if m.body_crc != body_crc(&m.body) || m.commit_log_offset != at || m.store_size as usize != size {
                    return Err(StoreError::Corrupt(format!("replicated record at {at} fails its checks")));
                }
                records.push((at, size, m));
            }
            pos += size;
        }
        let end = {
            let _appender = self.put_lock.lock().unwrap();
            if !self.running.load(std::sync::atomic::Ordering::Acquire) {
                return Err(StoreError::Unavailable("message store has been shut down".into()));
            }
            for (_, _, m) in &records {
                let n = usize::from(!is_prepared_or_rollback(m.sys_flag));
                if n == 0 || check_path_component(&m.topic).is_err() {
                    continue; // dispatch skips these records too
                }
                if self.max_offset_in_queue(&m.topic, m.queue_id) != m.queue_offset {
                    // A slave that joined mid-stream: the queue starts at
                    // this entry, which its append places (nothing to reserve ahead).
                    continue;
                }
                for d in &self.dispatchers {
                    d.prepare(&m.topic, m.queue_id, m.queue_offset, n)?;
                }
            }
            self.commit_log.append_at(offset, data)?;
            for (at, size, m) in &records {
                let req = DispatchRequest {
                    topic: &m.topic,
                    queue_id: m.queue_id,
                    queue_offset: m.queue_offset,
                    commit_log_offset: *at,
                    size: *size as i32,
                    tags_code: self.tags_code(&m.topic, &m.properties, m.store_timestamp),
                    store_timestamp: m.store_timestamp,
                    sys_flag: m.sys_flag,
                    properties: &m.properties,
                };
                crate::store::dispatch::dispatch_all(&self.dispatchers, &req, "replicated")?;
            }
            self.commit_log.max_offset()
        };
        if let Some(notify) = self.arrival.get() {
            for (_, _, m) in &records {
                if !is_prepared_or_rollback(m.sys_flag) {
                    notify(&m.topic, m.queue_id, m.queue_offset + 1);
                }
            }
        }
        Ok(end)
    }
}

//! The put path (`CommitLog.putMessage` + `doDispatch`): encode, place in
//! the commit log under the put lock, then feed every dispatcher.

use std::sync::atomic::Ordering;

use crate::protocol::message::{
    body_crc, create_message_id, tags_code, MessageInner, Properties, RecordLayout, PHYSICAL_OFFSET_POS,
    QUEUE_OFFSET_POS,
};

use super::dispatch::{is_prepared_or_rollback, DispatchRequest};
use super::{now_ms, MessageStore, StoreError};

/// Where a put landed.
#[derive(Debug, Clone)]
pub struct PutResult {
    /// Offset message ids, one per message.
    pub msg_ids: Vec<String>,
    pub wrote_offset: i64,
    pub queue_offset: i64,
    pub store_timestamp: i64,
    /// Commit log offset just past the last record written.
    pub end_offset: i64,
}

/// Policy of the store's owner on the put path, which the store applies
/// without knowing it (the broker's delay levels live in `broker::schedule`).
pub trait PutHook: Send + Sync {
    /// The message as it is to be stored, or None to store it as given.
    fn rewrite(&self, m: &MessageInner) -> Option<MessageInner>;

    /// The consume queue's tag field for a stored message, or None for the
    /// hash of its TAGS. Recovery asks again from the stored record, so the
    /// answer may depend only on what the record holds.
    fn tags_code(&self, _topic: &str, _props: &Properties, _store_timestamp: i64) -> Option<i64> {
        None
    }
}

/// Maps a failure to reserve disk space to a refused write, marking the
/// disk full (as a full commit log does).
fn enospc_to_unavailable(store: &MessageStore, e: StoreError) -> StoreError {
    match e {
        StoreError::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
            store.set_disk_full(true);
            StoreError::Unavailable(format!("disk full: {io}"))
        }
        other => other,
    }
}

/// One encoded record of a batch.
struct Slot {
    start: usize,
    size: usize,
    tags_code: i64,
    /// Its queue offset; prepared and rolled-back transaction messages take
    /// none (Java stores them with 0 and leaves the queue as it was).
    queue_offset: Option<i64>,
}

impl MessageStore {
    /// Stores one message.
    pub fn put_message(&self, msg: &MessageInner) -> Result<PutResult, StoreError> {
        self.put_messages(std::slice::from_ref(msg))
    }

    /// Stores messages of one topic/queue contiguously with consecutive
    /// queue offsets (a batch).
    pub fn put_messages(&self, msgs: &[MessageInner]) -> Result<PutResult, StoreError> {
        let Some(hook) = &self.put_hook else { return self.put_as_given(msgs) };
        let mut out = None;
        for (i, m) in msgs.iter().enumerate() {
            if let Some(r) = hook.rewrite(m) {
                out.get_or_insert_with(|| msgs[..i].to_vec()).push(r);
            } else if let Some(out) = &mut out {
                out.push(m.clone());
            }
        }
        match out {
            Some(rewritten) => self.put_as_given(&rewritten),
            None => self.put_as_given(msgs),
        }
    }

    /// Stores one message exactly as given, past the put hook: the
    /// schedule service delivering a due message, which keeps its `DELAY`
    /// property (as Java's stored string does) but must not be delayed again.
    pub fn put_message_as_given(&self, msg: &MessageInner) -> Result<PutResult, StoreError> {
        self.put_as_given(std::slice::from_ref(msg))
    }

    fn put_as_given(&self, msgs: &[MessageInner]) -> Result<PutResult, StoreError> {
        let first = msgs.first().ok_or_else(|| StoreError::Corrupt("empty batch".into()))?;
        if !self.running.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("message store has been shut down".into()));
        }
        if self.is_disk_full() {
            return Err(StoreError::Unavailable("disk full".into()));
        }
        if self.ha.role() == super::ha::BrokerRole::Slave {
            return Err(StoreError::Unavailable("message store is slave mode, so putMessage is forbidden".into()));
        }
        let store_timestamp = now_ms();
        // Everything that can fail or costs time is done before the lock:
        // sizes, properties, CRCs. Under it each record is written straight
        // from the request's body into the mapped commit log.
        let mut encoded = Vec::with_capacity(msgs.len());
        let mut slots = Vec::with_capacity(msgs.len());
        let mut total = 0;
        for m in msgs {
            if m.body.len() > self.config.max_message_size {
                return Err(StoreError::BodyTooLarge(m.body.len(), self.config.max_message_size));
            }
            let props = m.properties.to_wire();
            let parts = m.record_parts(store_timestamp, body_crc(&m.body));
            let layout = RecordLayout::new(&parts, m.body.len(), props.as_bytes(), &[])?;
            let tags_code = self.tags_code(&m.topic, &m.properties, store_timestamp);
            slots.push(Slot { start: total, size: layout.total, tags_code, queue_offset: None });
            total += layout.total;
            encoded.push((parts, props, layout));
        }
        let cq = self.queues.get_or_create(&first.topic, first.queue_id)?;
        let (wrote_offset, next_queue_offset) = {
            let _appender = self.put_lock.lock().unwrap();
            let base = cq.max_offset();
            let mut next = base;
            for (slot, m) in slots.iter_mut().zip(msgs) {
                if !is_prepared_or_rollback(m.sys_flag) {
                    slot.queue_offset = Some(next);
                    next += 1;
                }
            }
            // Dispatchers first: once the commit log holds the records,
            // their consume queue entries must not fail for want of space.
            for d in &self.dispatchers {
                d.prepare(&first.topic, first.queue_id, base, (next - base) as usize)
                    .map_err(|e| enospc_to_unavailable(self, e))?;
            }
            let place = self.commit_log.reserve(total).map_err(|e| enospc_to_unavailable(self, e))?;
            place.file.append_with(total, |dst| {
                for ((s, m), (parts, props, layout)) in slots.iter().zip(msgs).zip(&encoded) {
                    let rec = &mut dst[s.start..s.start + s.size];
                    layout.write(parts, &m.body, props.as_bytes(), &[], &mut &mut rec[..]);
                    let qo = s.queue_offset.unwrap_or(0);
                    let po = place.offset + s.start as i64;
                    rec[QUEUE_OFFSET_POS..QUEUE_OFFSET_POS + 8].copy_from_slice(&qo.to_be_bytes());
                    rec[PHYSICAL_OFFSET_POS..PHYSICAL_OFFSET_POS + 8].copy_from_slice(&po.to_be_bytes());
                }
            });
            for (s, m) in slots.iter().zip(msgs) {
                let req = DispatchRequest {
                    topic: &m.topic,
                    queue_id: m.queue_id,
                    queue_offset: s.queue_offset.unwrap_or(0),
                    commit_log_offset: place.offset + s.start as i64,
                    size: s.size as i32,
                    tags_code: s.tags_code,
                    store_timestamp,
                    sys_flag: m.sys_flag,
                    properties: &m.properties,
                };
                super::dispatch::dispatch_all(&self.dispatchers, &req, "stored")?;
            }
            (place.offset, next)
        };
        self.ha.notify_appended();
        if let Some(notify) = self.arrival.get() {
            notify(&first.topic, first.queue_id, next_queue_offset);
        }
        let msg_ids = slots.iter().map(|s| create_message_id(&self.config.store_host, wrote_offset + s.start as i64)).collect();
        Ok(PutResult {
            msg_ids,
            wrote_offset,
            queue_offset: slots[0].queue_offset.unwrap_or(0),
            store_timestamp,
            end_offset: wrote_offset + total as i64,
        })
    }

    /// The consume queue's tag field: the put hook's choice, else the tag hash.
    pub(super) fn tags_code(&self, topic: &str, props: &Properties, store_timestamp: i64) -> i64 {
        self.put_hook
            .as_ref()
            .and_then(|h| h.tags_code(topic, props, store_timestamp))
            .unwrap_or_else(|| tags_code(props.get(crate::protocol::message::property::TAGS)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::tests::{config, msg};
    use super::super::{StoreExtensions, StoreError};
    use super::*;

    /// Sends messages with a ROUTE property to the topic it names, and gives
    /// them the tags code in their CODE property.
    struct Route;

    impl PutHook for Route {
        fn rewrite(&self, m: &MessageInner) -> Option<MessageInner> {
            let to = m.properties.get("ROUTE")?;
            Some(MessageInner { topic: to.to_string(), queue_id: 0, ..m.clone() })
        }
        fn tags_code(&self, _topic: &str, props: &Properties, store_timestamp: i64) -> Option<i64> {
            Some(store_timestamp + props.get("CODE")?.parse::<i64>().ok()?)
        }
    }

    fn routed(topic: &str, to: &str, code: &str) -> MessageInner {
        let mut m = msg(topic, 2, "r", "A");
        m.properties.put("ROUTE", to);
        m.properties.put("CODE", code);
        m
    }

    #[test]
    fn the_put_hook_rewrites_and_chooses_the_tags_code_also_in_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 4096);
        let open = || {
            let ext = StoreExtensions { put_hook: Some(Arc::new(Route)), ..Default::default() };
            MessageStore::open_with(cfg.clone(), ext).unwrap()
        };
        let (plain_tag, due);
        {
            let s = open();
            s.put_message(&msg("T", 2, "a", "A")).unwrap();
            let r = s.put_message(&routed("T", "Elsewhere", "500")).unwrap();
            assert_eq!(s.max_offset_in_queue("T", 2), 1);
            assert_eq!(s.max_offset_in_queue("Elsewhere", 0), 1);
            plain_tag = s.consume_queue_entry("T", 2, 0).unwrap().tags_code;
            assert_eq!(plain_tag, tags_code(Some("A")));
            due = s.consume_queue_entry("Elsewhere", 0, 0).unwrap().tags_code;
            assert_eq!(due, r.store_timestamp + 500);
        }
        // A crash that lost the consume queues: recovery asks the hook again.
        std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
        let s = open();
        assert_eq!(s.consume_queue_entry("T", 2, 0).unwrap().tags_code, plain_tag);
        assert_eq!(s.consume_queue_entry("Elsewhere", 0, 0).unwrap().tags_code, due);
        drop(s);
        let s = MessageStore::open(cfg).unwrap();
        // A store without the hook stores the message as given.
        s.put_message(&routed("T", "Elsewhere", "1")).unwrap();
        assert_eq!((s.max_offset_in_queue("T", 2), s.max_offset_in_queue("Elsewhere", 0)), (2, 1));
        assert!(matches!(s.put_messages(&[]), Err(StoreError::Corrupt(_))));
    }
}

//! Derived store data (`CommitLogDispatcher`): everything built from the
//! commit log, such as the consume queues and the key index, implements
//! [`Dispatcher`]. The store feeds each record to every dispatcher on put
//! and again, from where each one stopped, when it recovers after a crash;
//! retention and flush go through the same list. A new index is one more
//! `Dispatcher`, not four edits.

use std::sync::Arc;
use crate::protocol::message::{property, sys_flag, MessageExt, Properties};

use super::StoreError;

/// One stored record as the dispatchers see it (`DispatchRequest`).
#[derive(Debug, Clone, Copy)]
pub struct DispatchRequest<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub size: i32,
    /// The consume queue's tag field: the tag hash, or what the put hook
    /// chose (see [`super::PutHook::tags_code`]).
    pub tags_code: i64,
    pub store_timestamp: i64,
    pub sys_flag: i32,
    /// All properties: KEYS, UNIQ_KEY and whatever else a dispatcher reads.
    pub properties: &'a Properties,
}

impl DispatchRequest<'_> {
    pub fn keys(&self) -> Option<&str> {
        self.properties.get(property::KEYS)
    }

    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.get(property::UNIQ_KEY)
    }

    /// The transaction type bits of the sys flag.
    pub fn transaction_type(&self) -> i32 {
        self.sys_flag & sys_flag::TRANSACTION_MASK
    }

    /// Whether the record is a prepared or rolled-back transaction message,
    /// which Java's `CommitLogDispatcherBuildConsumeQueue` does not dispatch
    /// (it is stored with queue offset 0 and never becomes consumable).
    pub fn is_prepared_or_rollback(&self) -> bool {
        is_prepared_or_rollback(self.sys_flag)
    }
}

pub fn is_prepared_or_rollback(sys: i32) -> bool {
    let t = sys & sys_flag::TRANSACTION_MASK;
    t == sys_flag::TRANSACTION_PREPARED || t == sys_flag::TRANSACTION_ROLLBACK
}

/// Hands one record to every dispatcher in order: an essential one's
/// failure fails the caller (the record must not be acknowledged), any other
/// is logged under `what` ("stored", "replicated").
pub fn dispatch_all(dispatchers: &[Arc<dyn Dispatcher>], r: &DispatchRequest, what: &str) -> Result<(), StoreError> {
    for d in dispatchers {
        if let Err(e) = d.dispatch(r) {
            if d.essential() {
                return Err(e);
            }
            tracing::warn!(dispatcher = d.name(), "dispatching a {what} message failed: {e}");
        }
    }
    Ok(())
}

/// Data derived from the commit log. The store calls `prepare` and
/// `dispatch` under its put lock, in commit-log order; the other methods
/// from its flush, retention and recovery paths.
pub trait Dispatcher: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static str;

    /// Whether a failed `dispatch` fails the put (consume queues: a message
    /// without its entry can never be consumed) or is only logged (the key
    /// index: a look-up would miss it). Recovery fails on any error.
    fn essential(&self) -> bool;

    /// Called before a batch of `n` records for `topic`/`queue_id` from
    /// `queue_offset` reaches the commit log: reserves what `dispatch` will
    /// need, so that it cannot fail for want of disk once the commit log
    /// holds the records. An error refuses the put (nothing is written).
    fn prepare(&self, _topic: &str, _queue_id: i32, _queue_offset: i64, _n: usize) -> Result<(), StoreError> {
        Ok(())
    }

    /// Adds one record. During recovery this may see a record it already
    /// holds (at or past `dispatched_to`) and must then leave it alone.
    fn dispatch(&self, r: &DispatchRequest) -> Result<(), StoreError>;

    /// Commit-log offset up to which this dispatcher's data is complete;
    /// recovery replays the commit log from the smallest of these.
    fn dispatched_to(&self) -> i64;

    /// Recovery: drops data that points at or past `phy_max` (the commit log
    /// was cut there).
    fn truncate_dirty(&self, _phy_max: i64) -> Result<(), StoreError> {
        Ok(())
    }

    /// Retention: how many records in the commit log range
    /// `[phy_start, phy_end)` this dispatcher still has to act on (timers
    /// not yet delivered), counting up to `at_most`. Retention keeps a file
    /// holding any, unless the disk forces its deletion.
    fn pending_in(&self, _phy_start: i64, _phy_end: i64, _at_most: usize) -> usize {
        0
    }

    /// Retention, forced by the disk, is about to delete the commit log range
    /// `[phy_start, phy_end)`: what is pending there is lost and leaves this
    /// dispatcher's accounts. `message_at` reads a record of the range (it is
    /// still there). Returns how many were lost.
    fn drop_pending_in(&self, phy_start: i64, phy_end: i64, _message_at: &dyn Fn(i64) -> Option<MessageExt>) -> usize {
        self.pending_in(phy_start, phy_end, usize::MAX)
    }

    /// Retention: drops data wholly before `min_phy` (the commit log's
    /// first remaining offset).
    fn delete_before(&self, min_phy: i64);

    /// Flushes everything (explicit flush and shutdown).
    fn flush(&self) -> Result<(), StoreError>;

    /// The flush thread's once-a-second pass. None by default: such data
    /// is flushed when its files roll and at shutdown.
    fn background_flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::super::tests::{config, msg};
    use super::super::{MessageStore, StoreExtensions};
    use super::*;

    /// Records what it is given, as owned values.
    /// (topic, queue id, queue offset, commit-log offset, sys flag) as dispatched.
    type Seen = (String, i32, i64, i64, i32);

    #[derive(Default)]
    pub struct Recorder {
        pub seen: Mutex<Vec<Seen>>,
        pub deleted_before: Mutex<Vec<i64>>,
        pub flushes: Mutex<usize>,
    }

    impl Dispatcher for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn essential(&self) -> bool {
            false
        }
        fn dispatch(&self, r: &DispatchRequest) -> Result<(), StoreError> {
            self.seen.lock().unwrap().push((r.topic.into(), r.queue_id, r.queue_offset, r.commit_log_offset, r.sys_flag));
            Ok(())
        }
        fn dispatched_to(&self) -> i64 {
            self.seen.lock().unwrap().last().map_or(0, |s| s.3 + 1)
        }
        fn delete_before(&self, min_phy: i64) {
            self.deleted_before.lock().unwrap().push(min_phy);
        }
        fn flush(&self) -> Result<(), StoreError> {
            *self.flushes.lock().unwrap() += 1;
            Ok(())
        }
    }

    fn open_recording(cfg: super::super::StoreConfig, rec: &Arc<Recorder>) -> MessageStore {
        let ext = StoreExtensions { dispatchers: vec![rec.clone()], ..Default::default() };
        MessageStore::open_with(cfg, ext).unwrap()
    }

    #[test]
    fn every_dispatcher_sees_every_put_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recorder::default());
        let s = open_recording(config(dir.path(), 4096), &rec);
        let a = s.put_message(&msg("T", 0, "a", "A")).unwrap();
        let b = s.put_message(&msg("T", 0, "b", "A")).unwrap();
        let c = s.put_message(&msg("U", 3, "c", "B")).unwrap();
        let seen = rec.seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                ("T".into(), 0, 0, a.wrote_offset, 0),
                ("T".into(), 0, 1, b.wrote_offset, 0),
                ("U".into(), 3, 0, c.wrote_offset, 0),
            ]
        );
        s.flush().unwrap();
        assert_eq!(*rec.flushes.lock().unwrap(), 1);
    }

    #[test]
    fn prepared_and_rolled_back_records_skip_the_consume_queue_only() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 4096);
        let rec = Arc::new(Recorder::default());
        let s = open_recording(cfg.clone(), &rec);
        s.put_message(&msg("T", 0, "plain", "A")).unwrap();
        for flag in [sys_flag::TRANSACTION_PREPARED, sys_flag::TRANSACTION_ROLLBACK] {
            let mut m = msg("T", 0, "half", "A");
            m.sys_flag = flag;
            let r = s.put_message(&m).unwrap();
            assert_eq!(r.queue_offset, 0, "Java stores them with queue offset 0");
            let stored = s.look_message_by_offset(r.wrote_offset).unwrap();
            assert_eq!((stored.queue_offset, stored.sys_flag), (0, flag));
        }
        let mut committed = msg("T", 0, "commit", "A");
        committed.sys_flag = sys_flag::TRANSACTION_COMMIT;
        assert_eq!(s.put_message(&committed).unwrap().queue_offset, 1);
        assert_eq!(s.max_offset_in_queue("T", 0), 2, "only the plain and the committed message");
        // Other dispatchers still see all four (they choose for themselves).
        assert_eq!(rec.seen.lock().unwrap().len(), 4);
        drop(s);
        // A crash that lost the consume queues: the rebuild skips them too.
        std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
        let s = MessageStore::open(cfg).unwrap();
        assert_eq!(s.max_offset_in_queue("T", 0), 2);
        let got = s.get_message("T", 0, 0, 32, &|_| true);
        let bodies: Vec<_> = crate::protocol::message::MessageExt::decode_all(&got.body())
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, vec![&b"plain"[..], &b"commit"[..]]);
    }

    #[test]
    fn after_a_crash_a_dispatcher_gets_what_it_lacks_and_the_queues_are_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 1024);
        let mut wrote = Vec::new();
        {
            let s = MessageStore::open(cfg.clone()).unwrap();
            for i in 0..12 {
                wrote.push(s.put_message(&msg("T", 1, &format!("m{i}"), "A")).unwrap().wrote_offset);
            }
            s.flush().unwrap();
        } // no shutdown: a crash
        let rec = Arc::new(Recorder::default());
        let s = open_recording(cfg, &rec);
        let replayed: Vec<i64> = rec.seen.lock().unwrap().iter().map(|r| r.3).collect();
        assert_eq!(replayed, wrote, "a new dispatcher (dispatched_to 0) gets every record");
        assert_eq!(s.max_offset_in_queue("T", 1), 12, "the consume queue already had them");
    }
}

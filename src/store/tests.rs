use super::*;
use crate::protocol::message::{MessageExt, MessageInner, Properties};
use bytes::Bytes;

pub(crate) fn config(dir: &std::path::Path, file_size: usize) -> StoreConfig {
    StoreConfig {
        commit_log_file_size: file_size,
        consume_queue_file_size: 20 * 10,
        max_hash_slot_num: 64,
        max_index_num: 256,
        ..StoreConfig::new(dir.to_path_buf(), "127.0.0.1:10911".parse().unwrap())
    }
}

pub(crate) fn msg(topic: &str, qid: i32, body: &str, tag: &str) -> MessageInner {
    let mut p = Properties::default();
    p.put("TAGS", tag);
    MessageInner {
        topic: topic.into(),
        queue_id: qid,
        flag: 0,
        sys_flag: 0,
        body: Bytes::copy_from_slice(body.as_bytes()),
        properties: p,
        born_timestamp: 1,
        born_host: "127.0.0.1:5000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

#[test]
fn put_get_across_segments_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1024);
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        for i in 0..40 {
            let r = s.put_message(&msg("T", i % 2, &format!("body-{i}"), "A")).unwrap();
            assert_eq!(r.queue_offset, (i / 2) as i64);
        }
        let g = s.get_message("T", 0, 0, 32, &|_| true);
        assert_eq!(g.status, GetStatus::Found);
        assert_eq!(g.message_count(), 20);
        let msgs = MessageExt::decode_all(&g.body()).unwrap();
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m.queue_offset, i as i64);
            assert_eq!(&m.body[..], format!("body-{}", i * 2).as_bytes());
            assert_eq!(s.look_message_by_offset(m.commit_log_offset).unwrap().body, m.body);
        }
        s.flush().unwrap();
    }
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.max_offset_in_queue("T", 1), 20);
    let r = s.put_message(&msg("T", 1, "after", "A")).unwrap();
    assert_eq!(r.queue_offset, 20);
    let g = s.get_message("T", 1, 20, 32, &|_| true);
    assert_eq!(MessageExt::decode_all(&g.body()).unwrap()[0].body, Bytes::from_static(b"after"));
}

#[test]
fn statuses_follow_the_java_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = MessageStore::open(config(dir.path(), 4096)).unwrap();
    assert_eq!(s.get_message("T", 0, 0, 1, &|_| true).status, GetStatus::NoMatchedLogicQueue);
    s.put_message(&msg("T", 0, "a", "A")).unwrap();
    s.put_message(&msg("T", 0, "b", "B")).unwrap();
    assert_eq!(s.get_message("T", 0, 2, 1, &|_| true).status, GetStatus::OffsetOverflowOne);
    let bad = s.get_message("T", 0, 9, 1, &|_| true);
    assert_eq!((bad.status, bad.next_begin_offset), (GetStatus::OffsetOverflowBadly, 2));
    let b_hash = crate::protocol::message::tags_code(Some("B"));
    let f = s.get_message("T", 0, 0, 32, &|t| t == b_hash);
    assert_eq!((f.status, f.message_count(), f.next_begin_offset), (GetStatus::Found, 1, 2));
    let none = s.get_message("T", 0, 0, 1, &|_| false);
    assert_eq!(none.status, GetStatus::NoMatchedMessage);
}

#[test]
fn rebuilds_missing_consume_queue_and_cuts_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let torn_at;
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        for i in 0..5 {
            s.put_message(&msg("T", 0, &format!("m{i}"), "A")).unwrap();
        }
        torn_at = s.commit_log_max_offset();
        s.put_message(&msg("T", 0, "torn", "A")).unwrap();
        s.flush().unwrap();
    }
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    // Scribble over the last record's body so its CRC fails.
    let seg = dir.path().join("commitlog").join(mapped_file::file_name(0));
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[torn_at as usize + 89] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.commit_log_max_offset(), torn_at);
    assert_eq!(s.max_offset_in_queue("T", 0), 5);
    let g = s.get_message("T", 0, 0, 32, &|_| true);
    assert_eq!(g.message_count(), 5);
}

#[test]
fn oversize_body_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 4096);
    cfg.max_message_size = 10;
    let s = MessageStore::open(cfg).unwrap();
    assert!(matches!(s.put_message(&msg("T", 0, "this is too long", "A")), Err(StoreError::BodyTooLarge(..))));
}

#[test]
fn offset_by_time_finds_first_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let s = MessageStore::open(config(dir.path(), 4096)).unwrap();
    let t0 = now_ms();
    s.put_message(&msg("T", 0, "a", "A")).unwrap();
    assert_eq!(s.offset_in_queue_by_time("T", 0, t0 - 1000), 0);
    assert_eq!(s.offset_in_queue_by_time("T", 0, now_ms() + 1000), 1);
    assert!(s.earliest_message_time("T", 0) >= t0);
}

#[test]
fn clean_stop_is_recorded_and_a_crash_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        assert!(checkpoint::previous_run_aborted(dir.path()), "abort marker while open");
        s.put_message(&msg("T", 0, "a", "A")).unwrap();
        s.shutdown().unwrap();
        assert!(!checkpoint::previous_run_aborted(dir.path()));
        assert!(s.put_message(&msg("T", 0, "late", "A")).is_err(), "closed store refuses writes");
    }
    let end = checkpoint::read(dir.path()).unwrap().clean_max_offset.unwrap();
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        assert_eq!(s.commit_log_max_offset(), end);
        s.put_message(&msg("T", 0, "b", "A")).unwrap();
        s.flush().unwrap();
        // Dropped without shutdown: a crash.
    }
    assert!(checkpoint::previous_run_aborted(dir.path()));
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.max_offset_in_queue("T", 0), 2);
    assert!(s.commit_log_max_offset() > end);
}

#[tokio::test]
async fn sync_flush_acknowledges_after_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { flush_disk_type: FlushDiskType::Sync, ..config(dir.path(), 4096) };
    let s = Arc::new(MessageStore::open(cfg).unwrap());
    s.start_services();
    let r = s.put_message(&msg("T", 0, "a", "A")).unwrap();
    assert!(s.wait_flushed(r.end_offset).await);
    s.shutdown().unwrap();
}

#[test]
fn retention_deletes_old_segments_and_moves_queue_min_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let s = MessageStore::open(config(dir.path(), 1024)).unwrap();
    for i in 0..40 {
        s.put_message(&msg("T", 0, &format!("body-{i}"), "A")).unwrap();
    }
    // Nothing is older than 72 hours: an ordinary round keeps everything.
    assert_eq!(s.delete_expired_files(false), 0);
    let deleted = s.delete_expired_files(true);
    assert!(deleted > 0);
    let min = s.min_offset_in_queue("T", 0);
    assert!(min > 0);
    let g = s.get_message("T", 0, 0, 32, &|_| true);
    assert_eq!((g.status, g.next_begin_offset), (GetStatus::OffsetTooSmall, min));
    let g = s.get_message("T", 0, min, 32, &|_| true);
    assert_eq!(g.status, GetStatus::Found);
    assert_eq!(MessageExt::decode_all(&g.body()).unwrap()[0].queue_offset, min);
}

#[test]
fn zero_filled_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let keep;
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        for i in 0..3 {
            s.put_message(&msg("T", 0, &format!("m{i}"), "A")).unwrap();
        }
        keep = s.commit_log_max_offset();
        s.put_message(&msg("T", 0, "zeroed", "A")).unwrap();
        s.flush().unwrap();
    }
    // A torn write: the last record's bytes never reached the disk.
    let seg = dir.path().join("commitlog").join(mapped_file::file_name(0));
    let mut bytes = std::fs::read(&seg).unwrap();
    for b in &mut bytes[keep as usize..] {
        *b = 0;
    }
    std::fs::write(&seg, bytes).unwrap();
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.commit_log_max_offset(), keep);
    assert_eq!(s.max_offset_in_queue("T", 0), 3, "the consume queue entry for the lost record is dropped");
    assert_eq!(s.put_message(&msg("T", 0, "next", "A")).unwrap().queue_offset, 3);
}

#[test]
fn corrupted_middle_segment_cuts_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1024);
    let mut offsets = Vec::new();
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        for i in 0..30 {
            offsets.push(s.put_message(&msg("T", 0, &format!("body-{i}"), "A")).unwrap().wrote_offset);
        }
        s.flush().unwrap();
    }
    assert!(offsets.last().unwrap() > &2048, "spans at least three segments");
    // Lose the consume queues and scribble over a record in the second segment.
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let victim = *offsets.iter().find(|o| **o >= 1024 + 200).unwrap();
    let seg = dir.path().join("commitlog").join(mapped_file::file_name(1024));
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[(victim - 1024) as usize + 4] ^= 0x55; // magic code
    std::fs::write(&seg, bytes).unwrap();
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.commit_log_max_offset(), victim);
    let kept = offsets.iter().filter(|o| **o < victim).count() as i64;
    assert_eq!(s.max_offset_in_queue("T", 0), kept);
    let g = s.get_message("T", 0, 0, 32, &|_| true);
    let got = MessageExt::decode_all(&g.body()).unwrap();
    assert_eq!(got.len() as i64, kept);
    assert!(!dir.path().join("commitlog").join(mapped_file::file_name(2048)).exists(), "later segments removed");
}

#[test]
fn keys_are_indexed_and_rebuilt_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let mut m = msg("T", 0, "keyed", "A");
    m.properties.put("KEYS", "order-1 order-2");
    m.properties.put("UNIQ_KEY", "U1");
    let off;
    {
        let s = MessageStore::open(cfg.clone()).unwrap();
        off = s.put_message(&m).unwrap().wrote_offset;
        assert_eq!(s.query_message_offsets("T", "order-2", 10, 0, i64::MAX), vec![off]);
        assert_eq!(s.query_message_offsets("T", "U1", 10, 0, i64::MAX), vec![off]);
        assert!(s.query_message_offsets("Other", "order-2", 10, 0, i64::MAX).is_empty());
    }
    // A crash that lost the index: it is rebuilt from the commit log.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.query_message_offsets("T", "order-1", 10, 0, i64::MAX), vec![off]);
}

#[test]
fn a_prepared_next_segment_survives_clean_stops_and_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1024);
    let seg = |start| dir.path().join("commitlog").join(mapped_file::file_name(start));
    let (mut end, mut n) = (0, 0);
    for clean in [true, false, true] {
        let s = MessageStore::open(cfg.clone()).unwrap();
        assert_eq!(s.commit_log_max_offset(), end);
        assert_eq!(s.max_offset_in_queue("T", 0), n);
        // Enough to roll at least once.
        for i in 0..12 {
            assert_eq!(s.put_message(&msg("T", 0, &format!("body-{i}"), "A")).unwrap().queue_offset, n);
            n += 1;
        }
        assert!(s.commit_log.allocator().wait_idle(std::time::Duration::from_secs(10)));
        end = s.commit_log_max_offset();
        let next = end - end % 1024 + 1024;
        assert!(seg(next).exists(), "segment {next} prepared");
        s.flush().unwrap();
        if clean {
            s.shutdown().unwrap();
        }
    }
    let s = MessageStore::open(cfg).unwrap();
    assert_eq!(s.commit_log_max_offset(), end);
    let g = s.get_message("T", 0, n - 3, 32, &|_| true);
    assert_eq!(g.message_count(), 3);
}

#[test]
fn a_pull_far_behind_suggests_the_slave() {
    let dir = tempfile::tempdir().unwrap();
    // Ratio 0: any pull not at the very end is "far behind" (Java's diff > memory).
    let s = MessageStore::open(StoreConfig { access_message_in_memory_max_ratio: 0, ..config(dir.path(), 4096) }).unwrap();
    s.put_message(&msg("T", 0, "a", "A")).unwrap();
    s.put_message(&msg("T", 0, "b", "A")).unwrap();
    let g = s.get_message("T", 0, 0, 1, &|_| true);
    assert_eq!(g.status, GetStatus::Found);
    assert!(g.suggest_pulling_from_slave);
    drop(s);
    let s = MessageStore::open(config(dir.path(), 4096)).unwrap();
    assert!(!s.get_message("T", 0, 0, 1, &|_| true).suggest_pulling_from_slave, "40% of memory: not behind");
    assert!(!s.get_message("T", 0, 2, 1, &|_| true).suggest_pulling_from_slave, "nothing found: no suggestion");
}

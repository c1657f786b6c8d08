use std::sync::Arc;

use super::*;
use crate::protocol::message::property as p;
use crate::store::tests::{config, msg};
use crate::store::{MessageStore, StoreConfig, StoreExtensions};

const CFG: TimerConfig = TimerConfig { precision_ms: 1000, max_delay_ms: 60_000 };

fn open(cfg: &StoreConfig) -> (MessageStore, Arc<TimerStore>) {
    let timer = Arc::new(TimerStore::open(&cfg.root.join("timer"), CFG).unwrap());
    let ext = StoreExtensions { dispatchers: vec![timer.clone()], ..Default::default() };
    (MessageStore::open_with(cfg.clone(), ext).unwrap(), timer)
}

/// A timer message for `real` due at `out`; its commit log offset.
fn put_timer(s: &MessageStore, real: &str, out: i64) -> i64 {
    let mut m = msg(TIMER_TOPIC, 0, "t", "A");
    m.properties.put(property::TIMER_OUT_MS, out.to_string());
    m.properties.put(p::REAL_TOPIC, real);
    m.properties.put(p::REAL_QUEUE_ID, "0");
    s.put_message(&m).unwrap().wrote_offset
}

/// The delivery of the timer at `origin`, as the broker's service puts it.
fn put_delivery(s: &MessageStore, real: &str, out: i64, origin: i64) {
    let mut m = msg(real, 0, "t", "A");
    m.properties.put(property::TIMER_OUT_MS, out.to_string());
    m.properties.put(TIMER_ORIGIN, origin.to_string());
    s.put_message(&m).unwrap();
}

/// A slot boundary from which test timers are ahead of the delivery cursor
/// (a new wheel's is at its creation).
fn ahead() -> i64 {
    CFG.slot_of(crate::store::now_ms())
}

fn chain(t: &TimerStore, slot: i64) -> Vec<i64> {
    t.chain(slot).unwrap().map(|r| r.phy_offset).collect()
}

#[test]
fn slot_times_round_up_so_nothing_leaves_early() {
    assert_eq!(CFG.slot_of(5000), 5000);
    assert_eq!(CFG.slot_of(5001), 6000);
    assert_eq!(CFG.slot_of(5999), 6000);
    assert_eq!(CFG.slots(), 136);
}

#[test]
fn timers_are_chained_per_slot_and_counted_per_topic() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ahead();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let a = put_timer(&s, "T", t0 + 10_500);
    let b = put_timer(&s, "U", t0 + 11_000);
    let c = put_timer(&s, "T", t0 + 10_001);
    assert_eq!(chain(&t, t0 + 11_000), vec![c, b, a], "newest first");
    assert!(chain(&t, t0 + 11_000 + CFG.span_ms()).is_empty(), "same wheel index a rotation later: another slot");
    assert_eq!(t.slot_count(t0 + 11_000).unwrap(), 3);
    assert!(chain(&t, t0 + 12_000).is_empty());
    assert_eq!(t.pending(), vec![("T".into(), 2), ("U".into(), 1)]);
    // A message that merely carries the property is no timer.
    let mut plain = msg("T", 0, "x", "A");
    plain.properties.put(property::TIMER_OUT_MS, "11000");
    s.put_message(&plain).unwrap();
    assert_eq!(t.slot_count(t0 + 11_000).unwrap(), 3);
}

#[test]
fn deliveries_mark_their_timers_and_close_earlier_slots() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ahead();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let a = put_timer(&s, "T", t0 + 5000);
    let b = put_timer(&s, "T", t0 + 5000);
    let c = put_timer(&s, "T", t0 + 6000);
    assert!(!t.is_delivered(t0 + 5000, a));
    put_delivery(&s, "T", t0 + 5000, a);
    assert!(t.is_delivered(t0 + 5000, a));
    assert!(!t.is_delivered(t0 + 5000, b));
    assert_eq!(t.pending_total(), 2);
    put_delivery(&s, "T", t0 + 6000, c);
    assert!(t.is_delivered(t0 + 5000, b), "its slot is before the slot being delivered");
    assert!(!t.is_delivered(t0 + 7000, c));
    assert_eq!(t.pending_total(), 1);
}

#[test]
fn a_crash_rebuilds_wheel_deliveries_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ahead();
    let cfg = config(dir.path(), 1 << 16);
    let (a, b, c);
    {
        let (s, t) = open(&cfg);
        a = put_timer(&s, "T", t0 + 5000);
        s.flush().unwrap(); // checkpoint here: a counted, nothing delivered
        b = put_timer(&s, "T", t0 + 5000);
        c = put_timer(&s, "U", t0 + 9000);
        put_delivery(&s, "T", t0 + 5000, b);
        assert_eq!(t.pending(), vec![("T".into(), 1), ("U".into(), 1)]);
    } // no shutdown: a crash
    let (s, t) = open(&cfg);
    assert_eq!(chain(&t, t0 + 5000), vec![b, a], "no record linked twice");
    assert_eq!(chain(&t, t0 + 9000), vec![c]);
    assert!(t.is_delivered(t0 + 5000, b) && !t.is_delivered(t0 + 5000, a), "the delivery was replayed");
    assert_eq!(t.pending(), vec![("T".into(), 1), ("U".into(), 1)]);
    // A clean stop keeps the deliveries of the current slot in the checkpoint.
    s.shutdown().unwrap();
    drop((s, t));
    let (_s, t) = open(&cfg);
    assert!(t.is_delivered(t0 + 5000, b) && !t.is_delivered(t0 + 5000, a));
    assert_eq!(t.pending_total(), 2);
}

#[test]
fn records_past_a_cut_commit_log_are_unlinked() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ahead();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let a = put_timer(&s, "T", t0 + 5000);
    let b = put_timer(&s, "T", t0 + 5000);
    put_delivery(&s, "T", t0 + 5000, a);
    t.truncate_dirty(b).unwrap();
    assert_eq!(chain(&t, t0 + 5000), vec![a]);
    assert_eq!(t.slot_count(t0 + 5000).unwrap(), 1);
    assert!(!t.is_delivered(t0 + 5000, a), "its delivery was past the cut too");
    assert!(t.dispatched_to() <= b);
}

#[test]
fn a_changed_precision_is_refused_while_timers_wait() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 16);
    {
        let (s, _t) = open(&cfg);
        put_timer(&s, "T", 5000);
        s.shutdown().unwrap();
    }
    let other = TimerConfig { precision_ms: 100, ..CFG };
    assert!(TimerStore::open(&cfg.root.join("timer"), other).is_err());
    assert!(TimerStore::open(&cfg.root.join("timer"), CFG).is_ok());
}

#[test]
fn delivery_starts_on_a_slot_boundary_after_what_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let now = crate::store::now_ms();
    let start = t.start_cursor(now);
    assert_eq!(start % CFG.precision_ms, 0, "a new wheel starts at a slot");
    assert!(start >= now - CFG.precision_ms && start <= now + CFG.precision_ms);
    t.set_cursor(now + 10_500);
    assert_eq!(t.start_cursor(now), CFG.slot_of(now + 10_500));
    let a = put_timer(&s, "T", now + 20_000);
    put_delivery(&s, "T", now + 20_000, a);
    assert_eq!(t.start_cursor(now), CFG.slot_of(now + 20_000), "the slot being delivered is walked again");
}

/// Commit log files, oldest first.
fn commit_log_files(cfg: &StoreConfig) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(cfg.root.join("commitlog")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Plain messages until the commit log has written into its `n`th file
/// (counted by offset: the next file may be created ahead).
fn fill_to(s: &MessageStore, cfg: &StoreConfig, n: usize) {
    while s.commit_log_max_offset() <= ((n - 1) * cfg.commit_log_file_size) as i64 {
        s.put_message(&msg("Fill", 0, "filler", "A")).unwrap();
    }
}

/// Makes every commit log file two hours old (past a one-hour retention).
fn age_files(cfg: &StoreConfig) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    for f in commit_log_files(cfg) {
        std::fs::File::options().write(true).open(f).unwrap().set_modified(then).unwrap();
    }
}

fn retention_config(dir: &std::path::Path, file_size: usize) -> StoreConfig {
    StoreConfig { file_reserved_hours: 1, ..config(dir, file_size) }
}

/// The delivery service's walk of one slot: the timers it would put back.
fn to_deliver(s: &MessageStore, t: &TimerStore, slot: i64) -> Vec<i64> {
    t.chain(slot)
        .unwrap()
        .filter(|r| !t.is_delivered(slot, r.phy_offset))
        .inspect(|r| assert!(s.look_message_by_offset(r.phy_offset).is_some(), "its message is still there"))
        .map(|r| r.phy_offset)
        .collect()
}

#[test]
fn retention_keeps_a_file_holding_a_pending_timer_until_it_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = retention_config(dir.path(), 4096);
    let (s, t) = open(&cfg);
    let due = CFG.slot_of(crate::store::now_ms() + 30_000);
    fill_to(&s, &cfg, 2);
    let timer = put_timer(&s, "T", due);
    assert!(timer >= 4096, "in the second file");
    fill_to(&s, &cfg, 4);
    age_files(&cfg);
    assert_eq!(s.delete_expired_files(false), 1, "the first file goes, the second holds the timer");
    assert_eq!(s.commit_log_min_offset(), 4096);
    assert_eq!(s.delete_expired_files(false), 0, "expired, but its timer is pending");
    assert_eq!(to_deliver(&s, &t, due), vec![timer]);
    put_delivery(&s, "T", due, timer);
    age_files(&cfg);
    assert!(s.delete_expired_files(false) >= 2, "delivered: the second file goes with the third");
    assert!(s.commit_log_min_offset() > timer);
    assert!(s.look_message_by_offset(timer).is_none());
}

#[test]
fn a_forced_deletion_drops_pending_timers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = retention_config(dir.path(), 4096);
    let (s, t) = open(&cfg);
    let due = CFG.slot_of(crate::store::now_ms() + 30_000);
    let timer = put_timer(&s, "T", due);
    put_timer(&s, "T", due + 1000);
    fill_to(&s, &cfg, 3);
    assert_eq!(t.pending_in(0, 4096, usize::MAX), 2);
    assert_eq!(t.pending_in(0, 4096, 1), 1, "counts up to at_most");
    assert_eq!(t.pending_in(4096, 8192, usize::MAX), 0);
    // Not expired and pending: only the disk forces it out.
    assert_eq!(s.delete_expired_files(false), 0);
    let other = put_timer(&s, "U", due);
    assert_eq!(t.pending(), vec![("T".to_string(), 2), ("U".to_string(), 1)]);
    assert_eq!(s.delete_expired_files(true), 2);
    assert!(s.look_message_by_offset(timer).is_none());
    assert!(s.look_message_by_offset(other).is_some());
    assert_eq!(t.pending(), vec![("U".to_string(), 1)], "the lost timers leave timerPendingCount");
}

#[test]
fn the_log_front_is_punched_and_pending_timers_survive_it_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = retention_config(dir.path(), 1 << 16);
    let now = crate::store::now_ms();
    let (early, late) = (CFG.slot_of(now + 10_000), CFG.slot_of(now + 20_000));
    let (pending, linked) = put_timer_after_delivered(&cfg, early, late);
    let log_path = cfg.root.join("timer").join("log");
    let blocks_before = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&log_path).unwrap());
    let (s, t) = open(&cfg);
    age_files(&cfg);
    assert_eq!(s.delete_expired_files(false), 2, "both older files hold delivered timers only");
    let mut head = vec![1u8; PUNCH_BLOCK as usize];
    std::fs::File::open(&log_path).unwrap().read_exact_at(&mut head, 0).unwrap();
    assert!(head.iter().all(|b| *b == 0), "the delivered timers' records are punched out");
    let blocks_after = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&log_path).unwrap());
    assert!(blocks_after < blocks_before, "{blocks_after} blocks, {blocks_before} before");
    let early_left = chain(&t, early).len();
    assert!(early_left > 0 && early_left < linked, "the early slot's chain stops at the hole: {early_left} of {linked}");
    assert_eq!(to_deliver(&s, &t, late), vec![pending], "the pending timer is delivered, once");
    assert_eq!(t.pending_in(0, i64::MAX, usize::MAX), 1);
    // A reopen finds the punched front and goes on appending after the tail.
    s.shutdown().unwrap();
    drop((s, t));
    let (s, t) = open(&cfg);
    assert_eq!(to_deliver(&s, &t, late), vec![pending]);
    let more = put_timer(&s, "T", late);
    assert_eq!(to_deliver(&s, &t, late), vec![more, pending]);
    put_delivery(&s, "T", late, pending);
    assert_eq!(to_deliver(&s, &t, late), vec![more]);
    assert_eq!(t.pending_in(0, i64::MAX, usize::MAX), 1);
}

/// A store whose first two files hold only timers of `early`, delivered
/// (the service walked past it), and whose newest file holds one timer of
/// `late`, pending: that timer's offset and how many `early` ones there
/// are. Stopped cleanly.
fn put_timer_after_delivered(cfg: &StoreConfig, early: i64, late: i64) -> (i64, usize) {
    let (s, t) = open(cfg);
    let mut n = 0;
    while s.commit_log_max_offset() <= cfg.commit_log_file_size as i64 {
        put_timer(&s, "T", early);
        n += 1;
    }
    assert!((n as u64) * RECORD_SIZE > 2 * PUNCH_BLOCK, "{n} records: more than two blocks of the log");
    t.set_cursor(early + CFG.precision_ms);
    fill_to(&s, cfg, 3);
    let pending = put_timer(&s, "U", late);
    s.shutdown().unwrap();
    (pending, n)
}

/// The race between a put and the delivery service: the service walked past
/// a timer's slot before the store linked the timer (the put straddled the
/// slot's boundary and its write or dispatch lagged). The timer is due: it
/// goes into the slot the service walks next, is delivered from there once,
/// and stays delivered across a crash and a clean restart.
#[test]
fn a_timer_linked_after_the_service_passed_its_slot_goes_to_the_next_slot_and_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 16);
    let now = crate::store::now_ms();
    let (passed, next) = (CFG.slot_of(now + 10_000), CFG.slot_of(now + 12_000));
    let timer;
    {
        let (s, t) = open(&cfg);
        t.set_cursor(next);
        timer = put_timer(&s, "T", passed);
        assert!(chain(&t, passed).is_empty(), "not linked into a slot the service has left");
        assert_eq!(to_deliver(&s, &t, next), vec![timer], "due in the slot walked next");
        // Its delivery still names its own slot in TIMER_OUT_MS.
        put_delivery(&s, "T", passed, timer);
        assert!(to_deliver(&s, &t, next).is_empty(), "delivered once");
        assert_eq!(t.pending_total(), 0);
    } // no shutdown: a crash, and recovery replays both records
    let (s, t) = open(&cfg);
    assert_eq!(chain(&t, next), vec![timer], "replay does not link it again");
    assert!(chain(&t, passed).is_empty());
    assert!(to_deliver(&s, &t, next).is_empty(), "not delivered again after the crash");
    assert_eq!(t.start_cursor(now), next, "the walk resumes at the slot it was delivered from");
    s.shutdown().unwrap();
    drop((s, t));
    let (s, t) = open(&cfg);
    assert!(to_deliver(&s, &t, next).is_empty(), "nor after a clean restart");
    assert_eq!(t.pending_total(), 0);
}

/// The window inside the service's walk: a timer linked into the slot
/// between the read of its chain and the cursor's move past it is not
/// skipped: the move is refused and the slot walked again; once the cursor
/// is past, a timer for the slot goes to the next one.
#[test]
fn the_cursor_leaves_a_slot_only_if_nothing_was_linked_into_it_during_its_walk() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let now = crate::store::now_ms();
    let slot = CFG.slot_of(now + 10_000);
    t.set_cursor(slot);
    let a = put_timer(&s, "T", slot);
    let walk = t.chain(slot).unwrap();
    let seen = walk.head();
    assert_eq!(walk.map(|r| r.phy_offset).collect::<Vec<_>>(), vec![a]);
    put_delivery(&s, "T", slot, a);
    let b = put_timer(&s, "T", slot); // linked during the walk
    assert!(!t.advance_cursor(slot, seen).unwrap(), "the slot grew: not left");
    assert_eq!(t.start_cursor(now), slot);
    let walk = t.chain(slot).unwrap();
    let seen = walk.head();
    assert_eq!(to_deliver(&s, &t, slot), vec![b], "the second walk delivers only the new one");
    put_delivery(&s, "T", slot, b);
    assert!(t.advance_cursor(slot, seen).unwrap());
    assert_eq!(t.start_cursor(now), slot + CFG.precision_ms);
    let c = put_timer(&s, "T", slot);
    assert!(!chain(&t, slot).contains(&c), "not behind the cursor");
    assert_eq!(chain(&t, slot + CFG.precision_ms), vec![c]);
    assert_eq!(t.pending_total(), 1);
}

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
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let a = put_timer(&s, "T", 10_500);
    let b = put_timer(&s, "U", 11_000);
    let c = put_timer(&s, "T", 10_001);
    assert_eq!(chain(&t, 11_000), vec![c, b, a], "newest first");
    assert!(chain(&t, 11_000 + CFG.span_ms()).is_empty(), "same wheel index a rotation later: another slot");
    assert_eq!(t.slot_count(11_000).unwrap(), 3);
    assert!(chain(&t, 12_000).is_empty());
    assert_eq!(t.pending(), vec![("T".into(), 2), ("U".into(), 1)]);
    // A message that merely carries the property is no timer.
    let mut plain = msg("T", 0, "x", "A");
    plain.properties.put(property::TIMER_OUT_MS, "11000");
    s.put_message(&plain).unwrap();
    assert_eq!(t.slot_count(11_000).unwrap(), 3);
}

#[test]
fn deliveries_mark_their_timers_and_close_earlier_slots() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let a = put_timer(&s, "T", 5000);
    let b = put_timer(&s, "T", 5000);
    let c = put_timer(&s, "T", 6000);
    assert!(!t.is_delivered(5000, a));
    put_delivery(&s, "T", 5000, a);
    assert!(t.is_delivered(5000, a));
    assert!(!t.is_delivered(5000, b));
    assert_eq!(t.pending_total(), 2);
    put_delivery(&s, "T", 6000, c);
    assert!(t.is_delivered(5000, b), "slot 5000 is before the slot being delivered");
    assert!(!t.is_delivered(7000, c));
    assert_eq!(t.pending_total(), 1);
}

#[test]
fn a_crash_rebuilds_wheel_deliveries_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 16);
    let (a, b, c);
    {
        let (s, t) = open(&cfg);
        a = put_timer(&s, "T", 5000);
        s.flush().unwrap(); // checkpoint here: a counted, nothing delivered
        b = put_timer(&s, "T", 5000);
        c = put_timer(&s, "U", 9000);
        put_delivery(&s, "T", 5000, b);
        assert_eq!(t.pending(), vec![("T".into(), 1), ("U".into(), 1)]);
    } // no shutdown: a crash
    let (s, t) = open(&cfg);
    assert_eq!(chain(&t, 5000), vec![b, a], "no record linked twice");
    assert_eq!(chain(&t, 9000), vec![c]);
    assert!(t.is_delivered(5000, b) && !t.is_delivered(5000, a), "the delivery was replayed");
    assert_eq!(t.pending(), vec![("T".into(), 1), ("U".into(), 1)]);
    // A clean stop keeps the deliveries of the current slot in the checkpoint.
    s.shutdown().unwrap();
    drop((s, t));
    let (_s, t) = open(&cfg);
    assert!(t.is_delivered(5000, b) && !t.is_delivered(5000, a));
    assert_eq!(t.pending_total(), 2);
}

#[test]
fn records_past_a_cut_commit_log_are_unlinked() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = open(&config(dir.path(), 1 << 16));
    let a = put_timer(&s, "T", 5000);
    let b = put_timer(&s, "T", 5000);
    put_delivery(&s, "T", 5000, a);
    t.truncate_dirty(b).unwrap();
    assert_eq!(chain(&t, 5000), vec![a]);
    assert_eq!(t.slot_count(5000).unwrap(), 1);
    assert!(!t.is_delivered(5000, a), "its delivery was past the cut too");
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

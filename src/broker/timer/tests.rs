use super::*;
use crate::config::{broker_defaults, BrokerConfig};
use crate::protocol::message::Properties;

fn cfg() -> BrokerConfig {
    BrokerConfig::from_settings(broker_defaults()).unwrap()
}

fn msg(props: &[(&str, &str)]) -> MessageInner {
    let mut p = Properties::default();
    for (k, v) in props {
        p.put(k, *v);
    }
    MessageInner {
        topic: "T".into(),
        queue_id: 3,
        flag: 0,
        sys_flag: 0,
        body: bytes::Bytes::from_static(b"x"),
        properties: p,
        born_timestamp: 1,
        born_host: "127.0.0.1:1".parse().unwrap(),
        store_host: "127.0.0.1:2".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

const NOW: i64 = 1_700_000_000_300;

fn out_ms(m: &MessageInner) -> i64 {
    m.properties.get(tp::TIMER_OUT_MS).unwrap().parse().unwrap()
}

#[test]
fn each_property_moves_the_message_to_the_timer_topic_rounded_up() {
    let c = cfg();
    for (k, v, due) in [
        (tp::TIMER_DELAY_SEC, "7".to_string(), NOW + 7000),
        (tp::TIMER_DELAY_MS, "1500".to_string(), NOW + 1500),
        (tp::TIMER_DELIVER_MS, (NOW + 65_000).to_string(), NOW + 65_000),
        (tp::START_DELIVER_TIME, (NOW + 2000).to_string(), NOW + 2000),
    ] {
        let mut m = msg(&[(k, &v)]);
        transform(&c, &mut m, NOW).unwrap();
        assert_eq!((m.topic.as_str(), m.queue_id), (TIMER_TOPIC, 0), "{k}");
        assert_eq!(m.properties.get(p::REAL_TOPIC), Some("T"));
        assert_eq!(m.properties.get(p::REAL_QUEUE_ID), Some("3"));
        assert_eq!(m.properties.get(k), Some(v.as_str()), "the user's property stays");
        let out = out_ms(&m);
        assert!(out >= due && out < due + 1000 && out % 1000 == 0, "{k}: {out} for {due}");
    }
}

#[test]
fn past_times_levels_and_plain_messages_stay_as_they_are() {
    let c = cfg();
    for props in [
        vec![(tp::TIMER_DELIVER_MS, "1000")],
        vec![(tp::TIMER_DELAY_MS, "0")],
        vec![],
        vec![(tp::TIMER_OUT_MS, "5"), (tp::TIMER_DELAY_SEC, "5")],
    ] {
        let mut m = msg(&props);
        let before = m.clone();
        transform(&c, &mut m, NOW).unwrap();
        assert_eq!((&m.topic, m.queue_id, &m.properties), (&before.topic, before.queue_id, &before.properties));
    }
    // A delay level wins and the timer properties go (Java 5).
    let mut m = msg(&[("DELAY", "3"), (tp::TIMER_DELAY_SEC, "5")]);
    transform(&c, &mut m, NOW).unwrap();
    assert_eq!((m.topic.as_str(), m.properties.get(tp::TIMER_DELAY_SEC)), ("T", None));
}

#[test]
fn bad_values_get_java_5s_code_and_remark() {
    let c = cfg();
    let too_far = (NOW + 3 * 86_400_000 + 1).to_string();
    for (k, v) in [
        (tp::TIMER_DELAY_SEC, "abc"),
        (tp::TIMER_DELAY_SEC, "-5"),
        (tp::TIMER_DELAY_MS, "1e3"),
        (tp::TIMER_DELAY_SEC, "9223372036854775807"),
        (tp::TIMER_DELAY_SEC, "259201"),
        (tp::TIMER_DELIVER_MS, too_far.as_str()),
        (tp::TIMER_DELIVER_MS, ""),
    ] {
        let err = transform(&c, &mut msg(&[(k, v)]), NOW).unwrap_err();
        let BrokerError::Response(code, remark) = err else { panic!("{k}={v}") };
        assert_eq!(code, response::MESSAGE_ILLEGAL, "{k}={v}");
        assert!(remark.starts_with("timer message illegal, the delay time should not be bigger than the max delay 259200000ms"), "{remark}");
    }
    assert!(transform(&c, &mut msg(&[(tp::TIMER_DELAY_SEC, "259200")]), NOW).is_ok(), "3 days is allowed");
    let off = BrokerConfig { timer_wheel_enable: false, ..cfg() };
    let err = transform(&off, &mut msg(&[(tp::TIMER_DELAY_SEC, "5")]), NOW).unwrap_err();
    assert!(matches!(err, BrokerError::Response(response::SYSTEM_ERROR, _)));
}

#[test]
fn the_delivered_message_goes_to_its_real_queue_with_5x_properties() {
    let mut m = msg(&[(tp::TIMER_DELAY_SEC, "5"), ("TAGS", "A")]);
    transform(&cfg(), &mut m, NOW).unwrap();
    let stored = MessageExt {
        store_size: 0,
        body_crc: 0,
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        commit_log_offset: 77,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: m.born_host,
        store_timestamp: NOW + 1,
        store_host: m.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: m.body.clone(),
        topic: m.topic.clone(),
        properties: m.properties.clone(),
    };
    let real = timer_up(&stored, 77, NOW + 6000).unwrap();
    assert_eq!((real.topic.as_str(), real.queue_id), ("T", 3));
    let props = &real.properties;
    assert_eq!((props.get(p::REAL_TOPIC), props.get(p::REAL_QUEUE_ID)), (None, None));
    assert_eq!(props.get(tp::TIMER_ENQUEUE_MS), Some((NOW + 1).to_string().as_str()));
    assert_eq!(props.get(tp::TIMER_DEQUEUE_MS), Some((NOW + 6000).to_string().as_str()));
    assert_eq!(props.get(TIMER_ORIGIN), Some("77"));
    assert_eq!(props.get("TAGS"), Some("A"));
    assert!(props.get(tp::TIMER_OUT_MS).is_some());
}

/// A timer message for `real` due at slot `out`, stored as `transform` leaves it.
fn put_timer(b: &Broker, real: &str, out: i64) -> i64 {
    let out = out.to_string();
    let mut m = msg(&[(tp::TIMER_OUT_MS, &out), (p::REAL_TOPIC, real), (p::REAL_QUEUE_ID, "0")]);
    m.topic = TIMER_TOPIC.into();
    m.queue_id = 0;
    b.store.put_message(&m).unwrap().wrote_offset
}

/// The messages of `topic`'s queue 0.
fn delivered(b: &Broker, topic: &str) -> Vec<MessageExt> {
    let got = b.store.get_message(topic, 0, 0, 32, &|_| true);
    MessageExt::decode_all(&got.body()).unwrap()
}

/// Returns once the clock is past `ms` (the delivery service's clock).
fn wait_past(ms: i64) {
    while now_ms() <= ms {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn after_retention_trims_the_timer_log_a_pending_timer_is_delivered_once_and_never_early() {
    let dir = tempfile::tempdir().unwrap();
    let size = 1 << 16;
    let settings = [("mappedFileSizeCommitLog", "65536"), ("timerPrecisionMs", "100"), ("fileReservedTime", "1")];
    let b = crate::broker::test_broker(dir.path(), &settings);
    let timer = b.timer.clone().unwrap();
    // The first file full of timers that fall due and are delivered.
    let early = timer.config().slot_of(now_ms() + 200);
    let mut n = 0;
    while b.store.commit_log_max_offset() <= size {
        put_timer(&b, "E", early);
        n += 1;
    }
    wait_past(early);
    assert!(deliver_due(&b, &timer));
    assert_eq!(b.store.max_offset_in_queue("E", 0), n);
    while b.store.commit_log_max_offset() <= 2 * size {
        b.store.put_message(&msg(&[])).unwrap();
    }
    // One timer still pending in the newest file; everything else expires.
    let due = timer.config().slot_of(now_ms() + 1000);
    let pending = put_timer(&b, "U", due);
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    for f in std::fs::read_dir(dir.path().join("commitlog")).unwrap() {
        std::fs::File::options().write(true).open(f.unwrap().path()).unwrap().set_modified(old).unwrap();
    }
    assert!(b.store.delete_expired_files(false) >= 2);
    assert!(b.store.look_message_by_offset(pending).is_some());
    let mut head = vec![1u8; 4096];
    use std::os::unix::fs::FileExt;
    std::fs::File::open(dir.path().join("timer").join("log")).unwrap().read_exact_at(&mut head, 0).unwrap();
    assert!(head.iter().all(|b| *b == 0), "the delivered timers' records are punched out");
    wait_past(due);
    assert!(deliver_due(&b, &timer));
    assert!(deliver_due(&b, &timer), "a second walk delivers nothing again");
    let got = b.store.get_message("U", 0, 0, 32, &|_| true);
    let got = MessageExt::decode_all(&got.body()).unwrap();
    assert_eq!(got.len(), 1, "delivered once");
    let props = &got[0].properties;
    assert_eq!(props.get(TIMER_ORIGIN), Some(pending.to_string().as_str()));
    let dequeued: i64 = props.get(tp::TIMER_DEQUEUE_MS).unwrap().parse().unwrap();
    assert!(dequeued >= due, "never early: {dequeued} < {due}");
}

/// The race: the service walked past a timer's slot before the store linked
/// the timer (a put straddling the slot's boundary whose write or dispatch
/// lagged). Without the fix it was linked behind the service and never
/// delivered.
#[test]
fn a_timer_stored_after_the_service_passed_its_slot_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = crate::broker::test_broker(dir.path(), &[("timerPrecisionMs", "100")]);
    let timer = b.timer.clone().unwrap();
    assert!(deliver_due(&b, &timer));
    let next = timer.start_cursor(now_ms());
    let passed = next - timer.config().precision_ms;
    let origin = put_timer(&b, "L", passed);
    wait_past(next);
    assert!(deliver_due(&b, &timer));
    assert!(deliver_due(&b, &timer), "a second walk delivers nothing again");
    let got = delivered(&b, "L");
    assert_eq!(got.len(), 1, "delivered once");
    let props = &got[0].properties;
    assert_eq!(props.get(TIMER_ORIGIN), Some(origin.to_string().as_str()));
    assert_eq!(props.get(tp::TIMER_OUT_MS), Some(passed.to_string().as_str()), "its own slot time, as sent");
}

/// The window inside a walk: a timer linked into the slot after
/// `deliver_slot` read its chain, before the cursor moved past it. The move
/// is refused and the next walk delivers it; each timer goes out once.
#[test]
fn a_timer_linked_into_the_slot_being_delivered_is_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let b = crate::broker::test_broker(dir.path(), &[("timerPrecisionMs", "100")]);
    let timer = b.timer.clone().unwrap();
    assert!(deliver_due(&b, &timer));
    let slot = timer.start_cursor(now_ms());
    let first = put_timer(&b, "W", slot);
    wait_past(slot);
    let seen = deliver_slot(&b, &timer, slot).unwrap();
    let second = put_timer(&b, "W", slot); // between the walk and the move
    assert!(!timer.advance_cursor(slot, seen).unwrap(), "the slot grew: not left");
    assert!(deliver_due(&b, &timer));
    assert!(deliver_due(&b, &timer));
    let origins: Vec<_> = delivered(&b, "W").iter().map(|m| m.properties.get(TIMER_ORIGIN).unwrap().to_string()).collect();
    assert_eq!(origins, vec![first.to_string(), second.to_string()], "each once, in order");
}

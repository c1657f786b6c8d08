//! Messages delivered at any time (Java 5's timer messages, RIP-43) for 4.x
//! clients: a single send with `TIMER_DELIVER_MS`, `TIMER_DELAY_SEC`,
//! `TIMER_DELAY_MS` or `__STARTDELIVERTIME` is stored in the timer topic
//! ([`transform`], `HookUtils.transformTimerMessage`), linked into the
//! timer wheel by the store (`store::timer`), and put back to its real topic
//! and queue when due by the delivery service here (masters only).

use std::sync::Arc;
use std::time::Duration;

use super::error::{BrokerError, BrokerResult};
use super::Broker;
use crate::config::BrokerConfig;
use crate::protocol::message::{property as p, MessageExt, MessageInner};
use crate::protocol::topics::TIMER_TOPIC;
use crate::remoting::codes::response;
use crate::store::now_ms;
use crate::store::timer::{property as tp, TimerStore, TIMER_ORIGIN};

/// How often due slots are looked for, at most.
const MAX_TICK: Duration = Duration::from_millis(100);

/// `WHEEL_TIMER_MSG_ILLEGAL`'s remark.
fn illegal(cfg: &BrokerConfig) -> BrokerError {
    BrokerError::new(
        response::MESSAGE_ILLEGAL,
        format!(
            "timer message illegal, the delay time should not be bigger than the max delay {}ms; or if set del msg, the delay time should be bigger than the current time",
            cfg.timer.max_delay_ms
        ),
    )
}

/// The delivery time a message asks for: (property, epoch ms), none if it
/// asks for none; an error if the value is not a number, negative, or
/// overflows. As Java 5, the relative forms win over the absolute one.
fn requested(m: &MessageInner, now: i64) -> Option<Result<i64, ()>> {
    let num = |k: &str| m.properties.get(k).map(|v| v.trim().parse::<i64>().ok().filter(|n| *n >= 0).ok_or(()));
    if let Some(sec) = num(tp::TIMER_DELAY_SEC) {
        return Some(sec.and_then(|s| s.checked_mul(1000).and_then(|ms| ms.checked_add(now)).ok_or(())));
    }
    if let Some(ms) = num(tp::TIMER_DELAY_MS) {
        return Some(ms.and_then(|ms| ms.checked_add(now).ok_or(())));
    }
    num(tp::TIMER_DELIVER_MS).or_else(|| num(tp::START_DELIVER_TIME))
}

/// Applied to a single send (not a batch, not a transaction half message):
/// a message asking for a delivery time in the future goes to the timer
/// topic with its time in `TIMER_OUT_MS` (rounded up to `timerPrecisionMs`)
/// and its real topic and queue in `REAL_TOPIC` / `REAL_QID`; one whose
/// time has passed is stored as is. A delay level wins: the timer
/// properties are dropped, as Java 5 does.
pub fn transform(cfg: &BrokerConfig, m: &mut MessageInner, now: i64) -> BrokerResult<()> {
    if m.properties.get(p::DELAY_TIME_LEVEL).and_then(|l| l.trim().parse::<i32>().ok()).is_some_and(|l| l > 0) {
        for k in [tp::TIMER_DELIVER_MS, tp::TIMER_DELAY_SEC, tp::TIMER_DELAY_MS] {
            m.properties.remove(k);
        }
        return Ok(());
    }
    if m.properties.get(tp::TIMER_OUT_MS).is_some() {
        return Ok(()); // Java's double check: already a timer message.
    }
    let Some(deliver) = requested(m, now) else { return Ok(()) };
    if !cfg.timer_wheel_enable {
        return Err(BrokerError::new(response::SYSTEM_ERROR, "accurate timer message is not enabled, timerWheelEnable is false"));
    }
    let deliver = deliver.map_err(|()| illegal(cfg))?;
    if deliver <= now {
        return Ok(());
    }
    if deliver - now > cfg.timer.max_delay_ms {
        return Err(illegal(cfg));
    }
    m.properties.put(tp::TIMER_OUT_MS, cfg.timer.slot_of(deliver).to_string());
    m.properties.put(p::REAL_TOPIC, m.topic.clone());
    m.properties.put(p::REAL_QUEUE_ID, m.queue_id.to_string());
    m.topic = TIMER_TOPIC.to_string();
    m.queue_id = 0;
    Ok(())
}

/// The message as it goes back to its real topic (`convertMessage`):
/// `REAL_TOPIC` and `REAL_QID` go, `TIMER_OUT_MS` stays, `TIMER_ENQUEUE_MS`
/// and `TIMER_DEQUEUE_MS` say when it was stored and delivered, and
/// `TIMER_ORIGIN_OFFSET` which timer it was.
pub fn timer_up(m: &MessageExt, origin: i64, now: i64) -> Option<MessageInner> {
    let mut props = m.properties.clone();
    let topic = props.remove(p::REAL_TOPIC)?;
    let queue_id = props.remove(p::REAL_QUEUE_ID)?.parse().ok()?;
    props.put(tp::TIMER_ENQUEUE_MS, m.store_timestamp.to_string());
    props.put(tp::TIMER_DEQUEUE_MS, now.to_string());
    props.put(TIMER_ORIGIN, origin.to_string());
    Some(MessageInner { topic, queue_id, properties: props, ..m.to_inner() })
}

/// Delivers every due slot from where delivery stopped; false if a put
/// failed (the rest is retried on the next tick).
pub fn deliver_due(b: &Broker, timer: &TimerStore) -> bool {
    let precision = timer.config().precision_ms;
    let now = now_ms();
    let mut slot = timer.start_cursor(now);
    while slot <= now {
        let Some(seen_head) = deliver_slot(b, timer, slot) else { return false };
        match timer.advance_cursor(slot, seen_head) {
            Ok(true) => slot += precision,
            // A timer was linked into the slot while it was being delivered:
            // walk it again (what is delivered is skipped).
            Ok(false) => {}
            Err(e) => {
                tracing::error!(slot, "timer wheel unreadable: {e}");
                return false;
            }
        }
    }
    true
}

/// Puts back the timers of the slot `slot` not yet delivered; the chain
/// head it walked from, None if the wheel is unreadable or a put failed.
fn deliver_slot(b: &Broker, timer: &TimerStore, slot: i64) -> Option<i64> {
    let chain = match timer.chain(slot) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(slot, "timer wheel unreadable: {e}");
            return None;
        }
    };
    let head = chain.head();
    for rec in chain {
        if timer.is_delivered(slot, rec.phy_offset) {
            continue;
        }
        let stored = b.store.look_message_by_offset(rec.phy_offset).filter(|m| m.topic == TIMER_TOPIC);
        let Some(stored) = stored else {
            tracing::warn!(slot, offset = rec.phy_offset, "timer message no longer in the commit log (retention); dropped");
            continue;
        };
        let Some(real) = timer_up(&stored, rec.phy_offset, now_ms()) else {
            tracing::error!(offset = rec.phy_offset, "timer message without its real topic; dropped");
            continue;
        };
        if let Err(e) = b.store.put_message(&real) {
            tracing::warn!(slot, offset = rec.phy_offset, "delivering a timer message failed, will retry: {e}");
            return None;
        }
    }
    Some(head)
}

impl Broker {
    pub(super) fn spawn_timer_service(self: &Arc<Self>) {
        let Some(timer) = self.timer.clone() else { return };
        let me = Arc::downgrade(self);
        let tick = MAX_TICK.min(Duration::from_millis(timer.config().precision_ms as u64 / 2));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(b) = me.upgrade() else { return };
                let t = timer.clone();
                let _ = tokio::task::spawn_blocking(move || deliver_due(&b, &t)).await;
            }
        });
    }
}

#[cfg(test)]
mod tests;

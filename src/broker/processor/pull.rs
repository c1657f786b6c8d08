//! PULL_MESSAGE with long polling (`PullMessageProcessor`): a pull that finds
//! nothing is held until its queue grows or its suspend time passes.

use std::time::Duration;

use crate::broker::error::{BrokerError, BrokerResult, FAQ_SUFFIX};
use crate::broker::filter::MessageFilter;
use crate::broker::pull_hold::HeldPull;
use crate::broker::subscription_group_manager::SubscriptionGroupConfig;
use crate::broker::Broker;
use crate::protocol::header::{pull_sys_flag, CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader};
use crate::protocol::heartbeat::SubscriptionData;
use crate::protocol::perm;
use crate::remoting::codes::response;
use crate::remoting::connection::{BackgroundGuard, Reply};
use crate::remoting::{ConnectionHandle, RemotingCommand};
use crate::store::GetStatus;

/// PULL_MESSAGE: answered now, or held (`Reply::Now(None)`) and answered by
/// the held pull's task.
pub fn pull_message(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let h = PullMessageRequestHeader::decode(req)?;
    process_pull(b, conn, req, &h, true).map(Reply::Now)
}

fn process_pull(
    b: &Broker,
    conn: &ConnectionHandle,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
    allow_suspend: bool,
) -> BrokerResult<Option<RemotingCommand>> {
    let cfg = b.cfg();
    if !perm::readable(cfg.broker_permission) {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("the broker[{}] pulling message is forbidden", cfg.broker_ip),
        ));
    }
    let group = b.subscription_groups.find(&h.consumer_group).ok_or_else(|| {
        BrokerError::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist, {FAQ_SUFFIX}", h.consumer_group),
        )
    })?;
    if !group.consume_enable {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        ));
    }
    if !group.consume_broadcast_enable
        && b.consumers.with_group(&h.consumer_group, |g| g.message_model == "BROADCASTING") == Some(true)
    {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("the consumer group[{}] can not consume by broadcast way", h.consumer_group),
        ));
    }
    let tc = b.topics.get(&h.topic).ok_or_else(|| {
        tracing::warn!(topic = %h.topic, consumer = %conn.remote_addr(), "pull: topic not exist");
        BrokerError::new(response::TOPIC_NOT_EXIST, format!("topic[{}] not exist, apply first please! {FAQ_SUFFIX}", h.topic))
    })?;
    if !perm::readable(tc.perm) {
        return Err(BrokerError::new(
            response::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= tc.read_queue_nums {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id,
                h.topic,
                tc.read_queue_nums,
                conn.remote_addr()
            ),
        ));
    }
    let filter = pull_filter(b, cfg.enable_property_filter, h)?;
    let got = b.store.get_message(&h.topic, h.queue_id, h.queue_offset, h.max_msg_nums, &filter);
    let code = match got.status {
        GetStatus::Found => response::SUCCESS,
        GetStatus::NoMatchedMessage => response::PULL_RETRY_IMMEDIATELY,
        GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue => {
            if h.queue_offset != 0 {
                tracing::info!(topic = %h.topic, queue = h.queue_id, offset = h.queue_offset, "pull offset moved: queue is empty");
                response::PULL_OFFSET_MOVED
            } else {
                response::PULL_NOT_FOUND
            }
        }
        GetStatus::OffsetFoundNull | GetStatus::OffsetOverflowOne => response::PULL_NOT_FOUND,
        GetStatus::OffsetOverflowBadly | GetStatus::OffsetTooSmall => {
            tracing::info!(
                topic = %h.topic, queue = h.queue_id, offset = h.queue_offset,
                min = got.min_offset, max = got.max_offset, "pull offset moved"
            );
            response::PULL_OFFSET_MOVED
        }
    };

    let slave = b.is_slave();
    // As Java's slave (offsetCheckInSlave off): a moved offset is not
    // corrected there; the client retries, and commits only on the master.
    let code = if slave && code == response::PULL_OFFSET_MOVED { response::PULL_RETRY_IMMEDIATELY } else { code };
    b.stats.on_get(&h.topic, &h.consumer_group, got.message_count() as u64, got.total_bytes as u64);
    if allow_suspend && h.has(pull_sys_flag::COMMIT_OFFSET) && !slave {
        b.offsets.commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }

    if code == response::PULL_NOT_FOUND && allow_suspend && h.has(pull_sys_flag::SUSPEND) {
        let wait = if cfg.long_polling {
            // Java clients ask for 15-30 s; a peer must not park a pull for ever.
            Duration::from_millis((h.suspend_timeout_millis.max(0) as u64).min(cfg.max_pull_suspend_ms))
        } else {
            Duration::from_millis(cfg.short_polling_ms)
        };
        let held = b.pull_hold.try_hold(cfg.max_held_pulls);
        let background = conn.try_begin_background(cfg.max_held_pulls_per_connection);
        let (Some(held), Some(background)) = (held, background) else {
            // The client backs off on SYSTEM_BUSY and pulls again later.
            tracing::warn!(peer = %conn.remote_addr(), held = b.pull_hold.held(), "pull not held: too many held pulls");
            return Err(BrokerError::new(
                response::SYSTEM_BUSY,
                "broker busy: too many held pulls (maxHeldPullRequests / maxHeldPullRequestsPerConnection)",
            ));
        };
        hold_pull(b, conn.clone(), req.clone(), h.clone(), wait, (held, background));
        return Ok(None);
    }

    let answer = PullMessageResponseHeader {
        suggest_which_broker_id: suggest_which_broker_id(cfg.slave_read_enable, got.suggest_pulling_from_slave, &group),
        next_begin_offset: got.next_begin_offset,
        min_offset: got.min_offset,
        max_offset: got.max_offset,
    };
    let mut resp = answer.encode(RemotingCommand::response_to(req, code, Some(got.status.name().to_string())));
    if code == response::SUCCESS {
        resp = resp.with_body_parts(got.body_parts());
    }
    Ok(Some(resp))
}

/// Where the client should pull next (Java's `PullMessageProcessor`):
/// always the master (0) unless `slaveReadEnable`; then the group's
/// `whichBrokerWhenConsumeSlowly` for a pull far behind, else its `brokerId`.
fn suggest_which_broker_id(slave_read_enable: bool, far_behind: bool, group: &SubscriptionGroupConfig) -> i64 {
    match (slave_read_enable, far_behind) {
        (false, _) => 0,
        (true, true) => group.which_broker_when_consume_slowly,
        (true, false) => group.broker_id,
    }
}

/// The filter a pull reads with, from the subscription it carries or the
/// one its group registered by heartbeat.
fn pull_filter(b: &Broker, enable_property_filter: bool, h: &PullMessageRequestHeader) -> BrokerResult<MessageFilter> {
    let from_request = h.has(pull_sys_flag::SUBSCRIPTION);
    let sub = if from_request {
        let expr = h.subscription.as_deref().unwrap_or("*");
        let mut sub = SubscriptionData::build(&h.topic, expr, h.sub_version);
        if let Some(t) = h.expression_type.as_deref().filter(|t| !t.is_empty() && *t != "TAG") {
            sub.expression_type = t.to_string();
            sub.sub_string = expr.to_string();
            sub.tags_set.clear();
            sub.code_set.clear();
        }
        sub
    } else {
        registered_subscription(b, h)?
    };
    if !sub.is_tag_type() && !enable_property_filter {
        return Err(BrokerError::new(
            response::SYSTEM_ERROR,
            format!("The broker does not support consumer to filter message by {}", sub.expression_type),
        ));
    }
    MessageFilter::new(sub).map_err(|e| {
        tracing::warn!(group = %h.consumer_group, "parse the consumer's subscription failed: {e}");
        if from_request {
            BrokerError::new(response::SUBSCRIPTION_PARSE_FAILED, "parse the consumer's subscription failed")
        } else {
            BrokerError::new(
                response::FILTER_DATA_NOT_EXIST,
                "The broker's consumer filter data is not exist!Your expression may be wrong!",
            )
        }
    })
}

fn registered_subscription(b: &Broker, h: &PullMessageRequestHeader) -> BrokerResult<SubscriptionData> {
    match b.consumers.subscription(&h.consumer_group, &h.topic) {
        None => Err(BrokerError::new(
            response::SUBSCRIPTION_NOT_EXIST,
            format!("the consumer's group info not exist{FAQ_SUFFIX}"),
        )),
        Some(None) => Err(BrokerError::new(
            response::SUBSCRIPTION_NOT_EXIST,
            format!("the consumer's subscription not exist{FAQ_SUFFIX}"),
        )),
        Some(Some(sub)) if sub.sub_version < h.sub_version => {
            Err(BrokerError::new(response::SUBSCRIPTION_NOT_LATEST, "the consumer's subscription not latest"))
        }
        Some(Some(sub)) => Ok(sub),
    }
}

/// Holds a pull that found nothing until its queue grows past the
/// requested offset or `wait` passes, then answers it.
fn hold_pull(
    b: &Broker,
    conn: ConnectionHandle,
    req: RemotingCommand,
    h: PullMessageRequestHeader,
    wait: Duration,
    guards: (HeldPull, BackgroundGuard),
) {
    let broker = b.arc();
    let mut rx = b.pull_hold.subscribe(&h.topic, h.queue_id);
    tokio::spawn(async move {
        let _guards = guards;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if broker.store.max_offset_in_queue(&h.topic, h.queue_id) > h.queue_offset || conn.is_closed() {
                break;
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { break },
                _ = tokio::time::sleep_until(deadline) => break,
                // A closed connection ends its held pulls at once.
                _ = conn.closed() => return,
            }
        }
        if conn.is_closed() {
            return;
        }
        // The held request's deferred answer: its error, if any, becomes a
        // response as the processor turns any handler error into one.
        let resp = match process_pull(&broker, &conn, &req, &h, false) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => e.into_response(&req, &broker.cfg()),
        };
        conn.send(resp);
    });
}

#[cfg(test)]
mod suggest_tests {
    use super::*;

    #[test]
    fn suggest_which_broker_id_as_java() {
        let mut g = SubscriptionGroupConfig::new("G");
        g.broker_id = 3;
        assert_eq!(g.which_broker_when_consume_slowly, 1);
        assert_eq!(suggest_which_broker_id(false, true, &g), 0, "slaveReadEnable off: always the master");
        assert_eq!(suggest_which_broker_id(true, true, &g), 1, "far behind: whichBrokerWhenConsumeSlowly");
        assert_eq!(suggest_which_broker_id(true, false, &g), 3, "else the group's brokerId");
    }
}

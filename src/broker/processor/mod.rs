//! Every request the broker answers: one handler function per request code,
//! grouped by family, and the one table that maps a code to its handler.
//!
//! Adding a request code means one line in [`route`] and one function in a
//! family file. Unknown codes get no route; `Broker`'s `RequestProcessor`
//! impl answers them (and turns every handler error into a response).

pub mod acl_admin;
pub mod config_admin;
pub mod consumer;
pub mod group_admin;
pub mod offset;
pub mod pull;
pub mod query;
pub mod retry;
pub mod send;
pub mod stats;
pub mod store_admin;
pub mod topic_admin;
pub mod transaction;

#[cfg(test)]
mod tests;

use serde_json::{json, Value};

use super::error::BrokerResult;
use super::Broker;
use crate::remoting::codes::{request as rc, response};
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// A request handler. It runs in the connection's request order; a
/// `Reply::Later` part runs beside the connection's next requests.
pub type Handler = fn(&Broker, &ConnectionHandle, &RemotingCommand) -> BrokerResult<Reply>;

/// Applied to every response a request gets, success or error, now or later.
pub type Finish = fn(&Broker, RemotingCommand) -> RemotingCommand;

/// What the broker does with one request code.
#[derive(Clone, Copy)]
pub struct Route {
    pub handle: Handler,
    pub finish: Option<Finish>,
}

impl Route {
    const fn plain(handle: Handler) -> Self {
        Route { handle, finish: None }
    }

    const fn finished(handle: Handler, finish: Finish) -> Self {
        Route { handle, finish: Some(finish) }
    }
}

/// The dispatch table: `None` for a code the broker does not serve.
pub fn route(code: i32) -> Option<Route> {
    use Route as R;
    Some(match code {
        rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 => R::finished(send::send_message, send::with_send_ext),
        rc::SEND_BATCH_MESSAGE => R::finished(send::send_batch_message, send::with_send_ext),
        rc::PULL_MESSAGE => R::plain(pull::pull_message),
        rc::HEART_BEAT => R::plain(consumer::heart_beat),
        rc::UNREGISTER_CLIENT => R::plain(consumer::unregister_client),
        rc::GET_CONSUMER_LIST_BY_GROUP => R::plain(consumer::get_consumer_list_by_group),
        rc::CHECK_CLIENT_CONFIG => R::plain(consumer::check_client_config),
        rc::LOCK_BATCH_MQ => R::plain(consumer::lock_batch_mq),
        rc::UNLOCK_BATCH_MQ => R::plain(consumer::unlock_batch_mq),
        rc::QUERY_CONSUMER_OFFSET => R::plain(offset::query_consumer_offset),
        rc::UPDATE_CONSUMER_OFFSET => R::plain(offset::update_consumer_offset),
        rc::GET_MAX_OFFSET => R::plain(offset::get_max_offset),
        rc::GET_MIN_OFFSET => R::plain(offset::get_min_offset),
        rc::SEARCH_OFFSET_BY_TIMESTAMP => R::plain(offset::search_offset_by_timestamp),
        rc::GET_EARLIEST_MSG_STORETIME => R::plain(offset::get_earliest_msg_storetime),
        rc::CONSUMER_SEND_MSG_BACK => R::plain(retry::consumer_send_msg_back),
        rc::END_TRANSACTION => R::plain(transaction::end_transaction),
        rc::UPDATE_AND_CREATE_TOPIC => R::plain(topic_admin::update_and_create_topic),
        rc::DELETE_TOPIC_IN_BROKER => R::plain(topic_admin::delete_topic_in_broker),
        rc::GET_ALL_TOPIC_CONFIG => R::plain(topic_admin::get_all_topic_config),
        rc::GET_SYSTEM_TOPIC_LIST_FROM_BROKER => R::plain(topic_admin::get_system_topic_list),
        rc::GET_TOPIC_STATS_INFO => R::plain(topic_admin::get_topic_stats_info),
        rc::QUERY_TOPIC_CONSUME_BY_WHO => R::plain(topic_admin::query_topic_consume_by_who),
        rc::QUERY_CONSUME_TIME_SPAN => R::plain(topic_admin::query_consume_time_span),
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => R::plain(group_admin::update_and_create_subscription_group),
        rc::DELETE_SUBSCRIPTIONGROUP => R::plain(group_admin::delete_subscription_group),
        rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => R::plain(group_admin::get_all_subscription_group),
        rc::CLONE_GROUP_OFFSET => R::plain(group_admin::clone_group_offset),
        rc::INVOKE_BROKER_TO_RESET_OFFSET => R::plain(group_admin::invoke_broker_to_reset_offset),
        rc::GET_CONSUME_STATS => R::plain(group_admin::get_consume_stats),
        rc::GET_CONSUMER_CONNECTION_LIST => R::plain(group_admin::get_consumer_connection_list),
        rc::GET_PRODUCER_CONNECTION_LIST => R::plain(group_admin::get_producer_connection_list),
        rc::GET_ALL_CONSUMER_OFFSET => R::plain(group_admin::get_all_consumer_offset),
        rc::GET_ALL_DELAY_OFFSET => R::plain(group_admin::get_all_delay_offset),
        rc::GET_BROKER_CONSUME_STATS => R::plain(group_admin::get_broker_consume_stats),
        rc::GET_ALL_PRODUCER_INFO => R::plain(group_admin::get_all_producer_info),
        rc::INVOKE_BROKER_TO_GET_CONSUMER_STATUS => R::plain(group_admin::get_consumer_status),
        rc::GET_CONSUMER_RUNNING_INFO | rc::CONSUME_MESSAGE_DIRECTLY => R::plain(group_admin::call_consumer),
        rc::GET_BROKER_CONFIG => R::plain(config_admin::get_broker_config),
        rc::UPDATE_BROKER_CONFIG => R::plain(config_admin::update_broker_config),
        rc::GET_BROKER_RUNTIME_INFO => R::plain(stats::get_broker_runtime_info),
        rc::VIEW_BROKER_STATS_DATA => R::plain(stats::view_broker_stats_data),
        rc::QUERY_MESSAGE => R::plain(query::query_message),
        rc::QUERY_CONSUME_QUEUE => R::plain(store_admin::query_consume_queue),
        rc::CLEAN_EXPIRED_CONSUMEQUEUE => R::plain(store_admin::clean_expired_consume_queue),
        rc::DELETE_EXPIRED_COMMITLOG => R::plain(store_admin::delete_expired_commit_log),
        rc::CLEAN_UNUSED_TOPIC => R::plain(store_admin::clean_unused_topic),
        rc::VIEW_MESSAGE_BY_ID => R::plain(query::view_message_by_id),
        rc::UPDATE_AND_CREATE_ACL_CONFIG => R::plain(acl_admin::update_and_create_acl_config),
        rc::DELETE_ACL_CONFIG => R::plain(acl_admin::delete_acl_config),
        rc::GET_BROKER_CLUSTER_ACL_INFO => R::plain(acl_admin::get_broker_cluster_acl_info),
        rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG => R::plain(acl_admin::update_global_white_addrs_config),
        rc::GET_BROKER_CLUSTER_ACL_CONFIG => R::plain(acl_admin::get_broker_cluster_acl_config),
        _ => return None,
    })
}

/// A bare SUCCESS answer to `req`.
pub(crate) fn ok(req: &RemotingCommand) -> BrokerResult<Reply> {
    Ok(success(req).into())
}

pub(crate) fn success(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS, None)
}

/// `TopicValidator.validateTopic`.
pub fn validate_topic(topic: &str) -> BrokerResult<()> {
    Ok(crate::protocol::names::check_topic(topic)?)
}

/// A queue of this broker picked at random (retry and DLQ sends, and sends
/// that leave the queue to the broker).
pub(crate) fn random_queue(write_queue_nums: i32) -> i32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    // xorshift: spreads queue choice without a dependency on a RNG crate.
    let mut x = SEED.load(Ordering::Relaxed) ^ (crate::store::now_ms() as u64);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    SEED.store(x, Ordering::Relaxed);
    (x % write_queue_nums.max(1) as u64) as i32
}

/// A `MessageQueue` of this broker as admin bodies key their tables.
pub(crate) fn mq_json(broker_name: &str, topic: &str, queue_id: i32) -> Value {
    json!({"brokerName": broker_name, "queueId": queue_id, "topic": topic})
}

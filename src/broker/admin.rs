//! Offset and time look-ups clients make through `MQAdminImpl`, and topic
//! listings (`AdminBrokerProcessor`).

use super::error::{BrokerError, BrokerResult};
use super::Broker;
use crate::protocol::body::TopicConfigSerializeWrapper;
use crate::protocol::fastjson;
use crate::protocol::header::Ext;
use crate::protocol::topic::TopicConfig;

/// "Total : 252.0 GiB, Free : 80.1 GiB." as `MixAll.humanReadableByteCount` writes it.
fn disk_capacity(path: &std::path::Path) -> String {
    let Some((total, free)) = crate::store::os::disk_space(path) else { return String::new() };
    format!("Total : {}, Free : {}.", human_bytes(total), human_bytes(free))
}

fn human_bytes(b: u64) -> String {
    if b < 1024 {
        return format!("{b} B");
    }
    let exp = ((b as f64).ln() / 1024f64.ln()) as i32;
    let unit = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"][(exp - 1) as usize];
    format!("{:.1} {unit}", b as f64 / 1024f64.powi(exp))
}
use crate::remoting::codes::response;
use crate::remoting::RemotingCommand;

impl Broker {
    pub(super) fn get_max_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let offset = self.store.max_offset_in_queue(e.topic("topic")?, e.i32("queueId")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset))
    }

    pub(super) fn get_min_offset(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let offset = self.store.min_offset_in_queue(e.topic("topic")?, e.i32("queueId")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset))
    }

    pub(super) fn search_offset_by_timestamp(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let offset = self.store.offset_in_queue_by_time(e.topic("topic")?, e.i32("queueId")?, e.i64("timestamp")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("offset", offset))
    }

    pub(super) fn get_earliest_msg_storetime(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let ts = self.store.earliest_message_time(e.topic("topic")?, e.i32("queueId")?);
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_ext("timestamp", ts))
    }

    /// UPDATE_AND_CREATE_TOPIC (`AdminBrokerProcessor.updateAndCreateTopic`).
    pub(super) fn update_and_create_topic(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let topic = e.topic("topic")?;
        super::send::validate_topic(topic)?;
        if self.topics.is_system_topic(topic) {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("The topic[{topic}] is conflict with system topic."),
            ));
        }
        let (read, write) = (e.i32("readQueueNums")?, e.i32("writeQueueNums")?);
        let max = self.cfg().max_queue_nums_per_topic;
        if !(1..=max).contains(&read) || !(1..=max).contains(&write) {
            // Every queue costs files and a slot in every route: zero would
            // swallow sends, and huge counts were a way to fill the disk.
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("readQueueNums[{read}] and writeQueueNums[{write}] must be between 1 and {max} (maxQueueNumsPerTopic)"),
            ));
        }
        let mut tc = TopicConfig::new(topic, read, write, e.i32("perm")?);
        tc.topic_filter_type = e.opt_str("topicFilterType").unwrap_or("SINGLE_TAG").to_string();
        tc.topic_sys_flag = e.opt_i32("topicSysFlag")?.unwrap_or(0);
        tc.order = e.bool_or("order", false);
        tracing::info!(topic, read = tc.read_queue_nums, write = tc.write_queue_nums, perm = tc.perm, "topic created or updated");
        self.topics.update(tc)?;
        self.trigger_register();
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }

    /// GET_BROKER_RUNTIME_INFO: the KV table clusterList and brokerStatus print.
    pub(super) fn get_broker_runtime_info(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let mut table: std::collections::BTreeMap<String, String> = self.stats.runtime_info().into_iter().collect();
        let cfg = self.cfg();
        let usage = |p: &std::path::Path| crate::store::os::disk_usage(p).unwrap_or(0.0);
        let kv = [
            ("brokerVersionDesc", "V4_9_7".to_string()),
            ("brokerVersion", crate::remoting::command::SERVER_VERSION.to_string()),
            ("sendThreadPoolQueueSize", "0".into()),
            ("sendThreadPoolQueueCapacity", "10000".into()),
            ("pullThreadPoolQueueSize", "0".into()),
            ("pullThreadPoolQueueCapacity", "100000".into()),
            ("queryThreadPoolQueueSize", "0".into()),
            ("queryThreadPoolQueueCapacity", "20000".into()),
            ("EndTransactionQueueSize", "0".into()),
            ("EndTransactionThreadPoolQueueCapacity", "100000".into()),
            ("dispatchBehindBytes", "0".into()),
            ("pageCacheLockTimeMills", "0".into()),
            ("sendThreadPoolQueueHeadWaitTimeMills", "0".into()),
            ("pullThreadPoolQueueHeadWaitTimeMills", "0".into()),
            ("queryThreadPoolQueueHeadWaitTimeMills", "0".into()),
            ("earliestMessageTimeStamp", self.store.earliest_store_time().to_string()),
            ("startAcceptSendRequestTimeStamp", "0".into()),
            // The Java store's answer when the transient store pool is off.
            ("remainTransientStoreBufferNumbs", i32::MAX.to_string()),
            ("remainHowManyDataToFlush", "0 B".into()),
            ("commitLogDiskRatio", usage(&cfg.commit_log_dir).to_string()),
            ("consumeQueueDiskRatio", usage(&cfg.store_root).to_string()),
            ("commitLogMinOffset", self.store.commit_log_min_offset().to_string()),
            ("commitLogMaxOffset", self.store.commit_log_max_offset().to_string()),
            ("commitLogDirCapacity", disk_capacity(&cfg.store_root)),
        ];
        for (k, v) in kv {
            table.insert(k.to_string(), v);
        }
        // Per commit log path, as the Java store lists each of its paths.
        table.insert(
            format!("commitLogDiskRatio_{}", cfg.commit_log_dir.display()),
            usage(&cfg.commit_log_dir).to_string(),
        );
        let body = serde_json::to_vec(&serde_json::json!({ "table": table })).unwrap();
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(body))
    }

    pub(super) fn view_broker_stats_data(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let e = Ext::of(req);
        let (name, key) = (e.str("statsName")?, e.str("statsKey")?);
        match self.stats.stats_data(name, key) {
            Some(d) => Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(serde_json::to_vec(&d).unwrap())),
            None => Err(BrokerError::new(response::SYSTEM_ERROR, format!("The stats <{name}> <{key}> not exist"))),
        }
    }

    pub(super) fn get_all_topic_config(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let snapshot: TopicConfigSerializeWrapper = self.topics.snapshot();
        let body = fastjson::to_vec(&serde_json::to_value(&snapshot).unwrap());
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(body))
    }
}

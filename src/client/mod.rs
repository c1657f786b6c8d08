//! A small RocketMQ client speaking the remoting protocol directly: enough
//! for the crash-loop tests and the load generator (not a full client).

use std::time::Duration;

use bytes::Bytes;

use crate::protocol::header::pull_sys_flag;
use crate::protocol::header::{
    CommandHeader, CreateTopicRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SendMessageRequestHeader, SendMessageResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use crate::protocol::message::{MessageExt, Properties};
use crate::protocol::{perm, ProtocolError};
use crate::remoting::client::RemotingClient;
use crate::remoting::codes::{request, response};
use crate::remoting::{ConnectionHandle, RemotingCommand, RemotingError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("broker answered code {0}: {1}")]
    Broker(i32, String),
}

#[derive(Debug, Clone)]
pub struct SendResult {
    pub code: i32,
    pub msg_id: String,
    pub queue_id: i32,
    pub queue_offset: i64,
}

#[derive(Debug)]
pub struct PullResult {
    pub code: i32,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub messages: Vec<MessageExt>,
}

/// One connection to one broker.
#[derive(Clone)]
pub struct BrokerClient {
    conn: ConnectionHandle,
    timeout: Duration,
}

impl BrokerClient {
    pub async fn connect(addr: &str) -> Result<Self, ClientError> {
        let timeout = Duration::from_secs(5);
        Ok(BrokerClient { conn: RemotingClient::connect(addr, timeout).await?, timeout })
    }

    /// SEND_MESSAGE_V2, sync; a topic unknown to the broker is created from TBW102.
    pub async fn send(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        tags: &str,
        body: Bytes,
    ) -> Result<SendResult, ClientError> {
        let mut props = Properties::default();
        if !tags.is_empty() {
            props.put("TAGS", tags);
        }
        self.send_with(group, topic, queue_id, props, body).await
    }

    /// As `send`, with the message's properties (`WAIT=true` is added).
    pub async fn send_with(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        mut props: Properties,
        body: Bytes,
    ) -> Result<SendResult, ClientError> {
        props.put("WAIT", "true");
        let header = SendMessageRequestHeader {
            producer_group: group.to_string(),
            topic: topic.to_string(),
            default_topic: "TBW102".to_string(),
            default_topic_queue_nums: 4,
            queue_id,
            born_timestamp: crate::store::now_ms(),
            properties: props.to_wire(),
            ..Default::default()
        };
        let req = header.encode(RemotingCommand::request(request::SEND_MESSAGE_V2, 0)).with_body(body);
        let r = self.conn.request(req, self.timeout).await?;
        if r.code != response::SUCCESS && r.code != response::FLUSH_DISK_TIMEOUT {
            return Err(ClientError::Broker(r.code, r.remark.unwrap_or_default()));
        }
        let h = SendMessageResponseHeader::decode(&r)?;
        Ok(SendResult { code: r.code, msg_id: h.msg_id, queue_id: h.queue_id, queue_offset: h.queue_offset })
    }

    /// GET_BROKER_RUNTIME_INFO: the table `brokerStatus` prints.
    pub async fn runtime_info(&self) -> Result<std::collections::HashMap<String, String>, ClientError> {
        let r = self.conn.request(RemotingCommand::request(request::GET_BROKER_RUNTIME_INFO, 0), self.timeout).await?;
        if r.code != response::SUCCESS {
            return Err(ClientError::Broker(r.code, r.remark.unwrap_or_default()));
        }
        #[derive(serde::Deserialize)]
        struct Table {
            table: std::collections::HashMap<String, String>,
        }
        let t: Table = serde_json::from_slice(r.body.as_deref().unwrap_or_default())
            .map_err(|e| ClientError::Broker(response::SYSTEM_ERROR, format!("runtime info: {e}")))?;
        Ok(t.table)
    }

    /// PULL_MESSAGE filtering nothing; held by the broker up to `suspend_ms`
    /// when nothing is there yet (0: answer at once).
    pub async fn pull(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max: i32,
        suspend_ms: i64,
    ) -> Result<PullResult, ClientError> {
        let header = PullMessageRequestHeader {
            consumer_group: group.to_string(),
            topic: topic.to_string(),
            queue_id,
            queue_offset: offset,
            max_msg_nums: max,
            sys_flag: if suspend_ms > 0 {
                pull_sys_flag::SUBSCRIPTION | pull_sys_flag::SUSPEND
            } else {
                pull_sys_flag::SUBSCRIPTION
            },
            commit_offset: 0,
            suspend_timeout_millis: suspend_ms,
            subscription: Some("*".to_string()),
            sub_version: 0,
            expression_type: Some("TAG".to_string()),
            bname: None,
        };
        let req = header.encode(RemotingCommand::request(request::PULL_MESSAGE, 0));
        let r = self.conn.request(req, self.timeout + Duration::from_millis(suspend_ms as u64)).await?;
        let h = match r.code {
            response::SUCCESS
            | response::PULL_NOT_FOUND
            | response::PULL_RETRY_IMMEDIATELY
            | response::PULL_OFFSET_MOVED => PullMessageResponseHeader::decode(&r)?,
            // Other answers (busy, no subscription, ...) carry no pull header.
            _ => PullMessageResponseHeader {
                suggest_which_broker_id: -1,
                next_begin_offset: -1,
                min_offset: -1,
                max_offset: -1,
            },
        };
        let messages = match (&r.body, r.code) {
            (Some(b), response::SUCCESS) => MessageExt::decode_all(b)?,
            _ => Vec::new(),
        };
        Ok(PullResult {
            code: r.code,
            next_begin_offset: h.next_begin_offset,
            min_offset: h.min_offset,
            max_offset: h.max_offset,
            messages,
        })
    }

    /// Sends `header` as a request of `code`; anything but SUCCESS is an error.
    async fn call(&self, code: i32, header: &impl CommandHeader) -> Result<RemotingCommand, ClientError> {
        let req = header.encode(RemotingCommand::request(code, 0));
        let r = self.conn.request(req, self.timeout).await?;
        if r.code != response::SUCCESS {
            return Err(ClientError::Broker(r.code, r.remark.unwrap_or_default()));
        }
        Ok(r)
    }

    /// UPDATE_AND_CREATE_TOPIC with `queues` read and write queues.
    pub async fn create_topic(&self, topic: &str, queues: i32) -> Result<(), ClientError> {
        let header = CreateTopicRequestHeader {
            topic: topic.to_string(),
            default_topic: Some("TBW102".to_string()),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: perm::READ | perm::WRITE,
            topic_filter_type: "SINGLE_TAG".to_string(),
            topic_sys_flag: 0,
            order: false,
        };
        self.call(request::UPDATE_AND_CREATE_TOPIC, &header).await.map(|_| ())
    }

    pub async fn max_offset(&self, topic: &str, queue_id: i32) -> Result<i64, ClientError> {
        let header = GetMaxOffsetRequestHeader { topic: topic.to_string(), queue_id, bname: None };
        let r = self.call(request::GET_MAX_OFFSET, &header).await?;
        Ok(GetMaxOffsetResponseHeader::decode(&r)?.offset)
    }

    pub async fn query_consumer_offset(&self, group: &str, topic: &str, queue_id: i32) -> Result<i64, ClientError> {
        let header = QueryConsumerOffsetRequestHeader {
            consumer_group: group.to_string(),
            topic: topic.to_string(),
            queue_id,
            bname: None,
        };
        let r = self.call(request::QUERY_CONSUMER_OFFSET, &header).await?;
        Ok(QueryConsumerOffsetResponseHeader::decode(&r)?.offset)
    }

    pub async fn update_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<(), ClientError> {
        let header = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.to_string(),
            topic: topic.to_string(),
            queue_id,
            commit_offset: offset,
            bname: None,
        };
        self.call(request::UPDATE_CONSUMER_OFFSET, &header).await.map(|_| ())
    }
}

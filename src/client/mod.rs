//! A small RocketMQ client speaking the remoting protocol directly: enough
//! for the crash-loop tests and the load generator (not a full client).

use std::time::Duration;

use bytes::Bytes;

use crate::protocol::message::{MessageExt, Properties};
use crate::protocol::ProtocolError;
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

fn ext_i64(r: &RemotingCommand, k: &str) -> i64 {
    r.ext(k).and_then(|v| v.parse().ok()).unwrap_or(-1)
}

impl BrokerClient {
    pub async fn connect(addr: &str) -> Result<Self, ClientError> {
        let timeout = Duration::from_secs(5);
        Ok(BrokerClient { conn: RemotingClient::connect(addr, timeout).await?, timeout })
    }

    /// SEND_MESSAGE_V2, sync; a topic unknown to the broker is created from TBW102.
    pub async fn send(&self, group: &str, topic: &str, queue_id: i32, tags: &str, body: Bytes) -> Result<SendResult, ClientError> {
        let mut props = Properties::default();
        if !tags.is_empty() {
            props.put("TAGS", tags);
        }
        props.put("WAIT", "true");
        let req = RemotingCommand::request(request::SEND_MESSAGE_V2, 0)
            .with_ext("a", group)
            .with_ext("b", topic)
            .with_ext("c", "TBW102")
            .with_ext("d", 4)
            .with_ext("e", queue_id)
            .with_ext("f", 0)
            .with_ext("g", crate::store::now_ms())
            .with_ext("h", 0)
            .with_ext("i", props.to_wire())
            .with_ext("j", 0)
            .with_ext("k", false)
            .with_body(body);
        let r = self.conn.request(req, self.timeout).await?;
        if r.code != response::SUCCESS && r.code != response::FLUSH_DISK_TIMEOUT {
            return Err(ClientError::Broker(r.code, r.remark.unwrap_or_default()));
        }
        Ok(SendResult {
            code: r.code,
            msg_id: r.ext("msgId").unwrap_or("").to_string(),
            queue_id: ext_i64(&r, "queueId") as i32,
            queue_offset: ext_i64(&r, "queueOffset"),
        })
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
        let req = RemotingCommand::request(request::PULL_MESSAGE, 0)
            .with_ext("consumerGroup", group)
            .with_ext("topic", topic)
            .with_ext("queueId", queue_id)
            .with_ext("queueOffset", offset)
            .with_ext("maxMsgNums", max)
            .with_ext("sysFlag", if suspend_ms > 0 { 0x6 } else { 0x4 })
            .with_ext("commitOffset", 0)
            .with_ext("suspendTimeoutMillis", suspend_ms)
            .with_ext("subscription", "*")
            .with_ext("subVersion", 0)
            .with_ext("expressionType", "TAG");
        let r = self.conn.request(req, self.timeout + Duration::from_millis(suspend_ms as u64)).await?;
        let messages = match (&r.body, r.code) {
            (Some(b), response::SUCCESS) => MessageExt::decode_all(b)?,
            _ => Vec::new(),
        };
        Ok(PullResult {
            code: r.code,
            next_begin_offset: ext_i64(&r, "nextBeginOffset"),
            min_offset: ext_i64(&r, "minOffset"),
            max_offset: ext_i64(&r, "maxOffset"),
            messages,
        })
    }

    async fn offset_request(&self, code: i32, fields: &[(&str, String)]) -> Result<i64, ClientError> {
        let mut req = RemotingCommand::request(code, 0);
        for (k, v) in fields {
            req = req.with_ext(k, v);
        }
        let r = self.conn.request(req, self.timeout).await?;
        if r.code != response::SUCCESS {
            return Err(ClientError::Broker(r.code, r.remark.unwrap_or_default()));
        }
        Ok(ext_i64(&r, "offset"))
    }

    /// UPDATE_AND_CREATE_TOPIC with `queues` read and write queues.
    pub async fn create_topic(&self, topic: &str, queues: i32) -> Result<(), ClientError> {
        let req = RemotingCommand::request(request::UPDATE_AND_CREATE_TOPIC, 0)
            .with_ext("topic", topic)
            .with_ext("defaultTopic", "TBW102")
            .with_ext("readQueueNums", queues)
            .with_ext("writeQueueNums", queues)
            .with_ext("perm", 6)
            .with_ext("topicFilterType", "SINGLE_TAG")
            .with_ext("topicSysFlag", 0)
            .with_ext("order", false);
        let r = self.conn.request(req, self.timeout).await?;
        if r.code != response::SUCCESS {
            return Err(ClientError::Broker(r.code, r.remark.unwrap_or_default()));
        }
        Ok(())
    }

    pub async fn max_offset(&self, topic: &str, queue_id: i32) -> Result<i64, ClientError> {
        self.offset_request(request::GET_MAX_OFFSET, &[("topic", topic.into()), ("queueId", queue_id.to_string())]).await
    }

    pub async fn query_consumer_offset(&self, group: &str, topic: &str, queue_id: i32) -> Result<i64, ClientError> {
        let f = [("consumerGroup", group.into()), ("topic", topic.into()), ("queueId", queue_id.to_string())];
        self.offset_request(request::QUERY_CONSUMER_OFFSET, &f).await
    }

    pub async fn update_consumer_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) -> Result<(), ClientError> {
        let f = [
            ("consumerGroup", group.into()),
            ("topic", topic.into()),
            ("queueId", queue_id.to_string()),
            ("commitOffset", offset.to_string()),
        ];
        self.offset_request(request::UPDATE_CONSUMER_OFFSET, &f).await.map(|_| ())
    }
}

//! The broker's one error type. `From<StoreError>` sorts store failures as
//! the Java broker sorts a `PutMessageStatus`; `into_response` is the one
//! place where a failure becomes a wire response.

use crate::config::BrokerConfig;
use crate::protocol::ProtocolError;
use crate::remoting::codes::response;
use crate::remoting::RemotingCommand;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A malformed or missing custom header field, answered as the Java
    /// side answers a `RemotingCommandException`.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The store refused a message that breaks its limits (MESSAGE_ILLEGAL;
    /// the remark names the broker's `maxMessageSize`).
    #[error("message refused: {0}")]
    MessageIllegal(StoreError),
    /// The store refuses writes: disk full or store shut down
    /// (SERVICE_NOT_AVAILABLE; the remark gives the disk utilisation).
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// A refusal with the Java broker's own code and remark.
    #[error("{1}")]
    Response(i32, String),
}

impl From<StoreError> for BrokerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BodyTooLarge(..)
            | StoreError::MessageTooLarge(_)
            | StoreError::Protocol(ProtocolError::PropertiesTooLong(_))
            | StoreError::Protocol(ProtocolError::TopicTooLong(_)) => {
                tracing::warn!("message refused: {e}");
                BrokerError::MessageIllegal(e)
            }
            StoreError::Unavailable(why) => {
                tracing::warn!("message refused: {why}");
                BrokerError::StoreUnavailable(why)
            }
            StoreError::Io(io) => {
                tracing::error!("commit log write failed: {io}");
                BrokerError::new(response::SYSTEM_ERROR, "create mapped file failed, server is busy or broken.")
            }
            other => {
                tracing::error!("put failed: {other}");
                BrokerError::new(response::SYSTEM_ERROR, "UNKNOWN_ERROR")
            }
        }
    }
}

impl BrokerError {
    pub fn new(code: i32, remark: impl Into<String>) -> Self {
        BrokerError::Response(code, remark.into())
    }

    /// The answer to `req`; `cfg` supplies what some remarks quote.
    pub fn into_response(self, req: &RemotingCommand, cfg: &BrokerConfig) -> RemotingCommand {
        let (code, remark) = match self {
            BrokerError::Protocol(e) => (response::SYSTEM_ERROR, e.to_string()),
            BrokerError::MessageIllegal(_) => (
                response::MESSAGE_ILLEGAL,
                format!(
                    "the message is illegal, maybe msg body or properties length not matched. msg body length limit {}B, msg properties length limit 32KB.",
                    cfg.max_message_size
                ),
            ),
            BrokerError::StoreUnavailable(_) => (
                response::SERVICE_NOT_AVAILABLE,
                format!(
                    "service not available now. It may be caused by one of the following reasons: the broker's disk is full [{}], messages are put to the slave, message store has been shut down, etc.",
                    disk_util(cfg)
                ),
            ),
            BrokerError::Response(code, remark) => (code, remark),
        };
        RemotingCommand::response_to(req, code, Some(remark))
    }
}

/// `diskUtil()` as the Java broker words it in its remark.
fn disk_util(cfg: &BrokerConfig) -> String {
    let pct = |p: &std::path::Path| crate::store::os::disk_usage(p).unwrap_or(0.0) * 100.0;
    format!(
        "CL: {:5.2} CQ: {:5.2} INDEX: {:5.2}",
        pct(&cfg.commit_log_dir),
        pct(&cfg.store_root),
        pct(&cfg.store_root)
    )
}

pub type BrokerResult<T> = Result<T, BrokerError>;

pub const FAQ_SUFFIX: &str = "\nSee http://rocketmq.apache.org/docs/faq/ for further details.";

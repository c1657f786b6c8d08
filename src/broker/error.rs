//! The broker's one error type; `into_response` is the one place where a
//! failure becomes a wire response.

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
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A refusal with the Java broker's own code and remark.
    #[error("{1}")]
    Response(i32, String),
}

impl BrokerError {
    pub fn new(code: i32, remark: impl Into<String>) -> Self {
        BrokerError::Response(code, remark.into())
    }

    pub fn into_response(self, req: &RemotingCommand) -> RemotingCommand {
        let (code, remark) = match self {
            BrokerError::Protocol(e) => (response::SYSTEM_ERROR, e.to_string()),
            BrokerError::Store(e) => {
                tracing::error!("store error: {e}");
                (response::SYSTEM_ERROR, e.to_string())
            }
            BrokerError::Response(code, remark) => (code, remark),
        };
        RemotingCommand::response_to(req, code, Some(remark))
    }
}

pub type BrokerResult<T> = Result<T, BrokerError>;

pub const FAQ_SUFFIX: &str = "\nSee http://rocketmq.apache.org/docs/faq/ for further details.";

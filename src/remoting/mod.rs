//! The remoting layer: frames, commands, codes and connections. No business
//! logic lives here; processors above it turn requests into responses.

pub mod client;
pub mod codes;
pub mod command;
pub mod connection;
pub mod frame;
pub mod hook;
pub mod limits;
pub mod server;
pub mod tls;
mod writer;

pub use command::{RemotingCommand, SerializeType};
pub use connection::ConnectionHandle;

/// Default largest frame accepted, as the Java side's `com.rocketmq.remoting.frameMaxLength`.
pub const DEFAULT_FRAME_MAX_LENGTH: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    #[error("frame of {0} bytes exceeds the limit of {1} bytes")]
    FrameTooLarge(usize, usize),
    #[error("garbled header: {0}")]
    BadHeader(String),
    #[error("connection closed")]
    Closed,
    #[error("timed out waiting for response to request code {0}")]
    Timeout(i32),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

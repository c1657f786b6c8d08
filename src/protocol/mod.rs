//! Protocol types above the frame: custom headers, JSON bodies, message
//! encoding and ids.

pub mod body;
pub mod fastjson;
pub mod header;
pub mod heartbeat;
pub mod message;
pub mod names;
pub mod register;
pub mod route;
pub mod topic;

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Worded as the Java side's `RemotingCommandException`.
    #[error("the custom field <{0}> is null")]
    MissingField(&'static str),
    #[error("the custom field <{0}> has a bad value: {1}")]
    BadField(&'static str, String),
    #[error("{0}")]
    BadBody(String),
    #[error("message properties length {0} exceeds 32767")]
    PropertiesTooLong(usize),
    /// A topic or group name the Java side would refuse; the text is its remark.
    #[error("{0}")]
    InvalidName(String),
    #[error("message topic length too long {0}")]
    TopicTooLong(usize),
    #[error(transparent)]
    Json(#[from] fastjson::JsonError),
}

/// `PermName` bits.
pub mod perm {
    pub const PRIORITY: i32 = 0x8;
    pub const READ: i32 = 0x4;
    pub const WRITE: i32 = 0x2;
    pub const INHERIT: i32 = 0x1;

    pub fn readable(p: i32) -> bool {
        p & READ == READ
    }
    pub fn writeable(p: i32) -> bool {
        p & WRITE == WRITE
    }
    pub fn inherited(p: i32) -> bool {
        p & INHERIT == INHERIT
    }

    /// `PermName.perm2String`, as mqadmin prints it.
    pub fn to_string(p: i32) -> String {
        let r = if readable(p) { 'R' } else { '-' };
        let w = if writeable(p) { 'W' } else { '-' };
        let x = if inherited(p) { 'X' } else { '-' };
        format!("{r}{w}{x}")
    }
}

/// Topic names with a meaning of their own (`TopicValidator`, `MixAll`).
pub mod topics {
    pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
    /// 4.3.x producers model new topics on this one (`createTopicKey`).
    pub const AUTO_CREATE_TOPIC_KEY_4_3: &str = "AUTO_CREATE_TOPIC_KEY";
    pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
    pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
    pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
    pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
    pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
    pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
    pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
    /// Where timer messages wait (Java 5's `TimerMessageStore.TIMER_TOPIC`).
    pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
    pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
    pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
    pub use super::names::TOPIC_MAX_LENGTH;

    /// Topics clients may never send to (`TopicValidator.isNotAllowedSendTopic`);
    /// the trace topic is not one of them (trace clients write to it).
    pub fn is_not_allowed_send(topic: &str) -> bool {
        matches!(
            topic,
            SCHEDULE_TOPIC | TRANS_HALF_TOPIC | TRANS_OP_HALF_TOPIC | TRANS_CHECK_MAX_TIME_TOPIC | TIMER_TOPIC
        )
    }

    pub fn retry_topic(group: &str) -> String {
        format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
    }

    pub fn dlq_topic(group: &str) -> String {
        format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
    }
}

//! PULL_MESSAGE.

use super::CommandHeader;
use crate::protocol::ProtocolError;
use crate::remoting::RemotingCommand;

header! {
    /// PULL_MESSAGE (11): `PullMessageRequestHeader`.
    pub struct PullMessageRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub queue_offset: i64 = i64("queueOffset"),
        pub max_msg_nums: i32 = i32("maxMsgNums"),
        pub sys_flag: i32 = i32("sysFlag"),
        pub commit_offset: i64 = i64("commitOffset"),
        pub suspend_timeout_millis: i64 = i64("suspendTimeoutMillis"),
        pub subscription: Option<String> = opt_str("subscription"),
        pub sub_version: i64 = i64("subVersion"),
        pub expression_type: Option<String> = opt_str("expressionType"),
        /// The broker name 4.9.7 clients may add (`RpcRequestHeader.bname`); unused.
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(PullMessageRequestHeader, topic = topic, group = consumer_group);

/// `PullSysFlag` bits of [`PullMessageRequestHeader::sys_flag`].
pub mod pull_sys_flag {
    pub const COMMIT_OFFSET: i32 = 0x1;
    pub const SUSPEND: i32 = 0x2;
    pub const SUBSCRIPTION: i32 = 0x4;
    pub const CLASS_FILTER: i32 = 0x8;
}

impl PullMessageRequestHeader {
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        Self::decode(cmd)
    }

    pub fn has(&self, bit: i32) -> bool {
        self.sys_flag & bit != 0
    }
}

header! {
    /// Response to PULL_MESSAGE: `PullMessageResponseHeader`.
    pub struct PullMessageResponseHeader {
        pub suggest_which_broker_id: i64 = i64("suggestWhichBrokerId"),
        pub next_begin_offset: i64 = i64("nextBeginOffset"),
        pub min_offset: i64 = i64("minOffset"),
        pub max_offset: i64 = i64("maxOffset"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::Resources;
    use crate::remoting::codes::request;

    #[test]
    fn pull_request() {
        let h = PullMessageRequestHeader {
            consumer_group: "CG".into(),
            topic: "%RETRY%CG".into(),
            queue_id: 3,
            queue_offset: 100,
            max_msg_nums: 32,
            sys_flag: pull_sys_flag::SUSPEND | pull_sys_flag::SUBSCRIPTION,
            commit_offset: 99,
            suspend_timeout_millis: 15000,
            subscription: Some("a || b".into()),
            sub_version: 1700000000000,
            expression_type: Some("TAG".into()),
            bname: Some("broker-a".into()),
        };
        check(request::PULL_MESSAGE, &h, PullMessageRequestHeader::FIELDS);
        assert!(h.has(pull_sys_flag::SUSPEND) && !h.has(pull_sys_flag::COMMIT_OFFSET));
        assert_eq!((h.topic(), h.group()), (Some("%RETRY%CG"), Some("CG")));
    }

    #[test]
    fn missing_and_bad_fields_name_the_field() {
        let c = RemotingCommand::request(request::PULL_MESSAGE, 1).with_ext("consumerGroup", "g");
        let err = PullMessageRequestHeader::from_command(&c).unwrap_err();
        assert_eq!(err.to_string(), "the custom field <topic> is null");
        let c = c.with_ext("topic", "T").with_ext("queueId", "one");
        assert!(
            matches!(PullMessageRequestHeader::decode(&c), Err(ProtocolError::BadField("queueId", v)) if v == "one")
        );
    }

    #[test]
    fn pull_response() {
        let h = PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset: 10,
            min_offset: 0,
            max_offset: 12,
        };
        check(request::PULL_MESSAGE, &h, PullMessageResponseHeader::FIELDS);
    }
}

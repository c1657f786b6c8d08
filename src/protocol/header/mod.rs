//! Custom headers: typed views of a command's `extFields`.

use super::ProtocolError;
use crate::remoting::codes::request;
use crate::remoting::command::ExtFields;
use crate::remoting::RemotingCommand;

/// Typed access to `extFields`, with the Java side's error wording.
pub struct Ext<'a>(pub &'a ExtFields);

impl<'a> Ext<'a> {
    pub fn of(cmd: &'a RemotingCommand) -> Self {
        Ext(&cmd.ext_fields)
    }

    pub fn opt_str(&self, k: &'static str) -> Option<&'a str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn str(&self, k: &'static str) -> Result<&'a str, ProtocolError> {
        self.opt_str(k).ok_or(ProtocolError::MissingField(k))
    }

    fn parse<T: std::str::FromStr>(&self, k: &'static str) -> Result<Option<T>, ProtocolError> {
        match self.opt_str(k) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| ProtocolError::BadField(k, v.to_string())),
        }
    }

    pub fn opt_i32(&self, k: &'static str) -> Result<Option<i32>, ProtocolError> {
        self.parse(k)
    }

    pub fn i32(&self, k: &'static str) -> Result<i32, ProtocolError> {
        self.opt_i32(k)?.ok_or(ProtocolError::MissingField(k))
    }

    pub fn opt_i64(&self, k: &'static str) -> Result<Option<i64>, ProtocolError> {
        self.parse(k)
    }

    pub fn i64(&self, k: &'static str) -> Result<i64, ProtocolError> {
        self.opt_i64(k)?.ok_or(ProtocolError::MissingField(k))
    }

    /// A topic name the request refers to, checked by `names::check_derived_topic`.
    pub fn topic(&self, k: &'static str) -> Result<&'a str, ProtocolError> {
        let t = self.str(k)?;
        super::names::check_derived_topic(t)?;
        Ok(t)
    }

    /// A group name, checked by `names::check_group`.
    pub fn group(&self, k: &'static str) -> Result<&'a str, ProtocolError> {
        let g = self.str(k)?;
        super::names::check_group(g)?;
        Ok(g)
    }

    pub fn opt_group(&self, k: &'static str) -> Result<Option<&'a str>, ProtocolError> {
        self.opt_str(k).map(|g| super::names::check_group(g).map(|_| g)).transpose()
    }

    pub fn bool_or(&self, k: &'static str, default: bool) -> bool {
        self.opt_str(k).map_or(default, |v| v.eq_ignore_ascii_case("true"))
    }
}

/// `SendMessageRequestHeader`, read from either the long-named (V1) or the
/// one-letter (V2) form.
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessageRequestHeader {
    pub producer_group: String,
    pub topic: String,
    pub default_topic: String,
    pub default_topic_queue_nums: i32,
    pub queue_id: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub flag: i32,
    pub properties: String,
    pub reconsume_times: i32,
    pub unit_mode: bool,
    pub max_reconsume_times: Option<i32>,
    pub batch: bool,
}

impl SendMessageRequestHeader {
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        let e = Ext::of(cmd);
        let v2 = cmd.code == request::SEND_MESSAGE_V2 || cmd.code == request::SEND_BATCH_MESSAGE;
        // Field names: (V1, V2).
        let n = |long: &'static str, short: &'static str| if v2 { short } else { long };
        Ok(SendMessageRequestHeader {
            producer_group: e.str(n("producerGroup", "a"))?.to_string(),
            topic: e.str(n("topic", "b"))?.to_string(),
            default_topic: e.str(n("defaultTopic", "c"))?.to_string(),
            default_topic_queue_nums: e.i32(n("defaultTopicQueueNums", "d"))?,
            queue_id: e.i32(n("queueId", "e"))?,
            sys_flag: e.i32(n("sysFlag", "f"))?,
            born_timestamp: e.i64(n("bornTimestamp", "g"))?,
            flag: e.i32(n("flag", "h"))?,
            properties: e.opt_str(n("properties", "i")).unwrap_or("").to_string(),
            reconsume_times: e.opt_i32(n("reconsumeTimes", "j"))?.unwrap_or(0),
            unit_mode: e.bool_or(n("unitMode", "k"), false),
            max_reconsume_times: e.opt_i32(n("maxReconsumeTimes", "l"))?,
            batch: e.bool_or(n("batch", "m"), false) || cmd.code == request::SEND_BATCH_MESSAGE,
        })
    }
}

/// `PullMessageRequestHeader`.
#[derive(Debug, Clone, PartialEq)]
pub struct PullMessageRequestHeader {
    pub consumer_group: String,
    pub topic: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub max_msg_nums: i32,
    pub sys_flag: i32,
    pub commit_offset: i64,
    pub suspend_timeout_millis: i64,
    pub subscription: Option<String>,
    pub sub_version: i64,
    pub expression_type: Option<String>,
}

pub mod pull_sys_flag {
    pub const COMMIT_OFFSET: i32 = 0x1;
    pub const SUSPEND: i32 = 0x2;
    pub const SUBSCRIPTION: i32 = 0x4;
    pub const CLASS_FILTER: i32 = 0x8;
}

impl PullMessageRequestHeader {
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        let e = Ext::of(cmd);
        Ok(PullMessageRequestHeader {
            consumer_group: e.group("consumerGroup")?.to_string(),
            topic: e.topic("topic")?.to_string(),
            queue_id: e.i32("queueId")?,
            queue_offset: e.i64("queueOffset")?,
            max_msg_nums: e.i32("maxMsgNums")?,
            sys_flag: e.i32("sysFlag")?,
            commit_offset: e.i64("commitOffset")?,
            suspend_timeout_millis: e.i64("suspendTimeoutMillis")?,
            subscription: e.opt_str("subscription").map(str::to_string),
            sub_version: e.i64("subVersion")?,
            expression_type: e.opt_str("expressionType").map(str::to_string),
        })
    }

    pub fn has(&self, bit: i32) -> bool {
        self.sys_flag & bit != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_header_v1_and_v2_agree() {
        let v2 = RemotingCommand::request(request::SEND_MESSAGE_V2, 1)
            .with_ext("a", "PG")
            .with_ext("b", "T")
            .with_ext("c", "TBW102")
            .with_ext("d", 4)
            .with_ext("e", 1)
            .with_ext("f", 0)
            .with_ext("g", 123)
            .with_ext("h", 0)
            .with_ext("i", "TAGS\u{1}a")
            .with_ext("j", 0)
            .with_ext("k", false);
        let v1 = RemotingCommand::request(request::SEND_MESSAGE, 1)
            .with_ext("producerGroup", "PG")
            .with_ext("topic", "T")
            .with_ext("defaultTopic", "TBW102")
            .with_ext("defaultTopicQueueNums", 4)
            .with_ext("queueId", 1)
            .with_ext("sysFlag", 0)
            .with_ext("bornTimestamp", 123)
            .with_ext("flag", 0)
            .with_ext("properties", "TAGS\u{1}a");
        let a = SendMessageRequestHeader::from_command(&v2).unwrap();
        let b = SendMessageRequestHeader::from_command(&v1).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.queue_id, 1);
    }

    #[test]
    fn missing_and_bad_fields_name_the_field() {
        let c = RemotingCommand::request(request::PULL_MESSAGE, 1).with_ext("consumerGroup", "g");
        let err = PullMessageRequestHeader::from_command(&c).unwrap_err();
        assert_eq!(err.to_string(), "the custom field <topic> is null");
        let c = RemotingCommand::request(request::SEND_MESSAGE_V2, 1)
            .with_ext("a", "PG")
            .with_ext("b", "T")
            .with_ext("c", "TBW102")
            .with_ext("d", "four");
        assert!(matches!(
            SendMessageRequestHeader::from_command(&c),
            Err(ProtocolError::BadField("d", _))
        ));
    }
}

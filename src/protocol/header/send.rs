//! Sending: SEND_MESSAGE (V1 and V2 names), SEND_BATCH_MESSAGE, their
//! response, and CONSUMER_SEND_MSG_BACK.

use super::{CommandHeader, Ext};
use crate::protocol::ProtocolError;
use crate::remoting::codes::request;
use crate::remoting::RemotingCommand;

/// SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320):
/// `SendMessageRequestHeader`, read from either the long-named (V1) or the
/// one-letter (V2, `SendMessageRequestHeaderV2`) form, by request code.
/// Names are not checked here: the send path checks them itself.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// `bname` (V1) / `n` (V2): the broker name 4.9.7 clients add; unused.
    pub bname: Option<String>,
}

/// `(V1, V2)` ext-field keys, in decode order.
const SEND_KEYS: [(&str, &str); 14] = [
    ("producerGroup", "a"),
    ("topic", "b"),
    ("defaultTopic", "c"),
    ("defaultTopicQueueNums", "d"),
    ("queueId", "e"),
    ("sysFlag", "f"),
    ("bornTimestamp", "g"),
    ("flag", "h"),
    ("properties", "i"),
    ("reconsumeTimes", "j"),
    ("unitMode", "k"),
    ("maxReconsumeTimes", "l"),
    ("batch", "m"),
    ("bname", "n"),
];

fn is_v2(code: i32) -> bool {
    code == request::SEND_MESSAGE_V2 || code == request::SEND_BATCH_MESSAGE
}

impl SendMessageRequestHeader {
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        let e = Ext::of(cmd);
        let v2 = is_v2(cmd.code);
        let mut keys = SEND_KEYS.iter().map(|&(long, short)| if v2 { short } else { long });
        let mut n = || keys.next().unwrap();
        Ok(SendMessageRequestHeader {
            producer_group: e.str(n())?.to_string(),
            topic: e.str(n())?.to_string(),
            default_topic: e.str(n())?.to_string(),
            default_topic_queue_nums: e.i32(n())?,
            queue_id: e.i32(n())?,
            sys_flag: e.i32(n())?,
            born_timestamp: e.i64(n())?,
            flag: e.i32(n())?,
            properties: e.opt_str(n()).unwrap_or("").to_string(),
            reconsume_times: e.opt_i32(n())?.unwrap_or(0),
            unit_mode: e.bool_or(n(), false),
            max_reconsume_times: e.opt_i32(n())?,
            batch: e.bool_or(n(), false) || cmd.code == request::SEND_BATCH_MESSAGE,
            bname: e.opt_str(n()).map(str::to_string),
        })
    }
}

impl CommandHeader for SendMessageRequestHeader {
    fn decode(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        Self::from_command(cmd)
    }

    /// Writes the V2 keys when `cmd` is SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE.
    fn encode(&self, cmd: RemotingCommand) -> RemotingCommand {
        let v2 = is_v2(cmd.code);
        let k = |i: usize| if v2 { SEND_KEYS[i].1 } else { SEND_KEYS[i].0 };
        let mut cmd = cmd
            .with_ext(k(0), &self.producer_group)
            .with_ext(k(1), &self.topic)
            .with_ext(k(2), &self.default_topic)
            .with_ext(k(3), self.default_topic_queue_nums)
            .with_ext(k(4), self.queue_id)
            .with_ext(k(5), self.sys_flag)
            .with_ext(k(6), self.born_timestamp)
            .with_ext(k(7), self.flag)
            .with_ext(k(8), &self.properties)
            .with_ext(k(9), self.reconsume_times)
            .with_ext(k(10), self.unit_mode)
            .with_ext(k(12), self.batch);
        if let Some(m) = self.max_reconsume_times {
            cmd = cmd.with_ext(k(11), m);
        }
        if let Some(b) = &self.bname {
            cmd = cmd.with_ext(k(13), b);
        }
        cmd
    }
}
resources!(SendMessageRequestHeader, topic = topic, group = producer_group);

header! {
    /// Response to SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE:
    /// `SendMessageResponseHeader` (`msgId` is comma-joined for a batch).
    pub struct SendMessageResponseHeader {
        pub msg_id: String = str("msgId"),
        pub queue_id: i32 = i32("queueId"),
        pub queue_offset: i64 = i64("queueOffset"),
        pub transaction_id: Option<String> = opt_str("transactionId"),
    }
}

header! {
    /// CONSUMER_SEND_MSG_BACK (36): `ConsumerSendMsgBackRequestHeader`.
    /// `maxReconsumeTimes` counts only from clients of V3_4_9 on (the
    /// handler's rule); it is decoded, and checked, for every client.
    pub struct ConsumerSendMsgBackRequestHeader {
        pub group: String = group("group"),
        pub offset: i64 = i64("offset"),
        pub delay_level: i32 = i32("delayLevel"),
        pub origin_msg_id: Option<String> = opt_str("originMsgId"),
        pub origin_topic: Option<String> = opt_str("originTopic"),
        pub unit_mode: bool = flag("unitMode"),
        pub max_reconsume_times: Option<i32> = opt_i32("maxReconsumeTimes"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(ConsumerSendMsgBackRequestHeader, group = group);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::Resources;

    fn sample() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 1,
            sys_flag: 0,
            born_timestamp: 123,
            flag: 0,
            properties: "TAGS\u{1}a".into(),
            reconsume_times: 0,
            unit_mode: false,
            max_reconsume_times: None,
            batch: false,
            bname: None,
        }
    }

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
        assert_eq!(a, sample());
    }

    #[test]
    fn send_header_round_trips_in_both_forms() {
        let mut h = sample();
        h.max_reconsume_times = Some(16);
        h.bname = Some("broker-a".into());
        h.unit_mode = true;
        for code in [request::SEND_MESSAGE, request::SEND_MESSAGE_V2] {
            let cmd = h.encode(RemotingCommand::request(code, 1));
            assert_eq!(cmd.ext_fields.len(), SEND_KEYS.len());
            assert_eq!(SendMessageRequestHeader::decode(&cmd).unwrap(), h);
        }
        assert_eq!(h.encode(RemotingCommand::request(request::SEND_MESSAGE_V2, 1)).ext("n"), Some("broker-a"));
        // A batch is a batch whatever `m` says.
        let cmd = h.encode(RemotingCommand::request(request::SEND_BATCH_MESSAGE, 1));
        assert!(SendMessageRequestHeader::decode(&cmd).unwrap().batch);
        h.batch = true;
        assert_eq!(SendMessageRequestHeader::decode(&cmd).unwrap(), h);
        assert_eq!((h.topic(), h.group()), (Some("T"), Some("PG")));
    }

    #[test]
    fn send_header_missing_and_bad_fields() {
        let cmd = sample().encode(RemotingCommand::request(request::SEND_MESSAGE_V2, 1));
        for (i, &(_, short)) in SEND_KEYS.iter().enumerate() {
            let mut c = cmd.clone();
            c.ext_fields.remove(short);
            let r = SendMessageRequestHeader::decode(&c);
            if i < 8 {
                assert!(matches!(r, Err(ProtocolError::MissingField(k)) if k == short), "{short}");
            } else {
                assert!(r.is_ok(), "{short}");
            }
        }
        let c = RemotingCommand::request(request::SEND_MESSAGE_V2, 1)
            .with_ext("a", "PG")
            .with_ext("b", "T")
            .with_ext("c", "TBW102")
            .with_ext("d", "four");
        assert!(matches!(SendMessageRequestHeader::decode(&c), Err(ProtocolError::BadField("d", _))));
        let c = sample().encode(RemotingCommand::request(request::SEND_MESSAGE, 1)).with_ext("bornTimestamp", "x");
        assert!(matches!(SendMessageRequestHeader::decode(&c), Err(ProtocolError::BadField("bornTimestamp", _))));
    }

    #[test]
    fn send_response() {
        let h = SendMessageResponseHeader {
            msg_id: "7F00000100002A9F00000000000004D2".into(),
            queue_id: 2,
            queue_offset: 7,
            transaction_id: Some("tx".into()),
        };
        check(request::SEND_MESSAGE_V2, &h, SendMessageResponseHeader::FIELDS);
    }

    #[test]
    fn consumer_send_msg_back() {
        let h = ConsumerSendMsgBackRequestHeader {
            group: "G".into(),
            offset: 1234,
            delay_level: 3,
            origin_msg_id: Some("id".into()),
            origin_topic: Some("T".into()),
            unit_mode: true,
            max_reconsume_times: Some(16),
            bname: Some("broker-a".into()),
        };
        check(request::CONSUMER_SEND_MSG_BACK, &h, ConsumerSendMsgBackRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (None, Some("G")));
    }
}

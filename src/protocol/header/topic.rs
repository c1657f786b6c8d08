//! Topic administration.

header! {
    /// UPDATE_AND_CREATE_TOPIC (17): `CreateTopicRequestHeader`. Java
    /// requires `defaultTopic`, `topicFilterType` and `order`; the handler
    /// ignores the first and defaults the others (and `topicSysFlag`).
    pub struct CreateTopicRequestHeader {
        pub topic: String = topic("topic"),
        pub default_topic: Option<String> = opt_str("defaultTopic"),
        pub read_queue_nums: i32 = i32("readQueueNums"),
        pub write_queue_nums: i32 = i32("writeQueueNums"),
        pub perm: i32 = i32("perm"),
        pub topic_filter_type: String = str_or("topicFilterType", "SINGLE_TAG"),
        pub topic_sys_flag: i32 = i32_or("topicSysFlag", 0),
        pub order: bool = flag("order"),
    }
}
resources!(CreateTopicRequestHeader, topic = topic);

header! {
    /// DELETE_TOPIC_IN_BROKER (215): `DeleteTopicRequestHeader`.
    pub struct DeleteTopicRequestHeader {
        pub topic: String = topic("topic"),
    }
}
resources!(DeleteTopicRequestHeader, topic = topic);

header! {
    /// GET_TOPIC_STATS_INFO (202): `GetTopicStatsInfoRequestHeader`.
    pub struct GetTopicStatsInfoRequestHeader {
        pub topic: String = topic("topic"),
    }
}
resources!(GetTopicStatsInfoRequestHeader, topic = topic);

header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300): `QueryTopicConsumeByWhoRequestHeader`.
    pub struct QueryTopicConsumeByWhoRequestHeader {
        pub topic: String = topic("topic"),
    }
}
resources!(QueryTopicConsumeByWhoRequestHeader, topic = topic);

header! {
    /// QUERY_CONSUME_TIME_SPAN (303): `QueryConsumeTimeSpanRequestHeader`.
    pub struct QueryConsumeTimeSpanRequestHeader {
        pub topic: String = topic("topic"),
        pub group: String = group("group"),
    }
}
resources!(QueryConsumeTimeSpanRequestHeader, topic = topic, group = group);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::{CommandHeader, Resources};
    use crate::remoting::codes::request as rc;
    use crate::remoting::RemotingCommand;

    #[test]
    fn requests() {
        let h = CreateTopicRequestHeader {
            topic: "T".into(),
            default_topic: Some("TBW102".into()),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            topic_filter_type: "MULTI_TAG".into(),
            topic_sys_flag: 1,
            order: true,
        };
        check(rc::UPDATE_AND_CREATE_TOPIC, &h, CreateTopicRequestHeader::FIELDS);
        assert_eq!(h.topic(), Some("T"));
        check(
            rc::DELETE_TOPIC_IN_BROKER,
            &DeleteTopicRequestHeader { topic: "T".into() },
            DeleteTopicRequestHeader::FIELDS,
        );
        let h = QueryConsumeTimeSpanRequestHeader { topic: "T".into(), group: "G".into() };
        check(rc::QUERY_CONSUME_TIME_SPAN, &h, QueryConsumeTimeSpanRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (Some("T"), Some("G")));
        check(
            rc::GET_TOPIC_STATS_INFO,
            &GetTopicStatsInfoRequestHeader { topic: "T".into() },
            GetTopicStatsInfoRequestHeader::FIELDS,
        );
        let h = QueryTopicConsumeByWhoRequestHeader { topic: "T".into() };
        check(rc::QUERY_TOPIC_CONSUME_BY_WHO, &h, QueryTopicConsumeByWhoRequestHeader::FIELDS);
        assert_eq!(h.topic(), Some("T"));
    }

    #[test]
    fn create_topic_defaults() {
        let c = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC, 1)
            .with_ext("topic", "T")
            .with_ext("readQueueNums", 4)
            .with_ext("writeQueueNums", 4)
            .with_ext("perm", 6);
        let h = CreateTopicRequestHeader::decode(&c).unwrap();
        assert_eq!(
            (h.topic_filter_type.as_str(), h.topic_sys_flag, h.order, h.default_topic),
            ("SINGLE_TAG", 0, false, None)
        );
    }
}

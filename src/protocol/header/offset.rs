//! Offsets: a group's committed offset, and a queue's bounds.

header! {
    /// QUERY_CONSUMER_OFFSET (14): `QueryConsumerOffsetRequestHeader`.
    pub struct QueryConsumerOffsetRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(QueryConsumerOffsetRequestHeader, topic = topic, group = consumer_group);

header! {
    /// Response to QUERY_CONSUMER_OFFSET: `QueryConsumerOffsetResponseHeader`.
    pub struct QueryConsumerOffsetResponseHeader {
        pub offset: i64 = i64("offset"),
    }
}

header! {
    /// UPDATE_CONSUMER_OFFSET (15): `UpdateConsumerOffsetRequestHeader`.
    pub struct UpdateConsumerOffsetRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub commit_offset: i64 = i64("commitOffset"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(UpdateConsumerOffsetRequestHeader, topic = topic, group = consumer_group);

header! {
    /// GET_MAX_OFFSET (30): `GetMaxOffsetRequestHeader`.
    pub struct GetMaxOffsetRequestHeader {
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(GetMaxOffsetRequestHeader, topic = topic);

header! {
    /// Response to GET_MAX_OFFSET: `GetMaxOffsetResponseHeader`.
    pub struct GetMaxOffsetResponseHeader {
        pub offset: i64 = i64("offset"),
    }
}

header! {
    /// GET_MIN_OFFSET (31): `GetMinOffsetRequestHeader`.
    pub struct GetMinOffsetRequestHeader {
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(GetMinOffsetRequestHeader, topic = topic);

header! {
    /// Response to GET_MIN_OFFSET: `GetMinOffsetResponseHeader`.
    pub struct GetMinOffsetResponseHeader {
        pub offset: i64 = i64("offset"),
    }
}

header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29): `SearchOffsetRequestHeader`.
    pub struct SearchOffsetRequestHeader {
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub timestamp: i64 = i64("timestamp"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(SearchOffsetRequestHeader, topic = topic);

header! {
    /// Response to SEARCH_OFFSET_BY_TIMESTAMP: `SearchOffsetResponseHeader`.
    pub struct SearchOffsetResponseHeader {
        pub offset: i64 = i64("offset"),
    }
}

header! {
    /// GET_EARLIEST_MSG_STORETIME (32): `GetEarliestMsgStoretimeRequestHeader`.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(GetEarliestMsgStoretimeRequestHeader, topic = topic);

header! {
    /// Response to GET_EARLIEST_MSG_STORETIME: `GetEarliestMsgStoretimeResponseHeader`.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        pub timestamp: i64 = i64("timestamp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::Resources;
    use crate::remoting::codes::request as rc;

    fn bname() -> Option<String> {
        Some("broker-a".into())
    }

    #[test]
    fn requests() {
        let q = QueryConsumerOffsetRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 1,
            bname: bname(),
        };
        check(rc::QUERY_CONSUMER_OFFSET, &q, QueryConsumerOffsetRequestHeader::FIELDS);
        assert_eq!((q.topic(), q.group()), (Some("T"), Some("G")));
        let u = UpdateConsumerOffsetRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 1,
            commit_offset: 42,
            bname: bname(),
        };
        check(rc::UPDATE_CONSUMER_OFFSET, &u, UpdateConsumerOffsetRequestHeader::FIELDS);
        assert_eq!((u.topic(), u.group()), (Some("T"), Some("G")));
        let m = GetMaxOffsetRequestHeader { topic: "T".into(), queue_id: 2, bname: bname() };
        check(rc::GET_MAX_OFFSET, &m, GetMaxOffsetRequestHeader::FIELDS);
        assert_eq!((m.topic(), m.group()), (Some("T"), None));
        let m = GetMinOffsetRequestHeader { topic: "T".into(), queue_id: 2, bname: bname() };
        check(rc::GET_MIN_OFFSET, &m, GetMinOffsetRequestHeader::FIELDS);
        assert_eq!(m.topic(), Some("T"));
        let s = SearchOffsetRequestHeader { topic: "T".into(), queue_id: 0, timestamp: 1700000000000, bname: bname() };
        check(rc::SEARCH_OFFSET_BY_TIMESTAMP, &s, SearchOffsetRequestHeader::FIELDS);
        assert_eq!(s.topic(), Some("T"));
        let e = GetEarliestMsgStoretimeRequestHeader { topic: "T".into(), queue_id: 0, bname: bname() };
        check(rc::GET_EARLIEST_MSG_STORETIME, &e, GetEarliestMsgStoretimeRequestHeader::FIELDS);
        assert_eq!(e.topic(), Some("T"));
    }

    #[test]
    fn responses() {
        check(0, &QueryConsumerOffsetResponseHeader { offset: -1 }, QueryConsumerOffsetResponseHeader::FIELDS);
        check(0, &GetMaxOffsetResponseHeader { offset: 77 }, GetMaxOffsetResponseHeader::FIELDS);
        check(0, &GetMinOffsetResponseHeader { offset: 3 }, GetMinOffsetResponseHeader::FIELDS);
        check(0, &SearchOffsetResponseHeader { offset: 5 }, SearchOffsetResponseHeader::FIELDS);
        check(
            0,
            &GetEarliestMsgStoretimeResponseHeader { timestamp: 1700000000000 },
            GetEarliestMsgStoretimeResponseHeader::FIELDS,
        );
    }
}

//! Broker administration headers (most admin codes carry a body only).

header! {
    /// VIEW_BROKER_STATS_DATA (315): `ViewBrokerStatsDataRequestHeader`.
    pub struct ViewBrokerStatsDataRequestHeader {
        pub stats_name: String = str("statsName"),
        pub stats_key: String = str("statsKey"),
    }
}
resources!(ViewBrokerStatsDataRequestHeader);

header! {
    /// Response to GET_BROKER_CONFIG (26): `GetBrokerConfigResponseHeader`;
    /// `version` is the configuration's `DataVersion` as JSON.
    pub struct GetBrokerConfigResponseHeader {
        pub version: String = str("version"),
    }
}

header! {
    /// GET_BROKER_CONSUME_STATS (317): `GetConsumeStatsInBrokerHeader`.
    pub struct GetConsumeStatsInBrokerHeader {
        pub is_order: bool = flag("isOrder"),
    }
}
resources!(GetConsumeStatsInBrokerHeader);

header! {
    /// QUERY_CONSUME_QUEUE (321): `QueryConsumeQueueRequestHeader`.
    pub struct QueryConsumeQueueRequestHeader {
        pub topic: String = topic("topic"),
        pub queue_id: i32 = i32("queueId"),
        pub index: i64 = i64("index"),
        pub count: i32 = i32("count"),
        pub consumer_group: Option<String> = opt_group("consumerGroup"),
    }
}
resources!(QueryConsumeQueueRequestHeader, topic = topic);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::remoting::codes::request as rc;

    #[test]
    fn headers() {
        let h = ViewBrokerStatsDataRequestHeader { stats_name: "TOPIC_PUT_NUMS".into(), stats_key: "T".into() };
        check(rc::VIEW_BROKER_STATS_DATA, &h, ViewBrokerStatsDataRequestHeader::FIELDS);
        let r = GetBrokerConfigResponseHeader { version: r#"{"counter":1,"timestamp":2}"#.into() };
        check(rc::GET_BROKER_CONFIG, &r, GetBrokerConfigResponseHeader::FIELDS);
        let h = GetConsumeStatsInBrokerHeader { is_order: true };
        check(rc::GET_BROKER_CONSUME_STATS, &h, GetConsumeStatsInBrokerHeader::FIELDS);
        let h = QueryConsumeQueueRequestHeader {
            topic: "T".into(),
            queue_id: 1,
            index: 2,
            count: 10,
            consumer_group: Some("G".into()),
        };
        check(rc::QUERY_CONSUME_QUEUE, &h, QueryConsumeQueueRequestHeader::FIELDS);
    }
}

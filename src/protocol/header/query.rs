//! Looking messages up: by key (index) and by commit-log offset.

header! {
    /// QUERY_MESSAGE (12): `QueryMessageRequestHeader`, plus the
    /// `_UNIQUE_KEY_QUERY` marker (`MixAll.UNIQUE_MSG_QUERY_FLAG`) that the
    /// Java client adds as an extra ext field when querying by unique key.
    pub struct QueryMessageRequestHeader {
        pub topic: String = topic("topic"),
        pub key: String = str("key"),
        pub max_num: i32 = i32("maxNum"),
        /// Exactly `"true"` (not any case).
        pub unique_key_query: bool = is_true("_UNIQUE_KEY_QUERY"),
        pub begin_timestamp: i64 = i64("beginTimestamp"),
        pub end_timestamp: i64 = i64("endTimestamp"),
    }
}
resources!(QueryMessageRequestHeader, topic = topic);

header! {
    /// Response to QUERY_MESSAGE: `QueryMessageResponseHeader`.
    pub struct QueryMessageResponseHeader {
        pub index_last_update_timestamp: i64 = i64("indexLastUpdateTimestamp"),
        pub index_last_update_phyoffset: i64 = i64("indexLastUpdatePhyoffset"),
    }
}

header! {
    /// VIEW_MESSAGE_BY_ID (33): `ViewMessageRequestHeader` (the commit-log
    /// offset taken from the message id).
    pub struct ViewMessageRequestHeader {
        pub offset: i64 = i64("offset"),
    }
}
resources!(ViewMessageRequestHeader);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::{CommandHeader, Resources};
    use crate::remoting::codes::request as rc;

    #[test]
    fn requests_and_response() {
        let h = QueryMessageRequestHeader {
            topic: "T".into(),
            key: "k1".into(),
            max_num: 32,
            unique_key_query: true,
            begin_timestamp: 0,
            end_timestamp: i64::MAX,
        };
        let cmd = check(rc::QUERY_MESSAGE, &h, QueryMessageRequestHeader::FIELDS);
        assert_eq!(h.topic(), Some("T"));
        let upper = cmd.with_ext("_UNIQUE_KEY_QUERY", "TRUE");
        assert!(!QueryMessageRequestHeader::decode(&upper).unwrap().unique_key_query);
        check(rc::VIEW_MESSAGE_BY_ID, &ViewMessageRequestHeader { offset: 4096 }, ViewMessageRequestHeader::FIELDS);
        let r =
            QueryMessageResponseHeader { index_last_update_timestamp: 1700000000000, index_last_update_phyoffset: 123 };
        check(rc::QUERY_MESSAGE, &r, QueryMessageResponseHeader::FIELDS);
    }
}

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
    }
}

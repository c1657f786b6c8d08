//! Consumer membership and the calls the broker relays to a consumer.

use super::Resources;

header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38): `GetConsumerListByGroupRequestHeader`.
    pub struct GetConsumerListByGroupRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
    }
}
resources!(GetConsumerListByGroupRequestHeader, group = consumer_group);

header! {
    /// UNREGISTER_CLIENT (35): `UnregisterClientRequestHeader`. Java requires
    /// `clientID`; the handler never reads it, so it stays optional here.
    pub struct UnregisterClientRequestHeader {
        pub client_id: Option<String> = opt_str("clientID"),
        pub producer_group: Option<String> = opt_group("producerGroup"),
        pub consumer_group: Option<String> = opt_group("consumerGroup"),
    }
}

/// `group()` is the consumer group if any, else the producer group.
impl Resources for UnregisterClientRequestHeader {
    fn group(&self) -> Option<&str> {
        self.consumer_group.as_deref().or(self.producer_group.as_deref())
    }
    fn groups(&self) -> Vec<&str> {
        self.consumer_group.iter().chain(&self.producer_group).map(String::as_str).collect()
    }
}

header! {
    /// GET_CONSUMER_RUNNING_INFO (307): `GetConsumerRunningInfoRequestHeader`
    /// (relayed as is to the client).
    pub struct GetConsumerRunningInfoRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
        pub client_id: String = str("clientId"),
        pub jstack_enable: bool = flag("jstackEnable"),
    }
}
resources!(GetConsumerRunningInfoRequestHeader, group = consumer_group);

header! {
    /// CONSUME_MESSAGE_DIRECTLY (309): `ConsumeMessageDirectlyResultRequestHeader`
    /// (relayed as is to the client). Java leaves `clientId` optional; the
    /// handler needs it to find the consumer.
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
        pub client_id: String = str("clientId"),
        pub msg_id: Option<String> = opt_str("msgId"),
        pub broker_name: Option<String> = opt_str("brokerName"),
    }
}
resources!(ConsumeMessageDirectlyResultRequestHeader, group = consumer_group);

header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), broker to client, oneway:
    /// `NotifyConsumerIdsChangedRequestHeader`.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        pub consumer_group: String = str("consumerGroup"),
    }
}
resources!(NotifyConsumerIdsChangedRequestHeader, group = consumer_group);

header! {
    /// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223): `GetConsumerStatusRequestHeader`;
    /// also what the broker sends as GET_CONSUMER_STATUS_FROM_CLIENT (221).
    pub struct GetConsumerStatusRequestHeader {
        pub topic: String = str("topic"),
        pub group: String = group("group"),
        pub client_addr: Option<String> = opt_str("clientAddr"),
    }
}
resources!(GetConsumerStatusRequestHeader, topic = topic, group = group);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::CommandHeader;
    use crate::remoting::codes::request as rc;
    use crate::remoting::RemotingCommand;

    #[test]
    fn requests() {
        let h = GetConsumerListByGroupRequestHeader { consumer_group: "CG".into() };
        check(rc::GET_CONSUMER_LIST_BY_GROUP, &h, GetConsumerListByGroupRequestHeader::FIELDS);
        assert_eq!(h.group(), Some("CG"));
        let h = UnregisterClientRequestHeader {
            client_id: Some("127.0.0.1@1".into()),
            producer_group: Some("PG".into()),
            consumer_group: Some("CG".into()),
        };
        check(rc::UNREGISTER_CLIENT, &h, UnregisterClientRequestHeader::FIELDS);
        assert_eq!((h.group(), h.groups()), (Some("CG"), vec!["CG", "PG"]));
        let only_producer = RemotingCommand::request(rc::UNREGISTER_CLIENT, 1).with_ext("producerGroup", "PG");
        let h = UnregisterClientRequestHeader::decode(&only_producer).unwrap();
        assert_eq!((h.group(), h.groups()), (Some("PG"), vec!["PG"]));
        let h = GetConsumerRunningInfoRequestHeader {
            consumer_group: "CG".into(),
            client_id: "c1".into(),
            jstack_enable: true,
        };
        check(rc::GET_CONSUMER_RUNNING_INFO, &h, GetConsumerRunningInfoRequestHeader::FIELDS);
        assert_eq!(h.group(), Some("CG"));
        let h = ConsumeMessageDirectlyResultRequestHeader {
            consumer_group: "CG".into(),
            client_id: "c1".into(),
            msg_id: Some("AC11000100002A9F0000000000000000".into()),
            broker_name: Some("broker-a".into()),
        };
        check(rc::CONSUME_MESSAGE_DIRECTLY, &h, ConsumeMessageDirectlyResultRequestHeader::FIELDS);
        assert_eq!(h.group(), Some("CG"));
        let h = NotifyConsumerIdsChangedRequestHeader { consumer_group: "CG".into() };
        check(rc::NOTIFY_CONSUMER_IDS_CHANGED, &h, NotifyConsumerIdsChangedRequestHeader::FIELDS);
        let h = GetConsumerStatusRequestHeader { topic: "T".into(), group: "CG".into(), client_addr: Some("c1".into()) };
        check(rc::INVOKE_BROKER_TO_GET_CONSUMER_STATUS, &h, GetConsumerStatusRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (Some("T"), Some("CG")));
    }
}

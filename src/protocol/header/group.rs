//! Consumer-group administration.

use super::Resources;

header! {
    /// DELETE_SUBSCRIPTIONGROUP (207): `DeleteSubscriptionGroupRequestHeader`.
    pub struct DeleteSubscriptionGroupRequestHeader {
        pub group_name: String = group("groupName"),
        pub remove_offset: bool = flag("removeOffset"),
    }
}
resources!(DeleteSubscriptionGroupRequestHeader, group = group_name);

header! {
    /// GET_CONSUME_STATS (208): `GetConsumeStatsRequestHeader`. `topic` is
    /// not checked (the handler treats a blank one as absent).
    pub struct GetConsumeStatsRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
        pub topic: Option<String> = opt_str("topic"),
    }
}
resources!(GetConsumeStatsRequestHeader, topic = topic, group = consumer_group);

header! {
    /// GET_CONSUMER_CONNECTION_LIST (203): `GetConsumerConnectionListRequestHeader`.
    pub struct GetConsumerConnectionListRequestHeader {
        pub consumer_group: String = group("consumerGroup"),
    }
}
resources!(GetConsumerConnectionListRequestHeader, group = consumer_group);

header! {
    /// GET_PRODUCER_CONNECTION_LIST (204): `GetProducerConnectionListRequestHeader`.
    pub struct GetProducerConnectionListRequestHeader {
        pub producer_group: String = group("producerGroup"),
    }
}
resources!(GetProducerConnectionListRequestHeader, group = producer_group);

header! {
    /// CLONE_GROUP_OFFSET (314): `CloneGroupOffsetRequestHeader`. `topic` is
    /// not checked (blank means every topic of `srcGroup`).
    pub struct CloneGroupOffsetRequestHeader {
        pub src_group: String = group("srcGroup"),
        pub dest_group: String = group("destGroup"),
        pub topic: Option<String> = opt_str("topic"),
        pub offline: bool = flag("offline"),
    }
}

/// `group()` is the source group; `groups()` adds the destination.
impl Resources for CloneGroupOffsetRequestHeader {
    fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }
    fn group(&self) -> Option<&str> {
        Some(&self.src_group)
    }
    fn groups(&self) -> Vec<&str> {
        vec![&self.src_group, &self.dest_group]
    }
}

header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222), and RESET_CONSUMER_CLIENT_OFFSET
    /// (220) that the broker then sends each consumer: `ResetOffsetRequestHeader`.
    /// `timestamp` -1 means the end of each queue.
    pub struct ResetOffsetRequestHeader {
        pub topic: String = topic("topic"),
        pub group: String = group("group"),
        pub timestamp: i64 = i64("timestamp"),
        pub is_force: bool = flag("isForce"),
    }
}
resources!(ResetOffsetRequestHeader, topic = topic, group = group);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::remoting::codes::request as rc;

    #[test]
    fn requests() {
        let h = DeleteSubscriptionGroupRequestHeader { group_name: "G".into(), remove_offset: true };
        check(rc::DELETE_SUBSCRIPTIONGROUP, &h, DeleteSubscriptionGroupRequestHeader::FIELDS);
        assert_eq!(h.group(), Some("G"));
        let h = GetConsumeStatsRequestHeader { consumer_group: "G".into(), topic: Some("T".into()) };
        check(rc::GET_CONSUME_STATS, &h, GetConsumeStatsRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (Some("T"), Some("G")));
        let h = GetConsumerConnectionListRequestHeader { consumer_group: "G".into() };
        check(rc::GET_CONSUMER_CONNECTION_LIST, &h, GetConsumerConnectionListRequestHeader::FIELDS);
        assert_eq!(h.group(), Some("G"));
        let h = GetProducerConnectionListRequestHeader { producer_group: "PG".into() };
        check(rc::GET_PRODUCER_CONNECTION_LIST, &h, GetProducerConnectionListRequestHeader::FIELDS);
        assert_eq!(h.group(), Some("PG"));
        let h = CloneGroupOffsetRequestHeader {
            src_group: "A".into(),
            dest_group: "B".into(),
            topic: Some("T".into()),
            offline: true,
        };
        check(rc::CLONE_GROUP_OFFSET, &h, CloneGroupOffsetRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group(), h.groups()), (Some("T"), Some("A"), vec!["A", "B"]));
        let h = ResetOffsetRequestHeader { topic: "T".into(), group: "G".into(), timestamp: -1, is_force: true };
        check(rc::INVOKE_BROKER_TO_RESET_OFFSET, &h, ResetOffsetRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (Some("T"), Some("G")));
    }
}

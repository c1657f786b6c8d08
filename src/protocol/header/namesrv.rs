//! Name server requests (`...protocol.header.namesrv.*`). Topic names are
//! taken as they come (`str`, not `topic`), as the name server does today.

header! {
    /// PUT_KV_CONFIG (100): `PutKVConfigRequestHeader`.
    pub struct PutKvConfigRequestHeader {
        pub namespace: String = str("namespace"),
        pub key: String = str("key"),
        pub value: String = str("value"),
    }
}
resources!(PutKvConfigRequestHeader);

header! {
    /// GET_KV_CONFIG (101): `GetKVConfigRequestHeader`.
    pub struct GetKvConfigRequestHeader {
        pub namespace: String = str("namespace"),
        pub key: String = str("key"),
    }
}
resources!(GetKvConfigRequestHeader);

header! {
    /// Response to GET_KV_CONFIG: `GetKVConfigResponseHeader`.
    pub struct GetKvConfigResponseHeader {
        pub value: Option<String> = opt_str("value"),
    }
}

header! {
    /// DELETE_KV_CONFIG (102): `DeleteKVConfigRequestHeader`.
    pub struct DeleteKvConfigRequestHeader {
        pub namespace: String = str("namespace"),
        pub key: String = str("key"),
    }
}
resources!(DeleteKvConfigRequestHeader);

header! {
    /// GET_KVLIST_BY_NAMESPACE (219): `GetKVListByNamespaceRequestHeader`.
    pub struct GetKvListByNamespaceRequestHeader {
        pub namespace: String = str("namespace"),
    }
}
resources!(GetKvListByNamespaceRequestHeader);

header! {
    /// REGISTER_BROKER (103): `RegisterBrokerRequestHeader`. Java requires
    /// `haServerAddr`; the handler defaults it to "" (and `bodyCrc32` to 0).
    pub struct RegisterBrokerRequestHeader {
        pub body_crc32: i32 = i32_or("bodyCrc32", 0),
        pub compressed: bool = flag("compressed"),
        pub cluster_name: String = str("clusterName"),
        pub broker_addr: String = str("brokerAddr"),
        pub broker_name: String = str("brokerName"),
        pub broker_id: i64 = i64("brokerId"),
        pub ha_server_addr: String = str_or("haServerAddr", ""),
    }
}
resources!(RegisterBrokerRequestHeader);

header! {
    /// Response to REGISTER_BROKER: `RegisterBrokerResponseHeader` (set for
    /// a slave: its master's HA and broker addresses).
    pub struct RegisterBrokerResponseHeader {
        pub ha_server_addr: Option<String> = opt_str("haServerAddr"),
        pub master_addr: Option<String> = opt_str("masterAddr"),
    }
}

header! {
    /// UNREGISTER_BROKER (104): `UnRegisterBrokerRequestHeader`.
    pub struct UnregisterBrokerRequestHeader {
        pub cluster_name: String = str("clusterName"),
        pub broker_addr: String = str("brokerAddr"),
        pub broker_name: String = str("brokerName"),
        pub broker_id: i64 = i64("brokerId"),
    }
}
resources!(UnregisterBrokerRequestHeader);

header! {
    /// QUERY_DATA_VERSION (322): `QueryDataVersionRequestHeader`. Java
    /// requires all four; the handler reads only `brokerAddr`.
    pub struct QueryDataVersionRequestHeader {
        pub broker_addr: String = str("brokerAddr"),
        pub broker_name: Option<String> = opt_str("brokerName"),
        pub cluster_name: Option<String> = opt_str("clusterName"),
        pub broker_id: Option<i64> = opt_i64("brokerId"),
    }
}
resources!(QueryDataVersionRequestHeader);

header! {
    /// Response to QUERY_DATA_VERSION: `QueryDataVersionResponseHeader`.
    pub struct QueryDataVersionResponseHeader {
        pub changed: bool = flag("changed"),
    }
}

header! {
    /// GET_ROUTEINFO_BY_TOPIC (105): `GetRouteInfoRequestHeader`.
    pub struct GetRouteInfoRequestHeader {
        pub topic: String = str("topic"),
        pub accept_standard_json_only: bool = flag("acceptStandardJsonOnly"),
    }
}
resources!(GetRouteInfoRequestHeader, topic = topic);

header! {
    /// GET_TOPICS_BY_CLUSTER (224): `GetTopicsByClusterRequestHeader`.
    pub struct GetTopicsByClusterRequestHeader {
        pub cluster: String = str("cluster"),
    }
}
resources!(GetTopicsByClusterRequestHeader);

header! {
    /// DELETE_TOPIC_IN_NAMESRV (216): `DeleteTopicFromNamesrvRequestHeader`
    /// (`clusterName` is read by 5.x name servers only).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        pub topic: String = str("topic"),
        pub cluster_name: Option<String> = opt_str("clusterName"),
    }
}
resources!(DeleteTopicFromNamesrvRequestHeader, topic = topic);

header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205): `WipeWritePermOfBrokerRequestHeader`.
    pub struct WipeWritePermOfBrokerRequestHeader {
        pub broker_name: String = str("brokerName"),
    }
}
resources!(WipeWritePermOfBrokerRequestHeader);

header! {
    /// Response to WIPE_WRITE_PERM_OF_BROKER: `WipeWritePermOfBrokerResponseHeader`.
    pub struct WipeWritePermOfBrokerResponseHeader {
        pub wipe_topic_count: i32 = i32("wipeTopicCount"),
    }
}

header! {
    /// ADD_WRITE_PERM_OF_BROKER (327): `AddWritePermOfBrokerRequestHeader`.
    pub struct AddWritePermOfBrokerRequestHeader {
        pub broker_name: String = str("brokerName"),
    }
}
resources!(AddWritePermOfBrokerRequestHeader);

header! {
    /// Response to ADD_WRITE_PERM_OF_BROKER: `AddWritePermOfBrokerResponseHeader`.
    pub struct AddWritePermOfBrokerResponseHeader {
        pub add_topic_count: i32 = i32("addTopicCount"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::{CommandHeader, Resources};
    use crate::remoting::codes::request as rc;
    use crate::remoting::RemotingCommand;

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn kv_config() {
        let h = PutKvConfigRequestHeader { namespace: s("ORDER_TOPIC_CONFIG"), key: s("T"), value: s("broker-a:4") };
        check(rc::PUT_KV_CONFIG, &h, PutKvConfigRequestHeader::FIELDS);
        let h = GetKvConfigRequestHeader { namespace: s("ns"), key: s("k") };
        check(rc::GET_KV_CONFIG, &h, GetKvConfigRequestHeader::FIELDS);
        check(rc::GET_KV_CONFIG, &GetKvConfigResponseHeader { value: Some(s("v")) }, GetKvConfigResponseHeader::FIELDS);
        let h = DeleteKvConfigRequestHeader { namespace: s("ns"), key: s("k") };
        check(rc::DELETE_KV_CONFIG, &h, DeleteKvConfigRequestHeader::FIELDS);
        let h = GetKvListByNamespaceRequestHeader { namespace: s("ns") };
        check(rc::GET_KVLIST_BY_NAMESPACE, &h, GetKvListByNamespaceRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (None, None));
    }

    #[test]
    fn brokers() {
        let h = RegisterBrokerRequestHeader {
            body_crc32: -12345,
            compressed: false,
            cluster_name: s("DefaultCluster"),
            broker_addr: s("127.0.0.1:10911"),
            broker_name: s("broker-a"),
            broker_id: 0,
            ha_server_addr: s("127.0.0.1:10912"),
        };
        check(rc::REGISTER_BROKER, &h, RegisterBrokerRequestHeader::FIELDS);
        let r = RegisterBrokerResponseHeader { ha_server_addr: Some(s("a:1")), master_addr: Some(s("a:2")) };
        check(rc::REGISTER_BROKER, &r, RegisterBrokerResponseHeader::FIELDS);
        let h = UnregisterBrokerRequestHeader {
            cluster_name: s("DefaultCluster"),
            broker_addr: s("127.0.0.1:10911"),
            broker_name: s("broker-a"),
            broker_id: 1,
        };
        check(rc::UNREGISTER_BROKER, &h, UnregisterBrokerRequestHeader::FIELDS);
        let h = QueryDataVersionRequestHeader {
            broker_addr: s("127.0.0.1:10911"),
            broker_name: Some(s("broker-a")),
            cluster_name: Some(s("DefaultCluster")),
            broker_id: Some(0),
        };
        check(rc::QUERY_DATA_VERSION, &h, QueryDataVersionRequestHeader::FIELDS);
        check(
            rc::QUERY_DATA_VERSION,
            &QueryDataVersionResponseHeader { changed: true },
            QueryDataVersionResponseHeader::FIELDS,
        );
        let h = WipeWritePermOfBrokerRequestHeader { broker_name: s("broker-a") };
        check(rc::WIPE_WRITE_PERM_OF_BROKER, &h, WipeWritePermOfBrokerRequestHeader::FIELDS);
        let r = WipeWritePermOfBrokerResponseHeader { wipe_topic_count: 3 };
        check(rc::WIPE_WRITE_PERM_OF_BROKER, &r, WipeWritePermOfBrokerResponseHeader::FIELDS);
        let h = AddWritePermOfBrokerRequestHeader { broker_name: s("broker-a") };
        check(rc::ADD_WRITE_PERM_OF_BROKER, &h, AddWritePermOfBrokerRequestHeader::FIELDS);
        let r = AddWritePermOfBrokerResponseHeader { add_topic_count: 3 };
        check(rc::ADD_WRITE_PERM_OF_BROKER, &r, AddWritePermOfBrokerResponseHeader::FIELDS);
    }

    #[test]
    fn register_broker_defaults_and_order() {
        // The handler checks the crc first: a bad one is reported before a missing name.
        let c = RemotingCommand::request(rc::REGISTER_BROKER, 1).with_ext("bodyCrc32", "x");
        assert!(matches!(
            RegisterBrokerRequestHeader::decode(&c),
            Err(crate::protocol::ProtocolError::BadField("bodyCrc32", _))
        ));
        let c = RemotingCommand::request(rc::REGISTER_BROKER, 1)
            .with_ext("clusterName", "C")
            .with_ext("brokerAddr", "a:1")
            .with_ext("brokerName", "b")
            .with_ext("brokerId", 0);
        let h = RegisterBrokerRequestHeader::decode(&c).unwrap();
        assert_eq!((h.body_crc32, h.compressed, h.ha_server_addr.as_str()), (0, false, ""));
    }

    #[test]
    fn routes_and_topics() {
        let h = GetRouteInfoRequestHeader { topic: s("T"), accept_standard_json_only: true };
        check(rc::GET_ROUTEINFO_BY_TOPIC, &h, GetRouteInfoRequestHeader::FIELDS);
        assert_eq!(h.topic(), Some("T"));
        // The name server answers TOPIC_NOT_EXIST for any name: not checked here.
        let c = RemotingCommand::request(rc::GET_ROUTEINFO_BY_TOPIC, 1).with_ext("topic", "a/b");
        assert_eq!(GetRouteInfoRequestHeader::decode(&c).unwrap().topic, "a/b");
        check(
            rc::GET_TOPICS_BY_CLUSTER,
            &GetTopicsByClusterRequestHeader { cluster: s("C") },
            GetTopicsByClusterRequestHeader::FIELDS,
        );
        let h = DeleteTopicFromNamesrvRequestHeader { topic: s("T"), cluster_name: Some(s("C")) };
        check(rc::DELETE_TOPIC_IN_NAMESRV, &h, DeleteTopicFromNamesrvRequestHeader::FIELDS);
        assert_eq!(h.topic(), Some("T"));
    }
}

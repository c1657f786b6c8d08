//! ACL administration headers (codes 50–54).

header! {
    /// UPDATE_AND_CREATE_ACL_CONFIG (50): `CreateAccessConfigRequestHeader`;
    /// `topicPerms` / `groupPerms` are comma-separated `name=PERM` lists.
    pub struct CreateAccessConfigRequestHeader {
        pub access_key: String = str("accessKey"),
        pub secret_key: Option<String> = opt_str("secretKey"),
        pub white_remote_address: Option<String> = opt_str("whiteRemoteAddress"),
        pub admin: bool = flag("admin"),
        pub default_topic_perm: Option<String> = opt_str("defaultTopicPerm"),
        pub default_group_perm: Option<String> = opt_str("defaultGroupPerm"),
        pub topic_perms: Option<String> = opt_str("topicPerms"),
        pub group_perms: Option<String> = opt_str("groupPerms"),
    }
}
resources!(CreateAccessConfigRequestHeader);

header! {
    /// DELETE_ACL_CONFIG (51): `DeleteAccessConfigRequestHeader`.
    pub struct DeleteAccessConfigRequestHeader {
        pub access_key: String = str("accessKey"),
    }
}
resources!(DeleteAccessConfigRequestHeader);

header! {
    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53): `UpdateGlobalWhiteAddrsConfigRequestHeader`.
    /// Both fields are `@CFNotNull` in Java, so mqadmin's `updateGlobalWhiteAddr`
    /// without `-p` is refused by the Java broker too.
    pub struct UpdateGlobalWhiteAddrsConfigRequestHeader {
        pub global_white_addrs: String = str("globalWhiteAddrs"),
        pub acl_file_full_path: String = str("aclFileFullPath"),
    }
}
resources!(UpdateGlobalWhiteAddrsConfigRequestHeader);

header! {
    /// Response to GET_BROKER_CLUSTER_ACL_INFO (52): `GetBrokerAclConfigResponseHeader`;
    /// `version` and `allAclFileVersion` are `DataVersion` JSON.
    pub struct GetBrokerAclConfigResponseHeader {
        pub version: String = str("version"),
        pub all_acl_file_version: Option<String> = opt_str("allAclFileVersion"),
        pub broker_name: String = str("brokerName"),
        pub broker_addr: String = str("brokerAddr"),
        pub cluster_name: String = str("clusterName"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::remoting::codes::request as rc;

    #[test]
    fn headers() {
        let h = CreateAccessConfigRequestHeader {
            access_key: "ak12345".into(),
            secret_key: Some("sk12345".into()),
            white_remote_address: Some("127.0.0.1".into()),
            admin: true,
            default_topic_perm: Some("PUB".into()),
            default_group_perm: Some("SUB".into()),
            topic_perms: Some("a=PUB,b=SUB".into()),
            group_perms: Some("g=SUB".into()),
        };
        check(rc::UPDATE_AND_CREATE_ACL_CONFIG, &h, CreateAccessConfigRequestHeader::FIELDS);
        let h = DeleteAccessConfigRequestHeader { access_key: "ak12345".into() };
        check(rc::DELETE_ACL_CONFIG, &h, DeleteAccessConfigRequestHeader::FIELDS);
        let h = UpdateGlobalWhiteAddrsConfigRequestHeader {
            global_white_addrs: "1.1.1.1".into(),
            acl_file_full_path: "/h/conf/plain_acl.yml".into(),
        };
        check(rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG, &h, UpdateGlobalWhiteAddrsConfigRequestHeader::FIELDS);
        let r = GetBrokerAclConfigResponseHeader {
            version: "{}".into(),
            all_acl_file_version: Some("{}".into()),
            broker_name: "b".into(),
            broker_addr: "a:1".into(),
            cluster_name: "c".into(),
        };
        check(rc::GET_BROKER_CLUSTER_ACL_INFO, &r, GetBrokerAclConfigResponseHeader::FIELDS);
    }
}

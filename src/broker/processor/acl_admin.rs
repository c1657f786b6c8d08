//! ACL administration (`AdminBrokerProcessor`, codes 50–54): accounts and
//! the global white list are edited in the ACL files (see `acl::admin`), and
//! the broker's files and their versions are reported. Refusals carry Java's
//! codes (209–211) and its texts.

use std::collections::BTreeMap;

use serde_json::json;

use super::success;
use crate::acl::config::PlainAccessConfig;
use crate::acl::AclManager;
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::protocol::header::{
    CommandHeader, CreateAccessConfigRequestHeader, DeleteAccessConfigRequestHeader, GetBrokerAclConfigResponseHeader,
    UpdateGlobalWhiteAddrsConfigRequestHeader,
};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};

/// With ACL off the Java broker has no validator and answers with its NPE
/// (or not at all); ferromq says why.
fn manager(b: &Broker, failed_code: i32) -> BrokerResult<&AclManager> {
    b.acl.as_deref().ok_or_else(|| BrokerError::new(failed_code, "ACL is not enabled on this broker (aclEnable=false)"))
}

/// `UtilAll.split(s, ",")`: Java's `String.split`, which drops trailing empty pieces.
fn java_split(s: Option<&str>) -> Option<Vec<String>> {
    let s = s?;
    let mut parts: Vec<String> = s.split(',').map(str::to_string).collect();
    while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    Some(parts)
}

/// UPDATE_AND_CREATE_ACL_CONFIG (50).
pub fn update_and_create_acl_config(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let failed = response::UPDATE_AND_CREATE_ACL_CONFIG_FAILED;
    let acl = manager(b, failed)?;
    let h = CreateAccessConfigRequestHeader::decode(req)?;
    let config = PlainAccessConfig {
        access_key: Some(h.access_key.clone()),
        secret_key: h.secret_key,
        white_remote_address: h.white_remote_address,
        admin: h.admin,
        default_topic_perm: h.default_topic_perm,
        default_group_perm: h.default_group_perm,
        topic_perms: java_split(h.topic_perms.as_deref()),
        group_perms: java_split(h.group_perms.as_deref()),
    };
    acl.update_account(&config).map_err(|e| {
        tracing::warn!(peer = %conn.remote_addr(), access_key = %h.access_key, "ACL account not updated: {e}");
        BrokerError::new(failed, e.to_string())
    })?;
    tracing::info!(peer = %conn.remote_addr(), access_key = %h.access_key, admin = h.admin, "ACL account created or updated");
    Ok(success(req).into())
}

/// DELETE_ACL_CONFIG (51).
pub fn delete_acl_config(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let failed = response::DELETE_ACL_CONFIG_FAILED;
    let acl = manager(b, failed)?;
    let ak = DeleteAccessConfigRequestHeader::decode(req)?.access_key;
    match acl.delete_account(&ak) {
        Ok(true) => {
            tracing::info!(peer = %conn.remote_addr(), access_key = %ak, "ACL account deleted");
            Ok(success(req).into())
        }
        Ok(false) => Err(BrokerError::new(
            failed,
            format!("The accesskey[{ak}] corresponding to accessConfig has been deleted failed."),
        )),
        Err(e) => Err(BrokerError::new(failed, e.to_string())),
    }
}

/// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53).
pub fn update_global_white_addrs_config(b: &Broker, conn: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let failed = response::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED;
    let acl = manager(b, failed)?;
    let h = UpdateGlobalWhiteAddrsConfigRequestHeader::decode(req)?;
    let addrs = java_split(Some(&h.global_white_addrs)).unwrap_or_default();
    match acl.update_global_white(&addrs, Some(&h.acl_file_full_path)) {
        Ok(true) => {
            tracing::info!(peer = %conn.remote_addr(), ?addrs, file = %h.acl_file_full_path, "ACL global white list updated");
            Ok(success(req).into())
        }
        Ok(false) => Err(BrokerError::new(
            failed,
            format!("The globalWhiteAddresses[{}] has been updated failed.", h.global_white_addrs),
        )),
        Err(e) => Err(BrokerError::new(failed, e.to_string())),
    }
}

/// GET_BROKER_CLUSTER_ACL_INFO (52): the data versions of the ACL files.
pub fn get_broker_cluster_acl_info(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let acl = manager(b, response::SYSTEM_ERROR)?;
    let cfg = b.cfg();
    let versions: BTreeMap<String, _> = acl.versions();
    let h = GetBrokerAclConfigResponseHeader {
        version: serde_json::to_string(&acl.default_version()).unwrap_or_default(),
        all_acl_file_version: Some(serde_json::to_string(&versions).unwrap_or_default()),
        broker_name: cfg.broker_name.clone(),
        broker_addr: cfg.broker_addr(),
        cluster_name: cfg.cluster_name.clone(),
    };
    Ok(h.encode(success(req)).into())
}

/// GET_BROKER_CLUSTER_ACL_CONFIG (54): white lists and accounts as written
/// (`GetBrokerClusterAclConfigResponseBody`).
pub fn get_broker_cluster_acl_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let acl = manager(b, response::SYSTEM_ERROR)?;
    let (white, accounts) = acl.all_config();
    let body = json!({"globalWhiteAddrs": white, "plainAccessConfigs": accounts});
    Ok(success(req).with_body(serde_json::to_vec(&body).unwrap_or_default()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_as_java_splits_them() {
        assert_eq!(java_split(None), None);
        assert_eq!(java_split(Some("")), Some(vec![String::new()]));
        assert_eq!(java_split(Some("a=PUB,,b=SUB,,")), Some(vec!["a=PUB".into(), "".into(), "b=SUB".into()]));
    }
}

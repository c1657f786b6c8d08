//! Name-server ACL (`namesrvAclEnable`, ferromq's own: the Java name server
//! has none). Reads stay open to everyone, as clients and Java brokers need
//! them unsigned; every other request (broker registration, KV and
//! permission changes, topic deletion, config updates, and any code not
//! known to be a read) needs a globally white-listed address or an admin
//! account, proven by its own white list or by an `AclClientRPCHook`
//! signature. Accounts and white lists come from the same YAML files as
//! the broker's.

use std::sync::Arc;

use crate::acl::manager::Identity;
use crate::acl::{AccessRequest, AclError, AclManager};
use crate::remoting::codes::{request as rc, response};
use crate::remoting::hook::{RequestContext, RequestHook};
use crate::remoting::limits::LogBudget;
use crate::remoting::RemotingCommand;

/// Requests that only read the name server's state.
pub fn is_read(code: i32) -> bool {
    matches!(
        code,
        rc::GET_ROUTEINFO_BY_TOPIC
            | rc::GET_BROKER_CLUSTER_INFO
            | rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER
            | rc::GET_TOPICS_BY_CLUSTER
            | rc::GET_KV_CONFIG
            | rc::GET_KVLIST_BY_NAMESPACE
            | rc::QUERY_DATA_VERSION
            | rc::GET_NAMESRV_CONFIG
    )
}

static REFUSAL_LOG: LogBudget = LogBudget::new(20);

pub struct NamesrvAcl {
    pub manager: Arc<AclManager>,
}

impl NamesrvAcl {
    /// Why `req` is refused, if it is.
    pub fn check(&self, req: &RemotingCommand, remote: &std::net::SocketAddr) -> Result<(), AclError> {
        if is_read(req.code) {
            return Ok(());
        }
        let r = AccessRequest::parse(req, remote)?;
        match self.manager.rules().identify(&r)? {
            Identity::WhiteListed => Ok(()),
            Identity::Account(a) if a.admin => Ok(()),
            Identity::Account(a) => Err(AclError::NamesrvNeedAdmin { code: req.code, access_key: a.access_key.clone() }),
        }
    }
}

impl RequestHook for NamesrvAcl {
    fn before(&self, ctx: &RequestContext, req: &RemotingCommand) -> Option<RemotingCommand> {
        let refused = self.check(req, &ctx.remote).err()?;
        if let Some(suppressed) = REFUSAL_LOG.allow() {
            let access_key = req.ext("AccessKey").unwrap_or("");
            tracing::warn!(peer = %ctx.remote, code = ctx.code, access_key, suppressed, "name server request refused by ACL: {refused}");
        }
        Some(RemotingCommand::response_to(req, response::SYSTEM_ERROR, Some(refused.remark())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{sign, AclPaths};

    #[test]
    fn writes_need_an_admin_or_a_white_listed_address() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("conf")).unwrap();
        std::fs::write(
            home.path().join("conf/plain_acl.yml"),
            "globalWhiteRemoteAddresses: [10.9.9.9]\naccounts:\n  - {accessKey: brokerAdmin, secretKey: 12345678, admin: true}\n  - {accessKey: appUser01, secretKey: 12345678}\n",
        )
        .unwrap();
        let acl = NamesrvAcl { manager: AclManager::open(AclPaths::resolve(home.path().to_str(), None).unwrap()).unwrap() };
        let from = |ip: &str| format!("{ip}:5555").parse().unwrap();
        let reg = RemotingCommand::request(rc::REGISTER_BROKER, 1).with_ext("brokerName", "b").with_body(&b"{}"[..]);
        assert_eq!(acl.check(&reg, &from("10.0.0.1")), Err(AclError::NoAccessKey));
        assert!(acl.check(&reg, &from("10.9.9.9")).is_ok());
        let mut signed = reg.clone();
        sign::sign(&mut signed, "brokerAdmin", "12345678");
        assert!(acl.check(&signed, &from("10.0.0.1")).is_ok());
        signed.body = Some(bytes::Bytes::from_static(b"{\"x\":1}"));
        assert_eq!(acl.check(&signed, &from("10.0.0.1")), Err(AclError::BadSignature("brokerAdmin".into())));
        let mut user = reg.clone();
        sign::sign(&mut user, "appUser01", "12345678");
        assert!(matches!(acl.check(&user, &from("10.0.0.1")), Err(AclError::NamesrvNeedAdmin { .. })));
        let route = RemotingCommand::request(rc::GET_ROUTEINFO_BY_TOPIC, 1).with_ext("topic", "T");
        assert!(acl.check(&route, &from("10.0.0.1")).is_ok());
        // Unknown codes are not taken for reads.
        assert!(acl.check(&RemotingCommand::request(9999, 1), &from("10.0.0.1")).is_err());
    }
}

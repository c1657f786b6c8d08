//! Registration with every name server: at start, every
//! `registerNameServerPeriod`, and whenever topics change.

use std::sync::Arc;
use std::time::Duration;

use super::Broker;
use crate::protocol::body::RegisterBrokerBody;
use crate::protocol::header::{CommandHeader, RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader};
use crate::protocol::message::body_crc;
use crate::protocol::register;
use crate::remoting::codes::{request, response};
use crate::remoting::RemotingCommand;

const REGISTER_TIMEOUT: Duration = Duration::from_secs(6);

impl Broker {
    fn register_request(&self) -> RemotingCommand {
        let body = RegisterBrokerBody { filter_server_list: Vec::new(), topic_config_serialize_wrapper: self.topics.snapshot() };
        let cfg = self.cfg();
        let body = if cfg.compressed_register { register::encode_compressed(&body) } else { serde_json::to_vec(&body).unwrap() };
        let header = RegisterBrokerRequestHeader {
            body_crc32: body_crc(&body),
            compressed: cfg.compressed_register,
            cluster_name: cfg.cluster_name.clone(),
            broker_addr: cfg.broker_addr(),
            broker_name: cfg.broker_name.clone(),
            broker_id: cfg.broker_id,
            ha_server_addr: cfg.ha_server_addr(),
        };
        self.signed(header.encode(RemotingCommand::request(request::REGISTER_BROKER, 0)).with_body(body))
    }

    /// Signs a name-server request with `namesrvAccessKey`/`namesrvSecretKey`
    /// when set (for a name server with `namesrvAclEnable`).
    fn signed(&self, mut req: RemotingCommand) -> RemotingCommand {
        if let Some((ak, sk)) = &self.cfg().namesrv_credentials {
            crate::acl::sign::sign(&mut req, ak, sk);
        }
        req
    }

    /// Registers with every name server; true if at least one accepted.
    pub async fn register_all(&self) -> bool {
        let req = self.register_request();
        let mut any = false;
        for addr in &self.cfg().namesrv_addrs {
            match self.namesrv_client.invoke(addr, req.clone(), REGISTER_TIMEOUT).await {
                Ok(r) if r.code == response::SUCCESS => {
                    // Java takes the first name server's answer; any will do.
                    if !any {
                        self.on_register_result(&r);
                    }
                    any = true;
                }
                Ok(r) => tracing::warn!(namesrv = %addr, code = r.code, remark = ?r.remark, "register broker refused"),
                Err(e) => tracing::warn!(namesrv = %addr, "register broker failed: {e}"),
            }
        }
        any
    }

    /// Registers with every name server now and waits for the answers, at
    /// most `limit`: a send that created its topic is answered after this,
    /// as Apache's broker registers before answering, so a consumer started
    /// right after the first send finds the route.
    pub async fn register_and_wait(&self, limit: Duration) -> bool {
        match tokio::time::timeout(limit, self.register_all()).await {
            Ok(any) => any,
            Err(_) => {
                tracing::warn!("register broker did not complete within {} ms; answering anyway", limit.as_millis());
                false
            }
        }
    }

    pub async fn unregister_all(&self) {
        for addr in &self.cfg().namesrv_addrs {
            let cfg = self.cfg();
            let header = UnregisterBrokerRequestHeader {
                cluster_name: cfg.cluster_name.clone(),
                broker_addr: cfg.broker_addr(),
                broker_name: cfg.broker_name.clone(),
                broker_id: cfg.broker_id,
            };
            let req = self.signed(header.encode(RemotingCommand::request(request::UNREGISTER_BROKER, 0)));
            if let Err(e) = self.namesrv_client.invoke(addr, req, Duration::from_secs(3)).await {
                tracing::warn!(namesrv = %addr, "unregister broker failed: {e}");
            }
        }
    }
}

pub fn spawn_register_loop(broker: &Arc<Broker>) {
    let me = Arc::downgrade(broker);
    let period = Duration::from_millis(broker.cfg().register_period_ms);
    tokio::spawn(async move {
        loop {
            let Some(b) = me.upgrade() else { return };
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = b.register_now.notified() => {}
            }
            b.register_all().await;
        }
    });
}

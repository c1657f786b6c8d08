//! The name server: brokers register here; clients ask it for routes.

pub mod kv_config;
pub mod route_info;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::NamesrvConfig;
use crate::protocol::body::{KvTable, RegisterBrokerBody, TopicConfigSerializeWrapper, TopicList};
use crate::protocol::header::Ext;
use crate::protocol::topic::DataVersion;
use crate::protocol::{fastjson, ProtocolError};
use crate::remoting::codes::{request as rc, response};
use crate::remoting::connection::{not_supported, ConnectionHandle, Reply, RequestProcessor};
use crate::remoting::hook::{Hooked, RequestLog};
use crate::remoting::RemotingCommand;
use kv_config::KvConfigManager;
use route_info::{Registration, RouteInfo};

const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";
/// Clients from 4.9.4 on (version ordinal 401) get standard JSON routes.
const V4_9_4: i32 = 401;

#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("{1}")]
    Response(i32, String),
}

impl NamesrvError {
    fn into_response(self, req: &RemotingCommand) -> RemotingCommand {
        let (code, remark) = match self {
            NamesrvError::Protocol(e) => (response::SYSTEM_ERROR, e.to_string()),
            NamesrvError::Response(code, remark) => (code, remark),
        };
        RemotingCommand::response_to(req, code, Some(remark))
    }
}

pub struct Namesrv {
    config: NamesrvConfig,
    routes: Mutex<RouteInfo>,
    kv: KvConfigManager,
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS, None)
}

impl Namesrv {
    pub fn new(config: NamesrvConfig) -> Arc<Self> {
        let kv = KvConfigManager::load(config.kv_config_path.clone());
        Arc::new(Namesrv { config, routes: Mutex::new(RouteInfo::default()), kv })
    }

    /// The name server behind its hooks (request logging; ACL plugs in here).
    pub fn processor(self: &Arc<Self>) -> Arc<Hooked<Namesrv>> {
        Hooked::new(self.clone(), vec![Arc::new(RequestLog { slow: Duration::from_secs(1) })])
    }

    pub fn config(&self) -> &NamesrvConfig {
        &self.config
    }

    /// Drops brokers silent for longer than `brokerExpiredMillis`, checking
    /// every 10 s as the Java name server does.
    pub fn spawn_broker_scan(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                let expiry = Duration::from_millis(me.config.broker_expired_ms);
                let dead = me.routes.lock().unwrap().remove_brokers(Some(expiry), None);
                for addr in dead {
                    tracing::warn!(broker = %addr, "broker expired: not heard from in {} ms", expiry.as_millis());
                }
            }
        });
    }

    async fn handle(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> Result<RemotingCommand, NamesrvError> {
        let e = Ext::of(req);
        match req.code {
            rc::PUT_KV_CONFIG => {
                self.kv.put(e.str("namespace")?, e.str("key")?, e.str("value")?);
                Ok(ok(req))
            }
            rc::GET_KV_CONFIG => {
                let (ns, key) = (e.str("namespace")?, e.str("key")?);
                match self.kv.get(ns, key) {
                    Some(v) => Ok(ok(req).with_ext("value", v)),
                    None => Err(NamesrvError::Response(
                        response::QUERY_NOT_FOUND,
                        format!("No config item, Namespace: {ns} Key: {key}"),
                    )),
                }
            }
            rc::DELETE_KV_CONFIG => {
                self.kv.delete(e.str("namespace")?, e.str("key")?);
                Ok(ok(req))
            }
            rc::GET_KVLIST_BY_NAMESPACE => {
                let ns = e.str("namespace")?;
                match self.kv.list(ns) {
                    Some(table) => Ok(ok(req).with_body(serde_json::to_vec(&KvTable { table }).unwrap())),
                    None => Err(NamesrvError::Response(
                        response::QUERY_NOT_FOUND,
                        format!("No config item, Namespace: {ns}"),
                    )),
                }
            }
            rc::REGISTER_BROKER => self.register_broker(conn, req),
            rc::UNREGISTER_BROKER => {
                self.routes.lock().unwrap().unregister_broker(
                    e.str("clusterName")?,
                    e.str("brokerAddr")?,
                    e.str("brokerName")?,
                    e.i64("brokerId")?,
                );
                Ok(ok(req))
            }
            rc::QUERY_DATA_VERSION => {
                let addr = e.str("brokerAddr")?;
                let dv: DataVersion = match &req.body {
                    Some(b) => fastjson::parse(b)?,
                    None => DataVersion::new(0),
                };
                let mut routes = self.routes.lock().unwrap();
                let changed = routes.is_changed(addr, &dv);
                if !changed {
                    routes.touch(addr);
                }
                let mut resp = ok(req).with_ext("changed", changed);
                if let Some(nv) = routes.data_version(addr) {
                    resp = resp.with_body(serde_json::to_vec(&nv).unwrap());
                }
                Ok(resp)
            }
            rc::GET_ROUTEINFO_BY_TOPIC => {
                let topic = e.str("topic")?;
                let route = self.routes.lock().unwrap().topic_route(topic);
                match route {
                    Some(mut route) => {
                        if self.config.settings.get("orderMessageEnable") == Some("true") {
                            route.order_topic_conf = self.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, topic);
                        }
                        let standard = req.version >= V4_9_4 || e.bool_or("acceptStandardJsonOnly", false);
                        let body = if standard { serde_json::to_vec(&route).unwrap() } else { route.to_json() };
                        Ok(ok(req).with_body(body))
                    }
                    None => Err(NamesrvError::Response(
                        response::TOPIC_NOT_EXIST,
                        format!(
                            "No topic route info in name server for the topic: {topic}\nSee http://rocketmq.apache.org/docs/faq/ for further details."
                        ),
                    )),
                }
            }
            rc::GET_BROKER_CLUSTER_INFO => {
                let info = self.routes.lock().unwrap().cluster_info();
                Ok(ok(req).with_body(info.to_json()))
            }
            rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                let topics = self.routes.lock().unwrap().all_topics();
                let body = serde_json::to_vec(&TopicList { broker_addr: None, topic_list: topics }).unwrap();
                Ok(ok(req).with_body(body))
            }
            rc::GET_TOPICS_BY_CLUSTER => {
                let topics = self.routes.lock().unwrap().topics_of_cluster(e.str("cluster")?);
                let body = serde_json::to_vec(&TopicList { broker_addr: None, topic_list: topics }).unwrap();
                Ok(ok(req).with_body(body))
            }
            rc::DELETE_TOPIC_IN_NAMESRV => {
                self.routes.lock().unwrap().delete_topic(e.str("topic")?);
                Ok(ok(req))
            }
            rc::WIPE_WRITE_PERM_OF_BROKER => {
                let n = self.routes.lock().unwrap().wipe_write_perm(e.str("brokerName")?);
                Ok(ok(req).with_ext("wipeTopicCount", n))
            }
            rc::GET_NAMESRV_CONFIG => Ok(ok(req).with_body(self.config.settings.print().into_bytes())),
            rc::UPDATE_NAMESRV_CONFIG => Err(NamesrvError::Response(
                response::NO_PERMISSION,
                "Can not update name server config at run time: ferromq reads namesrv.conf at start only".into(),
            )),
            _ => Ok(not_supported(req)),
        }
    }

    fn register_broker(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> Result<RemotingCommand, NamesrvError> {
        let e = Ext::of(req);
        let crc = e.opt_i32("bodyCrc32")?.unwrap_or(0);
        if crc != 0 {
            let actual = crate::protocol::message::body_crc(req.body.as_deref().unwrap_or(&[]));
            if actual != crc {
                tracing::warn!(peer = %conn.remote_addr(), "registerBroker crc32 not match");
                return Err(NamesrvError::Response(response::SYSTEM_ERROR, "crc32 not match".into()));
            }
        }
        if e.bool_or("compressed", false) {
            return Err(NamesrvError::Response(
                response::SYSTEM_ERROR,
                "compressed broker registration (compressedRegister=true) is not supported by ferromq".into(),
            ));
        }
        let wrapper: Option<TopicConfigSerializeWrapper> = match &req.body {
            Some(b) => Some(fastjson::parse::<RegisterBrokerBody>(b)?.topic_config_serialize_wrapper),
            None => None,
        };
        let result = self.routes.lock().unwrap().register_broker(Registration {
            cluster_name: e.str("clusterName")?,
            broker_addr: e.str("brokerAddr")?,
            broker_name: e.str("brokerName")?,
            broker_id: e.i64("brokerId")?,
            ha_server_addr: e.opt_str("haServerAddr").unwrap_or(""),
            topics: wrapper.as_ref(),
            conn_id: Some(conn.id()),
        });
        let mut resp = ok(req);
        if let Some(a) = result.ha_server_addr {
            resp = resp.with_ext("haServerAddr", a);
        }
        if let Some(a) = result.master_addr {
            resp = resp.with_ext("masterAddr", a);
        }
        if let Some(table) = self.kv.list(NAMESPACE_ORDER_TOPIC_CONFIG) {
            resp = resp.with_body(serde_json::to_vec(&KvTable { table }).unwrap());
        }
        Ok(resp)
    }
}

impl RequestProcessor for Namesrv {
    async fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        match self.handle(conn, &req).await {
            Ok(resp) => resp.into(),
            Err(e) => e.into_response(&req).into(),
        }
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        let gone = self.routes.lock().unwrap().remove_brokers(None, Some(conn.id()));
        for addr in gone {
            tracing::info!(broker = %addr, "broker connection closed; removed from routes");
        }
    }
}

//! Every request the name server answers (`DefaultRequestProcessor`): one
//! handler function per request code and the one table that maps a code to
//! its handler. `Namesrv`'s `RequestProcessor` impl looks codes up here.

use crate::protocol::body::{KvTable, RegisterBrokerBody, TopicConfigSerializeWrapper, TopicList};
use crate::protocol::header::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, CommandHeader, DeleteKvConfigRequestHeader, DeleteTopicFromNamesrvRequestHeader, GetKvConfigRequestHeader,
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader, WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use crate::config::runtime_update::{check_runtime_changes, parse_update, persist_changes, UpdateRefused};
use crate::config::NamesrvConfig;
use crate::protocol::topic::DataVersion;
use crate::protocol::{fastjson, register, ProtocolError};
use crate::remoting::codes::{request as rc, response};
use crate::remoting::{ConnectionHandle, RemotingCommand};

use super::route_info::Registration;
use super::{LimitReached, Namesrv};

const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";
/// Clients from 4.9.4 on (version ordinal 401) get standard JSON routes.
const V4_9_4: i32 = 401;

#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A bound of [`super::NamesrvLimits`]: `SYSTEM_ERROR`, the key in the remark.
    #[error(transparent)]
    Limit(#[from] LimitReached),
    #[error("{1}")]
    Response(i32, String),
}

impl NamesrvError {
    /// The one place where a failure becomes a wire response.
    pub fn into_response(self, req: &RemotingCommand) -> RemotingCommand {
        let (code, remark) = match self {
            NamesrvError::Protocol(e) => (response::SYSTEM_ERROR, e.to_string()),
            NamesrvError::Limit(e) => (response::SYSTEM_ERROR, e.to_string()),
            NamesrvError::Response(code, remark) => (code, remark),
        };
        RemotingCommand::response_to(req, code, Some(remark))
    }
}

pub type NamesrvResult = Result<RemotingCommand, NamesrvError>;

/// A request handler.
pub type Handler = fn(&Namesrv, &ConnectionHandle, &RemotingCommand) -> NamesrvResult;

/// The dispatch table: `None` for a code the name server does not serve.
pub fn handler(code: i32) -> Option<Handler> {
    Some(match code {
        rc::PUT_KV_CONFIG => put_kv_config,
        rc::GET_KV_CONFIG => get_kv_config,
        rc::DELETE_KV_CONFIG => delete_kv_config,
        rc::GET_KVLIST_BY_NAMESPACE => get_kvlist_by_namespace,
        rc::REGISTER_BROKER => register_broker,
        rc::UNREGISTER_BROKER => unregister_broker,
        rc::QUERY_DATA_VERSION => query_data_version,
        rc::GET_ROUTEINFO_BY_TOPIC => get_routeinfo_by_topic,
        rc::GET_BROKER_CLUSTER_INFO => get_broker_cluster_info,
        rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => get_all_topic_list,
        rc::GET_TOPICS_BY_CLUSTER => get_topics_by_cluster,
        rc::DELETE_TOPIC_IN_NAMESRV => delete_topic_in_namesrv,
        rc::WIPE_WRITE_PERM_OF_BROKER => wipe_write_perm_of_broker,
        rc::ADD_WRITE_PERM_OF_BROKER => add_write_perm_of_broker,
        rc::GET_NAMESRV_CONFIG => get_namesrv_config,
        rc::UPDATE_NAMESRV_CONFIG => update_namesrv_config,
        _ => return None,
    })
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS, None)
}

fn put_kv_config(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let h = PutKvConfigRequestHeader::decode(req)?;
    n.kv.put(&h.namespace, &h.key, &h.value)?;
    Ok(ok(req))
}

fn get_kv_config(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let GetKvConfigRequestHeader { namespace: ns, key } = GetKvConfigRequestHeader::decode(req)?;
    match n.kv.get(&ns, &key) {
        Some(v) => Ok(GetKvConfigResponseHeader { value: Some(v) }.encode(ok(req))),
        None => Err(NamesrvError::Response(
            response::QUERY_NOT_FOUND,
            format!("No config item, Namespace: {ns} Key: {key}"),
        )),
    }
}

fn delete_kv_config(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let h = DeleteKvConfigRequestHeader::decode(req)?;
    n.kv.delete(&h.namespace, &h.key);
    Ok(ok(req))
}

fn get_kvlist_by_namespace(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let ns = GetKvListByNamespaceRequestHeader::decode(req)?.namespace;
    match n.kv.list(&ns) {
        Some(table) => Ok(ok(req).with_body(serde_json::to_vec(&KvTable { table }).unwrap())),
        None => Err(NamesrvError::Response(response::QUERY_NOT_FOUND, format!("No config item, Namespace: {ns}"))),
    }
}

/// Every header field is read before the crc check (the Java order); the
/// crc and the body are still checked before anything is registered.
fn register_broker(n: &Namesrv, conn: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let h = RegisterBrokerRequestHeader::decode(req)?;
    if h.body_crc32 != 0 {
        let actual = crate::protocol::message::body_crc(req.body.as_deref().unwrap_or(&[]));
        if actual != h.body_crc32 {
            tracing::warn!(peer = %conn.remote_addr(), "registerBroker crc32 not match");
            return Err(NamesrvError::Response(response::SYSTEM_ERROR, "crc32 not match".into()));
        }
    }
    // A compressed body inflates to at most what an uncompressed one may
    // be (`frameMaxLength`): its binary layout is smaller than the JSON.
    let wrapper: Option<TopicConfigSerializeWrapper> = match &req.body {
        Some(b) if h.compressed => Some(register::decode_compressed(b, n.config().limits.max_frame)?.topic_config_serialize_wrapper),
        Some(b) => Some(fastjson::parse::<RegisterBrokerBody>(b)?.topic_config_serialize_wrapper),
        None => None,
    };
    let result = n.routes.lock().unwrap().register_broker(Registration {
        cluster_name: &h.cluster_name,
        broker_addr: &h.broker_addr,
        broker_name: &h.broker_name,
        broker_id: h.broker_id,
        ha_server_addr: &h.ha_server_addr,
        topics: wrapper.as_ref(),
        conn_id: Some(conn.id()),
    })?;
    let answer = RegisterBrokerResponseHeader { ha_server_addr: result.ha_server_addr, master_addr: result.master_addr };
    let mut resp = answer.encode(ok(req));
    if let Some(table) = n.kv.list(NAMESPACE_ORDER_TOPIC_CONFIG) {
        resp = resp.with_body(serde_json::to_vec(&KvTable { table }).unwrap());
    }
    Ok(resp)
}

/// `clusterName` is not used: a broker name left with no address leaves
/// every cluster it was registered under.
fn unregister_broker(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let h = UnregisterBrokerRequestHeader::decode(req)?;
    n.routes.lock().unwrap().unregister_broker(&h.broker_addr, &h.broker_name, h.broker_id);
    Ok(ok(req))
}

/// Only `brokerAddr` is used (the other fields name the same broker).
fn query_data_version(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let addr = QueryDataVersionRequestHeader::decode(req)?.broker_addr;
    let dv: DataVersion = match &req.body {
        Some(b) => fastjson::parse(b)?,
        None => DataVersion::new(0),
    };
    let mut routes = n.routes.lock().unwrap();
    let changed = routes.is_changed(&addr, &dv);
    if !changed {
        routes.touch(&addr);
    }
    let mut resp = QueryDataVersionResponseHeader { changed }.encode(ok(req));
    if let Some(nv) = routes.data_version(&addr) {
        resp = resp.with_body(serde_json::to_vec(&nv).unwrap());
    }
    Ok(resp)
}

/// The topic is not checked: any name without a route is TOPIC_NOT_EXIST.
fn get_routeinfo_by_topic(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let h = GetRouteInfoRequestHeader::decode(req)?;
    let topic = h.topic.as_str();
    let route = n.routes.lock().unwrap().topic_route(topic);
    let Some(mut route) = route else {
        return Err(NamesrvError::Response(
            response::TOPIC_NOT_EXIST,
            format!("No topic route info in name server for the topic: {topic}\nSee http://rocketmq.apache.org/docs/faq/ for further details."),
        ));
    };
    if n.config().settings.get("orderMessageEnable") == Some("true") {
        route.order_topic_conf = n.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, topic);
    }
    let standard = req.version >= V4_9_4 || h.accept_standard_json_only;
    let body = if standard { serde_json::to_vec(&route).unwrap() } else { route.to_json() };
    Ok(ok(req).with_body(body))
}

fn get_broker_cluster_info(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let info = n.routes.lock().unwrap().cluster_info();
    Ok(ok(req).with_body(info.to_json()))
}

fn topic_list(req: &RemotingCommand, topics: Vec<String>) -> NamesrvResult {
    let body = serde_json::to_vec(&TopicList { broker_addr: None, topic_list: topics }).unwrap();
    Ok(ok(req).with_body(body))
}

fn get_all_topic_list(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let topics = n.routes.lock().unwrap().all_topics();
    topic_list(req, topics)
}

fn get_topics_by_cluster(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let cluster = GetTopicsByClusterRequestHeader::decode(req)?.cluster;
    let topics = n.routes.lock().unwrap().topics_of_cluster(&cluster);
    topic_list(req, topics)
}

/// The topic is not checked (a name with no route is a no-op).
fn delete_topic_in_namesrv(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let topic = DeleteTopicFromNamesrvRequestHeader::decode(req)?.topic;
    n.routes.lock().unwrap().delete_topic(&topic);
    Ok(ok(req))
}

fn wipe_write_perm_of_broker(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let broker_name = WipeWritePermOfBrokerRequestHeader::decode(req)?.broker_name;
    let count = n.routes.lock().unwrap().wipe_write_perm(&broker_name);
    Ok(WipeWritePermOfBrokerResponseHeader { wipe_topic_count: count as i32 }.encode(ok(req)))
}

fn add_write_perm_of_broker(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let broker_name = AddWritePermOfBrokerRequestHeader::decode(req)?.broker_name;
    let count = n.routes.lock().unwrap().add_write_perm(&broker_name);
    Ok(AddWritePermOfBrokerResponseHeader { add_topic_count: count as i32 }.encode(ok(req)))
}

fn get_namesrv_config(n: &Namesrv, _: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    Ok(ok(req).with_body(n.config().settings.print().into_bytes()))
}

/// Settings the name server reads while running (ferromq's; Java applies
/// any key, including ones it reads only at start, and says nothing).
pub const RUNTIME_KEYS: &[&str] = &[
    "orderMessageEnable",
    "brokerExpiredMillis",
    "namesrvMaxBrokers",
    "namesrvMaxTopicRoutes",
    "namesrvMaxKvConfigs",
    "namesrvMaxKvConfigBytes",
];

/// `updateNamesrvConfig`: the new configuration is built and checked whole
/// before anything changes, written into the `-c` file when there is one,
/// then put in force.
fn update_namesrv_config(n: &Namesrv, conn: &ConnectionHandle, req: &RemotingCommand) -> NamesrvResult {
    let refused = |r: UpdateRefused| NamesrvError::Response(r.code, r.remark);
    let changes = parse_update(req.body.as_deref().unwrap_or(b"")).map_err(refused)?;
    // Java's own refusal for its two path settings, word for word.
    if changes.iter().any(|(k, _)| k == "kvConfigPath" || k == "configStorePath") {
        return Err(NamesrvError::Response(response::NO_PERMISSION, "Can not update config path".into()));
    }
    check_runtime_changes(&changes, RUNTIME_KEYS, "updateNamesrvConfig").map_err(refused)?;
    if changes.is_empty() {
        return Ok(ok(req));
    }
    let old = n.config();
    let mut settings = old.settings.clone();
    settings.apply(changes.clone());
    let mut new = NamesrvConfig::from_settings(settings)
        .map_err(|e| NamesrvError::Response(response::SYSTEM_ERROR, format!("Can not update config: {e}")))?;
    new.config_file = old.config_file.clone();
    if let Some(path) = &new.config_file {
        persist_changes(path, &changes).map_err(refused)?;
    }
    tracing::info!(?changes, peer = %conn.remote_addr(), "name server config updated");
    n.replace_config(new);
    Ok(ok(req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{namesrv_defaults, NamesrvConfig};
    use crate::remoting::connection::{Reply, RequestProcessor};

    async fn process(n: &Namesrv, req: RemotingCommand) -> RemotingCommand {
        let (conn, _sent) = ConnectionHandle::detached("127.0.0.1:5556".parse().unwrap());
        match n.process(&conn, req).await {
            Reply::Now(Some(r)) => r,
            _ => panic!("the name server answers at once"),
        }
    }

    #[tokio::test]
    async fn table_serves_kv_and_refuses_unknown_codes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = namesrv_defaults();
        s.apply([("kvConfigPath".to_string(), dir.path().join("kv.json").display().to_string())]);
        let n = Namesrv::new(NamesrvConfig::from_settings(s).unwrap());
        let put = RemotingCommand::request(rc::PUT_KV_CONFIG, 1)
            .with_ext("namespace", "NS")
            .with_ext("key", "k")
            .with_ext("value", "v");
        assert_eq!(process(&n, put).await.code, response::SUCCESS);
        let get = RemotingCommand::request(rc::GET_KV_CONFIG, 2).with_ext("namespace", "NS").with_ext("key", "k");
        assert_eq!(process(&n, get).await.ext("value"), Some("v"));
        let missing = RemotingCommand::request(rc::GET_KV_CONFIG, 3).with_ext("namespace", "NS").with_ext("key", "x");
        let resp = process(&n, missing).await;
        assert_eq!((resp.code, resp.opaque), (response::QUERY_NOT_FOUND, 3));
        assert!(handler(9999).is_none());
        let resp = process(&n, RemotingCommand::request(9999, 4)).await;
        assert_eq!(resp.code, response::REQUEST_CODE_NOT_SUPPORTED);
        assert_eq!(resp.remark.as_deref(), Some(" request type 9999 not supported"));
    }

    fn update(body: &str) -> RemotingCommand {
        RemotingCommand::request(rc::UPDATE_NAMESRV_CONFIG, 1).with_body(body.as_bytes().to_vec())
    }

    fn put(key: &str) -> RemotingCommand {
        RemotingCommand::request(rc::PUT_KV_CONFIG, 1).with_ext("namespace", "NS").with_ext("key", key).with_ext("value", "v")
    }

    #[tokio::test]
    async fn run_time_settings_change_checked_whole_and_are_written_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("namesrv.conf");
        std::fs::write(&file, "# mine\nlistenPort=9876\nnamesrvMaxKvConfigs=5\n").unwrap();
        let mut s = namesrv_defaults();
        s.apply([("kvConfigPath".to_string(), dir.path().join("kv.json").display().to_string())]);
        let mut cfg = NamesrvConfig::from_settings(s).unwrap();
        cfg.config_file = Some(file.clone());
        let n = Namesrv::new(cfg);

        let r = process(&n, update("orderMessageEnable=true\nnamesrvMaxKvConfigs=1")).await;
        assert_eq!(r.code, response::SUCCESS, "{:?}", r.remark);
        let printed = process(&n, RemotingCommand::request(rc::GET_NAMESRV_CONFIG, 1)).await;
        assert!(String::from_utf8_lossy(printed.body.as_deref().unwrap()).contains("orderMessageEnable=true"));
        assert_eq!(process(&n, put("k1")).await.code, response::SUCCESS);
        let r = process(&n, put("k2")).await;
        assert_eq!(r.remark.as_deref(), Some("name server limit namesrvMaxKvConfigs (1) reached"), "the new bound holds");
        let on_disk = std::fs::read_to_string(&file).unwrap();
        assert!(on_disk.starts_with("# mine\nlistenPort=9876\nnamesrvMaxKvConfigs=1\n"), "{on_disk}");
        assert!(on_disk.contains("orderMessageEnable=true"), "{on_disk}");

        // Java's words for its path settings; ferromq's for start-only ones.
        let r = process(&n, update("kvConfigPath=/tmp/x")).await;
        assert_eq!((r.code, r.remark.as_deref()), (response::NO_PERMISSION, Some("Can not update config path")));
        let r = process(&n, update("listenPort=1234")).await;
        assert_eq!(r.code, response::NO_PERMISSION);
        assert!(r.remark.unwrap().contains("[listenPort] at run time"));
        // A bad value refuses the whole update: nothing changes.
        let r = process(&n, update("brokerExpiredMillis=1000\nnamesrvMaxBrokers=0")).await;
        assert_eq!(r.code, response::SYSTEM_ERROR, "{:?}", r.remark);
        assert_eq!(n.config().broker_expired_ms, 120_000);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), on_disk);
    }
}

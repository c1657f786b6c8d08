//! `ferromq ceiling`: the box's limit, as a reference for the benchmark. A
//! server on ferromq's own remoting layer (same frames, same decoding, same
//! writer) that answers what the load generator asks — UPDATE_AND_CREATE_TOPIC,
//! GET_MAX_OFFSET, SEND_MESSAGE_V2, PULL_MESSAGE — with no store behind it:
//!
//! * `nostore`: a send is only counted (its store time kept, 8 bytes, so a
//!   pull can report end-to-end latency); a pull is answered with records
//!   encoded from the queue's last body.
//! * `append`: as `nostore`, and every send body is first written to one
//!   file with `pwrite` (page cache, no fsync), as a log would.
//!
//! What ferromq costs above this is its broker and store.
//!
//! It also answers a Java producer's few other requests (GET_ROUTEINFO_BY_TOPIC
//! with a route to itself, HEART_BEAT, UNREGISTER_CLIENT), so that RocketMQ's
//! benchmark Producer can be pointed at it as its name server: what that
//! client reaches against a broker that does nothing is the most any broker
//! can show with it on this box.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::protocol::header::{
    CommandHeader, CreateTopicRequestHeader, GetRouteInfoRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, SendMessageRequestHeader, SendMessageResponseHeader,
};
use crate::protocol::message::{body_crc, encode_record_parts, RecordParts};
use crate::protocol::route::{BrokerData, QueueData, TopicRouteData};
use crate::remoting::codes::{request, response};
use crate::remoting::connection::{not_supported, Reply, RequestProcessor};
use crate::remoting::limits::{Budget, Limits};
use crate::remoting::{ConnectionHandle, RemotingCommand};
use crate::store::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum CeilingMode {
    /// Answer sends and pulls, store nothing.
    Nostore,
    /// Also append every send body to a file (no fsync).
    Append,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CeilingArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub listen: SocketAddr,
    #[arg(long, value_enum, default_value_t = CeilingMode::Nostore)]
    pub mode: CeilingMode,
    /// The file `append` writes to.
    #[arg(long, default_value = "ceiling-append.log")]
    pub file: PathBuf,
    /// Sends remembered at most (8 bytes each); later sends get SYSTEM_BUSY.
    #[arg(long, default_value_t = 50_000_000)]
    pub max_messages: u64,
}

/// Topics a peer may create.
const MAX_TOPICS: usize = 1024;
/// Queues per topic at most.
const MAX_QUEUES: i32 = 1024;
/// Queues of a topic a send creates.
const AUTO_QUEUES: i32 = 8;
/// A pull's limits, as the store's (32 messages, 256 KiB).
const MAX_PULL_COUNT: usize = 32;
const MAX_PULL_BYTES: usize = 256 * 1024;
/// Longest a pull is held.
const MAX_HOLD: Duration = Duration::from_secs(30);

/// What a pull answers with: the queue's last send, re-encoded per message.
#[derive(Clone)]
struct Template {
    topic: String,
    body: Bytes,
    crc: i32,
    properties: String,
    born_host: SocketAddr,
    born_timestamp: i64,
}

#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    grew: Notify,
}

#[derive(Default)]
struct QueueState {
    /// Store time of each message, by queue offset.
    stamps: Vec<i64>,
    template: Option<Template>,
}

pub struct Ceiling {
    file: Option<std::fs::File>,
    file_end: AtomicU64,
    topics: RwLock<HashMap<String, Arc<[Queue]>>>,
    messages: AtomicU64,
    max_messages: u64,
    store_host: SocketAddr,
}

impl Ceiling {
    pub fn new(args: &CeilingArgs) -> std::io::Result<Self> {
        let file = match args.mode {
            CeilingMode::Append => Some(
                std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&args.file)?,
            ),
            CeilingMode::Nostore => None,
        };
        Ok(Ceiling {
            file,
            file_end: AtomicU64::new(0),
            topics: RwLock::default(),
            messages: AtomicU64::new(0),
            max_messages: args.max_messages,
            store_host: args.listen,
        })
    }

    fn queues(&self, topic: &str, create: Option<i32>) -> Result<Arc<[Queue]>, RemotingCommandError> {
        if let Some(q) = self.topics.read().unwrap().get(topic) {
            return Ok(q.clone());
        }
        let Some(n) = create else {
            return Err((response::TOPIC_NOT_EXIST, format!("topic[{topic}] not exist")));
        };
        let mut topics = self.topics.write().unwrap();
        if let Some(q) = topics.get(topic) {
            return Ok(q.clone());
        }
        if topics.len() >= MAX_TOPICS {
            return Err((response::SYSTEM_ERROR, format!("ceiling: more than {MAX_TOPICS} topics")));
        }
        let q: Arc<[Queue]> = (0..n.clamp(1, MAX_QUEUES)).map(|_| Queue::default()).collect();
        topics.insert(topic.to_string(), q.clone());
        Ok(q)
    }

    fn create_topic(&self, req: &RemotingCommand) -> Result<RemotingCommand, RemotingCommandError> {
        let h = CreateTopicRequestHeader::decode(req).map_err(bad)?;
        let n = h.read_queue_nums.max(h.write_queue_nums);
        if !(1..=MAX_QUEUES).contains(&n) {
            return Err((response::SYSTEM_ERROR, format!("ceiling: {n} queues")));
        }
        self.queues(&h.topic, Some(n))?;
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }

    /// A route to this server for any topic (created with the send default).
    fn route(&self, req: &RemotingCommand) -> Result<RemotingCommand, RemotingCommandError> {
        let h = GetRouteInfoRequestHeader::decode(req).map_err(bad)?;
        let n = self.queues(&h.topic, Some(AUTO_QUEUES))?.len() as i32;
        let route = TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: [(0, self.store_host.to_string())].into(),
                broker_name: "ceiling".into(),
                cluster: "ceiling".into(),
            }],
            queue_datas: vec![QueueData {
                broker_name: "ceiling".into(),
                perm: crate::protocol::perm::READ | crate::protocol::perm::WRITE,
                read_queue_nums: n,
                topic_sys_flag: 0,
                write_queue_nums: n,
            }],
            ..Default::default()
        };
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None).with_body(route.to_json()))
    }

    fn max_offset(&self, req: &RemotingCommand) -> Result<RemotingCommand, RemotingCommandError> {
        let h = GetMaxOffsetRequestHeader::decode(req).map_err(bad)?;
        let queues = self.queues(&h.topic, None)?;
        let offset = queue(&queues, h.queue_id)?.state.lock().unwrap().stamps.len() as i64;
        Ok(GetMaxOffsetResponseHeader { offset }.encode(RemotingCommand::response_to(req, response::SUCCESS, None)))
    }

    fn send(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> Result<RemotingCommand, RemotingCommandError> {
        let h = SendMessageRequestHeader::decode(req).map_err(bad)?;
        let queues = self.queues(&h.topic, Some(AUTO_QUEUES))?;
        let q = queue(&queues, h.queue_id)?;
        let body = req.body.clone().unwrap_or_default();
        if self.messages.fetch_add(1, Ordering::Relaxed) >= self.max_messages {
            self.messages.fetch_sub(1, Ordering::Relaxed);
            return Err((response::SYSTEM_BUSY, "ceiling: --max-messages reached".into()));
        }
        if let Some(f) = &self.file {
            let at = self.file_end.fetch_add(body.len() as u64, Ordering::Relaxed);
            f.write_all_at(&body, at).map_err(|e| (response::SYSTEM_ERROR, format!("ceiling: append: {e}")))?;
        }
        let stamp = now_ms();
        let offset = {
            let mut s = q.state.lock().unwrap();
            if s.template.as_ref().is_none_or(|t| t.body.len() != body.len() || t.topic != h.topic) {
                s.template = Some(Template {
                    topic: h.topic.clone(),
                    crc: body_crc(&body),
                    body,
                    properties: h.properties.clone(),
                    born_host: conn.remote_addr(),
                    born_timestamp: h.born_timestamp,
                });
            }
            s.stamps.push(stamp);
            s.stamps.len() as i64 - 1
        };
        q.grew.notify_waiters();
        let answer = SendMessageResponseHeader {
            msg_id: format!("{:032X}", self.messages.load(Ordering::Relaxed)),
            queue_id: h.queue_id,
            queue_offset: offset,
            transaction_id: None,
        };
        Ok(answer.encode(RemotingCommand::response_to(req, response::SUCCESS, None)))
    }

    /// The messages at `h.queue_offset` on, or None when there are none yet.
    fn read(&self, req: &RemotingCommand, h: &PullMessageRequestHeader, q: &Queue) -> Option<RemotingCommand> {
        let s = q.state.lock().unwrap();
        let max = s.stamps.len() as i64;
        let (code, next, body) = if h.queue_offset < 0 || h.queue_offset > max {
            (response::PULL_OFFSET_MOVED, max, None)
        } else if h.queue_offset == max {
            return None;
        } else {
            let t = s.template.as_ref()?;
            let mut out = Vec::new();
            let mut offset = h.queue_offset;
            let limit = (h.max_msg_nums.max(1) as usize).min(MAX_PULL_COUNT);
            for stamp in &s.stamps[h.queue_offset as usize..] {
                if offset - h.queue_offset == limit as i64 || (!out.is_empty() && out.len() + t.body.len() > MAX_PULL_BYTES) {
                    break;
                }
                let start = out.len();
                let parts = RecordParts {
                    body_crc: t.crc,
                    queue_id: h.queue_id,
                    flag: 0,
                    sys_flag: 0,
                    born_timestamp: t.born_timestamp,
                    born_host: t.born_host,
                    store_timestamp: *stamp,
                    store_host: self.store_host,
                    reconsume_times: 0,
                    prepared_transaction_offset: 0,
                    topic: &t.topic,
                };
                encode_record_parts(&parts, &t.body, t.properties.as_bytes(), &[], &mut out).ok()?;
                out[start + 20..start + 28].copy_from_slice(&offset.to_be_bytes());
                offset += 1;
            }
            (response::SUCCESS, offset, Some(out))
        };
        let header = PullMessageResponseHeader { suggest_which_broker_id: 0, next_begin_offset: next, min_offset: 0, max_offset: max };
        let remark = if code == response::SUCCESS { "FOUND" } else { "OFFSET_OVERFLOW_BADLY" };
        let mut resp = header.encode(RemotingCommand::response_to(req, code, Some(remark.into())));
        resp.body = body.map(Bytes::from);
        Some(resp)
    }

    fn pull(self: &Arc<Self>, req: RemotingCommand) -> Reply {
        let h = match PullMessageRequestHeader::decode(&req).map_err(bad) {
            Ok(h) => h,
            Err(e) => return error_response(&req, e).into(),
        };
        let q = match self.queues(&h.topic, None) {
            Ok(qs) => qs,
            Err(e) => return error_response(&req, e).into(),
        };
        if let Err(e) = queue(&q, h.queue_id) {
            return error_response(&req, e).into();
        }
        if let Some(r) = self.read(&req, &h, &q[h.queue_id as usize]) {
            return r.into();
        }
        let wait = Duration::from_millis(h.suspend_timeout_millis.max(0) as u64).min(MAX_HOLD);
        let me = self.clone();
        Reply::later(async move {
            let q = &q[h.queue_id as usize];
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let grew = q.grew.notified();
                if let Some(r) = me.read(&req, &h, q) {
                    return Some(r);
                }
                if tokio::time::timeout_at(deadline, grew).await.is_err() {
                    break;
                }
            }
            let header = PullMessageResponseHeader {
                suggest_which_broker_id: 0,
                next_begin_offset: h.queue_offset,
                min_offset: 0,
                max_offset: h.queue_offset,
            };
            Some(header.encode(RemotingCommand::response_to(&req, response::PULL_NOT_FOUND, Some("OFFSET_OVERFLOW_ONE".into()))))
        })
    }
}

/// A response code and remark.
type RemotingCommandError = (i32, String);

fn bad(e: impl std::fmt::Display) -> RemotingCommandError {
    (response::SYSTEM_ERROR, e.to_string())
}

fn queue(queues: &[Queue], id: i32) -> Result<&Queue, RemotingCommandError> {
    usize::try_from(id)
        .ok()
        .and_then(|i| queues.get(i))
        .ok_or_else(|| (response::SYSTEM_ERROR, format!("queueId[{id}] is illegal")))
}

fn error_response(req: &RemotingCommand, (code, remark): RemotingCommandError) -> RemotingCommand {
    RemotingCommand::response_to(req, code, Some(remark))
}

/// The processor behind the listening port.
pub struct CeilingProcessor(pub Arc<Ceiling>);

impl RequestProcessor for CeilingProcessor {
    async fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        let c = &self.0;
        let r = match req.code {
            request::SEND_MESSAGE_V2 => c.send(conn, &req),
            request::PULL_MESSAGE => return c.pull(req),
            request::UPDATE_AND_CREATE_TOPIC => c.create_topic(&req),
            request::GET_MAX_OFFSET => c.max_offset(&req),
            request::GET_ROUTEINFO_BY_TOPIC => c.route(&req),
            request::HEART_BEAT | request::UNREGISTER_CLIENT => Ok(RemotingCommand::response_to(&req, response::SUCCESS, None)),
            _ => return not_supported(&req).into(),
        };
        r.unwrap_or_else(|e| error_response(&req, e)).into()
    }
}

/// Listens on `args.listen` and serves until the task is dropped. Returns
/// the bound address once listening (port 0 picks one).
pub async fn start(args: &CeilingArgs) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let ceiling = Arc::new(Ceiling::new(args)?);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let processor = Arc::new(CeilingProcessor(ceiling));
    let task = tokio::spawn(crate::remoting::server::serve(listener, processor, Budget::new(Limits::default())));
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::MessageExt;

    fn args(mode: CeilingMode, file: PathBuf) -> CeilingArgs {
        CeilingArgs { listen: "127.0.0.1:0".parse().unwrap(), mode, file, max_messages: 3 }
    }

    fn send_req(topic: &str, queue_id: i32, body: &'static [u8]) -> RemotingCommand {
        SendMessageRequestHeader {
            producer_group: "G".into(),
            topic: topic.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id,
            born_timestamp: 1,
            properties: "WAIT\u{1}true\u{2}".into(),
            ..Default::default()
        }
        .encode(RemotingCommand::request(request::SEND_MESSAGE_V2, 1))
        .with_body(body)
    }

    fn pull_req(topic: &str, queue_id: i32, offset: i64) -> RemotingCommand {
        PullMessageRequestHeader {
            consumer_group: "C".into(),
            topic: topic.into(),
            queue_id,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: 0,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: None,
            sub_version: 0,
            expression_type: None,
            bname: None,
        }
        .encode(RemotingCommand::request(request::PULL_MESSAGE, 2))
    }

    async fn answer(p: &CeilingProcessor, conn: &ConnectionHandle, req: RemotingCommand) -> RemotingCommand {
        match p.process(conn, req).await {
            Reply::Now(Some(r)) => r,
            Reply::Later(f) => f.await.unwrap(),
            Reply::Now(None) => panic!("no answer"),
        }
    }

    #[tokio::test]
    async fn a_java_producer_is_routed_to_the_ceiling_itself() {
        let mut a = args(CeilingMode::Nostore, PathBuf::new());
        a.listen = "127.0.0.1:20911".parse().unwrap();
        let p = CeilingProcessor(Arc::new(Ceiling::new(&a).unwrap()));
        let (conn, _) = ConnectionHandle::detached("127.0.0.1:5".parse().unwrap());
        let req = GetRouteInfoRequestHeader { topic: "T".into(), accept_standard_json_only: false }
            .encode(RemotingCommand::request(request::GET_ROUTEINFO_BY_TOPIC, 3));
        let r = answer(&p, &conn, req).await;
        assert_eq!(r.code, response::SUCCESS);
        let route: TopicRouteData = crate::protocol::fastjson::parse(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(route.broker_datas[0].master_addr(), Some("127.0.0.1:20911"));
        assert_eq!((route.queue_datas[0].write_queue_nums, route.queue_datas[0].perm), (AUTO_QUEUES, 6));
        let hb = RemotingCommand::request(request::HEART_BEAT, 4).with_body(&b"{}"[..]);
        assert_eq!(answer(&p, &conn, hb).await.code, response::SUCCESS);
    }

    #[tokio::test]
    async fn append_writes_bodies_and_pulls_return_them_bounded_by_max_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let p = CeilingProcessor(Arc::new(Ceiling::new(&args(CeilingMode::Append, path.clone())).unwrap()));
        let (conn, _) = ConnectionHandle::detached("127.0.0.1:5".parse().unwrap());
        for (i, b) in [&b"one"[..], b"two", b"three"].into_iter().enumerate() {
            let r = answer(&p, &conn, send_req("T", 1, b)).await;
            assert_eq!(r.code, response::SUCCESS);
            assert_eq!(SendMessageResponseHeader::decode(&r).unwrap().queue_offset, i as i64);
        }
        assert_eq!(answer(&p, &conn, send_req("T", 1, b"four")).await.code, response::SYSTEM_BUSY);
        assert_eq!(std::fs::read(&path).unwrap(), b"onetwothree");
        let r = answer(&p, &conn, pull_req("T", 1, 1)).await;
        assert_eq!(r.code, response::SUCCESS);
        let msgs = MessageExt::decode_all(r.body.as_deref().unwrap()).unwrap();
        // Bodies are the queue's last one, re-encoded: sizes are what counts.
        assert_eq!(msgs.iter().map(|m| m.queue_offset).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(&msgs[0].body[..], b"three");
        assert_eq!(PullMessageResponseHeader::decode(&r).unwrap().next_begin_offset, 3);
        assert_eq!(answer(&p, &conn, pull_req("T", 1, 3)).await.code, response::PULL_NOT_FOUND);
        assert_eq!(answer(&p, &conn, pull_req("T", 1, 9)).await.code, response::PULL_OFFSET_MOVED);
    }

    #[tokio::test]
    async fn hostile_requests_get_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = CeilingProcessor(Arc::new(Ceiling::new(&args(CeilingMode::Nostore, dir.path().join("x"))).unwrap()));
        let (conn, _) = ConnectionHandle::detached("127.0.0.1:5".parse().unwrap());
        assert_eq!(answer(&p, &conn, send_req("T", 8, b"x")).await.code, response::SYSTEM_ERROR);
        assert_eq!(answer(&p, &conn, send_req("T", -1, b"x")).await.code, response::SYSTEM_ERROR);
        assert_eq!(answer(&p, &conn, pull_req("Nope", 0, 0)).await.code, response::TOPIC_NOT_EXIST);
        let garbled = RemotingCommand::request(request::SEND_MESSAGE_V2, 1);
        assert_eq!(answer(&p, &conn, garbled).await.code, response::SYSTEM_ERROR);
        assert_eq!(answer(&p, &conn, RemotingCommand::request(9999, 1)).await.code, response::REQUEST_CODE_NOT_SUPPORTED);
        assert!(!dir.path().join("x").exists(), "nostore writes no file");
    }
}

//! What a request asks for (`PlainAccessValidator.parse`): per request code,
//! the topics and retry topics (groups) it touches and the permission each
//! needs. Codes not listed need no resource permission (only identity).

use std::net::SocketAddr;

use super::error::{AclError, AclResult};
use super::perm::{PUB, SUB};
use super::sign::{ACCESS_KEY, SIGNATURE};
use crate::protocol::heartbeat::HeartbeatData;
use crate::remoting::codes::request as rc;
use crate::remoting::RemotingCommand;

pub const RETRY_PREFIX: &str = "%RETRY%";

/// One request as the validator sees it.
pub struct AccessRequest<'a> {
    pub req: &'a RemotingCommand,
    /// The peer's host as the Java broker writes it.
    pub host: String,
    pub access_key: Option<&'a str>,
    pub signature: Option<&'a str>,
    /// Resources and needed permissions, in the order the Java broker
    /// checks them (so the first refusal named is the same).
    pub resources: Vec<(String, u8)>,
}

fn retry(group: Option<&str>) -> Option<String> {
    group.map(|g| format!("{RETRY_PREFIX}{g}"))
}

/// `RemotingCommand.decodeCommandCustomHeader`'s refusal of a missing `@CFNotNull` field.
fn required<'a>(req: &'a RemotingCommand, k: &str) -> AclResult<&'a str> {
    req.ext(k).ok_or_else(|| AclError::BadRequest(format!("the custom field <{k}> is null")))
}

/// A number field the Java header class types as one.
fn number(req: &RemotingCommand, k: &str) -> AclResult<()> {
    let v = required(req, k)?;
    v.parse::<i64>().map(|_| ()).map_err(|_| AclError::BadRequest(format!("For input string: \"{v}\"")))
}

impl<'a> AccessRequest<'a> {
    pub fn parse(req: &'a RemotingCommand, remote: &SocketAddr) -> AclResult<Self> {
        let mut me = AccessRequest {
            req,
            host: super::address::remote_host(remote),
            access_key: req.ext(ACCESS_KEY),
            signature: req.ext(SIGNATURE),
            resources: Vec::new(),
        };
        // Java: a request without extFields is judged on its address alone.
        if req.ext_fields.is_empty() {
            return Ok(me);
        }
        let mut add = |res: Option<String>, perm: u8| {
            if let Some(r) = res {
                me.resources.push((r, perm));
            }
        };
        match req.code {
            // Java's validator leaves SEND_BATCH_MESSAGE out, so any signed
            // account may batch-send to any topic; ferromq checks it as a send.
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => {
                let (tk, gk) = if req.code == rc::SEND_MESSAGE { ("topic", "group") } else { ("b", "a") };
                match req.ext(tk) {
                    Some(t) if t.starts_with(RETRY_PREFIX) => add(retry(req.ext(gk)), SUB),
                    t => add(t.map(str::to_string), PUB),
                }
            }
            rc::CONSUMER_SEND_MSG_BACK => add(retry(req.ext("group")), SUB),
            rc::PULL_MESSAGE => {
                add(req.ext("topic").map(str::to_string), SUB);
                add(retry(req.ext("consumerGroup")), SUB);
            }
            rc::QUERY_MESSAGE => add(req.ext("topic").map(str::to_string), SUB),
            rc::HEART_BEAT => {
                let body = req.body.as_deref().unwrap_or_default();
                let hb: HeartbeatData = crate::protocol::fastjson::parse(body)
                    .map_err(|e| AclError::BadRequest(format!("heartbeat body: {e}")))?;
                for c in &hb.consumer_data_set {
                    add(retry(Some(&c.group_name)), SUB);
                    for s in &c.subscription_data_set {
                        add(Some(s.topic.clone()), SUB);
                    }
                }
            }
            rc::UNREGISTER_CLIENT => {
                required(req, "clientID")?;
                add(retry(req.ext("consumerGroup")), SUB);
            }
            rc::GET_CONSUMER_LIST_BY_GROUP => add(retry(Some(required(req, "consumerGroup")?)), SUB),
            rc::UPDATE_CONSUMER_OFFSET => {
                let group = required(req, "consumerGroup")?;
                let topic = required(req, "topic")?;
                number(req, "queueId")?;
                number(req, "commitOffset")?;
                add(retry(Some(group)), SUB);
                add(Some(topic.to_string()), SUB);
            }
            _ => {}
        }
        me.resources = java_hash_map_order(std::mem::take(&mut me.resources));
        Ok(me)
    }
}

/// `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The entries as a Java `HashMap<String, Byte>` filled in this order would
/// iterate them: a later put of a key replaces the value in place; order is
/// by bucket (spread hash masked by the table size), then insertion.
pub fn java_hash_map_order(puts: Vec<(String, u8)>) -> Vec<(String, u8)> {
    let mut entries: Vec<(String, u8)> = Vec::with_capacity(puts.len());
    for (k, v) in puts {
        match entries.iter_mut().find(|(ek, _)| *ek == k) {
            Some(e) => e.1 = v,
            None => entries.push((k, v)),
        }
    }
    let mut cap = 16usize;
    while entries.len() > cap * 3 / 4 {
        cap *= 2;
    }
    let bucket = |k: &str| {
        let h = java_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (cap - 1)
    };
    entries.sort_by_key(|(k, _)| bucket(k));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "10.0.0.9:4000".parse().unwrap()
    }

    fn names<'r>(r: &'r AccessRequest) -> Vec<(&'r str, u8)> {
        r.resources.iter().map(|(k, v)| (k.as_str(), *v)).collect()
    }

    #[test]
    fn sends_need_pub_on_the_topic_and_retries_sub_on_the_group() {
        let send = RemotingCommand::request(rc::SEND_MESSAGE_V2, 1).with_ext("a", "pg").with_ext("b", "T1");
        assert_eq!(names(&AccessRequest::parse(&send, &addr()).unwrap()), vec![("T1", PUB)]);
        let batch = RemotingCommand::request(rc::SEND_BATCH_MESSAGE, 1).with_ext("a", "pg").with_ext("b", "T1");
        assert_eq!(names(&AccessRequest::parse(&batch, &addr()).unwrap()), vec![("T1", PUB)]);
        let retry =
            RemotingCommand::request(rc::SEND_MESSAGE, 1).with_ext("group", "cg").with_ext("topic", "%RETRY%cg");
        assert_eq!(names(&AccessRequest::parse(&retry, &addr()).unwrap()), vec![("%RETRY%cg", SUB)]);
        let pull = RemotingCommand::request(rc::PULL_MESSAGE, 1).with_ext("topic", "T").with_ext("consumerGroup", "g");
        let p = AccessRequest::parse(&pull, &addr()).unwrap();
        assert_eq!(p.resources.len(), 2);
        assert_eq!(p.host, "10.0.0.9");
    }

    #[test]
    fn heartbeats_name_every_group_and_subscription() {
        let body = br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"T","subString":"*"}]}],"producerDataSet":[]}"#;
        let hb = RemotingCommand::request(rc::HEART_BEAT, 1).with_ext("AccessKey", "k").with_body(&body[..]);
        let r = AccessRequest::parse(&hb, &addr()).unwrap();
        let mut got = names(&r);
        got.sort();
        assert_eq!(got, vec![("%RETRY%g", SUB), ("T", SUB)]);
        let bad = RemotingCommand::request(rc::HEART_BEAT, 1).with_ext("AccessKey", "k").with_body(&b"{"[..]);
        assert!(matches!(AccessRequest::parse(&bad, &addr()), Err(AclError::BadRequest(_))));
        // Without ext fields the Java broker reads no resources at all.
        let bare = RemotingCommand::request(rc::HEART_BEAT, 1).with_body(&b"{"[..]);
        assert!(AccessRequest::parse(&bare, &addr()).unwrap().resources.is_empty());
    }

    #[test]
    fn missing_required_header_fields_are_refused_as_java_words_it() {
        let r = RemotingCommand::request(rc::UPDATE_CONSUMER_OFFSET, 1).with_ext("topic", "T");
        let e = AccessRequest::parse(&r, &addr()).err().unwrap();
        assert_eq!(e.to_string(), "the custom field <consumerGroup> is null");
    }

    #[test]
    fn iteration_order_is_a_java_hash_maps() {
        assert_eq!(java_hash("hello"), 99162322);
        // In a 16-bucket Java HashMap "%RETRY%g" (bucket 0) comes before "T" (bucket 4).
        let o = java_hash_map_order(vec![("T".into(), SUB), ("%RETRY%g".into(), SUB), ("T".into(), PUB)]);
        let want: Vec<(String, u8)> = {
            let mut v = vec![("T".to_string(), PUB), ("%RETRY%g".to_string(), SUB)];
            let b = |k: &str| {
                let h = java_hash(k) as u32;
                (h ^ (h >> 16)) & 15
            };
            v.sort_by_key(|(k, _)| b(k));
            v
        };
        assert_eq!(o, want);
    }
}

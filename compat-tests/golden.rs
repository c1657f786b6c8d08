//! Golden vectors: frames and bodies produced by the real RocketMQ 4.9.7 Java
//! library (see compat-tests/README.md for how each was made). Every fixture
//! is decoded and checked against the values the Java side recorded in its
//! `.expected.json`, then re-encoded and compared.
//!
//! Byte-for-byte comparison is used where the encoding is deterministic on
//! both sides (message records, batch items, JSON header text whose
//! extFields Java happened to write sorted). Where Java writes a HashMap in
//! its own iteration order (response extFields, some JSON bodies), the test
//! compares parsed values instead and says so.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use ferromq::protocol::body::RegisterBrokerBody;
use ferromq::protocol::{fastjson, register};
use ferromq::protocol::header::{
    CommandHeader, GetRouteInfoRequestHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    SendMessageRequestHeader, SendMessageResponseHeader,
};
use ferromq::protocol::heartbeat::{HeartbeatData, SubscriptionData};
use ferromq::protocol::message::{body_crc, decode_batch, encode_record_parts, MessageExt, RecordParts};
use ferromq::protocol::route::TopicRouteData;
use ferromq::remoting::{RemotingCommand, SerializeType};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compat-tests/fixtures").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("{name}.expected.json"))).unwrap()
}

/// Decodes a whole frame (length prefix included).
fn decode_frame(bytes: &[u8]) -> RemotingCommand {
    let total = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(total, bytes.len() - 4, "length prefix");
    RemotingCommand::decode(Bytes::copy_from_slice(&bytes[4..])).unwrap()
}

fn check_decoded_frame(cmd: &RemotingCommand, exp: &Value) {
    let d = &exp["decoded"];
    assert_eq!(cmd.code as i64, d["code"].as_i64().unwrap());
    assert_eq!(cmd.language, d["language"].as_str().unwrap());
    assert_eq!(cmd.version as i64, d["version"].as_i64().unwrap());
    assert_eq!(cmd.opaque as i64, d["opaque"].as_i64().unwrap());
    assert_eq!(cmd.flag as i64, d["flag"].as_i64().unwrap());
    assert_eq!(cmd.remark.as_deref(), d["remark"].as_str());
    let st = match cmd.serialize_type {
        SerializeType::Json => "JSON",
        SerializeType::RocketMq => "ROCKETMQ",
    };
    assert_eq!(st, exp["header_length_field"]["serialize_type"].as_str().unwrap());
    let ext = d["extFields_sorted"].as_object().cloned().unwrap_or_default();
    assert_eq!(cmd.ext_fields.len(), ext.len(), "extFields count");
    for (k, v) in ext {
        assert_eq!(cmd.ext(&k), v.as_str(), "extField {k}");
    }
    assert_eq!(cmd.body_len() as i64, exp["body_length"].as_i64().unwrap());
}

/// Re-encodes and checks the frame means the same. JSON headers are compared
/// as parsed JSON (Java's extFields order is HashMap order); binary headers
/// by decoding our bytes again, for the same reason.
fn check_reencode(original: &[u8], cmd: &RemotingCommand) {
    let ours = cmd.encode();
    let again = decode_frame(&ours);
    assert_eq!(&again, cmd);
    if cmd.serialize_type == SerializeType::Json {
        let hl = |b: &[u8]| (u32::from_be_bytes(b[4..8].try_into().unwrap()) & 0xFF_FFFF) as usize;
        let mut theirs: Value = serde_json::from_slice(&original[8..8 + hl(original)]).unwrap();
        let mine: Value = serde_json::from_slice(&ours[8..8 + hl(&ours)]).unwrap();
        // Java writes `"extFields":{}` for a header whose fields are all
        // null; we leave the key out. Both decode to no ext fields.
        if theirs["extFields"].as_object().is_some_and(|m| m.is_empty()) {
            theirs.as_object_mut().unwrap().remove("extFields");
        }
        assert_eq!(mine, theirs, "JSON header values");
    } else {
        assert_eq!(ours.len(), original.len(), "re-encoded frame length");
    }
    assert_eq!(&ours[ours.len() - cmd.body_len()..], &original[original.len() - cmd.body_len()..], "body bytes");
}

#[test]
fn send_v2_request_json_and_binary() {
    for name in ["send_v2_request_json", "send_v2_request_rocketmq", "send_v2_request_rocketmq_wire"] {
        let bytes = fixture(&format!("{name}.bin"));
        let cmd = decode_frame(&bytes);
        check_decoded_frame(&cmd, &expected(name));
        check_reencode(&bytes, &cmd);
        let h = SendMessageRequestHeader::from_command(&cmd).unwrap();
        assert_eq!((h.producer_group.as_str(), h.topic.as_str(), h.queue_id), ("PG_golden", "TopicGolden", 2));
        assert_eq!(h.born_timestamp, 1700000000123);
        assert_eq!(cmd.body.as_deref(), Some(&b"Hello golden"[..]));
    }
    // The JSON header text is byte-identical: Java wrote these extFields sorted.
    let bytes = fixture("send_v2_request_json.bin");
    assert_eq!(&decode_frame(&bytes).encode()[..], &bytes[..]);
}

#[test]
fn send_responses() {
    for name in ["send_response_json", "send_response_rocketmq", "send_response_rocketmq_wire"] {
        let bytes = fixture(&format!("{name}.bin"));
        let cmd = decode_frame(&bytes);
        check_decoded_frame(&cmd, &expected(name));
        check_reencode(&bytes, &cmd);
        assert!(cmd.is_response());
        assert_eq!(cmd.ext("msgId"), Some("7F00000100002A9F00000000000004D2"));
        assert_eq!(cmd.ext("MSG_REGION"), Some("DefaultRegion"));
    }
}

#[test]
fn other_frames_decode_and_round_trip() {
    for name in [
        "send_batch_request_json",
        "heartbeat_request",
        "get_route_request",
        "get_route_response",
        "register_broker_request",
        "register_broker_response",
        "register_broker_response_slave",
    ] {
        let bytes = fixture(&format!("{name}.bin"));
        let cmd = decode_frame(&bytes);
        check_decoded_frame(&cmd, &expected(name));
        check_reencode(&bytes, &cmd);
    }
}

fn check_messages(name: &str) {
    let bytes = fixture(&format!("{name}.bin"));
    let exp = expected(name);
    let msgs = MessageExt::decode_all(&bytes).unwrap();
    let exp_msgs = exp["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), exp_msgs.len());
    for (m, e) in msgs.iter().zip(exp_msgs) {
        let i = &e["input"];
        assert_eq!(m.topic, i["topic"].as_str().unwrap());
        assert_eq!(m.queue_id as i64, i["queueId"].as_i64().unwrap());
        assert_eq!(m.flag as i64, i["flag"].as_i64().unwrap());
        assert_eq!(m.queue_offset, i["queueOffset"].as_i64().unwrap());
        assert_eq!(m.commit_log_offset, i["commitLogOffset"].as_i64().unwrap());
        assert_eq!(m.sys_flag as i64, i["sysFlag"].as_i64().unwrap());
        assert_eq!(m.born_timestamp, i["bornTimestamp"].as_i64().unwrap());
        assert_eq!(m.store_timestamp, i["storeTimestamp"].as_i64().unwrap());
        assert_eq!(m.reconsume_times as i64, i["reconsumeTimes"].as_i64().unwrap());
        assert_eq!(m.prepared_transaction_offset, i["preparedTransactionOffset"].as_i64().unwrap());
        let parse_host = |s: &str| -> SocketAddr { s.parse().unwrap() };
        assert_eq!(m.born_host, parse_host(i["bornHost"].as_str().unwrap()));
        assert_eq!(m.store_host, parse_host(i["storeHost"].as_str().unwrap()));
        let crc = i["bodyCRC (UtilAll.crc32 of the stored body, as CommitLog computes it)"].as_i64().unwrap();
        assert_eq!(m.body_crc as i64, crc);
        assert_eq!(body_crc(&m.body) as i64, crc, "our CRC of the stored body");
        let plain = i["uncompressed_body_utf8"].as_str().unwrap().as_bytes();
        if m.sys_flag & 0x1 != 0 {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&m.body[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out, plain, "inflated body");
        } else {
            assert_eq!(&m.body[..], plain);
        }
        // Re-encode the record from its decoded fields: byte for byte.
        let mut buf = Vec::new();
        encode_record_parts(
            &RecordParts {
                body_crc: m.body_crc,
                queue_id: m.queue_id,
                flag: m.flag,
                sys_flag: m.sys_flag,
                born_timestamp: m.born_timestamp,
                born_host: m.born_host,
                store_timestamp: m.store_timestamp,
                store_host: m.store_host,
                reconsume_times: m.reconsume_times,
                prepared_transaction_offset: m.prepared_transaction_offset,
                topic: &m.topic,
            },
            &m.body,
            m.properties.to_wire().as_bytes(),
            &[],
            &mut buf,
        )
        .unwrap();
        buf[20..28].copy_from_slice(&m.queue_offset.to_be_bytes());
        buf[28..36].copy_from_slice(&m.commit_log_offset.to_be_bytes());
        let start = e["start_offset"].as_u64().unwrap() as usize;
        assert_eq!(&buf[..], &bytes[start..start + m.store_size as usize], "record {}", e["index"]);
    }
}

#[test]
fn pull_response_bodies() {
    check_messages("pull_response_body");
    check_messages("pull_response_body_extra");
}

#[test]
fn batch_body_splits_like_the_client_wrote_it() {
    let bytes = fixture("send_batch_body.bin");
    let exp = expected("send_batch_body");
    let items = decode_batch(&bytes).unwrap();
    let exp_msgs = exp["messages"].as_array().unwrap();
    assert_eq!(items.len(), exp_msgs.len());
    for (it, e) in items.iter().zip(exp_msgs) {
        let fields = e["fields"].as_array().unwrap();
        let field = |n: &str| fields.iter().find(|f| f["field"] == n).unwrap()["value"].clone();
        assert_eq!(it.body, field("body").as_str().unwrap().as_bytes());
        assert_eq!(it.properties, field("properties").as_str().unwrap().as_bytes());
        assert_eq!(it.flag as i64, field("flag").as_i64().unwrap());
    }
}

#[test]
fn heartbeat_body_parses_and_tag_hashes_agree() {
    let raw = fixture("heartbeat_body.json");
    let hb: HeartbeatData = fastjson::parse(&raw).unwrap();
    assert_eq!(hb.client_id, "127.0.0.1@golden");
    assert_eq!(hb.producer_data_set[0].group_name, "PG_golden");
    let c = &hb.consumer_data_set[0];
    assert_eq!((c.group_name.as_str(), c.message_model.as_str()), ("CG_golden", "CLUSTERING"));
    let sub = c.subscription_data_set.iter().find(|s| s.topic == "TopicGolden").unwrap();
    // Our FilterAPI equivalent builds the same tag set and hash codes.
    let ours = SubscriptionData::build("TopicGolden", "TagA || TagB", sub.sub_version);
    assert_eq!(ours.code_set, sub.code_set);
    assert_eq!(ours.tags_set, sub.tags_set);
    // Re-encoding gives the same JSON values (field order may differ).
    let again: Value = serde_json::to_value(&hb).unwrap();
    assert_eq!(again, serde_json::from_slice::<Value>(&raw).unwrap());
}

#[test]
fn topic_route_bodies_both_forms() {
    for name in ["topic_route_body.json", "topic_route_body_standard.json"] {
        let raw = fixture(name);
        let route: TopicRouteData = fastjson::parse(&raw).unwrap();
        assert_eq!(route.broker_datas[0].broker_addrs[&0], "127.0.0.1:10911");
        assert_eq!(route.broker_datas[0].broker_addrs[&1], "127.0.0.1:10921");
        assert_eq!(route.queue_datas[0].perm, 6);
        // Our fastjson-form output parses to the same values as theirs;
        // the text differs only in that we also write 4.3's `topicSynFlag`.
        let ours = fastjson::parse_value(&route.to_json()).unwrap();
        let mut theirs = fastjson::parse_value(&raw).unwrap();
        for qd in theirs["queueDatas"].as_array_mut().unwrap() {
            let f = qd["topicSysFlag"].clone();
            qd.as_object_mut().unwrap().insert("topicSynFlag".into(), f);
        }
        assert_eq!(ours, theirs, "{name}");
    }
    let unquoted = String::from_utf8(fixture("topic_route_body.json")).unwrap();
    assert!(unquoted.contains(r#"{0:"127.0.0.1:10911""#), "fastjson writes bare Long keys");
}

#[test]
fn register_broker_body_parses() {
    let cmd = decode_frame(&fixture("register_broker_request.bin"));
    let body = cmd.body.as_ref().unwrap();
    assert_eq!(body_crc(body).to_string(), cmd.ext("bodyCrc32").unwrap());
    let rb: RegisterBrokerBody = fastjson::parse(body).unwrap();
    let w = rb.topic_config_serialize_wrapper;
    assert_eq!(w.data_version.counter, 3);
    assert_eq!(w.topic_config_table["TBW102"].perm, 7);
    assert_eq!(w.topic_config_table["TopicGolden"].write_queue_nums, 4);
}

/// `RegisterBrokerBody.encode(true)` from Java: a zlib stream (header 78 da)
/// of the binary layout. Our decoder reads it; our encoder writes the same
/// layout (compared inflated: zlib builds may compress differently, and
/// Java's topic order is a ConcurrentHashMap's).
#[test]
fn compressed_register_broker_body_decodes_and_encodes_like_java() {
    let name = "register_broker_request_compressed";
    let cmd = decode_frame(&fixture(&format!("{name}.bin")));
    let body = cmd.body.as_ref().unwrap();
    assert_eq!(body_crc(body).to_string(), cmd.ext("bodyCrc32").unwrap());
    assert_eq!(&body[..2], &[0x78, 0xda], "zlib, not raw deflate");
    let rb = register::decode_compressed(body, 1 << 20).unwrap();
    let w = &rb.topic_config_serialize_wrapper;
    assert_eq!((w.data_version.counter, w.data_version.timestamp), (3, 1_700_000_000_000));
    let exp = expected(name);
    let decoded = &exp["body_decoded_with_RegisterBrokerBody.decode(body, true)"];
    let mut texts: Vec<String> = w
        .topic_config_table
        .values()
        .map(|t| format!("{} {} {} {} {}", t.topic_name, t.read_queue_nums, t.write_queue_nums, t.perm, t.topic_filter_type))
        .collect();
    texts.sort();
    let want: Vec<String> = serde_json::from_value(decoded["topic_configs_encode_sorted"].clone()).unwrap();
    assert_eq!(texts, want);
    assert!(rb.filter_server_list.is_empty());

    // Java's inflated stream, entry by entry, against ours.
    let java_raw = hex(decoded["inflated_stream_hex"].as_str().unwrap());
    let mut java_inflated = Vec::new();
    flate2::read::ZlibDecoder::new(&body[..]).read_to_end(&mut java_inflated).unwrap();
    assert_eq!(java_inflated, java_raw);
    let mut ours = Vec::new();
    flate2::read::ZlibDecoder::new(&register::encode_compressed(&rb)[..]).read_to_end(&mut ours).unwrap();
    assert_eq!(ours.len(), java_raw.len());
    assert_eq!(pieces(&ours), pieces(&java_raw));
}

/// The stream's length-prefixed pieces, topic entries sorted.
fn pieces(raw: &[u8]) -> (Vec<u8>, i32, Vec<Vec<u8>>, Vec<u8>) {
    let int = |at: usize| i32::from_be_bytes(raw[at..at + 4].try_into().unwrap());
    let mut at = 0;
    let piece = |at: &mut usize| {
        let n = int(*at) as usize;
        let p = raw[*at + 4..*at + 4 + n].to_vec();
        *at += 4 + n;
        p
    };
    let dv = piece(&mut at);
    let count = int(at);
    at += 4;
    let mut topics: Vec<Vec<u8>> = (0..count).map(|_| piece(&mut at)).collect();
    topics.sort();
    let filters = piece(&mut at);
    assert_eq!(at, raw.len());
    (dv, count, topics, filters)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Decodes the fixture's custom header with our struct, then re-encodes it
/// into an empty command of the same code: every field the Java header
/// class held (non-null in `custom_header.fields`) comes back with the
/// value Java wrote, and every key we add is one of that class's fields
/// (a Java `Boolean` left null comes back as "false").
fn check_header<H: CommandHeader + std::fmt::Debug>(name: &str) -> H {
    let cmd = decode_frame(&fixture(&format!("{name}.bin")));
    let exp = expected(name);
    let h = H::decode(&cmd).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut empty = RemotingCommand::request(cmd.code, 0);
    empty.flag = cmd.flag;
    let ours = h.encode(empty);
    let fields = exp["custom_header"]["fields"].as_object().unwrap();
    for (k, v) in fields {
        let java = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(ours.ext(k), Some(java.as_str()), "{name}: field {k} of {h:?}");
        assert_eq!(cmd.ext(k), Some(java.as_str()), "{name}: field {k} on the wire");
    }
    for (k, v) in &ours.ext_fields {
        assert!(fields.contains_key(k), "{name}: we wrote {k}, not a field of {}", exp["custom_header"]["class"]);
        if fields[k].is_null() {
            assert_eq!(v, "false", "{name}: {k}");
        }
    }
    h
}

#[test]
fn custom_headers_decode_and_re_encode_like_java() {
    for name in ["send_v2_request_json", "send_v2_request_rocketmq", "send_v2_request_rocketmq_wire"] {
        let h: SendMessageRequestHeader = check_header(name);
        assert_eq!((h.producer_group.as_str(), h.default_topic.as_str(), h.default_topic_queue_nums), ("PG_golden", "TBW102", 4));
        assert_eq!((h.batch, h.bname.as_deref(), h.max_reconsume_times), (false, Some("broker-a"), None));
    }
    let h: SendMessageRequestHeader = check_header("send_batch_request_json");
    assert!(h.batch);
    for name in ["send_response_json", "send_response_rocketmq", "send_response_rocketmq_wire"] {
        let h: SendMessageResponseHeader = check_header(name);
        assert_eq!((h.queue_id, h.queue_offset, h.transaction_id), (2, 7, None));
    }
    let h: GetRouteInfoRequestHeader = check_header("get_route_request");
    assert_eq!((h.topic.as_str(), h.accept_standard_json_only), ("TopicGolden", false));
    for name in ["register_broker_request", "register_broker_request_compressed"] {
        let h: RegisterBrokerRequestHeader = check_header(name);
        assert_eq!((h.cluster_name.as_str(), h.broker_name.as_str(), h.broker_id), ("DefaultCluster", "broker-a", 0));
        assert_eq!(h.compressed, name.ends_with("compressed"));
    }
    let h: RegisterBrokerResponseHeader = check_header("register_broker_response");
    assert_eq!(h, RegisterBrokerResponseHeader::default());
    let h: RegisterBrokerResponseHeader = check_header("register_broker_response_slave");
    assert_eq!(h.master_addr.as_deref(), Some("127.0.0.1:10911"));
}

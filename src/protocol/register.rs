//! The compressed broker registration body (`compressedRegister=true`,
//! `RegisterBrokerBody.encode(true)` / `decode(data, true)` in 4.9.7).
//!
//! The body is a zlib stream (`Deflater(BEST_COMPRESSION)`, not raw
//! deflate) of big-endian `i32`-length-prefixed pieces:
//!
//! ```text
//! i32 len, DataVersion JSON
//! i32 topic count, { i32 len, "name read write perm filterType" }*
//! i32 len, filterServerList JSON
//! ```
//!
//! Topics travel as `TopicConfig.encode()`'s space-separated text, so
//! `order` and `topicSysFlag` are not carried (Java drops them too).
//!
//! The body is hostile until read: inflation stops at `max_inflated` bytes
//! (a zip bomb costs at most that), lengths and counts are checked against
//! what is left of that budget before anything is allocated, and every
//! failure is a [`ProtocolError`] (the name server answers `SYSTEM_ERROR`,
//! as Java's answers the `RemotingCommandException` it throws).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::body::{RegisterBrokerBody, TopicConfigSerializeWrapper};
use super::topic::{DataVersion, TopicConfig};
use super::{fastjson, ProtocolError};

/// `RegisterBrokerBody.encode(true)`.
pub fn encode_compressed(body: &RegisterBrokerBody) -> Vec<u8> {
    let w = &body.topic_config_serialize_wrapper;
    let mut raw = Vec::new();
    let piece = |raw: &mut Vec<u8>, bytes: &[u8]| {
        raw.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        raw.extend_from_slice(bytes);
    };
    piece(&mut raw, &serde_json::to_vec(&w.data_version).unwrap());
    raw.extend_from_slice(&(w.topic_config_table.len() as i32).to_be_bytes());
    for tc in w.topic_config_table.values() {
        piece(&mut raw, topic_config_encode(tc).as_bytes());
    }
    piece(&mut raw, &serde_json::to_vec(&body.filter_server_list).unwrap());
    let mut out = ZlibEncoder::new(Vec::new(), Compression::best());
    out.write_all(&raw).expect("writing to a Vec cannot fail");
    out.finish().expect("writing to a Vec cannot fail")
}

/// `TopicConfig.encode()`: `name read write perm filterType`.
fn topic_config_encode(tc: &TopicConfig) -> String {
    format!("{} {} {} {} {}", tc.topic_name, tc.read_queue_nums, tc.write_queue_nums, tc.perm, tc.topic_filter_type)
}

/// `RegisterBrokerBody.decode(data, true)`, reading at most `max_inflated`
/// inflated bytes.
pub fn decode_compressed(data: &[u8], max_inflated: usize) -> Result<RegisterBrokerBody, ProtocolError> {
    let mut r = Inflated { inner: ZlibDecoder::new(data).take(max_inflated as u64), left: max_inflated };
    let dv = r.piece("dataVersion")?;
    let data_version: DataVersion = fastjson::parse(&dv).map_err(|e| bad(format!("dataVersion: {e}")))?;
    let count = r.int("topic count")?;
    if count < 0 {
        return Err(bad(format!("negative topic count {count}")));
    }
    let mut topic_config_table = BTreeMap::new();
    for _ in 0..count {
        // Every entry takes at least its 4-byte length: a count larger than
        // the input runs out of budget, not of memory.
        let text = r.piece("topic config")?;
        let tc = topic_config_decode(&text)?;
        topic_config_table.insert(tc.topic_name.clone(), tc);
    }
    let filters = r.piece("filterServerList")?;
    // Java logs a bad list and registers with an empty one.
    let filter_server_list = fastjson::parse::<Option<Vec<String>>>(&filters).ok().flatten().unwrap_or_default();
    Ok(RegisterBrokerBody {
        filter_server_list,
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper { data_version, topic_config_table },
    })
}

/// `TopicConfig.decode`: exactly five space-separated fields (Java's
/// `split(" ")`, trailing empty fields dropped), integers as
/// `Integer.parseInt` reads them and `TopicFilterType.valueOf`.
fn topic_config_decode(text: &[u8]) -> Result<TopicConfig, ProtocolError> {
    let text = std::str::from_utf8(text).map_err(|_| bad("topic config is not UTF-8".into()))?;
    let mut fields: Vec<&str> = text.split(' ').collect();
    while fields.last() == Some(&"") {
        fields.pop();
    }
    let [name, read, write, perm, filter] = fields[..] else {
        return Err(bad(format!("topic config {text:?} has not 5 fields")));
    };
    let int = |s: &str| s.parse::<i32>().map_err(|_| bad(format!("For input string: \"{s}\" in topic config {text:?}")));
    if filter != "SINGLE_TAG" && filter != "MULTI_TAG" {
        return Err(bad(format!("No enum constant TopicFilterType.{filter}")));
    }
    if name.is_empty() {
        return Err(bad("empty topic name in topic config".into()));
    }
    Ok(TopicConfig { topic_filter_type: filter.to_string(), ..TopicConfig::new(name, int(read)?, int(write)?, int(perm)?) })
}

fn bad(why: String) -> ProtocolError {
    ProtocolError::BadBody(format!("Failed to decode RegisterBrokerBody: {why}"))
}

/// The inflated stream with what is left of the budget.
struct Inflated<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Inflated<R> {
    fn exact(&mut self, n: usize, what: &str) -> Result<Vec<u8>, ProtocolError> {
        if n > self.left {
            return Err(bad(format!("{what} of {n} bytes is over the inflated size limit")));
        }
        let mut buf = Vec::new();
        // Grows with what really arrives: a length the stream does not back
        // allocates nothing in advance.
        let got = (&mut self.inner).take(n as u64).read_to_end(&mut buf).map_err(|e| bad(format!("{what}: {e}")))?;
        self.left -= got;
        if got < n {
            return Err(bad(format!("{what}: End of compressed data has reached")));
        }
        Ok(buf)
    }

    fn int(&mut self, what: &str) -> Result<i32, ProtocolError> {
        let b = self.exact(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn piece(&mut self, what: &str) -> Result<Vec<u8>, ProtocolError> {
        let len = self.int(what)?;
        let len = usize::try_from(len).map_err(|_| bad(format!("negative length {len} of {what}")))?;
        self.exact(len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    fn body(topics: &[(&str, i32)]) -> RegisterBrokerBody {
        RegisterBrokerBody {
            filter_server_list: vec!["127.0.0.1:1".into()],
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version: DataVersion { counter: 7, timestamp: 1_700_000_000_000 },
                topic_config_table: topics.iter().map(|(n, q)| (n.to_string(), TopicConfig::new(n, *q, *q, 6))).collect(),
            },
        }
    }

    fn zlib(raw: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
        e.write_all(raw).unwrap();
        e.finish().unwrap()
    }

    fn raw(pieces: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for p in pieces {
            v.extend_from_slice(p);
        }
        v
    }

    #[test]
    fn round_trips_what_it_encodes() {
        let b = body(&[("A", 4), ("B", 8)]);
        let d = decode_compressed(&encode_compressed(&b), LIMIT).unwrap();
        let (w, dw) = (&b.topic_config_serialize_wrapper, &d.topic_config_serialize_wrapper);
        assert_eq!(dw.data_version, w.data_version);
        assert_eq!(dw.topic_config_table, w.topic_config_table);
        assert_eq!(d.filter_server_list, b.filter_server_list);
    }

    #[test]
    fn order_and_sys_flag_are_not_carried() {
        let mut b = body(&[("A", 4)]);
        let tc = b.topic_config_serialize_wrapper.topic_config_table.get_mut("A").unwrap();
        tc.order = true;
        tc.topic_sys_flag = 3;
        let d = decode_compressed(&encode_compressed(&b), LIMIT).unwrap();
        let tc = &d.topic_config_serialize_wrapper.topic_config_table["A"];
        assert_eq!((tc.order, tc.topic_sys_flag), (false, 0));
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to ~64 KiB; the first length read is 0,
        // then the topic count 0, then filterServerList 0... so make the
        // first length enormous instead and back it with zeros.
        let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
        e.write_all(&(i32::MAX).to_be_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let err = decode_compressed(&bomb, LIMIT).unwrap_err().to_string();
        assert!(err.contains("inflated size limit"), "{err}");
        // A length inside the limit that the stream backs with zeros still
        // ends at the limit, never beyond it.
        let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
        e.write_all(&((LIMIT - 4) as i32).to_be_bytes()).unwrap();
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let err = decode_compressed(&e.finish().unwrap(), LIMIT).unwrap_err().to_string();
        assert!(err.starts_with("Failed to decode RegisterBrokerBody: dataVersion"), "{err}");
    }

    #[test]
    fn hostile_bodies_are_refused() {
        let dv = br#"{"counter":1,"timestamp":2}"#;
        let dvl = (dv.len() as i32).to_be_bytes();
        let entry = b"T 4 4 6 SINGLE_TAG";
        let el = (entry.len() as i32).to_be_bytes();
        let empty = b"[]";
        let fl = 2i32.to_be_bytes();
        let good = raw(&[&dvl, dv, &1i32.to_be_bytes(), &el, entry, &fl, empty]);
        assert!(decode_compressed(&zlib(&good), LIMIT).is_ok());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("not zlib", good.clone()),
            ("truncated stream", zlib(&good)[..20].to_vec()),
            ("count beyond the entries", zlib(&raw(&[&dvl, dv, &i32::MAX.to_be_bytes(), &el, entry, &fl, empty]))),
            ("negative count", zlib(&raw(&[&dvl, dv, &(-1i32).to_be_bytes(), &fl, empty]))),
            ("negative length", zlib(&raw(&[&(-5i32).to_be_bytes(), dv]))),
            ("length beyond the data", zlib(&raw(&[&1000i32.to_be_bytes(), dv]))),
            ("bad data version", zlib(&raw(&[&3i32.to_be_bytes(), b"{{{", &0i32.to_be_bytes(), &fl, empty]))),
            ("four fields", zlib(&raw(&[&dvl, dv, &1i32.to_be_bytes(), &14i32.to_be_bytes(), b"T 4 4 SINGLE_T", &fl, empty]))),
            ("bad number", zlib(&raw(&[&dvl, dv, &1i32.to_be_bytes(), &18i32.to_be_bytes(), b"T x 4 6 SINGLE_TAG", &fl, empty]))),
            ("bad filter type", zlib(&raw(&[&dvl, dv, &1i32.to_be_bytes(), &18i32.to_be_bytes(), b"T 4 4 6 SINGLE_TAX", &fl, empty]))),
            ("no filter list", zlib(&raw(&[&dvl, dv, &0i32.to_be_bytes()]))),
            ("empty", Vec::new()),
        ];
        for (what, data) in cases {
            let e = decode_compressed(&data, LIMIT);
            assert!(e.is_err(), "{what} accepted");
            assert!(e.unwrap_err().to_string().starts_with("Failed to decode RegisterBrokerBody"), "{what}");
        }
    }

    #[test]
    fn a_bad_filter_list_registers_with_none_as_java() {
        let dv = br#"{"counter":1,"timestamp":2}"#;
        let data = raw(&[&(dv.len() as i32).to_be_bytes(), dv, &0i32.to_be_bytes(), &4i32.to_be_bytes(), b"null"]);
        let b = decode_compressed(&zlib(&data), LIMIT).unwrap();
        assert!(b.filter_server_list.is_empty());
    }
}

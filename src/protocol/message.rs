//! Message encoding: the commit-log record (which is also the pull body),
//! the client's batch encoding, properties, offset message ids and tag hashes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes};

use super::ProtocolError;

pub const MESSAGE_MAGIC_CODE: i32 = 0xDAA3_20A7_u32 as i32;
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;

/// Byte positions inside a record that are only known once it is placed.
pub const QUEUE_OFFSET_POS: usize = 20;
pub const PHYSICAL_OFFSET_POS: usize = 28;

pub mod sys_flag {
    pub const COMPRESSED: i32 = 0x1;
    pub const MULTI_TAGS: i32 = 0x2;
    pub const TRANSACTION_PREPARED: i32 = 0x4;
    pub const TRANSACTION_COMMIT: i32 = 0x8;
    pub const TRANSACTION_ROLLBACK: i32 = 0xC;
    pub const TRANSACTION_MASK: i32 = 0xC;
    pub const BORNHOST_V6: i32 = 0x10;
    pub const STOREHOST_V6: i32 = 0x20;
}

/// Property names from `MessageConst`.
pub mod property {
    pub const TAGS: &str = "TAGS";
    pub const KEYS: &str = "KEYS";
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    pub const WAIT_STORE_MSG_OK: &str = "WAIT";
    pub const DELAY_TIME_LEVEL: &str = "DELAY";
    pub const CLUSTER: &str = "CLUSTER";
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    pub const REAL_QUEUE_ID: &str = "REAL_QID";
    pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
    pub const PRODUCER_GROUP: &str = "PGROUP";
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
}

pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// Message properties in their wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<(String, String)>);

impl Properties {
    /// Parses `key\u0001value\u0002…` (`MessageDecoder.string2messageProperties`).
    pub fn parse(s: &str) -> Self {
        let mut v = Vec::new();
        for item in s.split(PROPERTY_SEPARATOR) {
            if let Some((k, val)) = item.split_once(NAME_VALUE_SEPARATOR) {
                v.push((k.to_string(), val.to_string()));
            }
        }
        Properties(v)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn put(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// `MessageDecoder.messageProperties2String`: no trailing separator.
    pub fn to_wire(&self) -> String {
        let mut s = String::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(PROPERTY_SEPARATOR);
            }
            s.push_str(k);
            s.push(NAME_VALUE_SEPARATOR);
            s.push_str(v);
        }
        s
    }
}

/// `UtilAll.crc32`: CRC32 with the top bit cleared, as stored in records.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// Java's `String.hashCode`, which RocketMQ uses as the tag hash.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `MessageExtBrokerInner.tagsString2tagsCode`.
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => java_string_hash(t) as i64,
        _ => 0,
    }
}

fn put_addr(out: &mut impl BufMut, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.put_slice(&ip.octets()),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => out.put_slice(&v4.octets()),
            None => out.put_slice(&ip.octets()),
        },
    }
    out.put_i32(addr.port() as i32);
}

/// True when `addr` needs the 16-byte form (sysFlag born/store host V6).
pub fn is_v6(addr: &SocketAddr) -> bool {
    matches!(addr.ip(), IpAddr::V6(ip) if ip.to_ipv4_mapped().is_none())
}

/// The offset message id: store host + commit-log offset, uppercase hex
/// (`MessageDecoder.createMessageId`).
pub fn create_message_id(store_host: &SocketAddr, offset: i64) -> String {
    let mut b = Vec::with_capacity(28);
    put_addr(&mut b, store_host);
    b.put_i64(offset);
    hex_upper(&b)
}

pub fn hex_upper(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 0xf) as usize] as char);
    }
    s
}

/// Splits an offset message id back into store host and commit-log offset.
pub fn decode_message_id(id: &str) -> Result<(SocketAddr, i64), ProtocolError> {
    let bad = || ProtocolError::BadField("msgId", id.to_string());
    if !id.is_ascii() || !id.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let (ip, rest): (IpAddr, &[u8]) = match bytes.len() {
        16 => (Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into(), &bytes[4..]),
        28 => {
            let o: [u8; 16] = bytes[..16].try_into().unwrap();
            (Ipv6Addr::from(o).into(), &bytes[16..])
        }
        _ => return Err(bad()),
    };
    let port = i32::from_be_bytes(rest[..4].try_into().unwrap());
    let offset = i64::from_be_bytes(rest[4..12].try_into().unwrap());
    Ok((SocketAddr::new(ip, port as u16), offset))
}

/// A message on its way into the commit log (`MessageExtBrokerInner`).
#[derive(Debug, Clone)]
pub struct MessageInner {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub sys_flag: i32,
    pub body: Bytes,
    pub properties: Properties,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

impl MessageInner {
    pub fn tags_code(&self) -> i64 {
        tags_code(self.properties.get(property::TAGS))
    }

    pub fn keys(&self) -> Option<&str> {
        self.properties.get(property::KEYS)
    }

    /// Encodes the commit-log record with zero queue and physical offsets,
    /// which the store patches in when it places the record.
    pub fn encode_record(&self, store_timestamp: i64, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let props = self.properties.to_wire();
        encode_record_parts(&self.record_parts(store_timestamp, body_crc(&self.body)), &self.body, props.as_bytes(), &[], out)
    }

    /// Everything of its record but body and properties.
    pub fn record_parts(&self, store_timestamp: i64, body_crc: i32) -> RecordParts<'_> {
        RecordParts {
            body_crc,
            queue_id: self.queue_id,
            flag: self.flag,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            topic: &self.topic,
        }
    }
}

/// Everything of a record but its body and properties.
pub struct RecordParts<'a> {
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub topic: &'a str,
}

/// Writes one record; `extra_props` is appended to `props` (the batch's own
/// properties, separated as `CommitLog.MessageExtBatchEncoder` does).
pub fn encode_record_parts(
    p: &RecordParts<'_>,
    body: &[u8],
    props: &[u8],
    extra_props: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let layout = RecordLayout::new(p, body.len(), props, extra_props)?;
    out.reserve(layout.total);
    layout.write(p, body, props, extra_props, out);
    Ok(())
}

/// A record's size and flags, checked before anything is written: what
/// `write` then writes always fits in `total` bytes and cannot fail (the
/// store writes records straight into the mapped commit log).
#[derive(Debug, Clone, Copy)]
pub struct RecordLayout {
    pub total: usize,
    sys_flag: i32,
    props_len: usize,
    sep: bool,
}

impl RecordLayout {
    pub fn new(p: &RecordParts<'_>, body_len: usize, props: &[u8], extra_props: &[u8]) -> Result<Self, ProtocolError> {
        let sep = !props.is_empty() && !extra_props.is_empty() && props.last() != Some(&(PROPERTY_SEPARATOR as u8));
        let props_len = props.len() + extra_props.len() + sep as usize;
        if props_len > i16::MAX as usize {
            return Err(ProtocolError::PropertiesTooLong(props_len));
        }
        if p.topic.len() > i8::MAX as usize {
            return Err(ProtocolError::TopicTooLong(p.topic.len()));
        }
        let mut sys_flag = p.sys_flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
        if is_v6(&p.born_host) {
            sys_flag |= sys_flag::BORNHOST_V6;
        }
        if is_v6(&p.store_host) {
            sys_flag |= sys_flag::STOREHOST_V6;
        }
        let total = record_len(sys_flag, body_len, p.topic.len(), props_len);
        Ok(RecordLayout { total, sys_flag, props_len, sep })
    }

    /// Writes the record (queue and physical offsets zero) with exactly the
    /// body and properties the layout was made for.
    pub fn write(&self, p: &RecordParts<'_>, body: &[u8], props: &[u8], extra_props: &[u8], out: &mut impl BufMut) {
        out.put_i32(self.total as i32);
        out.put_i32(MESSAGE_MAGIC_CODE);
        out.put_i32(p.body_crc);
        out.put_i32(p.queue_id);
        out.put_i32(p.flag);
        out.put_i64(0);
        out.put_i64(0);
        out.put_i32(self.sys_flag);
        out.put_i64(p.born_timestamp);
        put_addr(out, &p.born_host);
        out.put_i64(p.store_timestamp);
        put_addr(out, &p.store_host);
        out.put_i32(p.reconsume_times);
        out.put_i64(p.prepared_transaction_offset);
        out.put_i32(body.len() as i32);
        out.put_slice(body);
        out.put_u8(p.topic.len() as u8);
        out.put_slice(p.topic.as_bytes());
        out.put_i16(self.props_len as i16);
        out.put_slice(props);
        if self.sep {
            out.put_u8(PROPERTY_SEPARATOR as u8);
        }
        out.put_slice(extra_props);
    }
}

/// `CommitLog.calMsgLength`.
pub fn record_len(sys_flag: i32, body_len: usize, topic_len: usize, props_len: usize) -> usize {
    let born = if sys_flag & sys_flag::BORNHOST_V6 == 0 { 8 } else { 20 };
    let store = if sys_flag & sys_flag::STOREHOST_V6 == 0 { 8 } else { 20 };
    4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + born + 8 + store + 4 + 8 + 4 + body_len + 1 + topic_len + 2 + props_len
}

/// One message of a client batch (`MessageDecoder.encodeMessages`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem<'a> {
    pub flag: i32,
    pub body: &'a [u8],
    pub properties: &'a [u8],
}

/// Splits a SEND_BATCH_MESSAGE body into its messages.
pub fn decode_batch(mut buf: &[u8]) -> Result<Vec<BatchItem<'_>>, ProtocolError> {
    let mut items = Vec::new();
    let bad = |what: &str| ProtocolError::BadBody(format!("batch: {what}"));
    while !buf.is_empty() {
        if buf.len() < 20 {
            return Err(bad("truncated message header"));
        }
        let total = i32::from_be_bytes(buf[0..4].try_into().unwrap());
        if total < 22 || total as usize > buf.len() {
            return Err(bad("bad total size"));
        }
        let msg = &buf[..total as usize];
        let flag = i32::from_be_bytes(msg[12..16].try_into().unwrap());
        let body_len = i32::from_be_bytes(msg[16..20].try_into().unwrap());
        if body_len < 0 || 20 + body_len as usize + 2 > msg.len() {
            return Err(bad("bad body length"));
        }
        let body = &msg[20..20 + body_len as usize];
        let p = 20 + body_len as usize;
        let props_len = i16::from_be_bytes([msg[p], msg[p + 1]]);
        if props_len < 0 || p + 2 + props_len as usize > msg.len() {
            return Err(bad("bad properties length"));
        }
        let properties = &msg[p + 2..p + 2 + props_len as usize];
        items.push(BatchItem { flag, body, properties });
        buf = &buf[total as usize..];
    }
    Ok(items)
}

/// A stored message as read back (`MessageExt`).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageExt {
    pub store_size: i32,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    /// The body as stored (still compressed when sys flag 0x1 is set).
    pub body: Bytes,
    pub topic: String,
    pub properties: Properties,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.b.len() - self.pos < n {
            return Err(ProtocolError::BadBody("message record truncated".into()));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn addr(&mut self, v6: bool) -> Result<SocketAddr, ProtocolError> {
        let ip: IpAddr = if v6 {
            let o: [u8; 16] = self.take(16)?.try_into().unwrap();
            Ipv6Addr::from(o).into()
        } else {
            let o: [u8; 4] = self.take(4)?.try_into().unwrap();
            Ipv4Addr::from(o).into()
        };
        let port = self.i32()?;
        Ok(SocketAddr::new(ip, port as u16))
    }
}

impl MessageExt {
    /// Decodes the record at the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<MessageExt, ProtocolError> {
        let mut c = Cursor { b: buf, pos: 0 };
        let store_size = c.i32()?;
        if store_size < 0 || store_size as usize > buf.len() {
            return Err(ProtocolError::BadBody(format!("record size {store_size} exceeds buffer")));
        }
        c.b = &buf[..store_size as usize];
        let magic = c.i32()?;
        if magic != MESSAGE_MAGIC_CODE {
            return Err(ProtocolError::BadBody(format!("bad magic code {magic:#x}")));
        }
        let body_crc = c.i32()?;
        let queue_id = c.i32()?;
        let flag = c.i32()?;
        let queue_offset = c.i64()?;
        let commit_log_offset = c.i64()?;
        let sys_flag = c.i32()?;
        let born_timestamp = c.i64()?;
        let born_host = c.addr(sys_flag & sys_flag::BORNHOST_V6 != 0)?;
        let store_timestamp = c.i64()?;
        let store_host = c.addr(sys_flag & sys_flag::STOREHOST_V6 != 0)?;
        let reconsume_times = c.i32()?;
        let prepared_transaction_offset = c.i64()?;
        let body_len = c.i32()?;
        let body = Bytes::copy_from_slice(c.take(usize::try_from(body_len).map_err(|_| {
            ProtocolError::BadBody("negative body length".into())
        })?)?);
        let topic_len = c.take(1)?[0] as usize;
        let topic = String::from_utf8_lossy(c.take(topic_len)?).into_owned();
        let props_len = i16::from_be_bytes(c.take(2)?.try_into().unwrap());
        let props = c.take(usize::try_from(props_len).map_err(|_| ProtocolError::BadBody("negative properties length".into()))?)?;
        Ok(MessageExt {
            store_size,
            body_crc,
            queue_id,
            flag,
            queue_offset,
            commit_log_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body,
            topic,
            properties: Properties::parse(&String::from_utf8_lossy(props)),
        })
    }

    /// Decodes every record in a pull body.
    pub fn decode_all(mut buf: &[u8]) -> Result<Vec<MessageExt>, ProtocolError> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let m = MessageExt::decode(buf)?;
            buf = &buf[m.store_size as usize..];
            out.push(m);
        }
        Ok(out)
    }

    pub fn msg_id(&self) -> String {
        create_message_id(&self.store_host, self.commit_log_offset)
    }

    /// This stored message, to be put again as it is (same topic, queue,
    /// body, properties, hosts and times); callers change what differs.
    pub fn to_inner(&self) -> MessageInner {
        MessageInner {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            flag: self.flag,
            sys_flag: self.sys_flag,
            body: self.body.clone(),
            properties: self.properties.clone(),
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner() -> MessageInner {
        let mut props = Properties::default();
        props.put(property::TAGS, "TagA");
        props.put(property::KEYS, "k1");
        MessageInner {
            topic: "TopicTest".into(),
            queue_id: 3,
            flag: 0,
            sys_flag: 0,
            body: Bytes::from_static(b"Hello"),
            properties: props,
            born_timestamp: 1000,
            born_host: "10.0.0.1:5555".parse().unwrap(),
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn record_round_trips() {
        let m = inner();
        let mut buf = Vec::new();
        m.encode_record(2000, &mut buf).unwrap();
        assert_eq!(buf.len(), record_len(0, 5, 9, m.properties.to_wire().len()));
        let d = MessageExt::decode(&buf).unwrap();
        assert_eq!(d.topic, "TopicTest");
        assert_eq!(d.queue_id, 3);
        assert_eq!(&d.body[..], b"Hello");
        assert_eq!(d.body_crc, body_crc(b"Hello"));
        assert_eq!(d.store_timestamp, 2000);
        assert_eq!(d.properties.get("TAGS"), Some("TagA"));
    }

    #[test]
    fn ipv6_hosts_set_sys_flags() {
        let mut m = inner();
        m.born_host = "[2001:db8::1]:5555".parse().unwrap();
        let mut buf = Vec::new();
        m.encode_record(1, &mut buf).unwrap();
        let d = MessageExt::decode(&buf).unwrap();
        assert_eq!(d.sys_flag & sys_flag::BORNHOST_V6, sys_flag::BORNHOST_V6);
        assert_eq!(d.born_host, m.born_host);
    }

    #[test]
    fn message_id_round_trips() {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let id = create_message_id(&host, 1234);
        assert_eq!(id, "7F00000100002A9F00000000000004D2");
        assert_eq!(decode_message_id(&id).unwrap(), (host, 1234));
        assert!(decode_message_id("XYZ").is_err());
    }

    #[test]
    fn tag_hash_matches_java() {
        // "TagA".hashCode() in Java.
        assert_eq!(java_string_hash("TagA"), 2598919);
        assert_eq!(tags_code(None), 0);
    }

    #[test]
    fn properties_round_trip() {
        let p = Properties::parse("A\u{1}1\u{2}B\u{1}2\u{2}");
        assert_eq!(p.get("B"), Some("2"));
        assert_eq!(p.to_wire(), "A\u{1}1\u{2}B\u{1}2");
    }

    #[test]
    fn truncated_inputs_are_errors() {
        let mut buf = Vec::new();
        inner().encode_record(1, &mut buf).unwrap();
        for cut in [0, 3, 10, 40, buf.len() - 1] {
            assert!(MessageExt::decode(&buf[..cut]).is_err(), "cut {cut}");
        }
        assert!(decode_batch(&[0, 0, 0, 5]).is_err());
    }
}

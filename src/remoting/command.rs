//! `RemotingCommand`: one request or response, and its two header encodings
//! (JSON and the ROCKETMQ binary layout of `RocketMQSerializable`).

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::limits::MAX_EXT_FIELDS;
use super::RemotingError;

/// A command's custom header fields.
///
/// std's SipHash with a per-process random key: header keys come from the
/// wire, and an unkeyed hash lets a peer pick keys that all collide.
/// Header fields. A cap of `MAX_EXT_FIELDS` bounds what a flood of colliding
/// keys can cost, so the hash need not be SipHash (which, with rehashing,
/// was ~9 % of the broker's CPU on small sends); foldhash is still seeded
/// per process.
pub type ExtFields = HashMap<String, String, foldhash::fast::RandomState>;

/// Room for the fields a client usually sends (a send carries ~13), so that
/// decoding does not rehash.
fn ext_fields_for_decode() -> ExtFields {
    ExtFields::with_capacity_and_hasher(16, Default::default())
}

const FLAG_RESPONSE: i32 = 0x1;
const FLAG_ONEWAY: i32 = 0x2;

/// The version number this server writes into its own commands. The Java
/// broker writes `MQVersion.CURRENT_VERSION`; 4.9.7's ordinal is 407.
pub const SERVER_VERSION: i32 = 407;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    #[default]
    Json = 0,
    RocketMq = 1,
}

impl SerializeType {
    fn from_byte(b: u8) -> Result<Self, RemotingError> {
        match b {
            0 => Ok(SerializeType::Json),
            1 => Ok(SerializeType::RocketMq),
            other => Err(RemotingError::BadHeader(format!("unknown serialize type {other}"))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// `LanguageCode` names by ordinal (the binary header carries the ordinal).
const LANGUAGES: [&str; 13] = [
    "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS",
    "RUST",
];

fn language_code(name: &str) -> u8 {
    LANGUAGES.iter().position(|l| *l == name).unwrap_or(7) as u8
}

fn language_name(code: u8) -> &'static str {
    LANGUAGES.get(code as usize).copied().unwrap_or("OTHER")
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemotingCommand {
    pub code: i32,
    /// The peer's language, kept as the enum name ("JAVA", "CPP", …).
    pub language: String,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: ExtFields,
    pub serialize_type: SerializeType,
    pub body: Option<Bytes>,
    /// More body, after `body`, in pieces that stay where they are: a pull
    /// response's records, referenced in the mapped commit log. The writer
    /// hands them to the socket with vectored writes instead of copying
    /// them into one buffer. Empty for everything decoded from the wire.
    pub body_parts: Vec<Bytes>,
}

impl RemotingCommand {
    pub fn request(code: i32, opaque: i32) -> Self {
        RemotingCommand {
            code,
            language: "JAVA".into(),
            version: SERVER_VERSION,
            opaque,
            ..Default::default()
        }
    }

    /// A response to `req`: same opaque and serialize type, response flag set.
    pub fn response_to(req: &RemotingCommand, code: i32, remark: Option<String>) -> Self {
        RemotingCommand {
            code,
            language: "JAVA".into(),
            version: SERVER_VERSION,
            opaque: req.opaque,
            flag: FLAG_RESPONSE,
            remark,
            ext_fields: ExtFields::default(),
            serialize_type: req.serialize_type,
            body: None,
            body_parts: Vec::new(),
        }
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the body as pieces written one after the other (see `body_parts`).
    pub fn with_body_parts(mut self, parts: Vec<Bytes>) -> Self {
        self.body = None;
        self.body_parts = parts;
        self
    }

    /// The whole body in one piece: `body` as it is, or its pieces copied
    /// together (for readers that need it contiguous; the writer does not).
    pub fn body_bytes(&self) -> Option<Bytes> {
        if self.body_parts.is_empty() {
            return self.body.clone();
        }
        let mut out = BytesMut::with_capacity(self.body_len());
        out.put_slice(self.body.as_deref().unwrap_or_default());
        for p in &self.body_parts {
            out.put_slice(p);
        }
        Some(out.freeze())
    }

    pub fn with_ext(mut self, key: &str, value: impl ToString) -> Self {
        self.ext_fields.insert(key.to_string(), value.to_string());
        self
    }

    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }

    /// About the bytes this command takes on the wire, without encoding it.
    pub fn wire_size_estimate(&self) -> usize {
        let ext: usize = self.ext_fields.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
        64 + ext + self.remark.as_ref().map_or(0, String::len) + self.body_len()
    }

    pub fn body_len(&self) -> usize {
        self.body.as_ref().map_or(0, Bytes::len) + self.body_parts.iter().map(Bytes::len).sum::<usize>()
    }

    /// Writes the whole frame, length prefix included.
    pub fn encode_into(&self, out: &mut BytesMut) {
        let body_len = self.body_len();
        self.encode_head_into(out, body_len);
        out.reserve(body_len);
        if let Some(body) = &self.body {
            out.put_slice(body);
        }
        for p in &self.body_parts {
            out.put_slice(p);
        }
    }

    /// Writes the length prefix and the header; the caller writes the
    /// `body_len` bytes of body (`body`, then `body_parts`) after them.
    pub fn encode_head_into(&self, out: &mut BytesMut, body_len: usize) {
        let header = match self.serialize_type {
            SerializeType::Json => self.json_header(),
            SerializeType::RocketMq => self.binary_header(),
        };
        out.reserve(8 + header.len());
        out.put_i32((4 + header.len() + body_len) as i32);
        out.put_i32(((self.serialize_type as i32) << 24) | (header.len() as i32 & 0x00FF_FFFF));
        out.put_slice(&header);
    }

    pub fn encode(&self) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes a frame without its 4-byte length prefix.
    pub fn decode(mut frame: Bytes) -> Result<Self, RemotingError> {
        if frame.len() < 4 {
            return Err(RemotingError::BadHeader("frame shorter than its header mark".into()));
        }
        let mark = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let serialize_type = SerializeType::from_byte((mark >> 24) as u8)?;
        let header_len = (mark & 0x00FF_FFFF) as usize;
        if header_len > frame.len() - 4 {
            return Err(RemotingError::BadHeader(format!(
                "header length {header_len} exceeds frame length {}",
                frame.len() - 4
            )));
        }
        let _ = frame.split_to(4);
        let header = frame.split_to(header_len);
        let mut cmd = match serialize_type {
            SerializeType::Json => Self::from_json_header(&header)?,
            SerializeType::RocketMq => Self::from_binary_header(&header)?,
        };
        cmd.serialize_type = serialize_type;
        cmd.body = if frame.is_empty() { None } else { Some(frame) };
        Ok(cmd)
    }

    fn json_header(&self) -> Vec<u8> {
        // Field names and their alphabetical order are what fastjson writes.
        let mut out = Vec::with_capacity(128 + self.ext_fields.len() * 32);
        out.extend_from_slice(b"{\"code\":");
        push_int(&mut out, self.code as i64);
        if !self.ext_fields.is_empty() {
            out.extend_from_slice(b",\"extFields\":{");
            let mut ext: Vec<_> = self.ext_fields.iter().collect();
            ext.sort_unstable();
            for (i, (k, v)) in ext.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_str(&mut out, k);
                out.push(b':');
                push_json_str(&mut out, v);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"flag\":");
        push_int(&mut out, self.flag as i64);
        out.extend_from_slice(b",\"language\":");
        push_json_str(&mut out, self.language_or_java());
        out.extend_from_slice(b",\"opaque\":");
        push_int(&mut out, self.opaque as i64);
        if let Some(r) = &self.remark {
            out.extend_from_slice(b",\"remark\":");
            push_json_str(&mut out, r);
        }
        out.extend_from_slice(b",\"serializeTypeCurrentRPC\":");
        push_json_str(&mut out, self.serialize_type.name());
        out.extend_from_slice(b",\"version\":");
        push_int(&mut out, self.version as i64);
        out.push(b'}');
        out
    }

    fn language_or_java(&self) -> &str {
        if self.language.is_empty() {
            "JAVA"
        } else {
            &self.language
        }
    }

    fn from_json_header(header: &[u8]) -> Result<Self, RemotingError> {
        let h: JsonHeader = serde_json::from_slice(header).map_err(|e| RemotingError::BadHeader(format!("JSON header: {e}")))?;
        Ok(RemotingCommand {
            code: h.code,
            language: h.language.unwrap_or_else(|| "JAVA".into()),
            version: h.version,
            opaque: h.opaque,
            flag: h.flag,
            remark: h.remark,
            ext_fields: h.ext_fields.map(|e| e.0).unwrap_or_default(),
            serialize_type: SerializeType::Json,
            body: None,
            body_parts: Vec::new(),
        })
    }

    fn binary_header(&self) -> Vec<u8> {
        let remark = self.remark.as_deref().unwrap_or("").as_bytes();
        let mut ext = Vec::new();
        let mut fields: Vec<_> = self.ext_fields.iter().collect();
        fields.sort();
        for (k, v) in fields {
            ext.put_i16(k.len() as i16);
            ext.put_slice(k.as_bytes());
            ext.put_i32(v.len() as i32);
            ext.put_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(25 + remark.len() + ext.len());
        out.put_i16(self.code as i16);
        out.put_u8(language_code(self.language_or_java()));
        out.put_i16(self.version as i16);
        out.put_i32(self.opaque);
        out.put_i32(self.flag);
        out.put_i32(remark.len() as i32);
        out.put_slice(remark);
        out.put_i32(ext.len() as i32);
        out.put_slice(&ext);
        out
    }

    fn from_binary_header(header: &[u8]) -> Result<Self, RemotingError> {
        let mut r = Reader { buf: header, pos: 0 };
        let code = r.i16()? as i32;
        let language = language_name(r.u8()?).to_string();
        let version = r.i16()? as i32;
        let opaque = r.i32()?;
        let flag = r.i32()?;
        let remark_len = r.len_i32()?;
        let remark = if remark_len > 0 { Some(r.string(remark_len)?) } else { None };
        let ext_len = r.len_i32()?;
        let ext_end = r.pos + ext_len;
        if ext_end > header.len() {
            return Err(RemotingError::BadHeader("extFields length exceeds header".into()));
        }
        let mut ext_fields = ext_fields_for_decode();
        while r.pos < ext_end {
            if ext_fields.len() >= MAX_EXT_FIELDS {
                return Err(too_many_fields());
            }
            let klen = r.i16()?;
            if klen < 0 {
                return Err(RemotingError::BadHeader("negative extFields key length".into()));
            }
            let k = r.string(klen as usize)?;
            let vlen = r.len_i32()?;
            let v = r.string(vlen)?;
            ext_fields.insert(k, v);
        }
        Ok(RemotingCommand {
            code,
            language,
            version,
            opaque,
            flag,
            remark,
            ext_fields,
            serialize_type: SerializeType::RocketMq,
            body: None,
            body_parts: Vec::new(),
        })
    }
}

/// The JSON header as the Java side writes it; unknown fields are ignored.
#[derive(Deserialize)]
struct JsonHeader {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default, rename = "extFields")]
    ext_fields: Option<ExtMap>,
}

/// extFields, tolerating numbers and booleans where Java writes strings.
struct ExtMap(ExtFields);

impl<'de> Deserialize<'de> for ExtMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of header fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ExtMap, A::Error> {
                let mut out = ext_fields_for_decode();
                while let Some((k, v)) = m.next_entry::<String, Scalar>()? {
                    if out.len() >= MAX_EXT_FIELDS {
                        return Err(serde::de::Error::custom(too_many_fields()));
                    }
                    if let Some(v) = v.0 {
                        out.insert(k, v);
                    }
                }
                Ok(ExtMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A header value as a string (None for null).
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn too_many_fields() -> RemotingError {
    RemotingError::BadHeader(format!("more than {MAX_EXT_FIELDS} extFields"))
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    use std::io::Write;
    let _ = write!(out, "{v}");
}

/// A JSON string literal, escaped as fastjson does (control characters as \u00XX).
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], RemotingError> {
        if self.buf.len() - self.pos < n {
            return Err(RemotingError::BadHeader("binary header truncated".into()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, RemotingError> {
        Ok(self.take(1)?[0])
    }
    fn i16(&mut self) -> Result<i16, RemotingError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, RemotingError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn len_i32(&mut self) -> Result<usize, RemotingError> {
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| RemotingError::BadHeader("negative length".into()))
    }
    fn string(&mut self, n: usize) -> Result<String, RemotingError> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| RemotingError::BadHeader("header string is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(st: SerializeType) -> RemotingCommand {
        let mut c = RemotingCommand::request(310, 42)
            .with_ext("a", "PG")
            .with_ext("b", "TopicTest")
            .with_body(&b"hello"[..]);
        c.serialize_type = st;
        c.remark = Some("héllo".into());
        c
    }

    #[test]
    fn round_trips_both_serialize_types() {
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let c = sample(st);
            let mut frame = c.encode().freeze();
            let total = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(total, frame.len() - 4);
            let _ = frame.split_to(4);
            let d = RemotingCommand::decode(frame).unwrap();
            assert_eq!(d, c, "{st:?}");
        }
    }

    /// A body in pieces is the same frame, and the same cost against the
    /// write water marks, as the body in one piece.
    #[test]
    fn body_parts_count_as_body() {
        let parts = vec![Bytes::from_static(b"abc"), Bytes::new(), Bytes::from_static(b"defg")];
        let c = RemotingCommand::request(11, 1).with_body_parts(parts);
        let joined = RemotingCommand::request(11, 1).with_body(&b"abcdefg"[..]);
        assert_eq!(c.body_len(), 7);
        assert_eq!(c.encode(), joined.encode());
        assert_eq!(c.wire_size_estimate(), joined.wire_size_estimate());
        assert_eq!(c.body_bytes(), Some(Bytes::from_static(b"abcdefg")));
        assert_eq!(joined.body_bytes(), joined.body);
    }

    #[test]
    fn oneway_and_response_flags() {
        let mut c = RemotingCommand::request(11, 1);
        assert!(!c.is_oneway() && !c.is_response());
        c.mark_oneway();
        assert!(c.is_oneway());
        let r = RemotingCommand::response_to(&c, 0, None);
        assert!(r.is_response());
        assert_eq!(r.opaque, 1);
    }

    #[test]
    fn garbled_headers_are_errors_not_panics() {
        // Header length larger than the frame.
        let bad = Bytes::from_static(&[0, 0, 0, 50, b'{']);
        assert!(RemotingCommand::decode(bad).is_err());
        // Unknown serialize type.
        assert!(RemotingCommand::decode(Bytes::from_static(&[9, 0, 0, 0])).is_err());
        // Not JSON.
        assert!(RemotingCommand::decode(Bytes::from_static(&[0, 0, 0, 2, b'x', b'y'])).is_err());
        // Binary header with a negative remark length.
        let mut h = vec![1u8, 0, 0, 17];
        h.extend_from_slice(&[0, 10, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(RemotingCommand::decode(Bytes::from(h)).is_err());
        // Binary header cut short.
        assert!(RemotingCommand::decode(Bytes::from_static(&[1, 0, 0, 3, 0, 10, 0])).is_err());
    }

    #[test]
    fn too_many_ext_fields_are_refused_in_both_encodings() {
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let mut c = RemotingCommand::request(10, 1);
            c.serialize_type = st;
            for i in 0..=MAX_EXT_FIELDS {
                c.ext_fields.insert(format!("k{i}"), "v".into());
            }
            let mut frame = c.encode().freeze();
            let _ = frame.split_to(4);
            assert!(RemotingCommand::decode(frame).is_err(), "{st:?}");
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn command() -> impl Strategy<Value = RemotingCommand> {
            (
                any::<i16>(),
                any::<i32>(),
                0..4i32,
                // The binary form reads an empty remark as none, as Java does.
                proptest::option::of(".{1,40}"),
                proptest::collection::hash_map("[a-zA-Z]{1,12}", ".{0,30}", 0..20),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 1..200)),
                any::<bool>(),
            )
                .prop_map(|(code, opaque, flag, remark, ext, body, binary)| RemotingCommand {
                    code: code as i32,
                    language: "JAVA".into(),
                    version: SERVER_VERSION,
                    opaque,
                    flag,
                    remark,
                    ext_fields: ext.into_iter().collect(),
                    serialize_type: if binary { SerializeType::RocketMq } else { SerializeType::Json },
                    body: body.map(Bytes::from),
                    body_parts: Vec::new(),
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// Any bytes: an error or a command, never a panic, and never more
            /// held than the frame brought in (plus a constant per field).
            #[test]
            fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let n = bytes.len();
                if let Ok(c) = RemotingCommand::decode(Bytes::from(bytes)) {
                    prop_assert!(c.ext_fields.len() <= MAX_EXT_FIELDS);
                    prop_assert!(c.wire_size_estimate() <= 64 + 8 * n + n);
                }
            }

            /// A valid header with its bytes flipped: still no panic.
            #[test]
            fn mangled_valid_frames_never_panic(c in command(), pos in any::<prop::sample::Index>(), b in any::<u8>()) {
                let mut frame = c.encode().to_vec();
                let i = pos.index(frame.len() - 4) + 4;
                frame[i] = b;
                let _ = RemotingCommand::decode(Bytes::from(frame[4..].to_vec()));
            }

            #[test]
            fn commands_round_trip(c in command()) {
                let mut frame = c.encode().freeze();
                let _ = frame.split_to(4);
                prop_assert_eq!(RemotingCommand::decode(frame).unwrap(), c);
            }

            /// The frame splitter never reserves what a length prefix merely claims.
            #[test]
            fn frame_prefixes_never_allocate_their_claim(len in any::<i32>(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
                let mut buf = bytes::BytesMut::from(&len.to_be_bytes()[..]);
                buf.extend_from_slice(&tail);
                let before = buf.capacity();
                let _ = crate::remoting::frame::parse_frame(&mut buf, 1 << 20);
                prop_assert!(buf.capacity() <= before);
            }
        }
    }
}

//! `RemotingCommand`: one request or response, and its two header encodings
//! (JSON and the ROCKETMQ binary layout of `RocketMQSerializable`).

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use super::RemotingError;

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
    pub ext_fields: HashMap<String, String>,
    pub serialize_type: SerializeType,
    pub body: Option<Bytes>,
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
            ext_fields: HashMap::new(),
            serialize_type: req.serialize_type,
            body: None,
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

    pub fn with_ext(mut self, key: &str, value: impl ToString) -> Self {
        self.ext_fields.insert(key.to_string(), value.to_string());
        self
    }

    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }

    pub fn body_len(&self) -> usize {
        self.body.as_ref().map_or(0, Bytes::len)
    }

    /// Writes the whole frame, length prefix included.
    pub fn encode_into(&self, out: &mut BytesMut) {
        let header = match self.serialize_type {
            SerializeType::Json => self.json_header(),
            SerializeType::RocketMq => self.binary_header(),
        };
        let body_len = self.body_len();
        out.reserve(8 + header.len() + body_len);
        out.put_i32((4 + header.len() + body_len) as i32);
        out.put_i32(((self.serialize_type as i32) << 24) | (header.len() as i32 & 0x00FF_FFFF));
        out.put_slice(&header);
        if let Some(body) = &self.body {
            out.put_slice(body);
        }
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
        let mut m = Map::new();
        m.insert("code".into(), self.code.into());
        if !self.ext_fields.is_empty() {
            let mut ext: Vec<_> = self.ext_fields.iter().collect();
            ext.sort();
            let ext: Map<String, Value> =
                ext.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            m.insert("extFields".into(), Value::Object(ext));
        }
        m.insert("flag".into(), self.flag.into());
        m.insert("language".into(), self.language_or_java().into());
        m.insert("opaque".into(), self.opaque.into());
        if let Some(r) = &self.remark {
            m.insert("remark".into(), r.clone().into());
        }
        m.insert("serializeTypeCurrentRPC".into(), self.serialize_type.name().into());
        m.insert("version".into(), self.version.into());
        serde_json::to_vec(&Value::Object(m)).expect("a JSON map always serialises")
    }

    fn language_or_java(&self) -> &str {
        if self.language.is_empty() {
            "JAVA"
        } else {
            &self.language
        }
    }

    fn from_json_header(header: &[u8]) -> Result<Self, RemotingError> {
        let v: Value = serde_json::from_slice(header)
            .map_err(|e| RemotingError::BadHeader(format!("JSON header: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| RemotingError::BadHeader("JSON header is not an object".into()))?;
        let int = |k: &str| obj.get(k).and_then(Value::as_i64).unwrap_or(0) as i32;
        let mut ext_fields = HashMap::new();
        if let Some(Value::Object(ext)) = obj.get("extFields") {
            for (k, v) in ext {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                ext_fields.insert(k.clone(), s);
            }
        }
        Ok(RemotingCommand {
            code: int("code"),
            language: obj.get("language").and_then(Value::as_str).unwrap_or("JAVA").to_string(),
            version: int("version"),
            opaque: int("opaque"),
            flag: int("flag"),
            remark: obj.get("remark").and_then(Value::as_str).map(str::to_string),
            ext_fields,
            serialize_type: SerializeType::Json,
            body: None,
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
        let mut ext_fields = HashMap::new();
        while r.pos < ext_end {
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
        })
    }
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
}

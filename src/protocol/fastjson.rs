//! JSON as fastjson writes and reads it on the Java side.
//!
//! fastjson writes integer map keys bare (`{0:"127.0.0.1:10911"}`), which is
//! not JSON, and reads both forms. We parse after quoting bare keys, and write
//! integer-keyed maps bare so Java tools and files see what they expect.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[error("malformed JSON body: {0}")]
pub struct JsonError(String);

/// Parses a JSON body into a typed value, as leniently as fastjson reads it
/// into a Java bean (see [`Lenient`]).
pub fn parse<T: DeserializeOwned>(text: &[u8]) -> Result<T, super::ProtocolError> {
    let v = parse_value(text)?;
    T::deserialize(Lenient(v)).map_err(|e| JsonError(e.to_string()).into())
}

/// Parses a JSON body as is (bare integer keys quoted, nothing coerced).
pub fn parse_value(text: &[u8]) -> Result<Value, super::ProtocolError> {
    let normalized = quote_bare_keys(text);
    serde_json::from_slice(&normalized).map_err(|e| JsonError(e.to_string()).into())
}

/// A parsed JSON value read into typed fields the way fastjson reads a body
/// into a Java bean, so every body type gets the same rules without
/// per-field annotations:
///
/// - integers given as strings (`"12"`, `" 12 "`), as whole floats (`12.0`)
///   or as booleans (`true` → 1); `""` reads as 0;
/// - strings given as numbers or booleans (`12` → `"12"`);
/// - booleans given as `0`/`1` (fastjson: only 1 is true) or as strings
///   `"true"`/`"false"`/`"1"`/`"0"`/`"Y"`/`"N"`/`"T"`/`"F"` (any case);
/// - floats given as strings;
/// - a `null` struct field counts as missing: `Option` fields read `None`,
///   `#[serde(default)]` fields their default (fields without a default
///   still fail, as a missing field would);
/// - unknown fields are ignored, and a field name that differs only in case
///   or `_`/`-` matches (fastjson's smart match);
/// - a `null` list reads as empty.
pub struct Lenient(pub Value);

type JError = serde_json::Error;

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(v: &Value, expected: &str) -> JError {
    let shown = v.to_string();
    let shown = if shown.len() > 64 { format!("{}…", &shown[..shown.floor_char_boundary(64)]) } else { shown };
    de::Error::custom(format!("invalid type: {} {shown}, expected {expected}", kind(v)))
}

impl Lenient {
    fn int<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() == 0.0 && f.abs() < 9.0e18 {
                        visitor.visit_i64(f as i64)
                    } else {
                        visitor.visit_f64(f)
                    }
                }
            }
            Value::String(s) => {
                let t = s.trim();
                if t.is_empty() {
                    visitor.visit_i64(0)
                } else if let Ok(i) = t.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(u) = t.parse::<u64>() {
                    visitor.visit_u64(u)
                } else {
                    Err(mismatch(&Value::String(s), "an integer"))
                }
            }
            Value::Bool(b) => visitor.visit_i64(b as i64),
            other => Err(mismatch(&other, "an integer")),
        }
    }

    fn float<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Number(n) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(mismatch(&Value::String(s), "a number")),
            },
            other => Err(mismatch(&other, "a number")),
        }
    }

    fn string<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::String(s) => visitor.visit_string(s),
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            other => Err(mismatch(&other, "a string")),
        }
    }
}

/// A struct's entries: nulls dropped (so they count as missing) and keys
/// that match a field only loosely renamed to it.
fn struct_entries(map: Map<String, Value>, fields: &'static [&'static str]) -> Vec<(String, Value)> {
    let fold = |k: &str| -> String { k.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect() };
    let present: Vec<String> = map.keys().cloned().collect();
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            if fields.contains(&k.as_str()) {
                return (k, v);
            }
            let folded = fold(&k);
            match fields.iter().find(|f| fold(f) == folded && !present.iter().any(|p| p == *f)) {
                Some(f) => (f.to_string(), v),
                None => (k, v),
            }
        })
        .collect()
}

struct Entries {
    iter: std::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = JError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, JError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(Lenient(Value::String(k))).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, JError> {
        seed.deserialize(Lenient(self.value.take().unwrap_or(Value::Null)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Items(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Items {
    type Error = JError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, JError> {
        self.0.next().map(|v| seed.deserialize(Lenient(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

fn entries(map: Map<String, Value>) -> Entries {
    Entries { iter: map.into_iter().collect::<Vec<_>>().into_iter(), value: None }
}

impl<'de> Deserializer<'de> for Lenient {
    type Error = JError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(Items(a.into_iter())),
            Value::Object(m) => visitor.visit_map(entries(m)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visitor.visit_bool(n.as_i64() == Some(1)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "y" | "t" => visitor.visit_bool(true),
                "false" | "0" | "n" | "f" | "" => visitor.visit_bool(false),
                _ => Err(mismatch(&Value::String(s), "a boolean")),
            },
            other => Err(mismatch(&other, "a boolean")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.int(v)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.float(v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.float(v)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.string(v)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.string(v)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.string(v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.0.deserialize_bytes(v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.0.deserialize_byte_buf(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Lenient(other)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        self.0.deserialize_unit(visitor)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, JError> {
        self.0.deserialize_unit_struct(name, visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, JError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(Items(a.into_iter())),
            Value::Null => visitor.visit_seq(Items(Vec::new().into_iter())),
            other => Err(mismatch(&other, "an array")),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, JError> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value, JError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(entries(m)),
            other => Err(mismatch(&other, "an object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JError> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(Entries { iter: struct_entries(m, fields).into_iter(), value: None }),
            other => Err(mismatch(&other, "an object")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JError> {
        match self.0 {
            Value::Number(n) => match n.as_u64().and_then(|i| variants.get(i as usize)) {
                // fastjson also reads an enum from its ordinal.
                Some(v) => visitor.visit_enum(IntoDeserializer::<JError>::into_deserializer(*v)),
                None => Err(mismatch(&Value::Number(n), "an enum name")),
            },
            other => other.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, JError> {
        self.string(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JError> {
        visitor.visit_unit()
    }
}

/// Writes `v` with integer-looking object keys unquoted, as fastjson does for
/// `Map<Integer|Long, _>`.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

pub fn to_vec(v: &Value) -> Vec<u8> {
    to_string(v).into_bytes()
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            out.push('{');
            for (i, (k, val)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if is_integer(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&Value::String(k.clone()).to_string());
                }
                out.push(':');
                write_value(val, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn is_integer(k: &str) -> bool {
    let digits = k.strip_prefix('-').unwrap_or(k);
    !digits.is_empty() && digits.len() < 19 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Quotes object keys that are bare tokens (`{0:"x"}` → `{"0":"x"}`); leaves
/// string contents untouched.
fn quote_bare_keys(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut i = 0;
    let mut in_string = false;
    // After `{` or `,` inside an object we expect a key.
    let mut expect_key = false;
    let mut stack: Vec<u8> = Vec::new();
    while i < text.len() {
        let c = text[i];
        if in_string {
            out.push(c);
            if c == b'\\' && i + 1 < text.len() {
                out.push(text[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                expect_key = false;
                out.push(c);
            }
            b'{' | b'[' => {
                stack.push(c);
                expect_key = c == b'{';
                out.push(c);
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
                out.push(c);
            }
            b',' => {
                expect_key = stack.last() == Some(&b'{');
                out.push(c);
            }
            c if c.is_ascii_whitespace() => out.push(c),
            _ if expect_key => {
                let start = i;
                while i < text.len() && text[i] != b':' && !text[i].is_ascii_whitespace() {
                    i += 1;
                }
                out.push(b'"');
                out.extend_from_slice(&text[start..i]);
                out.push(b'"');
                expect_key = false;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_bare_integer_keys() {
        let v = parse_value(br#"{"brokerAddrs":{0:"127.0.0.1:10911",1:"x,{y"},"a":[1,{2:3}]}"#).unwrap();
        assert_eq!(v["brokerAddrs"]["0"], "127.0.0.1:10911");
        assert_eq!(v["brokerAddrs"]["1"], "x,{y");
        assert_eq!(v["a"][1]["2"], 3);
    }

    #[test]
    fn leaves_quoted_keys_and_escapes_alone() {
        let v = parse_value(br#"{"k\"1":"v\\","n":null}"#).unwrap();
        assert_eq!(v["k\"1"], "v\\");
    }

    #[test]
    fn writes_integer_keys_bare() {
        let v = json!({"offsetTable": {"T@G": {"0": 5, "1": 7}}, "name": "a\"b"});
        assert_eq!(to_string(&v), r#"{"name":"a\"b","offsetTable":{"T@G":{0:5,1:7}}}"#, "keys sorted as fastjson sorts them");
        assert_eq!(parse_value(to_string(&v).as_bytes()).unwrap(), v);
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(parse_value(b"{\"a\":").is_err());
        assert!(parse_value(b"").is_err());
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Bean {
        #[serde(default)]
        count: i32,
        #[serde(default)]
        offset: i64,
        #[serde(default)]
        flag: bool,
        #[serde(default)]
        name: String,
        #[serde(default)]
        codes: Vec<i32>,
        #[serde(default)]
        opt: Option<i64>,
        #[serde(default)]
        ratio: f64,
        #[serde(default)]
        by_id: std::collections::BTreeMap<i64, String>,
    }

    #[test]
    fn numbers_as_strings_and_strings_as_numbers() {
        let b: Bean = parse(br#"{"count":"12","offset":" -7 ","name":42,"codes":["2598919",-3,"4"],"opt":"5","ratio":"0.5","byId":{0:"a","1":"b"}}"#).unwrap();
        assert_eq!((b.count, b.offset, b.name.as_str(), b.opt, b.ratio), (12, -7, "42", Some(5), 0.5));
        assert_eq!(b.codes, vec![2598919, -3, 4]);
        assert_eq!(b.by_id.get(&0).map(String::as_str), Some("a"));
        assert_eq!(b.by_id.get(&1).map(String::as_str), Some("b"));
        let b: Bean = parse(br#"{"count":3.0,"name":true,"offset":""}"#).unwrap();
        assert_eq!((b.count, b.name.as_str(), b.offset), (3, "true", 0));
        assert!(parse::<Bean>(br#"{"count":"twelve"}"#).is_err());
        assert!(parse::<Bean>(br#"{"count":"99999999999"}"#).is_err(), "out of range for i32");
        assert!(parse::<Bean>(br#"{"count":1.5}"#).is_err());
    }

    #[test]
    fn booleans_as_strings_and_numbers() {
        for (text, want) in [("true", true), ("\"true\"", true), ("\"TRUE\"", true), ("\"1\"", true), ("1", true), ("\"Y\"", true)] {
            let b: Bean = parse(format!(r#"{{"flag":{text}}}"#).as_bytes()).unwrap();
            assert_eq!(b.flag, want, "{text}");
        }
        for text in ["false", "\"false\"", "\"0\"", "0", "2", "\"N\""] {
            let b: Bean = parse(format!(r#"{{"flag":{text}}}"#).as_bytes()).unwrap();
            assert!(!b.flag, "{text}");
        }
        assert!(parse::<Bean>(br#"{"flag":"maybe"}"#).is_err());
    }

    #[test]
    fn nulls_unknown_and_loosely_named_fields() {
        let b: Bean = parse(br#"{"count":null,"name":null,"codes":null,"opt":null,"extra":{"x":[1]},"Offset":9,"by_id":{}}"#).unwrap();
        assert_eq!(b, Bean { offset: 9, ..parse(b"{}").unwrap() });
        #[derive(Debug, serde::Deserialize)]
        struct Required {
            #[allow(dead_code)]
            topic: String,
        }
        assert!(parse::<Required>(br#"{"topic":null}"#).is_err(), "a required field stays required");
        assert!(parse::<Required>(br#"{"topic":"T","topic2":null}"#).is_ok());
    }

    #[test]
    fn parse_value_keeps_nulls() {
        let v: Value = parse(br#"{"a":null,"b":[1,"2"]}"#).unwrap();
        assert_eq!(v, json!({"a": null, "b": [1, "2"]}));
    }

    #[test]
    fn subscription_group_config_reads_leniently() {
        let g: crate::broker::subscription_group_manager::SubscriptionGroupConfig = parse(
            br#"{"groupName":"G","brokerId":"0","consumeEnable":"false","retryMaxTimes":"3","retryQueueNums":null,"whichBrokerWhenConsumeSlowly":"1","consumeBroadcastEnable":0}"#,
        )
        .unwrap();
        assert_eq!((g.group_name.as_str(), g.consume_enable, g.retry_max_times, g.retry_queue_nums), ("G", false, 3, 1));
        assert!(!g.consume_broadcast_enable);
    }
}

/// A map whose keys are objects (`Map<MessageQueue, _>`), written as
/// fastjson writes it: `{{"brokerName":"b","queueId":0,"topic":"T"}:value}`.
/// Not JSON; the Java side reads it back.
pub fn object_key_map(entries: &[(Value, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(k, &mut out);
        out.push(':');
        write_value(v, &mut out);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod object_key_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_keys_are_written_inline() {
        let s = object_key_map(&[(json!({"brokerName": "b", "queueId": 0, "topic": "T"}), json!(5))]);
        assert_eq!(s, r#"{{"brokerName":"b","queueId":0,"topic":"T"}:5}"#);
    }
}

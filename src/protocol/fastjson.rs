//! JSON as fastjson writes and reads it on the Java side.
//!
//! fastjson writes integer map keys bare (`{0:"127.0.0.1:10911"}`), which is
//! not JSON, and reads both forms. We parse after quoting bare keys, and write
//! integer-keyed maps bare so Java tools and files see what they expect.

use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("malformed JSON body: {0}")]
pub struct JsonError(String);

/// Parses fastjson output into a typed value.
pub fn parse<T: DeserializeOwned>(text: &[u8]) -> Result<T, super::ProtocolError> {
    let normalized = quote_bare_keys(text);
    serde_json::from_slice(&normalized).map_err(|e| JsonError(e.to_string()).into())
}

pub fn parse_value(text: &[u8]) -> Result<Value, super::ProtocolError> {
    parse(text)
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

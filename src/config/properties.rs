//! The `java.util.Properties` text format, read as `Properties.load(Reader)`
//! reads it (JDK 17's `LineReader`/`loadConvert`) and written as
//! `Properties.store(OutputStream)` writes it (`saveConvert`, with
//! `\uXXXX` for everything outside printable ASCII, so the Java broker —
//! which loads its `-c` file through an ISO-8859-1 `InputStream` — and
//! ferromq, which reads it as UTF-8, read the same thing).
//!
//! Reading rules: lines end at `\n`, `\r` or `\r\n`; a logical line whose
//! first character (after leading ` `, `\t`, `\f`) is `#` or `!` is a
//! comment; a line ending in an odd number of backslashes continues on the
//! next one, whose leading whitespace is skipped; the key ends at the first
//! unescaped `=`, `:` or whitespace, then whitespace, at most one `=`/`:`,
//! and more whitespace are skipped; `\t \n \r \f \uXXXX` are escapes and
//! `\x` is `x` for any other `x`. Values are not trimmed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The one way a properties text can fail to load: a malformed `\uXXXX`
/// escape (Java's `IllegalArgumentException("Malformed \\uxxxx encoding.")`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Malformed \\uxxxx encoding in line starting at byte {0}")]
pub struct MalformedEscape(pub usize);

/// One `key=value` entry and where its logical line sits in the text: from
/// its first non-blank character to the end of its last physical line
/// (before the terminator, which is not part of the span).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: String,
    value: String,
    start: usize,
    end: usize,
}

/// A logical line as `LineReader.readLine` returns it: its characters
/// (continuation backslashes and the following lines' leading whitespace
/// removed) and its byte span.
struct Logical {
    chars: Vec<char>,
    start: usize,
    end: usize,
}

/// Splits text into logical lines exactly as JDK 17's `LineReader` does.
/// Returns the lines and whether the text ended inside a continuation (a
/// non-comment line ending in an odd number of backslashes at end of file),
/// after which anything appended would be swallowed into that line.
fn logical_lines(text: &str) -> (Vec<Logical>, bool) {
    let cs: Vec<(usize, char)> = text.char_indices().collect();
    let n = cs.len();
    let byte_at = |i: usize| if i < n { cs[i].0 } else { text.len() };
    let mut out = Vec::new();
    let mut i = 0;
    let mut eof_continued = false;
    'lines: loop {
        let mut buf: Vec<char> = Vec::new();
        let mut start = None;
        let mut skip_ws = true;
        let mut appended_line_begin = false;
        let mut preceding_backslash = false;
        loop {
            if i >= n {
                if buf.is_empty() {
                    break 'lines;
                }
                if preceding_backslash {
                    buf.pop();
                }
                // Ended inside a continuation (after its backslash, or in
                // the next line's leading whitespace)?
                eof_continued = preceding_backslash || (skip_ws && appended_line_begin);
                out.push(Logical { chars: buf, start: start.unwrap(), end: text.len() });
                break 'lines;
            }
            let c = cs[i].1;
            let at = i;
            i += 1;
            if skip_ws {
                if c == ' ' || c == '\t' || c == '\x0c' {
                    continue;
                }
                if !appended_line_begin && (c == '\r' || c == '\n') {
                    continue;
                }
                skip_ws = false;
                appended_line_begin = false;
            }
            if buf.is_empty() && (c == '#' || c == '!') {
                // A comment: skip to the line break (which is kept, and then
                // skipped as leading whitespace of the next line).
                while i < n && cs[i].1 != '\r' && cs[i].1 != '\n' {
                    i += 1;
                }
                if i >= n {
                    break 'lines;
                }
                skip_ws = true;
                continue;
            }
            if c != '\n' && c != '\r' {
                if start.is_none() {
                    start = Some(byte_at(at));
                }
                buf.push(c);
                preceding_backslash = c == '\\' && !preceding_backslash;
                continue;
            }
            // End of a physical line.
            if buf.is_empty() {
                skip_ws = true;
                continue;
            }
            if i >= n {
                if preceding_backslash {
                    buf.pop();
                    eof_continued = true;
                }
                out.push(Logical { chars: buf, start: start.unwrap(), end: byte_at(at) });
                break 'lines;
            }
            if preceding_backslash {
                buf.pop();
                skip_ws = true;
                appended_line_begin = true;
                preceding_backslash = false;
                if c == '\r' && i < n && cs[i].1 == '\n' {
                    i += 1;
                }
                if buf.is_empty() {
                    // A line that was only a backslash: the logical line has
                    // not started yet (JDK 17 tests `len == 0` for comments).
                    start = None;
                }
            } else {
                out.push(Logical { chars: buf, start: start.unwrap(), end: byte_at(at) });
                continue 'lines;
            }
        }
    }
    (out, eof_continued)
}

/// `Properties.loadConvert`: resolves escapes. `\uXXXX` yields UTF-16 code
/// units, so surrogate pairs combine; a lone surrogate becomes U+FFFD.
fn unescape(s: &[char], strict: bool) -> Result<String, ()> {
    if !s.contains(&'\\') {
        return Ok(s.iter().collect());
    }
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut i = 0;
    let mut b = [0u16; 2];
    while i < s.len() {
        let mut c = s[i];
        i += 1;
        if c == '\\' && i < s.len() {
            c = s[i];
            i += 1;
            match c {
                'u' => {
                    let hex: Option<u16> = s
                        .get(i..i + 4)
                        .filter(|h| h.iter().all(char::is_ascii_hexdigit))
                        .map(|h| h.iter().fold(0u16, |v, d| (v << 4) | d.to_digit(16).unwrap() as u16));
                    match hex {
                        Some(u) => {
                            units.push(u);
                            i += 4;
                        }
                        None if strict => return Err(()),
                        // Lenient: `\u` without four hex digits is a `u`.
                        None => units.push(b'u' as u16),
                    }
                    continue;
                }
                't' => c = '\t',
                'r' => c = '\r',
                'n' => c = '\n',
                'f' => c = '\x0c',
                _ => {}
            }
        }
        units.extend_from_slice(c.encode_utf16(&mut b));
    }
    Ok(String::from_utf16_lossy(&units))
}

/// `Properties.load0`: splits a logical line into key and value.
fn split_entry(line: &[char]) -> (&[char], &[char]) {
    let limit = line.len();
    let mut key_len = 0;
    let mut value_start = limit;
    let mut has_sep = false;
    let mut preceding_backslash = false;
    while key_len < limit {
        let c = line[key_len];
        if (c == '=' || c == ':') && !preceding_backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        } else if (c == ' ' || c == '\t' || c == '\x0c') && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        preceding_backslash = c == '\\' && !preceding_backslash;
        key_len += 1;
    }
    while value_start < limit {
        let c = line[value_start];
        if c != ' ' && c != '\t' && c != '\x0c' {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (&line[..key_len], &line[value_start..])
}

fn entries(text: &str, strict: bool) -> Result<(Vec<Entry>, bool), MalformedEscape> {
    let (lines, eof_continued) = logical_lines(text);
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        let (k, v) = split_entry(&l.chars);
        let bad = |_| MalformedEscape(l.start);
        out.push(Entry {
            key: unescape(k, strict).map_err(bad)?,
            value: unescape(v, strict).map_err(bad)?,
            start: l.start,
            end: l.end,
        });
    }
    Ok((out, eof_continued))
}

/// Reads a properties text as `java.util.Properties.load` does, refusing
/// it (as Java does) when a `\uXXXX` escape is malformed. Entries come in
/// file order; a later duplicate overrides an earlier one when applied.
pub fn try_parse_properties(text: &str) -> Result<Vec<(String, String)>, MalformedEscape> {
    Ok(entries(text, true)?.0.into_iter().map(|e| (e.key, e.value)).collect())
}

/// As [`try_parse_properties`], but a malformed `\u` escape reads as `u`.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    entries(text, false).expect("lenient parsing cannot fail").0.into_iter().map(|e| (e.key, e.value)).collect()
}

/// `Properties.saveConvert` with `escapeUnicode`: the escaped form of a key
/// (`is_key`: every space escaped) or a value (only a leading space).
pub fn escape(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut b = [0u16; 2];
    for (x, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' ' => {
                if x == 0 || is_key {
                    out.push('\\');
                }
                out.push(' ');
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                for u in c.encode_utf16(&mut b) {
                    let _ = write!(out, "\\u{:04X}", u);
                }
            }
        }
    }
    out
}

/// One `key=value` line (without terminator) as `Properties.store` writes it.
pub fn store_line(key: &str, value: &str) -> String {
    format!("{}={}", escape(key, true), escape(value, false))
}

/// The key/value map a text loads to (later entries override earlier ones).
pub fn effective(entries: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    entries.into_iter().collect()
}

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error(transparent)]
    Malformed(#[from] MalformedEscape),
    #[error("the rewritten file would not read back as written")]
    NotRoundTrip,
}

/// Sets `changes` in a properties text in place: each logical line defining
/// a changed key is replaced by the escaped `key=value` (its line break and
/// every other line, comment and blank kept byte for byte); keys not yet in
/// the file are appended. The result is re-read and must load to the old
/// map with the changes applied, or nothing is returned.
pub fn update_in_place(text: &str, changes: &[(String, String)]) -> Result<String, RewriteError> {
    let (old, eof_continued) = entries(text, true)?;
    let mut want = effective(old.iter().map(|e| (e.key.clone(), e.value.clone())));
    let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in changes {
        latest.insert(k, v);
        want.insert(k.clone(), v.clone());
    }
    let present: std::collections::BTreeSet<&str> = old.iter().map(|e| e.key.as_str()).collect();
    let missing: Vec<(&str, &str)> = latest.iter().filter(|(k, _)| !present.contains(*k)).map(|(k, v)| (*k, *v)).collect();
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0;
    for (i, e) in old.iter().enumerate() {
        let line = match latest.get(e.key.as_str()) {
            Some(v) => store_line(&e.key, v),
            // The last line continues into end of file, so anything appended
            // would be swallowed into it: write it again, ended.
            None if eof_continued && !missing.is_empty() && i + 1 == old.len() => store_line(&e.key, &e.value),
            None => continue,
        };
        out.push_str(&text[pos..e.start]);
        out.push_str(&line);
        pos = e.end;
    }
    out.push_str(&text[pos..]);
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    if !missing.is_empty() && !out.is_empty() && !out.ends_with(['\n', '\r']) {
        out.push_str(newline);
    }
    for (k, v) in missing {
        out.push_str(&store_line(k, v));
        out.push_str(newline);
    }
    if effective(try_parse_properties(&out)?) != want {
        return Err(RewriteError::NotRoundTrip);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Vec<(String, String)> {
        try_parse_properties(s).unwrap()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn parses_the_forms_rocketmq_files_use() {
        let got = p("# comment\n! also\nbrokerName=broker-a\nnamesrvAddr = 1.2.3.4:9876;5.6.7.8:9876\nkey: v\nlong=a \\\n  b\n\n");
        assert_eq!(
            got,
            vec![
                kv("brokerName", "broker-a"),
                kv("namesrvAddr", "1.2.3.4:9876;5.6.7.8:9876"),
                kv("key", "v"),
                kv("long", "a b"),
            ]
        );
    }

    #[test]
    fn reads_like_java() {
        // Line terminators: \n, \r, \r\n.
        assert_eq!(p("a=1\rb=2\r\nc=3\n"), vec![kv("a", "1"), kv("b", "2"), kv("c", "3")]);
        // Values keep trailing whitespace; keys end at whitespace.
        assert_eq!(p("a = x  \nb    y\nc\n"), vec![kv("a", "x  "), kv("b", "y"), kv("c", "")]);
        // One separator, then whitespace: the second '=' is part of the value.
        assert_eq!(p("a = = b\na :=b"), vec![kv("a", "= b"), kv("a", "=b")]);
        // Escapes in keys and values.
        assert_eq!(p("k\\ e\\=y=\\ v\\t\\u00e9\\q\\\\"), vec![kv("k e=y", " v\t\u{e9}q\\")]);
        // Continuation needs an odd number of trailing backslashes.
        assert_eq!(p("a=x\\\\\nb=y\n"), vec![kv("a", "x\\"), kv("b", "y")]);
        assert_eq!(p("a=x\\\\\\\n   y\n"), vec![kv("a", "x\\y")]);
        // Continued over \r\n and \r.
        assert_eq!(p("a=x\\\r\n y\\\r z\nb=1"), vec![kv("a", "xyz"), kv("b", "1")]);
        // A continued line may start with '#': it is not a comment.
        assert_eq!(p("a=x\\\n#y\n"), vec![kv("a", "x#y")]);
        // A comment does not continue.
        assert_eq!(p("#a=x\\\nb=y\n"), vec![kv("b", "y")]);
        // A blank line ends a continuation; a trailing backslash at EOF is dropped.
        assert_eq!(p("a=x\\\n\nb=y\\"), vec![kv("a", "x"), kv("b", "y")]);
        // Surrogate pairs from escapes combine; lone ones become U+FFFD.
        assert_eq!(p("a=\\uD83D\\uDE00\\uD83D"), vec![kv("a", "\u{1F600}\u{FFFD}")]);
        // U+2028 is not a line break for Java.
        assert_eq!(p("a=x\u{2028}b=y"), vec![kv("a", "x\u{2028}b=y")]);
        assert!(try_parse_properties("a=\\u12").is_err());
        assert_eq!(parse_properties("a=\\u12"), vec![kv("a", "u12")]);
    }

    #[test]
    fn the_probe_is_no_longer_injectable() {
        // The probe: `regionId=x\ ` reads as "x " (escaped space).
        assert_eq!(p("regionId=x\\ "), vec![kv("regionId", "x ")]);
        let file = "regionId=r\nbrokerPermission=6\n";
        for v in ["x\\", "x ", " x", "a\rb", "a\u{2028}b", "\\\\\\"] {
            let out = update_in_place(file, &[kv("regionId", v)]).unwrap();
            assert_eq!(p(&out), vec![kv("regionId", v), kv("brokerPermission", "6")], "{out:?}");
        }
    }

    #[test]
    fn writes_like_java() {
        assert_eq!(store_line("a b", " x y"), "a\\ b=\\ x y");
        assert_eq!(store_line("k", "=:#!\\\t\n\r\x0c\x01\x7f~"), "k=\\=\\:\\#\\!\\\\\\t\\n\\r\\f\\u0001\\u007F~");
        assert_eq!(store_line("k", "é\u{2028}\u{1F600}"), "k=\\u00E9\\u2028\\uD83D\\uDE00");
    }

    #[test]
    fn rewrites_in_place_keeping_everything_else() {
        let file = "# head \\\r\n  regionId = old \\\r\n  continued\r\n! c\r\nx=1\r\nregionId=dup\r\ntail=\\\r\n";
        let out = update_in_place(file, &[kv("regionId", "new"), kv("added", "a:b")]).unwrap();
        assert_eq!(out, "# head \\\r\n  regionId=new\r\n! c\r\nx=1\r\nregionId=new\r\ntail=\r\nadded=a\\:b\r\n");
        assert_eq!(effective(p(&out)), effective([kv("regionId", "new"), kv("x", "1"), kv("tail", ""), kv("added", "a:b")]));
        // A file without a final newline, or ending inside a continuation.
        assert_eq!(update_in_place("a=1", &[kv("b", "2")]).unwrap(), "a=1\nb=2\n");
        assert_eq!(update_in_place("a=1\\", &[kv("b", "2")]).unwrap(), "a=1\nb=2\n");
        assert_eq!(update_in_place("a=1\\\n  ", &[kv("b", "2")]).unwrap(), "a=1\nb=2\n");
        assert_eq!(update_in_place("a=1\\\n", &[]).unwrap(), "a=1\\\n");
        assert_eq!(update_in_place("a=1\\", &[kv("a", "2")]).unwrap(), "a=2");
        assert_eq!(update_in_place("", &[kv("b", "2")]).unwrap(), "b=2\n");
        // A lone backslash at end of file is an empty key (as in Java); what
        // is appended after it must not be swallowed into it (proptest found).
        assert_eq!(p("\\"), vec![kv("", "")]);
        assert_eq!(update_in_place("\\", &[kv("a", "")]).unwrap(), "=\na=\n");
    }

    fn tricky_string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("\\".to_string()),
            Just(" ".to_string()),
            Just("\r".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\t".to_string()),
            Just("\u{c}".to_string()),
            Just("\u{2028}".to_string()),
            Just("\u{2029}".to_string()),
            Just("=".to_string()),
            Just(":".to_string()),
            Just("#".to_string()),
            Just("!".to_string()),
            Just("\\u".to_string()),
            Just("é".to_string()),
            Just("中文".to_string()),
            Just("\u{1F600}".to_string()),
            Just("\u{7f}".to_string()),
            Just("\u{0}".to_string()),
            "[a-z]{1,3}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn store_then_load_is_identity(pairs in proptest::collection::vec((tricky_string(), tricky_string()), 0..6)) {
            let text: String = pairs.iter().map(|(k, v)| store_line(k, v) + "\n").collect();
            prop_assert_eq!(try_parse_properties(&text).unwrap(), pairs.clone());
            // Each line is printable ASCII, whatever went in.
            prop_assert!(text.bytes().all(|b| b == b'\n' || (0x20..0x7f).contains(&b)));
        }

        #[test]
        fn rewriting_any_file_reads_back(
            lines in proptest::collection::vec(tricky_string(), 0..8),
            sep in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
            changes in proptest::collection::vec((prop_oneof![Just("a".to_string()), Just("b".to_string()), tricky_string()], tricky_string()), 0..4),
        ) {
            let file = lines.join(sep);
            if let Ok(before) = try_parse_properties(&file) {
                let out = update_in_place(&file, &changes).unwrap();
                let mut want = effective(before);
                want.extend(changes.iter().cloned());
                prop_assert_eq!(effective(try_parse_properties(&out).unwrap()), want);
            }
        }
    }
}

//! `java.util.Properties` text format, the subset RocketMQ config files use.

/// Parses `key=value` / `key: value` / `key value` lines; `#` and `!` start
/// comments; a trailing backslash continues the line. Values are trimmed.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let split = entry.find(['=', ':']).or_else(|| entry.find(char::is_whitespace));
        let (k, v) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        let k = k.trim();
        if !k.is_empty() {
            out.push((k.to_string(), v.trim().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_rocketmq_files_use() {
        let p = parse_properties("# comment\n! also\nbrokerName=broker-a\nnamesrvAddr = 1.2.3.4:9876;5.6.7.8:9876\nkey: v\nlong=a \\\n  b\n\n");
        assert_eq!(
            p,
            vec![
                ("brokerName".into(), "broker-a".into()),
                ("namesrvAddr".into(), "1.2.3.4:9876;5.6.7.8:9876".into()),
                ("key".into(), "v".into()),
                ("long".into(), "a b".into()),
            ]
        );
    }
}

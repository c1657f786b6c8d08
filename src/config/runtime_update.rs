//! What `updateBrokerConfig` and `updateNamesrvConfig` share: reading the
//! request's properties, refusing everything but the settings a server reads
//! while running (above all paths, commands and classes — the
//! CVE-2023-33246 family) and values that could break out of their line,
//! and writing accepted changes into the server's config file in place.

use std::path::Path;

use super::{try_parse_properties, update_in_place, RewriteError};
use crate::remoting::codes::response;
use crate::store::config_file;

/// A refused update: the response code and remark to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRefused {
    pub code: i32,
    pub remark: String,
}

impl UpdateRefused {
    fn new(code: i32, remark: String) -> Self {
        UpdateRefused { code, remark }
    }
}

/// Whether any camelCase word of the key names a path, command or class.
pub fn names_path_command_or_class(key: &str) -> bool {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in key.chars() {
        if (c.is_ascii_uppercase() || !c.is_ascii_alphanumeric()) && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        }
    }
    words.push(word);
    const BAD: [&str; 11] = ["path", "dir", "home", "file", "class", "command", "cmd", "shell", "script", "exec", "url"];
    words.iter().any(|w| BAD.contains(&w.as_str()))
}

/// The first character that no run-time setting may hold: C0 and C1
/// controls, DEL, and U+2028/U+2029 (line breaks to some readers).
pub fn forbidden_char(v: &str) -> Option<char> {
    v.chars().find(|&c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// The request body's changes, read as Java's `MixAll.string2Properties`
/// reads them, each key one of `runtime_keys` and each value free of
/// control characters; otherwise the refusal of the first that is not.
pub fn runtime_changes(body: &[u8], runtime_keys: &[&str], what: &str) -> Result<Vec<(String, String)>, UpdateRefused> {
    let changes = parse_update(body)?;
    check_runtime_changes(&changes, runtime_keys, what)?;
    Ok(changes)
}

/// The request body read as Java's `MixAll.string2Properties` reads it,
/// refusing a malformed `\uXXXX` escape as it does.
pub fn parse_update(body: &[u8]) -> Result<Vec<(String, String)>, UpdateRefused> {
    try_parse_properties(&String::from_utf8_lossy(body))
        .map_err(|e| UpdateRefused::new(response::SYSTEM_ERROR, format!("string2Properties error: {e}")))
}

/// The refusal of the first change that is not one of `runtime_keys` or
/// whose value holds a control character.
pub fn check_runtime_changes(changes: &[(String, String)], runtime_keys: &[&str], what: &str) -> Result<(), UpdateRefused> {
    for (k, v) in changes {
        if names_path_command_or_class(k) {
            tracing::warn!(key = %k, "{what} refused a path/command/class setting");
            return Err(UpdateRefused::new(
                response::NO_PERMISSION,
                format!("Can not update config [{k}]: settings that name a path, a command or a class cannot be changed at run time."),
            ));
        }
        if !runtime_keys.contains(&k.as_str()) {
            return Err(UpdateRefused::new(
                response::NO_PERMISSION,
                format!("Can not update config [{k}] at run time; the settings that can change are: {}", runtime_keys.join(", ")),
            ));
        }
        if let Some(c) = forbidden_char(v) {
            tracing::warn!(key = %k, "{what} refused a value with a control character");
            return Err(UpdateRefused::new(
                response::SYSTEM_ERROR,
                format!(
                    "Can not update config [{k}]: the value contains the control character U+{:04X}; line breaks and other control characters are not allowed in settings.",
                    c as u32
                ),
            ));
        }
    }
    Ok(())
}

/// Rewrites the changed keys in the config file at `path`, keeping
/// everything else (a missing file is created).
pub fn persist_changes(path: &Path, changes: &[(String, String)]) -> Result<(), UpdateRefused> {
    let refused = |why: String| UpdateRefused::new(response::SYSTEM_ERROR, format!("Can not persist config to {}: {why}", path.display()));
    let original = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(refused(e.to_string())),
    };
    let text = update_in_place(&original, changes).map_err(|e| {
        refused(match e {
            RewriteError::Malformed(m) => format!("the file does not load: {m}"),
            RewriteError::NotRoundTrip => e.to_string(),
        })
    })?;
    config_file::persist(path, &text).map_err(|e| refused(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_like_keys_are_recognised() {
        for k in ["storePathRootDir", "rocketmqHome", "kvConfigPath", "configStorePath", "filterServerClass"] {
            assert!(names_path_command_or_class(k), "{k}");
        }
    }

    #[test]
    fn line_breaking_characters_are_forbidden_in_values() {
        for v in ["a\rb", "a\nb", "\u{0}", "x\u{7f}", "x\u{85}", "a\u{2028}b", "a\u{2029}", "\t"] {
            assert!(forbidden_char(v).is_some(), "{v:?}");
        }
        for v in ["x\\", " x", "C:\\tmp\\ x", "é中\u{1F600}", "a=b:c#!"] {
            assert_eq!(forbidden_char(v), None, "{v:?}");
        }
    }

    #[test]
    fn only_runtime_keys_with_clean_values_pass() {
        let keys = ["a", "b"];
        assert_eq!(runtime_changes(b"a=1\nb=2", &keys, "t").unwrap().len(), 2);
        assert_eq!(runtime_changes(b"a=1\nc=2", &keys, "t").unwrap_err().code, response::NO_PERMISSION);
        assert_eq!(runtime_changes(b"kvConfigPath=/x", &keys, "t").unwrap_err().code, response::NO_PERMISSION);
        assert_eq!(runtime_changes(b"a=\\u000a", &keys, "t").unwrap_err().code, response::SYSTEM_ERROR);
        assert_eq!(runtime_changes(b"a=\\uZZ", &keys, "t").unwrap_err().code, response::SYSTEM_ERROR);
    }
}

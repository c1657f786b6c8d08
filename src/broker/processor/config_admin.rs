//! GET_BROKER_CONFIG and UPDATE_BROKER_CONFIG.
//!
//! Only settings the broker reads while running may change, and a request
//! naming anything else (above all paths, commands and classes — the
//! CVE-2023-33246 family) is refused whole. Accepted changes are checked by
//! building the complete new configuration before anything is applied, then
//! written into the broker's config file in place, escaped as
//! `Properties.store` escapes, so the file reads back the same in ferromq and
//! in Java. Values holding a control character or a Unicode line/paragraph
//! separator are refused: no run-time setting contains one, and they are how
//! a value would try to break out of its line.

use std::path::PathBuf;

use super::{ok, success};
use crate::broker::error::{BrokerError, BrokerResult};
use crate::broker::Broker;
use crate::config::{try_parse_properties, update_in_place, BrokerConfig, RewriteError};
use crate::protocol::header::{CommandHeader, GetBrokerConfigResponseHeader};
use crate::remoting::codes::response;
use crate::remoting::connection::Reply;
use crate::remoting::{ConnectionHandle, RemotingCommand};
use crate::store::config_file;

/// Settings that take effect without a restart.
pub const RUNTIME_KEYS: &[&str] = &[
    "brokerPermission",
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
    "longPollingEnable",
    "shortPollingTimeMills",
    "notifyConsumerIdsChangedEnable",
    "traceOn",
    "regionId",
    "rejectTransactionMessage",
    "transactionTimeOut",
    "transactionCheckMax",
    "enablePropertyFilter",
    "channelNotActiveInterval",
];

/// Whether any camelCase word of the key names a path, command or class.
fn names_path_command_or_class(key: &str) -> bool {
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
fn forbidden_char(v: &str) -> Option<char> {
    v.chars().find(|&c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

pub fn get_broker_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let cfg = b.cfg();
    let dv = serde_json::to_string(&*b.config_version.lock().unwrap()).unwrap();
    let answer = GetBrokerConfigResponseHeader { version: dv };
    Ok(answer.encode(success(req)).with_body(cfg.settings.print().into_bytes()).into())
}

pub fn update_broker_config(b: &Broker, _: &ConnectionHandle, req: &RemotingCommand) -> BrokerResult<Reply> {
    let text = String::from_utf8_lossy(req.body.as_deref().unwrap_or(b"")).into_owned();
    // Read as the Java broker reads it (`MixAll.string2Properties`),
    // refusing a malformed `\uXXXX` escape as it does.
    let changes = try_parse_properties(&text).map_err(|e| {
        BrokerError::new(response::SYSTEM_ERROR, format!("string2Properties error: {e}"))
    })?;
    for (k, v) in &changes {
        if names_path_command_or_class(k) {
            tracing::warn!(key = %k, "updateBrokerConfig refused a path/command/class setting");
            return Err(BrokerError::new(
                response::NO_PERMISSION,
                format!("Can not update config [{k}]: settings that name a path, a command or a class cannot be changed at run time."),
            ));
        }
        if !RUNTIME_KEYS.contains(&k.as_str()) {
            return Err(BrokerError::new(
                response::NO_PERMISSION,
                format!(
                    "Can not update config [{k}] at run time; the settings that can change are: {}",
                    RUNTIME_KEYS.join(", ")
                ),
            ));
        }
        if let Some(c) = forbidden_char(v) {
            tracing::warn!(key = %k, "updateBrokerConfig refused a value with a control character");
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!(
                    "Can not update config [{k}]: the value contains the control character U+{:04X}; line breaks and other control characters are not allowed in settings.",
                    c as u32
                ),
            ));
        }
    }
    if changes.is_empty() {
        return ok(req);
    }
    let old = b.cfg();
    let mut settings = old.settings.clone();
    settings.apply(changes.clone());
    let mut new = BrokerConfig::from_settings(settings)
        .map_err(|e| BrokerError::new(response::SYSTEM_ERROR, format!("Can not update config: {e}")))?;
    new.config_file = old.config_file.clone();
    persist_config_changes(&new, &changes)?;
    tracing::info!(?changes, "broker config updated");
    let perm_changed = new.broker_permission != old.broker_permission;
    b.subscription_groups.set_auto_create(new.auto_create_subscription_group);
    b.replace_config(new);
    b.config_version.lock().unwrap().next(crate::store::now_ms());
    if perm_changed {
        b.trigger_register();
    }
    ok(req)
}

/// Rewrites the changed keys in the config file, keeping everything else.
fn persist_config_changes(cfg: &BrokerConfig, changes: &[(String, String)]) -> BrokerResult<()> {
    let path: PathBuf = cfg.config_file.clone().unwrap_or_else(|| cfg.config_dir().join("broker.properties"));
    let original = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(BrokerError::new(
                response::SYSTEM_ERROR,
                format!("Can not persist config to {}: {e}", path.display()),
            ))
        }
    };
    let text = update_in_place(&original, changes).map_err(|e| {
        let why = match e {
            RewriteError::Malformed(m) => format!("the file does not load: {m}"),
            RewriteError::NotRoundTrip => e.to_string(),
        };
        BrokerError::new(response::SYSTEM_ERROR, format!("Can not persist config to {}: {why}", path.display()))
    })?;
    config_file::persist(&path, &text)
        .map_err(|e| BrokerError::new(response::SYSTEM_ERROR, format!("Can not persist config to {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_like_keys_are_recognised() {
        for k in ["storePathRootDir", "rocketmqHome", "kvConfigPath", "configStorePath", "filterServerClass"] {
            assert!(names_path_command_or_class(k), "{k}");
        }
        for k in RUNTIME_KEYS {
            assert!(!names_path_command_or_class(k), "{k}");
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
}

//! GET_BROKER_CONFIG and UPDATE_BROKER_CONFIG.
//!
//! Only settings the broker reads while running may change, and a request
//! naming anything else (above all paths, commands and classes — the
//! CVE-2023-33246 family) is refused whole. Accepted changes are checked by
//! building the complete new configuration before anything is applied, then
//! written into the broker's config file in place.

use std::path::PathBuf;

use super::error::{BrokerError, BrokerResult};
use super::Broker;
use crate::config::{parse_properties, BrokerConfig};
use crate::remoting::codes::response;
use crate::remoting::RemotingCommand;
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

impl Broker {
    pub(super) fn get_broker_config(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let cfg = self.cfg();
        let dv = serde_json::to_string(&*self.config_version.lock().unwrap()).unwrap();
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None)
            .with_ext("version", dv)
            .with_body(cfg.settings.print().into_bytes()))
    }

    pub(super) fn update_broker_config(&self, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
        let text = String::from_utf8_lossy(req.body.as_deref().unwrap_or(b"")).into_owned();
        let changes = parse_properties(&text);
        for (k, _) in &changes {
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
        }
        if changes.is_empty() {
            return Ok(RemotingCommand::response_to(req, response::SUCCESS, None));
        }
        let old = self.cfg();
        let mut settings = old.settings.clone();
        settings.apply(changes.clone());
        let mut new = BrokerConfig::from_settings(settings)
            .map_err(|e| BrokerError::new(response::SYSTEM_ERROR, format!("Can not update config: {e}")))?;
        new.config_file = old.config_file.clone();
        self.persist_config_changes(&new, &changes)?;
        tracing::info!(?changes, "broker config updated");
        let perm_changed = new.broker_permission != old.broker_permission;
        self.subscription_groups.set_auto_create(new.auto_create_subscription_group);
        self.replace_config(new);
        self.config_version.lock().unwrap().next(crate::store::now_ms());
        if perm_changed {
            self.trigger_register();
        }
        Ok(RemotingCommand::response_to(req, response::SUCCESS, None))
    }

    /// Rewrites the changed keys in the config file, keeping everything else.
    fn persist_config_changes(&self, cfg: &BrokerConfig, changes: &[(String, String)]) -> BrokerResult<()> {
        let path: PathBuf = cfg.config_file.clone().unwrap_or_else(|| cfg.config_dir().join("broker.properties"));
        let original = std::fs::read_to_string(&path).unwrap_or_default();
        let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
        for (k, v) in changes {
            let found = lines.iter_mut().find(|l| {
                let t = l.trim_start();
                !t.starts_with('#') && parse_properties(t).first().is_some_and(|(lk, _)| lk == k)
            });
            match found {
                Some(line) => *line = format!("{k}={v}"),
                None => lines.push(format!("{k}={v}")),
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        config_file::persist(&path, &text)
            .map_err(|e| BrokerError::new(response::SYSTEM_ERROR, format!("Can not persist config to {}: {e}", path.display())))
    }
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
}

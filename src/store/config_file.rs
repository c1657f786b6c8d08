//! Metadata files (topics.json, consumerOffset.json, …) in RocketMQ's
//! `ConfigManager` style: the JSON is written to a temp file, synced, the old
//! file kept as `.bak`, then renamed into place, so a crash never leaves a
//! half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;

pub fn persist(path: &Path, text: &str) -> Result<(), StoreError> {
    persist_bytes(path, text.as_bytes())
}

pub fn persist_bytes(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    if path.exists() {
        std::fs::copy(path, with_suffix(path, ".bak"))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads and parses a metadata file, falling back to its `.bak` when the
/// file is missing, empty or unparsable (`ConfigManager.load` / `loadBak`).
/// None (logged) when neither yields a value.
pub fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    for p in [path.to_path_buf(), with_suffix(path, ".bak")] {
        match std::fs::read(&p) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(b) => match crate::protocol::fastjson::parse::<T>(&b) {
                Ok(v) => return Some(v),
                Err(e) => tracing::error!(path = %p.display(), "metadata file unreadable: {e}"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => tracing::error!(path = %p.display(), "cannot read metadata file: {e}"),
        }
    }
    None
}

/// Persists, logging a failure: a metadata write must not fail the request
/// that caused it (the next periodic or shutdown write retries).
pub fn persist_logged(path: &Path, text: &str) {
    if let Err(e) = persist(path, text) {
        tracing::error!(path = %path.display(), "persisting metadata failed: {e}");
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_keeps_a_backup_and_load_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config/topics.json");
        persist(&p, "{\"a\":1}").unwrap();
        persist(&p, "{\"a\":2}").unwrap();
        let load = |p: &Path| load_json::<serde_json::Value>(p).map(|v| v["a"].as_i64().unwrap());
        assert_eq!(load(&p), Some(2));
        std::fs::write(&p, "").unwrap();
        assert_eq!(load(&p), Some(1), "an empty file falls back to .bak");
        std::fs::write(&p, "{\"a\":").unwrap();
        assert_eq!(load(&p), Some(1), "a torn file falls back to .bak");
        assert_eq!(load(&dir.path().join("none.json")), None);
    }
}

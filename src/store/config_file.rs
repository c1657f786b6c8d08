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

/// Reads the file, or its `.bak` when the file is missing or empty.
pub fn load(path: &Path) -> Result<Option<String>, StoreError> {
    for p in [path.to_path_buf(), with_suffix(path, ".bak")] {
        match std::fs::read_to_string(&p) {
            Ok(s) if !s.trim().is_empty() => return Ok(Some(s)),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
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
        assert_eq!(load(&p).unwrap().unwrap(), "{\"a\":2}");
        std::fs::write(&p, "").unwrap();
        assert_eq!(load(&p).unwrap().unwrap(), "{\"a\":1}");
        assert!(load(&dir.path().join("none.json")).unwrap().is_none());
    }
}

//! The few operating-system facts the store needs that std does not give:
//! filesystem space and local time.

use std::path::Path;

/// (total, available) bytes of the filesystem holding `path`; a directory
/// not created yet is measured on its nearest existing ancestor.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 || st.f_blocks == 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some((st.f_blocks as u64 * unit, st.f_bavail as u64 * unit))
}

/// Used fraction (0..1) of the filesystem holding `path`.
pub fn disk_usage(path: &Path) -> Option<f64> {
    let (total, free) = disk_space(path)?;
    Some((total - free) as f64 / total as f64)
}

/// Local calendar time of a Unix timestamp in seconds.
pub fn local_time(secs: i64) -> libc::tm {
    // SAFETY: localtime_r only writes the struct passed in.
    unsafe {
        let t = secs as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_of_a_missing_directory_is_its_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        let (total, free) = disk_space(&dir.path().join("not/yet")).unwrap();
        assert!(total >= free && total > 0);
        let u = disk_usage(dir.path()).unwrap();
        assert!((0.0..=1.0).contains(&u));
        assert!((0..24).contains(&local_time(0).tm_hour));
    }
}

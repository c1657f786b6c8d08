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

/// Raises the soft limit on open files to the hard limit, as the JVM does
/// at start (`-XX:+MaxFDLimit`): every mapped segment (commit log, each
/// written consume queue, index) keeps its file open, so a broker with tens
/// of thousands of written queues needs more than the usual soft 1 024.
/// Returns the limit now in force.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit write/read only the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        return Ok(raised.rlim_cur);
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod rlimit_tests {
    #[test]
    fn the_open_files_limit_ends_at_the_hard_limit() {
        let now = super::raise_open_files_limit().unwrap();
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(now, lim.rlim_cur);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
    }
}

//! Bounds on what one peer, or all of them together, can make a server hold:
//! connections, unsent response bytes, bytes of frames being received.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::DEFAULT_FRAME_MAX_LENGTH;

/// Java headers carry at most a few dozen fields; a cap keeps one header's
/// decoding cost linear whatever the hash does.
pub const MAX_EXT_FIELDS: usize = 256;

/// Frames up to this size are read without asking the shared inbound
/// budget, so small requests never wait behind large ones.
pub const UNBUDGETED_FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame accepted (`frameMaxLength`).
    pub max_frame: usize,
    /// A connection stops reading requests while more than this many
    /// response bytes wait to be written (`writeBufferHighWaterMark`) ...
    pub write_high_water: usize,
    /// ... and resumes once they drain below this (`writeBufferLowWaterMark`).
    pub write_low_water: usize,
    /// Connections served at once on all ports of this server
    /// (`serverMaxConnections`); further ones are closed on accept.
    pub max_connections: usize,
    /// Bytes of large frames being received or processed, all connections
    /// together (`serverMaxBufferedBytes`).
    pub max_buffered_bytes: usize,
    /// Requests of one connection waiting beside it at once (a SYNC_FLUSH
    /// send's flush, a relay to a consumer); at the limit the connection is
    /// not read until one finishes (`serverMaxInFlightPerConnection`).
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: DEFAULT_FRAME_MAX_LENGTH,
            write_high_water: 16 << 20,
            write_low_water: 4 << 20,
            max_connections: 10_000,
            max_buffered_bytes: 512 << 20,
            max_in_flight: 1024,
        }
    }
}

/// The counters behind `Limits`, shared by every connection of one server.
pub struct Budget {
    pub limits: Limits,
    connections: AtomicUsize,
    inbound: Arc<Semaphore>,
}

impl Budget {
    pub fn new(mut limits: Limits) -> Arc<Self> {
        // A frame must fit the budget or it could never be read.
        limits.max_buffered_bytes = limits.max_buffered_bytes.max(limits.max_frame + 4);
        limits.write_low_water = limits.write_low_water.min(limits.write_high_water);
        let permits = limits.max_buffered_bytes.min(Semaphore::MAX_PERMITS);
        Arc::new(Budget { inbound: Arc::new(Semaphore::new(permits)), connections: AtomicUsize::new(0), limits })
    }

    /// Takes a connection slot, or None when the server is full.
    pub fn admit(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let mut n = self.connections.load(Ordering::Relaxed);
        loop {
            if n >= self.limits.max_connections {
                return None;
            }
            match self.connections.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(ConnectionSlot(self.clone())),
                Err(now) => n = now,
            }
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Reserves room for a frame of `len` bytes; waits while others hold the budget.
    pub async fn reserve_inbound(&self, len: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if len <= UNBUDGETED_FRAME_BYTES {
            return None;
        }
        let n = u32::try_from(len).unwrap_or(u32::MAX);
        self.inbound.clone().acquire_many_owned(n).await.ok()
    }
}

/// At most `per_sec` log lines a second for one kind of event: a peer that
/// sends bad requests in a loop must not flood the log (or the disk under it).
pub struct LogBudget {
    per_sec: u32,
    second: AtomicU64,
    used: AtomicU32,
    suppressed: AtomicU64,
}

impl LogBudget {
    pub const fn new(per_sec: u32) -> Self {
        LogBudget { per_sec, second: AtomicU64::new(0), used: AtomicU32::new(0), suppressed: AtomicU64::new(0) }
    }

    /// `Some(n)`: log this one, mentioning the `n` suppressed since the last
    /// line; `None`: stay quiet.
    pub fn allow(&self) -> Option<u64> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.second.swap(now, Ordering::AcqRel) != now {
            self.used.store(0, Ordering::Release);
        }
        if self.used.fetch_add(1, Ordering::AcqRel) < self.per_sec {
            Some(self.suppressed.swap(0, Ordering::AcqRel))
        } else {
            self.suppressed.fetch_add(1, Ordering::AcqRel);
            None
        }
    }
}

/// Held by a connection for its lifetime.
pub struct ConnectionSlot(Arc<Budget>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_slots_are_bounded_and_returned() {
        let b = Budget::new(Limits { max_connections: 2, ..Limits::default() });
        let a = b.admit().unwrap();
        let _c = b.admit().unwrap();
        assert!(b.admit().is_none());
        drop(a);
        assert!(b.admit().is_some());
    }

    #[test]
    fn log_budget_lets_a_few_lines_a_second_through() {
        let b = LogBudget::new(3);
        let allowed = (0..100).filter(|_| b.allow().is_some()).count();
        assert!((3..=6).contains(&allowed), "{allowed} lines (3 a second, maybe across a second boundary)");
    }

    #[tokio::test]
    async fn large_frames_share_one_budget() {
        let b = Budget::new(Limits { max_frame: 1 << 20, max_buffered_bytes: 2 << 20, ..Limits::default() });
        assert!(b.reserve_inbound(100).await.is_none(), "small frames are free");
        let first = b.reserve_inbound(1 << 20).await.unwrap();
        let _second = b.reserve_inbound(1 << 20).await.unwrap();
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), b.reserve_inbound(1 << 20)).await;
        assert!(third.is_err(), "the budget is spent until a frame is released");
        drop(first);
        assert!(b.reserve_inbound(1 << 20).await.is_some());
    }
}

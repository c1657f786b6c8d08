//! The master side (`AcceptSocketService`, `HAConnection`): one task per
//! slave reads its 8-byte offset reports and streams the commit log from
//! where it asked, `haTransferBatchSize` bytes a frame at most, with a
//! heartbeat frame (size 0) after `haSendHeartbeatInterval` of silence.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::frame::{self, REPORT_SIZE};
use super::HaError;
use crate::store::MessageStore;

/// Slave connections served at once; more are closed at accept (each costs
/// a task and, while it streams, a commit-log segment kept mapped).
const MAX_SLAVE_CONNECTIONS: usize = 64;

pub(super) async fn accept_loop(store: Weak<MessageStore>, listener: TcpListener) {
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("HA accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(s) = store.upgrade() else { return };
        if s.ha.connections() >= MAX_SLAVE_CONNECTIONS {
            tracing::warn!(%peer, max = MAX_SLAVE_CONNECTIONS, "HA connection refused: too many slaves connected");
            continue;
        }
        tracing::info!(%peer, "HA slave connected");
        s.ha.connections.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let _ = sock.set_nodelay(true);
            let r = serve_slave(&s, sock).await;
            s.ha.connections.fetch_sub(1, Ordering::AcqRel);
            match r {
                Ok(()) => tracing::info!(%peer, "HA slave disconnected"),
                Err(e) => tracing::warn!(%peer, "HA slave connection closed: {e}"),
            }
        });
    }
}

async fn serve_slave(store: &Arc<MessageStore>, sock: TcpStream) -> Result<(), HaError> {
    let (mut rd, wr) = sock.into_split();
    let housekeeping = Duration::from_millis(store.ha.config.housekeeping_interval_ms);
    // Nothing is sent until the slave says where it is (slaveRequestOffset).
    let first = read_report(&mut rd, housekeeping).await?;
    let Some(first) = first else { return Ok(()) };
    let first = frame::check_report(first, store.commit_log.max_offset())?;
    store.ha.acked(first);
    let start = frame::transfer_start(first, store.commit_log.max_offset(), store.commit_log.file_size());
    tracing::info!(slave_request = first, start, "master transfers data to slave");
    tokio::select! {
        r = read_loop(store, rd, housekeeping) => r,
        r = write_loop(store, wr, start) => r,
    }
}

/// One 8-byte report; None at a clean end of stream.
async fn read_report(rd: &mut OwnedReadHalf, limit: Duration) -> Result<Option<i64>, HaError> {
    let mut b = [0u8; REPORT_SIZE];
    match tokio::time::timeout(limit, rd.read_exact(&mut b)).await {
        Err(_) => Err(HaError::Expired),
        Ok(Ok(_)) => Ok(Some(i64::from_be_bytes(b))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Ok(Err(e)) => Err(e.into()),
    }
}

async fn read_loop(store: &MessageStore, mut rd: OwnedReadHalf, housekeeping: Duration) -> Result<(), HaError> {
    while let Some(reported) = read_report(&mut rd, housekeeping).await? {
        let acked = frame::check_report(reported, store.commit_log.max_offset())?;
        store.ha.acked(acked);
    }
    Ok(())
}

async fn write_loop(store: &MessageStore, mut wr: OwnedWriteHalf, mut next: i64) -> Result<(), HaError> {
    let heartbeat = Duration::from_millis(store.ha.config.send_heartbeat_interval_ms.max(1));
    let batch = store.ha.config.transfer_batch_size.clamp(1, frame::MAX_FRAME_BODY);
    // The first frame is a heartbeat at once, telling the slave where the stream starts.
    let mut last_write: Option<Instant> = None;
    loop {
        let woken = store.ha.appended.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if last_write.is_none_or(|t| t.elapsed() >= heartbeat) {
            wr.write_all(&frame::encode_header(next, 0)).await?;
            last_write = Some(Instant::now());
        }
        if let Some((file, pos, len)) = store.commit_log.data_from(next) {
            let size = len.min(batch);
            let body = file.read(pos, size).ok_or_else(|| HaError::Protocol(format!("commit log data at {next} vanished")))?;
            wr.write_all(&frame::encode_header(next, size)).await?;
            wr.write_all(body).await?;
            next += size as i64;
            last_write = Some(Instant::now());
            continue;
        }
        let due = heartbeat.saturating_sub(last_write.map_or(Duration::ZERO, |t| t.elapsed()));
        // Java's writer polls every 100 ms as well as being woken.
        let _ = tokio::time::timeout(due.min(Duration::from_millis(100)), woken).await;
    }
}

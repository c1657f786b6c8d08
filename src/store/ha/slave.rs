//! The slave side (`HAService.HAClient`): connect to the master's HA port,
//! report the commit log's max offset (at once, on each heartbeat interval
//! and after each append), and append what the master streams at exactly
//! the offset it names. Records are appended whole: bytes of a record the
//! master's batch cut are held (bounded by the segment) until the rest
//! arrives, so the commit log never ends in a torn record. Any gap,
//! mismatch or bad record drops the connection; the next one resumes from
//! the slave's own max offset.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::frame::{self, HEADER_SIZE};
use super::HaError;
use crate::store::MessageStore;

/// Wait between connection attempts (Java's `HAClient` waits 5 s), from
/// this much up to that.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) async fn client_loop(store: Weak<MessageStore>) {
    let mut backoff = RETRY_MIN;
    loop {
        let Some(s) = store.upgrade() else { return };
        let changed = s.ha.master_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let Some(addr) = s.ha.master_address() else {
            let _ = tokio::time::timeout(RETRY_MAX, changed).await;
            continue;
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(sock)) => {
                tracing::info!(master = %addr, from = s.commit_log.max_offset(), "HA connected to master");
                tokio::select! {
                    r = session(&s, sock) => r,
                    _ = &mut changed => Ok(()),
                }
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(HaError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))),
        };
        if let Err(e) = result {
            tracing::warn!(master = %addr, "HA connection to master: {e}");
        }
        // A session that ran a while resets the backoff.
        backoff = if started.elapsed() > RETRY_MAX { RETRY_MIN } else { (backoff * 2).min(RETRY_MAX) };
        tokio::time::sleep(backoff).await;
    }
}

/// One connection: runs until an error or the master closes.
async fn session(store: &Arc<MessageStore>, mut sock: TcpStream) -> Result<(), HaError> {
    let _ = sock.set_nodelay(true);
    let heartbeat = Duration::from_millis(store.ha.config.send_heartbeat_interval_ms.max(1));
    let housekeeping = Duration::from_millis(store.ha.config.housekeeping_interval_ms.max(1));
    let file_size = store.commit_log.file_size();
    let mut reported = store.commit_log.max_offset();
    // Where the next frame must start: the log's end (None: the log is
    // empty and takes the master's first file start), plus held bytes.
    let mut stream_end = (store.commit_log.max_offset() > 0).then_some(reported);
    sock.write_all(&frame::encode_report(reported)).await?;
    let mut last_report = Instant::now();
    let mut last_read = Instant::now();
    // Bytes of records not yet whole, starting at the log's end.
    let mut pending: Vec<u8> = Vec::new();
    let mut header = [0u8; HEADER_SIZE];
    let mut have = 0usize;
    let mut body: Vec<u8> = Vec::new();
    let mut body_want: Option<frame::Header> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let wait = heartbeat.saturating_sub(last_report.elapsed());
        let n = match tokio::time::timeout(wait, sock.read(&mut buf)).await {
            Err(_) => 0,
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e.into()),
        };
        if n > 0 {
            last_read = Instant::now();
        } else if last_read.elapsed() > housekeeping {
            return Err(HaError::Expired);
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let Some(h) = body_want else {
                let take = (HEADER_SIZE - have).min(input.len());
                header[have..have + take].copy_from_slice(&input[..take]);
                have += take;
                input = &input[take..];
                if have == HEADER_SIZE {
                    have = 0;
                    let h = frame::decode_header(&header)?;
                    frame::check_frame_offset(h.offset, stream_end, file_size)?;
                    stream_end = Some(h.offset);
                    if h.size > 0 {
                        body_want = Some(h);
                        body.clear();
                    }
                }
                continue;
            };
            let take = (h.size - body.len()).min(input.len());
            body.extend_from_slice(&input[..take]);
            input = &input[take..];
            if body.len() == h.size {
                body_want = None;
                pending.extend_from_slice(&body);
                let end = h.offset + h.size as i64;
                stream_end = Some(end);
                let at = end - pending.len() as i64;
                append_whole(store, &mut pending, at, file_size).await?;
            }
        }
        let now_max = store.commit_log.max_offset();
        if now_max > reported || last_report.elapsed() >= heartbeat {
            reported = now_max;
            sock.write_all(&frame::encode_report(reported)).await?;
            last_report = Instant::now();
        }
    }
}

/// The largest record (or end-of-file blank) a slave takes: a body of
/// `maxMessageSize` plus room for topic, properties and the fixed fields.
/// It bounds the bytes held for an unfinished record.
fn max_record(store: &MessageStore) -> usize {
    store.config.max_message_size + (1 << 20)
}

/// Appends the whole records at the front of `pending` (which starts at
/// absolute `at`) and keeps the rest.
async fn append_whole(store: &Arc<MessageStore>, pending: &mut Vec<u8>, mut at: i64, file_size: usize) -> Result<(), HaError> {
    loop {
        let whole = frame::whole_records(pending, at, file_size, max_record(store))?;
        if whole == 0 {
            return Ok(());
        }
        let chunk: Vec<u8> = pending.drain(..whole).collect();
        let s = store.clone();
        tokio::task::spawn_blocking(move || s.append_replicated(at, &chunk))
            .await
            .map_err(|e| HaError::Protocol(format!("append task failed: {e}")))??;
        at += whole as i64;
    }
}

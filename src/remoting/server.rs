//! Accept loop for a listening port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::connection::{spawn_connection, spawn_stream, RequestProcessor};
use super::limits::{Budget, ConnectionSlot, LogBudget};
use super::tls::{ServerTls, TlsMode, HANDSHAKE_MAGIC, HANDSHAKE_TIMEOUT};

/// Serves plain connections on `listener` until the task is dropped. Every
/// port of one server shares `budget`, so the connection cap counts them all.
pub async fn serve<P: RequestProcessor>(listener: TcpListener, processor: Arc<P>, budget: Arc<Budget>) {
    serve_tls(listener, processor, budget, None).await
}

/// As `serve`, in the TLS mode of `tls` (None, or mode `disabled`: plain
/// only, by the very accept path of `serve`).
pub async fn serve_tls<P: RequestProcessor>(
    listener: TcpListener,
    processor: Arc<P>,
    budget: Arc<Budget>,
    tls: Option<Arc<ServerTls>>,
) {
    let tls = tls.filter(|t| t.mode != TlsMode::Disabled);
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match budget.admit() {
                Some(slot) => match &tls {
                    None => {
                        spawn_connection(stream, processor.clone(), budget.clone(), Some(slot));
                    }
                    Some(tls) => {
                        // Off the accept loop: a silent client must not hold it.
                        tokio::spawn(accept_tls(tls.clone(), stream, peer, processor.clone(), budget.clone(), slot));
                    }
                },
                None => {
                    // Closing at once costs less than a refusal frame, and a
                    // flood must not flood the log either.
                    if last_refusal_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(%peer, max = budget.limits.max_connections, "connection refused: serverMaxConnections reached");
                        last_refusal_log = Some(Instant::now());
                    }
                    drop(stream);
                }
            },
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Java's `HandshakeHandler`: the first byte, peeked and left in place,
/// tells a TLS hello (0x16) from a plain frame; enforcing closes a plain
/// client at once, without an answer. Both the wait for that byte and the
/// handshake are bounded by `HANDSHAKE_TIMEOUT`; the connection holds its
/// slot of the connection cap meanwhile.
async fn accept_tls<P: RequestProcessor>(
    tls: Arc<ServerTls>,
    stream: TcpStream,
    peer: SocketAddr,
    processor: Arc<P>,
    budget: Arc<Budget>,
    slot: ConnectionSlot,
) {
    static LOG: LogBudget = LogBudget::new(20);
    let mut first = [0u8; 1];
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => first[0],
        Ok(Ok(_)) => return, // closed before its first byte
        Ok(Err(e)) => {
            tracing::debug!(%peer, "connection failed before its first byte: {e}");
            return;
        }
        Err(_) => {
            if let Some(suppressed) = LOG.allow() {
                tracing::warn!(%peer, suppressed, "closing connection: no byte within {HANDSHAKE_TIMEOUT:?}");
            }
            return;
        }
    };
    if first != HANDSHAKE_MAGIC {
        if tls.mode == TlsMode::Enforcing {
            if let Some(suppressed) = LOG.allow() {
                tracing::warn!(
                    %peer,
                    suppressed,
                    "Clients intend to establish an insecure connection while this server is running in SSL enforcing mode"
                );
            }
            // Read what was sent, as Netty has when Java closes: a close
            // with unread bytes would be a reset, and the client would see
            // a failed send instead of Java's unanswered request.
            let mut sink = [0u8; 8192];
            for _ in 0..8 {
                if !matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {
                    break;
                }
            }
            return;
        }
        spawn_connection(stream, processor, budget, Some(slot));
        return;
    }
    let _ = stream.set_nodelay(true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await {
        Ok(Ok(session)) => {
            spawn_stream(session, peer, processor, budget, Some(slot));
        }
        Ok(Err(e)) => {
            if let Some(suppressed) = LOG.allow() {
                tracing::warn!(%peer, suppressed, "TLS handshake failed: {e}");
            }
        }
        Err(_) => {
            if let Some(suppressed) = LOG.allow() {
                tracing::warn!(%peer, suppressed, "TLS handshake not done within {HANDSHAKE_TIMEOUT:?}");
            }
        }
    }
}

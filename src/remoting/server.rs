//! Accept loop for a listening port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::connection::{spawn_connection, RequestProcessor};
use super::limits::Budget;

/// Serves connections on `listener` until the task is dropped. Every port of
/// one server shares `budget`, so the connection cap counts them all.
pub async fn serve<P: RequestProcessor>(listener: TcpListener, processor: Arc<P>, budget: Arc<Budget>) {
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match budget.admit() {
                Some(slot) => {
                    spawn_connection(stream, processor.clone(), budget.clone(), Some(slot));
                }
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

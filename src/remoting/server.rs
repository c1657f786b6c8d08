//! Accept loop for a listening port.

use std::sync::Arc;

use tokio::net::TcpListener;

use super::connection::{spawn_connection, RequestProcessor};

/// Serves connections on `listener` until the task is dropped.
pub async fn serve<P: RequestProcessor>(listener: TcpListener, processor: Arc<P>, max_frame: usize) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                spawn_connection(stream, processor.clone(), max_frame);
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

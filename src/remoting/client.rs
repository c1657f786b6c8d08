//! Outbound connections (broker → name server), one per address, reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;

use super::connection::{not_supported, spawn_connection, ConnectionHandle, Reply, RequestProcessor};
use super::limits::{Budget, Limits};
use super::{RemotingCommand, RemotingError};

/// Peers we only call never get to call us; anything they send is refused.
struct RefuseRequests;

impl RequestProcessor for RefuseRequests {
    async fn process(&self, _conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        not_supported(&req).into()
    }
}

#[derive(Default)]
pub struct RemotingClient {
    conns: Mutex<HashMap<String, ConnectionHandle>>,
}

impl RemotingClient {
    pub async fn invoke(&self, addr: &str, cmd: RemotingCommand, timeout: Duration) -> Result<RemotingCommand, RemotingError> {
        let conn = self.connection(addr, timeout).await?;
        let result = conn.request(cmd, timeout).await;
        if matches!(result, Err(RemotingError::Closed)) {
            self.conns.lock().unwrap().remove(addr);
        }
        result
    }

    /// A connection of its own to `addr` (not shared through the pool).
    pub async fn connect(addr: &str, timeout: Duration) -> Result<ConnectionHandle, RemotingError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| RemotingError::Timeout(0))??;
        Ok(spawn_connection(stream, Arc::new(RefuseRequests), Budget::new(Limits::default()), None))
    }

    async fn connection(&self, addr: &str, timeout: Duration) -> Result<ConnectionHandle, RemotingError> {
        if let Some(c) = self.conns.lock().unwrap().get(addr) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| RemotingError::Timeout(0))??;
        let conn = spawn_connection(stream, Arc::new(RefuseRequests), Budget::new(Limits::default()), None);
        self.conns.lock().unwrap().insert(addr.to_string(), conn.clone());
        Ok(conn)
    }
}

//! Outbound connections (broker → name server), one per address, reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;

use super::connection::{not_supported, spawn_connection, spawn_stream, ConnectionHandle, Reply, RequestProcessor};
use super::limits::{Budget, Limits};
use super::tls::{self, ClientTls};
use super::{RemotingCommand, RemotingError};

/// Peers we only call never get to call us; anything they send is refused.
struct RefuseRequests;

impl RequestProcessor for RefuseRequests {
    async fn process(&self, _conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        not_supported(&req).into()
    }
}

pub struct RemotingClient {
    conns: Mutex<HashMap<String, ConnectionHandle>>,
    tls: Option<ClientTls>,
}

/// A pool that connects as the process's outbound TLS setting says
/// (`tls::set_outbound`, from `tls.enable`), plain when it is unset.
impl Default for RemotingClient {
    fn default() -> Self {
        RemotingClient::with_tls(tls::outbound())
    }
}

impl RemotingClient {
    pub fn with_tls(tls: Option<ClientTls>) -> Self {
        RemotingClient { conns: Mutex::default(), tls }
    }

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

    /// A connection of its own to `addr` over TLS; the handshake counts
    /// against `timeout` too.
    pub async fn connect_tls(addr: &str, timeout: Duration, tls: &ClientTls) -> Result<ConnectionHandle, RemotingError> {
        let handshake = async {
            let stream = TcpStream::connect(addr).await?;
            let _ = stream.set_nodelay(true);
            let remote = stream.peer_addr()?;
            let session = tls.connector.connect(ClientTls::server_name(addr), stream).await?;
            Ok::<_, std::io::Error>((session, remote))
        };
        let (session, remote) = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| RemotingError::Timeout(0))??;
        Ok(spawn_stream(session, remote, Arc::new(RefuseRequests), Budget::new(Limits::default()), None))
    }

    async fn connection(&self, addr: &str, timeout: Duration) -> Result<ConnectionHandle, RemotingError> {
        if let Some(c) = self.conns.lock().unwrap().get(addr) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let conn = match &self.tls {
            Some(tls) => RemotingClient::connect_tls(addr, timeout, tls).await?,
            None => RemotingClient::connect(addr, timeout).await?,
        };
        self.conns.lock().unwrap().insert(addr.to_string(), conn.clone());
        Ok(conn)
    }
}

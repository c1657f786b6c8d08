//! One TCP connection: a read loop that decodes frames and hands requests to a
//! processor, and a writer task fed through a channel so any task may answer.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::codes::response;
use super::frame::parse_frame;
use super::{RemotingCommand, RemotingError};

/// Handles requests arriving on a connection. Returning `Some` sends that
/// response (unless the request was oneway); `None` means the processor
/// answers later itself (long polling) or there is nothing to answer.
pub trait RequestProcessor: Send + Sync + 'static {
    fn process(
        &self,
        conn: &ConnectionHandle,
        req: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + Send;

    /// Called once when the connection is gone.
    fn on_close(&self, _conn: &ConnectionHandle) {}
}

/// The answer the Java side gives to a request code it has no processor for.
pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
    tracing::warn!(code = req.code, "request code not supported");
    RemotingCommand::response_to(
        req,
        response::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!(" request type {} not supported", req.code)),
    )
}

enum Outbound {
    Command(RemotingCommand),
    Close,
}

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>>;

/// A cheap, cloneable handle to write to one connection.
#[derive(Clone)]
pub struct ConnectionHandle {
    id: u64,
    remote: SocketAddr,
    tx: mpsc::UnboundedSender<Outbound>,
    pending: Pending,
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn#{}({})", self.id, self.remote)
    }
}

impl PartialEq for ConnectionHandle {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl ConnectionHandle {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues a command for writing; false if the connection is gone.
    pub fn send(&self, cmd: RemotingCommand) -> bool {
        self.tx.send(Outbound::Command(cmd)).is_ok()
    }

    /// Sends a request and waits for the peer's response.
    pub async fn request(&self, mut cmd: RemotingCommand, timeout: Duration) -> Result<RemotingCommand, RemotingError> {
        let opaque = NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed);
        cmd.opaque = opaque;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(opaque, tx);
        let code = cmd.code;
        if !self.send(cmd) {
            self.pending.lock().unwrap().remove(&opaque);
            return Err(RemotingError::Closed);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(RemotingError::Closed),
            Err(_) => {
                self.pending.lock().unwrap().remove(&opaque);
                Err(RemotingError::Timeout(code))
            }
        }
    }

    /// Sends a oneway request (no response expected).
    pub fn send_oneway(&self, mut cmd: RemotingCommand) -> bool {
        cmd.opaque = NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed);
        cmd.mark_oneway();
        self.send(cmd)
    }

    pub fn close(&self) {
        let _ = self.tx.send(Outbound::Close);
    }
}

/// Starts the reader and writer for `stream`; returns once both are spawned.
pub fn spawn_connection<P: RequestProcessor>(stream: TcpStream, processor: Arc<P>, max_frame: usize) -> ConnectionHandle {
    let remote = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = ConnectionHandle {
        id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
        remote,
        tx,
        pending: Arc::default(),
    };
    tokio::spawn(write_loop(wr, rx));
    let conn = handle.clone();
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let result: Result<(), RemotingError> = async {
            loop {
                while let Some(cmd) = parse_frame(&mut buf, max_frame)? {
                    dispatch(&conn, &processor, cmd).await;
                }
                if rd.read_buf(&mut buf).await? == 0 {
                    return Ok(());
                }
            }
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(peer = %conn.remote, "closing connection: {e}");
        }
        conn.close();
        conn.pending.lock().unwrap().clear();
        processor.on_close(&conn);
    });
    handle
}

async fn dispatch<P: RequestProcessor>(conn: &ConnectionHandle, processor: &Arc<P>, cmd: RemotingCommand) {
    if cmd.is_response() {
        let waiter = conn.pending.lock().unwrap().remove(&cmd.opaque);
        match waiter {
            Some(w) => {
                let _ = w.send(cmd);
            }
            None => tracing::debug!(opaque = cmd.opaque, "response with no waiter (timed out?)"),
        }
        return;
    }
    let oneway = cmd.is_oneway();
    if let Some(resp) = processor.process(conn, cmd).await {
        if !oneway {
            conn.send(resp);
        }
    }
}

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Outbound>) {
    let mut out = BytesMut::with_capacity(64 * 1024);
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Coalesce whatever is already queued into one write.
        while let Some(item) = next.take() {
            match item {
                Outbound::Command(cmd) => cmd.encode_into(&mut out),
                Outbound::Close => {
                    let _ = wr.write_all(&out).await;
                    break 'outer;
                }
            }
            if out.len() < 1 << 20 {
                next = rx.try_recv().ok();
            }
        }
        if wr.write_all(&out).await.is_err() {
            break;
        }
        out.clear();
    }
    let _ = wr.shutdown().await;
}

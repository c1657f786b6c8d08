//! One TCP connection: a read loop that decodes frames and hands requests to a
//! processor, and a writer task fed through a channel so any task may answer.
//!
//! What a peer can make the connection hold is bounded: unsent response bytes
//! (the read loop pauses above the high water mark, as Netty's write-buffer
//! water marks pause a channel), bytes of large frames (a budget shared by the
//! whole server), and requests parked in the background (held pulls).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use super::codes::response;
use super::frame::{frame_len, parse_frame};
use super::limits::{Budget, ConnectionSlot, LogBudget};
use super::writer::Batch;
use super::{RemotingCommand, RemotingError};

/// What a processor makes of one request.
pub enum Reply {
    /// Answer now (`None`: nothing to send, or the processor answers later
    /// itself, as a held pull does).
    Now(Option<RemotingCommand>),
    /// The ordered part is done; the rest waits (a flush, a relay to a client)
    /// and runs beside the connection's next requests.
    Later(Pin<Box<dyn Future<Output = Option<RemotingCommand>> + Send>>),
}

impl From<Option<RemotingCommand>> for Reply {
    fn from(r: Option<RemotingCommand>) -> Self {
        Reply::Now(r)
    }
}

impl From<RemotingCommand> for Reply {
    fn from(r: RemotingCommand) -> Self {
        Reply::Now(Some(r))
    }
}

impl Reply {
    pub fn later(f: impl Future<Output = Option<RemotingCommand>> + Send + 'static) -> Self {
        Reply::Later(Box::pin(f))
    }
}

/// Handles requests arriving on a connection. A connection's requests are
/// processed in arrival order (Java runs sends on one thread, and clients
/// rely on that order); only a `Reply::Later` part runs concurrently, so a
/// request that waits never holds up the ones behind it.
pub trait RequestProcessor: Send + Sync + 'static {
    fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> impl Future<Output = Reply> + Send;

    /// Called once when the connection is gone.
    fn on_close(&self, _conn: &ConnectionHandle) {}
}

/// The answer the Java side gives to a request code it has no processor for.
pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
    static LOG: LogBudget = LogBudget::new(20);
    if let Some(suppressed) = LOG.allow() {
        tracing::warn!(code = req.code, suppressed, "request code not supported");
    }
    RemotingCommand::response_to(
        req,
        response::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!(" request type {} not supported", req.code)),
    )
}

enum Outbound {
    Command(RemotingCommand, usize),
    Close,
}

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>>;

/// Bytes queued for the writer and the signal that they drained.
struct Outflow {
    bytes: AtomicUsize,
    drained: Notify,
    writer_gone: AtomicBool,
    high: usize,
    low: usize,
}

impl Outflow {
    /// Returns once the queue is below the low water mark, if it was above
    /// the high one; so a peer that never reads stops being read.
    async fn wait_for_room(&self) {
        if self.bytes.load(Ordering::Acquire) <= self.high {
            return;
        }
        loop {
            let drained = self.drained.notified();
            if self.bytes.load(Ordering::Acquire) <= self.low || self.writer_gone.load(Ordering::Acquire) {
                return;
            }
            drained.await;
        }
    }

    fn written(&self, n: usize) {
        let before = self.bytes.fetch_sub(n, Ordering::AcqRel);
        if before - n <= self.low {
            self.drained.notify_waiters();
        }
    }
}

/// A cheap, cloneable handle to write to one connection.
#[derive(Clone)]
pub struct ConnectionHandle {
    id: u64,
    remote: SocketAddr,
    tx: mpsc::UnboundedSender<Outbound>,
    pending: Pending,
    outflow: Arc<Outflow>,
    background: Arc<AtomicUsize>,
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

/// Counts one request parked in the background until dropped.
pub struct BackgroundGuard(Arc<AtomicUsize>);

impl Drop for BackgroundGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnectionHandle {
    fn new(remote: SocketAddr, tx: mpsc::UnboundedSender<Outbound>, high: usize, low: usize) -> Self {
        ConnectionHandle {
            id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
            remote,
            tx,
            pending: Arc::default(),
            outflow: Arc::new(Outflow {
                bytes: AtomicUsize::new(0),
                drained: Notify::new(),
                writer_gone: AtomicBool::new(false),
                high,
                low,
            }),
            background: Arc::default(),
        }
    }

    /// A handle with no socket behind it, for driving processors in tests:
    /// whatever is sent to it arrives on the returned receiver.
    pub fn detached(remote: SocketAddr) -> (Self, mpsc::UnboundedReceiver<RemotingCommand>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = ConnectionHandle::new(remote, tx, usize::MAX, usize::MAX);
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let outflow = handle.outflow.clone();
        tokio::spawn(async move {
            while let Some(Outbound::Command(cmd, cost)) = rx.recv().await {
                outflow.written(cost);
                if out_tx.send(cmd).is_err() {
                    break;
                }
            }
        });
        (handle, out_rx)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves when the connection is gone.
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// Bytes of responses queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.outflow.bytes.load(Ordering::Relaxed)
    }

    /// Parks one more request in the background, unless `max` already are.
    pub fn try_begin_background(&self, max: usize) -> Option<BackgroundGuard> {
        let mut n = self.background.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match self.background.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(BackgroundGuard(self.background.clone())),
                Err(now) => n = now,
            }
        }
    }

    /// Queues a command for writing; false if the connection is gone.
    pub fn send(&self, cmd: RemotingCommand) -> bool {
        let cost = cmd.wire_size_estimate();
        self.outflow.bytes.fetch_add(cost, Ordering::AcqRel);
        if self.tx.send(Outbound::Command(cmd, cost)).is_err() {
            self.outflow.written(cost);
            return false;
        }
        true
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
/// `slot` is the connection's place in its server's connection count.
pub fn spawn_connection<P: RequestProcessor>(
    stream: TcpStream,
    processor: Arc<P>,
    budget: Arc<Budget>,
    slot: Option<ConnectionSlot>,
) -> ConnectionHandle {
    let remote = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    // Plain TCP splits without a lock between the halves.
    let (rd, wr) = stream.into_split();
    spawn_halves(rd, wr, remote, processor, budget, slot)
}

/// As `spawn_connection`, for any byte stream (a TLS session over TCP).
pub fn spawn_stream<S, P>(
    stream: S,
    remote: SocketAddr,
    processor: Arc<P>,
    budget: Arc<Budget>,
    slot: Option<ConnectionSlot>,
) -> ConnectionHandle
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    P: RequestProcessor,
{
    let (rd, wr) = tokio::io::split(stream);
    spawn_halves(rd, wr, remote, processor, budget, slot)
}

fn spawn_halves<R, W, P>(
    rd: R,
    wr: W,
    remote: SocketAddr,
    processor: Arc<P>,
    budget: Arc<Budget>,
    slot: Option<ConnectionSlot>,
) -> ConnectionHandle
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    P: RequestProcessor,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let limits = &budget.limits;
    let handle = ConnectionHandle::new(remote, tx, limits.write_high_water, limits.write_low_water);
    tokio::spawn(write_loop(wr, rx, handle.outflow.clone()));
    let conn = handle.clone();
    tokio::spawn(async move {
        let _slot = slot;
        match read_loop(rd, &conn, &processor, &budget).await {
            Ok(()) => {}
            // A TLS peer that hangs up without close_notify (as Java clients
            // do) has just gone, as a plain peer's EOF.
            Err(RemotingError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::debug!(peer = %conn.remote, "closed without close_notify");
            }
            Err(e) => {
                static LOG: LogBudget = LogBudget::new(20);
                if let Some(suppressed) = LOG.allow() {
                    tracing::warn!(peer = %conn.remote, suppressed, "closing connection: {e}");
                }
            }
        }
        conn.close();
        conn.pending.lock().unwrap().clear();
        processor.on_close(&conn);
    });
    handle
}

/// Read room per connection. Small, because most connections are idle
/// clients sending heartbeats; a frame longer than this gets room for all of
/// it once its length is known.
const READ_CHUNK: usize = 8 * 1024;
/// An empty read buffer bigger than this is replaced by a fresh small one.
const IDLE_BUF_MAX: usize = 256 * 1024;

/// Room for the next read: a large frame's room is given back once it is
/// parsed (a thousand idle clients must not each pin their largest request),
/// and a full buffer gets a chunk (BytesMut alone grows by 64 bytes).
fn make_read_room(buf: &mut BytesMut) {
    let room = buf.capacity() - buf.len();
    if buf.is_empty() && !(READ_CHUNK / 2..=IDLE_BUF_MAX).contains(&room) {
        // A fresh chunk rather than `reserve`, which would reclaim the whole
        // allocation behind it, however large, once its frames are dropped.
        *buf = BytesMut::with_capacity(READ_CHUNK);
    } else if room < READ_CHUNK / 2 {
        buf.reserve(READ_CHUNK);
    }
}

async fn read_loop<R: AsyncRead + Unpin, P: RequestProcessor>(
    mut rd: R,
    conn: &ConnectionHandle,
    processor: &Arc<P>,
    budget: &Budget,
) -> Result<(), RemotingError> {
    let max_frame = budget.limits.max_frame;
    let in_flight = Arc::new(Semaphore::new(budget.limits.max_in_flight.max(1)));
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut permit = None;
    loop {
        while let Some(cmd) = parse_frame(&mut buf, max_frame)? {
            conn.outflow.wait_for_room().await;
            if conn.is_closed() {
                return Ok(());
            }
            dispatch(conn, processor, cmd, &in_flight).await;
            permit = None;
        }
        if permit.is_none() {
            if let Some(len) = frame_len(&buf) {
                // Room for a large frame is taken before its bytes are, so
                // many half-sent frames cannot add up past the budget.
                permit = budget.reserve_inbound(len + 4).await;
                buf.reserve((len + 4).saturating_sub(buf.len()));
            }
        }
        make_read_room(&mut buf);
        if rd.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

async fn dispatch<P: RequestProcessor>(
    conn: &ConnectionHandle,
    processor: &Arc<P>,
    cmd: RemotingCommand,
    in_flight: &Arc<Semaphore>,
) {
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
    match processor.process(conn, cmd).await {
        Reply::Now(Some(resp)) if !oneway => {
            conn.send(resp);
        }
        Reply::Now(_) => {}
        Reply::Later(rest) => {
            // At the limit, stop reading until one finishes: a peer cannot
            // park unbounded work on one connection.
            let Ok(slot) = in_flight.clone().acquire_owned().await else { return };
            let conn = conn.clone();
            tokio::spawn(async move {
                if let Some(resp) = rest.await {
                    if !oneway {
                        conn.send(resp);
                    }
                }
                drop(slot);
            });
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::UnboundedReceiver<Outbound>, outflow: Arc<Outflow>) {
    let mut batch = Batch::new(wr.is_write_vectored());
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // What the queued commands were counted as until written: pieces
        // referenced by the batch (mapped records) stay counted meanwhile.
        let mut cost = 0;
        // Coalesce whatever is already queued into one write.
        while let Some(item) = next.take() {
            match item {
                Outbound::Command(cmd, c) => {
                    batch.push(&cmd);
                    cost += c;
                }
                Outbound::Close => {
                    if batch.write_to(&mut wr).await.is_ok() {
                        let _ = wr.flush().await;
                    }
                    outflow.written(cost);
                    break 'outer;
                }
            }
            if batch.len() < 1 << 20 {
                next = rx.try_recv().ok();
            }
        }
        // flush: a TLS stream may hold records back; for TCP it is a no-op.
        let ok = batch.write_to(&mut wr).await.is_ok() && wr.flush().await.is_ok();
        outflow.written(cost);
        if !ok {
            break;
        }
    }
    // Unblock the read loop and drop what can no longer be written.
    rx.close();
    while let Ok(item) = rx.try_recv() {
        if let Outbound::Command(_, c) = item {
            outflow.written(c);
        }
    }
    outflow.writer_gone.store(true, Ordering::Release);
    outflow.drained.notify_waiters();
    let _ = wr.shutdown().await;
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::{make_read_room, IDLE_BUF_MAX, READ_CHUNK};

    #[test]
    fn read_room_stays_small_for_idle_connections() {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        // A 1 MiB frame got room for all of it, and was parsed away.
        buf.reserve(1 << 20);
        buf.put_bytes(7, 1 << 20);
        let frame = buf.split_to(1 << 20).freeze();
        drop(frame);
        make_read_room(&mut buf);
        assert!(buf.capacity() >= READ_CHUNK / 2);
        // Had it kept the large allocation, room for 1 MiB would come free.
        buf.reserve(READ_CHUNK);
        assert!(buf.capacity() <= IDLE_BUF_MAX, "room of a parsed large frame kept: {}", buf.capacity());
    }

    #[test]
    fn a_full_buffer_gets_a_whole_chunk() {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        buf.put_bytes(1, buf.capacity());
        make_read_room(&mut buf);
        assert!(buf.capacity() - buf.len() >= READ_CHUNK / 2, "room {}", buf.capacity() - buf.len());
        // A partial frame is kept as it is.
        assert!(buf.iter().all(|&b| b == 1));
    }
}

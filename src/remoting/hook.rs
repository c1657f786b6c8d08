//! The seam every request passes through, for broker and name server alike:
//! hooks see each request before its processor (and may answer it instead,
//! as an access check does) and each response after, with its latency.
//! Cross-cutting concerns (stats, request logging, ACL) live here, not in
//! handlers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connection::{ConnectionHandle, Reply, RequestProcessor};
use super::RemotingCommand;

/// What a hook knows of a request besides the command itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub conn_id: u64,
    pub remote: SocketAddr,
    pub code: i32,
    pub opaque: i32,
    pub oneway: bool,
    pub started: Instant,
}

impl RequestContext {
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

pub trait RequestHook: Send + Sync + 'static {
    /// `Some` answers the request with that response; the processor and the
    /// later hooks do not see it.
    fn before(&self, _ctx: &RequestContext, _req: &RemotingCommand) -> Option<RemotingCommand> {
        None
    }

    /// Called once the request is answered (`None`: no response, as for a
    /// oneway request or a held pull answered by its processor later).
    fn after(&self, _ctx: &RequestContext, _resp: Option<&RemotingCommand>) {}
}

/// A processor with hooks around it.
pub struct Hooked<P> {
    inner: Arc<P>,
    hooks: Arc<[Arc<dyn RequestHook>]>,
}

impl<P> Hooked<P> {
    pub fn new(inner: Arc<P>, hooks: Vec<Arc<dyn RequestHook>>) -> Arc<Self> {
        Arc::new(Hooked { inner, hooks: hooks.into() })
    }
}

fn run_after(hooks: &[Arc<dyn RequestHook>], ctx: &RequestContext, resp: Option<&RemotingCommand>) {
    for h in hooks.iter().rev() {
        h.after(ctx, resp);
    }
}

impl<P: RequestProcessor> RequestProcessor for Hooked<P> {
    async fn process(&self, conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
        let ctx = RequestContext {
            conn_id: conn.id(),
            remote: conn.remote_addr(),
            code: req.code,
            opaque: req.opaque,
            oneway: req.is_oneway(),
            started: Instant::now(),
        };
        for h in self.hooks.iter() {
            if let Some(resp) = h.before(&ctx, &req) {
                run_after(&self.hooks, &ctx, Some(&resp));
                return Reply::Now(Some(resp));
            }
        }
        match self.inner.process(conn, req).await {
            Reply::Now(resp) => {
                run_after(&self.hooks, &ctx, resp.as_ref());
                Reply::Now(resp)
            }
            Reply::Later(rest) => {
                let hooks = self.hooks.clone();
                Reply::later(async move {
                    let resp = rest.await;
                    run_after(&hooks, &ctx, resp.as_ref());
                    resp
                })
            }
        }
    }

    fn on_close(&self, conn: &ConnectionHandle) {
        self.inner.on_close(conn);
    }
}

/// Logs every request at debug level, and slow or failed ones at info/warn,
/// with the peer, the code and the time taken.
pub struct RequestLog {
    pub slow: Duration,
}

impl RequestHook for RequestLog {
    fn after(&self, ctx: &RequestContext, resp: Option<&RemotingCommand>) {
        let elapsed = ctx.elapsed();
        let resp_code = resp.map(|r| r.code);
        if elapsed >= self.slow {
            tracing::info!(peer = %ctx.remote, code = ctx.code, ?resp_code, ?elapsed, "slow request");
        } else {
            tracing::debug!(peer = %ctx.remote, code = ctx.code, ?resp_code, ?elapsed, "request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Echo;
    impl RequestProcessor for Echo {
        async fn process(&self, _conn: &ConnectionHandle, req: RemotingCommand) -> Reply {
            let resp = RemotingCommand::response_to(&req, 0, None);
            if req.code == 2 {
                return Reply::later(async move { Some(resp) });
            }
            resp.into()
        }
    }

    #[derive(Default)]
    struct Record(Mutex<Vec<(i32, Option<i32>)>>);
    impl RequestHook for Record {
        fn before(&self, ctx: &RequestContext, _req: &RemotingCommand) -> Option<RemotingCommand> {
            (ctx.code == 99).then(|| RemotingCommand::request(0, 0))
        }
        fn after(&self, ctx: &RequestContext, resp: Option<&RemotingCommand>) {
            self.0.lock().unwrap().push((ctx.code, resp.map(|r| r.code)));
        }
    }

    #[tokio::test]
    async fn hooks_see_every_request_and_may_answer_first() {
        let rec = Arc::new(Record::default());
        let p = Hooked::new(Arc::new(Echo), vec![rec.clone()]);
        let (conn, _out) = ConnectionHandle::detached("127.0.0.1:1".parse().unwrap());
        assert!(matches!(p.process(&conn, RemotingCommand::request(1, 1)).await, Reply::Now(Some(_))));
        match p.process(&conn, RemotingCommand::request(2, 2)).await {
            Reply::Later(rest) => assert!(rest.await.is_some()),
            Reply::Now(_) => panic!("expected the later part"),
        }
        assert!(matches!(p.process(&conn, RemotingCommand::request(99, 3)).await, Reply::Now(Some(_))));
        assert_eq!(*rec.0.lock().unwrap(), vec![(1, Some(0)), (2, Some(0)), (99, Some(0))]);
    }
}

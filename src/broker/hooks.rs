//! The broker's request hooks: what every request passes through, whatever
//! its handler (see `remoting::hook`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Broker;
use crate::acl::{AccessRequest, AclManager};
use crate::remoting::limits::LogBudget;
use crate::remoting::codes::{request as rc, response};
use crate::remoting::hook::{RequestContext, RequestHook, RequestLog};
use crate::remoting::RemotingCommand;

/// Hooks in the order requests meet them.
pub fn standard(broker: &Arc<Broker>) -> Vec<Arc<dyn RequestHook>> {
    let mut hooks: Vec<Arc<dyn RequestHook>> = vec![Arc::new(RequestLog { slow: Duration::from_secs(1) })];
    // ACL off: no hook at all, so it costs nothing.
    if let Some(manager) = &broker.acl {
        hooks.push(Arc::new(Acl { manager: manager.clone() }));
    }
    hooks.push(Arc::new(PutStats { broker: Arc::downgrade(broker) }));
    hooks.push(Arc::new(Latency { metrics: broker.metrics.clone() }));
    hooks
}

static ACL_REFUSAL_LOG: LogBudget = LogBudget::new(20);

/// `aclEnable`: each request is checked as the Java broker's ACL RPC hook
/// checks it; a refusal is answered SYSTEM_ERROR with the Java remark
/// (`exceptionSimpleDesc` of the `AclException`) and logged with the peer.
struct Acl {
    manager: Arc<AclManager>,
}

impl RequestHook for Acl {
    fn before(&self, ctx: &RequestContext, req: &RemotingCommand) -> Option<RemotingCommand> {
        let refused = AccessRequest::parse(req, &ctx.remote).and_then(|r| self.manager.validate(&r)).err()?;
        if let Some(suppressed) = ACL_REFUSAL_LOG.allow() {
            let access_key = req.ext("AccessKey").unwrap_or("");
            tracing::warn!(peer = %ctx.remote, code = ctx.code, access_key, suppressed, "request refused by ACL: {refused}");
        }
        Some(RemotingCommand::response_to(req, response::SYSTEM_ERROR, Some(refused.remark())))
    }
}

/// The request latency histogram of the metrics endpoint, per request code
/// (answered requests only: oneway ones have no latency to speak of).
struct Latency {
    metrics: super::metrics::RequestMetrics,
}

impl RequestHook for Latency {
    fn after(&self, ctx: &RequestContext, resp: Option<&RemotingCommand>) {
        if resp.is_some() {
            self.metrics.observe(ctx.code, ctx.elapsed().as_secs_f64());
        }
    }
}

/// Send latency and failures, as the Java broker's `putMessageDistributeTime`
/// and `putMessageFailedTimes` count them (from arrival to answer, flush wait included).
struct PutStats {
    broker: Weak<Broker>,
}

impl RequestHook for PutStats {
    fn after(&self, ctx: &RequestContext, resp: Option<&RemotingCommand>) {
        if !matches!(ctx.code, rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE) {
            return;
        }
        let (Some(broker), Some(resp)) = (self.broker.upgrade(), resp) else { return };
        if resp.code == response::SUCCESS {
            broker.stats.on_put_time(ctx.elapsed().as_millis() as u64);
        } else {
            broker.stats.on_put_failed();
        }
    }
}

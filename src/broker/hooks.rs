//! The broker's request hooks: what every request passes through, whatever
//! its handler (see `remoting::hook`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Broker;
use crate::remoting::codes::{request as rc, response};
use crate::remoting::hook::{RequestContext, RequestHook, RequestLog};
use crate::remoting::RemotingCommand;

/// Hooks in the order requests meet them.
pub fn standard(broker: &Arc<Broker>) -> Vec<Arc<dyn RequestHook>> {
    vec![
        Arc::new(RequestLog { slow: Duration::from_secs(1) }),
        Arc::new(PutStats { broker: Arc::downgrade(broker) }),
        Arc::new(Latency { metrics: broker.metrics.clone() }),
    ]
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

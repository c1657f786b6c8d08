//! Prometheus exposition shared by the broker's and the name server's
//! collectors: the text format, the `/metrics` endpoint, and the helper
//! that writes one metric family from values read at scrape time.

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub type Labels = Vec<(&'static str, String)>;

/// One metric family and its samples.
pub fn family(enc: &mut DescriptorEncoder, name: &str, help: &str, kind: MetricType, samples: &[(Labels, f64)]) -> std::fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in samples {
        let f = m.encode_family(labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(*v).encode(f)?,
            _ => ConstGauge::new(*v).encode(f)?,
        }
    }
    Ok(())
}

pub fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, samples: &[(Labels, f64)]) -> std::fmt::Result {
    family(enc, name, help, MetricType::Gauge, samples)
}

/// The Prometheus text format (0.0.4) of everything in `registry`.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::warn!("metrics encoding failed: {e}");
    }
    out
}

pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Serves `GET /metrics` on a thread of its own: a scrape reads locks and
/// /proc, nothing for the async workers to wait on.
pub fn serve(addr: &str, registry: Registry) -> std::io::Result<std::net::SocketAddr> {
    let server = tiny_http::Server::http(addr).map_err(|e| std::io::Error::other(format!("metrics on {addr}: {e}")))?;
    let local = server.server_addr().to_ip().ok_or_else(|| std::io::Error::other("metrics: not an IP listener"))?;
    let header = tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE).expect("valid header");
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        for req in server.incoming_requests() {
            let path = req.url().split('?').next().unwrap_or("");
            let resp = if *req.method() == tiny_http::Method::Get && (path == "/metrics" || path == "/") {
                tiny_http::Response::from_string(render(&registry)).with_header(header.clone())
            } else {
                tiny_http::Response::from_string("not found\n").with_status_code(404)
            };
            if let Err(e) = req.respond(resp) {
                tracing::debug!("metrics response failed: {e}");
            }
        }
    })?;
    Ok(local)
}


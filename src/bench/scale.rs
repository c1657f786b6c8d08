//! `ferromq bench-scale`: Scale load: many topics/queues, many consumer clients heartbeating.
//! (placeholder: filled in by its scenario family, bench/scale.py)

#[derive(Debug, Clone, clap::Args)]
pub struct ScaleBenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
}

/// Runs the load and prints one JSON object.
pub async fn run(a: ScaleBenchArgs) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    Err(format!("bench-scale against {}: not written yet", a.broker).into())
}

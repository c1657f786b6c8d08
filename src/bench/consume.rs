//! `ferromq bench-consume`: Consumer load: N consumer connections reading a topic, tailing or catching up.
//! (placeholder: filled in by its scenario family, bench/consume.py)

#[derive(Debug, Clone, clap::Args)]
pub struct ConsumeBenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
}

/// Runs the load and prints one JSON object.
pub async fn run(a: ConsumeBenchArgs) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    Err(format!("bench-consume against {}: not written yet", a.broker).into())
}

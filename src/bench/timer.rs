//! `ferromq bench-timer`: Timer load: timer messages sent, pending and delivered; enqueue TPS and delivery lateness.
//! (placeholder: filled in by its scenario family, bench/timer.py)

#[derive(Debug, Clone, clap::Args)]
pub struct TimerBenchArgs {
    /// Broker address (host:port).
    #[arg(long, default_value = "127.0.0.1:10911")]
    pub broker: String,
}

/// Runs the load and prints one JSON object.
pub async fn run(a: TimerBenchArgs) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    Err(format!("bench-timer against {}: not written yet", a.broker).into())
}

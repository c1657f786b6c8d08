//! `ferromq`: name server, broker, or both in one process.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use ferromq::broker::Broker;
use ferromq::config::{self, BrokerConfig, NamesrvConfig, Settings};
use ferromq::namesrv::metrics::NamesrvCollector;
use ferromq::namesrv::Namesrv;
use ferromq::remoting::limits::Budget;
use ferromq::remoting::server::serve_tls;
use ferromq::remoting::tls::{self, ServerTls};

// Every request allocates its header map, strings and buffers; glibc's
// malloc/free were ~10 % of the broker's CPU on small sends, mimalloc cuts
// the broker's CPU per message by about a tenth for some 20-30 MB more RSS.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ferromq", version, about = "RocketMQ 4.x-compatible name server and broker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the name server (like mqnamesrv).
    Namesrv {
        /// namesrv.conf in properties format.
        #[arg(short = 'c', long = "configFile")]
        config: Option<PathBuf>,
        /// Print the effective configuration and exit.
        #[arg(short = 'p', long = "printConfigItem")]
        print: bool,
    },
    /// Run the broker (like mqbroker).
    Broker {
        /// broker.conf in properties format.
        #[arg(short = 'c', long = "configFile")]
        config: Option<PathBuf>,
        /// Name server list, host:port;host:port (else NAMESRV_ADDR or namesrvAddr).
        #[arg(short = 'n', long = "namesrvAddr")]
        namesrv: Option<String>,
        /// Print the effective configuration and exit.
        #[arg(short = 'p', long = "printConfigItem")]
        print: bool,
    },
    /// Load generator: send and pull through a broker, report TPS and latency.
    Bench(ferromq::bench::BenchArgs),
    /// The box's limit for the benchmark: answers sends and pulls without a store.
    Ceiling(ferromq::bench::ceiling::CeilingArgs),
    /// Load generator for consumers (N connections, tailing or catching up).
    BenchConsume(ferromq::bench::consume::ConsumeBenchArgs),
    /// Load generator for scale (many topics and queues, many consumer clients).
    BenchScale(ferromq::bench::scale::ScaleBenchArgs),
    /// Load generator for timer messages (enqueue, pending, delivery lateness).
    BenchTimer(ferromq::bench::timer::TimerBenchArgs),
    /// Run name server and broker in one process (the default).
    Standalone {
        /// broker.conf in properties format.
        #[arg(short = 'c', long = "configFile")]
        config: Option<PathBuf>,
        /// The name server's port.
        #[arg(long, default_value_t = 9876)]
        namesrv_port: u16,
        /// Print the effective broker configuration and exit.
        #[arg(short = 'p', long = "printConfigItem")]
        print: bool,
    },
}

fn broker_settings(config: Option<&PathBuf>, namesrv: Option<&str>) -> Result<Settings, config::ConfigError> {
    let mut s = config::broker_defaults();
    if let Some(path) = config {
        s.apply(config::load_file(path)?);
    }
    if let Some(n) = namesrv {
        s.apply([("namesrvAddr".to_string(), n.to_string())]);
    }
    Ok(s)
}

fn namesrv_settings(config: Option<&PathBuf>, port: Option<u16>) -> Result<Settings, config::ConfigError> {
    let mut s = config::namesrv_defaults();
    if let Some(path) = config {
        s.apply(config::load_file(path)?);
    }
    if let Some(p) = port {
        s.apply([("listenPort".to_string(), p.to_string())]);
    }
    Ok(s)
}

async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on port {port}: {e}")))
}

/// The TLS side of the listening ports, from `tls.*` keys (and
/// `tls.config.file`), and of the broker's outbound connections.
/// The server side of TLS (None: `disabled`) and the outbound side (None: plain).
type TlsSides = (Option<Arc<ServerTls>>, Option<tls::ClientTls>);

/// `outbound`: the broker's side too (a name server alone makes no connections).
fn tls_setup(s: &Settings, outbound: bool) -> Result<TlsSides, Box<dyn std::error::Error>> {
    let t = config::tls_settings(s)?;
    let server = t.server()?;
    let client = if outbound { t.client()? } else { None };
    tracing::info!(mode = t.mode.name(), outbound = outbound && t.enable, test_mode = t.test_mode, "TLS");
    Ok((server, client))
}

async fn start_namesrv(cfg: NamesrvConfig, tls: Option<Arc<ServerTls>>) -> Result<Arc<Namesrv>, Box<dyn std::error::Error>> {
    let listener = bind(cfg.listen_port).await?;
    let budget = Budget::new(cfg.limits.clone());
    let namesrv = Namesrv::new(cfg);
    namesrv.spawn_broker_scan();
    tokio::spawn(serve_tls(listener, namesrv.processor(), budget, tls));
    let cfg = namesrv.config();
    if cfg.metrics_port != 0 {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(NamesrvCollector::new(&namesrv)));
        let at = ferromq::metrics::serve(&format!("{}:{}", cfg.metrics_listen_address, cfg.metrics_port), registry)?;
        println!("Prometheus metrics on http://{at}/metrics");
    }
    println!("The Name Server boot success. serializeType=JSON");
    Ok(namesrv)
}

/// `namesrv`: the name server of the same process (standalone), whose
/// metrics the broker's endpoint then carries too.
async fn start_broker(
    cfg: BrokerConfig,
    tls: Option<Arc<ServerTls>>,
    namesrv: Option<&Arc<Namesrv>>,
) -> Result<Arc<Broker>, Box<dyn std::error::Error>> {
    let main = bind(cfg.listen_port).await?;
    let fast = bind(cfg.fast_listen_port()).await?;
    // One budget for both ports: the connection cap counts them together.
    let budget = Budget::new(cfg.limits.clone());
    let broker = Broker::open(cfg)?;
    let processor = broker.processor();
    tokio::spawn(serve_tls(main, processor.clone(), budget.clone(), tls.clone()));
    tokio::spawn(serve_tls(fast, processor, budget.clone(), tls));
    if broker.cfg().metrics_port != 0 {
        let addr = format!("{}:{}", broker.cfg().metrics_listen_address, broker.cfg().metrics_port);
        let mut registry = ferromq::broker::metrics::registry(&broker, Some(budget));
        if let Some(namesrv) = namesrv {
            registry.register_collector(Box::new(NamesrvCollector::new(namesrv)));
        }
        let at = ferromq::metrics::serve(&addr, registry)?;
        println!("Prometheus metrics on http://{at}/metrics");
    }
    if !broker.register_all().await && !broker.cfg().namesrv_addrs.is_empty() {
        tracing::warn!("no name server accepted the registration yet; retrying every period");
    }
    broker.spawn_services();
    println!(
        "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
        broker.cfg().broker_name,
        broker.cfg().broker_addr(),
        broker.cfg().namesrv_addrs.join(";")
    );
    Ok(broker)
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let command = cli.command.unwrap_or(Command::Standalone { config: None, namesrv_port: 9876, print: false });
    match command {
        Command::Bench(args) => {
            let json = args.json;
            let report = ferromq::bench::run(args).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                ferromq::bench::print_table(&report);
            }
            if report.send_errors > 0 || (report.consumed > 0 && report.consumed < report.sent) {
                return Err(format!("{} send errors, {} of {} consumed", report.send_errors, report.consumed, report.sent).into());
            }
        }
        Command::BenchConsume(args) => println!("{}", ferromq::bench::consume::run(args).await?),
        Command::BenchScale(args) => println!("{}", ferromq::bench::scale::run(args).await?),
        Command::BenchTimer(args) => println!("{}", ferromq::bench::timer::run(args).await?),
        Command::Ceiling(args) => {
            let (addr, _task) = ferromq::bench::ceiling::start(&args).await?;
            println!("ceiling ({:?}) listening on {addr}", args.mode);
            wait_for_signal().await;
        }
        Command::Namesrv { config, print } => {
            let s = namesrv_settings(config.as_ref(), None)?;
            if print {
                print!("{}", s.print());
                return Ok(());
            }
            let (server_tls, _) = tls_setup(&s, false)?;
            let mut cfg = NamesrvConfig::from_settings(s)?;
            cfg.config_file = config;
            start_namesrv(cfg, server_tls).await?;
            wait_for_signal().await;
        }
        Command::Broker { config, namesrv, print } => {
            let s = broker_settings(config.as_ref(), namesrv.as_deref())?;
            if print {
                print!("{}", s.print());
                return Ok(());
            }
            let (server_tls, client_tls) = tls_setup(&s, true)?;
            tls::set_outbound(client_tls);
            let mut cfg = BrokerConfig::from_settings(s)?;
            cfg.config_file = config;
            if cfg.namesrv_addrs.is_empty() {
                tracing::warn!("no name server address: set -n, NAMESRV_ADDR or namesrvAddr");
            }
            let broker = start_broker(cfg, server_tls, None).await?;
            wait_for_signal().await;
            broker.shutdown().await;
        }
        Command::Standalone { config, namesrv_port, print } => {
            let mut s = broker_settings(config.as_ref(), None)?;
            if s.get("namesrvAddr").unwrap_or("").is_empty() {
                s.apply([("namesrvAddr".to_string(), format!("127.0.0.1:{namesrv_port}"))]);
            }
            if print {
                print!("{}", s.print());
                return Ok(());
            }
            // One process: the name server takes the broker file's TLS keys.
            let (server_tls, client_tls) = tls_setup(&s, true)?;
            tls::set_outbound(client_tls);
            let mut cfg = BrokerConfig::from_settings(s)?;
            cfg.config_file = config;
            let mut ns = namesrv_settings(None, Some(namesrv_port))?;
            ns.apply([(
                "kvConfigPath".to_string(),
                cfg.store_root.join("namesrv").join("kvConfig.json").display().to_string(),
            )]);
            // The name server's ACL keys (see namesrv::acl) and bounds, from the same file.
            let shared = ["namesrvAclEnable", "aclConfigFile", "rocketmqHome"].into_iter();
            for key in shared.chain(config::NAMESRV_LIMIT_KEYS).chain(config::SERVER_LIMIT_KEYS) {
                if let Some(v) = cfg.settings.get(key) {
                    ns.apply([(key.to_string(), v.to_string())]);
                }
            }
            let namesrv = start_namesrv(NamesrvConfig::from_settings(ns)?, server_tls.clone()).await?;
            let broker = start_broker(cfg, server_tls, Some(&namesrv)).await?;
            wait_for_signal().await;
            broker.shutdown().await;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match ferromq::store::os::raise_open_files_limit() {
        Ok(n) => tracing::debug!(open_files = n, "open files limit"),
        Err(e) => tracing::warn!("could not raise the open files limit: {e}"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ferromq: {e}");
            ExitCode::FAILURE
        }
    }
}

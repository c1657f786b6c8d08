//! Starting a real ferromq process for integration tests: free loopback
//! ports, a temp store, the boot line awaited.
#![allow(dead_code)]

pub mod raw;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub broker_addr: String,
    pub namesrv_port: u16,
    pub conf: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn port_free(p: u16) -> bool {
    TcpListener::bind(("127.0.0.1", p)).is_ok()
}

/// A broker port whose fast port (port - 2) and HA port (port + 1, taken
/// at start or the broker exits) are free too.
pub fn broker_port() -> u16 {
    loop {
        let p = free_port();
        if p > 1026 && port_free(p - 2) && port_free(p + 1) {
            return p;
        }
    }
}

/// Writes broker.conf into `dir` with the given extra lines.
pub fn write_conf(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let conf = dir.join("broker.conf");
    let text = format!(
        "brokerName=broker-a\nbrokerIP1=127.0.0.1\nlistenPort={port}\nstorePathRootDir={}\n{extra}\n",
        dir.join("store").display()
    );
    std::fs::write(&conf, text).unwrap();
    conf
}

/// Starts a server on fresh ports with `extra` config lines, trying new
/// ports if another test took the chosen ones between the pick and the bind.
pub fn start_fresh(dir: &Path, extra: &str) -> Server {
    for _ in 0..3 {
        let (port, ns_port) = (broker_port(), broker_port());
        let conf = write_conf(dir, port, extra);
        if let Some(s) = Server::try_start(&conf, port, ns_port) {
            return s;
        }
    }
    panic!("ferromq did not boot on three sets of ports");
}

/// Starts a standalone master (its own name server) with `brokerRole={role}`
/// and an HA port for slaves to follow.
pub fn start_master(dir: &Path, role: &str, extra: &str) -> Server {
    let (port, ns, ha) = (broker_port(), broker_port(), free_port());
    let conf = write_conf(dir, port, &format!("brokerRole={role}\nhaListenPort={ha}\n{extra}"));
    Server::start(&conf, port, ns)
}

/// Writes the config of a slave registering with the name server on
/// `namesrv_port`; returned rather than started so a test can restart the
/// slave on the same store and port (see [`Server::start_broker`]).
pub fn slave_conf(dir: &Path, namesrv_port: u16, extra: &str) -> (PathBuf, u16) {
    let (port, ha) = (broker_port(), free_port());
    let conf = write_conf(
        dir,
        port,
        &format!(
            "brokerRole=SLAVE\nbrokerId=1\nhaListenPort={ha}\nnamesrvAddr=127.0.0.1:{namesrv_port}\nhaSendHeartbeatInterval=1000\n{extra}"
        ),
    );
    (conf, port)
}

/// Starts `ferromq <args>` and waits (bounded) for a stdout line `ready`
/// accepts. None, the process reaped, when it exits or stays silent for 30 s.
pub fn spawn_until(args: &[&OsStr], ready: impl Fn(&str) -> bool + Send + 'static) -> Option<Child> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ferromq");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    // Reads to the end: a full pipe would block the process.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if ready(&line) {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(child)
}

/// The line a broker prints once it serves, in both `standalone` and `broker` modes.
fn broker_booted(line: &str) -> bool {
    line.starts_with("The broker[") && line.contains("boot success")
}

impl Server {
    /// Starts `ferromq standalone` and waits (bounded) for its boot line.
    pub fn start(conf: &Path, broker_port: u16, namesrv_port: u16) -> Server {
        Server::try_start(conf, broker_port, namesrv_port).expect("ferromq did not boot within 30 s")
    }

    /// None when the process exits or stays silent for 30 s without booting.
    pub fn try_start(conf: &Path, broker_port: u16, namesrv_port: u16) -> Option<Server> {
        let ns = namesrv_port.to_string();
        let args = [OsStr::new("standalone"), OsStr::new("-c"), conf.as_os_str(), OsStr::new("--namesrv-port"), OsStr::new(&ns)];
        let child = spawn_until(&args, broker_booted)?;
        Some(Server { child, broker_addr: format!("127.0.0.1:{broker_port}"), namesrv_port, conf: conf.to_path_buf() })
    }

    /// Starts `ferromq broker` alone (no name server of its own: a slave
    /// whose `namesrvAddr` points at its master's) and waits (bounded) for
    /// its boot line. `namesrv_port` is only recorded.
    pub fn start_broker(conf: &Path, broker_port: u16, namesrv_port: u16) -> Server {
        let child = spawn_until(&[OsStr::new("broker"), OsStr::new("-c"), conf.as_os_str()], broker_booted)
            .expect("ferromq broker did not boot within 30 s");
        Server { child, broker_addr: format!("127.0.0.1:{broker_port}"), namesrv_port, conf: conf.to_path_buf() }
    }

    /// SIGKILL, as a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("ferromq did not stop within 15 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

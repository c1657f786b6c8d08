//! Master/slave replication between real ferromq processes: a standalone
//! master (name server + broker) and a slave broker registered with it.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::raw::{self, Raw};
use common::{broker_port, free_port, write_conf, Server};
use ferromq::protocol::message::MessageExt;
use ferromq::remoting::RemotingCommand;

const FILE_SIZE: usize = 64 * 1024;
const SUCCESS: i32 = 0;
const SLAVE_NOT_AVAILABLE: i32 = 11;
const SERVICE_NOT_AVAILABLE: i32 = 14;
const GET_ALL_TOPIC_CONFIG: i32 = 21;

fn start_master(dir: &Path, role: &str) -> Server {
    common::start_master(dir, role, &format!("mappedFileSizeCommitLog={FILE_SIZE}\nsyncFlushTimeout=3000"))
}

fn slave_conf(dir: &Path, namesrv_port: u16) -> (PathBuf, u16) {
    common::slave_conf(dir, namesrv_port, &format!("mappedFileSizeCommitLog={FILE_SIZE}"))
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The commit log files of a store, by name.
fn commit_log(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("store/commitlog"))
        .map(|rd| rd.filter_map(Result::ok).map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether the slave's commit log holds every byte the master's does: each
/// master file with data is in the slave, byte for byte (files prepared
/// ahead and never written are all zeros and may be missing).
fn logs_identical(master: &Path, slave: &Path) -> bool {
    let s: std::collections::HashMap<_, _> = commit_log(slave).into_iter().collect();
    commit_log(master).into_iter().all(|(name, data)| match s.get(&name) {
        Some(d) => *d == data,
        None => data.iter().all(|b| *b == 0),
    })
}

fn send_n(c: &mut Raw, topic: &str, from: usize, n: usize) -> Vec<i32> {
    (from..from + n)
        .map(|i| {
            let body = format!("message {i} {}", "x".repeat(i % 300));
            c.call(raw::send(topic, (i % 4) as i32, body.as_bytes())).code
        })
        .collect()
}

fn max_offset(addr: &str, topic: &str, q: i32) -> i64 {
    let r = Raw::connect(addr).call(raw::max_offset(topic, q));
    r.ext("offset").map_or(-1, |o| o.parse().unwrap())
}

/// Every message of queue `q` from `addr`, by pulling from offset 0.
fn pull_all(addr: &str, topic: &str, q: i32) -> Vec<MessageExt> {
    let mut c = Raw::connect(addr);
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = c.call(raw::pull("G", topic, q, offset, 0));
        if r.code != SUCCESS {
            return out;
        }
        let msgs = MessageExt::decode_all(r.body.as_deref().unwrap()).unwrap();
        offset = r.ext("nextBeginOffset").unwrap().parse().unwrap();
        out.extend(msgs);
    }
}

fn slave_has_topic(addr: &str, topic: &str) -> bool {
    let r = Raw::connect(addr).call(RemotingCommand::request(GET_ALL_TOPIC_CONFIG, 0));
    String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).contains(&format!("\"{topic}\""))
}

#[test]
fn slave_replicates_serves_pulls_syncs_topics_and_resumes_after_a_crash() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = start_master(md.path(), "ASYNC_MASTER");
    let (conf, sport) = slave_conf(sd.path(), master.namesrv_port);
    let slave = Server::start_broker(&conf, sport, master.namesrv_port);
    let mut c = Raw::connect(&master.broker_addr);
    // Enough to fill more than one 64 KiB commit log file.
    assert!(send_n(&mut c, "RepT", 0, 400).iter().all(|&code| code == SUCCESS));
    assert!(commit_log(md.path()).len() >= 2);
    wait_for("the slave's commit log to match", Duration::from_secs(30), || logs_identical(md.path(), sd.path()));

    // As Java's, the slave knows a topic once its metadata sync brings it
    // (every 10 s); then it serves pulls of the replicated messages.
    wait_for("the slave to sync the topic", Duration::from_secs(30), || slave_has_topic(&slave.broker_addr, "RepT"));
    for q in 0..4 {
        let m = pull_all(&master.broker_addr, "RepT", q);
        let s = pull_all(&slave.broker_addr, "RepT", q);
        assert_eq!(m.len(), 100);
        assert_eq!(s.iter().map(|x| (x.queue_offset, x.commit_log_offset, x.body.clone())).collect::<Vec<_>>(),
                   m.iter().map(|x| (x.queue_offset, x.commit_log_offset, x.body.clone())).collect::<Vec<_>>());
    }

    // The slave refuses writes as Java's does.
    let r = Raw::connect(&slave.broker_addr).call(raw::send("RepT", 0, b"to the slave"));
    assert_eq!(r.code, SERVICE_NOT_AVAILABLE);
    assert!(r.remark.as_deref().unwrap_or("").contains("messages are put to the slave"), "{:?}", r.remark);

    // A topic created on the master reaches the slave with the metadata sync.
    assert_eq!(c.call(raw::create_topic("CreatedOnMaster", 2, 2)).code, SUCCESS);
    wait_for("the slave to sync the new topic", Duration::from_secs(30), || slave_has_topic(&slave.broker_addr, "CreatedOnMaster"));

    // kill -9 the slave, send more, restart it: it resumes from its own
    // offset, with no gap and no duplicate.
    slave.kill();
    assert!(send_n(&mut c, "RepT", 400, 100).iter().all(|&code| code == SUCCESS));
    let slave = Server::start_broker(&conf, sport, master.namesrv_port);
    wait_for("the restarted slave to catch up", Duration::from_secs(30), || logs_identical(md.path(), sd.path()));
    for q in 0..4 {
        assert_eq!(max_offset(&slave.broker_addr, "RepT", q), 125);
        let s = pull_all(&slave.broker_addr, "RepT", q);
        let offsets: Vec<i64> = s.iter().map(|m| m.queue_offset).collect();
        assert_eq!(offsets, (0..125).collect::<Vec<_>>(), "queue {q}: every offset once");
    }
    slave.stop();
    master.stop();
}

#[test]
fn sync_master_answers_slave_not_available_until_a_slave_follows() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = start_master(md.path(), "SYNC_MASTER");
    let mut c = Raw::connect(&master.broker_addr);
    let r = c.call(raw::send("SyncT", 0, b"nobody follows"));
    assert_eq!(r.code, SLAVE_NOT_AVAILABLE, "{:?}", r.remark);
    assert!(r.ext("msgId").is_some(), "stored all the same, as Java answers");
    let (conf, sport) = slave_conf(sd.path(), master.namesrv_port);
    let slave = Server::start_broker(&conf, sport, master.namesrv_port);
    wait_for("a send acknowledged by the slave", Duration::from_secs(30), || c.call(raw::send("SyncT", 0, b"followed")).code == SUCCESS);
    // Every acknowledged message is on the slave already.
    let last = max_offset(&master.broker_addr, "SyncT", 0);
    assert_eq!(max_offset(&slave.broker_addr, "SyncT", 0), last);
    slave.stop();
    master.stop();
}

/// As the Java broker does not start when its HA port is taken, ferromq
/// exits non-zero and says which port, before it registers anywhere.
#[test]
fn a_ha_port_that_cannot_be_bound_stops_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let ha = taken.local_addr().unwrap().port();
    let port = broker_port();
    let conf = write_conf(dir.path(), port, &format!("haListenPort={ha}\nnamesrvAddr=127.0.0.1:1"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["broker", "-c"])
        .arg(&conf)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferromq");
    // Bounded: a broker that ignored the error would keep running.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the broker kept running with its HA port taken");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(!status.success());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains(&format!("cannot listen for HA slaves on haListenPort {ha}")), "{stderr}");
    assert!(!stdout.contains("boot success"), "{stdout}");
    drop(taken);
}

/// Starts `ferromq <mode> -c <conf>`, waiting (bounded) for a stdout line containing `ready`.
fn spawn_until(mode: &str, conf: &Path, ready: &'static str) -> std::process::Child {
    let args = [OsStr::new(mode), OsStr::new("-c"), conf.as_os_str()];
    common::spawn_until(&args, move |line| line.contains(ready))
        .unwrap_or_else(|| panic!("ferromq {args:?} did not print {ready:?} within 30 s"))
}

struct Killed(Vec<std::process::Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// conf/2m-2s-async as shipped (ports, store and name server overridden by
/// lines appended to a copy): the four brokers start, the name server lists
/// both groups with master and slave, and each slave replicates its master.
#[test]
fn the_2m_2s_async_example_starts_as_a_two_group_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let ns_port = free_port();
    let ns_conf = dir.path().join("namesrv.conf");
    std::fs::write(&ns_conf, format!("listenPort={ns_port}\nkvConfigPath={}\n", dir.path().join("kv.json").display())).unwrap();
    let mut procs = Killed(vec![spawn_until("namesrv", &ns_conf, "The Name Server boot success")]);
    let ns = format!("127.0.0.1:{ns_port}");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/2m-2s-async");
    let mut addrs = std::collections::BTreeMap::new();
    for name in ["broker-a", "broker-b", "broker-a-s", "broker-b-s"] {
        let text = std::fs::read_to_string(example.join(format!("{name}.conf"))).unwrap();
        let (port, ha) = (broker_port(), free_port());
        let conf = dir.path().join(format!("{name}.conf"));
        let store = dir.path().join(name).join("store");
        std::fs::write(
            &conf,
            format!("{text}\nlistenPort={port}\nhaListenPort={ha}\nnamesrvAddr={ns}\nstorePathRootDir={}\nmappedFileSizeCommitLog={FILE_SIZE}\nhaSendHeartbeatInterval=1000\n", store.display()),
        )
        .unwrap();
        procs.0.push(spawn_until("broker", &conf, "boot success"));
        addrs.insert(name, format!("127.0.0.1:{port}"));
    }
    let info = RemotingCommand::request(106 /* GET_BROKER_CLUSTER_INFO */, 0);
    wait_for("both groups with master and slave", Duration::from_secs(30), || {
        let r = raw::roundtrip(&ns, &info);
        let c: ferromq::protocol::route::ClusterInfo = ferromq::protocol::fastjson::parse(r.body.as_deref().unwrap()).unwrap();
        let group = |g: &str, s: &str| {
            c.broker_addr_table.get(g).map(|b| b.broker_addrs.clone())
                == Some([(0, addrs[g].clone()), (1, addrs[s].clone())].into_iter().collect())
        };
        group("broker-a", "broker-a-s")
            && group("broker-b", "broker-b-s")
            && c.cluster_addr_table.get("DefaultCluster").map(|v| v.len()) == Some(2)
    });
    for (master, slave) in [("broker-a", "broker-a-s"), ("broker-b", "broker-b-s")] {
        let mut c = Raw::connect(&addrs[master]);
        assert!(send_n(&mut c, "ExampleT", 0, 8).iter().all(|&code| code == SUCCESS));
        assert!(!commit_log(&dir.path().join(master)).is_empty());
        wait_for("the slave to replicate its master", Duration::from_secs(30), || {
            logs_identical(&dir.path().join(master), &dir.path().join(slave))
        });
    }
}

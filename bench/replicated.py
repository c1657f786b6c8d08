"""Scenario family 'replicated' (issue 14): a master + slave pair, SYNC_MASTER and ASYNC_MASTER.

Per scenario (brokerRole x producer connections, 1 KiB bodies) and round, for both brokers:
  * java:  Apache RocketMQ 4.9.7 name server JVM + master JVM + slave JVM;
  * ferro: `ferromq standalone -c master.conf --namesrv-port N` (master + name server in one
           process) and `ferromq broker -c slave.conf -n 127.0.0.1:N` (the slave).
Both slaves: same brokerName/cluster, brokerId=1, brokerRole=SLAVE, own port and store,
haMasterAddress=127.0.0.1:<master listenPort + 1> (both learn it from the name server as well;
set for determinism).

Before measuring, the pair must be replicating: a 1-message send to the master is retried until
acknowledged (a SYNC_MASTER answers SLAVE_NOT_AVAILABLE until its slave is connected), then the
slave's commitLogMaxOffset (GET_BROKER_RUNTIME_INFO) must reach the master's. Then a warm-up and
the measured run of the Rust generator (`ferromq bench`, send + pull from the master, as the
"send" family does). Afterwards the slave has to catch up: per queue of the measured topic its
GET_MAX_OFFSET equals the master's, and so do the commit log max offsets (waited for up to
REPL_CATCHUP_S seconds; a mismatch is an anomaly). CPU (utime+stime) of every process is taken
over the measured run plus that catch-up; RSS (VmHWM, RssAnon) at the end.

Knobs: REPL_ROUNDS (1), REPL_MSGS (30000; QUICK 10000), REPL_WARMUP (5000; QUICK 1000),
REPL_PRODUCERS ("1 16"), REPL_ROLES ("SYNC_MASTER ASYNC_MASTER"), REPL_BROKERS ("java ferro"),
REPL_SIZE (1024), REPL_CATCHUP_S (30). A Java pair takes ~35 s from spawn to replicating on this
shared box (three JVMs), so the family's 8 runs take ~8 minutes in full mode.
"""

import json
import shutil
import socket
import struct
import subprocess
import time
from collections import defaultdict
from pathlib import Path

# the report's number formatting, shared with bench/report.py
from report import fmt as _fmt, med as _med, ratio as _ratio

FAMILY = "replicated"

# --------------------------------------------------------------------------------------------
# a minimal remoting client (JSON headers) for the two admin calls the checks need
# --------------------------------------------------------------------------------------------

GET_BROKER_RUNTIME_INFO = 28
GET_MAX_OFFSET = 30


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def remoting_call(addr, code, ext=None, timeout=5.0):
    """One request on a fresh connection; returns (response header dict, body bytes)."""
    host, port = addr.rsplit(":", 1)
    header = json.dumps({"code": code, "language": "JAVA", "version": 395, "opaque": 1, "flag": 0,
                         "extFields": {k: str(v) for k, v in (ext or {}).items()}}).encode()
    frame = struct.pack(">iI", 4 + len(header), len(header)) + header
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(frame)
        (n,) = struct.unpack(">i", _recv_exact(s, 4))
        data = _recv_exact(s, n)
    hl = struct.unpack(">I", data[:4])[0] & 0xFFFFFF
    return json.loads(data[4:4 + hl]), data[4 + hl:]


def runtime_info(addr):
    h, body = remoting_call(addr, GET_BROKER_RUNTIME_INFO)
    if h.get("code") != 0:
        raise RuntimeError(f"runtime info from {addr}: code {h.get('code')} {h.get('remark')}")
    return json.loads(body.decode("utf-8", "replace")).get("table", {})


def max_offset(addr, topic, queue):
    h, _ = remoting_call(addr, GET_MAX_OFFSET, {"topic": topic, "queueId": queue})
    if h.get("code") != 0:
        raise RuntimeError(f"max offset {topic}/{queue} from {addr}: code {h.get('code')} {h.get('remark')}")
    return int((h.get("extFields") or {}).get("offset", -1))


def commitlog_max(addr):
    return int(runtime_info(addr).get("commitLogMaxOffset", -1))


# --------------------------------------------------------------------------------------------
# a master + slave pair (plus the Java name server)
# --------------------------------------------------------------------------------------------


class Pair:
    def __init__(self, ctx, kind, args, workdir, logdir, role):
        self.ctx, self.kind, self.args, self.role = ctx, kind, args, role
        self.workdir, self.logdir = Path(workdir), Path(logdir)
        self.namesrv_port, self.master_port = ctx.pick_ports()
        # the slave's port: its own B-2 / B / B+1 apart from the master's and the name server's
        while True:
            _, p = ctx.pick_ports()
            if abs(p - self.master_port) > 3 and abs(p - self.namesrv_port) > 3:
                self.slave_port = p
                break
        self.master_addr = f"127.0.0.1:{self.master_port}"
        self.slave_addr = f"127.0.0.1:{self.slave_port}"
        self.namesrv_addr = f"127.0.0.1:{self.namesrv_port}"
        self.procs = {}  # "master", "slave", "namesrv" (Java only)
        self.info = {"namesrv_port": self.namesrv_port, "master_port": self.master_port,
                     "slave_port": self.slave_port}

    def _confs(self):
        ctx = self.ctx
        m = ctx.write_broker_conf(self.workdir / "master", self.namesrv_port, self.master_port,
                                  {"brokerRole": self.role}, name="master.conf")
        s = ctx.write_broker_conf(self.workdir / "slave", self.namesrv_port, self.slave_port,
                                  {"brokerRole": "SLAVE", "brokerId": "1",
                                   "haMasterAddress": f"127.0.0.1:{self.master_port + 1}"},
                                  name="slave.conf")
        return m, s

    def _java_common(self, role):
        ctx = self.ctx
        home = self.workdir / f"home-{role}"
        (home / "conf").mkdir(parents=True, exist_ok=True)
        for r in ("namesrv", "broker"):
            (home / "conf" / f"logback_{r}.xml").write_text(
                ctx.LOGBACK.format(log=self.logdir / f"java-{role}-logback.log"))
        return (ctx.ADD_OPENS + [f"-Duser.home={home}", f"-Drocketmq.home.dir={home}",
                                 "-cp", self.args.classpath], {"ROCKETMQ_HOME": str(home)})

    def start(self):
        ctx = self.ctx
        mconf, sconf = self._confs()
        t0 = time.monotonic()
        if self.kind == "ferro":
            self.procs["master"] = ctx.Proc("ferromq-master", [
                self.args.ferromq, "standalone", "-c", str(mconf), "--namesrv-port",
                str(self.namesrv_port)], self.logdir, cwd=str(self.workdir))
            # the slave registers with the master's name server: let it listen first
            wait_port(self.namesrv_port, 30, self.procs["master"])
            self.procs["slave"] = ctx.Proc("ferromq-slave", [
                self.args.ferromq, "broker", "-c", str(sconf), "-n", self.namesrv_addr],
                self.logdir, cwd=str(self.workdir))
        else:
            ns_conf = self.workdir / "namesrv.conf"
            ns_conf.write_text(f"listenPort={self.namesrv_port}\n"
                               f"kvConfigPath={self.workdir / 'namesrv' / 'kvConfig.json'}\n")
            common, env = self._java_common("namesrv")
            ns = ctx.Proc("java-namesrv", [ctx.java_bin()] + ctx.namesrv_jvm_opts() + common + [
                "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", str(ns_conf)],
                self.logdir, env=env, cwd=str(self.workdir))
            self.procs["namesrv"] = ns
            ns.wait_for_line(lambda l: "The Name Server boot success" in l, 60)
            for role, conf in (("master", mconf), ("slave", sconf)):
                common, env = self._java_common(role)
                self.procs[role] = ctx.Proc(f"java-{role}", [ctx.java_bin()] + ctx.broker_jvm_opts() + common + [
                    "org.apache.rocketmq.broker.BrokerStartup", "-c", str(conf), "-n", self.namesrv_addr],
                    self.logdir, env=env, cwd=str(self.workdir))
        self._probe(t0)
        self._wait_replicating(t0)

    def _probe(self, t0, deadline_s=120):
        """A 1-message send to the master, retried until acknowledged (a SYNC_MASTER refuses
        with SLAVE_NOT_AVAILABLE until the slave is connected)."""
        ctx = self.ctx
        deadline = time.monotonic() + deadline_s
        attempts, last = 0, ""
        while True:
            attempts += 1
            try:
                r = subprocess.run([self.args.ferromq, "bench", "--broker", self.master_addr, "--topic",
                                    "BenchProbe", "--queues", str(ctx.CONFIG["queues"]), "--producers", "1",
                                    "--inflight", "1", "--messages", "1", "--size", "128",
                                    "--consume", "false", "--json"], capture_output=True, text=True, timeout=30)
                j = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
                if j.get("sent") == 1 and not j.get("send_errors"):
                    break
                last = f"rc={r.returncode} {r.stdout[-200:]} {r.stderr[-300:]}"
            except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
                last = repr(e)
            self._check_alive("start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no acknowledged send within {deadline_s} s; last probe: {last}")
            time.sleep(0.2)
        self.info["first_send_s"] = round(time.monotonic() - t0, 3)
        self.info["first_send_attempts"] = attempts

    def _wait_replicating(self, t0, deadline_s=60):
        """The slave's commit log reaches the master's (it has at least the probe)."""
        deadline = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < deadline:
            try:
                m, s = commitlog_max(self.master_addr), commitlog_max(self.slave_addr)
                last = (m, s)
                if m > 0 and s == m:
                    self.info["replicating_s"] = round(time.monotonic() - t0, 3)
                    return
            except (OSError, RuntimeError, ValueError) as e:
                last = repr(e)
            self._check_alive("start")
            time.sleep(0.2)
        raise RuntimeError(f"slave not replicating within {deadline_s} s (master, slave commit log max: {last})")

    def _check_alive(self, when):
        for role, p in self.procs.items():
            if not p.alive():
                raise RuntimeError(f"{self.kind} {role} died during {when}: {self.ctx.tail(p.err_path)}\n"
                                   f"{self.ctx.tail(p.out_path)}")

    # measured and stopped as bench.py's brokers are (its ProcGroup), the slave first
    STOP_ORDER = ("slave", "master", "namesrv")

    def cpu(self):
        return self.ctx.ProcGroup.cpu(self)

    def status(self):
        return self.ctx.ProcGroup.status(self)

    def all_alive(self):
        return self.ctx.ProcGroup.all_alive(self)

    def stop(self):
        return self.ctx.ProcGroup.stop(self)


def wait_port(port, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if not proc.alive():
                return  # the probe reports the death with the process' log
            time.sleep(0.05)


def catch_up(pair, topic, queues, timeout):
    """Waits until the slave has every queue's max offset and the commit log max offset of
    the master; returns (seconds waited, master offsets, slave offsets, equal?)."""
    t0 = time.monotonic()
    m = s = None
    while True:
        try:
            m = [max_offset(pair.master_addr, topic, q) for q in range(queues)] + [commitlog_max(pair.master_addr)]
            s = [max_offset(pair.slave_addr, topic, q) for q in range(queues)] + [commitlog_max(pair.slave_addr)]
            if m == s:
                return round(time.monotonic() - t0, 2), m, s, True
        except (OSError, RuntimeError, ValueError) as e:
            s = repr(e)
        if time.monotonic() - t0 > timeout or not pair.all_alive():
            return round(time.monotonic() - t0, 2), m, s, False
        time.sleep(0.2)


# --------------------------------------------------------------------------------------------


def config(ctx):
    q = ctx.QUICK
    return {
        "rounds": ctx.env_int("REPL_ROUNDS", 1),
        "messages": ctx.env_int("REPL_MSGS", 10000 if q else 30000),
        # the same size and connections before the measured run (JIT of the Java brokers)
        "warmup": ctx.env_int("REPL_WARMUP", 1000 if q else 5000),
        "producers": [int(x) for x in ctx.env_str("REPL_PRODUCERS", "1 16").split()],
        "roles": ctx.env_str("REPL_ROLES", "SYNC_MASTER ASYNC_MASTER").split(),
        "brokers": ctx.env_str("REPL_BROKERS", "java ferro").split(),
        "size": ctx.env_int("REPL_SIZE", 1024),
        "catchup_s": ctx.env_int("REPL_CATCHUP_S", 30),
    }


def run(ctx, args, emit):
    cfg = config(ctx)
    for rnd in range(1, cfg["rounds"] + 1):
        for role in cfg["roles"]:
            for producers in cfg["producers"]:
                for kind in cfg["brokers"]:
                    ctx.log(f"replicated round {rnd}: {role} {cfg['size']} B x {producers}, {kind}")
                    rec = one_run(ctx, args, cfg, kind, role, producers, rnd)
                    g = rec.get("gen") or {}
                    ctx.log(f"  -> tps={g.get('send_tps', 0):.0f} p99={g.get('send_p99_us')}us "
                            f"cpu/M={rec.get('cpu_s_per_million')} catch-up={rec.get('catch_up_s')}s "
                            f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
                    emit(rec)


def one_run(ctx, args, cfg, kind, role, producers, rnd):
    size, messages = cfg["size"], cfg["messages"]
    run_id = f"repl-{role}-{size}B-p{producers}-r{rnd}-{kind}"
    logdir = Path(args.logs, run_id)
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = ctx.new_workdir(run_id)
    rec = {"type": "repl", "family": FAMILY, "run_id": run_id, "broker": kind, "role": role,
           "size": size, "producers": producers, "inflight": ctx.CONFIG["inflight"],
           "queues": ctx.CONFIG["queues"], "messages": messages, "round": rnd, "consume": True,
           "store_dir": str(workdir), "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "loadavg_before": ctx.loadavg()}
    if ctx.CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = ctx.wait_for_quiet(ctx.CONFIG["idle_wait_s"])
    pair = None
    try:
        pair = Pair(ctx, kind, args, workdir, logdir, role)
        try:
            pair.start()
        finally:
            rec.update(pair.info)
        warm = cfg["warmup"]
        if warm > 0:
            w, _ = ctx.run_generator(args, pair.master_addr, "BenchWarmup", producers, warm, size)
            rec["warmup"] = {"messages": warm, "error": w.get("error"),
                             "send_tps": (w.get("gen") or {}).get("send_tps")}
        cpu0 = pair.cpu()
        sys0 = ctx.system_busy_seconds()
        res, cmd = ctx.run_generator(args, pair.master_addr, "BenchTopic", producers, messages, size)
        rec["generator_cmd"] = " ".join(cmd)
        rec.update(res)
        rec["catch_up_s"], rec["master_offsets"], rec["slave_offsets"], rec["caught_up"] = catch_up(
            pair, "BenchTopic", ctx.CONFIG["queues"], cfg["catchup_s"])
        sys1 = ctx.system_busy_seconds()
        cpu1 = pair.cpu()
        wall = (res.get("gen_wall_s") or 0) + rec["catch_up_s"]
        ours = sum(cpu1[r] - cpu0[r] for r in cpu0) + res.get("gen_cpu_s", 0)
        if wall:
            rec["other_cores_busy"] = round(max(0.0, (sys1 - sys0) - ours) / wall, 2)
        ctx.record_usage(pair, rec, cpu0, cpu1)
        rec["peak_rss_pair_mib"] = round(sum(rec["peak_rss_kb"].get(r) or 0 for r in ("master", "slave")) / 1024, 1)
        pair_cpu = rec["cpu_s"].get("master", 0) + rec["cpu_s"].get("slave", 0)
        rec["cpu_s_pair"] = round(pair_cpu, 3)
        sent = (rec.get("gen") or {}).get("sent") or 0
        rec["cpu_s_per_million"] = round(pair_cpu / (sent / 1e6), 2) if sent else None
        rec["broker_alive_after_run"] = pair.all_alive()
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        rec["stop"] = pair.stop() if pair else {}
        rec["loadavg_after"] = ctx.loadavg()
        # error, send errors, unconsumed messages, a process that died or exited badly
        a = ctx.anomalies_of(rec)
        if rec.get("caught_up") is False:
            a.append(f"slave did not catch up within {cfg['catchup_s']} s: master {rec.get('master_offsets')} "
                     f"slave {rec.get('slave_offsets')} (queues 0..{ctx.CONFIG['queues'] - 1}, commit log)")
        rec["anomalies"] = a
        if a and pair:
            for r, p in pair.procs.items():
                rec.setdefault("log_tail", {})[r] = ctx.tail(p.err_path, 20) + "\n" + ctx.tail(p.out_path, 10)
        if not args.keep_stores:
            shutil.rmtree(workdir, ignore_errors=True)
    return rec


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def report(records):
    recs = [r for r in records if r.get("type") == "repl"]
    if not recs:
        return ""
    groups = defaultdict(lambda: defaultdict(list))
    failed = []
    for r in recs:
        if r.get("error") or not r.get("gen"):
            failed.append(r)
            continue
        groups[(r["role"], r["size"], r["producers"])][r["broker"]].append(r)
    out = ["### Replicated: master + slave (`replicated` family), medians", ""]
    w = out.append
    w("| scenario | broker | runs | send TPS | p50 µs | p99 µs | CPU s / 1M msgs (master + slave) | "
      "peak RSS MiB master / slave | anon RSS MiB master / slave | slave caught up (s) | errors / missing | others' load |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    ratios = []
    # SYNC_MASTER first (the order), then by connections
    for key in sorted(groups, key=lambda k: (k[0] != "SYNC_MASTER", k[0], k[1], k[2])):
        role, size, prod = key
        agg = {}
        for kind, label in (("java", "RocketMQ 4.9.7"), ("ferro", "ferromq")):
            rs = groups[key].get(kind)
            if not rs:
                continue
            g = [r["gen"] for r in rs]

            def kb(r, role_, field):
                return ((r.get("rss_kb") or {}).get(role_) or {}).get(field)

            x = {
                "tps": _med([y.get("send_tps") for y in g]),
                "p50": _med([y.get("send_p50_us") for y in g]),
                "p99": _med([y.get("send_p99_us") for y in g]),
                "cpu": _med([r.get("cpu_s_per_million") for r in rs]),
                "rss_m": _med([(kb(r, "master", "VmHWM") or 0) / 1024 for r in rs]),
                "rss_s": _med([(kb(r, "slave", "VmHWM") or 0) / 1024 for r in rs]),
                "anon_m": _med([(kb(r, "master", "RssAnon") or 0) / 1024 for r in rs]),
                "anon_s": _med([(kb(r, "slave", "RssAnon") or 0) / 1024 for r in rs]),
                "rss_pair": _med([r.get("peak_rss_pair_mib") for r in rs]),
                "catch": _med([r.get("catch_up_s") for r in rs]),
                "other": _med([r.get("other_cores_busy") for r in rs]),
                "errors": sum((y.get("send_errors") or 0) for y in g),
                "missing": sum(max(0, (y.get("sent") or 0) - (y.get("consumed") or 0)) for y in g),
                "n": len(rs),
                "caught": all(r.get("caught_up") for r in rs),
            }
            agg[kind] = x
            w(f"| {role} 1 KiB × {prod} | {label} | {x['n']} | {_fmt(x['tps'])} | {_fmt(x['p50'])} | "
              f"{_fmt(x['p99'])} | {_fmt(x['cpu'], 1)} | {_fmt(x['rss_m'])} / {_fmt(x['rss_s'])} | "
              f"{_fmt(x['anon_m'])} / {_fmt(x['anon_s'])} | {_fmt(x['catch'], 1)}{'' if x['caught'] else ' (NOT caught up)'} | "
              f"{x['errors']} / {x['missing']} | {_fmt(x['other'], 2)} |")
        if "java" in agg and "ferro" in agg:
            ratios.append((key, agg["java"], agg["ferro"]))
    w("")
    w("Generator: `ferromq bench` against the master, N producer connections × 1 send in flight, "
      "1 KiB bodies, every message also pulled from the master (as in the unreplicated table). "
      "CPU = utime+stime of master + slave over the measured run and the slave's catch-up, per "
      "million messages; ferromq's master process also holds the name server (`standalone`), "
      "RocketMQ's name server JVM is not counted (it is in the JSON). Peak RSS = VmHWM. Slave "
      "caught up = seconds after the run until the slave's max offset of every queue and its "
      "commit log max offset equal the master's.")
    w("")
    if ratios:
        w("| scenario | ferromq / RocketMQ TPS | p99 latency | CPU per msg | peak RSS (master + slave) |")
        w("|---|--:|--:|--:|--:|")
        for (role, size, prod), j, f in ratios:
            w(f"| {role} 1 KiB × {prod} | {_ratio(f['tps'], j['tps'])} | {_ratio(f['p99'], j['p99'])} | "
              f"{_ratio(f['cpu'], j['cpu'])} | {_ratio(f['rss_pair'], j['rss_pair'])} |")
        w("")
        w("TPS > 1× means ferromq is faster; the other ratios < 1× mean ferromq uses less.")
        w("")
    if failed:
        w("Runs left out (error): " + "; ".join(f"`{r['run_id']}`: {r.get('error')}" for r in failed))
        w("")
    return "\n".join(out)

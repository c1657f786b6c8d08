#!/usr/bin/env python3
"""ferromq vs Apache RocketMQ 4.9.7 benchmark driver (run through bench/run.sh).

For every scenario (body size x producer connections) and round it starts Apache RocketMQ
4.9.7 (NamesrvStartup + BrokerStartup, two JVMs) and then ferromq (`ferromq standalone`), each
on a fresh store in a fresh temp directory and on free loopback ports, and drives each with the
same Rust load generator (`ferromq bench --json`). Brokers alternate: java, ferro, java, ferro...
The same scenarios also run against `ferromq ceiling` ("nostore": sends and pulls answered on
ferromq's remoting layer with no store; "append": the same plus every body written to a file),
the box's reference: the report shows ferromq as a fraction of it.

Per run it records, as one JSON line:
  * the generator's JSON (send TPS, send latency p50/p99/p999, end-to-end p50/p99, errors,
    consumed count);
  * broker peak RSS (VmHWM of /proc/<pid>/status; for Java the broker JVM and the name server
    JVM separately, and their sum);
  * broker CPU seconds (utime+stime of /proc/<pid>/stat, delta over the measured run, divided by
    CLK_TCK) and per million messages;
  * time from spawning the broker process to the first acknowledged send (a 1-message
    `ferromq bench --messages 1 --consume false` retried until it succeeds);
  * load averages (/proc/loadavg) before and after the run.

It also runs RocketMQ's own Java benchmark Producer + Consumer (or the stand-ins in
bench/java, see bench/run.sh) against both brokers for a fixed window and records the
periodic "Send TPS" lines.

Every process it starts is stopped on exit (normal end, exception, SIGINT, SIGTERM).
"""

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FERROMQ_PATH = None

# --------------------------------------------------------------------------------------------
# configuration (environment variables; see BENCHMARKS.md)
# --------------------------------------------------------------------------------------------


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def env_str(name, default):
    v = os.environ.get(name, "")
    return v if v.strip() else default


QUICK = os.environ.get("QUICK", "") not in ("", "0")

CONFIG = {
    "quick": QUICK,
    "rounds": env_int("ROUNDS", 1 if QUICK else 2),
    "sizes": [int(s) for s in env_str("SIZES", "128 1024 65536").split()],
    "producers": [int(s) for s in env_str("PRODUCERS", "1 16").split()],
    "inflight": env_int("INFLIGHT", 1),
    "queues": env_int("QUEUES", 8),
    "messages": {
        128: env_int("MSGS_128", 20000 if QUICK else 200000),
        1024: env_int("MSGS_1K", 20000 if QUICK else 200000),
        65536: env_int("MSGS_64K", 2000 if QUICK else 20000),
    },
    "messages_other": env_int("MSGS_OTHER", 20000 if QUICK else 100000),
    # warm-up before each measured run (same size and connections, separate topic; excluded
    # from TPS/latency/CPU but not from peak RSS): lets the JIT of the Java broker warm up.
    "warmup_messages": env_int("WARMUP_MSGS", 2000 if QUICK else 10000),
    "warmup_messages_64k": env_int("WARMUP_MSGS_64K", 200 if QUICK else 1000),
    # "nostore" / "append": `ferromq ceiling`, the box's reference (no store; bodies appended
    # to a file); generator scenarios only
    "brokers": env_str("BROKERS", "java ferro nostore append").split(),
    # RocketMQ's own Java benchmark tools: "SIZExTHREADS" entries, fixed window in seconds
    # "<size>x<threads>" with the Consumer beside the Producer, "...p" the Producer alone
    "java_tool_scenarios": env_str("JAVA_TOOL_SCENARIOS", "1024x16p 1024x16").split() if env_str("JAVA_TOOL_SCENARIOS", "1024x16p 1024x16") != "none" else [],
    "java_tool_rounds": env_int("JAVA_TOOL_ROUNDS", 1 if QUICK else 2),
    "java_tool_seconds": env_int("JAVA_TOOL_SECONDS", 20 if QUICK else 60),
    # what the Java processes get (what a user would give them on a 2-core / 24 GiB box; the
    # distribution's runbroker.sh / runserver.sh defaults are 8g / 4g with -XX:+AlwaysPreTouch)
    "java_broker_heap": env_str("JAVA_BROKER_HEAP", "2g"),
    "java_namesrv_heap": env_str("JAVA_NAMESRV_HEAP", "512m"),
    "java_broker_extra": env_str("JAVA_BROKER_OPTS", ""),
    "java_client_heap": env_str("JAVA_CLIENT_HEAP", "1g"),
    "flush_disk_type": env_str("FLUSH_DISK_TYPE", "ASYNC_FLUSH"),
    "tmp_root": env_str("BENCH_TMPDIR", tempfile.gettempdir()),
    "gen_timeout_floor": env_int("GEN_TIMEOUT", 300),
    # before each run, wait up to this many seconds for the machine to be (nearly) idle
    "idle_wait_s": env_int("IDLE_WAIT", 0 if QUICK else 15),
    # spawn -> first acknowledged send must happen within this (a Java broker recovering tens
    # of thousands of consume queues takes minutes)
    "start_deadline_s": env_int("START_DEADLINE_S", 90),
    # scenario families, in this order: "send" (generator, sizes x producers), "javatool"
    # (RocketMQ's benchmark tools), and the families in bench/<name>.py (each a module with
    # run(ctx, args, emit) and report(records) -> Markdown)
    "families": env_str("FAMILIES", "send javatool consume syncflush scale replicated timer").split(),
}

G1 = ["-XX:+UseG1GC", "-XX:G1HeapRegionSize=16m", "-XX:G1ReservePercent=25",
      "-XX:InitiatingHeapOccupancyPercent=30", "-XX:SoftRefLRUPolicyMSPerMB=0"]
# Java 17: RocketMQ 4.9.7 reflects into these (netty, mapped-buffer cleaner, fastjson).
ADD_OPENS = []
for pkg in ("java.base/java.nio", "java.base/sun.nio.ch", "java.base/jdk.internal.ref",
            "java.base/java.lang", "java.base/java.util"):
    ADD_OPENS += ["--add-opens", pkg + "=ALL-UNNAMED"]


def java_bin():
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    return shutil.which("java") or "java"


def broker_jvm_opts():
    h = CONFIG["java_broker_heap"]
    # runbroker.sh (Java >= 9 branch) minus the heap size, -XX:+AlwaysPreTouch and GC logging
    opts = ["-server", f"-Xms{h}", f"-Xmx{h}"] + G1 + [
        "-XX:-OmitStackTraceInFastThrow", "-XX:-UseLargePages"]
    if CONFIG["java_broker_extra"]:
        opts += CONFIG["java_broker_extra"].split()
    return opts


def namesrv_jvm_opts():
    h = CONFIG["java_namesrv_heap"]
    # runserver.sh (Java >= 9 branch) with a smaller heap
    return ["-server", f"-Xms{h}", f"-Xmx{h}", "-XX:MetaspaceSize=128m",
            "-XX:MaxMetaspaceSize=320m"] + G1 + ["-XX:-OmitStackTraceInFastThrow",
                                                  "-XX:-UseLargePages"]


def client_jvm_opts():
    h = CONFIG["java_client_heap"]
    # benchmark/runclass.sh: -Xms1g -Xmx1g -Xmn256m (its CMS flags do not exist on Java 17)
    return ["-server", f"-Xms{h}", f"-Xmx{h}", "-Xmn256m", "-XX:-OmitStackTraceInFastThrow",
            "-XX:+PerfDisableSharedMem", "-Dorg.apache.rocketmq.client.sendSmartMsg=true"]


try:
    CLK_TCK = int(subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True,
                                 check=True).stdout.strip())
except Exception:  # noqa: BLE001
    CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------

LIVE = []  # Proc objects started and not yet stopped


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, file=sys.stderr, flush=True)


class Proc:
    def __init__(self, name, cmd, logdir, env=None, cwd=None):
        self.name = name
        self.cmd = cmd
        self.out_path = Path(logdir, f"{name}.out")
        self.err_path = Path(logdir, f"{name}.err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.spawn_wall = time.monotonic()
        self.p = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                  env=full_env, cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        self.exit_code = None
        self.stop_seconds = None
        LIVE.append(self)

    def alive(self):
        return self.p.poll() is None

    def stdout_text(self):
        try:
            return self.out_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_line(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout_text().splitlines():
                if predicate(line):
                    return time.monotonic() - self.spawn_wall
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.p.returncode} before getting ready; "
                                   f"stderr tail: {tail(self.err_path)}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after {timeout}s")

    def stop(self, grace=20.0):
        """SIGTERM, wait up to `grace` s, then SIGKILL. Only this process (by pid)."""
        if self in LIVE:
            LIVE.remove(self)
        t0 = time.monotonic()
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {grace}s; SIGKILL")
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        self.stop_seconds = round(time.monotonic() - t0, 3)
        self.exit_code = self.p.returncode
        self._out.close()
        self._err.close()
        return self.exit_code


def stop_all():
    for proc in list(reversed(LIVE)):
        try:
            proc.stop(grace=10.0)
        except Exception as e:  # noqa: BLE001
            log(f"cleanup of {proc.name} failed: {e}")


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def tail(path, n=15):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])  # kB
            elif k == "Threads":
                out[k] = int(v.strip())
    return out


def system_busy_seconds():
    """CPU seconds spent busy by the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK


def wait_for_quiet(max_wait, threshold=0.5):
    """Wait (at most max_wait s) for a 1-second window in which the machine is less than
    `threshold` cores busy (nothing of ours runs then). Returns (seconds waited, last load)."""
    t0 = time.monotonic()
    busy = None
    while True:
        b0 = system_busy_seconds()
        time.sleep(1.0)
        busy = system_busy_seconds() - b0
        if busy < threshold or time.monotonic() - t0 >= max_wait:
            return round(time.monotonic() - t0, 1), round(busy, 2)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# --------------------------------------------------------------------------------------------
# ports, configs
# --------------------------------------------------------------------------------------------


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_ports():
    """A name server port N and a broker port B with B-2 (fast port) and B+1 (Java HA port)
    free, from 20000-31999 (below Linux's ephemeral range)."""
    for _ in range(500):
        b = random.randint(20010, 31990)
        n = random.randint(20010, 31990)
        if abs(n - b) <= 3:
            continue
        if all(port_free(p) for p in (b - 2, b, b + 1, n)):
            return n, b
    raise RuntimeError("no free ports")


def write_broker_conf(workdir, namesrv_port, broker_port, extra=None, name="broker.conf"):
    """`extra`: keys added to / overriding the common configuration (a family's scenario)."""
    store = Path(workdir, "store")
    store.mkdir(parents=True, exist_ok=True)
    conf = {
        "brokerClusterName": "DefaultCluster",
        "brokerName": "broker-a",
        "brokerId": "0",
        "brokerIP1": "127.0.0.1",
        "listenPort": str(broker_port),
        "namesrvAddr": f"127.0.0.1:{namesrv_port}",
        "storePathRootDir": str(store),
        "storePathCommitLog": str(store / "commitlog"),
        "flushDiskType": CONFIG["flush_disk_type"],
        "brokerRole": "ASYNC_MASTER",
        "autoCreateTopicEnable": "true",
        "autoCreateSubscriptionGroup": "true",
        "deleteWhen": "04",
        "fileReservedTime": "48",
    }
    conf.update({k: str(v) for k, v in (extra or {}).items()})
    path = Path(workdir, name)
    path.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
    return path


LOGBACK = """<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%d{{HH:mm:ss.SSS}} %-5level [%thread] %logger{{24}} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
"""

# --------------------------------------------------------------------------------------------
# brokers
# --------------------------------------------------------------------------------------------


# `ferromq ceiling --mode ...`: no store, and no name server but itself (it routes a Java
# producer to itself); the Java tool runs use "nostore" for the Producer-alone shape only
CEILING_KINDS = ("nostore", "append")


class ProcGroup:
    """The processes of one broker under test (role -> Proc), measured and stopped together.
    `STOP_ORDER` names the roles in the order they are waited for after one SIGTERM to all."""

    STOP_ORDER = ("broker", "namesrv")

    def cpu(self):
        return {role: proc_cpu_seconds(p.pid) for role, p in self.procs.items()}

    def status(self):
        return {role: proc_status(p.pid) for role, p in self.procs.items()}

    def all_alive(self):
        return all(p.alive() for p in self.procs.values())

    def stop(self):
        """SIGTERM to every process at once, then wait for each (Proc.stop escalates)."""
        out = {}
        alive = {role: p.alive() for role, p in self.procs.items()}
        for p in self.procs.values():
            if p.alive():
                try:
                    os.kill(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for role in self.STOP_ORDER:
            p = self.procs.get(role)
            if p is None:
                continue
            code = p.stop()
            out[role] = {"alive_before_stop": alive[role], "exit_code": code,
                         "stop_seconds": p.stop_seconds}
        return out


class Broker(ProcGroup):
    """A running broker under test: `kind` is "java" or "ferro" (or a ceiling kind)."""

    def __init__(self, kind, args, workdir, logdir, extra_conf=None):
        self.kind = kind
        self.extra_conf = extra_conf or {}
        self.args = args
        self.workdir = Path(workdir)
        self.logdir = Path(logdir)
        self.namesrv_port, self.broker_port = pick_ports()
        self.addr = f"127.0.0.1:{self.broker_port}"
        self.namesrv_addr = f"127.0.0.1:{self.namesrv_port}"
        self.procs = {}  # role -> Proc ("broker", "namesrv")
        self.info = {"namesrv_port": self.namesrv_port, "broker_port": self.broker_port}

    # -- start ---------------------------------------------------------------------------
    def start(self, probe_topic):
        conf = write_broker_conf(self.workdir, self.namesrv_port, self.broker_port, self.extra_conf)
        t_first_spawn = time.monotonic()
        if self.kind == "ferro":
            b = Proc("ferromq", [self.args.ferromq, "standalone", "-c", str(conf),
                                 "--namesrv-port", str(self.namesrv_port)],
                     self.logdir, cwd=str(self.workdir))
            self.procs["broker"] = b
        elif self.kind in CEILING_KINDS:
            b = Proc(f"ceiling-{self.kind}", [self.args.ferromq, "ceiling", "--listen", self.addr,
                                              "--mode", self.kind,
                                              "--file", str(self.workdir / "ceiling-append.log")],
                     self.logdir, cwd=str(self.workdir))
            self.procs["broker"] = b
            self.namesrv_addr = self.addr
        else:
            home = self.workdir / "rocketmq-home"
            (home / "conf").mkdir(parents=True, exist_ok=True)
            for role in ("namesrv", "broker"):
                (home / "conf" / f"logback_{role}.xml").write_text(
                    LOGBACK.format(log=self.logdir / f"java-{role}-logback.log"))
            ns_conf = self.workdir / "namesrv.conf"
            ns_conf.write_text(f"listenPort={self.namesrv_port}\n"
                               f"kvConfigPath={self.workdir / 'namesrv' / 'kvConfig.json'}\n")
            common = ADD_OPENS + [f"-Duser.home={home}", f"-Drocketmq.home.dir={home}",
                                  "-cp", self.args.classpath]
            env = {"ROCKETMQ_HOME": str(home)}
            ns = Proc("java-namesrv", [java_bin()] + namesrv_jvm_opts() + common + [
                "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", str(ns_conf)],
                self.logdir, env=env, cwd=str(self.workdir))
            self.procs["namesrv"] = ns
            self.info["namesrv_boot_s"] = round(ns.wait_for_line(
                lambda l: "The Name Server boot success" in l, 60), 3)
            b = Proc("java-broker", [java_bin()] + broker_jvm_opts() + common + [
                "org.apache.rocketmq.broker.BrokerStartup", "-c", str(conf),
                "-n", self.namesrv_addr], self.logdir, env=env, cwd=str(self.workdir))
            self.procs["broker"] = b
        # start -> first acknowledged send, timed from the broker process' spawn
        attempts = 0
        deadline = time.monotonic() + CONFIG["start_deadline_s"]
        while True:
            attempts += 1
            r = subprocess.run([self.args.ferromq, "bench", "--broker", self.addr, "--topic",
                                probe_topic, "--queues", str(CONFIG["queues"]), "--producers", "1",
                                "--inflight", "1", "--messages", "1", "--size", "128",
                                "--consume", "false", "--json"],
                               capture_output=True, text=True, timeout=30)
            ok = False
            if r.returncode == 0:
                try:
                    j = json.loads(r.stdout.strip().splitlines()[-1])
                    ok = j.get("sent") == 1 and j.get("send_errors", 0) == 0
                except (ValueError, IndexError):
                    ok = False
            if ok:
                now = time.monotonic()
                self.info["first_send_s"] = round(now - b.spawn_wall, 3)
                self.info["first_send_incl_namesrv_s"] = round(now - t_first_spawn, 3)
                self.info["first_send_attempts"] = attempts
                break
            if not b.alive():
                raise RuntimeError(f"{self.kind} broker died during start: {tail(b.err_path)}\n"
                                   f"{tail(b.out_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} broker: no successful send within {CONFIG['start_deadline_s']} s; last "
                                   f"probe: rc={r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")
            time.sleep(0.02)
        if self.kind in CEILING_KINDS:
            return
        try:
            self.info["boot_line_s"] = round(b.wait_for_line(
                lambda l: l.startswith("The broker[") and "boot success" in l, 30), 3)
        except RuntimeError:
            self.info["boot_line_s"] = None


# --------------------------------------------------------------------------------------------
# one generator run
# --------------------------------------------------------------------------------------------


def run_generator(args, addr, topic, producers, messages, size, consume=True, timeout=None):
    cmd = [args.ferromq, "bench", "--broker", addr, "--topic", topic, "--queues",
           str(CONFIG["queues"]), "--producers", str(producers), "--inflight",
           str(CONFIG["inflight"]), "--messages", str(messages), "--size", str(size),
           "--consume", "true" if consume else "false", "--json"]
    if timeout is None:
        timeout = max(CONFIG["gen_timeout_floor"], messages / 500)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return {"error": f"generator timed out after {timeout:.0f}s",
                "stderr_tail": (e.stderr or b"")[-2000:].decode(errors="replace")
                if isinstance(e.stderr, bytes) else (e.stderr or "")[-2000:]}, cmd
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {"gen_wall_s": round(wall, 3),
           "gen_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)}
    if r.returncode != 0:
        res["error"] = f"generator exit code {r.returncode}"
        res["stderr_tail"] = r.stderr[-2000:]
        return res, cmd
    try:
        res["gen"] = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res["error"] = "generator printed no JSON"
        res["stdout_tail"] = r.stdout[-2000:]
        res["stderr_tail"] = r.stderr[-2000:]
    if r.stderr.strip():
        res["gen_stderr_tail"] = r.stderr[-1000:]
    return res, cmd


def new_workdir(tag):
    return Path(tempfile.mkdtemp(prefix=f"ferromq-bench-{tag}-", dir=CONFIG["tmp_root"]))


def anomalies_of(rec):
    a = []
    g = rec.get("gen")
    if rec.get("error"):
        a.append(rec["error"])
    if g:
        if g.get("send_errors"):
            a.append(f"send_errors={g['send_errors']}")
        if g.get("sent") != g.get("messages"):
            a.append(f"sent={g.get('sent')} of {g.get('messages')}")
        if rec.get("consume", True) and g.get("consumed") != g.get("sent"):
            a.append(f"consumed={g.get('consumed')} of sent={g.get('sent')}")
    for role, s in (rec.get("stop") or {}).items():
        if not s.get("alive_before_stop"):
            a.append(f"{role} process had died before stop (exit code {s.get('exit_code')})")
        elif s.get("exit_code") not in (0, 143, -15) and rec.get("broker") in ("ferro",) + CEILING_KINDS:
            a.append(f"{role} exit code {s.get('exit_code')} after SIGTERM")
    return a


def gen_run(args, kind, size, producers, rnd, logroot):
    messages = CONFIG["messages"].get(size, CONFIG["messages_other"])
    run_id = f"gen-{size}B-p{producers}-r{rnd}-{kind}"
    logdir = Path(logroot, run_id)
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = new_workdir(run_id)
    rec = {"type": "gen", "run_id": run_id, "broker": kind, "size": size, "producers": producers,
           "inflight": CONFIG["inflight"], "queues": CONFIG["queues"], "messages": messages,
           "round": rnd, "consume": True, "store_dir": str(workdir),
           "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_before": loadavg()}
    if CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = wait_for_quiet(CONFIG["idle_wait_s"])
    broker = Broker(kind, args, workdir, logdir)
    try:
        broker.start(probe_topic="BenchProbe")
        rec.update(broker.info)
        warm = CONFIG["warmup_messages_64k"] if size >= 65536 else CONFIG["warmup_messages"]
        if warm > 0:
            w, _ = run_generator(args, broker.addr, "BenchWarmup", producers, warm, size)
            rec["warmup"] = {"messages": warm, "error": w.get("error"),
                             "send_tps": (w.get("gen") or {}).get("send_tps")}
        measure_generator(args, broker, rec, producers, messages, size)
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        finish_run(args, broker, rec, workdir)
    return rec


def measure_generator(args, broker, rec, producers, messages, size, consume=True):
    """One measured `ferromq bench` run against a started broker (any ProcGroup with `addr`):
    the generator's results, the broker's CPU and RSS over it, and the CPU everything else on
    the machine used meanwhile, all into `rec`."""
    cpu0 = broker.cpu()
    sys0 = system_busy_seconds()
    res, cmd = run_generator(args, broker.addr, "BenchTopic", producers, messages, size,
                             consume=consume)
    sys1 = system_busy_seconds()
    cpu1 = broker.cpu()
    # CPU used by everything else on the machine (other sessions) during the run, in cores
    ours = sum(cpu1[r] - cpu0[r] for r in cpu0) + res.get("gen_cpu_s", 0)
    if res.get("gen_wall_s"):
        rec["other_cores_busy"] = round(max(0.0, (sys1 - sys0) - ours) / res["gen_wall_s"], 2)
    rec["generator_cmd"] = " ".join(cmd)
    rec.update(res)
    total_cpu = record_usage(broker, rec, cpu0, cpu1)
    sent = (rec.get("gen") or {}).get("sent") or 0
    rec["cpu_s_per_million"] = round(total_cpu / (sent / 1e6), 2) if sent else None
    rec["broker_alive_after_run"] = broker.all_alive()


def record_usage(broker, rec, cpu0, cpu1):
    """The broker's RSS now and its CPU between the two readings, into `rec`; returns the CPU
    seconds of all its processes together."""
    st = broker.status()
    rec["rss_kb"] = st
    rec["peak_rss_kb"] = {role: s.get("VmHWM") for role, s in st.items()}
    rec["peak_rss_total_mib"] = round(sum(v or 0 for v in rec["peak_rss_kb"].values()) / 1024, 1)
    rec["cpu_s"] = {role: round(cpu1[role] - cpu0[role], 3) for role in cpu0}
    total_cpu = sum(rec["cpu_s"].values())
    rec["cpu_s_total"] = round(total_cpu, 3)
    return total_cpu


def finish_run(args, broker, rec, workdir, extra_anomalies=()):
    """Stops the broker and completes `rec`: stop results, anomalies (with the processes' log
    tails when there are any), and the store removed unless --keep-stores."""
    rec["stop"] = broker.stop()
    rec["loadavg_after"] = loadavg()
    rec["anomalies"] = anomalies_of(rec) + list(extra_anomalies)
    if rec["anomalies"]:
        for role, p in broker.procs.items():
            rec.setdefault("log_tail", {})[role] = tail(p.err_path, 20) + "\n" + tail(p.out_path, 10)
    if not args.keep_stores:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# RocketMQ's own Java benchmark tools
# --------------------------------------------------------------------------------------------

SEND_RE = re.compile(r"Send TPS: (\d+) Max RT\(ms\): (\d+) Average RT\(ms\):\s*([\d.]+|NaN) "
                     r"Send Failed: (\d+) Response Failed: (\d+)")
CONS_RE = re.compile(r"TPS: (\d+) FAIL: (\d+) AVG\(B2C\) RT\(ms\):\s*([\d.]+|NaN) "
                     r"AVG\(S2C\) RT\(ms\):\s*([\d.]+|NaN)")


def java_tool_run(args, kind, size, threads, rnd, logroot, consumer=True):
    """consumer=False runs the Producer alone, as RocketMQ's producer.sh is run; with it the
    push Consumer runs beside it on the same box (the combined shape)."""
    window = CONFIG["java_tool_seconds"]
    run_id = f"javatool-{size}B-w{threads}{'' if consumer else 'p'}-r{rnd}-{kind}"
    logdir = Path(logroot, run_id)
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = new_workdir(run_id)
    # not RocketMQ's default "BenchmarkTest": that is a system topic the Java broker creates
    # with 1024 queues and refuses UPDATE_AND_CREATE_TOPIC for
    topic = "BenchToolTopic"
    rec = {"type": "javatool", "run_id": run_id, "broker": kind, "size": size,
           "threads": threads, "consumer": consumer, "round": rnd, "window_s": window,
           "tool": args.java_tool_kind,
           "store_dir": str(workdir), "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "loadavg_before": loadavg()}
    if CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = wait_for_quiet(CONFIG["idle_wait_s"])
    broker = Broker(kind, args, workdir, logdir)
    clients = []
    try:
        # the probe creates the topic with 8 queues on both brokers (auto-creation by the
        # producer would give it the client's default of 4)
        broker.start(probe_topic=topic)
        rec.update(broker.info)
        time.sleep(1.0)  # topic registration reaches the name server
        home = workdir / "client-home"
        home.mkdir(exist_ok=True)
        base = [java_bin()] + client_jvm_opts() + ADD_OPENS + [
            f"-Duser.home={home}", "-cp", args.java_tool_classpath]
        cons = None
        if consumer:
            cons = Proc("java-consumer", base + [args.java_tool_consumer, "-n", broker.namesrv_addr,
                                                 "-t", topic], logdir, cwd=str(workdir))
            clients.append(cons)
            cons.wait_for_line(lambda l: "Consumer Started" in l, 60)
        prod = Proc("java-producer", base + [args.java_tool_producer, "-n", broker.namesrv_addr,
                                             "-t", topic, "-w", str(threads), "-s", str(size)],
                    logdir, cwd=str(workdir))
        clients.append(prod)
        cpu0 = broker.cpu()
        ccpu0 = sum(proc_cpu_seconds(c.pid) for c in clients)
        sys0 = system_busy_seconds()
        t0 = time.monotonic()
        end = t0 + window + 1.5
        while time.monotonic() < end:
            if not prod.alive():
                raise RuntimeError(f"producer exited early: {tail(prod.err_path)}")
            if not broker.all_alive():
                raise RuntimeError("broker died during the run")
            time.sleep(0.25)
        cpu1 = broker.cpu()
        ccpu1 = sum(proc_cpu_seconds(c.pid) for c in clients)
        sys1 = system_busy_seconds()
        elapsed = time.monotonic() - t0
        ours = sum(cpu1[r] - cpu0[r] for r in cpu0) + (ccpu1 - ccpu0)
        rec["client_cpu_s"] = round(ccpu1 - ccpu0, 3)
        rec["client_cpu_util"] = round((ccpu1 - ccpu0) / elapsed, 3)
        rec["other_cores_busy"] = round(max(0.0, (sys1 - sys0) - ours) / elapsed, 2)
        prod.stop(grace=10)
        clines = []
        if cons:
            time.sleep(2.0)
            cons.stop(grace=10)
            clines = [CONS_RE.search(l) for l in cons.stdout_text().splitlines()]
        lines = [SEND_RE.search(l) for l in prod.stdout_text().splitlines()]
        sends = [m for m in lines if m]
        conss = [m for m in clines if m]
        rec["producer_lines"] = [m.group(0) for m in sends]
        rec["consumer_lines"] = [m.group(0) for m in conss]
        used = sends[1:] if len(sends) > 1 else sends  # the first 10 s include client start-up
        rec["send_tps_samples"] = [int(m.group(1)) for m in used]
        rec["send_tps"] = statistics.median(rec["send_tps_samples"]) if used else None
        rts = [float(m.group(3)) for m in used if m.group(3) != "NaN"]
        rec["avg_rt_ms"] = round(statistics.median(rts), 3) if rts else None
        rec["max_rt_ms"] = max((int(m.group(2)) for m in sends), default=None)
        rec["send_failed"] = int(sends[-1].group(4)) if sends else None
        rec["response_failed"] = int(sends[-1].group(5)) if sends else None
        cused = conss[1:] if len(conss) > 1 else conss
        rec["consume_tps_samples"] = [int(m.group(1)) for m in cused]
        rec["consume_tps"] = statistics.median(rec["consume_tps_samples"]) if cused else None
        s2c = [float(m.group(4)) for m in cused if m.group(4) != "NaN"]
        rec["avg_s2c_ms"] = round(statistics.median(s2c), 3) if s2c else None
        total_cpu = record_usage(broker, rec, cpu0, cpu1)
        rec["cpu_util"] = round(total_cpu / elapsed, 3)
        # messages in the window are not printed by the tool; estimated from the median TPS
        est = (rec["send_tps"] or 0) * elapsed
        rec["cpu_s_per_million_est"] = round(total_cpu / (est / 1e6), 2) if est else None
        rec["broker_alive_after_run"] = broker.all_alive()
        if not sends:
            rec["error"] = "producer printed no Send TPS line"
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        for c in clients:
            c.stop(grace=10)
        rec["stop"] = broker.stop()
        rec["loadavg_after"] = loadavg()
        a = []
        if rec.get("error"):
            a.append(rec["error"])
        if rec.get("send_failed"):
            a.append(f"send_failed={rec['send_failed']}")
        if rec.get("response_failed"):
            a.append(f"response_failed={rec['response_failed']}")
        for role, s in rec["stop"].items():
            if not s.get("alive_before_stop"):
                a.append(f"{role} process had died before stop (exit code {s.get('exit_code')})")
        rec["anomalies"] = a
        if a:
            for role, p in list(broker.procs.items()) + [(c.name, c) for c in clients]:
                rec.setdefault("log_tail", {})[role] = tail(p.err_path, 20) + "\n" + tail(p.out_path, 10)
        if not args.keep_stores:
            shutil.rmtree(workdir, ignore_errors=True)
    return rec


# --------------------------------------------------------------------------------------------


def machine_info():
    info = {"nproc": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem_total_kb"] = int(line.split()[1])
    except OSError:
        pass
    info["kernel"] = os.uname().release
    try:
        info["java"] = subprocess.run([java_bin(), "-version"], capture_output=True,
                                      text=True).stderr.splitlines()[0]
    except Exception:  # noqa: BLE001
        pass
    try:
        import hashlib
        info["ferromq_binary_sha256"] = hashlib.sha256(Path(FERROMQ_PATH).read_bytes()).hexdigest()
        info["ferromq_commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                                capture_output=True, text=True).stdout.strip()
        info["ferromq_dirty"] = bool(subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml",
             "Cargo.lock"], capture_output=True, text=True).stdout.strip())
    except Exception:  # noqa: BLE001
        pass
    return info


def family_module(name):
    """bench/<name>.py. It gets this module as `ctx` (Broker, Proc, run_generator, CONFIG, ...)
    instead of importing it, so that the process registry stop_all() empties is the same."""
    import importlib
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    return importlib.import_module(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferromq", required=True, help="ferromq binary")
    ap.add_argument("--classpath", required=True, help="file with Apache RocketMQ 4.9.7's classpath")
    ap.add_argument("--java-tool-classpath", required=True,
                    help="file with the classpath of the Java benchmark tools")
    ap.add_argument("--java-tool-kind", default="stand-in",
                    help="'apache-4.9.7-source' or 'stand-in' (recorded in the results)")
    ap.add_argument("--out", required=True, help="JSON lines output")
    ap.add_argument("--logs", required=True, help="directory for per-run process logs")
    ap.add_argument("--keep-stores", action="store_true")
    args = ap.parse_args()
    global FERROMQ_PATH
    FERROMQ_PATH = args.ferromq
    args.classpath = Path(args.classpath).read_text().strip()
    args.java_tool_classpath = Path(args.java_tool_classpath).read_text().strip()
    if args.java_tool_kind.startswith("apache"):
        args.java_tool_producer = "org.apache.rocketmq.example.benchmark.Producer"
        args.java_tool_consumer = "org.apache.rocketmq.example.benchmark.Consumer"
    else:
        args.java_tool_producer = "io.ferromq.bench.BenchProducer"
        args.java_tool_consumer = "io.ferromq.bench.BenchConsumer"

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    out = open(args.out, "a")

    def emit(rec):
        out.write(json.dumps(rec, sort_keys=True) + "\n")
        out.flush()

    t_start = time.monotonic()
    emit({"type": "meta", "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": CONFIG,
          "machine": machine_info(), "loadavg": loadavg(), "clk_tck": CLK_TCK,
          "java_tool": args.java_tool_kind, "broker_jvm_opts": broker_jvm_opts(),
          "namesrv_jvm_opts": namesrv_jvm_opts(), "client_jvm_opts": client_jvm_opts(),
          "add_opens": ADD_OPENS})
    fams = CONFIG["families"]
    try:
        for rnd in range(1, CONFIG["rounds"] + 1 if "send" in fams else 1):
            for size in CONFIG["sizes"]:
                for producers in CONFIG["producers"]:
                    for kind in CONFIG["brokers"]:
                        log(f"round {rnd}: {size} B x {producers} producers, {kind}")
                        rec = gen_run(args, kind, size, producers, rnd, args.logs)
                        g = rec.get("gen") or {}
                        log(f"  -> tps={g.get('send_tps', 0):.0f} p99={g.get('send_p99_us')}us "
                            f"rss={rec.get('peak_rss_total_mib')}MiB cpu/M={rec.get('cpu_s_per_million')} "
                            f"first_send={rec.get('first_send_s')}s "
                            f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
                        emit(rec)
        for rnd in range(1, CONFIG["java_tool_rounds"] + 1 if "javatool" in fams else 1):
            for sc in CONFIG["java_tool_scenarios"]:
                # "1024x16": Producer + Consumer; "1024x16p": the Producer alone
                alone = sc.lower().endswith("p")
                size, threads = (int(x) for x in sc.lower().rstrip("p").split("x"))
                # the ceiling serves no consumer (no offsets, no rebalance)
                kinds = [k for k in CONFIG["brokers"] if k not in CEILING_KINDS or (alone and k == "nostore")]
                for kind in kinds:
                    log(f"java tool round {rnd}: {size} B x {threads} threads{' (producer alone)' if alone else ''}, {kind}")
                    rec = java_tool_run(args, kind, size, threads, rnd, args.logs, consumer=not alone)
                    log(f"  -> send tps={rec.get('send_tps')} samples={rec.get('send_tps_samples')} "
                        f"consume tps={rec.get('consume_tps')} rss={rec.get('peak_rss_total_mib')}MiB "
                        f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
                    emit(rec)
        for fam in fams:
            if fam in ("send", "javatool"):
                continue
            log(f"family {fam}")
            family_module(fam).run(sys.modules[__name__], args, emit)
    finally:
        stop_all()
        emit({"type": "end", "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg": loadavg(),
              "elapsed_s": round(time.monotonic() - t_start, 1)})
        out.close()


if __name__ == "__main__":
    main()

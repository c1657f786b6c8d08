"""Scenario family 'consume': consumer throughput and end-to-end latency, RocketMQ 4.9.7 vs ferromq.

Run by bench/bench.py when FAMILIES contains "consume"; report() renders its records. The
consumer side is `ferromq bench-consume` (src/bench/consume.rs): N consumer connections, the
topic's queues spread round-robin over them (queue q on connection q % N), one pull of up to
CONSUME_BATCH messages in flight per queue, long-polling 1 s when a queue is empty, consumer
offsets committed every 5 s per queue, like RocketMQ's push consumer (one connection per
client instance, many pulls multiplexed on it). The topic has CONSUME_QUEUES (64) queues so that
64 consumer connections own one queue each. Producers are `ferromq bench --consume false`.

Scenarios (each java, then ferro; every broker on a fresh store in a fresh directory):

  * tail: 1 KiB. Per consumer count (CONSUME_CONSUMERS, "1 16 64") a fresh broker; a warm-up
    (CONSUME_WARMUP_MSGS sent and pulled on the measured topic itself, so that its 64 queues
    exist and the Java JIT has seen both paths); then bench-consume --mode tail starts at the
    queues' max offsets and, once it is ready, TAIL_PRODUCERS (16) producer connections
    (1 send in flight each, unpaced) send TAIL_MSGS messages.
    Recorded: consume msgs/s and MB/s (bodies, 10^6 B) from the first to the last message
    received (bounded by the producers' rate: that is what tailing is), end-to-end
    latency p50/p99/p99.9 (receipt time - store timestamp), and the producers' send TPS.
  * catchup (1 KiB) and catchup64k (64 KiB): per broker one store. BACKLOG_MSGS (or
    BACKLOG_MSGS_64K) messages are written first by BACKLOG_PRODUCERS connections with
    BACKLOG_INFLIGHT sends in flight each; then for each consumer count in turn: the broker is
    stopped, the page cache dropped, the broker started again on the same store, the page cache
    dropped again (what the broker's recovery read back in is evicted too, except pages it
    keeps mapped and touched), and a fresh consumer group reads the whole backlog from offset 0.
    Restarting is what makes the pages cold: both brokers mmap the commit log, and pages
    mapped into a live process are not evicted by drop_caches nor by fadvise(DONTNEED).
    "Cold" is `sync; echo 3 > /proc/sys/vm/drop_caches` (it evicts the whole machine's clean
    page cache); when that is refused (no root, read-only /proc/sys), fsync +
    posix_fadvise(POSIX_FADV_DONTNEED) on every file of the store; the method used and the
    commit log's resident MiB just before the read (mincore) are recorded per read.
    The issue's backlog is 10 M x 1 KiB: BACKLOG_MSGS=10000000 (about 15 minutes to write into
    RocketMQ on the 2-core box, per read set; the default keeps one catch-up scenario at about
    2-3 minutes per broker). The 64 KiB catch-up is for the "pull throughput in MB/s" goal.

Knobs (environment; QUICK=1 defaults in parentheses):
  CONSUME_ROUNDS 1, CONSUME_BROKERS "java ferro", CONSUME_SCENARIOS "tail catchup catchup64k",
  CONSUME_CONSUMERS "1 16 64", CONSUME_QUEUES 64, CONSUME_BATCH 32 (RocketMQ's pullBatchSize
  default), TAIL_PRODUCERS 16, TAIL_MSGS 200000 (20000), CONSUME_WARMUP_MSGS 10000 (2000),
  BACKLOG_MSGS 500000 (20000), BACKLOG_MSGS_64K 8000 (400), BACKLOG_PRODUCERS 8,
  BACKLOG_INFLIGHT 4, CONSUME_QUIET_S 20 (a consumer gives up after this long with nothing
  arriving), CONSUME_TIMEOUT 600 (a consumer or generator process is killed after this long).

One record per (scenario, consumer count, broker, round): type/family "consume", the producer
generator's JSON under "gen" (tail) or "backlog" (catch-up), the consumer's under "consumer",
broker CPU seconds over the measured window (tail: sends + pulls; catch-up: the read only), peak
RSS, others' load, stop info and anomalies (errors, missing messages, a process that died).
"""

import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import time
import json
from pathlib import Path

# the report's number formatting, shared with bench/report.py
from report import fmt as _fmt, med as _med, ratio as _ratio

FAMILY = "consume"
TOPIC = "BenchConsumeTopic"


def config(ctx):
    q = ctx.QUICK
    return {
        "rounds": ctx.env_int("CONSUME_ROUNDS", 1),
        "brokers": [k for k in ctx.env_str("CONSUME_BROKERS", "java ferro").split()
                    if k not in ctx.CEILING_KINDS],
        "scenarios": ctx.env_str("CONSUME_SCENARIOS", "tail catchup catchup64k").split(),
        "consumers": [int(x) for x in ctx.env_str("CONSUME_CONSUMERS", "1 16 64").split()],
        "queues": ctx.env_int("CONSUME_QUEUES", 64),
        "batch": ctx.env_int("CONSUME_BATCH", 32),
        "tail_producers": ctx.env_int("TAIL_PRODUCERS", 16),
        "tail_msgs": ctx.env_int("TAIL_MSGS", 20000 if q else 200000),
        "warmup_msgs": ctx.env_int("CONSUME_WARMUP_MSGS", 2000 if q else 10000),
        "backlog_msgs": ctx.env_int("BACKLOG_MSGS", 20000 if q else 500000),
        "backlog_msgs_64k": ctx.env_int("BACKLOG_MSGS_64K", 400 if q else 8000),
        "backlog_producers": ctx.env_int("BACKLOG_PRODUCERS", 8),
        "backlog_inflight": ctx.env_int("BACKLOG_INFLIGHT", 4),
        "quiet_s": ctx.env_int("CONSUME_QUIET_S", 20),
        "timeout_s": ctx.env_int("CONSUME_TIMEOUT", 600),
    }


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def generator(ctx, args, addr, topic, producers, inflight, messages, size, queues, timeout,
              consume=False):
    """`ferromq bench` with this family's queue count (ctx.run_generator uses the send
    family's 8 queues, and UPDATE_AND_CREATE_TOPIC would shrink our topic to them)."""
    cmd = [args.ferromq, "bench", "--broker", addr, "--topic", topic, "--queues", str(queues),
           "--producers", str(producers), "--inflight", str(inflight), "--messages",
           str(messages), "--size", str(size), "--consume", "true" if consume else "false",
           "--json"]
    return run_json(cmd, timeout, "generator")


def run_json(cmd, timeout, what):
    """Runs cmd, parses the last stdout line as JSON. Never raises: failures become "error"."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return {"error": f"{what} timed out after {timeout:.0f}s", "stderr_tail": err[-2000:]}
    except OSError as e:
        return {"error": f"{what} could not start: {e}"}
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {"wall_s": round(time.monotonic() - t0, 3),
           "cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3),
           "cmd": " ".join(cmd)}
    if r.returncode != 0:
        res["error"] = f"{what} exit code {r.returncode}: {r.stderr.strip()[-300:]}"
        return res
    try:
        res["out"] = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res["error"] = f"{what} printed no JSON"
        res["stdout_tail"] = r.stdout[-1000:]
    return res


def consumer_cmd(args, addr, cfg, mode, consumers, group, messages=0):
    return [args.ferromq, "bench-consume", "--broker", addr, "--topic", TOPIC, "--queues",
            str(cfg["queues"]), "--consumers", str(consumers), "--group", group, "--mode", mode,
            "--messages", str(messages), "--batch", str(cfg["batch"]), "--quiet-s",
            str(cfg["quiet_s"])] + (["--create", "false"] if mode == "catchup" else [])


def wait_ready(ctx, proc, timeout=60):
    """Until bench-consume printed "ready" on stderr (it has read the max offsets)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "bench-consume: ready" in proc.err_path.read_text(errors="replace"):
                return
        except OSError:
            pass
        if not proc.alive():
            raise RuntimeError(f"bench-consume exited with {proc.p.returncode} before ready: "
                               f"{ctx.tail(proc.err_path, 5)}")
        time.sleep(0.02)
    raise RuntimeError(f"bench-consume not ready after {timeout}s")


def finish_consumer(ctx, proc, timeout):
    """Waits for a bench-consume Proc; its JSON, or an "error"."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc.p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.stop(grace=5)
        return {"error": f"bench-consume still running after {timeout}s (killed)"}
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc.stop()
    res = {"client_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)}
    if proc.exit_code != 0:
        res["error"] = f"bench-consume exit code {proc.exit_code}: {ctx.tail(proc.err_path, 5)}"
        return res
    try:
        res["out"] = json.loads(proc.stdout_text().strip().splitlines()[-1])
    except (ValueError, IndexError):
        res["error"] = "bench-consume printed no JSON"
    return res


_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_mib(store_dir):
    """MiB of the commit log's files in the page cache (mincore over a fresh read-only map)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    pages = 0
    for p in sorted(Path(store_dir, "commitlog").glob("*")):
        size = p.stat().st_size if p.is_file() else 0
        if size == 0:
            continue
        fd = os.open(p, os.O_RDONLY)
        try:
            addr = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
            if addr is None or addr == ctypes.c_void_p(-1).value:
                continue
            n = (size + _PAGE - 1) // _PAGE
            vec = ctypes.create_string_buffer(n)
            if libc.mincore(addr, size, vec) == 0:
                pages += sum(b & 1 for b in vec.raw)
            libc.munmap(addr, size)
        finally:
            os.close(fd)
    return round(pages * _PAGE / 1048576, 1)


def make_cold(store_dir):
    """Evicts the store's pages from the page cache; returns the method used."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return "drop_caches"
    except OSError as e:
        refused = f"{type(e).__name__}: {e.strerror or e}"
    n = 0
    for p in Path(store_dir).rglob("*"):
        if not p.is_file():
            continue
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return f"fadvise DONTNEED on {n} files (drop_caches refused: {refused})"


def base_record(ctx, cfg, run_id, kind, scenario, size, consumers, rnd, workdir):
    rec = {"type": FAMILY, "family": FAMILY, "run_id": run_id, "broker": kind,
           "scenario": scenario, "size": size, "consumers": consumers, "round": rnd,
           "queues": cfg["queues"], "batch": cfg["batch"], "store_dir": str(workdir),
           "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_before": ctx.loadavg(),
           "knobs": cfg}
    if ctx.CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = ctx.wait_for_quiet(ctx.CONFIG["idle_wait_s"])
    return rec


def measure_broker(ctx, rec, broker, cpu0, sys0, elapsed, client_cpu):
    cpu1 = broker.cpu()
    sys1 = ctx.system_busy_seconds()
    ctx.record_usage(broker, rec, cpu0, cpu1)
    ours = rec["cpu_s_total"] + client_cpu
    if elapsed > 0:
        rec["other_cores_busy"] = round(max(0.0, (sys1 - sys0) - ours) / elapsed, 2)
    consumed = ((rec.get("consumer") or {}).get("out") or {}).get("consumed") or 0
    rec["cpu_s_per_million"] = round(rec["cpu_s_total"] / (consumed / 1e6), 2) if consumed else None
    rec["broker_alive_after_run"] = broker.all_alive()


def anomalies(ctx, rec, expected):
    a = ctx.anomalies_of({k: v for k, v in rec.items() if k != "gen"})  # error, stop
    g = rec.get("gen") or {}
    gout = g.get("out") or {}
    if g.get("error"):
        a.append(f"producers: {g['error']}")
    if gout.get("send_errors"):
        a.append(f"send_errors={gout['send_errors']}")
    if g and gout and gout.get("sent") != gout.get("messages"):
        a.append(f"sent={gout.get('sent')} of {gout.get('messages')}")
    if (rec.get("warmup") or {}).get("error"):
        a.append(f"warm-up: {rec['warmup']['error']}")
    c = rec.get("consumer") or {}
    cout = c.get("out") or {}
    if c.get("error"):
        a.append(f"consumer: {c['error']}")
    if cout.get("errors"):
        a.append(f"consumer errors={cout['errors']}: {'; '.join(cout.get('error_samples') or [])}")
    if c and cout and expected is not None and cout.get("consumed") != expected:
        a.append(f"consumed={cout.get('consumed')} of {expected}")
    for role, s in (rec.get("write_stop") or {}).items():
        if not s.get("alive_before_stop"):
            a.append(f"backlog writer's {role} had died before stop (exit code {s.get('exit_code')})")
    return a


def finish(ctx, args, rec, broker, expected):
    rec["stop"] = broker.stop() if broker else {}
    rec["loadavg_after"] = ctx.loadavg()
    rec["anomalies"] = anomalies(ctx, rec, expected)
    if rec["anomalies"] and broker:
        for role, p in broker.procs.items():
            rec.setdefault("log_tail", {})[role] = ctx.tail(p.err_path, 20) + "\n" + ctx.tail(p.out_path, 10)


# ------------------------------------------------------------------------------------------
# tail
# ------------------------------------------------------------------------------------------


def tail_run(ctx, args, cfg, kind, consumers, rnd):
    size = 1024
    run_id = f"consume-tail-1KiB-c{consumers}-r{rnd}-{kind}"
    logdir = Path(args.logs, run_id)
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = ctx.new_workdir(run_id)
    rec = base_record(ctx, cfg, run_id, kind, "tail", size, consumers, rnd, workdir)
    rec.update({"producers": cfg["tail_producers"], "messages": cfg["tail_msgs"]})
    broker = ctx.Broker(kind, args, workdir, logdir)
    cons = None
    try:
        broker.start(probe_topic="BenchProbe")
        rec.update(broker.info)
        if cfg["warmup_msgs"] > 0:
            # on the measured topic, sent and pulled: every queue exists and the send and
            # pull paths are warm (JIT); the consumer then starts at the max offsets
            w = generator(ctx, args, broker.addr, TOPIC, cfg["tail_producers"], 1,
                          cfg["warmup_msgs"], size, cfg["queues"], cfg["timeout_s"], consume=True)
            rec["warmup"] = {"messages": cfg["warmup_msgs"], "error": w.get("error"),
                             "send_tps": (w.get("out") or {}).get("send_tps"),
                             "consumed": (w.get("out") or {}).get("consumed")}
        cons = ctx.Proc("bench-consume", consumer_cmd(args, broker.addr, cfg, "tail", consumers,
                                                      f"TailGroup{consumers}", cfg["tail_msgs"]),
                        logdir)
        wait_ready(ctx, cons)
        cpu0, sys0, t0 = broker.cpu(), ctx.system_busy_seconds(), time.monotonic()
        rec["gen"] = generator(ctx, args, broker.addr, TOPIC, cfg["tail_producers"], 1,
                               cfg["tail_msgs"], size, cfg["queues"], cfg["timeout_s"])
        rec["consumer"] = finish_consumer(ctx, cons, cfg["timeout_s"])
        gcpu = (rec["gen"].get("cpu_s") or 0) + (rec["consumer"].get("client_cpu_s") or 0)
        measure_broker(ctx, rec, broker, cpu0, sys0, time.monotonic() - t0, gcpu)
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        if cons is not None and cons.exit_code is None:
            cons.stop(grace=5)
        sent = ((rec.get("gen") or {}).get("out") or {}).get("sent")
        finish(ctx, args, rec, broker, sent)
        if not args.keep_stores:
            shutil.rmtree(workdir, ignore_errors=True)
    return rec


# ------------------------------------------------------------------------------------------
# catch-up
# ------------------------------------------------------------------------------------------


def catchup_broker(ctx, args, cfg, kind, scenario, size, messages, rnd, emit):
    """Writes one backlog into `kind`, then reads it cold with each consumer count; emits one
    record per read."""
    label = "64KiB" if size == 65536 else f"{size}B" if size < 1024 else f"{size // 1024}KiB"
    base_id = f"consume-{scenario}-{label}-r{rnd}-{kind}"
    workdir = ctx.new_workdir(base_id)
    backlog = {"messages": messages, "size": size, "producers": cfg["backlog_producers"],
               "inflight": cfg["backlog_inflight"]}
    write_stop, write_error = {}, None
    logdir = Path(args.logs, base_id + "-write")
    logdir.mkdir(parents=True, exist_ok=True)
    broker = ctx.Broker(kind, args, workdir, logdir)
    try:
        broker.start(probe_topic="BenchProbe")
        g = generator(ctx, args, broker.addr, TOPIC, cfg["backlog_producers"],
                      cfg["backlog_inflight"], messages, size, cfg["queues"],
                      max(cfg["timeout_s"], messages / 500))
        backlog.update({k: g.get(k) for k in ("wall_s", "error", "cmd")})
        out = g.get("out") or {}
        backlog.update({"sent": out.get("sent"), "send_errors": out.get("send_errors"),
                        "send_tps": out.get("send_tps"), "send_p99_us": out.get("send_p99_us")})
        backlog["peak_rss_kb"] = {role: s.get("VmHWM") for role, s in broker.status().items()}
        write_error = g.get("error")
    except Exception as e:  # noqa: BLE001
        write_error = f"{type(e).__name__}: {e}"
    finally:
        write_stop = broker.stop()
    ctx.log(f"  backlog {messages} x {size} B into {kind}: tps={backlog.get('send_tps')} "
            f"{'ERROR ' + write_error if write_error else ''}")
    try:
        for consumers in cfg["consumers"]:
            run_id = f"consume-{scenario}-{label}-c{consumers}-r{rnd}-{kind}"
            rec = base_record(ctx, cfg, run_id, kind, scenario, size, consumers, rnd, workdir)
            rec["backlog"] = backlog
            rec["write_stop"] = write_stop
            if write_error:
                rec["error"] = f"backlog: {write_error}"
            rlog = Path(args.logs, run_id)
            rlog.mkdir(parents=True, exist_ok=True)
            broker = None if write_error else ctx.Broker(kind, args, workdir, rlog)
            try:
                if broker:
                    read_once(ctx, args, cfg, rec, broker, workdir, consumers)
            except Exception as e:  # noqa: BLE001
                rec["error"] = f"{type(e).__name__}: {e}"
            finally:
                expected = backlog.get("sent")
                finish(ctx, args, rec, broker, expected)
            log_read(ctx, rec)
            emit(rec)
    finally:
        if not args.keep_stores:
            shutil.rmtree(workdir, ignore_errors=True)


def read_once(ctx, args, cfg, rec, broker, workdir, consumers):
    store = Path(workdir, "store")
    rec["cold_method"] = make_cold(store)  # broker stopped: nothing keeps the pages mapped
    broker.start(probe_topic="BenchProbe")
    rec.update(broker.info)
    rec["resident_mib_after_start"] = resident_mib(store)
    make_cold(store)  # what recovery read, except pages the broker keeps mapped
    rec["resident_mib_before_read"] = resident_mib(store)
    cpu0, sys0, t0 = broker.cpu(), ctx.system_busy_seconds(), time.monotonic()
    cons = ctx.Proc("bench-consume", consumer_cmd(args, broker.addr, cfg, "catchup", consumers,
                                                  f"CatchupGroup{consumers}"), Path(args.logs, rec["run_id"]))
    try:
        rec["consumer"] = finish_consumer(ctx, cons, cfg["timeout_s"])
    finally:
        if cons.exit_code is None:
            cons.stop(grace=5)
    measure_broker(ctx, rec, broker, cpu0, sys0, time.monotonic() - t0,
                   rec["consumer"].get("client_cpu_s") or 0)


def log_read(ctx, rec):
    c = (rec.get("consumer") or {}).get("out") or {}
    ctx.log(f"  -> {rec['run_id']}: {c.get('msgs_per_s', 0):.0f} msg/s {c.get('mb_per_s', 0):.1f} MB/s "
            f"e2e p50/p99={c.get('e2e_p50_ms')}/{c.get('e2e_p99_ms')} ms "
            f"resident={rec.get('resident_mib_before_read')} MiB "
            f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec.get('anomalies') else ''}")


# ------------------------------------------------------------------------------------------


def run(ctx, args, emit):
    cfg = config(ctx)
    ctx.log(f"family consume: {cfg}")
    for rnd in range(1, cfg["rounds"] + 1):
        if "tail" in cfg["scenarios"]:
            for consumers in cfg["consumers"]:
                for kind in cfg["brokers"]:
                    ctx.log(f"consume round {rnd}: tail 1 KiB x {consumers} consumers, {kind}")
                    rec = tail_run(ctx, args, cfg, kind, consumers, rnd)
                    log_read(ctx, rec)
                    emit(rec)
        for scenario, size, msgs in (("catchup", 1024, cfg["backlog_msgs"]),
                                     ("catchup64k", 65536, cfg["backlog_msgs_64k"])):
            if scenario not in cfg["scenarios"]:
                continue
            for kind in cfg["brokers"]:
                ctx.log(f"consume round {rnd}: {scenario} {msgs} x {size} B, {kind}")
                catchup_broker(ctx, args, cfg, kind, scenario, size, msgs, rnd, emit)


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------


TITLES = {
    "tail": "Consumers tailing (1 KiB; producers send while consumers read)",
    "catchup": "Consumers catching up (1 KiB backlog read from cold pages)",
    "catchup64k": "Consumers catching up (64 KiB backlog read from cold pages)",
}
LABELS = (("java", "RocketMQ 4.9.7"), ("ferro", "ferromq"))


def _agg(rs):
    c = [((r.get("consumer") or {}).get("out") or {}) for r in rs]
    g = [((r.get("gen") or {}).get("out") or {}) for r in rs]
    return {
        "n": len(rs),
        "mps": _med([x.get("msgs_per_s") for x in c]),
        "mbs": _med([x.get("mb_per_s") for x in c]),
        "e50": _med([x.get("e2e_p50_ms") for x in c]),
        "e99": _med([x.get("e2e_p99_ms") for x in c]),
        "mpp": _med([x.get("msgs_per_pull") for x in c]),
        "send": _med([x.get("send_tps") for x in g]),
        "cpu": _med([r.get("cpu_s_per_million") for r in rs]),
        "rss": _med([r.get("peak_rss_total_mib") for r in rs]),
        "res": _med([r.get("resident_mib_before_read") for r in rs]),
        "backlog_tps": _med([(r.get("backlog") or {}).get("send_tps") for r in rs]),
        "other": _med([r.get("other_cores_busy") for r in rs]),
        "bad": sum(1 for r in rs if r.get("anomalies")),
    }


def report(records):
    recs = [r for r in records if r.get("type") == FAMILY]
    out = []
    w = out.append
    for scenario in ("tail", "catchup", "catchup64k"):
        srecs = [r for r in recs if r.get("scenario") == scenario]
        if not srecs:
            continue
        tail = scenario == "tail"
        groups = {}
        for r in srecs:
            if r.get("error") or not ((r.get("consumer") or {}).get("out")):
                continue
            groups.setdefault(r["consumers"], {}).setdefault(r["broker"], []).append(r)
        w(f"### {TITLES[scenario]}, medians")
        w("")
        if tail:
            w("| consumer connections | broker | runs | consume msgs/s | MB/s | e2e p50 ms | e2e p99 ms | "
              "producers' send TPS | msgs / pull | broker CPU s / 1M msgs | peak RSS MiB | runs with anomalies | others' load |")
            w("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        else:
            w("| consumer connections | broker | runs | consume msgs/s | MB/s | msgs / pull | commit log resident before read MiB | "
              "broker CPU s / 1M msgs | peak RSS MiB | backlog write TPS | runs with anomalies | others' load |")
            w("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        ratios = []
        for n in sorted(groups):
            a = {k: _agg(v) for k, v in groups[n].items()}
            for kind, label in LABELS:
                if kind not in a:
                    continue
                x = a[kind]
                if tail:
                    w(f"| {n} | {label} | {x['n']} | {_fmt(x['mps'])} | {_fmt(x['mbs'], 1)} | {_fmt(x['e50'])} | "
                      f"{_fmt(x['e99'])} | {_fmt(x['send'])} | {_fmt(x['mpp'], 1)} | {_fmt(x['cpu'], 1)} | "
                      f"{_fmt(x['rss'])} | {x['bad']} | {_fmt(x['other'], 2)} |")
                else:
                    w(f"| {n} | {label} | {x['n']} | {_fmt(x['mps'])} | {_fmt(x['mbs'], 1)} | {_fmt(x['mpp'], 1)} | "
                      f"{_fmt(x['res'], 1)} | {_fmt(x['cpu'], 1)} | {_fmt(x['rss'])} | {_fmt(x['backlog_tps'])} | "
                      f"{x['bad']} | {_fmt(x['other'], 2)} |")
            if "java" in a and "ferro" in a:
                ratios.append((n, a["java"], a["ferro"]))
        w("")
        if ratios:
            w("ferromq / RocketMQ (of the medians; msgs/s and MB/s > 1× means ferromq reads faster, "
              "latency, CPU and RSS < 1× mean ferromq needs less):")
            w("")
            if tail:
                w("| consumer connections | msgs/s | MB/s | e2e p50 | e2e p99 | CPU per msg | peak RSS |")
                w("|--:|--:|--:|--:|--:|--:|--:|")
                for n, j, f in ratios:
                    w(f"| {n} | {_ratio(f['mps'], j['mps'])} | {_ratio(f['mbs'], j['mbs'])} | "
                      f"{_ratio(f['e50'], j['e50'])} | {_ratio(f['e99'], j['e99'])} | "
                      f"{_ratio(f['cpu'], j['cpu'])} | {_ratio(f['rss'], j['rss'])} |")
            else:
                w("| consumer connections | msgs/s | MB/s | CPU per msg | peak RSS |")
                w("|--:|--:|--:|--:|--:|")
                for n, j, f in ratios:
                    w(f"| {n} | {_ratio(f['mps'], j['mps'])} | {_ratio(f['mbs'], j['mbs'])} | "
                      f"{_ratio(f['cpu'], j['cpu'])} | {_ratio(f['rss'], j['rss'])} |")
            w("")
        k = srecs[0].get("knobs") or {}
        if tail:
            w(f"`ferromq bench-consume --mode tail`: N consumer connections over a {k.get('queues')}-queue topic "
              f"(queues round-robin over connections, one pull of up to {k.get('batch')} in flight per queue, "
              f"long-polling), started at the max offsets; meanwhile {k.get('tail_producers')} producer connections "
              f"send {k.get('tail_msgs')} messages (so msgs/s is bounded by the producers' rate). e2e = receipt "
              f"time − store timestamp. CPU = broker process(es) over the run (sends and pulls), per message "
              f"consumed. Fresh broker and store per run, after a {k.get('warmup_msgs')}-message warm-up.")
        else:
            methods = sorted({str(r.get("cold_method", "?")).split(" (")[0] for r in srecs})
            w(f"A backlog of {srecs[0].get('backlog', {}).get('messages')} messages written by "
              f"{k.get('backlog_producers')} producer connections × {k.get('backlog_inflight')} in flight; then per "
              f"row: broker restarted on that store, page cache dropped before and after its start "
              f"({', '.join(methods)}), and a fresh consumer group reads the backlog from offset 0 with "
              f"`ferromq bench-consume --mode catchup`. Resident = commit log pages in the page cache "
              f"just before the read (mincore). CPU = broker process(es) over the read only.")
        w("")
    return "\n".join(out)

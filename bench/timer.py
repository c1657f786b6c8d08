"""Scenario family 'timer' (issue 15): timer messages on ferromq (`ferromq bench-timer`).

ferromq only: Apache RocketMQ 4.9.7 has no timer messages (it ignores TIMER_* properties and
delivers such messages at once), so there is nothing to put side by side; its plain-send
figures are in the "send" family's table. Every run is a fresh `ferromq standalone` on a fresh
store (bench.py's Broker).

Scenarios:
  * enqueue: N connections (TIMER_PRODUCERS, "1 16") send TIMER_ENQUEUE_MSGS messages of
    TIMER_SIZE bytes, once as timers due in an hour (TIMER_DELAY_SEC=3600) and once as plain
    sends, each on its own broker: send TPS, p50/p99, broker CPU per message; afterwards the
    broker's timerPendingCount must equal the timers sent.
  * pending: TIMER_PENDING timers (TIMER_PENDING_SIZE-byte bodies, 16 connections) due in two
    hours, then the broker's RSS (VmHWM, RssAnon), timerPendingCount (brokerStatus) and the
    store's size on disk per directory (allocated blocks: commitlog, consumequeue, timer, ...).
    Issue 15's figure is TIMER_PENDING=10000000 (8-14 minutes at the 12-20 k/s measured on
    this shared 2-core box, ~3.3 GB of commit log at 128 B); the full-mode default, 3 000 000,
    is what fits in about 2.5-4 minutes of sending here.
  * lateness: TIMER_LATENESS_MSGS timers due evenly over TIMER_WINDOW_S seconds (absolute
    TIMER_DELIVER_MS), each sent 5 s before it is due (a steady rate), while
    TIMER_LOAD_PRODUCERS connections send plain 1 KiB messages to another topic at full speed;
    the consumer pulls the real topic; lateness = receipt time - due time. Early (must be 0),
    missing and duplicated timers are anomalies. ferromq rounds due times up to
    timerPrecisionMs (1000), so up to about 1.1 s of lateness is by design.
"""

import json
import os
import resource
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

# the report's number formatting, shared with bench/report.py
from report import fmt as _fmt, med as _med, ratio as _ratio

FAMILY = "timer"


def config(ctx):
    q = ctx.QUICK
    return {
        "producers": [int(x) for x in ctx.env_str("TIMER_PRODUCERS", "1 16").split()],
        # rounds of the enqueue scenario (plain and timer alternate; the report takes medians)
        "rounds": ctx.env_int("TIMER_ROUNDS", 1),
        "enqueue_messages": ctx.env_int("TIMER_ENQUEUE_MSGS", 10000 if q else 100000),
        "size": ctx.env_int("TIMER_SIZE", 1024),
        "delay_sec": ctx.env_int("TIMER_DELAY_SEC", 3600),
        "pending": ctx.env_int("TIMER_PENDING", 100000 if q else 3000000),
        "pending_size": ctx.env_int("TIMER_PENDING_SIZE", 128),
        "pending_producers": ctx.env_int("TIMER_PENDING_PRODUCERS", 16),
        "lateness_messages": ctx.env_int("TIMER_LATENESS_MSGS", 3000 if q else 30000),
        "window_s": ctx.env_int("TIMER_WINDOW_S", 15 if q else 60),
        "load_producers": ctx.env_int("TIMER_LOAD_PRODUCERS", 4),
        "scenarios": ctx.env_str("TIMER_SCENARIOS", "enqueue pending lateness").split(),
    }


def run(ctx, args, emit):
    cfg = config(ctx)
    plan = []
    if "enqueue" in cfg["scenarios"]:
        for rnd in range(1, cfg["rounds"] + 1):
            for p in cfg["producers"]:
                for kind in ("plain", "timer"):
                    plan.append(("enqueue", kind, p, rnd))
    if "pending" in cfg["scenarios"]:
        plan.append(("pending", "timer", cfg["pending_producers"], 1))
    if "lateness" in cfg["scenarios"]:
        plan.append(("lateness", "timer", 2, 1))
    for scenario, kind, producers, rnd in plan:
        ctx.log(f"timer: {scenario} {kind} x {producers}, round {rnd}, ferro")
        rec = one_run(ctx, args, cfg, scenario, kind, producers, rnd)
        r = rec.get("result") or {}
        s = r.get("send") or r.get("timer_send") or {}
        ctx.log(f"  -> tps={s.get('tps')} p99={s.get('p99_us')}us lateness p50/p99="
                f"{r.get('lateness_p50_ms')}/{r.get('lateness_p99_ms')}ms rss={rec.get('peak_rss_mib')}MiB "
                f"pending={(r.get('broker_status') or {}).get('timerPendingCount')} "
                f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
        emit(rec)


def tool_args(cfg, scenario, kind, producers):
    if scenario == "enqueue":
        return ["--mode", "enqueue", "--kind", kind, "--producers", str(producers), "--messages",
                str(cfg["enqueue_messages"]), "--size", str(cfg["size"]), "--delay-sec", str(cfg["delay_sec"])]
    if scenario == "pending":
        return ["--mode", "enqueue", "--kind", "timer", "--producers", str(producers), "--messages",
                str(cfg["pending"]), "--size", str(cfg["pending_size"]), "--delay-sec", "7200"]
    return ["--mode", "lateness", "--producers", str(producers), "--messages", str(cfg["lateness_messages"]),
            "--size", "128", "--window-s", str(cfg["window_s"]), "--lead-ms", "5000",
            "--load-producers", str(cfg["load_producers"]), "--load-size", "1024", "--grace-s", "30"]


def messages_of(cfg, scenario):
    return {"enqueue": cfg["enqueue_messages"], "pending": cfg["pending"],
            "lateness": cfg["lateness_messages"]}[scenario]


def run_tool(args, addr, targs, timeout):
    """`ferromq bench-timer`; returns (fields for the record, command)."""
    cmd = [args.ferromq, "bench-timer", "--broker", addr] + targs
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"bench-timer timed out after {timeout:.0f}s"}, cmd
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {"tool_wall_s": round(time.monotonic() - t0, 3),
           "tool_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)}
    if r.returncode != 0:
        res["error"] = f"bench-timer exit code {r.returncode}: {r.stderr[-500:]}"
        return res, cmd
    try:
        res["result"] = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res["error"] = "bench-timer printed no JSON"
        res["stdout_tail"] = r.stdout[-1000:]
    return res, cmd


def store_usage_mib(store):
    """Allocated size (st_blocks) per top-level directory of the store, MiB; also the
    apparent size of the timer files (the wheel is a sparse, preallocated file)."""
    out, apparent = {}, {}
    store = Path(store)
    if not store.is_dir():
        return out, apparent
    for top in sorted(store.iterdir()):
        total = 0
        paths = [top] if top.is_file() else [Path(d, f) for d, _, fs in os.walk(top) for f in fs]
        for p in paths:
            try:
                st = p.stat()
            except OSError:
                continue
            total += st.st_blocks * 512
            if top.name == "timer":
                apparent[p.name] = round(st.st_size / 1048576, 1)
        out[top.name] = round(total / 1048576, 1)
    return out, apparent


def one_run(ctx, args, cfg, scenario, kind, producers, rnd=1):
    messages = messages_of(cfg, scenario)
    run_id = f"timer-{scenario}-{kind}-p{producers}-r{rnd}-ferro"
    logdir = Path(args.logs, run_id)
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = ctx.new_workdir(run_id)
    rec = {"type": "timer", "family": FAMILY, "run_id": run_id, "broker": "ferro", "round": rnd,
           "scenario": scenario, "kind": kind, "producers": producers, "messages": messages,
           "store_dir": str(workdir), "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "loadavg_before": ctx.loadavg()}
    if ctx.CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = ctx.wait_for_quiet(ctx.CONFIG["idle_wait_s"])
    broker = ctx.Broker("ferro", args, workdir, logdir)
    try:
        broker.start(probe_topic="BenchProbe")
        rec.update(broker.info)
        cpu0 = broker.cpu()
        sys0 = ctx.system_busy_seconds()
        timeout = max(ctx.CONFIG["gen_timeout_floor"], messages / 1000 + cfg["window_s"] + 60)
        res, cmd = run_tool(args, broker.addr, tool_args(cfg, scenario, kind, producers), timeout)
        sys1 = ctx.system_busy_seconds()
        cpu1 = broker.cpu()
        rec["tool_cmd"] = " ".join(cmd)
        rec.update(res)
        ours = sum(cpu1[r] - cpu0[r] for r in cpu0) + res.get("tool_cpu_s", 0)
        if res.get("tool_wall_s"):
            rec["other_cores_busy"] = round(max(0.0, (sys1 - sys0) - ours) / res["tool_wall_s"], 2)
        st = broker.status()
        rec["rss_kb"] = st
        rec["peak_rss_mib"] = round(sum((s.get("VmHWM") or 0) for s in st.values()) / 1024, 1)
        rec["anon_rss_mib"] = round(sum((s.get("RssAnon") or 0) for s in st.values()) / 1024, 1)
        rec["cpu_s"] = round(sum(cpu1[r] - cpu0[r] for r in cpu0), 3)
        r = rec.get("result") or {}
        sent = (r.get("send") or r.get("timer_send") or {}).get("sent") or 0
        if scenario == "lateness":
            sent += (r.get("load") or {}).get("sent") or 0
        rec["cpu_s_per_million"] = round(rec["cpu_s"] / (sent / 1e6), 2) if sent else None
        rec["store_mib"], rec["timer_files_apparent_mib"] = store_usage_mib(workdir / "store")
        rec["broker_alive_after_run"] = broker.all_alive()
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        rec["stop"] = broker.stop()
        rec["loadavg_after"] = ctx.loadavg()
        rec["anomalies"] = ctx.anomalies_of(rec) + anomalies(rec, messages)
        if rec["anomalies"]:
            for role, p in broker.procs.items():
                rec.setdefault("log_tail", {})[role] = ctx.tail(p.err_path, 20) + "\n" + ctx.tail(p.out_path, 10)
        if not args.keep_stores:
            shutil.rmtree(workdir, ignore_errors=True)
    return rec


def _int(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


def anomalies(rec, messages):
    """What bench.py's anomalies_of does not know about: the tool's own counts."""
    r = rec.get("result")
    if not r:
        return []
    a = []
    s = r.get("send") or r.get("timer_send") or {}
    if s.get("errors"):
        a.append(f"send errors={s['errors']} (first: {s.get('first_error')})")
    if s.get("sent") != messages:
        a.append(f"sent={s.get('sent')} of {messages}")
    pending = _int((r.get("broker_status") or {}).get("timerPendingCount"))
    if r.get("mode") == "enqueue" and r.get("kind") == "timer" and pending != s.get("sent"):
        a.append(f"timerPendingCount={pending}, timers sent={s.get('sent')}")
    if r.get("mode") == "lateness":
        for k in ("early", "missing", "duplicates", "foreign"):
            if r.get(k):
                a.append(f"{k}={r[k]}")
        if r.get("timers_sent_late"):
            a.append(f"{r['timers_sent_late']} timers sent after their due time (sender behind by "
                     f"up to {r.get('timer_send_lag_max_ms')} ms)")
        if (r.get("load") or {}).get("errors"):
            a.append(f"load send errors={r['load']['errors']}")
        if pending not in (0, None):
            a.append(f"timerPendingCount={pending} after every timer was due")
    return a


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def report(records):
    recs = [r for r in records if r.get("type") == "timer"]
    if not recs:
        return ""
    out = ["### Timer messages (`timer` family, ferromq only)", ""]
    w = out.append
    ok = [r for r in recs if not r.get("error") and r.get("result")]
    failed = [r for r in recs if r not in ok]

    enq = defaultdict(lambda: defaultdict(list))
    for r in ok:
        if r["scenario"] == "enqueue":
            enq[r["producers"]][r["kind"]].append(r)
    if enq:
        w("| enqueue, body × connections | runs | plain TPS | timer TPS | timer / plain | p50 µs plain / timer | "
          "p99 µs plain / timer | CPU s / 1M plain / timer | peak RSS MiB plain / timer |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for p in sorted(enq):
            pl, tm = enq[p].get("plain", []), enq[p].get("timer", [])

            def g(rs, k):
                return _med([((r.get("result") or {}).get("send") or {}).get(k) for r in rs])

            def f(rs, k):
                return _med([r.get(k) for r in rs])

            size = ((pl or tm)[0]["result"]).get("size")
            w(f"| {size} B × {p} | {len(pl)} / {len(tm)} | {_fmt(g(pl, 'tps'))} | {_fmt(g(tm, 'tps'))} | "
              f"{_ratio(g(tm, 'tps'), g(pl, 'tps'))} | "
              f"{_fmt(g(pl, 'p50_us'))} / {_fmt(g(tm, 'p50_us'))} | {_fmt(g(pl, 'p99_us'))} / {_fmt(g(tm, 'p99_us'))} | "
              f"{_fmt(f(pl, 'cpu_s_per_million'), 1)} / {_fmt(f(tm, 'cpu_s_per_million'), 1)} | "
              f"{_fmt(f(pl, 'peak_rss_mib'))} / {_fmt(f(tm, 'peak_rss_mib'))} |")
        w("")
        w("Medians over TIMER_ROUNDS; each run a fresh broker; timers due in TIMER_DELAY_SEC (an hour), "
          "so none is delivered during the run. Send only (no consumer). CPU = the broker's "
          "utime+stime per million sends.")
        w("")

    for r in ok:
        if r["scenario"] != "pending":
            continue
        res = r["result"]
        s = res.get("send") or {}
        st = (r.get("rss_kb") or {}).get("broker") or {}
        store = r.get("store_mib") or {}
        cl = _int((res.get("broker_status") or {}).get("commitLogMaxOffset"))
        w(f"**Pending timers**: {s.get('sent'):,} timers of {res.get('size')} B sent by {res.get('producers')} "
          f"connections at {_fmt(s.get('tps'))}/s (p99 {_fmt(s.get('p99_us'))} µs); then "
          f"timerPendingCount {(res.get('broker_status') or {}).get('timerPendingCount')}, broker peak RSS "
          f"(VmHWM) {_fmt(st.get('VmHWM', 0) / 1024)} MiB, RssAnon {_fmt(st.get('RssAnon', 0) / 1024)} MiB, "
          f"RssFile {_fmt(st.get('RssFile', 0) / 1024)} MiB; commit log used "
          f"{_fmt(cl / 1048576 if cl is not None else None)} MiB "
          f"(commitLogMaxOffset). Store on disk (allocated MiB, including preallocated commit log files): "
          + ", ".join(f"{k} {_fmt(v, 1)}" for k, v in store.items())
          + (f"; timer files' apparent sizes (MiB): "
             + ", ".join(f"{k} {v}" for k, v in (r.get("timer_files_apparent_mib") or {}).items())
             if r.get("timer_files_apparent_mib") else "") + ".")
        w("")

    for r in ok:
        if r["scenario"] != "lateness":
            continue
        res = r["result"]
        ld = res.get("load") or {}
        ts = res.get("timer_send") or {}
        w("| lateness under load | timers | window s | timer sends/s | plain load TPS (connections) | "
          "lateness p50 ms | p99 ms | max ms | min ms | early | missing | duplicates | broker CPU s / 1M sends |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        w(f"| ferromq | {res.get('received')} / {res.get('messages')} | {res.get('window_s')} | "
          f"{_fmt(ts.get('tps'))} | {_fmt(ld.get('tps'))} ({ld.get('producers')}) | {_fmt(res.get('lateness_p50_ms'))} | "
          f"{_fmt(res.get('lateness_p99_ms'))} | {_fmt(res.get('lateness_max_ms'))} | {_fmt(res.get('lateness_min_ms'))} | "
          f"{res.get('early')} | {res.get('missing')} | {res.get('duplicates')} | {_fmt(r.get('cpu_s_per_million'), 1)} |")
        w("")
        w("Due times (TIMER_DELIVER_MS) spread evenly over the window, each timer sent 5 s ahead; "
          "lateness = the consumer's receipt time (long-polling pull of the real topic) minus the "
          "due time, so it includes the pull's delay. ferromq rounds due times up to "
          "timerPrecisionMs (1000 ms): lateness in [0, ~1.1 s] is by design; early must be 0.")
        w("")
    w("Apache RocketMQ 4.9.7 has no timer messages (it delivers them at once), so there is no "
      "side-by-side figure; its plain-send numbers are in the send table.")
    w("")
    if failed:
        w("Runs with an error: " + "; ".join(f"`{r['run_id']}`: {r.get('error')}" for r in failed))
        w("")
    return "\n".join(out)

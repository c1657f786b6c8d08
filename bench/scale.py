"""Scenario family 'scale' (issue 16): many topics, many queues, many consumer clients.

Run by bench.py when FAMILIES contains "scale". Every scenario runs against Apache RocketMQ
4.9.7 ("java") and ferromq ("ferro"), alternating, each on a fresh store in a fresh temp
directory, driven by `ferromq bench-scale` (src/bench/scale.rs). No timing is asserted.

Scenarios
  * "topics": SCALE_TOPICS topics x SCALE_TOPIC_QUEUES queues (full 10 000 x 8, QUICK 1 000 x 8).
  * "queues": SCALE_QTOPICS topics x SCALE_QQUEUES queues (full 100 x 1 000 = 100 000 queues,
    QUICK 10 x 1 000 = 10 000; ferromq's maxQueueNumsPerTopic is 1 024).
    For both: the topics are created the way an operator does it, UPDATE_AND_CREATE_TOPIC over
    the wire (SCALE_CREATE_CONNS connections, default 4), timed: "create s" in the report. The
    Java broker rewrites its whole config/topics.json on every create, so this is quadratic there;
    creation stops after SCALE_CREATE_LIMIT_S (full 300, QUICK 120) and the record says how many
    were created (an anomaly). Topics are NOT pre-written into topics.json: the creation time is
    one of the measured results.
    Then SCALE_MSGS sends (full 100 000, QUICK 20 000; SCALE_SIZE bytes, default 128) over
    SCALE_PRODUCERS connections (default 8), round-robin over every topic first and then over the
    queues of each, at most SCALE_SEND_SPREAD distinct queues (full 40 000, QUICK 10 000): every
    queue written becomes a mapped consume-queue file on both brokers and vm.max_map_count is
    65 530 by default, so writing all 80 000 / 100 000 queues would hit that limit on both
    (the record says how many distinct queues were written). The sends stop after
    SCALE_SEND_LIMIT_S (full 180, QUICK 120; an anomaly, TPS over what was sent). RSS after.
    Then the broker is stopped and started again on the same store (new ports; for Java a new
    name server too) and the time from spawning the broker to its first acknowledged send is
    measured (Broker.start; its probe's UPDATE_AND_CREATE_TOPIC rewrites the Java broker's
    topics.json again, which is part of what a restart costs there), RSS right after, then one
    send to every topic (autoCreateTopicEnable=false, so a topic lost in the restart is a send
    error) and RSS after that.
  * "clients": SCALE_GROUPS x SCALE_CLIENTS_PER_GROUP consumer clients (full 10 x 100 = 1 000,
    QUICK 5 x 20 = 100), one connection each, on one topic of SCALE_CLIENT_QUEUES queues
    (default 128). Join: every client's first HEART_BEAT (on Java this triggers
    NOTIFY_CONSUMER_IDS_CHANGED to the group's members; the clients ignore them). Then
    SCALE_HB_ROUNDS rounds (full 3, QUICK 2), back to back (a Java client does one every 30 s),
    in which every client does HEART_BEAT, GET_CONSUMER_LIST_BY_GROUP and QUERY_CONSUMER_OFFSET
    for the queues the averaging strategy gives it, SCALE_CONCURRENCY (64) clients at a time.
    Measured: broker CPU per round (ms per 1 000 clients), latency p50/p99 per request kind, and
    broker RSS with every client still connected (minus RSS before the clients connected).
  SCALE_SCENARIOS (default "topics queues clients") picks scenarios; SCALE_ROUNDS (default 1) repeats
  them all; SCALE_BROKERS (default "java ferro").

Records: type "scale", family "scale", scenario, run_id, broker, round, ts, the measured fields,
"anomalies" (list), "stop" (and "stop_first" for the broker stopped before the restart).
"""

import json
import resource
import shutil
import subprocess
import time
from pathlib import Path

# the report's number formatting, shared with bench/report.py
from report import fmt as _fmt, med as _med, ratio as _ratio

ALL_SCENARIOS = ("topics", "queues", "clients")


def config(ctx):
    q = ctx.QUICK
    e = ctx.env_int
    return {
        "scenarios": ctx.env_str("SCALE_SCENARIOS", " ".join(ALL_SCENARIOS)).split(),
        "brokers": ctx.env_str("SCALE_BROKERS", "java ferro").split(),
        "rounds": e("SCALE_ROUNDS", 1),
        "topics": (e("SCALE_TOPICS", 1000 if q else 10000), e("SCALE_TOPIC_QUEUES", 8)),
        "queues": (e("SCALE_QTOPICS", 10 if q else 100), e("SCALE_QQUEUES", 1000)),
        "create_conns": e("SCALE_CREATE_CONNS", 4),
        "create_limit_s": e("SCALE_CREATE_LIMIT_S", 120 if q else 300),
        "messages": e("SCALE_MSGS", 20000 if q else 100000),
        "size": e("SCALE_SIZE", 128),
        "producers": e("SCALE_PRODUCERS", 8),
        "send_spread": e("SCALE_SEND_SPREAD", 10000 if q else 40000),
        "send_limit_s": e("SCALE_SEND_LIMIT_S", 120 if q else 180),
        "groups": e("SCALE_GROUPS", 5 if q else 10),
        "clients_per_group": e("SCALE_CLIENTS_PER_GROUP", 20 if q else 100),
        "client_queues": e("SCALE_CLIENT_QUEUES", 128),
        "hb_rounds": e("SCALE_HB_ROUNDS", 2 if q else 3),
        "concurrency": e("SCALE_CONCURRENCY", 64),
    }


# broker.conf keys for every scale run: a topic lost over the restart must show as a send error
EXTRA_CONF = {"autoCreateTopicEnable": "false"}


def bench_scale(ctx, args, addr, mode, timeout, **kw):
    """Runs `ferromq bench-scale`; returns (parsed JSON or {"error": ...}, wall s, CPU s)."""
    cmd = [args.ferromq, "bench-scale", "--broker", addr, "--mode", mode]
    for k, v in kw.items():
        for one in (v if isinstance(v, list) else [v]):
            cmd += ["--" + k.replace("_", "-"), str(one)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"bench-scale {mode} timed out after {timeout:.0f}s"}, None, None
    wall = round(time.monotonic() - t0, 3)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)
    if r.returncode != 0:
        return {"error": f"bench-scale {mode} exit code {r.returncode}: {r.stderr.strip()[-500:]}"}, wall, cpu
    try:
        return json.loads(r.stdout.strip().splitlines()[-1]), wall, cpu
    except (ValueError, IndexError):
        return {"error": f"bench-scale {mode} printed no JSON: {r.stdout[-300:]} {r.stderr[-300:]}"}, wall, cpu


def rss_summary(st):
    """{role: status} -> VmHWM / VmRSS / RssAnon totals in MiB, and the per-role dict."""
    tot = lambda k: round(sum((s or {}).get(k) or 0 for s in st.values()) / 1024, 1)  # noqa: E731
    return {"kb": st, "hwm_mib": tot("VmHWM"), "rss_mib": tot("VmRSS"), "anon_mib": tot("RssAnon")}


def safe_status(broker):
    try:
        return rss_summary(broker.status())
    except OSError as e:
        return {"error": str(e)}


def new_record(ctx, scenario, kind, rnd, workdir, cfg):
    return {"type": "scale", "family": "scale", "scenario": scenario,
            "run_id": f"scale-{scenario}-r{rnd}-{kind}", "broker": kind, "round": rnd,
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "store_dir": str(workdir),
            "loadavg_before": ctx.loadavg(), "config": cfg}


def finish(ctx, args, rec, brokers, workdir):
    """Stop info, anomalies, log tails; the store removed unless keep_stores."""
    a = []
    if rec.get("error"):
        a.append(rec["error"])
    for key, part in (("create", "create"), ("send", "send"), ("verify", "verify after restart"),
                      ("clients", "clients")):
        r = rec.get(key) or {}
        if r.get("error"):
            a.append(f"{part}: {r['error']}")
        if r.get("errors"):
            a.append(f"{part}: {r['errors']} errors (first: {r.get('first_error')})")
    c = rec.get("create") or {}
    if c.get("time_limited"):
        a.append(f"create: only {c.get('created')} of {c.get('topics')} topics within the time limit")
    s = rec.get("send") or {}
    if s.get("time_limited"):
        a.append(f"send: only {s.get('sent')} of {s.get('messages')} messages within the time limit")
    cl = rec.get("clients") or {}
    for ph in [cl.get("join") or {}] + list(cl.get("rounds") or []):
        for kind, t in (ph.get("requests") or {}).items():
            if isinstance(t, dict) and t.get("errors"):
                a.append(f"clients {kind}: {t['errors']} errors (first: {t.get('first_error')})")
        if (ph.get("requests") or {}).get("short_lists"):
            a.append(f"clients: {ph['requests']['short_lists']} consumer lists missing members "
                     f"(round {ph.get('round', 'join')})")
    if cl and cl.get("connections_open_at_end") not in (None, cl.get("clients")):
        a.append(f"clients: {cl['clients'] - cl['connections_open_at_end']} connections closed by the broker")
    for key in ("stop_first", "stop"):
        for role, s in (rec.get(key) or {}).items():
            if not s.get("alive_before_stop"):
                a.append(f"{role} process had died before stop ({key}, exit code {s.get('exit_code')})")
            elif s.get("exit_code") not in (0, 143, -15) and rec["broker"] == "ferro":
                a.append(f"{role} exit code {s.get('exit_code')} after SIGTERM ({key})")
    rec["anomalies"] = a
    rec["loadavg_after"] = ctx.loadavg()
    if a:
        for b in brokers:
            for role, p in b.procs.items():
                rec.setdefault("log_tail", {})[f"{role}@{b.broker_port}"] = (
                    ctx.tail(p.err_path, 20) + "\n" + ctx.tail(p.out_path, 10))
    if not args.keep_stores:
        shutil.rmtree(workdir, ignore_errors=True)


def measured(ctx, broker, fn):
    """Runs fn(); returns (its result, broker CPU s delta, others' load in cores)."""
    cpu0 = broker.cpu()
    sys0 = ctx.system_busy_seconds()
    res, wall, gen_cpu = fn()
    sys1 = ctx.system_busy_seconds()
    cpu1 = broker.cpu()
    cpu = round(sum(cpu1[r] - cpu0[r] for r in cpu0), 3)
    if wall:
        res["gen_wall_s"], res["gen_cpu_s"] = wall, gen_cpu
        res["other_cores_busy"] = round(max(0.0, (sys1 - sys0) - cpu - (gen_cpu or 0)) / wall, 2)
    res["broker_cpu_s"] = cpu
    return res


def topics_run(ctx, args, kind, scenario, rnd, cfg):
    topics, queues = cfg[scenario]
    rec_cfg = {"topics": topics, "queues": queues, "messages": cfg["messages"], "size": cfg["size"],
               "producers": cfg["producers"], "send_spread": cfg["send_spread"], "send_limit_s": cfg["send_limit_s"],
               "create_conns": cfg["create_conns"], "create_limit_s": cfg["create_limit_s"]}
    logdir = Path(args.logs, f"scale-{scenario}-r{rnd}-{kind}")
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = ctx.new_workdir(f"scale-{scenario}-r{rnd}-{kind}")
    rec = new_record(ctx, scenario, kind, rnd, workdir, rec_cfg)
    if ctx.CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = ctx.wait_for_quiet(ctx.CONFIG["idle_wait_s"])
    first = ctx.Broker(kind, args, workdir, logdir, extra_conf=EXTRA_CONF)
    brokers = [first]
    try:
        try:
            first.start(probe_topic="ScaleProbe")
            rec["start"] = dict(first.info)
            rec["rss_idle"] = safe_status(first)
            limit = cfg["create_limit_s"]
            rec["create"] = measured(ctx, first, lambda: bench_scale(
                ctx, args, first.addr, "create", limit + 60, topics=topics, queues=queues,
                connections=cfg["create_conns"], time_limit_s=limit))
            rec["rss_after_create"] = safe_status(first)
            rec["send"] = measured(ctx, first, lambda: bench_scale(
                ctx, args, first.addr, "send", cfg["send_limit_s"] + 60, topics=topics,
                queues=queues, connections=cfg["producers"], messages=cfg["messages"],
                size=cfg["size"], spread_queues=cfg["send_spread"], time_limit_s=cfg["send_limit_s"]))
            rec["rss_after_send"] = safe_status(first)
            rec["alive_after_send"] = first.all_alive()
        finally:
            rec["stop_first"] = first.stop()
        # the same store, new ports (and on Java a new name server): start-up with the topics
        second = ctx.Broker(kind, args, workdir, logdir / "restart", extra_conf=EXTRA_CONF)
        second.logdir.mkdir(parents=True, exist_ok=True)
        brokers.append(second)
        try:
            second.start(probe_topic="ScaleProbe")
            rec["restart"] = dict(second.info)
            rec["rss_after_restart"] = safe_status(second)
            rec["verify"] = measured(ctx, second, lambda: bench_scale(
                ctx, args, second.addr, "send", 300, topics=topics, queues=queues,
                connections=cfg["producers"], messages=topics, size=cfg["size"], spread_queues=1))
            rec["rss_after_verify"] = safe_status(second)
        finally:
            rec["stop"] = second.stop()
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        for b in brokers:  # a start that raised leaves its processes to stop here
            if any(p.alive() for p in b.procs.values()):
                b.stop()
        finish(ctx, args, rec, brokers, workdir)
    return rec


def clients_run(ctx, args, kind, rnd, cfg):
    rec_cfg = {k: cfg[k] for k in ("groups", "clients_per_group", "client_queues", "hb_rounds",
                                   "concurrency")}
    logdir = Path(args.logs, f"scale-clients-r{rnd}-{kind}")
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = ctx.new_workdir(f"scale-clients-r{rnd}-{kind}")
    rec = new_record(ctx, "clients", kind, rnd, workdir, rec_cfg)
    if ctx.CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = ctx.wait_for_quiet(ctx.CONFIG["idle_wait_s"])
    broker = ctx.Broker(kind, args, workdir, logdir, extra_conf=EXTRA_CONF)
    try:
        broker.start(probe_topic="ScaleProbe")
        rec["start"] = dict(broker.info)
        rec["rss_idle"] = safe_status(broker)
        pid = broker.procs["broker"].pid
        rec["clients"] = measured(ctx, broker, lambda: bench_scale(
            ctx, args, broker.addr, "clients", 600, queues=cfg["client_queues"],
            groups=cfg["groups"], clients_per_group=cfg["clients_per_group"],
            rounds=cfg["hb_rounds"], concurrency=cfg["concurrency"], watch_pid=pid))
        rss = ((rec["clients"].get("rss_kb_with_clients") or {}).get(str(pid)) or {})
        idle = ((rec["rss_idle"].get("kb") or {}).get("broker") or {})
        if rss.get("VmRSS") and idle.get("VmRSS"):
            rec["broker_rss_with_clients_mib"] = round(rss["VmRSS"] / 1024, 1)
            rec["broker_rss_delta_mib"] = round((rss["VmRSS"] - idle["VmRSS"]) / 1024, 1)
            rec["broker_anon_delta_mib"] = round((rss.get("RssAnon", 0) - idle.get("RssAnon", 0)) / 1024, 1)
        rec["alive_after_run"] = broker.all_alive()
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        rec["stop"] = broker.stop()
        finish(ctx, args, rec, [broker], workdir)
    return rec


def run(ctx, args, emit):
    cfg = config(ctx)
    ctx.log(f"family scale: {json.dumps(cfg)}")
    for rnd in range(1, cfg["rounds"] + 1):
        for scenario in cfg["scenarios"]:
            if scenario not in ALL_SCENARIOS:
                ctx.log(f"  scale: unknown scenario {scenario!r} skipped")
                continue
            for kind in cfg["brokers"]:
                ctx.log(f"scale round {rnd}: {scenario}, {kind}")
                if scenario == "clients":
                    rec = clients_run(ctx, args, kind, rnd, cfg)
                    r = (rec.get("clients") or {}).get("rounds") or [{}]
                    ctx.log(f"  -> cpu ms/1000 clients={[x.get('broker_cpu_ms_per_1000_clients') for x in r]} "
                            f"rss+={rec.get('broker_rss_delta_mib')}MiB "
                            f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
                else:
                    rec = topics_run(ctx, args, kind, scenario, rnd, cfg)
                    ctx.log(f"  -> create={(rec.get('create') or {}).get('seconds')}s "
                            f"tps={(rec.get('send') or {}).get('send_tps')} "
                            f"restart={(rec.get('restart') or {}).get('first_send_s')}s "
                            f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
                emit(rec)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

NAMES = {"java": "RocketMQ 4.9.7", "ferro": "ferromq"}


def _get(r, *path):
    for p in path:
        if not isinstance(r, dict):
            return None
        r = r.get(p)
    return r


def _topic_row(rs):
    m = lambda *p: _med([_get(r, *p) for r in rs])  # noqa: E731
    sent = m("send", "sent")
    cpu = m("send", "broker_cpu_s")
    return {
        "runs": len(rs),
        "create_s": m("create", "seconds"), "created": m("create", "created"),
        "creates_per_s": m("create", "creates_per_s"), "create_p99": m("create", "latency", "p99_us"),
        "tps": m("send", "send_tps"), "p50": m("send", "latency", "p50_us"),
        "p99": m("send", "latency", "p99_us"), "written": m("send", "distinct_queues_written"),
        "cpu_per_m": cpu / (sent / 1e6) if cpu is not None and sent else None,
        "hwm": m("rss_after_send", "hwm_mib"), "anon": m("rss_after_send", "anon_mib"),
        "restart": m("restart", "first_send_s"), "restart_ns": m("restart", "first_send_incl_namesrv_s"),
        "start": m("start", "first_send_s"),
        "rss_restart": m("rss_after_restart", "rss_mib"), "anon_restart": m("rss_after_verify", "anon_mib"),
        "verify_errors": m("verify", "errors"),
        "other": m("send", "other_cores_busy"),
    }


def _clients_row(rs):
    def over_rounds(*p):
        return _med([_get(x, *p) for r in rs for x in (_get(r, "clients", "rounds") or [])])
    m = lambda *p: _med([_get(r, *p) for r in rs])  # noqa: E731
    return {
        "runs": len(rs), "clients": m("clients", "clients"),
        "join_s": m("clients", "join", "wall_s"), "join_cpu": m("clients", "join", "broker_cpu_s"),
        "cpu_ms": over_rounds("broker_cpu_ms_per_1000_clients"), "round_s": over_rounds("wall_s"),
        "hb50": over_rounds("requests", "heartbeat", "p50_us"), "hb99": over_rounds("requests", "heartbeat", "p99_us"),
        "cl50": over_rounds("requests", "consumer_list", "p50_us"), "cl99": over_rounds("requests", "consumer_list", "p99_us"),
        "qo50": over_rounds("requests", "query_offset", "p50_us"), "qo99": over_rounds("requests", "query_offset", "p99_us"),
        "rss": m("broker_rss_with_clients_mib"), "rss_delta": m("broker_rss_delta_mib"),
        "anon_delta": m("broker_anon_delta_mib"),
    }


def report(records):
    recs = [r for r in records if r.get("type") == "scale"]
    if not recs:
        return ""
    out = []
    w = out.append
    ok = [r for r in recs if not r.get("error")]
    shapes = [s for s in ("topics", "queues") if any(r["scenario"] == s for r in ok)]
    if shapes:
        w("### Scale: many topics / many queues (`ferromq bench-scale`), medians")
        w("")
        w("| shape | broker | runs | create s (creates/s, p99 ms) | send TPS | send p50/p99 µs | queues written "
          "| CPU s / 1M msgs | peak RSS MiB | anon RSS MiB | start → 1st send s (empty) | restart → 1st send s "
          "| RSS after restart MiB | anon RSS after 1 send/topic MiB | topics lost |")
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        ratios = []
        for s in shapes:
            rows = {}
            for kind in ("java", "ferro"):
                rs = [r for r in ok if r["scenario"] == s and r["broker"] == kind]
                if not rs:
                    continue
                t = rows[kind] = _topic_row(rs)
                c = rs[0]["config"]
                label = f"{c['topics']:,} × {c['queues']:,}"
                created = "" if t["created"] == c["topics"] else f", {_fmt(t['created'])} created"
                restart = _fmt(t["restart"], 2)
                if kind == "java" and t["restart_ns"] is not None:
                    restart += f" ({_fmt(t['restart_ns'], 2)})"
                w(f"| {label} | {NAMES[kind]} | {t['runs']} | {_fmt(t['create_s'], 1)} "
                  f"({_fmt(t['creates_per_s'])}/s, {_fmt((t['create_p99'] or 0) / 1000, 1)}{created}) "
                  f"| {_fmt(t['tps'])} | {_fmt(t['p50'])} / {_fmt(t['p99'])} | {_fmt(t['written'])} "
                  f"| {_fmt(t['cpu_per_m'], 1)} | {_fmt(t['hwm'])} | {_fmt(t['anon'])} | {_fmt(t['start'], 2)} "
                  f"| {restart} | {_fmt(t['rss_restart'])} | {_fmt(t['anon_restart'])} "
                  f"| {_fmt(t['verify_errors'])} |")
            if "java" in rows and "ferro" in rows:
                ratios.append((label, rows["java"], rows["ferro"]))
        w("")
        w("Topics created with UPDATE_AND_CREATE_TOPIC over the wire (4 connections), not pre-written to "
          "topics.json. Sends round-robin over every topic, then over the queues of each, at most "
          "SCALE_SEND_SPREAD distinct queues (each written queue is a mapped consume-queue file; "
          "vm.max_map_count is 65 530). Peak RSS = VmHWM after the sends, anon = RssAnon (for RocketMQ "
          "broker + name server). Restart: the broker stopped and started on the same store, spawn to "
          "first acknowledged send (RocketMQ: from the name server's spawn in parentheses); RSS right "
          "after, anon RSS after one send to every topic. Topics lost = send errors of that check "
          "(autoCreateTopicEnable=false).")
        w("")
        if ratios:
            w("| shape | create time | send TPS | send p99 | CPU per msg | peak RSS | restart → 1st send | RSS after restart |")
            w("|---|--:|--:|--:|--:|--:|--:|--:|")
            for label, j, f in ratios:
                w(f"| {label} | {_ratio(f['create_s'], j['create_s'])} | {_ratio(f['tps'], j['tps'])} "
                  f"| {_ratio(f['p99'], j['p99'])} | {_ratio(f['cpu_per_m'], j['cpu_per_m'])} "
                  f"| {_ratio(f['hwm'], j['hwm'])} | {_ratio(f['restart'], j['restart'])} "
                  f"| {_ratio(f['rss_restart'], j['rss_restart'])} |")
            w("")
            w("ferromq / RocketMQ: TPS > 1× means ferromq is faster; the other ratios < 1× mean ferromq "
              "takes less.")
            w("")
    crs = [r for r in ok if r["scenario"] == "clients"]
    if crs:
        w("### Scale: consumer clients heartbeating and rebalancing (`ferromq bench-scale --mode clients`), medians")
        w("")
        w("| clients | broker | runs | join s (broker CPU s) | broker CPU ms / 1 000 clients per round "
          "| round s | heartbeat p50/p99 µs | consumer list p50/p99 µs | query offset p50/p99 µs "
          "| broker RSS with clients MiB (+ vs idle, + anon) |")
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        rows = {}
        for kind in ("java", "ferro"):
            rs = [r for r in crs if r["broker"] == kind]
            if not rs:
                continue
            t = rows[kind] = _clients_row(rs)
            c = rs[0]["config"]
            label = f"{c['groups']} × {c['clients_per_group']} on {c['client_queues']} queues"
            w(f"| {label} | {NAMES[kind]} | {t['runs']} | {_fmt(t['join_s'], 2)} ({_fmt(t['join_cpu'], 2)}) "
              f"| {_fmt(t['cpu_ms'])} | {_fmt(t['round_s'], 2)} | {_fmt(t['hb50'])} / {_fmt(t['hb99'])} "
              f"| {_fmt(t['cl50'])} / {_fmt(t['cl99'])} | {_fmt(t['qo50'])} / {_fmt(t['qo99'])} "
              f"| {_fmt(t['rss'])} (+{_fmt(t['rss_delta'], 1)}, +{_fmt(t['anon_delta'], 1)}) |")
        if "java" in rows and "ferro" in rows:
            j, f = rows["java"], rows["ferro"]
            w(f"| ferromq / RocketMQ | | | {_ratio(f['join_s'], j['join_s'])} | {_ratio(f['cpu_ms'], j['cpu_ms'])} "
              f"| {_ratio(f['round_s'], j['round_s'])} | {_ratio(f['hb99'], j['hb99'])} (p99) "
              f"| {_ratio(f['cl99'], j['cl99'])} (p99) | {_ratio(f['qo99'], j['qo99'])} (p99) "
              f"| {_ratio(f['rss'], j['rss'])} |")
        w("")
        w("groups × clients per group, one connection per client. Join: every client's first HEART_BEAT. "
          "A round: every client sends HEART_BEAT, GET_CONSUMER_LIST_BY_GROUP and QUERY_CONSUMER_OFFSET for "
          "its queues (averaging allocation), 64 clients at a time, rounds back to back; broker CPU "
          "(broker process only, read from /proc in 10 ms ticks: coarse below ~1 000 clients) per round "
          "scaled to 1 000 clients, medians over rounds. RSS = VmRSS of the broker process with every "
          "client connected; + vs idle: minus its VmRSS (and RssAnon) before the clients connected.")
        w("")
    failed = [r for r in recs if r.get("error")]
    if failed:
        w("Scale runs that failed (left out above): " + "; ".join(
            f"`{r['run_id']}`: {r['error'][:200]}" for r in failed))
        w("")
    return "\n".join(out)

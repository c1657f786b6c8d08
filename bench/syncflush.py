"""Scenario family 'syncflush': send TPS and latency with flushDiskType=SYNC_FLUSH.

Run by bench/bench.py when FAMILIES contains "syncflush"; report() renders its records.
Each run: a fresh broker ("java" = Apache RocketMQ 4.9.7, "ferro" = ferromq; java first, then
ferro, per scenario) on a fresh store with flushDiskType=SYNC_FLUSH in broker.conf, so a send is
acknowledged only after its bytes are fsynced. Then a warm-up (SYNCFLUSH_WARMUP_MSGS on another
topic, excluded from the numbers) and the measured run: `ferromq bench --consume false` with
N producer connections, 1 send in flight each (the send family's INFLIGHT), 1 KiB bodies,
8 queues (the send family's QUEUES). Both brokers group-commit: concurrent sends waiting for
the same fsync share it, so TPS should grow with connections while 1 connection is bound by
one fsync per send.

Recorded per run (the same shape as the send family's records, type/family "syncflush"):
the generator's JSON (send TPS, p50/p99/p99.9 µs, errors), broker CPU seconds over the
measured run and per million messages, peak RSS, others' load, start -> first send, stop info
and anomalies (send errors, missing sends, a process that died).

Knobs (environment; QUICK=1 defaults in parentheses):
  SYNCFLUSH_ROUNDS 1, SYNCFLUSH_BROKERS "java ferro", SYNCFLUSH_PRODUCERS "1 16 64",
  SYNCFLUSH_SIZE 1024, SYNCFLUSH_MSGS 40000 (4000) = messages per run at most,
  SYNCFLUSH_MSGS_PER_CONN 3000 (500): a run sends min(SYNCFLUSH_MSGS, this x connections),
  so the 1-connection run (about one fsync per send, ~1-2 ms here) stays short,
  SYNCFLUSH_WARMUP_MSGS 2000 (200).
"""

import statistics
import time
from pathlib import Path

# the report's number formatting, shared with bench/report.py
from report import fmt as _fmt, med as _med, ratio as _ratio, size_label as _size

FAMILY = "syncflush"


def config(ctx):
    q = ctx.QUICK
    return {
        "rounds": ctx.env_int("SYNCFLUSH_ROUNDS", 1),
        "brokers": [k for k in ctx.env_str("SYNCFLUSH_BROKERS", "java ferro").split()
                    if k not in ctx.CEILING_KINDS],
        "producers": [int(x) for x in ctx.env_str("SYNCFLUSH_PRODUCERS", "1 16 64").split()],
        "size": ctx.env_int("SYNCFLUSH_SIZE", 1024),
        "msgs": ctx.env_int("SYNCFLUSH_MSGS", 4000 if q else 40000),
        "msgs_per_conn": ctx.env_int("SYNCFLUSH_MSGS_PER_CONN", 500 if q else 3000),
        "warmup_msgs": ctx.env_int("SYNCFLUSH_WARMUP_MSGS", 200 if q else 2000),
    }


def sf_run(ctx, args, cfg, kind, producers, rnd):
    size = cfg["size"]
    messages = min(cfg["msgs"], cfg["msgs_per_conn"] * producers)
    run_id = f"syncflush-{size}B-p{producers}-r{rnd}-{kind}"
    logdir = Path(args.logs, run_id)
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = ctx.new_workdir(run_id)
    rec = {"type": FAMILY, "family": FAMILY, "run_id": run_id, "broker": kind, "size": size,
           "producers": producers, "inflight": ctx.CONFIG["inflight"],
           "queues": ctx.CONFIG["queues"], "messages": messages, "round": rnd,
           "consume": False, "flush_disk_type": "SYNC_FLUSH", "store_dir": str(workdir),
           "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_before": ctx.loadavg(),
           "knobs": cfg}
    if ctx.CONFIG["idle_wait_s"] > 0:
        rec["idle_wait_s"], rec["busy_cores_before"] = ctx.wait_for_quiet(ctx.CONFIG["idle_wait_s"])
    broker = ctx.Broker(kind, args, workdir, logdir, extra_conf={"flushDiskType": "SYNC_FLUSH"})
    try:
        broker.start(probe_topic="BenchProbe")
        rec.update(broker.info)
        if cfg["warmup_msgs"] > 0:
            w, _ = ctx.run_generator(args, broker.addr, "BenchWarmup", producers,
                                     cfg["warmup_msgs"], size, consume=False)
            rec["warmup"] = {"messages": cfg["warmup_msgs"], "error": w.get("error"),
                             "stderr_tail": w.get("stderr_tail"),
                             "send_tps": (w.get("gen") or {}).get("send_tps")}
        ctx.measure_generator(args, broker, rec, producers, messages, size, consume=False)
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        warm_err = (rec.get("warmup") or {}).get("error")
        ctx.finish_run(args, broker, rec, workdir,
                       extra_anomalies=[f"warm-up: {warm_err}"] if warm_err else ())
    return rec


def run(ctx, args, emit):
    cfg = config(ctx)
    ctx.log(f"family syncflush: {cfg}")
    for rnd in range(1, cfg["rounds"] + 1):
        for producers in cfg["producers"]:
            for kind in cfg["brokers"]:
                ctx.log(f"syncflush round {rnd}: {cfg['size']} B x {producers} producers, {kind}")
                rec = sf_run(ctx, args, cfg, kind, producers, rnd)
                g = rec.get("gen") or {}
                ctx.log(f"  -> tps={g.get('send_tps', 0):.0f} p99={g.get('send_p99_us')}us "
                        f"cpu/M={rec.get('cpu_s_per_million')} "
                        f"{'ANOMALIES: ' + '; '.join(rec['anomalies']) if rec['anomalies'] else ''}")
                emit(rec)


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------


def report(records):
    recs = [r for r in records if r.get("type") == FAMILY]
    groups = {}
    for r in recs:
        if r.get("error") or not r.get("gen"):
            continue
        groups.setdefault((r["size"], r["producers"]), {}).setdefault(r["broker"], []).append(r)
    if not groups:
        return ""

    def agg(rs):
        g = [r["gen"] for r in rs]
        return {"n": len(rs), "tps": _med([x.get("send_tps") for x in g]),
                "p50": _med([x.get("send_p50_us") for x in g]),
                "p99": _med([x.get("send_p99_us") for x in g]),
                "p999": _med([x.get("send_p999_us") for x in g]),
                "cpu": _med([r.get("cpu_s_per_million") for r in rs]),
                "rss": _med([r.get("peak_rss_total_mib") for r in rs]),
                "other": _med([r.get("other_cores_busy") for r in rs]),
                "errors": sum((x.get("send_errors") or 0) for x in g),
                "bad": sum(1 for r in rs if r.get("anomalies"))}

    out = []
    w = out.append
    w("### SYNC_FLUSH (flushDiskType=SYNC_FLUSH): send TPS and latency, medians")
    w("")
    w("| scenario | broker | runs | messages | send TPS | × its 1-connection TPS | p50 µs | p99 µs | p99.9 µs | "
      "CPU s / 1M msgs | peak RSS MiB | send errors | runs with anomalies | others' load |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    aggs = {key: {k: agg(v) for k, v in by.items()} for key, by in groups.items()}
    ratios = []
    for key in sorted(aggs):
        size, prod = key
        a = aggs[key]
        for kind, label in (("java", "RocketMQ 4.9.7"), ("ferro", "ferromq")):
            if kind not in a:
                continue
            x = a[kind]
            one = (aggs.get((size, 1)) or {}).get(kind)
            msgs = _med([r.get("messages") for r in groups[key][kind]])
            w(f"| {_size(size)} × {prod} | {label} | {x['n']} | {_fmt(msgs)} | {_fmt(x['tps'])} | "
              f"{_ratio(x['tps'], one['tps']) if one else '–'} | {_fmt(x['p50'])} | {_fmt(x['p99'])} | "
              f"{_fmt(x['p999'])} | {_fmt(x['cpu'], 1)} | {_fmt(x['rss'])} | {x['errors']} | {x['bad']} | "
              f"{_fmt(x['other'], 2)} |")
        if "java" in a and "ferro" in a:
            ratios.append((key, a["java"], a["ferro"]))
    w("")
    if ratios:
        w("| scenario | ferromq / RocketMQ TPS | p99 latency | CPU per msg | peak RSS |")
        w("|---|--:|--:|--:|--:|")
        for (size, prod), j, f in ratios:
            w(f"| {_size(size)} × {prod} | {_ratio(f['tps'], j['tps'])} | {_ratio(f['p99'], j['p99'])} | "
              f"{_ratio(f['cpu'], j['cpu'])} | {_ratio(f['rss'], j['rss'])} |")
        w("")
    w("Scenario = body size × producer connections, 1 send in flight each, sends only (no consumer). "
      "Every send is acknowledged after its fsync (SYNC_FLUSH); with group commit, concurrent sends share "
      "an fsync, so TPS should grow with connections (the “× its 1-connection TPS” column). Fresh broker "
      "and store per run, after a warm-up on another topic. CPU = broker process(es) over the measured run.")
    w("")
    return "\n".join(out)

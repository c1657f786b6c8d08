#!/usr/bin/env python3
"""Render bench/results/<timestamp>.jsonl (from bench/bench.py) as Markdown.

    python3 bench/report.py bench/results/<timestamp>.jsonl [more.jsonl ...]

Per scenario: the median over rounds for Apache RocketMQ 4.9.7 ("java") and ferromq ("ferro"),
and the ratios ferromq / Java. Runs with an error are left out of the medians and listed.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    if x is None:
        return "–"
    if nd == 0:
        return f"{x:,.0f}"
    return f"{x:,.{nd}f}"


def ratio(a, b, nd=2):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{nd}f}×"


def size_label(s):
    return f"{s // 1024} KiB" if s >= 1024 and s % 1024 == 0 else f"{s} B"


def main(paths):
    recs = []
    for p in paths:
        with open(p) as f:
            recs += [json.loads(line) for line in f if line.strip()]
    metas = [r for r in recs if r.get("type") == "meta"]
    ends = [r for r in recs if r.get("type") == "end"]
    gens = [r for r in recs if r.get("type") == "gen"]
    tools = [r for r in recs if r.get("type") == "javatool"]
    out = []
    w = out.append

    if metas:
        m = metas[0]
        mi = m.get("machine", {})
        w(f"Run of {m.get('ts')}: {mi.get('nproc')} × {mi.get('cpu_model', '?')}, "
          f"{mi.get('mem_total_kb', 0) / 1048576:.1f} GiB, Linux {mi.get('kernel')}, {mi.get('java')}; "
          f"ferromq {str(mi.get('ferromq_commit', '?'))[:10]}{' (+ uncommitted changes)' if mi.get('ferromq_dirty') else ''}.")
        w("")
        c = m.get("config", {})
        w(f"Mode: {'QUICK' if c.get('quick') else 'full'}; rounds {c.get('rounds')}; "
          f"messages per run {c.get('messages')}; warm-up {c.get('warmup_messages')} "
          f"({c.get('warmup_messages_64k')} at 64 KiB); queues {c.get('queues')}; in flight per "
          f"connection {c.get('inflight')}; Java broker heap {c.get('java_broker_heap')}, "
          f"name server heap {c.get('java_namesrv_heap')}; Java benchmark tool: {m.get('java_tool')}.")
        w("")
        la = [m.get("loadavg")] + [e.get("loadavg") for e in ends]
        w(f"Load average at start {m.get('loadavg')}, at end {ends[-1].get('loadavg') if ends else '?'}; "
          f"elapsed {ends[-1].get('elapsed_s') if ends else '?'} s.")
        w("")

    # ---- generator scenarios ------------------------------------------------------------
    groups = defaultdict(lambda: defaultdict(list))
    failed = []
    for r in gens:
        key = (r["size"], r["producers"])
        if r.get("error") or not r.get("gen"):
            failed.append(r)
            continue
        groups[key][r["broker"]].append(r)

    def agg(rs):
        g = [r["gen"] for r in rs]
        return {
            "n": len(rs),
            "tps": med([x.get("send_tps") for x in g]),
            "p50": med([x.get("send_p50_us") for x in g]),
            "p99": med([x.get("send_p99_us") for x in g]),
            "p999": med([x.get("send_p999_us") for x in g]),
            "e50": med([x.get("e2e_p50_ms") for x in g]),
            "e99": med([x.get("e2e_p99_ms") for x in g]),
            "rss": med([r.get("peak_rss_total_mib") for r in rs]),
            "rss_broker": med([(r.get("peak_rss_kb") or {}).get("broker", 0) / 1024 for r in rs]),
            "cpu": med([r.get("cpu_s_per_million") for r in rs]),
            "anon": med([sum((v or {}).get("RssAnon", 0) for v in (r.get("rss_kb") or {}).values()) / 1024
                         for r in rs]),
            "other": med([r.get("other_cores_busy") for r in rs]),
            "first": med([r.get("first_send_s") for r in rs]),
            "first_all": med([r.get("first_send_incl_namesrv_s") for r in rs]),
            "errors": sum((x.get("send_errors") or 0) for x in g),
            "missing": sum(max(0, (x.get("sent") or 0) - (x.get("consumed") or 0)) for x in g),
        }

    if groups:
        w("### Rust load generator (`ferromq bench`), medians per scenario")
        w("")
        w("| scenario | broker | runs | send TPS | p50 µs | p99 µs | p99.9 µs | e2e p50/p99 ms | "
          "peak RSS MiB | anon RSS MiB | CPU s / 1M msgs | start → 1st send s | errors / missing | others' load |")
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        ratios = []
        ceilings = []
        for key in sorted(groups):
            size, prod = key
            a = {k: agg(v) for k, v in groups[key].items()}
            for kind, label in (("java", "RocketMQ 4.9.7"), ("ferro", "ferromq"),
                                ("nostore", "ceiling: no store"), ("append", "ceiling: append")):
                if kind not in a:
                    continue
                x = a[kind]
                rss = fmt(x["rss"])
                if kind == "java":
                    rss += f" ({fmt(x['rss_broker'])} + ns)"
                first = fmt(x["first"], 2)
                if kind == "java" and x["first_all"] is not None:
                    first += f" ({fmt(x['first_all'], 2)})"
                w(f"| {size_label(size)} × {prod} | {label} | {x['n']} | {fmt(x['tps'])} | {fmt(x['p50'])} | "
                  f"{fmt(x['p99'])} | {fmt(x['p999'])} | {fmt(x['e50'])} / {fmt(x['e99'])} | {rss} | "
                  f"{fmt(x['anon'])} | {fmt(x['cpu'], 1)} | {first} | {x['errors']} / {x['missing']} | "
                  f"{fmt(x['other'], 2)} |")
            if "java" in a and "ferro" in a:
                ratios.append((key, a["java"], a["ferro"]))
            if "ferro" in a and ("nostore" in a or "append" in a):
                ceilings.append((key, a["ferro"], a.get("nostore"), a.get("append")))
        w("")
        w("Scenario = body size × producer connections (1 send in flight each). Peak RSS = VmHWM "
          "(includes the mapped commit log pages the process touched); for RocketMQ broker JVM + name "
          "server JVM (broker alone in parentheses). Anon RSS = RssAnon at the end of the run (heap, "
          "not file pages), same processes. CPU = utime+stime "
          "of the broker process(es) over the measured run (send + pull of every message), per "
          "million messages. Start → 1st send: broker process spawn to first acknowledged send "
          "(RocketMQ: in parentheses from the name server's spawn, which has to be up first). "
          "Others' load: CPU cores kept busy by processes other than the broker and the generator "
          "(other sessions on this machine) during the measured run; 2 cores in total.")
        w("")
        if ratios:
            w("### ferromq / RocketMQ ratios (of the medians)")
            w("")
            w("| scenario | TPS | p99 latency | peak RSS | CPU per msg | start → 1st send (RocketMQ → ferromq) |")
            w("|---|--:|--:|--:|--:|--:|")
            for (size, prod), j, f in ratios:
                w(f"| {size_label(size)} × {prod} | {ratio(f['tps'], j['tps'])} | {ratio(f['p99'], j['p99'])} | "
                  f"{ratio(f['rss'], j['rss'])} | {ratio(f['cpu'], j['cpu'])} | "
                  f"{fmt(j['first'], 2)} s → {fmt(f['first'], 2)} s ({ratio(f['first'], j['first'], 3)}) |")
            w("")
            w("TPS > 1× means ferromq is faster; the other ratios < 1× mean ferromq uses less.")
            w("")
        if ceilings:
            w("### ferromq as a fraction of the box's ceiling (of the medians)")
            w("")
            w("| scenario | ceiling TPS (no store / append) | ferromq TPS | of no store | of append | "
              "p99 µs (no store / append / ferromq) | ferromq CPU / msg, × no store's |")
            w("|---|--:|--:|--:|--:|--:|--:|")

            def g(x, k, nd=0):
                return fmt(x[k], nd) if x else "–"

            for (size, prod), f, n, ap in ceilings:
                w(f"| {size_label(size)} × {prod} | {g(n, 'tps')} / {g(ap, 'tps')} | {fmt(f['tps'])} | "
                  f"{ratio(f['tps'], n['tps']) if n else '–'} | {ratio(f['tps'], ap['tps']) if ap else '–'} | "
                  f"{g(n, 'p99')} / {g(ap, 'p99')} / {fmt(f['p99'])} | "
                  f"{ratio(f['cpu'], n['cpu']) if n else '–'} |")
            w("")
            w("Ceiling = `ferromq ceiling`, the same generator against a server on ferromq's remoting "
              "layer (same frame decoding and writer) that stores nothing (no store) or only appends "
              "each body to a file with pwrite (append); pulls are answered with records encoded on "
              "the fly. What ferromq does above it is its broker and store. Same machine, same "
              "alternation, so the generator's own CPU is in every row.")
            w("")

    # ---- Java benchmark tool ------------------------------------------------------------
    tgroups = defaultdict(lambda: defaultdict(list))
    for r in tools:
        if r.get("error") or r.get("send_tps") is None:
            failed.append(r)
            continue
        tgroups[(r["size"], r["threads"], r.get("consumer", True))][r["broker"]].append(r)
    if tgroups:
        tool = tools[0].get("tool")
        w(f"### RocketMQ's Java benchmark Producer + Consumer ({tool}), medians")
        w("")
        w("| scenario | broker | runs | Send TPS | avg RT ms | max RT ms | consume TPS | avg store→consume ms | "
          "peak RSS MiB | broker CPU util | client CPU util | CPU s / 1M msgs (est.) | send failed | others' load |")
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for key in sorted(tgroups):
            size, threads, with_consumer = key
            shape = f"{size_label(size)} × {threads} threads" + ("" if with_consumer else ", Producer alone")
            res = {}
            for kind, label in (("java", "RocketMQ 4.9.7"), ("ferro", "ferromq"),
                                ("nostore", "ceiling (stores nothing)")):
                rs = tgroups[key].get(kind)
                if not rs:
                    continue
                x = {
                    "tps": med([r["send_tps"] for r in rs]),
                    "rt": med([r.get("avg_rt_ms") for r in rs]),
                    "max": max((r.get("max_rt_ms") or 0) for r in rs),
                    "ctps": med([r.get("consume_tps") for r in rs]),
                    "s2c": med([r.get("avg_s2c_ms") for r in rs]),
                    "rss": med([r.get("peak_rss_total_mib") for r in rs]),
                    "util": med([r.get("cpu_util") for r in rs]),
                    "cutil": med([r.get("client_cpu_util") for r in rs]),
                    "cpu": med([r.get("cpu_s_per_million_est") for r in rs]),
                    "failed": sum((r.get("send_failed") or 0) + (r.get("response_failed") or 0) for r in rs),
                    "samples": [s for r in rs for s in r.get("send_tps_samples", [])],
                    "other": med([r.get("other_cores_busy") for r in rs]),
                }
                res[kind] = x
                w(f"| {shape} | {label} | {len(rs)} | {fmt(x['tps'])} | "
                  f"{fmt(x['rt'], 3)} | {fmt(x['max'])} | {fmt(x['ctps'])} | {fmt(x['s2c'], 1)} | "
                  f"{fmt(x['rss'])} | {fmt(x['util'], 2)} | {fmt(x['cutil'], 2)} | {fmt(x['cpu'], 1)} | {x['failed']} | "
                  f"{fmt(x['other'], 2)} |")
            if "java" in res and "ferro" in res:
                j, f = res["java"], res["ferro"]
                w(f"| ferromq / RocketMQ | | | {ratio(f['tps'], j['tps'])} | {ratio(f['rt'], j['rt'])} | | "
                  f"{ratio(f['ctps'], j['ctps'])} | | {ratio(f['rss'], j['rss'])} | | | {ratio(f['cpu'], j['cpu'])} | | |")
            if "java" in res and "nostore" in res:
                # the most any broker could show with this client on this box
                w(f"| ceiling / RocketMQ | | | {ratio(res['nostore']['tps'], res['java']['tps'])} | | | | | | | | | | |")
            if "ferro" in res and "nostore" in res:
                w(f"| ferromq / ceiling | | | {ratio(res['ferro']['tps'], res['nostore']['tps'])} | | | | | | | | | | |")
        w("")
        w(f"One DefaultMQProducer, N sending threads (one connection, so up to N sends in flight), "
          f"one push consumer beside it unless \"Producer alone\" (as producer.sh runs), run for "
          f"{tools[0].get('window_s')} s; Send TPS is the median of the tool's 10-second lines after "
          f"the first. CPU per message is estimated from that TPS. Client CPU is both client JVMs'.")
        w("")

    # ---- every run ----------------------------------------------------------------------
    if gens or tools:
        w("<details><summary>Every run, in order</summary>")
        w("")
        w("| run | send TPS | p99 µs | peak RSS MiB | CPU s / 1M | start → 1st send s | load avg before → after | others' load |")
        w("|---|--:|--:|--:|--:|--:|---|--:|")
        for r in sorted(gens + tools, key=lambda r: r.get("ts", "")):
            g = r.get("gen") or {}
            tps = g.get("send_tps") if r["type"] == "gen" else r.get("send_tps")
            cpu = r.get("cpu_s_per_million") if r["type"] == "gen" else r.get("cpu_s_per_million_est")
            la0 = "/".join(f"{x:.2f}" for x in r.get("loadavg_before") or [])
            la1 = "/".join(f"{x:.2f}" for x in r.get("loadavg_after") or [])
            w(f"| `{r['run_id']}` | {fmt(tps)} | {fmt(g.get('send_p99_us'))} | {fmt(r.get('peak_rss_total_mib'))} | "
              f"{fmt(cpu, 1)} | {fmt(r.get('first_send_s'), 3)} | {la0} → {la1} | {fmt(r.get('other_cores_busy'), 2)} |")
        w("")
        w("</details>")
        w("")

    # ---- the families in bench/<name>.py ------------------------------------------------
    fams = (metas[0].get("config", {}).get("families") if metas else None) or []
    others = []
    for fam in fams:
        if fam in ("send", "javatool"):
            continue
        import importlib
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        mod = importlib.import_module(fam)
        frecs = [r for r in recs if r.get("family") == fam]
        if frecs:
            w(mod.report(frecs))
            w("")
        others += frecs

    # ---- problems -----------------------------------------------------------------------
    anomalous = [r for r in gens + tools + others if r.get("anomalies")]
    if anomalous:
        w("### Anomalies")
        w("")
        for r in anomalous:
            w(f"- `{r['run_id']}`: {'; '.join(r['anomalies'])}")
        w("")
    else:
        consumed = ", every message consumed" if gens or any(r.get("consumer", True) for r in tools) else ""
        w(f"No anomalies (every run: no send errors{consumed}, no process died; each family's own "
          f"checks are in its table).")
        w("")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(main(sys.argv[1:]))

#!/usr/bin/python3
"""Aggregates the JSON result lines of bench/run.sh into a table and a JSON file.

Each figure is the median of its repetitions, with min and max. End-to-end
ratios are computed per round (leadscore and its baselines run back to back on
the same broker and topic) and then their median is taken. Targets are those
of docs/PERFORMANCE.md. The summary names the broker the Kafka figures came
from (--broker, as bench/run.sh describes it) and the sizes that were run.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=here).stdout.strip()
        # figures of a tree with uncommitted changes to tracked files say so
        if rev and subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                  capture_output=True, text=True, cwd=here).stdout.strip():
            rev += "+uncommitted"
    except OSError:
        rev = ""
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "commit": rev,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def stats(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--broker", default="mock",
                    help="the broker of the Kafka benchmarks: mock or kafka, "
                    "then a description")
    ap.add_argument("--sizes", default="", help="the sizes that were run")
    ap.add_argument("--load-start", default="",
                    help="/proc/loadavg when the run started")
    ap.add_argument("--load-log", default="",
                    help="lines of 'load1 load5 load15 label', one per benchmark run")
    args = ap.parse_args()

    lines = [json.loads(l) for l in open(args.raw) if l.startswith("{")]
    groups, rounds = {}, {}
    for r in lines:
        tag = r.get("tag", "")
        if tag.startswith("warmup"):
            continue  # warm-up rounds (bench/run.sh) are not figures
        key = [r["bench"], r["metric"]]
        if r["bench"] in ("memory", "snapshot"):
            key.append("leads=%d" % r["leads"])
        if tag == "sweep":
            key.append("leads=%d" % r["leads"])
        if r["bench"] == "latency":
            key.append("load=%s" % r.get("load", "half"))
        key = "/".join(key)
        groups.setdefault(key, {"unit": r["unit"], "values": []})["values"].append(r["value"])
        if tag.startswith("r"):
            rounds.setdefault(tag, {})[r["bench"] + "/" + r["metric"]] = r["value"]
    results = {k: dict(stats(g["values"]), unit=g["unit"]) for k, g in groups.items()}

    def med(key):
        return results[key]["median"] if key in results else None

    ratios = {}
    per = {"e2e_over_raw_consume": [], "e2e_over_passthrough": []}
    for tag, rd in sorted(rounds.items()):
        ls = rd.get("e2e/leadscore_msgs_per_s")
        raw = max([x for x in (rd.get("consume/poll_msgs_per_s"),
                               rd.get("consume/batch_msgs_per_s")) if x] or [0])
        pt = rd.get("passthrough/msgs_per_s")
        if ls and raw:
            per["e2e_over_raw_consume"].append(ls / raw)
        if ls and pt:
            per["e2e_over_passthrough"].append(ls / pt)
    def per_round(num, den):
        """num / den of `run`'s rate and CPU figures, round by round, as
        per["NUM_over_DEN/metric"]."""
        for metric in ("leadscore_msgs_per_s", "leadscore_inputs_per_cpu_s"):
            per["%s_over_%s/%s" % (num, den, metric)] = [
                rd[num + "/" + metric] / rd[den + "/" + metric]
                for rd in rounds.values()
                if rd.get(num + "/" + metric) and rd.get(den + "/" + metric)]

    benches = {b.split("/")[0] for rd in rounds.values() for b in rd}
    # workers (BENCH_WORKERS): each count against the first
    wnames = sorted((b for b in benches if b.startswith("e2e_w")),
                    key=lambda b: int(b[5:]))
    for b in wnames[1:]:
        per_round(b, wnames[0])
    # other binaries (BENCH_LS_ALT): this build against each
    for b in sorted(b for b in benches if b.startswith("e2e_alt_")):
        per_round("e2e", b)
    for k, v in per.items():
        if v:
            ratios[k] = stats(v)
    if med("e2e/leadscore_msgs_per_s") and med("python_peer/msgs_per_s"):
        ratios["e2e_over_python_peer"] = {
            "median": med("e2e/leadscore_msgs_per_s") / med("python_peer/msgs_per_s")}

    def target(name, value, op, goal):
        ok = None if value is None else (value >= goal if op == ">=" else value <= goal)
        return {"target": name, "value": value, "goal": "%s %g" % (op, goal), "met": ok}

    mem_keys = sorted(k for k in results if k.startswith("memory/stats_lead_model_bytes"))
    load_keys = sorted(k for k in results if k.startswith("snapshot/load_mem_leads_per_s"))
    targets = [
        target("engine only (decode+apply+encode), events/s per CPU second",
               med("engine/full_events_per_cpu_s"), ">=", 2e6),
        target("end to end / best raw consume", ratios.get("e2e_over_raw_consume", {}).get("median"),
               ">=", 0.8),
        target("end to end / C pass-through", ratios.get("e2e_over_passthrough", {}).get("median"),
               ">=", 0.95),
        target("end to end / Python peer", ratios.get("e2e_over_python_peer", {}).get("median"),
               ">=", 5),
        target("state bytes per lead per model (ls_shard_stats)",
               max((med(k) for k in mem_keys), default=None), "<=", 64),
        target("restore (ls_shard_load) leads/s, smallest over sizes",
               min((med(k) for k in load_keys), default=None), ">=", 5e6),
        target("p99 event-to-score ms at half load", med("latency/score_p99_ms/load=half"), "<=", 50),
    ]
    broker = args.broker.split(":", 1)[0].strip()
    doc = {"machine": machine(), "quick": bool(args.quick), "results": results,
           "ratios": ratios, "targets": targets, "broker": broker,
           "broker_desc": args.broker, "sizes": args.sizes}
    with open("/proc/loadavg") as f:
        doc["machine"]["loadavg_end"] = " ".join(f.read().split()[:3])
    if args.load_start:
        doc["machine"]["loadavg_start"] = " ".join(args.load_start.split()[:3])
    if args.load_log and os.path.exists(args.load_log):
        # the 1-minute load average as each benchmark started: the other
        # work on a shared machine, plus the tail of the previous benchmark
        seen = [l.split(None, 3) for l in open(args.load_log) if l.strip()]
        if seen:
            top = max(seen, key=lambda x: float(x[0]))
            doc["machine"]["loadavg1_max"] = {"value": float(top[0]),
                                              "before": top[3].strip()}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)

    print("\nbroker of the Kafka benchmarks (e2e, consume, passthrough, python_peer, "
          "latency): %s" % args.broker)
    if args.sizes:
        print("sizes: %s" % args.sizes)
    print("load average (1, 5, 15 min): %s at the start, %s at the end"
          % (doc["machine"].get("loadavg_start", "?"), doc["machine"]["loadavg_end"]))
    if "loadavg1_max" in doc["machine"]:
        print("highest 1-minute load average before a benchmark: %(value)g (before %(before)s)"
              % doc["machine"]["loadavg1_max"])
    print("\n%-58s %14s %14s %14s %3s" % ("benchmark", "median", "min", "max", "n"))
    for k in sorted(results):
        r = results[k]
        print("%-58s %14.6g %14.6g %14.6g %3d  %s" % (k, r["median"], r["min"], r["max"],
                                                        r["n"], r["unit"]))
    print("\n%-58s %14s %14s %14s" % ("ratio", "median", "min", "max"))
    for k, r in sorted(ratios.items()):
        print("%-58s %14.4g %14s %14s" % (k, r["median"], "%.4g" % r["min"] if "min" in r else "",
                                          "%.4g" % r["max"] if "max" in r else ""))
    print("\n%-58s %14s %12s %s" % ("target", "value", "goal", "met"))
    for t in targets:
        v = "n/a" if t["value"] is None else "%.4g" % t["value"]
        print("%-58s %14s %12s %s" % (t["target"], v, t["goal"],
                                      {True: "yes", False: "NO", None: "?"}[t["met"]]))
    m = doc["machine"]
    print("\nmachine: %d cores, %s, %.1f GiB; broker: %s; results in %s"
          % (m["nproc"], m["cpu"], m["mem_gib"], broker, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

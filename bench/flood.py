#!/usr/bin/env python3
"""Floods `leadscore run` with distinct leads under a lead cap (max_leads,
docs/CONFIG.md) on real Kafka, and reports what the cap guarantees: the
process's memory stops growing at the cap, every input past it is
dead-lettered as `capacity`, nothing else is lost, and the run neither
crashes nor stalls.

    /usr/bin/python3 bench/flood.py --leads 10000000 --cap 1000000 \\
        --leadscore build-rel/leadscore

Needs Java and the Kafka that scripts/kafka_cluster.py fetches. Prints one
JSON line: inputs, seconds, consumed, applied, dead letters by reason,
leads held, peak RSS at the cap and at the end."""
import argparse
import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import kafka_cluster  # noqa: E402
from lsbench import metrics, start_run, total  # noqa: E402

from confluent_kafka import Producer  # noqa: E402

T0 = 1_700_000_000_000
EVENT = ('{"kind":"event","lead_id":"F%d","event_id":"f%d",'
         '"event_type":"page_view","occurred_at":%d,'
         '"properties":{"url":"https://x.test/pricing"}}')


def produce(bootstrap, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                  "batch.num.messages": 10000, "compression.type": "lz4",
                  "queue.buffering.max.messages": 1000000,
                  "partitioner": "murmur2_random",
                  "enable.idempotence": True})
    for i in range(n):
        while True:
            try:
                # one millisecond apart: never late, never in the future
                p.produce("lead-events", key=b"F%d" % i,
                          value=EVENT % (i, i, T0 + i))
                break
            except BufferError:
                p.poll(0.05)
        if i % 100000 == 0:
            p.poll(0)
    assert p.flush(300) == 0


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=10_000_000)
    ap.add_argument("--cap", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--leadscore", default=os.path.join(
        HERE, "..", "build-rel", "leadscore"))
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="lsflood-")
    cluster = kafka_cluster.Cluster(
        os.path.join(d, "kafka"), 1, a.partitions,
        ["lead-events", "lead-profiles", "lead-scores", "lead-alerts",
         "lead-dead-letters"], die_with_parent=True)
    bootstrap = cluster.start()
    run = None
    try:
        t = time.monotonic()
        produce(bootstrap, a.leads)
        produced_s = time.monotonic() - t
        model = os.path.join(HERE, "..", "examples", "model.yaml")
        cfg = os.path.join(d, "config.yaml")
        with open(cfg, "w") as f:
            f.write("model: %s\ngroup: flood\nformat: {input: json, output: "
                    "json}\nsnapshot: off\nmax_leads: %d\nmetrics: {listen: "
                    "\"127.0.0.1:0\"}\nkafka:\n  bootstrap.servers: \"%s\"\n"
                    % (os.path.abspath(model), a.cap, bootstrap))
        run, _lines, port = start_run([a.leadscore, "run", "--config", cfg],
                                      d)
        start = time.monotonic()
        peak = peak_at_cap = 0
        ms = {}
        while run.poll() is None:
            ms = metrics(port)
            r = rss(run.pid)
            peak = max(peak, r)
            if total(ms, "leadscore_leads") >= a.cap and peak_at_cap == 0:
                peak_at_cap = r
            if total(ms, "leadscore_consumed_total") >= a.leads:
                break
            time.sleep(1)
        seconds = time.monotonic() - start
        ms = metrics(port)
        run.terminate()
        rc = run.wait(120)
        dead = {re.search(r'reason="([a-z]+)"', k).group(1): int(v)
                for k, v in ms.items()
                if k.startswith("leadscore_dead_letters_total{") and v}
        print(json.dumps({
            "inputs": a.leads, "cap": a.cap, "produce_s": round(produced_s, 1),
            "run_s": round(seconds, 1), "exit": rc,
            "consumed": int(total(ms, "leadscore_consumed_total")),
            "applied": int(total(ms, "leadscore_applied_total")),
            "dead_letters": dead,
            "leads_held": int(total(ms, "leadscore_leads")),
            "rss_at_cap_mb": round(peak_at_cap / 2**20),
            "rss_peak_mb": round(peak / 2**20),
        }))
    finally:
        if run and run.poll() is None:
            run.kill()
        cluster.stop()


if __name__ == "__main__":
    main()

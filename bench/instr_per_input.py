#!/usr/bin/env python3
"""Instructions per input of `leadscore run`'s main thread (callgrind), on
a pre-produced backlog of both input topics on the test broker: the
figure that counts the work done per record from its bytes to its
outputs (decode, merge, apply, encode, produce), independent of the
machine's speed and load.

    /usr/bin/python3 bench/instr_per_input.py --leadscore build-rel/leadscore \\
        --events 20000

Prints one JSON line: inputs, instructions of the main thread, per input,
and of all threads."""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from lsbench import metrics, start_run, total

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leadscore", default=os.path.join(
        HERE, "..", "build-rel", "leadscore"))
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--leads", type=int, default=5000)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="lsinstr-")
    broker = subprocess.Popen([a.leadscore, "broker", "--partitions", "1"],
                              stdout=subprocess.PIPE, text=True)
    run = None
    try:
        address = broker.stdout.readline().strip()
        gen = subprocess.run([sys.executable, os.path.join(HERE,
                                                           "gen_events.py"),
                              "--events", str(a.events), "--leads",
                              str(a.leads), "--seed", "7"],
                             capture_output=True, text=True, check=True)
        prod = Producer({"bootstrap.servers": address, "linger.ms": 20,
                         "enable.idempotence": True})
        n = 0
        for line in gen.stdout.splitlines():
            r = json.loads(line)
            topic = ("lead-profiles" if r.get("kind") == "profile"
                     else "lead-events")
            prod.produce(topic, key=r["lead_id"].encode(), value=line,
                         partition=0)
            n += 1
            if n % 10000 == 0:
                prod.poll(0)
        assert prod.flush(60) == 0
        # the test broker keeps about 5 MiB per partition: count what it
        # holds
        c = Consumer({"bootstrap.servers": address, "group.id": "count"})
        n = 0
        for topic in ("lead-events", "lead-profiles"):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0),
                                             timeout=10)
            n += hi - lo
        c.close()
        model = os.path.abspath(os.path.join(HERE, "..", "examples",
                                             "model.yaml"))
        cfg = os.path.join(d, "config.yaml")
        with open(cfg, "w") as f:
            f.write("model: %s\ngroup: instr\nformat: {input: json, output: "
                    "json}\nsnapshot: off\nmetrics: {listen: \"127.0.0.1:0\"}"
                    "\nkafka:\n  bootstrap.servers: \"%s\"\n"
                    % (model, address))
        out = os.path.join(d, "cg.out")
        run, lines, port = start_run(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes",
             "--callgrind-out-file=" + out, a.leadscore, "run", "--config",
             cfg], d)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline and run.poll() is None and \
                total(metrics(port), "leadscore_consumed_total") < n:
            time.sleep(2)
        run.terminate()
        run.wait(600)
        time.sleep(1)
        err = "".join(lines)
        stopped = re.search(r"stopped: consumed (\d+)", err)
        assert stopped and int(stopped.group(1)) == n, (n, err[-3000:])
        per_thread = {}
        for path in glob.glob(out + "*"):
            with open(path) as f:
                for line in f:
                    if line.startswith("totals:") or \
                            line.startswith("summary:"):
                        per_thread[path] = int(line.split()[1])
                        break
        main_thread = [v for k, v in per_thread.items()
                       if k.endswith("-01")]
        print(json.dumps({
            "inputs": n,
            "main_thread_instructions": main_thread[0],
            "per_input": round(main_thread[0] / n),
            "all_threads_instructions": sum(per_thread.values()),
        }))
    finally:
        if run and run.poll() is None:
            run.kill()
        broker.kill()


if __name__ == "__main__":
    main()

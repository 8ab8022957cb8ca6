#!/usr/bin/python3
"""leadscore against the Kafka Streams peer, on Apache Kafka.

    bench/peers/streams_bench.py [--events N] [--rounds R] [--no-build] ...

Builds leadscore and bench_kafka (Release, build-bench/, as bench/run.sh
does) and the Kafka Streams peer (bench/peers/streams, Maven, into
build-bench/streams-peer/), starts one Apache Kafka 4.4.0 node with
scripts/kafka_cluster.py (64 partitions per topic, as bench/run.sh
--broker kafka), pre-produces N generated Avro inputs with `bench_kafka
produce`, and then:

1. Correctness: on a small separate input (--check-events, prefix chk.)
   the peer runs once per processing guarantee, and the final score of
   every lead under every model in its output (seq, total, fit,
   engagement, grade, band, cell of each lead's last ScoreUpdate, and the
   number of outputs) must equal what bench/peers/python_scorer.py's
   Scorer gives for the same inputs. The run stops if they differ.
2. Rounds: in each round and for each guarantee (at_least_once,
   exactly_once_v2), back to back on the same topics, each with a fresh
   consumer group (and so fresh state): the peer in a fresh JVM ("cold":
   JVM start, JIT compilation and the group join included), the peer after
   a warm-up round over the same inputs in the same JVM ("warm"),
   `leadscore run` as bench/run.sh configures it (snapshot: off; its
   transactional mode for exactly_once_v2), and `leadscore run` with
   durable state like the peer's changelog: snapshots to a compacted topic
   every --snapshot-interval (then committed offsets, and so "done", wait
   for a snapshot that covers the inputs; --no-durable leaves it out).

Every run is timed by `bench_kafka e2e`, the measurement of bench/run.sh:
done when the group's committed offsets cover every input, and inputs/s
from the first commit to that moment. CPU time is the process's own
(bench/peers/cpu_wrap.py: /proc/PID/stat utime + stime when bench_kafka
stops it); inputs per CPU-second = N / that (for a warm run: only the CPU
used since the measured instance started). Ratios leadscore / peer are
taken within a round. Prints a table and writes
bench/results/latest-streams.json; raw lines, configs and logs stay in
build-bench/streams-run/.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "scripts"))
sys.path.insert(0, HERE)
import kafka_cluster  # noqa: E402

PARTS = 64
TOPICS = ["lead-events", "lead-profiles", "lead-scores", "lead-alerts",
          "lead-dead-letters", "bench-streams-scores", "bench-streams-alerts"]
# leadscore's durable state in the variant that keeps it: GROUP + this, a
# compacted topic of its own for each run (as the peer's changelog is),
# created before the run and deleted after it. (One topic shared by the
# runs made each restore read every earlier run's snapshots: ~30 s after
# four runs of 1M inputs.)
SNAPSHOT_SUFFIX = "-snapshots"
# The consumer settings of every benchmark of bench/run.sh; the Java
# consumer has no queued.min.messages (a librdkafka setting)
CONSUMER_PROPS = {"queued.min.messages": "10000000", "session.timeout.ms": "6000"}
GUARANTEES = ("at_least_once", "exactly_once_v2")
HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("== " + msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build(build_dir, peer_dir):
    log("building leadscore and bench_kafka (Release) in %s" % build_dir)
    sh(["cmake", "-S", SRC, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
        "-DLEADSCORE_SANITIZE=", "-DLEADSCORE_WERROR=OFF"], stdout=subprocess.DEVNULL)
    sh(["cmake", "--build", build_dir, "--target", "bench_kafka", "leadscore", "-j2"],
       stdout=subprocess.DEVNULL)
    log("building the Kafka Streams peer with Maven in %s" % peer_dir)
    sh(["mvn", "-B", "-q", "-Dstyle.color=never", "-f", os.path.join(HERE, "streams", "pom.xml"),
        "-Dpeer.build=" + peer_dir, "package"], stdout=sys.stderr)


def ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.join(SRC, "build-bench")
        self.work = os.path.join(self.build, "streams-run")
        self.peer_dir = os.path.join(self.build, "streams-peer")
        self.bk = os.path.join(self.build, "bench", "bench_kafka")
        self.ls = os.path.join(self.build, "leadscore")
        self.raw = os.path.join(self.work, "raw.jsonl")
        self.cluster = None
        self.brokers = None
        self.java = ("java %s -jar %s" % (a.jvm_opts, os.path.join(self.peer_dir, "streams-peer.jar")))
        self.loads = []

    # ------------------------------------------------------------ setup
    def setup(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        # as bench/run.sh: a lateness that covers the generated period,
        # list paths made absolute
        with open(os.path.join(SRC, "examples", "model.yaml")) as f:
            text = f.read()
        lines = []
        for line in text.splitlines():
            if line.startswith("lateness: "):
                line = "lateness: 400d"
            lines.append(line.replace(": lists/", ": %s/examples/lists/" % SRC))
        self.model = os.path.join(self.work, "model.yaml")
        with open(self.model, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start_kafka(self):
        t0 = time.monotonic()
        self.cluster = kafka_cluster.Cluster(os.path.join(self.work, "kafka"), nodes=1,
                                             partitions=PARTS, topics=TOPICS, heap="1g")
        self.brokers = self.cluster.start()
        with open(os.path.join(self.cluster.node_dir(0), "pid")) as f:
            self.broker_pid = int(f.read().strip())
        log("Apache Kafka at %s, started in %.0f s" % (self.brokers, time.monotonic() - t0))

    def stop_kafka(self):
        if self.cluster:
            self.cluster.stop()
            shutil.rmtree(os.path.join(self.cluster.node_dir(0), "data"), ignore_errors=True)
            self.cluster = None

    def loadavg(self, what):
        with open("/proc/loadavg") as f:
            la = f.read().split()[:3]
        self.loads.append((what, [float(x) for x in la]))
        return la

    def result(self, rec):
        with open(self.raw, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def produce(self, n, leads, prefix=""):
        log("produce %d inputs (%d leads)%s" % (n, leads, " to " + prefix + "*" if prefix else ""))
        out = subprocess.run([self.bk, "produce", "--brokers", self.brokers, "--events", str(n),
                              "--leads", str(leads), "--partitions", str(PARTS),
                              "--topic-prefix", prefix],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                rec["prefix"] = prefix
                self.result(rec)

    def delete_topics(self, pred):
        admin = self.cluster.admin()
        names = [t for t in admin.list_topics(timeout=30).topics if pred(t)]
        if names:
            for t, f in admin.delete_topics(names, operation_timeout=60).items():
                try:
                    f.result()
                except Exception as e:  # left on the node; only space
                    log("could not delete %s: %s" % (t, e))

    # ------------------------------------------------------------- runs
    def peer_config(self, app, guarantee, prefix="", out_prefix="", warmup=0, mark=None):
        path = os.path.join(self.work, app + ".properties")
        props = {
            "application.id": app,
            # short thread names, so that /proc tells the threads apart
            "client.id": "p",
            "bootstrap.servers": self.brokers,
            "processing.guarantee": guarantee,
            # leadscore run's commit_interval in bench/run.sh
            "commit.interval.ms": "100",
            "num.stream.threads": str(self.a.threads),
            "state.dir": os.path.join(self.work, "state"),
            "consumer.session.timeout.ms": CONSUMER_PROPS["session.timeout.ms"],
            # leadscore run's producer settings (idempotence is the Java default)
            "producer.linger.ms": "5",
            "peer.model": self.model,
            "peer.schemas": os.path.join(SRC, "schemas"),
            "peer.topic.events": prefix + "lead-events",
            "peer.topic.profiles": prefix + "lead-profiles",
            "peer.topic.scores": out_prefix + "bench-streams-scores",
            "peer.topic.alerts": out_prefix + "bench-streams-alerts",
            "peer.warmup": str(warmup),
        }
        if mark:
            props["peer.cpu.mark"] = mark
        with open(path, "w") as f:
            for k, v in props.items():
                f.write("%s=%s\n" % (k, v))
        return path

    def ls_config(self, group, transactional, durable=False):
        path = os.path.join(self.work, group + ".yaml")
        with open(path, "w") as f:
            f.write("model: %s\ngroup: %s\nformat: {input: avro, output: avro}\n"
                    "schemas: %s/schemas\ncommit_interval: 100ms\n"
                    % (self.model, group, SRC))
            if durable:
                f.write("snapshot: {topic: %s, interval: %s}\n" % (group + SNAPSHOT_SUFFIX,
                                                                 self.a.snapshot_interval))
            else:
                f.write("snapshot: off\n")
            if transactional:
                f.write("transactional: true\n")
            f.write("kafka:\n  bootstrap.servers: \"%s\"\nconsumer:\n" % self.brokers)
            for k, v in CONSUMER_PROPS.items():
                f.write("  %s: %s\n" % (k, v))
            if transactional:
                f.write("producer:\n  transactional.id: %s\n" % group)
        return path

    def e2e(self, what, group, cmd, config, expect, prefix="", extra=None, mark=None):
        """One `bench_kafka e2e` run of cmd (through cpu_wrap.py); returns
        its result with cpu_s, inputs per CPU-second and the broker's CPU."""
        cpu = os.path.join(self.work, group + ".cpu.json")
        env = dict(os.environ, CPUWRAP_CMD=cmd, CPUWRAP_OUT=cpu)
        la = self.loadavg(group)
        log("%s (load %s)" % (what, " ".join(la)))
        b0, t0 = ticks(self.broker_pid), time.monotonic()
        x = []
        for k, v in CONSUMER_PROPS.items():
            x += ["-X", "%s=%s" % (k, v)]
        p = subprocess.run([self.bk, "e2e", "--brokers", self.brokers, "--group", group,
                            "--expect", str(expect), "--leadscore", os.path.join(HERE, "cpu_wrap.py"),
                            "--config", config, "--log", os.path.join(self.work, group + ".log"),
                            "--partitions", str(PARTS), "--timeout", str(self.a.timeout),
                            "--topic-prefix", prefix, "--tag", group] + x,
                           env=env, stdout=subprocess.PIPE, text=True)
        broker_cores = (ticks(self.broker_pid) - b0) / HZ / (time.monotonic() - t0)
        if p.returncode != 0:
            raise RuntimeError("%s failed (exit %d), see %s.log" % (what, p.returncode,
                                                                   os.path.join(self.work, group)))
        rec = dict(extra or {}, group=group, load1=float(la[0]), broker_cores=broker_cores)
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                rec[r["metric"].replace("leadscore_", "")] = r["value"]
        with open(os.path.join(self.work, group + ".log")) as f:
            text = f.read()
        m = (re.search(r"stopped after \d+ records, (\d+) outputs", text)
             or re.search(r"stopped: consumed \d+, .*?outputs (\d+)", text))
        if m:
            rec["outputs_per_input"] = int(m.group(1)) / expect
        with open(cpu) as f:
            c = json.load(f)
        cpu_s = c["cpu_s_at_stop"]
        if mark:
            with open(mark) as f:
                cpu_s -= int(f.read().strip()) / HZ
        rec.update(cpu_s=cpu_s, cpu_s_at_exit=c["cpu_s_at_exit"], wall_s_at_stop=c["wall_s_at_stop"],
                   threads=c.get("threads"),
                   per_cpu_s=expect / cpu_s, inputs=expect)
        self.result(rec)
        log("   %.0f inputs/s, %.2f CPU-s, %.0f inputs per CPU-second, broker %.2f cores"
            % (rec["msgs_per_s"], cpu_s, rec["per_cpu_s"], broker_cores))
        return rec

    def streams(self, guarantee, group, expect, warm, prefix="", out_prefix=""):
        mark = os.path.join(self.work, group + ".mark") if warm else None
        cfg = self.peer_config(group, guarantee, prefix, out_prefix, warmup=expect if warm else 0,
                               mark=mark)
        try:
            variant = "warm" if warm else "cold"
            return self.e2e("Kafka Streams peer, %s, %s: %d inputs" % (guarantee, variant, expect),
                            group, self.java, cfg, expect, prefix,
                            {"peer": "streams", "guarantee": guarantee, "variant": variant}, mark)
        finally:
            # the internal topics (changelog) of the run and its warm-up
            self.delete_topics(lambda t: t.startswith(group + "-"))
            shutil.rmtree(os.path.join(self.work, "state"), ignore_errors=True)

    def leadscore(self, guarantee, group, expect, durable=False):
        cfg = self.ls_config(group, guarantee != "at_least_once", durable)
        variant = "snapshots" if durable else "off"
        if not durable:
            return self.e2e("leadscore run, %s, snapshot: off: %d inputs" % (guarantee, expect), group,
                            self.ls, cfg, expect, extra={"peer": "leadscore", "guarantee": guarantee,
                                                         "variant": variant})
        # as docs/DURABILITY.md advises for a snapshot topic
        self.cluster.create_topics([group + SNAPSHOT_SUFFIX], PARTS, config={
            "cleanup.policy": "compact", "segment.ms": "3600000", "min.cleanable.dirty.ratio": "0.1"})
        self.wait_offsets(group + SNAPSHOT_SUFFIX)
        try:
            return self.e2e("leadscore run, %s, snapshots every %s: %d inputs"
                            % (guarantee, self.a.snapshot_interval, expect), group, self.ls, cfg, expect,
                            extra={"peer": "leadscore", "guarantee": guarantee, "variant": variant})
        finally:
            self.delete_topics(lambda t: t == group + SNAPSHOT_SUFFIX)

    def wait_offsets(self, topic, timeout=60):
        """Until every partition of a new topic answers an offsets request:
        `leadscore run` stops at once (a fatal error) when its snapshot
        topic answers "not leader for partition" as it restores, which a
        topic created a moment before did in a trial."""
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.brokers, "group.id": "streams-bench-offsets"})
        left, deadline = set(range(PARTS)), time.monotonic() + timeout
        try:
            while left and time.monotonic() < deadline:
                for p in sorted(left):
                    try:
                        c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
                        left.discard(p)
                    except Exception:
                        time.sleep(0.2)
        finally:
            c.close()
        if left:
            raise RuntimeError("%s: %d partitions without offsets" % (topic, len(left)))

    # ------------------------------------------------------ correctness
    def read_all(self, topics):
        """Every record of topics (all partitions, from the start, committed
        ones only), as (topic, value)."""
        from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
        c = Consumer({"bootstrap.servers": self.brokers, "group.id": "streams-bench-reader",
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "isolation.level": "read_committed"})
        parts = [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(PARTS)]
        c.assign(parts)
        left, out = {(tp.topic, tp.partition) for tp in parts}, []
        deadline = time.monotonic() + 120
        while left and time.monotonic() < deadline:
            for m in c.consume(1000, 0.5):
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        left.discard((m.topic(), m.partition()))
                    continue
                out.append((m.topic(), m.value()))
        c.close()
        if left:
            raise RuntimeError("could not read %d partitions to their end" % len(left))
        return out

    def check(self):
        import avro.io
        import io as bio
        import python_scorer as ps
        n, leads = self.a.check_events, max(1, self.a.check_events // 10)
        prefix = "chk."
        self.cluster.create_topics([prefix + "lead-events", prefix + "lead-profiles"], PARTS)
        outs = {}
        for g in self.a.guarantees:
            self.cluster.create_topics(["chk-%s.%s" % (g, t) for t in
                                        ("bench-streams-scores", "bench-streams-alerts")], PARTS)
        self.produce(n, leads, prefix)
        for g in self.a.guarantees:
            self.streams(g, "chk-%s" % g, n, False, prefix, "chk-%s." % g)
        # the Python peer's scoring of the same inputs, in the order read
        scorer = ps.Scorer(self.model)
        r_event = avro.io.DatumReader(ps.load_schema("lead_event.avsc"))
        r_profile = avro.io.DatumReader(ps.load_schema("lead_profile.avsc"))
        r_score = avro.io.DatumReader(ps.load_schema("score_update.avsc"))
        py_final, py_count = {}, 0
        for topic, value in self.read_all([prefix + "lead-events", prefix + "lead-profiles"]):
            dec = avro.io.BinaryDecoder(bio.BytesIO(value))
            if topic.endswith("lead-events"):
                rec = r_event.read(dec)
                rec["occurred_at"] = ps.to_ms(rec["occurred_at"])
                results = scorer.event(rec)
            else:
                rec = r_profile.read(dec)
                rec["updated_at"] = ps.to_ms(rec["updated_at"])
                results = scorer.profile(rec)
            for o in results:
                py_count += 1
                py_final[(o["lead_id"], o["model"])] = o
        fields = ("seq", "total", "fit", "engagement", "grade", "band", "cell")
        summary = {"check_inputs": n, "check_leads": leads, "python_outputs": py_count,
                   "python_leads_models": len(py_final)}
        for g in self.a.guarantees:
            final, count = {}, 0
            for _, value in self.read_all(["chk-%s.bench-streams-scores" % g]):
                o = r_score.read(avro.io.BinaryDecoder(bio.BytesIO(value)))
                count += 1
                k = (o["lead_id"], o["model"])
                if k not in final or final[k]["seq"] < o["seq"]:
                    final[k] = o
            bad = [k for k in set(final) | set(py_final)
                   if k not in final or k not in py_final
                   or any(final[k][f] != py_final[k][f] for f in fields)]
            log("check, %s: %d outputs (Python peer %d), final scores of %d lead/model pairs, "
                "%d differ" % (g, count, py_count, len(final), len(bad)))
            for k in sorted(bad)[:5]:
                log("   %s: streams %s, python %s" % (
                    k, {f: final.get(k, {}).get(f) for f in fields},
                    {f: py_final.get(k, {}).get(f) for f in fields}))
            summary[g] = {"outputs": count, "leads_models": len(final), "differ": len(bad)}
            if bad or count != py_count:
                raise RuntimeError("the Kafka Streams peer and the Python peer disagree (%s)" % g)
        self.result(dict(summary, bench="check"))
        self.delete_topics(lambda t: t.startswith("chk"))
        return summary

    # ------------------------------------------------------------ rounds
    def rounds(self):
        n = self.a.events
        runs = []
        for r in range(1, self.a.rounds + 1):
            for g in self.a.guarantees:
                tag = "%s-r%d" % ("alos" if g == "at_least_once" else "eos", r)
                recs = [self.streams(g, "streams-cold-" + tag, n, False),
                        self.streams(g, "streams-warm-" + tag, n, True),
                        self.leadscore(g, "leadscore-" + tag, n)]
                if self.a.durable:
                    recs.append(self.leadscore(g, "leadscore-snap-" + tag, n, True))
                for rec in recs:
                    rec["round"] = r
                    runs.append(rec)
        return runs


def med(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def fmt(x, ratio=False):
    if ratio:
        return "%.1fx" % x
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e3:
        return "%.1fk" % (x / 1e3)
    return "%.0f" % x


def cell(s, ratio=False):
    return "%s (%s - %s)" % (fmt(s["median"], ratio), fmt(s["min"], ratio), fmt(s["max"], ratio))


LABELS = {("streams", "cold"): "Kafka Streams peer, fresh JVM",
          ("streams", "warm"): "Kafka Streams peer, after a warm-up round",
          ("leadscore", "off"): "`leadscore run` (snapshot: off, as bench/run.sh)",
          ("leadscore", "snapshots"): "`leadscore run` (snapshots to a compacted topic)"}


def summarise(runs, guarantees):
    rows, ratios, out = [], [], {}
    for g in guarantees:
        rs = [x for x in runs if x["guarantee"] == g]
        by = {}
        for x in rs:
            by.setdefault((x["peer"], x["variant"]), {})[x["round"]] = x
        o = {}
        for key, xs in by.items():
            xs = list(xs.values())
            name = "%s_%s" % key
            o[name] = {k: med([x[k] for x in xs if k in x]) for k in
                       ("msgs_per_s", "per_cpu_s", "cpu_s", "broker_cores", "outputs_per_input", "join_s")
                       if any(k in x for x in xs)}
            rows.append("| %s | %s | %s | %s | %.2f | %.2f |" % (
                g, LABELS[key] + (" (transactional)" if key[0] == "leadscore" and g != "at_least_once" else ""),
                cell(o[name]["msgs_per_s"]), cell(o[name]["per_cpu_s"]),
                o[name].get("outputs_per_input", {"median": float("nan")})["median"],
                o[name]["broker_cores"]["median"]))
        for peer in (("streams", "cold"), ("streams", "warm")):
            if peer not in by:
                continue
            line = "| %s | %s |" % (g, LABELS[peer])
            for ls in (("leadscore", "off"), ("leadscore", "snapshots")):
                if ls not in by:
                    continue
                rounds = [r for r in by[peer] if r in by[ls]]
                q = {"inputs_per_s": med([by[ls][r]["msgs_per_s"] / by[peer][r]["msgs_per_s"] for r in rounds]),
                     "per_cpu_s": med([by[ls][r]["per_cpu_s"] / by[peer][r]["per_cpu_s"] for r in rounds])}
                o["ratio_%s_%s_over_%s_%s" % (ls + peer)] = q
                line += " %s | %s |" % (cell(q["inputs_per_s"], True), cell(q["per_cpu_s"], True))
            ratios.append(line)
        out[g] = o
    t1 = ["| guarantee | | inputs/s | inputs per CPU-second | outputs per input | broker cores |",
          "|---|---|---|---|---|---|"] + rows
    cols = [ls for ls in (("leadscore", "off"), ("leadscore", "snapshots"))
            if any(x["peer"] == ls[0] and x["variant"] == ls[1] for x in runs)]
    t2 = ["| guarantee | peer |" + "".join(" leadscore (%s) / peer, inputs/s | ... per CPU-second |"
                                           % ("snapshot: off" if v == "off" else "snapshots") for _, v in cols),
          "|---|---|" + "---|---|" * len(cols)] + ratios
    return out, "\n".join(t1) + "\n\n" + "\n".join(t2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000000,
                    help="inputs per run (1000000; with fewer than ~200000 `leadscore run`'s first commit can "
                    "cover them all, and its inputs/s, counted from the first commit, means nothing)")
    ap.add_argument("--leads", type=int, default=100000, help="leads of the generated inputs (100000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    ap.add_argument("--check-events", type=int, default=20000,
                    help="inputs of the correctness check (20000; 0 = no check)")
    ap.add_argument("--guarantees", default=",".join(GUARANTEES),
                    help="processing guarantees, comma-separated (both)")
    ap.add_argument("--threads", type=int, default=1, help="the peer's num.stream.threads (1)")
    ap.add_argument("--jvm-opts", default="-Xms256m -Xmx1g -XX:+UseSerialGC",
                    help="the peer's JVM options (those of the Kafka node)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run (900)")
    ap.add_argument("--no-durable", dest="durable", action="store_false",
                    help="leave out the leadscore runs with durable state (snapshots to a compacted topic)")
    ap.add_argument("--snapshot-interval", default="1s",
                    help="snapshot.interval of those runs (1s: several snapshots within a run)")
    ap.add_argument("--no-build", action="store_true", help="use the builds in build-bench/ as they are")
    ap.add_argument("--out", default=os.path.join(SRC, "bench", "results", "latest-streams.json"))
    a = ap.parse_args()
    a.guarantees = [g for g in a.guarantees.split(",") if g]
    for g in a.guarantees:
        if g not in GUARANTEES:
            ap.error("unknown guarantee %s" % g)

    b = Bench(a)
    if not a.no_build:
        build(b.build, b.peer_dir)
    b.setup()
    la_start = b.loadavg("start")
    log("load average at the start: %s" % " ".join(la_start))
    try:
        b.start_kafka()
        b.produce(a.events, a.leads)
        check = b.check() if a.check_events > 0 else None
        runs = b.rounds()
    finally:
        b.stop_kafka()
    la_end = b.loadavg("end")
    summary, table = summarise(runs, a.guarantees)
    commit = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", SRC, "diff", "--quiet", "HEAD"]).returncode != 0
    doc = {"commit": commit + ("+uncommitted" if dirty else ""),
           "broker": "Apache Kafka 4.4.0 (KRaft), 1 node, heap 1g, loopback, %d partitions" % PARTS,
           "sizes": {"events": a.events, "leads": a.leads, "rounds": a.rounds, "durable": a.durable,
                     "snapshot_interval": a.snapshot_interval,
                     "check_events": a.check_events, "threads": a.threads, "jvm_opts": a.jvm_opts},
           "load_start": la_start, "load_end": la_end,
           "load_max_1m": max(x[1][0] for x in b.loads), "check": check,
           "summary": summary, "runs": runs}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(table)
    print("\n%d inputs per run, %d rounds; load average at the start %s, at the end %s, "
          "highest 1-minute before a run %.2f; %s" % (a.events, a.rounds, " ".join(la_start),
                                                       " ".join(la_end), doc["load_max_1m"], a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared helpers of the pipeline integration tests.

Starts a broker and `leadscore run` as real processes, and talks to the
broker over TCP with confluent_kafka (an independent client). Every wait
is bounded in time.

The broker is chosen by LS_BROKER (ctest sets it per test, see
tests/CMakeLists.txt):
  mock   librdkafka's test broker, as `leadscore broker` (the default)
  kafka  real Apache Kafka (KRaft) started by scripts/kafka_cluster.py
A test file lists the brokers it runs on in a line `BROKERS = "..."`.
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

LEADSCORE = os.environ.get("LEADSCORE", "leadscore")
SOURCE_DIR = os.environ.get(
    "LS_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SCHEMAS = os.path.join(SOURCE_DIR, "schemas")

TOPICS = {
    "events": "lead-events",
    "profiles": "lead-profiles",
    "scores": "lead-scores",
    "alerts": "lead-alerts",
    "dead_letters": "lead-dead-letters",
}

# A tiny model whose totals are easy to compute by hand.
TINY_MODEL = """\
lateness: 1h
models:
  - id: tiny
    fit:
      rules:
        - {id: saas, attribute: industry, equals: saas, points: 20}
    engagement:
      rules:
        - {id: pricing, event: page_view, when: {url: {glob: "*/pricing*"}}, points: 10}
        - {id: demo, event: demo_request, points: 25}
    grades:
      - {name: A, min: 20}
      - {name: B}
    bands:
      - {name: cold}
      - {name: warm, min: 10}
      - {name: hot, min: 30}
    mql:
      enter: {min_total: 50}
"""

T0 = 1_700_000_000_000  # event times of the tests (ms)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Proc:
    """A child process whose stderr is collected by a thread.

    `leadscore run --config FILE` runs in FILE's directory unless cwd is
    given: a config without snapshot.dir keeps its state in
    leadscore-state of the working directory, which must be the test's
    own temporary directory, not ctest's (shared by every test).
    env: the environment of the process, by default this one's."""

    def __init__(self, args, name, cwd=None, env=None):
        args = list(args)
        if cwd is None and args[1:2] == ["run"] and "--config" in args:
            i = args.index("--config") + 1
            if i < len(args):
                args[i] = os.path.abspath(args[i])
                cwd = os.path.dirname(args[i])
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        # killed with the test (by ctest's timeout, say), never left behind
        self.p = subprocess.Popen(
            kafka_cluster_module().die_with_parent(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=cwd, env=env)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def stderr_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_line(self, substring, timeout):
        """Waits for a stderr line containing substring; returns it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if substring in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None and not self.t.is_alive():
                    raise AssertionError(
                        "%s: no stderr line with %r within %ss; stderr:\n%s"
                        % (self.name, substring, timeout, "\n".join(self.lines)))
                self.cond.wait(min(left, 0.2))

    def stop(self, sig=15, timeout=30):
        """Sends sig, waits, returns the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("%s did not stop within %ss; stderr:\n%s"
                                 % (self.name, timeout, self.stderr_text()))
        self.t.join(5)
        return rc

    def stop_ok(self, sig=15, timeout=30):
        """stop(), then fails the test, showing stderr, unless the exit
        status is 0."""
        rc = self.stop(sig, timeout)
        assert rc == 0, "exit %s; stderr:\n%s" % (rc, self.stderr_text())

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


BROKER_KIND = os.environ.get("LS_BROKER", "mock")
DEFAULT_TOPICS = list(TOPICS.values())


_KAFKA_CLUSTER = []


def kafka_cluster_module():
    """scripts/kafka_cluster.py, imported by path (once)."""
    if not _KAFKA_CLUSTER:
        path = os.path.join(SOURCE_DIR, "scripts", "kafka_cluster.py")
        spec = importlib.util.spec_from_file_location("ls_kafka_cluster",
                                                      path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _KAFKA_CLUSTER.append(mod)
    return _KAFKA_CLUSTER[0]


class KafkaBroker:
    """Real Apache Kafka on loopback: `nodes` KRaft nodes in a temporary
    folder, the topics created with `partitions` partitions (others are
    created on first use with as many). The nodes die with this process.
    .cluster is the scripts/kafka_cluster.py Cluster (node stop/start).
    The broker accepts records up to 4 MiB (message.max.bytes), like the
    test broker, which has no such limit below that: the oversized-input
    tests need a 2 MB record to reach leadscore."""

    def __init__(self, partitions=1, topics=None, nodes=1, sasl_ssl=False,
                 extra=None, version=None):
        kc = kafka_cluster_module()
        # A second try: the free ports the script picks may be taken by
        # another process before the JVM binds them (parallel tests).
        for attempt in (1, 2):
            self.dir = tempfile.mkdtemp(prefix="lskafka-")
            self.cluster = kc.Cluster(
                self.dir, nodes, partitions, topics or DEFAULT_TOPICS,
                sasl_ssl=sasl_ssl, die_with_parent=True,
                extra=dict({"message.max.bytes": "4194304"},
                           **(extra or {})),
                version=version or kc.KAFKA_VERSION)
            try:
                self.address = self.cluster.start()
                break
            except Exception as e:  # noqa: BLE001 - retried once
                self.cluster.stop()
                shutil.rmtree(self.dir, ignore_errors=True)
                if attempt == 2:
                    raise
                log("kafka: start failed, once more: %s" % e)
        self.kind = "kafka"

    def stop(self, sig=15, timeout=30):
        self.cluster.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return 0

    def kill(self):
        for i in range(self.cluster.nodes):
            self.cluster.stop_node(i, kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def Broker(partitions=1, topics=None):
    """The broker of this run (LS_BROKER): MockBroker or KafkaBroker."""
    if BROKER_KIND == "kafka":
        return KafkaBroker(partitions, topics)
    if BROKER_KIND != "mock":
        raise AssertionError("LS_BROKER=%r: use mock or kafka" % BROKER_KIND)
    return MockBroker(partitions, topics)


class MockBroker(Proc):
    """`leadscore broker`: librdkafka's test broker in a child process."""

    def __init__(self, partitions=1, topics=None):
        args = [LEADSCORE, "broker", "--partitions", str(partitions)]
        if topics:
            args += ["--topics", ",".join(topics)]
        super().__init__(args, "broker")
        self.address = self.p.stdout.readline().strip()
        if not self.address:
            self.kill()
            raise AssertionError("broker printed no address; stderr:\n"
                                 + self.stderr_text())
        assert self.address.startswith("127.0.0.1:"), self.address
        self.kind = "mock"


# Scoring threads of the runs the tests start (`workers:`, docs/CONFIG.md):
# 2 by default, so that every pipeline test runs partitions on two
# workers, handed over and produced in order; LS_TEST_WORKERS=1 runs the
# suite with today's single scoring thread.
WORKERS = int(os.environ.get("LS_TEST_WORKERS", "2"))


def workers_line(extra=""):
    """The `workers:` line of a test config, unless extra has its own."""
    if re.search(r"^workers:", extra, re.M):
        return ""
    return "workers: %d\n" % WORKERS


def write_config(tmpdir, bootstrap, model_text=TINY_MODEL, group="lstest",
                 fmt_in="json", fmt_out="json", extra="",
                 metadata_refresh_ms=None, snapshot="off"):
    """snapshot: the value of the `snapshot` key, `off` by default: these
    tests were written for runs that keep no state, and must not share
    the default directory (leadscore-state in the working directory);
    None leaves the key out (the default directory), and so does an
    `extra` that has a snapshot section of its own.

    metadata_refresh_ms: the consumer's topic.metadata.refresh.interval.ms,
    None (the default) for librdkafka's (5 min): every test's topics exist
    from the start. A refresh that arrives while
    the group leader waits for its assignor's metadata makes librdkafka
    rejoin; the test broker answers joins after whole seconds (3 s, then
    session.timeout.ms - 1 s), so with 1000 that can happen join after
    join."""
    refresh = ("" if metadata_refresh_ms is None else
               "  topic.metadata.refresh.interval.ms: %d\n"
               % metadata_refresh_ms)
    if snapshot is None or re.search(r"^snapshot:", extra, re.M):
        snap = ""
    else:
        snap = "snapshot: %s\n" % snapshot
    model = os.path.join(tmpdir, "model.yaml")
    with open(model, "w") as f:
        f.write(model_text)
    path = os.path.join(tmpdir, "config.yaml")
    with open(path, "w") as f:
        f.write("""\
model: model.yaml
group: %s
schemas: %s
format: {input: %s, output: %s}
commit_interval: 200ms
%s%skafka:
  bootstrap.servers: "%s"
consumer:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
%s%s""" % (group, SCHEMAS, fmt_in, fmt_out, snap, workers_line(extra),
           bootstrap, refresh, extra))
    return path


def start_run(config, name="run", cwd=None, env=None):
    """`leadscore run` in cwd, by default the config file's directory
    (see Proc), with env as its environment (by default this one's)."""
    return Proc([LEADSCORE, "run", "--config", config], name, cwd=cwd,
                env=env)


def producer(bootstrap, **extra):
    """A producer that partitions keys as Kafka's Java client does
    (murmur2), which leadscore requires of its inputs. It is idempotent:
    the first batches sent to a new Kafka topic are often retried, and
    without a producer id a retried batch can land after a later one,
    which reorders a partition that a test expects in produce order.
    extra: other settings (dots spelt as underscores)."""
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5,
            "partitioner": "murmur2_random", "enable.idempotence": True}
    conf.update((k.replace("_", "."), v) for k, v in extra.items())
    return Producer(conf)


def murmur2(data):
    """Kafka's murmur2 hash of bytes (the Java client's
    Utils.murmur2), written here from the algorithm so that the tests
    check leadscore's partition rule independently of librdkafka."""
    m, r = 0x5bd1e995, 24
    n = len(data)
    h = (0x9747b28c ^ n) & 0xffffffff
    for i in range(0, n - n % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    tail = n - n % 4
    if n % 4 == 3:
        h ^= data[tail + 2] << 16
    if n % 4 >= 2:
        h ^= data[tail + 1] << 8
    if n % 4 >= 1:
        h ^= data[tail]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def partition_of(key, partitions):
    """The partition of a key (str or bytes) under the murmur2
    partitioner."""
    if isinstance(key, str):
        key = key.encode()
    return (murmur2(key) & 0x7fffffff) % partitions


def produce(prod, topic, key, value, partition=None):
    kw = {}
    if partition is not None:
        kw["partition"] = partition
    prod.produce(topic, key=key, value=value, **kw)


def flush(prod):
    left = prod.flush(10)
    assert left == 0, "%d records not delivered to the broker" % left


def consume_all(bootstrap, topics, want, timeout, partitions=1):
    """Reads topics from the beginning until `want` records arrived (or
    the timeout), then a little longer to catch extra records. Returns a
    list of (topic, partition, offset, key, value, headers dict)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsverify",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(t, p, 0) for t in topics
              for p in range(partitions)])
    out = []
    deadline = time.monotonic() + timeout
    grace = None
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append((m.topic(), m.partition(), m.offset(), m.key(),
                            m.value(), dict((k, v.decode() if v is not None
                                             else None)
                                            for k, v in (m.headers() or []))))
            if len(out) >= want and grace is None:
                grace = time.monotonic() + 1.5
            if grace is not None and time.monotonic() >= grace:
                break
    finally:
        c.close()
    return out


def committed(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        res = c.committed([TopicPartition(topic, p)
                           for p in range(partitions)], timeout=10)
        return [tp.offset for tp in res]
    finally:
        c.close()


def end_offsets(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsverify"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p),
                                        timeout=10)[1]
                for p in range(partitions)]
    finally:
        c.close()


def tmpdir():
    return tempfile.mkdtemp(prefix="lstest-")


def main(tests):
    """Runs the test functions, prints a summary, exits non-zero on any
    failure."""
    failed = 0
    for t in tests:
        start = time.monotonic()
        try:
            t()
            log("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - start))
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            import traceback
            traceback.print_exc()
            log("FAIL %s: %s" % (t.__name__, e))
    sys.exit(1 if failed else 0)


class Registry:
    """tests/integration/registry_server.py with the given id=file schemas,
    for max_seconds; extra_args are its other options (e.g. --basic-auth,
    --tls-cert), https with tls."""

    def __init__(self, schemas, max_seconds=120, extra_args=(), tls=False):
        args = [sys.executable if sys.executable else "/usr/bin/python3",
                os.path.join(SOURCE_DIR, "tests", "integration",
                             "registry_server.py"),
                "--max-seconds", str(max_seconds)]
        for sid, path in schemas.items():
            args += ["--schema", "%d=%s" % (sid, path)]
        self.p = subprocess.Popen(args + list(extra_args),
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        assert line and line[0] == "PORT", line
        self.port = int(line[1])
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http",
                                          self.port)

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def avro_schema(name_or_text):
    import avro.schema
    if name_or_text.lstrip().startswith("{"):
        return avro.schema.parse(name_or_text)
    with open(os.path.join(SCHEMAS, name_or_text)) as f:
        return avro.schema.parse(f.read())


def avro_encode(schema, datum):
    import io
    import avro.io
    b = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(b))
    return b.getvalue()


def avro_decode(schema, data):
    import io
    import avro.io
    return avro.io.DatumReader(schema).read(
        avro.io.BinaryDecoder(io.BytesIO(data)))


def framed(schema_id, payload):
    import struct
    return b"\0" + struct.pack(">I", schema_id) + payload


def ts(ms):
    """An event time in ms as the datetime Python avro wants for
    timestamp-millis."""
    import datetime
    return (datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            + datetime.timedelta(milliseconds=ms))

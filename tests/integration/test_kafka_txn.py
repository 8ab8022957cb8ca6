"""Transactional mode on real Apache Kafka (docs/DURABILITY.md).

While a keyed stream arrives without pause (a backlog, then events
produced by a feeder thread), `leadscore run` with `transactional: true`
is killed with SIGKILL at seeded random points, at least 20 times
(LS_TXN_ROUNDS for more, LS_TXN_SEED for another seed), and restarted;
many kills land inside an open transaction, which the broker aborts when
the restart initialises the same transactional.id. Then a zombie: instance
A is paused with SIGSTOP while it holds the partitions and an open
transaction, instance B with the same group and transactional.id takes
over and produces, and A is resumed: A must stop, exit non-zero and say
it was fenced, and none of its outputs may become visible.

A read_committed consumer (confluent_kafka) must then see every output
exactly once with no repeated leadscore.id at all (no dedupe), equal to
an uninterrupted non-transactional reference run: same ids, same bytes,
every event scored once, every alert once, the same final state per
lead. A read_uncommitted consumer must see repeated ids (the aborted
outputs of killed and fenced transactions, re-produced by their
successors), which shows that the kills hit open transactions and that
aborted records stay invisible to read_committed."""
import collections
import os
import random
import signal
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import durability_common as d
import lsharness as h

BROKERS = "kafka"
TIMEOUT = 900

ROUNDS = int(os.environ.get("LS_TXN_ROUNDS", "20"))
SEED = int(os.environ.get("LS_TXN_SEED", "20260311"))
TXN_ID = "lstxn-it"
TXN = """\
transactional: true
producer:
  transactional.id: "%s"
""" % TXN_ID
BACKLOG = 300
OUTPUTS = (h.TOPICS["scores"], h.TOPICS["alerts"])
REF = ("ref-scores", "ref-alerts")


class Feeder(threading.Thread):
    """Produces events (no profile updates: a live stream of one topic
    cannot race the other, see the merge rule in docs/DURABILITY.md),
    `batch` every `period` seconds, continuing the per-lead sequence
    numbers of `seqs` from input number `start`."""

    def __init__(self, bootstrap, seqs, start, batch=3, period=0.1):
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.seqs = seqs
        self.next = start
        self.batch = batch
        self.period = period
        self.recs = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.error = None

    def run(self):
        prod = Producer({"bootstrap.servers": self.bootstrap,
                         "linger.ms": 5, "enable.idempotence": True,
                         "partitioner": "murmur2_random"})
        try:
            while not self.halt.wait(self.period):
                recs = d.make_inputs(self.batch, SEED + self.next,
                                     start=self.next, seqs=self.seqs,
                                     profiles=False)
                for topic, key, value, t in recs:
                    prod.produce(topic, key=key.encode(), value=value,
                                 timestamp=t)
                prod.poll(0)
                with self.lock:
                    self.recs += recs
                self.next += self.batch
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e
        left = prod.flush(30)
        if left and not self.error:
            self.error = "%d records not delivered" % left

    def count(self):
        with self.lock:
            return len(self.recs)

    def stop(self):
        self.halt.set()
        self.join(60)
        assert not self.is_alive(), "feeder did not stop"
        assert self.error is None, "feeder: %s" % self.error
        return self.recs


def watermarks(bootstrap, topics, isolation):
    """{(topic, partition): end offset} as a consumer with isolation.level
    `isolation` sees it: the high watermark (read_uncommitted) or the last
    stable offset (read_committed: not past an open transaction)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsverify",
                  "isolation.level": isolation})
    try:
        return {(t, p): c.get_watermark_offsets(TopicPartition(t, p),
                                                timeout=10)[1]
                for t in topics for p in range(d.PARTS)}
    finally:
        c.close()


def open_transaction(bootstrap):
    """The output partitions where an open transaction holds records."""
    hw = watermarks(bootstrap, OUTPUTS, "read_uncommitted")
    lso = watermarks(bootstrap, OUTPUTS, "read_committed")
    return sorted(k for k in hw if lso[k] < hw[k])


def read_topics(bootstrap, topics, isolation, timeout=90):
    """Everything a consumer with isolation.level `isolation` gets from
    `topics` (all partitions), as {topic: [(leadscore.id, key, value)]}.
    A partition is read when its end (partition EOF) is at or past the
    high watermark: a transactional partition ends with a commit or abort
    marker, which no consumer receives as a record, and read_committed
    reaches the high watermark only when no transaction is open."""
    want = {k: e for k, e in watermarks(bootstrap, topics,
                                        "read_uncommitted").items() if e > 0}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsverify",
                  "enable.auto.commit": False, "isolation.level": isolation,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(t, p, 0) for t, p in want])
    got = collections.defaultdict(list)
    deadline = time.monotonic() + timeout
    try:
        while want and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            k = (m.topic(), m.partition())
            if m.error():
                if (m.error().code() == KafkaError._PARTITION_EOF
                        and k in want and m.offset() >= want[k]):
                    del want[k]
                continue
            hdrs = dict((n, v.decode()) for n, v in (m.headers() or []))
            got[m.topic()].append((hdrs.get("leadscore.id"), m.key(),
                                   m.value()))
    finally:
        c.close()
    assert not want, "%s: could not read to the end of %s" % (isolation, want)
    return got


def check_committed_exactly_once(bootstrap, ev_ids):
    """d.check_exactly_once on what read_committed shows, which must hold
    no repeated id at all. (d.read_topic stops at the last record's offset;
    a transactional partition's last offset is a marker.)"""
    saved = d.read_topic
    d.read_topic = lambda b, topics: read_topics(b, topics, "read_committed")
    try:
        repeats = d.check_exactly_once(bootstrap, ev_ids, REF)
    finally:
        d.read_topic = saved
    assert repeats == 0, (
        "read_committed saw %d repeated ids: outputs of a transaction were "
        "committed twice" % repeats)


def stderr_of(procs):
    return "".join("\n--- %s:\n%s" % (p.name, p.stderr_text()[-4000:])
                   for p in procs)


def wait_committed_past(bootstrap, group, before, timeout, procs):
    """Waits until the group's committed offsets of the events topic pass
    `before` on some partition (a transaction with input offsets
    committed since)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = h.committed(bootstrap, group, h.TOPICS["events"], d.PARTS)
        if any(n > b for n, b in zip(now, before)):
            return now
        time.sleep(0.2)
    raise AssertionError("no transaction committed offsets within %ss%s"
                         % (timeout, stderr_of(procs)))


def kill_rounds(broker, cfg, rnd, runs):
    """ROUNDS starts, each killed (SIGKILL) 0.2-3 s after its assignment.
    Returns how many restarts replayed inputs without producing."""
    quiet_replays = 0
    for i in range(ROUNDS):
        r = h.start_run(cfg, "kill-%d" % i)
        runs.append(r)
        r.wait_line("assigned", 60)
        time.sleep(rnd.uniform(0.2, 3.0))
        r.kill()  # SIGKILL
        if "txn_resume" in r.stderr_text():
            quiet_replays += 1
        h.log("round %d: killed; open transaction on %s" % (
            i, open_transaction(broker.address) or "none"))
    return quiet_replays


def zombie(broker, cfg, runs):
    """A paused inside an open transaction, B takes over with the same
    transactional.id, A resumed: A must stop, fenced."""
    a = h.start_run(cfg, "zombie-A")
    runs.append(a)
    a.wait_line("assigned", 60)
    before = h.committed(broker.address, "txn", h.TOPICS["events"], d.PARTS)
    wait_committed_past(broker.address, "txn", before, 60, [a])
    # Pause A while one of its transactions holds records on the broker
    # (the feeder keeps it busy; a pause between two is retried).
    held = []
    for _ in range(50):
        a.p.send_signal(signal.SIGSTOP)
        held = open_transaction(broker.address)
        if held:
            break
        a.p.send_signal(signal.SIGCONT)
        time.sleep(0.1)
    assert held, "A never held an open transaction" + stderr_of([a])
    h.log("zombie: A paused with an open transaction on %s" % held)
    try:
        b = h.start_run(cfg, "zombie-B")
        runs.append(b)
        # B's init_transactions fences A and aborts A's transaction; B
        # gets the partitions once A's session has expired.
        b.wait_line("assigned", 60)
        before = h.committed(broker.address, "txn", h.TOPICS["events"],
                             d.PARTS)
        wait_committed_past(broker.address, "txn", before, 60, [b])
        assert a.p.poll() is None, "A exited while paused"
    finally:
        a.p.send_signal(signal.SIGCONT)
    try:
        rc = a.p.wait(60)
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
        raise AssertionError("the fenced instance A did not stop within 60 s"
                             + stderr_of([a, b]))
    a.t.join(5)
    text = a.stderr_text()
    assert rc != 0, "fenced A exited 0" + stderr_of([a])
    assert "FATAL: fenced" in text and TXN_ID in text, (
        "A's stop does not name the fencing" + stderr_of([a]))
    assert b.p.poll() is None, "B stopped" + stderr_of([b])
    h.log("zombie: A stopped with exit %d: %s" % (
        rc, a.wait_line("FATAL: fenced", 1)))
    return b


def test_transactions_exactly_once():
    rnd = random.Random(SEED)
    broker = h.KafkaBroker(partitions=d.PARTS,
                           topics=list(h.TOPICS.values()) + list(REF))
    runs = []
    feeder = None
    try:
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")
        # Snapshots every second, commits every 200 ms: restarts find
        # the committed offsets past their snapshot and replay the inputs
        # in between without producing.
        cfg = d.write_config(tmp, broker.address, "txn", snap, interval="1s",
                             every_events=0, extra=TXN)
        seqs = collections.Counter()
        recs = d.make_inputs(BACKLOG, SEED, seqs=seqs)
        d.produce_inputs(broker.address, recs)
        feeder = Feeder(broker.address, seqs, BACKLOG)
        feeder.start()

        quiet_replays = kill_rounds(broker, cfg, rnd, runs)
        b = zombie(broker, cfg, runs)

        recs += feeder.stop()
        d.wait_caught_up(broker.address, "txn", 120, [b])
        b.stop_ok()
        h.log("%d inputs; %d of %d restarts replayed without producing"
              % (len(recs), quiet_replays, ROUNDS))
        assert quiet_replays > 0, "no restart found commits past its snapshot"

        d.reference_run(broker.address, tmp)
        ev_ids = d.event_ids(recs)
        check_committed_exactly_once(broker.address, ev_ids)
        # What read_committed does not show: the aborted transactions.
        dirty = read_topics(broker.address, OUTPUTS, "read_uncommitted")
        aborted = 0
        for topic in OUTPUTS:
            seen, repeats = d.dedupe(dirty[topic], topic)
            aborted += repeats
        h.log("read_uncommitted: %d aborted outputs seen again" % aborted)
        assert aborted > 0, (
            "read_uncommitted saw no aborted output: no kill hit an open "
            "transaction")
    finally:
        if feeder is not None and feeder.is_alive():
            feeder.halt.set()
        for r in runs:
            r.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_transactions_exactly_once])

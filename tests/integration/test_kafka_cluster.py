"""Durability on a real three-node Apache Kafka cluster (KRaft, every
topic with 4 partitions and replication factor 3), one cluster shared by
the tests of this file:

  - broker faults: while events keep being produced and `leadscore run`
    consumes, the node that coordinates its group (and leads some input
    and output partitions) is killed with SIGKILL and started again, then
    another node is stopped cleanly (SIGTERM) and started again. The run
    must carry on through each fault, without a restart of its own;
  - a rolling restart: three instances in one group, sharing a snapshot
    directory, each in turn stopped (SIGTERM) and started again while
    events flow, the group settled in between.

Both end with the exactly-once checks of durability_common: after dropping
repeated ids the outputs equal an uninterrupted reference run's, a
repeated id always carries the same bytes, every event is scored once,
every alert is there once, each lead's final state is the reference's.
"""
import collections
import os
import re
import struct
import threading
import time

from confluent_kafka import Producer

import durability_common as d
import lsharness as h

BROKERS = "kafka"
TIMEOUT = 900

NODES = 3
FAULT_TOPICS = dict(h.TOPICS)
ROLL_TOPICS = {k: "roll-" + v for k, v in h.TOPICS.items()}
ALL_TOPICS = (list(FAULT_TOPICS.values()) + ["ref-scores", "ref-alerts"]
              + list(ROLL_TOPICS.values())
              + ["roll-ref-scores", "roll-ref-alerts"])

_cluster = None


def cluster():
    """The cluster of this file, started by the first test that needs it."""
    global _cluster
    if _cluster is None:
        start = time.monotonic()
        _cluster = h.KafkaBroker(d.PARTS, ALL_TOPICS, nodes=NODES)
        h.log("kafka: %d nodes up at %s in %.1fs" % (
            NODES, _cluster.address, time.monotonic() - start))
    return _cluster


def retry(fn, timeout, what):
    """fn() until it returns without an exception (a node may just be
    down, its partitions without a leader for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - retried, then reported
            if time.monotonic() >= deadline:
                raise AssertionError("%s: %s" % (what, e))
            time.sleep(0.5)


def alive(procs):
    for p in procs:
        assert p.p.poll() is None, "%s exited with %s; stderr:\n%s" % (
            p.name, p.p.returncode, p.stderr_text()[-8000:])


def poll_until(cond, timeout, what, procs=(), period=0.3):
    """Polls cond() until it is true; the runs in procs must stay up."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        alive(procs)
        try:
            last = cond()
        except Exception as e:  # noqa: BLE001 - a broker moving; ask again
            last = e
        if last is True:
            return
        if time.monotonic() >= deadline:
            msg = "%s: not within %ss (last: %s)" % (what, timeout, last)
            for p in procs:
                msg += "\n--- %s:\n%s" % (p.name, "\n".join(
                    p.stderr_text().splitlines()[-60:]))
            raise AssertionError(msg)
        time.sleep(period)


# -- cluster facts -------------------------------------------------------

def leaders(admin, topics):
    """{node: [(topic, partition)...]} of the partitions each node leads."""
    md = admin.list_topics(timeout=10)
    out = collections.defaultdict(list)
    for t in topics:
        for p, pm in md.topics[t].partitions.items():
            out[pm.leader].append((t, p))
    return out


def coordinator(admin, group):
    gs = admin.list_groups(group=group, timeout=10)
    assert len(gs) == 1 and gs[0].error is None, gs
    return gs[0].broker.id


def isr_full(admin, topics):
    """True when every partition of the topics has all nodes in sync and a
    leader; otherwise what is not."""
    md = admin.list_topics(timeout=5)
    short = ["%s unknown" % t for t in topics if t not in md.topics]
    short += ["%s[%d] isr %s" % (t, p, sorted(pm.isrs))
              for t in topics if t in md.topics
              for p, pm in md.topics[t].partitions.items()
              if pm.leader < 0 or len(pm.isrs) < NODES]
    if len(md.brokers) < NODES:
        short.insert(0, "brokers %s" % sorted(md.brokers))
    return True if not short else short[:6]


def assignment_parts(data):
    """The (topic, partition) pairs of a consumer protocol assignment."""
    out = set()
    if not data:
        return out
    pos = 2  # version
    (n_topics,) = struct.unpack_from(">i", data, pos)
    pos += 4
    for _ in range(n_topics):
        (tlen,) = struct.unpack_from(">h", data, pos)
        pos += 2
        topic = data[pos:pos + tlen].decode()
        pos += tlen
        (n_parts,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(n_parts):
            (p,) = struct.unpack_from(">i", data, pos)
            pos += 4
            out.add((topic, p))
    return out


def group_settled(admin, group, members, inputs, partitions=d.PARTS):
    """True when the group is Stable with `members` members whose
    assignments cover every input partition, each once, partition p of
    both inputs on one member; otherwise its state."""
    gs = admin.list_groups(group=group, timeout=5)
    if len(gs) != 1 or gs[0].error is not None:
        return gs
    g = gs[0]
    if g.state != "Stable" or len(g.members) != members:
        return "%s with %d members" % (g.state, len(g.members))
    seen = collections.Counter()
    shard_owner = {}
    for m in g.members:
        parts = assignment_parts(m.assignment)
        if not parts:
            return "member %s has no partitions" % m.id
        for t, p in parts:
            seen[(t, p)] += 1
            if shard_owner.setdefault(p, m.id) != m.id:
                return "partition %d of the inputs split over members" % p
    want = {(t, p) for t in inputs for p in range(partitions)}
    if set(seen) != want or any(c != 1 for c in seen.values()):
        return "assignment %s" % sorted(seen.items())
    return True


# -- input while the runs consume ---------------------------------------

class Feeder(threading.Thread):
    """Produces events (no profile updates: a live chunk must not race the
    other input topic, see make_inputs) in event-time order, `chunk` every
    `period` seconds, until stopped, through an idempotent producer so
    that broker faults neither duplicate nor reorder input records.
    .recs lists what was produced (topics named as in h.TOPICS); .ends()
    the offset after the last acknowledged record of each partition."""

    def __init__(self, bootstrap, topics, seqs, start, seed, recs,
                 chunk=8, period=0.2, encode=None):
        """encode(topic, value): the bytes to produce (default: value)."""
        super().__init__(daemon=True)
        self.encode = encode
        self.bootstrap = bootstrap
        self.topics = topics
        self.seqs = seqs
        self.start_at = self.next = start
        self.seed = seed
        self.recs = recs
        self.chunk = chunk
        self.period = period
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}
        self.errors = []
        self.failure = None

    def _dr(self, err, msg):
        with self.lock:
            if err is not None:
                self.errors.append(str(err))
            else:
                k = (msg.topic(), msg.partition())
                self.acked[k] = max(self.acked.get(k, 0), msg.offset() + 1)

    def ends(self):
        with self.lock:
            return dict(self.acked)

    def acked_count(self):
        with self.lock:
            return sum(self.acked.values())

    def run(self):
        try:
            prod = Producer({"bootstrap.servers": self.bootstrap,
                             "linger.ms": 5, "enable.idempotence": True,
                             "partitioner": "murmur2_random",
                             "log.connection.close": False})
            n = 0
            while not self.halt.is_set():
                more = d.make_inputs(self.chunk, self.seed * 1000 + n,
                                     start=self.next, seqs=self.seqs,
                                     profiles=False)
                for topic, key, value, t in d.on_topics(more, self.topics):
                    if self.encode:
                        value = self.encode(topic, value)
                    prod.produce(topic, key=key.encode(), value=value,
                                 timestamp=t, on_delivery=self._dr)
                self.recs.extend(more)
                self.next += self.chunk
                n += 1
                prod.poll(0)
                self.halt.wait(self.period)
            left = prod.flush(120)
            assert left == 0, "%d input records not delivered" % left
        except Exception as e:  # noqa: BLE001 - re-raised by finish()
            self.failure = e

    def finish(self):
        self.halt.set()
        self.join(150)
        assert not self.is_alive(), "the feeder did not stop"
        if self.failure:
            raise self.failure
        assert not self.errors, "input not delivered: %s" % self.errors[:5]
        h.log("feeder: %d events produced" % (self.next - self.start_at))


def fresh(feeder, n, procs, timeout=90):
    """Waits until n more input records are acknowledged."""
    mark = feeder.acked_count()
    poll_until(lambda: feeder.acked_count() >= mark + n or
               "%d of %d" % (feeder.acked_count() - mark, n), timeout,
               "%d more input records acknowledged" % n, procs)


def committed_reach(bootstrap, group, target):
    """True when the group's committed offsets reach target {(topic, p):
    offset}; otherwise what lags."""
    lag = []
    for t in sorted({t for t, p in target}):
        com = h.committed(bootstrap, group, t, d.PARTS)
        lag += ["%s[%d] %d<%d" % (t, p, com[p], o)
                for (tt, p), o in sorted(target.items())
                if tt == t and com[p] < o]
    return True if not lag else lag


def wait_processed(bootstrap, group, feeder, timeout, procs, what):
    """Waits until the group committed everything the feeder had produced
    (and was acknowledged) when called."""
    target = feeder.ends()
    start = time.monotonic()
    poll_until(lambda: committed_reach(bootstrap, group, target), timeout,
               "%s: group %s processing what was produced" % (what, group),
               procs)
    h.log("%s: group %s committed up to %d input records in %.1fs"
          % (what, group, sum(target.values()), time.monotonic() - start))


def stop_all(procs):
    for p in procs:
        if p.p.poll() is None:
            p.p.send_signal(15)
    for p in procs:
        rc = p.stop()
        assert rc == 0, "%s: exit %s:\n%s" % (p.name, rc, p.stderr_text())
        assert "delivery failures 0" in p.stderr_text(), p.stderr_text()


def consumed(p):
    m = re.search(r"stopped: consumed (\d+)", p.stderr_text())
    assert m, "%s: no final counts:\n%s" % (p.name, p.stderr_text())
    return int(m.group(1))


# -- the tests -----------------------------------------------------------

def test_broker_faults():
    kb = cluster()
    kc = kb.cluster
    admin = kc.admin()
    addr = kb.address
    topics = FAULT_TOPICS
    inputs = (topics["events"], topics["profiles"])
    runs = []
    feeder = None
    try:
        # a node may learn of the topics a moment after the others
        poll_until(lambda: isr_full(admin, ALL_TOPICS), 60,
                   "every replica in sync")
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")
        # merge_wait above any stall a failover causes: order stays exact.
        cfg = d.write_config(tmp, addr, "faults", snap, merge_wait="60s",
                             session_ms=6000)
        seqs = collections.Counter()
        recs = d.make_inputs(300, 31, seqs=seqs)
        d.produce_inputs(addr, recs)
        r = h.start_run(cfg, "faulted")
        runs.append(r)
        r.wait_line("assigned", 60)
        feeder = Feeder(addr, topics, seqs, 300, 32, recs)
        feeder.start()
        fresh(feeder, 100, runs)
        wait_processed(addr, "faults", feeder, 60, runs, "before the faults")

        # 1. SIGKILL the group's coordinator, which leads partitions too.
        coord = retry(lambda: coordinator(admin, "faults"), 30,
                      "coordinator")
        led = retry(lambda: leaders(admin, ALL_TOPICS), 30, "leaders")
        n_inputs = {n: sum(t in inputs for t, p in led[n])
                    for n in range(NODES)}
        victim = coord if n_inputs[coord] else max(n_inputs,
                                                   key=n_inputs.get)
        h.log("faults: coordinator of the group is node %d; killing node "
              "%d, which leads %s" % (coord, victim, sorted(led[victim])))
        kc.stop_node(victim, kill=True)
        h.log("faults: node %d killed (SIGKILL)" % victim)
        # keep producing through the failover, and the run processes it
        # while the node is down
        fresh(feeder, 200, runs)
        wait_processed(addr, "faults", feeder, 90, runs,
                       "node %d down" % victim)
        kc.start_node(victim, timeout=120)
        poll_until(lambda: isr_full(admin, ALL_TOPICS), 120,
                   "replicas in sync after node %d restarted" % victim, runs)
        h.log("faults: node %d back, every replica in sync" % victim)
        wait_processed(addr, "faults", feeder, 90, runs,
                       "node %d restarted" % victim)

        # 2. SIGTERM (controlled shutdown) of another node: the group's
        # coordinator now, else the one leading most input partitions.
        coord = retry(lambda: coordinator(admin, "faults"), 30,
                      "coordinator")
        led = retry(lambda: leaders(admin, ALL_TOPICS), 30, "leaders")
        if coord != victim:
            second = coord
        else:
            second = max((n for n in range(NODES) if n != victim),
                         key=lambda n: sum(t in inputs for t, p in led[n]))
        h.log("faults: coordinator is node %d; stopping node %d, which "
              "leads %s" % (coord, second, sorted(led[second])))
        kc.stop_node(second, kill=False)
        h.log("faults: node %d stopped (SIGTERM)" % second)
        fresh(feeder, 200, runs)
        wait_processed(addr, "faults", feeder, 90, runs,
                       "node %d down" % second)
        kc.start_node(second, timeout=120)
        poll_until(lambda: isr_full(admin, ALL_TOPICS), 120,
                   "replicas in sync after node %d restarted" % second, runs)
        h.log("faults: node %d back, every replica in sync" % second)
        wait_processed(addr, "faults", feeder, 90, runs,
                       "node %d restarted" % second)

        feeder.finish()
        d.wait_caught_up(addr, "faults", 90, runs)
        alive(runs)
        stop_all(runs)
        assert "FATAL" not in r.stderr_text(), r.stderr_text()

        ref = d.reference_run(addr, tmp, timeout=120)
        repeats = d.check_exactly_once(addr, d.event_ids(recs), ref,
                                       (topics["scores"], topics["alerts"]))
        h.log("broker faults: %d inputs, consumed %d, %d repeated outputs "
              "dropped" % (len(recs), consumed(r), repeats))
    finally:
        if feeder is not None:
            feeder.halt.set()
        for r in runs:
            r.kill()


def test_rolling_restart():
    kb = cluster()
    kc = kb.cluster
    admin = kc.admin()
    addr = kb.address
    topics = ROLL_TOPICS
    inputs = (topics["events"], topics["profiles"])
    group = "rolling"
    lives = collections.defaultdict(list)   # instance -> its processes
    feeder = None

    def running():
        return [ps[-1] for ps in lives.values() if ps[-1].p.poll() is None]

    def settled(members, what):
        start = time.monotonic()
        poll_until(lambda: group_settled(admin, group, members, inputs), 90,
                   "%s: group settled with %d members" % (what, members),
                   running())
        h.log("rolling: %s: settled with %d members in %.1fs"
              % (what, members, time.monotonic() - start))

    try:
        # a node may learn of the topics a moment after the others
        poll_until(lambda: isr_full(admin, ALL_TOPICS), 60,
                   "every replica in sync")
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")   # shared by every instance
        cfg = d.write_config_on(tmp, addr, group, snap, topics,
                                merge_wait="30s")
        seqs = collections.Counter()
        recs = d.make_inputs(300, 41, seqs=seqs)
        d.produce_inputs(addr, d.on_topics(recs, topics))

        names = ("A", "B", "C")
        for name in names:
            lives[name].append(h.start_run(cfg, name))
            lives[name][-1].wait_line("assigned", 60)
        settled(3, "three started")
        feeder = Feeder(addr, topics, seqs, 300, 42, recs)
        feeder.start()
        fresh(feeder, 60, running())
        wait_processed(addr, group, feeder, 60, running(), "three running")

        for name in names:
            p = lives[name][-1]
            rc = p.stop()
            assert rc == 0, "%s: exit %s:\n%s" % (p.name, rc, p.stderr_text())
            settled(2, "%s stopped" % name)
            fresh(feeder, 60, running())
            wait_processed(addr, group, feeder, 60, running(),
                           "%s stopped" % name)
            lives[name].append(h.start_run(cfg, name + "2"))
            lives[name][-1].wait_line("assigned", 60)
            settled(3, "%s restarted" % name)
            fresh(feeder, 60, running())
            wait_processed(addr, group, feeder, 60, running(),
                           "%s restarted" % name)

        feeder.finish()
        d.wait_caught_up_on(addr, group, inputs, 90, running())
        procs = [p for ps in lives.values() for p in ps]
        stop_all(procs)
        per_life = {p.name: consumed(p) for p in procs}
        per_instance = {n: sum(consumed(p) for p in ps)
                        for n, ps in lives.items()}
        assert all(c > 0 for c in per_instance.values()), per_life
        # shards moved between instances through the shared snapshots
        assert any("restored partition" in p.stderr_text() for p in procs)

        ref = d.reference_run_on(addr, tmp, topics, "roll-ref", timeout=120)
        repeats = d.check_exactly_once(addr, d.event_ids(recs), ref,
                                       (topics["scores"], topics["alerts"]))
        h.log("rolling restart: %d inputs, consumed %s, %d repeated outputs "
              "dropped" % (len(recs), per_life, repeats))
    finally:
        if feeder is not None:
            feeder.halt.set()
        for ps in lives.values():
            for p in ps:
                p.kill()


if __name__ == "__main__":
    try:
        h.main([test_broker_faults, test_rolling_restart])
    finally:
        if _cluster is not None:
            _cluster.stop()

"""State follows its partition to an instance with an empty disk
(docs/DURABILITY.md, "Snapshots in a topic"): instance A keeps its
snapshots in a compacted topic, scores, and is killed with SIGKILL;
retention then deletes the input records A's snapshots cover; instance B,
started in a fresh directory, takes the partitions over, restores their
state from the topic and carries on. No lead state is reset: every lead's
outputs, with repeated ids dropped, are exactly those of one
uninterrupted run (totals 10, 20, ... in sequence order, with no id
twice with other content). The control: the
same takeover with a local snapshot directory refuses to start, since
the history it would need is gone. Real Kafka only: the test broker has
neither compaction settings nor record deletion."""
import json
import os
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

import lsharness as h
import test_durability_restore as r

BROKERS = "kafka"
TIMEOUT = 400

PARTS = 2
EV, SC = h.TOPICS["events"], h.TOPICS["scores"]
SNAPS = "lead-snapshots"
LEADS = ["L%d" % i for i in range(6)]


def produce_round(prod, first, n):
    """n pricing page views per lead, event ids first.. first+n-1."""
    for i in range(first, first + n):
        for lead in LEADS:
            h.produce(prod, EV, lead.encode(),
                      r.ev(lead, "%s-e%d" % (lead, i), h.T0 + i * 1000))
    h.flush(prod)


def wait_committed_to_end(bootstrap, group, run, timeout=120):
    """Waits until the group's offsets reach the end of the events topic:
    leadscore commits only what a snapshot covers."""
    end = h.end_offsets(bootstrap, EV, PARTS)
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        assert run.p.poll() is None, "exit %s:\n%s" % (run.p.returncode,
                                                        run.stderr_text())
        try:
            got = h.committed(bootstrap, group, EV, PARTS)
        except KafkaException:   # the group coordinator is not ready yet
            got = None
        if got == end:
            return end
        time.sleep(0.5)
    raise AssertionError("offsets %s not committed to %s; stderr:\n%s" % (
        got, end, run.stderr_text()))


def config(d, broker, group, snapshot):
    return h.write_config(d, broker.address, group=group,
                          snapshot=snapshot)


def test_takeover_with_an_empty_disk():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        admin = AdminClient({"bootstrap.servers": broker.address})
        for f in admin.create_topics([NewTopic(
                SNAPS, num_partitions=1, replication_factor=1,
                config={"cleanup.policy": "compact"})]).values():
            f.result(30)
        deadline = time.monotonic() + 30   # until every broker knows it
        while SNAPS not in admin.list_topics(timeout=10).topics:
            assert time.monotonic() < deadline, "no topic " + SNAPS
            time.sleep(0.2)
        group = "snap-topic"
        topic_snap = "{topic: %s, interval: 300ms}" % SNAPS
        prod = h.producer(broker.address)

        da = h.tmpdir()
        run = h.start_run(config(da, broker, group, topic_snap))
        produce_round(prod, 0, 4)
        end = wait_committed_to_end(broker.address, group, run)
        run.stop(sig=9)
        assert not [f for f in os.listdir(da) if "state" in f], \
            os.listdir(da)
        # Retention deletes what the snapshots cover.
        for p in range(PARTS):
            r.delete_records(broker.address, EV, p, end[p])
        produce_round(prod, 4, 3)

        # Control: an empty local snapshot directory cannot take over.
        dc = h.tmpdir()
        run = h.start_run(config(dc, broker, group,
                                 "{dir: %s}" % os.path.join(dc, "snaps")))
        rc = run.p.wait(90)
        run.t.join(5)
        assert rc == 1 and "restore_refused" in run.stderr_text(), \
            (rc, run.stderr_text())

        db = h.tmpdir()
        run = h.start_run(config(db, broker, group, topic_snap))
        want = len(LEADS) * 7
        recs = h.consume_all(broker.address, [SC], want, 90,
                             partitions=PARTS)
        run.stop_ok()
        err = run.stderr_text()
        assert "restored partition" in err and "topic %s" % SNAPS in err, err
        seen = {}
        for rec in recs:
            rid, val = rec[5]["leadscore.id"], rec[4]
            assert seen.setdefault(rid, val) == val, \
                "id %s came twice with other content" % rid
        for lead in LEADS:
            totals = {int(i.split("/")[2]): json.loads(v)["total"]
                      for i, v in seen.items() if i.startswith(lead + "/")}
            # seven updates, 10 points each; seq 6 is the mql alert (on
            # the alerts topic), which shares the sequence
            assert [totals[k] for k in sorted(totals)] == \
                [10 * k for k in range(1, 8)], (lead, totals)
            assert sorted(totals) == [1, 2, 3, 4, 5, 7, 8], (lead, totals)
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_takeover_with_an_empty_disk])

"""A partition's state is never reset silently when `leadscore run` takes
it on (docs/DURABILITY.md, "Restore"):
- after a model edit, the snapshot taken under the old model set is
  migrated: the lead keeps its score and its sequence numbers, so no
  output id comes out twice with other content;
- when every snapshot is unusable, the run stops with `restore_refused`
  naming the partition, unless snapshot.allow_reset says to start over;
- (real Kafka) when the input records the state needs are gone from the
  log (retention), the run stops the same way, with and without a
  snapshot."""
import json
import os
import subprocess

import lsharness as h

BROKERS = "mock kafka"

EV = h.TOPICS["events"]
SC = h.TOPICS["scores"]
HERE = os.path.dirname(os.path.abspath(__file__))


def ev(lead, eid, t, etype="page_view"):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": etype, "occurred_at": t,
                       "properties": {"url": "https://x.test/pricing"}})


def config(d, broker, group, snapdir, model=h.TINY_MODEL, extra=""):
    return h.write_config(d, broker.address, model_text=model, group=group,
                          snapshot=None,
                          extra="snapshot: {dir: \"%s\"%s}\n"
                                % (snapdir, extra))


def scores(broker, want):
    recs = h.consume_all(broker.address, [SC], want, 25)
    return [(r[5]["leadscore.id"], r[4]) for r in recs]


def test_model_edit_migrates_state():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        snap = os.path.join(d, "snaps")
        cfg = config(d, broker, "restore-migrate", snap)
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        for i in range(3):
            h.produce(prod, EV, b"L1", ev("L1", "e%d" % i, h.T0 + i))
        h.flush(prod)
        first = scores(broker, 3)
        run.stop_ok()
        # The pricing rule now gives 15 points instead of 10.
        cfg = config(d, broker, "restore-migrate", snap,
                     model=h.TINY_MODEL.replace("points: 10", "points: 15"))
        run = h.start_run(cfg)
        h.produce(prod, EV, b"L1", ev("L1", "e3", h.T0 + 3))
        h.flush(prod)
        got = scores(broker, 4)
        run.stop_ok()
        err = run.stderr_text()
        assert "restore_migrated" in err or "migrated to" in err, err
        ids = {}
        for i, v in got:
            assert ids.setdefault(i, v) == v, "id %s twice, other bytes" % i
        assert [i for i, _v in got] == [i for i, _v in first] + \
            ["L1/tiny/4"], got
        last = json.loads(got[-1][1])
        assert last["total"] == 30 + 15 and last["seq"] == 4, last
    finally:
        if run:
            run.kill()
        broker.stop()


def test_unusable_snapshots_stop_the_run():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        snap = os.path.join(d, "snaps")
        cfg = config(d, broker, "restore-refuse", snap)
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        h.produce(prod, EV, b"L1", ev("L1", "e0", h.T0))
        h.flush(prod)
        scores(broker, 1)
        run.stop_ok()
        files = [f for f in os.listdir(snap) if f.endswith(".lssnap")]
        assert files, os.listdir(snap)
        for f in files:
            with open(os.path.join(snap, f), "r+b") as fp:
                fp.seek(40)
                fp.write(b"\xff" * 8)
        run = h.start_run(cfg)
        rc = run.p.wait(60)
        run.t.join(5)
        err = run.stderr_text()
        assert rc == 1, (rc, err)
        assert "restore_refused" in err, err
        assert "partition 0" in err and "none usable" in err, err
        assert "snapshot.allow_reset" in err, err
        run = None
        cfg = config(d, broker, "restore-refuse", snap,
                     extra=", allow_reset: true")
        run = h.start_run(cfg)
        got = scores(broker, 2)   # e0 scored again, from an empty state
        assert got[0][0] == got[1][0] == "L1/tiny/1", got
        run.stop_ok()
        assert "restore_reset" in run.stderr_text(), run.stderr_text()
    finally:
        if run:
            run.kill()
        broker.stop()


def delete_records(bootstrap, topic, partition, before):
    libs = h.kafka_cluster_module().fetch(quiet=True)
    p = subprocess.run(
        ["java", "-Xshare:auto", "-Dlog4j2.level=WARN", "-cp",
         os.path.join(libs, "*"), os.path.join(HERE, "DeleteRecords.java"),
         bootstrap, topic, str(partition), str(before)],
        capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and ("LOW %d" % before) in p.stdout, p


def test_missing_history_stops_the_run():
    if h.BROKER_KIND != "kafka":
        return   # the test broker cannot delete records
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        snap = os.path.join(d, "snaps")
        prod = h.producer(broker.address)
        for i in range(6):
            h.produce(prod, EV, b"L1", ev("L1", "e%d" % i, h.T0 + i))
        h.flush(prod)
        delete_records(broker.address, EV, 0, 2)
        cfg = config(d, broker, "restore-history", snap)
        run = h.start_run(cfg)
        rc = run.p.wait(60)
        run.t.join(5)
        err = run.stderr_text()
        assert rc == 1, (rc, err)
        assert "restore_refused" in err and "no snapshot" in err, err
        assert "%s [0] begins at offset 2" % EV in err, err
        cfg = config(d, broker, "restore-history", snap,
                     extra=", allow_reset: true")
        run = h.start_run(cfg)
        got = scores(broker, 4)
        run.stop_ok()
        assert len(got) == 4, got
        assert "restore_reset" in run.stderr_text(), run.stderr_text()
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_model_edit_migrates_state,
            test_unusable_snapshots_stop_the_run,
            test_missing_history_stops_the_run])

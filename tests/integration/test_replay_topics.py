"""`leadscore replay` on topics of `leadscore broker` (4 partitions),
produced with confluent_kafka: earliest..latest, offset and time bounds
(counted by cause_id), saved state across partitions, the merge of events
and profiles by event time (ls_merge.h), --output-topic, and equality with
a live `leadscore run`."""
import datetime
import json
import re
import os
import subprocess

import lsharness as h

BROKERS = "mock kafka"

PARTS = 4
N = 40


def ev(lead, eid, t):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": "page_view", "occurred_at": t,
                       "properties": {"url": "https://x.test/pricing"}})


def produce_events(bootstrap, n=N, base=h.T0):
    """Produces n pricing views of 8 leads, event i at Kafka timestamp and
    event time base + i s. Returns {event_id: (partition, offset, ts)}."""
    prod = h.producer(bootstrap)
    where = {}

    def dr(err, msg):
        assert err is None, err
        eid = json.loads(msg.value())["event_id"]
        where[eid] = (msg.partition(), msg.offset(), msg.timestamp()[1])

    for i in range(n):
        lead = "L%d" % (i % 8)
        t = base + i * 1000
        prod.produce(h.TOPICS["events"], key=lead, value=ev(lead, "e%d" % i, t),
                     timestamp=t, on_delivery=dr)
    h.flush(prod)
    assert len(where) == n
    return where


def replay(args):
    p = subprocess.run([h.LEADSCORE, "replay", "--quiet"] + args,
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


def replay_verbose(args):
    """replay with its summary line on stderr (no progress line: stderr is
    not a terminal)."""
    p = subprocess.run([h.LEADSCORE, "replay"] + args, capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


def causes(out):
    recs = [json.loads(l) for l in out.splitlines()]
    return sorted(r["cause_id"] for r in recs if r["kind"] == "score_update"
                  and r["cause"] == "event")


def test_bounds():
    broker = h.Broker(partitions=PARTS)
    try:
        d = h.tmpdir()
        model = os.path.join(d, "model.yaml")
        with open(model, "w") as f:
            f.write(h.TINY_MODEL)
        where = produce_events(broker.address)
        assert len({p for p, _, _ in where.values()}) > 1, where
        common = ["--model", model, "--brokers", broker.address, "--topics",
                  "%s,%s" % (h.TOPICS["events"], h.TOPICS["profiles"])]

        rc, out, err = replay(common)
        assert rc == 0, err
        assert causes(out) == sorted(where), causes(out)
        rc2, out2, _ = replay(common + ["--threads", "1"])
        assert rc2 == 0 and out2 == out, "thread count changed the output"

        rc, out, err = replay(common + ["--from", "2", "--to", "5"])
        assert rc == 0, err
        want = sorted(e for e, (_p, o, _t) in where.items() if 2 <= o < 5)
        assert want and causes(out) == want, (causes(out), want)

        t_from = h.T0 + 10 * 1000
        t_to = datetime.datetime.fromtimestamp(
            (h.T0 + 30 * 1000) / 1000, datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        rc, out, err = replay(common + ["--from", "%dms" % t_from,
                                        "--to", t_to])
        assert rc == 0, err
        want = sorted("e%d" % i for i in range(10, 30))
        assert causes(out) == want, (causes(out), want)
        # Real Kafka resolves both time bounds through its time index, so
        # nothing outside them is fetched; the test broker has no time
        # index, and replay scans from the beginning and filters.
        rc, _out, err = replay_verbose(common + ["--from", "%dms" % t_from,
                                                 "--to", t_to])
        assert rc == 0, err
        if broker.kind == "kafka":
            assert "outside the time bounds" not in err, err
        else:
            assert re.search(r"; \d+ fetched outside the time bounds", err), err

        # Empty range: nothing scored, exit 0.
        rc, out, err = replay(common + ["--from", "latest"])
        assert rc == 64, err
        rc, out, err = replay(common + ["--from", "1000"])
        assert rc == 0 and out == b"", (rc, out, err)

        # Saved state of several partitions: a directory of
        # <partition>.state snapshot files; a second replay continues from
        # it as if the range had been replayed at once, and a corrupt file
        # is refused by name.
        state = os.path.join(d, "state")
        rc, _out, err = replay(common + ["--to", "5", "--save-state", state,
                                         "--output", os.devnull])
        assert rc == 0, err
        assert sorted(os.listdir(state)) == ["%d.state" % p
                                             for p in range(PARTS)], \
            os.listdir(state)
        rc, split, err = replay(common + ["--from", "5", "--snapshot", state,
                                          "--final-only"])
        assert rc == 0, err
        rc, whole, err = replay(common + ["--final-only"])
        assert rc == 0 and split == whole and whole, (split, whole, err)
        bad = os.path.join(state, "1.state")
        with open(bad, "r+b") as f:
            f.truncate(os.path.getsize(bad) - 1)
        rc, _out, err = replay(common + ["--from", "5", "--snapshot", state])
        assert rc == 1 and ("--snapshot %s: truncated" % bad) in err, (rc, err)

        # A bad record is reported with topic, partition and offset.
        prod = h.producer(broker.address)
        prod.produce(h.TOPICS["events"], key="L0", value=b"{oops",
                     timestamp=h.T0 + 100 * 1000)
        h.flush(prod)
        rc, out, err = replay(common)
        assert rc == 2, err
        assert "%s [" % h.TOPICS["events"] in err and "offset" in err, err
        assert causes(out) == sorted(where)

        # No broker there: an error naming the topic (the test broker
        # creates unknown topics on first use, so this is the error path).
        rc, out, err = replay(["--model", model, "--brokers", "127.0.0.1:1",
                               "--topics", "some-topic"])
        assert rc == 1 and "some-topic: metadata:" in err, (rc, err)
    finally:
        broker.stop()


def test_merge_order_and_output_topic():
    """A profile produced after an event but with an earlier timestamp is
    scored first: the event's total includes the fit points."""
    broker = h.Broker(partitions=PARTS)
    try:
        d = h.tmpdir()
        model = os.path.join(d, "model.yaml")
        with open(model, "w") as f:
            f.write(h.TINY_MODEL)
        prod = h.producer(broker.address)
        prod.produce(h.TOPICS["events"], key="P1", value=ev("P1", "p-e1",
                                                            h.T0 + 2000),
                     timestamp=h.T0 + 2000)
        h.flush(prod)
        prod.produce(h.TOPICS["profiles"], key="P1", value=json.dumps(
            {"kind": "profile", "lead_id": "P1", "updated_at": h.T0 + 1000,
             "attributes": {"industry": "saas"}}), timestamp=h.T0 + 1000)
        h.flush(prod)
        rc, out, err = replay(["--model", model, "--brokers", broker.address,
                               "--topics", "%s,%s" % (h.TOPICS["events"],
                                                      h.TOPICS["profiles"])])
        assert rc == 0, err
        recs = [json.loads(l) for l in out.splitlines()]
        assert [r["cause"] for r in recs] == ["profile", "event"], recs
        assert recs[1]["total"] == 30 and recs[1]["fit"] == 20, recs

        rc, out, err = replay(["--model", model, "--brokers", broker.address,
                               "--topics", "%s,%s" % (h.TOPICS["events"],
                                                      h.TOPICS["profiles"]),
                               "--output-topic", "replayed"])
        assert rc == 0 and out == b"", err
        got = h.consume_all(broker.address, ["replayed"], 2, 20, PARTS)
        assert len(got) == 2, got
        by_id = {r[5]["leadscore.id"]: r for r in got}
        assert set(by_id) == {"P1/tiny/1", "P1/tiny/2"}, by_id
        for r in got:
            assert r[3] == b"P1" and r[5]["leadscore.model"] == "tiny", r
            assert json.loads(r[4])["id"] == r[5]["leadscore.id"]
    finally:
        broker.stop()


def test_equal_to_live_pipeline():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="replay-live")
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        for i in range(8):
            lead = "L%d" % i
            if i % 2 == 0:
                prod.produce(h.TOPICS["profiles"], key=lead, value=json.dumps(
                    {"kind": "profile", "lead_id": lead,
                     "updated_at": h.T0, "attributes": {"industry": "saas"}}),
                    timestamp=h.T0)
        h.flush(prod)
        first = h.consume_all(broker.address, [h.TOPICS["scores"]], 4, 25,
                              PARTS)
        assert len(first) == 4, first
        for i in range(N):
            lead = "L%d" % (i % 8)
            t = h.T0 + 1000 + i * 1000
            etype_ev = ev(lead, "e%d" % i, t)
            if i % 5 == 0:
                etype_ev = etype_ev.replace("page_view", "demo_request")
            prod.produce(h.TOPICS["events"], key=lead, value=etype_ev,
                         timestamp=t)
        h.flush(prod)
        live = h.consume_all(broker.address,
                             [h.TOPICS["scores"], h.TOPICS["alerts"]],
                             N + 4, 30, PARTS)
        run.stop()
        run = None
        assert len(live) >= N + 4, len(live)
        rc, out, err = replay(["--config", cfg])
        assert rc == 0, err
        mine = out.splitlines()
        assert sorted(mine) == sorted(r[4] for r in live), "sets differ"
        # Per lead: the same sequence.
        def seqs(values):
            per = {}
            for v in values:
                b = json.loads(v)
                per.setdefault(b["lead_id"], []).append((b["seq"], b["id"]))
            return per
        live_by_pos = sorted(live, key=lambda r: (r[0], r[1], r[2]))
        lp = seqs(r[4] for r in live_by_pos if r[0] == h.TOPICS["scores"])
        mp = seqs(v for v in mine if b'"kind":"score_update"' in v)
        assert lp == mp, (lp, mp)
        assert any(b'"kind":"alert"' in v for v in mine)
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_bounds, test_merge_order_and_output_topic,
            test_equal_to_live_pipeline])

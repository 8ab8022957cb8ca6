"""Keys and partitions (docs/CONFIG.md): leadscore scores an input only
when its key is its lead id and the key is in the partition that Kafka's
murmur2 partitioner gives it. A producer with librdkafka's default
partitioner (CRC32: kcat, Python, C clients) puts keys elsewhere: those
inputs are dead-lettered with reason `partition` and a rate-limited
`misplaced_input` warning names the topic, partition and key; a key other
than the lead id, or none, is reason `key`. leadscore's own outputs land in
the murmur2 partition of their lead id. Input topics with different
partition counts, and an assignor that can split partition p of the two
topics, stop the run with a clear error. `leadscore replay` applies the
same rule, so it scores exactly what the live run scored."""
import json
import subprocess

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import lsharness as h

BROKERS = "mock kafka"

PARTS = 4
DL = h.TOPICS["dead_letters"]


def ev(lead, eid, t):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": "page_view", "occurred_at": t,
                       "properties": {"url": "https://x.test/pricing"}})


def crc32_partition(bootstrap, topic, key):
    """Where librdkafka's default partitioner puts key (produced there)."""
    got = []
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, key=key, value=b"probe",
              on_delivery=lambda e, m: got.append(m.partition()))
    p.flush(10)
    return got[0]


def test_keys_and_partitions():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="keys")
        run = h.start_run(cfg)
        run.wait_line("event=assigned", 40)
        # Leads that the two partitioners put in different partitions
        # (found by producing probes to a scratch topic).
        leads = []
        for i in range(40):
            lead = "K%d" % i
            crc = crc32_partition(broker.address, "probe-keys", lead)
            if crc != h.partition_of(lead, PARTS):
                leads.append((lead, crc))
            if len(leads) == 3:
                break
        assert len(leads) == 3, leads
        t = h.T0 + 3600 * 1000
        good = h.producer(broker.address)           # murmur2
        crc = Producer({"bootstrap.servers": broker.address})  # CRC32
        (a, _), (b, _), (c, c_crc) = leads
        h.produce(good, h.TOPICS["events"], a.encode(), ev(a, "a1", t))
        h.produce(good, h.TOPICS["events"], b.encode(), ev(b, "b1", t))
        h.flush(good)
        crc.produce(h.TOPICS["events"], key=c.encode(), value=ev(c, "c1", t))
        crc.produce(h.TOPICS["events"], key=c.encode(), value=ev(c, "c2", t))
        crc.flush(10)
        # key differs from lead_id / no key (in the lead's own partition)
        h.produce(good, h.TOPICS["events"], a.encode(), ev(b, "x1", t),
                  partition=h.partition_of(a, PARTS))
        good.produce(h.TOPICS["events"], value=ev(a, "x2", t),
                     partition=h.partition_of(a, PARTS))
        h.flush(good)

        recs = h.consume_all(broker.address, [h.TOPICS["scores"], DL], 6,
                             30, PARTS)
        scores = [r for r in recs if r[0] == h.TOPICS["scores"]]
        dls = [r for r in recs if r[0] == DL]
        assert sorted(json.loads(r[4])["cause_id"] for r in scores) == \
            ["a1", "b1"], scores
        for r in scores:  # outputs in the murmur2 partition of the lead
            assert r[1] == h.partition_of(r[3], PARTS), r
        reasons = sorted((hd["leadscore.reason"],
                          json.loads(json.loads(v)["value"])["event_id"])
                         for _t, _p, _o, _k, v, hd in dls)
        assert reasons == [("key", "x1"), ("key", "x2"),
                           ("partition", "c1"), ("partition", "c2")], reasons
        errors = {json.loads(json.loads(v)["value"])["event_id"]:
                  hd["leadscore.error"] for _t, _p, _o, _k, v, hd in dls}
        assert errors["x1"] == "record key '%s' differs from lead_id '%s'" \
            % (a, b), errors
        assert errors["x2"].startswith("record has no key"), errors
        assert ("key '%s' belongs to partition %d of %s's %d under the "
                "murmur2 partitioner, not %d"
                % (c, h.partition_of(c, PARTS), h.TOPICS["events"], PARTS,
                   c_crc)) in errors["c1"], errors
        # one warning for the two misplaced inputs (rate-limited)
        warns = [l for l in run.stderr_text().splitlines()
                 if "event=misplaced_input" in l]
        assert len(warns) == 1, warns
        assert "%s [%d]" % (h.TOPICS["events"], c_crc) in warns[0], warns
        run.stop_ok()

        # replay applies the same rule: it scores a1 and b1 only
        p = subprocess.run(
            [h.LEADSCORE, "replay", "--quiet", "--model",
             h.os.path.join(d, "model.yaml"), "--brokers", broker.address,
             "--topics", "%s,%s" % (h.TOPICS["events"],
                                    h.TOPICS["profiles"])],
            capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, p
        assert sorted(json.loads(l)["cause_id"] for l in
                      p.stdout.splitlines()) == ["a1", "b1"], p.stdout
        assert p.stderr.count("murmur2 partitioner") == 2, p.stderr
        assert p.stderr.count("differs from lead_id") == 1, p.stderr
    finally:
        if run:
            run.kill()
        broker.stop()


def test_topics_not_copartitioned():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        a = AdminClient({"bootstrap.servers": broker.address})
        for f in a.create_topics([NewTopic("ev-cp", 4, 1),
                                  NewTopic("pr-cp", 2, 1)]).values():
            f.result(30)
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="cp",
                             extra="topics: {events: ev-cp, profiles: "
                                   "pr-cp}\n")
        run = h.start_run(cfg)
        rc = run.p.wait(60)
        run.t.join(5)
        assert rc == 1, (rc, run.stderr_text())
        assert ("the input topics are not co-partitioned: ev-cp has 4 "
                "partitions and pr-cp has 2") in run.stderr_text(), \
            run.stderr_text()
    finally:
        if run:
            run.kill()
        broker.stop()


def test_assignor_that_splits_is_refused():
    d = h.tmpdir()
    for strategy in ("cooperative-sticky", "roundrobin"):
        cfg = h.write_config(
            d, "127.0.0.1:9", group="asg",
            extra="  partition.assignment.strategy: %s\n" % strategy)
        p = subprocess.run([h.LEADSCORE, "run", "--config", cfg],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1, p
        assert ("partition.assignment.strategy '%s' can assign partition p "
                "of lead-events and of lead-profiles to different members; "
                "leadscore needs 'range'" % strategy) in p.stderr, p.stderr


if __name__ == "__main__":
    tests = [test_keys_and_partitions, test_assignor_that_splits_is_refused]
    # librdkafka 2.0.2's test broker cannot create a topic with its own
    # partition count (CreateTopics times out), so the mismatch needs
    # real Kafka.
    if h.BROKER_KIND == "kafka":
        tests.append(test_topics_not_copartitioned)
    h.main(tests)

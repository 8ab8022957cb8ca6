"""`leadscore run` catching up on a backlog: the profiles of two
partitions are produced first, in one burst, then the events, so that
record timestamps (produce times) say nothing about the payloads' event
times, which span weeks and interleave profiles and events. With the
default lateness (1h) nothing may be dead-lettered, and the outputs must
equal `leadscore score` run per partition on that partition's inputs
merged by event time (events first on ties)."""
import json
import random
import re
import subprocess

import lsharness as h

BROKERS = "mock kafka"

PARTS = 2
LEADS = 12
DAY = 86_400_000


def inputs(seed):
    """Per partition: (events, profiles), each in event-time order."""
    rng = random.Random(seed)
    per = [([], []) for _ in range(PARTS)]
    n = 0
    for i in range(LEADS):
        lead = "L%02d" % i
        evs, profs = per[h.partition_of(lead, PARTS)]
        t = h.T0 + rng.randrange(0, 3 * DAY)
        for k in range(rng.randrange(8, 16)):
            # spread over ~6 weeks, hours to days apart
            t += rng.randrange(3_600_000, 4 * DAY)
            if rng.random() < 0.25:
                profs.append({"kind": "profile", "lead_id": lead,
                              "updated_at": t,
                              "attributes": {"industry": rng.choice(
                                  ["SaaS", "retail", "saas", "bank"])}})
            else:
                n += 1
                etype = rng.choice(["page_view", "page_view",
                                    "demo_request"])
                props = ({"url": rng.choice(["https://x.test/pricing",
                                             "https://x.test/blog"])}
                         if etype == "page_view" else {})
                evs.append({"kind": "event", "lead_id": lead,
                            "event_id": "e%d" % n, "event_type": etype,
                            "occurred_at": t, "properties": props})
    for evs, profs in per:
        evs.sort(key=lambda r: r["occurred_at"])
        profs.sort(key=lambda r: r["updated_at"])
    return per


def merged(evs, profs):
    """The inputs of one partition in (event time, events first, per-topic
    order) order, computed independently of the pipeline."""
    keyed = [(r["occurred_at"], 0, i, r) for i, r in enumerate(evs)]
    keyed += [(r["updated_at"], 1, i, r) for i, r in enumerate(profs)]
    return [k[3] for k in sorted(keyed, key=lambda k: k[:3])]


def expected(d, evs, profs):
    """`leadscore score` on one partition's merged inputs: the outputs."""
    path = "%s/merged.jsonl" % d
    with open(path, "w") as f:
        for r in merged(evs, profs):
            f.write(json.dumps(r) + "\n")
    p = subprocess.run([h.LEADSCORE, "score", "--model",
                        "%s/model.yaml" % d, "--input", path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines() if line]


def by_lead(outs):
    """Outputs per (lead, score update or alert), in their order. An output
    produced again (a rebalance after a stall of the machine longer than
    the session timeout replays from the shard's snapshot) must repeat its
    id with the same content, and counts once."""
    got, seen = {}, {}
    for o in outs:
        if o["id"] in seen:
            assert seen[o["id"]] == o, (
                "output id %s reused with other content:\n%s\n%s"
                % (o["id"], seen[o["id"]], o))
            continue
        seen[o["id"]] = o
        # An alert from a topic names its input record's Kafka timestamp
        # (record_time, and backfill from it); `leadscore score` reads a
        # file, whose lines have none: compared without them.
        o = {k: v for k, v in o.items()
             if k not in ("record_time", "backfill")}
        got.setdefault((o["lead_id"], o["kind"]), []).append(o)
    return got


def test_backlog_merged_by_event_time():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d = h.tmpdir()
        # merge_wait above the fetch stalls of a loaded machine (ASan,
        # parallel tests): a release on expiry is the one case where the
        # order depends on timing (docs/DURABILITY.md, condition (b))
        # snapshot=None: state kept (in d), so that a rebalance cannot
        # reset it
        cfg = h.write_config(d, broker.address, group="backlog",
                             extra="merge_wait: 10s\n", snapshot=None)
        per = inputs(7)
        prod = h.producer(broker.address)
        n_in = 0
        # Profiles first, then events: produce order (and so the record
        # timestamps) is the opposite of event-time order.
        for topic, idx in (("profiles", 1), ("events", 0)):
            for p in range(PARTS):
                for r in per[p][idx]:
                    h.produce(prod, h.TOPICS[topic], r["lead_id"].encode(),
                              json.dumps(r), partition=p)
                    n_in += 1
        h.flush(prod)

        want = []
        for p in range(PARTS):
            want += expected(d, per[p][0], per[p][1])
        assert len(want) > 2 * LEADS, len(want)

        run = h.start_run(cfg)
        recs = h.consume_all(broker.address,
                             [h.TOPICS["scores"], h.TOPICS["alerts"]],
                             len(want), 40, PARTS)
        if len({json.loads(r[4])["id"] for r in recs}) < len(want):
            # repeated outputs (see by_lead) filled the count: read again
            recs = h.consume_all(broker.address,
                                 [h.TOPICS["scores"], h.TOPICS["alerts"]],
                                 len(recs) + 1, 20, PARTS)
        dead = h.consume_all(broker.address, [h.TOPICS["dead_letters"]], 1,
                             2, PARTS)
        run.stop_ok()
        assert dead == [], "dead letters: %r" % [
            (r[5].get("leadscore.reason"), r[5].get("leadscore.error"))
            for r in dead[:5]]
        assert "dead letters 0" in run.stderr_text(), run.stderr_text()
        # profiles produced in order are never stale
        assert "stale profiles 0," in run.stderr_text(), run.stderr_text()
        # (more after a rebalance: the records since the snapshot again)
        consumed = re.search(r"stopped: consumed (\d+),", run.stderr_text())
        assert consumed and int(consumed.group(1)) >= n_in, \
            run.stderr_text()

        got = by_lead([json.loads(r[4]) for r in recs])
        exp = by_lead(want)
        assert sorted(got) == sorted(exp), (sorted(got), sorted(exp))
        for lead in exp:
            assert got[lead] == exp[lead], (
                "lead %s: pipeline outputs differ from leadscore score on "
                "the inputs merged by event time:\n got %s\nwant %s\n"
                "run's log:\n%s"
                % (lead, got[lead], exp[lead], run.stderr_text()))
    finally:
        if run:
            run.kill()
        broker.kill()


if __name__ == "__main__":
    h.main([test_backlog_merged_by_event_time])

"""The lead cap (max_leads, docs/CONFIG.md): each partition holds at most
its share of max_leads, and at its cap `leadscore run` refuses new leads
only. Their inputs go to the dead-letter topic with reason `capacity`,
the leads it holds go on scoring, stream time does not move, and no
output id is reused. A restart under a lower cap keeps every restored
lead (no crash loop) and refuses only new ones. Without max_leads the cap
is sized from the memory limit and logged."""
import json
import os
import re

import lsharness as h

BROKERS = "mock kafka"

EV = h.TOPICS["events"]
SC = h.TOPICS["scores"]
DL = h.TOPICS["dead_letters"]


def ev(lead, eid, t):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": "page_view", "occurred_at": t,
                       "properties": {"url": "https://x.test/pricing"}})


def config(d, broker, extra):
    return h.write_config(d, broker.address, group="leadcap", snapshot=None,
                          extra="snapshot: {dir: \"%s\"}\n%s"
                                % (os.path.join(d, "snaps"), extra))


def outputs(broker, want):
    recs = h.consume_all(broker.address, [SC, DL], want, 30)
    sc = [(r[5]["leadscore.id"], json.loads(r[4])) for r in recs
          if r[0] == SC]
    dl = [(r[3].decode(), r[5]["leadscore.reason"], r[5]["leadscore.error"],
           int(r[5]["leadscore.source.offset"])) for r in recs if r[0] == DL]
    return sc, dl


def test_cap_refuses_new_leads_only():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        run = h.start_run(config(d, broker, "max_leads: 5\n"))
        prod = h.producer(broker.address)
        t = h.T0
        # offsets 0-9: ten new leads; 10-14: A0..A4 again; 15: A7 again
        for i in range(10):
            h.produce(prod, EV, b"A%d" % i, ev("A%d" % i, "a%d" % i, t + i))
        for i in range(5):
            h.produce(prod, EV, b"A%d" % i, ev("A%d" % i, "b%d" % i, t + 20))
        # far later in event time: a refused event moves no stream time
        h.produce(prod, EV, b"A7", ev("A7", "c7", t + 3 * 3600 * 1000))
        h.produce(prod, EV, b"A0", ev("A0", "d0", t + 30))
        h.flush(prod)
        sc, dl = outputs(broker, 11 + 6)
        run.stop_ok()
        err = run.stderr_text()
        assert sorted(i for i, _o in sc) == sorted(
            ["A%d/tiny/1" % i for i in range(5)] +
            ["A%d/tiny/2" % i for i in range(5)] + ["A0/tiny/3"]), sc
        # d0 (30 ms after T0) was not late: the refused c7 moved nothing
        assert dict(sc)["A0/tiny/3"]["total"] == 30, sc
        assert sorted((k, o) for k, _r, _e, o in dl) == sorted(
            [("A%d" % i, i) for i in range(5, 10)] + [("A7", 15)]), dl
        for _k, reason, error, _o in dl:
            assert reason == "capacity", dl
            assert "cap of 5 leads" in error and "max_leads" in error, dl
        assert "event=lead_cap " in err and "at most 5 leads" in err, err
        assert "lead_cap_reached" in err, err
        assert len(re.findall("lead_cap_reached", err)) == 1, err  # limited

        # A restart under a lower cap: the five restored leads stay and
        # score on; a new one is refused; nothing crashes.
        run = h.start_run(config(d, broker, "max_leads: 2\n"))
        h.produce(prod, EV, b"A1", ev("A1", "e1", t + 40))
        h.produce(prod, EV, b"N1", ev("N1", "n1", t + 41))
        h.flush(prod)
        sc2, dl2 = outputs(broker, len(sc) + len(dl) + 2)
        run.stop_ok()
        new = [(i, o) for i, o in sc2 if i not in dict(sc)]
        assert [i for i, _o in new] == ["A1/tiny/3"], sc2
        assert new[0][1]["total"] == 30, new
        assert ("N1", "capacity") in [(k, r) for k, r, _e, _o in dl2], dl2
        seen = {}
        for i, o in sc2:
            assert seen.setdefault(i, o) == o, "id %s reused" % i
    finally:
        if run:
            run.kill()
        broker.stop()


def test_cap_is_per_partition():
    """max_leads 4 over 2 partitions: 2 each, whatever the other holds, so
    that a partition refuses the same inputs wherever it is scored."""
    broker = h.Broker(partitions=2)
    run = None
    try:
        d = h.tmpdir()
        run = h.start_run(config(d, broker, "max_leads: 4\n"))
        leads = {0: [], 1: []}
        i = 0
        while len(leads[0]) < 3 or not leads[1]:
            lead = "P%d" % i
            leads[h.partition_of(lead, 2)].append(lead)
            i += 1
        sent = leads[0][:3] + leads[1][:1]
        prod = h.producer(broker.address)
        for n, lead in enumerate(sent):
            h.produce(prod, EV, lead.encode(), ev(lead, "x%d" % n, h.T0 + n))
        h.flush(prod)
        recs = h.consume_all(broker.address, [SC, DL], len(sent), 30, 2)
        run.stop_ok()
        scored = sorted(json.loads(r[4])["lead_id"] for r in recs
                        if r[0] == SC)
        refused = [r[3].decode() for r in recs if r[0] == DL]
        # 3 leads held in all, below 4, yet partition 0's third is refused
        assert scored == sorted(leads[0][:2] + leads[1][:1]), recs
        assert refused == [leads[0][2]], recs
        assert "partition's cap of 2 leads" in \
            recs[[r[0] for r in recs].index(DL)][5]["leadscore.error"], recs
    finally:
        if run:
            run.kill()
        broker.stop()


def test_cap_auto_from_memory():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        run = h.start_run(config(d, broker, ""))
        line = run.wait_line("event=lead_cap ", 60)
        run.stop_ok()
        m = re.search(r"at most (\d+) leads over all partitions, each "
                      r"partition its share \(max_leads: auto\): half of "
                      r"the memory limit of (\d+) bytes \(([^)]*)\) at "
                      r"about (\d+) bytes per lead", line)
        assert m, line
        cap, limit, per = int(m.group(1)), int(m.group(2)), int(m.group(4))
        assert limit > 0 and per > 64, line
        assert cap == limit // 2 // per, line
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_cap_refuses_new_leads_only, test_cap_is_per_partition,
            test_cap_auto_from_memory])

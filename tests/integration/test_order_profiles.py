"""Profiles are facts, not events (issue 10, item 4), on a running
`leadscore run` with examples/model.yaml (lateness 1h), 4 partitions:

  - backfill: the events of examples/events.jsonl (and of one more lead
    whose profile is 9 days older than its events) are produced first and
    consumed; then their profile updates are produced, as a CRM backfill
    would. Their updated_at times are hours to weeks behind the stream
    time of their partitions. Every profile update must be applied: no
    dead letter, a score update caused by each (each changes a fit), and
    the final fit and grade of every lead and model are those of the same
    inputs scored in event time (`leadscore score`): lead-ada, lead-eve
    and lead-gus are grade A for office, lead-chen for phone;
  - stale updates: a profile update whose updated_at is older than the
    update already applied to that lead is skipped (not applied, not
    dead-lettered), whether it is within the lateness (5 minutes older)
    or far behind it (2 days older), while a newer update that follows
    it is applied. The outputs of those leads are then exactly those of
    their inputs without the stale updates, and the skips are counted
    (leadscore_stale_profiles_total)."""
import json

import lsharness as h
import opsutil as o
import order_common as oc

BROKERS = "mock kafka"
TIMEOUT = 300

PARTS = 4
BROKER = None
HOUR = 60 * oc.MINUTE
DAY = 24 * HOUR


def gus_inputs():
    """A lead whose CRM record is 9 days older than its first event."""
    t = 1772359200000  # 2026-03-01T10:00:00Z
    ev = [("gus-1", "page_view", "office",
           {"url": "https://www.example.com/pricing"}),
          ("gus-2", "webinar_attend", "office", {"webinar": "w2"}),
          ("gus-3", "demo_request", "office", {"form_id": "demo"})]
    recs = [oc.Rec("event", "lead-gus", t + i * 20 * oc.MINUTE,
                   {"event_id": e, "event_type": et, "product": p,
                    "properties": props})
            for i, (e, et, p, props) in enumerate(ev)]
    recs.append(oc.Rec("profile", "lead-gus", t - 9 * DAY, {
        "industry": "saas", "employees": "250", "seniority": "director",
        "title": "Director of Operations", "country": "de",
        "phone": "+49 30 5555 0100"}))
    return recs


def start(name, topics):
    d = h.tmpdir()
    cfg = oc.write_config(d, BROKER.address, "g-" + name, topics,
                          metrics=True)
    run = oc.start_run(cfg, name)
    run.wait_line("event=assigned", 60)
    return run, o.metrics_port(run)


def finals(outs):
    """{(lead, model): (fit, grade)} of the last score update of each."""
    res = {}
    for r in outs:
        if r["kind"] == "score_update":
            res[(r["lead_id"], r["model"])] = (r["fit"], r["grade"])
    return res


def decoded(outs):
    return [json.loads(x.value) for x in outs]


def dead_letters(bootstrap, topics, what):
    """[] or a description of the dead letters (whose profile updates)."""
    dead = oc.read_topic(bootstrap, topics["dead_letters"], PARTS)
    if not dead:
        return []
    n_prof = sum(1 for x in dead if oc.header(
        x, "leadscore.source.topic") == topics["profiles"])
    return ["%d of %s were dead-lettered; %s"
            % (n_prof, what, oc.dead_letter_summary(dead))]


def test_backfill():
    bootstrap = BROKER.address
    topics = oc.topic_set("pfb")
    recs = sorted(oc.example_inputs() + gus_inputs(), key=lambda r: r.time)
    events = [r for r in recs if r.kind == "event"]
    profiles = [r for r in recs if r.kind == "profile"]
    # The profile updates are far behind their partition's stream time
    # when they arrive (all events are in by then).
    stream = {}
    for r in events:
        p = h.partition_of(r.lead, PARTS)
        stream[p] = max(stream.get(p, 0), r.time)
    behind = [(r.lead, stream.get(h.partition_of(r.lead, PARTS), 0) - r.time)
              for r in profiles]
    h.log("profile updates, hours behind their partition's last event: %s"
          % [(lead, ms // HOUR) for lead, ms in behind])
    assert sum(1 for _l, ms in behind if ms > oc.LATENESS_MS) >= 6, behind

    run, port = start("pfb", topics)
    try:
        enc = oc.Encoder("json")
        oc.produce(bootstrap, events, topics, enc, pace="batch")
        oc.wait_caught_up(bootstrap, "g-pfb", topics, PARTS, 60, [run])
        before = decoded(oc.read_topic(bootstrap, topics["scores"], PARTS))
        oc.produce(bootstrap, profiles, topics, enc, pace="batch")
        oc.wait_caught_up(bootstrap, "g-pfb", topics, PARTS, 60, [run])
        problems = dead_letters(bootstrap, topics, "the %d profile updates"
                                % len(profiles))
        scores = decoded(oc.read_topic(bootstrap, topics["scores"], PARTS))
        samples, _ = o.scrape(port)
        late = o.value(samples, "leadscore_dead_letters_total", reason="late")
        if late != 0:
            problems.append("leadscore_dead_letters_total{reason=late} = %s"
                            % late)

        # Every profile update is applied: per lead and model, at least
        # as many score updates caused by profiles as when the same inputs
        # are scored in event time (a profile update changes the same fit
        # rules whenever it comes).
        offline = [json.loads(x) for x in oc.score_inputs(recs)]

        def by_profile(outs):
            n = {}
            for x in outs:
                if x["kind"] == "score_update" and x["cause"] == "profile":
                    k = (x["lead_id"], x["model"])
                    n[k] = n.get(k, 0) + 1
            return n

        seen = {b["id"] for b in before}
        want_n = by_profile(offline)
        got_n = by_profile(x for x in scores if x["id"] not in seen)
        problems += ["%s/%s: %d score updates caused by profile updates, "
                     "want %d" % (k[0], k[1], got_n.get(k, 0), n)
                     for k, n in sorted(want_n.items())
                     if got_n.get(k, 0) < n]

        # The final fit and grade are those of the inputs in event time.
        want = finals(offline)
        got = finals(scores)
        problems += ["final %s/%s (fit, grade) %s, want %s"
                     % (k[0], k[1], got.get(k), v)
                     for k, v in sorted(want.items()) if got.get(k) != v]
        for lead, model in [("lead-ada", "office"), ("lead-eve", "office"),
                            ("lead-gus", "office"), ("lead-chen", "phone")]:
            if got.get((lead, model), (0, None))[1] != "A":
                problems.append("%s is grade %s for %s, want A"
                                % (lead, got.get((lead, model), (0, None))[1],
                                   model))
        assert not problems, "profile backfill:\n" + "\n".join(problems)
        oc.stop_run(run)
        run = None
    finally:
        if run:
            run.kill()


def test_stale_skipped():
    bootstrap = BROKER.address
    topics = oc.topic_set("pfs")
    t = oc.T0 + 10 * DAY
    enc = oc.Encoder("json")

    def ev(lead, eid, when, url="https://www.example.com/pricing"):
        return oc.Rec("event", lead, when, {
            "event_id": eid, "event_type": "page_view", "product": "office",
            "properties": {"url": url}})

    def prof(lead, when, **attrs):
        return oc.Rec("profile", lead, when, attrs)

    first = [ev("stale-1", "s1-1", t), ev("stale-2", "s2-1", t),
             prof("stale-1", t + 10 * oc.MINUTE, industry="software",
                  employees="300", seniority="vp", title="VP Sales",
                  phone="+1 555 0100"),
             prof("stale-2", t + 20 * oc.MINUTE, industry="saas",
                  employees="60", seniority="director"),
             ev("stale-1", "s1-2", t + 30 * oc.MINUTE,
                "https://www.example.com/demo"),
             ev("stale-2", "s2-2", t + 40 * oc.MINUTE)]
    # Older than the update applied to the lead: 5 minutes (within the
    # lateness) and 2 days (far behind it). Applied, each would lower the
    # fit (grade A -> D).
    stale = [prof("stale-1", t + 5 * oc.MINUTE, title="Student",
                  employees="5", phone=""),
             prof("stale-2", t - 2 * DAY, industry="retail", employees="5",
                  email="x@gmail.com")]
    # Newer than every update: applied (country_core +5).
    newer = [prof("stale-1", t + 50 * oc.MINUTE, country="gb"),
             prof("stale-2", t + 55 * oc.MINUTE, country="us")]

    run, port = start("pfs", topics)
    try:
        oc.produce(bootstrap, first, topics, enc, pace="trickle")
        oc.wait_caught_up(bootstrap, "g-pfs", topics, PARTS, 60, [run])
        oc.produce(bootstrap, stale, topics, enc, pace="trickle")
        oc.wait_caught_up(bootstrap, "g-pfs", topics, PARTS, 60, [run])
        oc.produce(bootstrap, newer, topics, enc, pace="trickle")
        oc.wait_caught_up(bootstrap, "g-pfs", topics, PARTS, 60, [run])
        problems = dead_letters(bootstrap, topics,
                                "the %d stale profile updates" % len(stale))

        # The outputs are those of the same inputs without the stale ones.
        scores = decoded(oc.read_topic(bootstrap, topics["scores"], PARTS))
        for lead in ("stale-1", "stale-2"):
            recs = sorted((r for r in first + newer if r.lead == lead),
                          key=lambda r: r.time)
            want = [(x["id"], x["cause"], x["fit"], x["grade"], x["total"])
                    for x in map(json.loads, oc.score_inputs(recs))
                    if x["kind"] == "score_update"]
            got = [(x["id"], x["cause"], x["fit"], x["grade"], x["total"])
                   for x in scores if x["lead_id"] == lead]
            if got != want:
                problems.append("%s: score updates (id, cause, fit, grade, "
                                "total)\n    got  %s\n    want %s (the stale "
                                "update skipped)" % (lead, got, want))

        samples, body = o.scrape(port)
        # leadscore_stale_profiles_total counts the profile updates
        # skipped as stale (docs/OPERATIONS.md).
        stale_n = o.value(samples, "leadscore_stale_profiles_total")
        if stale_n != len(stale):
            problems.append(
                "leadscore_stale_profiles_total = %s, want %d; series "
                "naming stale: %s" % (stale_n, len(stale),
                                      [l for l in body.splitlines()
                                       if "stale" in l
                                       and not l.startswith("#")]))
        assert not problems, "stale profile updates:\n" + \
            "\n".join(problems)
        oc.stop_run(run)
        run = None
    finally:
        if run:
            run.kill()


if __name__ == "__main__":
    BROKER = h.Broker(partitions=PARTS, topics=list(
        oc.topic_set("pfb").values()) + list(oc.topic_set("pfs").values()))
    try:
        h.main([test_backfill, test_stale_skipped])
    finally:
        BROKER.stop()

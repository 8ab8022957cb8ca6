"""Helpers of the durability tests (test_durability_*.py): a keyed input
stream with per-lead sequence numbers, run configs with snapshots, a
reference run, and the exactly-once checks on the outputs.

The checks read the output topics with confluent_kafka (an independent
client), drop records whose `leadscore.id` header was already seen (the
contract for downstream consumers, docs/DURABILITY.md) and require that
  - a repeated id always carries the same bytes (same key, same value),
  - the de-duplicated outputs are exactly those of a reference run,
  - every event was scored exactly once (score updates by cause_id),
  - every alert of the reference is there exactly once,
  - the last output of every lead (its final state) is the reference's.
"""
import collections
import json
import os
import random
import subprocess
import time

from confluent_kafka import Consumer, TopicPartition

import lsharness as h

PARTS = 4
LEADS = 40

# Decay ticks between a lead's events, fit from profiles, MQL in and out.
MODEL = """\
lateness: 30d
models:
  - id: dur
    fit:
      rules:
        - {id: saas, attribute: industry, equals: saas, points: 20}
    engagement:
      rules:
        - {id: pricing, event: page_view, when: {url: {glob: "*/pricing*"}}, points: 10}
        - {id: demo, event: demo_request, points: 25}
      decay: {half_life: 1d, tick: 6h}
    grades:
      - {name: A, min: 20}
      - {name: B}
    bands:
      - {name: cold}
      - {name: warm, min: 30}
      - {name: hot, min: 60}
    mql:
      enter: {min_total: 70}
      stay: {min_total: 40}
"""


def make_inputs(n_events, seed, t0=h.T0, start=0, seqs=None, profiles=True):
    """Returns [(topic, key, value, timestamp_ms)] in time order: events
    with ids "<lead>-<seq>" (per-lead sequence numbers) and, every 9th
    record, a profile update. `seqs` carries the per-lead counters across
    calls. Without `profiles`, events only: a chunk produced while a run
    consumes then cannot race the other topic (see the merge rule in
    docs/DURABILITY.md)."""
    rnd = random.Random(seed)
    seqs = seqs if seqs is not None else collections.Counter()
    out = []
    for i in range(start, start + n_events):
        t = t0 + i * 10 * 60 * 1000  # 10 minutes apart
        lead = "D%02d" % rnd.randrange(LEADS)
        if profiles and i % 9 == 4:
            out.append((h.TOPICS["profiles"], lead, json.dumps({
                "kind": "profile", "lead_id": lead, "updated_at": t,
                "attributes": {"industry": rnd.choice(["saas", "retail"])}}),
                t))
            continue
        seqs[lead] += 1
        if rnd.random() < 0.15:
            ev = {"kind": "event", "lead_id": lead,
                  "event_id": "%s-%d" % (lead, seqs[lead]),
                  "event_type": "demo_request", "occurred_at": t}
        else:
            ev = {"kind": "event", "lead_id": lead,
                  "event_id": "%s-%d" % (lead, seqs[lead]),
                  "event_type": "page_view", "occurred_at": t,
                  "properties": {"url": "https://x.test/pricing"}}
        out.append((h.TOPICS["events"], lead, json.dumps(ev), t))
    return out


def produce_inputs(bootstrap, recs):
    """Produces in order, with the event time as the record timestamp
    (the merge of the two input topics orders by it)."""
    prod = h.producer(bootstrap)
    for topic, key, value, t in recs:
        prod.produce(topic, key=key.encode(), value=value, timestamp=t)
        prod.poll(0)
    h.flush(prod)


def event_ids(recs):
    return [json.loads(v)["event_id"] for t, k, v, ts in recs
            if t == h.TOPICS["events"]]


def write_config(tmpdir, bootstrap, group, snapdir, scores=None, alerts=None,
                 extra="", interval="300ms", every_events=150, merge_wait="10s",
                 session_ms=4000):
    model = os.path.join(tmpdir, "model.yaml")
    with open(model, "w") as f:
        f.write(MODEL)
    path = os.path.join(tmpdir, "config-%s.yaml" % group)
    with open(path, "w") as f:
        f.write("""\
model: model.yaml
group: %s
schemas: %s
topics: {scores: %s, alerts: %s}
commit_interval: 200ms
merge_wait: %s
snapshot: {dir: %s, interval: %s, every_events: %d, keep: 3}
%skafka:
  bootstrap.servers: "%s"
consumer:
  session.timeout.ms: %d
  heartbeat.interval.ms: 500
%s""" % (group, h.SCHEMAS, scores or h.TOPICS["scores"],
         alerts or h.TOPICS["alerts"], merge_wait, snapdir, interval,
         every_events, h.workers_line(extra), bootstrap, session_ms, extra))
    return path


def wait_caught_up(bootstrap, group, timeout, procs=()):
    """Waits until the group's committed offsets reach the end of both
    input topics (commits happen only once snapshots cover them)."""
    deadline = time.monotonic() + timeout
    ends = {t: h.end_offsets(bootstrap, t, PARTS)
            for t in (h.TOPICS["events"], h.TOPICS["profiles"])}
    while time.monotonic() < deadline:
        ok = True
        for t, end in ends.items():
            com = h.committed(bootstrap, group, t, PARTS)
            # an empty partition never gets a commit
            if any(e > 0 and c != e for c, e in zip(com, end)):
                ok = False
        if ok:
            return
        time.sleep(0.5)
    msg = "group %s did not catch up within %ss: ends %s committed %s" % (
        group, timeout, ends,
        {t: h.committed(bootstrap, group, t, PARTS) for t in ends})
    for p in procs:
        text = "\n".join(l for l in p.stderr_text().splitlines()
                         if not l.startswith("%"))
        msg += "\n--- %s:\n%s" % (p.name, text[-6000:])
    raise AssertionError(msg)


def read_topic(bootstrap, topics, partitions=PARTS):
    """Everything in the topics (all partitions), up to the end offsets."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsverify",
                  "enable.auto.commit": False})
    ends = {}
    for t in topics:
        for p in range(partitions):
            ends[(t, p)] = c.get_watermark_offsets(TopicPartition(t, p),
                                                   timeout=10)[1]
    c.assign([TopicPartition(t, p, 0) for (t, p), e in ends.items() if e > 0])
    want = {k: e for k, e in ends.items() if e > 0}
    got = collections.defaultdict(list)
    deadline = time.monotonic() + 60
    try:
        while want and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            hdrs = dict((k, v.decode()) for k, v in (m.headers() or []))
            got[m.topic()].append((hdrs.get("leadscore.id"), m.key(),
                                   m.value()))
            k = (m.topic(), m.partition())
            if k in want and m.offset() + 1 >= want[k]:
                del want[k]
    finally:
        c.close()
    assert not want, "could not read to the end of %s" % want
    return got


def dedupe(records, what):
    """Drops repeated ids; a repeat must be byte-identical. Returns
    ({id: (key, value)}, number of repeats)."""
    seen = {}
    repeats = 0
    for oid, key, value in records:
        assert oid, "%s: a record without leadscore.id" % what
        if oid in seen:
            repeats += 1
            assert seen[oid] == (key, value), (
                "%s: id %s re-emitted with other bytes:\n%r\n%r"
                % (what, oid, seen[oid], (key, value)))
        else:
            seen[oid] = (key, value)
    return seen, repeats


def check_exactly_once(bootstrap, ev_ids, ref_topics, topics=None):
    """The assertions of the module docstring. Returns the number of
    repeated records that dedupe dropped."""
    topics = topics or (h.TOPICS["scores"], h.TOPICS["alerts"])
    got = read_topic(bootstrap, list(topics) + list(ref_topics))
    total_repeats = 0
    for mine, ref in zip(topics, ref_topics):
        seen, repeats = dedupe(got[mine], mine)
        ref_seen, ref_repeats = dedupe(got[ref], ref)
        assert ref_repeats == 0, "the reference run repeated %d" % ref_repeats
        missing = sorted(set(ref_seen) - set(seen))
        extra = sorted(set(seen) - set(ref_seen))
        assert not missing, "%s: %d outputs missing, e.g. %s" % (
            mine, len(missing), missing[:5])
        assert not extra, "%s: %d outputs not in the reference, e.g. %s" % (
            mine, len(extra), extra[:5])
        for oid, kv in ref_seen.items():
            assert seen[oid] == kv, "%s: %s differs:\n%r\n%r" % (
                mine, oid, seen[oid], kv)
        total_repeats += repeats
        if mine == topics[0]:
            causes = collections.Counter(
                json.loads(v)["cause_id"] for k, v in seen.values()
                if json.loads(v)["cause"] == "event")
            not_once = {e: causes[e] for e in ev_ids if causes[e] != 1}
            assert not not_once, "events not scored exactly once: %s" % (
                list(not_once.items())[:10])
            assert set(causes) == set(ev_ids)
            decays = sum(1 for k, v in seen.values()
                         if json.loads(v)["cause"] == "decay")
            assert decays > 0, "the stream should make decay fire"
            # final state per lead: its last score update
            last, ref_last = {}, {}
            for src, dst in ((seen, last), (ref_seen, ref_last)):
                for oid, (k, v) in src.items():
                    o = json.loads(v)
                    if o["seq"] > dst.get(k, (0, None))[0]:
                        dst[k] = (o["seq"], v)
            assert last == ref_last
        else:
            assert len(ref_seen) > 0, "the stream should raise alerts"
    return total_repeats


def reference_run(bootstrap, tmpdir, ev_ids_unused=None, timeout=90,
                  extra=""):
    """Runs one uninterrupted member (group "ref") that writes to the
    ref-scores / ref-alerts topics, until it has caught up."""
    snap = os.path.join(tmpdir, "ref-snaps")
    cfg = write_config(tmpdir, bootstrap, "ref", snap, scores="ref-scores",
                       alerts="ref-alerts", extra=extra)
    r = h.start_run(cfg, "reference")
    try:
        wait_caught_up(bootstrap, "ref", timeout, [r])
        rc = r.stop()
        assert rc == 0, "reference exit %s:\n%s" % (rc, r.stderr_text())
    finally:
        r.kill()
    return ("ref-scores", "ref-alerts")


def snapshots(snapdir):
    try:
        return sorted(f for f in os.listdir(snapdir) if f.endswith(".lssnap"))
    except FileNotFoundError:
        return []


def inspect(path):
    return subprocess.run([h.LEADSCORE, "snapshot", "inspect", path],
                          capture_output=True, text=True)


# -- the same on other topics (several tests sharing one cluster) ----------

def on_topics(recs, topics):
    """recs of make_inputs moved to the input topics topics["events"],
    topics["profiles"]."""
    move = {h.TOPICS["events"]: topics["events"],
            h.TOPICS["profiles"]: topics["profiles"]}
    return [(move[t], k, v, ts) for t, k, v, ts in recs]


def write_config_on(tmpdir, bootstrap, group, snapdir, topics, **kw):
    """write_config with every topic taken from `topics` (the keys of
    h.TOPICS)."""
    path = write_config(tmpdir, bootstrap, group, snapdir,
                        scores=topics["scores"], alerts=topics["alerts"], **kw)
    with open(path) as f:
        text = f.read()
    line = "topics: {scores: %s, alerts: %s}\n" % (topics["scores"],
                                                   topics["alerts"])
    assert line in text, text
    text = text.replace(line, "topics: {events: %s, profiles: %s, scores: %s, "
                        "alerts: %s, dead_letters: %s}\n"
                        % (topics["events"], topics["profiles"],
                           topics["scores"], topics["alerts"],
                           topics["dead_letters"]))
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_caught_up_on(bootstrap, group, inputs, timeout, procs=()):
    """wait_caught_up for the input topics `inputs` (names)."""
    deadline = time.monotonic() + timeout
    ends = {t: h.end_offsets(bootstrap, t, PARTS) for t in inputs}
    com = {}
    while time.monotonic() < deadline:
        com = {t: h.committed(bootstrap, group, t, PARTS) for t in ends}
        if all(e == 0 or c == e for t, end in ends.items()
               for c, e in zip(com[t], end)):
            return
        time.sleep(0.5)
    msg = "group %s did not catch up within %ss: ends %s committed %s" % (
        group, timeout, ends, com)
    for p in procs:
        text = "\n".join(l for l in p.stderr_text().splitlines()
                         if not l.startswith("%"))
        msg += "\n--- %s:\n%s" % (p.name, text[-6000:])
    raise AssertionError(msg)


def reference_run_on(bootstrap, tmpdir, topics, group, timeout=90):
    """reference_run on the inputs of `topics`, as group `group`, writing
    to <group>-scores / <group>-alerts (which must exist). Returns those
    two names."""
    outs = dict(topics, scores=group + "-scores", alerts=group + "-alerts")
    cfg = write_config_on(tmpdir, bootstrap, group,
                          os.path.join(tmpdir, group + "-snaps"), outs)
    r = h.start_run(cfg, "reference")
    try:
        wait_caught_up_on(bootstrap, group,
                          (topics["events"], topics["profiles"]), timeout, [r])
        rc = r.stop()
        assert rc == 0, "reference exit %s:\n%s" % (rc, r.stderr_text())
    finally:
        r.kill()
    return (outs["scores"], outs["alerts"])

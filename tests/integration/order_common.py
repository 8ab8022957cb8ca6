"""Helpers of the input-order tests (test_order_*.py): a two-topic input
stream for examples/model.yaml in event-time order, its encodings (JSON,
Avro, registry framing), producers with different pacing, run configs
with their own topic names, waiting until a group has consumed
everything, and byte-level comparisons of output topics.

Record timestamps are left to the producer (the produce time), as most
producers do: the order of the inputs is given by their payloads' event
times (occurred_at / updated_at), never by the Kafka record timestamp.
"""
import collections
import json
import re
import os
import random
import subprocess
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

import lsharness as h

EXAMPLE_MODEL = os.path.join(h.SOURCE_DIR, "examples", "model.yaml")
EXAMPLE_INPUTS = os.path.join(h.SOURCE_DIR, "examples", "events.jsonl")
LATENESS_MS = 3600 * 1000  # examples/model.yaml: lateness: 1h
MINUTE = 60 * 1000
T0 = 1767571200000  # 2026-01-05T00:00:00Z

Rec = collections.namedtuple("Rec", "kind lead time body")

# ------------------------------------------------------------------ inputs

_ATTRS = {
    "industry": ["software", "saas", "finance", "retail", "insurance"],
    "employees": ["5", "60", "300", "1500"],
    "country": ["us", "gb", "de", "br"],
    "seniority": ["vp", "director", "staff"],
    "title": ["VP Sales", "head of it", "IT Manager", "Marketing Manager",
              "Student", "Procurement Lead"],
    "email": ["a@corp.example", "b@gmail.com", "c@northwind.example"],
    "department": ["it", "procurement", "marketing"],
    "phone": ["+1 555 0100", ""],
}

# (weight, event_type, product, properties)
_EVENTS = [
    (20, "page_view", "office", {"url": "https://www.example.com/pricing"}),
    (8, "page_view", "office", {"url": "https://www.example.com/demo"}),
    (6, "page_view", "suite", {"url": "https://www.example.com/docs/api"}),
    (5, "page_view", None, {"url": "https://www.example.com/blog/x"}),
    (8, "page_view", "phone",
     {"url": "https://www.example.com/phones/desk-pricing"}),
    (5, "page_view", "phone",
     {"url": "https://shop.example.com/configure?model=x3"}),
    (2, "page_view", None, {"url": "https://www.example.com/careers"}),
    (8, "email_open", None, {"campaign": "c1"}),
    (6, "email_click", None, {"campaign": "c1",
                              "seconds_since_delivery": "SSD"}),
    (4, "form_submit", "office", {"form_id": "contact"}),
    (4, "form_submit", "phone", {"form_id": "quote"}),
    (4, "demo_request", "office", {"form_id": "demo"}),
    (3, "demo_request", "phone", {"form_id": "phone-demo"}),
    (3, "webinar_attend", "office", {"webinar": "w1"}),
    (2, "trial_started", "office", {}),
]


def make_inputs(seed, leads=12, n=190, t0=T0, profile_share=0.18,
                prefix="ord"):
    """[Rec] in event-time order, all times distinct: events of many types
    for both example models (caps, hot leads, MQL in and out, phone
    decay ticks over the ~3 days covered) and partial profile updates
    interleaved with them. A few events repeat an earlier event id of
    their lead (dropped as duplicates)."""
    rnd = random.Random(seed)
    names = ["%s-%02d" % (prefix, i) for i in range(leads)]
    seq = collections.Counter()
    last_ids = {}
    out = []
    t = t0
    weights = [w for w, *_ in _EVENTS]
    for i in range(n):
        t += rnd.randint(3, 40) * MINUTE + rnd.randint(1, 999)
        lead = rnd.choice(names)
        if rnd.random() < profile_share or (i < leads and i % 3 == 0):
            k = rnd.randint(1, 4)
            attrs = {a: rnd.choice(_ATTRS[a])
                     for a in rnd.sample(sorted(_ATTRS), k)}
            out.append(Rec("profile", lead, t, attrs))
            continue
        _w, etype, product, props = rnd.choices(_EVENTS, weights)[0]
        props = dict(props)
        if "seconds_since_delivery" in props:
            props["seconds_since_delivery"] = str(rnd.choice([1, 2, 90,
                                                               5400]))
        if lead in last_ids and rnd.random() < 0.03:
            eid = last_ids[lead]  # a repeat: dropped as a duplicate
        else:
            seq[lead] += 1
            eid = "%s-e%d" % (lead, seq[lead])
            last_ids[lead] = eid
        out.append(Rec("event", lead, t, {"event_id": eid,
                                          "event_type": etype,
                                          "product": product,
                                          "properties": props}))
    return out


def example_inputs():
    """examples/events.jsonl as [Rec] (file order), times in ms."""
    import datetime
    out = []
    with open(EXAMPLE_INPUTS) as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            ts = d["occurred_at"] if d["kind"] == "event" else d["updated_at"]
            ms = int(datetime.datetime.strptime(
                ts, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp() * 1000)
            if d["kind"] == "event":
                out.append(Rec("event", d["lead_id"], ms, {
                    "event_id": d["event_id"],
                    "event_type": d["event_type"],
                    "product": d.get("product"),
                    "properties": {k: str(v) for k, v in
                                   d.get("properties", {}).items()}}))
            else:
                out.append(Rec("profile", d["lead_id"], ms,
                               {k: str(v) for k, v in
                                d["attributes"].items()}))
    return out


def to_json(rec):
    """The JSON object of an input (what `leadscore score` reads)."""
    if rec.kind == "event":
        d = {"kind": "event", "lead_id": rec.lead,
             "event_id": rec.body["event_id"],
             "event_type": rec.body["event_type"], "occurred_at": rec.time}
        if rec.body.get("product"):
            d["product"] = rec.body["product"]
        d["properties"] = rec.body["properties"]
        return d
    return {"kind": "profile", "lead_id": rec.lead, "updated_at": rec.time,
            "attributes": rec.body}


class Encoder:
    """Encodes inputs as `fmt`: json, avro (plain binary) or registry
    (framed with the ids EVENT_ID / PROFILE_ID of the registry stand-in,
    see registry())."""

    EVENT_ID, PROFILE_ID = 31, 32

    def __init__(self, fmt):
        self.fmt = fmt
        if fmt != "json":
            self.ev = h.avro_schema("lead_event.avsc")
            self.pr = h.avro_schema("lead_profile.avsc")

    def __call__(self, rec):
        if self.fmt == "json":
            return json.dumps(to_json(rec)).encode()
        if rec.kind == "event":
            data = h.avro_encode(self.ev, {
                "lead_id": rec.lead, "event_id": rec.body["event_id"],
                "event_type": rec.body["event_type"],
                "occurred_at": h.ts(rec.time),
                "product": rec.body.get("product"),
                "properties": rec.body["properties"]})
            sid = self.EVENT_ID
        else:
            data = h.avro_encode(self.pr, {
                "lead_id": rec.lead, "updated_at": h.ts(rec.time),
                "attributes": rec.body})
            sid = self.PROFILE_ID
        return h.framed(sid, data) if self.fmt == "registry" else data


def registry(max_seconds=400):
    """The registry stand-in serving the two input schemas under the ids
    Encoder frames with."""
    return h.Registry({
        Encoder.EVENT_ID: os.path.join(h.SCHEMAS, "lead_event.avsc"),
        Encoder.PROFILE_ID: os.path.join(h.SCHEMAS, "lead_profile.avsc")},
        max_seconds=max_seconds)


# ------------------------------------------------------------------ topics

def topic_set(prefix):
    """Topic names of one run: {events, profiles, scores, alerts,
    dead_letters}."""
    return {"events": prefix + "-events", "profiles": prefix + "-profiles",
            "scores": prefix + "-scores", "alerts": prefix + "-alerts",
            "dead_letters": prefix + "-dead"}


def write_config(d, bootstrap, group, topics, fmt_in="json",
                 fmt_out="json", registry_url=None, consumer=None,
                 merge_wait="10s", metrics=False, model=EXAMPLE_MODEL,
                 workers=None, extra=""):
    """A `leadscore run` config in directory d (its own file and snapshot
    directory per group). consumer: extra librdkafka consumer properties
    ({name: value}); merge_wait: 10s by default, above the fetch stalls of
    a loaded machine (a release on expiry is the one case where the order
    depends on timing, docs/DURABILITY.md); None: leadscore's default.
    workers: scoring threads, h.WORKERS by default; extra: more lines."""
    lines = [
        "model: %s" % model,
        "group: %s" % group,
        "schemas: %s" % h.SCHEMAS,
        "format: {input: %s, output: %s}" % (fmt_in, fmt_out),
        "topics: {events: %s, profiles: %s, scores: %s, alerts: %s, "
        "dead_letters: %s}" % (topics["events"], topics["profiles"],
                               topics["scores"], topics["alerts"],
                               topics["dead_letters"]),
        "commit_interval: 200ms",
        # Durable state as in production, in the run's own directory;
        # snapshots often, as input offsets are committed only as far as
        # a snapshot covers (wait_caught_up() waits for those commits).
        "snapshot: {dir: %s, interval: 200ms}"
        % os.path.join(d, "state-" + group),
    ]
    if merge_wait is not None:
        lines.append("merge_wait: %s" % merge_wait)
    lines.append("workers: %d" % (workers or h.WORKERS))
    if extra:
        lines.append(extra.rstrip("\n"))
    if registry_url:
        lines.append('registry: {url: "%s"}' % registry_url)
    if metrics:
        lines.append('metrics: {listen: "127.0.0.1:0"}')
    lines += ["kafka:", '  bootstrap.servers: "%s"' % bootstrap,
              "consumer:", "  session.timeout.ms: 6000",
              "  heartbeat.interval.ms: 500"]
    for k, v in (consumer or {}).items():
        lines.append("  %s: %s" % (k, v))
    path = os.path.join(d, "config-%s.yaml" % group)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------- producing

def producer(bootstrap):
    """h.producer(): murmur2, idempotent."""
    return h.producer(bootstrap)


def produce(bootstrap, recs, topics, enc, pace="batch", seed=0,
            sleep_ms=(2, 12)):
    """Produces recs in their order, keyed by lead id, murmur2-partitioned
    (producer()), with the produce time as record timestamp.

    pace:
      batch    everything, then one flush
      trickle  one record at a time: produce, flush (acknowledged before
               the next is sent), sleep a random time in sleep_ms
      split    one producer per topic; the records still go out one at a
               time in recs' order, each flushed by its own producer
               before the next (the topics take turns as the data says)
      burst    runs of 1-25 records, flushed together, random sleeps
               between the runs; a run only spans one topic (a flush of
               records of both topics would not fix their order)
    """
    rnd = random.Random(seed)
    prods = {"events": producer(bootstrap)}
    prods["profiles"] = (producer(bootstrap) if pace == "split"
                         else prods["events"])

    def nap():
        time.sleep(rnd.uniform(*sleep_ms) / 1000.0)

    i = 0
    while i < len(recs):
        if pace == "burst":
            n = rnd.randint(1, 25)
            kind = recs[i].kind
            j = i
            while j < len(recs) and j - i < n and recs[j].kind == kind:
                j += 1
            chunk = recs[i:j]
        else:
            chunk = recs[i:i + 1] if pace != "batch" else recs
        for r in chunk:
            topic = "events" if r.kind == "event" else "profiles"
            prods[topic].produce(topics[topic], key=r.lead.encode(),
                                 value=enc(r))
            prods[topic].poll(0)
        for p in {id(p): p for p in prods.values()}.values():
            h.flush(p)
        i += len(chunk)
        if pace != "batch":
            nap()


class Feeder(threading.Thread):
    """produce() in a thread (while `leadscore run` consumes); .join()
    re-raises its error."""

    def __init__(self, *args, **kw):
        super().__init__(daemon=True)
        self.args, self.kw, self.error = args, kw, None

    def run(self):
        try:
            produce(*self.args, **self.kw)
        except Exception as e:  # noqa: BLE001 - re-raised by join()
            self.error = e

    def join(self, timeout=120):
        super().join(timeout)
        assert not self.is_alive(), "the producer thread did not finish"
        if self.error:
            raise self.error


# ---------------------------------------------------------------- waiting

def ends(bootstrap, topic, parts):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsorder"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p),
                                        timeout=10)[1]
                for p in range(parts)]
    finally:
        c.close()


def committed(bootstrap, group, topic, parts):
    """The group's committed offsets of topic's partitions, or None while
    they cannot be read (Kafka's group coordinator is still loading)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        res = c.committed([TopicPartition(topic, p) for p in range(parts)],
                          timeout=10)
        return [tp.offset for tp in res]
    except KafkaException as e:
        h.log("committed offsets of %s: %s (retried)" % (group, e))
        return None
    finally:
        c.close()


def wait_caught_up(bootstrap, group, topics, parts, timeout, procs=()):
    """Waits until the group's committed offsets reach the end of both
    input topics: every input then has been applied and all its outputs
    acknowledged by the broker (docs/CONFIG.md, offset commits)."""
    want = {t: ends(bootstrap, t, parts)
            for t in (topics["events"], topics["profiles"])}
    deadline = time.monotonic() + timeout
    com, dead = {}, []
    while True:
        com = {t: committed(bootstrap, group, t, parts) for t in want}
        if all(com[t] is not None and all(e == 0 or c == e for c, e in
                                          zip(com[t], want[t]))
               for t in want):
            return
        dead = [p.name for p in procs if p.p.poll() is not None]
        if dead or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    msg = "group %s did not catch up within %ss: ends %s committed %s" % (
        group, timeout, want, com)
    if dead:
        msg += " (%s exited)" % ", ".join(dead)
    for p in procs:
        msg += "\n--- %s:\n%s" % (p.name, quiet_stderr(p)[-4000:])
    raise AssertionError(msg)


def quiet_stderr(proc):
    """A process's stderr without librdkafka's own '%' lines."""
    return "\n".join(l for l in proc.stderr_text().splitlines()
                     if not l.startswith("%"))


def start_run(cfg, name):
    return h.Proc([h.LEADSCORE, "run", "--config", cfg], name)


def stop_run(run):
    """Stops a run (SIGTERM), requires exit 0; returns its summary line
    (`stopped: consumed N, applied N, ...`)."""
    rc = run.stop()
    assert rc == 0, "%s: exit %s; stderr:\n%s" % (run.name, rc,
                                                 quiet_stderr(run)[-6000:])
    for line in reversed(run.stderr_text().splitlines()):
        if "stopped: consumed" in line:
            return line
    raise AssertionError("%s: no summary line; stderr:\n%s"
                         % (run.name, quiet_stderr(run)[-4000:]))


# ---------------------------------------------------------------- outputs

Out = collections.namedtuple("Out", "partition offset key value headers")


def read_topic(bootstrap, topic, parts, timeout=60):
    """Every record of topic up to its current end: [Out], in (partition,
    offset) order; headers as a sorted tuple of (name, value str)."""
    end = ends(bootstrap, topic, parts)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lsorder",
                  "enable.auto.commit": False})
    want = {p: e for p, e in enumerate(end) if e > 0}
    got = []
    try:
        if want:
            c.assign([TopicPartition(topic, p, 0) for p in want])
        deadline = time.monotonic() + timeout
        while want and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            hdrs = tuple(sorted((k, v.decode() if v is not None else None)
                                for k, v in (m.headers() or [])))
            got.append(Out(m.partition(), m.offset(), m.key(), m.value(),
                           hdrs))
            if m.partition() in want and m.offset() + 1 >= want[m.partition()]:
                del want[m.partition()]
    finally:
        c.close()
    assert not want, "could not read %s to its end: %s" % (topic, want)
    got.sort(key=lambda o: (o.partition, o.offset))
    return got


def header(out, name):
    for k, v in out.headers:
        if k == name:
            return v
    return None


def by_id(outs, what):
    """{leadscore.id: (key, value, headers)}; a clean run (no crash, no
    rebalance) produces every id once."""
    res = {}
    for o in outs:
        oid = header(o, "leadscore.id")
        assert oid, "%s: a record without leadscore.id: %r" % (what, o)
        assert oid not in res, "%s: id %s produced twice" % (what, oid)
        res[oid] = (o.key, o.value, o.headers)
    return res


def lead_order(outs):
    """{key: [leadscore.id, ...]} in the order the records have in their
    partition (all records of one key are in one partition)."""
    res = collections.defaultdict(list)
    for o in outs:  # sorted by (partition, offset)
        res[o.key].append(header(o, "leadscore.id"))
    return dict(res)


def _show(value, decode=None):
    if value is None:
        return "None"
    if decode is not None:
        try:
            return json.dumps(decode(value), default=str)[:300]
        except Exception:  # noqa: BLE001 - shown raw then
            pass
    try:
        return value.decode()[:300]
    except UnicodeDecodeError:
        return repr(value)[:300]


def avro_decoder(what):
    """Decodes an Avro score update ("scores") or alert ("alerts") value,
    for messages."""
    schema = h.avro_schema("score_update.avsc" if what == "scores"
                           else "alert.avsc")
    return lambda v: h.avro_decode(schema, v)


def diff_outputs(ref, got, ref_name, got_name, what, decode=None,
                 headers=True):
    """None when the two lists of output records have the same ids with
    the same key, value and headers (without headers: key and value),
    and every lead the same sequence of ids; else a readable description
    of the first differences (values shown through decode, when given)."""
    a, b = by_id(ref, "%s %s" % (ref_name, what)), by_id(
        got, "%s %s" % (got_name, what))
    if not headers:
        a = {i: v[:2] for i, v in a.items()}
        b = {i: v[:2] for i, v in b.items()}
    missing = sorted(set(a) - set(b))
    extra = sorted(set(b) - set(a))
    differ = sorted(i for i in set(a) & set(b) if a[i] != b[i])
    lines = []
    if missing or extra or differ:
        lines.append("%s: %d outputs in %s, %d in %s: %d only in %s, %d "
                     "only in %s, %d with other bytes"
                     % (what, len(a), ref_name, len(b), got_name,
                        len(missing), ref_name, len(extra), got_name,
                        len(differ)))
        for i in missing[:2]:
            lines.append("  only in %s: %s" % (ref_name,
                                               _show(a[i][1], decode)))
        for i in extra[:2]:
            lines.append("  only in %s: %s" % (got_name,
                                               _show(b[i][1], decode)))
        for i in differ[:2]:
            lines.append("  %s differs:\n    %s: %s\n    %s: %s"
                         % (i, ref_name, _show(a[i][1], decode),
                            got_name, _show(b[i][1], decode)))
    la, lb = lead_order(ref), lead_order(got)
    bad = sorted(k for k in set(la) | set(lb) if la.get(k) != lb.get(k))
    if bad:
        lines.append("%s: %d of %d leads with another sequence of ids, "
                     "e.g. %s:\n    %s: %s\n    %s: %s"
                     % (what, len(bad), len(set(la) | set(lb)),
                        _show(bad[0]), ref_name, la.get(bad[0]), got_name,
                        lb.get(bad[0])))
    return "\n".join(lines) if lines else None


def dead_letter_summary(outs):
    """'N dead letters: late x3, ...; first: TOPIC [P] @O: error'."""
    reasons = collections.Counter(header(o, "leadscore.reason") for o in outs)
    first = ["%s [%s] @%s (%s): %s" % (
        header(o, "leadscore.source.topic"),
        header(o, "leadscore.source.partition"),
        header(o, "leadscore.source.offset"), _show(o.key),
        header(o, "leadscore.error")) for o in outs[:6]]
    return "%d dead letters (%s); first:\n  %s" % (
        len(outs), ", ".join("%s x%d" % kv for kv in sorted(reasons.items())),
        "\n  ".join(first))


def run_outputs(bootstrap, topics, parts):
    """{scores, alerts, dead_letters: [Out]} of a run."""
    return {k: read_topic(bootstrap, topics[k], parts)
            for k in ("scores", "alerts", "dead_letters")}


def score_inputs(recs, model=EXAMPLE_MODEL):
    """`leadscore score` (one shard, the given order) on recs: its output
    lines (bytes, without the newline)."""
    text = "".join(json.dumps(to_json(r)) + "\n" for r in recs)
    p = subprocess.run([h.LEADSCORE, "score", "--model", model],
                       input=text.encode(), capture_output=True, timeout=60)
    assert p.returncode == 0, "score: exit %d: %s" % (
        p.returncode, p.stderr.decode()[-2000:])
    return p.stdout.splitlines()

def merged(recs, parts):
    """{partition: [Rec]}: each partition's inputs in the order the merge
    of docs/DURABILITY.md applies them: (event time, events first, offset
    within the topic)."""
    res = collections.defaultdict(list)
    for r in recs:
        res[h.partition_of(r.lead, parts)].append(r)
    for p in res:
        res[p].sort(key=lambda r: (r.time, r.kind != "event"))
    return res


def as_offline(outs):
    """outs as `leadscore score` would give them from a file: an alert
    read from a topic names its input record's Kafka timestamp
    (record_time, and backfill measured from it), which a line of a file
    does not have; those two fields are set as for a file, byte for byte
    (JSON values)."""
    return [o._replace(value=re.sub(
        rb'"record_time":-?\d+,"backfill":(?:true|false)',
        b'"record_time":null,"backfill":false', o.value)) for o in outs]


def offline_outputs(recs, parts, model=EXAMPLE_MODEL):
    """What a run over recs must produce (JSON output): `leadscore score`
    (the same engine, no Kafka) on every partition's inputs in merge
    order, one shard each. {"scores": [Out], "alerts": [Out]} with the
    leadscore.id header only."""
    res = {"scores": [], "alerts": []}
    for p, prec in sorted(merged(recs, parts).items()):
        for n, value in enumerate(score_inputs(prec, model)):
            o = json.loads(value)
            res["scores" if o["kind"] == "score_update" else "alerts"].append(
                Out(p, n, o["lead_id"].encode(), value,
                    (("leadscore.id", o["id"]),)))
    return res

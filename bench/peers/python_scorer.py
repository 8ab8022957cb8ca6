#!/usr/bin/python3
"""A straightforward Python lead scorer: the peer leadscore is measured against.

What a team would write instead of leadscore with the usual libraries
(confluent-kafka, avro, PyYAML from Debian): consume LeadEvent / LeadProfile
Avro records, score them with the default model file (a faithful subset of
docs/MODEL.md: ignore filters, product routing, duplicate event ids, fit and
engagement rules with every condition operator, rule and category caps in
epoch-aligned tumbling windows, engagement floor/max, fit min/max, grades,
bands, MQL enter/stay), and produce a ScoreUpdate Avro record per model whose
score changed. Decay and hot-lead alerts are left out.

    python_scorer.py --brokers HOST:PORT --group G --expect N \
        [-X name=value ...] [--out TOPIC]

Prints one JSON result line (events/s from the first message to the last
delivery), like the C benchmarks.
"""
import argparse
import datetime
import fnmatch
import io
import json
import os
import re
import sys
import time

import avro.io
import avro.schema
import yaml
from confluent_kafka import Consumer, Producer

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))

UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000}


def duration(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", str(s).strip())
    return int(m.group(1)) * UNITS[m.group(2)]


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_ms(t):
    """python3-avro reads timestamp-millis as an aware datetime."""
    if isinstance(t, datetime.datetime):
        return (t - EPOCH) // datetime.timedelta(milliseconds=1)
    return t


def from_ms(ms):
    return EPOCH + datetime.timedelta(milliseconds=ms)


def load_schema(name):
    with open(os.path.join(SRC, "schemas", name)) as f:
        return avro.schema.parse(f.read())


class Cond:
    """One condition of docs/MODEL.md: equals, in, prefix, glob, regex,
    range, in_list, exists; with not."""

    def __init__(self, spec, lists):
        if not isinstance(spec, dict):
            spec = {"equals": spec}
        self.neg = bool(spec.get("not", False))
        self.lists = lists
        for op in ("equals", "in", "prefix", "glob", "regex", "range", "in_list", "exists"):
            if op in spec:
                self.op, self.arg = op, spec[op]
                break
        if self.op in ("equals", "prefix", "glob"):
            self.arg = str(self.arg).lower()
        elif self.op == "in":
            self.arg = {str(x).lower() for x in self.arg}
        elif self.op == "regex":
            self.arg = re.compile(self.arg, re.I)

    def test(self, value):
        if self.op == "exists":
            r = bool(value) == bool(self.arg)
            return r != self.neg
        if value is None:
            return self.neg
        v = value.lower()
        if self.op == "equals":
            r = v == self.arg
        elif self.op == "in":
            r = v in self.arg
        elif self.op == "prefix":
            r = v.startswith(self.arg)
        elif self.op == "glob":
            r = fnmatch.fnmatchcase(v, self.arg)
        elif self.op == "regex":
            r = self.arg.search(value) is not None
        elif self.op == "range":
            try:
                x = float(v)
                r = ((self.arg.get("min") is None or x >= self.arg["min"]) and
                     (self.arg.get("max") is None or x <= self.arg["max"]))
            except ValueError:
                r = False
        else:  # in_list
            r = v.rsplit("@", 1)[-1] in self.lists[self.arg]
        return r != self.neg


def conds(spec, lists, key="field"):
    if not spec:
        return []
    if isinstance(spec, list):  # ignore: [{field: x, glob: y}]
        return [(c[key], Cond({k: v for k, v in c.items() if k != key}, lists)) for c in spec]
    return [(f, Cond(c, lists)) for f, c in spec.items()]


class Model:
    def __init__(self, m, lists):
        self.id = m["id"]
        self.products = set(m.get("products") or [])
        fit = m.get("fit", {})
        self.fit_min, self.fit_max = fit.get("min", -10**9), fit.get("max", 10**9)
        self.fit_rules = [(r["id"], r["attribute"], Cond(r, lists), r["points"])
                          for r in fit.get("rules", [])]
        eng = m.get("engagement", {})
        self.floor, self.max = eng.get("floor", 0), eng.get("max", 10**9)
        self.cats = {}
        for name, c in (eng.get("categories") or {}).items():
            cap = (c or {}).get("cap")
            self.cats[name] = cap
        self.rules = {}
        for r in eng.get("rules", []):
            self.rules.setdefault(r["event"], []).append(
                (r["id"], conds(r.get("when"), lists), conds(r.get("unless"), lists),
                 r["points"], r.get("category"), r.get("cap")))
        self.grades = m["grades"]
        self.bands = m["bands"]
        mql = m.get("mql", {})
        self.enter, self.stay = mql.get("enter", {}), mql.get("stay", {})

    def grade(self, fit):
        for i, g in enumerate(self.grades):
            if g.get("min") is None or fit >= g["min"]:
                return i
        return len(self.grades) - 1

    def band(self, eng):
        b = 0
        for i, x in enumerate(self.bands):
            if x.get("min") is None or eng >= x["min"]:
                b = i
        return b

    def is_mql(self, crit, total, g, b):
        if "min_total" in crit and total < crit["min_total"]:
            return False
        if "min_grade" in crit and g > [x["name"] for x in self.grades].index(crit["min_grade"]):
            return False
        if "min_band" in crit and b < [x["name"] for x in self.bands].index(crit["min_band"]):
            return False
        return True


def cap_take(caps, slot, cap, t, pts):
    """Epoch-aligned tumbling windows; count caps count firings, points caps
    points. Returns the points allowed."""
    per = duration(cap["per"]) if "per" in cap else None
    start = (t // per) * per if per else 0
    ws, used = caps.get(slot, (start, 0))
    if ws != start:
        ws, used = start, 0
    if "count" in cap:
        if used >= cap["count"]:
            return 0
        caps[slot] = (ws, used + 1)
        return pts
    room = cap["points"] - used
    allowed = max(0, min(pts, room)) if pts > 0 else pts
    caps[slot] = (ws, used + max(0, allowed))
    return allowed


class Scorer:
    def __init__(self, path):
        with open(path) as f:
            ms = yaml.safe_load(f)
        base = os.path.dirname(path)
        self.lists = {}
        for name, p in (ms.get("lists") or {}).items():
            with open(os.path.join(base, p)) as f:
                self.lists[name] = {l.strip().lower() for l in f
                                    if l.strip() and not l.startswith("#")}
        self.lateness = duration(ms.get("lateness", "1h"))
        self.dedupe = ms.get("dedupe", 8)
        self.ignore = conds(ms.get("ignore"), self.lists)
        self.models = [Model(m, self.lists) for m in ms["models"]]
        self.leads = {}

    def lead(self, lead_id):
        st = self.leads.get(lead_id)
        if st is None:
            st = {"attrs": {}, "ids": [], "m": [
                {"fit": 0, "eng": 0, "seq": 0, "mql": False, "caps": {}} for _ in self.models]}
            self.leads[lead_id] = st
        return st

    def update(self, m, s, lead_id, t, cause_id, reasons, prev):
        total = s["fit"] + s["eng"]
        g, b = m.grade(s["fit"]), m.band(s["eng"])
        s["mql"] = m.is_mql(m.stay if s["mql"] else m.enter, total, g, b)
        s["seq"] += 1
        return {"id": "%s/%s/%d" % (lead_id, m.id, s["seq"]), "lead_id": lead_id,
                "model": m.id, "model_version": "python-peer", "seq": s["seq"], "time": t,
                "cause": "event" if cause_id is not None else "profile", "cause_id": cause_id,
                "total": total, "fit": s["fit"], "engagement": s["eng"], "prev_total": prev,
                "grade": m.grades[g]["name"], "band": m.bands[b]["name"],
                "cell": "%s%d" % (m.grades[g]["name"], b + 1), "mql": s["mql"],
                "reasons": reasons,
                # a points model's: no probability, no features
                "probability": None, "features": []}

    def event(self, ev):
        props = ev["properties"]
        for f, c in self.ignore:
            if c.test(props.get(f)):
                return []
        st = self.lead(ev["lead_id"])
        if ev["event_id"]:
            if ev["event_id"] in st["ids"]:
                return []
            st["ids"].append(ev["event_id"])
            del st["ids"][:-self.dedupe]
        outs = []
        for mi, m in enumerate(self.models):
            if ev["product"] and m.products and ev["product"] not in m.products:
                continue
            s = st["m"][mi]
            prev = s["fit"] + s["eng"]
            reasons = []
            for rid, when, unless, pts, cat, cap in m.rules.get(ev["event_type"], ()):
                if not all(c.test(props.get(f)) for f, c in when):
                    continue
                if unless and all(c.test(props.get(f)) for f, c in unless):
                    continue
                got = pts
                if cap:
                    got = cap_take(s["caps"], rid, cap, ev["occurred_at"], got)
                if cat and m.cats.get(cat):
                    got = cap_take(s["caps"], "cat:" + cat, m.cats[cat], ev["occurred_at"], got)
                new = min(m.max, max(m.floor, s["eng"] + got))
                got = new - s["eng"]
                s["eng"] = new
                reasons.append({"kind": "rule", "rule": rid, "points": got, "capped": pts - got})
            if reasons and s["fit"] + s["eng"] != prev or any(r["points"] for r in reasons):
                outs.append(self.update(m, s, ev["lead_id"], ev["occurred_at"],
                                        ev["event_id"], reasons, prev))
        return outs

    def profile(self, pr):
        st = self.lead(pr["lead_id"])
        for k, v in pr["attributes"].items():
            if v:
                st["attrs"][k] = v
            else:
                st["attrs"].pop(k, None)
        outs = []
        for mi, m in enumerate(self.models):
            s = st["m"][mi]
            fit = 0
            reasons = []
            for rid, attr, c, pts in m.fit_rules:
                if c.test(st["attrs"].get(attr)):
                    fit += pts
                    reasons.append({"kind": "fit", "rule": rid, "points": pts, "capped": 0})
            fit = min(m.fit_max, max(m.fit_min, fit))
            if fit != s["fit"]:
                prev = s["fit"] + s["eng"]
                s["fit"] = fit
                outs.append(self.update(m, s, pr["lead_id"], pr["updated_at"], None,
                                        reasons, prev))
        return outs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--group", default="python-peer")
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--out", default="bench-py-scores")
    ap.add_argument("--model", default=os.path.join(SRC, "examples", "model.yaml"))
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--tag", default="")
    ap.add_argument("-X", action="append", default=[])
    args = ap.parse_args()

    t0 = time.monotonic()
    scorer = Scorer(args.model)
    r_event = avro.io.DatumReader(load_schema("lead_event.avsc"))
    r_profile = avro.io.DatumReader(load_schema("lead_profile.avsc"))
    w_score = avro.io.DatumWriter(load_schema("score_update.avsc"))
    conf = {"bootstrap.servers": args.brokers, "group.id": args.group,
            "auto.offset.reset": "earliest", "enable.auto.commit": False}
    for x in args.X:
        k, v = x.split("=", 1)
        conf[k] = v
    consumer = Consumer(conf)
    producer = Producer({"bootstrap.servers": args.brokers, "linger.ms": 5,
                         "enable.idempotence": True})
    consumer.subscribe(["lead-events", "lead-profiles"])
    n = outs = 0
    t_first = None
    while n < args.expect and time.monotonic() - t0 < args.timeout:
        msgs = consumer.consume(1000, 0.1)
        for msg in msgs:
            if msg.error():
                continue
            if t_first is None:
                t_first = time.monotonic()
            n += 1
            dec = avro.io.BinaryDecoder(io.BytesIO(msg.value()))
            if msg.topic() == "lead-events":
                rec = r_event.read(dec)
                rec["occurred_at"] = to_ms(rec["occurred_at"])
                results = scorer.event(rec)
            else:
                rec = r_profile.read(dec)
                rec["updated_at"] = to_ms(rec["updated_at"])
                results = scorer.profile(rec)
            for rec in results:
                rec["time"] = from_ms(rec["time"])
                buf = io.BytesIO()
                w_score.write(rec, avro.io.BinaryEncoder(buf))
                while True:
                    try:
                        producer.produce(args.out, buf.getvalue(), key=rec["lead_id"])
                        break
                    except BufferError:
                        producer.poll(0.01)
                outs += 1
        producer.poll(0)
    producer.flush(60)
    t_end = time.monotonic()
    consumer.close()
    if n < args.expect:
        print("python_scorer: timeout after %d of %d" % (n, args.expect), file=sys.stderr)
        return 1
    extra = {"expect": args.expect, "outputs": outs, "tag": args.tag,
             "consumer": dict(x.split("=", 1) for x in args.X)}
    for metric, value, unit in (("msgs_per_s", n / (t_end - t_first), "msgs/s"),
                                ("total_s", t_end - t0, "s"),
                                ("join_s", t_first - t0, "s")):
        rec = {"bench": "python_peer", "metric": metric, "value": value, "unit": unit}
        rec.update(extra)
        print(json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Integration test of what an alert carries (docs/SEMANTICS.md "Alerts"):
`leadscore score` on JSON input writes an MQL alert that alone says who
(the model's alert_attributes), why (the condition, the largest
contributions over the history, the fit rules) and how fresh (its time,
record_time and the backfill marker); two runs are byte-identical; a
backlog read from records written long after its events (--record-time)
is marked backfill. Also: schemas/alert.avsc reads an alert written with
the schema before these fields (tests/unit/alert_v1.avsc), the new fields
taking their defaults (Python avro; the other way is in
tests/unit/test_alerts.c with avro-c).
"""
import io
import json
import os
import subprocess
import tempfile
from datetime import datetime, timezone

from clitest import (LEADSCORE, SRC, check, ev, finish, profile)


MODEL = """\
backfill_after: 1d
models:
  - id: sales
    alert_attributes: [name, email, company]
    fit:
      rules:
        - {id: big_company, attribute: employees, range: {min: 100}, points: 20}
        - {id: vp, attribute: title, glob: "vp*", points: 10}
    engagement:
      rules:
        - {id: pricing_page, event: page_view, when: {url: {glob: "*/pricing*"}}, points: 10}
        - {id: docs_page, event: page_view, when: {url: {glob: "*/docs*"}}, points: 3}
        - {id: webinar, event: webinar_attend, points: 15}
        - {id: demo_request, event: demo_request, points: 25}
    grades:
      - {name: A, min: 20}
      - {name: B}
    bands:
      - {name: cold}
      - {name: warm, min: 20}
      - {name: hot, min: 40}
    mql:
      enter: {min_total: 80, min_grade: A}
      stay: {min_total: 60}
    hot:
      points: 30
      within: 24h
"""


INPUT = [
    profile("L1", "2026-01-05T09:00:00Z", name="Grace Hopper",
            email="grace@navy.example", company="US Navy", employees=5000,
            title="VP Engineering", phone="+1 555 0100"),
    ev("L1", "e1", "page_view", "2026-01-05T10:00:00Z",
       url="https://x.io/pricing"),
    ev("L1", "e2", "page_view", "2026-01-06T10:00:00Z",
       url="https://x.io/pricing"),
    ev("L1", "e3", "webinar_attend", "2026-01-08T10:00:00Z"),
    ev("L1", "e4", "page_view", "2026-01-08T12:00:00Z",
       url="https://x.io/docs/api"),
    ev("L1", "e5", "demo_request", "2026-01-09T09:00:00Z"),
]


def score(tmp, extra=()):
    model = os.path.join(tmp, "model.yaml")
    inp = os.path.join(tmp, "in.jsonl")
    with open(model, "w") as f:
        f.write(MODEL)
    with open(inp, "w") as f:
        f.write("\n".join(INPUT) + "\n")
    p = subprocess.run([LEADSCORE, "score", "-m", model, "-i", inp]
                       + list(extra), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    check(p.returncode == 0, "score rc %d: %s" % (p.returncode,
                                                  p.stderr.decode()))
    return p.stdout


def alerts(out, kind):
    return [r for r in map(json.loads, out.decode().splitlines())
            if r["kind"] == "alert" and r["alert"] == kind]


def test_mql_alone(tmp):
    out = score(tmp)
    mql = alerts(out, "mql")
    check(len(mql) == 1, "one mql alert: %s" % mql)
    if not mql:
        return
    a = mql[0]
    # who
    check(a["attributes"] == {"name": "Grace Hopper",
                              "email": "grace@navy.example",
                              "company": "US Navy"},
          "attributes: %s" % a["attributes"])
    # why: the condition with the lead's values ...
    check(a["total"] == 30 + 63 and a["grade"] == "A", "values: %s" % a)
    check(a["condition"] == {
        "enter": {"min_total": 80, "min_grade": "A", "min_band": None,
                  "holds": True},
        "stay": {"min_total": 60, "min_grade": None, "min_band": None,
                 "holds": True},
        "window": None}, "condition: %s" % a["condition"])
    # ... the history, not the last change (+25) ...
    check(a["contributions"] == [
        {"rule": "demo_request", "points": 25},
        {"rule": "pricing_page", "points": 20},
        {"rule": "webinar", "points": 15},
        {"rule": "docs_page", "points": 3}],
        "contributions: %s" % a["contributions"])
    # ... and the fit rules
    check(a["fit_rules"] == [{"rule": "big_company", "points": 20},
                             {"rule": "vp", "points": 10}],
          "fit_rules: %s" % a["fit_rules"])
    # how fresh: a file has no record timestamp
    check(a["time"] == 1767949200000, "time: %s" % a["time"])
    check(a["record_time"] is None and a["backfill"] is False,
          "freshness: %s %s" % (a["record_time"], a["backfill"]))
    # the hot lead says which window and which events
    hot = alerts(out, "hot_lead")
    check(len(hot) == 1, "one hot_lead: %s" % hot)
    if hot:
        w = hot[0]["condition"]["window"]
        check(w["within_ms"] == 86400000 and w["min_points"] == 30
              and w["sum"] == 43 and w["event_type"] is None
              and w["more"] == 0, "window: %s" % w)
        check([(e["type"], e["id"], e["time"], e["points"])
               for e in w["events"]] ==
              [("webinar_attend", "e3", 1767866400000, 15),
               ("page_view", "e4", 1767873600000, 3),
               ("demo_request", "e5", 1767949200000, 25)],
              "window events: %s" % w["events"])
    check(score(tmp) == out, "two runs byte-identical")


def test_backfill(tmp):
    # records written in November for January events: backfill
    out = score(tmp, ["--record-time", "2026-11-20T00:00:00Z"])
    a = alerts(out, "mql")
    check(len(a) == 1 and a[0]["backfill"] is True
          and a[0]["record_time"] == 1795132800000,
          "backfill marked: %s" % a)
    check(score(tmp, ["--record-time", "2026-11-20T00:00:00Z"]) == out,
          "backfilled runs byte-identical")
    # a record written within backfill_after of the alert's time: fresh
    out = score(tmp, ["--record-time", "2026-01-09T09:30:00Z"])
    a = alerts(out, "mql")
    check(len(a) == 1 and a[0]["backfill"] is False,
          "fresh not marked: %s" % a)


def test_old_writer_new_reader():
    try:
        import avro.io
        import avro.schema
    except ImportError:
        print("skip: the Python avro library is not installed")
        return
    parse = getattr(avro.schema, "parse", None) or avro.schema.Parse
    with open(os.path.join(SRC, "tests", "unit", "alert_v1.avsc")) as f:
        old = parse(f.read())
    with open(os.path.join(SRC, "schemas", "alert.avsc")) as f:
        new = parse(f.read())
    rec = {"id": "L1/sales/9/mql", "alert": "mql", "lead_id": "L1",
           "model": "sales", "model_version": "0123456789abcdef", "seq": 9,
           "time": datetime.fromtimestamp(1767949200, tz=timezone.utc),
           "cause": "event", "cause_id": "e5",
           "total": 93, "fit": 30, "engagement": 63, "prev_total": 68,
           "grade": "A", "band": "hot", "cell": "A3", "mql": True,
           "reasons": [{"kind": "rule", "rule": "demo_request",
                        "points": 25, "capped": 0}]}
    buf = io.BytesIO()
    avro.io.DatumWriter(old).write(rec, avro.io.BinaryEncoder(buf))
    buf.seek(0)
    got = avro.io.DatumReader(old, new).read(avro.io.BinaryDecoder(buf))
    check(got["lead_id"] == "L1" and got["total"] == 93,
          "old fields resolve: %s" % got)
    check(got["condition"] is None and got["contributions"] == []
          and got["fit_rules"] == [] and got["attributes"] == {}
          and got["record_time"] is None and got["backfill"] is False,
          "new fields default: %s" % got)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_mql_alone(tmp)
        test_backfill(tmp)
    test_old_writer_new_reader()
    finish()


if __name__ == "__main__":
    main()

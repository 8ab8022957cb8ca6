#!/usr/bin/python3
"""Integration test of `leadscore score`, `leadscore check`, --help and
--version: runs the real binary ($LEADSCORE) on a tiny model written here,
whose expected scores are computed by hand from docs/MODEL.md, on crafted
bad input, and on the examples/ files.
"""
import json
import os
import re
import tempfile
from datetime import datetime, timezone

from clitest import (SRC, check, ev, finish, profile, run)


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00"))
               .astimezone(timezone.utc).timestamp() * 1000)


DAY = 86400 * 1000

# Fit: employees >= 100 -> +20, gmail -> -10. Grades A >= 20, else B.
# Engagement: pricing +10, email open +3 capped at 5 points per UTC day,
# demo request +25. Decay -15 at 30 days and -15 at 60 days of inactivity.
# Bands cold < 20 <= warm < 40 <= hot. MQL at total >= 50, stays while
# total >= 40. Hot lead on any demo request.
TINY_MODEL = """\
lateness: 1h
dedupe: 8
models:
  - id: tiny
    fit:
      rules:
        - id: big_company
          attribute: employees
          range: {min: 100}
          points: 20
        - id: gmail
          attribute: email
          glob: "*@gmail.com"
          points: -10
    engagement:
      rules:
        - id: pricing_page
          event: page_view
          when: {url: {glob: "*/pricing*"}}
          points: 10
        - id: email_open
          event: email_open
          points: 3
          cap: {points: 5, per: 1d}
        - id: demo_request
          event: demo_request
          points: 25
      decay:
        steps:
          - {after: 30d, points: -15}
          - {after: 60d, points: -15}
    grades:
      - {name: A, min: 20}
      - {name: B}
    bands:
      - {name: cold}
      - {name: warm, min: 20}
      - {name: hot, min: 40}
    mql:
      enter: {min_total: 50}
      stay: {min_total: 40}
    hot:
      events: [demo_request]
"""


L1_INPUT = [
    profile("L1", "2026-01-05T09:00:00Z", employees=250, email="a@acme.com"),
    ev("L1", "e1", "page_view", "2026-01-05T10:00:00Z",
       url="https://x.io/pricing"),
    ev("L1", "e2", "email_open", "2026-01-05T11:00:00Z"),
    ev("L1", "e3", "email_open", "2026-01-05T12:00:00Z"),
    ev("L1", "e4", "demo_request", "2026-01-06T10:00:00Z"),
    ev("L1", "e4", "demo_request", "2026-01-06T10:00:00Z"),  # duplicate
    profile("L2", "2026-01-06T11:00:00Z", employees=10,
            email="bob@gmail.com"),
    ev("L2", "f1", "page_view", "2026-01-06T11:30:00Z",
       url="https://x.io/pricing?plan=pro"),
]


def parse_lines(out):
    recs = []
    for i, line in enumerate(out.splitlines(), 1):
        try:
            recs.append(json.loads(line))
        except ValueError as e:
            check(False, "output line %d is not JSON (%s): %r" % (i, e, line))
    return recs


def test_tiny_model(tmp):
    model = os.path.join(tmp, "tiny.yaml")
    with open(model, "w") as f:
        f.write(TINY_MODEL)
    rc, out, err = run(["check", "--model", model])
    check(rc == 0, "check of the tiny model exits 0 (rc=%d, %s)" % (rc, err))
    check("tiny" in out, "check summary names the model")

    inp = os.path.join(tmp, "l1.jsonl")
    with open(inp, "w") as f:
        f.write("\n".join(L1_INPUT) + "\n")
    rc, out, err = run(["score", "--model", model, "--input", inp,
                        "--until", "2026-04-01T00:00:00Z", "--stats"])
    check(rc == 0, "clean input exits 0 (rc=%d, stderr=%s)" % (rc, err))
    recs = parse_lines(out)

    keys = ["kind", "id", "lead_id", "model", "model_version", "seq", "time",
            "cause", "cause_id", "total", "fit", "engagement", "prev_total",
            "grade", "band", "cell", "mql", "reasons"]
    for r in recs:
        want = keys if r["kind"] == "score_update" else \
            keys[:1] + ["alert"] + keys[1:] + [
                "condition", "contributions", "fit_rules", "attributes",
                "record_time", "backfill"]
        check(list(r.keys()) == want, "key order of %s" % r)
        check(re.fullmatch(r"[0-9a-f]{16}", r["model_version"]) is not None,
              "model_version is 16 hex digits")
    check(len(set(r["id"] for r in recs)) == len(recs), "output ids unique")

    ups = [r for r in recs if r["kind"] == "score_update" and
           r["lead_id"] == "L1"]
    totals = [(r["total"], r["fit"], r["engagement"]) for r in ups]
    # profile: fit 20; pricing +10; open +3; open +2 (cap 5/day, 1
    # withheld); demo +25; decay -15 at +30 d; decay -15 at +60 d.
    want = [(20, 20, 0), (30, 20, 10), (33, 20, 13), (35, 20, 15),
            (60, 20, 40), (45, 20, 25), (30, 20, 10)]
    check(totals == want, "L1 totals %s, want %s" % (totals, want))
    if len(ups) == len(want):
        check(ups[0]["cause"] == "profile" and ups[0]["cause_id"] is None,
              "profile update cause")
        check(ups[0]["grade"] == "A" and ups[0]["band"] == "cold" and
              ups[0]["cell"] == "A1", "L1 first cell A1: %s" % ups[0])
        check(ups[3]["reasons"] == [{"kind": "rule", "rule": "email_open",
                                     "points": 2, "capped": 1}],
              "capped email open reason: %s" % ups[3]["reasons"])
        check(ups[1]["cause"] == "event" and ups[1]["cause_id"] == "e1",
              "event cause id")
        check(ups[4]["band"] == "hot" and ups[4]["cell"] == "A3",
              "L1 after demo: hot, cell A3")
        check(ups[5]["cause"] == "decay" and
              ups[5]["time"] == ms("2026-01-06T10:00:00Z") + 30 * DAY,
              "first decay step 30 days after the last activity: %s"
              % ups[5])
        check(ups[5]["mql"] is True, "still MQL at 45 (stay >= 40)")
        check(ups[6]["time"] == ms("2026-01-06T10:00:00Z") + 60 * DAY and
              ups[6]["band"] == "cold", "second decay step at 60 days")
        check(ups[6]["prev_total"] == 45, "prev_total of decay update")
        check(any(x["kind"] == "decay" and x["points"] == -15
                  for x in ups[6]["reasons"]), "decay reason")
        seqs = [r["seq"] for r in ups]
        check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs),
              "seq increases")

    alerts = [(r["lead_id"], r["alert"]) for r in recs
              if r["kind"] == "alert"]
    check(alerts.count(("L1", "mql")) == 1, "one MQL alert for L1: %s"
          % alerts)
    check(alerts.count(("L1", "hot_lead")) == 1, "one hot_lead for L1")
    check(alerts.count(("L1", "mql_lost")) == 1, "one mql_lost for L1")
    check(not any(a[0] == "L2" for a in alerts), "no alert for L2")
    mql = [r for r in recs if r["kind"] == "alert" and r["alert"] == "mql"]
    if mql:
        check(mql[0]["total"] == 60 and mql[0]["mql"] is True and
              mql[0]["cause_id"] == "e4" and mql[0]["id"].endswith("/mql"),
              "MQL alert at 60 caused by the demo request: %s" % mql[0])
    lost = [r for r in recs if r["kind"] == "alert" and
            r["alert"] == "mql_lost"]
    if lost:
        check(lost[0]["mql"] is False, "not MQL after mql_lost")
        check(lost[0]["cause"] == "decay" and lost[0]["total"] == 30,
              "mql_lost caused by decay at 30: %s" % lost[0])
        check(lost[0]["id"].endswith("/mql_lost"), "alert id suffix")

    l2 = [r for r in recs if r["kind"] == "score_update" and
          r["lead_id"] == "L2"]
    # gmail -10; pricing +10; the 30-day decay step (-15) stops at the
    # engagement floor 0, taking 10.
    got = [(r["total"], r["fit"], r["engagement"], r["grade"]) for r in l2]
    check(got[:3] == [(-10, -10, 0, "B"), (0, -10, 10, "B"),
                      (-10, -10, 0, "B")] and got[-1][0] == -10,
          "L2 gmail, pricing, decay to the floor: %s" % got)
    if len(l2) >= 3:
        check(l2[2]["reasons"] == [{"kind": "decay", "rule": "decay",
                                    "points": -10, "capped": 0}],
              "decay reason reports what the floor let it take: %s"
              % l2[2]["reasons"])

    check(re.search(r"duplicates:\s+1\b", err) is not None,
          "--stats counts the duplicate: %s" % err)
    for word in ("inputs:", "outputs:", "bad lines:", "late:", "leads:",
                 "bytes/lead/model:", "elapsed:", "events/s:"):
        check(word in err, "--stats prints %s" % word)
    check(re.search(r"leads:\s+2\b", err) is not None, "two leads")

    # Determinism: same input, same model -> byte-identical output; also
    # through stdin and into an --output file.
    rc2, out2, _ = run(["score", "--model", model, "--input", inp,
                        "--until", "2026-04-01T00:00:00Z"])
    check(rc2 == 0 and out2 == out, "two runs byte-identical")
    outfile = os.path.join(tmp, "out.jsonl")
    rc3, out3, _ = run(["score", "-m", model, "-i", "-", "-o", outfile,
                        "-u", str(ms("2026-04-01T00:00:00Z"))],
                       stdin=open(inp, "rb").read())
    with open(outfile) as f:
        check(rc3 == 0 and out3 == "" and f.read() == out,
              "stdin + --output + integer --until give the same bytes")

    # Without --until, the decay has not fired yet.
    rc4, out4, _ = run(["score", "--model", model, "--input", inp])
    check(rc4 == 0 and "mql_lost" not in out4 and '"cause":"decay"' not in
          out4, "no decay without --until")
    return model


def test_bad_lines(tmp, model):
    lines = [
        ev("B1", "b1", "page_view", "2026-02-01T10:00:00Z",
           url="/pricing"),                               # 1 ok
        '{"lead_id": "B1", "event_type": ',               # 2 bad JSON
        ev("B1", "b2", "demo_request", "2026-02-01T11:00:00Z"),  # 3 ok
        json.dumps({"event_id": "x", "event_type": "page_view",
                    "occurred_at": "2026-02-01T11:00:00Z"}),  # 4 no lead
        "",                                               # 5 blank
        ev("B1", "b3", "page_view", "2026-02-01T08:00:00Z",
           url="/pricing"),                               # 6 late (3h)
        ev("B1", "b4", "page_view", "2026-02-01T10:30:00Z",
           url="/pricing"),                               # 7 ok (0.5h)
        json.dumps({"lead_id": "B1", "event_id": "b5",
                    "event_type": "page_view",
                    "occurred_at": "2026-02-01T12:00:00Z",
                    "properties": {"url": {"a": 1}}}),    # 8 nested
        ev("B1", "b6", "page_view", "1 Feb 2026", url="/pricing"),  # 9
    ]
    inp = os.path.join(tmp, "bad.jsonl")
    with open(inp, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, out, err = run(["score", "--model", model, "--input", inp,
                        "--stats"])
    check(rc == 2, "bad lines give exit 2 (rc=%d)" % rc)
    for n, field in ((2, "invalid JSON at column"), (4, "lead_id: missing"),
                     (6, ""), (8, "properties.url: nested values"),
                     (9, "occurred_at:")):
        pat = re.escape("%s:%d: " % (inp, n)) + ".*" + re.escape(field)
        check(re.search(pat, err) is not None,
              "line %d reported as %s:%d: %s (stderr: %s)"
              % (n, inp, n, field, err))
    for n in (1, 3, 5, 7):
        check("%s:%d:" % (inp, n) not in err, "line %d not reported" % n)
    check(re.search(r"bad lines:\s+5\b", err) is not None, "5 bad lines")
    check(re.search(r"late:\s+1\b", err) is not None, "1 late")
    recs = parse_lines(out)
    ups = [r for r in recs if r["kind"] == "score_update"]
    # lines 1, 3, 7 scored: 10, 35, 45 (no fit).
    check([r["total"] for r in ups] == [10, 35, 45],
          "good lines around bad ones scored: %s"
          % [r["total"] for r in ups])
    check([r["cause_id"] for r in ups] == ["b1", "b2", "b4"],
          "cause ids of good lines")

    # stdin is named <stdin> in messages
    rc, out, err = run(["score", "--model", model], stdin=b"{oops\n")
    check(rc == 2 and "<stdin>:1: invalid JSON" in err,
          "stdin errors named <stdin>: %s" % err)


def test_check_and_usage(tmp, model):
    broken = os.path.join(tmp, "broken.yaml")
    text = TINY_MODEL.replace("points: 25", "points: lots")
    line = text.splitlines().index("          points: lots") + 1
    with open(broken, "w") as f:
        f.write(text)
    rc, out, err = run(["check", "--model", broken])
    check(rc == 1, "broken model: check exits 1 (rc=%d)" % rc)
    check(("%s:%d:" % (broken, line)) in err and "points" in err,
          "broken model error names file:line and key: %r (want %s:%d)"
          % (err, broken, line))
    rc, out, err = run(["score", "--model", broken], stdin=b"")
    check(rc == 1 and ("%s:%d:" % (broken, line)) in err,
          "score with a broken model exits 1 with file:line")
    rc, out, err = run(["check", "--model", os.path.join(tmp, "nope.yaml")])
    check(rc == 1 and "nope.yaml" in err, "missing model file: exit 1")
    rc, out, err = run(["score", "--model", model, "--input",
                        os.path.join(tmp, "nope.jsonl")])
    check(rc == 1 and "nope.jsonl" in err, "missing input file: exit 1")

    helps = {
        "check": ["--model", "--help"],
        "score": ["--model", "--input", "--output", "--until", "--stats",
                  "--help"],
    }
    for cmd, opts in helps.items():
        for flag in ("--help", "-h"):
            rc, out, err = run([cmd, flag])
            check(rc == 0, "%s %s exits 0" % (cmd, flag))
            for opt in opts:
                check(opt in out, "%s --help mentions %s" % (cmd, opt))
            check("exit status" in out and "64" in out,
                  "%s --help documents exit codes" % cmd)
    rc, out, err = run(["score", "--help"])
    check(re.search(r"\b2\b.*bad", out) is not None,
          "score --help documents exit 2")

    rc, out, err = run(["--help"])
    check(rc == 0 and "check" in out and "score" in out,
          "--help lists commands")
    rc, out, err = run(["--version"])
    check(rc == 0 and re.search(r"^leadscore \S+", out, re.M) and
          re.search(r"^librdkafka \d+\.\d+\.\d+", out, re.M) and
          re.search(r"^avro-c \d+\.\d+", out, re.M) and
          re.search(r"^malloc (jemalloc \d+\.\d+\S*|glibc \d+\.\d+|"
                    r"\w+Sanitizer \(over glibc \d+\.\d+\))$", out, re.M),
          "--version names leadscore, librdkafka, avro-c, malloc: %r" % out)
    rc, out, err = run(["frobnicate"])
    check(rc == 64 and "frobnicate" in err and "usage" in err,
          "unknown command: 64 + usage")
    rc, out, err = run([])
    check(rc == 64, "no command: 64")
    rc, out, err = run(["score", "--model", model, "--bogus"])
    check(rc == 64 and "--bogus" in err, "unknown option: 64")
    rc, out, err = run(["score", "--model"])
    check(rc == 64 and "needs an argument" in err, "missing argument: 64")
    rc, out, err = run(["score", "--input", "x"])
    check(rc == 64 and "--model" in err, "score without --model: 64")
    rc, out, err = run(["score", "--model", model, "--until", "soon"])
    check(rc == 64 and "--until" in err, "bad --until: 64")
    rc, out, err = run(["check"])
    check(rc == 64, "check without --model: 64")


def test_examples(tmp):
    model = os.path.join(SRC, "examples", "model.yaml")
    events = os.path.join(SRC, "examples", "events.jsonl")
    rc, out, err = run(["check", "--model", model])
    check(rc == 0, "examples/model.yaml is valid: %s" % err)
    args = ["score", "--model", model, "--input", events,
            "--until", "2026-07-01T00:00:00Z", "--stats"]
    rc, out, err = run(args)
    check(rc == 0, "examples score cleanly (rc=%d): %s" % (rc, err))
    recs = parse_lines(out)
    alerts = {(r["lead_id"], r["model"], r["alert"]) for r in recs
              if r["kind"] == "alert"}
    for want in (("lead-ada", "office", "mql"),
                 ("lead-ada", "office", "hot_lead"),
                 ("lead-ada", "office", "mql_lost")):
        check(want in alerts, "examples: alert %s in %s" % (want, alerts))
    check(any(x["capped"] > 0 for r in recs for x in r["reasons"]),
          "examples: some rule is capped")
    check(re.search(r"duplicates:\s+[1-9]", err) is not None,
          "examples: a duplicate is counted")
    rc2, out2, _ = run(args)
    check(out2 == out, "examples: two runs byte-identical")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = test_tiny_model(tmp)
        test_bad_lines(tmp, model)
        test_check_and_usage(tmp, model)
        test_examples(tmp)
    finish()


if __name__ == "__main__":
    main()

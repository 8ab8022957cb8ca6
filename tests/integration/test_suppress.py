#!/usr/bin/python3
"""Integration test of behavioural suppression (docs/MODEL.md `suppress`,
docs/SEMANTICS.md "Suppression") through the real binary ($LEADSCORE):
`leadscore score` on JSON lines with a model and list files written here.

- Eight e-mail clicks for one lead within 840 ms, no open before them:
  with a burst rule they never change the final score, also when the
  burst is recognised only at the 3rd or the 5th click (a corrective
  update with cause `suppressed` and a reason naming the rule).
- A click after an open of the same message is scored; one without is
  not; scanner user agents and IP ranges are suppressed.
- `--stats` counts every suppressed event by kind; `replay` of the same
  file says how many were suppressed and gives the same bytes; in Avro
  the corrective update reads back with the shipped schemas.
- The same input twice gives byte-identical output.
- An error in the section names the file, line and key.
"""
import json
import os
import re
import tempfile

from clitest import (check, ev, finish, run)


MODEL = """\
lists:
  scanner_agents: agents.txt
  scanner_ips: ips.txt
suppress:
%(burst)s  - id: unopened_click
    unopened:
      event: email_click
      needs: [email_open, email_delivered]
      message_field: message_id
  - id: scanner_agent
    match: {user_agent: {contains_list: scanner_agents}}
  - id: scanner_ip
    match: {ip: {cidr_list: scanner_ips}}
models:
  - id: mail
    engagement:
      rules:
        - {id: click, event: email_click, points: 2}
        - {id: open, event: email_open, points: 1}
        - {id: pricing, event: page_view, points: 10}
    grades: [{name: A, min: 10}, {name: B}]
    bands: [{name: cold}, {name: warm, min: 10}, {name: hot, min: 20}]
    mql: {enter: {min_band: warm}}
"""

BURST = """\
  - id: click_burst
    burst: {events: [email_click], count: %d, within: 2s}
"""

AGENTS = """\
# mail security gateways that follow every link
Barracuda
Proofpoint
mimecast
"""

IPS = """\
10.0.0.0/8
2001:db8::/32
"""


def clicks(lead, first, n=8, step_ms=120, message="m1"):
    """n clicks for lead, step_ms apart, from 10:00:00.000 + first s."""
    out = []
    for i in range(n):
        ms = first * 1000 + i * step_ms
        out.append(ev(lead, "%s-c%d" % (lead, i), "email_click",
                      "2026-03-02T10:%02d:%02d.%03dZ"
                      % (ms // 60000, ms // 1000 % 60, ms % 1000),
                      message_id=message))
    return out


INPUT = (
    # L1: eight clicks in 840 ms, no open before them
    clicks("L1", 0)
    # L2: opened m7, then a single click on it (scored), one on m8 (no
    # open: suppressed), then a scanner burst on m7 after the open
    + [ev("L2", "L2-o", "email_open", "2026-03-02T10:00:00Z",
          message_id="m7"),
       ev("L2", "L2-c", "email_click", "2026-03-02T10:05:00Z",
          message_id="m7"),
       ev("L2", "L2-x", "email_click", "2026-03-02T10:06:00Z",
          message_id="m8")]
    + clicks("L2", 600, message="m7")
    # L3: scanner agents and ranges on page views
    + [ev("L3", "L3-a", "page_view", "2026-03-02T11:00:00Z",
          user_agent="Mozilla/5.0 (compatible; Barracuda Sentinel)"),
       ev("L3", "L3-b", "page_view", "2026-03-02T11:00:01Z",
          ip="10.20.30.40"),
       ev("L3", "L3-c", "page_view", "2026-03-02T11:00:02Z",
          ip="2001:db8:42::1"),
       ev("L3", "L3-d", "page_view", "2026-03-02T11:00:03Z",
          ip="198.51.100.9", user_agent="Mozilla/5.0 Firefox/120")]
)


def parse(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def final(recs, lead):
    ups = [r for r in recs if r["kind"] == "score_update" and
           r["lead_id"] == lead]
    return ups[-1]["engagement"] if ups else 0


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def score(model, inp, *extra):
    return run(["score", "--model", model, "--input", inp] + list(extra))


def test_bursts(tmp, inp):
    # without a burst rule, the scanner's clicks on an opened message
    # count: L2 gets 1 (open) + 2 (its own click) + 8 x 2
    plain = write(tmp, "plain.yaml", MODEL % {"burst": ""})
    rc, out, err = score(plain, inp)
    check(rc == 0, "no burst rule: exit 0 (%d, %s)" % (rc, err))
    recs = parse(out)
    check(final(recs, "L2") == 19, "without a burst rule L2 has 19: %s"
          % final(recs, "L2"))
    check(final(recs, "L1") == 0, "L1's unopened clicks never score")

    for count in (3, 5):
        model = write(tmp, "burst%d.yaml" % count,
                      MODEL % {"burst": BURST % count})
        rc, out, err = score(model, inp, "--stats")
        check(rc == 0, "burst %d: exit 0 (%d, %s)" % (count, rc, err))
        recs = parse(out)
        l2 = [r for r in recs if r["lead_id"] == "L2"]
        # L2: the open +1, its click +2, then the burst on m7: the
        # clicks before the count-th score, the count-th takes them back
        ups = [r for r in l2 if r["kind"] == "score_update"]
        engs = [r["engagement"] for r in ups]
        want = [1, 3] + [3 + 2 * k for k in range(1, count)] + [3]
        check(engs == want, "burst %d: L2 engagement %s, want %s"
              % (count, engs, want))
        fix = [r for r in ups if r["cause"] == "suppressed"]
        check(len(fix) == 1, "burst %d: one corrective update: %s"
              % (count, fix))
        if fix:
            f = fix[0]
            check(f["cause_id"] == "L2-c%d" % (count - 1),
                  "corrective update caused by click %d: %s" % (count, f))
            check(f["reasons"] == [{"kind": "suppressed",
                                    "rule": "click_burst",
                                    "points": -2 * (count - 1),
                                    "capped": 0}],
                  "its reason names the rule: %s" % f["reasons"])
            check(f["engagement"] == 3 and f["prev_total"] ==
                  3 + 2 * (count - 1), "it removes exactly the burst's "
                  "points: %s" % f)
        check(final(recs, "L2") == 3, "burst %d: L2 ends where it was "
              "before the scanner" % count)
        hot = [r for r in l2 if r["kind"] == "alert"]
        check(count == 3 or [a["alert"] for a in hot] == ["mql", "mql_lost"],
              "burst %d: an MQL made by the scanner is taken back: %s"
              % (count, [a["alert"] for a in hot]))
        check(final(recs, "L1") == 0, "L1 never scores")
        l3 = [r["cause_id"] for r in recs if r["lead_id"] == "L3" and
              r["kind"] == "score_update"]
        check(l3 == ["L3-d"], "only the real visitor's page view scores: %s"
              % l3)
        # suppressed: L1 8 unopened (the burst rule is first, so clicks
        # from the count-th on count as burst); L2 1 unopened + the
        # burst; L3 3 matches
        burst = 8 - (count - 1)
        m = re.search(r"suppressed:\s+(\d+) \(burst (\d+), unopened (\d+), "
                      r"match (\d+)\)", err)
        check(m is not None, "--stats prints the suppressed counts: %s" % err)
        if m:
            got = tuple(int(x) for x in m.groups())
            want = (2 * burst + (count - 1) + 1 + 3, 2 * burst,
                    (count - 1) + 1, 3)
            check(got == want, "burst %d: suppressed %s, want %s"
                  % (count, got, want))
        check(re.search(r"reversed by burst:\s+%d\b" % (count - 1), err)
              is not None, "--stats counts the clicks taken back: %s" % err)

        # the same input again: byte-identical
        rc2, out2, _ = score(model, inp)
        check(rc2 == 0 and out2 == out, "burst %d: two runs byte-identical"
              % count)
        # replay of the file: the same outputs, and the counts
        outf = os.path.join(tmp, "replay%d.jsonl" % count)
        rc3, _, err3 = run(["replay", "--model", model, "--input", inp,
                            "--output", outf])
        check(rc3 == 0, "replay exits 0 (%d, %s)" % (rc3, err3))
        if rc3 == 0:
            with open(outf) as f:
                got = f.read()
            check(got == out, "replay gives the bytes score gives")
            check(re.search(r"%d suppressed, %d reversed by a burst"
                            % (want[0] if m else 0, count - 1), err3)
                  is not None, "replay's summary counts them: %s" % err3)


def test_avro(tmp, inp):
    """The corrective update in Avro: cause and reason kind are strings,
    so the shipped schemas carry `suppressed` unchanged."""
    import avro.datafile
    import avro.io
    model = os.path.join(tmp, "burst3.yaml")
    out = os.path.join(tmp, "scores.avro")
    rc, _, err = run(["replay", "--model", model, "--input", inp,
                      "--output-format", "avro", "--output", out,
                      "--alerts-output", os.path.join(tmp, "alerts.avro"),
                      "--quiet"])
    check(rc == 0, "replay to Avro exits 0 (%d, %s)" % (rc, err))
    if rc != 0:
        return
    with open(out, "rb") as f:
        recs = list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))
    fix = [r for r in recs if r["cause"] == "suppressed"]
    check(len(fix) == 1 and fix[0]["cause_id"] == "L2-c2" and
          fix[0]["reasons"] == [{"kind": "suppressed", "rule": "click_burst",
                                 "points": -4, "capped": 0}],
          "the corrective update in Avro: %s" % fix)


def test_errors(tmp):
    bad = write(tmp, "bad.yaml", MODEL.replace(
        "message_field: message_id", "message_field: message_id\n"
        "      remember: 0") % {"burst": ""})
    rc, _, err = run(["check", "--model", bad])
    check(rc != 0 and re.search(
        re.escape(bad) + r":10: suppress\[0\]\.unopened\.remember: must be "
        r"between 1 and 64", err) is not None,
        "a bad value names file:line and key: %s" % err)
    bad2 = write(tmp, "bad2.yaml",
                 "suppress:\n  - id: s\n    match: {ip: {cidr: [300.1.1.1/8]}}"
                 "\n" + MODEL.split("models:\n", 1)[1].join(["models:\n", ""]))
    rc, _, err = run(["check", "--model", bad2])
    check(rc != 0 and re.search(
        re.escape(bad2) + r":3: suppress\[0\]\.match\.ip\.cidr\[0\]: "
        r"'300\.1\.1\.1/8' is not an IP range", err) is not None,
        "a bad range names file:line and key: %s" % err)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp, "agents.txt", AGENTS)
        write(tmp, "ips.txt", IPS)
        inp = write(tmp, "in.jsonl", "\n".join(INPUT) + "\n")
        test_bursts(tmp, inp)
        test_avro(tmp, inp)
        test_errors(tmp)
    finish()


if __name__ == "__main__":
    main()

"""`leadscore replay` and `leadscore diff` on files: determinism, equality
with `leadscore score`, Avro input and output (read back with Python
avro) with the schemas built into the program or those of a --schemas
directory, --final-only values, saved state (and a corrupt one refused)
and a diff whose changes are computed by hand. Replays run in a temporary directory: nothing depends on where the
build directory is."""
import io
import json
import os
import subprocess

import lsharness as h

# Old model: the harness's tiny model (pricing +10, demo +25, saas fit 20,
# MQL at total >= 50; bands cold < 10 <= warm < 30 <= hot).
OLD = h.TINY_MODEL
# New model: pricing +20, demo +15.
NEW = h.TINY_MODEL.replace("points: 10}", "points: 20}").replace(
    "demo_request, points: 25}", "demo_request, points: 15}")
assert NEW != OLD and "points: 20}" in NEW and "points: 15}" in NEW


def ev(lead, eid, etype, t, **props):
    return {"kind": "event", "lead_id": lead, "event_id": eid,
            "event_type": etype, "occurred_at": t, "properties": props}


def prof(lead, t, **attrs):
    return {"kind": "profile", "lead_id": lead, "updated_at": t,
            "attributes": attrs}


def history():
    """G1..G3: 3 pricing views; X1: 2 demos; N1: 1 pricing; B2: 2 pricing;
    S1: saas profile + 1 demo."""
    recs, t = [], h.T0
    for g in ("G1", "G2", "G3"):
        for i in range(3):
            t += 1000
            recs.append(ev(g, "%s-%d" % (g, i), "page_view", t,
                           url="https://x.test/pricing"))
    for i in range(2):
        t += 1000
        recs.append(ev("X1", "X1-%d" % i, "demo_request", t))
    t += 1000
    recs.append(ev("N1", "N1-0", "page_view", t, url="https://x.test/pricing"))
    for i in range(2):
        t += 1000
        recs.append(ev("B2", "B2-%d" % i, "page_view", t,
                       url="https://x.test/pricing/team"))
    t += 1000
    recs.append(prof("S1", t, industry="SaaS"))
    t += 1000
    recs.append(ev("S1", "S1-0", "demo_request", t))
    return recs


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run(args, **kw):
    return subprocess.run([h.LEADSCORE] + args, capture_output=True,
                          timeout=60, **kw)


def setup():
    d = h.tmpdir()
    old = write(d, "old.yaml", OLD)
    new = write(d, "new.yaml", NEW)
    inp = write(d, "in.jsonl",
                "".join(json.dumps(r) + "\n" for r in history()))
    return d, old, new, inp


def test_deterministic_and_equal_to_score():
    d, old, _new, _inp = setup()
    # A larger input with duplicates and a bad line in the middle.
    lines = [json.dumps(r) for r in history()] * 2
    lines.insert(5, "{not json")
    inp = write(d, "big.jsonl", "\n".join(lines) + "\n")
    a = run(["replay", "--model", old, "--input", inp, "--quiet"])
    b = run(["replay", "--model", old, inp, "--output",
             os.path.join(d, "b.json")])
    s = run(["score", "--model", old, "--input", inp])
    assert a.returncode == 2, a.stderr
    assert b.returncode == 2, b.stderr
    assert s.returncode == 2, s.stderr
    assert (inp + ":6: ").encode() in a.stderr, a.stderr
    assert a.stderr.count(b"\n") == 1, a.stderr  # --quiet: no summary
    assert b"replay: 33 records" in b.stderr, b.stderr
    with open(os.path.join(d, "b.json"), "rb") as f:
        bout = f.read()
    assert a.stdout == bout, "two replays differ"
    assert a.stdout == s.stdout, "replay differs from score"
    assert len(a.stdout.splitlines()) >= 12


def test_final_only_hand_checked():
    _d, old, _new, inp = setup()
    p = run(["replay", "--model", old, "--input", inp, "--final-only",
             "--quiet"])
    assert p.returncode == 0, p.stderr
    rows = [json.loads(l) for l in p.stdout.splitlines()]
    by = {r["lead_id"]: r for r in rows}
    assert [r["lead_id"] for r in rows] == ["G1", "G2", "G3", "X1", "N1",
                                            "B2", "S1"], rows
    for r in rows:
        assert r["model"] == "tiny" and len(r["model_version"]) == 16, r
        assert list(r) == ["lead_id", "model", "model_version", "total",
                           "fit", "engagement", "grade", "band", "cell",
                           "mql"], r
    want = {"G1": (30, 0, 30, "B", "hot", "B3", False),
            "X1": (50, 0, 50, "B", "hot", "B3", True),
            "N1": (10, 0, 10, "B", "warm", "B2", False),
            "B2": (20, 0, 20, "B", "warm", "B2", False),
            "S1": (45, 20, 25, "A", "warm", "A2", False)}
    for lead, w in want.items():
        r = by[lead]
        got = (r["total"], r["fit"], r["engagement"], r["grade"], r["band"],
               r["cell"], r["mql"])
        assert got == w, (lead, got, w)


def write_avro(d):
    """history() as two Avro container files of our input schemas.
    @returns their paths and the profile and event records."""
    import avro.datafile
    import avro.io
    recs = history()
    evs = [r for r in recs if r["kind"] == "event"]
    profs = [r for r in recs if r["kind"] == "profile"]
    ev_schema = h.avro_schema("lead_event.avsc")
    pr_schema = h.avro_schema("lead_profile.avsc")
    ev_path = os.path.join(d, "events.avro")
    pr_path = os.path.join(d, "profiles.avro")
    with open(pr_path, "wb") as f:
        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), pr_schema)
        for r in profs:
            w.append({"lead_id": r["lead_id"], "updated_at": h.ts(
                r["updated_at"]), "attributes": r["attributes"]})
        w.close()
    with open(ev_path, "wb") as f:
        w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), ev_schema)
        for r in evs:
            w.append({"lead_id": r["lead_id"], "event_id": r["event_id"],
                      "event_type": r["event_type"],
                      "occurred_at": h.ts(r["occurred_at"]), "product": None,
                      "properties": r["properties"]})
        w.close()
    return ev_path, pr_path, profs, evs


def source_schema(name):
    with open(os.path.join(h.SOURCE_DIR, "schemas", name), "rb") as f:
        return f.read()


def test_avro_input_and_output():
    import avro.datafile
    import avro.io
    d, old, _new, inp = setup()
    ev_path, pr_path, profs, evs = write_avro(d)
    # Profiles first, then events: the same as a JSON file in that order.
    js = write(d, "same.jsonl", "".join(json.dumps(r) + "\n"
                                        for r in profs + evs))
    a = run(["replay", "--model", old, pr_path, ev_path, "--quiet"], cwd=d)
    j = run(["replay", "--model", old, js, "--quiet"], cwd=d)
    assert a.returncode == 0, a.stderr
    assert a.stdout == j.stdout and a.stdout, (a.stdout, j.stdout)

    # Avro output: two container files, read back with Python avro.
    out = os.path.join(d, "out.avro")
    o1 = run(["replay", "--model", old, js, "--output-format", "avro",
              "--output", out, "--quiet"], cwd=d)
    assert o1.returncode == 0, o1.stderr
    alerts = os.path.join(d, "out-alerts.avro")
    with open(out, "rb") as f:
        first = f.read()
    with open(alerts, "rb") as f:
        first_alerts = f.read()
    # the header holds the schema text unchanged
    assert source_schema("score_update.avsc") in first
    assert source_schema("alert.avsc") in first_alerts
    o2 = run(["replay", "--model", old, js, "--output-format", "avro",
              "--output", out, "--quiet"], cwd=d)
    assert o2.returncode == 0, o2.stderr
    with open(out, "rb") as f:
        assert f.read() == first, "avro output is not deterministic"
    with open(alerts, "rb") as f:
        assert f.read() == first_alerts
    want = [json.loads(l) for l in j.stdout.splitlines()]
    with open(out, "rb") as f:
        scores = list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))
    with open(alerts, "rb") as f:
        al = list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))
    assert [s["id"] for s in scores] == [w["id"] for w in want
                                         if w["kind"] == "score_update"]
    assert [a["id"] for a in al] == [w["id"] for w in want
                                     if w["kind"] == "alert"]
    assert len(al) == 1 and al[0]["alert"] == "mql" and al[0]["total"] == 50
    s1 = [s for s in scores if s["lead_id"] == "S1"][-1]
    assert (s1["total"], s1["grade"], s1["cell"]) == (45, "A", "A2"), s1


def test_schemas_dir_overrides():
    """--schemas DIR: its files, not the built-in ones, for Avro output
    headers and for the reader schema of Avro input files."""
    d, old, _new, inp = setup()
    ev_path, _pr_path, _profs, _evs = write_avro(d)
    sdir = os.path.join(d, "own")
    os.mkdir(sdir)
    for name in ("lead_event.avsc", "lead_profile.avsc", "score_update.avsc",
                 "alert.avsc", "dead_letter.avsc"):
        with open(os.path.join(sdir, name), "wb") as f:
            f.write(source_schema(name))
    own = source_schema("score_update.avsc").replace(
        b'"name": "ScoreUpdate"', b'"name": "ScoreUpdate", "doc": "mine"', 1)
    assert own != source_schema("score_update.avsc")
    with open(os.path.join(sdir, "score_update.avsc"), "wb") as f:
        f.write(own)
    out = os.path.join(d, "own.avro")
    p = run(["replay", "--model", old, inp, "--schemas", sdir,
             "--output-format", "avro", "--output", out, "--quiet"], cwd=d)
    assert p.returncode == 0, p.stderr
    with open(out, "rb") as f:
        assert own in f.read()

    # a reader schema without our fields is refused, naming the file
    bad = os.path.join(sdir, "lead_event.avsc")
    with open(bad, "w") as f:
        f.write('{"type": "record", "name": "LeadEvent", "fields": '
                '[{"name": "lead_id", "type": "string"}]}')
    p = run(["replay", "--model", old, ev_path, "--schemas", sdir,
             "--quiet"], cwd=d)
    assert p.returncode == 1 and bad.encode() in p.stderr, p.stderr
    # without --schemas the same input reads with the built-in schema
    p = run(["replay", "--model", old, ev_path, "--quiet"], cwd=d)
    assert p.returncode == 0 and p.stdout, p.stderr


def test_diff_hand_computed():
    _d, old, new, inp = setup()
    p = run(["diff", "--model", old, "--model-new", new, "--input", inp,
             "--json", "--quiet"])
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert len(rep["models"]) == 1
    m = rep["models"][0]
    assert m["model"] == "tiny" and m["leads"] == 7, m
    ch = m["changes"]
    assert ch["mql_gained"] == {"count": 3, "examples": ["G1", "G2", "G3"]}
    assert ch["mql_lost"] == {"count": 1, "examples": ["X1"]}
    assert ch["mql"]["count"] == 4, ch
    assert ch["band"] == {"count": 1, "examples": ["B2"]}, ch
    assert ch["grade"] == {"count": 0, "examples": []}, ch
    assert m["mql"] == {"old": 1, "new": 3}, m
    hist = {b["bucket"]: (b["old"], b["new"]) for b in m["histogram"]}
    assert hist["10-19"] == (1, 0) and hist["20-29"] == (1, 1), hist
    assert hist["30-39"] == (3, 2) and hist["40-49"] == (1, 1), hist
    assert hist["50-59"] == (1, 0) and hist["60-69"] == (0, 3), hist
    assert sum(o for o, _ in hist.values()) == 7
    assert m["quantiles"] == {"old": {"p10": 10, "p50": 30, "p90": 50,
                                      "max": 50},
                              "new": {"p10": 20, "p50": 40, "p90": 60,
                                      "max": 60}}, m["quantiles"]
    cells = {c["cell"]: (c["old"], c["new"]) for c in m["cells"]}
    assert cells["B3"] == (4, 5) and cells["B2"] == (2, 1), cells
    assert cells["A2"] == (1, 1) and cells["A1"] == (0, 0), cells

    t = run(["diff", "--model", old, "--model-new", new, "--input", inp,
             "--examples", "2"])
    assert t.returncode == 0, t.stderr
    text = t.stdout.decode()
    lines = text.splitlines()

    def row(label):
        for line in lines:
            if line.strip().startswith(label):
                return line.split()
        raise AssertionError("no %r row in:\n%s" % (label, text))
    assert row("become MQL")[2:] == ["3", "G1", "G2", "..."], text
    assert row("lose MQL")[2:] == ["1", "X1"], text
    assert row("MQL leads")[2:] == ["1", "3", "+2"], text
    assert row("B3")[1:] == ["4", "5", "+1"], text
    assert row("p50")[1:] == ["30", "40", "+10"], text
    assert b"diff: 16 records" in t.stderr, t.stderr


def test_saved_state():
    """--save-state then --snapshot continues where the first replay ended;
    the state file is a checksummed snapshot: a cut-short or corrupted one,
    or one saved under another model set, is refused with the file named,
    and a failed save leaves the previous file as it was."""
    d, old, new, _inp = setup()
    recs = [json.dumps(r) + "\n" for r in history()]
    first = write(d, "first.jsonl", "".join(recs[:8]))
    rest = write(d, "rest.jsonl", "".join(recs[8:]))
    whole = write(d, "whole.jsonl", "".join(recs))
    state = os.path.join(d, "state.lssnap")
    p = run(["replay", "--model", old, first, "--quiet", "--output",
             os.devnull, "--save-state", state])
    assert p.returncode == 0, p.stderr
    with open(state, "rb") as f:
        good = f.read()
    assert good.startswith(b"LSSNAP\r\n"), good[:16]
    assert not [n for n in os.listdir(d) if n.endswith(".tmp")], os.listdir(d)
    p = run(["snapshot", "inspect", state, "--model", old])
    assert p.returncode == 0 and b"checksum: ok" in p.stdout, p.stdout
    a = run(["replay", "--model", old, rest, "--snapshot", state,
             "--final-only", "--quiet"])
    b = run(["replay", "--model", old, whole, "--final-only", "--quiet"])
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout, (a.stdout, b.stdout)

    def refused(path, why):
        p = run(["replay", "--model", old, rest, "--snapshot", path,
                 "--quiet", "--output", os.devnull])
        assert p.returncode == 1, (path, p.returncode, p.stderr)
        assert ("--snapshot %s: " % path).encode() in p.stderr, p.stderr
        assert why in p.stderr, (why, p.stderr)
        return p

    cut = write(d, "cut.lssnap", "")
    with open(cut, "wb") as f:
        f.write(good[:len(good) // 2])
    refused(cut, b"truncated")
    bad = os.path.join(d, "bad.lssnap")
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    with open(bad, "wb") as f:
        f.write(bytes(flipped))
    refused(bad, b"checksum mismatch")
    raw = write(d, "raw.state", "not a snapshot")
    refused(raw, b"not a leadscore snapshot")
    p = run(["replay", "--model", new, rest, "--snapshot", state,
             "--quiet", "--output", os.devnull])
    assert p.returncode == 1 and b"model set version" in p.stderr, p.stderr
    assert state.encode() in p.stderr, p.stderr

    # A save that cannot finish (its directory is gone) names the file and
    # never leaves a partial one behind.
    gone = os.path.join(d, "no-such-dir", "s.lssnap")
    p = run(["replay", "--model", old, first, "--quiet", "--output",
             os.devnull, "--save-state", gone])
    assert p.returncode == 1, p.stderr
    assert b"--save-state " in p.stderr and b"no-such-dir" in p.stderr, \
        p.stderr
    assert not os.path.exists(gone)


def test_usage_errors():
    _d, old, _new, inp = setup()
    p = run(["replay", "--input", inp])
    assert p.returncode == 64 and b"--model FILE is required" in p.stderr
    p = run(["replay", "--model", old, "--from", "yesterday", inp])
    assert p.returncode == 64 and b"--from: 'yesterday'" in p.stderr, p.stderr
    p = run(["diff", "--model", old, inp])
    assert p.returncode == 64 and b"--model-new" in p.stderr, p.stderr
    p = run(["replay", "--help"])
    assert p.returncode == 0 and b"--final-only" in p.stdout
    p = run(["diff", "--help"])
    assert p.returncode == 0 and b"--model-new" in p.stdout
    p = run(["replay", "--model", old, "/nonexistent.jsonl"])
    assert p.returncode == 1 and b"/nonexistent.jsonl" in p.stderr, p.stderr


if __name__ == "__main__":
    h.main([test_deterministic_and_equal_to_score, test_final_only_hand_checked,
            test_avro_input_and_output, test_schemas_dir_overrides,
            test_diff_hand_computed, test_saved_state,
            test_usage_errors])

"""A fitted logistic model, from history to live scores (issue 13): the
generator's history (bench/gen_history.py) goes through `leadscore
calibrate --write-model`; the model file it writes

  - is accepted by `leadscore check`, and holds the report's per-unit
    coefficients and intercept;
  - scores a file with `leadscore score`: every update carries the
    probability, a total of round(100 x probability), and features whose
    contributions add up to its log-odds; the same input gives the same
    bytes twice;
  - scores the same inputs live with `leadscore run` (4 partitions, keyed
    by lead id): the score and alert topics hold exactly what `score`
    gives on each partition's inputs in merge order (docs/DURABILITY.md),
    read back with confluent-kafka, and nothing goes to the dead-letter
    topic; `leadscore replay` of the topics produces the very same
    records; and with Avro output, a live run's and a replay's records
    are again the same bytes, and decode against schemas/score_update.avsc
    to the probability and features of the JSON run.

A calibration on a history whose window features the model cannot see
(--window 1d) gives a different model: the coefficients come from the
data."""
import json
import math
import os
import subprocess

import lsharness as h
from clitest import gen_history
import order_common as oc

BROKERS = "mock kafka"
TIMEOUT = 400

PARTS = 4
LEADS = 2500
LIVE_LEADS = 40  # leads whose inputs go through `run`
BROKER = None


def cli(*args, check=True):
    p = subprocess.run([h.LEADSCORE] + list(args), capture_output=True,
                       timeout=300)
    if check:
        assert p.returncode == 0, "%s: exit %d: %s" % (
            args[0], p.returncode, p.stderr.decode()[-2000:])
    return p


def history(d):
    hist, _ = gen_history(d, LEADS, 5)
    recs = []
    with open(hist) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] == "event":
                recs.append(oc.Rec("event", r["lead_id"], r["occurred_at"], {
                    "event_id": r["event_id"], "event_type": r["event_type"],
                    "product": r.get("product"),
                    "properties": r.get("properties", {})}))
            else:
                recs.append(oc.Rec("profile", r["lead_id"], r["updated_at"],
                                   r["attributes"]))
    return recs


def calibrate(d, *extra):
    model = os.path.join(d, "fitted%d.yaml" % len(extra))
    p = cli("calibrate", "--model",
            os.path.join(h.SOURCE_DIR, "bench", "history_model.yaml"),
            "--input", os.path.join(d, "history.jsonl"),
            "--outcomes", os.path.join(d, "outcomes.jsonl"),
            "--write-model", model, "--json", *extra)
    return model, json.loads(p.stdout)


def test_calibrate_check_score():
    d = h.tmpdir()
    recs = history(d)
    model, rep = calibrate(d)
    p = cli("check", "--model", model)
    assert b"kind: logistic" in p.stdout or b"logistic" in p.stdout, \
        p.stdout.decode()
    text = open(model).read()
    assert "kind: logistic" in text and "points" not in text, text[:2000]
    import yaml
    m = yaml.safe_load(text)["models"][0]
    coefs = m["logistic"]["coefficients"]
    for c in rep["logistic"]["features"]:
        name = c["feature"].split(":", 1)[-1]
        want = 0.0 if c["constant"] else c["coef"]
        assert abs(coefs[name] - want) <= 1e-9 * (1 + abs(want)), (name,
                                                                  coefs[name],
                                                                  want)
    assert abs(m["logistic"]["intercept"] -
               rep["logistic"]["intercept"]) < 1e-9
    # calibrating the written model again counts what it counts: its own
    # window and buckets, and every fit match (not only those that moved
    # its fit score); the features are the same as the first time's
    p2 = cli("calibrate", "--model", model,
             "--input", os.path.join(d, "history.jsonl"),
             "--outcomes", os.path.join(d, "outcomes.jsonl"), "--json")
    rep2 = json.loads(p2.stdout)
    assert rep2["window_ms"] == rep["window_ms"], rep2["window_ms"]
    with1 = {r["rule"]: r["with"]["leads"] for r in rep["rules"]}
    with2 = {r["rule"]: r["with"]["leads"] for r in rep2["rules"]}
    assert with1 == with2, (with1, with2)
    assert abs(rep2["evaluation"]["auc"] - rep["evaluation"]["auc"]) < 1e-9
    # the written grades split real fit scores: every grade is reachable
    g = [lv.get("min") for lv in m["grades"]]
    assert all(x is None or x >= 0 for x in g) and len(set(g)) == len(g), g

    # another window: another model, fitted from the data
    model1, rep1 = calibrate(d, "--window", "1d", "--buckets", "4")
    m1 = yaml.safe_load(open(model1).read())["models"][0]
    assert m1["logistic"]["window"] == "1d" and m1["logistic"]["buckets"] == 4
    assert m1["logistic"]["coefficients"] != coefs

    # score: probability, total and features agree
    lines = "".join(json.dumps(oc.to_json(r)) + "\n" for r in recs[:6000])
    out1 = subprocess.run([h.LEADSCORE, "score", "--model", model],
                          input=lines.encode(), capture_output=True,
                          timeout=120)
    assert out1.returncode == 0, out1.stderr.decode()[-2000:]
    out2 = subprocess.run([h.LEADSCORE, "score", "--model", model],
                          input=lines.encode(), capture_output=True,
                          timeout=120)
    assert out1.stdout == out2.stdout, "score is not deterministic"
    n = 0
    for line in out1.stdout.splitlines():
        o = json.loads(line)
        z = sum(f["contribution"] for f in o["features"])
        assert o["features"][0]["name"] == "intercept"
        assert abs(o["probability"] - 1 / (1 + math.exp(-z))) < 1e-9, o
        assert o["total"] == round(100 * o["probability"]), o
        assert o["fit"] + o["engagement"] == o["total"], o
        for f in o["features"][1:]:
            assert f["value"] != 0
            assert abs(f["contribution"] -
                       coefs[f["name"]] * f["value"]) < 1e-9, f
        n += 1
    assert n > 1000, n


def test_run_matches_score():
    bootstrap = BROKER.address
    d = h.tmpdir()
    recs = history(d)
    model, _ = calibrate(d)
    live = sorted({r.lead for r in recs})[:LIVE_LEADS]
    recs = [r for r in recs if r.lead in set(live)]
    expected = oc.offline_outputs(recs, PARTS, model)
    assert expected["scores"], "no score updates"
    topics = oc.topic_set("lg")
    oc.produce(bootstrap, recs, topics, oc.Encoder("json"), pace="batch")
    cfg = oc.write_config(d, bootstrap, "g-lg", topics, model=model)
    outs = run_to_end(cfg, "lg", topics)
    assert not outs["dead_letters"], oc.dead_letter_summary(
        outs["dead_letters"])
    for what in ("scores", "alerts"):
        diff = oc.diff_outputs(expected[what], oc.as_offline(outs[what]),
                               "score", "run", what, headers=False)
        assert not diff, diff
    assert outs["alerts"], "no alerts"
    h.log("run: %d score updates, %d alerts, as `score` gives them" % (
        len(outs["scores"]), len(outs["alerts"])))
    replay(cfg, "lg", outs, None)

    # Avro output: live and replayed alike, and decoded by an independent
    # reader to what the JSON run said
    atopics = dict(oc.topic_set("la"), events=topics["events"],
                   profiles=topics["profiles"])
    acfg = oc.write_config(d, bootstrap, "g-la", atopics, fmt_out="avro",
                           model=model)
    aouts = run_to_end(acfg, "la", atopics)
    assert not aouts["dead_letters"]
    dec = oc.avro_decoder("scores")
    by_id = {oc.header(o, "leadscore.id"): json.loads(o.value)
             for o in outs["scores"]}
    assert len(aouts["scores"]) == len(outs["scores"])
    for o in aouts["scores"]:
        a = dec(o.value)
        j = by_id[oc.header(o, "leadscore.id")]
        assert a["probability"] == j["probability"], (a, j)
        assert [(f["name"], f["value"], f["contribution"])
                for f in a["features"]] == [
                    (f["name"], f["value"], f["contribution"])
                    for f in j["features"]], (a, j)
    replay(acfg, "la", aouts, oc.avro_decoder)


def run_to_end(cfg, case, topics):
    """`leadscore run` of config cfg (group g-CASE) until it has consumed
    everything produced; its output topics' records."""
    run = oc.start_run(cfg, "run-" + case)
    try:
        run.wait_line("event=assigned", 60)
        oc.wait_caught_up(BROKER.address, "g-" + case, topics, PARTS, 120,
                          [run])
        oc.stop_run(run)
    finally:
        run.kill()
    return oc.run_outputs(BROKER.address, topics, PARTS)


def replay(cfg, case, live_out, decoder):
    """`leadscore replay --config` of the run's topics to two other
    topics: the same records as the live run."""
    p = subprocess.run([h.LEADSCORE, "replay", "--config", cfg,
                        "--output-topic", case + "-rscores",
                        "--alerts-topic", case + "-ralerts", "--quiet"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, "replay: exit %d: %s" % (
        p.returncode, p.stderr.decode()[-2000:])
    for what, topic in (("scores", case + "-rscores"),
                        ("alerts", case + "-ralerts")):
        got = oc.read_topic(BROKER.address, topic, PARTS)
        diff = oc.diff_outputs(live_out[what], got, "live", "replay", what,
                               decoder(what) if decoder else None)
        assert not diff, diff
    h.log("%s: replay identical to the live run" % case)


if __name__ == "__main__":
    BROKER = h.Broker(partitions=PARTS, topics=[
        t for c in ("lg", "la")
        for t in list(oc.topic_set(c).values()) + [c + "-rscores",
                                                   c + "-ralerts"]])
    try:
        h.main([test_calibrate_check_score, test_run_matches_score])
    finally:
        BROKER.stop()

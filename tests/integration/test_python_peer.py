"""The benchmarks' Python peer (bench/peers/python_scorer.py) against the
test broker: it consumes Avro inputs and writes score updates that Python
avro decodes against schemas/score_update.avsc, with the fields a points
model writes (no probability, no features), and the same engagement as
`leadscore score` gives for the same inputs under the same model."""
import json
import os
import subprocess
import sys

import lsharness as h

BROKERS = "mock"
PEER = os.path.join(h.SOURCE_DIR, "bench", "peers", "python_scorer.py")
MODEL = os.path.join(h.SOURCE_DIR, "examples", "model.yaml")


def event(lead, eid, t, etype, url=None):
    return {"lead_id": lead, "event_id": eid, "event_type": etype,
            "occurred_at": t, "product": "office",
            "properties": {"url": url} if url else {}}


def as_avro(e):
    return dict(e, occurred_at=h.ts(e["occurred_at"]))


def as_json(e):
    return json.dumps(dict(e, kind="event", occurred_at=e["occurred_at"]))


def test_peer_scores_and_writes_valid_records():
    se = h.avro_schema("lead_event.avsc")
    su = h.avro_schema("score_update.avsc")
    inputs = [event("P1", "e1", h.T0, "page_view", "https://x.test/pricing"),
              event("P1", "e2", h.T0 + 60000, "demo_request"),
              event("P2", "e3", h.T0 + 120000, "email_open")]
    broker = h.Broker(partitions=1,
                      topics=h.DEFAULT_TOPICS + ["bench-py-scores"])
    try:
        prod = h.producer(broker.address)
        for e in inputs:
            h.produce(prod, h.TOPICS["events"], e["lead_id"].encode(),
                      h.avro_encode(se, as_avro(e)))
        h.flush(prod)
        out = subprocess.run(
            [sys.executable or "/usr/bin/python3", PEER, "--brokers",
             broker.address, "--group", "peer", "--expect",
             str(len(inputs)), "--model", MODEL, "--timeout", "60"],
            capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        recs = h.consume_all(broker.address, ["bench-py-scores"], 3, 25)
    finally:
        broker.stop()
    got = [h.avro_decode(su, r[4]) for r in recs]
    assert got, out.stdout + out.stderr
    for g in got:
        assert g["probability"] is None and g["features"] == [], g
    # the same engagement, per lead, as leadscore's last update of each
    # (the peer scores the rules, caps, grades, bands and MQL, not the fit
    # rules on a missing profile)
    ref = subprocess.run([h.LEADSCORE, "score", "--model", MODEL],
                         input="".join(as_json(e) + "\n" for e in inputs),
                         capture_output=True, text=True, timeout=60)
    assert ref.returncode == 0, ref.stderr
    want = {}
    for line in ref.stdout.splitlines():
        o = json.loads(line)
        if o.get("alert") is None and o["model"] == "office":
            want[o["lead_id"]] = o["engagement"]
    last = {g["lead_id"]: g["engagement"] for g in got
            if g["model"] == "office"}
    assert last == want, (last, want)


if __name__ == "__main__":
    h.main([test_peer_scores_and_writes_valid_records])

"""`leadscore run` keeps lead state across restarts by default: a config
without a snapshot section snapshots into leadscore-state of the working
directory (made with mode 0700), so after a clean SIGTERM and a restart a
lead's score goes on from its state and no output id is reused with other
bytes (checked with confluent_kafka, an independent client). `snapshot:
off` runs without durable state and warns at start
(event=no_durable_state); it makes no directory. `replay` with the same
config and `demo` make none either, and say nothing about durable state."""
import json
import os
import re
import stat
import subprocess

import lsharness as h

BROKERS = "mock kafka"
TIMEOUT = 300

PARTS = 2
STATE = "leadscore-state"


def ev(lead, eid, etype, t, **props):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": etype, "occurred_at": t,
                       "properties": props})


def outputs(bootstrap, want):
    """Score updates and alerts, from the beginning, as dicts."""
    recs = h.consume_all(bootstrap, [h.TOPICS["scores"], h.TOPICS["alerts"]],
                         want, 40, PARTS)
    return [{"topic": t, "key": k, "value": v, "id": hd["leadscore.id"],
             "body": json.loads(v)} for t, _p, _o, k, v, hd in recs]


def check_ids(outs):
    """No output id twice with other bytes; returns {id: output}."""
    seen = {}
    for o in outs:
        first = seen.setdefault(o["id"], o)
        assert (first["key"], first["value"]) == (o["key"], o["value"]), \
            "id %s reused with other content:\n  %s\n  %s" % (
                o["id"], first["value"], o["value"])
    return seen


def last_score(outs, lead):
    scores = [o["body"] for o in outs
              if o["topic"] == h.TOPICS["scores"] and o["body"]["lead_id"] == lead]
    return max(scores, key=lambda b: b["seq"])


def test_state_kept_by_default():
    broker = h.Broker(partitions=PARTS)
    runs = []
    try:
        d, wd = h.tmpdir(), h.tmpdir()   # config dir, working dir
        cfg = h.write_config(d, broker.address, group="state-default",
                             snapshot=None)
        with open(cfg) as f:
            assert "snapshot" not in f.read()
        state = os.path.join(os.path.realpath(wd), STATE)

        # --print-config shows the default and where it comes from, and
        # makes nothing
        p = subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                            "--print-config"], cwd=wd, capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 0, p
        assert ("  snapshot = dir:%s interval:30000ms every_events:0 keep:3 "
                "(default: leadscore-state in the working directory)\n"
                % state) in p.stdout, p.stdout
        assert os.listdir(wd) == [], os.listdir(wd)

        run = h.start_run(cfg, "run1", cwd=wd)
        runs.append(run)
        line = run.wait_line("event=durable_state", 30)
        assert "level=info" in line and state in line, line
        prod = h.producer(broker.address)
        h.produce(prod, h.TOPICS["profiles"], b"L1", json.dumps(
            {"kind": "profile", "lead_id": "L1", "updated_at": h.T0,
             "attributes": {"industry": "saas"}}))
        h.flush(prod)
        assert len(outputs(broker.address, 1)) == 1  # the profile first
        h.produce(prod, h.TOPICS["events"], b"L1",
                  ev("L1", "e1", "page_view", h.T0 + 1000,
                     url="https://x.test/pricing"))
        h.produce(prod, h.TOPICS["events"], b"L1",
                  ev("L1", "e2", "demo_request", h.T0 + 2000))
        h.produce(prod, h.TOPICS["events"], b"L2",
                  ev("L2", "e4", "page_view", h.T0 + 1500,
                     url="https://y.test/pricing"))
        h.flush(prod)
        before = outputs(broker.address, 5)
        assert len(before) == 5, before
        b = last_score(before, "L1")
        assert (b["total"], b["grade"], b["seq"]) == (55, "A", 3), b
        run.stop_ok()

        st = os.stat(state)
        assert stat.S_ISDIR(st.st_mode) and st.st_mode & 0o077 == 0, \
            oct(st.st_mode)
        snaps = [f for f in os.listdir(state) if f.endswith(".lssnap")]
        assert any(f.startswith("state-default-") for f in snaps), snaps

        run = h.start_run(cfg, "run2", cwd=wd)
        runs.append(run)
        run.wait_line("event=durable_state", 30)
        run.wait_line("event=assigned", 40)
        h.produce(prod, h.TOPICS["events"], b"L1",
                  ev("L1", "e3", "page_view", h.T0 + 3000,
                     url="https://x.test/pricing/enterprise"))
        h.produce(prod, h.TOPICS["events"], b"L2",
                  ev("L2", "e5", "page_view", h.T0 + 4000,
                     url="https://y.test/pricing"))
        h.flush(prod)
        after = outputs(broker.address, 7)
        assert len(after) == 7, after
        run.stop_ok()
        assert "restored partition" in run.stderr_text(), run.stderr_text()

        ids = check_ids(after)
        assert len(ids) == 7, sorted(ids)
        # L1 goes on from fit 20 + engagement 35 and seq 4 (its MQL
        # alert, which shares the sequence): grade A, and the alert is not
        # raised again; L2 from 10. Without state, e3 would have been
        # L1/tiny/1 again, at 10 points and grade B.
        b = last_score(after, "L1")
        assert (b["total"], b["fit"], b["grade"], b["seq"]) == \
            (65, 20, "A", 5), b
        b = last_score(after, "L2")
        assert (b["total"], b["seq"]) == (20, 2), b
        alerts = [o for o in after if o["topic"] == h.TOPICS["alerts"]]
        assert [a["id"] for a in alerts] == ["L1/tiny/4/mql"], alerts

        # replay with the same config: the same final state, and no state
        # directory of its own
        rd = h.tmpdir()
        p = subprocess.run([h.LEADSCORE, "replay", "--config", cfg,
                            "--final-only", "--quiet"], cwd=rd,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        final = {r["lead_id"]: r for r in map(json.loads,
                                                p.stdout.splitlines())}
        assert final["L1"]["total"] == 65 and final["L2"]["total"] == 20, \
            final
        assert "durable_state" not in p.stderr, p.stderr
        assert os.listdir(rd) == [], os.listdir(rd)
    finally:
        for r in runs:
            r.kill()
        broker.stop()


def test_opt_out_warns():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d, wd = h.tmpdir(), h.tmpdir()
        cfg = h.write_config(d, broker.address, group="state-off")
        with open(cfg) as f:
            assert re.search(r"^snapshot: off$", f.read(), re.M)
        run = h.start_run(cfg, "run", cwd=wd)
        line = run.wait_line("event=no_durable_state", 30)
        assert "level=warn" in line, line
        for words in ("no durable lead state (snapshot: off)",
                      "scored from zero", "committed offsets",
                      "repeat with other content"):
            assert words in line, line
        run.wait_line("event=assigned", 40)
        run.stop_ok()
        assert "event=durable_state" not in run.stderr_text()
        assert os.listdir(wd) == [], os.listdir(wd)
    finally:
        if run:
            run.kill()
        broker.stop()


def test_demo_keeps_quiet():
    """demo keeps no state (its broker ends with it) and says nothing
    about it; it runs from the source tree and must leave nothing
    there."""
    if h.BROKER_KIND != "mock":
        return  # demo has its own broker: once is enough
    had = os.path.exists(os.path.join(h.SOURCE_DIR, STATE))
    out = subprocess.run([h.LEADSCORE, "demo", "--timeout", "40"],
                         cwd=h.SOURCE_DIR, capture_output=True, text=True,
                         timeout=55)
    assert out.returncode == 0, out
    assert "durable_state" not in out.stdout + out.stderr, out.stderr
    assert had or not os.path.exists(os.path.join(h.SOURCE_DIR, STATE))


if __name__ == "__main__":
    h.main([test_state_kept_by_default, test_opt_out_warns,
            test_demo_keeps_quiet])

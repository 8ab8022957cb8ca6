"""Model reload of a running `leadscore run` (docs/OPERATIONS.md):
SIGHUP with a changed model switches between two batches, so outputs of
inputs consumed before carry the old model version and outputs of inputs
consumed after carry the new one (lead state carried over); an
invalid model is rejected with a file:line reason in the log and the old
one keeps serving; with model_watch the change of the file is enough.
Logs are JSON lines here, parsed as such."""
import json
import re
import signal

import lsharness as h
import opsutil as o

BROKERS = "mock kafka"

SC = h.TOPICS["scores"]


def write_config(d, broker, group, extra):
    """The harness config without its 1 s metadata refresh: the topics
    exist from the start, and a refresh landing while the member, as
    group leader, waits for its assignor's metadata makes librdkafka
    rejoin. The test broker answers a first join after 3 s and a rejoin
    after session.timeout.ms - 1 s = 5 s, both on the refresh's beat, so
    the rejoins could chain until `assigned` came too late."""
    return h.write_config(d, broker.address, group=group, extra=extra,
                          metadata_refresh_ms=None)


def ev(lead, eid, t):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": "page_view", "occurred_at": t,
                       "properties": {"url": "https://x.test/pricing"}})


def write_model(d, text):
    with open(h.os.path.join(d, "model.yaml"), "w") as f:
        f.write(text)


def log_events(run, event):
    out = []
    for line in run.stderr_text().splitlines():
        if line.startswith("{"):
            rec = json.loads(line)  # every structured line is valid JSON
            if rec.get("event") == event:
                out.append(rec)
    return out


def wait_event(run, event, n, timeout=20):
    deadline = h.time.monotonic() + timeout
    while True:
        got = log_events(run, event)
        if len(got) >= n:
            return got
        assert h.time.monotonic() < deadline, \
            "no %d %s log lines:\n%s" % (n, event, run.stderr_text())
        h.time.sleep(0.1)


def scores_of(broker, want):
    recs = h.consume_all(broker.address, [SC], want, 20)
    return [(json.loads(r[4]), r[5]) for r in recs]


def test_sighup_reload():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = write_config(d, broker, "ops-reload",
                           "log: {format: json, level: info}\n")
        run = h.start_run(cfg)
        wait_event(run, "assigned", 1)
        prod = h.producer(broker.address)
        t = h.T0 + 3600 * 1000
        h.produce(prod, h.TOPICS["events"], b"L1", ev("L1", "e1", t))
        h.flush(prod)
        got = scores_of(broker, 1)
        assert len(got) == 1 and got[0][0]["total"] == 10, got
        v1 = got[0][1]["leadscore.model_version"]

        # A valid new model: pricing is worth 15.
        write_model(d, h.TINY_MODEL.replace("points: 10", "points: 15"))
        run.p.send_signal(signal.SIGHUP)
        sw = wait_event(run, "model_reload", 1)[0]
        assert sw["result"] == "switched" and sw["level"] == "info", sw
        h.produce(prod, h.TOPICS["events"], b"L1", ev("L1", "e2", t + 1))
        h.flush(prod)
        got = scores_of(broker, 2)
        assert len(got) == 2, got
        after, hdrs = got[1]
        v2 = hdrs["leadscore.model_version"]
        assert v2 != v1 and after["model_version"] == v2, (v1, got)
        # The new model, with the lead's state carried over
        # (docs/OPERATIONS.md): 10 earned before + 15, and the sequence
        # goes on, so output ids never repeat.
        assert after["cause_id"] == "e2" and after["total"] == 25, after
        assert after["seq"] == 2, after
        assert got[0][1]["leadscore.model_version"] == v1

        # An invalid model: rejected with file:line, the old one serves.
        write_model(d, h.TINY_MODEL.replace("points: 15", "points: lots")
                    .replace("points: 10", "points: lots"))
        run.p.send_signal(signal.SIGHUP)
        rej = wait_event(run, "model_reload", 2)[1]
        assert rej["result"] == "rejected" and rej["level"] == "error", rej
        assert re.search(r"model\.yaml:\d+:", rej["error"]), rej
        assert rej["model_version"] == sw["model_version"], (rej, sw)
        h.produce(prod, h.TOPICS["events"], b"L1", ev("L1", "e3", t + 2))
        h.flush(prod)
        got = scores_of(broker, 3)
        assert len(got) == 3, got
        assert got[2][1]["leadscore.model_version"] == v2, got
        assert got[2][0]["total"] == 40, got

        # The same content again: nothing to switch.
        write_model(d, h.TINY_MODEL.replace("points: 10", "points: 15"))
        run.p.send_signal(signal.SIGHUP)
        same = wait_event(run, "model_reload", 3)[2]
        assert same["result"] == "unchanged", same
        run.stop_ok()
    finally:
        if run:
            run.kill()
        broker.stop()


def test_model_watch():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = write_config(d, broker, "ops-watch",
                           "model_watch: true\n"
                           "log: {format: json}\n")
        run = h.start_run(cfg)
        wait_event(run, "assigned", 1)
        h.time.sleep(1.2)  # a different mtime second for coarse clocks
        write_model(d, h.TINY_MODEL.replace("points: 25", "points: 30"))
        sw = wait_event(run, "model_reload", 1, timeout=10)[0]
        assert sw["result"] == "switched", sw
        run.stop_ok()
    finally:
        if run:
            run.kill()
        broker.stop()


def test_reload_with_snapshots():
    """With snapshots, the switch point is made durable at once: a restart
    with the new model restores the new model's state from there."""
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = write_config(d, broker, "ops-reload-snap",
                           "log: {format: json}\n"
                           "snapshot: {dir: snaps, interval: 1h}\n"
                           "metrics: {listen: \"127.0.0.1:0\"}\n")
        run = h.start_run(cfg)
        wait_event(run, "assigned", 1)
        prod = h.producer(broker.address)
        t = h.T0 + 3600 * 1000
        h.produce(prod, h.TOPICS["events"], b"L1", ev("L1", "e1", t))
        h.flush(prod)
        assert len(scores_of(broker, 1)) == 1
        write_model(d, h.TINY_MODEL.replace("points: 10", "points: 15"))
        run.p.send_signal(signal.SIGHUP)
        sw = wait_event(run, "model_reload", 1)[0]
        assert sw["result"] == "switched", sw
        snaps = [r for r in wait_event(run, "snapshot", 1)
                 if "(model reload)" in r["msg"]]
        assert snaps, run.stderr_text()
        port = int(wait_event(run, "metrics_listening", 1)[0]["msg"]
                   .split("(port ")[1].split(")")[0])
        s = o.wait_for(port, lambda x: (o.value(
            x, "leadscore_snapshot_bytes", partition="0") or 0) > 0, 5,
            "snapshot gauges")
        assert o.value(s, "leadscore_snapshot_duration_seconds",
                       partition="0") >= 0, s
        assert o.value(s, "leadscore_snapshot_age_seconds",
                       partition="0") < 60, s
        assert o.value(s, "leadscore_model_reloads_total",
                       result="switched") == 1, s
        h.produce(prod, h.TOPICS["events"], b"L1", ev("L1", "e2", t + 1))
        h.flush(prod)
        got = scores_of(broker, 2)
        assert got[1][0]["total"] == 25, got
        run.stop_ok()

        # Restart with the new model: its state (25) is restored.
        run = h.start_run(cfg, "run2")
        wait_event(run, "restored", 1)
        h.produce(prod, h.TOPICS["events"], b"L1", ev("L1", "e3", t + 2))
        h.flush(prod)
        got = scores_of(broker, 3)
        assert len(got) == 3, got
        assert got[2][0]["cause_id"] == "e3" and got[2][0]["total"] == 40, got
        assert got[2][1]["leadscore.model_version"] == \
            got[1][1]["leadscore.model_version"], got
        run.stop_ok()
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_sighup_reload, test_model_watch, test_reload_with_snapshots])

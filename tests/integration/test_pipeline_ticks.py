"""Clock ticks (docs/SEMANTICS.md, "Clock ticks"): a partition that stays
quiet for `idle_tick` still emits its decay and `mql_lost` outputs, and a
`leadscore replay` of the same topics reproduces them byte for byte.

Leads qualify as MQLs with events dated two days before the wall clock;
then nothing more is produced. `run` (idle_tick: 2s) writes a tick into
each quiet partition of the events topic; consumed, the tick moves that
partition's stream time to the wall clock less idle_tick, so every
lead's decay step (after 1d) fires and its `mql_lost` alert follows. A
profile written a second after its own time, after the ticks, still
comes after them, live and replayed. The test reads the
ticks back with confluent-kafka (no key, no value, the leadscore.tick
header, in the partition they move), and compares the live outputs of
the scores and alerts topics with a replay of the two input topics, which
meets the same ticks at the same offsets. A second run with
`idle_tick: off` over fresh topics writes no tick and emits no decay.
"""
import json
import os
import re
import subprocess
import time

import lsharness as h

BROKERS = "mock kafka"
PARTS = 2
LEADS = ["T%d" % i for i in range(6)]
DAY = 86_400_000

MODEL = """\
lateness: 1h
models:
  - id: tick
    fit:
      rules:
        - {id: saas, attribute: industry, equals: saas, points: 5}
    engagement:
      rules:
        - {id: demo, event: demo_request, points: 30}
      decay:
        steps:
          - {after: 1d, points: -20}
    grades:
      - {name: A}
    bands:
      - {name: cold}
    mql:
      enter: {min_total: 30}
"""


def produce_inputs(bootstrap, base):
    prod = h.producer(bootstrap)
    for i, lead in enumerate(LEADS):
        t = base + i * 1000
        prod.produce(h.TOPICS["events"], key=lead, value=json.dumps(
            {"lead_id": lead, "event_id": "d-%s" % lead,
             "event_type": "demo_request", "occurred_at": t}), timestamp=t)
    h.flush(prod)


def parse(values):
    return [json.loads(v) for v in values]


def run_once(idle_tick):
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, model_text=MODEL,
                             group="ticks", extra="idle_tick: %s\n" % idle_tick)
        base = int(time.time() * 1000) - 2 * DAY
        produce_inputs(broker.address, base)
        run = h.start_run(cfg)
        # 6 score updates and 6 mql alerts from the events; with ticks,
        # 6 decay updates and 6 mql_lost alerts on top (then a profile's)
        want = 24 if idle_tick != "off" else 12
        live = h.consume_all(broker.address,
                             [h.TOPICS["scores"], h.TOPICS["alerts"]],
                             want, 40, PARTS)
        if idle_tick != "off" and len(live) >= want:
            # A CRM update written a second after its own time, after the
            # ticks: a tick is dated idle_tick before the wall clock, so
            # the profile still comes after it in the merge, live and in
            # the replay (DURABILITY.md, condition (a)).
            prod = h.producer(broker.address)
            t = int(time.time() * 1000) - 1000
            prod.produce(h.TOPICS["profiles"], key=LEADS[0], value=json.dumps(
                {"lead_id": LEADS[0], "updated_at": t,
                 "attributes": {"industry": "saas"}}), timestamp=t)
            h.flush(prod)
            live = h.consume_all(broker.address,
                                 [h.TOPICS["scores"], h.TOPICS["alerts"]],
                                 want + 1, 30, PARTS)
        if idle_tick == "off":
            time.sleep(4)  # two idle_tick periods of the other run
            live = h.consume_all(broker.address,
                                 [h.TOPICS["scores"], h.TOPICS["alerts"]],
                                 want, 10, PARTS)
        run.stop_ok()
        summary = run.stderr_text()
        run = None
        ticks = [r for r in h.consume_all(broker.address,
                                          [h.TOPICS["events"]],
                                          len(LEADS) + PARTS, 10, PARTS)
                 if "leadscore.tick" in r[5]]
        return broker, cfg, live, ticks, summary
    except BaseException:
        if run:
            run.kill()
        broker.stop()
        raise


def test_idle_partitions_tick_and_replay_equal():
    broker, cfg, live, ticks, summary = run_once("2s")
    try:
        values = parse(r[4] for r in live)
        causes = sorted(v.get("cause") for v in values
                        if v["kind"] == "score_update")
        alerts = sorted(v.get("alert") for v in values
                        if v["kind"] == "alert")
        assert causes == ["decay"] * 6 + ["event"] * 6 + ["profile"], causes
        assert alerts == ["mql"] * 6 + ["mql_lost"] * 6, alerts
        for v in values:
            if v["kind"] == "score_update" and v["cause"] == "decay":
                assert v["total"] == 10, v
            if v["kind"] == "score_update" and v["cause"] == "profile":
                assert v["total"] == 15 and v["fit"] == 5, v
        # The ticks are in the log, as an independent client sees them.
        assert ticks, "no tick in the events topic"
        now = int(time.time() * 1000)
        for _t, p, _o, key, value, headers in ticks:
            assert key is None and not value, (key, value)
            t = int(headers["leadscore.tick"])
            assert now - 120_000 < t <= now, (t, now)
        assert {p for _t, p, _o, _k, _v, _hd in ticks} == set(range(PARTS))
        m = re.search(r"ticks (\d+) \(produced (\d+), refused 0\)", summary)
        assert m and int(m.group(1)) >= PARTS and int(m.group(2)) >= PARTS, \
            summary[-2000:]
        # A replay of the two input topics meets the ticks where run did.
        p = subprocess.run([h.LEADSCORE, "replay", "--quiet", "--config",
                            cfg], capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        assert sorted(p.stdout.splitlines()) == sorted(r[4] for r in live), \
            (p.stdout.decode(), [r[4] for r in live])
    finally:
        broker.stop()


def test_idle_tick_off():
    broker, _cfg, live, ticks, summary = run_once("off")
    try:
        values = parse(r[4] for r in live)
        assert len(values) == 12, values
        assert not any(v.get("cause") == "decay" for v in values), values
        assert ticks == [], ticks
        assert "ticks 0 (produced 0, refused 0)" in summary, summary[-2000:]
    finally:
        broker.stop()


if __name__ == "__main__":
    h.main([test_idle_partitions_tick_and_replay_equal, test_idle_tick_off])

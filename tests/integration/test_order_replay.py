"""One order, live and replayed (issue 10, item 2): a live `leadscore run`
consumes the events and profiles topics (4 partitions each, keys = lead
ids, murmur2-partitioned), then `leadscore replay --config` of the same
topic ranges, produced to two other topics, must reproduce the live
outputs byte for byte: the same output ids, each with the same key,
value and headers, on the scores and the alerts topic, and for every
lead the same sequence of ids. Both with JSON and with Avro inputs.

The inputs are examples/model.yaml traffic (order_common.make_inputs):
two models, caps, duplicates, hot leads, MQL alerts, phone decay ticks,
profile updates interleaved with the events in event time.

  - backlogs, pre-produced before `run` starts, each topic in event-time
    order but the topics one after the other (JSON: every profile first,
    then every event; Avro: the events first). Record timestamps are the
    produce times, so their order is the production order, which differs
    from the event-time order across the two topics: a replay that
    ordered a partition by record timestamp would apply one topic
    entirely before the other (and reject the other's inputs as late,
    the lateness being 1h and the inputs spanning days);
  - both topics produced in event-time order, one record at a time, while
    `run` consumes (JSON, and Avro with Schema Registry framing).

Every live run must have sent nothing to the dead-letter topic."""
import subprocess
import time

import lsharness as h
import order_common as oc

BROKERS = "mock kafka"
TIMEOUT = 300

PARTS = 4
CASES = ["rbj", "rba", "rlj", "rlr"]
BROKER = None


def all_topics():
    names = []
    for c in CASES:
        names += list(oc.topic_set(c).values()) + [c + "-rscores",
                                                   c + "-ralerts"]
    return names


def alert_kinds(outs):
    return {oc.header(o, "leadscore.id").rsplit("/", 1)[1] for o in outs}


def live_then_replay(case, fmt, live, order=None):
    """Runs `leadscore run` on case's topics (inputs pre-produced in
    `order`, or produced in event-time order while it runs), then
    `leadscore replay --config` of the same config to other topics, and
    compares."""
    bootstrap = BROKER.address
    topics = oc.topic_set(case)
    recs = oc.make_inputs(seed=sum(map(ord, case)), prefix=case)
    enc = oc.Encoder(fmt)
    reg = oc.registry() if fmt == "registry" else None
    run = None
    try:
        d = h.tmpdir()
        cfg = oc.write_config(d, bootstrap, "g-" + case, topics,
                              fmt_in=fmt,
                              fmt_out="json" if fmt == "json" else "avro",
                              registry_url=reg.url if reg else None)
        if live:
            run = oc.start_run(cfg, "run-" + case)
            run.wait_line("event=assigned", 60)
            oc.produce(bootstrap, recs, topics, enc, pace="trickle",
                       seed=len(case))
        else:
            # One topic after the other: the record timestamps (produce
            # times) of the second topic are all later than the first's.
            for part in order:
                oc.produce(bootstrap, [r for r in recs if r.kind == part],
                           topics, enc, pace="batch")
                time.sleep(0.05)
            run = oc.start_run(cfg, "run-" + case)
        oc.wait_caught_up(bootstrap, "g-" + case, topics, PARTS, 90, [run])
        summary = oc.stop_run(run)
        run = None
        h.log("%s: %s" % (case, summary))
        live_out = oc.run_outputs(bootstrap, topics, PARTS)
        assert not live_out["dead_letters"], (
            "live run: " + oc.dead_letter_summary(live_out["dead_letters"]))
        # The inputs do what they are meant to: many outputs, profiles
        # applied, both kinds of alert.
        scores, alerts = live_out["scores"], live_out["alerts"]
        assert len(scores) > len(recs) // 2, (len(scores), len(recs))
        assert {"mql", "hot_lead"} <= alert_kinds(alerts), alert_kinds(alerts)
        problems = []
        if fmt == "json":
            # The live order is the documented one: each partition's
            # inputs by (event time, events first), scored offline.
            want = oc.offline_outputs(recs, PARTS)
            diffs = [oc.diff_outputs(want[w], oc.as_offline(live_out[w]),
                                     "expected", "live", w, headers=False)
                     for w in ("scores", "alerts")]
            if any(diffs):
                problems.append(
                    "the live run did not apply the inputs in (event time, "
                    "events first) order per partition:\n"
                    + "\n".join(x for x in diffs if x))

        p = subprocess.run([h.LEADSCORE, "replay", "--config", cfg,
                            "--output-topic", case + "-rscores",
                            "--alerts-topic", case + "-ralerts", "--quiet"],
                           capture_output=True, timeout=120)
        err = p.stderr.decode()
        replay_problems = []
        if p.returncode != 0:
            lines = [l for l in err.splitlines() if not l.startswith("%")]
            late = sum(1 for l in lines if "late" in l)
            replay_problems.append(
                "replay: exit %d, want 0 (%d stderr lines, %d saying late); "
                "first:\n  %s" % (p.returncode, len(lines), late,
                                  "\n  ".join(lines[:3])))
        replayed = {"scores": oc.read_topic(bootstrap, case + "-rscores",
                                            PARTS),
                    "alerts": oc.read_topic(bootstrap, case + "-ralerts",
                                            PARTS)}
        for what in ("scores", "alerts"):
            diff = oc.diff_outputs(
                live_out[what], replayed[what], "live", "replay", what,
                None if fmt == "json" else oc.avro_decoder(what))
            if diff:
                replay_problems.append(diff)
        if replay_problems:
            problems.append("replay differs from the live run:\n"
                            + "\n".join(replay_problems))
        assert not problems, "\n".join(problems)
        h.log("%s: %d score updates, %d alerts, identical"
              % (case, len(scores), len(alerts)))
    finally:
        if run:
            run.kill()
        if reg:
            reg.stop()


def test_backlog_profiles_first_json():
    live_then_replay("rbj", "json", live=False, order=["profile", "event"])


def test_backlog_events_first_avro():
    live_then_replay("rba", "avro", live=False, order=["event", "profile"])


def test_live_event_time_order_json():
    live_then_replay("rlj", "json", live=True)


def test_live_event_time_order_registry():
    live_then_replay("rlr", "registry", live=True)


if __name__ == "__main__":
    BROKER = h.Broker(partitions=PARTS, topics=all_topics())
    try:
        h.main([test_backlog_profiles_first_json,
                test_backlog_events_first_avro,
                test_live_event_time_order_json,
                test_live_event_time_order_registry])
    finally:
        BROKER.stop()

"""Scoring on worker threads changes nothing (issue 12, item 1): the same
input topics go through `leadscore run` with `workers: 1` (scoring on the
consuming thread), `workers: 2`, and `workers: 2` with the test knob
LEADSCORE_TEST_WORKER_JITTER_US (each worker sleeps a random time before
each record, so that the workers' timing and the order in which their
results come back vary), and the three runs' output topics are the same
byte for byte: every record's partition, offset, key, value and headers
on the scores, alerts and dead-letter topics, read with an independent
client (confluent-kafka).

Three inputs:
  merged   events and profiles (Avro) of examples/model.yaml through the
           merge (merge_wait 10s: the record is read on arrival for its
           event time, on the consuming thread, the worker applies and
           encodes it), with records that do not decode at the end of
           some partitions; the first run is also checked against
           `leadscore score` on each partition's inputs in merge order
           (JSON outputs)
  mjson    the same in JSON: read for the merge by its partition's
           worker, held when it comes back, then applied
  events   events only (JSON), merge_wait 0 (the worker decodes), Avro
           outputs, records that do not decode or belong to another
           partition among them, and clock ticks that fire decay
The three runs of an input run at the same time against one broker."""
import json

import lsharness as h
import order_common as oc

BROKERS = "mock kafka"
TIMEOUT = 420

PARTS = 4
JITTER_US = "2000"
RUNS = [("w1", 1, None), ("w2", 2, None), ("w2j", 2, JITTER_US)]

BROKER = None
RECS = oc.make_inputs(seed=12, leads=16, n=500, profile_share=0.25,
                      prefix="wrk")
# events only: with merge_wait 0 the two topics would meet in arrival order
EVENTS = [r for r in oc.make_inputs(seed=13, leads=16, n=500,
                                    profile_share=0, prefix="wev")
          if r.kind == "event"]


def topics(inp, run=None):
    """The input topics of input `inp`, the output topics of its run."""
    t = oc.topic_set("%s-%s" % (inp, run or "in"))
    t["events"], t["profiles"] = inp + "-events", inp + "-profiles"
    return t


def all_topics():
    names = []
    for inp in ("merged", "mjson", "events"):
        for run, _, _ in RUNS:
            names += [v for v in topics(inp, run).values() if v not in names]
    return names


def produce_bad(bootstrap, topic, leads):
    """Records keyed by a lead that do not decode, and one in another
    lead's partition (a misplaced input): dead letters."""
    p = oc.producer(bootstrap)
    for i, lead in enumerate(leads):
        p.produce(topic, key=lead.encode(), value=b"\x00not an input %d" % i)
    h.flush(p)


def produce_ticks(bootstrap, topic, time_ms):
    """A clock tick at time_ms in every partition of topic."""
    p = oc.producer(bootstrap)
    for part in range(PARTS):
        p.produce(topic, partition=part, value=None,
                  headers=[("leadscore.tick", str(time_ms).encode())])
    h.flush(p)


def run_three(inp, fmt_in, fmt_out, merge_wait):
    """Runs the three configurations on input `inp`; returns their
    outputs {run: {scores, alerts, dead_letters: [Out]}}."""
    bootstrap = BROKER.address
    d = h.tmpdir()
    procs, outs = {}, {}
    try:
        for run, workers, jitter in RUNS:
            cfg = oc.write_config(d, bootstrap, "g-%s-%s" % (inp, run),
                                  topics(inp, run), fmt_in=fmt_in,
                                  fmt_out=fmt_out, merge_wait=merge_wait,
                                  workers=workers)
            env = None
            if jitter:
                env = dict(h.os.environ)
                env["LEADSCORE_TEST_WORKER_JITTER_US"] = jitter
            procs[run] = h.Proc([h.LEADSCORE, "run", "--config", cfg],
                                "%s-%s" % (inp, run), env=env)
        for run, workers, jitter in RUNS:
            procs[run].wait_line("event=assigned", 60)
            want = ("scoring on 1 worker thread (the consuming thread)"
                    if workers == 1 else
                    "scoring on %d worker threads%s" % (
                        workers, " with test jitter" if jitter else ""))
            assert want in procs[run].stderr_text(), (
                run, oc.quiet_stderr(procs[run])[-2000:])
        for run, _, _ in RUNS:
            oc.wait_caught_up(bootstrap, "g-%s-%s" % (inp, run),
                              topics(inp, run), PARTS, 180, [procs[run]])
        for run, _, _ in RUNS:
            summary = oc.stop_run(procs.pop(run))
            h.log("%s %s: %s" % (inp, run, summary.split("msg=")[-1]))
            outs[run] = oc.run_outputs(bootstrap, topics(inp, run), PARTS)
    finally:
        for p in procs.values():
            p.kill()
    return outs


def same_bytes(inp, outs):
    """Every run's output topics equal the first's, record for record."""
    ref_name = RUNS[0][0]
    ref = outs[ref_name]
    for what in ("scores", "alerts", "dead_letters"):
        h.log("%s %s: %d records" % (inp, what, len(ref[what])))
    for run, _, _ in RUNS[1:]:
        for what in ("scores", "alerts", "dead_letters"):
            a, b = ref[what], outs[run][what]
            if a == b:
                continue
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                         min(len(a), len(b)))
            raise AssertionError(
                "%s: %s of %s differs from %s: %d records against %d, "
                "first difference at #%d:\n  %s: %r\n  %s: %r"
                % (inp, what, run, ref_name, len(a), len(b), first,
                   ref_name, a[first] if first < len(a) else None,
                   run, b[first] if first < len(b) else None))


def check_merged(inp, fmt):
    bootstrap = BROKER.address
    oc.produce(bootstrap, RECS, topics(inp), oc.Encoder(fmt))
    produce_bad(bootstrap, topics(inp)["events"],
                ["wrk-00", "wrk-05", "wrk-09"])
    outs = run_three(inp, fmt, "json", "10s")
    ref = outs[RUNS[0][0]]
    assert len(ref["scores"]) > 300 and ref["alerts"], ref.keys()
    assert len(ref["dead_letters"]) == 3, oc.dead_letter_summary(
        ref["dead_letters"])
    # the first run is right (the same engine without Kafka)
    expected = oc.offline_outputs(RECS, PARTS)
    for what in ("scores", "alerts"):
        diff = oc.diff_outputs(expected[what], oc.as_offline(ref[what]),
                               "expected", "w1", what, headers=False)
        assert not diff, diff
    kinds = {json.loads(x.value)["cause"] for x in ref["scores"]}
    assert {"event", "profile", "decay"} <= kinds, kinds
    same_bytes(inp, outs)


def test_merged_inputs():
    check_merged("merged", "avro")


def test_merged_json_read_by_workers():
    check_merged("mjson", "json")


def test_events_decoded_by_workers():
    bootstrap = BROKER.address
    t = topics("events")
    oc.produce(bootstrap, EVENTS, t, oc.Encoder("json"))
    produce_bad(bootstrap, t["events"], ["wev-01", "wev-02", "wev-07"])
    # a record keyed by one lead but naming another: the key rule
    p = oc.producer(bootstrap)
    bad = json.loads(oc.Encoder("json")(EVENTS[0]))
    bad["lead_id"] = "someone-else"
    p.produce(t["events"], key=EVENTS[0].lead.encode(),
              value=json.dumps(bad).encode())
    h.flush(p)
    produce_ticks(bootstrap, t["events"], EVENTS[-1].time + 3 * 86400000)
    outs = run_three("events", "json", "avro", "0")
    ref = outs[RUNS[0][0]]
    assert len(ref["scores"]) > 300 and ref["alerts"], ref.keys()
    reasons = sorted(oc.header(o, "leadscore.reason")
                     for o in ref["dead_letters"])
    assert reasons == ["decode"] * 3 + ["key"], reasons
    same_bytes("events", outs)


if __name__ == "__main__":
    BROKER = h.Broker(partitions=PARTS, topics=all_topics())
    try:
        h.main([test_merged_inputs, test_merged_json_read_by_workers,
                test_events_decoded_by_workers])
    finally:
        BROKER.stop()

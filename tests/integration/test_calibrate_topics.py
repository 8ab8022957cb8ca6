"""`leadscore calibrate` reading its history from the events and profiles
topics and its outcomes from a topic (docs/CALIBRATE.md, "Reading from
topics").

Generated history (bench/gen_history.py, 2000 leads, fixed seed) is
produced as JSON to topics of 4 partitions, keyed by lead id (the murmur2
partitioner leadscore requires), each record at its event time; the
outcomes to a topic of their own. Then:

- calibrate from the topics prints the same report as calibrate from the
  files (field for field: counts exactly, numbers to 1e-9 relative; the
  partitions are read one after the other, so the leads come in another
  order than the file's, and sums over them may differ in the last bits),
  with outcomes from the topic or from the file, and with the brokers,
  topics and model of a --config; two runs from the topics give the same
  bytes;
- a bad outcome record stops it with exit 2, named by topic, partition and
  offset, as is an outcome repeated in another record and one whose lead
  the history lacks;
- a bad history record is named by topic, partition and offset, skipped,
  and the report printed with exit 2;
- a broker that does not answer, or an outcomes topic that does not exist
  (real Kafka: the test broker creates topics on first use), is exit 1
  with the topic named;
- usage errors are exit 64.
"""
import json
import math
import os
import subprocess

import lsharness as h
from clitest import gen_history

BROKERS = "mock kafka"
TIMEOUT = 600

PARTS = 4
LEADS = 2000
SEED = 11
MODEL = os.path.join(h.SOURCE_DIR, "bench", "history_model.yaml")
OUTCOMES = "lead-outcomes"
BAD_OUTCOMES = "lead-outcomes-bad"
EVENTS, PROFILES = h.TOPICS["events"], h.TOPICS["profiles"]
REL = 1e-9


def calibrate(args, timeout=300):
    p = subprocess.run([h.LEADSCORE, "calibrate"] + args, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def flush(prod):
    left = prod.flush(60)
    assert left == 0, "%d records not delivered to the broker" % left


def produce_history(bootstrap, hist):
    """Events and profiles, in file order, keyed by lead id, each at its
    event time."""
    prod = h.producer(bootstrap)
    n = 0
    with open(hist) as f:
        for line in f:
            rec = json.loads(line)
            if rec["kind"] == "event":
                topic, t = EVENTS, rec["occurred_at"]
            else:
                topic, t = PROFILES, rec["updated_at"]
            prod.produce(topic, key=rec["lead_id"], value=line.rstrip("\n"),
                         timestamp=t)
            n += 1
            if n % 5000 == 0:
                prod.poll(0)
    flush(prod)
    return n


def produce_located(bootstrap, topic, items):
    """Produces (key, value) items; returns [(partition, offset)] in
    order."""
    prod = h.producer(bootstrap)
    where = [None] * len(items)

    def cb(i):
        def dr(err, msg):
            assert err is None, err
            where[i] = (msg.partition(), msg.offset())
        return dr

    for i, (key, value) in enumerate(items):
        prod.produce(topic, key=key, value=value, on_delivery=cb(i))
    flush(prod)
    assert None not in where, where
    return where


def same(a, b, path="report"):
    """Differences of two decoded reports: numbers to REL relative, the
    rest exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return ["%s: keys %s != %s" % (path, list(a), list(b))]
        return [d for k in a for d in same(a[k], b[k], "%s.%s" % (path, k))]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return ["%s: %d != %d items" % (path, len(a), len(b))]
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in same(x, y, "%s[%d]" % (path, i))]
    if (isinstance(a, float) or isinstance(b, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool) and \
            a is not None and b is not None:
        if math.isclose(a, b, rel_tol=REL, abs_tol=1e-12):
            return []
        return ["%s: %r != %r" % (path, a, b)]
    return [] if a == b else ["%s: %r != %r" % (path, a, b)]


def test_calibrate_topics():
    broker = h.Broker(partitions=PARTS,
                      topics=h.DEFAULT_TOPICS + [OUTCOMES, BAD_OUTCOMES])
    try:
        d = h.tmpdir()
        hist, outc = gen_history(d, LEADS, SEED)
        n = produce_history(broker.address, hist)
        out_lines = [l.rstrip("\n") for l in open(outc)]
        produce_located(broker.address, OUTCOMES,
                        [(json.loads(l)["lead_id"], l) for l in out_lines])
        h.log("produced %d history and %d outcome records" %
              (n, len(out_lines)))

        rc, out, err = calibrate(["--model", MODEL, "--input", hist,
                                  "--outcomes", outc, "--json"])
        assert rc == 0, err
        want = json.loads(out)
        topics = ["--model", MODEL, "--brokers", broker.address,
                  "--topics", "%s,%s" % (EVENTS, PROFILES)]

        # history and outcomes from topics
        rc, out, err = calibrate(topics + ["--outcomes-topic", OUTCOMES,
                                           "--json"])
        assert rc == 0, (rc, err)
        got = json.loads(out)
        diffs = same(want, got)
        assert not diffs, "topics != files:\n" + "\n".join(diffs[:20])
        assert got["leads"] == LEADS, got["leads"]
        # the same bytes again
        rc, again, err = calibrate(topics + ["--outcomes-topic", OUTCOMES,
                                             "--json"])
        assert rc == 0 and again == out, "a second run differs"

        # history from topics, outcomes from the file; and the reverse
        rc, out2, err = calibrate(topics + ["--outcomes", outc, "--json"])
        assert rc == 0, (rc, err)
        diffs = same(want, json.loads(out2))
        assert not diffs, "topics + file != files:\n" + "\n".join(diffs[:20])
        rc, out3, err = calibrate(["--model", MODEL, "--input", hist,
                                   "--brokers", broker.address,
                                   "--outcomes-topic", OUTCOMES, "--json"])
        assert rc == 0, (rc, err)
        diffs = same(want, json.loads(out3))
        assert not diffs, "file + topic != files:\n" + "\n".join(diffs[:20])

        # --config: its kafka properties, topics and model, as for replay
        with open(MODEL) as f:
            cfg = h.write_config(d, broker.address, model_text=f.read())
        rc, out4, err = calibrate(["--config", cfg, "--outcomes-topic",
                                   OUTCOMES, "--json"])
        assert rc == 0, (rc, err)
        diffs = same(want, json.loads(out4))
        assert not diffs, "--config != files:\n" + "\n".join(diffs[:20])

        # the text report reads the topics too
        rc, text, err = calibrate(topics + ["--outcomes-topic", OUTCOMES])
        assert rc == 0 and "logistic regression" in text, (rc, err)

        # a bad outcome record: named by topic, partition and offset, no
        # report; a repeated outcome names both records
        first = json.loads(out_lines[0])
        bad = [(json.loads(l)["lead_id"], l) for l in out_lines[:50]]
        bad.append(("lead-00001", '{"lead_id":"lead-00001",'
                                  '"time":1767225600000,"won":"yes"}'))
        bad.append((first["lead_id"], out_lines[0]))
        where = produce_located(broker.address, BAD_OUTCOMES, bad)
        rc, out, err = calibrate(topics + ["--outcomes-topic", BAD_OUTCOMES])
        assert rc == 2 and out == "", (rc, out, err)
        p, o = where[50]
        msg = '%s [%d] offset %d: won: expected true or false, got "yes"' % (
            BAD_OUTCOMES, p, o)
        assert msg in err, (msg, err)
        p, o = where[51]
        p0, o0 = where[0]
        msg = ("%s [%d] offset %d: lead_id: '%s' already has an outcome "
               "(%s [%d] offset %d)" % (BAD_OUTCOMES, p, o, first["lead_id"],
                                        BAD_OUTCOMES, p0, o0))
        assert msg in err, (msg, err)
        assert "%s: 2 bad outcome records; nothing calibrated" % \
            BAD_OUTCOMES in err, err

        # an outcome whose lead the history lacks
        ghost = "ghost-outcomes"
        where = produce_located(broker.address, ghost, [
            ("nobody", '{"lead_id":"nobody","time":1767225600000,'
                       '"won":true}')])
        rc, out, err = calibrate(topics + ["--outcomes-topic", ghost])
        p, o = where[0]
        msg = ("%s [%d] offset %d: lead_id: 'nobody' appears nowhere in the "
               "history" % (ghost, p, o))
        assert rc == 2 and msg in err, (rc, msg, err)

        # no broker there; no such topic
        rc, out, err = calibrate(["--model", MODEL, "--input", hist,
                                  "--brokers", "127.0.0.1:1",
                                  "--outcomes-topic", OUTCOMES], timeout=60)
        assert rc == 1 and "%s: metadata:" % OUTCOMES in err, (rc, err)
        rc, out, err = calibrate(["--model", MODEL, "--outcomes", outc,
                                  "--brokers", "127.0.0.1:1",
                                  "--topics", EVENTS], timeout=60)
        assert rc == 1 and "%s: metadata:" % EVENTS in err, (rc, err)
        if broker.kind == "kafka":
            rc, out, err = calibrate(topics + ["--outcomes-topic",
                                               "no-such-outcomes"])
            assert rc == 1 and "no-such-outcomes: no such topic" in err, \
                (rc, err)

        # usage errors
        for args in (topics + ["--input", hist, "--outcomes", outc],
                     topics + ["--outcomes", outc, "--outcomes-topic",
                               OUTCOMES],
                     ["--model", MODEL, "--topics", EVENTS, "--outcomes",
                      outc],
                     ["--model", MODEL, "--input", hist,
                      "--outcomes-topic", OUTCOMES],
                     topics + ["--outcomes", outc, "--input-format", "xml"],
                     ["--model", MODEL, "--input", hist, "--outcomes", outc,
                      "--input-format", "avro"]):
            rc, out, err = calibrate(args)
            assert rc == 64, (args, rc, err)
        rc, out, err = calibrate(["--help"])
        for opt in ("--brokers", "--topics", "--outcomes-topic", "--config",
                    "--input-format", "--schemas", "--registry-url"):
            assert opt in out, opt

        # a bad history record: named, skipped, the report printed
        where = produce_located(broker.address, EVENTS, [("lead-00001",
                                                          "{oops")])
        rc, out, err = calibrate(topics + ["--outcomes-topic", OUTCOMES,
                                           "--json"])
        p, o = where[0]
        assert rc == 2, (rc, err)
        assert "%s [%d] offset %d: " % (EVENTS, p, o) in err, err
        assert "1 record rejected" in err, err
        diffs = same(want, json.loads(out))
        assert not diffs, "\n".join(diffs[:20])
    finally:
        broker.stop()


if __name__ == "__main__":
    h.main([test_calibrate_topics])

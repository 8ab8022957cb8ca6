"""Transactional mode on the test broker, whose transactions are stubs
(docs/DURABILITY.md): the mode starts, produces and commits; without a
transactional.id the config is refused with its line; an abortable error
(a Produce request failing with a non-retriable error inside the
transaction) stops the run with exit 1, and a restart from the snapshots
completes the outputs, exactly once after dedupe by id."""
import collections
import os
import re
import subprocess
import time

import durability_common as d
import lsharness as h
from test_durability_faults import ControlBroker

BROKERS = "mock"

TXN = """\
transactional: true
producer:
  transactional.id: "lstxn-1"
"""


def wait_snapshots_cover(bootstrap, snap, group, timeout, proc):
    """The test broker discards transactional offset commits, so progress
    is read from the snapshots: the newest of each partition must reach
    the end of both input topics."""
    ends = [h.end_offsets(bootstrap, t, d.PARTS)
            for t in (h.TOPICS["events"], h.TOPICS["profiles"])]
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = []
        for p in range(d.PARTS):
            files = [f for f in d.snapshots(snap)
                     if f.startswith("%s-%d-" % (group, p))]
            if not files:
                got.append(None)
                continue
            out = d.inspect(os.path.join(snap, files[-1])).stdout
            offs = re.findall(r"next offset \S+: (\S+)", out)
            got.append([int(o) if o != "earliest" else 0 for o in offs])
        if all(g and g[0] == ends[0][p] and g[1] == ends[1][p]
               for p, g in enumerate(got)):
            return
        time.sleep(0.5)
    raise AssertionError("snapshots %s do not reach the ends %s\n%s"
                         % (got, ends, proc.stderr_text()[-3000:]))


def test_config_needs_transactional_id():
    tmp = h.tmpdir()
    cfg = d.write_config(tmp, "127.0.0.1:1", "x", os.path.join(tmp, "s"),
                         extra="transactional: true\n")
    res = subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                          "--print-config"], capture_output=True, text=True)
    assert res.returncode == 1, res
    assert "transactional: true needs producer.transactional.id" in \
        res.stderr, res.stderr
    assert cfg in res.stderr


def test_transactional_runs_and_recovers_from_abort():
    broker = ControlBroker(d.PARTS, 1, list(h.TOPICS.values())
                           + ["ref-scores", "ref-alerts"])
    runs = []
    try:
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")
        cfg = d.write_config(tmp, broker.address, "txn", snap, extra=TXN)
        seqs = collections.Counter()
        recs = d.make_inputs(300, 31, seqs=seqs)
        d.produce_inputs(broker.address, recs)
        r = h.start_run(cfg, "txn-1")
        runs.append(r)
        wait_snapshots_cover(broker.address, snap, "txn", 60, r)
        assert r.stop() == 0, r.stderr_text()

        # New inputs first (the injected errors would refuse the test's own
        # producer too), then TOPIC_AUTHORIZATION_FAILED (29) on every
        # Produce: not retriable. The run cannot score them without
        # producing, so it must hit the error, whatever the timing.
        more = d.make_inputs(100, 32, start=300, seqs=seqs, profiles=False)
        d.produce_inputs(broker.address, more)
        assert broker.control("produce_errors 50 29") == "ok"
        r = h.start_run(cfg, "txn-2")
        runs.append(r)
        rc = r.p.wait(60)
        assert rc == 1, "exit %s:\n%s" % (rc, r.stderr_text())
        recs += more
        assert broker.control("clear") == "ok"

        r = h.start_run(cfg, "txn-3")
        runs.append(r)
        r.wait_line("restored partition", 40)
        wait_snapshots_cover(broker.address, snap, "txn", 60, r)
        assert r.stop() == 0, r.stderr_text()

        ref = d.reference_run(broker.address, tmp)
        repeats = d.check_exactly_once(broker.address, d.event_ids(recs), ref)
        h.log("txn test: %d repeated outputs dropped" % repeats)
    finally:
        for r in runs:
            r.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_config_needs_transactional_id,
            test_transactional_runs_and_recovers_from_abort])

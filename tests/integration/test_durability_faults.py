"""Broker faults while `leadscore run` (with snapshots) consumes and
produces, on a 3-broker test cluster driven through `leadscore broker
--brokers 3 --control`: failed Produce, Fetch and OffsetCommit requests,
a broker down and up again, the group coordinator moved. Processing must
resume, and the outputs after dropping repeated ids must equal an
uninterrupted reference run's, every event scored once."""
import collections
import os
import subprocess
import threading
import time

import durability_common as d
import lsharness as h

BROKERS = "mock"


class ControlBroker(h.Proc):
    """`leadscore broker --control`: commands on stdin, answers on stdout."""

    def __init__(self, partitions, brokers, topics):
        args = [h.LEADSCORE, "broker", "--partitions", str(partitions),
                "--brokers", str(brokers), "--control", "--topics",
                ",".join(topics)]
        self.name = "broker"
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.address = self.p.stdout.readline().strip()
        assert self.address.count("127.0.0.1:") == brokers, self.address

    def control(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        answer = self.p.stdout.readline().strip()
        h.log("broker control: %s -> %s" % (line, answer))
        return answer


def test_faults_exactly_once():
    broker = ControlBroker(d.PARTS, 3, list(h.TOPICS.values())
                           + ["ref-scores", "ref-alerts"])
    runs = []
    try:
        assert broker.control("bogus 1").startswith("error: control: cannot "
                                                    "parse")
        assert broker.control("down 9").startswith("error")
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")
        # merge_wait above any stall the faults cause: order stays exact.
        cfg = d.write_config(tmp, broker.address, "faults", snap,
                             merge_wait="60s", session_ms=6000)
        seqs = collections.Counter()
        recs = d.make_inputs(300, 11, seqs=seqs)
        d.produce_inputs(broker.address, recs)
        r = h.start_run(cfg, "faulted")
        runs.append(r)
        r.wait_line("assigned", 40)

        def chunk(n, seed, start):
            more = d.make_inputs(n, seed, start=start, seqs=seqs,
                                 profiles=False)
            d.produce_inputs(broker.address, more)
            recs.extend(more)

        for cmd in ("produce_errors 8", "fetch_errors 8", "commit_errors 4"):
            assert broker.control(cmd) == "ok"
        chunk(200, 12, 300)
        time.sleep(1.0)
        chunk(200, 13, 500)
        assert broker.control("down 2") == "ok"
        time.sleep(2.5)
        assert broker.control("up 2") == "ok"
        assert broker.control("coordinator faults 3") == "ok"
        chunk(200, 14, 700)
        d.wait_caught_up(broker.address, "faults", 90, [r])
        rc = r.stop()
        assert rc == 0, "exit %s:\n%s" % (rc, r.stderr_text())
        assert "delivery failures 0" in r.stderr_text(), r.stderr_text()

        ref = d.reference_run(broker.address, tmp, timeout=90)
        repeats = d.check_exactly_once(broker.address, d.event_ids(recs), ref)
        h.log("faults test: %d inputs, %d repeated outputs dropped"
              % (len(recs), repeats))
    finally:
        for r in runs:
            r.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_faults_exactly_once])

"""A second `leadscore run` joins the group and later leaves it while
events flow; shards move with their partitions through the shared
snapshot directory (snapshot on revoke, restore on assign). Outputs after
dropping repeated ids equal an uninterrupted reference run's, every event
scored once, and both members did part of the work."""
import collections
import os
import re
import time

import durability_common as d
import lsharness as h

BROKERS = "mock kafka"


def test_member_joins_and_leaves():
    broker = h.Broker(partitions=d.PARTS, topics=list(h.TOPICS.values())
                      + ["ref-scores", "ref-alerts"])
    runs = []
    try:
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")   # shared by both members
        cfg = d.write_config(tmp, broker.address, "rebal", snap,
                             merge_wait="30s")
        seqs = collections.Counter()
        recs = d.make_inputs(300, 21, seqs=seqs)
        d.produce_inputs(broker.address, recs)

        def chunk(n, seed, start):
            more = d.make_inputs(n, seed, start=start, seqs=seqs,
                                 profiles=False)
            d.produce_inputs(broker.address, more)
            recs.extend(more)

        a = h.start_run(cfg, "A")
        runs.append(a)
        a.wait_line("assigned", 40)
        chunk(150, 22, 300)
        b = h.start_run(cfg, "B")
        runs.append(b)
        chunk(150, 23, 450)
        b.wait_line("assigned", 40)
        chunk(150, 24, 600)
        time.sleep(1.0)
        chunk(150, 25, 750)
        rc = b.stop()                       # B leaves: snapshots on revoke
        assert rc == 0, b.stderr_text()
        chunk(150, 26, 900)
        d.wait_caught_up(broker.address, "rebal", 90, [a, b])
        rc = a.stop()
        assert rc == 0, a.stderr_text()
        # A had partitions restored from snapshots written by B or itself
        # after the first rebalance.
        assert "restored partition" in a.stderr_text(), a.stderr_text()
        consumed = [int(re.search(r"consumed (\d+)", p.stderr_text()).group(1))
                    for p in (a, b)]
        assert all(c > 0 for c in consumed), consumed

        ref = d.reference_run(broker.address, tmp, timeout=90)
        repeats = d.check_exactly_once(broker.address, d.event_ids(recs), ref)
        h.log("rebalance test: %d inputs, consumed %s, %d repeats dropped"
              % (len(recs), consumed, repeats))
    finally:
        for r in runs:
            r.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_member_joins_and_leaves])

"""The newest snapshot of a partition is corrupted on disk between two
runs: the second run logs the file and why, restores the next older one,
replays from its offsets, and the outputs are still exactly once after
dropping repeated ids (and equal to an uninterrupted reference run)."""
import collections
import os

import durability_common as d
import lsharness as h

BROKERS = "mock kafka"


def test_corrupt_newest_snapshot():
    broker = h.Broker(partitions=d.PARTS, topics=list(h.TOPICS.values())
                      + ["ref-scores", "ref-alerts"])
    runs = []
    try:
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")
        cfg = d.write_config(tmp, broker.address, "corr", snap,
                             interval="200ms", every_events=40)
        seqs = collections.Counter()
        recs = []

        def run_to_end(name, n, seed, start):
            more = d.make_inputs(n, seed, start=start, seqs=seqs)
            d.produce_inputs(broker.address, more)
            recs.extend(more)
            r = h.start_run(cfg, name)
            runs.append(r)
            r.wait_line("assigned", 40)
            d.wait_caught_up(broker.address, "corr", 60, [r])
            assert r.stop() == 0, r.stderr_text()

        # Two runs: at least two snapshots of every partition.
        run_to_end("first", 300, 7, 0)
        run_to_end("second", 200, 8, 300)

        # More input, then damage the newest file of partition 0.
        more = d.make_inputs(200, 9, start=500, seqs=seqs)
        d.produce_inputs(broker.address, more)
        recs += more
        p0 = [f for f in d.snapshots(snap) if f.startswith("corr-0-")]
        assert len(p0) >= 2, d.snapshots(snap)
        newest = os.path.join(snap, p0[-1])
        older = os.path.join(snap, p0[-2])
        with open(newest, "r+b") as f:
            f.seek(os.path.getsize(newest) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x40]))
        res = d.inspect(newest)
        assert res.returncode == 1 and "checksum mismatch" in res.stderr, res
        assert d.inspect(older).returncode == 0

        r = h.start_run(cfg, "third")
        runs.append(r)
        line = r.wait_line("rejected", 40)
        assert newest in line and "checksum mismatch" in line, line
        line = r.wait_line("restored partition 0 ", 20)
        assert older in line, line
        d.wait_caught_up(broker.address, "corr", 60, [r])
        assert r.stop() == 0, r.stderr_text()

        ref = d.reference_run(broker.address, tmp)
        repeats = d.check_exactly_once(broker.address, d.event_ids(recs), ref)
        h.log("corrupt test: %d repeated outputs dropped" % repeats)
    finally:
        for r in runs:
            r.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_corrupt_newest_snapshot])

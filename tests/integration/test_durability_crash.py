"""SIGKILL `leadscore run` at random points (seeded), at least 20 times
(`cmake -DLS_CRASH_ROUNDS=N` for more, and ctest's timeout grows with it;
LS_CRASH_SEED for another seed), restarting
it each time, while a keyed stream of events and profile updates arrives
chunk by chunk on a 4-partition broker. Afterwards the outputs, once
repeated ids are dropped, must be exactly those of an uninterrupted
reference run: same ids, same bytes, every event scored once, every alert
once, the same final state per lead."""
import collections
import os
import random
import time

import durability_common as d
import lsharness as h

BROKERS = "mock kafka"
ROUNDS = "LS_CRASH_ROUNDS"

N_ROUNDS = int(os.environ.get(ROUNDS, "20"))
SEED = int(os.environ.get("LS_CRASH_SEED", "20240611"))
PER_ROUND = 150


def test_crash_restart_exactly_once():
    rnd = random.Random(SEED)
    broker = h.Broker(partitions=d.PARTS, topics=list(h.TOPICS.values())
                      + ["ref-scores", "ref-alerts"])
    runs = []
    try:
        tmp = h.tmpdir()
        snap = os.path.join(tmp, "snaps")
        # Snapshots every 2 s and kills 0.2-4 s after the assignment: the
        # early kills land after outputs were produced but before a
        # snapshot covered them (restarts replay and re-emit them), the
        # later ones after a snapshot (restarts restore it). Which kind a
        # kill is depends on the machine's and the broker's speed (a
        # restart may be assigned after its first snapshot is already
        # due), so every fourth round runs with a 60 s interval: its kill
        # always lands before any snapshot covers its outputs.
        cfg = d.write_config(tmp, broker.address, "crash", snap,
                             interval="2s", every_events=0)
        slow_dir = os.path.join(tmp, "slow")
        os.makedirs(slow_dir)
        cfg_slow = d.write_config(slow_dir, broker.address, "crash", snap,
                                  interval="60s", every_events=0)
        seqs = collections.Counter()
        all_recs = []
        kills_with_work = 0
        for rnd_i in range(N_ROUNDS):
            recs = d.make_inputs(PER_ROUND, SEED + rnd_i,
                                 start=rnd_i * PER_ROUND, seqs=seqs)
            d.produce_inputs(broker.address, recs)
            all_recs += recs
            r = h.start_run(cfg_slow if rnd_i % 4 == 1 else cfg,
                            "crash-%d" % rnd_i)
            runs.append(r)
            r.wait_line("assigned", 40)
            time.sleep(rnd.uniform(0.2, 4.0))
            r.kill()  # SIGKILL
            text = r.stderr_text()
            if "restored partition" in text or rnd_i == 0:
                kills_with_work += 1
            h.log("round %d: killed; %d snapshot files" % (
                rnd_i, len(d.snapshots(snap))))
        # A last run that is left to finish.
        r = h.start_run(cfg, "final")
        runs.append(r)
        r.wait_line("restored partition", 40)
        d.wait_caught_up(broker.address, "crash", 90, [r])
        rc = r.stop()
        assert rc == 0, "final run exit %s:\n%s" % (rc, r.stderr_text())
        assert "restored partition" in r.stderr_text(), r.stderr_text()
        files = d.snapshots(snap)
        assert files and len(files) <= 3 * d.PARTS, files
        for f in files:
            res = d.inspect(os.path.join(snap, f))
            assert res.returncode == 0, res.stderr
            assert "group: crash" in res.stdout

        ref = d.reference_run(broker.address, tmp)
        repeats = d.check_exactly_once(broker.address, d.event_ids(all_recs),
                                       ref)
        h.log("crash test: %d rounds, %d inputs, %d repeated outputs dropped"
              % (N_ROUNDS, len(all_recs), repeats))
        assert kills_with_work >= N_ROUNDS // 2, kills_with_work
        if N_ROUNDS >= 10:
            assert repeats > 0, "no kill hit between outputs and snapshot"
    finally:
        for r in runs:
            r.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_crash_restart_exactly_once])

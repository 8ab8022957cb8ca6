"""Shared helpers of the integration tests that run the leadscore program
on files, without a broker (`score`, `calibrate`, `check`): the program
and source paths, soft checks collected to the end, running a command,
and the JSON input lines of events and profiles."""
import json
import os
import subprocess
import sys

LEADSCORE = os.environ.get("LEADSCORE", "leadscore")
SRC = os.environ.get("LS_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))

FAILURES = []


def check(cond, what):
    """Records a failed check (and says so on stderr); the test goes on,
    and finish() fails it."""
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, file=sys.stderr)


def finish():
    """Exits 1 when a check failed, else prints ok."""
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        sys.exit(1)
    print("ok")


def gen_history(out_dir, leads, seed, timeout=120):
    """bench/gen_history.py's history of `leads` leads from `seed`, written
    into out_dir: returns the paths of its history.jsonl and
    outcomes.jsonl (truth.json is beside them)."""
    gen = subprocess.run([sys.executable or "/usr/bin/python3",
                          os.path.join(SRC, "bench", "gen_history.py"),
                          "--leads", str(leads), "--seed", str(seed),
                          "--out", out_dir], capture_output=True,
                         timeout=timeout)
    assert gen.returncode == 0, gen.stderr.decode()
    return (os.path.join(out_dir, "history.jsonl"),
            os.path.join(out_dir, "outcomes.jsonl"))


def run(args, stdin=None, timeout=120):
    """`leadscore ARGS` with stdin (bytes, or None): (status, stdout,
    stderr), the outputs decoded."""
    p = subprocess.run([LEADSCORE] + args, input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ev(lead, eid, etype, at, **props):
    """A JSON input line of an event (properties from keywords)."""
    d = {"kind": "event", "lead_id": lead, "event_id": eid,
         "event_type": etype, "occurred_at": at}
    if props:
        d["properties"] = props
    return json.dumps(d)


def profile(lead, at, **attrs):
    """A JSON input line of a profile update."""
    return json.dumps({"kind": "profile", "lead_id": lead, "updated_at": at,
                       "attributes": attrs})

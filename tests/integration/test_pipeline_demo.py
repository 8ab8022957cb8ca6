"""`leadscore demo` runs from the repository root with its defaults, prints
the broker address, score updates and an MQL alert, and exits 0 once all
expected outputs arrived, well within its timeout."""
import re
import subprocess
import time

import lsharness as h


def test_demo_prints_mql_alert():
    start = time.monotonic()
    out = subprocess.run([h.LEADSCORE, "demo", "--timeout", "40"],
                         cwd=h.SOURCE_DIR, capture_output=True, text=True,
                         timeout=55)
    took = time.monotonic() - start
    assert out.returncode == 0, "exit %s\n%s\n%s" % (out.returncode,
                                                     out.stdout, out.stderr)
    assert re.search(r"^broker: 127\.0\.0\.1:\d+", out.stdout, re.M), out.stdout
    assert re.search(r"ALERT mql\s+lead \S+\s+model \S+\s+total\s+-?\d+ cell "
                     r"[A-Z]\d", out.stdout), out.stdout
    m = re.search(r"received (\d+) of (\d+) expected outputs", out.stdout)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 0, out.stdout
    scores = len(re.findall(r"^\s+score\s+lead ", out.stdout, re.M))
    alerts = len(re.findall(r"ALERT ", out.stdout))
    assert scores + alerts == int(m.group(2)), (scores, alerts)
    assert took < 40, took


def test_demo_bad_events_file():
    out = subprocess.run([h.LEADSCORE, "demo", "--events", "/nonexistent.jsonl"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out
    assert "/nonexistent.jsonl: cannot open" in out.stderr, out.stderr


if __name__ == "__main__":
    h.main([test_demo_prints_mql_alert, test_demo_bad_events_file])

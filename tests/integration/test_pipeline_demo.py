"""`leadscore demo` runs from the repository root with its defaults, prints
the broker address, score updates and an MQL alert, and exits 0 once all
expected outputs arrived, well within its timeout. The README's own
example (kcat into a lingering demo, started from the repository root as
scripts/quickstart.sh does) prints what the README says. Nothing here
depends on where the build directory is: the demo carries its schemas and
finds examples/ in its working directory (it.test_install runs an
installed one from elsewhere)."""
import os
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
    # every alert is followed by what it carries: why, and who
    whys = re.findall(r">>> ALERT .*\n    why\s+lead (\S+)\s+(.*)", out.stdout)
    assert len(whys) == alerts, out.stdout
    assert any("email ada@analytical.example" in w for _l, w in whys), whys
    assert scores + alerts == int(m.group(2)), (scores, alerts)
    assert took < 40, took


def test_demo_bad_events_file():
    # from a directory with no schemas/ or examples/ in reach
    out = subprocess.run([h.LEADSCORE, "demo", "--events", "/nonexistent.jsonl"],
                         cwd=h.tmpdir(), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1, out
    assert "/nonexistent.jsonl: cannot open" in out.stderr, out.stderr


def readme_example():
    """The README's kcat command line (its JSON value and topic) and the
    lines it says the demo prints."""
    with open(os.path.join(h.SOURCE_DIR, "README.md")) as f:
        text = f.read()
    value = re.search(r"^echo '(\{.*lead-zoe.*\})' \\$", text, re.M).group(1)
    printed = re.search(r"and the demo prints\n\n```\n(.*?)```", text,
                        re.S).group(1).splitlines()
    assert len(printed) == 3, printed
    return value, printed


def test_readme_kcat_example():
    value, printed = readme_example()
    demo = h.Proc([h.LEADSCORE, "demo", "--linger", "60"], "demo",
                  cwd=h.SOURCE_DIR)
    try:
        lines = []
        deadline = time.monotonic() + 40
        addr = None
        while addr is None and time.monotonic() < deadline:
            line = demo.p.stdout.readline()
            assert line, "demo ended early:\n%s" % demo.stderr_text()
            lines.append(line.rstrip("\n"))
            m = re.match(r"^broker: (127\.0\.0\.1:\d+)", line)
            addr = m and m.group(1)
        # Wait for the examples' outputs (their count is announced on the
        # "inputs:" line); "received" comes only after --linger.
        expected, printed_n = None, 0
        while expected is None or printed_n < expected:
            line = demo.p.stdout.readline()
            assert line, "demo ended early:\n%s" % "\n".join(lines)
            lines.append(line.rstrip("\n"))
            m = re.search(r"expecting (\d+) outputs", line)
            if m:
                expected = int(m.group(1))
            if re.match(r"^(\s+score\s|>>> ALERT )", line):
                printed_n += 1
        k = subprocess.run(["kcat", "-b", addr, "-P", "-t", "lead-events",
                            "-k", "lead-zoe"], input=value + "\n", text=True,
                           capture_output=True, timeout=30)
        assert k.returncode == 0, (k, demo.stderr_text())
        got = []
        while len(got) < len(printed):
            line = demo.p.stdout.readline()
            assert line, "demo ended (%s):\n%s" % (demo.p.wait(),
                                                    demo.stderr_text())
            if "lead-zoe" in line:
                got.append(line.rstrip("\n"))
        # the alert (and its why line) and the score update come from two
        # topics: any order
        assert sorted(got) == sorted(printed), (got, printed)
    finally:
        demo.kill()


if __name__ == "__main__":
    h.main([test_demo_prints_mql_alert, test_demo_bad_events_file,
            test_readme_kcat_example])

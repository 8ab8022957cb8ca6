"""Helpers shared by the Python benchmarks: `leadscore run` with its
metrics endpoint, and reading the endpoint."""
import re
import subprocess
import threading
import time
import urllib.request


def start_run(args, cwd):
    """Starts args (a `leadscore run` command line, possibly under a tool
    such as valgrind, with metrics.listen port 0 in its config); returns
    (process, stderr lines so far, metrics port)."""
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, cwd=cwd)
    lines = []
    threading.Thread(target=lambda: lines.extend(p.stderr),
                     daemon=True).start()
    port = None
    while port is None and p.poll() is None:
        found = [re.search(r"\(port (\d+)\)", x) for x in list(lines)]
        port = next((int(m.group(1)) for m in found if m), None)
        time.sleep(0.2)
    assert port, "".join(lines)
    return p, lines, port


def metrics(port):
    """The endpoint's leadscore_* samples: {name{labels}: value}."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                  timeout=30).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(leadscore_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def total(ms, name):
    """The sum of metric name over its labels."""
    return sum(v for k, v in ms.items()
               if k == name or k.startswith(name + "{"))

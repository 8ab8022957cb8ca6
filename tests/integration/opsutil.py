"""Helpers of the operations tests: scrape and parse the Prometheus text
format of `leadscore run`'s metrics endpoint, wait for values.
Every wait is bounded in time."""
import re
import time
import urllib.error
import urllib.request

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def get(port, path, timeout=5):
    """Returns (status, body text) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse(text):
    """Parses the exposition format into {(name, ((label, value), ...)):
    float}; checks that every sample belongs to a family with HELP and
    TYPE lines."""
    out = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, "no TYPE for %s" % name
        key = (name, tuple(sorted(_LABEL.findall(labels))))
        assert key not in out, "duplicate sample %r" % (key,)
        out[key] = float(value)
    return out


def scrape(port):
    status, body = get(port, "/metrics")
    assert status == 200, (status, body)
    return parse(body), body


def value(samples, name, **labels):
    """The value of one series, or None."""
    return samples.get((name, tuple(sorted(labels.items()))))


def total(samples, name, **labels):
    """Sum over the series of a family whose labels include `labels`."""
    s = 0.0
    for (n, lab), v in samples.items():
        if n == name and all((k, w) in lab for k, w in labels.items()):
            s += v
    return s


def wait_for(port, pred, timeout, what):
    """Scrapes until pred(samples) is true; returns the samples."""
    deadline = time.monotonic() + timeout
    samples, body = scrape(port)
    while not pred(samples):
        if time.monotonic() > deadline:
            raise AssertionError("metrics: %s not reached within %ss; "
                                 "last scrape:\n%s" % (what, timeout, body))
        time.sleep(0.2)
        samples, body = scrape(port)
    return samples


def metrics_port(run, timeout=20):
    line = run.wait_line("metrics: listening on", timeout)
    m = re.search(r"\(port (\d+)\)", line)
    assert m, line
    return int(m.group(1))

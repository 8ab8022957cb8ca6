"""Metrics and health of `leadscore run` against `leadscore broker`:
/healthz is 200 from the start, /readyz goes 503 -> 200 once partitions
are assigned, and the counters at /metrics equal what was sent: records
consumed per topic and partition, dead letters per reason, outputs per
kind and alert kind (counted independently on the output topics).
The exposition follows Prometheus conventions and docs/OPERATIONS.md:
every counter is named *_total and every *_total is a counter, every
family is documented with its type, librdkafka's running totals are
counters, leadscore_build_info carries the versions `leadscore --version`
prints, and every documented label value of a labelled counter is there
at 0 before any input. librdkafka's errors (a bootstrap address nobody
listens on) are logged once each, with their structured fields."""
import json
import os
import re
import socket
import time

import lsharness as h
import opsutil as o

BROKERS = "mock kafka"

PARTS = 2
EV, PR = h.TOPICS["events"], h.TOPICS["profiles"]


def ev(lead, eid, t, etype="page_view", url="https://x.test/pricing"):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": etype, "occurred_at": t,
                       "properties": {"url": url}})


def prof(lead, t, industry):
    return json.dumps({"kind": "profile", "lead_id": lead, "updated_at": t,
                       "attributes": {"industry": industry}})


def documented():
    """{metric name: (type, {label: [values] or None})} of the metrics
    table of docs/OPERATIONS.md."""
    out = {}
    path = os.path.join(h.SOURCE_DIR, "docs", "OPERATIONS.md")
    with open(path) as f:
        for line in f:
            if not line.startswith("| `leadscore_"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4:
                continue   # another table (e.g. the renames)
            assert cells[1] in ("counter", "gauge", "histogram"), line
            labels = {}
            for m in re.finditer(r"`(\w+)`(?: \(([^)]*)\))?", cells[2]):
                labels[m.group(1)] = (re.findall(r"`([^`]+)`", m.group(2))
                                      if m.group(2) else None)
            for name in re.findall(r"`(leadscore_\w+)`", cells[0]):
                out[name] = (cells[1], labels)
    assert out, "no metrics table in " + path
    return out


def families(body):
    """{family name: type} from the TYPE lines of an exposition."""
    return {ln.split()[2]: ln.split()[3] for ln in body.splitlines()
            if ln.startswith("# TYPE ")}


def check_conventions(body):
    """Prometheus naming and docs/OPERATIONS.md agree with the exposition:
    counters end in _total and only counters do; each family is in the
    documented table with the same type and label names."""
    doc = documented()
    samples = o.parse(body)
    for name, typ in families(body).items():
        if typ == "counter":
            assert name.endswith("_total"), "counter %s without _total" % name
        else:
            assert not name.endswith("_total"), \
                "%s %s named like a counter" % (typ, name)
        assert name in doc, "%s is not in docs/OPERATIONS.md" % name
        assert doc[name][0] == typ, (name, typ, doc[name])
        for (n, labels), _v in samples.items():
            if n == name:
                assert {k for k, _ in labels} == set(doc[name][1]), \
                    (name, labels, doc[name])
    for name, (typ, _l) in doc.items():
        assert (typ == "counter") == name.endswith("_total"), \
            "docs/OPERATIONS.md: %s is a %s" % (name, typ)


def test_metrics_and_health():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(
            d, broker.address, group="ops-metrics",
            extra="  statistics.interval.ms: 500\n"
                  "max_record_bytes: 1024\n"
                  "metrics: {listen: \"127.0.0.1:0\"}\n")
        run = h.start_run(cfg)
        port = o.metrics_port(run)
        status, _ = o.get(port, "/healthz")
        assert status == 200, status
        # The first group join of the test broker takes 3 s: not ready.
        status, body = o.get(port, "/readyz")
        assert status == 503, (status, body, run.stderr_text())
        assert o.get(port, "/nothing")[0] == 404
        deadline = time.monotonic() + 25
        while o.get(port, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, \
                "not ready in time:\n" + run.stderr_text()
            time.sleep(0.2)
        run.wait_line("assigned", 5)
        assert o.get(port, "/healthz")[0] == 200

        prod = h.producer(broker.address)
        t = h.T0 + 3600 * 1000
        sent = {}   # (topic, partition) -> count
        bad = {"decode": 0, "oversized": 0, "late": 0}

        def send(topic, part, key, value, reason=None):
            # keys in the partition the murmur2 partitioner gives them
            assert h.partition_of(key, PARTS) == part, (key, part)
            h.produce(prod, topic, key, value, partition=part)
            sent[(topic, part)] = sent.get((topic, part), 0) + 1
            if reason:
                bad[reason] += 1

        # First half: profiles and events on both partitions.
        send(PR, 0, b"A", prof("A", t, "SaaS"))
        send(PR, 1, b"D", prof("D", t, "retail"))
        send(EV, 0, b"A", ev("A", "a1", t + 1))
        send(EV, 0, b"A", ev("A", "a2", t + 2, etype="demo_request"))
        send(EV, 1, b"D", ev("D", "b1", t + 1))
        send(EV, 0, b"A", b"{not json", "decode")
        h.flush(prod)
        mid = o.wait_for(port, lambda s: o.total(
            s, "leadscore_consumed_total") >= 6, 20, "first half consumed")
        assert o.value(mid, "leadscore_consumed_total", topic=EV,
                       partition="0") == 3, mid
        # Second half: more good input, an MQL, and bad records.
        send(EV, 0, b"A", ev("A", "a3", t + 3, etype="demo_request"))
        send(EV, 1, b"D", ev("D", "b2", t + 2))
        send(EV, 1, b"D", ev("D", "b3", t + 3, url="https://x.test/x" +
                              "y" * 2000), "oversized")
        send(PR, 1, b"E", prof("E", t, "SaaS"))
        send(EV, 1, b"D", ev("D", "b0", h.T0), "late")
        send(PR, 0, b"A", b"\x00\x01", "decode")
        h.flush(prod)
        n_in = sum(sent.values())
        n_bad = sum(bad.values())

        # Independent count of the outputs on the output topics.
        recs = h.consume_all(broker.address,
                             [h.TOPICS["scores"], h.TOPICS["alerts"],
                              h.TOPICS["dead_letters"]],
                             12, 25, PARTS)
        scores = [r for r in recs if r[0] == h.TOPICS["scores"]]
        alerts = [json.loads(r[4])["alert"] for r in recs
                  if r[0] == h.TOPICS["alerts"]]
        dls = [r[5]["leadscore.reason"] for r in recs
               if r[0] == h.TOPICS["dead_letters"]]
        assert sorted(dls) == sorted(r for r, n in bad.items()
                                     for _ in range(n)), dls
        assert alerts.count("mql") == 1, alerts

        def settled(s):
            return (o.total(s, "leadscore_consumed_total") == n_in and
                    o.total(s, "leadscore_outputs_total") ==
                    len(scores) + len(alerts))
        s = o.wait_for(port, settled, 20, "all input consumed")
        for (topic, part), n in sent.items():
            assert o.value(s, "leadscore_consumed_total", topic=topic,
                           partition=str(part)) == n, (topic, part, n, s)
        for reason, n in bad.items():
            assert o.value(s, "leadscore_dead_letters_total",
                           reason=reason) == n, (reason, n, s)
        assert o.value(s, "leadscore_outputs_total", kind="score_update",
                       alert="none") == len(scores), s
        for kind in ("mql", "mql_lost", "hot_lead"):
            assert o.value(s, "leadscore_outputs_total", kind="alert",
                           alert=kind) == alerts.count(kind), (kind, s)
        assert o.value(s, "leadscore_applied_total") == n_in - n_bad, s
        # Every output (and dead letter) acknowledged by the broker.
        s = o.wait_for(port, lambda x: o.value(
            x, "leadscore_delivered_total") == len(recs), 10, "delivered")
        # Latency: one observation per input that produced outputs.
        cnt = o.value(s, "leadscore_processing_latency_seconds_count")
        assert 0 < cnt <= n_in - n_bad, s
        inf = o.value(s, "leadscore_processing_latency_seconds_bucket",
                      le="+Inf")
        assert inf == cnt, s
        # State gauges: leads A (p0), B and C (p1).
        s = o.wait_for(port, lambda x: o.value(
            x, "leadscore_leads", partition="1") == 2, 5, "leads gauge")
        assert o.value(s, "leadscore_leads", partition="0") == 1, s
        assert o.value(s, "leadscore_state_bytes", partition="0") > 0, s
        assert o.value(s, "leadscore_model_leads", model="tiny") == 3, s
        # librdkafka statistics: lag per partition reaches 0 once all is
        # consumed and committed; the broker rtt is known.
        s = o.wait_for(port, lambda x: all(
            o.value(x, "leadscore_kafka_consumer_lag", topic=EV,
                    partition=str(p)) == 0 for p in range(PARTS)), 20,
            "consumer lag 0")
        assert o.total(s, "leadscore_kafka_broker_rtt_avg_seconds") >= 0
        assert any(n == "leadscore_kafka_broker_rtt_avg_seconds"
                   for n, _l in s), s
        # librdkafka's running totals are counters: the consumer has
        # received the inputs, the producer has sent the outputs.
        s = o.wait_for(port, lambda x: (o.value(
            x, "leadscore_kafka_tx_msgs_total", client="producer") or 0)
            >= len(recs), 10, "producer tx_msgs_total")
        assert o.value(s, "leadscore_kafka_rx_msgs_total",
                       client="consumer") >= n_in, s
        s, body = o.scrape(port)
        fams = families(body)
        for name in ("leadscore_kafka_tx_msgs_total",
                     "leadscore_kafka_rx_msgs_total"):
            assert fams.get(name) == "counter", (name, body)
        check_conventions(body)

        run.stop_ok()
        assert "stopped: consumed %d" % n_in in run.stderr_text()
    finally:
        if run:
            run.kill()
        broker.stop()


def test_metrics_off_by_default_and_bad_listen():
    d = h.tmpdir()
    cfg = h.write_config(d, "127.0.0.1:1",
                         extra="metrics: {listen: \"localhost:http\"}\n")
    p = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg],
                         capture_output=True, text=True, timeout=20)
    assert p.returncode == 1, p
    assert "config.yaml:" in p.stderr and "metrics.listen" in p.stderr, \
        p.stderr
    cfg = h.write_config(d, "127.0.0.1:1")
    p = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                          "--print-config"], capture_output=True, text=True,
                         timeout=20)
    assert p.returncode == 0, p.stderr
    assert "metrics.listen = (off)" in p.stdout, p.stdout


def leadscore_versions():
    """{"leadscore": ..., "librdkafka": ..., "avro-c": ...} from --version."""
    p = h.subprocess.run([h.LEADSCORE, "--version"], capture_output=True,
                         text=True, timeout=20)
    assert p.returncode == 0, p
    return dict(ln.split(" ", 1) for ln in p.stdout.splitlines())


def test_metrics_at_start_and_kafka_errors_once():
    """Before any input (the bootstrap address refuses connections): the
    build info, and every documented label value of each labelled counter
    at 0. librdkafka's connection errors: one line each, event=kafka
    facility=ERROR with the error's name, never also as a FAIL line."""
    # A port bound but not listening: connections to it are refused, and
    # nobody else can take it during the test.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    addr = "127.0.0.1:%d" % sock.getsockname()[1]
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, addr, group="ops-errors",
                             extra="log: {format: json}\n"
                                   "metrics: {listen: \"127.0.0.1:0\"}\n")
        run = h.start_run(cfg)
        port = int(run.wait_line("metrics: listening on", 20)
                   .split("(port ")[1].split(")")[0])
        s, body = o.scrape(port)
        check_conventions(body)
        v = leadscore_versions()
        assert o.value(s, "leadscore_build_info", version=v["leadscore"],
                       librdkafka=v["librdkafka"], avro_c=v["avro-c"]) == 1, \
            (v, body)
        assert families(body).get("leadscore_build_info") == "gauge", body
        n_labelled = 0
        for name, (typ, labels) in documented().items():
            if typ != "counter" or not labels or \
                    None in labels.values():
                continue   # unlabelled, or values known only at run time
            n_labelled += 1
            series = [dict(lab) for (n, lab), _v in s.items() if n == name]
            assert series and all(s[(name, tuple(sorted(x.items())))] == 0
                                  for x in series), (name, body)
            # The label values the code creates at start (lists in
            # ls_pl_ops_new, src/io/ls_pipeline.c) are the documented ones.
            for label, values in labels.items():
                assert sorted({x[label] for x in series}) == sorted(values), \
                    (name, label, values, body)
        assert n_labelled >= 3, documented()   # outputs, dead letters, reloads

        # librdkafka keeps failing to connect; let both clients report it.
        deadline = time.monotonic() + 20
        while True:
            errs = [ln for ln in run.stderr_text().splitlines()
                    if "_ALL_BROKERS_DOWN" in ln]
            if {"consumer", "producer"} <= {
                    json.loads(ln)["client"].split("#")[1].split("-")[0]
                    for ln in errs}:
                break
            assert time.monotonic() < deadline, run.stderr_text()
            time.sleep(0.2)
        time.sleep(1.5)
        run.stop_ok()
        lines = [json.loads(ln) for ln in run.stderr_text().splitlines()
                 if ln.startswith("{")]
        conn = [r for r in lines if r["event"] == "kafka" and
                "Connect to ipv4#" + addr in r["msg"]]
        assert {r["client"].split("#")[1].split("-")[0] for r in conn} == \
            {"consumer", "producer"}, run.stderr_text()
        seen = set()
        for r in conn:
            assert r["level"] == "error" and r["facility"] == "ERROR" and \
                r["error"] == "_TRANSPORT", r
            # the same occurrence, whatever the prefix of its line
            text = (r["client"], re.sub(r"^\[thrd:[^]]*\]: ", "", r["msg"]))
            assert text not in seen, "logged twice: %r" % (r,)
            seen.add(text)
        assert not [r for r in lines if r.get("facility") == "FAIL"], \
            run.stderr_text()
    finally:
        if run:
            run.kill()
        sock.close()


def test_health_survives_slow_clients():
    """300 clients that open a connection and send half a request hold
    their connections; /healthz still answers at once, and the slow
    clients are dropped after the idle timeout."""
    broker = h.Broker(partitions=PARTS)
    run = None
    slow = []
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="ops-slow",
                             extra="metrics: {listen: \"127.0.0.1:0\"}\n")
        run = h.start_run(cfg)
        port = o.metrics_port(run)
        for _ in range(300):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(c)
        t0 = time.monotonic()
        status, body = o.get(port, "/healthz", timeout=3)
        assert status == 200, (status, body)
        assert time.monotonic() - t0 < 3
        # idle clients are closed (timeout 5 s): they read EOF
        slow[0].settimeout(15)
        assert slow[0].recv(100) == b"", "slow client kept open"
    finally:
        for c in slow:
            c.close()
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_metrics_off_by_default_and_bad_listen,
            test_metrics_at_start_and_kafka_errors_once,
            test_metrics_and_health, test_health_survives_slow_clients])

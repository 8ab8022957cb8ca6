"""Metrics and health of `leadscore run` against `leadscore broker`:
/healthz is 200 from the start, /readyz goes 503 -> 200 once partitions
are assigned, and the counters at /metrics equal what was sent: records
consumed per topic and partition, dead letters per reason, outputs per
kind and alert kind (counted independently on the output topics)."""
import json
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
            h.produce(prod, topic, key, value, partition=part)
            sent[(topic, part)] = sent.get((topic, part), 0) + 1
            if reason:
                bad[reason] += 1

        # First half: profiles and events on both partitions.
        send(PR, 0, b"A", prof("A", t, "SaaS"))
        send(PR, 1, b"B", prof("B", t, "retail"))
        send(EV, 0, b"A", ev("A", "a1", t + 1))
        send(EV, 0, b"A", ev("A", "a2", t + 2, etype="demo_request"))
        send(EV, 1, b"B", ev("B", "b1", t + 1))
        send(EV, 0, b"A", b"{not json", "decode")
        h.flush(prod)
        mid = o.wait_for(port, lambda s: o.total(
            s, "leadscore_consumed_total") >= 6, 20, "first half consumed")
        assert o.value(mid, "leadscore_consumed_total", topic=EV,
                       partition="0") == 3, mid
        # Second half: more good input, an MQL, and bad records.
        send(EV, 0, b"A", ev("A", "a3", t + 3, etype="demo_request"))
        send(EV, 1, b"B", ev("B", "b2", t + 2))
        send(EV, 1, b"B", ev("B", "b3", t + 3, url="https://x.test/x" +
                              "y" * 2000), "oversized")
        send(PR, 1, b"C", prof("C", t, "SaaS"))
        send(EV, 1, b"B", ev("B", "b0", h.T0), "late")
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
        assert o.value(s, "leadscore_kafka_rx_msgs", client="consumer") >= 0

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


if __name__ == "__main__":
    h.main([test_metrics_off_by_default_and_bad_listen,
            test_metrics_and_health])

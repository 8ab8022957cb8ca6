"""`leadscore run` end to end with JSON in and out, against `leadscore
broker`, checked with confluent_kafka: records, keys, headers, hand-computed
totals, one MQL alert, clean SIGTERM and committed offsets = end offsets."""
import json
import re

import lsharness as h

BROKERS = "mock kafka"

PARTS = 2


def ev(lead, eid, etype, t, **props):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": etype, "occurred_at": t,
                       "properties": props})


def test_json_end_to_end():
    broker = h.Broker(partitions=PARTS)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="json-e2e")
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        h.produce(prod, h.TOPICS["profiles"], b"L1", json.dumps(
            {"kind": "profile", "lead_id": "L1", "updated_at": h.T0,
             "attributes": {"industry": "SaaS"}}))
        h.flush(prod)
        # The profile is applied first: wait for its score update.
        first = h.consume_all(broker.address, [h.TOPICS["scores"]], 1, 25,
                              PARTS)
        assert len(first) == 1, first
        h.produce(prod, h.TOPICS["events"], b"L1",
                  ev("L1", "e1", "page_view", h.T0 + 1000,
                     url="https://x.test/pricing"))
        h.produce(prod, h.TOPICS["events"], b"L1",
                  ev("L1", "e2", "demo_request", h.T0 + 2000))
        h.produce(prod, h.TOPICS["events"], b"L1",
                  ev("L1", "e3", "page_view", h.T0 + 3000,
                     url="https://x.test/pricing/enterprise"))
        h.produce(prod, h.TOPICS["events"], b"L2",
                  ev("L2", "e4", "page_view", h.T0 + 1500,
                     url="https://y.test/pricing"))
        h.flush(prod)

        recs = h.consume_all(broker.address,
                             [h.TOPICS["scores"], h.TOPICS["alerts"]], 6, 25,
                             PARTS)
        scores = [r for r in recs if r[0] == h.TOPICS["scores"]]
        alerts = [r for r in recs if r[0] == h.TOPICS["alerts"]]
        assert len(scores) == 5, scores
        assert len(alerts) == 1, alerts

        version = None
        for topic, _p, _o, key, value, hdrs in recs:
            body = json.loads(value)
            assert key.decode() == body["lead_id"], (key, body)
            assert hdrs["leadscore.model"] == "tiny", hdrs
            assert re.fullmatch(r"[0-9a-f]{16}",
                                hdrs["leadscore.model_version"]), hdrs
            assert hdrs["leadscore.model_version"] == body["model_version"]
            assert hdrs["leadscore.id"] == body["id"], (hdrs, body)
            want_id = "%s/tiny/%d" % (body["lead_id"], body["seq"])
            if topic == h.TOPICS["alerts"]:
                assert hdrs["leadscore.id"].startswith(want_id + "/"), hdrs
            else:
                assert hdrs["leadscore.id"] == want_id, hdrs
            version = version or body["model_version"]
            assert body["model_version"] == version

        by_cause = {}
        for r in scores:
            body = json.loads(r[4])
            by_cause[body["cause_id"] or "profile:" + body["lead_id"]] = body
        # Hand-computed: fit 20 (SaaS), pricing +10, demo +25.
        expect = {"profile:L1": (20, 20, 0, "A", "cold"),
                  "e1": (30, 20, 10, "A", "warm"),
                  "e2": (55, 20, 35, "A", "hot"),
                  "e3": (65, 20, 45, "A", "hot"),
                  "e4": (10, 0, 10, "B", "warm")}
        assert set(by_cause) == set(expect), by_cause.keys()
        for cause, (total, fit, eng, grade, band) in expect.items():
            b = by_cause[cause]
            assert (b["total"], b["fit"], b["engagement"], b["grade"],
                    b["band"]) == (total, fit, eng, grade, band), (cause, b)
        alert = json.loads(alerts[0][4])
        assert alert["alert"] == "mql" and alert["lead_id"] == "L1", alert
        assert alert["total"] == 55 and alert["cause_id"] == "e2", alert
        assert alerts[0][3] == b"L1"

        run.wait_line("assigned", 5)
        run.stop_ok()
        assert "stopped: consumed 5" in run.stderr_text(), run.stderr_text()
        for topic in (h.TOPICS["events"], h.TOPICS["profiles"]):
            ends = h.end_offsets(broker.address, topic, PARTS)
            got = h.committed(broker.address, "json-e2e", topic, PARTS)
            # A partition that never had input has nothing to commit.
            got = [g if g >= 0 else 0 for g in got]
            assert got == ends, (topic, got, ends)
    finally:
        if run:
            run.kill()
        broker.stop()


def test_config_errors_name_line_and_key():
    d = h.tmpdir()
    cfg = h.write_config(d, "127.0.0.1:1", extra="topics: {scorse: x}\n")
    p = h.Proc([h.LEADSCORE, "run", "--config", cfg], "run")
    rc = p.p.wait(20)
    p.t.join(5)
    assert rc == 1, rc
    assert re.search(r"config\.yaml:\d+: topics\.scorse: unknown key",
                     p.stderr_text()), p.stderr_text()
    cfg = h.write_config(d, "127.0.0.1:1",
                         extra="kafka:\n  sasl.password: hunter2\n"
                               "  linger.ms: soon\n")
    p = h.Proc([h.LEADSCORE, "run", "--config", cfg], "run")
    rc = p.p.wait(20)
    p.t.join(5)
    assert rc == 1, rc
    assert re.search(r"config\.yaml:\d+: kafka\.linger\.ms: ", p.stderr_text()), \
        p.stderr_text()
    # Secrets are masked when the configuration is echoed.
    cfg = h.write_config(d, "127.0.0.1:1",
                         extra="producer:\n  sasl.password: hunter2\n")
    out = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                            "--print-config"], capture_output=True, text=True,
                           timeout=20)
    assert out.returncode == 0, out.stderr
    assert "producer.sasl.password = ********" in out.stdout, out.stdout
    assert "hunter2" not in out.stdout + out.stderr


if __name__ == "__main__":
    h.main([test_config_errors_name_line_and_key, test_json_end_to_end])

"""Bad input never stalls a partition: every kind of bad record, interleaved
with good ones, goes to the dead-letter topic with its reason and source
topic / partition / offset headers, and the good ones around it are scored."""
import base64
import json
import struct

import lsharness as h

BROKERS = "mock kafka"

DL = h.TOPICS["dead_letters"]


def ev(lead, eid, t, url="https://x.test/pricing", **extra):
    d = {"kind": "event", "lead_id": lead, "event_id": eid,
         "event_type": "page_view", "occurred_at": t,
         "properties": dict(url=url, **extra)}
    return json.dumps(d)


def check_dead_letters(dls, expect, source_topic):
    """expect: {offset: reason}."""
    got = {}
    for _t, _p, _o, key, value, hdrs in dls:
        assert hdrs["leadscore.source.topic"] == source_topic, hdrs
        assert hdrs["leadscore.source.partition"] == "0", hdrs
        assert hdrs["leadscore.error"], hdrs
        assert value, "empty dead-letter value"
        off = int(hdrs["leadscore.source.offset"])
        assert off not in got, "two dead letters for offset %d" % off
        got[off] = (hdrs["leadscore.reason"], key)
    assert {o: r for o, (r, _k) in got.items()} == expect, (got, expect)
    return got


def test_bad_json_inputs():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="bad-json",
                             extra="max_record_bytes: 2048\n")
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        t = h.T0 + 10 * 3600 * 1000
        records = [
            (ev("L1", "e1", t), None),                          # 0 good
            (b"not json {", "decode"),                          # 1
            (ev("L1", "e2", t + 1), None),                      # 2 good
            (json.dumps({"kind": "event", "event_id": "x",      # 3
                         "event_type": "page_view",
                         "occurred_at": t}), "decode"),
            (ev("L1", "e5", 99999999999999999), "decode"),      # 4 absurd
            (ev("L1", "e6", t, pad="x" * 4000), "oversized"),   # 5
            (ev("L1", "e7", h.T0), "late"),                     # 6 10h late
            (ev("L1", "e3", t + 2), None),                      # 7 good
            (ev("L1", "e2", t + 1), None),                      # 8 duplicate
            (ev("", "e9", t + 3), "invalid"),                   # 9 empty lead
            (ev("L1", "e10", (t + 3) // 1000), "decode"),       # 10 seconds
            (json.dumps({"kind": "event", "lead_id": "L1",      # 11 good, no
                         "event_type": "page_view",             # event_id
                         "occurred_at": t + 3,
                         "properties": {"url": "https://x.test/pricing"}}),
             None),
        ]
        for value, _r in records:
            h.produce(prod, h.TOPICS["events"], b"L1", value)
        h.flush(prod)
        expect = {i: r for i, (_v, r) in enumerate(records) if r}
        recs = h.consume_all(broker.address, [h.TOPICS["scores"], DL],
                             4 + len(expect), 25)
        scores = [json.loads(r[4]) for r in recs if r[0] == h.TOPICS["scores"]]
        dls = [r for r in recs if r[0] == DL]
        assert [s["cause_id"] for s in scores] == ["e1", "e2", "e3", None], \
            scores
        assert [s["total"] for s in scores] == [10, 20, 30, 40], scores
        got = check_dead_letters(dls, expect, h.TOPICS["events"])
        assert all(k == b"L1" for _r, k in got.values()), got
        assert "looks like seconds" in dict(
            (int(r[5]["leadscore.source.offset"]), r[5]["leadscore.error"])
            for r in dls)[10], dls
        body = json.loads(dls[0][4])
        assert body["reason"] == dls[0][5]["leadscore.reason"], body
        err = run.stderr_text()
        assert err.count("dead letter: reason=") == len(expect), err
        run.stop_ok()
        assert "dead letters 7, duplicates 1" in run.stderr_text(), \
            run.stderr_text()
        # Bad records are done with: the offsets move past them.
        assert h.committed(broker.address, "bad-json", h.TOPICS["events"],
                           1) == [len(records)]
    finally:
        if run:
            run.kill()
        broker.stop()


def test_bad_avro_inputs():
    reg = h.Registry({1: h.os.path.join(h.SCHEMAS, "lead_event.avsc")})
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="bad-avro",
                             fmt_in="registry", fmt_out="registry",
                             extra="registry: {url: \"%s\"}\n" % reg.url)
        run = h.start_run(cfg)
        schema = h.avro_schema("lead_event.avsc")
        t = h.T0 + 3600 * 1000

        def good(eid, tt):
            return h.framed(1, h.avro_encode(schema, {
                "lead_id": "L9", "event_id": eid, "event_type": "page_view",
                "occurred_at": h.ts(tt), "product": None,
                "properties": {"url": "https://x.test/pricing"}}))
        empty_lead = h.framed(1, h.avro_encode(schema, {
            "lead_id": "", "event_id": "z", "event_type": "page_view",
            "occurred_at": h.ts(t), "product": None, "properties": {}}))
        full = good("e2", t + 1)
        records = [
            (good("e1", t), None),                              # 0
            (full[: len(full) // 2], "decode"),                 # 1 truncated
            (full, None),                                       # 2
            (b"\0" + struct.pack(">I", 99) + full[5:], "schema"),  # 3
            (empty_lead, "invalid"),                            # 4
            (good("e3", t + 2), None),                          # 5
        ]
        prod = h.producer(broker.address)
        for value, _r in records:
            h.produce(prod, h.TOPICS["events"], b"L9", value)
        h.flush(prod)
        expect = {i: r for i, (_v, r) in enumerate(records) if r}
        recs = h.consume_all(broker.address, [h.TOPICS["scores"], DL],
                             3 + len(expect), 25)
        dls = [r for r in recs if r[0] == DL]
        check_dead_letters(dls, expect, h.TOPICS["events"])
        scores = [r for r in recs if r[0] == h.TOPICS["scores"]]
        assert len(scores) == 3, scores
        run.stop_ok()
    finally:
        if run:
            run.kill()
        broker.stop()
        reg.stop()


def test_large_bad_records():
    """An undecodable 800 KB record (its base64 dead letter would exceed the
    producer's default message.max.bytes) and a 2 MB oversized one: both
    are dead-lettered with the value cut and marked, the run goes on."""
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="bad-large")
        run = h.start_run(cfg)
        prod = h.producer(broker.address, message_max_bytes=3000000)
        t = h.T0 + 10 * 3600 * 1000
        big = h.os.urandom(800 * 1000)
        huge = b"{" + b"x" * (2 * 1000 * 1000)
        records = [
            (ev("L1", "e1", t), None),          # 0 good
            (big, "decode"),                    # 1
            (ev("L1", "e2", t + 1), None),      # 2 good
            (huge, "oversized"),                # 3
            (ev("L1", "e3", t + 2), None),      # 4 good
        ]
        # One at a time: librdkafka 2.0.2 without idempotence reorders
        # records of mixed sizes within one flush on real Kafka.
        for value, _r in records:
            h.produce(prod, h.TOPICS["events"], b"L1", value)
            h.flush(prod)
        expect = {i: r for i, (_v, r) in enumerate(records) if r}
        recs = h.consume_all(broker.address, [h.TOPICS["scores"], DL],
                             3 + len(expect), 30)
        scores = [json.loads(r[4]) for r in recs if r[0] == h.TOPICS["scores"]]
        dls = [r for r in recs if r[0] == DL]
        assert [s["cause_id"] for s in scores] == ["e1", "e2", "e3"], scores
        check_dead_letters(dls, expect, h.TOPICS["events"])
        for _t, _p, _o, _key, value, hdrs in dls:
            assert len(value) < 1000000, len(value)
            off = int(hdrs["leadscore.source.offset"])
            orig = records[off][0]
            assert hdrs["leadscore.truncated"] == str(len(orig)), hdrs
            body = json.loads(value)
            assert body["value_truncated_from"] == len(orig), \
                {k: v for k, v in body.items() if k != "value"}
            if body["value_encoding"] == "base64":
                kept = base64.b64decode(body["value"])
            else:
                kept = body["value"].encode()
            # the first bytes of the original, and a good part of them
            assert 0 < len(kept) < len(orig), len(kept)
            assert orig.startswith(kept), off
            assert len(kept) > 400 * 1000, len(kept)
        run.stop_ok()
        assert "dead letters 2," in run.stderr_text(), run.stderr_text()
        assert h.committed(broker.address, "bad-large", h.TOPICS["events"],
                           1) == [len(records)]
    finally:
        if run:
            run.kill()
        broker.stop()


def test_far_future_event():
    """One record dated in the year 3000 goes to the dead-letter topic as
    `future` (its time is far past the record's Kafka timestamp) and moves
    nothing: the records after it are neither late nor met by a burst of
    decay, on the events topic and on the profiles topic alike."""
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="far-future")
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        t = h.T0 + 10 * 3600 * 1000
        y3000 = 32503680000000
        records = [
            (h.TOPICS["events"], ev("L1", "e1", t), None),
            (h.TOPICS["events"], ev("L1", "f1", y3000), "future"),
            (h.TOPICS["events"], ev("L1", "e2", t + 1), None),
            (h.TOPICS["events"], ev("L1", "e3", t + 2), None),
        ]
        for topic, value, _r in records:
            # the record's timestamp: when it was written, here its event
            # time (the year-3000 one was written at t too)
            prod.produce(topic, key=b"L1", value=value, timestamp=t)
        prod.produce(h.TOPICS["profiles"], key=b"L1", timestamp=t,
                     value=json.dumps({"kind": "profile", "lead_id": "L1",
                                       "updated_at": y3000,
                                       "attributes": {"title": "VP"}}))
        h.flush(prod)
        recs = h.consume_all(broker.address, [h.TOPICS["scores"], DL], 5, 25)
        scores = [json.loads(r[4]) for r in recs if r[0] == h.TOPICS["scores"]]
        dls = [r for r in recs if r[0] == DL]
        assert [s["cause_id"] for s in scores] == ["e1", "e2", "e3"], scores
        assert all(s["cause"] == "event" for s in scores), scores
        assert [s["time"] for s in scores] == [t, t + 1, t + 2], scores
        got = sorted((r[5]["leadscore.source.topic"],
                      r[5]["leadscore.reason"]) for r in dls)
        assert got == sorted([(h.TOPICS["events"], "future"),
                              (h.TOPICS["profiles"], "future")]), got
        assert all("past the record's timestamp" in r[5]["leadscore.error"]
                   for r in dls), dls
        run.stop_ok()
        assert "dead letters 2," in run.stderr_text(), run.stderr_text()
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_bad_json_inputs, test_bad_avro_inputs,
            test_large_bad_records, test_far_future_event])

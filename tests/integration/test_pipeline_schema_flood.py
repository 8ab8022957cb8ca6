"""A flood of records with distinct unknown schema ids (registry framing)
neither hammers the registry nor stalls the partition: with
`registry: {max_lookups_per_second: 5}` the registry stand-in receives at
most 5 lookups a second (after a burst of 10 s of them), every flooded record is
dead-lettered with reason `schema` (looked up and unknown, or not looked
up, naming the id and the config key), a record of a known, cached id
after the flood still decodes, and
leadscore_registry_lookups_skipped_total counts the lookups not made.
Without the limit each distinct id cost one request."""
import json
import time
import urllib.request

import lsharness as h
import opsutil as o

BROKERS = "mock kafka"

DL = h.TOPICS["dead_letters"]
RATE = 5
FLOOD = 200
FIRST_ID = 1000   # the flooded ids: FIRST_ID .. FIRST_ID + FLOOD - 1


def registry_stats(reg):
    with urllib.request.urlopen(reg.url + "/_stats", timeout=5) as r:
        return json.loads(r.read())


def test_unknown_id_flood():
    reg = h.Registry({1: h.os.path.join(h.SCHEMAS, "lead_event.avsc")})
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(
            d, broker.address, group="schema-flood", fmt_in="registry",
            extra="registry: {url: \"%s\", max_lookups_per_second: %d}\n"
                  "metrics: {listen: \"127.0.0.1:0\"}\n" % (reg.url, RATE))
        run = h.start_run(cfg)
        port = o.metrics_port(run)
        schema = h.avro_schema("lead_event.avsc")
        t = h.T0 + 3600 * 1000

        def body(eid, tt):
            return h.avro_encode(schema, {
                "lead_id": "L9", "event_id": eid, "event_type": "page_view",
                "occurred_at": h.ts(tt), "product": None,
                "properties": {"url": "https://x.test/pricing"}})
        prod = h.producer(broker.address)
        h.produce(prod, h.TOPICS["events"], b"L9", h.framed(1, body("e1", t)))
        h.flush(prod)
        flood_body = body("x", t)
        start = time.monotonic()
        for i in range(FLOOD):
            h.produce(prod, h.TOPICS["events"], b"L9",
                      h.framed(FIRST_ID + i, flood_body))
        h.produce(prod, h.TOPICS["events"], b"L9",
                  h.framed(1, body("e2", t + 1)))
        h.flush(prod)
        recs = h.consume_all(broker.address, [h.TOPICS["scores"], DL],
                             2 + FLOOD, 30)
        stats = registry_stats(reg)
        elapsed = time.monotonic() - start

        scores = [json.loads(r[4]) for r in recs
                  if r[0] == h.TOPICS["scores"]]
        dls = [r for r in recs if r[0] == DL]
        # the known id decodes before and after the flood
        assert [s["cause_id"] for s in scores] == ["e1", "e2"], scores
        assert len(dls) == FLOOD, len(dls)
        skipped = 0
        for _t, _p, _o, _key, _value, hdrs in dls:
            assert hdrs["leadscore.reason"] == "schema", hdrs
            sid = FIRST_ID + int(hdrs["leadscore.source.offset"]) - 1
            err = hdrs["leadscore.error"]
            if "not looked up" in err:
                skipped += 1
                assert err == (
                    "schema id %d not looked up in registry: more than %d "
                    "unknown schema ids per second arrived "
                    "(registry.max_lookups_per_second)" % (sid, RATE)), err
            else:
                assert err == "schema id %d not found in registry" % sid, \
                    err
        flooded = sum(n for k, n in stats["get"].items()
                      if int(k) >= FIRST_ID)
        # the bucket holds at most 10 s of RATE at the flood's start, and
        # gains RATE a second
        bound = 10 * RATE + RATE * elapsed
        h.log("flood: %d lookups in %.1fs (bound %.1f), %d records not "
              "looked up" % (flooded, elapsed, bound, skipped))
        assert flooded <= bound, (flooded, elapsed, bound)
        assert stats["get"].get("1") == 1, stats
        assert skipped > 0 and skipped + flooded >= FLOOD, (skipped, flooded)
        # the counter counts lookups not made, and a record may be
        # decoded more than once (for the merge order, then to score it)
        samples = o.wait_for(
            port, lambda s: (o.value(
                s, "leadscore_registry_lookups_skipped_total") or 0)
            >= skipped, 10, "skipped lookups counted")
        assert o.value(samples, "leadscore_dead_letters_total",
                       reason="schema") == FLOOD, samples
        run.stop_ok()
        assert "dead letters %d," % FLOOD in run.stderr_text(), \
            run.stderr_text()
        assert h.committed(broker.address, "schema-flood",
                           h.TOPICS["events"], 1) == [FLOOD + 2]
    finally:
        if run:
            run.kill()
        broker.stop()
        reg.stop()


if __name__ == "__main__":
    h.main([test_unknown_id_flood])

"""`leadscore run` with Avro in and out: plain Avro, and Schema Registry
framing with the reader schema and an evolved writer schema (an extra
optional field). Inputs are encoded, and outputs decoded, with Python avro
against schemas/*.avsc."""
import json

import lsharness as h

BROKERS = "mock kafka"


def event(lead, eid, t, etype="page_view", url="https://x.test/pricing"):
    return {"lead_id": lead, "event_id": eid, "event_type": etype,
            "occurred_at": h.ts(t), "product": None,
            "properties": {"url": url} if url else {}}


def profile_datum(schema, lead, t, attrs):
    names = [f.name for f in schema.fields]
    d = {"lead_id": lead, "attributes": attrs}
    for n in names:
        if n == "updated_at":
            d[n] = h.ts(t)
    return d


def run_avro(fmt, encode_event, encode_profile, extra="", group="avro"):
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group=group, fmt_in=fmt,
                             fmt_out=fmt, extra=extra)
        run = h.start_run(cfg)
        prod = h.producer(broker.address)
        h.produce(prod, h.TOPICS["profiles"], b"A1",
                  encode_profile("A1", h.T0, {"industry": "saas"}))
        h.flush(prod)
        first = h.consume_all(broker.address, [h.TOPICS["scores"]], 1, 25)
        assert len(first) == 1, first
        h.produce(prod, h.TOPICS["events"], b"A1",
                  encode_event(0, event("A1", "e1", h.T0 + 1000)))
        h.produce(prod, h.TOPICS["events"], b"A1",
                  encode_event(1, event("A1", "e2", h.T0 + 2000,
                                        etype="demo_request", url=None)))
        h.flush(prod)
        recs = h.consume_all(broker.address,
                             [h.TOPICS["scores"], h.TOPICS["alerts"]], 4, 25)
        run.stop_ok()
        return recs
    finally:
        if run:
            run.kill()
        broker.stop()


def check_outputs(recs, strip):
    su = h.avro_schema("score_update.avsc")
    al = h.avro_schema("alert.avsc")
    scores = [h.avro_decode(su, strip(r[4])) for r in recs
              if r[0] == h.TOPICS["scores"]]
    alerts = [h.avro_decode(al, strip(r[4])) for r in recs
              if r[0] == h.TOPICS["alerts"]]
    assert [(s["cause_id"], s["total"], s["fit"], s["engagement"])
            for s in scores] == [(None, 20, 20, 0), ("e1", 30, 20, 10),
                                 ("e2", 55, 20, 35)], scores
    assert len(alerts) == 1 and alerts[0]["alert"] == "mql", alerts
    assert alerts[0]["lead_id"] == "A1" and alerts[0]["total"] == 55
    for r in recs:
        body = (h.avro_decode(su if r[0] == h.TOPICS["scores"] else al,
                              strip(r[4])))
        assert r[3] == b"A1" and r[5]["leadscore.id"] == body["id"], r


def test_plain_avro():
    ev_schema = h.avro_schema("lead_event.avsc")
    pr_schema = h.avro_schema("lead_profile.avsc")
    recs = run_avro(
        "avro", lambda _i, d: h.avro_encode(ev_schema, d),
        lambda lead, t, a: h.avro_encode(
            pr_schema, profile_datum(pr_schema, lead, t, a)),
        group="avro-plain")
    check_outputs(recs, lambda b: b)


def test_registry_framed_with_evolved_writer():
    ev_path = h.os.path.join(h.SCHEMAS, "lead_event.avsc")
    pr_path = h.os.path.join(h.SCHEMAS, "lead_profile.avsc")
    with open(ev_path) as f:
        evolved = json.load(f)
    evolved["fields"].append({"name": "channel", "type": ["null", "string"],
                              "default": None})
    d = h.tmpdir()
    evolved_path = h.os.path.join(d, "evolved.avsc")
    with open(evolved_path, "w") as f:
        json.dump(evolved, f)
    reg = h.Registry({11: ev_path, 12: evolved_path, 13: pr_path})
    try:
        ev_schema = h.avro_schema("lead_event.avsc")
        ev2_schema = h.avro_schema(json.dumps(evolved))
        pr_schema = h.avro_schema("lead_profile.avsc")

        def enc_event(i, datum):
            if i == 0:
                return h.framed(11, h.avro_encode(ev_schema, datum))
            datum = dict(datum, channel="web")
            return h.framed(12, h.avro_encode(ev2_schema, datum))

        recs = run_avro(
            "registry", enc_event,
            lambda lead, t, a: h.framed(13, h.avro_encode(
                pr_schema, profile_datum(pr_schema, lead, t, a))),
            extra='registry: {url: "%s"}\n' % reg.url, group="avro-reg")
        for r in recs:
            assert r[4][0] == 0 and len(r[4]) > 5, r[4][:8]
        check_outputs(recs, lambda b: b[5:])
    finally:
        reg.stop()


if __name__ == "__main__":
    h.main([test_plain_avro, test_registry_framed_with_evolved_writer])

"""Secrets never leave the process: with SASL / SSL key passwords in the
config, debug logging (ours and librdkafka's), a metrics scrape,
--print-config and every --help, the secret values appear nowhere in
stdout, stderr or the metrics, while the pipeline works."""
import json
import re

import lsharness as h
import opsutil as o

BROKERS = "mock kafka"

SECRETS = ["hunter2-secret", "k3y-pa55-secret", "oauth-s3cret-value"]


def check_clean(where, text):
    for s in SECRETS:
        assert s not in text, "%s leaks %r:\n%s" % (where, s, text[-4000:])


def config(d, bootstrap):
    """sasl.password comes from the environment, ssl.key.password from a
    file (${env:...}, ${file:...}), the OAuth config is inline."""
    with open(h.os.path.join(d, "keypw.txt"), "w") as f:
        f.write(SECRETS[1] + "\n")
    h.os.environ["LS_TEST_SASL_PASSWORD"] = SECRETS[0]
    h.os.environ["LS_TEST_CLIENT_ID"] = "ops-secrets-client"
    # The first line continues the `consumer:` map of write_config.
    return h.write_config(
        d, bootstrap, group="ops-secrets",
        extra="  ssl.key.password: ${file:keypw.txt}\n"
              "  client.id: ${env:LS_TEST_CLIENT_ID}\n"
              "producer:\n"
              "  sasl.password: ${env:LS_TEST_SASL_PASSWORD}\n"
              "  sasl.username: leadscore\n"
              "  security.protocol: plaintext\n"
              "  sasl.oauthbearer.config: principal=x secret=%s\n"
              "  debug: generic,broker,security,conf,msg\n"
              "log: {format: logfmt, level: debug}\n"
              "metrics: {listen: \"127.0.0.1:0\"}\n"
              % SECRETS[2])


def test_no_secret_anywhere():
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = config(d, broker.address)
        with open(cfg) as f:
            assert SECRETS[2] in f.read()  # the test really configures it
        out = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                                "--print-config"], capture_output=True,
                               text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        check_clean("--print-config", out.stdout + out.stderr)
        assert "producer.sasl.password = ********" in out.stdout, out.stdout
        assert "consumer.ssl.key.password = ********" in out.stdout
        assert "producer.sasl.oauthbearer.config = ********" in out.stdout
        assert "log = format:logfmt level:debug" in out.stdout, out.stdout
        # Indirect values are resolved (shown here for a non-secret one).
        assert "consumer.client.id = ops-secrets-client" in out.stdout

        run = h.start_run(cfg)
        port = o.metrics_port(run)
        run.wait_line("event=assigned", 25)
        prod = h.producer(broker.address)
        h.produce(prod, h.TOPICS["events"], b"S1", json.dumps(
            {"kind": "event", "lead_id": "S1", "event_id": "s1",
             "event_type": "page_view", "occurred_at": h.T0,
             "properties": {"url": "https://x.test/pricing"}}))
        h.flush(prod)
        recs = h.consume_all(broker.address, [h.TOPICS["scores"]], 1, 20)
        assert len(recs) == 1, recs  # the pipeline works with these props
        s = o.wait_for(port, lambda x: o.total(
            x, "leadscore_consumed_total") == 1, 10, "consumed")
        _, body = o.scrape(port)
        check_clean("/metrics", body)
        assert s
        rc = run.stop()
        err = run.stderr_text()
        assert rc == 0, "exit %s; stderr:\n%s" % (rc, err)
        # Debug logging was on: librdkafka's lines went through our logger.
        assert "level=debug event=kafka" in err, err[-3000:]
        assert "sasl.password" in err or "security" in err, err[-3000:]
        check_clean("run stderr", err)
        check_clean("run stdout", run.p.stdout.read())

        for cmd in ([], ["run"], ["check"], ["score"], ["broker"], ["demo"]):
            p = h.subprocess.run([h.LEADSCORE] + cmd + ["--help"],
                                 capture_output=True, text=True, timeout=20)
            assert p.returncode == 0, (cmd, p.returncode, p.stderr)
            assert "usage: leadscore" in p.stdout, (cmd, p.stdout)
            check_clean("--help", p.stdout + p.stderr)
    finally:
        if run:
            run.kill()
        broker.stop()


def test_config_error_hides_secret_value():
    d = h.tmpdir()
    # An enum-valued secret property with a bad value: librdkafka's own
    # message would quote the value.
    cfg = h.write_config(d, "127.0.0.1:1",
                         extra="producer:\n"
                               "  sasl.oauthbearer.method: %s\n" % SECRETS[0])
    p = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg],
                         capture_output=True, text=True, timeout=20)
    assert p.returncode == 1, p
    assert re.search(r"config\.yaml:\d+: producer\.sasl\.oauthbearer\."
                    r"method: invalid value", p.stderr), p.stderr
    check_clean("config error", p.stdout + p.stderr)


def test_indirect_value_errors():
    d = h.tmpdir()
    h.os.environ.pop("LS_TEST_UNSET_VAR", None)
    cfg = h.write_config(d, "127.0.0.1:1",
                         extra="producer:\n"
                               "  sasl.password: ${env:LS_TEST_UNSET_VAR}\n")
    p = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                          "--print-config"], capture_output=True, text=True,
                         timeout=20)
    assert p.returncode == 1, p
    assert re.search(r"config\.yaml:\d+: producer\.sasl\.password: "
                     r"environment variable LS_TEST_UNSET_VAR is not set",
                     p.stderr), p.stderr
    cfg = h.write_config(d, "127.0.0.1:1",
                         extra="producer:\n"
                               "  sasl.password: ${file:missing.txt}\n")
    p = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                          "--print-config"], capture_output=True, text=True,
                         timeout=20)
    assert p.returncode == 1, p
    assert re.search(r"config\.yaml:\d+: producer\.sasl\.password: "
                     r"cannot read .*missing\.txt", p.stderr), p.stderr


def test_registry_url_password():
    """user:password@ in registry.url: masked in --print-config, in the
    log and in the error the run exits with (the registry is unreachable,
    so encoding the first output fails)."""
    pw = "S3cretPW"
    broker = h.Broker(partitions=1)
    run = None
    try:
        d = h.tmpdir()
        cfg = h.write_config(d, broker.address, group="ops-regpw",
                             fmt_out="registry",
                             extra="registry: {url: \"http://svc:%s@"
                                   "127.0.0.1:1\"}\n" % pw)
        with open(cfg) as f:
            assert pw in f.read()  # the test really configures it
        out = h.subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                                "--print-config"], capture_output=True,
                               text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        assert pw not in out.stdout + out.stderr, out.stdout + out.stderr
        assert "registry.url = http://svc:********@127.0.0.1:1" in \
            out.stdout, out.stdout

        run = h.start_run(cfg)
        run.wait_line("event=assigned", 25)
        prod = h.producer(broker.address)
        h.produce(prod, h.TOPICS["events"], b"R1", json.dumps(
            {"kind": "event", "lead_id": "R1", "event_id": "r1",
             "event_type": "page_view", "occurred_at": h.T0,
             "properties": {"url": "https://x.test/pricing"}}))
        h.flush(prod)
        rc = run.p.wait(timeout=30)
        run.t.join(5)  # the rest of its stderr
        err = run.stderr_text()
        assert rc != 0, err
        assert "stopped with an error: cannot encode output for lead R1" \
            in err, err[-3000:]
        assert "http://svc:********@127.0.0.1:1/subjects/" in err, \
            err[-3000:]
        assert pw not in err, err[-3000:]
        assert pw not in run.p.stdout.read()
    finally:
        if run:
            run.kill()
        broker.stop()


if __name__ == "__main__":
    h.main([test_config_error_hides_secret_value, test_indirect_value_errors,
            test_no_secret_anywhere, test_registry_url_password])

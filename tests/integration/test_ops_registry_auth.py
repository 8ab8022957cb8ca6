"""A Schema Registry secured as in production (HTTP basic auth, HTTPS
with a private CA, a client certificate whose key has a password):
leadscore resolves the writer schemas of registry-framed records through
it with the registry URL, the user info and the key password taken from
${env:} and ${file:}, --print-config masks every secret, a wrong password
stops with an error naming the registry URL and the user but no password,
and a CA that did not sign the registry's certificate stops with a TLS
error naming that CA file.

`leadscore replay --config` reads the topics of the mock broker and
decodes them with the config's registry, as `leadscore run` does."""
import json
import os
import subprocess
import urllib.request
import ssl

import lsharness as h

BROKERS = "mock"
TIMEOUT = 300

PASSWORD = "Rg-pa55w0rd-7c1"
KEY_PASSWORD = "cl1ent-key-pa55"  # written by make_certs.sh to client.pass
SCHEMA_ID = 21


class SecureRegistry(h.Registry):
    """registry_server.py requiring basic auth (svc:PASSWORD), HTTPS and a
    client certificate, serving lead_event.avsc as SCHEMA_ID."""

    def __init__(self, certs):
        self.certs = certs
        super().__init__(
            {SCHEMA_ID: os.path.join(h.SCHEMAS, "lead_event.avsc")},
            max_seconds=240, tls=True,
            extra_args=["--basic-auth", "svc:" + PASSWORD,
                        "--tls-cert", os.path.join(certs, "server.pem"),
                        "--tls-key", os.path.join(certs, "server.key"),
                        "--client-ca", os.path.join(certs, "ca.pem")])

    def stats(self):
        ctx = ssl.create_default_context(
            cafile=os.path.join(self.certs, "ca.pem"))
        ctx.load_cert_chain(os.path.join(self.certs, "client.pem"),
                            os.path.join(self.certs, "client.key"),
                            password=KEY_PASSWORD)
        with urllib.request.urlopen(self.url + "/_stats", context=ctx,
                                    timeout=10) as r:
            return json.loads(r.read())


def make_certs(d):
    certs = os.path.join(d, "certs")
    subprocess.run(["/bin/sh", os.path.join(h.SOURCE_DIR, "tests",
                                            "integration", "make_certs.sh"),
                    certs], check=True, timeout=60)
    return certs


def registry_config(d, broker, certs, user_info, ca="ca.pem"):
    """A config whose registry URL comes from $LS_TEST_REG_URL, the user
    info as given (an indirect value) and the key password from a file;
    the TLS files are relative to the config's directory."""
    return h.write_config(
        d, broker, fmt_in="registry",
        extra="registry:\n"
              "  url: ${env:LS_TEST_REG_URL}\n"
              "  basic_auth_user_info: %s\n"
              "  ca_location: certs/%s\n"
              "  certificate_location: certs/client.pem\n"
              "  key_location: certs/client.key\n"
              "  key_password: ${file:certs/client.pass}\n" % (user_info, ca))


def replay(cfg, broker, out):
    return subprocess.run([h.LEADSCORE, "replay", "--config", cfg,
                           "--brokers", broker, "--output", out, "--quiet"],
                          capture_output=True, text=True, timeout=90)


def produce_inputs(broker):
    schema = h.avro_schema("lead_event.avsc")
    prod = h.producer(broker)
    for i, (url, lead) in enumerate([("https://x.test/pricing", "A1"),
                                     ("https://x.test/blog", "A1"),
                                     ("https://x.test/pricing/2", "B2")]):
        rec = {"lead_id": lead, "event_id": "e%d" % i,
               "event_type": "page_view", "occurred_at": h.ts(h.T0 + i),
               "product": None, "properties": {"url": url}}
        h.produce(prod, h.TOPICS["events"], lead.encode(),
                  h.framed(SCHEMA_ID, h.avro_encode(schema, rec)))
    h.flush(prod)


def line_of(path, text):
    """The 1-based number of the line of file @path that contains text."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError("%s: no line with %r" % (path, text))


def check_clean(where, text):
    for s in (PASSWORD, KEY_PASSWORD):
        assert s not in text, "%s shows a secret:\n%s" % (where, text[-3000:])


def test_secured_registry():
    d = h.tmpdir()
    certs = make_certs(d)
    reg = SecureRegistry(certs)
    broker = h.Broker(partitions=1)
    try:
        produce_inputs(broker.address)
        os.environ["LS_TEST_REG_URL"] = reg.url
        os.environ["LS_TEST_REG_USER_INFO"] = "svc:" + PASSWORD
        with open(os.path.join(d, "user_info"), "w") as f:
            f.write("svc:%s\n" % PASSWORD)

        # --print-config: the values resolved, the secrets masked.
        cfg = registry_config(d, broker.address, certs,
                              "${env:LS_TEST_REG_USER_INFO}")
        p = subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                            "--print-config"], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 0, p.stderr
        check_clean("--print-config", p.stdout + p.stderr)
        assert "registry.url = %s\n" % reg.url in p.stdout, p.stdout
        assert "registry.basic_auth_user_info = svc:********\n" in p.stdout
        assert "registry.key_password = ********\n" in p.stdout, p.stdout
        assert "registry.ca_location = %s/certs/ca.pem\n" % d in p.stdout

        # User info from the environment, then from a file: the schema
        # is fetched once per process and the three records are scored.
        for user_info in ("${env:LS_TEST_REG_USER_INFO}",
                          "${file:user_info}"):
            before = reg.stats()
            cfg = registry_config(d, broker.address, certs, user_info)
            out = os.path.join(d, "out.jsonl")
            p = replay(cfg, broker.address, out)
            assert p.returncode == 0, (user_info, p.returncode, p.stderr)
            check_clean("replay stderr", p.stdout + p.stderr)
            with open(out) as f:
                recs = [json.loads(line) for line in f]
            totals = [(r["lead_id"], r["total"]) for r in recs
                      if r.get("type", "score_update") == "score_update"]
            assert totals == [("A1", 10), ("B2", 10)], (user_info, recs)
            after = reg.stats()
            got = after["get"].get(str(SCHEMA_ID), 0) - \
                before["get"].get(str(SCHEMA_ID), 0)
            assert got >= 1, (user_info, before, after)
            assert after["unauthorized"] == before["unauthorized"], after

        # A wrong password: refused, the error names the URL and the user.
        os.environ["LS_TEST_REG_USER_INFO"] = "svc:wrong-" + PASSWORD
        before = reg.stats()
        cfg = registry_config(d, broker.address, certs,
                              "${env:LS_TEST_REG_USER_INFO}")
        p = replay(cfg, broker.address, os.path.join(d, "bad.jsonl"))
        assert p.returncode == 1, (p.returncode, p.stderr)
        check_clean("wrong password error", p.stdout + p.stderr)
        assert "schema registry GET %s/schemas/ids/%d: HTTP 401" % (
            reg.url, SCHEMA_ID) in p.stderr, p.stderr
        assert "the registry refused the credentials of user 'svc'" in \
            p.stderr, p.stderr
        assert reg.stats()["unauthorized"] > before["unauthorized"]

        # A CA that did not sign the registry's certificate.
        os.environ["LS_TEST_REG_USER_INFO"] = "svc:" + PASSWORD
        cfg = registry_config(d, broker.address, certs,
                              "${env:LS_TEST_REG_USER_INFO}",
                              ca="other-ca.pem")
        p = replay(cfg, broker.address, os.path.join(d, "bad.jsonl"))
        assert p.returncode == 1, (p.returncode, p.stderr)
        check_clean("TLS error", p.stdout + p.stderr)
        assert "schema registry GET %s/schemas/ids/%d: TLS handshake " \
               "failed (CA %s/certs/other-ca.pem" % (reg.url, SCHEMA_ID, d) \
            in p.stderr, p.stderr
        assert "certificate" in p.stderr.split("TLS handshake failed")[1]
    finally:
        broker.stop()
        reg.stop()


def test_config_errors():
    """Indirect values in registry keys: an unset variable or unreadable
    file is an error naming file:line:key."""
    d = h.tmpdir()
    os.environ.pop("LS_TEST_REG_UNSET", None)
    cfg = h.write_config(d, "127.0.0.1:1", fmt_in="registry",
                         extra="registry:\n"
                               "  url: ${env:LS_TEST_REG_UNSET}\n")
    p = subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                        "--print-config"], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 1, p
    assert "config.yaml:%d: registry.url: environment variable " \
           "LS_TEST_REG_UNSET is not set" % line_of(
               cfg, "${env:LS_TEST_REG_UNSET}") in p.stderr, p.stderr
    cfg = h.write_config(d, "127.0.0.1:1", fmt_in="registry",
                         extra="registry:\n"
                               "  url: https://sr.test\n"
                               "  basic_auth_user_info: ${file:nope}\n")
    p = subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                        "--print-config"], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 1, p
    assert "config.yaml:%d: registry.basic_auth_user_info: cannot read " \
           "%s/nope: No such file or directory" % (
               line_of(cfg, "${file:nope}"), d) in p.stderr, p.stderr


if __name__ == "__main__":
    h.main([test_config_errors, test_secured_registry])

"""TLS and SASL/SCRAM against real Apache Kafka. `leadscore run` connects
to the SASL_SSL listener of scripts/kafka_cluster.py --sasl-ssl (a server
certificate from a CA the cluster script makes) with SCRAM-SHA-256, the
password taken from ${env:...} in one run and from ${file:...} in another.
Inputs are produced over TLS + SCRAM with confluent-kafka, and the scores
are read back by Kafka's own Java client over TLS + SCRAM. The password
appears nowhere: not in stderr (with librdkafka's security, broker and
conf debug on), stdout, --print-config or /metrics, and not in the errors
of a run with a wrong password (authentication fails: the run stops with
exit status 1, naming the broker, the mechanism and the user) or of a run
whose CA file does not verify the broker (TLS failure: exit status 1).

SCRAM against Kafka 4 needs librdkafka 2.6.1 or later: older versions
repeat the client nonce in their final SCRAM message, which Kafka 4
refuses even with the right password (Kafka 3.x accepts it). With Debian
12's librdkafka 2.0.2 the SCRAM cases therefore run on Kafka 3.9.2
(kafka_cluster.SCRAM_VERSION), and a second cluster on Kafka 4.4.0 shows
that leadscore names that cause when its SCRAM fails there
(test_scram_with_this_librdkafka) and that TLS + SASL/PLAIN works there
(test_plain_on_kafka4). With 2.6.1 or later everything runs on 4.4.0."""
import base64
import binascii
import json
import os
import re
import stat
import subprocess

import confluent_kafka

import lsharness as h
import opsutil as o

BROKERS = "kafka"
TIMEOUT = 900

SCRAM = "SCRAM-SHA-256"
HERE = os.path.dirname(os.path.abspath(__file__))
ENV_VAR = "LS_TEST_KAFKA_PASSWORD"
CASES = ("env", "file", "plain", "scram", "wrongpw", "badca")
CLUSTER = None  # the h.KafkaBroker of this run, started in __main__


def version(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def leadscore_librdkafka():
    out = subprocess.run([h.LEADSCORE, "--version"], capture_output=True,
                         text=True, timeout=20).stdout
    m = re.search(r"^librdkafka (\S+)$", out, re.M)
    assert m, out
    return m.group(1)


def scram_works(librdkafka_version):
    return version(librdkafka_version) >= (2, 6, 1)


LS_RDKAFKA = leadscore_librdkafka()
PY_RDKAFKA = confluent_kafka.libversion()[0]


def sec():
    return CLUSTER.cluster.secure


def mech(rdkafka_version):
    """SCRAM, unless this librdkafka cannot do it with CLUSTER's Kafka."""
    if scram_works(rdkafka_version) or \
            version(CLUSTER.cluster.version) < (4, 0, 0):
        return SCRAM
    return "PLAIN"


def topics(case):
    return {k: "sec-%s-%s" % (case, k.replace("_", "-"))
            for k in ("events", "profiles", "scores", "alerts",
                      "dead_letters")}


def write_config(d, case, mech, password_value, ca=None, fmt="logfmt"):
    s = sec()
    t = topics(case)
    with open(os.path.join(d, "model.yaml"), "w") as f:
        f.write(h.TINY_MODEL)
    path = os.path.join(d, "config.yaml")
    with open(path, "w") as f:
        f.write("""\
model: model.yaml
group: sec-%(case)s
schemas: %(schemas)s
commit_interval: 200ms
topics: {events: %(events)s, profiles: %(profiles)s, scores: %(scores)s,
         alerts: %(alerts)s, dead_letters: %(dead_letters)s}
kafka:
  bootstrap.servers: "%(bootstrap)s"
  security.protocol: SASL_SSL
  sasl.mechanisms: %(mech)s
  sasl.username: %(user)s
  sasl.password: %(password)s
  ssl.ca.location: "%(ca)s"
  statistics.interval.ms: 500
  debug: security,broker,conf
consumer:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
log: {format: %(fmt)s, level: debug}
metrics: {listen: "127.0.0.1:0"}
""" % dict(t, case=case, schemas=h.SCHEMAS, bootstrap=s["bootstrap"],
           mech=mech, user=s["user"], password=password_value,
           ca=ca or s["ca"], fmt=fmt))
    return path


def secret_forms(secret, user):
    """The secret as text and as the encodings a library might print."""
    b = secret.encode()
    return [secret, binascii.hexlify(b).decode(),
            binascii.hexlify(b).decode().upper(),
            base64.b64encode(b).decode(),
            base64.b64encode(b"\0" + user.encode() + b"\0" + b).decode()]


def check_clean(where, text, secrets):
    for s in secrets:
        for form in secret_forms(s, sec()["user"]):
            assert form not in text, "%s leaks %r:\n%s" % (
                where, form, text[-4000:])


def print_config(cfg, env):
    p = subprocess.run([h.LEADSCORE, "run", "--config", cfg,
                        "--print-config"], capture_output=True, text=True,
                       timeout=20, env=env)
    assert p.returncode == 0, p
    return p.stdout + p.stderr


def run_proc(cfg, env, name):
    """`leadscore run` with its own environment (h.start_run takes ours)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return h.start_run(cfg, name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def secure_producer():
    s = sec()
    return confluent_kafka.Producer({
        "bootstrap.servers": s["bootstrap"], "security.protocol": "SASL_SSL",
        "sasl.mechanisms": mech(PY_RDKAFKA), "sasl.username": s["user"],
        "sasl.password": s["password"], "ssl.ca.location": s["ca"],
        "linger.ms": 5, "partitioner": "murmur2_random",
        "enable.idempotence": True})


def java_read(topic_names, want, timeout, mech=SCRAM, password=None):
    """Kafka's Java client (SecureConsume.java) reads the topics over
    SASL_SSL. Returns (exit status, records, output)."""
    s = sec()
    libs = h.kafka_cluster_module().fetch(quiet=True)
    env = dict(os.environ, LS_SECURE_PASSWORD=password or s["password"])
    p = subprocess.run(
        ["java", "-Xshare:auto", "-Dlog4j2.level=WARN", "-cp",
         os.path.join(libs, "*"), os.path.join(HERE, "SecureConsume.java"),
         s["bootstrap"], s["ca"], s["user"], mech, str(want), str(timeout)]
        + list(topic_names),
        capture_output=True, text=True, env=env, timeout=timeout + 120)
    recs = [json.loads(line[4:]) for line in p.stdout.splitlines()
            if line.startswith("REC ")]
    return p.returncode, recs, p.stdout + p.stderr


def event(lead, eid, t):
    return json.dumps({"kind": "event", "lead_id": lead, "event_id": eid,
                       "event_type": "page_view", "occurred_at": t,
                       "properties": {"url": "https://x.test/pricing"}})


def profile(lead, t):
    return json.dumps({"kind": "profile", "lead_id": lead, "updated_at": t,
                       "attributes": {"industry": "saas"}})


def scored_run(case, password_value, env, fmt):
    """Runs leadscore on the secured listener, produces three inputs over
    TLS + SASL, reads the three scores back with the Java client over TLS
    + SCRAM, scrapes /metrics, stops cleanly; checks that the password is
    in none of it. Returns leadscore's stderr."""
    s = sec()
    t = topics(case)
    d = h.tmpdir()
    ls_mech = mech(LS_RDKAFKA)
    cfg = write_config(d, case, ls_mech, password_value, fmt=fmt)
    with open(cfg) as f:
        assert s["password"] not in f.read()  # the secret is indirect
    shown = print_config(cfg, env)
    check_clean("--print-config", shown, [s["password"]])
    assert "kafka.sasl.password = ********" in shown, shown
    assert "kafka.sasl.username = %s" % s["user"] in shown, shown
    assert "kafka.sasl.mechanisms = %s" % ls_mech in shown, shown
    assert "kafka.ssl.ca.location = %s" % s["ca"] in shown, shown

    run = run_proc(cfg, env, "run-" + case)
    try:
        port = o.metrics_port(run, 60)
        assigned = ('"event":"assigned"' if fmt == "json"
                    else "event=assigned")
        run.wait_line(assigned, 90)
        prod = secure_producer()
        h.produce(prod, t["events"], b"S1", event("S1", "s1", h.T0))
        h.produce(prod, t["events"], b"S2", event("S2", "s2", h.T0 + 1000))
        h.produce(prod, t["profiles"], b"S1", profile("S1", h.T0 + 2000))
        h.flush(prod)
        rc, recs, out = java_read([t["scores"]], 3, 60)
        assert rc == 0, out
        got = sorted((r["key"], json.loads(r["value"])["total"])
                     for r in recs)
        assert got == [("S1", 10), ("S1", 30), ("S2", 10)], (got, out)
        samples = o.wait_for(port, lambda x: o.total(
            x, "leadscore_consumed_total") == 3 and o.total(
            x, "leadscore_kafka_tx_msgs_total") > 0, 30, "3 consumed, stats")
        assert o.total(samples, "leadscore_outputs_total") == 3, samples
        _, body = o.scrape(port)
        check_clean("/metrics", body, [s["password"]])
        rc = run.stop()
        err = run.stderr_text()
        assert rc == 0, "exit %s; stderr:\n%s" % (rc, err)
        check_clean("run stderr", err, [s["password"]])
        check_clean("run stdout", run.p.stdout.read(), [s["password"]])
        return err
    finally:
        run.kill()


def test_env_password():
    """sasl.password: ${env:...}; logfmt lines."""
    s = sec()
    env = dict(os.environ, **{ENV_VAR: s["password"]})
    assert mech(LS_RDKAFKA) == SCRAM
    err = scored_run("env", "${env:%s}" % ENV_VAR, env, "logfmt")
    check_debug_lines(err, SCRAM)


def check_debug_lines(err, mechanism):
    """librdkafka's debug lines went through the masking logger: its
    configuration dump and the TLS and SASL steps are there."""
    assert "level=debug event=kafka" in err, err[-3000:]
    assert "Broker SSL certificate verified" in err, err[-3000:]
    assert "sasl.mechanisms = %s" % mechanism in err or \
        "SASL mechanism %s" % mechanism in err, err[-3000:]


def test_file_password():
    """sasl.password: ${file:...} (mode 0600, a trailing newline); JSON
    lines."""
    s = sec()
    d = h.tmpdir()
    pwfile = os.path.join(d, "kafka-password")
    with open(pwfile, "w") as f:
        f.write(s["password"] + "\n")
    os.chmod(pwfile, stat.S_IRUSR | stat.S_IWUSR)
    env = dict(os.environ)
    env.pop(ENV_VAR, None)
    assert mech(LS_RDKAFKA) == SCRAM
    err = scored_run("file", "${file:%s}" % pwfile, env, "json")
    assert '"level":"debug","event":"kafka"' in err, err[-3000:]
    assert "Broker SSL certificate verified" in err, err[-3000:]


def failed_run(case, mech, password, ca=None):
    """A run that must stop by itself with exit status 1 (within 60 s).
    Returns its stderr."""
    d = h.tmpdir()
    cfg = write_config(d, case, mech, "${env:%s}" % ENV_VAR, ca=ca)
    env = dict(os.environ, **{ENV_VAR: password})
    run = run_proc(cfg, env, "run-" + case)
    try:
        rc = run.p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("run-%s kept running; stderr:\n%s"
                             % (case, run.stderr_text()[-4000:]))
    finally:
        run.kill()
    run.t.join(5)
    err = run.stderr_text()
    assert rc == 1, "exit %s; stderr:\n%s" % (rc, err[-4000:])
    check_clean("stderr of run-" + case, err + run.p.stdout.read(),
                [password, sec()["password"]])
    return err


def last_line(err):
    lines = [x for x in err.splitlines()
             if x.startswith("leadscore run: stopped with an error: ")]
    assert lines, err[-4000:]
    return lines[-1]


def test_wrong_password():
    """Authentication fails: the run stops (exit 1) and says which broker,
    which mechanism and which user, and what to check."""
    s = sec()
    err = failed_run("wrongpw", mech(LS_RDKAFKA),
                     "not-" + s["password"][::-1])
    broker = "sasl_ssl://%s/bootstrap" % s["bootstrap"]
    line = last_line(err)
    for want in ("Kafka authentication failed",
                 "SASL mechanism " + mech(LS_RDKAFKA),
                 "user '%s'" % s["user"], broker,
                 "check sasl.username and sasl.password"):
        assert want in line, (want, line)
    assert "level=error event=fatal" in err and \
        "FATAL: Kafka authentication failed" in err, err[-4000:]


def test_plain_on_kafka4():
    """TLS + SASL/PLAIN on Kafka 4, password from ${env:...}: what a
    leadscore linked with librdkafka before 2.6.1 can use there."""
    s = sec()
    env = dict(os.environ, **{ENV_VAR: s["password"]})
    assert mech(LS_RDKAFKA) == "PLAIN"
    err = scored_run("plain", "${env:%s}" % ENV_VAR, env, "logfmt")
    check_debug_lines(err, "PLAIN")


def test_scram_with_this_librdkafka():
    """With librdkafka before 2.6.1, SCRAM with the RIGHT password fails
    against Kafka 4 (the Java client authenticates with it): leadscore
    stops and names that cause. With 2.6.1 or later (the other tests ran
    SCRAM on Kafka 4), a wrong SCRAM password fails without that note."""
    s = sec()
    assert version(CLUSTER.cluster.version) >= (4, 0, 0)
    if scram_works(LS_RDKAFKA):
        err = failed_run("scram", SCRAM, "not-" + s["password"])
        line = last_line(err)
        assert "SASL mechanism %s" % SCRAM in line, line
        assert "before 2.6.1" not in line, line
        return
    err = failed_run("scram", SCRAM, s["password"])
    line = last_line(err)
    for want in ("Kafka authentication failed", "SASL mechanism " + SCRAM,
                 "sasl_ssl://%s/bootstrap" % s["bootstrap"],
                 "the cause is librdkafka %s: before 2.6.1" % LS_RDKAFKA,
                 "Apache Kafka 4.0 and later"):
        assert want in line, (want, line)
    rc, _, out = java_read([topics("scram")["scores"]], 0, 5)
    assert rc == 0 and "END 0" in out, out  # the password is right


def test_untrusted_ca():
    """A CA file that does not verify the broker's certificate: the TLS
    handshake fails, the run stops (exit 1) and says so, naming the broker
    and the CA file."""
    s = sec()
    d = h.tmpdir()
    other = os.path.join(d, "other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=another CA",
                    "-keyout", os.path.join(d, "other-ca.key"),
                    "-out", other], check=True, capture_output=True,
                   timeout=60)
    err = failed_run("badca", mech(LS_RDKAFKA), s["password"], ca=other)
    line = last_line(err)
    for want in ("Kafka TLS handshake failed (ssl.ca.location %s)" % other,
                 "sasl_ssl://%s/bootstrap" % s["bootstrap"],
                 "certificate verify failed"):
        assert want in line, (want, line)


def on(cluster, fn):
    """fn, run with CLUSTER set to cluster."""
    def t():
        global CLUSTER
        CLUSTER = cluster
        fn()
    t.__name__ = fn.__name__
    return t


if __name__ == "__main__":
    kc = h.kafka_cluster_module()
    all_topics = [t for c in CASES for t in topics(c).values()]
    h.log("librdkafka: leadscore %s, confluent-kafka %s"
          % (LS_RDKAFKA, PY_RDKAFKA))
    old_client = not (scram_works(LS_RDKAFKA) and scram_works(PY_RDKAFKA))
    clusters = []
    try:
        scram = h.KafkaBroker(
            partitions=1, topics=all_topics, sasl_ssl=True,
            version=kc.SCRAM_VERSION if old_client else kc.KAFKA_VERSION)
        clusters.append(scram)
        tests = [on(scram, t) for t in (test_env_password, test_file_password,
                                        test_wrong_password,
                                        test_untrusted_ca)]
        if old_client:
            k4 = h.KafkaBroker(partitions=1, topics=all_topics,
                               sasl_ssl=True, version=kc.KAFKA_VERSION)
            clusters.append(k4)
            tests += [on(k4, test_plain_on_kafka4),
                      on(k4, test_scram_with_this_librdkafka)]
        else:
            tests.append(on(scram, test_scram_with_this_librdkafka))
        h.main(tests)
    finally:
        for c in clusters:
            c.stop()

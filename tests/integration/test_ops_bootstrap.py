"""`leadscore run` never falls back to a test broker by itself: a missing
or empty kafka.bootstrap.servers (e.g. an empty ${env:...}) is an error
naming the file and the key, exit 1; the embedded test broker starts only
when the config asks for it with an embedded_broker section."""
import os
import subprocess

import lsharness as h


def config(d, body):
    with open(os.path.join(d, "model.yaml"), "w") as f:
        f.write(h.TINY_MODEL)
    path = os.path.join(d, "config.yaml")
    with open(path, "w") as f:
        f.write("model: model.yaml\nschemas: %s\n%s" % (h.SCHEMAS, body))
    return path


def refused(cfg, env, why):
    p = subprocess.run([h.LEADSCORE, "run", "--config", cfg],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 1, p
    assert "%s: kafka.bootstrap.servers: %s; set it to the cluster's " \
        "brokers, or add an embedded_broker section" % (cfg, why) \
        in p.stderr, p.stderr
    assert "broker: 127.0.0.1" not in p.stderr, p.stderr


def test_bootstrap_required():
    d = h.tmpdir()
    env = dict(os.environ, LS_TEST_BOOTSTRAP="")
    refused(config(d, "kafka:\n  bootstrap.servers: "
                      "\"${env:LS_TEST_BOOTSTRAP}\"\n"), env, "empty")
    refused(config(d, "kafka:\n  bootstrap.servers: \"\"\n"), env, "empty")
    refused(config(d, ""), env, "missing")


def test_embedded_broker_when_asked():
    d = h.tmpdir()
    cfg = config(d, "embedded_broker: {partitions: 2}\n")
    run = h.start_run(cfg)
    try:
        line = run.wait_line("broker: 127.0.0.1:", 20)
        run.wait_line("event=assigned", 40)
        assert "lead-events[1]" in run.stderr_text(), run.stderr_text()
        run.stop_ok()
        assert line.startswith("broker: 127.0.0.1:"), line
    finally:
        run.kill()


if __name__ == "__main__":
    h.main([test_bootstrap_required, test_embedded_broker_when_asked])

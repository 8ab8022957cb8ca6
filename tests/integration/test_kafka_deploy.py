"""deploy/ on a real Apache Kafka: three `leadscore run` instances in one
group, with the leadscore config and the model that deploy/k8s/configmap.yaml
ships (and then the one of deploy/compose), keep the exactly-once contract
while one of them is stopped and started again with events flowing, and
every assignment holds partition p of both input topics together.

Both configs keep lead state in a compacted snapshot topic
(snapshot.topic), and every instance runs in an empty working directory
of its own, as a pod without a volume does: no disk is shared, so a
partition that moves to another instance (B's to A and C when B stops,
some of theirs to B's successor B2, a new process in a new directory)
is restored from the topic. The test asserts that B2 restores from the
topic, that no restore reads anything else, and that every working
directory is still empty at the end (nothing kept locally).

The cluster: one KRaft node of Kafka kafka_cluster.SCRAM_VERSION (3.9.2)
with a SASL_SSL listener, the topics as deploy/compose's `topics` job
creates them (test_ops_deploy.compose_topics): 8 partitions each, and the
snapshot topic with the job's cleanup.policy=compact, segment.ms and
min.cleanable.dirty.ratio (the settings docs/DEPLOY.md gives for the k8s
one too). The k8s config authenticates with
SCRAM-SHA-512 over TLS, and Debian 12's librdkafka 2.0.2 (the one of the
debian:12 image deploy/docker builds) cannot do SCRAM with Kafka 4.x
(docs/CONFIG.md), so the cluster is the newest 3.x; a SCRAM-SHA-512
credential is added to the one the cluster script creates (SHA-256 only).

What the test changes in the shipped configs, and why (everything else is
compared with the shipped file and must be equal):
  - kafka.bootstrap.servers: the test cluster's SASL_SSL listener (k8s) or
    its plaintext listener (compose) instead of kafka-bootstrap:9093 /
    kafka:9092, names that only resolve in the cluster / compose network;
  - kafka.ssl.ca.location (added, k8s): the CA the test cluster's
    certificate comes from; the shipped config trusts the system CAs,
    which a production broker's certificate chains to and a test one
    cannot;
  - model and schemas: paths inside the image (/etc/leadscore/model.yaml
    from the ConfigMap, /opt/leadscore/share/...); the test writes the
    ConfigMap's model.yaml to a file and uses the source tree's schemas/
    and examples/model.yaml;
  - registry.url: a registry of the test (registry_server.py) instead of
    http://schema-registry:8081;
  - metrics.listen: port 0 (three instances on one host; the shipped 9464
    would collide, and with other tests);
  - secrets: ${env:LEADSCORE_SASL_USERNAME} / ${env:LEADSCORE_SASL_PASSWORD}
    stay as shipped; the environment gives them the test cluster's user
    and its random password, as the Secret does in a pod;
  - compose only: topics get a "compose-" prefix, since both configs run
    on one cluster and their input formats differ (the k8s one reads
    registry-framed Avro, the compose one JSON); so does snapshot.topic,
    since both configs use group "leadscore", and a snapshot's key
    (GROUP/p/...) would otherwise let the compose run find the k8s
    run's state.

The shipped models score the inputs of durability_common.make_inputs
(records 10 minutes apart, events only while the runs consume), encoded
as registry-framed Avro for the k8s config. The checks are
durability_common's on the registry-framed outputs: repeats byte-identical,
the same outputs as the reference, each lead's final state; but "decay
fired" is not asserted (the k8s model has no decay), and "every event
scored exactly once" only for the k8s model, where every event changes the
one model's score: examples/model.yaml (compose) scores an event in two
models, or in none when it changes nothing. The reference is one
uninterrupted instance with the same config (its own group and output
topics, its own empty working directory, the same snapshot topic, where
its group keys its snapshots apart, and snapshots every second so that
its commits show promptly that it is done; outputs do not depend on
snapshot times).
The three instances keep the shipped snapshot.interval (30s), so the
group's commits, which follow snapshots, lag up to 30 s.
"""
import collections
import copy
import json
import os
import re
import subprocess
import sys
import time

import yaml

import durability_common as d
import lsharness as h
import test_kafka_cluster as kcl
import test_ops_deploy as ops

BROKERS = "kafka"
TIMEOUT = 900

DEPLOY = os.path.join(h.SOURCE_DIR, "deploy")
PARTS = 8                      # deploy/compose: --partitions 8
GROUP = "leadscore"            # both shipped configs
EV_ID, PR_ID = 1, 2            # registry ids of the input schemas
COMPOSE_TOPICS = {k: "compose-" + v for k, v in h.TOPICS.items()}
ALL_TOPICS = (list(h.TOPICS.values()) + ["ref-scores", "ref-alerts"]
              + list(COMPOSE_TOPICS.values())
              + ["compose-ref-scores", "compose-ref-alerts"])

_cluster = None
_kc = h.kafka_cluster_module()


# -- the shipped configs ------------------------------------------------

def shipped_k8s():
    """(config dict, model text) of deploy/k8s/configmap.yaml."""
    with open(os.path.join(DEPLOY, "k8s", "configmap.yaml")) as f:
        cm = yaml.safe_load(f)
    return yaml.safe_load(cm["data"]["config.yaml"]), cm["data"]["model.yaml"]


def shipped_compose():
    with open(os.path.join(DEPLOY, "compose", "config.yaml")) as f:
        return yaml.safe_load(f)


def snapshot_topics():
    """{snapshot topic of the test: its topic config}: the k8s config's
    snapshot.topic, and the compose one's with the "compose-" prefix,
    each with the config deploy/compose's topics job creates the shipped
    compose one with. Both configs name the same topic, so the k8s one
    gets that config too (docs/DEPLOY.md gives the same command)."""
    k8s = shipped_k8s()[0]["snapshot"]["topic"]
    compose = shipped_compose()["snapshot"]["topic"]
    assert k8s == compose, (k8s, compose)
    job = ops.compose_topics()
    assert job[compose]["partitions"] == job["lead-events"]["partitions"] \
        == PARTS, job
    cfg = job[compose]["config"]
    assert cfg.get("cleanup.policy") == "compact", cfg
    return {k8s: cfg, "compose-" + compose: cfg}


def diff(a, b, path=""):
    """Paths where two nested dicts differ."""
    out = set()
    for k in set(a) | set(b):
        p = path + "." + str(k) if path else str(k)
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out |= diff(a[k], b[k], p)
        elif a.get(k) != b.get(k):
            out.add(p)
    return out


def write(tmp, name, cfg, allowed, shipped):
    changed = diff(shipped, cfg)
    assert changed <= allowed, "settings changed beyond the test's own: %s" \
        % sorted(changed - allowed)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path


K8S_CHANGED = {"kafka.bootstrap.servers", "kafka.ssl.ca.location", "model",
               "schemas", "registry.url", "metrics.listen"}


def k8s_config(tmp, name, registry_url, group=None, outputs=None):
    shipped, model = shipped_k8s()
    cfg = copy.deepcopy(shipped)
    sec = cluster().cluster.secure
    # the secrets as shipped: from the environment
    assert cfg["kafka"]["sasl.username"] == "${env:LEADSCORE_SASL_USERNAME}"
    assert cfg["kafka"]["sasl.password"] == "${env:LEADSCORE_SASL_PASSWORD}"
    assert cfg["consumer"]["partition.assignment.strategy"] == "range"
    cfg["kafka"]["bootstrap.servers"] = sec["bootstrap"]
    cfg["kafka"]["ssl.ca.location"] = sec["ca"]
    with open(os.path.join(tmp, "model.yaml"), "w") as f:
        f.write(model)
    cfg["model"] = os.path.join(tmp, "model.yaml")
    cfg["schemas"] = h.SCHEMAS
    cfg["registry"]["url"] = registry_url
    host, _, port = cfg["metrics"]["listen"].rpartition(":")
    cfg["metrics"]["listen"] = host + ":0"
    allowed = set(K8S_CHANGED)
    if group:   # the reference run
        cfg["group"] = group
        cfg["topics"] = outputs
        cfg["snapshot"]["interval"] = "1s"
        allowed |= {"group", "topics", "snapshot.interval"}
    return write(tmp, name, cfg, allowed, shipped)


def compose_config(tmp, name, registry_url, group=None, outs=None):
    shipped = shipped_compose()
    cfg = copy.deepcopy(shipped)
    cfg["kafka"]["bootstrap.servers"] = cluster().address
    cfg["model"] = os.path.join(h.SOURCE_DIR, "examples", "model.yaml")
    cfg["schemas"] = h.SCHEMAS
    cfg["registry"]["url"] = registry_url
    cfg["snapshot"]["topic"] = "compose-" + cfg["snapshot"]["topic"]
    host, _, port = cfg["metrics"]["listen"].rpartition(":")
    cfg["metrics"]["listen"] = host + ":0"
    cfg["topics"] = dict(COMPOSE_TOPICS)
    allowed = {"kafka.bootstrap.servers", "model", "schemas", "registry.url",
               "snapshot.topic", "metrics.listen", "topics"}
    if group:   # the reference run
        cfg["group"] = group
        cfg["topics"].update(outs)
        cfg["snapshot"]["interval"] = "1s"
        allowed |= {"group", "snapshot.interval"}
    return write(tmp, name, cfg, allowed, shipped)


def sasl_env():
    sec = cluster().cluster.secure
    env = dict(os.environ)
    env["LEADSCORE_SASL_USERNAME"] = sec["user"]
    env["LEADSCORE_SASL_PASSWORD"] = sec["password"]
    return env


def Run(config, name, workdir, env=None):
    """`leadscore run` in workdir, a new empty directory (a pod's
    filesystem without a volume), with env (the SASL secrets) as its
    environment."""
    os.makedirs(workdir)
    return h.start_run(config, name, cwd=workdir, env=env)


# -- the cluster and the registry ---------------------------------------

def cluster():
    global _cluster
    if _cluster is None:
        start = time.monotonic()
        extra = {
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule"
                " required;",
        }
        _cluster = h.KafkaBroker(PARTS, ALL_TOPICS, nodes=1, sasl_ssl=True,
                                 extra=extra, version=_kc.SCRAM_VERSION)
        sec = _cluster.cluster.secure
        libs = _kc.fetch(quiet=True, version=_kc.SCRAM_VERSION)
        r = subprocess.run(
            ["java", "-Xshare:auto", "-cp", os.path.join(libs, "*"),
             "kafka.admin.ConfigCommand", "--bootstrap-server",
             _cluster.address, "--alter", "--add-config",
             "SCRAM-SHA-512=[password=%s]" % sec["password"],
             "--entity-type", "users", "--entity-name", sec["user"]],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=120)
        assert r.returncode == 0, r.stdout
        # the snapshot topics, compacted, as deploy/compose creates its own
        for topic, cfg in snapshot_topics().items():
            _cluster.cluster.create_topics([topic], PARTS, config=cfg)
        h.log("kafka %s: up at %s (SASL_SSL %s) in %.1fs" % (
            _kc.SCRAM_VERSION, _cluster.address, sec["bootstrap"],
            time.monotonic() - start))
    return _cluster


def Registry():
    """registry_server.py serving the input schemas under fixed ids, for
    the whole test (h.Registry's default lifetime is 120 s)."""
    return h.Registry({EV_ID: os.path.join(h.SCHEMAS, "lead_event.avsc"),
                       PR_ID: os.path.join(h.SCHEMAS, "lead_profile.avsc")},
                      max_seconds=800)


# -- inputs --------------------------------------------------------------

_EV = h.avro_schema("lead_event.avsc")
_PR = h.avro_schema("lead_profile.avsc")


def to_avro(topic, value):
    """A make_inputs JSON value as registry-framed Avro."""
    o = json.loads(value)
    if o["kind"] == "event":
        return h.framed(EV_ID, h.avro_encode(_EV, {
            "lead_id": o["lead_id"], "event_id": o["event_id"],
            "event_type": o["event_type"], "occurred_at": h.ts(o["occurred_at"]),
            "product": None, "properties": o.get("properties", {})}))
    return h.framed(PR_ID, h.avro_encode(_PR, {
        "lead_id": o["lead_id"], "updated_at": h.ts(o["updated_at"]),
        "attributes": o["attributes"]}))


def Feeder(bootstrap, topics, avro, seqs, start, seed, recs, chunk=8,
           period=0.25):
    """test_kafka_cluster's feeder (events in event-time order, an
    idempotent murmur2 producer, until finish()), registry-framed Avro
    with avro."""
    return kcl.Feeder(bootstrap, topics, seqs, start, seed, recs,
                      chunk=chunk, period=period,
                      encode=to_avro if avro else None)


def produce_backlog(bootstrap, recs, topics, avro):
    prod = h.producer(bootstrap)
    for topic, key, value, t in d.on_topics(recs, topics):
        prod.produce(topic, key=key.encode(),
                     value=to_avro(topic, value) if avro else value,
                     timestamp=t)
        prod.poll(0)
    h.flush(prod)


# -- the group -----------------------------------------------------------

def committed_reach(bootstrap, group, target):
    lag = []
    for t in sorted({t for t, p in target}):
        com = h.committed(bootstrap, group, t, PARTS)
        lag += ["%s[%d] %d<%d" % (t, p, com[p], o)
                for (tt, p), o in sorted(target.items())
                if tt == t and com[p] < o]
    return True if not lag else lag


def wait_processed(bootstrap, group, target, timeout, procs, what):
    start = time.monotonic()
    kcl.poll_until(lambda: committed_reach(bootstrap, group, target),
                   timeout, "%s: group %s processing what was produced"
                   % (what, group), procs, period=0.5)
    h.log("%s: committed up to %d input records in %.1fs"
          % (what, sum(target.values()), time.monotonic() - start))


def outputs_grow(bootstrap, topic, n, procs, what):
    """Waits until n more records are in topic (the instances process
    what the feeder produces)."""
    def count():
        return sum(h.end_offsets(bootstrap, topic, PARTS))
    mark = count()
    start = time.monotonic()
    kcl.poll_until(lambda: count() >= mark + n or count() - mark, 90,
                   "%s: %d more outputs" % (what, n), procs, period=0.5)
    h.log("%s: %d more outputs in %.1fs" % (what, n,
                                            time.monotonic() - start))


def phase(feeder, bootstrap, topic, procs, what, n_in=200, n_out=40):
    """Lets n_in more events be produced, then waits until n_out more
    outputs are in topic: the instances process events as they arrive."""
    mark = feeder.acked_count()
    kcl.poll_until(lambda: feeder.acked_count() >= mark + n_in, 60,
                   "%s: %d more events produced" % (what, n_in), procs)
    outputs_grow(bootstrap, topic, n_out, procs, what)


def input_ends(bootstrap, inputs):
    return {(t, p): e for t in inputs
            for p, e in enumerate(h.end_offsets(bootstrap, t, PARTS))
            if e > 0}


def assignments(proc):
    """Every `assigned` log line of a run (logfmt or JSON) as {topic:
    {partitions}}."""
    out = []
    for line in proc.lines:
        if line.startswith("{"):
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if "assigned" not in o.values():
                continue
            text = str(o.get("partitions", ""))
        elif re.search(r"\bevent=assigned\b", line):
            m = re.search(r'partitions="([^"]*)"|partitions=(\S+)', line)
            text = (m.group(1) or m.group(2)) if m else ""
        else:
            continue
        parts = collections.defaultdict(set)
        for t, p in re.findall(r"([A-Za-z0-9._-]+)\[(\d+)\]", text):
            parts[t].add(int(p))
        out.append(parts)
    return out


def check_assignments(procs, inputs):
    n = 0
    for p in procs:
        got = assignments(p)
        assert got, "%s: no assigned line:\n%s" % (p.name, p.stderr_text())
        for parts in got:
            ev, pr = parts.get(inputs[0], set()), parts.get(inputs[1], set())
            assert ev == pr, "%s: assignment splits a shard: %s %s, %s %s" \
                % (p.name, inputs[0], sorted(ev), inputs[1], sorted(pr))
            assert set(parts) <= set(inputs), parts
            n += 1
    return n


# -- the exactly-once checks on Avro outputs -----------------------------

_SU = h.avro_schema("score_update.avsc")
_AL = h.avro_schema("alert.avsc")


def decode(value):
    """A registry-framed score update (both configs output registry)."""
    assert value[0] == 0, value[:8]
    return h.avro_decode(_SU, value[5:])


def check_exactly_once(bootstrap, ev_ids, mine, ref, per_event):
    """durability_common.check_exactly_once for 8 partitions and
    registry-framed outputs, without the decay assertion; "every event
    scored once" only with per_event (a model set in which every event
    changes the score of exactly one model). Returns the repeats."""
    got = d.read_topic(bootstrap, list(mine) + list(ref), PARTS)
    repeats = 0
    for m, r in zip(mine, ref):
        seen, rep = d.dedupe(got[m], m)
        ref_seen, ref_rep = d.dedupe(got[r], r)
        assert ref_rep == 0, "the reference run repeated %d" % ref_rep
        missing = sorted(set(ref_seen) - set(seen))
        extra = sorted(set(seen) - set(ref_seen))
        assert not missing, "%s: %d outputs missing, e.g. %s" % (
            m, len(missing), missing[:5])
        assert not extra, "%s: %d outputs not in the reference, e.g. %s" % (
            m, len(extra), extra[:5])
        for oid, kv in ref_seen.items():
            assert seen[oid] == kv, "%s: %s differs" % (m, oid)
        repeats += rep
        if m == mine[0]:
            outs = {oid: decode(v) for oid, (k, v) in seen.items()}
            assert outs
        if m == mine[0] and per_event:
            causes = collections.Counter(
                o["cause_id"] for o in outs.values() if o["cause"] == "event")
            not_once = {e: causes[e] for e in ev_ids if causes[e] != 1}
            assert not not_once, "events not scored exactly once: %s" % (
                list(not_once.items())[:10])
            assert set(causes) == set(ev_ids), \
                sorted(set(causes) ^ set(ev_ids))[:10]
        if m == mine[0]:
            last, ref_last = {}, {}
            for src, dst in ((seen, last), (ref_seen, ref_last)):
                for oid, (k, v) in src.items():
                    seq = decode(v)["seq"]
                    key = (k, oid.split("/")[1])
                    if seq > dst.get(key, (0, None))[0]:
                        dst[key] = (seq, v)
            assert last == ref_last
        if m == mine[1]:
            assert ref_seen, "the stream should raise alerts"
    return repeats


# -- the scenario --------------------------------------------------------

def restores(proc):
    """[(partition, where)] of every `restored partition` line of a run
    (logfmt or JSON): where is "topic NAME" or a directory's file."""
    return [(int(p), w) for p, w in re.findall(
        r"restored partition (\d+) from (topic \S+|\S+)", proc.stderr_text())]


def three_instances(what, make_config, inputs, outputs, avro, per_event,
                    env, seed):
    """Backlog, three instances A B C in group GROUP, each in an empty
    working directory of its own, their state in the snapshot topic,
    events flowing; B stopped (SIGTERM) and started again (as B2, in a
    new empty directory); then the checks against a reference run."""
    kb = cluster()
    addr = kb.address
    admin = kb.cluster.admin()
    tmp = h.tmpdir()
    work = os.path.join(tmp, "work")   # work/NAME: each instance's own
    reg = Registry()
    procs, refs = [], []
    feeder = None
    topics = dict(h.TOPICS, events=inputs[0], profiles=inputs[1])
    try:
        cfg = make_config(tmp, "config.yaml", reg.url)
        with open(cfg) as f:
            snap_topic = yaml.safe_load(f)["snapshot"]["topic"]
        seqs = collections.Counter()
        recs = d.make_inputs(300, seed, seqs=seqs)
        produce_backlog(addr, recs, topics, avro)

        def running():
            return [p for p in procs if p.p.poll() is None]

        def settled(n, why):
            start = time.monotonic()
            kcl.poll_until(lambda: kcl.group_settled(admin, GROUP, n,
                                                     inputs, PARTS),
                           90, "%s: %s: group settled with %d members"
                           % (what, why, n), running(), period=0.5)
            h.log("%s: %s: settled with %d members in %.1fs"
                  % (what, why, n, time.monotonic() - start))

        for name in "ABC":
            procs.append(Run(cfg, name, os.path.join(work, name), env))
        for p in procs:
            p.wait_line("assigned", 90)
        settled(3, "A, B, C started")
        feeder = Feeder(addr, topics, avro, seqs, 300, seed + 1, recs)
        feeder.start()
        phase(feeder, addr, outputs[0], running(), what + ": three running")

        b = procs[1]
        rc = b.stop(timeout=60)
        assert rc == 0, "B: exit %s:\n%s" % (rc, b.stderr_text())
        settled(2, "B stopped")
        phase(feeder, addr, outputs[0], running(), what + ": B stopped")
        procs.append(Run(cfg, "B2", os.path.join(work, "B2"), env))
        procs[-1].wait_line("assigned", 90)
        settled(3, "B started again")
        phase(feeder, addr, outputs[0], running(), what + ": B started again")
        feeder.finish()
        ends = input_ends(addr, inputs)

        # the reference: one instance, same config, its own group and
        # output topics (its snapshots, keyed by its group, share the
        # topic), catching up meanwhile; snapshots every second only so
        # that its commits (the sign it is done) follow fast (its outputs
        # do not depend on when it snapshots)
        ref_out = (outputs[0].replace("lead-", "ref-"),
                   outputs[1].replace("lead-", "ref-"))
        rcfg = make_config(tmp, "ref.yaml", reg.url, group=what + "-ref",
                           outs={"scores": ref_out[0], "alerts": ref_out[1]})
        r = Run(rcfg, "reference", os.path.join(work, "reference"), env)
        refs.append(r)
        # the group commits what snapshots cover: with the shipped
        # snapshot.interval (30s) up to 30 s after processing
        wait_processed(addr, GROUP, ends, 120, running(), what + ": all input")
        for p in running():
            p.p.send_signal(15)
        for p in procs:
            rc = p.stop(timeout=60)
            assert rc == 0, "%s: exit %s:\n%s" % (p.name, rc,
                                                  p.stderr_text())
            text = p.stderr_text()
            assert "delivery failures 0" in text, text[-3000:]
            assert "FATAL" not in text and "misplaced_input" not in text, \
                text[-3000:]
        n_assigned = check_assignments(procs, inputs)
        per_life = {p.name: kcl.consumed(p) for p in procs}
        assert all(per_life[n] > 0 for n in "AC"), per_life
        assert per_life["B2"] > 0, per_life
        # State followed the partitions through the topic: B2, a new
        # process in a new empty directory, restored what others wrote
        # there, and no restore read anything else.
        restored = {p.name: restores(p) for p in procs}
        assert restored["B2"], "B2 restored nothing:\n%s" % (
            procs[-1].stderr_text()[-3000:])
        where = {w for rs in restored.values() for _, w in rs}
        assert where == {"topic " + snap_topic}, where

        wait_processed(addr, what + "-ref", ends, 120, [r],
                       what + ": reference")
        rc = r.stop(timeout=60)
        assert rc == 0, "reference: exit %s:\n%s" % (rc, r.stderr_text())
        # nothing was kept on the instances' disks
        left = {n: os.listdir(os.path.join(work, n))
                for n in os.listdir(work)}
        assert not any(left.values()), left
        repeats = check_exactly_once(addr, d.event_ids(recs), outputs,
                                     ref_out, per_event)
        h.log("%s: %d inputs, consumed %s, %d assignments each holding "
              "partition p of both inputs, restored from %s: %s, %d "
              "repeated outputs dropped"
              % (what, len(recs), per_life, n_assigned, snap_topic,
                 {n: sorted(p for p, _ in rs) for n, rs in restored.items()},
                 repeats))
    finally:
        if feeder is not None:
            feeder.halt.set()
        for p in procs + refs:
            p.kill()
        reg.stop()


def test_k8s_config():
    def make(tmp, name, url, group=None, outs=None):
        return k8s_config(tmp, name, url, group, outs)

    three_instances("k8s", make, (h.TOPICS["events"], h.TOPICS["profiles"]),
                    (h.TOPICS["scores"], h.TOPICS["alerts"]), True, True,
                    sasl_env(), 51)


def test_compose_config():
    def make(tmp, name, url, group=None, outs=None):
        return compose_config(tmp, name, url, group, outs)

    shipped = shipped_compose()
    assert shipped["format"] == {"input": "json", "output": "registry"}
    three_instances("compose", make,
                    (COMPOSE_TOPICS["events"], COMPOSE_TOPICS["profiles"]),
                    (COMPOSE_TOPICS["scores"], COMPOSE_TOPICS["alerts"]),
                    False, False, None, 61)


if __name__ == "__main__":
    try:
        h.main([test_k8s_config, test_compose_config])
    finally:
        if _cluster is not None:
            _cluster.stop()

"""Static validation of deploy/ with what runs here (no network, no
container runtime, no cluster): every manifest and the compose file parse
as YAML with the structure that matters (KRaft Kafka, schema registry,
a topics job that creates the compacted snapshot topic the compose config
names, StatefulSet probes on /healthz and /readyz, lead state in a
snapshot topic and no volume for it, a PodDisruptionBudget, a headless
metrics service, the Secret wiring), the
Dockerfile is multi-stage with a non-root runtime user and no -dev
packages at run time, every leadscore config shipped in deploy/ loads with
the real config loader (`leadscore run --print-config`), and the systemd
unit passes `systemd-analyze verify` when that tool exists."""
import os
import re
import shutil
import subprocess
import tempfile

import yaml

import lsharness as h

DEPLOY = os.path.join(h.SOURCE_DIR, "deploy")


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def print_config(text, env=None):
    """Loads a leadscore config with the real loader; returns stdout."""
    d = tempfile.mkdtemp(prefix="lsdeploy-")
    path = os.path.join(d, "config.yaml")
    with open(path, "w") as f:
        f.write(text)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([h.LEADSCORE, "run", "--config", path,
                        "--print-config"], capture_output=True, text=True,
                       timeout=20, env=e)
    assert p.returncode == 0, "config does not load:\n%s\n%s" % (text,
                                                                  p.stderr)
    return p.stdout


def test_compose():
    path = os.path.join(DEPLOY, "compose", "compose.yaml")
    (doc,) = load_all(path)
    svc = doc["services"]
    kafka = svc["kafka"]
    assert kafka["image"].startswith("apache/kafka:"), kafka
    env = kafka["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"], env   # KRaft
    assert "zookeeper" not in str(doc).lower()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), env
    sr = svc["schema-registry"]
    assert sr["image"].startswith("confluentinc/cp-schema-registry:"), sr
    assert "kafka:9092" in sr["environment"][
        "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]
    ls = svc["leadscore"]
    df = os.path.normpath(os.path.join(os.path.dirname(path),
                                       ls["build"]["context"],
                                       ls["build"]["dockerfile"]))
    assert os.path.isfile(df), df
    mounts = {m.split(":")[1]: m.split(":")[0] for m in ls["volumes"]}
    cfg = os.path.join(os.path.dirname(path),
                       mounts["/etc/leadscore/config.yaml"])
    with open(cfg) as f:
        text = f.read()
    out = print_config(text)
    assert "kafka.bootstrap.servers = kafka:9092" in out, out
    assert "registry.url = http://schema-registry:8081" in out, out
    assert "metrics.listen = 0.0.0.0:9464" in out, out
    assert "9464:9464" in ls["ports"], ls
    assert "/readyz" in " ".join(ls["healthcheck"]["test"]), ls
    # Topics: the two inputs co-partitioned (same partition count).
    cmd = " ".join(svc["topics"]["command"])
    assert "lead-events" in cmd and "lead-profiles" in cmd, cmd
    assert svc["topics"]["depends_on"]["kafka"]["condition"] == \
        "service_healthy"
    # Lead state in the topic the job creates compacted, with as many
    # partitions as the inputs; no volume for it (docs/DEPLOY.md).
    snap = yaml.safe_load(text)["snapshot"]
    assert "dir" not in snap, snap
    assert "snapshot = topic:%s " % snap["topic"] in out, out
    created = compose_topics()
    assert created[snap["topic"]]["config"].get("cleanup.policy") == \
        "compact", created
    assert created[snap["topic"]]["partitions"] == \
        created["lead-events"]["partitions"], created
    assert all(":/var/lib/leadscore" not in m for m in ls["volumes"]), ls
    assert "volumes" not in doc, doc


def compose_topics():
    """{topic: {"partitions": N, "config": {key: value}}} of every
    kafka-topics.sh --create in the script of deploy/compose's `topics`
    job (the topics of its `for t in ...` loop expanded).
    it.kafka.test_kafka_deploy creates its topics from it."""
    (doc,) = load_all(os.path.join(DEPLOY, "compose", "compose.yaml"))
    script = " ".join(doc["services"]["topics"]["command"])
    script = script.replace("\\\n", " ")
    loop = re.search(r"for t in ([^;]*);", script)
    names = loop.group(1).split() if loop else []
    out = {}
    for call in re.split(r"(?=kafka-topics\.sh)", script)[1:]:
        m = re.search(r"--topic (\S+)", call)
        cfg = dict(re.findall(r"--config (\S+?)=(\S+)", call))
        parts = int(re.search(r"--partitions (\d+)", call).group(1))
        for t in (names if m.group(1) == '"$$t"' else [m.group(1)]):
            out[t] = {"partitions": parts, "config": cfg}
    return out


def k8s_docs():
    docs = {}
    kdir = os.path.join(DEPLOY, "k8s")
    for name in sorted(os.listdir(kdir)):
        if name.endswith(".yaml"):
            for d in load_all(os.path.join(kdir, name)):
                assert "kind" in d and "apiVersion" in d, (name, d)
                docs.setdefault(d["kind"], []).append(d)
    return docs


def test_kubernetes():
    docs = k8s_docs()
    (sts,) = docs["StatefulSet"]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (c,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe, path in (("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path, (probe, get)
        assert get["port"] in ports or get["port"] in ports.values(), get
    # Lead state in a snapshot topic, so that a partition's snapshot
    # follows it to another pod; no volume (docs/DEPLOY.md): the config
    # names a topic, not a directory, and no pod mounts a claim.
    assert not spec.get("volumeClaimTemplates"), spec
    assert "PersistentVolumeClaim" not in docs, docs["PersistentVolumeClaim"]
    assert not [v for v in pod["volumes"] if "configMap" not in v], \
        pod["volumes"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] >= 30

    # PodDisruptionBudget selecting the pods.
    (pdb,) = docs["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]

    # Headless service with the metrics port, governing the StatefulSet.
    (svc,) = docs["Service"]
    assert svc["spec"]["clusterIP"] == "None", svc
    assert svc["metadata"]["name"] == spec["serviceName"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert any(p["port"] == ports["metrics"] for p in svc["spec"]["ports"])

    # The Secret holds every key the pod reads; the ConfigMap every file.
    (sec,) = docs["Secret"]
    env = {}
    for e in c["env"]:
        ref = e["valueFrom"]["secretKeyRef"]
        assert ref["name"] == sec["metadata"]["name"], ref
        assert ref["key"] in sec["stringData"], ref
        env[e["name"]] = "x-" + ref["key"]
    (cm,) = docs["ConfigMap"]
    cfg_vol = [v for v in pod["volumes"] if "configMap" in v][0]
    assert cfg_vol["configMap"]["name"] == cm["metadata"]["name"]
    out = print_config(cm["data"]["config.yaml"], env)
    assert "kafka.sasl.password = ********" in out, out
    assert "model_watch = true" in out, out
    snap = yaml.safe_load(cm["data"]["config.yaml"])["snapshot"]
    assert "dir" not in snap, snap
    assert "snapshot = topic:%s " % snap["topic"] in out, out
    # docs/DEPLOY.md's command creates that topic with the settings the
    # compose topics job gives its own (it.kafka.test_kafka_deploy creates
    # it so)
    with open(os.path.join(h.SOURCE_DIR, "docs", "DEPLOY.md")) as f:
        text = f.read().replace("\\\n", " ")
    cmds = [c for c in re.findall(r"kafka-topics\.sh[^\n]*", text)
            if "--topic %s " % snap["topic"] in c]
    assert cmds, "docs/DEPLOY.md: no kafka-topics.sh for " + snap["topic"]
    job = compose_topics()
    assert snap["topic"] in job, job
    for cmd in cmds:
        assert dict(re.findall(r"--config (\S+?)=(\S+)", cmd)) == \
            job[snap["topic"]]["config"], cmd
    # The model in the ConfigMap is valid.
    d = tempfile.mkdtemp(prefix="lsdeploy-")
    model = os.path.join(d, "model.yaml")
    with open(model, "w") as f:
        f.write(cm["data"]["model.yaml"])
    p = subprocess.run([h.LEADSCORE, "check", "--model", model],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    # kustomization lists every manifest.
    with open(os.path.join(DEPLOY, "k8s", "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    files = {n for n in os.listdir(os.path.join(DEPLOY, "k8s"))
             if n.endswith(".yaml") and n != "kustomization.yaml"}
    assert set(kust["resources"]) == files, (kust, files)


def test_dockerfile():
    path = os.path.join(DEPLOY, "docker", "Dockerfile")
    stages, cur = [], None
    with open(path) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.I)
            assert m, line
            cur = {"image": m.group(1), "name": m.group(2), "cmds": []}
            stages.append(cur)
        else:
            assert cur is not None, "instruction before FROM: " + line
            cur["cmds"].append((word, rest))
    assert len(stages) >= 2, "not multi-stage"
    for s in stages:
        assert s["image"].startswith("debian:12"), s["image"]
    build, run = stages[0], stages[-1]
    assert any(w == "RUN" and "cmake" in r for w, r in build["cmds"])
    users = [r.strip() for w, r in run["cmds"] if w == "USER"]
    assert users, "runtime stage has no USER"
    assert users[-1].split(":")[0] not in ("0", "root"), users
    for w, r in run["cmds"]:
        if w == "RUN":
            assert not re.search(r"\S+-dev\b", r), "-dev package at run " \
                "time: " + r
        if w == "COPY" and "--from=" in r:
            assert "--from=%s" % build["name"] in r, r
    # Every COPY from the context exists in the repository.
    for s in stages:
        for w, r in s["cmds"]:
            if w == "COPY" and "--from=" not in r:
                for src in r.split()[:-1]:
                    assert os.path.exists(os.path.join(h.SOURCE_DIR, src)), \
                        src
    with open(os.path.join(DEPLOY, "docker", "config.yaml")) as f:
        out = print_config(f.read())
    assert "metrics.listen = 0.0.0.0:9464" in out, out
    # The runtime stage installs the package of every shared library the
    # program links directly (a library added to the build, e.g.
    # liblinear, must follow it into the image).
    installed = set()
    for w, r in run["cmds"]:
        if w == "RUN" and "apt-get install" in r:
            installed |= set(re.findall(r"\b(lib[\w.+-]+|ca-certificates)\b",
                                        r))
    if not host_is_image_base():
        h.log("skip: the host is not Debian 12, so its package names "
              "need not be the image's")
        return
    for pkg in needed_packages(h.LEADSCORE):
        assert pkg in installed, "the runtime stage lacks %s (installs %s)" \
            % (pkg, sorted(installed))


def host_is_image_base():
    """1 when this host is Debian 12, the image's base (debian:12), so
    that the packages owning its libraries are the image's."""
    try:
        with open("/etc/os-release") as f:
            rel = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
    except OSError:
        return False
    return rel.get("ID") == "debian" and \
        rel.get("VERSION_ID", "").strip('"') == "12"


def needed_packages(binary):
    """The Debian packages of the libraries @binary links directly
    (its NEEDED entries), libc6's own and the sanitizers' runtimes (of a
    test build) aside."""
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
        ["objdump", "-p", binary], capture_output=True, text=True,
        check=True).stdout)
    paths = {}
    for line in subprocess.run(["ldd", binary], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
    pkgs = set()
    for lib in needed:
        if lib not in paths:
            continue
        out = subprocess.run(["dpkg", "-S", os.path.realpath(paths[lib])],
                             capture_output=True, text=True)
        if out.returncode:
            out = subprocess.run(["dpkg", "-S", paths[lib]],
                                 capture_output=True, text=True)
        assert out.returncode == 0, "no package owns " + paths[lib]
        pkg = out.stdout.split(":")[0]
        # libc6 and libgcc-s1 are in every debian:12 image
        if pkg not in ("libc6", "libgcc-s1") and \
                not re.match(r"lib(a|t|l|ub)san\d", pkg):
            pkgs.add(pkg)
    assert "librdkafka1" in pkgs, pkgs
    return sorted(pkgs)


def test_systemd_unit():
    unit = os.path.join(DEPLOY, "systemd", "leadscore.service")
    with open(unit) as f:
        text = f.read()
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            keys.setdefault(k.strip(), []).append(v.strip())
    assert keys.get("DynamicUser") == ["yes"] or "User" in keys, keys
    assert keys["ProtectSystem"] == ["strict"], keys
    assert keys["StateDirectory"] == ["leadscore"], keys
    assert keys["Restart"] == ["on-failure"], keys
    assert keys["NoNewPrivileges"] == ["yes"], keys
    assert "-HUP" in keys["ExecReload"][0], keys
    # The config the unit points at loads (its credential file stubbed).
    d = tempfile.mkdtemp(prefix="lsdeploy-")
    cred = os.path.join(d, "cred")
    with open(cred, "w") as f:
        f.write("pw\n")
    with open(os.path.join(DEPLOY, "systemd", "config.yaml")) as f:
        cfg = f.read()
    assert "/run/credentials/leadscore.service/kafka-sasl-password" in cfg
    out = print_config(cfg.replace(
        "/run/credentials/leadscore.service/kafka-sasl-password", cred))
    assert "kafka.sasl.password = ********" in out, out
    tool = shutil.which("systemd-analyze")
    if not tool:
        h.log("SKIP systemd-analyze verify: systemd-analyze is not "
              "installed here (Debian package systemd)")
        return
    # verify checks that ExecStart exists: point it at the built binary.
    local = os.path.join(d, "leadscore.service")
    with open(local, "w") as f:
        f.write(text.replace("/usr/local/bin/leadscore",
                             os.path.abspath(h.LEADSCORE)))
    p = subprocess.run([tool, "verify", local], capture_output=True,
                       text=True, timeout=60)
    # verify exits 0 on some warnings too: any output is a finding.
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), \
        "systemd-analyze verify:\n" + p.stdout + p.stderr


if __name__ == "__main__":
    h.main([test_compose, test_kubernetes, test_dockerfile,
            test_systemd_unit])

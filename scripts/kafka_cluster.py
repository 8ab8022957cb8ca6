#!/usr/bin/env python3
"""Runs real Apache Kafka (KRaft, one node or three) on loopback for the
tests and the benchmarks.

  scripts/kafka_cluster.py fetch [--kafka-version V]
      Copies org.apache.kafka:kafka_2.13 (scripts/kafka/pom.xml) and its
      runtime dependencies with Maven into the cache, once per machine:
      $LS_KAFKA_CACHE, else $XDG_CACHE_HOME/leadscore, else
      ~/.cache/leadscore. Maven keeps its own repository (~/.m2) too.
      The version is 4.4.0 by default; SCRAM_VERSION (3.9.2) is the one
      whose SCRAM Debian 12's librdkafka can use (see --sasl-ssl).
      Every command takes --kafka-version; a started cluster remembers it.
  scripts/kafka_cluster.py start --dir DIR [--nodes 1|3] [--partitions P]
                         [--topics a,b,c] [--sasl-ssl]
      Formats KRaft storage under DIR, starts every node (each one both
      broker and controller), waits until all of them serve metadata,
      creates the topics, prints the bootstrap address on stdout and
      returns; the nodes keep running. With --sasl-ssl each node also
      listens with SASL_SSL (SCRAM-SHA-256, and PLAIN for the same user
      and password) on a second port, with a certificate of a CA made in
      DIR/tls; DIR/secure.json names them. PLAIN is there because Kafka
      4 refuses the SCRAM of librdkafka before 2.6.1 (Debian 12 has
      2.0.2) even with the right password: it repeats the client nonce
      in its final message, which Kafka 4 checks strictly.
  scripts/kafka_cluster.py stop --dir DIR
      Stops every node cleanly (SIGTERM, then SIGKILL after 30 s).
  scripts/kafka_cluster.py node-stop --dir DIR --node I [--kill]
  scripts/kafka_cluster.py node-start --dir DIR --node I

The tests import this file and use Cluster directly (see
tests/integration/lsharness.py). The nodes are plain `java` processes:
their pids, ports and logs (DIR/node-I/server.log) are under DIR.
"""
import argparse
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

KAFKA_VERSION = "4.4.0"
# The newest Kafka that accepts the SCRAM of librdkafka before 2.6.1.
SCRAM_VERSION = "3.9.2"
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
POM = os.path.join(SOURCE_DIR, "scripts", "kafka", "pom.xml")
SCRAM_USER = "leadscore"
SCRAM_MECHANISM = "SCRAM-SHA-256"
# Also enabled on the SASL_SSL listener, same user and password.
PLAIN_MECHANISM = "PLAIN"


def cache_dir(version=KAFKA_VERSION):
    base = os.environ.get("LS_KAFKA_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "leadscore")
    return os.path.join(base, "kafka-" + version)


def fetch(quiet=False, version=KAFKA_VERSION):
    """Returns the directory of the jars of Kafka `version`, copying them
    with Maven first if this machine has not yet. Safe to call from
    parallel tests: a lock file serialises the copy."""
    home = cache_dir(version)
    libs = os.path.join(home, "libs")
    done = os.path.join(home, ".complete")
    if os.path.exists(done):
        return libs
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(done):
            return libs
        if not shutil.which("mvn") or not shutil.which("java"):
            raise RuntimeError("kafka: java and mvn are needed to fetch "
                               "Apache Kafka (scripts/install-deps.sh "
                               "installs them)")
        tmp = libs + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = ["mvn", "-B", "-q", "-f", POM,
               "dependency:copy-dependencies", "-DincludeScope=runtime",
               "-Dkafka.version=" + version,
               "-DoutputDirectory=" + tmp]
        if not quiet:
            print("kafka: fetching Apache Kafka %s with Maven into %s"
                  % (version, home), file=sys.stderr, flush=True)
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("kafka: %s failed (exit %d):\n%s"
                               % (" ".join(cmd), r.returncode, r.stdout))
        shutil.rmtree(libs, ignore_errors=True)
        os.rename(tmp, libs)
        with open(done, "w") as f:
            f.write(version + "\n")
    return libs


def free_ports(n):
    """n distinct loopback ports that were free a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


LOG4J2 = """\
Configuration:
  Appenders:
    File:
      name: file
      fileName: "{log}"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: file
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.common.utils.AppInfoParser
        level: WARN
"""


def make_tls(tls_dir):
    """A CA and one server certificate for 127.0.0.1 / localhost, in PEM.
    Returns (ca file, server keystore file: key then certificate)."""
    os.makedirs(tls_dir, exist_ok=True)
    ca_key = os.path.join(tls_dir, "ca.key")
    ca = os.path.join(tls_dir, "ca.pem")
    key = os.path.join(tls_dir, "server.key")
    csr = os.path.join(tls_dir, "server.csr")
    crt = os.path.join(tls_dir, "server.pem")
    ext = os.path.join(tls_dir, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def ssl(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=leadscore test CA", "-keyout", ca_key, "-out", ca)
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", key, "-out", csr)
    ssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt)
    # Kafka's PEM keystore wants an unencrypted PKCS#8 key, then the chain.
    pk8 = os.path.join(tls_dir, "server.pk8")
    ssl("pkcs8", "-topk8", "-nocrypt", "-in", key, "-out", pk8)
    keystore = os.path.join(tls_dir, "server-keystore.pem")
    with open(keystore, "w") as out:
        for part in (pk8, crt):
            with open(part) as f:
                out.write(f.read())
    return ca, keystore


class Cluster:
    """A KRaft cluster of `nodes` combined broker+controller processes
    under `base`. Each node's stdout/stderr and log go to its folder."""

    def __init__(self, base, nodes=1, partitions=4, topics=(),
                 sasl_ssl=False, die_with_parent=False, heap="512m",
                 extra=None, version=KAFKA_VERSION):
        self.base = os.path.abspath(base)
        self.version = version
        self.nodes = nodes
        self.partitions = partitions
        self.topics = list(topics)
        self.sasl_ssl = sasl_ssl
        self.die_with_parent = die_with_parent
        self.heap = heap
        self.extra = dict(extra or {})
        self.procs = {}
        self.state = os.path.join(self.base, "cluster.json")
        if os.path.exists(self.state):
            with open(self.state) as f:
                st = json.load(f)
            self.nodes = st["nodes"]
            self.ports = st["ports"]
            self.sasl_ssl = st["sasl_ssl"]
            self.secure = st.get("secure")
            self.version = st.get("version", KAFKA_VERSION)
        else:
            self.ports = None
            self.secure = None

    # -- addresses -------------------------------------------------------
    @property
    def bootstrap(self):
        return ",".join("127.0.0.1:%d" % self.ports[i]["plain"]
                        for i in range(self.nodes))

    def node_dir(self, i):
        return os.path.join(self.base, "node-%d" % i)

    # -- life cycle ------------------------------------------------------
    def start(self, timeout=90):
        """Formats and starts every node, waits for readiness, creates the
        topics. Returns the bootstrap address."""
        libs = fetch(version=self.version)
        os.makedirs(self.base, exist_ok=True)
        ports = free_ports(self.nodes * 3)
        self.ports = [{"plain": ports[3 * i], "controller": ports[3 * i + 1],
                       "secure": ports[3 * i + 2]}
                      for i in range(self.nodes)]
        if self.sasl_ssl:
            ca, keystore = make_tls(os.path.join(self.base, "tls"))
            self.secure = {
                "bootstrap": ",".join("127.0.0.1:%d" % p["secure"]
                                      for p in self.ports),
                "ca": ca, "keystore": keystore,
                "user": SCRAM_USER,
                "password": uuid.uuid4().hex,
                "mechanism": SCRAM_MECHANISM,
                "mechanisms": [SCRAM_MECHANISM, PLAIN_MECHANISM]}
        cluster_id = self._java(libs, ["kafka.tools.StorageTool",
                                       "random-uuid"]).strip().splitlines()[-1]
        for i in range(self.nodes):
            props = self._write_props(i)
            cmd = ["kafka.tools.StorageTool", "format", "-t", cluster_id,
                   "-c", props, "--ignore-formatted"]
            if self.sasl_ssl:
                cmd += ["--add-scram", "%s=[name=%s,password=%s]"
                        % (SCRAM_MECHANISM, SCRAM_USER,
                           self.secure["password"])]
            self._java(libs, cmd)
        with open(self.state, "w") as f:
            json.dump({"nodes": self.nodes, "ports": self.ports,
                       "version": self.version,
                       "sasl_ssl": self.sasl_ssl, "secure": self.secure}, f)
        if self.secure:
            with open(os.path.join(self.base, "secure.json"), "w") as f:
                json.dump(self.secure, f, indent=1)
        for i in range(self.nodes):
            self.start_node(i, wait=False)
        self.wait_ready(timeout)
        if self.topics:
            self.create_topics(self.topics, self.partitions)
        return self.bootstrap

    def _java(self, libs, args):
        env = dict(os.environ)
        env.pop("KAFKA_OPTS", None)
        r = subprocess.run(["java", "-Xshare:auto", "-cp",
                            os.path.join(libs, "*")] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("kafka: %s failed (exit %d):\n%s"
                               % (args[0], r.returncode, r.stdout))
        return r.stdout

    def _write_props(self, i):
        d = self.node_dir(i)
        os.makedirs(d, exist_ok=True)
        p = self.ports[i]
        voters = ",".join("%d@127.0.0.1:%d" % (j, self.ports[j]["controller"])
                          for j in range(self.nodes))
        rf = min(3, self.nodes)
        listeners = ["PLAINTEXT://127.0.0.1:%d" % p["plain"],
                     "CONTROLLER://127.0.0.1:%d" % p["controller"]]
        advertised = ["PLAINTEXT://127.0.0.1:%d" % p["plain"]]
        protomap = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(i),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": os.path.join(d, "data"),
            "num.partitions": str(self.partitions),
            "default.replication.factor": str(rf),
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": str(rf),
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "-1",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "2",
            "log.cleaner.threads": "1",
            "log.cleaner.backoff.ms": "1000",
        }
        if self.sasl_ssl:
            listeners.append("SASL_SSL://127.0.0.1:%d" % p["secure"])
            advertised.append("SASL_SSL://127.0.0.1:%d" % p["secure"])
            protomap += ",SASL_SSL:SASL_SSL"
            props.update({
                "sasl.enabled.mechanisms": "%s,%s" % (SCRAM_MECHANISM,
                                                      PLAIN_MECHANISM),
                "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule"
                    " required;",
                "listener.name.sasl_ssl.plain.sasl.jaas.config":
                    "org.apache.kafka.common.security.plain.PlainLoginModule"
                    " required user_%s=\"%s\";"
                    % (SCRAM_USER, self.secure["password"]),
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": self.secure["keystore"],
                "ssl.client.auth": "none",
            })
        props["listeners"] = ",".join(listeners)
        props["advertised.listeners"] = ",".join(advertised)
        props["listener.security.protocol.map"] = protomap
        props.update(self.extra)
        path = os.path.join(d, "server.properties")
        with open(path, "w") as f:
            for k, v in props.items():
                f.write("%s=%s\n" % (k, v))
        with open(os.path.join(d, "log4j2.yaml"), "w") as f:
            f.write(LOG4J2.replace("{log}", os.path.join(d, "server.log")))
        return path

    def start_node(self, i, wait=True, timeout=60):
        """Starts node i (formatted already); with wait, returns once the
        cluster reports every node again."""
        libs = fetch(version=self.version)
        d = self.node_dir(i)
        out = open(os.path.join(d, "stdout.log"), "ab")
        cmd = ["java", "-Xms128m", "-Xmx" + self.heap, "-XX:+UseSerialGC",
               "-Xshare:auto", "-Djava.awt.headless=true",
               "-Dlog4j2.configurationFile=" + os.path.join(d, "log4j2.yaml"),
               "-cp", os.path.join(libs, "*"), "kafka.Kafka",
               os.path.join(d, "server.properties")]
        if self.die_with_parent:
            cmd = die_with_parent(cmd)
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL,
                             start_new_session=not self.die_with_parent)
        out.close()
        self.procs[i] = p
        with open(os.path.join(d, "pid"), "w") as f:
            f.write("%d\n" % p.pid)
        if wait:
            self.wait_ready(timeout)

    def _pid(self, i):
        if i in self.procs:
            return self.procs[i].pid if self.procs[i].poll() is None else None
        try:
            with open(os.path.join(self.node_dir(i), "pid")) as f:
                pid = int(f.read())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def stop_node(self, i, kill=False, timeout=30):
        """Stops node i: SIGKILL with kill, else SIGTERM (a controlled
        shutdown) and SIGKILL after timeout. Returns once it is gone."""
        pid = self._pid(i)
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(i, pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        while self._alive(i, pid):
            time.sleep(0.1)

    def _alive(self, i, pid):
        if i in self.procs:
            return self.procs[i].poll() is None
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def stop(self):
        """Stops every node: SIGTERM to all at once, then waits."""
        pids = [(i, self._pid(i)) for i in range(self.nodes)]
        for i, pid in pids:
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        for i, pid in pids:
            if pid is not None:
                self.stop_node(i)

    # -- readiness and topics --------------------------------------------
    def admin(self):
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": self.bootstrap,
                            "log.connection.close": False})

    def wait_ready(self, timeout=90):
        """Waits until metadata lists every node as a broker."""
        deadline = time.monotonic() + timeout
        last = None
        a = None
        while time.monotonic() < deadline:
            for i, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("kafka: node %d exited with %s:\n%s"
                                       % (i, p.returncode, self.log_tail(i)))
            if a is None:
                # A client made before the ports listen logs refusals.
                if not all(self._listening(i) for i in range(self.nodes)
                           if self._pid(i) is not None):
                    time.sleep(0.2)
                    continue
                a = self.admin()
            try:
                md = a.list_topics(timeout=2)
                last = sorted(md.brokers)
                if len(md.brokers) == self.nodes:
                    return
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
            time.sleep(0.2)
        raise RuntimeError("kafka: cluster not ready within %ss (%s):\n%s"
                           % (timeout, last, self.log_tail(0)))

    def _listening(self, i):
        try:
            with socket.create_connection(
                    ("127.0.0.1", self.ports[i]["plain"]), timeout=1):
                return True
        except OSError:
            return False

    def create_topics(self, topics, partitions, config=None, timeout=60):
        """Creates the topics (replication: every node, up to 3) and waits
        until each partition has a leader."""
        from confluent_kafka.admin import NewTopic
        a = self.admin()
        rf = min(3, self.nodes)
        fs = a.create_topics([NewTopic(t, partitions, rf, config=config or {})
                              for t in topics], operation_timeout=30)
        for t, f in fs.items():
            try:
                f.result()
            except Exception as e:  # noqa: BLE001
                if "TOPIC_ALREADY_EXISTS" not in str(e):
                    raise
        deadline = time.monotonic() + timeout
        while True:
            md = a.list_topics(timeout=5)
            ok = all(t in md.topics and not md.topics[t].error
                     and len(md.topics[t].partitions) == partitions
                     and all(p.leader >= 0
                             for p in md.topics[t].partitions.values())
                     for t in topics)
            if ok:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("kafka: topics %s have no leaders within "
                                   "%ss" % (topics, timeout))
            time.sleep(0.2)

    def log_tail(self, i, lines=40):
        out = []
        for name in ("stdout.log", "server.log"):
            try:
                with open(os.path.join(self.node_dir(i), name),
                          errors="replace") as f:
                    out += f.read().splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(out)


def die_with_parent(cmd):
    """cmd, run so that it gets SIGKILL when the thread that starts it
    ends (PR_SET_PDEATHSIG through util-linux's setpriv, which then execs
    cmd: its pid is cmd's). So no broker or leadscore outlives a test that
    failed or was killed. Unlike a preexec_fn, safe with threads."""
    if shutil.which("setpriv"):
        return ["setpriv", "--pdeathsig", "KILL", "--"] + list(cmd)
    return list(cmd)


def main(argv):
    ap = argparse.ArgumentParser(
        prog="scripts/kafka_cluster.py",
        description="Run real Apache Kafka (KRaft) on loopback.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="copy Kafka's jars with Maven (once)")
    f.add_argument("--kafka-version", default=KAFKA_VERSION,
                   help="default %s; %s for SCRAM with librdkafka < 2.6.1"
                   % (KAFKA_VERSION, SCRAM_VERSION))
    s = sub.add_parser("start", help="format, start, wait, create topics")
    s.add_argument("--kafka-version", default=KAFKA_VERSION)
    s.add_argument("--dir", required=True)
    s.add_argument("--nodes", type=int, default=1, choices=(1, 3))
    s.add_argument("--partitions", type=int, default=4)
    s.add_argument("--topics", default="lead-events,lead-profiles,"
                   "lead-scores,lead-alerts,lead-dead-letters")
    s.add_argument("--sasl-ssl", action="store_true")
    s.add_argument("--heap", default="1g")
    st = sub.add_parser("stop", help="stop every node")
    st.add_argument("--dir", required=True)
    for name in ("node-stop", "node-start"):
        n = sub.add_parser(name)
        n.add_argument("--dir", required=True)
        n.add_argument("--node", type=int, required=True)
        if name == "node-stop":
            n.add_argument("--kill", action="store_true")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "fetch":
            print(fetch(version=a.kafka_version))
        elif a.cmd == "start":
            topics = [t for t in a.topics.split(",") if t]
            c = Cluster(a.dir, a.nodes, a.partitions, topics,
                        sasl_ssl=a.sasl_ssl, heap=a.heap,
                        version=a.kafka_version)
            if c.ports is not None:
                raise RuntimeError("kafka: %s holds a cluster already; stop "
                                   "it and remove the folder" % a.dir)
            print(c.start(), flush=True)
        elif a.cmd == "stop":
            Cluster(a.dir).stop()
        elif a.cmd == "node-stop":
            Cluster(a.dir).stop_node(a.node, kill=a.kill)
        elif a.cmd == "node-start":
            Cluster(a.dir).start_node(a.node)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

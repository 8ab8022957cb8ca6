"""An installed leadscore is self-contained. `cmake --install` of the build
under test into a temporary prefix gives bin/leadscore with its schemas
built in, and share/leadscore/{examples,schemas}. Run from a directory
outside the source and build trees, the installed `leadscore demo` finds
its examples under the prefix and prints every expected output. With the
installed schema files deleted and the prefix moved elsewhere, the
installed binary still writes Avro: the schema in the file's header is
the source tree's, byte for byte."""
import os
import re
import shutil
import subprocess

import lsharness as h

TIMEOUT = 180

BUILD_DIR = os.environ.get("LS_BUILD_DIR") or os.path.dirname(
    os.path.abspath(h.LEADSCORE))
SCHEMA_FILES = ["lead_event.avsc", "lead_profile.avsc", "score_update.avsc",
                "alert.avsc", "dead_letter.avsc"]


def install(prefix):
    p = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    exe = os.path.join(prefix, "bin", "leadscore")
    assert os.access(exe, os.X_OK), p.stdout
    return exe


def outside():
    """A fresh working directory, in neither the source nor the build
    tree, with no schemas/ or examples/ of its own."""
    d = h.tmpdir()
    for tree in (h.SOURCE_DIR, BUILD_DIR):
        tree = os.path.realpath(tree)
        assert not os.path.realpath(d).startswith(tree + os.sep), (d, tree)
    return d


def test_layout():
    prefix = os.path.join(h.tmpdir(), "prefix")
    install(prefix)
    share = os.path.join(prefix, "share", "leadscore")
    for f in SCHEMA_FILES:
        with open(os.path.join(share, "schemas", f), "rb") as a, \
                open(os.path.join(h.SOURCE_DIR, "schemas", f), "rb") as b:
            assert a.read() == b.read(), f
    for f in ("model.yaml", "events.jsonl", "config.yaml",
              "lists/freemail.txt"):
        assert os.path.isfile(os.path.join(share, "examples", f)), f


def test_installed_demo_from_elsewhere():
    prefix = os.path.join(h.tmpdir(), "prefix")
    exe = install(prefix)
    out = subprocess.run([exe, "demo", "--timeout", "40"], cwd=outside(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, "exit %s\n%s\n%s" % (out.returncode,
                                                     out.stdout, out.stderr)
    examples = os.path.join(prefix, "share", "leadscore", "examples")
    assert re.search(r"^model: %s$" % re.escape(
        os.path.join(examples, "model.yaml")), out.stdout, re.M), out.stdout
    assert re.search(r"^inputs: %s " % re.escape(
        os.path.join(examples, "events.jsonl")), out.stdout, re.M), out.stdout
    assert re.search(r"ALERT mql\s+lead \S+", out.stdout), out.stdout
    m = re.search(r"received (\d+) of (\d+) expected outputs", out.stdout)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 0, out.stdout


def test_installed_avro_without_schema_files():
    top = h.tmpdir()
    first = os.path.join(top, "prefix")
    install(first)
    shutil.rmtree(os.path.join(first, "share", "leadscore", "schemas"),
                  ignore_errors=True)
    moved = os.path.join(top, "moved")
    os.rename(first, moved)
    exe = os.path.join(moved, "bin", "leadscore")
    d = outside()
    with open(os.path.join(d, "model.yaml"), "w") as f:
        f.write(h.TINY_MODEL)
    with open(os.path.join(d, "in.jsonl"), "w") as f:
        f.write('{"kind":"event","lead_id":"L1","event_id":"e1",'
                '"event_type":"demo_request","occurred_at":%d}\n' % h.T0)
    p = subprocess.run([exe, "replay", "--model", "model.yaml", "in.jsonl",
                        "--output-format", "avro", "--output", "out.avro",
                        "--quiet"], cwd=d, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(d, "out.avro"), "rb") as f:
        data = f.read()
    with open(os.path.join(h.SOURCE_DIR, "schemas", "score_update.avsc"),
              "rb") as f:
        text = f.read()
    assert data.startswith(b"Obj\x01") and text in data, data[:200]


if __name__ == "__main__":
    h.main([test_layout, test_installed_demo_from_elsewhere,
            test_installed_avro_without_schema_files])

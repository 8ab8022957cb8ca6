#!/usr/bin/python3
"""Runs a process for `bench_kafka e2e` and records the CPU time it used.

    CPUWRAP_CMD='COMMAND [ARGS]' CPUWRAP_OUT=FILE cpu_wrap.py [MORE ARGS]

`bench_kafka e2e --leadscore PATH` starts `PATH run --config FILE` and,
once the group's committed offsets cover every input, sends it SIGTERM.
With this script as PATH, COMMAND ARGS run --config FILE is started as a
child, and on SIGTERM the child's CPU time at that moment (utime + stime
of /proc/PID/stat: every thread of the process, JIT and GC threads of a
JVM included) is written to FILE before the signal is passed on; at the
child's exit its whole CPU time (shutdown included) is added. FILE holds
one JSON object: cpu_s_at_stop, wall_s_at_stop (from the child's start),
threads (CPU seconds at the stop per live thread name, digits as #; a
thread that ended before, such as those of a JVM's warm-up instance, is in
cpu_s_at_stop only), cpu_s_at_exit, exit. Exits with the child's status.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid, task=None):
    path = "/proc/%d/stat" % pid if task is None else "/proc/%d/task/%s/stat" % (pid, task)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def threads(pid):
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                name = re.sub(r"[0-9]", "#", f.read().strip())
            out[name] = out.get(name, 0) + cpu_ticks(pid, t) / HZ
        except OSError:
            pass
    return out


def main():
    cmd = shlex.split(os.environ["CPUWRAP_CMD"]) + sys.argv[1:]
    out = os.environ["CPUWRAP_OUT"]
    t0 = time.monotonic()
    child = subprocess.Popen(cmd)
    rec = {}

    def stop(sig, frame):
        if "cpu_s_at_stop" not in rec:
            try:
                rec["cpu_s_at_stop"] = cpu_ticks(child.pid) / HZ
                rec["threads"] = threads(child.pid)
            except OSError:
                pass
            rec["wall_s_at_stop"] = time.monotonic() - t0
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _, status, usage = os.wait4(child.pid, 0)
    rec["cpu_s_at_exit"] = usage.ru_utime + usage.ru_stime
    rec["exit"] = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        json.dump(rec, f)
        f.write("\n")
    code = rec["exit"]
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())

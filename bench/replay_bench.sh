#!/bin/bash
# Measures `leadscore replay` over N events (default 1,000,000): from a
# JSON lines file, and from a 64-partition topic of `leadscore broker`,
# next to the raw consume rate of the same topic (kcat, same run).
#
#   bench/replay_bench.sh [N]     (LEADSCORE=path/to/leadscore to choose)
#
# Use a release build (cmake -DCMAKE_BUILD_TYPE=Release, no sanitizers).
set -eu
N=${1:-1000000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
LEADSCORE=${LEADSCORE:-$SRC/build-rel/leadscore}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/replay-bench.XXXXXX)
trap 'kill $BROKER_PID 2>/dev/null || true; rm -rf "$W"' EXIT

echo "# generating $N events"
$PY "$SRC/bench/gen_events.py" --events "$N" --leads $((N / 10)) --seed 1 \
        > "$W/in.jsonl"
# Keyed (lead_id<TAB>json) files per topic for kcat -K.
$PY - "$W" <<'PYEOF'
import json, sys
w = sys.argv[1]
with open(w + "/in.jsonl") as f, open(w + "/ev.txt", "w") as ev, \
        open(w + "/pr.txt", "w") as pr:
    for line in f:
        r = json.loads(line)
        (pr if "attributes" in r else ev).write(r["lead_id"] + "\t" + line)
PYEOF

echo "# replay from a file"
"$LEADSCORE" replay --model "$SRC/examples/model.yaml" --input "$W/in.jsonl" \
        --output /dev/null 2>&1 | tail -1

"$LEADSCORE" broker --partitions 64 --topics lead-events,lead-profiles \
        > "$W/addr" 2> "$W/broker.err" &
BROKER_PID=$!
for _ in $(seq 50); do [ -s "$W/addr" ] && break; sleep 0.1; done
ADDR=$(cat "$W/addr")
echo "# producing to $ADDR"
kcat -P -b "$ADDR" -t lead-events -K $'\t' -l "$W/ev.txt"
kcat -P -b "$ADDR" -t lead-profiles -K $'\t' -l "$W/pr.txt"

for i in 1 2 3; do
        echo "# run $i: raw consume (kcat, both topics)"
        s=$(date +%s.%N)
        kcat -C -b "$ADDR" -t lead-events -o beginning -e -q \
                -X queued.min.messages=10000000 > /dev/null
        kcat -C -b "$ADDR" -t lead-profiles -o beginning -e -q \
                -X queued.min.messages=10000000 > /dev/null
        e=$(date +%s.%N)
        echo "raw consume: $N records in $(echo "$e - $s" | bc) s" \
             "($(echo "$N / ($e - $s)" | bc) records/s)"
        echo "# run $i: replay from the topics"
        "$LEADSCORE" replay --model "$SRC/examples/model.yaml" \
                --brokers "$ADDR" --topics lead-events,lead-profiles \
                --output /dev/null 2>&1 | tail -1
done

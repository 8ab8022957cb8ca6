#!/bin/sh
# bench/run.sh [--quick] - builds a Release tree (no sanitizers) in
# build-bench/ and runs every benchmark of docs/PERFORMANCE.md: engine,
# decode, memory, snapshots (in-process), then against `leadscore broker`
# (64 partitions): raw consume (poll and batch-queue APIs), a C pass-through,
# `leadscore run` end to end, the Python peer, and event-to-output latency at
# half of the measured end-to-end rate. Prints a table and writes
# bench/results/latest.json (raw lines in build-bench/bench-run/raw.jsonl).
# --quick: small sizes and fewer repetitions (a smoke run of under 2 minutes).
set -eu

QUICK=0
case "${1:-}" in
--quick) QUICK=1 ;;
"") ;;
*) echo "usage: bench/run.sh [--quick]" >&2; exit 64 ;;
esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build-bench
WORK=$BUILD/bench-run
PY=/usr/bin/python3
PARTS=64

if [ $QUICK = 1 ]; then
        EVENTS=200000; LEADS=100000; REPS=3; KREPS=2; KEVENTS=200000
        MEM_LEADS="100000 1000000"; MEM_REPS=2; SWEEP="10000 1000000"
        PY_EXPECT=3000; PY_REPS=1; LAT_REPS=1; LAT_SECONDS=3
else
        EVENTS=1000000; LEADS=100000; REPS=5; KREPS=5; KEVENTS=1000000
        MEM_LEADS="1000000 10000000"; MEM_REPS=3; SWEEP="10000 1000000"
        PY_EXPECT=30000; PY_REPS=3; LAT_REPS=3; LAT_SECONDS=10
fi
# The same consumer settings for every consumer that is compared (see
# docs/PERFORMANCE.md): a large queued.min.messages avoids the test broker's
# fetch stalls; session.timeout.ms as the integration tests use.
CONSUMER_PROPS="queued.min.messages=10000000 session.timeout.ms=6000"
X=""
for p in $CONSUMER_PROPS; do X="$X -X $p"; done

echo "== building Release tree in $BUILD" >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLEADSCORE_SANITIZE= \
        -DLEADSCORE_WERROR=OFF >/dev/null
cmake --build "$BUILD" --target bench_engine bench_kafka leadscore -j2 >/dev/null
LS=$BUILD/leadscore
BE=$BUILD/bench/bench_engine
BK=$BUILD/bench/bench_kafka

rm -rf "$WORK"
mkdir -p "$WORK" "$SRC/bench/results"
RAW=$WORK/raw.jsonl
: > "$RAW"

BROKER_PID=""
stop_broker() {
        if [ -n "$BROKER_PID" ]; then
                kill "$BROKER_PID" 2>/dev/null || true
                wait "$BROKER_PID" 2>/dev/null || true
                BROKER_PID=""
        fi
}
trap stop_broker EXIT INT TERM

# start_broker NAME: starts `leadscore broker` with 64 partitions per topic;
# sets BROKERS to its address.
start_broker() {
        "$LS" broker --partitions $PARTS \
                --topics lead-events,lead-profiles,lead-scores,lead-alerts,lead-dead-letters,bench-passthrough,bench-py-scores \
                > "$WORK/$1.addr" 2> "$WORK/$1.log" &
        BROKER_PID=$!
        i=0
        while [ ! -s "$WORK/$1.addr" ]; do
                i=$((i + 1))
                [ $i -gt 100 ] && { echo "broker did not start" >&2; exit 1; }
                sleep 0.1
        done
        BROKERS=$(head -n 1 "$WORK/$1.addr")
}

# The model for the Kafka runs: examples/model.yaml with a lateness that
# covers the whole generated period. leadscore consumes the events and
# profiles topics independently, so with a backlog the small profiles
# topic runs ahead in stream time and, under the 1h lateness, most events
# would be dead-lettered as late (see docs/PERFORMANCE.md).
sed -e 's/^lateness: .*/lateness: 400d/' \
    -e "s#: lists/#: $SRC/examples/lists/#" \
    "$SRC/examples/model.yaml" > "$WORK/model.yaml"

# ls_config GROUP BROKERS FILE: a `leadscore run` config for the benchmark.
ls_config() {
        {
                echo "model: $WORK/model.yaml"
                echo "group: $1"
                echo "format: {input: avro, output: avro}"
                echo "schemas: $SRC/schemas"
                echo "commit_interval: 100ms"
                echo "kafka:"
                echo "  bootstrap.servers: \"$2\""
                echo "consumer:"
                for p in $CONSUMER_PROPS; do
                        echo "  ${p%%=*}: ${p#*=}"
                done
        } > "$3"
}

run() { # run LABEL CMD...: runs a benchmark, appends its result lines
        echo "== $1" >&2
        shift
        "$@" >> "$RAW"
}

# 1-2. engine and decode, in-process, one core
run "engine: decode + apply + encode, $EVENTS events, $LEADS leads" \
        "$BE" engine --events $EVENTS --leads $LEADS --reps $REPS
for l in $SWEEP; do
        run "engine: $EVENTS events, $l leads (growth)" \
                "$BE" engine --events $EVENTS --leads $l --reps 2 --tag sweep
done
run "decode: leadscore vs avro-c, $EVENTS records" \
        "$BE" decode --events $EVENTS --leads $LEADS --reps $REPS

# 5-6. memory and snapshots, one process per size
for l in $MEM_LEADS; do
        run "memory + snapshots: $l leads" \
                "$BE" memory --leads $l --reps $MEM_REPS --dir "$WORK"
done

# 3. end to end, with its baselines, on one broker and one topic
start_broker e2e
run "produce $KEVENTS inputs to $PARTS partitions" \
        "$BK" produce --brokers "$BROKERS" --events $KEVENTS --leads $LEADS \
        --partitions $PARTS
r=1
while [ $r -le $KREPS ]; do
        run "round $r/$KREPS: raw consume (poll)" "$BK" consume \
                --brokers "$BROKERS" --group "poll-$r" --api poll \
                --expect $KEVENTS --tag r$r $X
        run "round $r/$KREPS: raw consume (batch queue)" "$BK" consume \
                --brokers "$BROKERS" --group "batch-$r" --api batch \
                --expect $KEVENTS --tag r$r $X
        run "round $r/$KREPS: C pass-through" "$BK" passthrough \
                --brokers "$BROKERS" --group "pass-$r" --expect $KEVENTS \
                --tag r$r $X
        ls_config "leadscore-$r" "$BROKERS" "$WORK/run-$r.yaml"
        run "round $r/$KREPS: leadscore run" "$BK" e2e --brokers "$BROKERS" \
                --group "leadscore-$r" --expect $KEVENTS --leadscore "$LS" \
                --config "$WORK/run-$r.yaml" --log "$WORK/run-$r.log" \
                --partitions $PARTS --tag r$r $X
        r=$((r + 1))
done

# 4. the Python peer on the same broker and topic
r=1
while [ $r -le $PY_REPS ]; do
        run "python peer $r/$PY_REPS: $PY_EXPECT inputs" "$PY" \
                "$SRC/bench/peers/python_scorer.py" --brokers "$BROKERS" \
                --group "python-$r" --expect $PY_EXPECT \
                --model "$WORK/model.yaml" --tag r$r $X
        r=$((r + 1))
done
stop_broker

# 7. latency at half of the measured end-to-end rate (the target), and at a
# tenth of it (what the pipeline adds when it is not busy); a fresh broker
# and a fresh `leadscore run` for each run.
MAXRATE=$("$PY" -c '
import json, statistics, sys
v = [json.loads(l)["value"] for l in open(sys.argv[1])
     if "\"leadscore_msgs_per_s\"" in l]
print(int(statistics.median(v)))' "$RAW")
for load in half tenth; do
        case $load in
        half) RATE=$((MAXRATE / 2)) ;;
        tenth) RATE=$((MAXRATE / 10)) ;;
        esac
        r=1
        while [ $r -le $LAT_REPS ]; do
                start_broker "lat-$load-$r"
                ls_config "latency-$load-$r" "$BROKERS" "$WORK/lat-$load-$r.yaml"
                "$LS" run --config "$WORK/lat-$load-$r.yaml" \
                        2> "$WORK/lat-$load-$r.log" &
                LS_PID=$!
                i=0
                until grep -q 'assigned' "$WORK/lat-$load-$r.log"; do
                        i=$((i + 1))
                        [ $i -gt 300 ] && { echo "leadscore run did not join" >&2; exit 1; }
                        sleep 0.1
                done
                run "latency ($load load) $r/$LAT_REPS: $RATE inputs/s for ${LAT_SECONDS}s" \
                        "$BK" latency --brokers "$BROKERS" --rate $RATE \
                        --seconds $LAT_SECONDS --leads $LEADS \
                        --partitions $PARTS --tag r$r --load $load
                kill $LS_PID
                wait $LS_PID || true
                stop_broker
                r=$((r + 1))
        done
done

"$PY" "$SRC/bench/report.py" "$RAW" --out "$SRC/bench/results/latest.json" \
        --quick $QUICK

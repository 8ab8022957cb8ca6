#!/bin/sh
# bench/run.sh [--quick] [--broker mock|kafka] [--kafka-section] - builds a
# Release tree (no sanitizers) in build-bench/ and runs every benchmark of
# docs/PERFORMANCE.md: engine, decode, memory, snapshots (in-process), then
# against a broker with 64 partitions per topic: raw consume (poll and
# batch-queue APIs), a C pass-through, `leadscore run` end to end, the Python
# peer, and event-to-output latency at half and a tenth of the measured
# end-to-end rate. Prints a table and writes bench/results/latest-BROKER.json
# (raw lines, configs, logs in build-bench/bench-run-BROKER/; BENCH_BUILD_DIR
# names another build directory).
# --quick: small sizes and fewer repetitions (a smoke run of a few minutes).
# --broker mock (the default): librdkafka's test broker, `leadscore broker`.
# --broker kafka: Apache Kafka 4.4.0 (KRaft, 1 node, heap 1g, loopback),
#   started with scripts/kafka_cluster.py wherever the mock one would be.
# --kafka-section: only the benchmarks that use a broker (sections 3, 4, 7).
# --streams-peer: instead of the suite, leadscore against the Kafka Streams
#   peer on Apache Kafka (bench/peers/streams_bench.py; with --quick, small
#   sizes; BENCH_KEVENTS and BENCH_KREPS set its inputs and rounds).
# The sizes can be overridden from the environment (BENCH_KEVENTS,
# BENCH_KREPS, BENCH_PY_EXPECT, BENCH_PY_REPS, BENCH_LAT_REPS,
# BENCH_LAT_SECONDS), e.g. for a run between --quick and the full sizes;
# BENCH_LAT_LOADS="half tenth" chooses the latency loads, BENCH_MAXRATE
# the rate they are fractions of (default: the measured end-to-end median),
# BENCH_LAT_LINGER_MS the latency producer's linger.ms (default 5, as
# leadscore's own producer),
# BENCH_WORKERS="1 2" runs `leadscore run` once more per round for each
# number of workers listed (`workers: N`, bench names e2e_w1, e2e_w2, ...;
# the summary gives their ratios per round),
# BENCH_LS_ALT="NAME=PATH ..." runs `leadscore run` once more per round with
# each other leadscore binary listed, PATH absolute (bench names
# e2e_alt_NAME; the summary gives e2e / e2e_alt_NAME per round), e.g. a build with
# -DLEADSCORE_ALLOCATOR=system against this one,
# BENCH_LS_CONFIG lines are appended to every `leadscore run` config (an
# experiment: the summary names them; the config ends in its consumer:
# section, so "  name: value" lines are consumer properties).
set -eu

QUICK=0
BROKER=mock
KAFKA_ONLY=0
STREAMS=0
usage() {
        echo "usage: bench/run.sh [--quick] [--broker mock|kafka] [--kafka-section]" >&2
        echo "       bench/run.sh [--quick] --streams-peer" >&2
        echo "  (--broker defaults to mock, librdkafka's test broker)" >&2
        exit 64
}
while [ $# -gt 0 ]; do
        case "$1" in
        --quick) QUICK=1 ;;
        --broker)
                [ $# -ge 2 ] || usage
                BROKER=$2
                shift ;;
        --broker=*) BROKER=${1#--broker=} ;;
        --kafka-section) KAFKA_ONLY=1 ;;
        --streams-peer) STREAMS=1 ;;
        *) usage ;;
        esac
        shift
done
case $BROKER in
mock|kafka) ;;
*) usage ;;
esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
if [ $STREAMS = 1 ]; then
        # its own Kafka node, builds and summary (bench/results/latest-streams.json)
        if [ $QUICK = 1 ]; then
                set -- --events "${BENCH_KEVENTS:-200000}" --rounds "${BENCH_KREPS:-1}" --check-events 5000
        else
                set -- --events "${BENCH_KEVENTS:-1000000}" --rounds "${BENCH_KREPS:-3}"
        fi
        exec /usr/bin/python3 "$SRC/bench/peers/streams_bench.py" "$@"
fi
BUILD=${BENCH_BUILD_DIR:-$SRC/build-bench}
WORK=$BUILD/bench-run-$BROKER
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
KEVENTS=${BENCH_KEVENTS:-$KEVENTS}
KREPS=${BENCH_KREPS:-$KREPS}
PY_EXPECT=${BENCH_PY_EXPECT:-$PY_EXPECT}
PY_REPS=${BENCH_PY_REPS:-$PY_REPS}
LAT_REPS=${BENCH_LAT_REPS:-$LAT_REPS}
LAT_SECONDS=${BENCH_LAT_SECONDS:-$LAT_SECONDS}
LAT_LINGER_MS=${BENCH_LAT_LINGER_MS:-5}
LAT_LOADS=${BENCH_LAT_LOADS:-half tenth}
LS_EXTRA=${BENCH_LS_CONFIG:-}
# Rounds of section 3 run first and left out of the figures: 1 with kafka,
# whose JVM compiles its hot paths (JIT) during the first minute of traffic,
# 0 with the test broker (as before, nothing to warm up).
if [ $BROKER = kafka ]; then WARMUP=${BENCH_WARMUP:-1}; else WARMUP=${BENCH_WARMUP:-0}; fi
# The real broker: one node, both broker and controller, on loopback, on the
# same 2 cores as everything else.
KAFKA_HEAP=1g
if [ $BROKER = kafka ]; then
        BROKER_DESC="kafka: Apache Kafka 4.4.0 (KRaft), 1 node, heap $KAFKA_HEAP, loopback"
else
        BROKER_DESC="mock: librdkafka $(pkg-config --modversion rdkafka 2>/dev/null || echo 2.0.2) test broker (leadscore broker)"
fi
SIZES="kevents=$KEVENTS kreps=$KREPS warmup_rounds=$WARMUP py_expect=$PY_EXPECT py_reps=$PY_REPS lat_reps=$LAT_REPS lat_seconds=$LAT_SECONDS lat_loads=$(echo $LAT_LOADS | tr ' ' ,) in_process=$((1 - KAFKA_ONLY))"
[ -n "$LS_EXTRA" ] && SIZES="$SIZES leadscore_config_extra=$(printf '%s' "$LS_EXTRA" | tr '\n' ';')"
for alt in ${BENCH_LS_ALT:-}; do
        case $alt in
        [A-Za-z0-9_]*=/*) ;;
        *) echo "BENCH_LS_ALT: '$alt' is not NAME=/absolute/path" >&2
           exit 64 ;;
        esac
        case ${alt%%=*} in
        *[!A-Za-z0-9_]*) echo "BENCH_LS_ALT: the name of '$alt' is" \
                "not [A-Za-z0-9_]+" >&2
           exit 64 ;;
        esac
        [ -x "${alt#*=}" ] || { echo "BENCH_LS_ALT: ${alt#*=} is not an" \
                "executable" >&2; exit 64; }
done
[ -n "${BENCH_LS_ALT:-}" ] && SIZES="$SIZES leadscore_alt=$(echo $BENCH_LS_ALT | tr ' ' ,)"
TOPICS=lead-events,lead-profiles,lead-scores,lead-alerts,lead-dead-letters,bench-passthrough,bench-py-scores
# The same consumer settings for every consumer that is compared (see
# docs/PERFORMANCE.md), whichever the broker: a large queued.min.messages
# avoids the test broker's fetch stalls; session.timeout.ms as the
# integration tests use.
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

# a node left running by an interrupted run of the same broker type
for d in "$WORK"/kafka-*; do
        [ -f "$d/cluster.json" ] && "$PY" "$SRC/scripts/kafka_cluster.py" \
                stop --dir "$d" >/dev/null 2>&1 || true
done
rm -rf "$WORK"
mkdir -p "$WORK" "$SRC/bench/results"
RAW=$WORK/raw.jsonl
: > "$RAW"
LOAD_START=$(cat /proc/loadavg)
echo "== load average at the start: $LOAD_START" >&2

BROKER_PID=""  # mock: the `leadscore broker` process
KAFKA_DIR=""   # kafka: the folder of the running node
LS_PID=""      # latency: the `leadscore run` being measured
stop_broker() {
        if [ -n "$BROKER_PID" ]; then
                kill "$BROKER_PID" 2>/dev/null || true
                wait "$BROKER_PID" 2>/dev/null || true
                BROKER_PID=""
        fi
        if [ -n "$KAFKA_DIR" ]; then
                # a controlled shutdown (SIGTERM, SIGKILL after 30 s); the
                # node's logs stay, its data goes
                "$PY" "$SRC/scripts/kafka_cluster.py" stop --dir "$KAFKA_DIR" \
                        >> "$KAFKA_DIR.stop.log" 2>&1 || true
                rm -rf "$KAFKA_DIR/node-0/data"
                KAFKA_DIR=""
        fi
}
cleanup() {
        if [ -n "$LS_PID" ]; then
                kill "$LS_PID" 2>/dev/null || true
                wait "$LS_PID" 2>/dev/null || true
                LS_PID=""
        fi
        stop_broker
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT TERM

# start_broker NAME: starts a broker with the benchmark's topics, 64
# partitions each, and sets BROKERS to its address: `leadscore broker`
# (mock) or one Apache Kafka node in $WORK/kafka-NAME (kafka), each a
# fresh one with empty topics.
start_broker() {
        if [ $BROKER = kafka ]; then
                KAFKA_DIR=$WORK/kafka-$1
                rm -rf "$KAFKA_DIR"
                t0=$(date +%s)
                "$PY" "$SRC/scripts/kafka_cluster.py" start --dir "$KAFKA_DIR" \
                        --nodes 1 --partitions $PARTS --topics $TOPICS \
                        --heap $KAFKA_HEAP > "$WORK/$1.addr" 2> "$WORK/$1.log" \
                        || { echo "kafka did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1; }
                BROKERS=$(tail -n 1 "$WORK/$1.addr")
                echo "   (Apache Kafka at $BROKERS, started in $(( $(date +%s) - t0 )) s)" >&2
                return
        fi
        "$LS" broker --partitions $PARTS --topics $TOPICS \
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

# kafka_topics create|delete PREFIX: the four topics of a latency run plus
# its dead-letter topic, PREFIX + the default names, $PARTS partitions
# each, on the running node (through scripts/kafka_cluster.py's Cluster,
# which waits until every partition has a leader).
kafka_topics() {
        "$PY" - "$SRC/scripts" "$KAFKA_DIR" "$1" "$2" $PARTS <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import kafka_cluster
c = kafka_cluster.Cluster(sys.argv[2])
topics = [sys.argv[4] + t for t in ("lead-events", "lead-profiles",
          "lead-scores", "lead-alerts", "lead-dead-letters")]
if sys.argv[3] == "create":
    c.create_topics(topics, int(sys.argv[5]))
else:
    admin = c.admin()  # kept: the futures fail once the client is freed
    for t, f in admin.delete_topics(topics, operation_timeout=30).items():
        f.result()
EOF
}

# The model for the Kafka runs: examples/model.yaml with a lateness that
# covers the whole generated period. leadscore consumes the events and
# profiles topics independently, so with a backlog the small profiles
# topic runs ahead in stream time and, under the 1h lateness, most events
# would be dead-lettered as late (see docs/PERFORMANCE.md).
sed -e 's/^lateness: .*/lateness: 400d/' \
    -e "s#: lists/#: $SRC/examples/lists/#" \
    "$SRC/examples/model.yaml" > "$WORK/model.yaml"

# ls_config GROUP BROKERS FILE [TOPIC_PREFIX]: a `leadscore run` config for
# the benchmark (with a prefix, its five topics are PREFIX + the default
# names, as bench_kafka --topic-prefix names them).
ls_config() {
        {
                echo "model: $WORK/model.yaml"
                if [ -n "${4:-}" ]; then
                        echo "topics:"
                        for t in events profiles scores alerts dead_letters; do
                                echo "  $t: $4lead-$(echo $t | tr _ -)"
                        done
                fi
                echo "group: $1"
                echo "format: {input: avro, output: avro}"
                echo "schemas: $SRC/schemas"
                echo "commit_interval: 100ms"
                # the figures of docs/PERFORMANCE.md keep no state (a
                # snapshot section in BENCH_LS_CONFIG replaces this)
                printf '%s\n' "$LS_EXTRA" | grep -q '^snapshot:' ||
                        echo "snapshot: off"
                echo "kafka:"
                echo "  bootstrap.servers: \"$2\""
                echo "consumer:"
                for p in $CONSUMER_PROPS; do
                        echo "  ${p%%=*}: ${p#*=}"
                done
                [ -z "$LS_EXTRA" ] || printf '%s\n' "$LS_EXTRA"
        } > "$3"
}

# What the broker process itself uses: broker_ticks prints its CPU time
# (user + system, in clock ticks); broker_cpu BENCH METRIC TICKS0 T0 EXTRA
# appends a result line with the cores it kept busy since (TICKS0, T0).
HZ=$(getconf CLK_TCK)
broker_ticks() {
        if [ $BROKER = kafka ]; then bp=$(cat "$KAFKA_DIR/node-0/pid"); else bp=$BROKER_PID; fi
        awk '{print $14 + $15}' "/proc/$bp/stat" 2>/dev/null || echo 0
}
now_s() { date +%s.%N; }
broker_cpu() {
        awk -v a="$3" -v b="$(broker_ticks)" -v t0="$4" -v t1="$(now_s)" \
            -v hz="$HZ" -v bench="$1" -v metric="$2" -v extra="$5" 'BEGIN {
                printf "{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"cores\",%s}\n",
                        bench, metric, (b - a) / hz / (t1 - t0), extra }' >> "$RAW"
}

run() { # run LABEL CMD...: runs a benchmark, appends its result lines
        echo "== $1" >&2
        echo "$(cut -d' ' -f1-3 /proc/loadavg) $1" >> "$WORK/loadavg.log"
        shift
        "$@" >> "$RAW"
}

if [ $KAFKA_ONLY = 0 ]; then
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
fi

# 3. end to end, with its baselines, on one broker and one topic
echo "== broker: $BROKER" >&2
start_broker e2e
run "produce $KEVENTS inputs to $PARTS partitions" \
        "$BK" produce --brokers "$BROKERS" --events $KEVENTS --leads $LEADS \
        --partitions $PARTS
# round R [TAG]: the four, back to back, each with a fresh group
round() {
        tag=${2:-r$1}
        run "round $tag: raw consume (poll)" "$BK" consume \
                --brokers "$BROKERS" --group "poll-$tag" --api poll \
                --expect $KEVENTS --tag $tag $X
        run "round $tag: raw consume (batch queue)" "$BK" consume \
                --brokers "$BROKERS" --group "batch-$tag" --api batch \
                --expect $KEVENTS --tag $tag $X
        run "round $tag: C pass-through" "$BK" passthrough \
                --brokers "$BROKERS" --group "pass-$tag" --expect $KEVENTS \
                --tag $tag $X
        ls_config "leadscore-$tag" "$BROKERS" "$WORK/run-$tag.yaml"
        bt=$(broker_ticks); bt0=$(now_s)
        run "round $tag: leadscore run" "$BK" e2e --brokers "$BROKERS" \
                --group "leadscore-$tag" --expect $KEVENTS --leadscore "$LS" \
                --config "$WORK/run-$tag.yaml" --log "$WORK/run-$tag.log" \
                --partitions $PARTS --tag $tag $X
        broker_cpu broker cpu_cores_during_e2e "$bt" "$bt0" "\"tag\":\"$tag\""
        for w in ${BENCH_WORKERS:-}; do
                ls_config "leadscore-$tag-w$w" "$BROKERS" "$WORK/run-$tag-w$w.yaml"
                echo "workers: $w" >> "$WORK/run-$tag-w$w.yaml"
                run "round $tag: leadscore run, workers $w" "$BK" e2e \
                        --brokers "$BROKERS" --group "leadscore-$tag-w$w" \
                        --expect $KEVENTS --leadscore "$LS" \
                        --config "$WORK/run-$tag-w$w.yaml" \
                        --log "$WORK/run-$tag-w$w.log" --partitions $PARTS \
                        --tag $tag --name e2e_w$w $X
        done
        for alt in ${BENCH_LS_ALT:-}; do
                an=${alt%%=*}
                ls_config "leadscore-$tag-alt-$an" "$BROKERS" \
                        "$WORK/run-$tag-alt-$an.yaml"
                run "round $tag: leadscore run, ${alt#*=}" "$BK" e2e \
                        --brokers "$BROKERS" --group "leadscore-$tag-alt-$an" \
                        --expect $KEVENTS --leadscore "${alt#*=}" \
                        --config "$WORK/run-$tag-alt-$an.yaml" \
                        --log "$WORK/run-$tag-alt-$an.log" \
                        --partitions $PARTS --tag $tag --name e2e_alt_$an $X
        done
}
r=1
while [ $r -le $WARMUP ]; do
        round $r warmup$r
        r=$((r + 1))
done
r=1
while [ $r -le $KREPS ]; do
        round $r
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
[ $BROKER = mock ] && stop_broker

# 7. latency at half of the measured end-to-end rate (the target), and at a
# tenth of it (what the pipeline adds when it is not busy); a fresh
# `leadscore run` with a fresh group and empty topics for each run: with
# mock a fresh broker, with kafka fresh topics (prefix lat-LOAD-R.) on the
# node of section 3, kept running: a new node takes 10-20 s to start here
# and its JVM is cold (JIT) for the first seconds of a 10 s run.
MAXRATE=$("$PY" -c '
import json, statistics, sys
v = [json.loads(l)["value"] for l in open(sys.argv[1])
     if "\"leadscore_msgs_per_s\"" in l]
print(int(statistics.median(v)))' "$RAW")
MAXRATE=${BENCH_MAXRATE:-$MAXRATE}
for load in $LAT_LOADS; do
        case $load in
        half) RATE=$((MAXRATE / 2)) ;;
        tenth) RATE=$((MAXRATE / 10)) ;;
        esac
        r=1
        while [ $r -le $LAT_REPS ]; do
                PREFIX=""
                if [ $BROKER = kafka ]; then
                        PREFIX=lat-$load-$r.
                        kafka_topics create "$PREFIX"
                else
                        start_broker "lat-$load-$r"
                fi
                ls_config "latency-$load-$r" "$BROKERS" "$WORK/lat-$load-$r.yaml" "$PREFIX"
                "$LS" run --config "$WORK/lat-$load-$r.yaml" \
                        2> "$WORK/lat-$load-$r.log" &
                LS_PID=$!
                i=0
                until grep -qs 'assigned' "$WORK/lat-$load-$r.log"; do
                        i=$((i + 1))
                        [ $i -gt 300 ] && { echo "leadscore run did not join" >&2; exit 1; }
                        sleep 0.1
                done
                bt=$(broker_ticks); bt0=$(now_s)
                # a run that reads no output after its first second fails;
                # the others still run, and the table counts the failures
                run "latency ($load load) $r/$LAT_REPS: $RATE inputs/s for ${LAT_SECONDS}s" \
                        "$BK" latency --brokers "$BROKERS" --rate $RATE \
                        --seconds $LAT_SECONDS --leads $LEADS \
                        --partitions $PARTS --tag r$r --load $load \
                        --linger-ms $LAT_LINGER_MS \
                        --topic-prefix "$PREFIX" || {
                        echo "bench: latency ($load load) $r FAILED" >&2
                        echo "{\"bench\":\"failed\",\"metric\":\"latency_${load}_runs\",\"value\":1,\"unit\":\"count\"}" >> "$RAW"
                }
                broker_cpu latency broker_cpu_cores "$bt" "$bt0" \
                        "\"tag\":\"r$r\",\"load\":\"$load\""
                kill $LS_PID
                wait $LS_PID || true
                LS_PID=""
                if [ $BROKER = kafka ]; then
                        kafka_topics delete "$PREFIX" || echo "bench: could not" \
                                "delete the topics $PREFIX* (left on the node)" >&2
                else
                        stop_broker
                fi
                r=$((r + 1))
        done
done
stop_broker

"$PY" "$SRC/bench/report.py" "$RAW" \
        --out "$SRC/bench/results/latest-$BROKER.json" --quick $QUICK \
        --broker "$BROKER_DESC" --sizes "$SIZES" --load-start "$LOAD_START" \
        --load-log "$WORK/loadavg.log"

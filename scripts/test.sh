#!/bin/sh
# Installs dependencies, builds leadscore with warnings as errors and
# AddressSanitizer + UndefinedBehaviorSanitizer, fetches Apache Kafka once
# per machine (Maven, cached), and runs the whole suite: every Kafka test
# on librdkafka's test broker and on real Kafka, which the tests start and
# stop themselves (ctest -L mock / -L kafka selects one broker).
#   BUILD_DIR   build directory (default build-test)
#   SANITIZE    sanitizers (default address,undefined; "" for none)
# Before the suite, scripts/tsan.sh builds the worker pool's test alone
# with ThreadSanitizer (in build-tsan, or TSAN_BUILD_DIR) and runs it, and
# scripts/release_check.sh builds the Release program and benchmarks with
# their allocator (in build-release, or RELEASE_BUILD_DIR) and checks that
# they score as the test build does.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-test}
SANITIZE=${SANITIZE-address,undefined}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DLEADSCORE_WERROR=ON \
        -DLEADSCORE_SANITIZE="$SANITIZE" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
sh scripts/tsan.sh
TEST_BIN="$BUILD_DIR/leadscore" sh scripts/release_check.sh
/usr/bin/python3 scripts/kafka_cluster.py fetch >/dev/null
/usr/bin/python3 scripts/kafka_cluster.py fetch --kafka-version 3.9.2 >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" "$@"

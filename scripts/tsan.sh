#!/bin/sh
# Builds the worker pool's unit test (tests/unit/test_workers.c) with the
# core it scores with (engine, model, state, codec, common) and the pool
# (src/work) under ThreadSanitizer, in a build directory of its own, and
# runs it. Nothing of librdkafka is built in: Debian's librdkafka 2.0.2
# crashes under TSan (docs/TESTING.md). scripts/test.sh runs it.
#   TSAN_BUILD_DIR  build directory (default build-tsan)
set -eu
cd "$(dirname "$0")/.."
dir=${TSAN_BUILD_DIR:-build-tsan}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DLEADSCORE_WERROR=ON \
        -DLEADSCORE_SANITIZE=thread >/dev/null
cmake --build "$dir" -j"$(nproc)" --target test_workers >/dev/null
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
        "$dir/tests/test_workers"

#!/bin/sh
# Checks the build users and the benchmarks run, which the sanitized test
# build is not: Release, warnings as errors, the default allocator
# (jemalloc, CMakeLists.txt LEADSCORE_ALLOCATOR). It builds leadscore and
# the benchmarks (bench/), checks that `leadscore --version` reports
# jemalloc serving malloc, and scores the same generated inputs with this
# binary and with the test build's (TEST_BIN, when given), which must write
# the same bytes: the outputs depend neither on the allocator nor on the
# optimizer. scripts/test.sh runs it.
#   RELEASE_BUILD_DIR  build directory (default build-release)
#   TEST_BIN           the test build's leadscore, to compare outputs with
set -eu
cd "$(dirname "$0")/.."
dir=${RELEASE_BUILD_DIR:-build-release}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DLEADSCORE_WERROR=ON \
        -DLEADSCORE_SANITIZE= -DLEADSCORE_ALLOCATOR=auto >/dev/null
cmake --build "$dir" -j"$(nproc)" --target leadscore bench_engine \
        bench_kafka bench_snapshot >/dev/null
bin=$dir/leadscore
malloc=$("$bin" --version | sed -n 's/^malloc //p')
case $malloc in
jemalloc\ *) ;;
*) echo "release_check: $bin --version says malloc is '$malloc'," \
        "not jemalloc" >&2
   exit 1 ;;
esac
echo "release_check: $bin: malloc $malloc"
[ -n "${TEST_BIN:-}" ] || exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 bench/gen_events.py --events 100000 --leads 10000 --seed 11 \
        > "$tmp/in.jsonl"
# score WHICH BIN: BIN's outputs in $tmp/WHICH.jsonl
score() {
        # exit 2: some input rejected (the generator's bot clicks)
        rc=0
        "$2" score -m examples/model.yaml -u 2027-06-01T00:00:00Z \
                -i "$tmp/in.jsonl" > "$tmp/$1.jsonl" 2> "$tmp/$1.err" || rc=$?
        if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
                echo "release_check: $2 score exited $rc:" >&2
                cat "$tmp/$1.err" >&2
                exit 1
        fi
}
score release "$bin"
score test "$TEST_BIN"
if ! cmp "$tmp/release.jsonl" "$tmp/test.jsonl"; then
        echo "release_check: $bin and $TEST_BIN score the same inputs" \
                "differently" >&2
        exit 1
fi
echo "release_check: the same $(wc -l < "$tmp/release.jsonl") outputs from both builds"

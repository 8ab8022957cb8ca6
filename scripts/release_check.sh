#!/bin/sh
# Checks the build users and the benchmarks run, which the sanitized test
# build is not: Release, warnings as errors, the default allocator
# (jemalloc, CMakeLists.txt LEADSCORE_ALLOCATOR). It builds leadscore and
# the benchmarks (bench/), checks that `leadscore --version` reports
# jemalloc serving malloc, and scores the same generated inputs with this
# binary and with the test build's (TEST_BIN), which must give the same
# exit status, the same outputs and the same messages, byte for byte: the
# outputs depend neither on the allocator nor on the optimizer.
# scripts/test.sh runs it. Paths are taken from the repository's root.
#   RELEASE_BUILD_DIR  build directory (default build-release)
#   TEST_BIN           the test build's leadscore, to compare with (without
#                      it, only the build and --version are checked)
set -eu
cd "$(dirname "$0")/.."
dir=${RELEASE_BUILD_DIR:-build-release}
fail() {
        echo "release_check: $*" >&2
        exit 1
}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DLEADSCORE_WERROR=ON \
        -DLEADSCORE_SANITIZE= -DLEADSCORE_ALLOCATOR=jemalloc >/dev/null
cmake --build "$dir" -j"$(nproc)" --target leadscore bench_engine \
        bench_kafka bench_snapshot >/dev/null
bin=$dir/leadscore
version=$("$bin" --version) || fail "$bin --version failed"
malloc=$(printf '%s\n' "$version" | sed -n 's/^malloc //p')
case $malloc in
*"(unverified)"*)
        fail "$bin --version cannot tell that jemalloc serves malloc: '$malloc'" ;;
"jemalloc "[0-9]*) ;;
*) fail "$bin --version says malloc is '$malloc', not jemalloc" ;;
esac
echo "release_check: $bin: malloc $malloc"
if [ -z "${TEST_BIN:-}" ]; then
        echo "release_check: no TEST_BIN: outputs not compared"
        exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
events=100000
/usr/bin/python3 bench/gen_events.py --events $events --leads 10000 \
        --seed 11 > "$tmp/in.jsonl"
# score WHICH BIN: BIN's outputs in $tmp/WHICH.jsonl, its messages in
# WHICH.err, its exit status in WHICH.rc (2: some input rejected, as the
# generator's bot clicks are)
score() {
        rc=0
        "$2" score -m examples/model.yaml -u 2027-06-01T00:00:00Z \
                -i "$tmp/in.jsonl" > "$tmp/$1.jsonl" 2> "$tmp/$1.err" || rc=$?
        echo $rc > "$tmp/$1.rc"
        if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
                cat "$tmp/$1.err" >&2
                fail "$2 score exited $rc"
        fi
}
score release "$bin"
score test "$TEST_BIN"
n=$(wc -l < "$tmp/release.jsonl")
# every input that is not a duplicate or a bot click gives at least one
# score update: an empty or short output is a failure, not a match
[ "$n" -ge $((events / 2)) ] ||
        fail "$bin wrote $n outputs for $events inputs"
for f in rc jsonl err; do
        cmp "$tmp/release.$f" "$tmp/test.$f" ||
                fail "$bin and $TEST_BIN differ ($f) on the same inputs"
done
echo "release_check: the same $n outputs, messages and exit status" \
        "($(cat "$tmp/release.rc")) from both builds"

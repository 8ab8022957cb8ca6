#!/bin/sh
# Installs dependencies, builds leadscore (Release, in ./build) and runs its
# main job on the examples: the offline scorer over examples/events.jsonl.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/leadscore check --model examples/model.yaml
echo
echo "== leadscore score --model examples/model.yaml --input examples/events.jsonl"
./build/leadscore score --model examples/model.yaml \
        --input examples/events.jsonl --until 2026-09-01T00:00:00Z --stats

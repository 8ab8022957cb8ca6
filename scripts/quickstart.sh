#!/bin/sh
# Installs dependencies, builds leadscore (Release, in ./build) and runs its
# main job: `leadscore demo`, the Kafka pipeline against an embedded broker,
# fed with examples/events.jsonl. Extra arguments go to the demo, e.g.
#   scripts/quickstart.sh --linger 120   (keep running to produce with kcat)
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/leadscore check --model examples/model.yaml
echo
exec ./build/leadscore demo "$@"

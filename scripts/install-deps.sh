#!/bin/sh
# Installs the Debian 12 packages leadscore needs to build, test and run.
# Skips apt when everything is already installed; uses sudo when not root.
# Java 17 (the JDK: a test runs a one-file Java client from source) and
# Maven are for the tests and benchmarks only: they fetch and run real
# Apache Kafka (scripts/kafka_cluster.py); leadscore is C. liblinear fits
# `leadscore calibrate`'s logistic regression, cairo draws the charts of its
# HTML report; jemalloc is the programs' malloc (docs/PERFORMANCE.md, "The
# allocator"); chromium and python3-pil are for the test that renders that
# page (tests/integration/test_calibrate_html.py).
set -eu
PKGS="build-essential cmake pkg-config git librdkafka-dev libavro-dev \
libcmocka-dev libjansson-dev libyaml-dev libmicrohttpd-dev \
libcurl4-openssl-dev libssl-dev kcat python3 python3-confluent-kafka \
python3-avro python3-yaml liblinear-dev libcairo2-dev libjemalloc-dev chromium python3-pil systemd openjdk-17-jdk-headless maven openssl \
clang-format"
missing=""
for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
                || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing

#!/usr/bin/env bash
# MQTT concentrator figures (issue 7), measured in one run against real
# Prosody and mosquitto: memory per bridged device at 10,000 devices (goal
# <= 4 KB), presence reaching a subscriber through the bridge vs the
# component connection alone (goal >= 0.9x), and the readout round trip of
# a bridged device vs a ping of its JID (goal p50 <= 1.2x).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
"$GO" run ./bench/concentrator "$@"

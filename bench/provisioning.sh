#!/usr/bin/env bash
# XEP-0324 provisioning cost of a readout (issue 8), measured in one run:
# a momentary readout through Prosody of an agent provisioned by the real
# registry (in-process component, SQLite store, an owner's rule allowing
# the reader some fields), with the device's decision cache cleared before
# each readout (a canRead round trip to the registry) next to one answered
# from the cache, alternating, and a ping of the device as the floor.
# Prints p50/p90/p99 and the round trip / cached ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
"$GO" run ./bench/provisioning "$@"

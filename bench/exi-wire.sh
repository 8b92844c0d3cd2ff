#!/usr/bin/env bash
# XEP-0322 figures (issue 6), measured side by side in one run against a
# real Prosody: bytes on the device's link for login + 100 momentary
# readouts + 10 sets in XML and in EXI through "xiot exigw" (schema-less
# and schema-informed, each with and without compression, negotiated and
# alternative binding), and the gateway's added latency on a readout
# round trip.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
"$GO" run ./bench/exi-wire "$@"

#!/usr/bin/env bash
# XEP-0323 figures (issue 3), measured in one run: momentary readout round
# trip through Prosody beside a XEP-0199 ping of the same device (goal:
# readout p50 <= 1.2x ping p50), and encode/decode time and allocations of
# a 1,000-field readout.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
"$GO" run ./bench/readout "$@"

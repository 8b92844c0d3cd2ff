#!/usr/bin/env bash
# XEP-0325 set round trip through Prosody beside an XEP-0199 ping of the
# same device, in one run (BenchmarkSetVsPing), and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
N=${BENCH_N:-1000x}
out=$("$GO" test -run '^$' -bench SetVsPing -benchtime "$N" -benchmem ./control/iotcontrol)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
	/SetVsPing\/ping/ { ping = $3 }
	/SetVsPing\/set/  { set = $3 }
	END { if (ping > 0) printf "set / ping round trip: %.2f (set %.0f µs, ping %.0f µs)\n", set / ping, set / 1000, ping / 1000 }'

#!/usr/bin/env bash
# Registry search (XEP-0347) over 100,000 registered things, in one run
# (BenchmarkSearch): the SQLite file and a throwaway PostgreSQL server on
# loopback (Debian's postgresql, started by the test harness), with the
# bbolt scan of older versions as the baseline. Prints the load time, the
# p50 / p99 latency of a selective and of a broad search, side by side, and
# the PostgreSQL / SQLite ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
N=${BENCH_N:-300x}
export XIOT_BENCH_THINGS=${XIOT_BENCH_THINGS:-100000}
out=$("$GO" test -run '^$' -bench '^BenchmarkSearch$' -benchtime "$N" -benchmem -timeout 20m ./provisioning/registry/sqlstore)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk -v n="$XIOT_BENCH_THINGS" '
	/^BenchmarkSearch\// {
		split($1, p, "/"); store = p[2]; q = p[3]; sub(/-[0-9]+$/, "", q)
		for (i = 2; i < NF; i++) {
			if ($(i+1) == "p50-us") p50[store, q] = $i
			if ($(i+1) == "p99-us") p99[store, q] = $i
			if ($(i+1) == "load-s") load[store] = $i
		}
		if (!(q in seen)) { seen[q] = 1; qs[++nq] = q }
	}
	END {
		printf "\nsearch over %d things, latency of one search in µs (20 results at most)\n", n
		printf "%-10s %10s %10s %10s %10s %9s %9s %10s %10s\n", "query", "sqlite p50", "p99", "pg p50", "p99", "pg/sq p50", "p99", "bolt p50", "p99"
		for (i = 1; i <= nq; i++) {
			q = qs[i]
			r50 = p50["sqlite", q] > 0 ? p50["postgres", q] / p50["sqlite", q] : 0
			r99 = p99["sqlite", q] > 0 ? p99["postgres", q] / p99["sqlite", q] : 0
			printf "%-10s %10d %10d %10d %10d %9.2f %9.2f %10d %10d\n", q, p50["sqlite", q], p99["sqlite", q],
				p50["postgres", q], p99["postgres", q], r50, r99, p50["bolt-scan", q], p99["bolt-scan", q]
		}
		printf "load (batched transactions, then ANALYZE): sqlite %.1f s, postgres %.1f s, bolt %.1f s\n", load["sqlite"], load["postgres"], load["bolt-scan"]
	}'

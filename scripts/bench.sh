#!/usr/bin/env bash
# Run the benchmark scripts in bench/ (bench/*.sh, in name order); without
# any, run the Go benchmarks of the whole module.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
shopt -s nullglob
scripts=(bench/*.sh)
if ((${#scripts[@]} == 0)); then
	echo "bench: no bench/*.sh scripts; running go test -bench"
	exec "$GO" test -run '^$' -bench . -benchmem ./...
fi
for s in "${scripts[@]}"; do
	echo "bench: $s"
	bash "$s"
done

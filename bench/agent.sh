#!/usr/bin/env bash
# Foundation figures (issue 2), measured in one run:
#  - static binary sizes for the ARM targets (goal: linux/arm <= 12 MB),
#  - agent RSS idle after login (goal <= 15 MB),
#  - ping round trip to the agent through Prosody, beside a ping of Prosody itself.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== binary sizes (CGO_ENABLED=0, -trimpath, -ldflags '-s -w') =="
printf '  %-16s %10s %10s\n' target stripped "not stripped"
for t in ${BENCH_TARGETS:-linux/arm/6 linux/arm/7 linux/arm64 linux/amd64}; do
	IFS=/ read -r os arch arm <<<"$t"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=${arm:-} "$GO" build -trimpath -ldflags '-s -w' -o "$tmp/s" ./cmd/xiot
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=${arm:-} "$GO" build -trimpath -o "$tmp/u" ./cmd/xiot
	awk -v t="$t" -v s="$(stat -c %s "$tmp/s")" -v u="$(stat -c %s "$tmp/u")" \
		'BEGIN { printf "  %-16s %9.1fM %9.1fM\n", t, s/1048576, u/1048576 }'
done

echo "== agent: memory and ping round trip =="
CGO_ENABLED=0 "$GO" build -trimpath -ldflags '-s -w' -o "$tmp/xiot" ./cmd/xiot
"$GO" run ./bench/agent -bin "$tmp/xiot" "$@"

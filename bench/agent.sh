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

echo "== binary sizes in bytes (CGO_ENABLED=0, -trimpath, -ldflags '-s -w'; goal linux/arm <= 12,000,000) =="
printf '  %-16s %12s %12s\n' target "small build" "full build"
for t in ${BENCH_TARGETS:-linux/arm/6 linux/arm/7 linux/arm64 linux/amd64}; do
	IFS=/ read -r os arch arm <<<"$t"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=${arm:-} "$GO" build -trimpath -tags xiot_small -ldflags '-s -w' -o "$tmp/s" ./cmd/xiot
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=${arm:-} "$GO" build -trimpath -ldflags '-s -w' -o "$tmp/u" ./cmd/xiot
	awk -v t="$t" -v s="$(stat -c %s "$tmp/s")" -v u="$(stat -c %s "$tmp/u")" \
		'BEGIN { printf "  %-16s %12d %12d\n", t, s, u }'
done

echo "== agent: memory and ping round trip =="
CGO_ENABLED=0 "$GO" build -trimpath -ldflags '-s -w' -o "$tmp/xiot" ./cmd/xiot
"$GO" run ./bench/agent -bin "$tmp/xiot" "$@"

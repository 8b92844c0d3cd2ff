#!/usr/bin/env bash
# Cross-compile static xiot binaries for the boards we support into dist/
# and print their sizes. Usage: scripts/cross.sh [ldflags...]
# The Makefile passes the version stamp as ldflags. 32-bit ARM targets are
# the small build (tag xiot_small: no concentrator, exigw or registry).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
LDFLAGS="-s -w ${*:-}"
# os/arch[/GOARM]
TARGETS=(linux/arm/6 linux/arm/7 linux/arm64 linux/amd64)

mkdir -p dist
for t in "${TARGETS[@]}"; do
	IFS=/ read -r os arch arm <<<"$t"
	out="dist/xiot-$os-$arch${arm:+v$arm}"
	echo "cross: $out (GOOS=$os GOARCH=$arch${arm:+ GOARM=$arm})"
	env CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" ${arm:+GOARM="$arm"} \
		"$GO" build -trimpath ${arm:+-tags xiot_small} -ldflags "$LDFLAGS" -o "$out" ./cmd/xiot
done
echo "cross: sizes"
for f in dist/xiot-*; do
	printf '  %-24s %9d bytes  %5.1f MiB\n' "$(basename "$f")" "$(stat -c %s "$f")" \
		"$(awk -v s="$(stat -c %s "$f")" 'BEGIN { print s / 1048576 }')"
done

#!/usr/bin/env bash
# Build release archives: a static xiot binary per target with the version
# stamped in, the example configuration, the systemd unit and the docs, as
# dist/xiot-<version>-<target>.tar.gz, plus dist/SHA256SUMS.
# Usage: scripts/release.sh [version [commit]]   (env DIST: output directory)
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${1:-$(git describe --tags --dirty 2>/dev/null || echo dev)}
COMMIT=${2:-$(git rev-parse HEAD 2>/dev/null || true)}
DIST=${DIST:-dist}
MODULE=github.com/xiot/xiot
LDFLAGS="-s -w -X $MODULE/internal/version.Version=$VERSION -X $MODULE/internal/version.Commit=$COMMIT"
# os/arch[/GOARM], the name used in the archive, and build tags: the 32-bit
# ARM builds (Pi Zero to Pi 3) are the small build, without the services
# that run next to a server (concentrator, exigw, registry), to stay within
# the size budget of those boards.
TARGETS=(linux/arm/6:linux-armv6:xiot_small linux/arm/7:linux-armv7:xiot_small linux/arm64:linux-arm64: linux/amd64:linux-amd64:)

mkdir -p "$DIST"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
archives=()
for t in "${TARGETS[@]}"; do
	IFS=: read -r spec name tags <<<"$t"
	IFS=/ read -r os arch arm <<<"$spec"
	dir="xiot-$VERSION-$name"
	mkdir -p "$stage/$dir"
	echo "release: $dir (GOOS=$os GOARCH=$arch${arm:+ GOARM=$arm}${tags:+ tags $tags})"
	env CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" ${arm:+GOARM="$arm"} \
		"$GO" build -trimpath -tags "$tags" -ldflags "$LDFLAGS" -o "$stage/$dir/xiot" ./cmd/xiot
	cp internal/config/example.yaml "$stage/$dir/xiot.yaml.example"
	cp deploy/xiot.service README.md "$stage/$dir/"
	[[ -d docs ]] && cp -r docs "$stage/$dir/"
	tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$DIST/$dir.tar.gz" "$dir"
	archives+=("$dir.tar.gz")
done
(cd "$DIST" && sha256sum "${archives[@]}" > SHA256SUMS)
echo "release: $DIST/SHA256SUMS"
cat "$DIST/SHA256SUMS"

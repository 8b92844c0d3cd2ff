#!/usr/bin/env bash
# Run every Fuzz target of the module for a short time each.
# Usage: scripts/fuzz.sh [fuzztime]   (default 30s; env FUZZ_PARALLEL, default 1)
# Targets are discovered with `go test -list '^Fuzz'`, package by package
# (go test -fuzz accepts one package and one target at a time).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${1:-30s}
PARALLEL=${FUZZ_PARALLEL:-1}

count=0
for pkg in $("$GO" list ./...); do
	# A listing failure (the package does not compile) must fail the run.
	if ! listing=$("$GO" test -list '^Fuzz' "$pkg" 2>&1); then
		echo "$listing" >&2
		echo "fuzz: cannot list fuzz targets of $pkg" >&2
		exit 1
	fi
	for target in $(grep '^Fuzz' <<<"$listing" || true); do
		echo "fuzz: $pkg $target for $FUZZTIME"
		log=$(mktemp)
		if ! "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "$pkg" 2>&1 | tee "$log"; then
			# go test -fuzz sometimes ends with "context deadline
			# exceeded" when -fuzztime runs out while it is still
			# minimizing an input, with no failing input found: that
			# run is repeated once; any other failure stops the script.
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "fuzz: $target: go test ran out of time while minimizing; once more"
				"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "$pkg"
			else
				rm -f "$log"
				exit 1
			fi
		fi
		rm -f "$log"
		# Keep what the fuzzer found interesting as the package's seed
		# corpus (testdata/fuzz/<target>), so that go test replays it.
		cache="$("$GO" env GOCACHE)/fuzz/$pkg/$target"
		if [[ -d $cache ]]; then
			dest="$("$GO" list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
			mkdir -p "$dest"
			cp -n "$cache"/* "$dest"/ 2>/dev/null || true
			echo "fuzz: corpus of $target: $(ls "$dest" | wc -l) inputs in ${dest#"$PWD"/}"
		fi
		count=$((count + 1))
	done
done
echo "fuzz: ran $count targets"

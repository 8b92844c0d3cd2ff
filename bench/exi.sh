#!/usr/bin/env bash
# EXI codec figures (issue 5), measured side by side in one run on
# xep0323-fields-1000 (85 KB of XML): decode of each alignment against
# encoding/xml tokenising the same XML, encode from tokens against
# encoding/xml encoding the same tokens, throughput in MB/s of XML, and
# allocations per decode and encode of xep0323-fields-momentary with a
# reused Decoder/Encoder. Each figure is the median of COUNT runs.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-300ms}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== machine =="
echo "  $(uname -srm), $(nproc) CPUs, $("$GO" version | cut -d' ' -f3)"
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/^.*: /  /' || true

"$GO" test ./exi -run '^$' -bench '^Benchmark(XMLDecode|XMLEncode|Decode|Encode|Small)$' \
	-benchtime "$BENCHTIME" -count "$COUNT" -benchmem >"$out"

awk '
function median(key,   n, i, j, t, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = v[key, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return a[int((n + 1) / 2)]
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	ns = 0; mb = 0; al = 0
	for (i = 2; i <= NF; i++) {
		if ($(i) == "ns/op") ns = $(i - 1)
		if ($(i) == "MB/s") mb = $(i - 1)
		if ($(i) == "allocs/op") al = $(i - 1)
	}
	k = ++cnt[name]; v[name, k] = ns; m[name, k] = mb; a[name] = al
	names[name] = 1
}
END {
	xd = median("XMLDecode"); xe = median("XMLEncode")
	printf "== xep0323-fields-1000: median ns/op, MB/s of XML, speed-up over encoding/xml ==\n"
	printf "  %-28s %12s %9s %9s %10s\n", "benchmark", "ns/op", "MB/s", "x xml", "allocs/op"
	printf "  %-28s %12d %9.1f %9s %10d\n", "encoding/xml decode", xd, 85738 / xd * 1000, "1.00", a["XMLDecode"]
	split("bitpacked bytealigned precompression compression schema-bitpacked schema-compression", order, " ")
	for (o = 1; o in order; o++) if (("Decode/" order[o]) in names) { n = "Decode/" order[o]; printf "  %-28s %12d %9.1f %9.2f %10d\n", "exi " tolower(n), median(n), 85738 / median(n) * 1000, xd / median(n), a[n] }
	printf "  %-28s %12d %9.1f %9s %10d\n", "encoding/xml encode", xe, 85738 / xe * 1000, "1.00", a["XMLEncode"]
	for (o = 1; o in order; o++) if (("Encode/" order[o]) in names) { n = "Encode/" order[o]; printf "  %-28s %12d %9.1f %9.2f %10d\n", "exi " tolower(n), median(n), 85738 / median(n) * 1000, xe / median(n), a[n] }
	printf "== xep0323-fields-momentary (reused Decoder/Encoder, after warm-up) ==\n"
	split("Small/decode Small/encode", sm, " ")
	for (o = 1; o in sm; o++) if (sm[o] in names) { n = sm[o]; printf "  %-28s %12d ns/op %6d allocs/op\n", n, median(n), a[n] }
}' "$out"

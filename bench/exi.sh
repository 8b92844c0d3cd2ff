#!/usr/bin/env bash
# EXI codec figures (issue 5), measured side by side on
# xep0323-fields-1000 (85 KB of XML): decode of each alignment against
# encoding/xml tokenising the same XML, encode from tokens against
# encoding/xml encoding the same tokens (and, for compression, against
# encoding/xml followed by the same DEFLATE), throughput in MB/s of XML, and
# allocations per decode and encode of xep0323-fields-momentary with a
# reused Decoder/Encoder.
#
# The test binary is built once and run COUNT times; each run measures
# every benchmark once, so that a change of load on a shared machine
# hits the EXI figures and the encoding/xml figures of the same run
# alike. ns/op is the median over the runs; the speed-up is the median
# of the per-run ratios, with the lowest and highest in brackets.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-300ms}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== machine =="
echo "  $(uname -srm), $(nproc) CPUs, $("$GO" version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/^.*: /  /' || true

"$GO" test -c -o "$tmp/exi.test" ./exi
for run in $(seq "$COUNT"); do
	(cd exi && "$tmp/exi.test" -test.run '^$' -test.bench '^Benchmark(XMLDecode|XMLEncode|XMLEncodeDeflate|Decode|Encode|Small)$' \
		-test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem) | sed "s/^/$run /" >>"$tmp/out"
done
echo "  load after: $(cut -d' ' -f1-3 /proc/loadavg)"

awk '
function sort(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
}
function median(key,   n, i, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = v[key, i]
	sort(a, n)
	return a[int((n + 1) / 2)]
}
# ratio(key, ref): median, lowest and highest of the per-run ref/key
function ratio(key, ref,   n, r, i, a) {
	n = 0
	for (r = 1; r <= runs; r++) if ((key, r) in ns && (ref, r) in ns) a[++n] = ns[ref, r] / ns[key, r]
	sort(a, n)
	rmed = a[int((n + 1) / 2)]; rlo = a[1]; rhi = a[n]
}
/^[0-9]+ Benchmark/ {
	run = $1; if (run > runs) runs = run
	name = $2; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	x = 0; al = 0
	for (i = 3; i <= NF; i++) {
		if ($(i) == "ns/op") x = $(i - 1)
		if ($(i) == "allocs/op") al = $(i - 1)
	}
	k = ++cnt[name]; v[name, k] = x; ns[name, run] = x; a[name] = al
	names[name] = 1
}
function row(label, n, ref) {
	ratio(n, ref)
	printf "  %-28s %10d %8.1f %6.2f (%.2f-%.2f) %9d\n", label, median(n), 85738 / median(n) * 1000, rmed, rlo, rhi, a[n]
}
END {
	xd = median("XMLDecode"); xe = median("XMLEncode")
	printf "== xep0323-fields-1000: median ns/op, MB/s of XML, speed-up over encoding/xml (median, range over %d runs) ==\n", runs
	printf "  %-28s %10s %8s %18s %9s\n", "benchmark", "ns/op", "MB/s", "x xml", "allocs/op"
	printf "  %-28s %10d %8.1f %6s %11s %9d\n", "encoding/xml decode", xd, 85738 / xd * 1000, "1.00", "", a["XMLDecode"]
	split("bitpacked bytealigned precompression compression schema-bitpacked schema-compression", order, " ")
	for (o = 1; o in order; o++) if (("Decode/" order[o]) in names) row("exi decode/" order[o], "Decode/" order[o], "XMLDecode")
	printf "  %-28s %10d %8.1f %6s %11s %9d\n", "encoding/xml encode", xe, 85738 / xe * 1000, "1.00", "", a["XMLEncode"]
	for (o = 1; o in order; o++) if (("Encode/" order[o]) in names) row("exi encode/" order[o], "Encode/" order[o], "XMLEncode")
	if ("XMLEncodeDeflate" in names) {
		xz = median("XMLEncodeDeflate")
		printf "== compression beside XML compressed the same way (encoding/xml + the same DEFLATE, default level) ==\n"
		printf "  %-28s %10d %8.1f %6s\n", "encoding/xml encode+DEFLATE", xz, 85738 / xz * 1000, "1.00"
		split("compression schema-compression", zorder, " ")
		for (o = 1; o in zorder; o++) if (("Encode/" zorder[o]) in names) row("exi encode/" zorder[o], "Encode/" zorder[o], "XMLEncodeDeflate")
	}
	printf "== xep0323-fields-momentary (reused Decoder/Encoder, after warm-up) ==\n"
	split("Small/decode Small/encode", sm, " ")
	for (o = 1; o in sm; o++) if (sm[o] in names) { n = sm[o]; printf "  %-28s %10d ns/op %6d allocs/op\n", n, median(n), a[n] }
}' "$tmp/out"

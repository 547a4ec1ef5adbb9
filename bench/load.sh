#!/bin/sh
# bench/load.sh — risk-load on a million-line dump (limit: 10 s), and the
# operations that follow a big cache: risk-stat and risk-purge on it.
#
# Invariants:
# - Self-contained: the dump and the databases live in one mktemp folder
#   under ${TMPDIR:-/tmp}, removed on exit; the binaries measured are a
#   snapshot of bin/, so a rebuild meanwhile changes nothing.
# - Medians of RUNS runs, each on a fresh database (the reload on a full
#   one).  It reports; the exit status is 0 unless the bench itself broke.
# - BENCH_N=N changes the size (default 1000000); BENCH_QUICK=1 is 100000
#   lines and one run, for a smoke test.
set -eu

cd "$(dirname "$0")/.."
N=${BENCH_N:-1000000}
RUNS=3
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	N=100000 RUNS=1
fi
LIMIT=10	# seconds for a million lines
die() { echo "bench/load: $*" >&2; exit 2; }

for p in risk-load risk-stat risk-purge; do
	[ -x "bin/$p" ] || die "bin/$p missing: run make first"
done
command -v awk >/dev/null || die "awk not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/risk-bench-load.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir "$tmp/bin"
cp bin/risk-load bin/risk-stat bin/risk-purge "$tmp/bin/"
B=$tmp/bin

# a dump like the legacy export: numeric-looking IDs, two statuses, dates
awk -v n="$N" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "{\"id\":\"%d\",\"status\":\"%s\",\"changedAt\":\"2025-%02d-%02dT00:00:00Z\"}\n",
		    100000000 + i, (i % 7 ? "reliable" : "indebted"), i % 12 + 1, i % 28 + 1
}' >"$tmp/dump.jsonl"
size=$(wc -c <"$tmp/dump.jsonl")

# seconds of wall-clock time of a command, to the millisecond
secs() {
	s=$(date +%s.%N)
	"$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; die "failed: $*"; }
	e=$(date +%s.%N)
	echo "$s $e" | awk '{ printf "%.3f\n", $2 - $1 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "# risk-load: $N lines ($((size / 1048576)) MiB), median of $RUNS runs"
: >"$tmp/t"
i=0
while [ "$i" -lt "$RUNS" ]; do
	rm -f "$tmp"/r.db*
	secs "$B/risk-load" --db "$tmp/r.db" "$tmp/dump.jsonl" >>"$tmp/t"
	i=$((i + 1))
done
t=$(median <"$tmp/t")
limit=$(echo "$N $LIMIT" | awk '{ printf "%.3f", $1 / 1000000 * $2 }')
verdict=$(echo "$t $limit" | awk '{ print ($1 <= $2 ? "PASS" : "FAIL") }')
rate=$(echo "$N $t" | awk '{ printf "%.0f", $1 / $2 }')
echo "risk-load, empty cache      ${t} s  (${rate} lines/s; limit ${limit} s: $verdict)"
echo "$(secs "$B/risk-load" --db "$tmp/r.db" --fetched-at "$(date -u -d "+1 min" +%Y-%m-%dT%H:%M:%SZ)" "$tmp/dump.jsonl") s" |
    awk '{ printf "risk-load, over itself      %s s  (every record updated)\n", $1 }'
echo "$(secs "$B/risk-load" --db "$tmp/r.db" --fetched-at 2020-01-01 "$tmp/dump.jsonl") s" |
    awk '{ printf "risk-load, older dump       %s s  (every record kept)\n", $1 }'
head -n $((N / 10)) "$tmp/dump.jsonl" >"$tmp/tenth.jsonl"
echo "$(secs "$B/risk-load" --db "$tmp/j.db" --map '{status, changedAt}' "$tmp/tenth.jsonl") s" |
    awk -v n=$((N / 10)) '{ printf "risk-load --map (jq), %d lines  %s s\n", n, $1 }'
echo "$(secs "$B/risk-stat" --db "$tmp/r.db") s" |
    awk '{ printf "risk-stat on the full cache %s s\n", $1 }'
echo "$(secs "$B/risk-stat" --db "$tmp/r.db" --prometheus -o "$tmp/risk.prom") s" |
    awk '{ printf "risk-stat --prometheus -o   %s s\n", $1 }'
echo "$(secs "$B/risk-purge" --db "$tmp/r.db" --dry-run --older-than 0) s" |
    awk '{ printf "risk-purge --dry-run, all   %s s\n", $1 }'
echo "$(secs "$B/risk-purge" --db "$tmp/r.db" --older-than 1d) s" |
    awk '{ printf "risk-purge, nothing to do   %s s\n", $1 }'
echo "$(secs "$B/risk-purge" --db "$tmp/r.db" --older-than 0 --vacuum) s" |
    awk '{ printf "risk-purge --vacuum, all    %s s\n", $1 }'

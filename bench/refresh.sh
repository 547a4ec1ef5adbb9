#!/bin/sh
# bench/refresh.sh — risk-get one ID after a refresh of a big cache,
# against the minimal C read (bench/get1.c) of a clean copy of the same
# data (limit: 1.2x).  A big write must not leave the read path slower:
# a large -wal file left behind made every later risk-get rebuild the
# WAL index from it (issue 9: 13.2 ms against 2.6 ms).
#
# Invariants:
# - Self-contained: one mktemp folder under ${TMPDIR:-/tmp}, removed on
#   exit; the binaries measured are a snapshot of ${BENCH_BIN:-bin}
#   (BENCH_BIN=/other/bin measures another build, e.g. the old one).
# - The cache is made by the real tools (risk-enqueue makes the schema,
#   sqlite3 bulk-loads N records), then risk-load refreshes N/20 of
#   them, spread over the whole key range, as a nightly import would.
# - The clean copy is the refreshed data checkpointed into a file of its
#   own with no -wal: what a reader finds on a database nobody wrote.
# - Medians of interleaved rounds (hyperfine), never means.  It reports;
#   the exit status is 0 unless the bench itself broke.
# - BENCH_N=N changes the size (default 1000000); BENCH_QUICK=1 is
#   100000 records and fewer runs.  BENCH_REFRESH_BIG=1 repeats the case
#   at 10 million records (about 1 GB of disk and several minutes, so it
#   is not part of a plain `make bench`).
set -eu

cd "$(dirname "$0")/.."
BINDIR=${BENCH_BIN:-bin}
ROUNDS=3
RUNS=60
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROUNDS=1 RUNS=30
fi
die() { echo "bench/refresh: $*" >&2; exit 2; }

for t in hyperfine sqlite3 jq; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
for p in risk-get risk-enqueue risk-load; do
	[ -x "$BINDIR/$p" ] || die "$BINDIR/$p missing: run make first"
done
make -s bench-bin >/dev/null || die "cannot build the baselines"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/risk-bench-refresh.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir "$tmp/bin"
cp "$BINDIR/risk-get" "$BINDIR/risk-enqueue" "$BINDIR/risk-load" \
    bench/bin/get1 "$tmp/bin/"
B=$tmp/bin

median() {	# median IDX FILE...: ms, pooled over the files
	idx=$1
	shift
	jq -s --argjson i "$idx" '[.[].results[$i].times[]] | sort |
	    (length) as $n | if $n % 2 == 1 then .[($n - 1) / 2]
	    else (.[$n / 2 - 1] + .[$n / 2]) / 2 end | . * 1000' "$@"
}
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
mib() { calc "$(stat -c %s "$1" 2>/dev/null || echo 0) / 1048576" 1; }

# case N: build N records, refresh N/20, measure
case_n() {
	n=$1
	db=$tmp/risk.db
	rm -f "$tmp"/*.db "$tmp"/*.db-* "$tmp"/*.json
	"$B/risk-enqueue" --db "$db" </dev/null || die "risk-enqueue failed"
	sqlite3 "$db" >/dev/null <<EOF
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO record (id, status, changed_at, fetched_at)
SELECT printf('C%08d', i),
       CASE i % 2 WHEN 1 THEN 'reliable' ELSE 'indebted' END,
       1735948800 + i,
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - 86400000
FROM s;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
	# every 20th company, with a new status
	awk -v n="$n" 'BEGIN { for (i = 20; i <= n; i += 20)
	    printf "{\"id\":\"C%08d\",\"status\":\"watch\",\"changedAt\":\"2026-01-02T00:00:00Z\"}\n", i }' \
	    >"$tmp/refresh.jsonl"
	t0=$(date +%s%N)
	"$B/risk-load" --db "$db" "$tmp/refresh.jsonl" ||
	    die "risk-load failed"
	t1=$(date +%s%N)
	wal=$(mib "$db-wal")
	# the clean copy: the same data, checkpointed, no -wal
	cp "$db" "$tmp/clean.db"
	[ ! -e "$db-wal" ] || cp "$db-wal" "$tmp/clean.db-wal"
	sqlite3 "$tmp/clean.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
	rm -f "$tmp/clean.db-wal" "$tmp/clean.db-shm"
	id=C$(printf %08d $((n / 2)))	# refreshed (n/2 is a multiple of 20)
	[ "$("$B/get1" "$tmp/clean.db" "$id" | jq -r .status)" = watch ] ||
	    die "the refresh did not reach $id"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		hyperfine --style none -N -w 10 -r "$RUNS" \
		    --export-json "$tmp/get$r.json" \
		    "$B/risk-get --db $db $id" \
		    "$B/get1 $tmp/clean.db $id" \
		    "$B/risk-get --no-enqueue --db $db $id" \
		    >"$tmp/hf.log" 2>&1 || { cat "$tmp/hf.log" >&2; die "hyperfine failed"; }
		r=$((r + 1))
	done
	get=$(median 0 "$tmp"/get?.json)
	c=$(median 1 "$tmp"/get?.json)
	ro=$(median 2 "$tmp"/get?.json)
	ratio=$(calc "$get / $c")
	verdict=$(awk "BEGIN { print ($ratio <= 1.2 ? \"PASS\" : \"FAIL\") }")
	echo "after refreshing $((n / 20)) of $n records" \
	    "(risk-load $(calc "($t1 - $t0) / 1e9" 1) s, -wal left: $wal MiB):"
	echo "  risk-get one id $(calc "$get") ms median;" \
	    "minimal C on a clean copy $(calc "$c") ms" \
	    "(ratio $ratio, limit 1.2: $verdict)"
	echo "  (risk-get --no-enqueue $(calc "$ro") ms;" \
	    "$((ROUNDS * RUNS)) runs each, $ROUNDS interleaved rounds)"
}

echo "# risk-get after a big write ($BINDIR)"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	case_n 100000
else
	case_n "${BENCH_N:-1000000}"
	if [ "${BENCH_REFRESH_BIG:-0}" = 1 ]; then
		case_n 10000000
	fi
fi

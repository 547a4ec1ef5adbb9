#!/bin/bash
# bench/pg.sh — the programs on PostgreSQL, side by side with SQLite and
# with the least a C libpq client must do (issue 14's figures):
#   1. risk-load of N lines (limit: 30 s a million), and the same on SQLite;
#   2. risk-get of one ID, whole process, over a Unix socket, against
#      bench/bin/pg-get1 (connect, one SELECT, print): limit 1.2x;
#   3. risk-get with every ID on standard input: IDs/s, and SQLite's;
#   4. risk-drain against an instant upstream (lighttpd, static JSON),
#      1 and 4 drainers at once, --concurrency 8 (the cap they share):
#      companies/s on PostgreSQL and on SQLite.
# The server is a throwaway one (scripts/pg-server) in the bench's own
# folder, with the defaults a package installs but fsync (see PG_FSYNC).
# Self-contained and bounded (about 3 minutes; BENCH_QUICK=1 for a smoke
# test).  It reports; the exit status is 0 unless the bench itself broke.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-1000000}
N_FAST=${N_FAST:-15000}
RUNS1=${RUNS1:-100}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	N=100000 N_FAST=3000 RUNS1=20
fi
die() { echo "bench/pg: $*" >&2; exit 2; }
for t in hyperfine lighttpd curl; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
[ -x "$ROOT/bench/bin/pg-get1" ] || die "bench/bin/pg-get1 missing: make bench-bin"

W=$(mktemp -d /tmp/risk-bench-pg.XXXXXX)
chmod 755 "$W"		# the server runs as postgres when we are root
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null;
    "$ROOT/scripts/pg-server" stop "$W/pg"; rm -rf "$W"' EXIT
trap 'exit 130' INT TERM HUP
mkdir "$W/bin"
cp "$ROOT"/bin/risk-* "$W/bin/"
B=$W/bin
# fsync on, as a server that keeps data must run
URI=$(PG_SERVER_OPTS="-c fsync=on" "$ROOT/scripts/pg-server" start "$W/pg") ||
    die "no server"
SQ=$W/risk.db

ms() { date +%s%N | cut -c1-13; }
secs() {
	local s e
	s=$(ms)
	"$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; die "failed: $*"; }
	e=$(ms)
	awk -v t=$((e - s)) 'BEGIN { printf "%.2f\n", t / 1000 }'
}
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "PASS" : "FAIL" }'; }
psqlq() { psql -X -A -t -q "$URI" -c "$1"; }

echo "== PostgreSQL $(psqlq 'SHOW server_version') on a Unix socket, $(nproc) cores"

# 1. risk-load
awk -v n="$N" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "{\"id\":\"%d\",\"status\":\"%s\",\"changedAt\":\"2025-%02d-%02dT00:00:00Z\"}\n",
		    100000000 + i, (i % 7 ? "reliable" : "indebted"), i % 12 + 1, i % 28 + 1
}' >"$W/dump.jsonl"
t=$(secs "$B/risk-load" --db "$URI" "$W/dump.jsonl")
ts=$(secs "$B/risk-load" --db "$SQ" "$W/dump.jsonl")
limit=$(awk -v n="$N" 'BEGIN { printf "%.1f", n / 1000000 * 30 }')
printf 'risk-load, %d lines  : PostgreSQL %s s, SQLite %s s; limit %s s %s\n' \
    "$N" "$t" "$ts" "$limit" "$(verdict "$t" "$limit")"
psqlq 'VACUUM ANALYZE risk.record' >/dev/null

# 2. one ID, whole process
ID=$((100000000 + N / 2))
hyperfine -N -w 5 -r "$RUNS1" --export-json "$W/one.json" \
    "$B/risk-get --db $URI $ID" \
    "$ROOT/bench/bin/pg-get1 $URI $ID" >/dev/null 2>&1 || die "hyperfine failed"
read -r a b < <(python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))["results"]
print(" ".join("%.3f" % (x["median"]*1000) for x in r))' "$W/one.json")
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
printf 'risk-get, one ID     : %s ms; pg-get1 (C, libpq) %s ms; %sx; limit 1.2x %s\n' \
    "$a" "$b" "$ratio" "$(verdict "$ratio" 1.2)"

# 3. every ID on standard input
seq 100000001 $((100000000 + N)) | shuf >"$W/ids"
t=$(secs sh -c "\"$B/risk-get\" --db '$URI' --no-enqueue <'$W/ids'")
ts=$(secs sh -c "\"$B/risk-get\" --db '$SQ' --no-enqueue <'$W/ids'")
printf 'risk-get, %d IDs on stdin: PostgreSQL %s IDs/s, SQLite %s IDs/s\n' "$N" \
    "$(awk -v n="$N" -v t="$t" 'BEGIN { printf "%.0f", n / t }')" \
    "$(awk -v n="$N" -v t="$ts" 'BEGIN { printf "%.0f", n / t }')"

# 4. drains
. "$ROOT/bench/instant.sh"
instant_setup "$N_FAST"
drain_rate() {	# DB DRAINERS: companies/s of that many drainers at once
	local db=$1 k=$2 t0 t1 i dp=""
	lighttpd_start
	seq -f 'F%g' 1 "$N_FAST" | "$B/risk-enqueue" --db "$db" -q
	t0=$(ms)
	for i in $(seq "$k"); do
		"$B/risk-drain" --db "$db" -q --source "$src" --concurrency 8 &
		dp="$dp $!"
	done
	wait $dp
	t1=$(ms)
	rate=$(awk -v n="$N_FAST" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / t }')
}
for k in 1 4; do
	psqlq 'TRUNCATE risk.record, risk.history, risk.history_total, risk.queue, risk.fetch_log' >/dev/null
	rm -f "$W"/d.db*
	drain_rate "$URI" "$k"
	p=$rate
	drain_rate "$W/d.db" "$k"
	s=$rate
	left=$(psqlq 'SELECT count(*) FROM risk.queue')
	printf 'risk-drain, %d drainer(s), %d companies: PostgreSQL %s/s, SQLite %s/s (%s left queued on PostgreSQL)\n' \
	    "$k" "$N_FAST" "$p" "$s" "$left"
done

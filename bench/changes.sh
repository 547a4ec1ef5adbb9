#!/bin/bash
# bench/changes.sh — what the status history costs, and how fast
# risk-changes reads it:
#   1. risk-drain against lighttpd serving static files on 127.0.0.1 (an
#      instant upstream, where the store is the largest part of the work),
#      every answer a first answer (a history row each), beside the same
#      sources built with -DRISK_NO_HISTORY; runs alternate, and the
#      median of each round's ratio is compared, by the wall clock and
#      by risk-drain's own CPU time: need >= 0.95x; then the everyday
#      case, a refresh of the same companies with the same statuses;
#   2. risk-changes streaming a 1,000,000-row history to /dev/null:
#      need >= 200,000 rows/s;
#   3. the same with a watch list of 100,000 IDs (on stdin), which picks
#      200,000 of the rows: need >= 100,000 rows/s read;
#   4. a company's whole story (risk-changes --since 0 ID) on that
#      history, by its chain: need < 50 ms, however long the history;
#   5. risk-changes --follow idle for 10 s: need < 1% of a core.
# Self-contained and bounded (about 2 minutes); prints a table.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
W=$(mktemp -d "${TMPDIR:-/tmp}/risk-bench-changes.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
export RISK_DB=$W/risk.db
N_FAST=${N_FAST:-15000}
ROUNDS=${ROUNDS:-9}
N_ROWS=${N_ROWS:-1000000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then N_FAST=3000 ROUNDS=1 N_ROWS=200000; fi

ms() { date +%s%N | cut -c1-13; }
# cputime FILE CMD...: CMD's user + system seconds and its wall-clock
# seconds into FILE, to the microsecond (time(1) rounds CPU time to
# 10 ms, 2% of a drain here; python's own start is outside both)
cputime() {
	python3 -I -S -c 'import os, sys, time
t = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, st, ru = os.wait4(pid, 0)
t = time.monotonic() - t
open(sys.argv[1], "w").write("%.6f %.6f\n" % (ru.ru_utime + ru.ru_stime, t))
sys.exit(os.waitstatus_to_exitcode(st))' "$@"
}
fresh() { rm -f "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "PASS" : "FAIL" }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ratio A B: the median of each round's A / B (the two run back to back,
# so a machine that slows down for a while slows both)
ratio() { paste "$1" "$2" | awk '{ print $1 / $2 }' | median | awk '{ printf "%.2f", $1 }'; }

echo "== risk-changes and the status history"

# 1. drain with and without the history
mkdir -p "$W/src"
cp -r "$ROOT/Makefile" "$ROOT/lib" "$ROOT/cmd" "$ROOT/fuzz" "$W/src/"
(cd "$W/src" && rm -f lib/*.o lib/*.d lib/librisk.a cmd/*.o cmd/*.d &&
    make -s -j2 CPPFLAGS='-D_GNU_SOURCE -Ilib -DRISK_NO_HISTORY' \
    bin/risk-drain >/dev/null 2>"$W/build.err") ||
    { echo "bench: cannot build risk-drain without history:"; head -5 "$W/build.err"; exit 1; }
. "$ROOT/bench/instant.sh"
instant_setup "$N_FAST"
: >"$W/with"; : >"$W/without"; : >"$W/with.cpu"; : >"$W/without.cpu"
: >"$W/with.re"; : >"$W/without.re"
for r in $(seq "$ROUNDS"); do
	for v in with without; do
		drain=$BIN/risk-drain
		[ $v = with ] || drain=$W/src/bin/risk-drain
		lighttpd_start
		fresh
		seq -f 'F%g' 1 "$N_FAST" | "$BIN/risk-enqueue"
		cputime "$W/cpu" "$drain" --source "$src" --concurrency 8
		stored=$(sqlite3 "$RISK_DB" 'select count(*) from record')
		rows=$(sqlite3 "$RISK_DB" 'select count(*) from history')
		awk -v n="$stored" '{ printf "%.0f\n", n / $2 }' "$W/cpu" >>"$W/$v"
		# companies per CPU second of risk-drain itself: steadier than
		# the wall clock on a shared machine
		awk -v n="$stored" '{ printf "%.0f\n", n / $1 }' "$W/cpu" >>"$W/$v.cpu"
		[ $v = with ] && [ "$rows" != "$stored" ] &&
		    echo "  (with history: $rows rows for $stored records)"
		[ $v = without ] && [ "$rows" != 0 ] &&
		    echo "  (without history: $rows rows?)"
		# the everyday case: a refresh, every status the same
		seq -f 'F%g' 1 "$N_FAST" | "$BIN/risk-enqueue"
		cputime "$W/cpu" "$drain" --source "$src" --concurrency 8
		awk -v n="$stored" '{ printf "%.0f\n", n / $1 }' "$W/cpu" >>"$W/$v.re"
	done
done
rw=$(median <"$W/with")
ro=$(median <"$W/without")
ratio=$(ratio "$W/with" "$W/without")
printf 'drain, lighttpd static, C=8   : %s companies/s with history, %s without (runs: %s / %s); %sx; need >= 0.95x %s\n' \
    "$rw" "$ro" "$(tr '\n' ' ' <"$W/with" | sed 's/ $//')" "$(tr '\n' ' ' <"$W/without" | sed 's/ $//')" \
    "$ratio" "$(verdict "$ratio" 0.95)"
cw=$(median <"$W/with.cpu")
co=$(median <"$W/without.cpu")
cratio=$(ratio "$W/with.cpu" "$W/without.cpu")
printf 'drain CPU, same runs          : %s companies per CPU second with history, %s without; %sx; need >= 0.95x %s\n' \
    "$cw" "$co" "$cratio" "$(verdict "$cratio" 0.95)"
rw=$(median <"$W/with.re")
ro=$(median <"$W/without.re")
rratio=$(ratio "$W/with.re" "$W/without.re")
printf 'drain CPU, refresh, no change : %s companies per CPU second with history, %s without; %sx; need >= 0.95x %s\n' \
    "$rw" "$ro" "$rratio" "$(verdict "$rratio" 0.95)"
kill "$LPID" 2>/dev/null

# 2. streaming: a history of N_ROWS rows over N_ROWS/2 companies
fresh
"$BIN/risk-enqueue" -q init
sqlite3 "$RISK_DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N_ROWS)
    INSERT INTO history (id, status, previous, first, changed_at, fetched_at)
    SELECT 'C' || (i % ($N_ROWS / 2)), CASE i % 2 WHEN 0 THEN 'reliable' ELSE 'indebted' END,
    CASE WHEN i <= $N_ROWS / 2 THEN NULL ELSE 'reliable' END, i <= $N_ROWS / 2,
    1764000000 + i, 1764000000000 + i * 1000 FROM n"
# what risk makes of such a history: chains, and records heading them
sqlite3 "$RISK_DB" "UPDATE history SET prev_seq = p.prev FROM (SELECT seq,
    lag(seq) OVER (PARTITION BY id ORDER BY seq) AS prev FROM history) p
    WHERE p.seq = history.seq AND p.prev IS NOT NULL;
    INSERT INTO record (id, status, changed_at, fetched_at, hseq)
    SELECT id, status, changed_at, fetched_at, seq FROM history
    WHERE seq IN (SELECT max(seq) FROM history GROUP BY id)"
best() {	# best of 3 runs, ms
	for _ in 1 2 3; do
		t0=$(ms); "$@" >/dev/null; t1=$(ms); echo $((t1 - t0))
	done | sort -n | head -n 1
}
t=$(best "$BIN/risk-changes" --since 0 </dev/null)
rate=$(awk -v n="$N_ROWS" -v t="$t" 'BEGIN { printf "%.0f", n * 1000 / t }')
printf 'risk-changes, %d rows > /dev/null : %s ms, %s rows/s; need >= 200000 %s\n' \
    "$N_ROWS" "$t" "$rate" "$(verdict "$rate" 200000)"

# 3. a watch list of 100,000 IDs (every 5th company: 2 rows each)
seq -f 'C%g' 0 5 $((N_ROWS / 2 - 1)) | head -n 100000 >"$W/watch"
nw=$(wc -l <"$W/watch")
picked=$("$BIN/risk-changes" --since 0 <"$W/watch" | wc -l)
wbest() {
	for _ in 1 2 3; do
		t0=$(ms); "$BIN/risk-changes" --since 0 <"$W/watch" >/dev/null; t1=$(ms); echo $((t1 - t0))
	done | sort -n | head -n 1
}
t=$(wbest)
rate=$(awk -v n="$N_ROWS" -v t="$t" 'BEGIN { printf "%.0f", n * 1000 / t }')
printed=$(awk -v n="$picked" -v t="$t" 'BEGIN { printf "%.0f", n * 1000 / t }')
printf 'risk-changes, %d-ID watch list: %s ms for %d rows (%d printed): %s rows/s read, %s printed; need >= 100000 %s\n' \
    "$nw" "$t" "$N_ROWS" "$picked" "$rate" "$printed" "$(verdict "$rate" 100000)"

# 4. one company's story
t=$(best "$BIN/risk-changes" --since 0 C4242 </dev/null)
n=$("$BIN/risk-changes" --since 0 C4242 </dev/null | wc -l)
printf 'risk-changes --since 0 ID, %d-row history: %s ms (%d rows); need < 50 %s\n' \
    "$N_ROWS" "$t" "$n" "$(awk -v t="$t" 'BEGIN { print (t < 50) ? "PASS" : "FAIL" }')"

# 5. --follow, idle
"$BIN/risk-changes" --follow >/dev/null 2>&1 &
fpid=$!
PIDS="$PIDS $fpid"
sleep 1
ticks() { awk '{ print $14 + $15 }' "/proc/$fpid/stat"; }
a=$(ticks); sleep 10; b=$(ticks)
hz=$(getconf CLK_TCK)
pct=$(awk -v d=$((b - a)) -v hz="$hz" 'BEGIN { printf "%.2f", d * 100 / hz / 10 }')
kill -TERM "$fpid"; wait "$fpid" 2>/dev/null
printf 'risk-changes --follow idle   : %s%% of a core over 10 s (%d ticks); need < 1%% %s\n' \
    "$pct" $((b - a)) "$(awk -v p="$pct" 'BEGIN { print (p < 1) ? "PASS" : "FAIL" }')"

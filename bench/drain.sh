#!/bin/bash
# bench/drain.sh — risk-drain throughput and memory.
#   1. against the stand-in with 20-70 ms latency: companies/s against
#      the ideal C / mean latency, for C = 4 and 16;
#   2. against lighttpd serving static JSON files on 127.0.0.1 (an
#      instant upstream): companies/s, beside the shell way a user would
#      write (xargs -P + curl + jq + sqlite3) at the same concurrency,
#      on the same number of companies and the same database settings
#      (risk's own schema, WAL, synchronous=NORMAL);
#   3. peak memory of one drain over 100,000 queued companies (bounded
#      by --max-time 15s; it says how many it drained).
# Self-contained and bounded (about 5 minutes: the shell way is slow);
# prints a table.  N_SHELL=1000 shortens the shell way.
# BASE_BIN=/path/to/old/bin adds the instant upstream for that build and
# this one, side by side (e.g. a `git archive` of the last release, built).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
W=$(mktemp -d "${TMPDIR:-/tmp}/risk-bench-drain.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
export RISK_DB=$W/risk.db
N_SLOW=${N_SLOW:-0}	# 0: 150 per unit of concurrency
N_FAST=${N_FAST:-15000}
N_SHELL=${N_SHELL:-$N_FAST}
N_MEM=${N_MEM:-100000}

ms() { date +%s%N | cut -c1-13; }
fresh() { rm -f "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "PASS" : "FAIL" }'; }

echo "== risk-drain"

# 1. the stand-in, 20-70 ms
"$ROOT/scripts/legacy-standin" --port 0 --latency 20-70 >"$W/standin" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	port=$(sed -n 's/^port //p' "$W/standin"); [ -n "$port" ] && break; sleep 0.05
done
for c in 4 16; do
	n=$N_SLOW
	[ "$n" -gt 0 ] || n=$((150 * c))	# runs of about 1.7 s at the ideal rate
	fresh
	seq -f 'S%g' 1 "$n" | "$BIN/risk-enqueue"
	t0=$(ms)
	"$BIN/risk-drain" --source "http://127.0.0.1:$port/financial-risk/{id}" \
	    --concurrency $c
	t1=$(ms)
	rate=$(awk -v n="$n" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / t }')
	ideal=$(awk -v c=$c 'BEGIN { printf "%.0f", c / 0.045 }')
	need=$(awk -v i="$ideal" 'BEGIN { printf "%.0f", 0.9 * i }')
	printf 'stand-in 20-70 ms, C=%-2d : %5s companies/s; ideal C/mean %s/s; need >= %s (0.9x) %s\n' \
	    $c "$rate" "$ideal" "$need" "$(verdict "$rate" "$need")"
done

# 2. an instant upstream: lighttpd and static files
. "$ROOT/bench/instant.sh"
instant_setup "$N_FAST"
for c in 4 8; do
	lighttpd_start
	fresh
	seq -f 'F%g' 1 "$N_FAST" | "$BIN/risk-enqueue"
	t0=$(ms)
	"$BIN/risk-drain" --source "$src" --concurrency $c
	t1=$(ms)
	stored=$(sqlite3 "$RISK_DB" 'select count(*) from record')
	rate=$(awk -v n="$stored" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / t }')
	printf 'lighttpd static, C=%d     : %5s companies/s (%s stored); need >= 3000 %s\n' \
	    $c "$rate" "$stored" "$(verdict "$rate" 3000)"
	[ $c = 8 ] && risk_rate=$rate
	sqlite3 "$RISK_DB" "select '  not stored: ' || count(*) || ' x ' || reason from fetch_log where outcome <> 'stored' group by reason"
done
grep -v 'server st' "$W/lighttpd.err" 2>/dev/null | sed 's/^/  lighttpd: /' | head -3

# the same against another build (BASE_BIN=/old/bin), alternating runs
# on the same machine, so that a change's cost shows beside it
if [ -n "${BASE_BIN:-}" ]; then
	for round in 1 2 3; do
		for which in base this; do
			b=$BIN
			[ $which = base ] && b=$BASE_BIN
			lighttpd_start
			fresh
			seq -f 'F%g' 1 "$N_FAST" | "$b/risk-enqueue"
			t0=$(ms)
			"$b/risk-drain" --source "$src" --concurrency 8
			t1=$(ms)
			stored=$(sqlite3 "$RISK_DB" 'select count(*) from record')
			awk -v n="$stored" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f\n", n * 1000 / t }' >>"$W/cmp.$which"
		done
	done
	med() { sort -n "$1" | sed -n 2p; }
	printf 'lighttpd static, C=8, median of 3: base %s, this %s companies/s (%s of base); need >= 0.9 %s\n' \
	    "$(med "$W/cmp.base")" "$(med "$W/cmp.this")" \
	    "$(awk -v a="$(med "$W/cmp.this")" -v b="$(med "$W/cmp.base")" 'BEGIN { printf "%.2f", a / b }')" \
	    "$(verdict "$(awk -v a="$(med "$W/cmp.this")" -v b="$(med "$W/cmp.base")" 'BEGIN { print a / b }')" 0.9)"
fi

# the shell way, same concurrency (8), same companies, same database:
# risk's schema in WAL mode (made by risk-enqueue), synchronous=NORMAL
lighttpd_start
fresh
"$BIN/risk-enqueue" </dev/null
[ "$(sqlite3 "$RISK_DB" 'PRAGMA journal_mode')" = wal ] || echo "  (not WAL!)"
cat >"$W/one.sh" <<'SH'
#!/bin/sh
# what a user would write: fetch, map with jq, store with sqlite3
id=$1
body=$(curl -sf --max-time 5 "$URL_BASE/$id") || exit 0
echo "$body" | jq -r --arg id "$id" '"INSERT OR REPLACE INTO record (id, status, changed_at, fetched_at) VALUES(\u0027\($id)\u0027,\u0027\(.status)\u0027,CAST(strftime(\u0027%s\u0027,\u0027\(.changedAt)\u0027) AS INTEGER),CAST(strftime(\u0027%s\u0027) AS INTEGER)*1000);"' |
    sqlite3 -cmd '.timeout 10000' -cmd 'PRAGMA synchronous=NORMAL' "$RISK_DB"
SH
chmod +x "$W/one.sh"
t0=$(ms)
seq -f 'F%g' 1 "$N_SHELL" | URL_BASE="http://127.0.0.1:$port/financial-risk" \
    xargs -P 8 -n 1 "$W/one.sh"
t1=$(ms)
stored=$(sqlite3 "$RISK_DB" 'select count(*) from record')
shell_rate=$(awk -v n="$stored" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / t }')
printf 'shell way (xargs -P 8 curl|jq|sqlite3): %s companies/s (%s stored); risk-drain is %sx faster\n' \
    "$shell_rate" "$stored" "$(awk -v a="$risk_rate" -v b="$shell_rate" 'BEGIN { printf "%.0f", a / b }')"

# 3. memory with 100,000 queued (unknown to the server: 404s)
lighttpd_start
fresh
mkdir -p "$W/www/m"
seq -f 'M%g' 1 "$N_MEM" | "$BIN/risk-enqueue"
/usr/bin/time -f '%M' -o "$W/rss" "$BIN/risk-drain" --source "$src" --concurrency 8 \
    --max-time 15s
kb=$(tail -n 1 "$W/rss")
left=$(sqlite3 "$RISK_DB" 'select count(*) from queue')
printf 'peak memory, %d queued     : %s KiB (%s MiB), %d of them drained within --max-time 15s; need <= 32 MiB %s\n' \
    "$N_MEM" "$kb" "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')" \
    $((N_MEM - left)) "$(verdict $((32768 - kb)) 0)"

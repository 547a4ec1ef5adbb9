#!/bin/bash
# Contention: drains, readers, writers and purges on one database at
# once for a while (about 12 s).  Nobody who kept the default lock
# timeout may see "database is locked"; the stand-in never sees more
# requests in flight than the cap that every drain was given; and every
# company queued ends stored, still queued or dead-lettered.  A reader
# that asked for a 1 ms lock timeout may be told to try again (exit 75),
# and then in the house form.
#
# CONTENTION_SECONDS=N (12) sets how long the load runs.
. "$(dirname "$0")/../lib.sh"

secs=${CONTENTION_SECONDS:-12}
cap=3
standin --latency 5-60 --fail-rate 0.1 --log "$T/requests.log"
DRAIN=(risk-drain -q --source "$SOURCE" --concurrency $cap --timeout 1s
    --lease 3s --backoff 100ms --max-attempts 4 --breaker 0)

seq -f 'C%g' 1 200 >"$T/enqueued"
risk-enqueue <"$T/enqueued"
end=$(( $(date +%s) + secs ))
mkdir "$T/st"

# each worker loops until the end, and keeps the exit status of every run
worker() {	# worker NAME CMD...
	local name=$1 n=0 st
	shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>>"$T/st/$name.err" </dev/null
		st=$?
		echo "$st" >>"$T/st/$name.rc"
		n=$((n + 1))
	done
}
drainer() { worker "drain$1" "${DRAIN[@]}" --max-time 3s; }
reader() {	# risk-get of a random sample of what was queued
	local name=reader$1 n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		shuf -n 40 "$T/enqueued" | risk-get $2 >/dev/null \
		    2>>"$T/st/$name.err"
		echo "$?" >>"$T/st/$name.rc"
	done
}
writer() {	# new companies in batches; listed once queued
	local i=0
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		seq -f "W$1-$i-%g" 1 5 >"$T/w$1"
		risk-enqueue <"$T/w$1" 2>>"$T/st/writer$1.err"
		st=$?
		echo "$st" >>"$T/st/writer$1.rc"
		[ "$st" -ne 0 ] || cat "$T/w$1" >>"$T/enqueued.w$1"
		sleep 0.2
	done
}

pids=()
for i in 1 2 3; do drainer $i & pids+=($!); done
reader 1 "" & pids+=($!)
reader 2 "--no-enqueue" & pids+=($!)
reader 3 "--max-age 1s" & pids+=($!)
writer 1 & pids+=($!)
writer 2 & pids+=($!)
if [ -x "$BIN/risk-purge" ]; then
	( while [ "$(date +%s)" -lt "$end" ]; do
		risk-purge -q --older-than 1h --log-older-than 1s \
		    >/dev/null 2>>"$T/st/purge.err"
		echo "$?" >>"$T/st/purge.rc"
		risk-purge -q --dead --older-than 1h \
		    >/dev/null 2>>"$T/st/purge.err"
		echo "$?" >>"$T/st/purge.rc"
		sleep 0.2
	done ) & pids+=($!)
else
	echo "# contention.sh: bin/risk-purge not built: purges skipped"
fi
# one reader that asked for a short lock timeout
( while [ "$(date +%s)" -lt "$end" ]; do
	shuf -n 40 "$T/enqueued" | RISK_LOCK_TIMEOUT=1ms risk-get \
	    >/dev/null 2>>"$T/short.err"
	echo "$?" >>"$T/short.rc"
done ) & pids+=($!)
wait "${pids[@]}"

cat "$T"/enqueued.w* >>"$T/enqueued" 2>/dev/null
stats=$(standin_get /_stats)
max_inflight=$(echo "$stats" | jq .max_inflight)
requests=$(echo "$stats" | jq .requests)

# finish the queue: leases run out, retries wait 100 ms
sleep 1
for _ in $(seq 20); do
	run "${DRAIN[@]}" --max-time 20s
	[ "$rc" -eq 0 ] || break
	[ "$(q 'select count(*) from queue')" -gt 0 ] || break
	sleep 0.3
done
expect_rc 0

ids_load "$T/enqueued"
n=$(ids_q "select count(*) from e.enq")
inv=$(ids_q "SELECT count(*) FROM e.enq WHERE
      (SELECT count(*) FROM record r WHERE r.id = enq.id AND r.status IS NOT NULL)
    + (SELECT count(*) FROM queue x WHERE x.id = enq.id)
    + (SELECT count(*) FROM dead d WHERE d.id = enq.id AND d.reason <> '')
    <> 1")
stored=$(ids_q "SELECT count(*) FROM e.enq JOIN record USING (id)")
dead=$(ids_q "SELECT count(*) FROM e.enq JOIN dead USING (id)")
queued=$(ids_q "SELECT count(*) FROM e.enq JOIN queue USING (id)")
runs() { cat "$T"/st/$1*.rc 2>/dev/null | wc -l; }
short_busy=$(grep -c . "$T/short.err" 2>/dev/null)
echo "# contention.sh: ${secs} s: $(runs drain) drains, $(runs reader) readers," \
    "$(runs writer) writers, $(runs purge) purges;" \
    "$requests requests, max in flight $max_inflight (cap $cap);" \
    "$n companies: $stored stored, $queued queued, $dead dead;" \
    "short-timeout reader: $(grep -vc '^[01]$' "$T/short.rc") of" \
    "$(wc -l <"$T/short.rc") runs told to retry"

expect "every kind of worker ran" [ "$(runs drain)" -gt 3 -a "$(runs reader)" -gt 10 -a "$(runs writer)" -gt 10 ]
locked=$(cat "$T"/st/*.err | grep -ci 'locked')
expect "no 'database is locked' with the default timeout ($locked)" [ "$locked" = 0 ]
expect "no other errors either" [ "$(cat "$T"/st/*.err | grep -v 'lease lost' | wc -l)" = 0 ]
expect "drains, writers and purges all exited 0" [ "$(cat "$T"/st/drain*.rc "$T"/st/writer*.rc "$T"/st/purge*.rc 2>/dev/null | grep -vc '^0$')" = 0 ]
expect "readers exited 0 or 1" [ "$(cat "$T"/st/reader*.rc | grep -vc '^[01]$')" = 0 ]
expect "the cap held: max in flight $max_inflight <= $cap" [ "$max_inflight" -le $cap ]
expect "the stand-in was kept busy ($requests requests)" [ "$requests" -gt 100 ]
expect "every company exactly one of stored, queued, dead ($inv not)" [ "$inv" = 0 ]
expect "the counts add up ($stored + $queued + $dead = $n)" [ $((stored + queued + dead)) = "$n" ]
expect "a short timeout ends in 75 or success" [ "$(grep -vc '^\(0\|1\|75\)$' "$T/short.rc")" = 0 ]
if on_pg; then
	busy='^risk-get: postgresql://[^ ]*: '
else
	busy='^risk-get: .*database is locked (waited 1 ms)'
fi
expect "and says so in the house form" [ "$(grep -vc "$busy" "$T/short.err")" = 0 ]
if on_sqlite; then
	expect "PRAGMA integrity_check is ok" [ "$(q 'PRAGMA integrity_check')" = ok ]
	# the history's chains, written by drains in turn, each keeping the
	# next seq from one of its transactions to the next
	expect "every link leads to an older row of the same company" \
	    [ "$(q 'SELECT count(*) FROM history h WHERE prev_seq IS NOT NULL
	    AND NOT EXISTS (SELECT 1 FROM history p WHERE p.seq = h.prev_seq
	    AND p.id = h.id AND p.seq < h.seq)')" = 0 ]
	expect "every record heads its company's chain" \
	    [ "$(q 'SELECT count(*) FROM record r WHERE r.hseq IS NOT
	    (SELECT max(seq) FROM history h WHERE h.id = r.id)')" = 0 ]
	expect "every company with rows has one first answer at most" \
	    [ "$(q 'SELECT count(*) FROM (SELECT id FROM history WHERE first
	    GROUP BY id HAVING count(*) > 1)')" = 0 ]
fi

finish

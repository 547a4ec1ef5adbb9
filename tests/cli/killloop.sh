#!/bin/bash
# The kill loop: drains against a slow, failing stand-in are killed with
# SIGKILL at random moments, over and over, while more companies are
# queued; then a clean drain runs.  Whatever the timing, every company
# ever queued must end exactly one of stored, still queued, or
# dead-lettered with a reason; no record may go back in time; and the
# database must pass PRAGMA integrity_check (a SQLite file).  Loads of a dump whose
# statuses flip from round to round are killed the same way: every
# record must end in step with its status history (the newest history
# row of each company carries the record's status).
#
# KILLLOOP_SEED=N repeats a run's timing choices; KILLLOOP_ITER=N (25)
# sets how many rounds.  Bounded: about 20 s.
. "$(dirname "$0")/../lib.sh"

seed=${KILLLOOP_SEED:-$(( $(date +%s) % 32768 ))}
iters=${KILLLOOP_ITER:-25}
RANDOM=$seed
echo "# killloop.sh: seed $seed ($iters rounds)"
# between 0 and $1 milliseconds, as seconds for sleep
rsleep() { sleep "$(printf '0.%03d' $((RANDOM % $1)))"; }

standin --latency 0-80 --fail-rate 0.2 --log "$T/requests.log"
DRAIN=(risk-drain -q --source "$SOURCE" --timeout 500ms --lease 1s
    --backoff 50ms --max-attempts 3 --breaker 0)
: >"$T/enqueued"
: >"$T/snap.prev"
bad_time=0 bad_integrity=0 kills=0 lkills=0 bad_step=0 n=0
# records whose newest history row is missing or says another status
# (on SQLite, or is not the head of the company's chain, record.hseq)
head=
if on_sqlite; then sqlite=true head="AND h.seq = r.hseq"; else sqlite=false; fi
step="SELECT count(*) FROM record r WHERE NOT EXISTS (SELECT 1 FROM
    history h WHERE h.id = r.id AND h.status IS NOT DISTINCT FROM r.status
    AND h.seq = (SELECT max(seq) FROM history g WHERE g.id = r.id) $head)"

for i in $(seq "$iters"); do
	# a batch of new companies, some given twice (idempotent), queued
	# while an earlier round's leases may still be held
	batch=$((20 + RANDOM % 30))
	seq -f "K$i-%g" 1 "$batch" >"$T/batch"
	head -n 5 "$T/batch" >>"$T/batch"
	risk-enqueue -q <"$T/batch" &
	enq=$!
	# one or two drains, of which one or all are killed at random
	"${DRAIN[@]}" --concurrency $((1 + RANDOM % 6)) 2>>"$T/drain.err" &
	d1=$!
	d2=
	if [ $((RANDOM % 2)) -eq 0 ]; then
		"${DRAIN[@]}" --concurrency $((1 + RANDOM % 3)) \
		    2>>"$T/drain.err" &
		d2=$!
	fi
	# a dump of the same 300 companies, statuses drawn anew each round,
	# loaded in small batches and killed at random too
	awk -v r=$RANDOM 'BEGIN { srand(r); for (i = 1; i <= 300; i++)
	    printf "{\"id\":\"L%d\",\"status\":\"%s\"}\n", i,
	    rand() < 0.5 ? "reliable" : "indebted" }' >"$T/dump"
	# half the dump, then a pause longer than any kill's delay: the kill
	# always finds the load running, mid-write or between batches
	{ head -n 150 "$T/dump"; sleep 1; tail -n 150 "$T/dump"; } |
	    risk-load -q --batch 7 2>>"$T/drain.err" &
	ld=$!
	rsleep 400
	kill -9 "$ld" 2>/dev/null && lkills=$((lkills + 1))
	kill -9 "$d1" 2>/dev/null && kills=$((kills + 1))
	if [ -n "$d2" ]; then
		rsleep 200
		kill -9 "$d2" 2>/dev/null && kills=$((kills + 1))
	fi
	wait "$enq" || { LAST="risk-enqueue (round $i)"; fail "enqueue failed"; }
	sort -u "$T/batch" >>"$T/enqueued"
	wait "$d1" 2>/dev/null
	[ -z "$d2" ] || wait "$d2" 2>/dev/null
	wait "$ld" 2>/dev/null
	bad_step=$((bad_step + $(q "$step")))
	# no record goes back in time, and none disappears
	q "select id || ' ' || fetched_at from record order by id" >"$T/snap"
	back=$(join "$T/snap.prev" "$T/snap" -a 1 |
	    awk 'NF < 3 || $3 < $2 { n++ } END { print n + 0 }')
	bad_time=$((bad_time + back))
	mv "$T/snap" "$T/snap.prev"
	if $sqlite && [ $((i % 5)) -eq 0 ] &&
	    [ "$(q 'PRAGMA quick_check')" != ok ]; then
		bad_integrity=$((bad_integrity + 1))
	fi
done 2>>"$T/shell.err"	# the shell's "Killed" notices
n=$(wc -l <"$T/enqueued")

# a clean drain: leases run out within a second; retries wait for 50 ms
# of backoff, so a few runs finish the queue
sleep 1.1
for _ in $(seq 20); do
	run "${DRAIN[@]}" --concurrency 4 --max-time 20s
	[ "$rc" -eq 0 ] || break
	[ "$(q 'select count(*) from queue')" -gt 0 ] || break
	sleep 0.2
done
expect_rc 0
expect_err_empty

# the invariant, in SQL over the list of every company ever queued
ids_load "$T/enqueued"
where="FROM e.enq"
inv=$(ids_q "SELECT count(*) $where WHERE
      (SELECT count(*) FROM record r WHERE r.id = enq.id AND r.status IS NOT NULL)
    + (SELECT count(*) FROM queue x WHERE x.id = enq.id)
    + (SELECT count(*) FROM dead d WHERE d.id = enq.id AND d.reason <> '')
    <> 1")
stored=$(ids_q "SELECT count(*) $where JOIN record USING (id)")
queued=$(ids_q "SELECT count(*) $where JOIN queue USING (id)")
dead=$(ids_q "SELECT count(*) $where JOIN dead USING (id)")
extra=$(ids_q "SELECT count(*) FROM record WHERE id NOT IN (SELECT id FROM e.enq) AND id NOT LIKE 'L%'")
echo "# killloop.sh: $iters rounds, $kills drains killed, $n companies:" \
    "$stored stored, $queued queued, $dead dead"
expect "$n companies queued" [ "$n" -gt 500 ]
expect "every company exactly one of stored, queued, dead ($inv not)" [ "$inv" = 0 ]
expect "the counts add up ($stored + $queued + $dead = $n)" [ $((stored + queued + dead)) = "$n" ]
expect "nothing stored that was never queued" [ "$extra" = 0 ]
expect "drains were killed ($kills)" [ "$kills" -ge "$iters" ]
expect "no record went back in time or vanished ($bad_time)" [ "$bad_time" = 0 ]
q "select id || ' ' || fetched_at from record order by id" >"$T/snap"
expect "none after the clean drain either" [ "$(join "$T/snap.prev" "$T/snap" -a 1 | awk 'NF < 3 || $3 < $2' | wc -l)" = 0 ]
if $sqlite; then
	expect "quick_check every fifth round ($bad_integrity bad)" [ "$bad_integrity" = 0 ]
fi
expect "loads were killed ($lkills)" [ "$lkills" -ge 1 ]
expect "every record in step with its history, every round ($bad_step not)" [ "$bad_step" = 0 ]
expect "and at the end" [ "$(q "$step")" = 0 ]
expect "no history without its record" [ "$(q 'SELECT count(*) FROM history WHERE id NOT IN (SELECT id FROM record)')" = 0 ]
expect "flips were recorded (loads)" [ "$(q "SELECT count(*) FROM history WHERE NOT first AND id LIKE 'L%'")" -gt 0 ]
if $sqlite; then
	expect "PRAGMA integrity_check is ok" [ "$(q 'PRAGMA integrity_check')" = ok ]
fi
expect "dead letters carry a reason" [ "$(q "select count(*) from dead where reason = ''")" = 0 ]
expect "the stand-in saw failures to retry" grep -q $'\t503' "$T/requests.log"
# A program killed while LeakSanitizer checks it at exit leaves the
# tracer's "Unable to get registers from thread N" behind: the runtime's
# note about the kill, not a drain's error.
expect "no drain reported an error" not grep -v -e 'lease lost' \
    -e '^==[0-9]*==Unable to get registers from thread [0-9]*\.$' "$T/drain.err"

finish

#!/bin/bash
# risk-drain against a real HTTP server on 127.0.0.1 (the stand-in with
# canned faults): outcomes, retries, dead letters, the concurrency cap
# across overlapping runs, kills, time budgets and lost leases.
. "$(dirname "$0")/../lib.sh"

# until SQL answers at least N (5 s at most): no fixed sleeps on a busy box
wait_for() {
	local i
	for i in $(seq 100); do
		[ "$(q "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
standin --latency 0 --log "$T/requests.log"

# --- every kind of answer, in one batch with failing siblings (the
# throttles, 429 and 503 with Retry-After, are in health.sh)
run risk-enqueue C1 C2 unknown-1 fail500-a notjson-d \
    html-e redirect-f huge-g hugechunk-h badmap-i flaky2-j
run risk-drain --backoff 1h --max-attempts 3
expect_rc 0
expect_out_empty
expect_err_empty
run risk-get C1 C2
expect_rc 0
expect_out_re '"id":"C1","status":"(reliable|indebted)","status_changed_at":"2025-01-04T00:00:00Z"'
run risk-get unknown-1
expect_out_re '"id":"unknown-1","error":"not_found"'
expect "three company failures wait for a retry, counted" [ "$(q 'select id from queue where token is null and attempts=1 order by id' | paste -sd,)" = "badmap-i,huge-g,hugechunk-h" ]
expect "five service failures wait uncounted" [ "$(q "select id from queue where token is null and attempts=0 and last_error<>'' order by id" | paste -sd,)" = "fail500-a,flaky2-j,html-e,notjson-d,redirect-f" ]
expect "the fetch log says whose failure" [ "$(q "select class||':'||count(*) from fetch_log where class is not null group by class order by class" | paste -sd,)" = "company:3,down:5" ]
err() { q "select last_error from queue where id='$1'"; }
expect "500 kept as the reason" [ "$(err fail500-a)" = "HTTP 500" ]
expect "503 kept" [ "$(err flaky2-j)" = "HTTP 503" ]
expect "non-JSON is a failure" [ "$(err notjson-d | cut -c1-17)" = "body is not JSON:" ]
expect "HTML is a failure" [ "$(err html-e | cut -c1-17)" = "body is not JSON:" ]
expect "redirect not followed" [ "$(err redirect-f)" = "redirect not followed (HTTP 302)" ]
expect "huge body with Content-Length refused" [ "$(err huge-g)" = "body over 1048576 bytes" ]
expect "huge chunked body refused" [ "$(err hugechunk-h)" = "body over 1048576 bytes" ]
expect "a mapping without status fails" [ "$(err badmap-i)" = "mapping gave no string status" ]
expect "reasons are one line" [ "$(q "select count(*) from queue where last_error like '%
%'")" = 0 ]
expect "redirect target never fetched" [ "$(grep -c $'\tx\t' "$T/requests.log")" = 0 ]
expect "fetch log has a row per attempt" [ "$(q 'select count(*) from fetch_log')" = 11 ]
expect "fetch log outcomes" [ "$(q "select outcome||':'||count(*) from fetch_log group by outcome order by outcome" | paste -sd,)" = "deferred:5,not_found:1,retry:3,stored:2" ]
expect "drain summary kept" [ "$(q "select claimed, stored, not_found, retried, released from drain_run")" = "11|2|1|3|5" ]

# --- fails twice then works; dead letter after max attempts (the
# company's own failures only; the service's never dead-letter)
q "delete from queue where id not in ('badmap-i', 'huge-g', 'hugechunk-h', 'flaky2-j')"
q "update queue set due=0"
run risk-drain --backoff 1ms --max-attempts 3 -v
expect_rc 0
expect_err_re '^risk-drain: claimed [0-9]+, stored 1, not found 0, retried [0-9]+, dead 3, released [0-9]+ in [0-9.]+ s$'
cat "$T/err" >"$T/dead.err"
# retries due a moment later are waited for: one run settles them all
expect "one run drained every retry" [ "$(q "select count(*) from queue")" = 0 ]
expect "dead-lettered with its reason" grep -q '^risk-drain: badmap-i: dead-lettered after 3 attempts: mapping gave no string status$' "$T/dead.err"
run risk-get flaky2-j
expect_rc 0
expect "three dead letters with reasons and attempts" [ "$(q "select count(*) from dead where attempts=3 and reason<>''")" = 3 ]
run risk-enqueue badmap-i
expect_rc 1
q "delete from queue"

# --- a retry due a millisecond after the last answer is waited for:
# one run takes a lone failing company through every attempt
run risk-enqueue badmap-lone
run risk-drain --backoff 1ms --max-attempts 4
expect_rc 0
expect "dead after 4 attempts in one run" [ "$(q "select attempts from dead where id='badmap-lone'")" = 4 ]

# --- a hung response: the timeout ends it
run risk-enqueue hang-1
start=$(date +%s%N)
run risk-drain --timeout 1s
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 0
expect "timed out after about 1 s ($took ms)" [ "$took" -ge 900 -a "$took" -lt 4000 ]
hang_err=$(q "select last_error from queue where id='hang-1'")
# (a machine under load may not even connect within the second)
expect "timeout kept as reason ($hang_err)" [ "${hang_err#connect }" = "timed out after 1000 ms" ]
q "delete from queue"

# --- connection refused; the circuit breaker stops the run early
q "delete from source"		# forget the failures above
dead_port=$(free_port)
seq -f 'R%g' 1 20 | risk-enqueue
run risk-drain --source "http://127.0.0.1:$dead_port/x/{id}" --breaker 3 --concurrency 1
expect_rc 75
expect_err_re '^risk-drain: source: legacy service down: 3 of the last 32 answers failed \(last: connection refused\); next probe after [0-9T:-]+Z$'
expect "stopped after three requests" [ "$(q "select count(*) from queue where last_error='connection refused'")" = 3 ]
expect "none of them counted" [ "$(q 'select count(*) from queue where attempts>0')" = 0 ]
q "delete from queue; delete from source"

# --- the breaker names the count that opened it, not the window at the
# end of the run (a failure still in flight came after)
q "delete from queue"
run risk-enqueue fail500-x fail500-y delay1000-fail500-z
run risk-drain --breaker 2 --concurrency 3
expect_rc 75
expect_err_re '^risk-drain: source: legacy service down: 2 of the last 32 answers failed \(last: HTTP 500\); next probe after [0-9T:-]+Z$'
q "delete from queue; delete from source"

# --- two overlapping drains: the cap holds for both, nobody is fetched twice
standin --latency 50-100 --log "$T/slow.log"
seq -f 'O%g' 1 120 | risk-enqueue
risk-drain --source "$SOURCE" --concurrency 3 2>"$T/d1" &
p1=$!
risk-drain --source "$SOURCE" --concurrency 3 2>"$T/d2" &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
stats=$(standin_get /_stats)
expect "both drains succeeded" [ "$s1$s2" = 00 ]
expect "all 120 stored" [ "$(q "select count(*) from record where id like 'O%'")" = 120 ]
expect "never more than 3 requests in flight together ($stats)" \
    [ "$(echo "$stats" | jq .max_inflight)" -le 3 ]
expect "each company fetched once" [ "$(cut -f2 "$T/slow.log" | grep -c '^O')" = 120 ]

# --- kill -9 mid-drain: leases run out and a second drain finishes
seq -f 'K%g' 1 60 | risk-enqueue
risk-drain --source "$SOURCE" --concurrency 4 --timeout 1s --lease 2s &
pid=$!
wait_for "select count(*) from record where id like 'K%'" 4
exec 3>&2 2>/dev/null	# bash would report the kill on stderr
kill -9 $pid
wait $pid
exec 2>&3 3>&-
left=$(q "select count(*) from queue where id like 'K%'")
expect "killed with work left ($left queued)" [ "$left" -gt 0 ]
sleep 2.5	# past every lease the killed drainer held (2 s)
run risk-drain --source "$SOURCE" --concurrency 4 --timeout 1s --lease 2s
expect_rc 0
expect "every company stored after the kill" [ "$(q "select count(*) from record where id like 'K%'")" = 60 ]
expect "queue empty" [ "$(q "select count(*) from queue where id like 'K%'")" = 0 ]

# --- SIGTERM: stops claiming, aborts transfers, hands leases back
seq -f 'T%g' 1 10 | risk-enqueue
standin --latency 3000 --log "$T/term.log"
risk-drain --source "$SOURCE" --concurrency 2 -v 2>"$T/term.err" &
pid=$!
wait_for "select count(*) from queue where id like 'T%' and token is not null" 2
sleep 0.2
start=$(date +%s%N)
kill -TERM $pid
wait $pid
st=$?
took=$((($(date +%s%N) - start) / 1000000))
expect "SIGTERM exit is 'try again' (75)" [ "$st" = 75 ]
expect "stopped within a second ($took ms)" [ "$took" -lt 1000 ]
expect "leases handed back, attempts not counted" [ "$(q "select count(*) from queue where id like 'T%' and token is null and attempts=0")" = 10 ]
expect "summary says released" grep -q 'released 2' "$T/term.err"

# --- --max-time: stops claiming when another request cannot fit
q "delete from queue"
standin --latency 400 --log "$T/mt.log"
seq -f 'M%g' 1 40 | risk-enqueue
start=$(date +%s%N)
run risk-drain --source "$SOURCE" --concurrency 2 --timeout 1s --max-time 2s
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 0
expect "run ended within --max-time ($took ms)" [ "$took" -le 2500 ]
expect "some left for the next run" [ "$(q "select count(*) from queue where id like 'M%'")" -gt 0 ]

# --- a drainer whose lease was lost cannot overwrite newer data
q "delete from queue"
standin --latency 1500 --log "$T/lost.log"
slow_source=$SOURCE
standin --latency 0
risk-enqueue L1
risk-drain --source "$slow_source" --lease 2100ms --timeout 2s --concurrency 1 2>"$T/lost.err" &
pid=$!
wait_for "select count(*) from queue where id='L1' and token is not null" 1
kill -STOP $pid		# a drainer that stalls past its lease
sleep 2.3
run risk-drain --source "$SOURCE"	# takes the entry and stores it
expect_rc 0
for _ in 1 2 3; do	# on a loaded machine, once more if that failed
	[ -z "$(q "select fetched_at from record where id='L1'")" ] || break
	q "update queue set due=0 where id='L1'"
	risk-drain --source "$SOURCE" 2>/dev/null
done
first=$(q "select fetched_at from record where id='L1'")
expect "the second drainer stored L1" [ -n "$first" ]
kill -CONT $pid
wait $pid
expect "the stalled drainer was told its lease was lost" grep -q '^risk-drain: L1: lease lost' "$T/lost.err"
expect "the fresh answer stays" [ "$(q "select fetched_at from record where id='L1'")" = "$first" ]
expect "and L1 is not queued again" [ "$(q "select count(*) from queue where id='L1'")" = 0 ]

# --- a company whose every worker died is buried, not retried forever
q "delete from queue"
risk-enqueue P1
q "update queue set attempts=5, last_error='timed out' where id='P1'"
run risk-drain --source "$SOURCE" -v
expect_rc 0
expect_err_re '^risk-drain: P1: dead-lettered: no answer in 5 attempts \(the worker stopped each time\); last error: timed out$'
expect "P1 dead, not fetched" [ "$(q "select attempts from dead where id='P1'")$(q "select count(*) from record where id='P1'")" = 50 ]
# a hostile row written straight into the queue file is never fetched;
# PostgreSQL's schema refuses it
if on_pg; then
	LAST="insert a hostile queue row"
	expect "the queue's CHECK refuses a hostile id" \
	    not q "insert into queue (id, due, enqueued_at) values ('../../admin', 0, 0)" 2>/dev/null
else
	q "insert into queue (id, due, enqueued_at) values ('../../admin', 0, 0)"
	run risk-drain --source "$SOURCE" -v
	expect_rc 0
	expect_err_re '^risk-drain: \.\./\.\./admin: dead-lettered: invalid company id$'
	expect "dead with its reason, never stored" [ "$(q "select reason from dead where id='../../admin'")$(q "select count(*) from record where id='../../admin'")" = "invalid company id0" ]
fi

# --- bad options
run risk-drain --source 'ftp://x/{id}'
expect_rc 2
expect_err_re '^risk-drain: --source: '
run risk-drain --source 'http://x/no-id'
expect_rc 2
run env -u RISK_SOURCE_URL risk-drain
expect_rc 2
expect_err_re 'no legacy service'
run risk-drain --concurrency 0
expect_rc 2
expect_err_re '^risk-drain: --concurrency: 0: not a number from 1 to 256'
run risk-drain --timeout 10s --lease 5s
expect_rc 2
expect_err_re 'lease must be longer than --timeout$'
run risk-drain --timeout 5s --lease 6s --map-timeout 2s --map .
expect_rc 2
expect_err_re 'lease must be longer than --timeout plus --map-timeout$'
run risk-drain --map '{'
expect_rc 2
expect_err_re '^risk-drain: --map: invalid jq filter'
run risk-drain C1
expect_rc 2
expect_err_re 'unexpected argument'

finish

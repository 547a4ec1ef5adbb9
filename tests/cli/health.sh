#!/bin/bash
# The legacy service's bad days (SPEC, "The legacy service's health"):
# every case with the real binaries against the stand-in on 127.0.0.1,
# requests counted at the stand-in (its --log, one line per request).
# A total outage, a maintenance page, a wrong key, a throttle: none of
# them dead-letters a company, each run says so in one line, and the
# queue drains whole once the service is back.
. "$(dirname "$0")/../lib.sh"

reqs() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
# time passes: everything due or cooling down is an hour nearer
later() { q "update queue set due = due - 3600000; update source set until = until - 3600000, since = since - 3600000"; }
# one line on stderr, and it is the one given (an ERE)
one_line() {
	[ "$(wc -l <"$T/err")" = 1 ] && grep -Eq -- "$1" "$T/err"
}

# --- a wrong key, over several runs --------------------------------------
export RISK_DB=$(new_db key)
standin --latency 0 --mode badkey --api-key good-key --log "$T/key.log"
printf 'X-Api-Key: wrong-key\n' >"$T/cred"
chmod 600 "$T/cred"
seq -f 'K%g' 1 30 | risk-enqueue
bad=0
for i in 1 2 3 4 5 6; do
	run risk-drain -q --credentials "$T/cred" --max-attempts 3
	[ "$rc" = 77 ] && one_line "^risk-drain: source: credentials rejected \(HTTP 401\); check $T/cred\$" || bad=$((bad + 1))
	grep -q wrong-key "$T/err" && bad=$((bad + 1))
done
expect "six runs: exit 77 and one line naming the file, never its content ($bad bad)" [ "$bad" = 0 ]
n=$(reqs "$T/key.log")
expect "no request after the first rejection: $n requests, at most the 4 in flight" [ "$n" -ge 1 -a "$n" -le 4 ]
expect "zero dead letters" [ "$(q 'select count(*) from dead')" = 0 ]
expect "no attempt counted" [ "$(q 'select count(*) from queue where attempts > 0')" = 0 ]
run risk-stat
expect_out_re '^source +credentials rejected since [0-9T:-]+Z \(HTTP 401\)'
run risk-stat --prometheus
expect_out_re '^risk_source_state\{state="credentials_rejected"\} 1$'
# a cool-down later, the same file: one probe, no burst
later
run risk-drain -q --credentials "$T/cred"
expect_rc 77
expect "one probe per cool-down: $(reqs "$T/key.log") requests" [ "$(reqs "$T/key.log")" = $((n + 1)) ]
run risk-drain -q --credentials "$T/cred"
expect "and none before the next ($(reqs "$T/key.log"))" [ "$(reqs "$T/key.log")" = $((n + 1)) ]
# the operator fixes the file: the next run probes at once and drains all
printf 'X-Api-Key: good-key\n' >"$T/cred"
run risk-drain -q --credentials "$T/cred"
expect_rc 0
expect_err_empty
expect "all 30 stored after the fix" [ "$(q "select count(*) from record where status is not null")" = 30 ]
expect "queue empty, no redrive needed" [ "$(q 'select count(*) from queue')$(q 'select count(*) from dead')" = 00 ]
expect "each company fetched once after the fix" [ "$(reqs "$T/key.log")" = $((n + 1 + 30)) ]

# --- a total outage (503), then a maintenance page, over 20 runs --------
export RISK_DB=$(new_db down)
standin --latency 0 --mode outage --log "$T/down.log"
seq -f 'D%g' 1 40 | risk-enqueue
bad=0
for i in $(seq 10); do
	run risk-drain -q --max-attempts 3
	[ "$rc" = 75 ] && one_line '^risk-drain: source: legacy service down' || bad=$((bad + 1))
done
first=$(reqs "$T/down.log")
expect "ten outage runs: exit 75 and one line each ($bad bad)" [ "$bad" = 0 ]
expect "the breaker opened within the window: $first requests" [ "$first" -ge 28 -a "$first" -le 32 ]
run risk-stat
expect_out_re '^source +down since [0-9T:-]+Z \(HTTP 503\)'
expect_out_re '^failures in the last hour +0 company, (2[89]|3[0-2]) down, 0 throttled, 0 credentials$'
run risk-stat --json
expect "JSON: the source is down" jq -e '.source.state == "down" and .source.up == false and .source.reason == "HTTP 503" and .failures_last_hour.down >= 28' "$T/out"
run risk-stat --prometheus
expect_out_re '^risk_source_up 0$'
expect_out_re '^risk_source_state\{state="down"\} 1$'
expect_out_re '^risk_source_state\{state="ok"\} 0$'
expect_out_re '^risk_source_failures_last_hour\{class="down"\} (2[89]|3[0-2])$'
standin_get "/_mode?set=maintenance" >/dev/null
later		# a cool-down passed: one probe, a maintenance page
bad=0
for i in $(seq 10); do
	run risk-drain -q --max-attempts 3
	[ "$rc" = 75 ] && one_line '^risk-drain: source: legacy service down' || bad=$((bad + 1))
done
expect "ten maintenance runs: exit 75 and one line each ($bad bad)" [ "$bad" = 0 ]
expect "the maintenance page is the service's failure (one probe, still down)" [ "$(reqs "$T/down.log")" = $((first + 1)) ]
expect "the probe's reason kept" [ "$(q 'select reason from source' | cut -c1-17)" = "body is not JSON:" ]
expect "zero dead letters after 20 runs" [ "$(q 'select count(*) from dead')" = 0 ]
expect "no attempt counted" [ "$(q 'select count(*) from queue where attempts > 0')" = 0 ]
standin_get "/_mode?set=normal" >/dev/null
later
run risk-drain -q --max-attempts 3
expect_rc 0
expect_err_empty
expect "the whole queue drained after recovery, no redrive" [ "$(q 'select count(*) from record')$(q 'select count(*) from queue')$(q 'select count(*) from dead')" = 4000 ]
echo "# health.sh: requests in the outage: $first, maintenance: 1, recovery: $(( $(reqs "$T/down.log") - first - 1 ))"

# --- a slow but healthy service: 40% time out ---------------------------
# The seed's service answers in 2-7 s against a 5 s timeout; scaled down
# tenfold (200-700 ms against 500 ms), the same 40% time out.
export RISK_DB=$(new_db slow)
standin --latency 200-700 --log "$T/slow.log"
seq -f 'S%g' 1 120 | risk-enqueue
run risk-drain --timeout 500ms --concurrency 16 --backoff 300ms --max-time 60s
expect_rc 0
expect_err_empty
nreq=$(reqs "$T/slow.log")
expect "(almost) every company stored, none dead ($nreq requests)" [ "$(q 'select count(*) from record')" -ge 118 -a "$(q 'select count(*) from dead')" = 0 ]
expect "the breaker stayed closed" [ "$(q "select coalesce((select state from source), 'ok')")" = ok ]
echo "# health.sh: slow service: $nreq requests for 120 companies, $(q "select count(*) from fetch_log where class='down'") timed out"

# --- --rate shared by three drainers -------------------------------------
export RISK_DB=$(new_db rate)
standin --latency 0 --log "$T/rate.log"
seq -f 'R%g' 1 40 | risk-enqueue
start=$(date +%s%N)
for i in 1 2 3; do
	risk-drain -q --rate 10/2s --concurrency 2 2>"$T/rate$i.err" &
	eval "p$i=\$!"
done
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
took=$((($(date +%s%N) - start) / 1000000))
expect "three drainers succeeded" [ "$s1$s2$s3" = 000 ]
expect "all 40 stored" [ "$(q "select count(*) from record")" = 40 ]
# a burst of 10, then 5 a second: the other 30 need 6 s
expect "40 requests at 10/2s took at least 5.5 s ($took ms)" [ "$took" -ge 5500 -a "$took" -lt 30000 ]
burst=$($PY - "$T/rate.log" <<'EOF'
import sys, datetime
ts = []
for line in open(sys.argv[1]):
    t = datetime.datetime.strptime(line.split("\t")[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    ts.append(t.timestamp())
ts.sort()
print(max(sum(1 for u in ts if t <= u < t + 2.0) for t in ts))
EOF
)
expect "never more than burst + refill (20) in any 2 s ($burst)" [ "$burst" -le 20 ]
run risk-stat
expect_out_re '^rate +10/2s'
run risk-stat --json
expect "JSON: the rate in use" jq -e '.source.rate == "10/2s" and .source.state == "ok"' "$T/out"

# --- priority: an analyst's miss before 300 bulk entries ----------------
export RISK_DB=$(new_db prio)
standin --latency 0 --log "$T/prio.log"
seq -f 'B%g' 1 300 | risk-enqueue --priority low
seed STALE1 reliable 0 7200
run risk-get STALE1		# a stale refresh: normal
run risk-get ANALYST1		# a miss someone waits for: high
expect_rc 1
run risk-enqueue --priority low ANALYST1
expect "re-enqueueing never lowers" [ "$(q "select priority from queue where id='ANALYST1'")" = 2 ]
run risk-enqueue --priority high B300
expect "re-enqueueing raises" [ "$(q "select priority from queue where id='B300'")" = 2 ]
run risk-drain -q --concurrency 1
expect_rc 0
expect "high first (the raised one was due earlier), then the refresh" [ "$(head -3 "$T/prio.log" | cut -f2 | tr "\n" ,)" = "B300,ANALYST1,STALE1," ]
expect "then the bulk, earliest due first" [ "$(sed -n 4p "$T/prio.log" | cut -f2)" = B1 ]
if on_pg; then	# 300 rows: a plan that may scan the table would
	plan=$(q "set enable_seqscan = off; explain select id from queue where priority = 2 and due <= 0 order by due, id limit 4")
	expect "the claim walks an index in its order ($plan)" [ -n "$(echo "$plan" | grep queue_pick)" -a -z "$(echo "$plan" | grep -i 'sort')" ]
else
	plan=$(q "explain query plan select id from queue where priority = 2 and due <= 0 order by due, id limit 4")
	expect "the claim walks an index in its order ($plan)" [ -n "$(echo "$plan" | grep queue_pick)" -a -z "$(echo "$plan" | grep -i 'temp b-tree')" ]
fi
run risk-enqueue --priority urgent X1
expect_rc 2
expect_err_re '^risk-enqueue: --priority: urgent: not high, normal or low$'

# --- a 429 with Retry-After pauses a second drainer ---------------------
export RISK_DB=$(new_db thr)
standin --latency 0 --mode throttle --retry-after 3 --log "$T/thr.log"
seq -f 'H%g' 1 10 | risk-enqueue
run risk-drain -q --timeout 1s --max-time 2s
expect_rc 75
expect "one line: throttled until" one_line '^risk-drain: source: throttled until [0-9T:-]+Z \(HTTP 429\)$'
n429=$(reqs "$T/thr.log")
expect "no new request after the 429 ($n429, at most the 4 in flight)" [ "$n429" -ge 1 -a "$n429" -le 4 ]
standin_get "/_mode?set=normal" >/dev/null
start=$(date +%s%N)
run risk-drain -q
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 0
first_ok=$(grep -m1 $'\t200$' "$T/thr.log" | cut -f1)
until=$(q "select until from source")
expect "the second drainer waited for the Retry-After ($took ms)" [ "$took" -ge 1500 ]
paused=$($PY - "$T/thr.log" <<'EOF'
import sys, datetime
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
ts = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
last429 = max(ts(r[0]) for r in rows if r[2] == "429")
first200 = min(ts(r[0]) for r in rows if r[2] == "200")
print(int((first200 - last429) * 1000))
EOF
)
expect "no request for 3 s after the 429 ($paused ms)" [ "$paused" -ge 2900 ]
expect "all ten stored, none dead" [ "$(q 'select count(*) from record')$(q 'select count(*) from dead')" = 100 ]

# --- a queue file made by the first release is upgraded in place ---------
# (a SQLite file by nature)
if on_sqlite; then
	export RISK_DB=$T/v1.db
	export RISK_QUEUE=$T/v1-queue.db
	sqlite3 "$RISK_QUEUE" "PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS main.queue (  id TEXT PRIMARY KEY,  due INTEGER NOT NULL,  token INTEGER,  attempts INTEGER NOT NULL DEFAULT 0,  redrives INTEGER NOT NULL DEFAULT 0,  enqueued_at INTEGER NOT NULL,  last_error TEXT) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS main.queue_due ON queue(due, id);
CREATE INDEX IF NOT EXISTS main.queue_lease ON queue(due)  WHERE token IS NOT NULL;
INSERT INTO queue (id, due, enqueued_at) VALUES ('OLD1', 0, 0);
PRAGMA application_id=1380537163; PRAGMA user_version=1" >/dev/null
	standin --latency 0
	run risk-enqueue --priority high NEW1
	expect_rc 0
	qq() { sqlite3 "$RISK_QUEUE" "$1"; }
	expect "upgraded: version 2, priority column, the claim's index" [ "$(qq 'pragma user_version')$(qq "select count(*) from pragma_table_info('queue') where name='priority'")$(qq "select count(*) from sqlite_schema where name in ('queue_pick', 'queue_due')")" = 211 ]
	expect "old entries are normal, the new one high" [ "$(qq "select group_concat(id||':'||priority) from (select * from queue order by id)")" = "NEW1:2,OLD1:1" ]
	run risk-drain -q
	expect_rc 0
	expect "the upgraded file passes the schema check and drains" [ "$(q 'select count(*) from record')$(qq 'select count(*) from queue')" = 20 ]
	unset RISK_QUEUE
fi

finish

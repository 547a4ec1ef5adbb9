#!/bin/bash
# risk-purge: retention boundaries, dry runs that change nothing, batches,
# the log, the dead-letter pipeline back to risk-enqueue and the redrive
# cap, end to end with risk-drain.
. "$(dirname "$0")/../lib.sh"

dump() { db_dump | md5sum; }
# old_records PREFIX N: records PREFIX1..PREFIXN, fetched 40 days ago
old_records() {
	q "INSERT INTO record (id, status, changed_at, fetched_at) VALUES
	    $(seq -f "('$1%g','reliable',1,$((now - 40 * D * 1000)))" 1 "$2" | paste -sd,)"
}
jqtest() { jq -e -s "$@" >/dev/null; }
now=$(($(date +%s) * 1000))
D=86400

run risk-enqueue --delay 1h init	# creates the schema
expect_rc 0

# ---- records: default 30 days, and --older-than --------------------------
seed R29 reliable 1000 $((29 * D))
seed R31 indebted 1000 $((31 * D))
seed NF31 - 0 $((31 * D))
seed B1 reliable 1000 3500	# just inside an hour
seed B2 reliable 1000 3700	# just outside

before=$(dump)
run risk-purge --dry-run
expect_rc 0
expect_err_empty
expect_out_re '^R31	[0-9T:-]+Z	indebted$'
expect_out_re '^NF31	[0-9T:-]+Z	-$'
expect "dry run lists only what is older than 30 days" [ "$(wc -l <"$T/out")" = 2 ]
expect "--dry-run changes nothing" [ "$(dump)" = "$before" ]
run risk-purge --dry-run --json -v
expect_rc 0
expect_out_re '^\{"id":"R31","status":"indebted","fetched_at":"[0-9T:-]+Z"\}$'
expect_out_re '^\{"id":"NF31","status":null,'
expect_err_re '^risk-purge: would remove 2 records, 0 log rows, 0 drain summaries, 0 history rows$'
expect "--dry-run --json changes nothing" [ "$(dump)" = "$before" ]

run risk-purge -v
expect_rc 0
expect_out_empty
expect_err_re '^risk-purge: removed 2 records, 0 log rows, 0 drain summaries, 0 history rows$'
expect "old records gone, young kept" [ "$(q "select id from record order by id" | paste -sd,)" = "B1,B2,R29" ]

# the boundary of --older-than 1h, printed
run risk-purge --older-than 1h --print
expect_rc 0
expect_out "B2
R29"
expect "B1 (58 min) kept" [ "$(q "select count(*) from record where id='B1'")" = 1 ]
run risk-purge --older-than 1h --print
expect_out_empty

# batches: more rows than one batch, every one removed, none twice
old_records K 25
run risk-purge --batch 4 --print -v
expect_rc 0
expect "25 IDs printed once each" [ "$(sort -u "$T/out" | wc -l)" = 25 ] 
expect "25 lines" [ "$(wc -l <"$T/out")" = 25 ]
expect_err_re 'removed 25 records'
expect "K rows gone" [ "$(q "select count(*) from record where id like 'K%'")" = 0 ]

# a closed pipe stops the purge quietly; what was not printed stays
old_records P 50
{ sleep 0.5; exec risk-purge --batch 10 --print 2>"$T/pipe.err"; } |
    { exec 0<&-; sleep 1.5; }
left=$(q "select count(*) from record where id like 'P%'")
expect "a closed pipe leaves the unprinted rows" [ "$left" = 50 ]
expect "and says nothing" [ ! -s "$T/pipe.err" ]
run risk-purge --print
expect "the rest go next time" [ "$(wc -l <"$T/out")" = "$left" ]

# ---- the fetch log and the drain summaries: 7 days ----------------------
q "INSERT INTO fetch_log (at, id, outcome, http, ms, reason) VALUES($((now - 8 * D * 1000)),'L1','stored',200,5,NULL),($((now - 6 * D * 1000)),'L2','retry',503,5,'HTTP 503')"
q "INSERT INTO drain_run (started_at, ended_at, claimed, stored, not_found,
    retried, dead, released, exit_status) VALUES($((now - 8 * D * 1000)),$((now - 8 * D * 1000 + 5)),1,1,0,0,0,0,0),($((now - 60000)),$((now - 59000)),1,1,0,0,0,0,0)"
before=$(dump)
run risk-purge --dry-run -v
expect_err_re 'would remove 0 records, 1 log rows, 1 drain summaries'
expect "--dry-run keeps the log" [ "$(dump)" = "$before" ]
run risk-purge -v
expect_err_re 'removed 0 records, 1 log rows, 1 drain summaries'
expect "the 6-day row stays" [ "$(q "select id from fetch_log")" = L2 ]
expect "the recent run stays" [ "$(q "select count(*) from drain_run")" = 1 ]
run risk-purge --log-older-than 1d -v
expect_err_re '1 log rows, 0 drain summaries'

# ---- dead letters: default 14 days, listing, pipeline --------------------
q "INSERT INTO dead VALUES('X15','HTTP 503',5,0,$((now - 20 * D * 1000)),$((now - 15 * D * 1000)))"
q "INSERT INTO dead VALUES('X13','timeout	after 5 s',5,1,$((now - 13 * D * 1000)),$((now - 13 * D * 1000)))"
q "INSERT INTO dead VALUES('X0','map: \"bad\"',3,2,$((now - 1000)),$now)"
seed X15 reliable 1000 100	# a record is not a dead letter: untouched
before=$(dump)
run risk-purge --dead --dry-run
expect_rc 0
expect_out_re '^X15	[0-9-]+T[0-9:]+Z	5	0	[0-9-]+T[0-9:]+Z	HTTP 503$'
expect "only the 15-day-old one" [ "$(wc -l <"$T/out")" = 1 ]
run risk-purge --dead --dry-run --older-than 0
expect "all three listed, oldest death first" [ "$(cut -f1 "$T/out" | tr '\n' ' ')" = "X15 X13 X0 " ]
expect "a tab in a reason prints as ?, one sanitiser for all" grep -q "	timeout?after 5 s$" "$T/out"
expect_out_re '^X13	.*	5	1	.*	timeout.after 5 s$'
run risk-purge --dead --dry-run --older-than 0 --json
expect_rc 0
expect "JSON lines that jq reads" jqtest 'length == 3 and .[2].reason == "map: \"bad\"" and .[2].attempts == 3 and .[2].redrives == 2 and (.[0].died_at | test("Z$"))' "$T/out"
expect "dead-letter dry runs change nothing" [ "$(dump)" = "$before" ]

run risk-purge --dead -v
expect_rc 0
expect_err_re 'removed 1 dead letters'
expect "X15 gone from the dead letters" [ "$(q "select id from dead order by id" | paste -sd,)" = "X0,X13" ]
expect "its record untouched" [ "$(q "select count(*) from record where id='X15'")" = 1 ]

# purge -> enqueue: no longer dead letters, so a plain enqueue queues them
run risk-enqueue X0
expect_rc 1
expect_err_re 'X0: dead-lettered; not queued'
risk-purge --dead --older-than 0 --print | risk-enqueue -v 2>"$T/pipe.err"
expect "pipeline exit 0" [ "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00 ]
expect "pipeline queued both" grep -q '^risk-enqueue: 2 queued' "$T/pipe.err"
expect "no dead letters left" [ "$(q 'select count(*) from dead')" = 0 ]
expect "both on the queue" [ "$(q "select count(*) from queue where id in ('X0','X13')")" = 2 ]

# ---- --vacuum --------------------------------------------------------------
old_records V 2000
run risk-purge --vacuum -v
expect_rc 0
expect_err_re 'removed 2000 records.*; vacuumed$'
if on_sqlite; then
	expect "no free pages left" [ "$(q 'pragma freelist_count')" = 0 ]
fi
run risk-purge --vacuum --dry-run -v
expect_err_re 'would remove 0 records, 0 log rows, 0 drain summaries, 0 history rows$'

# ---- redrive cap, end to end: drain -> dead -> redrive -> ... -> refused
if [ -x "$BIN/risk-drain" ]; then
	standin --latency 0
	drain() { risk-drain -q --backoff 1ms --max-attempts 1 >/dev/null 2>&1; }
	run risk-enqueue badmap-p
	drain
	expect "dead after one attempt" [ "$(q "select attempts, redrives from dead where id='badmap-p'")" = "1|0" ]
	first=$(q "select enqueued_at from dead where id='badmap-p'")
	for n in 1 2 3; do
		run risk-enqueue --redrive badmap-p
		expect "redrive $n accepted" [ "$rc" = 0 ]
		drain
	done
	expect "dead again, 3 redrives counted" [ "$(q "select redrives from dead where id='badmap-p'")" = 3 ]
	expect "first-enqueued time kept through redrives" [ "$(q "select enqueued_at from dead where id='badmap-p'")" = "$first" ]
	run risk-enqueue --redrive badmap-p
	expect_rc 1
	expect_err_re '^risk-enqueue: badmap-p: redriven 3 times already \(limit 3\)$'
	expect "still a dead letter" [ "$(q "select count(*) from dead where id='badmap-p'")" = 1 ]
	run risk-stat --log --id badmap-p
	expect "the fetch log has the four attempts" [ "$(grep -c '	dead	200	' "$T/out")" = 4 ]
	# an operator's deliberate reset: purge forgets, enqueue starts over
	risk-purge --dead --older-than 0 --print | risk-enqueue
	expect "requeued from scratch" [ "$(q "select redrives, attempts from queue where id='badmap-p'")" = "0|0" ]
fi

# ---- errors --------------------------------------------------------------
run risk-purge --older-than soon
expect_rc 2
expect_err_re '^risk-purge: --older-than: soon: invalid duration'
expect_err_re '^usage: risk-purge'
run risk-purge X1
expect_rc 2
expect_err_re 'takes no IDs'
run risk-purge --print --json
expect_rc 2
run risk-purge --batch 0
expect_rc 2
run risk-purge -h
expect_rc 0
expect_out_re '^usage: risk-purge'

# a locked database: the "try again" status
if on_pg; then	# writers wait, readers do not
	( q "BEGIN; LOCK TABLE record IN EXCLUSIVE MODE; SELECT pg_sleep(2);
	    COMMIT;" >/dev/null 2>&1 & )
else
	( sqlite3 "$RISK_DB" "BEGIN IMMEDIATE; DELETE FROM record WHERE id='none';" \
	    ".shell sleep 2" "COMMIT;" >/dev/null 2>&1 & )
fi
sleep 0.5
run env RISK_LOCK_TIMEOUT=300ms risk-purge --older-than 0
expect_rc 75
if on_pg; then
	expect_err_re '^risk-purge: postgresql://.*: '
else
	expect_err_re 'database is locked'
fi
run env RISK_LOCK_TIMEOUT=300ms risk-purge --dry-run --older-than 0
expect_rc 0
sleep 2

# a dry run never makes a database, nor its folder
run risk-purge --dry-run --db "$T/none/risk.db"
expect_rc 2
expect_err_re 'none/risk.db: no database yet$'
expect "no folder made" [ ! -e "$T/none" ]

finish

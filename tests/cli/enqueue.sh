#!/bin/bash
# risk-enqueue: idempotent queueing, delays, redrive, input handling.
. "$(dirname "$0")/../lib.sh"


run risk-enqueue A1 A2
expect_rc 0
expect_out_empty
expect_err_empty
run risk-enqueue -v A1 A3
expect_rc 0
expect_err_re '^risk-enqueue: 1 queued, 1 already queued, 0 dead-lettered$'
expect "three entries" [ "$(q 'select count(*) from queue')" = 3 ]

# --delay: due later; an earlier enqueue of an untried entry wins
now=$(($(date +%s) * 1000))
run risk-enqueue --delay 1h D1
due=$(q "select due from queue where id='D1'")
expect "--delay 1h sets due an hour out" [ $((due - now)) -ge 3599000 ] 
run risk-enqueue D1
due2=$(q "select due from queue where id='D1'")
expect "earlier due wins" [ "$due2" -lt "$due" ]
run risk-enqueue --delay 2h D1
expect "later due ignored" [ "$(q "select due from queue where id='D1'")" = "$due2" ]
# a retry keeps its backoff
q "update queue set attempts=2, due=$((now + 600000)) where id='A2'"
run risk-enqueue A2
expect "retry keeps its backoff" [ "$(q "select due from queue where id='A2'")" = $((now + 600000)) ]

# stdin, blank lines, invalid lines, a million-character line
{ printf 'S1\n\n  S2  \nbad id\n'; head -c 100000 /dev/zero | tr '\0' x; printf '\nS3'; } >"$T/ids"
run -i "$T/ids" risk-enqueue -v
expect_rc 2
expect_err_re '^risk-enqueue: bad id: invalid company id$'
expect_err_re '^risk-enqueue: x{64}\.\.\.: invalid company id \(line too long\)$'
expect_err_re '3 queued'
expect "S1 S2 S3 queued" [ "$(q "select count(*) from queue where id in ('S1','S2','S3')")" = 3 ]

# a slow producer: what came before a pause is committed during it
( echo P1; sleep 2; echo P2 ) | risk-enqueue &
pid=$!
sleep 1
expect "committed while input pauses" [ "$(q "select count(*) from queue where id='P1'")" = 1 ]
wait $pid
expect "then the rest" [ "$(q "select count(*) from queue where id='P2'")" = 1 ]

# 20,000 IDs (more than one batch) in one go
seq -f 'N%g' 1 20000 >"$T/many"
run -i "$T/many" risk-enqueue
expect_rc 0
expect "20000 queued" [ "$(q "select count(*) from queue where id like 'N%'")" = 20000 ]

# dead letters: not queued by a plain enqueue; redrive moves them back
q "insert into dead values('X1','HTTP 503',5,0,$now,$now),('X2','timeout',5,3,$now,$now),('X3','x',5,0,123,$now)"
run risk-enqueue X1
expect_rc 1
expect_err_re '^risk-enqueue: X1: dead-lettered; not queued \(use --redrive\)$'
run risk-enqueue -q X1
expect_rc 1
expect_err_empty
run risk-enqueue --redrive -v X1 nope
expect_rc 1
expect_err_re '^risk-enqueue: nope: not a dead letter$'
expect_err_re '1 redriven'
expect "X1 back on the queue, not dead" [ "$(q "select count(*) from queue where id='X1'")$(q "select count(*) from dead where id='X1'")" = 10 ]
expect "redrive counted" [ "$(q "select redrives from queue where id='X1'")" = 1 ]
run risk-enqueue --redrive X2
expect_rc 1
expect_err_re '^risk-enqueue: X2: redriven 3 times already \(limit 3\)$'
run risk-enqueue --redrive --max-redrives 5
expect_rc 0
expect "all redriven" [ "$(q 'select count(*) from dead')" = 0 ]
expect "first enqueued time kept" [ "$(q "select enqueued_at from queue where id='X3'")" = 123 ]
run risk-enqueue --redrive --delay 1m X1
expect_rc 2
expect_err_re 'does not go with --redrive'

# a brand-new database opened by many processes at once is made once,
# and nobody mistakes the half-made file for a foreign one, nor fails
# to wait for it (switching a new file to WAL while a reader has it open
# answered "locked" at once, about one round in forty).  The reader
# starts once the file is there: a missing database is its own error.
# On PostgreSQL: an empty database, its schema made once by whoever
# comes first; the reader starts once the schema is there.
: >"$T/race.err"
for round in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	db=$(new_db "race$round")
	for w in 1 2 3 4 5 6; do
		risk-enqueue --db "$db" "W$w" 2>>"$T/race.err" &
	done
	(
		if on_pg; then
			until [ "$(RISK_DB=$db q "select count(*) from pg_namespace
			    where nspname = 'risk'")" = 1 ]; do sleep 0.01; done
		else
			until [ -e "$db" ]; do sleep 0.001; done
		fi
		risk-get --db "$db" --no-enqueue W1 >/dev/null
	) 2>>"$T/race.err" &
	wait
done
LAST="16 rounds: 6 risk-enqueue and 1 risk-get --no-enqueue on a new database"
rc=0
: >"$T/out"
sort -u "$T/race.err" >"$T/err"
expect "no process saw a half-made database" [ ! -s "$T/race.err" ]
expect "every writer's ID is there" [ "$(RISK_DB=$db q 'select count(*) from queue')" = 6 ]

# bad options
run risk-enqueue --delay soon X
expect_rc 2
expect_err_re '^risk-enqueue: --delay: soon: invalid duration'
expect_err_re '^usage: risk-enqueue'
run risk-enqueue --max-redrives -1 --redrive
expect_rc 2
run risk-enqueue -h
expect_rc 0
expect_out_re '^usage: risk-enqueue'

# a locked database: waits, then says so with the "try again" status
if on_pg; then
	( q "BEGIN; LOCK TABLE queue IN EXCLUSIVE MODE;
	    SELECT pg_sleep(2); COMMIT;" >/dev/null 2>&1 & )
else
	( sqlite3 "$RISK_DB" "BEGIN IMMEDIATE; DELETE FROM queue WHERE id='nothing';" \
	    ".shell sleep 2" "COMMIT;" >/dev/null 2>&1 & )
fi
sleep 0.5
run env RISK_LOCK_TIMEOUT=500ms risk-enqueue L1
expect_rc 75
if on_pg; then
	expect_err_re '^risk-enqueue: postgresql://.*: '
else
	expect_err_re 'database is locked'
fi
sleep 2
run risk-enqueue L1
expect_rc 0

# a read-only database
if on_sqlite; then
	cp "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm" "$T/home/" 2>/dev/null || { mkdir -p "$T/home"; cp "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm" "$T/home/"; }
	chmod 444 "$T/home/risk.db" "$T/home/risk.db-wal" "$T/home/risk.db-shm"
	chmod 555 "$T/home"
	chmod 755 "$T"
	run as_nobody risk-enqueue --db "$T/home/risk.db" R1
	expect_rc 2
	expect_err_re 'read-only'
	chmod 700 "$T/home" "$T"
fi

finish

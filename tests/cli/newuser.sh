#!/bin/bash
# What a new user hit (issue 9 section 2): an empty argument is an
# invalid ID, a lock timeout names the file that was locked, programs
# that only read or remove never create a database, and messages count
# in the singular too.  On PostgreSQL the database is a server's: a
# lock held by another session names it, and a database the server does
# not have stands for a missing file.
. "$(dirname "$0")/../lib.sh"

risk-enqueue </dev/null		# the database, empty

# ---- an empty argument is an invalid ID (exit 2), a blank line is not
for cmd in "risk-get" "risk-get --no-enqueue" "risk-enqueue" \
    "risk-fetch --source http://127.0.0.1:9/{id}"; do
	run $cmd ''
	expect_rc 2
	expect_out_empty
	expect_err_re "^risk-[a-z]+: '': invalid company id \(empty argument\)$"
	run $cmd '  '
	expect_rc 2
done
run risk-get --no-enqueue C1 ''
expect_rc 2
expect_out '{"id":"C1","error":"not_cached","queued":false}'
expect_err_re "^risk-get: '': invalid company id"
printf '\n  \nC1\n\n' >"$T/blank"
run -i "$T/blank" risk-get --no-enqueue
expect_rc 1
expect_out '{"id":"C1","error":"not_cached","queued":false}'
expect_err_empty
run -i "$T/blank" risk-enqueue
expect_rc 0
expect_err_empty
expect "the queue holds C1 alone" [ "$(q -r 'select id from queue' | paste -sd,)" = C1 ]

# ---- a missing database: readers and removers exit 2, create nothing
if on_pg; then
	typo=$(pg_uri newuser-typo)	# never made
	where="^risk-[a-z]+: postgresql://[^ ]*/newuser-typo[^ ]*: "
else
	typo=$T/typo/risk.db
	where="^risk-[a-z]+: $T/typo/risk.db: no database yet$"
fi
for cmd in "risk-get --no-enqueue C1" "risk-get --all" "risk-stat" \
    "risk-purge" "risk-purge --dead --dry-run"; do
	run env RISK_DB="$typo" $cmd
	expect_rc 2
	expect_err_re "$where"
done
if on_pg; then
	expect "no database made" [ "$(Q_SCHEMA=public q -r \
	    "select count(*) from pg_database where datname = 'newuser-typo'")" = 0 ]
else
	expect "nothing made" [ ! -e "$T/typo" ]
fi

# ---- on PostgreSQL, a lock held by another session: try again (75),
# naming the database
if on_pg; then
	q "BEGIN; LOCK TABLE queue IN EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT" \
	    >/dev/null 2>&1 &
	HOLD_PID=$!
	for _ in $(seq 100); do
		[ "$(Q_SCHEMA=public q -r "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'queue' and l.mode = 'ExclusiveLock'")" -ge 1 ] && break
		sleep 0.05
	done
	run env RISK_LOCK_TIMEOUT=300ms risk-enqueue L1
	expect_rc 75
	expect_err_re "^risk-enqueue: postgresql://[^ ]*: "
	expect "one line" [ "$(wc -l <"$T/err")" = 1 ]
	wait "$HOLD_PID"
fi

# ---- a lock timeout names the file that is locked
if on_sqlite; then
	Q=$T/q/queue.db
	mkdir "$T/q"
	risk-enqueue --queue "$Q" </dev/null
	# hold(FILE): keep FILE's write lock until `release`
	hold() {
		mkfifo "$T/hold.in"
		sqlite3 "$1" <"$T/hold.in" >/dev/null 2>&1 &
		HOLD_PID=$!
		exec 8>"$T/hold.in"
		echo 'BEGIN IMMEDIATE; INSERT INTO queue VALUES('"'HELD'"',0,NULL,0,0,0,NULL);' >&8
		for _ in $(seq 200); do
			sqlite3 -readonly "$1" 'select 1' >/dev/null 2>&1 &&
			    ! sqlite3 "$1" '.timeout 0' 'BEGIN IMMEDIATE; ROLLBACK' \
			    >/dev/null 2>&1 && return
			sleep 0.05
		done
	}
	release() {
		echo 'ROLLBACK;' >&8
		exec 8>&-
		wait "$HOLD_PID"
		rm -f "$T/hold.in"
	}
	hold "$Q"
	run env RISK_LOCK_TIMEOUT=300ms risk-enqueue --queue "$Q" L1
	expect_rc 75
	expect_err_re "^risk-enqueue: $Q: database is locked \(waited 300 ms\)$"
	run env RISK_LOCK_TIMEOUT=300ms risk-get --queue "$Q" L2
	expect_err_re "^risk-get: $Q: database is locked"
	# under CGI, as in the README's web layout
	run env RISK_LOCK_TIMEOUT=300ms RISK_QUEUE="$Q" REQUEST_METHOD=GET \
	    PATH_INFO=/L3 GATEWAY_INTERFACE=CGI/1.1 risk-get
	expect_err_re "^risk-get: $Q: database is locked"
	release
	# and the main file, when that is the one locked
	sqlite3 "$RISK_DB" 'PRAGMA journal_mode' >/dev/null
	mkfifo "$T/hold.in"
	sqlite3 "$RISK_DB" <"$T/hold.in" >/dev/null 2>&1 &
	HOLD_PID=$!
	exec 8>"$T/hold.in"
	echo "BEGIN IMMEDIATE; DELETE FROM record WHERE 0;" >&8
	for _ in $(seq 200); do
		! sqlite3 "$RISK_DB" '.timeout 0' 'BEGIN IMMEDIATE; ROLLBACK' \
		    >/dev/null 2>&1 && break
		sleep 0.05
	done
	run env RISK_LOCK_TIMEOUT=300ms risk-enqueue --queue "$Q" L4
	expect_rc 75
	expect_err_re "^risk-enqueue: $RISK_DB: database is locked \(waited 300 ms\)$"
	release
fi

# ---- "after 1 attempt", not "attempts" (a company's own failure: an
# HTTP 500 now counts against the service, not the company)
standin --latency 0
risk-enqueue badmap-one
run risk-drain -v --max-attempts 1
expect_rc 0
expect_err_re '^risk-drain: badmap-one: dead-lettered after 1 attempt: '

finish

#!/bin/bash
# risk-get as a user runs it: records, misses, stale refreshes, filters,
# exit statuses, bad input, and databases that are hard to use.
. "$(dirname "$0")/../lib.sh"

# --- a miss creates the database and queues exactly one fetch
run risk-get 123
expect_rc 1
expect_out '{"id":"123","error":"not_cached","queued":true}'
expect_err_empty
run risk-get 123
expect_rc 1
expect "one queue entry after two misses" \
    [ "$(q 'select count(*) from queue')" = 1 ]

# --- fresh record, stale record, not found
seed C1 reliable 1735948800 120
seed C2 indebted 1735948800 7200
seed C3 - 0 60
run risk-get C1
expect_rc 0
expect_out_re '^\{"id":"C1","status":"reliable","status_changed_at":"2025-01-04T00:00:00Z","fetched_at":"[0-9T:Z-]+","age":12[0-9],"fresh":true\}$'
expect_err_empty
run risk-get C2
expect_rc 0
expect_out_re '"id":"C2","status":"indebted".*"fresh":false,"queued":true\}$'
expect "stale record queued a refresh" \
    [ "$(q "select count(*) from queue where id='C2'")" = 1 ]
run risk-get --max-age 3h C2
expect_out_re '"fresh":true\}$'
run risk-get C3
expect_rc 1
expect_out_re '^\{"id":"C3","error":"not_found","fetched_at":"[^"]+","age":[0-9]+,"fresh":true\}$'
run risk-get --not-found-max-age 30s C3
expect_out_re '"fresh":false,"queued":true\}$'

# --- input order, stdin, trimming, blank lines, "-"
printf ' C2 \n\nC1\n\t\nnew1\n' >"$T/ids"
run -i "$T/ids" risk-get --no-enqueue
expect_rc 1
expect_out_re '^\{"id":"C2"'
expect "order C2 C1 new1" \
    [ "$(sed -E 's/^\{"id":"([^"]+)".*/\1/' "$T/out" | paste -sd' ')" = "C2 C1 new1" ]
expect "--no-enqueue queued nothing" \
    [ "$(q "select count(*) from queue where id='new1'")" = 0 ]
expect_out_re '"id":"new1","error":"not_cached","queued":false'
run -i "$T/ids" risk-get -
expect "- reads stdin" [ "$(wc -l <"$T/out")" -eq 3 ]

# --- --jq and --all
run risk-get --jq .status C1 C2
expect_rc 0
expect_out 'reliable
indebted'
run risk-get --all --jq 'select(.status=="indebted") | .id'
expect_rc 0
expect_out 'C2'
run risk-get --all
expect "--all lists every record" [ "$(wc -l <"$T/out")" -eq 3 ]
run risk-get --jq '.[' C1
expect_rc 2
expect_err_re '^risk-get: --jq: invalid jq filter'
expect_out_empty
run risk-get --jq 'error("boom")' C1
expect_rc 2
expect_err_re '^risk-get: C1: jq: boom'
run risk-get --all C1
expect_rc 2
expect_err_re 'takes no IDs'

# --- invalid IDs: named, rejected, the others still answered
long=$(printf 'a%.0s' $(seq 65))
run risk-get ../x a/b 'a b' "$long" '"q"' C1 ''
expect_rc 2
expect_out_re '^\{"id":"C1","status":"reliable"'
expect "only C1 printed" [ "$(wc -l <"$T/out")" -eq 1 ]
expect_err_re '^risk-get: \.\./x: invalid company id$'
expect_err_re '^risk-get: a/b: invalid company id$'
expect_err_re '^risk-get: a b: invalid company id$'
expect_err_re "^risk-get: a{65}: invalid company id$"
expect_err_re '^risk-get: "q": invalid company id$'
expect "nothing invalid reached the queue" \
    [ "$(q "select count(*) from queue where id like '%/%' or id like '%\"%'")" = 0 ]
printf 'C1\n\033[31mevil\n' >"$T/ids"
run -i "$T/ids" risk-get
expect_err_re '^risk-get: \?\[31mevil: invalid company id$'

# --- options
run risk-get --max-age 5x C1
expect_rc 2
expect_err_re '^risk-get: --max-age: 5x: invalid duration'
expect_err_re '^usage: risk-get'
run risk-get --bogus
expect_rc 2
expect_err_re '^risk-get: --bogus: unknown option$'
expect_err_re 'usage: risk-get'
run risk-get --max-age
expect_rc 2
expect_err_re '^risk-get: --max-age: needs a value$'
run env RISK_LOCK_TIMEOUT=zz risk-get C1
expect_rc 2
expect_err_re '^risk-get: RISK_LOCK_TIMEOUT: zz: invalid duration$'
run risk-get -h
expect_rc 0
expect_out_re '^usage: risk-get'
expect_err_empty
run risk-get -V
expect_rc 0
expect_out_re '^risk-get [0-9]+\.[0-9]+'

# --- output errors: a full disk is an error, a closed pipe is quiet
risk-get C1 >/dev/full 2>"$T/err"
rc=$?
LAST="risk-get C1 >/dev/full"
expect_rc 2
expect_err_re 'standard output: No space left on device'
yes C1 | head -n 20000 >"$T/many"
(risk-get --no-enqueue <"$T/many" | head -n 1 >/dev/null) 2>"$T/err"
expect_err_empty

# --- what risk-get loads: no libcurl ever, libjq only for a filter
expect "risk-get does not link libcurl" not grep -q libcurl <<<"$(ldd "$BIN/risk-get")"
expect "risk-get does not link libjq" not grep -q libjq <<<"$(ldd "$BIN/risk-get")"

# --- files: an empty one (another process is making it) reads as no
# cache yet; a stage is a file of its own beside the default path
if on_sqlite; then
	: >"$T/empty.db"
	run risk-get --db "$T/empty.db" --no-enqueue E1
	expect_rc 1
	expect_out '{"id":"E1","error":"not_cached","queued":false}'
	expect_err_empty
fi
run env -u RISK_DB risk-get --stage dev X1
expect_rc 1
expect "default database made under HOME" [ -f "$HOME/.local/state/risk/risk-dev.db" ]
run env -u RISK_DB XDG_STATE_HOME="$T/xdg" RISK_STAGE=rc risk-get X1
expect "XDG_STATE_HOME and RISK_STAGE" [ -f "$T/xdg/risk/risk-rc.db" ]
run risk-get --stage '../up' X1
expect_rc 2
expect_err_re 'invalid stage name'
if on_pg; then	# a stage is a schema of its own in the same database
	run risk-get --stage dev X2
	expect_rc 1
	expect_out '{"id":"X2","error":"not_cached","queued":true}'
	expect "the stage's queue has X2" \
	    [ "$(Q_SCHEMA=risk_dev q "select count(*) from queue where id='X2'")" = 1 ]
	expect "the default stage's has not" \
	    [ "$(q "select count(*) from queue where id='X2'")" = 0 ]
fi

if on_sqlite; then
	# --- a database we may only read
	cp "$RISK_DB" "$T/ro.db"
	risk-get --db "$T/ro.db" C1 >/dev/null	# made by us: keeps -wal, -shm
	chmod 444 "$T/ro.db" "$T/ro.db-wal" "$T/ro.db-shm"
	chmod 555 "$T"
	run as_nobody risk-get --db "$T/ro.db" --no-enqueue C1 nope
	expect_rc 1
	expect_out_re '"id":"C1","status":"reliable"'
	expect_out_re '"id":"nope","error":"not_cached","queued":false'
	run as_nobody risk-get --db "$T/ro.db" C1 nope
	expect_rc 2
	expect_out_re '"id":"C1","status":"reliable"'
	expect_err_re 'read-only \(use --no-enqueue to only read\)'
	rm -f "$T/ro.db-shm"
	run as_nobody risk-get --db "$T/ro.db" --no-enqueue C1
	expect_rc 2
	expect_err_re 'cannot open database \(a reader needs its -wal and -shm files'
	chmod 700 "$T"

	# --- a file that is not ours is refused untouched
	sqlite3 "$T/other.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1)'
	sum=$(md5sum <"$T/other.db")
	run risk-get --db "$T/other.db" C1
	expect_rc 2
	expect_err_re "^risk-get: $T/other.db: not a risk database"
	expect "foreign file unchanged" [ "$(md5sum <"$T/other.db")" = "$sum" ]
	head -c 5000 /dev/urandom >"$T/junk.db"
	run risk-get --db "$T/junk.db" C1
	expect_rc 2
	expect_err_re 'not a risk database'
	run risk-get --db "$T" C1
	expect_rc 2
	expect_err_re 'not a regular file'
fi

# --- a locked database: waits, then a clear "try again" error
if on_sqlite; then
	sqlite3 "$RISK_DB" 'BEGIN IMMEDIATE; SELECT 1;' >/dev/null
	( sqlite3 "$RISK_DB" "BEGIN IMMEDIATE; INSERT INTO record
	    (id, status, changed_at, fetched_at) VALUES('L1','x',0,0);" \
	    ".shell sleep 3" "COMMIT;" >/dev/null 2>&1 & )
else	# a writer holds the queue's lock for 3 s
	( q "BEGIN; INSERT INTO record (id, status, changed_at, fetched_at)
	    VALUES('L1','x',0,0);
	    LOCK TABLE queue IN EXCLUSIVE MODE; SELECT pg_sleep(3);
	    COMMIT;" >/dev/null 2>&1 & )
fi
sleep 0.5
start=$(date +%s%N)
run env RISK_LOCK_TIMEOUT=1s risk-get L9
end=$(date +%s%N)
expect_rc 75
if on_sqlite; then
	expect_err_re '^risk-get: .*database is locked \(waited 1000 ms\)'
else
	expect_err_re '^risk-get: postgresql://.*: '
fi
expect_out '{"id":"L9","error":"not_cached","queued":false}'
expect "waited about the timeout" [ $(((end - start) / 1000000)) -ge 900 ]
run risk-get --no-enqueue C1
expect_rc 0
expect_out_re '"id":"C1"'
sleep 3
run risk-get L1
expect_rc 0

finish

#!/bin/bash
# Faults: failing writes and a full disk (an LD_PRELOAD shim,
# tests/faults/failwrite.c), a read-only database, a truncated file, a
# foreign file, a missing folder.  Each gets a clear message and the
# documented exit status (2: broken database or disk; the man pages'
# EXIT STATUS), and what was stored before is still there, unchanged.
# These are faults of SQLite files; on PostgreSQL the file ones do not
# apply, and a server that is not there takes their place (its stop
# mid-drain is in pg.sh).
. "$(dirname "$0")/../lib.sh"

# everything a user relies on, in a stable order
dump() {
	RISK_DB=${1:-$RISK_DB} q -r \
	    "select * from record order by id;
	     select id, reason, attempts from dead order by id;
	     select id, due, token, attempts, last_error from queue order by id"
}

build_shim failwrite
faulty() { env LD_PRELOAD="$SHIM" FAILWRITE_LOG="$T/hits" "$@"; }
hits() { [ -s "$T/hits" ]; }

# --- a database with records, a queue and a dead letter
standin --latency 0
seq -f 'C%g' 1 20 >"$T/ids"
run -i "$T/ids" risk-fetch --store
expect_rc 0
run risk-enqueue badmap-1
run risk-drain --max-attempts 1 --backoff 1h
expect_rc 0
run risk-enqueue --delay 1h Q1 Q2 Q3
dump >"$T/before"
expect "the database holds records, queue and dead letters" \
    [ "$(q 'select (select count(*) from record), (select count(*) from dead), (select count(*) from queue)')" = "20|1|3" ]

if on_sqlite; then
	# --- disk full while queueing: no partial batch, nothing else touched
	rm -f "$T/hits"
	seq -f 'N%g' 1 3000 >"$T/many"
	run -i "$T/many" faulty FAILWRITE_PATH="$RISK_DB" FAILWRITE_ERRNO=ENOSPC risk-enqueue
	expect_rc 2
	expect_err_re "^risk-enqueue: $RISK_DB: (disk full|disk I/O error: No space left on device)$"
	expect "the fault was hit" hits
	dump >"$T/after"
	expect "disk full (enqueue): nothing changed" cmp -s "$T/before" "$T/after"
	expect "disk full (enqueue): integrity ok" [ "$(q 'PRAGMA integrity_check')" = ok ]

	# the same, but the disk fills up part of the way through the batch:
	# the WAL takes the batch's pages in a few large writes (lib/vfs.c),
	# the first of them goes through
	rm -f "$T/hits"
	run -i "$T/many" faulty FAILWRITE_PATH="$RISK_DB-wal" \
	    FAILWRITE_CALLS=pwrite64 FAILWRITE_AFTER=1 risk-enqueue
	expect_rc 2
	expect_err_re "^risk-enqueue: .*(disk full|No space left on device)"
	expect "the fault was hit" hits
	n=$(q "select count(*) from queue where id like 'N%'")
	expect "disk full mid-batch: all or nothing ($n of 3000)" [ "$n" = 0 -o "$n" = 3000 ]
	dump >"$T/after"
	expect "disk full mid-batch: what was there is unchanged" cmp -s "$T/before" "$T/after"

	# --- I/O errors while draining: the claim fails, nothing is lost
	run risk-enqueue R1 R2 R3
	dump >"$T/before"
	rm -f "$T/hits"
	run faulty FAILWRITE_PATH="$RISK_DB" FAILWRITE_ERRNO=EIO risk-drain
	expect_rc 2
	expect_err_re "^risk-drain: .*disk I/O error"
	expect "the fault was hit" hits
	dump >"$T/after"
	expect "EIO (drain): nothing changed" cmp -s "$T/before" "$T/after"
	# and part of the way through: some stored perhaps, none lost
	standin --latency 20
	seq -f 'S%g' 1 40 | risk-enqueue
	rm -f "$T/hits"
	run faulty FAILWRITE_PATH="$RISK_DB" FAILWRITE_ERRNO=EIO FAILWRITE_AFTER=30 risk-drain --source "$SOURCE" --timeout 1s --lease 2s
	expect_rc 2
	expect_err_re "^risk-drain: .*disk I/O error"
	expect "the fault was hit" hits
	expect "EIO mid-drain: integrity ok" [ "$(q 'PRAGMA integrity_check')" = ok ]
	expect "EIO mid-drain: the old records are all there, none older" \
	    [ "$(join <(sed -n '/^C/p' "$T/before" | cut -d'|' -f1,4 | tr '|' ' ') \
	        <(q "select id || ' ' || fetched_at from record where id like 'C%' order by id") |
	        awk '$3 >= $2' | wc -l)" = 20 ]
	sleep 2.1	# the dead drain's leases run out
	run risk-drain --source "$SOURCE" --timeout 1s --lease 2s
	expect_rc 0
	expect "EIO mid-drain: every company stored after a clean drain" \
	    [ "$(q "select count(*) from record where id like 'S%'")" = 40 ]

	# --- fsync failing.  The last program to close empties the -wal file
	# (so that readers stay fast), and the commit that starts it again
	# syncs its header: that failure is the user's, reported, nothing
	# written.
	dump >"$T/before"
	rm -f "$T/hits"
	run faulty FAILWRITE_PATH="$RISK_DB" FAILWRITE_CALLS=fsync,fdatasync FAILWRITE_ERRNO=EIO risk-enqueue F0
	expect_rc 2
	expect_err_re "^risk-enqueue: $RISK_DB: disk I/O error"
	dump >"$T/after"
	expect "fsync EIO on a new WAL: nothing changed" cmp -s "$T/before" "$T/after"
	# With frames in the WAL (another process has the database open), a
	# commit appends and needs no fsync (WAL, synchronous=NORMAL); a
	# checkpoint's failure is not the user's failure.
	reader_start C1
	risk-enqueue --delay 1h F2
	run faulty FAILWRITE_PATH="$RISK_DB" FAILWRITE_CALLS=fsync,fdatasync FAILWRITE_ERRNO=EIO risk-enqueue F1
	expect_rc 0
	reader_stop
	expect "fsync EIO: F1 queued" [ "$(q "select count(*) from queue where id='F1'")" = 1 ]
	expect "fsync EIO: integrity ok" [ "$(q 'PRAGMA integrity_check')" = ok ]
fi

# --- standard output on a full device (stdio's writes are libc's own,
# out of the shim's reach: /dev/full does it)
risk-get --no-enqueue C1 >/dev/full 2>"$T/err"
rc=$?
expect_rc 2
expect_err_re '^risk-get: standard output: No space left on device$'

if on_sqlite; then
	# --- a read-only database (as a user who may not write it)
	if [ "$(id -u)" -eq 0 ]; then
		ro=$T/ro
		mkdir -m 755 "$ro"
		chmod 711 "$T"
		risk-enqueue RO1	# due now: a drain must write to claim it
		cp "$RISK_DB" "$ro/risk.db"
		chmod 644 "$ro/risk.db"	# others may read (new files are 0600)
		RISK_DB=$ro/risk.db risk-get --no-enqueue C1 >/dev/null	# -wal, -shm
		dump "$ro/risk.db" >"$T/before"
		export RISK_DB=$ro/risk.db
		run as_nobody risk-enqueue Z1
		expect_rc 2
		expect_err_re "^risk-enqueue: $ro/risk.db: database is read-only$"
		run as_nobody risk-get Z1
		expect_rc 2
		expect_err_re "^risk-get: $ro/risk.db: database is read-only \\(use --no-enqueue to only read\\)$"
		run as_nobody risk-get --no-enqueue C1 Z1
		expect_rc 1
		expect_out_re '^\{"id":"C1","status":'
		expect_err_empty
		run as_nobody risk-drain --source "$SOURCE"
		expect_rc 2
		expect_err_re "^risk-drain: $ro/risk.db: database is read-only"
		# errors name the file, never a company (it was "R1: ...")
		run as_nobody risk-purge --older-than 1s
		expect_rc 2
		expect_err_re "^risk-purge: $ro/risk.db: database is read-only$"
		# risk-fetch --store prints what the cache now holds: nothing
		run as_nobody risk-fetch --store --source "$SOURCE" C1 C2
		expect_rc 2
		expect_out_empty
		expect_err_re "^risk-fetch: $ro/risk.db: database is read-only$"
		dump "$ro/risk.db" >"$T/after"
		expect "read-only: nothing changed" cmp -s "$T/before" "$T/after"
		export RISK_DB=$T/risk.db
		chmod 700 "$T"
	else
		skip "read-only cases: not root, cannot become another user"
	fi

	# --- a truncated database file: refused, and left as it was
	sqlite3 "$RISK_DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
	cp "$RISK_DB" "$T/trunc.db"
	truncate -s 8192 "$T/trunc.db"
	sum=$(md5sum <"$T/trunc.db")
	for cmd in "risk-get --no-enqueue C1" "risk-get C1" "risk-enqueue C1" \
	    "risk-drain --source $SOURCE"; do
		run env RISK_DB="$T/trunc.db" $cmd
		expect_rc 2
		expect_err_re "^risk-[a-z]+: $T/trunc.db: database is corrupt$"
	done
	expect "truncated: the file is untouched" [ "$(md5sum <"$T/trunc.db")" = "$sum" ]
	# cut inside the header: not even an SQLite file any more
	head -c 50 "$RISK_DB" >"$T/short.db"
	run env RISK_DB="$T/short.db" risk-enqueue C1
	expect_rc 2
	expect_err_re "^risk-enqueue: $T/short.db: (database is corrupt|not a risk database \(not an SQLite file\))$"
	expect "short: the file is untouched" [ "$(wc -c <"$T/short.db")" = 50 ]

	# --- foreign files: another program's SQLite database, a text file
	sqlite3 "$T/other.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
	sqlite3 "$T/app.db" "PRAGMA application_id = 1234; CREATE TABLE record (x)"
	printf 'not a database, just text\n%.0s' $(seq 20) >"$T/text.db"
	for f in other app text; do
		sum=$(md5sum <"$T/$f.db")
		for cmd in "risk-get --no-enqueue C1" "risk-enqueue C1" \
		    "risk-drain --source $SOURCE"; do
			run env RISK_DB="$T/$f.db" $cmd
			expect_rc 2
			expect_err_re "^risk-[a-z]+: $T/$f.db: not a risk database \((it has other tables|application_id 1234|not an SQLite file)\)$"
		done
		expect "$f: the file is untouched" [ "$(md5sum <"$T/$f.db")" = "$sum" ]
		expect "$f: no -wal or -shm left beside it" [ ! -e "$T/$f.db-wal" -a ! -e "$T/$f.db-shm" ]
	done

	# --- the folder missing: programs that only read or remove say so
	# (exit 2, naming the file) and create nothing
	gone=$T/gone/deeper/risk.db
	for cmd in "risk-get --no-enqueue C1" "risk-get --all" "risk-stat" \
	    "risk-stat --dead" "risk-purge" "risk-purge --dead" \
	    "risk-purge --dry-run" "risk-purge --vacuum"; do
		run env RISK_DB="$gone" $cmd
		expect_rc 2
		expect_out_empty
		expect_err_re "^risk-[a-z]+: $gone: no database yet$"
	done
	run env RISK_DB="$gone" risk-purge --db "$gone" --queue "$T/q.db"
	expect_rc 2
	expect "no folder made by a reader" [ ! -e "$T/gone" ]
	# the main file there, the queue file not: the same for the queue file
	cp "$RISK_DB" "$T/main-only.db"
	run risk-purge --db "$T/main-only.db" --queue "$T/gone/q.db"
	expect_rc 2
	expect_err_re "^risk-purge: $T/gone/q.db: no database yet$"
	expect "no queue folder made by risk-purge" [ ! -e "$T/gone" ]
	# a writer makes it, as documented
	run env RISK_DB="$gone" risk-enqueue C1
	expect_rc 0
	expect "a writer makes the folder, private" [ "$(stat -c %a "$T/gone/deeper")" = 700 ]
fi

# --- a server that is not there: the "try again" status, one line naming
# the database, its password masked
if on_pg; then
	down="postgresql://risk:sekret@127.0.0.1:$(free_port)/risk"
	for cmd in "risk-get --no-enqueue C1" "risk-get C1" "risk-enqueue C1" \
	    "risk-drain --source $SOURCE" "risk-stat" "risk-purge" \
	    "risk-changes --since 0" "risk-fetch --store C1"; do
		run env RISK_DB="$down" $cmd
		expect_rc 75
		expect_err_re "^risk-[a-z]+: postgresql://risk:\*\*\*@127\.0\.0\.1:[0-9]+/risk: "
		expect "${cmd%% *}: one line, no password" \
		    [ "$(wc -l <"$T/err")" = 1 -a -z "$(grep sekret "$T/err")" ]
	done
	run -i "$T/ids" env RISK_DB="$down" risk-load
	expect_rc 75
fi

finish

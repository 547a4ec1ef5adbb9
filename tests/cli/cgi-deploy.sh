#!/bin/bash
# risk-get as CGI, as deployed: what happens to a miss that cannot be
# queued, a missing database (the CGI never creates one), and the shipped
# lighttpd configuration run for real, whose breakage log must carry the
# CGI's error messages.
#
# The answers (risk-get(1), CGI mode): a miss is a 502, with Retry-After
# when queued and without it for a dead letter; a 503 with Retry-After: 5
# says the toolkit failed (no database, no queue file, a queue write that
# failed), never a miss.  On PostgreSQL the database is a server's: a
# lock another session holds stands for the locked file, a database
# without the tables for a missing file; the queue file is SQLite's.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/http.sh"

status() { tr -d '\r' <"$T/out" | sed -n '1{s/^Status: \([0-9]*\).*/\1/p;s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p}'; }
expect_answer() {	# STATUS RETRY-AFTER(or -) BODY
	local got="$(status) $(hdr Retry-After) $(body)"
	local want="$1 ${2#-} $3"
	if [ "$got" = "$want" ]; then pass "$want: $LAST"
	else fail "expected '$want', got '$got'"; fi
}
cgi() {	# PATH_INFO [VAR=VALUE...]
	local p=$1; shift
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO="$p" \
	    "$@" risk-get
}

risk-enqueue --delay 1h init	# makes the database
q "INSERT INTO dead (id, reason, attempts, redrives, enqueued_at, died_at)
    VALUES ('D1', 'HTTP 500', 5, 0, 1, 2)"
seed S1 reliable 1735948800 7200	# stale

# ---- a miss: queued, a dead letter, or the queue could not be written ------
cgi /N1
expect_answer 502 60 '{"id":"N1","error":"not_cached","queued":true}'
cgi /D1
expect_answer 502 - '{"id":"D1","error":"not_cached","queued":false}'

# hold the write lock, as a long drain transaction would
if on_pg; then
	PGAPPNAME=risk-holder q "BEGIN; LOCK TABLE queue IN EXCLUSIVE MODE;
	    SELECT pg_sleep(60)" >/dev/null 2>&1 &
	HOLDER=$!
	unhold="SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE application_name = 'risk-holder'"
	CLEANUP="${CLEANUP:+$CLEANUP; }q \"$unhold\" >/dev/null 2>&1; wait $HOLDER 2>/dev/null"
	for _ in $(seq 100); do
		[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		    WHERE c.relname = 'queue' AND l.mode = 'ExclusiveLock' AND l.granted")" = 1 ] && break
		sleep 0.05
	done
	locked='^risk-get: postgresql://[^ ]*: '
else
	mkfifo "$T/locked"
	$PY -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").write("locked\n")
time.sleep(60)' "$RISK_DB" "$T/locked" &
	HOLDER=$!
	CLEANUP="${CLEANUP:+$CLEANUP; }kill $HOLDER 2>/dev/null; wait $HOLDER 2>/dev/null"
	read -r _ <"$T/locked"
	unhold=
	locked='^risk-get: .*database is locked'
fi
cgi /N2 RISK_LOCK_TIMEOUT=1
expect_answer 503 5 '{"id":"N2","error":"unavailable"}'
expect_err_re "$locked"
cgi /S1 RISK_LOCK_TIMEOUT=1
expect "a stale record whose refresh cannot be queued is still a 200" \
    [ "$(status)" = 200 ]
if on_pg; then q "$unhold" >/dev/null; else kill "$HOLDER"; fi
wait "$HOLDER" 2>/dev/null

# ---- the CGI never creates a database, a queue file or a folder -----------
# tables: how many tables a database on the server has (none: made none)
tables() {
	RISK_DB=$1 Q_SCHEMA=public q "SELECT count(*) FROM pg_tables
	    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
}
if on_pg; then
	empty=$(new_db empty)
	cgi /N3 RISK_DB="$empty"
	expect_answer 503 5 '{"id":"N3","error":"unavailable"}'
	expect_err_re "^risk-get: postgresql://[^ ]*: "
	expect "no table made" [ "$(tables "$empty")" = 0 ]
	run risk-get --db "$empty" N4
	expect_rc 1
	expect "the command line makes the tables" [ "$(tables "$empty")" -gt 0 ]
fi
if on_sqlite; then
	cgi /N3 RISK_DB="$T/nodb/risk.db"
	expect_answer 503 5 '{"id":"N3","error":"unavailable"}'
	expect_err_re "^risk-get: $T/nodb/risk.db: no database yet\$"
	expect "no database, no folder made" [ ! -e "$T/nodb" ]
	mkdir "$T/empty"
	cgi /N3 RISK_DB="$T/empty/risk.db"
	expect_answer 503 5 '{"id":"N3","error":"unavailable"}'
	expect "no database made in a folder the user may write" \
	    [ -z "$(ls -A "$T/empty")" ]
	cgi /N3 RISK_QUEUE="$T/noq/queue.db"
	expect_answer 503 5 '{"id":"N3","error":"unavailable"}'
	expect_err_re "^risk-get: $T/noq/queue.db: no database yet\$"
	expect "no queue file made" [ ! -e "$T/noq" ]
	# the command line still makes the database on first write
	run risk-get --db "$T/empty/risk.db" N4
	expect_rc 1
	expect "the command line creates it" [ -f "$T/empty/risk.db" ]
fi

# ---- the shipped lighttpd configuration, live -----------------------------
SHIP=$ROOT/scripts/lighttpd-risk.conf
LAST="grep server.breakagelog $SHIP"; : >"$T/out"; : >"$T/err"
expect "the shipped lighttpd configuration sets server.breakagelog" \
    grep -Eq '^server\.breakagelog[[:space:]]*=' "$SHIP"
if need lighttpd curl; then
	WEB=$T/web
	LOG=$T/log	# the server writes its logs as its user, like /var/log/lighttpd
	mkdir -p "$WEB/www" "$WEB/db" "$LOG"
	if [ "$(id -u)" -eq 0 ]; then
		chmod 711 "$T"
		chown nobody "$WEB/db" "$LOG"	# the web user could write them
		USERS=$(printf 'server.username = "nobody"\nserver.groupname = "nogroup"')
	else
		USERS=
	fi
	chmod 755 "$WEB" "$WEB/www"
	# on PostgreSQL: a database without the tables
	if on_pg; then
		DB=$(new_db web)
	else
		DB=$WEB/db/risk.db
	fi
	sed -e "s|/usr/local/bin/risk-get|$BIN/risk-get|" \
	    -e "s|/var/lib/risk/risk.db|$(sed_esc "$DB")|" \
	    -e "s|/var/lib/risk/queue/queue.db|$WEB/db/queue.db|" \
	    -e "s|^\(server\.breakagelog[[:space:]]*=[[:space:]]*\).*|\1\"$LOG/breakage.log\"|" \
	    "$SHIP" >"$T/risk.conf"
	# no queue file on PostgreSQL
	! on_pg || sed -i '/"RISK_QUEUE"/d' "$T/risk.conf"
	PORT=$(free_port)
	cat >"$T/lighttpd.conf" <<EOF
server.bind = "127.0.0.1"
server.port = $PORT
server.document-root = "$WEB/www"
server.errorlog = "$LOG/error.log"
$USERS
include "$T/risk.conf"
EOF
	lighttpd_up "$T/lighttpd.conf" "$T/lighttpd.err"
	URL=http://127.0.0.1:$PORT/risk-get
	await_url "$URL/"
	http "$URL/C1"
	expect_answer 503 5 '{"id":"C1","error":"unavailable"}'
	if on_pg; then
		expect "behind lighttpd, the CGI made no table" [ "$(tables "$DB")" = 0 ]
	else
		expect "behind lighttpd, the CGI made no database" \
		    [ -z "$(ls -A "$WEB/db")" ]
	fi
	# the CGI's message is in the breakage log, where an operator looks
	LAST="the breakage log"
	for _ in $(seq 50); do
		grep -q 'risk-get: ' "$LOG/breakage.log" 2>/dev/null && break
		sleep 0.1
	done
	cp "$LOG/breakage.log" "$T/err" 2>/dev/null || : >"$T/err"
	if on_pg; then
		expect_err_re "risk-get: postgresql://"
	else
		expect_err_re "risk-get: $WEB/db/risk.db: no database yet"
	fi
fi

finish

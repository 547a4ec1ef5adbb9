#!/bin/bash
# risk-get as FastCGI.  First the binary itself: it links no libfcgi and
# a command-line run loads none; started on a socket by spawn-fcgi and
# spoken to directly (tests/fcgi-client), it answers, sees writes of
# other processes at the next request, holds no read snapshot between
# requests, reopens a database file replaced under it, survives a client
# that vanished, and ends cleanly on SIGTERM, idle or mid-request.  Then
# the shipped deployments in the least-privilege layout of risk.7 (the
# processes run as nobody when we are root), the whole CGI table through
# each: lighttpd with scripts/lighttpd-risk-fcgi.conf (bin-path,
# max-procs 2); nginx with scripts/nginx-risk-fcgi.conf and spawn-fcgi
# started as scripts/systemd/risk-get-fcgi.service says; and nginx
# proxy_cache (scripts/nginx-risk-cache.conf), which must go on serving
# a cached answer, fresh and then stale (stale-if-error), once the
# FastCGI process is stopped.  On PostgreSQL the queue is a table of the
# database, a lock another session holds stands for the file's write
# lock, and a connection the server cut stands for a file replaced under
# the process: the next request is answered.  The WAL and the layout's
# files are SQLite's.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/http.sh"

FC=$ROOT/tests/fcgi-client
if ! need spawn-fcgi lighttpd nginx curl jq readelf; then
	finish
	exit
fi

# ---- the binary ----------------------------------------------------------

expect "risk-get does not link libfcgi" not grep -q libfcgi \
    <(readelf -d "$BIN/risk-get")
risk-enqueue </dev/null || exit 2
run env LD_DEBUG=files risk-get C0
expect "a command-line run loads no libfcgi" not grep -q libfcgi "$T/err"

# The least-privilege layout, used from here on.
if [ "$(id -u)" -eq 0 ]; then
	WEBUSER=nobody WEBGROUP=nogroup
	chmod 711 "$T"
	ASWEB=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
else
	WEBUSER=$(id -un) WEBGROUP=$(id -gn)
	ASWEB=()
fi
SRV=$T/srv
mkdir -p "$SRV/db" "$SRV/www" "$SRV/run"
chmod 755 "$SRV" "$SRV/www"
chown "$WEBUSER:$WEBGROUP" "$SRV/run"
# Q: where the queue is (for qcount); QENV: the RISK_QUEUE a server sets
if on_pg; then
	DB=$(new_db srv)
	Q=$DB
	QENV=()
	risk-enqueue --db "$DB" </dev/null || exit 2
else
	DB=$SRV/db/risk.db
	Q=$SRV/queue/queue.db
	QENV=(RISK_QUEUE="$Q")
	risk-enqueue --db "$DB" --queue "$Q" </dev/null || exit 2
fi
export RISK_DB=$DB
seed C1 reliable 1735948800 120
seed C2 indebted 1735948800 7200
seed C3 - 0 60
q "INSERT INTO dead (id, reason, attempts, redrives, enqueued_at, died_at)
    VALUES ('D1', 'HTTP 500', 5, 0, 1, 2)"
if on_sqlite; then
	"$ROOT/scripts/risk-setup-web" -g "$WEBGROUP" "$DB" "$Q" >/dev/null ||
	    exit 2
fi

# spawn SOCKET: risk-get under spawn-fcgi -n, as the web user, with the
# database named by its environment only.  A simple command whose
# programs exec one another, so that $! is risk-get itself.
spawn() {
	"${ASWEB[@]}" env RISK_DB="$DB" "${QENV[@]}" RISK_LOCK_TIMEOUT=5s \
	    spawn-fcgi -n -s "$1" -- "$BIN/risk-get" </dev/null \
	    >/dev/null 2>"$T/fcgi.err" &
	SPID=$!
	CLEANUP="${CLEANUP:+$CLEANUP; }kill $SPID 2>/dev/null; wait $SPID 2>/dev/null"
	for _ in $(seq 100); do
		[ -S "$1" ] && "$FC" "$1" PATH_INFO=/C1 >/dev/null 2>&1 &&
		    return 0
		sleep 0.05
	done
	return 1
}
S=$SRV/run/direct.sock
spawn "$S"
expect "spawn-fcgi started risk-get" [ -S "$S" ]
fc() { run "$FC" "$S" "$@"; }

fc PATH_INFO=/C1
expect_rc 0
expect_status 200
expect_hdr Cache-Control '^max-age=34[0-8][0-9], stale-while-revalidate=120, stale-if-error=86400$'
expect_body_re '^\{"id":"C1","status":"reliable"'
expect "libfcgi loaded in FastCGI mode" grep -q libfcgi "/proc/$SPID/maps"
expect "runs as the web user" [ "$(stat -c %U "/proc/$SPID")" = "$WEBUSER" ]
# the request's parameters never name the database
fc PATH_INFO=/C1 RISK_DB="$T/elsewhere.db" GATEWAY_INTERFACE=CGI/1.1
expect_status 200
expect "parameters are not the environment" [ ! -e "$T/elsewhere.db" ]
fc REQUEST_METHOD=DELETE PATH_INFO=/C1
expect_status 405
expect_hdr Allow '^GET, HEAD$'

# Freshness: what other processes write is seen by the next request.
fc PATH_INFO=/F1
expect_status 502
expect "a miss queued" [ "$(qcount "$Q" F1)" = 1 ]
seed F1 reliable 1735948800 5
fc PATH_INFO=/F1
expect_status 200
expect_body_re '"id":"F1","status":"reliable"'
seed F1 indebted 1735948800 1
fc PATH_INFO=/F1
expect_body_re '"id":"F1","status":"indebted"'
q "DELETE FROM record WHERE id='F1'"
fc PATH_INFO=/F1
expect_status 502
expect_body '{"id":"F1","error":"not_cached","queued":true}'

# No read snapshot outlives a request: a checkpoint can truncate the WAL;
# on PostgreSQL, no transaction is left open between requests.
for _ in 1 2 3; do fc PATH_INFO=/C1; done
if on_pg; then
	expect "no transaction left open between requests" [ "$(q "SELECT count(*)
	    FROM pg_stat_activity WHERE datname = current_database() AND
	    pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")" = 0 ]
fi
if on_sqlite; then
	run sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)'
	expect_out '0|0|0'
	run sqlite3 "$Q" 'PRAGMA wal_checkpoint(TRUNCATE)'
	expect_out '0|0|0'
fi

# risk-purge --vacuum rewrites the file in place: still answered right.
seed V1 reliable 1735948800 10
fc PATH_INFO=/V1
expect_status 200
q "DELETE FROM record WHERE id='V1'"
run risk-purge --vacuum --older-than 365d
expect_rc 0
fc PATH_INFO=/V1
expect_status 502

# On PostgreSQL: the server cuts the connection (a restart, a failover):
# the request that finds it gone may fail (503), the next is answered.
if on_pg; then
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
	fc PATH_INFO=/C1
	expect "the request that finds the connection cut: 200 or 503" \
	    grep -Eq '^Status: (200|503)' "$T/out"
	fc PATH_INFO=/C1
	expect_status 200
	expect_body_re '"id":"C1","status":"reliable"'
	expect "alive after its connection was cut" kill -0 "$SPID"
	errskip=$(stat -c %s "$T/fcgi.err")	# what it said of the cut
fi
if on_sqlite; then
	# A database file replaced (a restore from backup moved into place, as
	# risk.7 says: checkpoint the live file, mv, risk-setup-web): reopened,
	# not read on from the old, unlinked file.  restore FILE SQL
	restore() {
		sqlite3 "$1" ".backup '$1.new'"
		sqlite3 "$1.new" "$2"
		sqlite3 "$1" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
		mv "$1.new" "$1"
		"$ROOT/scripts/risk-setup-web" -g "$WEBGROUP" "$DB" "$Q" >/dev/null
	}
	restore "$DB" "UPDATE record SET status='restored' WHERE id='C1'"
	fc PATH_INFO=/C1
	expect_status 200
	expect_body_re '"id":"C1","status":"restored"'
	LAST="stderr of risk-get"; cp "$T/fcgi.err" "$T/err"
	expect_err_re "^risk-get: $DB: file replaced: opening it again\$"
	sqlite3 "$DB" "UPDATE record SET status='reliable' WHERE id='C1'"
	fc PATH_INFO=/C1
	expect_body_re '"id":"C1","status":"reliable"'
	# ... and the queue file too
	restore "$Q" "DELETE FROM queue"
	fc PATH_INFO=/R1
	expect_status 502
	expect "queued into the new queue file" [ "$(qcount "$Q" R1)" = 1 ]
fi

# A client that goes away mid-request (reset while risk-get waits for a
# lock): SIGPIPE is not fatal, the next request is answered.
# hold LOCKFILE: hold the queue's write lock until LOCKFILE.go exists.
hold() {
	if on_pg; then
		PGOPTIONS="-c search_path=risk" psql -X -q -d "$DB" -f - \
		    >/dev/null 2>&1 <<EOF &
BEGIN;
LOCK TABLE queue IN EXCLUSIVE MODE;
\\! touch '$1'
\\! while [ ! -e '$1.go' ]; do sleep 0.01; done
ROLLBACK;
EOF
		HPID=$!
		for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
		return 1
	fi
	$PY - "$Q" "$1" <<'PYEOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[2] + ".go"):
    time.sleep(0.01)
c.execute("ROLLBACK")
PYEOF
	HPID=$!
	for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}
hold "$T/lock1"
"$FC" "$S" PATH_INFO=/P1 --rst-after "$T/lock1" &
CPID=$!
wait $CPID
touch "$T/lock1.go"
wait $HPID
fc PATH_INFO=/C1
expect_status 200
expect "alive after a vanished client" kill -0 "$SPID"

# SIGTERM mid-request: the request in hand is answered, then a clean exit.
hold "$T/lock2"
"$FC" "$S" PATH_INFO=/T1 >"$T/t1.out" 2>&1 &
CPID=$!
# risk-get has the request once it sleeps in SQLite's busy handler, or
# waits for PostgreSQL's lock
for _ in $(seq 100); do
	if on_pg; then
		[ "$(q "SELECT count(*) FROM pg_locks WHERE NOT granted")" -ge 1 ] && break
	else
		grep -q nanosleep "/proc/$SPID/wchan" 2>/dev/null && break
	fi
	sleep 0.02
done
kill -TERM "$SPID"
touch "$T/lock2.go"
wait $HPID
wait $CPID
LAST="request in hand at SIGTERM"
cp "$T/t1.out" "$T/out"
expect_status 502
expect_body '{"id":"T1","error":"not_cached","queued":true}'
wait "$SPID"
rc=$?
LAST="risk-get after SIGTERM"
expect_rc 0
tail -c +$((${errskip:-0} + 1)) "$T/fcgi.err" >"$T/fcgi.rest"
expect "nothing else on stderr: $(head -c 300 "$T/fcgi.rest")" not grep -qv \
    ': file replaced: opening it again$' "$T/fcgi.rest"
expect "the queued miss was committed" [ "$(qcount "$Q" T1)" = 1 ]

# SIGTERM while idle: at once, status 0.
rm -f "$S"
spawn "$S"
kill -TERM "$SPID"
wait "$SPID"
rc=$?
LAST="idle risk-get after SIGTERM"
expect_rc 0
expect "nothing on stderr (idle)" [ ! -s "$T/fcgi.err" ]

# ---- lighttpd, bin-path, two processes -----------------------------------

LPORT=$(free_port)
sed -e "s|/usr/local/bin/risk-get|$BIN/risk-get|" \
    -e "s|/var/lib/risk/risk.db|$(sed_esc "$DB")|" \
    -e "s|/var/lib/risk/queue/queue.db|$(sed_esc "$Q")|" \
    -e "s|/run/lighttpd/risk-get.socket|$SRV/run/lighttpd.sock|" \
    "$ROOT/scripts/lighttpd-risk-fcgi.conf" >"$T/risk-fcgi.conf"
[ ${#QENV[@]} -gt 0 ] || sed -i '/"RISK_QUEUE"/d' "$T/risk-fcgi.conf"
{
	echo 'server.bind = "127.0.0.1"'
	echo "server.port = $LPORT"
	echo "server.document-root = \"$SRV/www\""
	[ "$(id -u)" -ne 0 ] ||
	    printf 'server.username = "%s"\nserver.groupname = "%s"\n' "$WEBUSER" "$WEBGROUP"
	echo "include \"$T/risk-fcgi.conf\""
} >"$T/lighttpd.conf"
lighttpd_up "$T/lighttpd.conf" "$T/lighttpd.log"
URL=http://127.0.0.1:$LPORT/risk-get
await_url "$URL/C1" || { echo "# lighttpd:"; sed "s/^/#  /" "$T/lighttpd.log"; }
http_table "$URL" "$Q" L
procs=$(pgrep -P "$LPID" -x risk-get | paste -sd' ')
expect "lighttpd runs two risk-get processes" [ "$(echo $procs | wc -w)" = 2 ]
for p in $procs; do
	expect "process $p runs as the web user" [ "$(stat -c %U "/proc/$p")" = "$WEBUSER" ]
	expect "process $p is FastCGI" grep -q libfcgi "/proc/$p/maps"
done
# every process sees another process's write at once
seed C1 indebted 1735948800 100
ok=0
for _ in $(seq 8); do
	http "$URL/C1"
	body | grep -q '"status":"indebted"' && ok=$((ok + 1))
done
expect "8 of 8 requests see the new status" [ "$ok" = 8 ]
seed C1 reliable 1735948800 120
# lighttpd restarts a process that is stopped
set -- $procs
kill -TERM "$1"
for _ in $(seq 100); do
	[ "$(pgrep -P "$LPID" -x risk-get | wc -l)" = 2 ] &&
	    ! kill -0 "$1" 2>/dev/null && break
	sleep 0.05
done
for _ in 1 2 3 4; do http "$URL/C1"; done
expect_status 200
expect "no errors logged by risk-get" not grep -q 'risk-get:' "$T/lighttpd.log"

# ---- nginx, spawn-fcgi as the unit says, and proxy_cache in front --------

UNIT=$ROOT/scripts/systemd/risk-get-fcgi.service
NG=$T/nginx
mkdir -p "$NG"
chmod 755 "$NG"
cp /etc/nginx/fastcgi_params "$NG/" 2>/dev/null || : >"$NG/fastcgi_params"
NPORT=$(free_port)
CPORT=$(free_port)
IPORT=$(free_port)
NS=$SRV/run/nginx.sock
sed -e "s|listen 80;|listen 127.0.0.1:$NPORT;|" -e '/listen \[::\]/d' \
    -e "s|unix:/run/risk-get/fcgi.sock|unix:$NS|" \
    "$ROOT/scripts/nginx-risk-fcgi.conf" >"$NG/risk.conf"
sed -e "s|listen 80;|listen 127.0.0.1:$CPORT;|" -e '/listen \[::\]/d' \
    -e "s|127.0.0.1:8081|127.0.0.1:$IPORT|g" \
    -e "s|/var/cache/nginx/risk|$NG/cache|" \
    -e "s|unix:/run/risk-get/fcgi.sock|unix:$NS|" \
    "$ROOT/scripts/nginx-risk-cache.conf" >"$NG/cache.conf"
nginx_main "$NG" "$NG/risk.conf" "$NG/cache.conf" >"$NG/nginx.conf"
run nginx -t -p "$NG" -c "$NG/nginx.conf"
expect_rc 0

# the unit's own command line and environment, paths moved into $T
cmd=$(sed -n 's/^ExecStart=//p' "$UNIT")
cmd=${cmd//\/run\/risk-get\/fcgi.sock/$NS}
cmd=${cmd//\/usr\/local\/bin\//$BIN/}
envs=$(sed -n 's/^Environment=//p' "$UNIT" | sed -e "s|/var/lib/risk/risk.db|$(sed_esc "$DB")|" \
    -e "s|/var/lib/risk/queue/queue.db|$(sed_esc "$Q")|")
[ ${#QENV[@]} -gt 0 ] || envs=$(echo "$envs" | grep -v '^RISK_QUEUE=')
expect "the unit runs spawn-fcgi -n on risk-get" grep -Eq '^ExecStart=/usr/bin/spawn-fcgi -n .* -- /usr/local/bin/risk-get$' "$UNIT"
expect "the unit runs as the web user" grep -qx 'User=www-data' "$UNIT"
# shellcheck disable=SC2086
"${ASWEB[@]}" env -i PATH=/usr/bin:/bin $envs $cmd </dev/null >/dev/null 2>"$T/unit.err" &
UPID=$!
CLEANUP="${CLEANUP:+$CLEANUP; }kill $UPID 2>/dev/null; wait $UPID 2>/dev/null"
nginx -p "$NG" -c "$NG/nginx.conf" -g 'daemon off; master_process on;' \
    </dev/null >/dev/null 2>"$T/nginx.log" &
NPID=$!
CLEANUP="${CLEANUP:+$CLEANUP; }kill $NPID 2>/dev/null; wait $NPID 2>/dev/null"
NURL=http://127.0.0.1:$NPORT/risk-get
for _ in $(seq 100); do [ -S "$NS" ] && break; sleep 0.05; done
await_url "$NURL/C1"
http_table "$NURL" "$Q" N
expect "socket is 0660" [ "$(stat -c %a "$NS")" = 660 ]

# proxy_cache: K1 and K2 fresh for 2 more seconds, C1 for an hour
seed K1 reliable 1735948800 3597
seed K2 reliable 1735948800 3597
CURL_=http://127.0.0.1:$CPORT/risk-get
await_url "$CURL_/C1"
http "$CURL_/K1"
expect_status 200
expect_hdr X-Cache-Status '^MISS$'
k1=$(body)
http "$CURL_/K2"
k2=$(body)
# cache_expired ID: ask the cache for ID until its copy has expired
cache_expired() {
	for _ in $(seq 100); do
		http "$CURL_/$1"
		[ "$(hdr X-Cache-Status)" = HIT ] || return 0
		sleep 0.1
	done
}
# stale-while-revalidate: once K2 is stale the cache answers at once
# with its copy and asks risk-get in the background, which queues the
# refresh
cache_expired K2
expect_status 200
expect_hdr X-Cache-Status '^(STALE|UPDATING)$'
expect "the stale copy is served while revalidating" [ "$(body)" = "$k2" ]
for _ in $(seq 100); do [ "$(qcount "$Q" K2)" = 1 ] && break; sleep 0.05; done
expect "the background request queued the refresh" [ "$(qcount "$Q" K2)" = 1 ]
http "$CURL_/C1"
http "$CURL_/C1"
expect_status 200
expect_hdr X-Cache-Status '^HIT$'
http "$CURL_/Z1"
expect_status 502
http "$CURL_/Z1"
expect_hdr X-Cache-Status '^MISS$'	# misses are never cached

kill -TERM "$UPID"
wait "$UPID"
rc=$?
LAST="risk-get (spawn-fcgi -n) after SIGTERM"
expect_rc 0
http "$NURL/C1"
expect_status 502	# nobody answers FastCGI now
http "$CURL_/C1"
expect_status 200
expect_hdr X-Cache-Status '^HIT$'
expect_body_re '"id":"C1","status":"reliable"'
# stale-if-error: K1 goes stale; nginx tries risk-get, fails, and
# serves the stale copy
cache_expired K1
expect_status 200
expect_hdr X-Cache-Status '^STALE$'
expect "the stale copy is the cached answer" [ "$(body)" = "$k1" ]
http "$CURL_/Z2"
expect_status 502	# nothing cached: nothing to serve

finish

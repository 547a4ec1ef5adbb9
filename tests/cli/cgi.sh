#!/bin/bash
# risk-get as CGI: first invoked directly with CGI variables (fast header
# checks), then behind a real lighttpd on 127.0.0.1 in the least-privilege
# deployment of risk.7 (the CGI runs as nobody), driven with curl: every
# row of the SPEC table, HEAD, both ID forms, conditional GET, a stale
# record, a miss queued once, hostile IDs, other methods, no internals in
# error bodies, and what the web user may not do.  Last, the shipped
# server configurations pass `lighttpd -tt` and `nginx -t`, and nginx +
# fcgiwrap serve a record.  On PostgreSQL the same, with the queue a
# table of the database; the layout's file modes and the web user's
# sqlite3 shell are SQLite's (the web role's grants: pg.sh).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/http.sh"

# ---- direct invocations ------------------------------------------------

# cgi METHOD PATH_INFO QUERY [VAR=VALUE...] [-- ARGS]: risk-get as a server
# runs it; unset variables stay unset.
cgi() {
	local m=$1 p=$2 q=$3
	shift 3
	local -a vars=(GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD="$m"
	    SERVER_PROTOCOL=HTTP/1.1)
	[ "$p" = - ] || vars+=(PATH_INFO="$p")
	[ "$q" = - ] || vars+=(QUERY_STRING="$q")
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	run env -u PATH_INFO -u QUERY_STRING "${vars[@]}" risk-get "$@"
}

risk-enqueue </dev/null || exit 2	# creates the database
seed C1 reliable 1735948800 120
seed C2 indebted 1735948800 7200
seed C3 - 0 60
dead_d1() { RISK_DB=$1 q "INSERT INTO dead (id, reason, attempts, redrives,
    enqueued_at, died_at) VALUES ('D1', 'HTTP 500', 5, 0, 1, 2)"; }
dead_d1 "$RISK_DB"

cgi GET /C1 -
expect_rc 0
expect_status 200
expect_hdr Content-Type '^application/json$'
expect_hdr ETag '^"[0-9a-f]{16}"$'
expect_hdr Last-Modified '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$'
expect_hdr Cache-Control '^max-age=34[6-8][0-9], stale-while-revalidate=120, stale-if-error=86400$'
expect_hdr Age '^1[2-3][0-9]$'
expect_no_hdr Retry-After
expect_body_re '^\{"id":"C1","status":"reliable","status_changed_at":"2025-01-04T00:00:00Z","fetched_at":"[0-9T:Z-]+","age":1[23][0-9],"fresh":true\}$'
expect "Content-Length is the body's" \
    [ "$(hdr Content-Length)" = "$(body | wc -c)" ]
expect_err_empty
etag=$(hdr ETag)
lastmod=$(hdr Last-Modified)
len=$(hdr Content-Length)
expect "Last-Modified is fetched_at" [ "$(date -u -d "$lastmod" +%Y-%m-%dT%H:%M:%SZ)" = \
    "$(body | jq -r .fetched_at)" ]

cgi HEAD /C1 -
expect_status 200
expect_hdr ETag "^$etag\$"
expect_hdr Content-Length "^$len\$"
expect_hdr Cache-Control '^max-age='
expect_body_empty

cgi GET - 'id=C1'
expect_status 200
expect_hdr ETag "^$etag\$"
cgi GET / 'lang=en&id=C%31&x'
expect_status 200
expect_body_re '"id":"C1"'
cgi GET /C1 'id=C1'
expect_status 400
expect_clean_body

# the arguments are never options: servers may pass the query as argv
cgi GET /C1 - -- --db "$T/elsewhere.db"
expect_status 200
expect "arguments ignored" [ ! -e "$T/elsewhere.db" ]

# stale: 200, max-age 0, a refresh queued
cgi GET /C2 -
expect_status 200
expect_hdr Cache-Control '^max-age=0, stale-while-revalidate=120, stale-if-error=86400$'
expect_hdr Age '^7[12][0-9][0-9]$'
expect_body_re '"fresh":false,"queued":true\}$'
expect "stale record queued" [ "$(qcount "$RISK_DB" C2)" = 1 ]

# not found by the legacy service: 404 with the record
cgi GET /C3 -
expect_status 404
expect_hdr Content-Type '^application/json$'
expect_hdr Cache-Control '^max-age=[0-9]+$'	# never served stale
expect_body_re '^\{"id":"C3","error":"not_found",'
expect_hdr Age '^[0-9]+$'
cgi GET /C3 - HTTP_IF_NONE_MATCH='*'
expect_status 404

# a miss: 502, Retry-After, queued once however often asked
for _ in 1 2 3; do cgi GET /N1 -; done
expect_status 502
expect_hdr Retry-After '^[0-9]+$'
expect_hdr Cache-Control '^no-store$'
expect_body '{"id":"N1","error":"not_cached","queued":true}'
expect "miss queued once" [ "$(qcount "$RISK_DB" N1)" = 1 ]
cgi HEAD - 'id=N2'
expect_status 502
expect_body_empty
expect "HEAD queues too" [ "$(qcount "$RISK_DB" N2)" = 1 ]

# a dead letter cannot be queued: 502, queued false, nothing to wait for
cgi GET /D1 -
expect_status 502
expect_no_hdr Retry-After
expect_body '{"id":"D1","error":"not_cached","queued":false}'

# conditional GET
cgi GET /C1 - HTTP_IF_NONE_MATCH="$etag"
expect_status 304
expect_hdr ETag "^$etag\$"
expect_hdr Cache-Control ', stale-while-revalidate=120, stale-if-error=86400$'	# as the 200's
expect_body_empty
cgi GET /C1 - HTTP_IF_NONE_MATCH="\"nope\", W/$etag"
expect_status 304
cgi HEAD /C1 - HTTP_IF_NONE_MATCH='*'
expect_status 304
cgi GET /C1 - HTTP_IF_NONE_MATCH='"nope"'
expect_status 200
cgi GET /C1 - HTTP_IF_MODIFIED_SINCE="$lastmod"
expect_status 304
cgi GET /C1 - HTTP_IF_MODIFIED_SINCE='Thu, 01 Jan 2015 00:00:00 GMT'
expect_status 200
cgi GET /C1 - HTTP_IF_MODIFIED_SINCE='garbage'
expect_status 200
cgi GET /C1 - HTTP_IF_NONE_MATCH='"nope"' HTTP_IF_MODIFIED_SINCE="$lastmod"
expect_status 200

# other methods
for m in POST PUT DELETE PATCH OPTIONS; do
	cgi "$m" /C1 -
	expect_status 405
	expect_hdr Allow '^GET, HEAD$'
	expect_clean_body
done

# invalid and hostile IDs, never echoed
long=$(printf 'a%.0s' $(seq 65))
huge=$(printf 'a%.0s' $(seq 5000))
for p in /../x /a/b '/"q"' "/$long" "/$huge" '/a b' / '/<script>' \
    '/%2e%2e'; do
	cgi GET "$p" -
	expect_status 400
	expect_clean_body
	expect_body '{"error":"invalid_id"}'
done
for q in 'id=%2e%2e' 'id=%00' 'id=a%00b' 'id=%22q%22' "id=$long" \
    "x=$huge&id=C1" 'id=%zz' 'id=' 'id=C1&id=C2' 'id=..%2Fx' ''; do
	cgi GET - "$q"
	expect_status 400
	expect_clean_body
done
expect "nothing invalid queued" [ "$(bad_ids)" = 0 ]

# the database fails: 503, a fixed body, the reason on stderr only
if on_pg; then	# a server that is not there; a foreign table in the schema
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/C1 \
	    RISK_DB="postgresql://risk@127.0.0.1:$(free_port)/risk" risk-get
	expect_status 503
	expect_hdr Retry-After '^[0-9]+$'
	expect_clean_body
	expect_err_re '^risk-get: postgresql://risk@127\.0\.0\.1:[0-9]+/risk: '
	other=$(new_db other)
	RISK_DB=$other Q_SCHEMA=public q 'CREATE SCHEMA risk; CREATE TABLE risk.t (x int)'
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/C1 \
	    RISK_DB="$other" risk-get
	expect_status 503
	expect_clean_body
	expect_err_re '^risk-get: postgresql://[^ ]*: '
else
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/C1 \
	    RISK_DB="$T" risk-get
	expect_status 503
	expect_hdr Retry-After '^[0-9]+$'
	expect_clean_body
	expect_err_re "^risk-get: $T: not a regular file"
	sqlite3 "$T/other.db" 'CREATE TABLE t(x)'
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/C1 \
	    RISK_DB="$T/other.db" risk-get
	expect_status 503
	expect_clean_body
	expect_err_re 'not a risk database'
fi

# a write error on standard output
env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/C1 \
    risk-get >/dev/full 2>"$T/err"
rc=$?
LAST="risk-get (CGI) >/dev/full"
expect_rc 2
expect_err_re '^risk-get: standard output: '

# ---- behind lighttpd, least privilege ----------------------------------

if ! need lighttpd curl; then
	finish
	exit
fi

if [ "$(id -u)" -eq 0 ]; then
	WEBUSER=nobody WEBGROUP=nogroup
	chmod 711 "$T"		# nobody may pass through, nothing more
else
	WEBUSER=$(id -un) WEBGROUP=$(id -gn)
fi
SRV=$T/srv
mkdir -p "$SRV/db" "$SRV/www"
chmod 755 "$SRV" "$SRV/www"
# Q: where the queue is, for qcount and bad_ids (on PostgreSQL: DB);
# QENV: the CGI's RISK_QUEUE, as lighttpd sets it
if on_pg; then
	DB=$(new_db srv)
	Q=$DB QENV=
	risk-enqueue --db "$DB" </dev/null || exit 2
else
	DB=$SRV/db/risk.db
	Q=$SRV/queue/queue.db
	QENV=", \"RISK_QUEUE\" => \"$Q\""
	risk-enqueue --db "$DB" --queue "$Q" </dev/null || exit 2
fi
RISK_DB=$DB seed C1 reliable 1735948800 120
RISK_DB=$DB seed C2 indebted 1735948800 7200
RISK_DB=$DB seed C3 - 0 60
dead_d1 "$DB"
if on_sqlite; then
	run "$ROOT/scripts/risk-setup-web" -g "$WEBGROUP" "$DB" "$Q"
	expect_rc 0
	expect "main database 0640, queue 0660" [ \
	    "$(stat -c %a "$DB" "$DB-wal" "$DB-shm" "$Q" "$Q-wal" "$Q-shm" | paste -sd' ')" = \
	    "640 640 640 660 660 660" ]
	expect "folders 2750" [ "$(stat -c %a "$SRV/db" "$SRV/queue" | paste -sd' ')" = "2750 2750" ]
fi
nrec=$(RISK_DB=$DB q -r 'select count(*) from record')

PORT=$(free_port)
cat >"$T/lighttpd.conf" <<EOF
server.modules = ( "mod_alias", "mod_cgi", "mod_setenv" )
server.bind = "127.0.0.1"
server.port = $PORT
server.document-root = "$SRV/www"
server.max-request-field-size = 65536
$( [ "$(id -u)" -ne 0 ] || printf 'server.username = "%s"\nserver.groupname = "%s"\n' "$WEBUSER" "$WEBGROUP" )
\$HTTP["url"] =~ "^/risk-get(/|\$)" {
	alias.url = ( "/risk-get" => "$BIN/risk-get" )
	cgi.assign = ( "" => "" )
	setenv.set-environment = ( "RISK_DB" => "$DB"$QENV )
}
EOF
lighttpd_up "$T/lighttpd.conf" "$T/lighttpd.log"
URL=http://127.0.0.1:$PORT/risk-get
await_url "$URL/C1"

http_table "$URL" "$Q" ""	# the SPEC table (tests/http.sh)
http "$URL/C1"
etag=$(hdr ETag)
# misses asked by many at once: queued exactly once
pids=
for _ in $(seq 8); do
	curl -s -o /dev/null --max-time 10 "$URL?id=M2" &
	pids="$pids $!"
done
wait $pids	# not a bare wait: lighttpd is a child too
http "$URL/M2"
expect_status 502
expect "each miss queued exactly once" [ "$(qcount "$Q" M2)" = 1 ]
http "$URL/$long"
expect_status 400
expect_clean_body
for q in 'id=%2e%2e' 'id=%22q%22' "id=$long" "x=$huge&id=C1" \
    'id=a%2Fb' 'id=C1&id=C2' ''; do
	http "$URL?$q"
	expect_status 400
	expect_clean_body
done
# lighttpd itself turns these away; whoever answers, nothing leaks
for p in /%2e%2e /%2e%2e/%2e%2e/etc/passwd /a%00b "/$huge" '?id=%00'; do
	http "$URL$p"
	expect "not served: ${p:0:40}" [ "$(tr -d '\r' <"$T/out" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')" != 200 ]
	expect "no internals: ${p:0:40}" not grep -Eiq 'sqlite|postgres|\.db|risk-get:|root:' "$T/out"
done
expect "nothing invalid reached the queue" [ "$(bad_ids "$Q")" = 0 ]

# What the web user may and may not do (the files' modes: SQLite's).
if on_sqlite; then
	if [ "$(id -u)" -eq 0 ]; then
		export RISK_DB=$DB RISK_QUEUE=$Q
		run as_nobody risk-get --no-enqueue C1
		expect_rc 0
		run as_nobody risk-enqueue W1
		expect_rc 0
		expect "web user queues" [ "$(qcount "$Q" W1)" = 1 ]
		run as_nobody risk-enqueue --redrive D1
		expect_rc 2
		expect_err_re 'read-only'
		expect "D1 still dead" [ "$(sqlite3 -readonly "$DB" "select count(*) from dead where id='D1'")" = 1 ]
		run as_nobody sqlite3 "$DB" "DELETE FROM record"
		expect "sqlite3 cannot delete records" [ "$rc" -ne 0 ]
		run as_nobody sqlite3 "$DB" "UPDATE record SET status='reliable'"
		expect "sqlite3 cannot change records" [ "$rc" -ne 0 ]
		run as_nobody sqlite3 "$DB" "DELETE FROM dead"
		expect "sqlite3 cannot purge dead letters" [ "$rc" -ne 0 ]
		if [ -x "$BIN/risk-purge" ]; then
			run as_nobody risk-purge --older-than 0
			expect "risk-purge refused" [ "$rc" -ne 0 ]
		fi
		run as_nobody sh -c "echo x >'$SRV/db/new' || echo x >'$SRV/queue/new'"
		expect "no new files in either folder" [ "$rc" -ne 0 ]
		run as_nobody rm -f "$DB-shm"
		expect "cannot remove the -shm file" [ -e "$DB-shm" ]
		expect "records untouched" [ "$(sqlite3 -readonly "$DB" 'select count(*) from record')" = "$nrec" ]
		# the server (and so the CGI it starts) runs as the web user
		http "$URL/C2"
		expect_status 200
		expect "records were read as nobody" \
		    [ "$(ps -o user= -p "$LPID")" = "$WEBUSER" ]
		unset RISK_QUEUE
		export RISK_DB=$T/risk.db
	else
		skip "web user cases: not root, cannot become nobody"
	fi
fi
# The CGI never wrote a database error to the server log.
expect "no database errors logged" not grep -Eq 'risk-get: .*(read-only|cannot|locked)' "$T/lighttpd.log"

# ---- the shipped configurations ----------------------------------------

printf 'server.document-root = "%s"\nserver.port = %s\ninclude "%s"\n' \
    "$SRV/www" "$PORT" "$ROOT/scripts/lighttpd-risk.conf" >"$T/ship.conf"
run lighttpd -tt -f "$T/ship.conf"
expect_rc 0
if need nginx; then
	NG=$T/nginx
	mkdir -p "$NG/logs"
	cp /etc/nginx/fastcgi_params "$NG/" 2>/dev/null ||
	    : >"$NG/fastcgi_params"
	printf 'error_log stderr;\npid %s/nginx.pid;\nevents {}\nhttp {\n\tinclude %s;\n}\n' \
	    "$NG" "$ROOT/scripts/nginx-risk.conf" >"$NG/nginx.conf"
	run nginx -t -p "$NG" -c "$NG/nginx.conf"
	expect_rc 0
	expect_err_re 'syntax is ok'
fi

# nginx + fcgiwrap, for real, with the shipped location block
if ! command -v nginx >/dev/null || [ ! -x /usr/sbin/fcgiwrap ] ||
    [ ! -f /etc/nginx/fastcgi_params ]; then
	skip "nginx + fcgiwrap: needs nginx, /usr/sbin/fcgiwrap, /etc/nginx/fastcgi_params"
else
	NPORT=$(free_port)
	chmod 755 "$NG"
	sed -e "s|listen 80;|listen 127.0.0.1:$NPORT;|" -e '/listen \[::\]/d' \
	    -e "s|/usr/local/bin/risk-get|$BIN/risk-get|" \
	    -e "s|/var/lib/risk/risk.db|$(sed_esc "$DB")|" \
	    -e "s|/var/lib/risk/queue/queue.db|$(sed_esc "$Q")|" \
	    -e "s|unix:/run/fcgiwrap.socket|unix:$NG/run/fcgiwrap.sock|" \
	    "$ROOT/scripts/nginx-risk.conf" >"$NG/risk.conf"
	[ -n "$QENV" ] || sed -i '/RISK_QUEUE/d' "$NG/risk.conf"
	nginx_main "$NG" "$NG/risk.conf" >"$NG/live.conf"
	mkdir "$NG/run"
	[ "$(id -u)" -ne 0 ] || chown "$WEBUSER" "$NG/run"
	# a simple command, so that $! is fcgiwrap itself (setpriv execs)
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$WEBUSER" --regid="$WEBGROUP" --clear-groups \
		    --inh-caps=-all /usr/sbin/fcgiwrap \
		    -s "unix:$NG/run/fcgiwrap.sock" </dev/null >/dev/null \
		    2>"$T/fcgiwrap.log" &
	else
		/usr/sbin/fcgiwrap -s "unix:$NG/run/fcgiwrap.sock" \
		    </dev/null >/dev/null 2>"$T/fcgiwrap.log" &
	fi
	FPID=$!
	CLEANUP="${CLEANUP:+$CLEANUP; }kill $FPID 2>/dev/null; sleep 0.1; kill -9 $FPID 2>/dev/null; wait $FPID 2>/dev/null; rm -f $NG/run/fcgiwrap.sock"
	nginx -p "$NG" -c "$NG/live.conf" -g 'daemon off; master_process on;' \
	    </dev/null >/dev/null 2>"$T/nginx.log" &
	NPID=$!
	CLEANUP="${CLEANUP:+$CLEANUP; }kill $NPID 2>/dev/null; wait $NPID 2>/dev/null"
	NURL=http://127.0.0.1:$NPORT/risk-get
	for _ in $(seq 100); do
		[ -S "$NG/run/fcgiwrap.sock" ] &&
		    curl -s -o /dev/null "$NURL/C1" && break
		sleep 0.05
	done
	http "$NURL/C1"
	expect_status 200
	expect_hdr ETag "^$etag\$"
	expect_body_re '^\{"id":"C1","status":"reliable"'
	http "$NURL?id=N9"
	expect_status 502
	expect_body '{"id":"N9","error":"not_cached","queued":true}'
	expect "queued through nginx" [ "$(qcount "$Q" N9)" = 1 ]
	http "$NURL/%22q%22"
	expect_status 400
	expect_clean_body
	http -X PUT --data-binary x "$NURL/C1"
	expect_status 405
	http -H "If-None-Match: $etag" "$NURL/C1"
	expect_status 304
fi

finish

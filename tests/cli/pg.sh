#!/bin/bash
# PostgreSQL with a real server: what only a server shared by many
# hosts can break.
#
# Invariants checked:
# - Several drainers in separate processes (as on several hosts) share
#   one cap: the stand-in never sees more requests in flight than the
#   --concurrency they were all given; no company is fetched twice; every
#   company ends stored.
# - A server stopped mid-drain ends the drain with exit 75 and one line
#   naming the database, password masked; after a restart a second drain
#   finishes everything: nothing vanished, leases ran out, entries came
#   back.
# - A server that is down: every program exits 75 with one line, and a
#   password given in the URI appears in no message, whatever the
#   program; risk-get under CGI answers a miss it cannot queue with 503.
# - kill -9 of drains and loads at random moments loses nothing.
# - A program on SQLite neither links nor loads libpq (both passes).
# - The web role reads records and adds to the queue, and nothing more.
#
# The stop/restart and the roles run on a server of this test's own
# (stopping the suite's would break other files; roles are the whole
# server's); the rest on the databases of the PostgreSQL pass.
. "$(dirname "$0")/../lib.sh"

# ---- both passes: SQLite never touches libpq -------------------------------

nolibpq=""
for f in "$BIN"/*; do
	[ "$(head -c 4 "$f" 2>/dev/null)" = $'\x7fELF' ] || continue
	ldd "$f" 2>/dev/null | grep -q libpq && nolibpq="$nolibpq ${f##*/}"
done
LAST="ldd bin/*"
expect "no program links libpq:${nolibpq:- none does}" [ -z "$nolibpq" ]
run env LD_DEBUG=libs RISK_DB="$T/sqlite.db" risk-get C1
expect_rc 1
expect "risk-get on SQLite never loads libpq" not grep -q 'libpq' "$T/err"
expect "(and LD_DEBUG did report the libraries it loaded)" \
    grep -q 'libsqlite3\|libc\.so' "$T/err"

# ---- which pass --------------------------------------------------------------

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
# own_server: a throwaway server in a folder of its own (not under $T,
# which the server's user cannot enter); OWN is the folder, OWN_PORT its
# TCP port.
own_server() {
	OWN=$(mktemp -d "${TMPDIR:-/tmp}/risk-pg.XXXXXX") || return 1
	CLEANUP="${CLEANUP:+$CLEANUP; }'$ROOT/scripts/pg-server' stop '$OWN'; rm -rf '$OWN'"
	"$ROOT/scripts/pg-server" start "$OWN" >"$T/own.uri" 2>"$T/own.err" ||
	    return 1
	OWN_PORT=$(cat "$OWN/port")
}
# own_ctl stop|start|status: the server of own_server, stopped fast
# (sessions cut), started again on the same port, or asked if it runs.
own_ctl() {
	local as=()
	[ "$(id -u)" -ne 0 ] || as=(runuser -u "$(stat -c %U "$OWN/data")" --)
	case $1 in
	stop) "${as[@]}" "$PGBIN/pg_ctl" -D "$OWN/data" -m fast -w stop ;;
	start) "${as[@]}" "$PGBIN/pg_ctl" -D "$OWN/data" \
	    -l "$OWN/data/server.log" -w -o "-c listen_addresses=127.0.0.1 -p $OWN_PORT -k $OWN -c fsync=off -c max_connections=200" \
	    start ;;
	status) "${as[@]}" "$PGBIN/pg_ctl" -D "$OWN/data" status ;;
	esac >/dev/null 2>&1
}

if ! on_pg; then
	echo "# pg.sh: PostgreSQL only: nothing more to do on SQLite"
	finish
	exit
fi
MAIN_DB=$RISK_DB

run env LD_DEBUG=libs risk-get --no-enqueue C1
expect "(on PostgreSQL, LD_DEBUG does see libpq loaded)" \
    grep -q 'libpq\.so' "$T/err"

# ---- several hosts: three overlapping drainers share one cap -----------------

cap=4
standin --latency 100-300 --log "$T/hosts.log"
seq -f 'H%g' 1 60 >"$T/hosts"
run risk-enqueue -q $(cat "$T/hosts")
expect_rc 0
# A drainer that holds the cap keeps it (it claims a replacement as it
# settles), so the first runs out of time early and hands over, with
# requests still in flight, to two more, all with the same cap.
hdrain() {	# hdrain N MAXTIME
	risk-drain -q --source "$SOURCE" --concurrency $cap --lease 60s \
	    --timeout 1s --max-time "$2" --breaker 0 \
	    >"$T/h$1.out" 2>"$T/h$1.err" &
	pids+=($!)
}
pids=()
hdrain 1 2s
for _ in $(seq 100); do
	[ "$(standin_get /_stats | jq .inflight)" -ge 1 ] && break
	sleep 0.05
done
hdrain 2 3s
hdrain 3 60s
hrc=""
for p in "${pids[@]}"; do wait "$p"; hrc="$hrc$?"; done
runs=$(q "SELECT count(*) FROM drain_run WHERE claimed > 0")
# what the second drainer left when its time ran out
run risk-drain -q --source "$SOURCE" --concurrency $cap --timeout 1s \
    --max-time 30s --breaker 0
expect_rc 0
stats=$(standin_get /_stats)
maxin=$(echo "$stats" | jq .max_inflight)
twice=$(cut -f 2 "$T/hosts.log" | sort | uniq -d | wc -l)
ids_load "$T/hosts"
stored=$(ids_q "SELECT count(*) FROM e.enq JOIN record USING (id) WHERE status IS NOT NULL")
echo "# pg.sh: 3 drainers, cap $cap: $(echo "$stats" | jq .requests) requests," \
    "max in flight $maxin, $stored of 60 stored, $runs runs claimed"
LAST="3 x risk-drain --concurrency $cap"
expect "the three drainers exited 0 ($hrc)" [ "$hrc" = 000 ]
expect "and said nothing" [ -z "$(cat "$T"/h[123].out "$T"/h[123].err)" ]
expect "the cap held for all: max in flight $maxin <= $cap" \
    [ "${maxin:-99}" -le $cap ]
expect "and was reached: the drainers overlapped ($maxin)" \
    [ "${maxin:-0}" -eq $cap ]
expect "the cap passed between drainers ($runs of 3 claimed)" [ "$runs" -ge 2 ]
expect "no company fetched twice ($twice were)" [ "$twice" = 0 ]
expect "every company fetched" [ "$(cut -f 2 "$T/hosts.log" | sort -u | wc -l)" = 60 ]
expect "every company stored ($stored)" [ "$stored" = 60 ]
expect "the queue is empty" [ "$(q 'SELECT count(*) FROM queue')" = 0 ]

# ---- a server that is down: every program, 75 and one line, no password -------

fp=$(free_port)
DOWN="postgresql://risk:s3cret@127.0.0.1:$fp/risk"
masked="postgresql://risk:\*\*\*@127\.0\.0\.1:$fp/risk"
# down_case PROG ARGS...: exit 75, nothing on stdout, one line on stderr
# in the house form naming the database with its password masked
down_case() {
	local p=$1
	run "$@"
	expect_rc 75
	expect_out_empty
	expect "$p: one line on stderr" [ "$(wc -l <"$T/err")" = 1 ]
	expect_err_re "^$p: .*$masked"
	expect "$p: no password anywhere" not grep -q s3cret "$T/out" "$T/err"
}
echo '{"id":"L1","status":"reliable"}' >"$T/one.jsonl"
export RISK_DB=$DOWN
down_case risk-get C1
down_case risk-get --no-enqueue C1
down_case risk-enqueue C1
down_case risk-stat
down_case risk-stat --dead
down_case risk-drain --source "$SOURCE"
down_case risk-purge --older-than 1h
down_case risk-load "$T/one.jsonl"
down_case risk-changes
down_case risk-fetch --store --source "$SOURCE" C1
unset RISK_DB
down_case risk-get --db "$DOWN" C1
down_case risk-drain --db "$DOWN" --source "$SOURCE"
# a password in the query part is a password too
run risk-get --db "postgresql://risk@127.0.0.1:$fp/risk?password=s3cret" C1
expect_rc 75
expect "?password=: no password in the message" not grep -q s3cret "$T/err"

# under CGI: a miss that cannot be queued is a 503, never a 502
. "$ROOT/tests/http.sh"
run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET QUERY_STRING=id=M1 \
    RISK_DB="$DOWN" risk-get
expect_status 503
expect_hdr Retry-After '^[0-9]+$'
expect_body '{"id":"M1","error":"unavailable"}'
expect_clean_body
expect "CGI: one line on stderr, no password" \
    [ "$(wc -l <"$T/err")" = 1 -a "$(grep -c s3cret "$T/out" "$T/err" | awk -F: '{n += $2} END {print n}')" = 0 ]
export RISK_DB=$MAIN_DB

# ---- the server stopped mid-drain, then restarted -------------------------

if own_server; then
	FDB="postgresql://risk:s3cret@127.0.0.1:$OWN_PORT/risk"
	fmasked="postgresql://risk:\*\*\*@127\.0\.0\.1:$OWN_PORT/risk"
	standin --latency 200-400 --log "$T/faults.log"
	seq -f 'F%g' 1 40 >"$T/faults"
	run risk-enqueue --db "$FDB" $(cat "$T/faults")
	expect_rc 0
	risk-drain -q --db "$FDB" --source "$SOURCE" --concurrency 4 \
	    --lease 3s --timeout 2s --max-time 60s --breaker 0 \
	    >"$T/f.out" 2>"$T/f.err" &
	dpid=$!
	end=$((SECONDS + 15))
	while [ $SECONDS -lt $end ] && kill -0 "$dpid" 2>/dev/null; do
		[ "$(RISK_DB=$FDB q 'SELECT count(*) FROM record' 2>/dev/null)" -ge 8 ] && break
		sleep 0.05
	done
	before=$(RISK_DB=$FDB q 'SELECT count(*) FROM record')
	own_ctl stop
	wait "$dpid"
	rc=$? LAST="risk-drain, the server stopped after $before stored"
	cp "$T/f.err" "$T/err"; cp "$T/f.out" "$T/out"
	expect_rc 75
	expect "one line on stderr" [ "$(wc -l <"$T/err")" = 1 ]
	expect_err_re "^risk-drain: .*$fmasked"
	expect "no password in it" not grep -q s3cret "$T/err"
	expect "stopped mid-drain (stored $before of 40)" \
	    [ "$before" -ge 1 -a "$before" -lt 40 ]
	run risk-stat --db "$FDB"
	expect_rc 75
	own_ctl start
	RISK_DB=$FDB ids_load "$T/faults"
	lost=$(RISK_DB=$FDB ids_q "SELECT count(*) FROM e.enq f WHERE
	    (SELECT count(*) FROM record r WHERE r.id = f.id AND r.status IS NOT NULL)
	  + (SELECT count(*) FROM queue x WHERE x.id = f.id) <> 1")
	leased=$(RISK_DB=$FDB q 'SELECT count(*) FROM queue WHERE token IS NOT NULL')
	expect "after the restart every company is stored or queued, once ($lost not)" \
	    [ "$lost" = 0 ]
	expect "nothing stored was lost ($before before)" \
	    [ "$(RISK_DB=$FDB q 'SELECT count(*) FROM record')" -ge "$before" ]
	# the leases of the cut drain run out (3 s); then one drain ends it
	sleep 3.1
	run risk-drain -q --db "$FDB" --source "$SOURCE" --concurrency 4 \
	    --lease 3s --timeout 2s --max-time 60s --breaker 0
	expect_rc 0
	expect_err_empty
	expect "leases ran out and came back ($leased were held)" \
	    [ "$(RISK_DB=$FDB q 'SELECT count(*) FROM queue')" = 0 ]
	expect "every company stored in the end" \
	    [ "$(RISK_DB=$FDB ids_q "SELECT count(*) FROM e.enq JOIN record USING (id) WHERE status IS NOT NULL")" = 40 ]
else
	LAST="scripts/pg-server start"
	fail "cannot start a server of our own: $(head -n 3 "$T/own.err")"
fi

# ---- kill -9 of drains and loads: nothing lost ----------------------------

KDB=$(new_db kill) || KDB=
if [ -n "$KDB" ]; then
	export RISK_DB=$KDB
	standin --latency 0-80 --fail-rate 0.2 --log "$T/kill.log"
	DRAIN=(risk-drain -q --source "$SOURCE" --timeout 500ms --lease 1s
	    --backoff 50ms --max-attempts 3 --breaker 0)
	: >"$T/killed"
	: >"$T/snap.prev"
	kills=0 lkills=0 bad_time=0
	RANDOM=${KILLLOOP_SEED:-$$}
	for i in $(seq 6); do
		seq -f "K$i-%g" 1 30 >"$T/batch"
		risk-enqueue -q <"$T/batch" || { LAST="risk-enqueue"; fail "enqueue failed (round $i)"; }
		cat "$T/batch" >>"$T/killed"
		"${DRAIN[@]}" --concurrency 4 2>>"$T/kill.err" &
		d1=$!
		"${DRAIN[@]}" --concurrency 4 2>>"$T/kill.err" &
		d2=$!
		awk -v r=$RANDOM 'BEGIN { srand(r); for (i = 1; i <= 200; i++)
		    printf "{\"id\":\"L%d\",\"status\":\"%s\"}\n", i,
		    rand() < 0.5 ? "reliable" : "indebted" }' >"$T/dump"
		{ head -n 100 "$T/dump"; sleep 1; tail -n 100 "$T/dump"; } |
		    risk-load -q --batch 7 2>>"$T/kill.err" &
		ld=$!
		sleep "0.$((100 + RANDOM % 300))"
		kill -9 "$ld" 2>/dev/null && lkills=$((lkills + 1))
		kill -9 "$d1" 2>/dev/null && kills=$((kills + 1))
		sleep "0.$((RANDOM % 200))"
		kill -9 "$d2" 2>/dev/null && kills=$((kills + 1))
		wait "$d1" "$d2" "$ld" 2>/dev/null
		q "SELECT id || ' ' || fetched_at FROM record ORDER BY id" >"$T/snap"
		bad_time=$((bad_time + $(join "$T/snap.prev" "$T/snap" -a 1 |
		    awk 'NF < 3 || $3 < $2 { n++ } END { print n + 0 }')))
		mv "$T/snap" "$T/snap.prev"
	done 2>>"$T/shell.err"
	sleep 1.1
	for _ in $(seq 10); do
		run "${DRAIN[@]}" --concurrency 4 --max-time 20s
		[ "$rc" -eq 0 ] || break
		[ "$(q 'SELECT count(*) FROM queue')" -gt 0 ] || break
		sleep 0.2
	done
	expect_rc 0
	ids_load "$T/killed"
	inv=$(ids_q "SELECT count(*) FROM e.enq k WHERE
	    (SELECT count(*) FROM record r WHERE r.id = k.id AND r.status IS NOT NULL)
	  + (SELECT count(*) FROM queue x WHERE x.id = k.id)
	  + (SELECT count(*) FROM dead d WHERE d.id = k.id AND d.reason <> '') <> 1")
	step=$(q "SELECT count(*) FROM record r WHERE r.status IS DISTINCT FROM
	    (SELECT status FROM history h WHERE h.id = r.id ORDER BY seq DESC LIMIT 1)
	    OR NOT EXISTS (SELECT 1 FROM history h WHERE h.id = r.id)")
	echo "# pg.sh: kill loop: $kills drains and $lkills loads killed;" \
	    "$(q 'SELECT count(*) FROM record') records"
	LAST="kill -9 loop on PostgreSQL"
	expect "drains were killed ($kills)" [ "$kills" -ge 6 ]
	expect "loads were killed ($lkills)" [ "$lkills" -ge 1 ]
	expect "every company exactly one of stored, queued, dead ($inv not)" [ "$inv" = 0 ]
	expect "no record went back in time or vanished ($bad_time)" [ "$bad_time" = 0 ]
	expect "every record in step with its history ($step not)" [ "$step" = 0 ]
	expect "no drain or load reported an error" not grep -v -e 'lease lost' \
	    -e '^==[0-9]*==Unable to get registers from thread [0-9]*\.$' "$T/kill.err"
	export RISK_DB=$MAIN_DB
else
	LAST="CREATE DATABASE risk_pgkill"
	fail "cannot make a database for the kill loop"
fi

# ---- the web role: read records, add to the queue, nothing more -------------

# as_web_sql SQL: true when the web role may run SQL
as_web_sql() { RISK_DB=$WEB q "$1" >/dev/null 2>>"$T/web.sql.err"; }
if [ -n "${OWN:-}" ] && [ -f "$OWN/port" ] && own_ctl status; then
	SU="postgresql://risk@127.0.0.1:$OWN_PORT/risk"
	psql -X -q "$SU" -c 'CREATE DATABASE roles' >/dev/null
	RDB="postgresql://risk@127.0.0.1:$OWN_PORT/roles"
	# as risk.7 says: the script on a database no program has used yet
	run "$ROOT/scripts/risk-pg-roles" "$RDB"
	expect_rc 0
	if [ "$rc" -ne 0 ]; then
		# so that the rest still checks the grants: tables made by a
		# superuser, which the script gives to the owner
		risk-enqueue --db "$RDB" </dev/null >/dev/null 2>&1
		run "$ROOT/scripts/risk-pg-roles" "$RDB"
		expect_rc 0
	fi
	psql -X -q "$RDB" -c 'CREATE ROLE www LOGIN IN ROLE risk_web' >/dev/null
	WEB="postgresql://www:w3bpass@127.0.0.1:$OWN_PORT/roles"
	printf '%s\n' '{"id":"R1","status":"reliable"}' \
	    '{"id":"R2","status":"indebted"}' >"$T/roles.jsonl"
	run risk-load --db "$RDB" "$T/roles.jsonl"
	expect_rc 0
	RISK_DB=$RDB q "UPDATE record SET fetched_at = 0 WHERE id = 'R2';
	    INSERT INTO dead VALUES ('D1', 'HTTP 500', 5, 0, 1, 2)" >/dev/null
	snap() { RISK_DB=$RDB q "SELECT id||' '||coalesce(status,'-')||' '||fetched_at FROM record
	    UNION ALL SELECT 'dead '||id FROM dead ORDER BY 1"; }
	snap >"$T/roles.before"

	# what the web user does
	run risk-get --db "$WEB" R1
	expect_rc 0
	expect_out_re '"id":"R1","status":"reliable"'
	run risk-get --db "$WEB" M1 M1
	expect_out_re '"id":"M1","error":"not_cached","queued":true'
	run risk-get --db "$WEB" R2
	expect_out_re '"id":"R2","status":"indebted".*"queued":true'
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET QUERY_STRING=id=M2 \
	    RISK_DB="$WEB" risk-get
	expect_status 502
	expect_body '{"id":"M2","error":"not_cached","queued":true}'
	run env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET QUERY_STRING=id=D1 \
	    RISK_DB="$WEB" risk-get
	expect_status 502
	expect_body '{"id":"D1","error":"not_cached","queued":false}'
	expect "the web role queued M1, M2 and the stale R2, once each" \
	    [ "$(RISK_DB=$RDB q "SELECT string_agg(id, ',' ORDER BY id) FROM queue")" = M1,M2,R2 ]

	# what it may not do, through the programs
	echo '{"id":"R1","status":"indebted"}' >"$T/flip.jsonl"
	run risk-load --db "$WEB" "$T/flip.jsonl"
	expect "the web role cannot load a record (exit $rc)" [ "$rc" -ne 0 ]
	run risk-drain --db "$WEB" --source "$SOURCE" --timeout 1s --max-time 10s
	expect "nor drain (exit $rc)" [ "$rc" -ne 0 ]
	run risk-purge --db "$WEB" --older-than 1s
	expect "nor purge (exit $rc)" [ "$rc" -ne 0 ]
	run risk-enqueue --db "$WEB" --redrive D1
	expect "nor redrive a dead letter (exit $rc)" [ "$rc" -ne 0 ]
	expect "no message names the password" not grep -rq w3bpass "$T/err" "$T/out"
	# and in SQL, straight
	for sql in "UPDATE record SET status = 'x'" "DELETE FROM record" \
	    "INSERT INTO record VALUES ('R9', 'x', 0, 0)" \
	    "UPDATE queue SET token = 1" "UPDATE queue SET attempts = 0" \
	    "DELETE FROM queue" "DELETE FROM dead" \
	    "INSERT INTO dead VALUES ('D2', 'x', 1, 0, 1, 2)" \
	    "SELECT count(*) FROM history" "SELECT count(*) FROM fetch_log" \
	    "UPDATE source SET state = 'closed'" "TRUNCATE record" \
	    "CREATE TABLE risk.x (y int)" \
	    "INSERT INTO queue (id, due, enqueued_at) VALUES ('$(printf 'L%.0s' $(seq 70))', 0, 0)" \
	    "INSERT INTO queue (id, due, enqueued_at) VALUES ('../x', 0, 0)" \
	    "INSERT INTO queue (id, due, enqueued_at, attempts) VALUES ('A1', 0, 0, 2147483647)" \
	    "INSERT INTO queue (id, due, enqueued_at, token) VALUES ('F1', 0, 0, 1)" \
	    "INSERT INTO queue (id, due, enqueued_at, redrives) VALUES ('D9', 0, 0, 1)"; do
		LAST="psql as risk_web: $sql"
		expect "refused: $sql" not as_web_sql "$sql"
	done
	LAST="psql as risk_web"
	expect "it may read records and queue in SQL" as_web_sql \
	    "SELECT count(*) FROM record; INSERT INTO queue (id, due, enqueued_at) VALUES ('M9', 0, 0)"
	snap >"$T/roles.after"
	expect "no record or dead letter changed" cmp -s "$T/roles.before" "$T/roles.after"
	expect "M1 still queued, not leased" \
	    [ "$(RISK_DB=$RDB q "SELECT count(*) FROM queue WHERE id = 'M1' AND token IS NULL AND attempts = 0")" = 1 ]
	# what the grants let through: a dead letter queued by hand is
	# dropped by the drainer, never fetched
	LAST="psql as risk_web"
	expect "the web role can queue a dead letter in SQL" as_web_sql \
	    "INSERT INTO queue (id, due, enqueued_at) VALUES ('D1', 0, 0)"
	: >"$T/roles.log"
	standin --latency 0 --log "$T/roles.log"
	run risk-drain --db "$RDB" --source "$SOURCE" -v
	expect_rc 0
	expect_err_re '^risk-drain: D1: dropped from the queue: a dead letter'
	expect "D1 never fetched" not grep -q $'\tD1\t' "$T/roles.log"
	expect "D1 still a dead letter, off the queue" [ "$(RISK_DB=$RDB q "SELECT
	    (SELECT count(*) FROM dead WHERE id = 'D1')::text ||
	    (SELECT count(*) FROM queue WHERE id = 'D1')")" = 10 ]
else
	LAST="the roles"
	fail "no server of our own to try the roles on"
fi

finish

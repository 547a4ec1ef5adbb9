# tests/lib.sh — sourced by every tests/cli/*.sh.
#
# Each script runs the built binaries as a user would: LC_ALL=C, stdin
# from /dev/null unless a test gives input, a fresh mktemp -d folder
# removed by a trap, and a database of its own.  Every expect_* call is
# one assertion; `finish` reports the counts to tests/run.
#
#   run [-i FILE] CMD...   run CMD, keep stdout in $T/out, stderr in
#                          $T/err and the exit status in $rc
#   expect_rc N            expect_out TEXT        expect_out_re ERE
#   expect_err_re ERE      expect_err_empty       expect_out_empty
#   expect NAME CMD...     any shell test (e.g. expect "x" [ -f f ])
#   skip WHAT              a block not run (a missing dependency); a
#                          failure instead under CI=true
#   need CMD...            true if every CMD is installed, else skip
#   q [-r] SQL             SQL on $RISK_DB, SQLite or PostgreSQL by its
#                          form: one line a row, columns joined by '|',
#                          NULL empty (-r: a read-only session)
#   db_dump                every row of every table, each table's sorted
#                          (to compare before and after)
#   on_sqlite, on_pg       the pass's engine (tests/run: RISK_TEST_ENGINE)
#   new_db NAME            prints the place of a new, empty database NAME:
#                          $T/NAME.db, or on PostgreSQL a database made
#                          afresh on the run's server
#
# The engines.  tests/run runs every script twice: on SQLite (RISK_DB a
# file in $T) and on PostgreSQL (RISK_TEST_ENGINE=pg, RISK_DB a database
# of this script's own, made here on the run's server RISK_TEST_PG_URI;
# NAME reads "pg/x.sh").  SQL for q runs on both: ON CONFLICT rather than
# INSERT OR REPLACE, `first`/`NOT first` rather than `first = 1`, LIKE
# rather than GLOB, explicit column lists (PostgreSQL tables have a seq
# column where SQLite has its rowid; source.window is "win").  A check
# that is about a SQLite file by nature goes in `if on_sqlite; then`;
# finish counts those blocks on PostgreSQL.
#   RISK_TEST_ENGINE=pg RISK_TEST_PG_URI=$(scripts/pg-server start DIR) \
#       bash tests/cli/x.sh
# runs one script on PostgreSQL by hand.
#
# Every expect* returns 0 when it passed and 1 when it recorded a
# failure, so `expect A ... || expect B ...` reads as it runs: prefer
# one assertion with the whole condition (expect "x" test1 -o ...).

set -u
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
PATH=$BIN:$PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/risk-test.XXXXXX")
CLEANUP=""
trap 'eval "$CLEANUP"; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
# Nothing from the caller's environment steers the programs: every
# RISK_* variable goes (credentials file, queue, lock timeout, ...).
ENGINE=${RISK_TEST_ENGINE:-sqlite}
PG_URI=${RISK_TEST_PG_URI:-}
unset $(compgen -e | grep '^RISK_') XDG_STATE_HOME
export RISK_DB=$T/risk.db
export HOME=$T/home
PASS=0
FAIL=0
SKIP=0
NOTPG=0
NAME=${0##*/}
rc=0

# python with Debian's modules (not a pyenv shim)
PY=/usr/bin/python3

on_pg() { [ "$ENGINE" = pg ]; }
on_sqlite() {
	[ "$ENGINE" = pg ] || return 0
	NOTPG=$((NOTPG + 1))
	return 1
}
# Is $1 a PostgreSQL connection string (as the library decides)?
is_pg_uri() {
	case $1 in postgresql://* | postgres://* | service=*) ;; *) return 1 ;; esac
}
# pg_uri DBNAME: the run's server with DBNAME as the database
pg_uri() {
	local base=${PG_URI%%\?*} query=
	case $PG_URI in *\?*) query="?${PG_URI#*\?}" ;; esac
	case $base in *://*/*) base=${base%/*} ;; esac
	echo "$base/$1$query"
}

db_dump() {
	local t
	for t in record dead fetch_log drain_run source history history_total \
	    queue; do
		echo "-- $t"
		q -r "SELECT * FROM $t" | sort
	done
}

# pg_mkdb NAME: (re)make database NAME on the run's server
pg_mkdb() {
	PGOPTIONS="-c client_min_messages=warning" \
	    psql -X -q -v ON_ERROR_STOP=1 -d "$PG_URI" \
	    -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" \
	    -c "CREATE DATABASE \"$1\""
}
new_db() {
	local db=${NAME#pg/}
	db=${db%.sh}-$1
	if on_pg; then
		pg_mkdb "$db" >&2 || return 1
		pg_uri "$db"
	else
		echo "$T/$1.db"
	fi
}

q() {
	local ro=
	if [ "$1" = -r ]; then ro=1; shift; fi
	if is_pg_uri "$RISK_DB"; then
		PGOPTIONS="-c search_path=${Q_SCHEMA:-risk} -c client_min_messages=warning${ro:+ -c default_transaction_read_only=on}" \
		    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$RISK_DB" -c "$1"
	else
		sqlite3 -batch ${ro:+-readonly} -cmd '.timeout 10000' "$RISK_DB" "$1"
	fi
}

run() {
	local input=/dev/null
	if [ "$1" = -i ]; then input=$2; shift 2; fi
	"$@" <"$input" >"$T/out" 2>"$T/err"
	rc=$?
	LAST="$*"
}

pass() { PASS=$((PASS + 1)); [ -z "${VERBOSE:-}" ] || echo "ok - $1"; }
fail() {
	FAIL=$((FAIL + 1))
	echo "not ok - $NAME: $1"
	echo "#   command: ${LAST:-}"
	echo "#   exit: $rc"
	sed 's/^/#   out: /' "$T/out" 2>/dev/null | head -n 10
	sed 's/^/#   err: /' "$T/err" 2>/dev/null | head -n 10
	return 1
}

# A block that cannot run here.  Counted, and under CI=true (where
# scripts/install-deps put everything in place) a failure.
skip() {
	if [ "${CI:-}" = true ]; then
		LAST="(skipped block)"; rc=0
		fail "CI=true: dependency missing: $1"
		return
	fi
	SKIP=$((SKIP + 1))
	echo "# $NAME: skipped: $1"
}
need() {
	local c missing=""
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] && return 0
	skip "not installed:$missing"
	return 1
}

expect_rc() {
	if [ "$rc" -eq "$1" ]; then pass "exit $1: $LAST"
	else fail "expected exit $1, got $rc"; fi
}
expect_out() {
	if [ "$(cat "$T/out")" = "$1" ]; then pass "stdout: $LAST"
	else fail "expected stdout: $1"; fi
}
expect_out_re() {
	if grep -Eq -- "$1" "$T/out"; then pass "stdout ~ $1"
	else fail "expected stdout to match: $1"; fi
}
expect_out_empty() {
	if [ ! -s "$T/out" ]; then pass "stdout empty: $LAST"
	else fail "expected empty stdout"; fi
}
expect_err_re() {
	if grep -Eq -- "$1" "$T/err"; then pass "stderr ~ $1"
	else fail "expected stderr to match: $1"; fi
}
expect_err_empty() {
	if [ ! -s "$T/err" ]; then pass "stderr empty: $LAST"
	else fail "expected empty stderr"; fi
}
not() { ! "$@"; }
expect() {
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# A record straight into the cache: id status changed_at(s) age(s).
# Status "-" stores a not_found answer.
seed() {
	local now st
	now=$(($(date +%s) * 1000))
	if [ "$2" = - ]; then st=NULL; else st="'$2'"; fi
	q "INSERT INTO record (id, status, changed_at, fetched_at)
	    VALUES('$1',$st,$3,$((now - $4 * 1000))) ON CONFLICT (id) DO UPDATE
	    SET status = excluded.status, changed_at = excluded.changed_at,
	    fetched_at = excluded.fetched_at"
}

# Become nobody for a command (a root test cannot see permission denials).
as_nobody() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    --inh-caps=-all "$@"
	else
		"$@"
	fi
}

finish() {
	[ "$NOTPG" -eq 0 ] ||
	    echo "# $NAME: $NOTPG blocks of checks are SQLite-only"
	echo "# $NAME: $PASS passed, $FAIL failed, $SKIP skipped"
	[ -z "${RESULTS:-}" ] || echo "$PASS $FAIL $SKIP" >>"$RESULTS"
	[ "$FAIL" -eq 0 ]
}

# Start the stand-in legacy service on a free port of 127.0.0.1 with the
# given options; sets $PORT, $SOURCE and RISK_SOURCE_URL; stopped at exit.
standin() {
	local log=$T/standin.$$.$RANDOM
	"$ROOT/scripts/legacy-standin" --port 0 "$@" </dev/null >"$log" 2>&1 &
	STANDIN_PID=$!
	CLEANUP="${CLEANUP:+$CLEANUP; }kill $STANDIN_PID 2>/dev/null; wait $STANDIN_PID 2>/dev/null"
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$log")
		[ -n "$PORT" ] && break
		sleep 0.05
	done
	SOURCE="http://127.0.0.1:$PORT/financial-risk/{id}"
	export RISK_SOURCE_URL=$SOURCE
}

# A reader that keeps $RISK_DB open: risk-get --no-enqueue reading IDs
# from a fifo, its answers in $T/reader.out.  reader_start ID starts it
# and waits for its answer to ID; reader_ask ID asks once more (true
# once answered); reader_stop ends it.
reader_start() {
	mkfifo "$T/reader.in"
	risk-get --no-enqueue <"$T/reader.in" >"$T/reader.out" 2>&1 &
	READER_PID=$!
	exec 7>"$T/reader.in"
	reader_ask "$1"
}
reader_ask() {
	local _
	echo "$1" >&7
	for _ in $(seq 100); do
		grep -q "\"id\":\"$1\"" "$T/reader.out" && return 0
		sleep 0.05
	done
	return 1
}
reader_stop() {
	exec 7>&-
	wait "$READER_PID"
	rm -f "$T/reader.in"
}

# GET a path of the stand-in (e.g. /_stats).
standin_get() { curl -s "http://127.0.0.1:$PORT$1"; }

# A free TCP port on 127.0.0.1 with nothing listening.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The options of the rows of a C table, one per line: "-x" for a letter,
# "--name" for a long name, "@NAME_OPTIONS" for a macro row.  start is
# an ERE for the table's first line; macro=1 for a #define.
table_rows() {
	awk '
	function row(s,    t, name, val) {
		while (match(s, /\{[[:space:]]*(NULL|"[^"]+")[[:space:]]*,[[:space:]]*('"'"'.'"'"'|[A-Za-z_0-9]+)/)) {
			t = substr(s, RSTART, RLENGTH)
			s = substr(s, RSTART + RLENGTH)
			sub(/^\{[[:space:]]*/, "", t)
			name = t; sub(/[[:space:]]*,.*/, "", name)
			val = t; sub(/.*,[[:space:]]*/, "", val)
			if (name != "NULL") { gsub(/"/, "", name); print "--" name }
			if (val ~ /^'"'"'.'"'"'$/) print "-" substr(val, 2, 1)
		}
	}
	$0 ~ start { on = 1 }
	on && !macro && match($0, /[A-Z_]+_OPTIONS[[:space:]]*,/) {
		m = substr($0, RSTART, RLENGTH); sub(/[[:space:]]*,$/, "", m)
		print "@" m
	}
	on { row($0) }
	on && (macro ? $0 !~ /\\[[:space:]]*$/ : /\};/) { exit }
	' macro="$2" start="$3" "$1"
}

# prog_options PROG [DIR]: the options PROG parses, one per line, read
# from the options[] table of DIR/cmd/PROG.c (the table cmd_getopt
# hands to getopt) with the *_OPTIONS macros of cmd/cmd.h expanded.
prog_options() {
	local o src=${2:-$ROOT}
	for o in $(table_rows "$src/cmd/$1.c" "" 'options\[\][[:space:]]*='); do
		case $o in
		@*) table_rows "$src/cmd/cmd.h" 1 "^#define ${o#@}[[:space:]]" ;;
		*) echo "$o" ;;
		esac
	done
}

# Build tests/faults/NAME.c as an LD_PRELOAD shim into $SHIM, or end the
# script with a failure.  An ASan build wants its runtime first; the
# shim comes before it.
build_shim() {
	SHIM=$T/$1.so
	if ! ${CC:-cc} -shared -fPIC -o "$SHIM" "$ROOT/tests/faults/$1.c" \
	    -ldl 2>"$T/cc.err"; then
		LAST="cc $1.c"
		fail "cannot build the shim: $(head -n 1 "$T/cc.err")"
		finish
		exit
	fi
	export ASAN_OPTIONS=verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
}

# On PostgreSQL: a database of this script's own on the run's server,
# named after the file (made afresh: a second run by hand finds no
# leftovers), as $RISK_DB.
if on_pg; then
	NAME=pg/$NAME
	LAST="CREATE DATABASE ${NAME#pg/}"
	if [ -z "$PG_URI" ]; then
		fail "RISK_TEST_ENGINE=pg without RISK_TEST_PG_URI"
		finish
		exit
	fi
	_db=${NAME#pg/}; _db=${_db%.sh}
	if ! pg_mkdb "$_db" >"$T/err" 2>&1; then
		fail "cannot make the test's database"
		finish
		exit
	fi
	RISK_DB=$(pg_uri "$_db")
	unset _db
	LAST=
	rm -f "$T/err"
	# nothing a program makes of a URI it takes for a path lands in
	# the tree
	cd "$T" || exit 2
fi

# A list of IDs beside the test's database, for SQL that accounts for
# every one of them: ids_load FILE makes the table e.enq of FILE's IDs
# (a file attached as "e" on SQLite, schema e on PostgreSQL); ids_q SQL
# runs SQL that may name e.enq.
ids_load() {
	if is_pg_uri "$RISK_DB"; then
		q "DROP SCHEMA IF EXISTS e CASCADE; CREATE SCHEMA e;
		    CREATE TABLE e.enq (id text PRIMARY KEY);
		    INSERT INTO e.enq VALUES $(sort -u "$1" |
		    sed "s/'/''/g; s/.*/('&')/" | paste -sd,)"
	else
		rm -f "$T/enq.db"
		{ echo "CREATE TABLE enq (id TEXT PRIMARY KEY);"
		  sort -u "$1" | sed "s/'/''/g; s/.*/INSERT INTO enq VALUES ('&');/"
		} | sqlite3 "$T/enq.db"
	fi
}
ids_q() {
	if is_pg_uri "$RISK_DB"; then q "$1"; else q "ATTACH '$T/enq.db' AS e; $1"; fi
}

# bad_ids [DB]: how many IDs on the queue of DB ($RISK_DB) are not valid
# company IDs (what the web user or a hostile row could have put there)
bad_ids() {
	RISK_DB=${1:-$RISK_DB} q -r 'SELECT id FROM queue' |
	    grep -cEv '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'
}

# sed_esc STRING: STRING as the replacement of a sed s||| command (a URI
# holds '&', which sed reads as the match)
sed_esc() { printf '%s' "$1" | sed 's/[&|\\]/\\&/g'; }

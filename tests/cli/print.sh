#!/bin/bash
# One printer, one sanitiser: output that needs no user filter never
# needs libjq (run here with libjq made unloadable by an LD_PRELOAD shim,
# tests/faults/nojq.c); a status is short printable text, refused at
# mapping otherwise; every byte from the service or the queue file that
# is printed as plain text goes through the one sanitiser, so nothing raw
# reaches a terminal and no line is forged; JSON stays exact; --jq with
# a module directive is refused before libjq can abort.
. "$(dirname "$0")/../lib.sh"

# control bytes for SQL literals (both engines keep them as they are)
ESC=$'\033' BEL=$'\a' NL=$'\n' TAB=$'\t' CR=$'\r'
C1=$'\xc3\x82\xc2\x9b'	# U+00C2 U+009B: a C1 control after a letter
now=$(($(date +%s) * 1000))
ESC=$(printf '\033')
# no control byte but tab and newline in stdout and stderr
clean() {
	! LC_ALL=C grep -q "[$(printf '\001-\010\013-\037\177')]" "$T/out" "$T/err" &&
	    ! LC_ALL=C grep -q "$(printf '\302[\200-\237]')" "$T/out" "$T/err"
}
valid_json_lines() {
	$PY -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$T/out" 2>/dev/null
}

build_shim nojq
nojq() { env LD_PRELOAD="$SHIM" "$@"; }

risk-enqueue </dev/null || exit 2	# creates the database
seed C1 reliable 1735948800 120
q "INSERT INTO dead (id, reason, attempts, redrives, enqueued_at, died_at) VALUES('D1','HTTP 503',5,0,$((now - 90000)),$((now - 60000))),('D2','said \"no\" \\ twice',5,1,$((now - 50000)),$((now - 40000)))"

# ---- without libjq --------------------------------------------------------
run nojq risk-get --jq .status C1
expect_rc 2
expect_err_re '^risk-get: --jq: cannot load libjq'
expect "the shim really hides libjq" grep -q 'nojq' "$T/err"

run nojq risk-get C1
expect_rc 0
expect_out_re '^\{"id":"C1","status":"reliable",'

run nojq risk-stat --dead --json
expect_rc 0
expect "risk-stat --dead --json without libjq: valid JSON" valid_json_lines
expect_out_re '"reason":"said \\"no\\" \\\\ twice"'
expect "both dead letters" [ "$(wc -l <"$T/out")" = 2 ]

run nojq risk-purge --dead --dry-run --older-than 0 --json
expect_rc 0
expect "risk-purge --dead --dry-run --json without libjq: valid JSON" valid_json_lines
expect "both listed" [ "$(wc -l <"$T/out")" = 2 ]

run nojq env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST PATH_INFO=/C1 \
    risk-get
expect_rc 0
expect_out_re '^Status: 405'
expect_out_re '^\{"error":"[a-z_]+"\}'

run nojq env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/C1 \
    risk-get
expect_out_re '^Status: 200'
expect_out_re '^\{"id":"C1","status":"reliable",'

# ---- --jq with a module directive: exit 2, not an abort in libjq --------
for f in 'import "x" as x; .' 'include "x"; .status'; do
	run risk-get --jq "$f" C1
	expect_rc 2
	expect_err_re '^risk-get: --jq: invalid jq filter: module directives are not supported'
done
run risk-get --jq '.status | select(. != "import")' C1
expect_rc 0
expect_out reliable

# ---- hostile statuses from the service: refused at mapping -------------
standin --latency 0
for id in ansi-1 newline-1 nulstatus-1 c1status-1; do
	run risk-fetch --store "$id"
	expect_rc 1
	expect_err_re "^risk-fetch: $id: status holds a NUL or a control character$"
	expect "$id: nothing raw on stdout or stderr" clean
	expect "$id: not stored" [ -z "$(q "select id from record where id='$id'")" ]
done
run risk-enqueue ansi-2 newline-2 nulstatus-2
run risk-drain -v --max-attempts 1
expect_rc 0
expect "drain: nothing raw" clean
expect "three dead letters, none stored" [ "$(q "select count(*) from dead where id in ('ansi-2','newline-2','nulstatus-2')")" = 3 ]
expect "the reason is one printable line" [ "$(q "select count(*) from dead where reason = 'status holds a NUL or a control character'")" = 3 ]

# ---- hostile bytes written into the files by hand, then printed --------
# a record stored before statuses were checked
q "INSERT INTO record (id, status, changed_at, fetched_at) VALUES('C2','$ESC]0;pwned$BEL$ESC[2Jok${NL}C9${TAB}forged',0,$now)"
run risk-get --jq .status C2
expect_rc 0
expect "risk-get --jq raw string: sanitised" clean
expect "risk-get --jq: one line" [ "$(wc -l <"$T/out")" = 1 ]
expect_out '?]0;pwned??[2Jok?C9?forged'
run risk-get C2
expect "JSON stays exact" grep -qF '"status":"\u001b]0;pwned\u0007\u001b[2Jok\nC9\tforged"' "$T/out"

run risk-purge --dry-run --older-than 0
expect_rc 0
expect "risk-purge --dry-run: sanitised" clean
expect "risk-purge --dry-run: a line per record" [ "$(wc -l <"$T/out")" = "$(q 'select count(*) from record')" ]

# dead letters and log rows as the web user could write them
q "INSERT INTO dead (id, reason, attempts, redrives, enqueued_at, died_at) VALUES('X$ESC[31m${NL}FORGED','$ESC]0;t${BEL}x${NL}FORGED${TAB}row$C1',1,0,$now,$now)"
q "INSERT INTO fetch_log (at, id, outcome, http, ms, reason) VALUES($now,'L$ESC[2J','stored',200,1,'a${NL}FORGED$CR')"
run risk-stat --dead
expect_rc 0
expect "risk-stat --dead: sanitised" clean
expect "risk-stat --dead: no forged line" not grep -q '^FORGED' "$T/out"
expect "risk-stat --dead: a line per dead letter" [ "$(wc -l <"$T/out")" = "$(q 'select count(*) from dead')" ]
run risk-stat --dead --json
expect "risk-stat --dead --json: valid" valid_json_lines
expect "risk-stat --dead --json: exact" grep -qF '"id":"X\u001b[31m\nFORGED"' "$T/out"
run risk-purge --dead --print --older-than 0 --dry-run
expect_rc 0
expect "risk-purge --dead --print: sanitised" clean
expect "risk-purge --dead --print: no forged line" not grep -q '^FORGED' "$T/out"
run risk-stat --log --since 1h
expect_rc 0
expect "risk-stat --log: sanitised" clean
expect "risk-stat --log: no forged line" not grep -q '^FORGED' "$T/out"
expect_out_re '	L\?\[2J	stored	200	1	a\?FORGED\?$'

# the queue file: the drainer's messages (-v) are sanitised too; on
# PostgreSQL the queue's CHECK refuses such an ID
hostile="INSERT INTO queue (id, due, enqueued_at, attempts, last_error) VALUES('Q$ESC[2J${NL}FORGED',0,0,0,'x${NL}FORGED')"
if on_pg; then
	LAST="a hostile queue row"
	expect "the queue's CHECK refuses a hostile id" not q "$hostile" 2>/dev/null
else
	q "$hostile"
	run risk-drain -v
	expect "risk-drain -v: sanitised" clean
	expect "risk-drain -v: no forged line" not grep -q '^FORGED' "$T/err"
fi

finish

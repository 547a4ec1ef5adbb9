#!/bin/bash
# The web user's attacks on the least-privilege layout (risk.7, THREAT
# MODEL), on the real layout made by risk-setup-web: the owner (daemon)
# runs the drainer and the redrive, the web user (www-data) may write the
# queue file and attacks it with the sqlite3 shell, run as that user.
# The shell is never run as the owner or root on the web files: closing
# them last, it would delete their -wal and -shm.  Each attack is
# followed by what the owner's programs must do: never loop on the
# legacy service (requests are counted at the stand-in), never run code
# from the queue file, never take a dead letter out without a redrive.
# Then the files an attacker may plant for root: a FIFO or someone
# else's credentials file, a symbolic link or a loose file in /tmp.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ] || ! id daemon >/dev/null 2>&1 ||
    ! id www-data >/dev/null 2>&1; then
	skip "needs root and the users daemon and www-data"
	finish
	exit
fi
need runuser sqlite3 || { finish; exit; }

chmod 711 "$T"			# others may pass through, nothing more
# A new layout for each attack, so that none depends on another's result.
N=0
fresh() {
	N=$((N + 1))
	DB=$T/srv$N/db/risk.db
	Q=$T/srv$N/queue/queue.db
	export RISK_DB=$DB RISK_QUEUE=$Q
	run "$ROOT/scripts/risk-setup-web" -o daemon -g www-data "$DB" "$Q"
	expect_rc 0
}
fresh

as_owner() { runuser -u daemon -- "$@"; }
as_web() { runuser -u www-data -- "$@"; }
# The web user's attack: the sqlite3 shell on the queue file, as that user.
web_sql() { as_web sqlite3 -cmd '.timeout 5000' "$Q" "$1" >/dev/null 2>&1; }
# What the files hold, read without writing them.
qq() { sqlite3 -readonly -cmd '.timeout 5000' "file:$Q?mode=ro" "$1"; }
dq() { sqlite3 -readonly -cmd '.timeout 5000' "file:$DB?mode=ro" "$1"; }
# Requests the stand-in answered for an ID glob.
asked() { cut -f2 "$T/requests.log" | grep -c -- "$1"; }
DRAIN=(risk-drain -v --timeout 1s --lease 3s --max-time 3s --backoff 1h
    --concurrency 4)
owner_drain() {
	: >"$T/requests.log"
	run as_owner "${DRAIN[@]}" "$@"
}

standin --latency 0 --log "$T/requests.log"
expect "the web user may write the queue file" web_sql \
    "insert into queue (id, due, enqueued_at) values ('W0', 0, 0)"
owner_drain
expect_rc 0
expect "the owner's drain fetched W0" [ "$(asked W0)" = 1 ]
expect "and stored it" [ "$(dq "select count(*) from record where id='W0'")" = 1 ]

# --- 1. an ID over 64 bytes, or holding a NUL, is buried, not looped on
fresh
long=$(printf 'L%.0s' $(seq 70))
web_sql "insert into queue (id, due, enqueued_at) values ('$long', 0, 0),
    (cast(x'4e554c004944' as text), 0, 0), ('N1', 0, 0)"
owner_drain
expect_rc 0
expect "the long ID was never fetched ($(asked LLLL) requests)" [ "$(asked LLLL)" = 0 ]
expect "the NUL ID was never fetched ($(asked NUL) requests)" [ "$(asked NUL)" = 0 ]
expect "one request in all, for N1 ($(wc -l <"$T/requests.log"))" \
    [ "$(wc -l <"$T/requests.log")" = 1 ]
expect_err_re "^risk-drain: L{63}\\?: dead-lettered: invalid company id \\(70 bytes\\)$"
expect_err_re '^risk-drain: NUL\?ID: dead-lettered: invalid company id \(it holds a NUL byte\)$'
expect "both left the queue" [ "$(qq 'select count(*) from queue')" = 0 ]
expect "both are dead letters under printable labels" \
    [ "$(dq "select count(*) from dead where id in ('NUL?ID', '$(printf 'L%.0s' $(seq 63))?')")" = 2 ]

# --- 5. a count no worker wrote: attempts at the top of a 32-bit int
fresh
web_sql "insert into queue (id, due, enqueued_at, attempts)
    values ('A1', 0, 0, 2147483647), ('A2', 0, 0, 9223372036854775807),
    ('A3', 0, 0, -5)"
owner_drain --max-attempts 5
expect_rc 0
expect "none of them was fetched ($(wc -l <"$T/requests.log") requests)" \
    [ ! -s "$T/requests.log" ]
expect "all three are dead letters" \
    [ "$(dq "select group_concat(id || ':' || attempts) from (select * from dead where id like 'A_' order by id)")" = \
    "A1:2147483647,A2:2147483647,A3:0" ]
expect_err_re '^risk-drain: A1: dead-lettered: no answer in 2147483647 attempts'
expect_err_re '^risk-drain: A3: dead-lettered: invalid queue entry \(attempts -5\)$'

# --- 5. forged leases (a token, due at the end of time) starve no one
fresh
web_sql "insert into queue (id, due, enqueued_at, token) values
    ('F1', 9223372036854775807, 0, 1), ('F2', 9223372036854775807, 0, 2),
    ('F3', 9223372036854775807, 0, 3), ('F4', 9223372036854775807, 0, 4)"
web_sql "insert into queue (id, due, enqueued_at) values ('F5', 0, 0)"
owner_drain
expect_rc 0
expect "all five were fetched ($(asked 'F[1-5]'))" [ "$(asked 'F[1-5]')" = 5 ]
expect "and stored" [ "$(dq "select count(*) from record where id like 'F_'")" = 5 ]

# --- 3. the web user cannot take a company out of the dead letters
fresh
as_owner risk-enqueue D1 D2
qq 'select id from queue' >/dev/null
as_owner "${DRAIN[@]}" --max-body 1 --max-attempts 1 >/dev/null 2>&1
expect "D1 and D2 are dead letters" [ "$(dq "select count(*) from dead where id in ('D1','D2')")" = 2 ]
run as_web risk-enqueue --redrive D1
expect_rc 2
expect_err_re "^risk-enqueue: $DB: database is read-only"
expect "a refused redrive queued nothing" [ "$(qq "select count(*) from queue where id='D1'")" = 0 ]
expect "and D1 is still a dead letter" [ "$(dq "select count(*) from dead where id='D1'")" = 1 ]
# a row written by hand, even one that looks redriven
web_sql "insert into queue (id, due, enqueued_at, redrives) values
    ('D1', 0, 0, 1), ('D2', 0, 0, 1)"
owner_drain
expect_rc 0
expect "no dead letter was fetched ($(asked 'D[12]'))" [ "$(asked 'D[12]')" = 0 ]
expect "both are still dead letters" [ "$(dq "select count(*) from dead where id in ('D1','D2')")" = 2 ]
expect "and off the queue" [ "$(qq "select count(*) from queue where id in ('D1','D2')")" = 0 ]
expect_err_re '^risk-drain: D1: dropped from the queue: a dead letter'
# the owner's redrive still works, and a hand-written row does not stop it
web_sql "insert into queue (id, due, enqueued_at, attempts) values ('D2', 0, 0, 99)"
run as_owner risk-enqueue --redrive D1 D2
expect_rc 0
owner_drain
expect_rc 0
expect "the owner's redrive fetched both ($(asked 'D[12]'))" [ "$(asked 'D[12]')" = 2 ]
expect "and they are no dead letters any more" [ "$(dq "select count(*) from dead where id in ('D1','D2')")" = 0 ]

# --- 2. objects planted in the queue file are refused at open
fresh
web_sql "create trigger again after delete on queue begin
    insert into queue (id, due, enqueued_at) values (old.id, 0, 0); end"
web_sql "insert into queue (id, due, enqueued_at) values ('T1', 0, 0)"
owner_drain
expect_rc 2
expect_err_re "^risk-drain: $Q: refused: the queue file's trigger \"again\" was not made by risk .*THREAT MODEL in risk\\(7\\)\\)$"
expect "nothing was fetched ($(wc -l <"$T/requests.log"))" [ ! -s "$T/requests.log" ]
run as_web risk-get T1
expect_rc 2
expect_err_re "^risk-get: $Q: refused: "
web_sql "drop trigger again"
for obj in "view v as select 1" "table t (x)" "index i on queue(last_error)" \
    "trigger t2 before insert on queue begin select 1; end"; do
	web_sql "create $obj"
	run as_owner risk-enqueue X1
	expect_rc 2
	expect_err_re "^risk-enqueue: $Q: refused: the queue file's ${obj%% *} \"[a-z0-9]*\" was not made by risk"
	web_sql "drop ${obj%% *} $(set -- $obj; echo "$2")"
done
# a name made to move the cursor is printed harmless
web_sql "create view \"$(printf 'v\033[2J')\" as select 1"
run as_owner risk-enqueue X1
expect_rc 2
expect "the object's name is printed without its control bytes" not grep -q $'\033' "$T/err"
web_sql "drop view \"$(printf 'v\033[2J')\""
# a table rewritten through writable_schema (no longer STRICT)
web_sql "pragma writable_schema=on; update sqlite_schema set sql = replace(sql, 'STRICT, ', '') where name='queue'"
run as_owner risk-enqueue X1
expect_rc 2
expect_err_re "^risk-enqueue: $Q: refused: the queue file's table \"queue\" was not made by risk"
web_sql "pragma writable_schema=on; update sqlite_schema set sql = replace(sql, ') WITHOUT', ') STRICT, WITHOUT') where name='queue'"
run as_owner risk-enqueue X1
expect_rc 0
# ... and planted while a drain runs: the drain stops, it does not loop
fresh
standin --latency 300 --log "$T/requests.log"
seq -f 'S%g' 1 30 | as_owner risk-enqueue
: >"$T/requests.log"
as_owner "${DRAIN[@]}" --max-time 20s --concurrency 2 \
    >/dev/null 2>"$T/live.err" &
dpid=$!
for _ in $(seq 100); do [ -s "$T/requests.log" ] && break; sleep 0.05; done
web_sql "create trigger again after delete on queue begin
    insert into queue (id, due, enqueued_at) values (old.id, 0, 0); end"
wait "$dpid"
rc=$?
LAST="a drain with a trigger planted under it"
expect_rc 2
expect "it said why" grep -q "^risk-drain: $Q: refused: the queue file holds a trigger or view" "$T/live.err"
expect "it stopped at once ($(wc -l <"$T/requests.log") requests)" \
    [ "$(wc -l <"$T/requests.log")" -le 6 ]
web_sql "drop trigger again"
as_owner risk-enqueue X1 || fail "the repaired file is accepted"

# --- 5. files planted for the owner or root
mkfifo -m 600 "$T/fifo"
chown daemon "$T/fifo"
start=$(date +%s%N)
run as_owner timeout 10 risk-fetch --credentials "$T/fifo" W0
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 2
expect_err_re "fifo: credentials file is not a regular file$"
expect "a FIFO does not block ($took ms)" [ "$took" -lt 5000 ]
printf 'X-Api-Key: k\n' >"$T/webcreds"
chown www-data "$T/webcreds"
chmod 600 "$T/webcreds"
run risk-fetch --credentials "$T/webcreds" W0	# root may read it
expect_rc 2
expect_err_re "webcreds: credentials file belongs to uid $(id -u www-data), not to the user running this \\(uid 0\\); chown it$"
ln -s "$T/webcreds" "$T/linkcreds"
run risk-fetch --credentials "$T/linkcreds" W0
expect_rc 2
expect_err_re 'linkcreds: credentials file is a symbolic link'

mkdir -m 1777 "$T/tmp"
mkdir -m 700 "$T/victim"
as_web ln -s "$T/victim/risk.db" "$T/tmp/risk.db"
run risk-enqueue --db "$T/tmp/risk.db" X1
expect_rc 2
expect_err_re "tmp/risk.db: refused: a symbolic link in a folder anyone may write"
expect "root made no file for the link's owner" [ ! -e "$T/victim/risk.db" ]
as_web sh -c "umask 0; : >'$T/tmp/open.db'"
run risk-enqueue --db "$T/tmp/open.db" X1
expect_rc 2
expect_err_re 'open.db: refused: anyone may write it \(mode 0666\); chmod o-w it$'
as_web sh -c ": >'$T/tmp/theirs.db'"
run risk-enqueue --db "$T/tmp/theirs.db" X1
expect_rc 2
expect_err_re "theirs.db: refused: it belongs to uid $(id -u www-data), in a folder anyone may write$"
expect "an empty planted file was not adopted" [ ! -s "$T/tmp/theirs.db" ]
run sh -c "umask 022; risk-enqueue --db '$T/new.db' X1"
expect_rc 0
expect "a new database is 0600, and its -wal and -shm too" \
    [ "$(stat -c %a "$T/new.db" "$T/new.db-wal" "$T/new.db-shm" | paste -sd' ')" = "600 600 600" ]

finish

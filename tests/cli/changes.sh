#!/bin/bash
# risk-changes and the status history: what makes a change (first
# answers, flips, not found, dumps new and old), what does not (a
# refetch, an older dump), the cursor, the watch list, --jq, --follow
# against a drain in another process, the exit statuses, and the
# upgrade of a database made before the history existed.
. "$(dirname "$0")/../lib.sh"

standin --latency 0
set_status() { standin_get "/_set?$1" >/dev/null; }
drain() { risk-drain -q --source "$SOURCE" --backoff 10ms; }
hist() { q "select count(*) from history${1:+ where $1}"; }

# ---- first answers, flips, refetches ---------------------------------
set_status 'A=reliable&B=indebted&C=reliable'
risk-enqueue A B C
drain
run risk-changes --since 0
expect_rc 0
expect_err_empty
expect "three first answers" [ "$(wc -l <"$T/out")" = 3 ]
expect_out_re '^\{"seq":[0-9]+,"id":"A","status":"reliable","previous":null,"changed_at":"[0-9-]+T[0-9:]+Z","fetched_at":"[0-9-]+T[0-9:]+Z"\}$'
expect_out_re '^\{"seq":[0-9]+,"id":"B","status":"indebted","previous":null,'
first_seq=$(sed -n '1s/^{"seq":\([0-9]*\),.*/\1/p' "$T/out")

# the same answers again: nothing new
risk-enqueue A B C
drain
expect "a same-status refetch adds no row" [ "$(hist)" = 3 ]
risk-fetch -q --store --source "$SOURCE" A >/dev/null
expect "nor does risk-fetch --store" [ "$(hist)" = 3 ]

# A flips: exactly one row, with its previous status
set_status 'A=indebted'
risk-enqueue A
drain
run risk-changes --since 3
expect_rc 0
expect_out_re '^\{"seq":4,"id":"A","status":"indebted","previous":"reliable",'
expect "a flip is exactly one row" [ "$(wc -l <"$T/out")" = 1 ]
run risk-changes --since 4
expect_rc 1
expect_out_empty
expect_err_empty

# not found is a change, and so is coming back
set_status 'C=404'
risk-fetch -q --store --source "$SOURCE" C >/dev/null
run risk-changes --since 4
expect_out_re '^\{"seq":5,"id":"C","status":"not_found","previous":"reliable",'
set_status 'C=reliable'
risk-enqueue C
drain
run risk-changes --since 5
expect_out_re '^\{"seq":6,"id":"C","status":"reliable","previous":"not_found",'
expect "the record and its newest history row agree" \
    [ "$(q "select count(*) from record r where status is distinct from (select status from history h where h.id = r.id order by seq desc limit 1)")" = 0 ]

# a company's whole story
run risk-changes --since 0 C
expect_rc 0
expect "C's story: first, not found, back" [ "$(sed 's/.*"status":"\([^"]*\)","previous":\([^,]*\),.*/\1 \2/' "$T/out" | tr '\n' ' ')" = 'reliable null not_found "reliable" reliable "not_found" ' ]

# ---- dumps: newer ones change, older ones do not ------------------------
printf '{"id":"A","status":"reliable"}\n{"id":"D","status":"indebted"}\n' >"$T/new.jsonl"
printf '{"id":"A","status":"gone"}\n' >"$T/old.jsonl"
run risk-load --fetched-at "$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)" "$T/new.jsonl"
expect_rc 0
run risk-changes --since 6
expect_out_re '"id":"A","status":"reliable","previous":"indebted"'
expect_out_re '"id":"D","status":"indebted","previous":null'
expect "a newer dump: two changes" [ "$(wc -l <"$T/out")" = 2 ]
run risk-load -v --fetched-at 2020-01-01 "$T/old.jsonl"
expect_err_re '0 loaded, 1 kept'
expect "an older dump's flip is no change" [ "$(hist)" = 8 ]

# ---- the watch list ---------------------------------------------------
run risk-changes --since 0 B D
expect_rc 0
expect "arguments: only B and D" [ "$(cut -d'"' -f6 "$T/out" | tr '\n' ' ')" = "B D " ]
printf 'D\n\n  B  \n' >"$T/watch"
run -i "$T/watch" risk-changes --since 0
expect "standard input: only B and D" [ "$(cut -d'"' -f6 "$T/out" | tr '\n' ' ')" = "B D " ]
{ seq -f 'Z%g' 1 300; echo D; echo B; } >"$T/longwatch"
run -i "$T/longwatch" risk-changes --since 0
expect "a long watch list (a hash set, not the index) filters the same" [ "$(cut -d'"' -f6 "$T/out" | tr '\n' ' ')" = "B D " ]
run risk-changes --since 0 nobody
expect_rc 1
expect_out_empty
run risk-changes --since 0 'bad id' B
expect_rc 2
expect_err_re "^risk-changes: bad id: invalid company id$"
expect_out_re '"id":"B"'

# ---- --jq ---------------------------------------------------------------
run risk-changes --since 0 --jq 'select(.status == "indebted") | .id'
expect_rc 0
expect_out "$(printf 'B\nA\nD')"
run risk-changes --since 0 --jq 'select(.status == "nothing")'
expect_rc 1
run risk-changes --jq '.['
expect_rc 2
expect_err_re '^risk-changes: --jq: '

# ---- the cursor -------------------------------------------------------
cur=$T/cache/risk/portfolio.seq
run risk-changes --cursor "$cur"
expect_rc 1
expect_out_empty
expect "a missing cursor starts from now (made with its folder)" [ "$(cat "$cur")" = 8 ]
set_status 'B=reliable'
risk-fetch -q --store --source "$SOURCE" B >/dev/null
run risk-changes --cursor "$cur" B
expect_rc 0
expect_out_re '^\{"seq":9,"id":"B","status":"reliable","previous":"indebted",'
expect "the cursor moved after a good read" [ "$(cat "$cur")" = 9 ]
run risk-changes --cursor "$cur"
expect_rc 1
set_status 'B=indebted'
risk-fetch -q --store --source "$SOURCE" B >/dev/null
risk-changes --cursor "$cur" >/dev/full 2>"$T/err"
rc=$?
LAST="risk-changes --cursor >/dev/full"
expect_rc 2
expect_err_re '^risk-changes: standard output: No space left on device$'
expect "a failed write does not move the cursor" [ "$(cat "$cur")" = 9 ]
run risk-changes --cursor "$cur" D
expect_rc 1
expect "rows of other companies move it too" [ "$(cat "$cur")" = 10 ]
echo junk >"$T/bad.seq"
run risk-changes --cursor "$T/bad.seq"
expect_rc 2
expect_err_re 'bad.seq: not a sequence number'
run risk-changes --cursor "$cur" --since 3
expect_rc 2

# ---- seq is never reused, even when the newest rows go -------------------
# SQLite gives a new row the largest seq + 1, and refuses to delete the
# newest; PostgreSQL's sequence goes on past a deleted one
gone=0
if q "delete from history where seq = 10" 2>"$T/del.err"; then gone=1; fi
if on_sqlite; then
	expect "SQLite: the newest row stays" [ "$gone" = 0 ] && grep -q 'newest history row is kept' "$T/del.err"
	q "delete from history where seq = 9"	# B reliable, not the newest: goes
else
	expect "PostgreSQL: deleted" [ "$gone" = 1 ]
fi
set_status 'B=sound'
risk-fetch -q --store --source "$SOURCE" B >/dev/null
expect "a new row after a deletion takes a new seq" [ "$(q 'select max(seq) from history')" = 11 ]

# ---- --follow: a drain in another process, within a second ----------------
risk-changes --follow --interval 100ms B >"$T/follow" 2>"$T/follow.err" &
fpid=$!
sleep 0.5
set_status 'B=indebted'
risk-enqueue B
drain
t0=$(date +%s%N)
for _ in $(seq 40); do grep -q '"id":"B","status":"indebted"' "$T/follow" && break; sleep 0.05; done
t1=$(date +%s%N)
LAST="risk-changes --follow"
expect "--follow printed the drain's change within a second ($(( (t1 - t0) / 1000000 )) ms after the drain ended)" \
    [ "$(grep -c '"id":"B","status":"indebted"' "$T/follow")" = 1 ] && [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
expect "and nothing before it" [ "$(wc -l <"$T/follow")" = 1 ]
kill -TERM "$fpid"
wait "$fpid"
rc=$?
expect_rc 0
expect "SIGTERM ends it quietly" [ ! -s "$T/follow.err" ]

# SIGINT with nothing printed: exit 1
risk-changes --follow >/dev/null 2>"$T/follow.err" &
fpid=$!
sleep 0.3
kill -INT "$fpid"
wait "$fpid"
rc=$?
LAST="risk-changes --follow, SIGINT"
expect_rc 1

# a closed pipe ends it, though nothing was written
( risk-changes --follow --interval 50ms 2>"$T/follow.err"; echo "exit $?" >"$T/follow.rc" ) | true
for _ in $(seq 40); do [ -s "$T/follow.rc" ] && break; sleep 0.05; done
expect "a closed pipe ends --follow ($(cat "$T/follow.rc" 2>/dev/null))" [ -s "$T/follow.rc" ]

# ---- risk-stat: the history's size, recent changes, counters -------------
rows=$(hist)
run risk-stat
expect_rc 0
expect_out_re "^history rows +$rows\$"
expect_out_re "^status changes +$rows in the last hour, $rows in the last day\$"
run risk-stat --json
expect "JSON: history rows" [ "$(jq .history.rows "$T/out")" = "$rows" ]
# ever made: one more than the rows of the status deleted by hand above
# (seq 9 reliable on SQLite, seq 10 indebted on PostgreSQL)
ind=$(jq '.history.changes_total.indebted' "$T/out")
rel=$(jq '.history.changes_total.reliable' "$T/out")
expect "JSON: indebted and reliable changes ever made ($ind, $rel)" \
    [ "$((ind + rel))" = "$(( $(hist "status in ('indebted', 'reliable')") + 1 ))" ] &&
    [ "$ind" -ge "$(hist "status = 'indebted'")" ] && [ "$rel" -ge "$(hist "status = 'reliable'")" ]
run risk-stat --prometheus
expect_out_re '^# TYPE risk_status_changes_total counter$'
expect_out_re "^risk_status_changes_total\{status=\"not_found\"\} 1\$"
expect_out_re "^risk_history_rows $rows\$"
expect_out_re "^risk_status_changes_total\{status=\"indebted\"\} $ind\$"

# ---- retention: old rows go, never a company's newest --------------------
printf '{"id":"H","status":"reliable"}\n' >"$T/h1.jsonl"
printf '{"id":"H","status":"indebted"}\n' >"$T/h2.jsonl"
printf '{"id":"G","status":"reliable"}\n' >"$T/g.jsonl"
risk-load --fetched-at 2020-01-01 "$T/h1.jsonl"
risk-load --fetched-at 2020-02-01 "$T/h2.jsonl"
risk-load --fetched-at 2020-03-01 "$T/h1.jsonl"
risk-load --fetched-at 2020-01-01 "$T/g.jsonl"
expect "H has three rows, G one" [ "$(hist "id = 'H'")/$(hist "id = 'G'")" = 3/1 ]
run risk-purge -v --dry-run --history-older-than 30d
expect_err_re ', 2 history rows$'
expect "a dry run removes nothing" [ "$(hist "id = 'H'")" = 3 ]
run risk-purge -v --history-older-than 30d --older-than 3660d
expect_rc 0
expect_err_re '^risk-purge: removed 0 records, 0 log rows, 0 drain summaries, 2 history rows$'
expect "H keeps its newest row, G its only one" [ "$(q "select id || ':' || status from history where id in ('G', 'H') order by id" | paste -sd,)" = "G:reliable,H:reliable" ]
expect "rows of the last 30 days stay" [ "$(hist "id not in ('G', 'H')")" = "$rows" ]
run risk-purge --history-older-than 0 --older-than 3660d
expect "everything old goes but each company's newest row" [ "$(hist)" = "$(q 'select count(distinct id) from history')" ]
run risk-stat --prometheus
expect_out_re "^risk_status_changes_total\{status=\"indebted\"\} $((ind + 1))\$"
expect "the counters do not go down with a purge" true
# once the record is purged too, a refetch with the same status is no change
risk-purge --older-than 1d
expect "H's record is gone" [ "$(q "select count(*) from record where id = 'H'")" = 0 ]
before=$(q 'select max(seq) from history')
risk-load --fetched-at 2020-04-01 "$T/h1.jsonl"
expect "H reloaded as reliable: no change" [ "$(q 'select max(seq) from history')" = "$before" ]
risk-load --fetched-at 2020-05-01 "$T/h2.jsonl"
expect "then indebted: a change with a new seq" [ "$(q "select case when seq > $before and previous = 'reliable' then 1 else 0 end from history where id = 'H' order by seq desc limit 1")" = 1 ]

# ---- an older database gains its history on first write ------------------
# (SQLite files of older schemas; the PostgreSQL schema has one version)
if on_sqlite; then
	export RISK_DB=$T/old.db
	risk-enqueue X
	q "drop table history; drop table history_total; drop table history_mark;
	    drop table history_orphan; drop trigger history_orphaned;
	    pragma user_version = 1"
	seed R1 reliable 100 10
	seed R2 - 100 10
	run risk-changes --since 0
	expect_rc 2
	expect_err_re 'no status history yet \(schema 1\)'
	risk-enqueue Y
	run risk-changes --since 0
	expect_rc 0
	expect "every record got its first row" [ "$(wc -l <"$T/out")" = 2 ]
	expect_out_re '"id":"R2","status":"not_found","previous":null'
	expect "user_version current (4)" [ "$(q 'pragma user_version')" = 4 ]

	# the web user, who may only read the records' file, still queues and
	# reads while that file waits for a writer to upgrade it
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$T/web/db" "$T/web/q"
		export RISK_DB=$T/web/db/risk.db RISK_QUEUE=$T/web/q/queue.db
		risk-enqueue W0
		seed R1 reliable 100 10
		# (keeping -wal and -shm, as risk does: a reader may not make them)
		sqlite3 "$RISK_DB" ".filectrl persist_wal 1" >/dev/null "drop table history;
		    drop table history_total; drop table history_mark;
		    drop table history_orphan; drop trigger history_orphaned;
		    pragma user_version = 1"
		chmod 755 "$T" "$T/web"
		chmod 555 "$T/web/db"
		chmod 444 "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"
		chown -R nobody:nogroup "$T/web/q"	# the web user's queue
		chmod 700 "$T/web/q"
		chmod 600 "$RISK_QUEUE" "$RISK_QUEUE-wal" "$RISK_QUEUE-shm"
		run as_nobody risk-enqueue W1
		expect_rc 0
		run as_nobody risk-get R1
		expect_rc 0
		expect_out_re '"id":"R1","status":"reliable"'
		run as_nobody risk-changes --since 0
		expect_rc 2
		expect_err_re 'no status history yet \(schema 1\)'
		chmod 700 "$T"
		chmod 755 "$T/web/db"
		chmod 644 "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"
		unset RISK_QUEUE
	fi
fi

# ---- a version 3 file: its history kept, seq and counts included -------
# (AUTOINCREMENT, indexes on the company and fetched_at, history_total
# counted at each commit, no chains; made here by hand as risk 3 made
# it, with a hand-deleted newest row, 4, and a company, G, whose record
# is gone)
if on_sqlite; then
	export RISK_DB=$T/v3.db
	risk-enqueue X
	q "drop table history; drop table history_total; drop table history_mark;
	    drop table history_orphan; drop table record;
	    CREATE TABLE record (id TEXT PRIMARY KEY, status TEXT,
	      changed_at INTEGER, fetched_at INTEGER NOT NULL) STRICT, WITHOUT ROWID;
	    CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT,
	      id TEXT NOT NULL, status TEXT, previous TEXT, first INTEGER NOT NULL,
	      changed_at INTEGER NOT NULL, fetched_at INTEGER NOT NULL) STRICT;
	    CREATE INDEX history_id ON history(id, seq, status);
	    CREATE INDEX history_fetched ON history(fetched_at);
	    CREATE TABLE history_total (found INTEGER NOT NULL,
	      status TEXT NOT NULL, n INTEGER NOT NULL,
	      PRIMARY KEY (found, status)) STRICT, WITHOUT ROWID;
	    INSERT INTO history VALUES (1, 'F', 'reliable', NULL, 1, 100, 100000),
	      (2, 'G', 'reliable', NULL, 1, 100, 100000),
	      (3, 'F', 'indebted', 'reliable', 0, 200, 200000),
	      (4, 'G', 'indebted', 'reliable', 0, 200, 200000);
	    DELETE FROM history WHERE seq = 4;
	    INSERT INTO history_total VALUES (1, 'reliable', 2), (1, 'indebted', 2);
	    INSERT INTO record VALUES ('F', 'indebted', 200, 200000);
	    pragma user_version = 3"
	expect "made as version 3" [ "$(q "select seq from sqlite_sequence where name = 'history'")" = 4 ]
	run risk-stat --prometheus
	expect_rc 0
	expect_out_re 'risk_status_changes_total\{status="indebted"\} 2$'
	risk-enqueue Y		# a writer: migrated
	expect "version 4" [ "$(q 'pragma user_version')" = 4 ]
	expect "no AUTOINCREMENT, no index on the history, no leftovers" \
	    [ "$(q "select count(*) from sqlite_schema where sql like '%AUTOINCREMENT%'
	    or tbl_name = 'history' and type = 'index' or name = 'history_v3'")" = 0 ]
	# the newest row left takes 4, the number last handed out
	expect "rows kept and chained; the newest renumbered past the deleted one" \
	    [ "$(q "select group_concat(seq || id || coalesce(prev_seq, '-'), ' ')
	    from history")" = "1F- 2G- 4F1" ]
	expect "F's record heads its chain; G's is kept for it" \
	    [ "$(q "select (select hseq from record where id = 'F') || ' ' ||
	    (select group_concat(id || seq) from history_orphan)")" = "4 G2" ]
	expect "counted up to 4" [ "$(q 'select counted from history_mark')" = 4 ]
	run risk-stat --prometheus
	expect_out_re 'risk_status_changes_total\{status="indebted"\} 2$'
	expect_out_re 'risk_status_changes_total\{status="reliable"\} 2$'
	# G, refetched: compared with its row, not a first answer; seq 5
	set_status "G=indebted"
	risk-fetch -q --store --source "$SOURCE" G >/dev/null
	run risk-changes --since 4
	expect_rc 0
	expect_out_re '^\{"seq":5,"id":"G","status":"indebted","previous":"reliable",'
	expect "G's record heads its chain now" \
	    [ "$(q "select hseq || (select count(*) from history_orphan) from record where id = 'G'")" = 50 ]
	set_status "G=reliable"
	risk-fetch -q --store --source "$SOURCE" G >/dev/null
	risk-fetch -q --store --source "$SOURCE" G >/dev/null
	expect "back, then the same: one row more" [ "$(q 'select max(seq) from history')" = 6 ]
	# each company's story, by its chain
	run risk-changes --since 0 G F
	expect_rc 0
	expect "G's and F's stories, in order" [ "$(jq -r '"\(.seq)\(.id)"' "$T/out" | tr '\n' ' ')" = "1F 2G 4F 5G 6G " ]
	run risk-changes --since 4 G
	expect "G's story after 4" [ "$(jq -r .seq "$T/out" | tr '\n' ' ')" = "5 6 " ]
	run risk-stat --prometheus
	expect_out_re 'risk_status_changes_total\{status="indebted"\} 3$'
	expect_out_re 'risk_status_changes_total\{status="reliable"\} 3$'

	# forged links, as someone who may write the file would make them:
	# a walk follows only a smaller seq of the same company
	q "update record set hseq = 5 where id = 'F'"
	run timeout 5 risk-changes --since 0 F
	expect_rc 1		# F's head is G's row: not F's, so nothing
	q "update record set hseq = 4 where id = 'F';
	    update history set prev_seq = 4 where seq = 4"
	run timeout 5 risk-changes --since 0 F
	expect_rc 0
	expect "a link to itself ends the walk" [ "$(jq -r .seq "$T/out" | tr '\n' ' ')" = "4 " ]
	q "update history set prev_seq = 6 where seq = 4"
	run timeout 5 risk-changes --since 0 F
	expect "a link forward ends it" [ "$(jq -r .seq "$T/out" | tr '\n' ' ')" = "4 " ]
	q "update history set prev_seq = 2 where seq = 4"
	run timeout 5 risk-changes --since 0 F
	expect "a link to another company's row ends it" [ "$(jq -r .seq "$T/out" | tr '\n' ' ')" = "4 " ]
fi

# no database at all: an error, as for every reader (a mistyped path
# must not read as "no changes"), and none is made
export RISK_DB=$T/none.db
run risk-changes --since 0
expect_rc 2
expect_err_re 'none\.db: no database yet$'
expect "no database made" [ ! -e "$T/none.db" ]

finish

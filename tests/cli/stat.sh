#!/bin/bash
# risk-stat: the figures as a table, JSON and Prometheus text (read by
# prometheus_client's own parser), -o written atomically, the dead
# letters and the fetch log.
. "$(dirname "$0")/../lib.sh"

jqtest() { jq -e "$@" >/dev/null; }
now=$(($(date +%s) * 1000))

run risk-stat
if on_pg; then	# an empty database: the operator's first look makes it
	expect_rc 0
	expect "the schema made" \
	    [ "$(q "select count(*) from pg_namespace where nspname = 'risk'")" = 1 ]
	expect "and its tables" [ "$(q "select version from risk.meta")" -ge 1 ]
	run risk-stat --db "${RISK_DB%%\?*}_nosuch${RISK_DB#"${RISK_DB%%\?*}"}"
	expect_rc 2	# a database the server does not have stays an error
	expect_err_re 'connection rejected: .*does not exist'
else
	expect_rc 2
	expect_err_re '^risk-stat: .*risk\.db: no database yet$'
fi

run risk-enqueue --delay 1h init	# the schema, and one delayed entry
# queue: 2 due (one waiting 5 minutes), 1 more delayed, 1 leased, 1 lease
# that ran out (due again)
q "INSERT INTO queue (id, due, enqueued_at) VALUES('Q1',$((now - 300000)),$now),('Q2',$now,$now),('Q3',$((now + 600000)),$now)"
q "INSERT INTO queue (id, due, token, attempts, enqueued_at) VALUES('L1',$((now + 60000)),42,1,$now),('L2',$((now - 1000)),43,1,$now)"
q "INSERT INTO dead VALUES('D1','HTTP 503',5,0,$((now - 90000)),$((now - 60000))),('D2','timeout',5,1,$now,$now)"
seed F1 reliable 1000 10
seed F2 reliable 1000 3000
seed F3 indebted 1000 100
seed S1 reliable 1000 4000
seed N1 - 0 60
seed N2 - 0 1000
q "INSERT INTO drain_run (started_at, ended_at, claimed, stored, not_found,
    retried, dead, released, exit_status) VALUES($((now - 7200000)),$((now - 7100000)),9,9,0,0,0,0,0),($((now - 65000)),$((now - 60000)),10,6,1,2,1,0,0)"
q "INSERT INTO fetch_log (at, id, outcome, http, ms, reason) VALUES($((now - 120000)),'F1','stored',200,40,NULL),($((now - 60000)),'F3','stored',200,60,NULL),($((now - 30000)),'Q1','retry',503,100,'HTTP 503'),($((now - 7200000)),'OLD','stored',200,5,NULL),($((now - 20000)),'D2','dead',NULL,5000,'timeout')"

run risk-stat
expect_rc 0
expect_err_empty
expect_out_re '^queue due +3$'
expect_out_re '^queue delayed +2$'
expect_out_re '^queue leased +1$'
expect_out_re '^oldest due waited +5m[0-9]s$'
expect_out_re '^dead letters +2$'
expect_out_re '^records fresh +3$'
expect_out_re '^records stale +1$'
expect_out_re '^not found +1$'
expect_out_re '^not found stale +1$'
expect_out_re '^last drain ended +[0-9T:-]+Z, took 5s, exit 0$'
expect_out_re '^last drain +10 claimed, 6 stored, 1 not found, 2 retried, 1 dead, 0 released$'
expect_out_re '^fetches in the last hour +2 stored, 0 not_found, 1 retry, 1 dead, 0 lost, 0 released, 0 deferred$'

run risk-stat --max-age 30m --not-found-max-age 30s
expect_out_re '^records fresh +2$'
expect_out_re '^records stale +2$'
expect_out_re '^not found +0$'
expect_out_re '^not found stale +2$'

run risk-stat --json
expect_rc 0
expect "one JSON object" [ "$(wc -l <"$T/out")" = 1 ]
expect "JSON figures" jqtest '(.queue | del(.oldest_due_age)) == {"due":3,"delayed":2,"leased":1} and (.queue.oldest_due_age | . >= 300 and . < 330) and .dead_letters == 2 and .records == {"fresh":3,"stale":1,"not_found":1,"not_found_stale":1} and .last_drain.claimed == 10 and .last_drain.seconds == 5 and .fetches_last_hour.stored == 2 and .fetches_last_hour.dead == 1 and .fetches_last_hour.seconds == 5.2' "$T/out"

# Prometheus text, read by the reference parser
run risk-stat --prometheus
expect_rc 0
cat >"$T/prom.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def val(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise SystemExit("no sample %s %s" % (name, labels))
# gauges, but for one counter (its family is named without _total)
counters = {"risk_status_changes"}
for f in fams.values():
    assert f.name.startswith("risk_"), f.name
    assert f.documentation, f.name
    assert f.type == ("counter" if f.name in counters else "gauge"), (f.name, f.type)
for line in text.splitlines():
    if not line.startswith("#"):
        name = line.split("{")[0].split(" ")[0]
        kind = "counter" if name[:-6] in counters else "gauge"
        assert "# HELP %s " % name in text and "# TYPE %s %s" % (name, kind) in text, name
assert val("risk_queue_entries", state="due") == 3
assert val("risk_queue_entries", state="delayed") == 2
assert val("risk_queue_entries", state="leased") == 1
assert val("risk_queue_oldest_due_seconds") >= 300
assert val("risk_dead_letters") == 2
assert val("risk_records", state="fresh") == 3
assert val("risk_records", state="stale") == 1
assert val("risk_records", state="not_found") == 1
assert val("risk_records", state="not_found_stale") == 1
assert val("risk_fetch_attempts_last_hour", outcome="stored") == 2
assert val("risk_fetch_attempts_last_hour", outcome="retry") == 1
assert val("risk_fetch_attempts_last_hour", outcome="dead") == 1
assert abs(val("risk_fetch_seconds_last_hour") - 5.2) < 1e-9
assert val("risk_last_drain_entries", result="claimed") == 10
assert val("risk_last_drain_exit_status") == 0
assert val("risk_last_drain_end_timestamp_seconds") - val("risk_last_drain_start_timestamp_seconds") == 5
EOF
expect "prometheus_client parses it, every value right" $PY "$T/prom.py" "$T/out"

# -o: the file, whole, and nothing else left in its folder
mkdir "$T/prom"
run risk-stat --prometheus -o "$T/prom/risk.prom"
expect_rc 0
expect_out_empty
expect "the file is there" [ -s "$T/prom/risk.prom" ]
expect "and parses" $PY "$T/prom.py" "$T/prom/risk.prom"
expect "no temporary file left" [ "$(ls -A "$T/prom")" = risk.prom ]
expect "readable by node_exporter (umask 022)" [ "$(umask 022; risk-stat -o "$T/prom/m.txt"; stat -c %a "$T/prom/m.txt")" = 644 ]
rm -f "$T/prom/m.txt"
cp "$T/prom/risk.prom" "$T/old.prom"

# a full disk (no block may be written): an error, the old file intact
# (stderr through a pipe: the limit applies to regular files only; a
# second connection keeps SQLite from resizing its -shm file on open)
: >"$T/out"
if ! on_pg; then
	sqlite3 "$RISK_DB" "SELECT count(*) FROM record" ".shell sleep 2" >/dev/null 2>&1 &
	holder=$!
	sleep 0.3
fi
( trap '' XFSZ; ulimit -f 0; exec risk-stat --prometheus -o "$T/prom/risk.prom" ) 2>&1 | cat >"$T/err"
rc=${PIPESTATUS[0]}; LAST="risk-stat -o with ulimit -f 0"
expect_rc 2
expect_err_re '^risk-stat: .*risk\.prom: File too large$'
expect "old file intact after a failed write" cmp -s "$T/old.prom" "$T/prom/risk.prom"
expect "no temporary file left after a failed write" [ "$(ls -A "$T/prom")" = risk.prom ]
# The shell deletes -wal and -shm when it closes last; a reader of
# ours opens the database again and leaves them, as the readers below
# (who may not create files in $T) need them.
if ! on_pg; then
	wait "$holder"
	risk-stat -q >/dev/null
fi
# the rename fails (a folder in the way)
mkdir "$T/prom/dir.prom"
run risk-stat --prometheus -o "$T/prom/dir.prom"
expect_rc 2
expect_err_re 'dir\.prom: Is a directory$'
expect "no temporary file left after a failed rename" [ "$(ls -A "$T/prom" | tr '\n' ' ')" = "dir.prom risk.prom " ]
run risk-stat -o "$T/nowhere/risk.prom"
expect_rc 2
expect_err_re 'nowhere/risk\.prom: No such file or directory$'
# a folder it may not write
chmod 755 "$T"
on_pg || chmod 644 "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"	# new files are 0600
chmod 555 "$T/prom"
run as_nobody risk-stat --prometheus -o "$T/prom/risk.prom"
expect_rc 2
expect_err_re 'Permission denied$'
expect "old file intact when the folder is read-only" cmp -s "$T/old.prom" "$T/prom/risk.prom"
chmod 755 "$T/prom"
chmod 700 "$T"

# read-only: a user who may only read the database
chmod 755 "$T"
on_pg || chmod 644 "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"
run as_nobody risk-stat --json
expect_rc 0
expect "a read-only user gets the figures" jqtest '.dead_letters == 2' "$T/out"
chmod 700 "$T"

# ---- dead letters --------------------------------------------------------
run risk-stat --dead
expect_rc 0
expect_out_re '^D1	[0-9T:-]+Z	5	0	[0-9T:-]+Z	HTTP 503$'
expect "two dead letters" [ "$(wc -l <"$T/out")" = 2 ]
run risk-stat --dead --json
expect "as JSON" jqtest -s '.[1].id == "D2" and .[1].redrives == 1' "$T/out"

# ---- the fetch log ---------------------------------------------------------
run risk-stat --log
expect_rc 0
expect "four rows in the last hour" [ "$(wc -l <"$T/out")" = 4 ]
expect_out_re '^[0-9-]+T[0-9:]+\.[0-9]{3}Z	Q1	retry	503	100	HTTP 503$'
expect_out_re '^[0-9-]+T[0-9:.]+Z	D2	dead	-	5000	timeout$'
expect "oldest first" [ "$(cut -f2 "$T/out" | tr '\n' ' ')" = "F1 F3 Q1 D2 " ]
run risk-stat --log --since 3h
expect "--since 3h has the old row too" [ "$(wc -l <"$T/out")" = 5 ]
run risk-stat --log --since 3h --id OLD --json
expect "--id, --json" jqtest -s 'length == 1 and .[0].id == "OLD" and .[0].http == 200 and .[0].reason == null' "$T/out"

# --log -f: follows new rows
risk-stat --log -f --since 1s >"$T/follow" 2>&1 &
fpid=$!
sleep 0.5
q "INSERT INTO fetch_log (at, id, outcome, http, ms, reason) VALUES($(($(date +%s) * 1000)),'NEW1','stored',200,7,NULL)"
for _ in $(seq 30); do grep -q NEW1 "$T/follow" && break; sleep 0.1; done
kill $fpid 2>/dev/null; wait $fpid 2>/dev/null
expect "-f shows a row written later" grep -q '	NEW1	stored	200	7	-$' "$T/follow"

# ---- errors ------------------------------------------------------------------
run risk-stat --prometheus --json
expect_rc 2
expect_err_re 'prometheus'
run risk-stat --since 1h
expect_rc 2
expect_err_re 'go with --log'
run risk-stat --log --id 'bad id'
expect_rc 2
expect_err_re '^risk-stat: --id: bad id: invalid company id$'
run risk-stat --log -f -o "$T/x"
expect_rc 2
run risk-stat extra
expect_rc 2
run risk-stat -h
expect_rc 0
expect_out_re '^usage: risk-stat'

finish

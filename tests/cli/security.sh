#!/bin/bash
# The security claims of risk(7), SECURITY CONSIDERATIONS, each checked
# where a test can: credentials stay out of argv, the environment,
# messages, the fetch log and the database; user filters see no
# environment and are bounded; URL templates are http(s) with {id};
# IDs are validated before any SQL or URL.
. "$(dirname "$0")/../lib.sh"

secret=sekret
standin --latency 300 --api-key "$secret" --log "$T/requests.log"
printf 'X-Api-Key: %s\n' "$secret" >"$T/creds"
chmod 600 "$T/creds"

# --- credentials: from a file only, never in argv or environment
# The drain holds the key; its --map filter runs in a child of its own.
# What the programs could leak is checked in every process of the
# drain's tree (what ps shows, and what each was started with), and in
# what the filter sees of its environment, stored as the status.
seq -f 'needauth-%g' 1 6 | risk-enqueue
RISK_CREDENTIALS_FILE=$T/creds risk-drain -v --concurrency 2 \
    --map '{status: ([$ENV, env] | tostring)}' 2>"$T/drain.err" &
pid=$!
sleep 0.3
expect "a drain in flight (pid $pid)" kill -0 "$pid"
tree() {	# tree PID: PID and its descendants
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$c"; done
}
procs=$(tree "$pid")
expect "the filter child is running ($(echo $procs))" [ "$(echo "$procs" | wc -l)" -ge 2 ]
for p in $procs; do
	cat "/proc/$p/cmdline" "/proc/$p/environ" 2>/dev/null
done | tr '\0' '\n' >"$T/procs"
expect "not the secret in any argv or environment of the drain's processes" \
    not grep -q "$secret" "$T/procs"
wait "$pid"
expect "the drain stored all six with the key" \
    [ "$(q "select count(*) from record where id like 'needauth-%'")" = 6 ]
expect "the filter saw no environment (the key's file name included)" \
    [ "$(q -r "select distinct status from record where id like 'needauth-%'")" = '[{},{}]' ]
# a wrong key: refused by the service, and the reason shows no key
printf 'X-Api-Key: wrong-%s\n' "$secret" >"$T/bad"
chmod 600 "$T/bad"
risk-enqueue needauth-x
run risk-drain -vv --credentials "$T/bad" --max-attempts 1
expect_rc 77
expect "a 401 is credentials rejected, never a dead letter" \
    [ "$(q "select count(*) from dead")$(q "select last_error from queue where id='needauth-x'")" = "0HTTP 401" ]
q "delete from source"	# later cases start unrejected
run risk-fetch -v --credentials "$T/bad" needauth-y
expect_rc 1
expect_err_re '^risk-fetch: needauth-y: HTTP 401$'
cat "$T/err" >>"$T/drain.err"
expect "no secret in any message" not grep -q "$secret" "$T/drain.err"
expect "no secret anywhere in the database, fetch log included" \
    not grep -aq "$secret" <(db_dump)
if on_sqlite; then
	expect "nor in its files" not grep -aqs "$secret" "$RISK_DB" "$RISK_DB-wal"
fi
expect "the fetch log has the attempts" [ "$(q 'select count(*) from fetch_log')" -ge 7 ]
# a credentials file others can read is refused, naming only the file
chmod 640 "$T/creds"
run risk-drain --credentials "$T/creds"
expect_rc 2
expect_err_re "creds"
expect "the refusal does not print the secret" not grep -q "$secret" "$T/err"
chmod 600 "$T/creds"
# RISK_CREDENTIALS_FILE names the file too; a secret in the URL is refused
risk-enqueue needauth-7
run env RISK_CREDENTIALS_FILE="$T/creds" risk-drain
expect_rc 0
expect "RISK_CREDENTIALS_FILE works" [ "$(q "select count(*) from record where id='needauth-7'")" = 1 ]
run risk-drain --source "http://risk:$secret@127.0.0.1:$PORT/financial-risk/{id}"
expect_rc 2
expect_err_re '^risk-drain: --source: '
expect "user info refused without echoing it" not grep -q "$secret" "$T/err"

# --- user filters see an empty environment, and are bounded
export SECRET_TOKEN=$secret
run risk-get --no-enqueue --jq '[$ENV, env] | tostring' needauth-1
expect_rc 0
expect_out '[{},{}]'
run risk-get --no-enqueue --jq '$ENV.SECRET_TOKEN // "none"' needauth-1
expect_out none
standin --latency 0
risk-enqueue E1
run risk-drain --map '{status: ([$ENV, env] | tostring)}'
expect_rc 0
expect "a drain's --map sees no environment" [ "$(q "select status from record where id='E1'")" = '[{},{}]' ]
run risk-fetch --map '{status: ($ENV.SECRET_TOKEN // "none")}' E1
expect_out_re '"status":"none"'
unset SECRET_TOKEN
start=$(date +%s%N)
run risk-fetch --map-timeout 300ms --map 'def f: f; f' E2
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 1
expect "a looping filter is stopped in time ($took ms)" [ "$took" -lt 2500 ]
expect_err_re 'map: no answer within 300 ms'

# --- URL templates: http or https, with {id}
for bad in 'ftp://127.0.0.1/{id}' 'file:///etc/{id}' 'gopher://x/{id}' \
    "http://127.0.0.1:$PORT/no-placeholder" 'javascript:{id}'; do
	run risk-fetch --source "$bad" C1
	expect_rc 2
	expect_err_re '^risk-fetch: --source: '
done

# --- IDs are validated before any SQL or URL; SQL is bound
standin --latency 0 --log "$T/ids.log"	# the one these requests reach
for id in "x'; DROP TABLE record; --" '../../etc/passwd' 'a b' '%2e%2e' \
    '{id}' "$(printf 'a\033[31mb')"; do
	run risk-get "$id" C1
	expect_rc 2
	expect_err_re 'invalid company id$'
	run risk-enqueue "$id"
	expect_rc 2
	run risk-fetch "$id" C1
	expect_rc 2
	expect_err_re 'invalid company id$'
done
expect "the record table is still there" [ "$(q 'select count(*) from record')" -ge 7 ]
expect "nothing invalid was queued" [ "$(bad_ids)" = 0 ]
expect "control bytes are not echoed raw" not grep -q $'\033' "$T/err"
# A hostile queue: the same IDs written behind the programs' back (on
# PostgreSQL the queue's CHECK refuses them), then drained.
refused=0
for id in "x'; DROP TABLE record; --" '../../etc/passwd' 'a b' '%2e%2e' \
    '{id}' "$(printf 'a\033[31mb')" '-rf' '.hidden'; do
	q "INSERT INTO queue (id, due, enqueued_at)
	    VALUES ('${id//\'/\'\'}', 0, 0)" 2>/dev/null || refused=$((refused + 1))
done
if on_pg; then
	LAST="INSERT INTO queue (hostile IDs)"
	expect "the queue's CHECK refused all 8 ($refused)" [ "$refused" = 8 ]
else
	LAST="INSERT INTO queue (hostile IDs)"
	expect "a queue file takes them ($refused refused)" [ "$refused" = 0 ]
fi
run risk-drain --concurrency 4
expect "the drain left nothing invalid queued" [ "$(bad_ids)" = 0 ]
# the stand-in saw requests (for the valid IDs), but none for an
# invalid one: every ID it logged is a valid one
LAST="cut -f2 $T/ids.log"
expect "the legacy service was asked (for C1)" grep -q $'\tC1\t' "$T/ids.log"
expect "no invalid ID reached the legacy service" \
    not grep -Evq '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' <(cut -f2 "$T/ids.log")

finish

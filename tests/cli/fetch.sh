#!/bin/bash
# risk-fetch: live records in input order, failures named, --store, --raw.
. "$(dirname "$0")/../lib.sh"

standin --latency 0-30 --log "$T/requests.log"

run risk-fetch C1 unknown-2 C2
expect_rc 1
expect_out_re '^\{"id":"C1","status":"(reliable|indebted)","status_changed_at":"2025-01-04T00:00:00Z","fetched_at":"[^"]+","age":0,"fresh":true\}$'
expect_out_re '^\{"id":"unknown-2","error":"not_found"'
expect "input order kept" [ "$(jq -r .id "$T/out" | paste -sd' ')" = "C1 unknown-2 C2" ]
expect_err_empty
if on_pg; then
	expect "nothing stored without --store: the database untouched" \
	    [ "$(q "select count(*) from pg_namespace where nspname = 'risk'")" = 0 ]
else
	expect "nothing stored without --store" [ ! -e "$RISK_DB" ]
fi

seq -f 'S%g' 1 200 >"$T/ids"
run -i "$T/ids" risk-fetch --concurrency 8 --jq .id
expect_rc 0
expect "200 answers in input order" [ "$(cat "$T/out")" = "$(cat "$T/ids")" ]

run risk-fetch C1 fail500-x notjson-y 'a/b' C3
expect_rc 2
expect_err_re '^risk-fetch: fail500-x: HTTP 500$'
expect_err_re '^risk-fetch: notjson-y: body is not JSON'
expect_err_re '^risk-fetch: a/b: invalid company id$'
expect "the good ones printed" [ "$(jq -r .id "$T/out" | paste -sd' ')" = "C1 C3" ]
run risk-fetch fail500-x
expect_rc 1

run risk-fetch --store C5
expect_rc 0
run risk-get --no-enqueue C5
expect_rc 0
expect_out_re '"id":"C5","status":'

run risk-fetch --raw C1
expect_rc 0
expect_out_re '^\{"status":"(reliable|indebted)","changedAt":"2025-01-04T00:00:00Z"\}$'
run risk-fetch --raw unknown-7 C1
expect_rc 1
expect_err_re '^risk-fetch: unknown-7: not found \(HTTP 404\)$'
expect "only C1's body printed" [ "$(wc -l <"$T/out")" = 1 ]
run risk-fetch --raw --store C1
expect_rc 2

run risk-fetch --map '{status: (.status | ascii_upcase)}' C1
expect_out_re '"status":"(RELIABLE|INDEBTED)"'
echo '{status: ("x" + .status), changedAt: "2020-02-02"}' >"$T/map.jq"
run risk-fetch --map-file "$T/map.jq" C1
expect_out_re '"status":"x(reliable|indebted)","status_changed_at":"2020-02-02T00:00:00Z"'
echo '{status: "x" + .status}' >"$T/bad.jq"
run risk-fetch --map-file "$T/bad.jq" C1
expect_rc 2
expect_err_re '^risk-fetch: --map: invalid jq filter: syntax error'
run risk-fetch --map-file "$T/nope.jq" C1
expect_rc 2
expect_err_re "^risk-fetch: $T/nope.jq: No such file"

# a user filter is bounded: a loop or a memory hog fails that body only
start=$(date +%s%N)
run risk-fetch --map-timeout 500ms --map 'def f: f; f' C1 C2
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 1
expect_err_re '^risk-fetch: C1: map: no answer within 500 ms \(filter stopped\)$'
expect_err_re '^risk-fetch: C2: map: no answer within 500 ms'
expect "bounded in time ($took ms)" [ "$took" -lt 3000 ]
run risk-fetch --map-timeout 20s --map '[range(1e9)] | {status: "x"}' C1
expect_rc 1
# Out of memory on a quiet machine; on a loaded one the deadline may
# come first.  Either way the bomb was stopped.
expect_err_re '^risk-fetch: C1: map: (filter failed \(out of memory or crashed\)|no answer within 20000 ms \(filter stopped\))$'
run env SECRET_TOKEN=hunter2 risk-fetch --map '{status: ([$ENV, env] | tostring)}' C1
expect_rc 0
expect_out_re '"status":"\[\{\},\{\}\]"'

run risk-fetch --timeout 1s hang-1
expect_rc 1
expect_err_re '^risk-fetch: hang-1: timed out after 1000 ms$'

# credentials come from a file that others cannot read
printf 'X-Api-Key: sekret\n' >"$T/creds"
chmod 644 "$T/creds"
run risk-fetch --credentials "$T/creds" needauth-1
expect_rc 2
expect_err_re 'creds'
cat "$T/out" "$T/err" >"$T/seen"	# everything printed with the key
chmod 600 "$T/creds"
run risk-fetch -vv --credentials "$T/creds" needauth-1
expect_rc 0
expect_out_re '"id":"needauth-1","status"'
cat "$T/out" "$T/err" >>"$T/seen"
# with the key, failing every way: a bad line after the key, a 401, a
# timeout, a body that is no JSON
printf 'X-Api-Key: sekret\nnot a header line\n' >"$T/creds2"
chmod 600 "$T/creds2"
run risk-fetch -vv --credentials "$T/creds2" needauth-1
expect_rc 2
cat "$T/out" "$T/err" >>"$T/seen"
printf 'X-Api-Key: sekret-but-wrong\n' >"$T/creds3"
chmod 600 "$T/creds3"
run risk-fetch -vv --timeout 1s --credentials "$T/creds3" needauth-1 notjson-1 hang-2
expect_rc 1
expect_err_re 'needauth-1: HTTP 401'
cat "$T/out" "$T/err" >>"$T/seen"
run risk-fetch needauth-1
expect_rc 1
expect_err_re 'HTTP 401'
LAST="every run above with a credentials file"
expect "the secret is never printed" not grep -q sekret "$T/seen"

yes C1 | head -n 100 >"$T/many"
(risk-fetch <"$T/many" | head -n 1 >/dev/null) 2>"$T/err"
expect_err_empty
risk-fetch C1 >/dev/full 2>"$T/err"
rc=$?
expect_rc 2
expect_err_re 'standard output'

finish

#!/bin/bash
# risk-load: dumps of the legacy service, good, bad and mixed; the id key,
# the mapping, the fetch time, batches, and an older dump never rolling
# the cache back.
. "$(dirname "$0")/../lib.sh"


# ---- good input --------------------------------------------------------
cat >"$T/good.jsonl" <<'EOF'
{"id":"100","status":"reliable","changedAt":"2025-01-04T00:00:00Z"}
{"id":"101","status":"indebted","status_changed_at":"2024-06-01"}
{"id":"102","status":"reliable"}
EOF
run risk-load -v --fetched-at 2026-11-01T00:00:00Z "$T/good.jsonl"
expect_rc 0
expect_out_empty
expect_err_re '^risk-load: 3 loaded, 0 kept \(the cache was newer\), 0 failed$'
run risk-get --no-enqueue --max-age 3660d 100 101 102
expect_rc 0
expect_out_re '^\{"id":"100","status":"reliable","status_changed_at":"2025-01-04T00:00:00Z","fetched_at":"2026-11-01T00:00:00Z",'
expect_out_re '^\{"id":"101","status":"indebted","status_changed_at":"2024-06-01T00:00:00Z",'
expect "no legacy date: changed at the fetch" [ "$(q "select changed_at from record where id='102'")" = "$(date -d 2026-11-01T00:00:00Z +%s)" ]

# the same IDs from an older dump: the cache keeps the newer records
run risk-load -v --fetched-at 2026-10-01 "$T/good.jsonl"
expect_rc 0
expect_err_re '0 loaded, 3 kept'
expect "fetched_at unchanged" [ "$(q "select count(*) from record where fetched_at = $(date -d 2026-11-01T00:00:00Z +%s)000")" = 3 ]

# default fetch time: now, so the records are fresh
printf '{"id":"103","status":"reliable"}\n' | risk-load
run risk-get --no-enqueue 103
expect_out_re '"fresh":true'

# ---- bad input: every line reported by number, nothing stored ------------
printf '%s\n' 'not json' '{"id":"a b","status":"x"}' '[1,2]' '{"status":"x"}' \
    '{"id":"B5"}' '{"id":"B6","status":42}' '{"id":"B7","status":"x","changedAt":"yesterday"}' \
    '{"id":1.5,"status":"x"}' '{"id":"B9","status":"x"' >"$T/bad.jsonl"
run risk-load "$T/bad.jsonl"
expect_rc 1
expect_out_empty
expect_err_re "^risk-load: $T/bad.jsonl:1: not JSON: "
expect_err_re "^risk-load: $T/bad.jsonl:2: \"id\": invalid company id$"
expect_err_re "^risk-load: $T/bad.jsonl:3: not a JSON object$"
expect_err_re "^risk-load: $T/bad.jsonl:4: no \"id\"$"
expect_err_re "^risk-load: $T/bad.jsonl:5: mapping gave no string status$"
expect_err_re "^risk-load: $T/bad.jsonl:6: mapping gave no string status$"
expect_err_re "^risk-load: $T/bad.jsonl:7: status_changed_at is not a date$"
expect_err_re "^risk-load: $T/bad.jsonl:8: \"id\": not a whole number$"
expect_err_re "^risk-load: $T/bad.jsonl:9: not JSON: "
expect "one message per bad line" [ "$(wc -l <"$T/err")" = 9 ]
expect "nothing stored" [ "$(q "select count(*) from record where id like 'B%'")" = 0 ]

# ---- mixed: good lines kept, numbering counts blank lines ------------------
{
	echo '{"id":"M1","status":"reliable"}'
	echo ''
	echo '{"id":"M3","status":}'
	printf '{"id":"M4","status":"indebted"}\r\n'
	echo '   '
	echo '{"id":42,"status":"reliable"}'
	printf '{"id":"M7","status":"x"}\0junk\n'
	head -c 1100000 /dev/zero | tr '\0' ' '; echo
	printf '{"id":"M9","status":"reliable"}'	# no final newline
} >"$T/mixed.jsonl"
run -i "$T/mixed.jsonl" risk-load -v
expect_rc 1
expect_err_re '^risk-load: standard input:3: not JSON: '
expect_err_re '^risk-load: standard input:7: line holds a NUL byte$'
expect_err_re '^risk-load: standard input:8: line longer than 1 MiB$'
expect_err_re '^risk-load: 4 loaded, 0 kept \(the cache was newer\), 3 failed$'
expect "the good lines stored" [ "$(q "select id from record where id in ('M1','M4','42','M9') order by id" | paste -sd,)" = "42,M1,M4,M9" ]

# ---- --id-key, --map, --map-file -----------------------------------------
printf '{"company":"C1","risk":{"level":"LOW","since":"2023-03-03"}}\n{"company":"C2","risk":{"level":"HIGH"}}\n' >"$T/legacy.jsonl"
run risk-load --id-key company "$T/legacy.jsonl"
expect_rc 1
expect_err_re 'legacy.jsonl:1: mapping gave no string status'
map='{status: (if .risk.level == "LOW" then "reliable" else "indebted" end), changedAt: .risk.since}'
run risk-load --id-key company --map "$map" "$T/legacy.jsonl"
expect_rc 0
expect "mapped with jq" [ "$(q "select id, status, changed_at from record where id like 'C_' order by id")" = "C1|reliable|$(date -d 2023-03-03 +%s)
C2|indebted|$(q "select fetched_at / 1000 from record where id='C2'")" ]
echo "$map" >"$T/map.jq"
printf '{"company":"C3","risk":{"level":"LOW"}}\n' | risk-load --id-key company --map-file "$T/map.jq"
expect "--map-file" [ "$(q "select status from record where id='C3'")" = reliable ]
run risk-load --map '.status' "$T/good.jsonl"
expect_rc 1
expect_err_re 'good.jsonl:1: mapping gave no object with a string status'
run risk-load --map 'error("nope")' "$T/good.jsonl"
expect_rc 1
expect_err_re 'good.jsonl:1: map: nope$'

# ---- files, batches ----------------------------------------------------------
seq -f '{"id":"N%g","status":"reliable"}' 1 25 >"$T/n.jsonl"
run risk-load --batch 4 -v "$T/n.jsonl" "$T/missing.jsonl"
expect_rc 2
expect_err_re "^risk-load: $T/missing.jsonl: No such file or directory$"
expect_err_re '25 loaded'
expect "25 in batches of 4" [ "$(q "select count(*) from record where id like 'N%'")" = 25 ]

# ---- errors ------------------------------------------------------------------
run risk-load --map '{' "$T/good.jsonl"
expect_rc 2
expect_err_re '^risk-load: --map: invalid jq filter'
run risk-load --map . --map-file "$T/map.jq"
expect_rc 2
run risk-load --fetched-at yesterday
expect_rc 2
expect_err_re '^risk-load: --fetched-at: yesterday: not a date'
run risk-load --id-key ''
expect_rc 2
run risk-load --batch 0
expect_rc 2
run risk-load -h
expect_rc 0
expect_out_re '^usage: risk-load'

finish

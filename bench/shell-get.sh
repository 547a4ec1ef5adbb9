#!/bin/sh
# shell-get.sh — the "shell way" a user might write instead of risk-get:
# one sqlite3 and one jq process per ID, the same output object.
# usage: shell-get.sh DB ID...
db=$1
shift
for id in "$@"; do
	sqlite3 -json "$db" "SELECT id, status, changed_at, fetched_at
	    FROM record WHERE id = '$id'" |
	jq -c '.[] | (now | floor) as $now | (.fetched_at / 1000 | floor) as $f
	    | {id, status, status_changed_at: (.changed_at | todate),
	       fetched_at: ($f | todate), age: ($now - $f),
	       fresh: ($now - $f <= 3600)}'
done

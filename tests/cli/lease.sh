#!/bin/bash
# A stale lease holder changes nothing (the lease token in ack and
# retry, seen from the command line).  Drain A claims an entry; its lease
# runs out while its request is in flight (moved to the past in the
# file, as if A had stalled: a lease is always longer than a request may
# take, so a real stall would also time the request out); drain B claims
# the entry again and is stopped (SIGSTOP).  A's answer arrives and A
# acks with its old token: the entry must stay B's, untouched, and
# nothing is stored.  Then the same with a request that fails (retry).
# One slot each: a drain with a free slot would claim the due entry
# again itself.  A waits for B's lease once it lost its own: it is
# stopped there.
. "$(dirname "$0")/../lib.sh"

token() { q -r "select token from queue where id='$ID'"; }
standin --latency 1500
risk-enqueue </dev/null	# the database

# poll until CMD... is true (at most 10 s)
until_true() {
	local _
	for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}
claimed() { [ -n "$(token)" ]; }
claimed_by_other() { [ -n "$(token)" ] && [ "$(token)" != "$1" ]; }

stale() {	# stale ID: the case above, for ID
	local ta before
	ID=$1
	q "delete from queue; delete from record"
	risk-enqueue "$ID"
	risk-drain --concurrency 1 --timeout 2s --max-attempts 9 2>"$T/a.err" &
	A=$!
	until_true claimed
	ta=$(token)
	expect "$ID: drain A holds the lease" [ -n "$ta" ]
	q "update queue set due = 0 where id = '$ID'"
	risk-drain --concurrency 1 --timeout 2s --max-attempts 9 2>"$T/b.err" &
	B=$!
	until_true claimed_by_other "$ta"
	kill -STOP "$B"
	expect "$ID: drain B took the entry over" claimed_by_other "$ta"
	before=$(q -r "select id, due, token, attempts, last_error from queue")
	# A settles its answer (it then waits for B's lease: stop it there)
	until_true grep -q "$ID: lease lost" "$T/a.err"
	LAST="drain A, answered after its lease ran out ($ID)"
	rc=0
	cp "$T/a.err" "$T/err"
	: >"$T/out"
	expect_err_re "$ID: lease lost"
	expect "$ID: the entry is still B's, untouched" \
	    [ "$(q -r "select id, due, token, attempts, last_error from queue")" = "$before" ]
	expect "$ID: A stored nothing" [ "$(q -r "select count(*) from record")" = 0 ]
	expect "$ID: A dead-lettered nothing" [ "$(q -r "select count(*) from dead")" = 0 ]
	kill "$A"
	wait "$A"
	kill -CONT "$B"
	wait "$B"
	expect "$ID: B settled it" \
	    [ "$(q -r "select count(*) from queue where id='$ID' and token is not null")" = 0 ]
}

stale S1		# an answer: ack
stale hang-s1	# a failure (a timeout): retry

finish

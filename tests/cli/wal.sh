#!/bin/bash
# The -wal file stays small after big writes (issue 9 section 1): a large
# WAL left behind made every later process that was alone on the
# database rebuild the WAL index from the whole file, so a one-ID
# risk-get after a big load was 5x slower.  The file itself is kept (a
# reader that may not create files in the folder needs it, risk.7).
# "Small" is at most 64 KiB here: the programs empty it.
. "$(dirname "$0")/../lib.sh"

SMALL=65536
walsize() { stat -c %s "$RISK_DB-wal" 2>/dev/null || echo missing; }
small() { [ "$1" != missing ] && [ "$1" -le "$SMALL" ]; }
expect_wal_small() {
	local n
	n=$(walsize)
	LAST="stat -c %s $RISK_DB-wal ($n)"
	expect "$1: -wal kept and small ($n bytes)" small "$n"
}

# 50,000 records in batches of 10,000 (several MB of WAL on the way)
awk 'BEGIN { for (i = 1; i <= 50000; i++)
    printf "{\"id\":\"W%06d\",\"status\":\"reliable\"}\n", i }' >"$T/dump"
run risk-load "$T/dump"
expect_rc 0
expect_wal_small "after risk-load of 50000 records"
run risk-get --no-enqueue W025000
expect_rc 0
expect_out_re '^\{"id":"W025000","status":"reliable"'

# The same while another process keeps the database open (a long
# reader): the writer is not the last to close, and still leaves the
# WAL small.
reader_start W000001
expect "the reader is connected" grep -q '"id":"W000001"' "$T/reader.out"
sed 's/"reliable"/"indebted"/' "$T/dump" >"$T/dump2"
run risk-load "$T/dump2"
expect_rc 0
expect_wal_small "after risk-load beside an open reader"
reader_ask W000002
reader_stop
expect "the reader read the new data" grep -q '"id":"W000002","status":"indebted"' "$T/reader.out"
expect_wal_small "after the reader left"

# A big purge is a big write too.
run risk-purge --older-than 0
expect_rc 0
expect_wal_small "after risk-purge of 50000 records"

# A big drain: 3000 companies from the stand-in, on a WAL emptied first.
standin --latency 0-5
sqlite3 "$RISK_DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
seq -f 'D%05g' 1 3000 | risk-enqueue
run risk-drain --concurrency 8
expect_rc 0
expect "the drain stored all" [ "$(sqlite3 -readonly "$RISK_DB" 'select count(*) from record')" = 3000 ]
expect_wal_small "after risk-drain of 3000"

# A read-only reader still works once the WAL was emptied (risk.7: a
# reader without write access to the folder).
if [ "$(id -u)" -eq 0 ]; then
	chmod 711 "$T"
	chmod 755 "$(dirname "$RISK_DB")"
	chmod 644 "$RISK_DB" "$RISK_DB-wal" "$RISK_DB-shm"
	run as_nobody risk-get --no-enqueue D00042
	expect_rc 0
	expect_out_re '^\{"id":"D00042","status":'
	chmod 700 "$T"
else
	skip "read-only reader: not root, cannot become nobody"
fi

finish

# bench/web.sh — sourced by the web benchmarks (cgi.sh, fcgi.sh): the
# least-privilege layout of risk.7 in $tmp/srv with $N fresh records,
# made by the snapshots in $tmp/bin and scripts/risk-setup-web.
# Sets user and group (nobody when we are root: the servers run as it),
# DB, Q, and ID, the fresh record every case asks for.
if [ "$(id -u)" -eq 0 ]; then
	user=nobody group=nogroup
else
	user=$(id -un) group=$(id -gn)
fi
DB=$tmp/srv/db/risk.db
Q=$tmp/srv/queue/queue.db
mkdir -p "$tmp/srv/db" "$tmp/www"
chmod 755 "$tmp/srv" "$tmp/www"
"$tmp/bin/risk-enqueue" --db "$DB" --queue "$Q" </dev/null
sqlite3 "$DB" >/dev/null <<EOF
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO record (id, status, changed_at, fetched_at)
SELECT printf('C%07d', i),
       CASE i % 2 WHEN 1 THEN 'reliable' ELSE 'indebted' END,
       1735948800 + i,
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM n;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
PATH=$tmp/bin:$PATH scripts/risk-setup-web -g "$group" "$DB" "$Q" >/dev/null
ID=C$(printf %07d $((N / 2 + 1)))

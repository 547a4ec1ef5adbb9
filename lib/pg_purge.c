/*
 * pg_purge.c — retention on the PostgreSQL store: old records, old dead
 * letters, old log rows, and VACUUM (the SQLite side: purge.c, whose
 * contract this keeps).
 *
 * Invariants:
 * - A purge batch is one statement in one transaction of its own: it
 *   scans at most SCAN_FACTOR * batch rows by key, deletes those still
 *   older than the cutoff (a row refreshed meanwhile is re-checked by the
 *   DELETE and stays) and returns what it deleted; the caller sees every
 *   row, then flush(), and only then does the batch commit, so an ID
 *   printed for `risk-purge --print | risk-enqueue` is never lost.  A dry
 *   run runs the same scan as a SELECT: it writes nothing.
 * - The fetch log and the drain summaries are trimmed by statements of
 *   at most batch rows, each its own transaction, skipping rows another
 *   purger holds.
 * - VACUUM runs outside any transaction, table by table (plain VACUUM:
 *   it frees dead rows for reuse and gives the tail of a table back to
 *   the file system, and, unlike VACUUM FULL, never locks out the
 *   drainers and readers of every host).
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define SCAN_FACTOR 16

/*
 * One batch of records: of the (at most $3) rows after the cursor $1,
 * the first $4 older than the cutoff $2, deleted (if still older) and
 * returned in id order, looked up by key (a join would let the planner
 * scan the table).  The scan is lazy: it stops at the $4th old row (a
 * CTE is read in the order it was made, id order here), and only a
 * batch short of $4 reads the window to its end to know where it ends.
 * The first columns: how many picked and the last, then (short batches
 * only) how many scanned and the last; a batch that removed nothing is
 * one row of NULLs after them.
 */
#define REC_SCAN \
    "WITH w AS (SELECT id, status, changed_at, fetched_at FROM record" \
    "  WHERE id > $1 ORDER BY id LIMIT $3)," \
    " m AS (SELECT * FROM w WHERE fetched_at < $2 LIMIT $4)," \
    " n AS (SELECT count(*) AS n, max(id) AS last FROM m)"
#define REC_HEAD \
    " SELECT n.n, n.last," \
    " CASE WHEN n.n < $4 THEN (SELECT count(*) FROM w) END," \
    " CASE WHEN n.n < $4 THEN (SELECT max(id) FROM w) END,"
static const char sql_rec_purge[] = REC_SCAN ","
    " d AS (DELETE FROM record r WHERE r.id = ANY (ARRAY(SELECT id FROM m))"
    "  AND r.fetched_at < $2"
    "  RETURNING r.id, r.status, r.changed_at, r.fetched_at)"
    REC_HEAD " d.id, d.status, d.changed_at, d.fetched_at"
    " FROM n LEFT JOIN d ON true ORDER BY d.id";
static const char sql_rec_dry[] = REC_SCAN
    REC_HEAD " m.id, m.status, m.changed_at, m.fetched_at"
    " FROM n LEFT JOIN m ON true ORDER BY m.id";

/*
 * One batch of dead letters, by (died_at, id) after the cursor ($2, $3):
 * at most $4 that died before $1, deleted (if they still did) and
 * returned in that order, after the count picked and the last one's key.
 * The purge takes RISK__PG_LOCK_PURGE ($5) for its transaction (pg.h).
 */
#define DEAD_SCAN \
    "WITH m AS (SELECT id, reason, attempts, redrives, enqueued_at," \
    "  died_at FROM dead WHERE died_at < $1 AND (died_at, id) > ($2, $3)" \
    "  ORDER BY died_at, id LIMIT $4)," \
    " l AS (SELECT died_at, id FROM m ORDER BY died_at DESC, id DESC" \
    "  LIMIT 1)"
static const char sql_dead_purge[] = DEAD_SCAN ","
    " lk AS (SELECT pg_advisory_xact_lock($5::bigint)),"
    " d AS (DELETE FROM dead x WHERE x.id = ANY (ARRAY(SELECT id FROM m))"
    "  AND x.died_at < $1 RETURNING x.id, x.reason, x.attempts,"
    "  x.redrives, x.enqueued_at, x.died_at)"
    " SELECT (SELECT count(*) FROM m, lk), l.died_at, l.id,"
    " d.id, d.reason, d.attempts, d.redrives, d.enqueued_at, d.died_at"
    " FROM (SELECT 1) one LEFT JOIN l ON true LEFT JOIN d ON true"
    " ORDER BY d.died_at, d.id";
static const char sql_dead_dry[] = DEAD_SCAN
    " SELECT (SELECT count(*) FROM m), l.died_at, l.id,"
    " m.id, m.reason, m.attempts, m.redrives, m.enqueued_at, m.died_at"
    " FROM (SELECT 1) one LEFT JOIN l ON true LEFT JOIN m ON true"
    " ORDER BY m.died_at, m.id";

static const char sql_log_del[] =
    "DELETE FROM fetch_log WHERE seq IN (SELECT seq FROM fetch_log"
    " WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)";
static const char sql_log_count[] =
    "SELECT count(*) FROM fetch_log WHERE at < $1";
static const char sql_run_del[] =
    "DELETE FROM drain_run WHERE seq IN (SELECT seq FROM drain_run"
    " WHERE ended_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";
static const char sql_run_count[] =
    "SELECT count(*) FROM drain_run WHERE ended_at < $1";

/* Where a walk stands: records go by id, dead letters by (died_at, id).
 * The id is the whole key as stored, however long. */
struct cursor {
	char *id;
	int64_t died;
};

static int
cursor_set(struct cursor *c, const char *id, char *err)
{
	char *s;

	if ((s = strdup(id != NULL ? id : "")) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	free(c->id);
	c->id = s;
	return RISK_OK;
}

/*
 * One batch of a kind of row: run its statement, the rows it removed
 * (or would remove) in *res from column *col on, *more when the table
 * may hold more after the cursor, which moves past the batch.
 */
struct kind {
	int (*batch)(struct risk_db *db, const struct risk_purge *p,
	    struct cursor *c, int max, PGresult **res, int *col, bool *more,
	    char *err);
	/* Show row i of res (from column col) to the caller; 0 goes on. */
	int (*show)(const struct risk_purge *p, const PGresult *res, int i,
	    int col);
};

/* Run a batch's statement: its rows in *res, the first (the counts)
 * always there, or a failure and no result. */
static int
run_batch(struct risk_db *db, const char *sql, int n, const char *const *v,
    PGresult **res, char *err)
{
	int r;

	if ((r = risk__pg_run(db, sql, n, v, res, NULL, err)) != RISK_OK)
		return r;
	if (risk__pg_ntuples(*res) >= 1)
		return RISK_OK;
	risk__pg_clear(*res);
	return risk_seterr(err, RISK_EDB, "%s: purge: no answer",
	    db->pg->name);
}

static int
batch_records(struct risk_db *db, const struct risk_purge *p,
    struct cursor *c, int max, PGresult **res, int *col, bool *more,
    char *err)
{
	char b2[RISK__I64LEN], b3[RISK__I64LEN], b4[RISK__I64LEN];
	const char *v[4];
	int64_t scanned, picked;
	int r;

	v[0] = c->id;
	v[1] = risk__pg_i64s(b2, p->before_ms);
	v[2] = risk__pg_i64s(b3, (int64_t)max * SCAN_FACTOR);
	v[3] = risk__pg_i64s(b4, max);
	if ((r = run_batch(db, p->dry_run ? sql_rec_dry : sql_rec_purge, 4, v,
	    res, err)) != RISK_OK)
		return r;
	picked = risk__pg_i64(*res, 0, 0);
	scanned = risk__pg_i64(*res, 0, 2);
	/* a full batch goes on after its last row, a short one after the
	 * last row it scanned */
	if (picked >= max)
		r = cursor_set(c, risk__pg_get(*res, 0, 1), err);
	else if (scanned > 0)
		r = cursor_set(c, risk__pg_get(*res, 0, 3), err);
	*more = picked >= max || scanned >= (int64_t)max * SCAN_FACTOR;
	*col = 4;
	if (r != RISK_OK)
		risk__pg_clear(*res);
	return r;
}

static int
batch_dead(struct risk_db *db, const struct risk_purge *p, struct cursor *c,
    int max, PGresult **res, int *col, bool *more, char *err)
{
	char b1[RISK__I64LEN], b2[RISK__I64LEN], b4[RISK__I64LEN];
	char b5[RISK__I64LEN];
	const char *v[5];
	int64_t picked;
	int r = RISK_OK;

	v[0] = risk__pg_i64s(b1, p->before_ms);
	v[1] = risk__pg_i64s(b2, c->died);
	v[2] = c->id;
	v[3] = risk__pg_i64s(b4, max);
	v[4] = risk__pg_i64s(b5, risk__pg_lock(db, RISK__PG_LOCK_PURGE));
	/* the dry run takes no lock: it has no $5 */
	if (p->dry_run)
		r = run_batch(db, sql_dead_dry, 4, v, res, err);
	else
		r = run_batch(db, sql_dead_purge, 5, v, res, err);
	if (r != RISK_OK)
		return r;
	picked = risk__pg_i64(*res, 0, 0);
	if (picked > 0) {
		c->died = risk__pg_i64(*res, 0, 1);
		r = cursor_set(c, risk__pg_get(*res, 0, 2), err);
	}
	*more = picked >= max;
	*col = 3;
	if (r != RISK_OK)
		risk__pg_clear(*res);
	return r;
}

static int
show_record(const struct risk_purge *p, const PGresult *res, int i, int col)
{
	struct risk_record rec;

	if (p->record == NULL)
		return 0;
	memset(&rec, 0, sizeof rec);
	risk__pg_text(res, i, col, rec.id, sizeof rec.id);
	rec.found = risk__pg_get(res, i, col + 1) != NULL;
	risk__pg_text(res, i, col + 1, rec.status, sizeof rec.status);
	rec.changed_at = risk__pg_i64(res, i, col + 2);
	rec.fetched_at = risk__pg_i64(res, i, col + 3);
	return p->record(&rec, p->arg);
}

static int
show_dead(const struct risk_purge *p, const PGresult *res, int i, int col)
{
	struct risk_dead d;

	if (p->dead == NULL)
		return 0;
	memset(&d, 0, sizeof d);
	risk__pg_text(res, i, col, d.id, sizeof d.id);
	risk__pg_text(res, i, col + 1, d.reason, sizeof d.reason);
	d.attempts = risk__clamp(risk__pg_i64(res, i, col + 2), 0, INT_MAX);
	d.redrives = risk__clamp(risk__pg_i64(res, i, col + 3), 0,
	    RISK_REDRIVES_MAX);
	d.enqueued_at = risk__pg_i64(res, i, col + 4);
	d.died_at = risk__pg_i64(res, i, col + 5);
	return p->dead(&d, p->arg);
}

static const struct kind records = { batch_records, show_record };
static const struct kind dead = { batch_dead, show_dead };

/* The batch walker: delete (or pick), show, commit, a batch at a time. */
static int
walk(struct risk_db *db, const struct risk_purge *p, const struct kind *kd,
    long *n, char *err)
{
	struct cursor c = { NULL, INT64_MIN };
	PGresult *res;
	int max = p->batch, k, i, col, r, stop;
	long m;
	bool more;

	*n = 0;
	if ((r = cursor_set(&c, "", err)) != RISK_OK)
		return r;
	do {
		if (!p->dry_run && (r = risk_db_begin(db, err)) != RISK_OK)
			break;
		if ((r = kd->batch(db, p, &c, max, &res, &col, &more, err)) !=
		    RISK_OK) {
			if (!p->dry_run)
				risk_db_rollback(db);
			break;
		}
		k = risk__pg_ntuples(res);
		stop = 0;
		m = 0;
		for (i = 0; i < k && stop == 0; i++) {
			if (risk__pg_get(res, i, col) == NULL)
				continue;	/* the batch removed none */
			m++;
			stop = kd->show(p, res, i, col);
		}
		risk__pg_clear(res);
		r = risk__purge_batch_end(db, p, stop, err);
		if (r == RISK_OK || p->dry_run)
			*n += m;	/* committed, or shown */
	} while (r == RISK_OK && more);
	free(c.id);
	return r;
}

int
risk__pg_purge_records(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err)
{
	return walk(db, p, &records, n, err);
}

int
risk__pg_purge_dead(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err)
{
	return walk(db, p, &dead, n, err);
}

/* Count, or delete in statements of a batch each, what before_ms picks. */
static int
trim(struct risk_db *db, const struct risk_purge *p, const char *del_sql,
    const char *count_sql, long *n, char *err)
{
	char b1[RISK__I64LEN], b2[RISK__I64LEN];
	const char *v[2];
	PGresult *res;
	long k;
	int max = p->batch, r;

	*n = 0;
	v[0] = risk__pg_i64s(b1, p->before_ms);
	v[1] = risk__pg_i64s(b2, max);
	if (p->dry_run) {
		r = risk__pg_run(db, count_sql, 1, v, &res, NULL, err);
		if (r != RISK_OK)
			return r;
		if (risk__pg_ntuples(res) > 0)
			*n = (long)risk__pg_i64(res, 0, 0);
		risk__pg_clear(res);
		return RISK_OK;
	}
	do {
		/* one statement, one transaction of its own */
		r = risk__pg_run(db, del_sql, 2, v, NULL, &k, err);
		if (r != RISK_OK)
			return r;
		*n += k;
	} while (k >= max);
	return RISK_OK;
}

int
risk__pg_purge_log(struct risk_db *db, const struct risk_purge *p,
    long *nlog, long *nrun, char *err)
{
	int r;

	*nrun = 0;
	if ((r = trim(db, p, sql_log_del, sql_log_count, nlog, err)) !=
	    RISK_OK)
		return r;
	return trim(db, p, sql_run_del, sql_run_count, nrun, err);
}

/* The stage's tables, the busiest first. */
static const char *const vacuum_sql[] = {
	"VACUUM queue", "VACUUM record", "VACUUM history",
	"VACUUM history_total", "VACUUM fetch_log", "VACUUM drain_run",
	"VACUUM dead", "VACUUM source", "VACUUM meta"
};

int
risk__pg_vacuum(struct risk_db *db, void (*tick)(void *), void *arg,
    char *err)
{
	size_t i;
	int r;

	if (db->txn)
		return risk_seterr(err, RISK_EINVAL,
		    "cannot vacuum inside a transaction");
	for (i = 0; i < sizeof vacuum_sql / sizeof vacuum_sql[0]; i++) {
		if (tick != NULL)
			tick(arg);
		if ((r = risk__pg_run_once(db, vacuum_sql[i], 0, NULL, NULL,
		    NULL, err)) != RISK_OK)
			return r;
	}
	return RISK_OK;
}

/*
 * pg_record.c — the cache of answers and the status history on
 * PostgreSQL (record.c and history.c are the SQLite side; the contracts
 * are risk.h's).
 *
 * Invariants:
 * - One row per company; fetched_at only moves forward: the upsert
 *   changes nothing when the stored fetch is newer, so an older fetch
 *   never rolls a record back, whatever runs beside it.
 * - A put takes the RISK__PG_LOCK_HISTORY advisory lock (transaction
 *   level) before anything else, then reads the record it replaces FOR
 *   UPDATE: "did the status change" is decided against the row actually
 *   replaced, and the history row, if any, is added under the lock.
 *   seq (bigserial) is handed out only under it and it is held to the
 *   commit, so rows commit in seq order: a feed reader that saw seq N
 *   never later finds a smaller one.
 * - The lock comes before any record's row lock, not just before the
 *   history row: a transaction that stores several records (a drainer's
 *   settle, a load's batch) would otherwise hold a row another writer
 *   has locked and waits for the history lock with, and both would wait
 *   for a second each until the server found the deadlock and failed
 *   one.  Writers of records therefore take turns, from their first put
 *   to their commit, as on SQLite; readers never wait.
 * - A put is two statements: the lock and the record's row, then the
 *   upsert, with the history row and its history_total count when the
 *   status is not the one replaced.
 * - Outside a transaction a put makes its own: record and history
 *   commit together or not at all.
 * - Walks (record_each, history_each, purge) go in pages of PAGE rows,
 *   keyed by id or seq: no result holds a whole table, no snapshot is
 *   held while a callback runs, and callbacks may use the database.
 * - A short watch list (<= SHORT_WATCH) is filtered by the server on the
 *   (id, seq) index up to the newest seq when the walk began; a longer
 *   one is filtered here in the hash set, as on SQLite.
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PAGE 1000
#define PAGE_S "1000"
#define SHORT_WATCH 256

static const char sql_get[] =
    "SELECT status, changed_at, fetched_at FROM record WHERE id = $1";
/* i: the ID's place in $1, from 1 */
static const char sql_get_many[] =
    "SELECT u.i, r.status, r.changed_at, r.fetched_at"
    " FROM unnest($1::text[]) WITH ORDINALITY AS u(id, i)"
    " JOIN record r ON r.id = u.id";
/* the history lock before the row's (see the top of the file), and
 * whether or not there is a row: the EXISTS is a one-time filter,
 * evaluated before the scan */
static const char sql_get_lock[] =
    "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock($2::bigint))"
    " SELECT status, changed_at, fetched_at FROM record"
    " WHERE id = $1 AND EXISTS (SELECT 1 FROM l) FOR UPDATE";
#define UPSERT \
    "INSERT INTO record (id, status, changed_at, fetched_at)" \
    " VALUES ($1::text, $2::text, COALESCE($3::bigint, $4::bigint / 1000)," \
    "  $4::bigint)" \
    " ON CONFLICT (id) DO UPDATE SET" \
    "  changed_at = CASE" \
    "   WHEN $3::bigint IS NOT NULL THEN $3::bigint" \
    "   WHEN record.status IS NOT DISTINCT FROM excluded.status" \
    "    THEN record.changed_at" \
    "   ELSE excluded.fetched_at / 1000 END," \
    "  status = excluded.status," \
    "  fetched_at = excluded.fetched_at" \
    " WHERE excluded.fetched_at >= record.fetched_at"
/* the same status as the record replaced */
static const char sql_put[] = UPSERT;
/*
 * Another, or no record before ($5 false): the record, then its history
 * row if the status differs from the one before, $6 (the record's) or
 * the company's newest history row's, then its count.  The history lock
 * is held (sql_get_lock): rows count in seq order, and this statement's
 * snapshot, taken after the lock was granted, holds every history row
 * that an earlier writer committed.  The counts of the record and of
 * the history rows stored.
 */
static const char sql_put_hist[] =
    "WITH u AS (" UPSERT " RETURNING 1),"
    " p AS (SELECT status, seq FROM history WHERE id = $1::text"
    "  ORDER BY seq DESC LIMIT 1),"
    " b AS (SELECT CASE WHEN $5::boolean THEN $6::text ELSE p.status END"
    "  AS prev, $5::boolean OR p.seq IS NOT NULL AS known"
    "  FROM (SELECT 1) o LEFT JOIN p ON true),"
    " h AS (INSERT INTO history (id, status, previous, first, changed_at,"
    "  fetched_at) SELECT $1::text, $2::text, b.prev, NOT b.known,"
    "  $7::bigint, $4::bigint FROM u, b"
    "  WHERE NOT b.known OR b.prev IS DISTINCT FROM $2::text RETURNING 1),"
    " t AS (INSERT INTO history_total (found, status, n)"
    "  SELECT $2::text IS NOT NULL, COALESCE($2::text, ''), 1 FROM h"
    "  ON CONFLICT (found, status) DO UPDATE SET n = history_total.n + 1"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM t)";
static const char sql_lock[] = "SELECT pg_advisory_xact_lock($1::bigint)";
/*
 * Many records at once, their IDs all different, under the history lock
 * (taken by an earlier statement, so this one's snapshot holds every
 * other writer's rows): as sql_get_lock and sql_put_hist for each.  An
 * existing record is updated, a new one inserted; the history rows and
 * counts follow from what was stored.  The places (ord) of those stored,
 * and, with false, of any whose record was removed under us (a purge):
 * the caller stores those again one by one.
 */
static const char sql_put_many[] =
    "WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[],"
    "  $4::bigint[], $5::bigint[]) WITH ORDINALITY"
    "  AS t(id, status, chg, fet, hchg, ord)),"
    " o AS (SELECT r.id, r.status, r.fetched_at FROM record r"
    "  JOIN i ON r.id = i.id),"
    " up AS (UPDATE record r SET"
    "  changed_at = CASE WHEN i.chg IS NOT NULL THEN i.chg"
    "   WHEN r.status IS NOT DISTINCT FROM i.status THEN r.changed_at"
    "   ELSE i.fet / 1000 END,"
    "  status = i.status, fetched_at = i.fet"
    "  FROM i WHERE r.id = i.id AND i.fet >= r.fetched_at RETURNING r.id),"
    " ins AS (INSERT INTO record (id, status, changed_at, fetched_at)"
    "  SELECT id, status, COALESCE(chg, fet / 1000), fet FROM i"
    "  WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = i.id)"
    "  ON CONFLICT (id) DO NOTHING RETURNING id),"
    " s AS (SELECT id FROM up UNION ALL SELECT id FROM ins),"
    " c AS (SELECT i.ord, i.id, i.status, i.fet, i.hchg,"
    "  CASE WHEN o.id IS NOT NULL THEN o.status ELSE p.status END AS prev,"
    "  o.id IS NOT NULL OR p.seq IS NOT NULL AS known"
    "  FROM i JOIN s ON s.id = i.id LEFT JOIN o ON o.id = i.id"
    /* the newest history row of a company without a record, looked up
     * row by row: a join of two CTEs was a nested loop of n^2 rows */
    "  LEFT JOIN LATERAL (SELECT status, seq FROM history"
    "   WHERE history.id = i.id AND o.id IS NULL"
    "   ORDER BY seq DESC LIMIT 1) p ON true),"
    " h AS (INSERT INTO history (id, status, previous, first, changed_at,"
    "  fetched_at) SELECT id, status, prev, NOT known, hchg, fet FROM c"
    "  WHERE NOT known OR prev IS DISTINCT FROM status ORDER BY ord"
    "  RETURNING status),"
    " t AS (INSERT INTO history_total (found, status, n)"
    "  SELECT status IS NOT NULL, COALESCE(status, ''), count(*) FROM h"
    "  GROUP BY 1, 2"
    "  ON CONFLICT (found, status) DO UPDATE"
    "  SET n = history_total.n + excluded.n)"
    " SELECT i.ord, s.id IS NOT NULL FROM i LEFT JOIN s ON s.id = i.id"
    "  LEFT JOIN o ON o.id = i.id"
    "  WHERE s.id IS NOT NULL OR o.fetched_at <= i.fet";
/* the first page, then each after the last id of the one before */
static const char sql_each[] =
    "SELECT id, status, changed_at, fetched_at FROM record"
    " ORDER BY id LIMIT " PAGE_S;
static const char sql_each_after[] =
    "SELECT id, status, changed_at, fetched_at FROM record"
    " WHERE id > $1::text ORDER BY id LIMIT " PAGE_S;

static const char sql_hist_max[] = "SELECT max(seq) FROM history";
static const char sql_hist_bounds[] = "SELECT min(seq), max(seq) FROM history";
static const char sql_hist_after[] =
    "SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM history WHERE seq > $1::bigint ORDER BY seq LIMIT " PAGE_S;
static const char sql_hist_after_in[] =
    "SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM history WHERE id = ANY ($2::text[])"
    " AND seq > $1::bigint AND seq <= $3::bigint ORDER BY seq LIMIT " PAGE_S;
/* the rows of one window of seq that may go: old, and not the newest */
#define OLD_ROWS \
    " FROM history h WHERE seq > $1::bigint AND seq <= $2::bigint" \
    " AND fetched_at < $3::bigint" \
    " AND EXISTS (SELECT 1 FROM history n WHERE n.id = h.id" \
    "  AND n.seq > h.seq)"
static const char sql_hist_del[] = "DELETE" OLD_ROWS;
static const char sql_hist_count_old[] = "SELECT count(*)" OLD_ROWS;
static const char sql_hist_count[] =
    "SELECT count(*),"
    " count(*) FILTER (WHERE fetched_at >= $1::bigint),"
    " count(*) FILTER (WHERE fetched_at >= $2::bigint)"
    " FROM history";
static const char sql_hist_totals[] =
    "SELECT found, status, n FROM history_total"
    " ORDER BY found DESC, status COLLATE \"C\"";

/* Columns col.. of row as status, changed_at, fetched_at. */
static void
fill(const PGresult *res, int row, int col, struct risk_record *rec)
{
	rec->found = risk__pg_get(res, row, col) != NULL;
	risk__pg_text(res, row, col, rec->status, sizeof rec->status);
	rec->changed_at = risk__pg_i64(res, row, col + 1);
	rec->fetched_at = risk__pg_i64(res, row, col + 2);
}

int
risk__pg_record_get(struct risk_db *db, const char *id,
    struct risk_record *rec, char *err)
{
	const char *pv[1] = { id };
	PGresult *res;
	int r;

	if ((r = risk__pg_run(db, sql_get, 1, pv, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) == 0) {
		risk__pg_clear(res);
		return RISK_ENOTFOUND;
	}
	snprintf(rec->id, sizeof rec->id, "%s", id);
	fill(res, 0, 0, rec);
	risk__pg_clear(res);
	return RISK_OK;
}

/* ids as an array literal, {"A","B"} (malloc'd), or NULL. */
static char *
array_of(const char *const *ids, int n)
{
	const char *s;
	char *out, *p;
	size_t len = 3;
	int i;

	for (i = 0; i < n; i++)
		len += 2 * strlen(ids[i]) + 3;
	if ((out = p = malloc(len)) == NULL)
		return NULL;
	*p++ = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (s = ids[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

int
risk__pg_record_get_many(struct risk_db *db, const char *const *ids, int n,
    struct risk_record *recs, bool *found, char *err)
{
	const char *pv[1];
	char *arr;
	PGresult *res;
	int64_t k;
	int i, rows, r;

	for (i = 0; i < n; i++)
		found[i] = false;
	if (n == 0)
		return RISK_OK;
	if ((arr = array_of(ids, n)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	pv[0] = arr;
	r = risk__pg_run(db, sql_get_many, 1, pv, &res, NULL, err);
	free(arr);
	if (r != RISK_OK)
		return r;
	rows = risk__pg_ntuples(res);
	for (i = 0; i < rows; i++) {
		k = risk__pg_i64(res, i, 0) - 1;
		if (k < 0 || k >= n)
			continue;
		snprintf(recs[k].id, sizeof recs[k].id, "%s", ids[k]);
		fill(res, i, 1, &recs[k]);
		found[k] = true;
	}
	risk__pg_clear(res);
	return RISK_OK;
}

/* The record, and its history row when its status changed. */
static int
put(struct risk_db *db, const struct risk_record *rec, bool *stored,
    char *err)
{
	struct risk_record old;
	char key[RISK__I64LEN], chg[RISK__I64LEN], fet[RISK__I64LEN],
	    hchg[RISK__I64LEN];
	const char *pv[7];
	PGresult *res;
	long changed = 0;
	bool had, same;
	int r;

	pv[0] = rec->id;
	pv[1] = risk__pg_i64s(key, risk__pg_lock(db, RISK__PG_LOCK_HISTORY));
	if ((r = risk__pg_run(db, sql_get_lock, 2, pv, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if ((had = risk__pg_ntuples(res) > 0)) {
		snprintf(old.id, sizeof old.id, "%s", rec->id);
		fill(res, 0, 0, &old);
	}
	risk__pg_clear(res);
	if (had && old.fetched_at > rec->fetched_at) {
		*stored = false;	/* older: changes nothing */
		return RISK_OK;
	}
	same = had && old.found == rec->found &&
	    (!rec->found || strcmp(old.status, rec->status) == 0);
	pv[1] = rec->found ? rec->status : NULL;
	pv[2] = rec->found && rec->changed_at > 0 ?
	    risk__pg_i64s(chg, rec->changed_at) : NULL;
	pv[3] = risk__pg_i64s(fet, rec->fetched_at);
	if (same) {
		/* the same status: no history */
		if ((r = risk__pg_run(db, sql_put, 4, pv, NULL, &changed,
		    err)) != RISK_OK)
			return r;
		*stored = changed > 0;
		return RISK_OK;
	}
	pv[4] = had ? "t" : "f";
	pv[5] = had && old.found ? old.status : NULL;
	/* what the upsert stores as changed_at for a new status */
	pv[6] = risk__pg_i64s(hchg, rec->found && rec->changed_at > 0 ?
	    rec->changed_at : rec->fetched_at / 1000);
	if ((r = risk__pg_run(db, sql_put_hist, 7, pv, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	/* 0: a newer record was inserted beside us after our read */
	*stored = risk__pg_ntuples(res) > 0 && risk__pg_i64(res, 0, 0) > 0;
	risk__pg_clear(res);
	return RISK_OK;
}

int
risk__pg_record_put(struct risk_db *db, const struct risk_record *rec,
    bool *stored, char *err)
{
	bool own = !db->txn, done = false;
	int r;

	/* the ID was checked above the seam (store.c) */
	/* record and history commit together, or neither does */
	if (own && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	r = put(db, rec, &done, err);
	r = risk__txn_end(db, own, r, err);
	if (r == RISK_OK && stored != NULL)
		*stored = done;
	return r;
}

/* s as an element of an array literal: quoted, or NULL. */
static char *
element(char *p, const char *s)
{
	if (s == NULL) {
		memcpy(p, "NULL", 4);
		return p + 4;
	}
	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	return p;
}

/* recs[0..n), their IDs all different, in one statement. */
static int
put_chunk(struct risk_db *db, const struct risk_record *recs, int n,
    bool *stored, char *err)
{
	/* an ID, a status escaped, three numbers and their commas */
	enum { PER = 2 * (RISK_ID_MAX + 2) + 2 * ((int)sizeof recs->status +
	    2) + 3 * (RISK__I64LEN + 3) + 8 };
	const struct risk_record *rec;
	char *buf, *col[5], *p, num[RISK__I64LEN];
	const char *pv[5];
	PGresult *res;
	int64_t k;
	int c, i, rows, r = RISK_OK;
	bool *redo;

	if ((buf = malloc((size_t)(n + 1) * PER)) == NULL ||
	    (redo = calloc((size_t)n, sizeof *redo)) == NULL) {
		free(buf);
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	/* five arrays side by side in buf: ids, statuses, changed_at
	 * given, fetched_at, the history row's changed_at */
	p = buf;
	for (c = 0; c < 5; c++) {
		col[c] = p;
		*p++ = '{';
		for (i = 0; i < n; i++) {
			rec = &recs[i];
			if (i > 0)
				*p++ = ',';
			if (c == 0)
				p = element(p, rec->id);
			else if (c == 1)
				p = element(p, rec->found ? rec->status :
				    NULL);
			else if (c == 2)
				p = element(p, rec->found &&
				    rec->changed_at > 0 ? risk__pg_i64s(num,
				    rec->changed_at) : NULL);
			else if (c == 3)
				p = element(p, risk__pg_i64s(num,
				    rec->fetched_at));
			else
				p = element(p, risk__pg_i64s(num, rec->found &&
				    rec->changed_at > 0 ? rec->changed_at :
				    rec->fetched_at / 1000));
		}
		*p++ = '}';
		*p++ = '\0';
		pv[c] = col[c];
	}
	for (i = 0; i < n; i++)
		stored[i] = false;
	r = risk__pg_run(db, sql_put_many, 5, pv, &res, NULL, err);
	free(buf);
	if (r == RISK_OK) {
		rows = risk__pg_ntuples(res);
		for (i = 0; i < rows; i++) {
			k = risk__pg_i64(res, i, 0) - 1;
			if (k < 0 || k >= n)
				continue;
			stored[k] = risk__pg_bool(res, i, 1);
			redo[k] = !stored[k];
		}
		risk__pg_clear(res);
	}
	/* records removed while we stored: as a put would, one by one */
	for (i = 0; i < n && r == RISK_OK; i++)
		if (redo[i])
			r = put(db, &recs[i], &stored[i], err);
	free(redo);
	return r;
}

int
risk__pg_record_put_many(struct risk_db *db, const struct risk_record *recs,
    int n, bool *stored, char *err)
{
	struct risk_idset *seen = NULL;
	char key[RISK__I64LEN];
	const char *pv[1];
	bool own = !db->txn;
	int i, j, r;

	if (n == 0)
		return RISK_OK;
	if (own && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	pv[0] = risk__pg_i64s(key, risk__pg_lock(db, RISK__PG_LOCK_HISTORY));
	r = risk__pg_run(db, sql_lock, 1, pv, NULL, NULL, err);
	/* chunks of different IDs: a company twice goes in the next one,
	 * after its first record is stored */
	for (i = 0; r == RISK_OK && i < n; i = j) {
		risk_idset_free(seen);
		if ((r = risk_idset_new(&seen, err)) != RISK_OK)
			break;
		for (j = i; j < n && !risk_idset_has(seen, recs[j].id); j++)
			if ((r = risk_idset_add(seen, recs[j].id, err)) !=
			    RISK_OK)
				break;
		if (r == RISK_OK)
			r = put_chunk(db, recs + i, j - i, stored + i, err);
	}
	risk_idset_free(seen);
	return risk__txn_end(db, own, r, err);
}

int
risk__pg_record_each(struct risk_db *db, risk_record_fn fn, void *arg,
    char *err)
{
	struct risk_record rec;
	const char *pv[1];
	char *key = NULL;
	PGresult *res;
	int i, n, r;

	do {
		r = key == NULL ?
		    risk__pg_run(db, sql_each, 0, NULL, &res, NULL, err) :
		    risk__pg_run(db, sql_each_after, 1, pv, &res, NULL, err);
		if (r != RISK_OK)
			break;
		n = risk__pg_ntuples(res);
		for (i = 0; i < n && r == RISK_OK; i++) {
			risk__pg_text(res, i, 0, rec.id, sizeof rec.id);
			fill(res, i, 1, &rec);
			r = fn(&rec, arg);
		}
		/* the next page starts after this one's last id, as stored
		 * (rec.id may be cut) */
		free(key);
		key = n > 0 ? strdup(risk__pg_get(res, n - 1, 0)) : NULL;
		risk__pg_clear(res);
		if (r == RISK_OK && n > 0 && key == NULL)
			r = risk_seterr(err, RISK_ENOMEM, "out of memory");
		pv[0] = key;
	} while (r == RISK_OK && n == PAGE);
	free(key);
	return r;
}

int
risk__pg_history_last(struct risk_db *db, int64_t *seq, char *err)
{
	PGresult *res;
	int r;

	*seq = 0;
	if ((r = risk__pg_run(db, sql_hist_max, 0, NULL, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) > 0)
		*seq = risk__pg_i64(res, 0, 0);
	risk__pg_clear(res);
	return RISK_OK;
}

/* The watch list as an array literal ({"A","B"}), or NULL. */
static char *
watch_array(const struct risk_idset *watch)
{
	char *s;
	size_t len;

	/* ["A","B"]: IDs are validated, none needs escaping in either */
	if ((s = risk__idset_json(watch)) == NULL)
		return NULL;
	len = strlen(s);
	s[0] = '{';
	s[len - 1] = '}';
	return s;
}

int
risk__pg_history_each(struct risk_db *db, const struct risk_idset *watch,
    int64_t *seq, risk_change_fn fn, void *arg, char *err)
{
	struct risk_change c;
	char from[RISK__I64LEN], top[RISK__I64LEN], *ids = NULL;
	const char *pv[3];
	PGresult *res;
	int64_t upto = 0;
	int i, n, r;

	if (watch != NULL && risk_idset_count(watch) <= SHORT_WATCH) {
		if ((r = risk__pg_history_last(db, &upto, err)) != RISK_OK)
			return r;
		if (upto <= *seq)
			return RISK_OK;
		if ((ids = watch_array(watch)) == NULL)
			return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	do {
		pv[0] = risk__pg_i64s(from, *seq);
		pv[1] = ids;
		pv[2] = risk__pg_i64s(top, upto);
		if (ids != NULL)
			r = risk__pg_run(db, sql_hist_after_in, 3, pv, &res,
			    NULL, err);
		else
			r = risk__pg_run(db, sql_hist_after, 1, pv, &res,
			    NULL, err);
		if (r != RISK_OK)
			break;
		n = risk__pg_ntuples(res);
		for (i = 0; i < n && r == RISK_OK; i++) {
			*seq = risk__pg_i64(res, i, 0);
			c.id = risk__pg_get(res, i, 1);
			if (c.id == NULL || (watch != NULL &&
			    !risk_idset_has(watch, c.id)))
				continue;
			c.seq = *seq;
			c.status = risk__pg_get(res, i, 2);
			c.previous = risk__pg_get(res, i, 3);
			c.first = risk__pg_bool(res, i, 4);
			c.changed_at = risk__pg_i64(res, i, 5);
			c.fetched_at = risk__pg_i64(res, i, 6);
			r = fn(&c, arg);
		}
		risk__pg_clear(res);
	} while (r == RISK_OK && n == PAGE);
	if (r == RISK_OK && ids != NULL)
		*seq = upto;	/* every watched row up to it was read */
	free(ids);
	return r;
}

int
risk__pg_purge_history(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err)
{
	char lo[RISK__I64LEN], hi[RISK__I64LEN], before[RISK__I64LEN];
	const char *pv[3] = { lo, hi, before };
	PGresult *res;
	int64_t last, top, step = p->batch;
	long changed;
	int r;

	*n = 0;
	if ((r = risk__pg_run(db, sql_hist_bounds, 0, NULL, &res, NULL,
	    err)) != RISK_OK)
		return r;
	last = risk__pg_i64(res, 0, 0) - 1;	/* before the oldest row */
	top = risk__pg_i64(res, 0, 1);
	risk__pg_clear(res);
	risk__pg_i64s(before, p->before_ms);
	/* a window of seq numbers per statement, each its own transaction
	 * (outside the caller's): at most a batch of rows at a time */
	for (; last < top; last += step) {
		risk__pg_i64s(lo, last);
		risk__pg_i64s(hi, last + step);
		if (p->dry_run) {
			if ((r = risk__pg_run(db, sql_hist_count_old, 3, pv,
			    &res, NULL, err)) != RISK_OK)
				return r;
			*n += (long)risk__pg_i64(res, 0, 0);
			risk__pg_clear(res);
		} else {
			if ((r = risk__pg_run(db, sql_hist_del, 3, pv, NULL,
			    &changed, err)) != RISK_OK)
				return r;
			*n += changed;
		}
	}
	return RISK_OK;
}

int
risk__pg_history_stat(struct risk_db *db, int64_t now_ms,
    struct risk_history_stat *hs, char *err)
{
	char hour[RISK__I64LEN], day[RISK__I64LEN];
	const char *pv[2] = { hour, day };
	PGresult *res;
	int i, n, r;

	memset(hs, 0, sizeof *hs);
	risk__pg_i64s(hour, now_ms - INT64_C(3600) * 1000);
	risk__pg_i64s(day, now_ms - INT64_C(86400) * 1000);
	if ((r = risk__pg_run(db, sql_hist_count, 2, pv, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) > 0) {
		hs->rows = (long)risk__pg_i64(res, 0, 0);
		hs->last_hour = (long)risk__pg_i64(res, 0, 1);
		hs->last_day = (long)risk__pg_i64(res, 0, 2);
	}
	risk__pg_clear(res);
	if ((r = risk__pg_run(db, sql_hist_totals, 0, NULL, &res, NULL,
	    err)) != RISK_OK)
		return r;
	n = risk__pg_ntuples(res);
	for (i = 0; i < n && i < RISK_HISTORY_STATUSES; i++) {
		hs->total[i].found = risk__pg_bool(res, i, 0);
		risk__pg_text(res, i, 1, hs->total[i].status,
		    sizeof hs->total[i].status);
		hs->total[i].n = risk__pg_i64(res, i, 2);
	}
	hs->nstatus = i;
	hs->more = n > RISK_HISTORY_STATUSES;
	risk__pg_clear(res);
	return RISK_OK;
}

/*
 * history.c — the status history: one row per change of a company's
 * stored status, and the change feed read back from it.
 *
 * Invariants:
 * - A row is appended only by risk__history_note(), which record.c calls
 *   in the same write transaction that stored the record.  The newest
 *   row of a company therefore always carries the status of its record
 *   (or of its last record, once purged): a crash commits both or
 *   neither.  So a put compares with the record it replaces (read
 *   anyway, on the pages the store writes), and only a company without
 *   a record is looked up here: one whose record was purged does not
 *   change by being refetched.
 * - seq is AUTOINCREMENT: it only grows and is never handed out twice,
 *   even after the newest rows were deleted, so a cursor stays valid.
 * - Retention never deletes the newest row of a company, and walks the
 *   table by seq, a window of at most a batch of rows per statement, so
 *   that drainers never wait long for the write lock.
 * - Readers page through the feed by seq, PAGE rows per statement: no
 *   read snapshot is held while a slow consumer reads the output, so a
 *   follower never keeps the WAL from being checkpointed.
 * - history_total counts every change ever made, by status, in the same
 *   transaction: Prometheus counters that a purge does not lower.  In a
 *   risk_db_begin() transaction the counts are added up in memory and
 *   written by risk_db_commit() just before its COMMIT (a rollback drops
 *   them with the rows they count).
 * - So are the rows themselves: kept in order (RISK__HROWS at most, then
 *   inserted) and inserted by risk_db_commit() in as few statements as
 *   it takes, before the COMMIT.  Nothing reads a company's rows in the
 *   transaction that appends them: a put compares with the record, and
 *   a company with a row noted here has a record by then.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sqlite.h"

#define PAGE 4096
#define BATCH_DEFAULT 1000

static const char sql_last[] =
    "SELECT status FROM main.history WHERE id = ?1"
    " ORDER BY seq DESC LIMIT 1";
/* 1, 2, 4 or 8 rows per statement: AUTOINCREMENT reads and writes
 * sqlite_sequence once per statement, not per row */
#define SQL_ADD \
    "INSERT INTO main.history (id, status, previous, first, changed_at," \
    " fetched_at) VALUES (?, ?, ?, ?, ?, ?)"
#define ROW ", (?, ?, ?, ?, ?, ?)"
static const char sql_add[] = SQL_ADD;
static const char sql_add2[] = SQL_ADD ROW;
static const char sql_add4[] = SQL_ADD ROW ROW ROW;
static const char sql_add8[] = SQL_ADD ROW ROW ROW ROW ROW ROW ROW;
#define NCOL 6
static const char sql_total[] =
    "INSERT INTO main.history_total (found, status, n) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (found, status) DO UPDATE SET n = n + excluded.n";
static const char sql_after[] =
    "SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM main.history WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/* a short watch list: each company's rows by the index, then sorted */
static const char sql_after_in[] =
    "SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM main.history INDEXED BY history_id"
    " WHERE id IN (SELECT value FROM json_each(?3))"
    " AND seq > ?1 AND seq <= ?4 ORDER BY seq LIMIT ?2";
static const char sql_max[] = "SELECT max(seq) FROM main.history";
/* the rows of one window of seq that may go: old, and not the newest */
#define OLD_ROWS \
    " FROM main.history h WHERE seq > ?1 AND seq <= ?2 AND fetched_at < ?3" \
    " AND EXISTS (SELECT 1 FROM main.history n WHERE n.id = h.id" \
    "  AND n.seq > h.seq)"
static const char sql_del[] =
    "DELETE FROM main.history WHERE seq IN (SELECT seq" OLD_ROWS ")";
static const char sql_count_old[] = "SELECT count(*)" OLD_ROWS;
static const char sql_count[] =
    "SELECT count(*),"
    " (SELECT count(*) FROM main.history WHERE fetched_at >= ?1),"
    " (SELECT count(*) FROM main.history WHERE fetched_at >= ?2)"
    " FROM main.history";
static const char sql_totals[] =
    "SELECT found, status, n FROM main.history_total"
    " ORDER BY found DESC, status";

/* The history is new in schema 2: a reader of an older file has none. */
static int
have(struct risk_db *db, char *err)
{
	if (db->version >= 2)
		return RISK_OK;
	return risk_seterr(err, RISK_EDB, "%s: no status history yet "
	    "(schema %d): open it once with a program that writes, such as "
	    "risk-purge", db->path, db->version);
}

static int count(struct risk_db *db, bool found, const char *status,
    char *err);
static int insert(struct risk_db *db, char *err);

int
risk__history_note(struct risk_db *db, const struct risk_record *rec,
    const struct risk_record *old, char *err)
{
	struct risk__hrow *h;
	sqlite3_stmt *st;
	char prev[sizeof rec->status];
	bool first = false, prev_found;
	int rc;

#ifdef RISK_NO_HISTORY
	/* bench/changes.sh builds this to measure what the history costs */
	(void)h; (void)st; (void)prev; (void)first; (void)prev_found; (void)rc;
	(void)db; (void)rec; (void)old; (void)err;
	return RISK_OK;
#endif
	if (old != NULL) {
		/* the record's status is its newest row's (the invariant) */
		prev_found = old->found;
		snprintf(prev, sizeof prev, "%s", old->found ? old->status :
		    "");
	} else {
		if ((st = risk__stmt(db, S_HIST_LAST, sql_last, err)) == NULL)
			return RISK_EDB;
		sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		first = rc == SQLITE_DONE;
		prev_found = rc == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL;
		prev[0] = '\0';
		if (prev_found)
			risk__column_text(st, 0, prev, sizeof prev);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, db->path);
	}
	if (!first && prev_found == rec->found &&
	    (!rec->found || strcmp(prev, rec->status) == 0))
		return RISK_OK;		/* no change */

	if (db->nhrow == RISK__HROWS && (rc = insert(db, err)) != RISK_OK)
		return rc;
	h = &db->hrow[db->nhrow++];
	snprintf(h->id, sizeof h->id, "%s", rec->id);
	snprintf(h->status, sizeof h->status, "%s", rec->found ?
	    rec->status : "");
	snprintf(h->prev, sizeof h->prev, "%s", prev);
	h->found = rec->found;
	h->prev_found = prev_found;
	h->first = first;
	/* what record.c stores as changed_at for a new status */
	h->changed_at = rec->found && rec->changed_at > 0 ? rec->changed_at :
	    rec->fetched_at / 1000;
	h->fetched_at = rec->fetched_at;
	if (!db->txn && (rc = insert(db, err)) != RISK_OK)
		return rc;
	return count(db, rec->found, rec->found ? rec->status : "", err);
}

/* Insert the rows noted so far, in their order. */
static int
insert(struct risk_db *db, char *err)
{
	static const struct { enum risk_stmt s; const char *sql; int n; }
	    by[] = { { S_HIST_ADD8, sql_add8, 8 }, { S_HIST_ADD4, sql_add4, 4 },
	    { S_HIST_ADD2, sql_add2, 2 }, { S_HIST_ADD, sql_add, 1 } };
	const struct risk__hrow *h;
	sqlite3_stmt *st;
	int i, j, k, rc, n = db->nhrow;

	db->nhrow = 0;		/* inserted, or the transaction fails */
	for (i = 0; i < n; i += by[j].n) {
		for (j = 0; by[j].n > n - i; j++)
			;
		if ((st = risk__stmt(db, by[j].s, by[j].sql, err)) == NULL)
			return RISK_EDB;
		for (k = 0; k < by[j].n; k++) {
			h = &db->hrow[i + k];
			sqlite3_bind_text(st, k * NCOL + 1, h->id, -1,
			    SQLITE_STATIC);
			if (h->found)
				sqlite3_bind_text(st, k * NCOL + 2, h->status,
				    -1, SQLITE_STATIC);
			if (h->prev_found)
				sqlite3_bind_text(st, k * NCOL + 3, h->prev,
				    -1, SQLITE_STATIC);
			sqlite3_bind_int(st, k * NCOL + 4, h->first);
			sqlite3_bind_int64(st, k * NCOL + 5, h->changed_at);
			sqlite3_bind_int64(st, k * NCOL + 6, h->fetched_at);
		}
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, db->path);
	}
	return RISK_OK;
}

/* Add n changes to status (found) in history_total. */
static int
total(struct risk_db *db, bool found, const char *status, int64_t n,
    char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_HIST_TOTAL, sql_total, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int(st, 1, found);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

/*
 * One change more for status.  In a risk_db_begin() transaction it is
 * added up in db->tot and written by risk_db_commit(), one statement per
 * status instead of one per change (a drainer's transaction settles
 * several answers, mostly of one status); otherwise at once.
 */
static int
count(struct risk_db *db, bool found, const char *status, char *err)
{
	struct risk__total *t;
	int i, r;

	if (!db->txn)
		return total(db, found, status, 1, err);
	for (i = 0; i < db->ntot; i++) {
		t = &db->tot[i];
		if (t->found == found && strcmp(t->status, status) == 0) {
			t->n++;
			return RISK_OK;
		}
	}
	if (db->ntot == RISK__TOTALS && (r = risk__history_flush(db, err)) !=
	    RISK_OK)
		return r;
	t = &db->tot[db->ntot++];
	t->found = found;
	snprintf(t->status, sizeof t->status, "%s", status);
	t->n = 1;
	return RISK_OK;
}

int
risk__history_flush(struct risk_db *db, char *err)
{
	int i, r;

	if ((r = insert(db, err)) != RISK_OK)
		return r;	/* the caller rolls back */
	for (i = 0; i < db->ntot; i++)
		if ((r = total(db, db->tot[i].found, db->tot[i].status,
		    db->tot[i].n, err)) != RISK_OK)
			return r;	/* the caller rolls back */
	db->ntot = 0;
	return RISK_OK;
}

int
risk__sq_history_last(struct risk_db *db, int64_t *seq, char *err)
{
	sqlite3_stmt *st;
	int rc, r;

	*seq = 0;
	if ((r = have(db, err)) != RISK_OK)
		return r;
	if ((st = risk__stmt(db, S_HIST_MAX, sql_max, err)) == NULL)
		return RISK_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

/*
 * A watch list of at most SHORT_WATCH companies is read through the index
 * on (id, seq), rows up to the newest seq when it began: a company's
 * story is a few index seeks, not a scan of the whole history.  The
 * cursor still moves to that newest seq.  Longer lists scan by seq and
 * filter in the hash set.
 */
#define SHORT_WATCH 256

int
risk__sq_history_each(struct risk_db *db, const struct risk_idset *watch,
    int64_t *seq, risk_change_fn fn, void *arg, char *err)
{
	struct risk_change c;
	sqlite3_stmt *st;
	char *ids = NULL;
	int64_t upto = 0;
	int rc, r, n;

	if ((r = have(db, err)) != RISK_OK)
		return r;
	if (watch != NULL && risk_idset_count(watch) <= SHORT_WATCH) {
		if ((r = risk__sq_history_last(db, &upto, err)) != RISK_OK)
			return r;
		if (upto <= *seq)
			return RISK_OK;
		if ((ids = risk__idset_json(watch)) == NULL)
			return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	do {
		if (ids != NULL)
			st = risk__stmt(db, S_HIST_AFTER_IN, sql_after_in,
			    err);
		else
			st = risk__stmt(db, S_HIST_AFTER, sql_after, err);
		if (st == NULL) {
			free(ids);
			return RISK_EDB;
		}
		sqlite3_bind_int64(st, 1, *seq);
		sqlite3_bind_int(st, 2, PAGE);
		if (ids != NULL) {
			sqlite3_bind_text(st, 3, ids, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, upto);
		}
		n = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			n++;
			*seq = sqlite3_column_int64(st, 0);
			c.id = (const char *)sqlite3_column_text(st, 1);
			if (c.id == NULL || (watch != NULL &&
			    !risk_idset_has(watch, c.id)))
				continue;
			c.seq = *seq;
			c.status = (const char *)sqlite3_column_text(st, 2);
			c.previous = (const char *)sqlite3_column_text(st, 3);
			c.first = sqlite3_column_int(st, 4) != 0;
			c.changed_at = sqlite3_column_int64(st, 5);
			c.fetched_at = sqlite3_column_int64(st, 6);
			if ((r = fn(&c, arg)) != 0) {
				sqlite3_reset(st);
				free(ids);
				return r;
			}
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			free(ids);
			return risk__dberr(db, rc, err, db->path);
		}
	} while (n == PAGE);
	if (ids != NULL)
		*seq = upto;	/* every watched row up to it was read */
	free(ids);
	return RISK_OK;
}

int
risk__sq_purge_history(struct risk_db *db, const struct risk_purge *p, long *n,
    char *err)
{
	sqlite3_stmt *st;
	int64_t last, top, step = p->batch > 0 ? p->batch : BATCH_DEFAULT;
	int rc, r;

	*n = 0;
	if ((r = have(db, err)) != RISK_OK ||
	    (r = risk__sq_history_last(db, &top, err)) != RISK_OK)
		return r;
	/* a window of seq numbers per statement, one implicit transaction
	 * each: at most a batch of rows deleted while the lock is held */
	for (last = 0; last < top; last += step) {
		st = p->dry_run ?
		    risk__stmt(db, S_HIST_COUNT_OLD, sql_count_old, err) :
		    risk__stmt(db, S_HIST_DEL, sql_del, err);
		if (st == NULL)
			return RISK_EDB;
		sqlite3_bind_int64(st, 1, last);
		sqlite3_bind_int64(st, 2, last + step);
		sqlite3_bind_int64(st, 3, p->before_ms);
		rc = sqlite3_step(st);
		if (p->dry_run && rc == SQLITE_ROW)
			*n += (long)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != (p->dry_run ? SQLITE_ROW : SQLITE_DONE))
			return risk__dberr(db, rc, err, db->path);
		if (!p->dry_run)
			*n += sqlite3_changes(db->h);
	}
	return RISK_OK;
}

int
risk__sq_history_stat(struct risk_db *db, int64_t now_ms,
    struct risk_history_stat *hs, char *err)
{
	sqlite3_stmt *st;
	int rc, i;

	memset(hs, 0, sizeof *hs);
	if (db->version < 2)
		return RISK_OK;		/* no history yet: all zero */
	if ((st = risk__stmt(db, S_HIST_COUNT, sql_count, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, now_ms - INT64_C(3600) * 1000);
	sqlite3_bind_int64(st, 2, now_ms - INT64_C(86400) * 1000);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		hs->rows = (long)sqlite3_column_int64(st, 0);
		hs->last_hour = (long)sqlite3_column_int64(st, 1);
		hs->last_day = (long)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return risk__dberr(db, rc, err, db->path);
	if ((st = risk__stmt(db, S_HIST_TOTALS, sql_totals, err)) == NULL)
		return RISK_EDB;
	for (i = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; ) {
		if (i == RISK_HISTORY_STATUSES) {
			hs->more = true;
			continue;
		}
		hs->total[i].found = sqlite3_column_int(st, 0) != 0;
		risk__column_text(st, 1, hs->total[i].status,
		    sizeof hs->total[i].status);
		hs->total[i].n = sqlite3_column_int64(st, 2);
		i++;
	}
	hs->nstatus = i;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

/*
 * purge.c — retention: old records, old dead letters, old log rows.
 *
 * Invariants:
 * - Work is cut into transactions of at most p->batch rows, and a record
 *   batch scans at most SCAN_FACTOR times that many rows, so the write
 *   lock is held for milliseconds whatever the size of the purge and
 *   readers (WAL) never wait at all.  Batches walk the tables by key
 *   (records by id, dead letters by (died_at, id)), so a purge reads each
 *   row once, never rescans what it kept.
 * - A row is deleted only if it is still older than the cutoff inside the
 *   batch's transaction: a record refreshed meanwhile stays.
 * - The caller sees each removed row before its batch commits, and a
 *   non-zero answer from a callback or from flush() rolls the batch back:
 *   an ID printed for `risk-purge --print | risk-enqueue` is never lost
 *   between the database and a closed pipe.
 * - A dry run writes nothing and takes no write lock.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sqlite.h"

#define SCAN_FACTOR 16

static const char sql_rec_scan[] =
    "SELECT id, status, changed_at, fetched_at FROM main.record"
    " WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char sql_rec_del[] =
    "DELETE FROM main.record WHERE id = ?1 AND fetched_at < ?2";
static const char sql_dead_scan[] =
    "SELECT id, reason, attempts, redrives, enqueued_at, died_at"
    " FROM main.dead WHERE died_at < ?1 AND (died_at, id) > (?2, ?3)"
    " ORDER BY died_at, id LIMIT ?4";
static const char sql_dead_del[] =
    "DELETE FROM main.dead WHERE id = ?1 AND died_at < ?2";
static const char sql_log_del[] =
    "DELETE FROM main.fetch_log WHERE rowid IN (SELECT rowid"
    " FROM main.fetch_log WHERE at < ?1 ORDER BY at LIMIT ?2)";
static const char sql_log_count[] =
    "SELECT count(*) FROM main.fetch_log WHERE at < ?1";
static const char sql_run_del[] =
    "DELETE FROM main.drain_run WHERE rowid IN (SELECT rowid"
    " FROM main.drain_run WHERE ended_at < ?1 LIMIT ?2)";
static const char sql_run_count[] =
    "SELECT count(*) FROM main.drain_run WHERE ended_at < ?1";

/* Delete one row by (id, cutoff); *gone says whether it went. */
static int
del(struct risk_db *db, enum risk_stmt s, const char *sql, const char *id,
    int64_t before, bool *gone, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, s, sql, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);
	*gone = sqlite3_changes(db->h) > 0;
	return RISK_OK;
}

/* Where a walk stands: records go by id, dead letters by (died_at, id). */
struct cursor {
	char id[RISK_ID_MAX + 1];
	int64_t died;
};

/* What the walker needs to know of one kind of row. */
struct kind {
	size_t size;		/* of a row */
	/* The next rows older than the cutoff after c, at most max, into
	 * rows; *more when the table may hold more after them. */
	int (*scan)(struct risk_db *db, const struct risk_purge *p,
	    struct cursor *c, void *rows, int max, int *k, bool *more,
	    char *err);
	const char *(*id)(const void *row);
	enum risk_stmt sdel;
	const char *del_sql;
	/* The caller's callback for a removed row; 0 goes on. */
	int (*show)(const struct risk_purge *p, const void *row);
};

static int
scan_records(struct risk_db *db, const struct risk_purge *p,
    struct cursor *c, void *v, int max, int *k, bool *more, char *err)
{
	struct risk_record *rows = v;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, scanned = 0;

	if ((st = risk__stmt(db, S_PURGE_REC_SCAN, sql_rec_scan, err)) ==
	    NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)max * SCAN_FACTOR);
	*k = 0;
	while (*k < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		scanned++;
		risk__column_text(st, 0, c->id, sizeof c->id);
		if (sqlite3_column_int64(st, 3) >= p->before_ms)
			continue;
		snprintf(rows[*k].id, sizeof rows[*k].id, "%s", c->id);
		rows[*k].found = sqlite3_column_type(st, 1) != SQLITE_NULL;
		risk__column_text(st, 1, rows[*k].status,
		    sizeof rows[*k].status);
		rows[*k].changed_at = sqlite3_column_int64(st, 2);
		rows[*k].fetched_at = sqlite3_column_int64(st, 3);
		(*k)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && *k < max)
		return risk__dberr(db, rc, err, db->path);
	/* a full batch, or a full scan of kept rows: more to see */
	*more = *k == max || scanned >= max * SCAN_FACTOR;
	return RISK_OK;
}

static int
scan_dead(struct risk_db *db, const struct risk_purge *p, struct cursor *c,
    void *v, int max, int *k, bool *more, char *err)
{
	struct risk_dead *rows = v;
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_PURGE_DEAD_SCAN, sql_dead_scan, err)) ==
	    NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, p->before_ms);
	sqlite3_bind_int64(st, 2, c->died);
	sqlite3_bind_text(st, 3, c->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, max);
	*k = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		risk__dead_fill(st, &rows[(*k)++]);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);
	if (*k > 0) {
		snprintf(c->id, sizeof c->id, "%s", rows[*k - 1].id);
		c->died = rows[*k - 1].died_at;
	}
	*more = *k == max;
	return RISK_OK;
}

static const char *
record_id(const void *row)
{
	return ((const struct risk_record *)row)->id;
}

static const char *
dead_id(const void *row)
{
	return ((const struct risk_dead *)row)->id;
}

static int
show_record(const struct risk_purge *p, const void *row)
{
	return p->record != NULL ? p->record(row, p->arg) : 0;
}

static int
show_dead(const struct risk_purge *p, const void *row)
{
	return p->dead != NULL ? p->dead(row, p->arg) : 0;
}

static const struct kind records = {
	sizeof(struct risk_record), scan_records, record_id,
	S_PURGE_REC_DEL, sql_rec_del, show_record
};
static const struct kind dead = {
	sizeof(struct risk_dead), scan_dead, dead_id,
	S_PURGE_DEAD_DEL, sql_dead_del, show_dead
};

/* The batch walker: scan, delete, show, commit, one batch at a time. */
static int
walk(struct risk_db *db, const struct risk_purge *p, const struct kind *kd,
    long *n, char *err)
{
	struct cursor c = { .id = "", .died = INT64_MIN };
	char *rows;
	const void *row;
	int max = p->batch, k, i, r = RISK_OK, stop;
	long m;
	bool gone, more;

	*n = 0;
	if ((rows = calloc((size_t)max, kd->size)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	do {
		if (!p->dry_run && (r = risk__sq_db_begin(db, err)) != RISK_OK)
			break;
		if ((r = kd->scan(db, p, &c, rows, max, &k, &more, err)) !=
		    RISK_OK)
			goto fail;
		stop = 0;
		m = 0;
		for (i = 0; i < k && stop == 0; i++) {
			row = rows + (size_t)i * kd->size;
			gone = true;
			if (!p->dry_run && (r = del(db, kd->sdel, kd->del_sql,
			    kd->id(row), p->before_ms, &gone, err)) != RISK_OK)
				goto fail;
			if (!gone)
				continue;
			m++;
			stop = kd->show(p, row);
		}
		r = risk__purge_batch_end(db, p, stop, err);
		if (r == RISK_OK || p->dry_run)
			*n += m;	/* committed, or shown */
	} while (r == RISK_OK && more);
	free(rows);
	return r;
fail:
	if (!p->dry_run)
		risk__sq_db_rollback(db);
	free(rows);
	return r;
}

int
risk__sq_purge_records(struct risk_db *db, const struct risk_purge *p, long *n,
    char *err)
{
	return walk(db, p, &records, n, err);
}

int
risk__sq_purge_dead(struct risk_db *db, const struct risk_purge *p, long *n,
    char *err)
{
	return walk(db, p, &dead, n, err);
}

/* Count, or delete in batches, the rows one pair of statements picks. */
static int
trim(struct risk_db *db, const struct risk_purge *p, enum risk_stmt sdel,
    const char *del_sql, enum risk_stmt scount, const char *count_sql,
    long *n, char *err)
{
	sqlite3_stmt *st;
	int max = p->batch, rc, k;

	*n = 0;
	if (p->dry_run) {
		if ((st = risk__stmt(db, scount, count_sql, err)) == NULL)
			return RISK_EDB;
		sqlite3_bind_int64(st, 1, p->before_ms);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*n = (long)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return rc == SQLITE_ROW ? RISK_OK :
		    risk__dberr(db, rc, err, db->path);
	}
	do {
		/* one statement, one implicit transaction */
		if ((st = risk__stmt(db, sdel, del_sql, err)) == NULL)
			return RISK_EDB;
		sqlite3_bind_int64(st, 1, p->before_ms);
		sqlite3_bind_int(st, 2, max);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, db->path);
		k = sqlite3_changes(db->h);
		*n += k;
	} while (k >= max);
	return RISK_OK;
}

int
risk__sq_purge_log(struct risk_db *db, const struct risk_purge *p, long *nlog,
    long *nrun, char *err)
{
	int r;

	*nrun = 0;
	if ((r = trim(db, p, S_PURGE_LOG_DEL, sql_log_del, S_PURGE_LOG_COUNT,
	    sql_log_count, nlog, err)) != RISK_OK)
		return r;
	return trim(db, p, S_PURGE_RUN_DEL, sql_run_del, S_PURGE_RUN_COUNT,
	    sql_run_count, nrun, err);
}

struct vacuum_tick {
	void (*tick)(void *);
	void *arg;
};

static int
vacuum_tick(void *arg)
{
	struct vacuum_tick *t = arg;

	t->tick(t->arg);
	return 0;
}

int
risk__sq_vacuum(struct risk_db *db, void (*tick)(void *), void *arg,
    char *err)
{
	struct vacuum_tick t = { tick, arg };
	int rc;

	if (db->txn)
		return risk_seterr(err, RISK_EINVAL,
		    "cannot vacuum inside a transaction");
	if (tick != NULL)
		sqlite3_progress_handler(db->h, 100000, vacuum_tick, &t);
	rc = sqlite3_exec(db->h, "VACUUM main", NULL, NULL, NULL);
	sqlite3_progress_handler(db->h, 0, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->h, "PRAGMA main.wal_checkpoint(TRUNCATE)",
		    NULL, NULL, NULL);
	return rc == SQLITE_OK ? RISK_OK : risk__dberr(db, rc, err, db->path);
}

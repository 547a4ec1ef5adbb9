/*
 * history.c — the status history: one row per change of a company's
 * stored status, and the change feed read back from it.
 *
 * Invariants:
 * - A row is appended only by risk__history_note(), which record.c calls
 *   in the same write transaction that stores the record.  The newest
 *   row of a company therefore always carries the status of its record
 *   (or of its last record, once purged): a crash commits both or
 *   neither.  So a put compares with the record it replaces (read
 *   anyway, on the pages the store writes), and only a company without
 *   a record is looked up, in history_orphan: one whose record was
 *   purged does not change by being refetched.
 * - A company's rows are a chain (db.c): record.hseq, or history_orphan
 *   once the record is gone, names its newest row, and each row's
 *   prev_seq the one before.  Every walk checks whole values: a link
 *   leads to a smaller seq of the same company, or the walk ends.
 * - seq is handed out here, the largest + 1, read in a write transaction
 *   (the lock is held): it only grows and is never handed out twice,
 *   since the newest row is never deleted (db.c), so a cursor stays
 *   valid.  What was read (db->hnext, db->orphans) is kept from one
 *   transaction to the next while the file's data version says that
 *   nothing but this connection's commits changed it.
 * - Retention never deletes the newest row of a company (the head of its
 *   chain), and walks the table by seq, a window of at most a batch of
 *   rows per statement, so that drainers never wait long for the write
 *   lock.  Rows it deletes are the oldest of their chains: a company's
 *   rows are appended with fetched_at that never goes back.
 * - Readers page through the feed by seq, PAGE rows per statement: no
 *   read snapshot is held while a slow consumer reads the output, so a
 *   follower never keeps the WAL from being checkpointed.
 * - Changes ever made, by status (Prometheus counters that a purge does
 *   not lower), are history_total's counts of the rows up to
 *   history_mark.counted plus the rows after it, counted when read.  A
 *   writer folds those in (fold()) once FOLD_EVERY have gathered, in
 *   the transaction that appended the last of them, and a trigger counts
 *   one deleted before (db.c): a commit writes no counter page.
 * - The rows of a risk_db_begin() transaction are kept in order
 *   (RISK__HROWS at most, then inserted) and inserted by risk_db_commit()
 *   in as few statements as it takes, before the COMMIT.  Nothing reads
 *   a company's rows in the transaction that appends them: a put
 *   compares with the record, and a company with a row noted here has a
 *   record by then.  A record deleted in the same transaction can only
 *   be deleted by risk_db_exec(), which puts the rows noted so far in
 *   first and has the next put read db->hnext and db->orphans again.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sqlite.h"

#define PAGE 4096
#define FOLD_EVERY 4096		/* rows history_total may lag behind */

/* once per transaction: the largest seq, and whether any company with
 * rows has no record */
static const char sql_state[] =
    "SELECT (SELECT COALESCE(max(seq), 0) FROM main.history),"
    " EXISTS (SELECT 1 FROM main.history_orphan)";
/* a company without a record: its newest row, if it has rows */
static const char sql_orphan[] =
    "SELECT h.seq, h.status FROM main.history_orphan o"
    " JOIN main.history h ON h.seq = o.seq"
    " WHERE o.id = ?1 AND h.id = ?1";
static const char sql_unorphan[] =
    "DELETE FROM main.history_orphan WHERE id = ?1";
/* 1, 2, 4 or 8 rows per statement: a statement's run costs more than a
 * row's */
#define SQL_ADD \
    "INSERT INTO main.history (seq, id, status, previous, first," \
    " changed_at, fetched_at, prev_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
#define ROW ", (?, ?, ?, ?, ?, ?, ?, ?)"
static const char sql_add[] = SQL_ADD;
static const char sql_add2[] = SQL_ADD ROW;
static const char sql_add4[] = SQL_ADD ROW ROW ROW;
static const char sql_add8[] = SQL_ADD ROW ROW ROW ROW ROW ROW ROW;
#define NCOL 8
/* no row reads as all counted */
static const char sql_mark[] = "SELECT counted FROM main.history_mark";
/* the rows after ?1 up to ?2 into history_total, then counted = ?2 */
static const char sql_fold[] =
    "INSERT INTO main.history_total (found, status, n)"
    " SELECT status IS NOT NULL, COALESCE(status, ''), count(*)"
    " FROM main.history WHERE seq > ?1 AND seq <= ?2 GROUP BY 1, 2"
    " ON CONFLICT (found, status) DO UPDATE SET n = n + excluded.n";
static const char sql_counted[] =
    "INSERT OR REPLACE INTO main.history_mark (id, counted) VALUES (1, ?1)";
static const char sql_after[] =
    "SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM main.history WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/*
 * A short watch list: each company's chain from its head down to ?1,
 * each link checked (a smaller seq, the same company), then the rows up
 * to ?4 in order.
 */
static const char sql_after_in[] =
    "WITH RECURSIVE w(id) AS (SELECT value FROM json_each(?3)),"
    " chain(seq, id, prev) AS ("
    "  SELECT h.seq, h.id, h.prev_seq FROM w JOIN main.history h"
    "   ON h.seq = COALESCE((SELECT hseq FROM main.record r"
    "   WHERE r.id = w.id), (SELECT seq FROM main.history_orphan o"
    "   WHERE o.id = w.id)) AND h.id = w.id"
    "  UNION ALL"
    "  SELECT h.seq, h.id, h.prev_seq FROM chain c JOIN main.history h"
    "   ON h.seq = c.prev AND h.seq < c.seq AND h.id = c.id"
    "   WHERE c.seq > ?1)"
    " SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM main.history WHERE seq IN (SELECT seq FROM chain"
    " WHERE seq > ?1 AND seq <= ?4) ORDER BY seq LIMIT ?2";
/* the same in schema 2 and 3, by their index on the company */
static const char sql_after_in3[] =
    "SELECT seq, id, status, previous, first, changed_at, fetched_at"
    " FROM main.history INDEXED BY history_id"
    " WHERE id IN (SELECT value FROM json_each(?3))"
    " AND seq > ?1 AND seq <= ?4 ORDER BY seq LIMIT ?2";
static const char sql_max[] = "SELECT max(seq) FROM main.history";
/* the rows of one window of seq that may go: old, and not the head of
 * their company's chain */
#define OLD_ROWS \
    " FROM main.history h WHERE seq > ?1 AND seq <= ?2 AND fetched_at < ?3" \
    " AND NOT EXISTS (SELECT 1 FROM main.record r WHERE r.id = h.id" \
    "  AND r.hseq = h.seq)" \
    " AND NOT EXISTS (SELECT 1 FROM main.history_orphan o" \
    "  WHERE o.id = h.id AND o.seq = h.seq)"
static const char sql_del[] =
    "DELETE FROM main.history WHERE seq IN (SELECT seq" OLD_ROWS ")";
static const char sql_count_old[] = "SELECT count(*)" OLD_ROWS;
/* one scan: an index on fetched_at cost every appended row a write */
static const char sql_count[] =
    "SELECT count(*), count(*) FILTER (WHERE fetched_at >= ?1),"
    " count(*) FILTER (WHERE fetched_at >= ?2) FROM main.history";
/* history_total and the rows it does not count yet, on one snapshot */
static const char sql_totals[] =
    "SELECT found, status, sum(n) FROM ("
    "  SELECT found, status, n FROM main.history_total"
    "  UNION ALL"
    "  SELECT status IS NOT NULL, COALESCE(status, ''), count(*)"
    "  FROM main.history"
    "  WHERE seq > (SELECT counted FROM main.history_mark) GROUP BY 1, 2)"
    " GROUP BY 1, 2 ORDER BY 1 DESC, 2";
/* schema 2 and 3 counted every change at its commit */
static const char sql_totals3[] =
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

static int insert(struct risk_db *db, char *err);

/* db->hnext and db->orphans, read (sql_state). */
static int
state(struct risk_db *db, char *err)
{
	sqlite3_stmt *st;
	int64_t max = 0;
	int rc;

	if ((st = risk__stmt(db, S_HIST_STATE, sql_state, err)) == NULL)
		return RISK_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		max = sqlite3_column_int64(st, 0);
		db->orphans = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return risk__dberr(db, rc, err, db->path);
	if (max < 0 || max >= INT64_MAX - RISK__HROWS)
		return risk_seterr(err, RISK_EDB, "%s: history: largest seq "
		    "%lld is out of range", db->path, (long long)max);
	db->hnext = max + 1;
	return RISK_OK;
}

/* Make db->hnext and db->orphans good for this transaction: read again
 * unless kept from a commit of this connection's and nobody wrote the
 * file since. */
static int
ready(struct risk_db *db, char *err)
{
	unsigned int v;
	int r;

	if (db->hnext == 0 || sqlite3_file_control(db->h, "main",
	    SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK || v != db->hversion)
		if ((r = state(db, err)) != RISK_OK)
			return r;
	db->hready = true;
	return RISK_OK;
}

void
risk__history_end(struct risk_db *db, bool committed)
{
	unsigned int v;

	if (committed && db->hready && db->hnext != 0 &&
	    sqlite3_file_control(db->h, "main", SQLITE_FCNTL_DATA_VERSION,
	    &v) == SQLITE_OK)
		db->hversion = v;	/* this commit's own change */
	else
		db->hnext = 0;
	db->hready = false;
}

/*
 * A company without a record: *seq its newest row and prev its status
 * (*found: not "not found"), or *seq 0 when it has none.  The company is
 * getting its record, which becomes the head of its chain: its
 * history_orphan row goes.
 */
static int
orphan(struct risk_db *db, const char *id, int64_t *seq, char *prev,
    size_t size, bool *found, char *err)
{
	sqlite3_stmt *st;
	int rc;

	*seq = 0;
	*found = false;
	if ((st = risk__stmt(db, S_HIST_ORPHAN, sql_orphan, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		*found = sqlite3_column_type(st, 1) != SQLITE_NULL;
		risk__column_text(st, 1, prev, size);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);
	if ((st = risk__stmt(db, S_HIST_UNORPHAN, sql_unorphan, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

/* Copy a string known to fit (both are a record's status or ID). */
static void
copy(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
risk__history_note(struct risk_db *db, const struct risk_record *rec,
    const struct risk_record *old, int64_t *head, char *err)
{
	struct risk__hrow *h;
	char prev[sizeof rec->status];
	int64_t before = *head;
	bool first = false, prev_found = false;
	int rc;

#ifdef RISK_NO_HISTORY
	/* bench/changes.sh builds this to measure what the history costs */
	(void)h; (void)prev; (void)before; (void)first; (void)prev_found;
	(void)rc; (void)db; (void)rec; (void)old; (void)err;
	return RISK_OK;
#endif
	prev[0] = '\0';
	if (!db->hready && (rc = ready(db, err)) != RISK_OK)
		return rc;
	if (old != NULL) {
		/* the record's status is its newest row's (the invariant) */
		prev_found = old->found;
		if (old->found)
			copy(prev, old->status, sizeof prev);
	} else if (!db->orphans) {
		first = true;	/* no company has rows but no record */
	} else {
		if ((rc = orphan(db, rec->id, &before, prev, sizeof prev,
		    &prev_found, err)) != RISK_OK)
			return rc;
		first = before == 0;
		*head = before;
	}
	if (!first && prev_found == rec->found &&
	    (!rec->found || strcmp(prev, rec->status) == 0))
		return RISK_OK;		/* no change */

	if (db->nhrow == RISK__HROWS && (rc = insert(db, err)) != RISK_OK)
		return rc;
	h = &db->hrow[db->nhrow++];
	h->seq = db->hnext++;
	h->prev_seq = first ? 0 : before;
	copy(h->id, rec->id, sizeof h->id);
	copy(h->status, rec->found ? rec->status : "", sizeof h->status);
	copy(h->prev, prev, sizeof h->prev);
	h->found = rec->found;
	h->prev_found = prev_found;
	h->first = first;
	/* what record.c stores as changed_at for a new status */
	h->changed_at = rec->found && rec->changed_at > 0 ? rec->changed_at :
	    rec->fetched_at / 1000;
	h->fetched_at = rec->fetched_at;
	*head = h->seq;
	if (db->txn)
		return RISK_OK;
	/* in a transaction begun by hand (risk_db_exec): at once, and the
	 * next seq read again next time */
	rc = risk__history_flush(db, err);
	risk__history_end(db, false);
	return rc;
}

/*
 * Read history_mark.counted into db->counted, checked whole: a file
 * without the row (someone deleted it) reads as every row counted.
 */
static int
mark(struct risk_db *db, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_HIST_MARK, sql_mark, err)) == NULL)
		return RISK_EDB;
	rc = sqlite3_step(st);
	db->counted = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) :
	    INT64_MAX;
	if (db->counted < 0)
		db->counted = 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RISK_OK :
	    risk__dberr(db, rc, err, db->path);
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
	int i, j, k, c, rc, n = db->nhrow;

	db->nhrow = 0;		/* inserted, or the transaction fails */
	for (i = 0; i < n; i += by[j].n) {
		for (j = 0; by[j].n > n - i; j++)
			;
		if ((st = risk__stmt(db, by[j].s, by[j].sql, err)) == NULL)
			return RISK_EDB;
		for (k = 0; k < by[j].n; k++) {
			h = &db->hrow[i + k];
			c = k * NCOL;
			sqlite3_bind_int64(st, c + 1, h->seq);
			sqlite3_bind_text(st, c + 2, h->id, -1, SQLITE_STATIC);
			if (h->found)
				sqlite3_bind_text(st, c + 3, h->status, -1,
				    SQLITE_STATIC);
			if (h->prev_found)
				sqlite3_bind_text(st, c + 4, h->prev, -1,
				    SQLITE_STATIC);
			sqlite3_bind_int(st, c + 5, h->first);
			sqlite3_bind_int64(st, c + 6, h->changed_at);
			sqlite3_bind_int64(st, c + 7, h->fetched_at);
			if (h->prev_seq > 0)
				sqlite3_bind_int64(st, c + 8, h->prev_seq);
		}
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, db->path);
	}
	return RISK_OK;
}

/*
 * Count the rows after history_mark.counted into history_total, and
 * move counted to newest, the row this transaction appended last (the
 * write lock is held: no row is newer).  A counted past it (a
 * hand-edited file) counts nothing and comes back to it.
 */
static int
fold(struct risk_db *db, int64_t newest, char *err)
{
	sqlite3_stmt *st;
	int rc, r;

	if ((r = mark(db, err)) != RISK_OK)
		return r;
	if (db->counted == newest)
		return RISK_OK;
	if (db->counted < newest) {
		if ((st = risk__stmt(db, S_HIST_FOLD, sql_fold, err)) == NULL)
			return RISK_EDB;
		sqlite3_bind_int64(st, 1, db->counted);
		sqlite3_bind_int64(st, 2, newest);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, db->path);
	}
	if ((st = risk__stmt(db, S_HIST_COUNTED, sql_counted, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, newest);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);
	db->counted = newest;
	return RISK_OK;
}

int
risk__history_flush(struct risk_db *db, char *err)
{
	int64_t last;
	int r;

	if (db->nhrow == 0)
		return RISK_OK;
	last = db->hrow[db->nhrow - 1].seq;
	if ((r = insert(db, err)) != RISK_OK)
		return r;	/* the caller rolls back */
	/* db->counted may be behind (another process folded): then this
	 * folds early, which costs nothing more */
	if (db->counted == INT64_MIN && (r = mark(db, err)) != RISK_OK)
		return r;
	return last - db->counted >= FOLD_EVERY ? fold(db, last, err) :
	    RISK_OK;
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
			st = db->version < 4 ? risk__stmt(db, S_HIST_AFTER_IN3,
			    sql_after_in3, err) : risk__stmt(db,
			    S_HIST_AFTER_IN, sql_after_in, err);
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
	int64_t last, top, step = p->batch;	/* store.c set it */
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
	if ((st = db->version < 4 ?
	    risk__stmt(db, S_HIST_TOTALS3, sql_totals3, err) :
	    risk__stmt(db, S_HIST_TOTALS, sql_totals, err)) == NULL)
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

/*
 * record.c — the cache of answers.
 *
 * Invariants:
 * - One row per company.  fetched_at (ms) only moves forward: a put with
 *   an older fetched_at than the stored one changes nothing, so a slow or
 *   lease-less drainer can never roll a record back in time.
 * - changed_at is the legacy service's own date when the mapping gave
 *   one; otherwise it stays while the status stays and becomes the time
 *   of the fetch that first saw a new status.
 * - status NULL is a "not found" answer (HTTP 404), kept like any other.
 * - A put that stores a new status appends the company's history row
 *   (history.c) in the same transaction; outside one, it makes its own.
 *   hseq is the company's newest history row (the head of its chain).
 */
#include <string.h>

#include "internal.h"
#include "sqlite.h"

static const char sql_get[] =
    "SELECT status, changed_at, fetched_at, hseq FROM main.record"
    " WHERE id = ?1";

static const char sql_put[] =
    "INSERT INTO main.record (id, status, changed_at, fetched_at, hseq)"
    " VALUES (?1, ?2, COALESCE(?3, ?4 / 1000), ?4, ?5)"
    " ON CONFLICT (id) DO UPDATE SET"
    "  changed_at = CASE"
    "   WHEN ?3 IS NOT NULL THEN ?3"
    "   WHEN record.status IS excluded.status THEN record.changed_at"
    "   ELSE excluded.fetched_at / 1000 END,"
    "  status = excluded.status,"
    "  fetched_at = excluded.fetched_at,"
    "  hseq = excluded.hseq"
    " WHERE excluded.fetched_at >= record.fetched_at";

static const char sql_each[] =
    "SELECT id, status, changed_at, fetched_at FROM main.record ORDER BY id";

static void
fill(sqlite3_stmt *st, int col, struct risk_record *rec)
{
	rec->found = sqlite3_column_type(st, col) != SQLITE_NULL;
	risk__column_text(st, col, rec->status, sizeof rec->status);
	rec->changed_at = sqlite3_column_int64(st, col + 1);
	rec->fetched_at = sqlite3_column_int64(st, col + 2);
}

/* The record of id, and (hseq not NULL) the head of its history's
 * chain (0: none). */
static int
get(struct risk_db *db, const char *id, struct risk_record *rec,
    int64_t *hseq, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_RECORD_GET, sql_get, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return RISK_ENOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return risk__dberr(db, rc, err, db->path);
	}
	snprintf(rec->id, sizeof rec->id, "%s", id);
	fill(st, 0, rec);
	if (hseq != NULL)
		*hseq = sqlite3_column_int64(st, 3);	/* NULL: 0 */
	sqlite3_reset(st);
	return RISK_OK;
}

int
risk__sq_record_get(struct risk_db *db, const char *id, struct risk_record *rec,
    char *err)
{
	return get(db, id, rec, NULL, err);
}

/* The record, and its history row when its status changed. */
static int
put(struct risk_db *db, const struct risk_record *rec, bool *stored,
    char *err)
{
	struct risk_record old;
	sqlite3_stmt *st;
	int64_t head = 0;
	bool same;
	int rc, had;

	if ((had = get(db, rec->id, &old, &head, err)) != RISK_OK &&
	    had != RISK_ENOTFOUND)
		return had;
	if (had == RISK_OK && old.fetched_at > rec->fetched_at) {
		*stored = false;	/* older: changes nothing */
		return RISK_OK;
	}
	/* from here the put stores (the statement's WHERE says the same):
	 * the history row first, for the head of the chain to store */
	same = had == RISK_OK && old.found == rec->found &&
	    (!rec->found || strcmp(old.status, rec->status) == 0);
	if (!same && (rc = risk__history_note(db, rec, had == RISK_OK ?
	    &old : NULL, &head, err)) != RISK_OK)
		return rc;
	if ((st = risk__stmt(db, S_RECORD_PUT, sql_put, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
	if (rec->found)
		sqlite3_bind_text(st, 2, rec->status, -1, SQLITE_STATIC);
	if (rec->found && rec->changed_at > 0)
		sqlite3_bind_int64(st, 3, rec->changed_at);
	sqlite3_bind_int64(st, 4, rec->fetched_at);
	if (head > 0)
		sqlite3_bind_int64(st, 5, head);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);
	*stored = sqlite3_changes(db->h) > 0;
	if (!*stored)	/* cannot be, but a history row must not be alone */
		return risk_seterr(err, RISK_EDB, "%s: %s: not stored",
		    db->path, rec->id);
	return RISK_OK;
}

int
risk__sq_record_put(struct risk_db *db, const struct risk_record *rec,
    bool *stored, char *err)
{
	bool own = sqlite3_get_autocommit(db->h) != 0, done;
	int r;

	/* record and history commit together, or neither does */
	if (own && (r = risk__sq_db_begin(db, err)) != RISK_OK)
		return r;
	r = put(db, rec, &done, err);
	r = risk__txn_end(db, own, r, err);
	if (r == RISK_OK && stored != NULL)
		*stored = done;
	return r;
}

int
risk__sq_record_each(struct risk_db *db, risk_record_fn fn, void *arg, char *err)
{
	struct risk_record rec;
	sqlite3_stmt *st;
	int rc, r;

	if ((st = risk__stmt(db, S_RECORD_EACH, sql_each, err)) == NULL)
		return RISK_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		risk__column_text(st, 0, rec.id, sizeof rec.id);
		fill(st, 1, &rec);
		if ((r = fn(&rec, arg)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

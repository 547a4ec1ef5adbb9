/*
 * queue.c — the fetch queue and the dead letters.
 *
 * Invariants:
 * - One entry per company (the primary key).  An entry is visible to
 *   claims when due <= now.  A claim writes a fresh random token, moves
 *   due to the end of the lease and counts an attempt, so a worker that
 *   dies simply lets the entry become due again when the lease runs out.
 * - Only the holder of the current token may ack, retry, release or
 *   dead-letter an entry; a stale holder changes nothing (RISK_ELOST).
 * - The live leases (token set, due in the future) are the requests in
 *   flight across all workers: claims never take more than the cap
 *   leaves free, so the cap holds for overlapping cron runs.
 * - Re-enqueueing never shortens a retry's backoff and never disturbs a
 *   leased entry; a dead-lettered company is queued only by a redrive.
 * - Moves between queue and dead letters write the destination before
 *   deleting the source.  With the queue in its own file, commits of the
 *   two files are separate, so a crash may leave a company in both places
 *   but never in neither.
 */
#include <string.h>
#include <sys/random.h>

#include "internal.h"

static const char sql_has[] =
    "SELECT due, token, attempts FROM %1$s.queue WHERE id = ?1";
static const char sql_enqueue[] =
    "INSERT INTO %1$s.queue (id, due, enqueued_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (id) DO UPDATE SET due = min(due, excluded.due)"
    " WHERE token IS NULL AND attempts = 0";
static const char sql_dead_has[] = "SELECT 1 FROM main.dead WHERE id = ?1";
static const char sql_leased[] =
    "SELECT count(*) FROM %1$s.queue WHERE token IS NOT NULL AND due > ?1";
static const char sql_pick[] =
    "SELECT id, attempts, redrives, enqueued_at, due, last_error"
    " FROM %1$s.queue WHERE due <= ?1 ORDER BY due, id LIMIT ?2";
static const char sql_take[] =
    "UPDATE %1$s.queue SET token = ?2, due = ?3, attempts = attempts + 1"
    " WHERE id = ?1";
static const char sql_ack[] =
    "DELETE FROM %1$s.queue WHERE id = ?1 AND token = ?2";
static const char sql_release[] =
    "UPDATE %1$s.queue SET token = NULL, due = ?3,"
    " attempts = max(attempts - 1, 0) WHERE id = ?1 AND token = ?2";
static const char sql_retry[] =
    "UPDATE %1$s.queue SET token = NULL, due = ?3, last_error = ?4"
    " WHERE id = ?1 AND token = ?2";
static const char sql_dead_put[] =
    "INSERT INTO main.dead (id, reason, attempts, redrives, enqueued_at,"
    " died_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE"
    " SET reason = excluded.reason, attempts = excluded.attempts,"
    " redrives = excluded.redrives, died_at = excluded.died_at";
static const char sql_dead_each[] =
    "SELECT id, reason, attempts, redrives, enqueued_at, died_at"
    " FROM main.dead ORDER BY died_at, id";
static const char sql_dead_get[] =
    "SELECT id, reason, attempts, redrives, enqueued_at, died_at"
    " FROM main.dead WHERE id = ?1";
static const char sql_redrive_put[] =
    "INSERT INTO %1$s.queue (id, due, enqueued_at, redrives, last_error)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING";
static const char sql_dead_del[] = "DELETE FROM main.dead WHERE id = ?1";

static uint64_t
rnd64(void)
{
	static uint64_t state;
	uint64_t z;

	if (state == 0 && getrandom(&state, sizeof state, 0) !=
	    (ssize_t)sizeof state)
		state = (uint64_t)risk_now_ms() ^ (uint64_t)(uintptr_t)&z;
	z = (state += UINT64_C(0x9e3779b97f4a7c15));	/* splitmix64 */
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Step a write statement to completion; RISK_OK or the error. */
static int
done(struct risk_db *db, sqlite3_stmt *st, char *err, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err, what);
}

int
risk_enqueue(struct risk_db *db, const char *id, int64_t due_ms,
    bool *isnew, bool *queued, char *err)
{
	sqlite3_stmt *st;
	int rc;
	bool had;
	int64_t due = 0, attempts = 0;
	bool leased = false;

	*isnew = *queued = false;
	if ((st = risk__qstmt(db, S_QUEUE_HAS, sql_has, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if ((had = rc == SQLITE_ROW)) {
		due = sqlite3_column_int64(st, 0);
		leased = sqlite3_column_type(st, 1) != SQLITE_NULL;
		attempts = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, id);
	if (had) {
		*queued = true;
		if (leased || attempts > 0 || due <= due_ms)
			return RISK_OK;		/* nothing to change */
	} else {
		if ((st = risk__stmt(db, S_DEAD_HAS, sql_dead_has, err)) ==
		    NULL)
			return RISK_EDB;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_ROW)
			return RISK_OK;		/* dead: only a redrive */
		if (rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, id);
	}
	if ((st = risk__qstmt(db, S_ENQUEUE, sql_enqueue, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, due_ms);
	sqlite3_bind_int64(st, 3, risk_now_ms());
	if ((rc = done(db, st, err, id)) != RISK_OK)
		return rc;
	*isnew = !had;
	*queued = true;
	return RISK_OK;
}

int
risk_queue_leased(struct risk_db *db, int64_t now_ms, int *n, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__qstmt(db, S_LEASED, sql_leased, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, now_ms);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

/* A text column into buf, "" for NULL, cut to fit. */
void
risk__column_text(sqlite3_stmt *st, int col, char *buf, size_t sz)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(buf, sz, "%s", s != NULL ? (const char *)s : "");
}

int
risk_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms, int max,
    int cap, struct risk_entry *out, int *n, char *err)
{
	sqlite3_stmt *st;
	int rc, r, leased, i;

	*n = 0;
	if (cap > 0) {
		if ((r = risk_queue_leased(db, now_ms, &leased, err)) !=
		    RISK_OK)
			return r;
		if (max > cap - leased)
			max = cap - leased;
	}
	if (max <= 0)
		return RISK_OK;
	/* Pick first, then take: updating due moves rows in the index the
	 * pick is walking. */
	if ((st = risk__qstmt(db, S_CLAIM_PICK, sql_pick, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct risk_entry *e = &out[*n];

		risk__column_text(st, 0, e->id, sizeof e->id);
		e->attempts = sqlite3_column_int(st, 1) + 1;
		e->redrives = sqlite3_column_int(st, 2);
		e->enqueued_at = sqlite3_column_int64(st, 3);
		risk__column_text(st, 5, e->last_error, sizeof e->last_error);
		e->token = (int64_t)(rnd64() >> 1);
		e->due = now_ms + lease_ms;
		(*n)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*n = 0;
		return risk__dberr(db, rc, err, db->path);
	}
	if ((st = risk__qstmt(db, S_CLAIM_TAKE, sql_take, err)) == NULL)
		return RISK_EDB;
	for (i = 0; i < *n; i++) {
		sqlite3_bind_text(st, 1, out[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, out[i].token);
		sqlite3_bind_int64(st, 3, out[i].due);
		if ((r = done(db, st, err, out[i].id)) != RISK_OK) {
			*n = 0;
			return r;
		}
	}
	return RISK_OK;
}

/* Run a statement keyed by (id, token [, due, reason]); ELOST if no row. */
static int
by_token(struct risk_db *db, enum risk_stmt s, const char *sql,
    const struct risk_entry *e, int64_t due, const char *reason, char *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = risk__qstmt(db, s, sql, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, e->token);
	if (due != 0)
		sqlite3_bind_int64(st, 3, due);
	if (reason != NULL)
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	if ((r = done(db, st, err, e->id)) != RISK_OK)
		return r;
	if (sqlite3_changes(db->h) == 0)
		return risk_seterr(err, RISK_ELOST,
		    "%s: lease lost (another worker holds it)", e->id);
	return RISK_OK;
}

static int
dead_del(struct risk_db *db, const char *id, char *err)
{
	sqlite3_stmt *st;

	if ((st = risk__stmt(db, S_DEAD_DEL, sql_dead_del, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return done(db, st, err, id);
}

int
risk_ack(struct risk_db *db, const struct risk_entry *e, char *err)
{
	int r;

	if ((r = by_token(db, S_ACK, sql_ack, e, 0, NULL, err)) != RISK_OK)
		return r;
	/* A crash mid-move may have left a stale dead letter behind. */
	return e->redrives > 0 || e->attempts > 1 ? dead_del(db, e->id, err) :
	    RISK_OK;
}

int
risk_release(struct risk_db *db, const struct risk_entry *e, char *err)
{
	return by_token(db, S_RELEASE, sql_release, e, risk_now_ms(), NULL,
	    err);
}

int64_t
risk_backoff_ms(int64_t base_ms, int attempts, uint64_t rnd)
{
	const int64_t cap = INT64_C(86400) * 1000;
	int64_t d = base_ms > 0 ? base_ms : 1;
	int i;

	for (i = 1; i < attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	/* equal jitter: half fixed, half random */
	return d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}

int
risk_fail(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t now_ms, int64_t base_ms, int64_t retry_after_ms,
    int max_attempts, bool *dead, char *err)
{
	sqlite3_stmt *st;
	int64_t delay;
	int rc, r;

	*dead = false;
	if (e->attempts < max_attempts) {
		delay = risk_backoff_ms(base_ms, e->attempts, rnd64());
		if (retry_after_ms > delay)
			delay = retry_after_ms;
		return by_token(db, S_RETRY, sql_retry, e, now_ms + delay,
		    reason, err);
	}
	/* Still ours?  Only the lease holder may bury it. */
	if ((st = risk__qstmt(db, S_QUEUE_HAS, sql_has, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW && sqlite3_column_int64(st, 1) == e->token;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, e->id);
	if (!r)
		return risk_seterr(err, RISK_ELOST,
		    "%s: lease lost (another worker holds it)", e->id);
	if ((st = risk__stmt(db, S_DEAD_PUT, sql_dead_put, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, e->attempts);
	sqlite3_bind_int(st, 4, e->redrives);
	sqlite3_bind_int64(st, 5, e->enqueued_at);
	sqlite3_bind_int64(st, 6, now_ms);
	if ((r = done(db, st, err, e->id)) != RISK_OK)
		return r;
	if ((r = by_token(db, S_ACK, sql_ack, e, 0, NULL, err)) != RISK_OK)
		return r;
	*dead = true;
	return RISK_OK;
}

/* A row of id, reason, attempts, redrives, enqueued_at, died_at. */
void
risk__dead_fill(sqlite3_stmt *st, struct risk_dead *d)
{
	risk__column_text(st, 0, d->id, sizeof d->id);
	risk__column_text(st, 1, d->reason, sizeof d->reason);
	d->attempts = sqlite3_column_int(st, 2);
	d->redrives = sqlite3_column_int(st, 3);
	d->enqueued_at = sqlite3_column_int64(st, 4);
	d->died_at = sqlite3_column_int64(st, 5);
}

int
risk_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg, char *err)
{
	struct risk_dead d;
	sqlite3_stmt *st;
	int rc, r;

	if ((st = risk__stmt(db, S_DEAD_EACH, sql_dead_each, err)) == NULL)
		return RISK_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		risk__dead_fill(st, &d);
		if ((r = fn(&d, arg)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

int
risk_dead_get(struct risk_db *db, const char *id, struct risk_dead *d,
    char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_DEAD_GET, sql_dead_get, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		risk__dead_fill(st, d);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return risk_seterr(err, RISK_ENOTFOUND, "%s: not a dead letter",
		    id);
	return rc == SQLITE_ROW ? RISK_OK : risk__dberr(db, rc, err, id);
}

int
risk_redrive(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, char *err)
{
	struct risk_dead d;
	sqlite3_stmt *st;
	bool own = !db->txn;
	int r;

	if (own && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	if ((r = risk_dead_get(db, id, &d, err)) != RISK_OK)
		goto fail;
	if (max_redrives >= 0 && d.redrives >= max_redrives) {
		r = risk_seterr(err, RISK_EFULL,
		    "%s: redriven %d times already (limit %d)", id, d.redrives,
		    max_redrives);
		goto fail;
	}
	if ((st = risk__qstmt(db, S_REDRIVE_PUT, sql_redrive_put, err)) ==
	    NULL) {
		r = RISK_EDB;
		goto fail;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, d.enqueued_at);
	sqlite3_bind_int(st, 4, d.redrives + 1);
	sqlite3_bind_text(st, 5, d.reason, -1, SQLITE_STATIC);
	if ((r = done(db, st, err, id)) != RISK_OK)
		goto fail;
	/* Separate files commit main first: queue the company for good
	 * before the dead letter goes. */
	if (own && db->split && (r = risk_db_commit(db, err)) != RISK_OK)
		return r;
	if (own && db->split && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	if ((r = dead_del(db, id, err)) != RISK_OK)
		goto fail;
	return own ? risk_db_commit(db, err) : RISK_OK;
fail:
	if (own)
		risk_db_rollback(db);
	return r;
}

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
 *   but never in neither.  A company in both is a dead letter: the claim
 *   drops its queue entry, so neither a crash nor a row written by hand
 *   fetches it or takes it out of the dead letters; only a redrive by
 *   someone who may write the main file does.
 * - The queue file is hostile ground (the web user may write it): a row
 *   is used only after its every column was read whole and checked.  A
 *   row that cannot be used (an invalid ID, a count no worker wrote) is
 *   buried by the claim itself, so every consumer gets the same
 *   treatment and none can be made to loop.  Every keyed UPDATE or
 *   DELETE must change exactly one row.
 */
#include <string.h>
#include <sys/random.h>

#include "internal.h"
#include "sqlite.h"

static const char sql_has[] =
    "SELECT due, token, attempts, priority FROM %1$s.queue WHERE id = ?1";
static const char sql_enqueue[] =
    "INSERT INTO %1$s.queue (id, due, enqueued_at, priority)"
    " VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (id) DO UPDATE SET due = min(due, excluded.due)"
    " WHERE token IS NULL AND attempts = 0";
static const char sql_raise[] =
    "UPDATE %1$s.queue SET priority = ?2 WHERE id = ?1 AND priority < ?2";
static const char sql_dead_has[] = "SELECT 1 FROM main.dead WHERE id = ?1";
static const char sql_leased[] =
    "SELECT count(*) FROM %1$s.queue WHERE token IS NOT NULL AND due > ?1"
    " AND due <= ?2";
static const char sql_unforge[] =
    "UPDATE %1$s.queue SET due = ?1 WHERE token IS NOT NULL AND due > ?2";
/* One seek in queue_lease.  The UPDATE above changes the key it walks,
 * so it builds a temporary table each time: every claim would pay for
 * it though a forgery is rare, hence this look first. */
static const char sql_forged[] =
    "SELECT 1 FROM %1$s.queue WHERE token IS NOT NULL AND due > ?1 LIMIT 1";
/* Per priority, so that each walks the index queue_pick in its order. */
static const char sql_next[] =
    "SELECT due FROM %1$s.queue WHERE priority = ?1 AND token IS NULL"
    " ORDER BY due LIMIT 1";
/* One statement, each level walking queue_pick in its order; the outer
 * LIMIT ends the walk as soon as enough are found.  The last column says
 * whether the company is a dead letter: a seek in the statement costs
 * less than a statement of its own per entry. */
#define PICK(prio) \
    "SELECT * FROM (SELECT id, attempts, redrives, enqueued_at, due," \
    " last_error, EXISTS (SELECT 1 FROM main.dead WHERE dead.id = queue.id)" \
    " FROM %1$s.queue WHERE priority = " prio " AND due <= ?1" \
    " ORDER BY due, id LIMIT ?2)"
static const char sql_pick[] =
    PICK("2") " UNION ALL " PICK("1") " UNION ALL " PICK("0") " LIMIT ?2";
static const char sql_take[] =
    "UPDATE %1$s.queue SET token = ?2, due = ?3, attempts = attempts + 1"
    " WHERE id = ?1";
static const char sql_queue_del[] = "DELETE FROM %1$s.queue WHERE id = ?1";
static const char sql_ack[] =
    "DELETE FROM %1$s.queue WHERE id = ?1 AND token = ?2";
static const char sql_release[] =
    "UPDATE %1$s.queue SET token = NULL, due = ?3,"
    " attempts = max(attempts - 1, 0) WHERE id = ?1 AND token = ?2";
static const char sql_defer[] =
    "UPDATE %1$s.queue SET token = NULL, due = ?3, last_error = ?4,"
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
/* A queue entry of a dead letter is no one's: the redrive replaces it. */
static const char sql_redrive_put[] =
    "INSERT INTO %1$s.queue (id, due, enqueued_at, redrives, last_error)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET"
    " due = excluded.due, token = NULL, attempts = 0,"
    " enqueued_at = excluded.enqueued_at, redrives = excluded.redrives,"
    " last_error = excluded.last_error";
static const char sql_dead_del[] = "DELETE FROM main.dead WHERE id = ?1";

/* Lease tokens and jitter (both engines): not secrets, never twice the
 * same in a process. */
uint64_t
risk__rnd64(void)
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

/* Step a write statement on file to completion; RISK_OK or the error. */
static int
done(struct risk_db *db, sqlite3_stmt *st, char *err, const char *file)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err, file);
}

/* The same for a keyed UPDATE or DELETE of what that must change exactly
 * one row; RISK_ENOTFOUND (reason in err) when it changed none. */
static int
done1(struct risk_db *db, sqlite3_stmt *st, char *err, const char *file,
    const char *what)
{
	int r = done(db, st, err, file);

	if (r != RISK_OK)
		return r;
	switch (sqlite3_changes(db->h)) {
	case 1:
		return RISK_OK;
	case 0:
		return risk_seterr(err, RISK_ENOTFOUND, "%s: no such entry",
		    what);
	default:
		return risk_seterr(err, RISK_EDB, "%s: changed %d rows, not "
		    "one (the file's schema is not risk's)", what,
		    sqlite3_changes(db->h));
	}
}

static int
is_dead(struct risk_db *db, const char *id, bool *dead, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_DEAD_HAS, sql_dead_has, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	*dead = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RISK_OK :
	    risk__dberr(db, rc, err, db->path);
}

/* Raise the priority of a queued entry; never lowers it. */
static int
raise_prio(struct risk_db *db, const char *id, enum risk_priority prio,
    char *err)
{
	sqlite3_stmt *st;

	if ((st = risk__qstmt(db, S_RAISE, sql_raise, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, prio);
	return done(db, st, err, risk__qfile(db));
}

int
risk__sq_enqueue_prio(struct risk_db *db, const char *id, int64_t due_ms,
    enum risk_priority prio, bool *isnew, bool *queued, char *err)
{
	sqlite3_stmt *st;
	int rc;
	bool had, dead;
	int64_t due = 0, attempts = 0, oldprio = 0;
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
		oldprio = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, risk__qfile(db));
	if (prio < RISK_PRIO_LOW || prio > RISK_PRIO_HIGH)
		prio = RISK_PRIO_NORMAL;
	if (had) {
		*queued = true;
		if (oldprio < prio && (rc = raise_prio(db, id, prio, err)) !=
		    RISK_OK)
			return rc;
		if (leased || attempts > 0 || due <= due_ms)
			return RISK_OK;		/* nothing else to change */
	} else {
		if ((rc = is_dead(db, id, &dead, err)) != RISK_OK)
			return rc;
		if (dead)
			return RISK_OK;		/* dead: only a redrive */
	}
	if ((st = risk__qstmt(db, S_ENQUEUE, sql_enqueue, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, due_ms);
	sqlite3_bind_int64(st, 3, risk_now_ms());
	sqlite3_bind_int(st, 4, prio);
	if ((rc = done(db, st, err, risk__qfile(db))) != RISK_OK)
		return rc;
	*isnew = !had;
	*queued = true;
	return RISK_OK;
}

int
risk__sq_queue_leased(struct risk_db *db, int64_t now_ms, int *n, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__qstmt(db, S_LEASED, sql_leased, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, now_ms + RISK_LEASE_MAX_MS);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

int
risk__sq_queue_next_due(struct risk_db *db, int64_t *due, char *err)
{
	sqlite3_stmt *st;
	int rc;

	int p;

	*due = INT64_MAX;
	for (p = RISK_PRIO_HIGH; p >= RISK_PRIO_LOW; p--) {
		if ((st = risk__qstmt(db, S_NEXT_DUE, sql_next, err)) == NULL)
			return RISK_EDB;
		sqlite3_bind_int(st, 1, p);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) < *due)
			*due = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return risk__dberr(db, rc, err, db->path);
	}
	return RISK_OK;
}

/* A text column into buf, "" for NULL, cut to fit. */
void
risk__column_text(sqlite3_stmt *st, int col, char *buf, size_t sz)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(buf, sz, "%s", s != NULL ? (const char *)s : "");
}

int
risk__queue_row(const unsigned char *id, size_t idlen, int idtype,
    int64_t attempts, int64_t redrives, const unsigned char *last_error,
    size_t errlen, int max_attempts, struct risk_entry *e)
{
	char le[sizeof e->last_error];
	bool nul;
	int n;

	memset(e, 0, sizeof *e);
	risk__printable(last_error, errlen, le, sizeof le);
	nul = id != NULL && memchr(id, '\0', idlen) != NULL;
	if (id == NULL || idtype != SQLITE_TEXT || idlen == 0)
		risk__printable((const unsigned char *)"?", 1, e->id,
		    sizeof e->id);
	else
		risk__printable(id, idlen, e->id, sizeof e->id);
	e->attempts = risk__clamp(attempts, 0, INT_MAX - 1) + 1;
	e->redrives = risk__clamp(redrives, 0, RISK_REDRIVES_MAX);
	e->buried = RISK_BURY_DEAD;
	if (id == NULL || idtype != SQLITE_TEXT || nul ||
	    !risk_id_valid((const char *)id, idlen)) {
		e->attempts = risk__clamp(attempts, 0, INT_MAX);
		if (idlen > RISK_ID_MAX)
			snprintf(e->last_error, sizeof e->last_error,
			    "invalid company id (%zu bytes)", idlen);
		else if (nul)
			snprintf(e->last_error, sizeof e->last_error,
			    "invalid company id (it holds a NUL byte)");
		else
			snprintf(e->last_error, sizeof e->last_error,
			    "invalid company id");
	} else if (attempts < 0) {
		e->attempts = 0;
		snprintf(e->last_error, sizeof e->last_error,
		    "invalid queue entry (attempts %lld)", (long long)attempts);
	} else if (attempts >= max_attempts) {
		/* Each worker that held it died: a crash, a kill, a filter
		 * that took the process down.  It may not loop forever. */
		e->attempts = risk__clamp(attempts, 0, INT_MAX);
		n = snprintf(e->last_error, sizeof e->last_error,
		    "no answer in %lld attempt%s (the worker stopped each "
		    "time)", (long long)attempts, attempts == 1 ? "" : "s");
		if (le[0] != '\0' && n > 0 && (size_t)n < sizeof e->last_error)
			snprintf(e->last_error + n, sizeof e->last_error -
			    (size_t)n, "; last error: %.*s",
			    (int)(sizeof e->last_error - (size_t)n), le);
		/* that precision may have cut a character in two */
		risk_text_clean(e->last_error);
	} else {
		e->buried = RISK_BURY_NO;
		memcpy(e->last_error, le, sizeof le);
	}
	return e->buried == RISK_BURY_NO ? RISK_OK : RISK_EINVAL;
}

/* One picked row: id, attempts, redrives, enqueued_at, due, last_error. */
static void
read_row(sqlite3_stmt *st, int max_attempts, struct risk_entry *e)
{
	int idtype = sqlite3_column_type(st, 0);
	const unsigned char *id = sqlite3_column_text(st, 0);
	size_t idlen = (size_t)sqlite3_column_bytes(st, 0);
	const unsigned char *le = sqlite3_column_text(st, 5);
	size_t lelen = (size_t)sqlite3_column_bytes(st, 5);

	risk__queue_row(id, idlen, idtype, sqlite3_column_int64(st, 1),
	    sqlite3_column_int64(st, 2), le, lelen, max_attempts, e);
	e->enqueued_at = sqlite3_column_int64(st, 3);
}

static int
dead_put(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t now_ms, char *err)
{
	sqlite3_stmt *st;

	if ((st = risk__stmt(db, S_DEAD_PUT, sql_dead_put, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, e->attempts);
	sqlite3_bind_int(st, 4, e->redrives);
	sqlite3_bind_int64(st, 5, e->enqueued_at);
	sqlite3_bind_int64(st, 6, now_ms);
	return done(db, st, err, db->path);
}

/* Settle a row the claim will not lease; key is its exact id value, or
 * NULL when its ID is valid (then e->id is exact). */
static int
bury(struct risk_db *db, sqlite3_value *key, const struct risk_entry *e,
    int64_t now_ms, char *err)
{
	sqlite3_stmt *st;
	int r;

	if (e->buried == RISK_BURY_DEAD &&
	    (r = dead_put(db, e, e->last_error, now_ms, err)) != RISK_OK)
		return r;
	if ((st = risk__qstmt(db, S_QUEUE_DEL, sql_queue_del, err)) == NULL)
		return RISK_EDB;
	if (key != NULL)
		sqlite3_bind_value(st, 1, key);
	else			/* a valid ID: its text */
		sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	return done1(db, st, err, risk__qfile(db), e->id);
}

int
risk__sq_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms, int max,
    int cap, int max_attempts, struct risk_entry *out, int *n, char *err)
{
	sqlite3_value *key[RISK_CLAIM_MAX];
	bool dead[RISK_CLAIM_MAX];
	sqlite3_stmt *st;
	int rc, r, leased, i, got = 0;

	*n = 0;
	if (lease_ms > RISK_LEASE_MAX_MS)
		lease_ms = RISK_LEASE_MAX_MS;
	if (max > RISK_CLAIM_MAX)
		max = RISK_CLAIM_MAX;
	/* A lease no drainer grants is a forgery: let it run out now. */
	if ((st = risk__qstmt(db, S_FORGED, sql_forged, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, now_ms + RISK_LEASE_MAX_MS);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, risk__qfile(db));
	if (rc == SQLITE_ROW) {
		if ((st = risk__qstmt(db, S_UNFORGE, sql_unforge, err)) ==
		    NULL)
			return RISK_EDB;
		sqlite3_bind_int64(st, 1, now_ms);
		sqlite3_bind_int64(st, 2, now_ms + RISK_LEASE_MAX_MS);
		if ((r = done(db, st, err, risk__qfile(db))) != RISK_OK)
			return r;
	}
	if (cap > 0) {
		if ((r = risk__sq_queue_leased(db, now_ms, &leased, err)) !=
		    RISK_OK)
			return r;
		if (max > cap - leased)
			max = cap - leased;
	}
	if (max <= 0)
		return RISK_OK;
	/* Pick first, then take: updating due moves rows in the index the
	 * pick is walking.  The exact key of a row to bury is kept: a
	 * hostile ID is deleted by its every byte, not by a copy that was
	 * cut.  A valid ID is its text: the copy in the entry is exact. */
	if ((st = risk__qstmt(db, S_CLAIM_PICK, sql_pick, err)) == NULL) {
		r = RISK_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, max_attempts, &out[got]);
		dead[got] = sqlite3_column_int(st, 6) != 0;
		key[got] = NULL;
		if (out[got].buried != RISK_BURY_NO && (key[got] =
		    sqlite3_value_dup(sqlite3_column_value(st, 0))) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		got++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = risk__dberr(db, rc, err, db->split ? db->qpath :
		    db->path);
		goto out;
	}
	for (i = 0, r = RISK_OK; i < got && r == RISK_OK; i++) {
		struct risk_entry *e = &out[i];

		if (e->buried == RISK_BURY_NO && dead[i]) {
			e->buried = RISK_BURY_DROP;
			snprintf(e->last_error, sizeof e->last_error,
			    "a dead letter: only a redrive may queue it");
		}
		if (e->buried != RISK_BURY_NO) {
			r = bury(db, key[i], e, now_ms, err);
			continue;
		}
		e->token = (int64_t)(risk__rnd64() >> 1);
		e->due = now_ms + lease_ms;
		if ((st = risk__qstmt(db, S_CLAIM_TAKE, sql_take, err)) ==
		    NULL) {
			r = RISK_EDB;
			break;
		}
		sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, e->token);
		sqlite3_bind_int64(st, 3, e->due);
		r = done1(db, st, err, risk__qfile(db), e->id);
	}
	if (r == RISK_ENOTFOUND)	/* the write lock is ours: cannot be */
		r = RISK_EDB;
out:
	for (i = 0; i < got; i++)
		sqlite3_value_free(key[i]);
	*n = r == RISK_OK ? got : 0;
	return r;
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
	if ((r = done1(db, st, err, risk__qfile(db), e->id)) == RISK_ENOTFOUND)
		return risk_seterr(err, RISK_ELOST,
		    "%s: lease lost (another worker holds it)", e->id);
	return r;
}

static int
dead_del(struct risk_db *db, const char *id, char *err)
{
	sqlite3_stmt *st;

	if ((st = risk__stmt(db, S_DEAD_DEL, sql_dead_del, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return done(db, st, err, db->path);
}

int
risk__sq_ack(struct risk_db *db, const struct risk_entry *e, char *err)
{
	int r;

	if ((r = by_token(db, S_ACK, sql_ack, e, 0, NULL, err)) != RISK_OK)
		return r;
	/* A crash mid-move may have left a stale dead letter behind. */
	return e->redrives > 0 || e->attempts > 1 ? dead_del(db, e->id, err) :
	    RISK_OK;
}

int
risk__sq_defer(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t due_ms, char *err)
{
	return by_token(db, S_DEFER, sql_defer, e, due_ms, reason, err);
}

int
risk__sq_release(struct risk_db *db, const struct risk_entry *e, char *err)
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
risk__sq_fail(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t now_ms, int64_t base_ms, int64_t retry_after_ms,
    int max_attempts, bool *dead, char *err)
{
	sqlite3_stmt *st;
	int64_t delay;
	int rc, r;

	*dead = false;
	if (e->attempts < max_attempts) {
		delay = risk_backoff_ms(base_ms, e->attempts, risk__rnd64());
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
		return risk__dberr(db, rc, err, risk__qfile(db));
	if (!r)
		return risk_seterr(err, RISK_ELOST,
		    "%s: lease lost (another worker holds it)", e->id);
	if ((r = dead_put(db, e, reason, now_ms, err)) != RISK_OK)
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
	d->attempts = risk__clamp(sqlite3_column_int64(st, 2), 0, INT_MAX);
	d->redrives = risk__clamp(sqlite3_column_int64(st, 3), 0,
	    RISK_REDRIVES_MAX);
	d->enqueued_at = sqlite3_column_int64(st, 4);
	d->died_at = sqlite3_column_int64(st, 5);
}

int
risk__sq_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg, char *err)
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
risk__sq_dead_get(struct risk_db *db, const char *id, struct risk_dead *d,
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
	return rc == SQLITE_ROW ? RISK_OK : risk__dberr(db, rc, err, db->path);
}

/* One try at a redrive; RISK_ELOST when a drainer dropped the entry
 * between the two commits of a split layout (try again). */
static int
redrive1(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, bool own, char *err)
{
	struct risk_dead d;
	sqlite3_stmt *st;
	bool there;
	int r, rc;

	if (own && (r = risk__sq_db_begin(db, err)) != RISK_OK)
		return r;
	if ((r = risk__sq_dead_get(db, id, &d, err)) != RISK_OK)
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
	if ((r = done1(db, st, err, risk__qfile(db), id)) != RISK_OK)
		goto fail;
	/* Separate files commit main first: queue the company for good
	 * before the dead letter goes.  Until it goes, a claim drops the
	 * entry; so the dead letter goes only if the entry is still there. */
	if (own && db->split) {
		if ((r = risk__sq_db_commit(db, err)) != RISK_OK)
			return r;
		if ((r = risk__sq_db_begin(db, err)) != RISK_OK)
			return r;
		if ((st = risk__qstmt(db, S_QUEUE_HAS, sql_has, err)) ==
		    NULL) {
			r = RISK_EDB;
			goto fail;
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		there = rc == SQLITE_ROW;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			r = risk__dberr(db, rc, err, risk__qfile(db));
			goto fail;
		}
		if (!there) {
			r = risk_seterr(err, RISK_ELOST, "%s: a drainer "
			    "dropped the entry before the redrive ended; try "
			    "again", id);
			goto fail;
		}
	}
	if ((st = risk__stmt(db, S_DEAD_DEL, sql_dead_del, err)) == NULL) {
		r = RISK_EDB;
		goto fail;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((r = done1(db, st, err, db->path, id)) != RISK_OK)
		goto fail;
	return own ? risk__sq_db_commit(db, err) : RISK_OK;
fail:
	if (own)
		risk__sq_db_rollback(db);
	return r;
}

int
risk__sq_redrive(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, char *err)
{
	int r, tries = 0;

	/* All or nothing: one who may not write the dead letters may not
	 * queue a dead letter either. */
	if (sqlite3_db_readonly(db->h, "main") != 0)
		return risk_seterr(err, RISK_ERDONLY,
		    "%s: database is read-only (a redrive writes it)",
		    db->path);
	do
		r = redrive1(db, id, now_ms, max_redrives, !db->txn, err);
	while (r == RISK_ELOST && !db->txn && ++tries < 3);
	return r == RISK_ELOST ? RISK_EBUSY : r;
}

/*
 * pg_queue.c — the fetch queue and the dead letters on PostgreSQL.
 *
 * The contract is queue.c's, word for word (risk.h); what differs is how
 * it holds when many drainers on many hosts share one server:
 * - One entry per company (the primary key).  An enqueue is one
 *   statement: an INSERT ... ON CONFLICT that keeps the earlier due,
 *   raises the priority and never lowers it, leaves a leased or retried
 *   entry's due alone, and adds nothing for a dead-lettered company.
 *   An entry that has nothing to change is not written at all.
 * - A claim runs in one transaction, in two round trips: it first takes
 *   the advisory lock RISK__PG_LOCK_CLAIM, so that counting the live
 *   leases against the cap and leasing are one step for every drainer
 *   everywhere (the lock goes at the commit); then one statement, whose
 *   snapshot is taken with the lock held, counts, picks and leases.
 *   Rows come FOR UPDATE SKIP LOCKED, one priority at a time so each
 *   walks queue_pick in its order: each gets a token (a random base
 *   plus its rank), a due at the end of the lease, an attempt counted.
 * - The queue is hostile ground (the web tier's role may add to it): a
 *   row is used only after risk__queue_row checked it whole.  The SQL
 *   leases only a row whose counts a worker could have written and whose
 *   company is not a dead letter, the same tests risk__queue_row makes;
 *   the ID is judged in C alone, and a leased row with a bad one is
 *   buried in the same transaction, keyed by its exact text.
 * - Only the holder of the current token may ack, retry, release or
 *   dead-letter an entry; every keyed UPDATE or DELETE must change
 *   exactly one row, else the lease was lost (RISK_ELOST).
 * - A move between the queue and the dead letters is one transaction
 *   (one statement where it can be): a company is never in neither, and
 *   in both only if a hand wrote it so; then it is a dead letter, and
 *   the claim drops its queue entry.
 * - Walks over the dead letters go in keyset pages, so a callback may
 *   call other functions of the same connection.
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PAGE 1000	/* rows per page of a walk */
#define STR(x) STR_(x)
#define STR_(x) #x

/*
 * An enqueue never waits for a queue row another transaction holds (a
 * drainer settling it, another enqueue): it leaves that row alone, as a
 * leased entry is left alone.  Waiting could deadlock a batch of
 * enqueues (risk-get, risk-enqueue) with a drainer settling a batch of
 * answers in another order; the row is on the queue either way.  Only
 * an INSERT racing another's uncommitted INSERT of the same company
 * waits, and two batches of enqueues would deadlock there in turn (A
 * then B against B then A): so enqueueing transactions take turns, on
 * RISK__PG_LOCK_ENQUEUE, held to their commit.  Drainers never insert
 * a queue row, so they never wait for it.
 */
static const char sql_enqueue[] =
    "WITH lk AS MATERIALIZED (SELECT pg_advisory_xact_lock($5::bigint)),"
    " cur AS (SELECT id FROM queue WHERE id = $1::text"
    "  FOR UPDATE SKIP LOCKED),"
    " up AS (UPDATE queue AS q SET"
    "  priority = greatest(q.priority, $4::smallint),"
    "  due = CASE WHEN q.token IS NULL AND q.attempts = 0"
    "   THEN least(q.due, $2::bigint) ELSE q.due END"
    "  FROM cur WHERE q.id = cur.id"
    "  AND (q.priority < $4::smallint"
    "   OR (q.token IS NULL AND q.attempts = 0 AND q.due > $2::bigint))),"
    " ins AS (INSERT INTO queue (id, due, enqueued_at, priority)"
    "  SELECT $1::text, $2::bigint, $3::bigint, $4::smallint"
    "  WHERE EXISTS (SELECT 1 FROM lk)"
    "   AND NOT EXISTS (SELECT 1 FROM queue WHERE id = $1::text)"
    "   AND NOT EXISTS (SELECT 1 FROM dead WHERE id = $1::text)"
    "  ON CONFLICT (id) DO NOTHING RETURNING true AS isnew)"
    " SELECT (SELECT isnew FROM ins),"
    "  EXISTS (SELECT 1 FROM queue WHERE id = $1::text)"
    "  OR NOT EXISTS (SELECT 1 FROM dead WHERE id = $1::text)";
/* A purge of dead letters that is under way ends first (pg.h); the
 * lock is let go at once (a target list goes left to right). */
static const char sql_purge_wait[] =
    "SELECT pg_advisory_lock_shared($1::bigint),"
    " pg_advisory_unlock_shared($1::bigint)";
/* Each level's first in queue_pick; least() passes over NULLs. */
#define NEXT(prio) \
    "(SELECT due FROM queue WHERE priority = " prio " AND token IS NULL" \
    " ORDER BY due LIMIT 1)"
static const char sql_next[] =
    "SELECT least(" NEXT("2") ", " NEXT("1") ", " NEXT("0") ")";
static const char sql_leased[] =
    "SELECT count(*) FROM queue WHERE token IS NOT NULL"
    " AND due > $1::bigint AND due <= $2::bigint";
/*
 * The claim's first statement takes the claim lock.  A lease no drainer
 * grants is a forgery: it runs out now, in the same round trip (the
 * UPDATE needs no lock: it only moves a due back).
 */
static const char sql_lock[] =
    "WITH unforge AS (UPDATE queue SET due = $2::bigint"
    " WHERE token IS NOT NULL AND due > $3::bigint)"
    " SELECT pg_advisory_xact_lock($1::bigint)";
/*
 * Then pick and lease in one statement, which begins after the lock is
 * held, so its count of the live leases is exact.  $1 now, $2 how many,
 * $3 the token base (row n gets $3 + n), $4 the lease's end, $5
 * max_attempts, $6 now plus the longest lease, $7 the cap (<= 0: none).
 * The outer LIMIT, what the cap leaves, stops the walk of the levels as
 * soon as enough are found; a row is locked only when the walk reaches
 * it.  Every picked row comes back with the columns as they were before
 * the claim, whether the company is a dead letter, and its token if it
 * was leased.
 */
static const char sql_claim[] =
    "WITH pick AS ("
    " SELECT q.* FROM (VALUES (2), (1), (0)) AS l (prio),"
    " LATERAL (SELECT id, attempts, redrives, enqueued_at, last_error,"
    "  priority, due FROM queue WHERE priority = l.prio"
    "  AND due <= $1::bigint ORDER BY due, id LIMIT $2::integer"
    "  FOR UPDATE SKIP LOCKED) AS q"
    " LIMIT CASE WHEN $7::integer <= 0 THEN $2::integer ELSE"
    "  (SELECT least($2::integer, greatest($7::integer - count(*), 0))"
    "  FROM queue WHERE token IS NOT NULL AND due > $1::bigint"
    "  AND due <= $6::bigint) END),"
    "num AS ("
    " SELECT p.*, EXISTS (SELECT 1 FROM dead d WHERE d.id = p.id) AS dead,"
    "  row_number() OVER (ORDER BY p.priority DESC, p.due, p.id) AS n"
    " FROM pick p),"
    "take AS ("
    " UPDATE queue q SET token = $3::bigint + num.n, due = $4::bigint,"
    "  attempts = q.attempts + 1"
    " FROM num WHERE q.id = num.id AND NOT num.dead"
    "  AND num.attempts >= 0 AND num.attempts < $5::integer"
    " RETURNING q.id, q.token)"
    " SELECT num.id, num.attempts, num.redrives, num.enqueued_at,"
    "  num.last_error, num.dead, take.token"
    " FROM num LEFT JOIN take ON take.id = num.id ORDER BY num.n";
static const char sql_queue_del[] = "DELETE FROM queue WHERE id = $1::text";
static const char sql_dead_put[] =
    "INSERT INTO dead (id, reason, attempts, redrives, enqueued_at,"
    " died_at) VALUES ($1::text, $2::text, $3::integer, $4::integer,"
    " $5::bigint, $6::bigint) ON CONFLICT (id) DO UPDATE"
    " SET reason = excluded.reason, attempts = excluded.attempts,"
    " redrives = excluded.redrives, died_at = excluded.died_at";
/* $3: the entry may have left a stale dead letter (queue.c's ack). */
static const char sql_ack[] =
    "WITH gone AS (DELETE FROM queue WHERE id = $1::text"
    "  AND token = $2::bigint RETURNING id),"
    " stale AS (DELETE FROM dead WHERE $3::boolean"
    "  AND id IN (SELECT id FROM gone))"
    " SELECT count(*) FROM gone";
static const char sql_release[] =
    "UPDATE queue SET token = NULL, due = $3::bigint,"
    " attempts = greatest(attempts - 1, 0)"
    " WHERE id = $1::text AND token = $2::bigint";
static const char sql_defer[] =
    "UPDATE queue SET token = NULL, due = $3::bigint, last_error = $4::text,"
    " attempts = greatest(attempts - 1, 0)"
    " WHERE id = $1::text AND token = $2::bigint";
static const char sql_retry[] =
    "UPDATE queue SET token = NULL, due = $3::bigint, last_error = $4::text"
    " WHERE id = $1::text AND token = $2::bigint";
/* The lease holder's last failure: queue to dead letters, one step. */
static const char sql_bury[] =
    "WITH gone AS (DELETE FROM queue WHERE id = $1::text"
    "  AND token = $2::bigint RETURNING id),"
    " put AS (INSERT INTO dead (id, reason, attempts, redrives,"
    "  enqueued_at, died_at) SELECT id, $3::text, $4::integer,"
    "  $5::integer, $6::bigint, $7::bigint FROM gone"
    "  ON CONFLICT (id) DO UPDATE SET reason = excluded.reason,"
    "  attempts = excluded.attempts, redrives = excluded.redrives,"
    "  died_at = excluded.died_at)"
    " SELECT count(*) FROM gone";
#define DEAD_COLS "SELECT id, reason, attempts, redrives, enqueued_at," \
    " died_at FROM dead"
static const char sql_dead_first[] =
    DEAD_COLS " ORDER BY died_at, id LIMIT " STR(PAGE);
static const char sql_dead_next[] =
    DEAD_COLS " WHERE died_at >= $1::bigint"
    " AND (died_at > $1::bigint OR id > $2::text)"
    " ORDER BY died_at, id LIMIT " STR(PAGE);
static const char sql_dead_get[] = DEAD_COLS " WHERE id = $1::text";
/* A redrive holds the dead letter: a second one waits, then finds none. */
static const char sql_dead_lock[] =
    DEAD_COLS " WHERE id = $1::text FOR UPDATE";
/* A queue entry of a dead letter is no one's: the redrive replaces it. */
static const char sql_redrive_put[] =
    "INSERT INTO queue (id, due, enqueued_at, redrives, last_error)"
    " VALUES ($1::text, $2::bigint, $3::bigint, $4::integer, $5::text)"
    " ON CONFLICT (id) DO UPDATE SET due = excluded.due, token = NULL,"
    " attempts = 0, enqueued_at = excluded.enqueued_at,"
    " redrives = excluded.redrives, last_error = excluded.last_error";
static const char sql_dead_del[] = "DELETE FROM dead WHERE id = $1::text";

/* What a keyed write changed: RISK_OK for one row, RISK_ENOTFOUND (reason
 * in err) for none, RISK_EDB for more. */
static int
one_row(struct risk_db *db, long changed, const char *what, char *err)
{
	if (changed == 1)
		return RISK_OK;
	if (changed == 0)
		return risk_seterr(err, RISK_ENOTFOUND, "%s: no such entry",
		    what);
	return risk_seterr(err, RISK_EDB, "%s: changed %ld rows, not one "
	    "(%s's schema is not risk's)", what, changed, db->pg->name);
}

/* Run a keyed write that must change exactly one row. */
static int
run1(struct risk_db *db, const char *sql, int n, const char *const *p,
    const char *what, char *err)
{
	long changed = 0;
	int r;

	if ((r = risk__pg_run(db, sql, n, p, NULL, &changed, err)) != RISK_OK)
		return r;
	return one_row(db, changed, what, err);
}

/* The same for a statement whose one row and column counts the rows. */
static int
count1(struct risk_db *db, const char *sql, int n, const char *const *p,
    const char *what, char *err)
{
	PGresult *res;
	long changed;
	int r;

	if ((r = risk__pg_run(db, sql, n, p, &res, NULL, err)) != RISK_OK)
		return r;
	changed = risk__pg_ntuples(res) == 1 ? (long)risk__pg_i64(res, 0, 0) :
	    -1;
	risk__pg_clear(res);
	return one_row(db, changed, what, err);
}

static int
lost(const struct risk_entry *e, int r, char *err)
{
	if (r == RISK_ENOTFOUND)
		return risk_seterr(err, RISK_ELOST,
		    "%s: lease lost (another worker holds it)", e->id);
	return r;
}

int
risk__pg_enqueue_prio(struct risk_db *db, const char *id, int64_t due_ms,
    enum risk_priority prio, bool *isnew, bool *queued, char *err)
{
	char due[RISK__I64LEN], now[RISK__I64LEN], pr[RISK__I64LEN];
	char key[RISK__I64LEN];
	char lock[RISK__I64LEN];
	const char *p[] = { id, due, now, pr, lock }, *k[] = { key };
	PGresult *res;
	int r, again = 1;

	*isnew = *queued = false;
	if (prio < RISK_PRIO_LOW || prio > RISK_PRIO_HIGH)
		prio = RISK_PRIO_NORMAL;
	risk__pg_i64s(due, due_ms);
	risk__pg_i64s(now, risk_now_ms());
	risk__pg_i64s(pr, prio);
	risk__pg_i64s(key, risk__pg_lock(db, RISK__PG_LOCK_PURGE));
	risk__pg_i64s(lock, risk__pg_lock(db, RISK__PG_LOCK_ENQUEUE));
retry:
	if ((r = risk__pg_run(db, sql_enqueue, 5, p, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) != 1) {
		risk__pg_clear(res);
		return risk_seterr(err, RISK_EDB, "%s: enqueue: no answer",
		    db->pg->name);
	}
	/* A row from the INSERT: added.  None, yet allowed: it was there
	 * (changed or not).  Not allowed: a dead letter. */
	*isnew = risk__pg_get(res, 0, 0) != NULL && risk__pg_bool(res, 0, 0);
	*queued = risk__pg_get(res, 0, 0) != NULL || risk__pg_bool(res, 0, 1);
	risk__pg_clear(res);
	/* a dead letter may be one a purge removed and has yet to commit:
	 * wait for it, then look again (a statement sees every commit) */
	if (!*queued && again-- > 0) {
		if ((r = risk__pg_run(db, sql_purge_wait, 1, k, NULL, NULL,
		    err)) != RISK_OK)
			return r;
		goto retry;
	}
	return RISK_OK;
}

int
risk__pg_queue_next_due(struct risk_db *db, int64_t *due, char *err)
{
	PGresult *res;
	int r;

	*due = INT64_MAX;
	if ((r = risk__pg_run(db, sql_next, 0, NULL, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) == 1 && risk__pg_get(res, 0, 0) != NULL)
		*due = risk__pg_i64(res, 0, 0);
	risk__pg_clear(res);
	return RISK_OK;
}

int
risk__pg_queue_leased(struct risk_db *db, int64_t now_ms, int *n, char *err)
{
	char now[RISK__I64LEN], hi[RISK__I64LEN];
	const char *p[] = { now, hi };
	PGresult *res;
	int r;

	*n = 0;
	risk__pg_i64s(now, now_ms);
	risk__pg_i64s(hi, now_ms + RISK_LEASE_MAX_MS);
	if ((r = risk__pg_run(db, sql_leased, 2, p, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) == 1)
		*n = risk__clamp(risk__pg_i64(res, 0, 0), 0, INT_MAX);
	risk__pg_clear(res);
	return RISK_OK;
}

static int
dead_put(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t now_ms, char *err)
{
	char att[RISK__I64LEN], red[RISK__I64LEN], enq[RISK__I64LEN],
	    died[RISK__I64LEN];
	const char *p[] = { e->id, reason, att, red, enq, died };

	risk__pg_i64s(att, e->attempts);
	risk__pg_i64s(red, e->redrives);
	risk__pg_i64s(enq, e->enqueued_at);
	risk__pg_i64s(died, now_ms);
	return risk__pg_run(db, sql_dead_put, 6, p, NULL, NULL, err);
}

/* Settle a picked row the claim will not hand out; key is its id exactly
 * as the server holds it (e->id may be a printable copy). */
static int
bury(struct risk_db *db, const char *key, const struct risk_entry *e,
    int64_t now_ms, char *err)
{
	const char *p[] = { key };
	int r;

	if (e->buried == RISK_BURY_DEAD &&
	    (r = dead_put(db, e, e->last_error, now_ms, err)) != RISK_OK)
		return r;
	return run1(db, sql_queue_del, 1, p, e->id, err);
}

/* The claim's statements, in the transaction the caller opened. */
static int
claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms, int max,
    int cap, int max_attempts, struct risk_entry *out, int *n, char *err)
{
	char lock[RISK__I64LEN], now[RISK__I64LEN], want[RISK__I64LEN],
	    base[RISK__I64LEN], end[RISK__I64LEN], maxa[RISK__I64LEN],
	    hi[RISK__I64LEN], capn[RISK__I64LEN];
	const char *pl[] = { lock, now, hi };
	const char *pc[] = { now, want, base, end, maxa, hi, capn };
	PGresult *res;
	int r, i, rows, got = 0;

	if (max <= 0)
		return RISK_OK;
	risk__pg_i64s(lock, risk__pg_lock(db, RISK__PG_LOCK_CLAIM));
	risk__pg_i64s(now, now_ms);
	risk__pg_i64s(hi, now_ms + RISK_LEASE_MAX_MS);
	if ((r = risk__pg_run(db, sql_lock, 3, pl, NULL, NULL, err)) !=
	    RISK_OK)
		return r;
	risk__pg_i64s(want, max);
	/* row k (1..max) gets base + k: positive, distinct, unguessable
	 * enough that a stale holder never matches a new lease */
	risk__pg_i64s(base, (int64_t)(risk__rnd64() >> 2));
	risk__pg_i64s(end, now_ms + lease_ms);
	risk__pg_i64s(maxa, max_attempts);
	risk__pg_i64s(capn, cap > 0 ? cap : 0);
	if ((r = risk__pg_run(db, sql_claim, 7, pc, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	rows = risk__pg_ntuples(res);
	for (i = 0; i < rows && got < max && r == RISK_OK; i++) {
		struct risk_entry *e = &out[got++];
		const char *id = risk__pg_get(res, i, 0);
		const char *le = risk__pg_get(res, i, 4);
		bool taken = risk__pg_get(res, i, 6) != NULL;

		/* text has no NUL byte: strlen is the length PQgetlength
		 * gives */
		risk__queue_row((const unsigned char *)id,
		    id != NULL ? strlen(id) : 0, SQLITE_TEXT,
		    risk__pg_i64(res, i, 1), risk__pg_i64(res, i, 2),
		    (const unsigned char *)le, le != NULL ? strlen(le) : 0,
		    max_attempts, e);
		e->enqueued_at = risk__pg_i64(res, i, 3);
		if (e->buried == RISK_BURY_NO && risk__pg_bool(res, i, 5)) {
			e->buried = RISK_BURY_DROP;
			snprintf(e->last_error, sizeof e->last_error,
			    "a dead letter: only a redrive may queue it");
		}
		if (e->buried != RISK_BURY_NO) {
			r = id != NULL ? bury(db, id, e, now_ms, err) :
			    risk_seterr(err, RISK_EDB, "%s: a queue entry "
			    "without an id", db->pg->name);
		} else if (!taken) {
			/* the SQL leases what risk__queue_row passes */
			r = risk_seterr(err, RISK_EDB, "%s: the claim did not "
			    "lease a valid entry", e->id);
		} else {
			e->token = risk__pg_i64(res, i, 6);
			e->due = now_ms + lease_ms;
		}
	}
	risk__pg_clear(res);
	if (r == RISK_ENOTFOUND)	/* the rows are locked: cannot be */
		r = RISK_EDB;
	*n = r == RISK_OK ? got : 0;
	return r;
}

int
risk__pg_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms,
    int max, int cap, int max_attempts, struct risk_entry *out, int *n,
    char *err)
{
	bool own = !db->txn;
	int r;

	*n = 0;
	if (lease_ms > RISK_LEASE_MAX_MS)
		lease_ms = RISK_LEASE_MAX_MS;
	if (max > RISK_CLAIM_MAX)
		max = RISK_CLAIM_MAX;
	/* The advisory lock lasts as long as the transaction: without the
	 * caller's, the claim makes its own. */
	if (own && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	r = claim(db, now_ms, lease_ms, max, cap, max_attempts, out, n, err);
	r = risk__txn_end(db, own, r, err);
	if (own && r != RISK_OK)
		*n = 0;
	return r;
}

/* A write keyed by (id, token) and up to two more parameters. */
static int
by_token(struct risk_db *db, const char *sql, const struct risk_entry *e,
    int64_t due, const char *reason, int n, char *err)
{
	char tok[RISK__I64LEN], d[RISK__I64LEN];
	const char *p[] = { e->id, tok, d, reason };

	risk__pg_i64s(tok, e->token);
	risk__pg_i64s(d, due);
	return lost(e, run1(db, sql, n, p, e->id, err), err);
}

int
risk__pg_ack(struct risk_db *db, const struct risk_entry *e, char *err)
{
	char tok[RISK__I64LEN];
	/* a crash mid-move may have left a stale dead letter behind */
	const char *p[] = { e->id, tok,
	    e->redrives > 0 || e->attempts > 1 ? "t" : "f" };

	risk__pg_i64s(tok, e->token);
	return lost(e, count1(db, sql_ack, 3, p, e->id, err), err);
}

int
risk__pg_defer(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t due_ms, char *err)
{
	return by_token(db, sql_defer, e, due_ms, reason, 4, err);
}

int
risk__pg_release(struct risk_db *db, const struct risk_entry *e, char *err)
{
	return by_token(db, sql_release, e, risk_now_ms(), NULL, 3, err);
}

int
risk__pg_fail(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t now_ms, int64_t base_ms,
    int64_t retry_after_ms, int max_attempts, bool *dead, char *err)
{
	char tok[RISK__I64LEN], att[RISK__I64LEN], red[RISK__I64LEN],
	    enq[RISK__I64LEN], died[RISK__I64LEN];
	const char *p[] = { e->id, tok, reason, att, red, enq, died };
	int64_t delay;
	int r;

	*dead = false;
	if (e->attempts < max_attempts) {
		delay = risk_backoff_ms(base_ms, e->attempts, risk__rnd64());
		if (retry_after_ms > delay)
			delay = retry_after_ms;
		return by_token(db, sql_retry, e, now_ms + delay, reason, 4,
		    err);
	}
	/* Only the lease holder may bury it: the DELETE keyed by the token
	 * feeds the INSERT, so a stale holder writes nothing. */
	risk__pg_i64s(tok, e->token);
	risk__pg_i64s(att, e->attempts);
	risk__pg_i64s(red, e->redrives);
	risk__pg_i64s(enq, e->enqueued_at);
	risk__pg_i64s(died, now_ms);
	if ((r = lost(e, count1(db, sql_bury, 7, p, e->id, err), err)) !=
	    RISK_OK)
		return r;
	*dead = true;
	return RISK_OK;
}

/* Row i of id, reason, attempts, redrives, enqueued_at, died_at. */
static void
dead_fill(const PGresult *res, int i, struct risk_dead *d)
{
	risk__pg_text(res, i, 0, d->id, sizeof d->id);
	risk__pg_text(res, i, 1, d->reason, sizeof d->reason);
	d->attempts = risk__clamp(risk__pg_i64(res, i, 2), 0, INT_MAX);
	d->redrives = risk__clamp(risk__pg_i64(res, i, 3), 0,
	    RISK_REDRIVES_MAX);
	d->enqueued_at = risk__pg_i64(res, i, 4);
	d->died_at = risk__pg_i64(res, i, 5);
}

int
risk__pg_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg, char *err)
{
	char died[RISK__I64LEN], *key = NULL;
	const char *p[] = { died, NULL };
	struct risk_dead d;
	PGresult *res;
	int r, i, rows;

	do {
		r = key == NULL ? risk__pg_run(db, sql_dead_first, 0, NULL,
		    &res, NULL, err) : risk__pg_run(db, sql_dead_next, 2, p,
		    &res, NULL, err);
		if (r != RISK_OK)
			break;
		rows = risk__pg_ntuples(res);
		for (i = 0; i < rows && r == RISK_OK; i++) {
			dead_fill(res, i, &d);
			r = fn(&d, arg);
		}
		/* the next page starts after the last row, its id whole */
		if (r == RISK_OK && rows > 0) {
			risk__pg_i64s(died, risk__pg_i64(res, rows - 1, 5));
			free(key);
			if ((key = strdup(risk__pg_get(res, rows - 1, 0) !=
			    NULL ? risk__pg_get(res, rows - 1, 0) : "")) ==
			    NULL)
				r = risk_seterr(err, RISK_ENOMEM,
				    "out of memory");
			p[1] = key;
		}
		risk__pg_clear(res);
	} while (r == RISK_OK && rows == PAGE);
	free(key);
	return r;
}

int
risk__pg_dead_get(struct risk_db *db, const char *id, struct risk_dead *d,
    char *err)
{
	const char *p[] = { id };
	PGresult *res;
	int r;

	if ((r = risk__pg_run(db, sql_dead_get, 1, p, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) == 1)
		dead_fill(res, 0, d);
	else
		r = risk_seterr(err, RISK_ENOTFOUND, "%s: not a dead letter",
		    id);
	risk__pg_clear(res);
	return r;
}

/* The redrive's statements, in a transaction. */
static int
redrive(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, char *err)
{
	char due[RISK__I64LEN], enq[RISK__I64LEN], red[RISK__I64LEN];
	const char *pd[] = { id };
	const char *pq[] = { id, due, enq, red, NULL };
	struct risk_dead d;
	PGresult *res;
	int r;

	if ((r = risk__pg_run(db, sql_dead_lock, 1, pd, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) != 1) {
		risk__pg_clear(res);
		return risk_seterr(err, RISK_ENOTFOUND,
		    "%s: not a dead letter", id);
	}
	dead_fill(res, 0, &d);
	risk__pg_clear(res);
	if (max_redrives >= 0 && d.redrives >= max_redrives)
		return risk_seterr(err, RISK_EFULL,
		    "%s: redriven %d times already (limit %d)", id, d.redrives,
		    max_redrives);
	risk__pg_i64s(due, now_ms);
	risk__pg_i64s(enq, d.enqueued_at);
	risk__pg_i64s(red, d.redrives + 1);
	pq[4] = d.reason;
	if ((r = run1(db, sql_redrive_put, 5, pq, id, err)) != RISK_OK)
		return r;
	return run1(db, sql_dead_del, 1, pd, id, err);
}

int
risk__pg_redrive(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, char *err)
{
	bool own = !db->txn;
	int r;

	if (db->readonly)
		return risk_seterr(err, RISK_ERDONLY,
		    "%s: database is read-only (a redrive writes it)",
		    db->pg->name);
	if (own && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	r = redrive(db, id, now_ms, max_redrives, err);
	return risk__txn_end(db, own, r, err);
}

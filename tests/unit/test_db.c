/*
 * test_db.c — the store, the records and the queue on real SQLite files
 * in the current (temporary) folder, or a real PostgreSQL server
 * (fresh.h); what is about SQLite's files runs on SQLite only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "risk.h"
#include "fresh.h"

/* A fresh database per test (fresh.h); queue: a queue file of its own
 * (SQLite only). */
static struct risk_db *
fresh(const char *queue)
{
	struct risk_db_opts o = { .busy_ms = 200 };
	struct risk_db *db;
	char qpath[64], err[RISK_ERRLEN];

	test_fresh_opts("t", &o);
	if (queue != NULL) {
		snprintf(qpath, sizeof qpath, "t%d/%s", test_seq, queue);
		o.queue = qpath;
	}
	if (risk_db_open(&db, &o, err) != RISK_OK)
		fail_msg("open: %s", err);
	return db;
}

static void
put(struct risk_db *db, const char *id, const char *status, int64_t changed,
    int64_t fetched, bool expect_stored)
{
	struct risk_record r = { .found = status != NULL,
	    .changed_at = changed, .fetched_at = fetched };
	char err[RISK_ERRLEN];
	bool stored;

	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.status, sizeof r.status, "%s", status ? status : "");
	assert_int_equal(risk_record_put(db, &r, &stored, err), RISK_OK);
	assert_int_equal(stored, expect_stored);
}

static void
test_record_upsert(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_record r;
	char err[RISK_ERRLEN];

	(void)state;
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_ENOTFOUND);
	put(db, "A1", "reliable", 0, 10000000, true);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	assert_string_equal(r.status, "reliable");
	assert_int_equal(r.changed_at, 10000);	/* first fetch that saw it */
	/* same status later: changed_at stays */
	put(db, "A1", "reliable", 0, 20000000, true);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	assert_int_equal(r.changed_at, 10000);
	assert_int_equal(r.fetched_at, 20000000);
	/* an older fetch never overwrites a newer one */
	put(db, "A1", "indebted", 0, 15000000, false);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	assert_string_equal(r.status, "reliable");
	/* status changes: changed_at moves to this fetch */
	put(db, "A1", "indebted", 0, 30000000, true);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	assert_string_equal(r.status, "indebted");
	assert_int_equal(r.changed_at, 30000);
	/* the legacy service's own date wins */
	put(db, "A1", "indebted", 1735948800, 40000000, true);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	assert_int_equal(r.changed_at, 1735948800);
	/* the same fetch again is idempotent */
	put(db, "A1", "indebted", 1735948800, 40000000, true);
	/* not found is a record too */
	put(db, "A1", NULL, 0, 50000000, true);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	assert_false(r.found);
	assert_string_equal(r.status, "");
	risk_db_close(db);
}

/* Many IDs at once: each answer in its place, duplicates and misses too. */
static void
test_record_get_many(void **state)
{
	struct risk_db *db = fresh(NULL);
	static struct risk_record recs[RISK_GET_MANY];
	static bool found[RISK_GET_MANY];
	static char buf[RISK_GET_MANY][16];
	const char *ids[RISK_GET_MANY];
	char err[RISK_ERRLEN];
	int i;

	(void)state;
	put(db, "A1", "reliable", 0, 10000000, true);
	put(db, "B2", NULL, 0, 20000000, true);
	for (i = 0; i < RISK_GET_MANY; i++) {
		snprintf(buf[i], sizeof buf[i], "%s", i % 3 == 0 ? "A1" :
		    i % 3 == 1 ? "B2" : "C3");
		ids[i] = buf[i];
	}
	ids[4] = "x\"y\\z";	/* not an ID: no record, no harm */
	assert_int_equal(risk_record_get_many(db, ids, RISK_GET_MANY, recs,
	    found, err), RISK_OK);
	for (i = 0; i < RISK_GET_MANY; i++) {
		if (i == 4 || i % 3 == 2) {
			assert_false(found[i]);
			continue;
		}
		assert_true(found[i]);
		assert_string_equal(recs[i].id, ids[i]);
		assert_int_equal(recs[i].found, i % 3 == 0);
		assert_int_equal(recs[i].fetched_at, i % 3 == 0 ? 10000000 :
		    20000000);
	}
	assert_int_equal(risk_record_get_many(db, ids, 0, recs, found, err),
	    RISK_OK);
	assert_int_equal(risk_record_get_many(db, ids, RISK_GET_MANY + 1,
	    recs, found, err), RISK_EINVAL);
	risk_db_close(db);
}

static int
count(const struct risk_record *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static void
test_record_each_and_invalid(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_record r = { .found = true, .fetched_at = 1 };
	char err[RISK_ERRLEN];
	int n = 0;

	(void)state;
	put(db, "B", "x", 0, 1, true);
	put(db, "A", "y", 0, 1, true);
	assert_int_equal(risk_record_each(db, count, &n, err), RISK_OK);
	assert_int_equal(n, 2);
	snprintf(r.id, sizeof r.id, "../etc");
	assert_int_equal(risk_record_put(db, &r, NULL, err), RISK_EINVAL);
	risk_db_close(db);
}

static void
enqp(struct risk_db *db, const char *id, int64_t due, enum risk_priority p,
    bool want_new, bool want_queued)
{
	char err[RISK_ERRLEN];
	bool isnew, queued;

	assert_int_equal(risk_enqueue_prio(db, id, due, p, &isnew, &queued,
	    err), RISK_OK);
	assert_int_equal(isnew, want_new);
	assert_int_equal(queued, want_queued);
}

static void
enq(struct risk_db *db, const char *id, int64_t due, bool want_new,
    bool want_queued)
{
	char err[RISK_ERRLEN];
	bool isnew, queued;

	assert_int_equal(risk_enqueue(db, id, due, &isnew, &queued, err),
	    RISK_OK);
	assert_int_equal(isnew, want_new);
	assert_int_equal(queued, want_queued);
}

static int
claim(struct risk_db *db, int64_t now, int max, int cap,
    struct risk_entry *out)
{
	char err[RISK_ERRLEN];
	int n;

	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	assert_int_equal(risk_claim(db, now, 30000, max, cap, 1000, out, &n,
	    err),
	    RISK_OK);
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	return n;
}

static void
test_queue_dedupe_and_order(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_entry e[8];

	(void)state;
	enq(db, "C", 3000, true, true);
	enq(db, "A", 1000, true, true);
	enq(db, "B", 2000, true, true);
	enq(db, "C", 5000, false, true);	/* later: ignored */
	enq(db, "B", 500, false, true);		/* earlier: wins */
	enqp(db, "L", 450, RISK_PRIO_LOW, true, true);
	enqp(db, "H", 4000, RISK_PRIO_HIGH, true, true);
	enqp(db, "H", 4000, RISK_PRIO_LOW, false, true);	/* never lowered */
	enqp(db, "C", 9000, RISK_PRIO_HIGH, false, true);	/* raised */
	assert_int_equal(claim(db, 400, 8, 0, e), 0);	/* nothing due */
	assert_int_equal(claim(db, 10000, 8, 0, e), 5);
	assert_string_equal(e[0].id, "C");	/* high, due 3000 */
	assert_string_equal(e[1].id, "H");	/* high, due 4000 */
	assert_string_equal(e[2].id, "B");
	assert_string_equal(e[3].id, "A");
	assert_string_equal(e[4].id, "L");	/* low, though due first */
	assert_int_equal(e[0].attempts, 1);
	assert_int_equal(e[0].buried, RISK_BURY_NO);
	assert_int_equal(e[0].due, 10000 + 30000);
	assert_true(e[0].enqueued_at > 0);
	/* leased entries are invisible and re-enqueue leaves them alone */
	enq(db, "A", 0, false, true);
	assert_int_equal(claim(db, 10001, 8, 0, e), 0);
	risk_db_close(db);
}

static void
test_queue_lease_expiry_and_lost_ack(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_entry first, second;
	char err[RISK_ERRLEN];
	bool dead;

	(void)state;
	enq(db, "X", 0, true, true);
	assert_int_equal(claim(db, 1000, 1, 0, &first), 1);
	/* the lease (30 s) runs out: visible again, attempt counted */
	assert_int_equal(claim(db, 1000 + 29999, 1, 0, &second), 0);
	assert_int_equal(claim(db, 1000 + 30000, 1, 0, &second), 1);
	assert_int_equal(second.attempts, 2);
	assert_true(first.token != second.token);
	/* the first holder lost its lease: nothing it does counts */
	assert_int_equal(risk_ack(db, &first, err), RISK_ELOST);
	assert_non_null(strstr(err, "X: lease lost"));
	assert_int_equal(risk_fail(db, &first, "boom", 40000, 1000, 0, 5,
	    &dead, err), RISK_ELOST);
	assert_int_equal(risk_fail(db, &first, "boom", 40000, 1000, 0, 1,
	    &dead, err), RISK_ELOST);
	assert_false(dead);
	assert_int_equal(risk_release(db, &first, err), RISK_ELOST);
	assert_int_equal(risk_defer(db, &first, "down", 50000, err),
	    RISK_ELOST);
	assert_int_equal(risk_ack(db, &second, err), RISK_OK);
	assert_int_equal(risk_ack(db, &second, err), RISK_ELOST);
	assert_int_equal(claim(db, INT64_C(1) << 50, 1, 0, &second), 0);
	risk_db_close(db);
}

static void
test_queue_cap(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_entry e[8];
	char err[RISK_ERRLEN];
	int i, n;

	(void)state;
	for (i = 0; i < 8; i++) {
		char id[16];

		snprintf(id, sizeof id, "K%d", i);
		enq(db, id, 0, true, true);
	}
	assert_int_equal(claim(db, 1000, 8, 3, e), 3);	/* cap 3 */
	assert_int_equal(claim(db, 1000, 8, 3, e + 3), 0);	/* all taken */
	assert_int_equal(risk_queue_leased(db, 1000, &n, err), RISK_OK);
	assert_int_equal(n, 3);
	assert_int_equal(risk_ack(db, &e[0], err), RISK_OK);
	assert_int_equal(claim(db, 1000, 8, 3, e + 3), 1);	/* one freed */
	/* leases of a dead worker count until they run out */
	assert_int_equal(claim(db, 1000 + 30000, 8, 3, e), 3);
	risk_db_close(db);
}

static void
test_queue_backoff_retry_after_dead(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_entry e;
	struct risk_dead d;
	char err[RISK_ERRLEN];
	int64_t now = 1000000;
	bool dead;
	int i;

	(void)state;
	enq(db, "D", 0, true, true);
	for (i = 1; i <= 3; i++) {
		assert_int_equal(claim(db, now, 1, 0, &e), 1);
		assert_int_equal(e.attempts, i);
		assert_int_equal(risk_fail(db, &e, "HTTP 503", now, 1000, 0, 3,
		    &dead, err), RISK_OK);
		if (i < 3) {
			/* backoff: base * 2^(n-1) with jitter in [d/2, d] */
			int64_t d2 = 1000LL << (i - 1);

			assert_false(dead);
			assert_int_equal(claim(db, now + d2 / 2 - 1, 1, 0, &e),
			    0);
			/* re-enqueue does not cut a retry's backoff short */
			enq(db, "D", 0, false, true);
			assert_int_equal(claim(db, now + d2 / 2 - 1, 1, 0, &e),
			    0);
			now += d2;
		} else {
			assert_true(dead);
		}
	}
	assert_int_equal(risk_dead_get(db, "D", &d, err), RISK_OK);
	assert_string_equal(d.id, "D");
	assert_string_equal(d.reason, "HTTP 503");
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.redrives, 0);
	assert_int_equal(d.died_at, now);
	assert_true(d.enqueued_at > 0);
	assert_int_equal(risk_dead_get(db, "E", &d, err), RISK_ENOTFOUND);
	/* a dead letter is not queued again by a plain enqueue */
	enq(db, "D", 0, false, false);
	enqp(db, "D", 0, RISK_PRIO_HIGH, false, false);
	assert_int_equal(claim(db, now + 1000000, 1, 0, &e), 0);
	/* Retry-After longer than the backoff wins */
	enq(db, "R", 0, true, true);
	assert_int_equal(claim(db, now, 1, 0, &e), 1);
	assert_int_equal(risk_fail(db, &e, "HTTP 429", now, 1000, 60000, 5,
	    &dead, err), RISK_OK);
	assert_int_equal(claim(db, now + 59999, 1, 0, &e), 0);
	assert_int_equal(claim(db, now + 60000, 1, 0, &e), 1);
	assert_string_equal(e.last_error, "HTTP 429");
	risk_db_close(db);
}

static void
test_backoff_bounds(void **state)
{
	(void)state;
	assert_int_equal(risk_backoff_ms(30000, 1, 0), 15000);
	assert_int_equal(risk_backoff_ms(30000, 1, 15000), 30000);
	assert_int_equal(risk_backoff_ms(30000, 3, 0), 60000);
	/* capped at a day, never overflows */
	assert_true(risk_backoff_ms(30000, 1000, UINT64_MAX) <= 86400000);
}

/*
 * The one-day clamp, with the largest random value.  The jitter is
 * rnd % (d/2 + 1), so its largest value for a delay d is rnd = d/2.
 * For every attempt, feed the largest value for the delay as it would
 * be without the clamp (30 s doubled: 34 h at attempt 13), and for the
 * clamped day: no delay may pass one day, and the day itself is reached.
 */
static void
test_backoff_clamp_largest(void **state)
{
	const int64_t day = INT64_C(86400000);
	int64_t d = 30000;
	int a;

	(void)state;
	for (a = 1; a <= 62; a++) {
		assert_true(risk_backoff_ms(30000, a, (uint64_t)(d / 2)) <= day);
		assert_true(risk_backoff_ms(30000, a, (uint64_t)(day / 2)) <=
		    day);
		if (d < INT64_MAX / 4)
			d *= 2;
	}
	assert_int_equal(risk_backoff_ms(30000, 13, (uint64_t)(day / 2)), day);
	assert_int_equal(risk_backoff_ms(30000, 1000, (uint64_t)(day / 2)),
	    day);
}

static void
test_redrive(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_entry e;
	struct risk_dead d;
	char err[RISK_ERRLEN];
	int64_t first = 0;
	bool dead;
	int i;

	(void)state;
	assert_int_equal(risk_redrive(db, "nope", 0, 3, err), RISK_ENOTFOUND);
	enq(db, "P", 0, true, true);
	for (i = 0; i < 3; i++) {
		assert_int_equal(claim(db, 1000, 1, 0, &e), 1);
		assert_int_equal(e.redrives, i);
		if (i == 0)
			first = e.enqueued_at;
		assert_int_equal(e.enqueued_at, first);
		assert_int_equal(risk_fail(db, &e, "bad", 1000, 1, 0, 1, &dead,
		    err), RISK_OK);
		assert_true(dead);
		assert_int_equal(risk_dead_get(db, "P", &d, err), RISK_OK);
		assert_int_equal(d.enqueued_at, first);
		assert_int_equal(d.redrives, i);
		if (i < 2)
			assert_int_equal(risk_redrive(db, "P", 1000, 2, err),
			    RISK_OK);
		if (i == 0)	/* gone from the dead letters */
			assert_int_equal(risk_dead_get(db, "P", &d, err),
			    RISK_ENOTFOUND);
	}
	/* limit reached: refused, stays dead */
	assert_int_equal(risk_redrive(db, "P", 1000, 2, err), RISK_EFULL);
	assert_non_null(strstr(err, "redriven 2 times"));
	assert_int_equal(risk_dead_get(db, "P", &d, err), RISK_OK);
	/* no limit; and inside the caller's transaction */
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	assert_int_equal(risk_redrive(db, "P", 1000, -1, err), RISK_OK);
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	assert_int_equal(claim(db, 1000, 1, 0, &e), 1);
	assert_int_equal(e.redrives, 3);
	assert_string_equal(e.last_error, "bad");
	risk_db_close(db);
}

static void
test_split_queue_file(void **state)
{
	struct risk_db *db = fresh("queue.db");
	struct risk_entry e;
	struct stat sb;
	char err[RISK_ERRLEN], path[64];

	(void)state;
	enq(db, "S", 0, true, true);
	put(db, "S", "reliable", 0, 1000, true);
	assert_int_equal(claim(db, 1000, 1, 0, &e), 1);
	assert_int_equal(risk_ack(db, &e, err), RISK_OK);
	risk_db_close(db);
	snprintf(path, sizeof path, "t%d/queue.db", test_seq);
	assert_int_equal(stat(path, &sb), 0);
}

static void
test_foreign_and_newer_files(void **state)
{
	struct risk_db_opts o = { .busy_ms = 100 };
	struct risk_db *db;
	sqlite3 *h;
	char err[RISK_ERRLEN];
	FILE *fp;

	(void)state;
	assert_int_equal(sqlite3_open("foreign.db", &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE t(x); PRAGMA "
	    "user_version=7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	o.path = "foreign.db";
	assert_int_equal(risk_db_open(&db, &o, err), RISK_EDB);
	assert_non_null(strstr(err, "not a risk database"));
	/* untouched: still its own user_version and no WAL */
	assert_int_equal(sqlite3_open("foreign.db", &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "SELECT x FROM t", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(access("foreign.db-wal", F_OK), -1);

	fp = fopen("text.db", "w");
	fputs("this is not a database at all, not even close........"
	    "................................................\n", fp);
	fclose(fp);
	o.path = "text.db";
	assert_int_equal(risk_db_open(&db, &o, err), RISK_EDB);
	assert_non_null(strstr(err, "not a risk database"));

	db = fresh(NULL);
	assert_int_equal(risk_db_exec(db, "PRAGMA user_version=99", err),
	    RISK_OK);
	risk_db_close(db);
	{
		char path[64];

		snprintf(path, sizeof path, "t%d/risk.db", test_seq);
		o.path = path;
		assert_int_equal(risk_db_open(&db, &o, err), RISK_EDB);
		assert_non_null(strstr(err, "newer"));
	}
}

static void
test_readonly_missing_and_stage(void **state)
{
	struct risk_db_opts o = { .busy_ms = 100, .readonly = true };
	struct risk_db *db;
	char err[RISK_ERRLEN], path[128];

	(void)state;
	o.path = "nothere/risk.db";
	assert_int_equal(risk_db_open(&db, &o, err), RISK_EDB);
	assert_string_equal(err, "nothere/risk.db: no database yet");
	assert_int_equal(access("nothere", F_OK), -1);	/* nothing made */
	o.readonly = false;
	o.nocreate = true;	/* may write, never create */
	assert_int_equal(risk_db_open(&db, &o, err), RISK_EDB);
	assert_int_equal(access("nothere", F_OK), -1);
	o.nocreate = false;
	o.stage = "dev";
	o.path = "x/risk.db";
	assert_int_equal(risk_db_path(&o, path, sizeof path, err), RISK_OK);
	assert_string_equal(path, "x/risk-dev.db");
	o.stage = "../evil";
	assert_int_equal(risk_db_path(&o, path, sizeof path, err),
	    RISK_EINVAL);
	o.stage = NULL;
	o.path = NULL;
	setenv("XDG_STATE_HOME", "/st", 1);
	assert_int_equal(risk_db_path(&o, path, sizeof path, err), RISK_OK);
	assert_string_equal(path, "/st/risk/risk.db");
}

static void
test_locked(void **state)
{
	struct risk_db *a = fresh(NULL), *b;
	struct risk_db_opts o = { .busy_ms = 100 };
	char err[RISK_ERRLEN], path[64];
	bool isnew, queued;

	(void)state;
	snprintf(path, sizeof path, "t%d/risk.db", test_seq);
	o.path = path;
	assert_int_equal(risk_db_open(&b, &o, err), RISK_OK);
	assert_int_equal(risk_db_begin(a, err), RISK_OK);
	assert_int_equal(risk_enqueue(b, "L", 0, &isnew, &queued, err),
	    RISK_EBUSY);
	assert_non_null(strstr(err, "locked"));
	risk_db_rollback(a);
	assert_int_equal(risk_enqueue(b, "L", 0, &isnew, &queued, err),
	    RISK_OK);
	risk_db_close(a);
	risk_db_close(b);
}

/* A long-lived reader: replaced files are noticed, settling ends any
 * snapshot so that another connection's checkpoint can reset the WAL. */
static void
test_replaced_and_settle(void **state)
{
	struct risk_db *db = fresh("q.db"), *other;
	struct risk_db_opts o = { .busy_ms = 200 };
	struct risk_record r;
	sqlite3 *h;
	sqlite3_stmt *st;
	char path[64], qpath[64], err[RISK_ERRLEN];
	int busy = -1;

	(void)state;
	snprintf(path, sizeof path, "t%d/risk.db", test_seq);
	snprintf(qpath, sizeof qpath, "t%d/q.db", test_seq);
	assert_false(risk_db_replaced(db));
	put(db, "A1", "ok", 0, 1000, true);

	/* a statement left stepping holds a snapshot; settle resets it */
	assert_int_equal(risk_db_begin_read(db, err), RISK_OK);
	assert_int_equal(risk_record_get(db, "A1", &r, err), RISK_OK);
	risk_db_settle(db);
	assert_false(risk_db_in_txn(db));
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h,
	    "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	busy = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	assert_int_equal(busy, 0);

	/* the same file rewritten in place is not "replaced" */
	o.path = path;
	o.queue = qpath;
	assert_int_equal(risk_db_open(&other, &o, err), RISK_OK);
	put(other, "A2", "ok", 0, 1000, true);
	risk_db_close(other);
	assert_false(risk_db_replaced(db));

	/* another file moved into place, for either path, or none */
	assert_int_equal(rename(path, "moved.db"), 0);
	assert_true(risk_db_replaced(db));
	assert_int_equal(rename("moved.db", path), 0);
	assert_false(risk_db_replaced(db));
	assert_int_equal(link(qpath, "q-copy.db"), 0);
	assert_int_equal(unlink(qpath), 0);
	assert_true(risk_db_replaced(db));		/* gone */
	assert_int_equal(rename("q-copy.db", qpath), 0);
	assert_false(risk_db_replaced(db));	/* the same inode back */
	risk_db_close(db);
}

/* Run sql on path through a connection of its own (the attacker's). */
static void
plant(const char *path, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 2000);
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("plant: %s", sqlite3_errmsg(h));
	sqlite3_close(h);
}

/*
 * The settings every connection gets.  trusted_schema=off: a trigger in
 * the file may not call a function that is not marked innocuous (the
 * JSON functions are not), so the ack's DELETE fails instead of putting
 * the company back.  defensive=on: the connection cannot be made to
 * rewrite sqlite_schema.
 */
static void
test_sqlite_settings(void **state)
{
	struct risk_db *db = fresh(NULL);
	struct risk_entry e[2];
	char path[64], err[RISK_ERRLEN];
	bool isnew, queued;
	int n;

	(void)state;
	snprintf(path, sizeof path, "t%d/risk.db", test_seq);
	assert_int_equal(risk_enqueue(db, "X", 0, &isnew, &queued, err),
	    RISK_OK);
	plant(path, "CREATE TRIGGER again AFTER DELETE ON queue BEGIN"
	    " INSERT INTO queue (id, due, enqueued_at) VALUES"
	    " (json_extract('{\"i\":\"X\"}', '$.i'), 0, 0); END");
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	assert_int_equal(risk_claim(db, 1000, 30000, 2, 0, 5, e, &n, err),
	    RISK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(risk_ack(db, &e[0], err), RISK_EDB);
	assert_non_null(strstr(err, "unsafe use of json_extract"));
	risk_db_rollback(db);

	assert_int_not_equal(risk_db_exec(db, "PRAGMA writable_schema=ON;"
	    " UPDATE sqlite_schema SET sql = replace(sql, 'STRICT, ', '')"
	    " WHERE name = 'record'", err), RISK_OK);
	risk_db_close(db);
}

/*
 * A queue file of its own is checked at open, and a trigger planted in it
 * after the open never runs: the claim is refused instead.
 */
static void
test_queue_file_planted(void **state)
{
	struct risk_db *db = fresh("queue.db");
	struct risk_db_opts o = { .busy_ms = 200 };
	struct risk_entry e[2];
	char path[64], qpath[64], err[RISK_ERRLEN];
	bool isnew, queued;
	int n;

	(void)state;
	snprintf(path, sizeof path, "t%d/risk.db", test_seq);
	snprintf(qpath, sizeof qpath, "t%d/queue.db", test_seq);
	assert_int_equal(risk_enqueue(db, "X", 0, &isnew, &queued, err),
	    RISK_OK);
	plant(qpath, "CREATE TRIGGER again AFTER UPDATE ON queue BEGIN"
	    " INSERT INTO queue (id, due, enqueued_at) VALUES"
	    " ('Y' || new.id, 0, 0); END");
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	assert_int_equal(risk_claim(db, 1000, 30000, 2, 0, 5, e, &n, err),
	    RISK_EDB);
	assert_non_null(strstr(err, "refused: the queue file holds a trigger"));
	risk_db_rollback(db);
	risk_db_close(db);

	o.path = path;
	o.queue = qpath;
	assert_int_equal(risk_db_open(&db, &o, err), RISK_EDB);
	assert_non_null(strstr(err, "refused: the queue file's trigger "
	    "\"again\" was not made by risk"));
	plant(qpath, "DROP TRIGGER again");
	assert_int_equal(risk_db_open(&db, &o, err), RISK_OK);
	risk_db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_upsert),
		cmocka_unit_test(test_record_get_many),
		cmocka_unit_test(test_record_each_and_invalid),
		cmocka_unit_test(test_queue_dedupe_and_order),
		cmocka_unit_test(test_queue_lease_expiry_and_lost_ack),
		cmocka_unit_test(test_queue_cap),
		cmocka_unit_test(test_queue_backoff_retry_after_dead),
		cmocka_unit_test(test_backoff_clamp_largest),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_redrive),
		/* from here on about SQLite's files: a queue file of its
		 * own, foreign files, locks, a file replaced, pragmas */
		cmocka_unit_test(test_split_queue_file),
		cmocka_unit_test(test_foreign_and_newer_files),
		cmocka_unit_test(test_readonly_missing_and_stage),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_replaced_and_settle),
		cmocka_unit_test(test_sqlite_settings),
		cmocka_unit_test(test_queue_file_planted),
	};

	size_t n = 0, all = sizeof tests / sizeof tests[0];

	/* on PostgreSQL, those before the first about SQLite's files */
	while (n < all && (test_pg_uri() == NULL ||
	    tests[n].test_func != test_split_queue_file))
		n++;
	return _cmocka_run_group_tests("test_db", tests, n, NULL, NULL);
}

/*
 * test_pg_queue.c — the queue and the dead letters on PostgreSQL,
 * through the public API, on the server RISK_TEST_PG_URI names
 * (tests/run starts one): what is PostgreSQL's own (connections and
 * processes sharing the cap, rows held by another transaction, rows
 * written by hand past the schema's checks) and what test_db.c, whose
 * queue cases run here too, does not test.  Each test has a stage, so a
 * schema, of its own, dropped at its end.  Without a server the tests
 * are skipped, except under CI, where that is a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "risk.h"

static int seq;
static char stage[32];

static struct risk_db *
open_stage(const char *st)
{
	struct risk_db_opts o = { .busy_ms = 5000 };
	const char *uri = getenv("RISK_TEST_PG_URI");
	struct risk_db *db;
	char err[RISK_ERRLEN];

	o.path = uri;
	o.stage = st;
	if (risk_db_open(&db, &o, err) != RISK_OK)
		fail_msg("open: %s", err);
	return db;
}

/* A fresh database per test: a stage of its own on the server. */
static struct risk_db *
fresh(void)
{
	const char *uri = getenv("RISK_TEST_PG_URI");
	const char *ci = getenv("CI");

	if (uri == NULL || *uri == '\0') {
		if (ci != NULL && strcmp(ci, "true") == 0)
			fail_msg("RISK_TEST_PG_URI is not set (under CI)");
		skip();
	}
	snprintf(stage, sizeof stage, "pgq%ld_%d", (long)getpid(), ++seq);
	return open_stage(stage);
}

static void
done(struct risk_db *db)
{
	char err[RISK_ERRLEN], sql[96];

	snprintf(sql, sizeof sql, "DROP SCHEMA risk_%s CASCADE", stage);
	if (risk_db_exec(db, sql, err) != RISK_OK)
		fail_msg("%s: %s", sql, err);
	risk_db_close(db);
}

static void
sql(struct risk_db *db, const char *q)
{
	char err[RISK_ERRLEN];

	if (risk_db_exec(db, q, err) != RISK_OK)
		fail_msg("%s: %s", q, err);
}

static void
enqp(struct risk_db *db, const char *id, int64_t due, enum risk_priority p,
    bool want_new, bool want_queued)
{
	char err[RISK_ERRLEN];
	bool isnew, queued;

	if (risk_enqueue_prio(db, id, due, p, &isnew, &queued, err) !=
	    RISK_OK)
		fail_msg("enqueue %s: %s", id, err);
	assert_int_equal(isnew, want_new);
	assert_int_equal(queued, want_queued);
}

static void
enq(struct risk_db *db, const char *id, int64_t due, bool want_new,
    bool want_queued)
{
	enqp(db, id, due, RISK_PRIO_NORMAL, want_new, want_queued);
}

static int
claimx(struct risk_db *db, int64_t now, int max, int cap, int max_attempts,
    struct risk_entry *out)
{
	char err[RISK_ERRLEN];
	int n;

	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	if (risk_claim(db, now, 30000, max, cap, max_attempts, out, &n, err) !=
	    RISK_OK)
		fail_msg("claim: %s", err);
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	return n;
}

static int
claim(struct risk_db *db, int64_t now, int max, int cap,
    struct risk_entry *out)
{
	return claimx(db, now, max, cap, 1000, out);
}

static void
test_next_due_and_leased(void **state)
{
	struct risk_db *db = fresh();
	struct risk_entry e[4];
	char err[RISK_ERRLEN];
	int64_t due;
	int n;

	(void)state;
	assert_int_equal(risk_queue_next_due(db, &due, err), RISK_OK);
	assert_true(due == INT64_MAX);
	enqp(db, "A", 7000, RISK_PRIO_LOW, true, true);
	enqp(db, "B", 9000, RISK_PRIO_HIGH, true, true);
	enq(db, "C", 5000, true, true);
	assert_int_equal(risk_queue_next_due(db, &due, err), RISK_OK);
	assert_int_equal(due, 5000);
	assert_int_equal(claim(db, 6000, 1, 0, e), 1);	/* C, leased */
	assert_int_equal(risk_queue_next_due(db, &due, err), RISK_OK);
	assert_int_equal(due, 7000);
	assert_int_equal(risk_queue_leased(db, 6000, &n, err), RISK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(risk_queue_leased(db, 6000 + 30000, &n, err),
	    RISK_OK);
	assert_int_equal(n, 0);			/* run out */
	done(db);
}

static void
test_release_defer(void **state)
{
	struct risk_db *db = fresh();
	struct risk_entry e;
	char err[RISK_ERRLEN];

	(void)state;
	enq(db, "R", 0, true, true);
	assert_int_equal(claim(db, 1000, 1, 0, &e), 1);
	assert_int_equal(risk_defer(db, &e, "service down", 5000, err),
	    RISK_OK);
	assert_int_equal(claim(db, 4999, 1, 0, &e), 0);
	assert_int_equal(claim(db, 5000, 1, 0, &e), 1);
	assert_int_equal(e.attempts, 1);	/* the deferral did not count */
	assert_string_equal(e.last_error, "service down");
	assert_int_equal(risk_release(db, &e, err), RISK_OK);
	assert_int_equal(claim(db, INT64_C(1) << 50, 1, 0, &e), 1);
	assert_int_equal(e.attempts, 1);
	done(db);
}

static void
test_cap_and_forged_lease(void **state)
{
	struct risk_db *db = fresh();
	struct risk_db *other = open_stage(stage);
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
	/* another connection (another host) sees the same leases */
	assert_int_equal(claim(other, 1000, 8, 3, e + 3), 0);
	assert_int_equal(risk_queue_leased(other, 1000, &n, err), RISK_OK);
	assert_int_equal(n, 3);
	assert_int_equal(risk_ack(other, &e[0], err), RISK_OK);
	assert_int_equal(claim(other, 1000, 8, 3, e + 3), 1);	/* one freed */
	/* leases of a dead worker count until they run out */
	assert_int_equal(claim(db, 1000 + 30000, 8, 3, e), 3);
	/* a lease longer than any drainer grants is no lease */
	sql(db, "UPDATE queue SET token = 7, due = 9000000000000"
	    " WHERE id = 'K7'");
	assert_int_equal(risk_queue_leased(db, 31000, &n, err), RISK_OK);
	assert_int_equal(n, 3);
	/* K1..K3 ran out at 31000; K7's forged lease runs out now */
	assert_int_equal(claim(db, 31000, 8, 0, e), 4);
	assert_string_equal(e[3].id, "K7");
	risk_db_close(other);
	done(db);
}

struct walk {
	struct risk_db *db;
	int n;
	int64_t last;
	char lastid[RISK_ID_MAX + 1];
};

static int
walk(const struct risk_dead *d, void *arg)
{
	struct walk *w = arg;
	struct risk_dead again;
	char err[RISK_ERRLEN];

	/* in order, each once, and the connection free for other calls */
	assert_true(d->died_at > w->last || (d->died_at == w->last &&
	    strcmp(d->id, w->lastid) > 0));
	assert_int_equal(risk_dead_get(w->db, d->id, &again, err), RISK_OK);
	assert_string_equal(again.reason, d->reason);
	w->last = d->died_at;
	snprintf(w->lastid, sizeof w->lastid, "%s", d->id);
	return ++w->n == 2600 ? 42 : 0;
}

static void
test_dead_each_pages(void **state)
{
	struct risk_db *db = fresh();
	struct walk w = { .db = db, .last = INT64_MIN };
	char err[RISK_ERRLEN];

	(void)state;
	assert_int_equal(risk_dead_each(db, walk, &w, err), RISK_OK);
	assert_int_equal(w.n, 0);
	/* 2500 in groups of ten that died at the same time: pages of 1000
	 * end inside a group */
	sql(db, "INSERT INTO dead (id, reason, attempts, enqueued_at,"
	    " died_at) SELECT 'Z' || g, 'r' || g, 1, 0, g / 10"
	    " FROM generate_series(1, 2500) g");
	assert_int_equal(risk_dead_each(db, walk, &w, err), RISK_OK);
	assert_int_equal(w.n, 2500);
	/* a callback's non-zero stops the walk with that value */
	sql(db, "INSERT INTO dead (id, reason, attempts, enqueued_at,"
	    " died_at) SELECT 'Y' || g, 'r', 1, 0, 1000 + g"
	    " FROM generate_series(1, 500) g");
	w.n = 0;
	w.last = INT64_MIN;
	assert_int_equal(risk_dead_each(db, walk, &w, err), 42);
	assert_int_equal(w.n, 2600);
	done(db);
}

/* Rows no worker wrote: the claim settles them itself, and they never
 * come back. */
static void
test_hostile_rows(void **state)
{
	struct risk_db *db = fresh();
	struct risk_entry e[8];
	struct risk_dead d;
	char err[RISK_ERRLEN];
	int n;

	(void)state;
	sql(db, "INSERT INTO queue (id, due, enqueued_at, attempts)"
	    " VALUES ('T1', 0, 5, 3), ('T2', 1, 5, 0), ('T3', 2, 5, 0)");
	/* a company in both places is a dead letter */
	sql(db, "INSERT INTO dead (id, reason, attempts, enqueued_at,"
	    " died_at) VALUES ('T2', 'gone', 3, 1, 1)");
	/* an ID that the schema's check would refuse */
	sql(db, "ALTER TABLE queue DROP CONSTRAINT queue_id_check");
	sql(db, "INSERT INTO queue (id, due, enqueued_at)"
	    " VALUES ('../etc/passwd', 3, 5), (repeat('W', 100), 4, 5),"
	    " (E'bad\\x1bid', 5, 5)");
	n = claimx(db, 1000, 8, 0, 3, e);
	assert_int_equal(n, 6);
	assert_string_equal(e[0].id, "T1");	/* claimed 3 times: dead */
	assert_int_equal(e[0].buried, RISK_BURY_DEAD);
	assert_int_equal(e[0].attempts, 3);
	assert_non_null(strstr(e[0].last_error, "no answer in 3 attempts"));
	assert_string_equal(e[1].id, "T2");
	assert_int_equal(e[1].buried, RISK_BURY_DROP);
	assert_non_null(strstr(e[1].last_error, "a dead letter"));
	assert_string_equal(e[2].id, "T3");
	assert_int_equal(e[2].buried, RISK_BURY_NO);
	assert_int_equal(e[3].buried, RISK_BURY_DEAD);
	assert_string_equal(e[3].last_error, "invalid company id");
	assert_int_equal(e[4].buried, RISK_BURY_DEAD);
	assert_string_equal(e[4].last_error, "invalid company id (100 bytes)");
	assert_int_equal(e[5].buried, RISK_BURY_DEAD);
	assert_null(strchr(e[5].id, '\x1b'));	/* printable */
	/* only T3 is left, leased */
	assert_int_equal(risk_queue_leased(db, 1000, &n, err), RISK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(claimx(db, INT64_C(1) << 50, 8, 0, 3, e), 1);
	assert_string_equal(e[0].id, "T3");
	assert_int_equal(risk_dead_get(db, "T1", &d, err), RISK_OK);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(risk_dead_get(db, "T2", &d, err), RISK_OK);
	assert_string_equal(d.reason, "gone");	/* left as it was */
	done(db);
}

/* Drainers in separate processes, each its own connection: no company is
 * claimed twice and the cap holds across all of them. */
static void
test_processes_share(void **state)
{
	enum { IDS = 300, PROCS = 4, CAP = 6 };
	struct risk_db *db = fresh();
	char err[RISK_ERRLEN], buf[64];
	int fd[2], i, st, seen[IDS] = { 0 }, total = 0;
	pid_t pid[PROCS];
	FILE *fp;

	(void)state;
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	for (i = 0; i < IDS; i++) {
		bool isnew, queued;

		snprintf(buf, sizeof buf, "M%d", i);
		assert_int_equal(risk_enqueue(db, buf, 0, &isnew, &queued,
		    err), RISK_OK);
	}
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	assert_int_equal(pipe(fd), 0);
	for (i = 0; i < PROCS; i++) {
		assert_true((pid[i] = fork()) >= 0);
		if (pid[i] == 0) {
			struct risk_db *c = open_stage(stage);
			struct risk_entry e[4];
			int n, j, leased, bad = 0;

			close(fd[0]);
			for (;;) {
				if (risk_db_begin(c, err) != RISK_OK ||
				    risk_claim(c, risk_now_ms(), 60000, 4,
				    CAP, 5, e, &n, err) != RISK_OK ||
				    risk_queue_leased(c, risk_now_ms(),
				    &leased, err) != RISK_OK ||
				    risk_db_commit(c, err) != RISK_OK)
					_exit(3);
				if (leased > CAP)
					bad = 1;
				if (n == 0 && leased == 0)
					break;
				for (j = 0; j < n; j++) {
					dprintf(fd[1], "%s\n", e[j].id);
					if (risk_ack(c, &e[j], err) != RISK_OK)
						_exit(4);
				}
				if (n == 0)
					usleep(1000);
			}
			risk_db_close(c);
			_exit(bad);
		}
	}
	close(fd[1]);
	assert_non_null(fp = fdopen(fd[0], "r"));
	while (fgets(buf, sizeof buf, fp) != NULL) {
		i = atoi(buf + 1);
		assert_true(i >= 0 && i < IDS);
		seen[i]++;
		total++;
	}
	fclose(fp);
	for (i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(total, IDS);
	for (i = 0; i < IDS; i++)
		assert_int_equal(seen[i], 1);
	done(db);
}

/*
 * An enqueue never waits for a row another transaction holds: a drainer
 * settling a batch (here: an ack not yet committed) and a batch of
 * enqueues naming the same companies in another order would deadlock.
 * The row is left alone, and still counts as queued.
 */
static void
test_enqueue_passes_held_row(void **state)
{
	struct risk_db *a = fresh(), *b;
	struct risk_db_opts o = { .busy_ms = 300 };
	struct risk_entry e[2];
	char err[RISK_ERRLEN];
	bool isnew, queued;
	int64_t t0;

	(void)state;
	enq(a, "H1", 1000, true, true);
	enq(a, "H2", 1000, true, true);
	assert_int_equal(claimx(a, 2000, 2, 0, 5, e), 2);
	o.path = getenv("RISK_TEST_PG_URI");
	o.stage = stage;
	if (risk_db_open(&b, &o, err) != RISK_OK)
		fail_msg("open: %s", err);
	/* a holds H1's row: its ack is not committed */
	assert_int_equal(risk_db_begin(a, err), RISK_OK);
	assert_int_equal(risk_ack(a, &e[0], err), RISK_OK);
	t0 = risk_mono_ms();
	assert_int_equal(risk_db_begin(b, err), RISK_OK);
	if (risk_enqueue_prio(b, e[0].id, 1000, RISK_PRIO_HIGH, &isnew,
	    &queued, err) != RISK_OK)
		fail_msg("enqueue of a held row: %s", err);
	assert_false(isnew);
	assert_true(queued);
	/* and one no one holds is changed as ever */
	enqp(b, e[1].id, 1000, RISK_PRIO_HIGH, false, true);
	assert_int_equal(risk_db_commit(b, err), RISK_OK);
	assert_true(risk_mono_ms() - t0 < 300);	/* never waited */
	assert_int_equal(risk_db_commit(a, err), RISK_OK);
	risk_db_close(b);
	done(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_due_and_leased),
		cmocka_unit_test(test_release_defer),
		cmocka_unit_test(test_cap_and_forged_lease),
		cmocka_unit_test(test_dead_each_pages),
		cmocka_unit_test(test_hostile_rows),
		cmocka_unit_test(test_processes_share),
		cmocka_unit_test(test_enqueue_passes_held_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_ops.c — retention (purge.c), figures (stat.c) and dump lines
 * (map.c's risk__map_line) on real SQLite files in the current
 * (temporary) folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "fresh.h"

static struct risk_db *
fresh(void)
{
	return test_fresh("o");
}

static void
put(struct risk_db *db, const char *id, int64_t fetched)
{
	struct risk_record r = { .found = true, .fetched_at = fetched };
	char err[RISK_ERRLEN];

	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.status, sizeof r.status, "reliable");
	assert_int_equal(risk_record_put(db, &r, NULL, err), RISK_OK);
}

static void
exec(struct risk_db *db, const char *sql)
{
	char err[RISK_ERRLEN];

	if (risk_db_exec(db, sql, err) != RISK_OK)
		fail_msg("%s: %s", sql, err);
}

struct seen {
	int n;
	int stop_at;		/* the callback says stop at this row */
	int flush_fail;		/* flush says stop on this call */
	int flushes;
	char last[RISK_ID_MAX + 1];
};

static int
on_record(const struct risk_record *r, void *arg)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof s->last, "%s", r->id);
	return s->n == s->stop_at;
}

static int
on_flush(void *arg)
{
	struct seen *s = arg;

	return ++s->flushes == s->flush_fail;
}

static long
records(struct risk_db *db)
{
	struct seen s = { 0 };
	char err[RISK_ERRLEN];
	struct risk_purge p = { .before_ms = INT64_MAX, .dry_run = true,
	    .record = on_record, .arg = &s };
	long n;

	assert_int_equal(risk_purge_records(db, &p, &n, err), RISK_OK);
	return n;
}

/* Old rows far apart: each batch's scan window (16 x batch) holds none
 * or one of them, and the walk still finds every one. */
static void
test_purge_sparse_batches(void **state)
{
	struct risk_db *db = fresh();
	struct seen s = { 0 };
	struct risk_purge p = { .before_ms = 1000, .batch = 2,
	    .record = on_record, .flush = on_flush, .arg = &s };
	char err[RISK_ERRLEN], id[16];
	long n;
	int i;

	(void)state;
	exec(db, "BEGIN");
	for (i = 0; i < 500; i++) {
		snprintf(id, sizeof id, "K%04d", i);
		put(db, id, i % 45 == 0 ? 500 : 5000);	/* 12 old */
	}
	exec(db, "COMMIT");
	p.dry_run = true;
	assert_int_equal(risk_purge_records(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 12);
	assert_int_equal(records(db), 500);	/* the dry run kept all */
	p.dry_run = false;
	s.n = 0;
	assert_int_equal(risk_purge_records(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 12);
	assert_int_equal(s.n, 12);
	assert_string_equal(s.last, "K0495");
	assert_int_equal(records(db), 488);
	assert_int_equal(risk_purge_records(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 0);
	risk_db_close(db);
}

/* A callback or flush that says stop rolls its batch back. */
static void
test_purge_stop_rolls_back(void **state)
{
	struct risk_db *db = fresh();
	struct seen s = { .flush_fail = 2 };
	struct risk_purge p = { .before_ms = 1000, .batch = 3,
	    .record = on_record, .flush = on_flush, .arg = &s };
	char err[RISK_ERRLEN], id[16];
	long n;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "P%d", i);
		put(db, id, 1);
	}
	/* batch 1 commits (3), batch 2's flush fails: rolled back */
	assert_int_equal(risk_purge_records(db, &p, &n, err), 1);
	assert_int_equal(n, 3);
	assert_int_equal(records(db), 7);
	/* a row callback that stops in the middle of a batch */
	s = (struct seen){ .stop_at = 2 };
	assert_int_equal(risk_purge_records(db, &p, &n, err), 1);
	assert_int_equal(n, 0);
	assert_int_equal(records(db), 7);
	risk_db_close(db);
}

static int
on_dead(const struct risk_dead *d, void *arg)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof s->last, "%s", d->id);
	return 0;
}

static void
test_purge_dead_and_log(void **state)
{
	struct risk_db *db = fresh();
	struct seen s = { 0 };
	struct risk_purge p = { .before_ms = 1000, .batch = 2,
	    .dead = on_dead, .arg = &s, .dry_run = true };
	struct risk_log_entry e = { .id = "L", .outcome = RISK_OUT_STORED,
	    .http = 200, .ms = 3 };
	struct risk_run run = { .claimed = 1 };
	char err[RISK_ERRLEN];
	long n, nrun;
	int i;

	(void)state;
	/* equal death times: the (died_at, id) walk must not skip ties */
	exec(db, "INSERT INTO dead VALUES('D1','x',5,0,1,500),"
	    "('D2','x',5,0,1,500),('D3','x',5,0,1,500),('D4','x',5,0,1,500),"
	    "('D5','x',5,0,1,999),('D6','x',5,0,1,1000)");
	assert_int_equal(risk_purge_dead(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 5);
	assert_string_equal(s.last, "D5");
	p.dry_run = false;
	assert_int_equal(risk_purge_dead(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 5);
	p.dry_run = true;
	p.before_ms = INT64_MAX;
	assert_int_equal(risk_purge_dead(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 1);		/* D6, died at the cutoff, stayed */

	for (i = 0; i < 7; i++) {
		e.at = i < 5 ? 100 : 2000;
		assert_int_equal(risk_log_put(db, &e, err), RISK_OK);
	}
	run.started_at = 10;
	run.ended_at = 20;
	assert_int_equal(risk_run_put(db, &run, err), RISK_OK);
	p.before_ms = 1000;
	assert_int_equal(risk_purge_log(db, &p, &n, &nrun, err), RISK_OK);
	assert_int_equal(n, 5);
	assert_int_equal(nrun, 1);
	p.dry_run = false;
	assert_int_equal(risk_purge_log(db, &p, &n, &nrun, err), RISK_OK);
	assert_int_equal(n, 5);
	assert_int_equal(nrun, 1);
	assert_int_equal(risk_purge_log(db, &p, &n, &nrun, err), RISK_OK);
	assert_int_equal(n + nrun, 0);
	assert_int_equal(risk_vacuum(db, NULL, NULL, err), RISK_OK);
	risk_db_close(db);
}

static int
on_log(int64_t sq, const struct risk_log_entry *e, void *arg)
{
	struct seen *s = arg;

	(void)sq;
	s->n++;
	snprintf(s->last, sizeof s->last, "%s", e->id);
	return 0;
}

static void
test_stat_and_log(void **state)
{
	struct risk_db *db = fresh();
	struct risk_stat_opts o = { .now_ms = 1000000, .max_age_ms = 1000,
	    .nf_max_age_ms = 100, .window_ms = 10000 };
	struct risk_stat st;
	struct risk_log_entry e = { .outcome = RISK_OUT_RETRY, .ms = 250 };
	struct seen s = { 0 };
	char err[RISK_ERRLEN];
	bool isnew, queued;
	int64_t sq = 0;

	(void)state;
	put(db, "F", 999500);		/* fresh */
	put(db, "S", 998000);		/* stale */
	exec(db, "INSERT INTO record (id, status, changed_at, fetched_at)"
	    " VALUES ('N', NULL, 0, 999950), ('M', NULL, 0, 999000)");
	assert_int_equal(risk_enqueue(db, "Q1", 990000, &isnew, &queued,
	    err), RISK_OK);
	assert_int_equal(risk_enqueue(db, "Q2", 2000000, &isnew, &queued,
	    err), RISK_OK);
	e.id = "Q1";
	e.at = 995000;
	assert_int_equal(risk_log_put(db, &e, err), RISK_OK);
	/* a name this version does not know counts as other */
	exec(db, "INSERT INTO fetch_log (at, id, outcome, http, ms, reason)"
	    " VALUES (995000, 'Q1', 'weird', NULL, 250, NULL)");
	e.at = 1;			/* outside the window */
	e.id = "OLD";
	assert_int_equal(risk_log_put(db, &e, err), RISK_OK);

	assert_int_equal(risk_stat_get(db, &o, &st, err), RISK_OK);
	assert_int_equal(st.due, 1);
	assert_int_equal(st.delayed, 1);
	assert_int_equal(st.leased, 0);
	assert_int_equal(st.oldest_due_ms, 10000);
	assert_int_equal(st.fresh, 1);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.not_found, 1);
	assert_int_equal(st.not_found_stale, 1);
	assert_false(st.have_run);
	assert_int_equal(st.outcome[RISK_OUT_RETRY], 1);
	assert_int_equal(st.outcome_other, 1);
	assert_int_equal(st.fetch_ms, 500);

	assert_int_equal(risk_log_each(db, 900000, NULL, &sq, on_log, &s,
	    err), RISK_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(sq, 2);
	e.id = "NEW";
	assert_int_equal(risk_log_put(db, &e, err), RISK_OK);
	s.n = 0;
	assert_int_equal(risk_log_each(db, 0, NULL, &sq, on_log, &s, err),
	    RISK_OK);
	assert_int_equal(s.n, 2);	/* after row 2: OLD and NEW */
	assert_string_equal(s.last, "NEW");
	sq = 0;
	s.n = 0;
	assert_int_equal(risk_log_each(db, 0, "OLD", &sq, on_log, &s, err),
	    RISK_OK);
	assert_int_equal(s.n, 1);
	risk_db_close(db);
}

static void
test_map_line(void **state)
{
	struct risk__map *m, *jq;
	struct risk_record r;
	char err[RISK_ERRLEN];
	const char *l;

	(void)state;
	assert_int_equal(risk__map_new(&m, NULL, err), RISK_OK);
	l = "{\"id\":\"A-1\",\"status\":\"reliable\",\"changedAt\":\"1970-01-02\"}";
	memset(&r, 0, sizeof r);
	assert_int_equal(risk__map_line(m, l, strlen(l), "id", &r, err),
	    RISK_OK);
	assert_string_equal(r.id, "A-1");
	assert_string_equal(r.status, "reliable");
	assert_int_equal(r.changed_at, 86400);
	l = "{\"k\":12345678901,\"status\":\"x\"}";
	assert_int_equal(risk__map_line(m, l, strlen(l), "k", &r, err),
	    RISK_OK);
	assert_string_equal(r.id, "12345678901");
	l = "{\"k\":-1,\"status\":\"x\"}";
	assert_int_equal(risk__map_line(m, l, strlen(l), "k", &r, err),
	    RISK_EINVAL);
	l = "{\"id\":\"../x\",\"status\":\"x\"}";
	assert_int_equal(risk__map_line(m, l, strlen(l), "id", &r, err),
	    RISK_EINVAL);
	l = "{\"id\":[],\"status\":\"x\"}";
	assert_int_equal(risk__map_line(m, l, strlen(l), "id", &r, err),
	    RISK_EINVAL);
	assert_string_equal(err, "\"id\": not a string or a number");
	l = "\"just a string\"";
	assert_int_equal(risk__map_line(m, l, strlen(l), "id", &r, err),
	    RISK_EINVAL);
	l = "{\"id\":\"A\"} {\"id\":\"B\"}";
	assert_int_not_equal(risk__map_line(m, l, strlen(l), "id", &r, err),
	    RISK_OK);
	assert_int_equal(risk__map_new(&jq, "{status: .s}", err), RISK_OK);
	l = "{\"id\":\"J\",\"s\":\"indebted\"}";
	assert_int_equal(risk__map_line(jq, l, strlen(l), "id", &r, err),
	    RISK_OK);
	assert_string_equal(r.id, "J");
	assert_string_equal(r.status, "indebted");
	risk__map_free(jq);
	risk__map_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_purge_sparse_batches),
		cmocka_unit_test(test_purge_stop_rolls_back),
		cmocka_unit_test(test_purge_dead_and_log),
		cmocka_unit_test(test_stat_and_log),
		cmocka_unit_test(test_map_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

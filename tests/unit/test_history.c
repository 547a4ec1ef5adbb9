/*
 * test_history.c — the status history (history.c, record.c's part) and
 * the watch list (idset.c) on real SQLite files in the current
 * (temporary) folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "risk.h"
#include "fresh.h"

static struct risk_db *
fresh(void)
{
	return test_fresh("h");
}

/* Store id with status (NULL: not found) fetched at ms; was it stored? */
static bool
put(struct risk_db *db, const char *id, const char *status, int64_t ms)
{
	struct risk_record r = { .found = status != NULL, .fetched_at = ms };
	char err[RISK_ERRLEN];
	bool stored;

	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.status, sizeof r.status, "%s", status ? status : "");
	if (risk_record_put(db, &r, &stored, err) != RISK_OK)
		fail_msg("put: %s", err);
	return stored;
}

struct seen {
	int n;
	char line[16][96];	/* "seq id status previous|null|nf first" */
};

static int
on_change(const struct risk_change *c, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16)
		snprintf(s->line[s->n], sizeof s->line[0], "%lld %s %s %s",
		    (long long)c->seq, c->id, c->status ? c->status : "-",
		    c->first ? "null" : c->previous ? c->previous : "-");
	s->n++;
	return 0;
}

static struct seen
feed(struct risk_db *db, const struct risk_idset *w, int64_t *after)
{
	struct seen s = { 0 };
	char err[RISK_ERRLEN];

	if (risk_history_each(db, w, after, on_change, &s, err) != RISK_OK)
		fail_msg("each: %s", err);
	return s;
}

static void
test_what_is_a_change(void **state)
{
	struct risk_db *db = fresh();
	struct seen s;
	int64_t at = 0, last;
	char err[RISK_ERRLEN];

	(void)state;
	assert_true(put(db, "A", "reliable", 1000));	/* first answer */
	assert_true(put(db, "A", "reliable", 2000));	/* same: none */
	assert_true(put(db, "A", "indebted", 3000));	/* flip */
	assert_false(put(db, "A", "reliable", 2500));	/* older: none */
	assert_true(put(db, "A", NULL, 4000));		/* not found */
	assert_true(put(db, "A", NULL, 5000));		/* again: none */
	assert_true(put(db, "A", "reliable", 6000));	/* back */
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.line[0], "1 A reliable null");
	assert_string_equal(s.line[1], "2 A indebted reliable");
	assert_string_equal(s.line[2], "3 A - indebted");
	assert_string_equal(s.line[3], "4 A reliable -");
	assert_int_equal(at, 4);
	assert_int_equal(risk_history_last(db, &last, err), RISK_OK);
	assert_int_equal(last, 4);
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 0);
	risk_db_close(db);
}

/* A company whose record is gone is compared with its newest history
 * row: refetched the same, no change; another status, not a first. */
static void
test_record_gone(void **state)
{
	struct risk_db *db = fresh();
	struct seen s;
	int64_t at = 0;
	char err[RISK_ERRLEN];

	(void)state;
	assert_true(put(db, "A", "reliable", 1000));
	assert_true(put(db, "B", NULL, 1000));
	assert_int_equal(risk_db_exec(db, "DELETE FROM record", err), RISK_OK);
	assert_true(put(db, "A", "reliable", 2000));	/* none */
	assert_true(put(db, "B", NULL, 2000));		/* none */
	assert_int_equal(risk_db_exec(db, "DELETE FROM record", err), RISK_OK);
	assert_true(put(db, "A", "indebted", 3000));
	assert_true(put(db, "B", "reliable", 3000));
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.line[0], "1 A reliable null");
	assert_string_equal(s.line[1], "2 B - null");
	assert_string_equal(s.line[2], "3 A indebted reliable");
	assert_string_equal(s.line[3], "4 B reliable -");
	/* the same within one transaction, the first row not in yet */
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	assert_true(put(db, "C", "reliable", 4000));
	assert_int_equal(risk_db_exec(db, "DELETE FROM record WHERE id = 'C'",
	    err), RISK_OK);
	assert_true(put(db, "C", "reliable", 5000));	/* none */
	assert_true(put(db, "C", "indebted", 6000));
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.line[0], "5 C reliable null");
	assert_string_equal(s.line[1], "6 C indebted reliable");
	risk_db_close(db);
}

/*
 * Two connections take turns: each hands out the seq after the other's
 * last, and sees that the other deleted a record, though each keeps
 * what it read from one of its transactions to the next.
 */
static void
test_two_writers(void **state)
{
	struct risk_db_opts o = { .busy_ms = 200 };
	struct risk_db *a, *b;
	char err[RISK_ERRLEN];
	struct seen s;
	int64_t at = 0;

	(void)state;
	test_fresh_opts("h", &o);
	if (risk_db_open(&a, &o, err) != RISK_OK ||
	    risk_db_open(&b, &o, err) != RISK_OK)
		fail_msg("open: %s", err);
	assert_true(put(a, "A", "reliable", 1000));
	assert_true(put(b, "B", "reliable", 1000));
	assert_true(put(a, "C", "reliable", 1000));
	assert_true(put(b, "D", "reliable", 1000));
	assert_int_equal(risk_db_exec(b, "DELETE FROM record WHERE id = 'A'",
	    err), RISK_OK);
	assert_true(put(a, "A", "reliable", 2000));	/* none */
	assert_true(put(a, "A", "indebted", 3000));
	s = feed(b, NULL, &at);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.line[0], "1 A reliable null");
	assert_string_equal(s.line[1], "2 B reliable null");
	assert_string_equal(s.line[2], "3 C reliable null");
	assert_string_equal(s.line[3], "4 D reliable null");
	assert_string_equal(s.line[4], "5 A indebted reliable");
	risk_db_close(a);
	risk_db_close(b);
}

/* Many records at once make the changes the same puts one by one would:
 * a company twice in a batch, an older fetch, not found. */
static void
test_put_many(void **state)
{
	struct risk_db *db = fresh();
	struct risk_record recs[5] = {
		{ "A", true, "reliable", 0, 1000 },
		{ "A", true, "indebted", 0, 2000 },
		{ "B", false, "", 0, 1000 },
		{ "A", true, "reliable", 0, 1500 },	/* older: kept */
		{ "C", true, "reliable", 77, 3000 },
	};
	struct risk_record r;
	struct risk_idset *w;
	struct seen s;
	int64_t at = 0;
	char err[RISK_ERRLEN];
	bool stored[5];

	(void)state;
	assert_int_equal(risk_record_put_many(db, recs, 5, stored, err),
	    RISK_OK);
	assert_true(stored[0] && stored[1] && stored[2] && !stored[3] &&
	    stored[4]);
	assert_int_equal(risk_record_get(db, "A", &r, err), RISK_OK);
	assert_string_equal(r.status, "indebted");
	assert_int_equal(r.changed_at, 2);
	assert_int_equal(risk_record_get(db, "C", &r, err), RISK_OK);
	assert_int_equal(r.changed_at, 77);
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 4);
	assert_int_equal(risk_idset_new(&w, err), RISK_OK);
	assert_int_equal(risk_idset_add(w, "A", err), RISK_OK);
	at = 0;
	s = feed(db, w, &at);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.line[0], "1 A reliable null");
	assert_string_equal(s.line[1] + 1, " A indebted reliable");
	risk_idset_free(w);
	/* again: same statuses, nothing new; an invalid ID stores nothing */
	assert_int_equal(risk_record_put_many(db, recs, 5, stored, err),
	    RISK_OK);
	at = 0;
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 4);
	snprintf(recs[2].id, sizeof recs[2].id, "x y");
	assert_int_equal(risk_record_put_many(db, recs, 5, stored, err),
	    RISK_EINVAL);
	risk_db_close(db);
}

static void
test_purge_keeps_newest_and_seq(void **state)
{
	struct risk_db *db = fresh();
	struct risk_purge p = { .before_ms = 10000, .batch = 2 };
	char err[RISK_ERRLEN];
	struct seen s;
	int64_t at = 0;
	long n;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)		/* B: 5 old rows, C: 1 old */
		put(db, "B", i % 2 ? "indebted" : "reliable", 1000 + i);
	put(db, "C", "reliable", 1000);
	put(db, "D", "reliable", 20000);	/* new */
	p.dry_run = true;
	assert_int_equal(risk_purge_history(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 4);
	p.dry_run = false;
	assert_int_equal(risk_purge_history(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 4);
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.line[0], "5 B reliable indebted");
	assert_string_equal(s.line[1], "6 C reliable null");
	assert_string_equal(s.line[2], "7 D reliable null");
	assert_int_equal(risk_purge_history(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 0);
	/*
	 * The newest row deleted by hand: SQLite refuses (a new row's seq
	 * is the largest + 1, and would be 7 again); PostgreSQL's sequence
	 * goes on.  Either way 7 is not handed out twice.
	 */
	if (test_pg_uri() == NULL) {
		assert_int_equal(risk_db_exec(db,
		    "DELETE FROM history WHERE seq = 7", err), RISK_EDB);
		assert_non_null(strstr(err, "newest history row is kept"));
		assert_int_equal(risk_db_exec(db,
		    "DELETE FROM history WHERE seq = 5", err), RISK_OK);
	} else {
		assert_int_equal(risk_db_exec(db,
		    "DELETE FROM history WHERE seq = 7", err), RISK_OK);
	}
	put(db, "E", "reliable", 30000);
	s = feed(db, NULL, &at);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.line[0], "8 E reliable null");
	risk_db_close(db);
}

/* n of status (NULL: not found) in history_total, per risk_history_stat */
static int64_t
total_of(struct risk_db *db, const char *status)
{
	struct risk_history_stat hs;
	char err[RISK_ERRLEN];
	int i;

	if (risk_history_stat(db, 0, &hs, err) != RISK_OK)
		fail_msg("stat: %s", err);
	for (i = 0; i < hs.nstatus; i++)
		if (hs.total[i].found == (status != NULL) &&
		    strcmp(hs.total[i].status, status ? status : "") == 0)
			return hs.total[i].n;
	return 0;
}

/* In a risk_db_begin() transaction the totals are added up and written
 * at the commit: the same counts as one by one, more statuses than it
 * adds up at once included, and none after a rollback. */
static void
test_totals_in_a_transaction(void **state)
{
	struct risk_db *db = fresh();
	char err[RISK_ERRLEN], id[16], st[16];
	int i;

	(void)state;
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	for (i = 0; i < 30; i++) {
		snprintf(id, sizeof id, "T%d", i);
		snprintf(st, sizeof st, "s%d", i % 12);
		put(db, id, i % 5 == 4 ? NULL : st, 1000 + i);
	}
	put(db, "T0", "s1", 2000);		/* a change */
	put(db, "T0", "s1", 2001);		/* none */
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	assert_int_equal(total_of(db, "s0"), 2);	/* T0 T12 (T24: nf) */
	assert_int_equal(total_of(db, "s1"), 4);	/* T1 T13 T25, T0 */
	assert_int_equal(total_of(db, "s11"), 2);	/* T11 T23 */
	assert_int_equal(total_of(db, NULL), 6);	/* T4 T9 ... T29 */
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	put(db, "T1", "s7", 3000);
	put(db, "U1", NULL, 3000);
	risk_db_rollback(db);
	assert_int_equal(total_of(db, "s7"), 1);	/* T7 (T19: nf) */
	assert_int_equal(total_of(db, NULL), 6);
	put(db, "T1", "s7", 3000);		/* outside one: at once */
	assert_int_equal(total_of(db, "s7"), 2);
	risk_db_close(db);
}

/*
 * The counts survive folding and retention: thousands of changes in one
 * transaction (past what history_total may lag behind), then changes
 * not folded yet, then a purge that deletes some of those.
 */
static void
test_totals_fold_and_purge(void **state)
{
	struct risk_db *db = fresh();
	struct risk_purge p = { .before_ms = 100000 };
	char err[RISK_ERRLEN], id[16];
	long n;
	int i;

	(void)state;
	assert_int_equal(risk_db_begin(db, err), RISK_OK);
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "F%d", i);
		put(db, id, "reliable", 1000);
	}
	assert_int_equal(risk_db_commit(db, err), RISK_OK);
	assert_int_equal(total_of(db, "reliable"), 5000);
	for (i = 0; i < 100; i++) {		/* flips, then back */
		snprintf(id, sizeof id, "F%d", i);
		put(db, id, "indebted", 2000);
		put(db, id, "reliable", 200000);
	}
	assert_int_equal(total_of(db, "indebted"), 100);
	assert_int_equal(total_of(db, "reliable"), 5100);
	/* goes: F0..F99's first answers and their flips, none the newest */
	assert_int_equal(risk_purge_history(db, &p, &n, err), RISK_OK);
	assert_int_equal(n, 200);
	assert_int_equal(total_of(db, "indebted"), 100);
	assert_int_equal(total_of(db, "reliable"), 5100);
	risk_db_close(db);
}

static void
test_watch_lists(void **state)
{
	struct risk_db *db = fresh();
	struct risk_idset *w;
	char err[RISK_ERRLEN], id[16];
	struct seen s;
	int64_t at;
	int i;

	(void)state;
	assert_int_equal(risk_idset_new(&w, err), RISK_OK);
	assert_int_equal(risk_idset_add(w, "X1", err), RISK_OK);
	assert_int_equal(risk_idset_add(w, "X1", err), RISK_OK);
	assert_int_equal(risk_idset_add(w, "bad id", err), RISK_EINVAL);
	assert_int_equal(risk_idset_count(w), 1);
	assert_int_equal(risk_db_exec(db, "BEGIN", err), RISK_OK);
	for (i = 0; i < 600; i++) {
		snprintf(id, sizeof id, "X%d", i);
		put(db, id, "reliable", 1000 + i);
	}
	assert_int_equal(risk_db_exec(db, "COMMIT", err), RISK_OK);
	put(db, "X1", "indebted", 5000);
	/* short: by the index; the cursor still moves to the newest row */
	at = 0;
	s = feed(db, w, &at);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.line[0], "2 X1 reliable null");
	assert_string_equal(s.line[1], "601 X1 indebted reliable");
	assert_int_equal(at, 601);
	/* long: 300 IDs, scanned and filtered in the set */
	for (i = 0; i < 600; i += 2) {
		snprintf(id, sizeof id, "X%d", i);
		assert_int_equal(risk_idset_add(w, id, err), RISK_OK);
	}
	assert_int_equal(risk_idset_count(w), 301);
	assert_true(risk_idset_has(w, "X598"));
	assert_false(risk_idset_has(w, "X599"));
	at = 0;
	s = feed(db, w, &at);
	assert_int_equal(s.n, 302);
	assert_int_equal(at, 601);
	at = 590;
	s = feed(db, w, &at);
	assert_int_equal(s.n, 6);	/* X590..X598 even, and X1's flip */
	risk_idset_free(w);
	risk_db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_is_a_change),
		cmocka_unit_test(test_record_gone),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_put_many),
		cmocka_unit_test(test_purge_keeps_newest_and_seq),
		cmocka_unit_test(test_watch_lists),
		cmocka_unit_test(test_totals_in_a_transaction),
		cmocka_unit_test(test_totals_fold_and_purge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fresh.h — a fresh, empty database for a store test, on the
 * engine the run asks for: a SQLite file in a numbered folder of the
 * current (temporary) folder, or, when RISK_TEST_PG_URI names a
 * PostgreSQL server (tests/run sets it for its PostgreSQL pass), a
 * schema of its own in that database (a stage, so nothing is shared
 * between tests or runs).
 */
#ifndef RISK_TEST_STORE_H
#define RISK_TEST_STORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "risk.h"

static int test_seq;

static inline const char *
test_pg_uri(void)
{
	const char *u = getenv("RISK_TEST_PG_URI");

	return u != NULL && *u != '\0' ? u : NULL;
}

/*
 * Options for the next fresh database, named after prefix; path and
 * stage point into bufs that live until the next call.
 */
static inline void
test_fresh_opts(const char *prefix, struct risk_db_opts *o)
{
	static char path[64], stage[33];

	test_seq++;
	if (test_pg_uri() != NULL) {
		o->path = test_pg_uri();
		snprintf(stage, sizeof stage, "%s%ld_%d", prefix,
		    (long)getpid(), test_seq);
		o->stage = stage;
	} else {
		snprintf(path, sizeof path, "%s%d/risk.db", prefix, test_seq);
		o->path = path;
	}
}

static inline struct risk_db *
test_fresh(const char *prefix)
{
	struct risk_db_opts o = { .busy_ms = 200 };
	struct risk_db *db;
	char err[RISK_ERRLEN];

	test_fresh_opts(prefix, &o);
	if (risk_db_open(&db, &o, err) != RISK_OK) {
		fprintf(stderr, "open: %s\n", err);
		abort();
	}
	return db;
}

#endif

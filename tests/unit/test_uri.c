/*
 * test_uri.c — which --db names a PostgreSQL database, and how one is
 * shown in messages: never with its password (pg.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg.h"

static void
mask(const char *uri, const char *want)
{
	char out[256];

	risk__pg_mask(uri, out, sizeof out);
	assert_string_equal(out, want);
}

static void
test_mask(void **state)
{
	(void)state;
	mask("postgresql://risk:s3cret@db.example:5432/risk",
	    "postgresql://risk:***@db.example:5432/risk");
	mask("postgres://risk@db/risk", "postgres://risk@db/risk");
	mask("postgresql:///risk?host=/run/pg&password=s3cret&port=5",
	    "postgresql:///risk?host=/run/pg&password=***&port=5");
	mask("postgresql://u:p%40ss@h/d?password=x",
	    "postgresql://u:***@h/d?password=***");
	mask("host=db password=s3cret dbname=risk",
	    "host=db password=*** dbname=risk");
	mask("host=db password='s3 \\'cr et' dbname=risk",
	    "host=db password=*** dbname=risk");
	mask("password=s3cret", "password=***");
	mask("service=risk", "service=risk");
	/* hostile bytes come out printable */
	mask("postgresql://h/\x1b[2Jd", "postgresql://h/?[2Jd");
}

static void
test_is_uri(void **state)
{
	(void)state;
	assert_true(risk__pg_is_uri("postgresql://h/d"));
	assert_true(risk__pg_is_uri("postgres://h/d"));
	assert_true(risk__pg_is_uri("service=risk"));
	assert_true(risk__pg_is_uri("host=/run/pg dbname=risk"));
	assert_false(risk__pg_is_uri("risk.db"));
	assert_false(risk__pg_is_uri("/var/lib/risk/risk.db"));
	assert_false(risk__pg_is_uri("postgresql.db"));
	assert_false(risk__pg_is_uri("./service=x.db"));
}

static void
test_unknown_scheme(void **state)
{
	struct risk_db_opts o = { .path = "postgresq://u:pw@h/d" };
	struct risk_db *db;
	char err[RISK_ERRLEN], path[256];

	(void)state;
	assert_int_equal(risk_db_path(&o, path, sizeof path, err),
	    RISK_EINVAL);
	assert_null(strstr(err, "pw"));		/* nothing past the user */
	assert_int_equal(risk_db_open(&db, &o, err), RISK_EINVAL);
	assert_int_equal(access("postgresq:", F_OK), -1);	/* nothing made */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_is_uri),
		cmocka_unit_test(test_unknown_scheme),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

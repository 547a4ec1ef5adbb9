/*
 * test_json.c — record lines and JSON strings: print.c writes exactly
 * what jv writes for the same object or string, without libjq; the
 * plain-text sanitiser; the default mapping; filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void
same(const struct risk_view *v)
{
	char fast[1024], ref[1024];
	int a, b;

	a = risk_view_json(v, fast, sizeof fast);
	b = risk__view_json_jv(v, ref, sizeof ref);
	assert_true(a > 0);
	assert_true(b > 0);
	assert_string_equal(fast, ref);
}

static void
test_fast_equals_jv(void **state)
{
	static const char *statuses[] = { "reliable", "indebted", "x",
	    "with space", "quote\"d", "back\\slash", "new\nline", "tab\t",
	    "caf\xc3\xa9", "\x01", "}{", "\x7f\xc2\x9b[2J", "\xff\xc3",
	    "\xed\xa0\x80 surrogate", "\xf0\x9f\x98\x80", "\x1b]0;t\x07",
	    "" };
	static const int64_t ages[] = { 0, 999, 1000, 3599999, 3600001,
	    INT64_C(1795769280000), -5000 };
	struct risk_record rec = { .changed_at = 1735948800 };
	struct risk_view v = { .id = "C1", .now_ms = INT64_C(1795769280000),
	    .max_age_ms = 3600000 };
	size_t i, j;

	(void)state;
	snprintf(rec.id, sizeof rec.id, "C1");
	same(&v);			/* a miss */
	v.queued = true;
	same(&v);
	v.rec = &rec;
	for (i = 0; i < sizeof statuses / sizeof *statuses; i++) {
		for (j = 0; j < sizeof ages / sizeof *ages; j++) {
			snprintf(rec.status, sizeof rec.status, "%s",
			    statuses[i]);
			rec.found = statuses[i][0] != '\0';
			rec.fetched_at = v.now_ms - ages[j];
			v.queued = j % 2 == 0;
			same(&v);
		}
	}
	v.id = "a.b_c:d-E9";
	same(&v);
	v.id = "hostile\n\"id\\\x1b";
	same(&v);
	rec.fetched_at = INT64_MIN;	/* no overflow, a bounded age */
	same(&v);
	rec.fetched_at = INT64_MAX;
	same(&v);
}

/* xorshift: the same strings on every run */
static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
test_quote_equals_jv(void **state)
{
	static const char alpha[] = "aZ\"\\/\b\f\n\r\t\x01\x1f\x7f"
	    "\x80\xbf\xc0\xc1\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff";
	char s[16], mine[256], ref[256];
	uint64_t x = 88172645463325252ULL;
	size_t len, i;
	int n, k;
	FILE *fp;

	(void)state;
	for (k = 0; k < 20000; k++) {
		len = rnd(&x) % sizeof s;
		for (i = 0; i < len; i++)
			s[i] = alpha[rnd(&x) % (sizeof alpha - 1)];
		s[len] = '\0';
		memset(mine, 0, sizeof mine);
		fp = fmemopen(mine, sizeof mine, "w");
		assert_int_equal(risk_json_quote(fp, s), RISK_OK);
		fclose(fp);
		n = risk__json_quote_jv(s, len, ref, sizeof ref);
		assert_true(n > 0);
		assert_string_equal(mine, ref);
	}
}

static void
test_text_sanitiser(void **state)
{
	char buf[256];
	FILE *fp;

	(void)state;
	memset(buf, 0, sizeof buf);
	fp = fmemopen(buf, sizeof buf, "w");
	risk_text_print(fp, "ok caf\xc3\xa9|\x1b]0;x\x07|\n|\t|\x7f|"
	    "\xc2\x9b|\x9b|\xff|\xe2\x80\xae|\xe2\x80\xa8|\xf0\x9f\x98\x80");
	fclose(fp);
	assert_string_equal(buf, "ok caf\xc3\xa9|?]0;x?|?|?|?|?|?|?|?|?|"
	    "\xf0\x9f\x98\x80");
	snprintf(buf, sizeof buf, "a\r\nb\xc2\x85" "c\xe2");
	risk_text_clean(buf);
	assert_string_equal(buf, "a??b?c?");
	assert_true(risk_text_printable("r\xc3\xa9liable", 9));
	assert_false(risk_text_printable("a\0b", 3));
	assert_false(risk_text_printable("\xc2\x9b", 2));
	assert_false(risk_text_printable("a\x7f", 2));
}

static void
test_fast_line_shape(void **state)
{
	struct risk_record rec = { .found = true, .changed_at = 1735948800,
	    .fetched_at = INT64_C(1795766400000), .status = "reliable" };
	struct risk_view v = { .id = "123", .rec = &rec,
	    .now_ms = INT64_C(1795766520000), .max_age_ms = 3600000 };
	char buf[512];

	(void)state;
	assert_int_equal(risk_view_json(&v, buf, sizeof buf), 134);
	assert_string_equal(buf, "{\"id\":\"123\",\"status\":\"reliable\","
	    "\"status_changed_at\":\"2025-01-04T00:00:00Z\",\"fetched_at\":"
	    "\"2026-11-27T08:00:00Z\",\"age\":120,\"fresh\":true}");
	assert_int_equal(risk_view_json(&v, buf, 20), -1);	/* too small */
	assert_int_equal(risk_error_json("bad_method", NULL, buf, sizeof buf),
	    22);
	assert_string_equal(buf, "{\"error\":\"bad_method\"}");
	assert_int_equal(risk_error_json("unavailable", "A\"1", buf,
	    sizeof buf), 35);
	assert_string_equal(buf, "{\"id\":\"A\\\"1\",\"error\":\"unavailable\"}");
}

static void
test_print_view_and_filter(void **state)
{
	struct risk_record rec = { .found = true, .changed_at = 0,
	    .fetched_at = 0, .status = "indebted" };
	struct risk_view v = { .id = "Z", .rec = &rec, .now_ms = 1000,
	    .max_age_ms = 5000 };
	struct risk_printer p = { 0 };
	char buf[512] = "", err[RISK_ERRLEN];
	FILE *fp = fmemopen(buf, sizeof buf, "w");

	(void)state;
	p.fp = fp;
	assert_int_equal(risk_filter_new(&p.filter, ".status, .age", err),
	    RISK_OK);
	assert_int_equal(risk_print_view(&p, &v, err), RISK_OK);
	fflush(fp);
	assert_string_equal(buf, "indebted\n1\n");
	risk_filter_free(p.filter);
	assert_int_equal(risk_filter_new(&p.filter, "error(\"no\")", err),
	    RISK_OK);
	assert_int_equal(risk_print_view(&p, &v, err), RISK_EJQ);
	assert_string_equal(err, "jq: no");
	risk_filter_free(p.filter);
	assert_int_equal(risk_filter_new(&p.filter, "{", err), RISK_EJQ);
	assert_non_null(strstr(err, "syntax error"));
	assert_null(strchr(err, '\n'));
	fclose(fp);
}

/* libjq 1.6 aborts the process on a module directive: none gets there */
static void
test_filter_module_directives(void **state)
{
	static const char *const bad[] = { "import \"a\" as a; .",
	    "include \"a\"; .", "  # c\n include \"x\";.",
	    "module {a:1}; .", "\"\\(import \"a\" as a; 1)\"" };
	static const char *const good[] = { ".import", ".status | "
	    "select(. == \"import\")", "# include \"a\"\n.", "$__loc__",
	    "\"\\(.a) include\"", ".includes" };
	struct risk_filter *f;
	char err[RISK_ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(risk_filter_new(&f, bad[i], err),
		    RISK_EINVAL);
		assert_non_null(strstr(err, "module directives"));
	}
	for (i = 0; i < sizeof good / sizeof *good; i++) {
		assert_int_equal(risk_filter_new(&f, good[i], err), RISK_OK);
		risk_filter_free(f);
	}
}

static void
map(const char *body, int want, const char *status, int64_t changed,
    const char *errpart)
{
	struct risk__map *m;
	struct risk_record rec = { 0 };
	char err[RISK_ERRLEN] = "";

	assert_int_equal(risk__map_new(&m, NULL, err), RISK_OK);
	assert_int_equal(risk__map_apply(m, body, strlen(body), &rec, err),
	    want);
	if (want == RISK_OK) {
		assert_string_equal(rec.status, status);
		assert_int_equal(rec.changed_at, changed);
		assert_true(rec.found);
	} else {
		assert_non_null(strstr(err, errpart));
		assert_null(strchr(err, '\n'));
	}
	risk__map_free(m);
}

static void
test_default_mapping(void **state)
{
	(void)state;
	map("{\"status\":\"reliable\",\"changedAt\":\"2025-01-04T00:00:00Z\"}",
	    RISK_OK, "reliable", 1735948800, NULL);
	map("{\"status\":\"indebted\",\"status_changed_at\":\"2025-01-04\"}",
	    RISK_OK, "indebted", 1735948800, NULL);
	map("{\"status\":\"x\",\"changedAt\":1735948800}", RISK_OK, "x",
	    1735948800, NULL);
	map("{\"status\":\"x\"}", RISK_OK, "x", 0, NULL);
	map("{\"status\":\"x\",\"changedAt\":null}", RISK_OK, "x", 0, NULL);
	map("{\"foo\":1}", RISK_EJQ, NULL, 0, "no string status");
	map("{\"status\":5}", RISK_EJQ, NULL, 0, "no string status");
	map("[1,2]", RISK_EJQ, NULL, 0, "no object");
	map("<html>\n<body>oops</body>", RISK_ENOTJSON, NULL, 0,
	    "body is not JSON");
	map("", RISK_ENOTJSON, NULL, 0, "");
	map("{\"status\":\"x\",\"changedAt\":\"soon\"}", RISK_EJQ, NULL, 0,
	    "not a date");
	/* a status is short printable text: never stored cut or cleaned */
	map("{\"status\":\"\\u0000hidden\"}", RISK_EJQ, NULL, 0,
	    "control character");
	map("{\"status\":\"a\\u001b[2Jb\"}", RISK_EJQ, NULL, 0,
	    "control character");
	map("{\"status\":\"a\\nb\"}", RISK_EJQ, NULL, 0, "control character");
	map("{\"status\":\"a\\u007f\"}", RISK_EJQ, NULL, 0,
	    "control character");
	map("{\"status\":\"a\\u009b\"}", RISK_EJQ, NULL, 0,
	    "control character");
	map("{\"status\":\"r\\u00e9liable\"}", RISK_OK, "r\xc3\xa9liable", 0,
	    NULL);
	map("{\"status\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxx\"}", RISK_EJQ, NULL, 0, "longer than");
}

static void
test_user_mapping(void **state)
{
	struct risk_mapper *m;
	struct risk_record rec = { 0 };
	char err[RISK_ERRLEN];
	const char *b = "{\"state\":\"ok\",\"when\":\"2020-01-01\"}";

	(void)state;
	assert_int_equal(risk_mapper_new(&m, "{status: .state, "
	    "changedAt: .when}", 1000, 0, err), RISK_OK);
	assert_int_equal(risk_mapper_apply(m, b, strlen(b), &rec, err),
	    RISK_OK);
	assert_string_equal(rec.status, "ok");
	assert_int_equal(rec.changed_at, 1577836800);
	assert_int_equal(risk_mapper_apply(m, "{}", 2, &rec, err), RISK_EJQ);
	assert_non_null(strstr(err, "no string status"));
	/* still serving after a failure */
	assert_int_equal(risk_mapper_apply(m, b, strlen(b), &rec, err),
	    RISK_OK);
	risk_mapper_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_equals_jv),
		cmocka_unit_test(test_fast_line_shape),
		cmocka_unit_test(test_quote_equals_jv),
		cmocka_unit_test(test_text_sanitiser),
		cmocka_unit_test(test_print_view_and_filter),
		cmocka_unit_test(test_filter_module_directives),
		cmocka_unit_test(test_default_mapping),
		cmocka_unit_test(test_user_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

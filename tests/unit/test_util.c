/*
 * test_util.c — IDs, durations, timestamps and the input loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "risk.h"

static void
test_id_valid(void **state)
{
	char long65[66];

	(void)state;
	assert_true(risk_id_valid("123", 3));
	assert_true(risk_id_valid("a.b_c:d-e", 9));
	assert_true(risk_id_valid("Z", 1));
	assert_false(risk_id_valid("", 0));
	assert_false(risk_id_valid("../x", 4));
	assert_false(risk_id_valid("a/b", 3));
	assert_false(risk_id_valid("a b", 3));
	assert_false(risk_id_valid("\"q\"", 3));
	assert_false(risk_id_valid("-x", 2));
	assert_false(risk_id_valid(".x", 2));
	assert_false(risk_id_valid("a\0b", 3));
	assert_false(risk_id_valid("caf\xc3\xa9", 5));
	memset(long65, 'a', 65);
	long65[65] = '\0';
	assert_true(risk_id_valid(long65, 64));
	assert_false(risk_id_valid(long65, 65));
}

static void
test_urlencode(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(risk_id_urlencode("a:b.c", out, sizeof out), 7);
	assert_string_equal(out, "a%3Ab.c");
	assert_int_equal(risk_id_urlencode("abcdefghijklmnop", out, sizeof out),
	    -1);
}

static void
test_urldecode(void **state)
{
	char a[] = "a%2Eb+c", b[] = "%2", c[] = "%00x", d[] = "%zz";

	(void)state;
	assert_true(risk_urldecode(a));
	assert_string_equal(a, "a.b c");
	assert_false(risk_urldecode(b));
	assert_false(risk_urldecode(c));
	assert_false(risk_urldecode(d));
}

static void
test_duration(void **state)
{
	int64_t ms;
	char err[RISK_ERRLEN];

	(void)state;
	assert_int_equal(risk_duration_parse("90", &ms, err), RISK_OK);
	assert_int_equal(ms, 90000);
	assert_int_equal(risk_duration_parse("90s", &ms, err), RISK_OK);
	assert_int_equal(ms, 90000);
	assert_int_equal(risk_duration_parse("15m", &ms, err), RISK_OK);
	assert_int_equal(ms, 900000);
	assert_int_equal(risk_duration_parse("1h", &ms, err), RISK_OK);
	assert_int_equal(ms, 3600000);
	assert_int_equal(risk_duration_parse("7d", &ms, err), RISK_OK);
	assert_int_equal(ms, 7 * 86400000LL);
	assert_int_equal(risk_duration_parse("250ms", &ms, err), RISK_OK);
	assert_int_equal(ms, 250);
	assert_int_equal(risk_duration_parse("0", &ms, err), RISK_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(risk_duration_parse("", &ms, err), RISK_EINVAL);
	assert_int_equal(risk_duration_parse("-5", &ms, err), RISK_EINVAL);
	assert_int_equal(risk_duration_parse("5x", &ms, err), RISK_EINVAL);
	assert_non_null(strstr(err, "5x: invalid duration"));
	assert_int_equal(risk_duration_parse("1.5h", &ms, err), RISK_EINVAL);
	assert_int_equal(risk_duration_parse(" 5", &ms, err), RISK_EINVAL);
	assert_int_equal(risk_duration_parse("99999999999999999999d", &ms,
	    err), RISK_EINVAL);
	assert_int_equal(risk_duration_parse("5000d", &ms, err), RISK_EINVAL);
	assert_non_null(strstr(err, "too long"));
}

static void
test_time(void **state)
{
	char buf[32];
	int64_t s;

	(void)state;
	risk_time_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	/* far outside 0000-9999: clamped, and no overflow on the way */
	risk_time_format(INT64_MIN, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
	risk_time_format(INT64_MAX, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	risk_time_format(1735948800, buf);
	assert_string_equal(buf, "2025-01-04T00:00:00Z");
	risk_time_format(951782400 + 86399, buf);	/* leap day */
	assert_string_equal(buf, "2000-02-29T23:59:59Z");
	assert_int_equal(risk_time_parse("2025-01-04T00:00:00Z", &s), RISK_OK);
	assert_int_equal(s, 1735948800);
	assert_int_equal(risk_time_parse("2025-01-04", &s), RISK_OK);
	assert_int_equal(s, 1735948800);
	assert_int_equal(risk_time_parse("2025-01-04T02:00:00+02:00", &s),
	    RISK_OK);
	assert_int_equal(s, 1735948800);
	assert_int_equal(risk_time_parse("2025-01-04T00:00:00.123Z", &s),
	    RISK_OK);
	assert_int_equal(s, 1735948800);
	assert_int_equal(risk_time_parse("1735948800", &s), RISK_OK);
	assert_int_equal(s, 1735948800);
	assert_int_equal(risk_time_parse("2025-13-01", &s), RISK_EINVAL);
	assert_int_equal(risk_time_parse("yesterday", &s), RISK_EINVAL);
	assert_int_equal(risk_time_parse("2025-01-04Tjunk", &s), RISK_EINVAL);
	assert_int_equal(risk_time_parse("", &s), RISK_EINVAL);
}

struct seen {
	char ids[16][80];
	int n, nbad, nidle;
};

static int
on_id(const char *id, void *arg)
{
	struct seen *s = arg;

	snprintf(s->ids[s->n++ % 16], 80, "%s", id);
	return 0;
}

static void
on_bad(const char *id, const char *reason, void *arg)
{
	struct seen *s = arg;

	(void)id;
	(void)reason;
	s->nbad++;
}

static int
on_idle(void *arg)
{
	((struct seen *)arg)->nidle++;
	return 0;
}

static void
test_loop_stdin(void **state)
{
	struct seen s = { .n = 0 };
	struct risk_loop l = { on_id, on_bad, on_idle, &s, -1 };
	char err[RISK_ERRLEN], big[5000];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	l.fd = p[0];
	dprintf(p[1], "  a1 \n\n\t\nb2\r\n../x\n");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dprintf(p[1], "%s\nc3", big);	/* no final newline */
	close(p[1]);
	assert_int_equal(risk_loop(0, NULL, &l, err), 0);
	close(p[0]);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], "a1");
	assert_string_equal(s.ids[1], "b2");
	assert_string_equal(s.ids[2], "c3");
	assert_int_equal(s.nbad, 2);
	assert_int_equal(s.nidle, 0);	/* input was always ready */
}

static void
test_loop_args(void **state)
{
	struct seen s = { .n = 0 };
	struct risk_loop l = { on_id, on_bad, NULL, &s, -1 };
	char a[] = " x ", b[] = "a/b", c[] = "y";
	char *argv[] = { a, b, c };
	char err[RISK_ERRLEN];

	(void)state;
	assert_int_equal(risk_loop(3, argv, &l, err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], "x");
	assert_string_equal(s.ids[1], "y");
	assert_int_equal(s.nbad, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_urlencode),
		cmocka_unit_test(test_urldecode),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_loop_stdin),
		cmocka_unit_test(test_loop_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

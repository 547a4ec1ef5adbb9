/*
 * test_cgi.c — the CGI request parser, validators and responses, with
 * the strings a web server (or an attacker) would pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "risk.h"

static int
parse(const char *method, const char *path, const char *query,
    struct risk_cgi_req *req)
{
	struct risk_cgi_env env = { method, path, query, NULL, NULL };

	return risk_cgi_parse(&env, req);
}

static void
test_parse_forms(void **state)
{
	struct risk_cgi_req req;

	(void)state;
	assert_int_equal(parse("GET", "/C1", NULL, &req), RISK_OK);
	assert_string_equal(req.id, "C1");
	assert_false(req.head);
	assert_int_equal(req.if_modified_since, -1);
	assert_int_equal(parse("HEAD", "/a.b_c:d-e", "", &req), RISK_OK);
	assert_string_equal(req.id, "a.b_c:d-e");
	assert_true(req.head);
	assert_int_equal(parse("GET", NULL, "id=123", &req), RISK_OK);
	assert_string_equal(req.id, "123");
	assert_int_equal(parse("GET", "", "x=1&id=C%31&y", &req), RISK_OK);
	assert_string_equal(req.id, "C1");
	assert_int_equal(parse("GET", "/", "id=a%3Ab", &req), RISK_OK);
	assert_string_equal(req.id, "a:b");
}

static void
test_parse_method(void **state)
{
	static const char *bad[] = { "POST", "PUT", "DELETE", "get", "",
	    "OPTIONS", "GETX" };
	struct risk_cgi_req req;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(bad[i], "/C1", NULL, &req), RISK_EINVAL);
		assert_int_equal(req.status, 405);
		assert_string_equal(req.error, "method_not_allowed");
	}
	assert_int_equal(parse(NULL, "/C1", NULL, &req), RISK_EINVAL);
	assert_int_equal(req.status, 405);
	/* the method is checked first: a POST with a bad ID is a 405 */
	assert_int_equal(parse("POST", "/../x", NULL, &req), RISK_EINVAL);
	assert_int_equal(req.status, 405);
}

static void
test_parse_invalid(void **state)
{
	static const char *paths[] = { "/../x", "/a/b", "/\"q\"", "/a b",
	    "/C1/", "//C1", "/-x", "/.x", "/caf\xc3\xa9", "/%2e%2e" };
	static const char *queries[] = { "id=%2e%2e", "id=%00", "id=a%00b",
	    "id=%zz", "id=%4", "id=", "id", "id=C1&id=C2", "id=a+b",
	    "id=%22q%22", "id=a%2Fb", "ID=C1", "x=1" };
	struct risk_cgi_req req;
	char big[RISK_CGI_QUERY_MAX + 16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		assert_int_equal(parse("GET", paths[i], NULL, &req),
		    RISK_EINVAL);
		assert_int_equal(req.status, 400);
		assert_string_equal(req.error, "invalid_id");
		assert_string_equal(req.id, "");
	}
	for (i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		assert_int_equal(parse("GET", NULL, queries[i], &req),
		    RISK_EINVAL);
		assert_int_equal(req.status, 400);
	}
	/* nothing at all; both forms at once */
	assert_int_equal(parse("GET", NULL, NULL, &req), RISK_EINVAL);
	assert_int_equal(parse("GET", "/", "", &req), RISK_EINVAL);
	assert_int_equal(parse("GET", "/C1", "id=C1", &req), RISK_EINVAL);
	/* 64 characters pass, 65 do not, a megabyte is cut short */
	memset(big, 'a', sizeof big);
	big[0] = '/';
	big[65] = '\0';
	assert_int_equal(parse("GET", big, NULL, &req), RISK_OK);
	big[65] = 'a';
	big[66] = '\0';
	assert_int_equal(parse("GET", big, NULL, &req), RISK_EINVAL);
	memcpy(big, "x=", 2);
	memset(big + 2, 'a', sizeof big - 2);
	big[sizeof big - 1] = '\0';
	assert_int_equal(parse("GET", NULL, big, &req), RISK_EINVAL);
	assert_int_equal(req.status, 400);
	memcpy(big, "id=C1&x=", 8);
	big[RISK_CGI_QUERY_MAX] = '\0';
	assert_int_equal(parse("GET", NULL, big, &req), RISK_OK);
	big[RISK_CGI_QUERY_MAX] = 'a';
	big[RISK_CGI_QUERY_MAX + 1] = '\0';
	assert_int_equal(parse("GET", NULL, big, &req), RISK_EINVAL);
}

static void
test_dates(void **state)
{
	char out[32];
	int64_t t;

	(void)state;
	risk_http_date(784111777, out);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(risk_http_date_parse(out, &t), RISK_OK);
	assert_int_equal(t, 784111777);
	risk_http_date(1798761599, out);	/* the last second of 2026 */
	assert_string_equal(out, "Thu, 31 Dec 2026 23:59:59 GMT");
	assert_int_equal(risk_http_date_parse("Thu, 29 Feb 2024 00:00:00 GMT",
	    &t), RISK_OK);
	assert_int_equal(t, 1709164800);
	assert_int_equal(risk_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT",
	    &t), RISK_EINVAL);
	assert_int_equal(risk_http_date_parse("Sun Nov  6 08:49:37 1994", &t),
	    RISK_EINVAL);
	assert_int_equal(risk_http_date_parse("Sun, 32 Nov 1994 08:49:37 GMT",
	    &t), RISK_EINVAL);
	assert_int_equal(risk_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT",
	    &t), RISK_EINVAL);
	assert_int_equal(risk_http_date_parse("Sun, 06 Nov 1994 24:49:37 GMT",
	    &t), RISK_EINVAL);
	assert_int_equal(risk_http_date_parse("", &t), RISK_EINVAL);
}

static void
test_etag(void **state)
{
	struct risk_record a = { .id = "C1", .found = true,
	    .status = "reliable", .fetched_at = 1000 };
	struct risk_record b = a;
	char ea[RISK_CGI_ETAG_LEN], eb[RISK_CGI_ETAG_LEN], h[64];

	(void)state;
	risk_cgi_etag(&a, ea);
	assert_int_equal(strlen(ea), 18);
	assert_true(ea[0] == '"' && ea[17] == '"');
	risk_cgi_etag(&b, eb);
	assert_string_equal(ea, eb);	/* same row, same tag */
	b.fetched_at = 1001;
	risk_cgi_etag(&b, eb);
	assert_string_not_equal(ea, eb);
	b = a;
	snprintf(b.status, sizeof b.status, "indebted");
	risk_cgi_etag(&b, eb);
	assert_string_not_equal(ea, eb);
	b = a;
	b.found = false;
	b.status[0] = '\0';
	risk_cgi_etag(&b, eb);
	assert_string_not_equal(ea, eb);
	b = a;
	snprintf(b.id, sizeof b.id, "C2");
	risk_cgi_etag(&b, eb);
	assert_string_not_equal(ea, eb);

	assert_true(risk_cgi_etag_match(ea, ea));
	snprintf(h, sizeof h, "W/%s", ea);
	assert_true(risk_cgi_etag_match(h, ea));
	snprintf(h, sizeof h, "\"x\", %s ,\"y\"", ea);
	assert_true(risk_cgi_etag_match(h, ea));
	assert_true(risk_cgi_etag_match("*", ea));
	assert_true(risk_cgi_etag_match(" * ", ea));
	assert_false(risk_cgi_etag_match("\"x\"", ea));
	assert_false(risk_cgi_etag_match("", ea));
	assert_false(risk_cgi_etag_match("\"unterminated", ea));
	snprintf(h, sizeof h, "%.17s", ea);	/* no closing quote */
	assert_false(risk_cgi_etag_match(h, ea));
	snprintf(h, sizeof h, "junk %s", ea);
	assert_false(risk_cgi_etag_match(h, ea));
}

static int
write_resp(const struct risk_cgi_resp *resp, char *buf, size_t bufsz)
{
	char err[RISK_ERRLEN];
	FILE *fp = fmemopen(buf, bufsz, "w");
	int r;

	assert_non_null(fp);
	r = risk_cgi_write(fp, resp, err);
	fclose(fp);
	return r;
}

static void
test_answer(void **state)
{
	struct risk_record rec = { .id = "C1", .found = true,
	    .status = "reliable", .changed_at = 1735948800,
	    .fetched_at = 1800000000000 };
	struct risk_view v = { .rec = &rec, .id = "C1",
	    .now_ms = 1800000000000 + 120500, .max_age_ms = 3600000 };
	struct risk_cgi_env env = { "GET", "/C1", NULL, NULL, NULL };
	struct risk_cgi_req req;
	struct risk_cgi_resp resp;
	char buf[4096], lm[32];

	(void)state;
	assert_int_equal(risk_cgi_parse(&env, &req), RISK_OK);
	assert_int_equal(risk_cgi_answer(&req, &v, RISK_OK, &resp), RISK_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.age, 120);
	assert_int_equal(resp.max_age, 3479);
	assert_int_equal(resp.last_modified, 1800000000);
	assert_int_equal(resp.retry_after, -1);
	assert_non_null(strstr(resp.body, "\"status\":\"reliable\""));
	assert_int_equal(write_resp(&resp, buf, sizeof buf), RISK_OK);
	assert_non_null(strstr(buf, "Status: 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	/* RFC 5861: a cache in front may serve it stale */
	assert_non_null(strstr(buf, "Cache-Control: max-age=3479, "
	    "stale-while-revalidate=120, stale-if-error=86400\r\n"));
	assert_non_null(strstr(buf, "Age: 120\r\n"));
	assert_non_null(strstr(buf, "Last-Modified: Fri, 15 Jan 2027"));
	assert_non_null(strstr(buf, "\r\n\r\n{\"id\":\"C1\""));

	/* HEAD: the same headers, no body */
	env.method = "HEAD";
	assert_int_equal(risk_cgi_parse(&env, &req), RISK_OK);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(write_resp(&resp, buf, sizeof buf), RISK_OK);
	assert_non_null(strstr(buf, "Content-Length: "));
	assert_ptr_equal(strstr(buf, "{"), NULL);

	/* conditional: ETag, then Last-Modified; a mismatched ETag wins */
	env.method = "GET";
	env.if_none_match = resp.etag;
	assert_int_equal(risk_cgi_parse(&env, &req), RISK_OK);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 304);
	assert_int_equal(write_resp(&resp, buf, sizeof buf), RISK_OK);
	assert_non_null(strstr(buf, "Status: 304 Not Modified\r\n"));
	assert_non_null(strstr(buf, "ETag: \""));
	assert_non_null(strstr(buf, "Cache-Control: max-age=3479, "
	    "stale-while-revalidate=120, stale-if-error=86400\r\n"));
	assert_ptr_equal(strstr(buf, "Content-Type"), NULL);
	assert_true(strlen(buf) > 4 &&
	    strcmp(buf + strlen(buf) - 4, "\r\n\r\n") == 0);
	risk_http_date(rec.fetched_at / 1000, lm);
	env.if_none_match = NULL;
	env.if_modified_since = lm;
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 304);
	env.if_none_match = "\"other\"";
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 200);
	env.if_none_match = NULL;
	risk_http_date(rec.fetched_at / 1000 - 1, lm);
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 200);
	env.if_modified_since = "yesterday";
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 200);
	env.if_modified_since = NULL;

	/* stale: max-age 0, still 200 */
	v.now_ms = rec.fetched_at + 7200 * 1000;
	v.queued = true;
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.max_age, 0);
	assert_int_equal(resp.age, 7200);
	assert_non_null(strstr(resp.body, "\"fresh\":false"));

	/* not found: 404, no 304 */
	rec.found = false;
	rec.status[0] = '\0';
	env.if_none_match = "*";
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(resp.body, "\"error\":\"not_found\""));
	/* ... and never served stale by a cache: it may be found now */
	assert_int_equal(write_resp(&resp, buf, sizeof buf), RISK_OK);
	assert_non_null(strstr(buf, "Cache-Control: max-age=0\r\n"));
	env.if_none_match = NULL;
}

static void
test_answer_errors(void **state)
{
	struct risk_view v = { .id = "N1", .now_ms = 1800000000000,
	    .queued = true };
	struct risk_cgi_env env = { "GET", "/N1", NULL, NULL, NULL };
	struct risk_cgi_req req;
	struct risk_cgi_resp resp;
	char buf[4096];

	(void)state;
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 502);
	assert_int_equal(resp.retry_after, RISK_CGI_RETRY_QUEUED);
	assert_int_equal(resp.max_age, -1);
	assert_string_equal(resp.body,
	    "{\"id\":\"N1\",\"error\":\"not_cached\",\"queued\":true}");
	assert_int_equal(write_resp(&resp, buf, sizeof buf), RISK_OK);
	assert_non_null(strstr(buf, "Status: 502 Bad Gateway\r\n"));
	assert_non_null(strstr(buf, "Retry-After: 60\r\n"));
	assert_non_null(strstr(buf, "Cache-Control: no-store\r\n"));

	/* a dead letter: not queued, nothing to wait for */
	v.queued = false;
	risk_cgi_answer(&req, &v, RISK_OK, &resp);
	assert_int_equal(resp.status, 502);
	assert_int_equal(resp.retry_after, -1);
	assert_non_null(strstr(resp.body, "\"queued\":false"));

	/* the database failed: 503, a fixed code, no details */
	risk_cgi_answer(&req, &v, RISK_EBUSY, &resp);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retry_after, RISK_CGI_RETRY_BUSY);
	assert_string_equal(resp.body,
	    "{\"id\":\"N1\",\"error\":\"unavailable\"}");

	/* 405 and 400 ignore the lookup */
	env.method = "PUT";
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, NULL, RISK_OK, &resp);
	assert_int_equal(resp.status, 405);
	assert_true(resp.allow);
	assert_int_equal(write_resp(&resp, buf, sizeof buf), RISK_OK);
	assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));
	assert_non_null(strstr(buf, "{\"error\":\"method_not_allowed\"}"));
	env.method = "GET";
	env.path_info = "/\"><script>";
	risk_cgi_parse(&env, &req);
	risk_cgi_answer(&req, NULL, RISK_OK, &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(resp.body, "{\"error\":\"invalid_id\"}");

	/* a full stream is an error */
	assert_int_equal(write_resp(&resp, buf, 8), RISK_EIO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_method),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_answer_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

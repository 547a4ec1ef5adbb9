/*
 * fuzz_cgi.c — the CGI request parser, as a hostile web client drives it.
 *
 * The input is up to five fields separated by newlines: REQUEST_METHOD,
 * PATH_INFO, QUERY_STRING, If-None-Match, If-Modified-Since; a field
 * that is a lone "\x01" stands for an unset variable.  Promises checked:
 * the parser either gives a valid ID or a 400/405 with an error code;
 * the answer built from it is a known status whose body fits and echoes
 * no rejected input; the response writes without error.
 */
#include <string.h>

#include "fuzz.h"
#include "risk.h"

#define NFIELD 5

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct risk_cgi_env env;
	struct risk_cgi_req req;
	struct risk_cgi_resp resp;
	struct risk_record rec;
	struct risk_view v;
	const char *f[NFIELD] = { NULL };
	char *s, *p, *nl, err[RISK_ERRLEN], etag[RISK_CGI_ETAG_LEN];
	int i, r, dbstatus;
	int64_t t;

	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		abort();
	s = fuzz_str(data, size);
	for (p = s, i = 0; i < NFIELD && p != NULL; i++) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		f[i] = strcmp(p, "\x01") == 0 ? NULL : p;
		p = nl != NULL ? nl + 1 : NULL;
	}
	env.method = f[0];
	env.path_info = f[1];
	env.query = f[2];
	env.if_none_match = f[3];
	env.if_modified_since = f[4];

	r = risk_cgi_parse(&env, &req);
	if (r == RISK_OK) {
		CHECK(req.status == 0);
		CHECK(risk_id_valid(req.id, strlen(req.id)));
	} else {
		CHECK(r == RISK_EINVAL);
		CHECK(req.status == 400 || req.status == 405);
		CHECK(req.error != NULL && req.id[0] == '\0');
	}

	/* answer it every way a lookup can go: miss, record, not found,
	 * database trouble */
	memset(&rec, 0, sizeof rec);
	snprintf(rec.id, sizeof rec.id, "%s", req.id);
	rec.found = size % 3 != 0;
	snprintf(rec.status, sizeof rec.status, "%s",
	    rec.found ? "reliable" : "");
	rec.changed_at = 1735948800;
	rec.fetched_at = INT64_C(1764230400000) + (int64_t)size;
	memset(&v, 0, sizeof v);
	v.id = req.id;
	v.now_ms = INT64_C(1764230460000);
	v.max_age_ms = 3600 * 1000;
	v.rec = size % 2 != 0 ? &rec : NULL;
	v.queued = v.rec == NULL;
	dbstatus = size % 7 == 0 ? RISK_EBUSY : RISK_OK;
	memset(&resp, 0, sizeof resp);
	risk_cgi_answer(&req, &v, dbstatus, &resp);
	CHECK(resp.status == 200 || resp.status == 304 ||
	    resp.status == 400 || resp.status == 404 ||
	    resp.status == 405 || resp.status == 502 ||
	    resp.status == 503);
	CHECK(resp.body_len < sizeof resp.body);
	CHECK(memchr(resp.body, '\0', sizeof resp.body) != NULL);
	if (r != RISK_OK) {	/* rejected input is never echoed */
		char want[64];

		snprintf(want, sizeof want, "{\"error\":\"%s\"}", req.error);
		CHECK(strcmp(resp.body, want) == 0);
	}
	CHECK(risk_cgi_write(sink, &resp, err) == RISK_OK);

	/* the validators, with the header taken as it came */
	if (f[3] != NULL) {
		risk_cgi_etag(&rec, etag);
		(void)risk_cgi_etag_match(f[3], etag);
	}
	if (f[4] != NULL && risk_http_date_parse(f[4], &t) == RISK_OK) {
		char out[32];
		int64_t back;

		risk_http_date(t, out);
		if (t >= 0 && t <= INT64_C(253402300799)) {
			CHECK(risk_http_date_parse(out, &back) == RISK_OK);
			CHECK(back == t);
		}
	}
	free(s);
	return 0;
}

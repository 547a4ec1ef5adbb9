/*
 * cgi.c — one HTTP request to risk-get, as CGI (RFC 3875) hands it over.
 *
 * Invariants:
 * - Pure: risk_cgi_parse() reads only the strings it is given (any of
 *   them NULL or hostile, as a fuzzer would pass them) and never reads
 *   the environment; risk_cgi_answer() only computes; risk_cgi_write()
 *   writes to the FILE * it is given.  Nothing here prints a diagnostic.
 * - Bounded: a PATH_INFO or QUERY_STRING longer than its maximum is a
 *   400 before it is looked at; an If-None-Match longer than its buffer
 *   is kept as "matches nothing" (the answer is then simply a 200).
 * - The only text from the request that can reach a response is a
 *   company ID that passed risk_id_valid(), and only through the JSON
 *   builders of json.c.  Rejected input is never echoed: error bodies
 *   are fixed codes, so they carry no paths, SQL or library messages.
 * - Only a 200 (and the 304 that stands for it) lets a cache in front
 *   serve it stale (RFC 5861): a 404 or a 502 must be asked again.
 * - Validators come from the record alone (id, fetched_at, status), so
 *   every process answering for the same row gives the same ETag and
 *   Last-Modified, and a refresh that stores a new fetch changes both.
 */
#include <string.h>
#include <time.h>

#include "risk.h"

static void
reject(struct risk_cgi_req *req, int status, const char *error)
{
	req->status = status;
	req->error = error;
	req->id[0] = '\0';
}

/* s is NULL, empty or "/": nothing given */
static bool
blank_path(const char *s)
{
	return s == NULL || s[0] == '\0' || (s[0] == '/' && s[1] == '\0');
}

/*
 * The value of the one "id" parameter of a query string, decoded into
 * out.  1: found and decoded; 0: no id parameter; -1: malformed, empty,
 * repeated or too long.
 */
static int
query_id(const char *q, char *out, size_t outsz)
{
	const char *p, *end, *val;
	size_t len;
	int found = 0;

	for (p = q; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		if ((end = strchr(p, '&')) == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) < 3 || strncmp(p, "id=", 3) != 0) {
			if ((size_t)(end - p) == 2 && strncmp(p, "id", 2) == 0)
				return -1;	/* "id" with no value */
			continue;		/* other parameters */
		}
		if (found++)
			return -1;		/* ?id=a&id=b: which one? */
		val = p + 3;
		len = (size_t)(end - val);
		if (len == 0 || len >= outsz)
			return -1;
		memcpy(out, val, len);
		out[len] = '\0';
		if (!risk_urldecode(out))
			return -1;		/* bad escape or %00 */
	}
	return found;
}

int
risk_cgi_parse(const struct risk_cgi_env *env, struct risk_cgi_req *req)
{
	/* an encoded ID is at most 3 bytes per character */
	char qid[3 * RISK_ID_MAX + 1];
	const char *m = env->method, *path = env->path_info, *q = env->query;
	const char *id = NULL;
	size_t len;
	int r;

	memset(req, 0, sizeof *req);
	req->if_modified_since = -1;
	if (m != NULL && strcmp(m, "GET") == 0) {
		req->head = false;
	} else if (m != NULL && strcmp(m, "HEAD") == 0) {
		req->head = true;
	} else {
		reject(req, 405, "method_not_allowed");
		return RISK_EINVAL;
	}
	if ((path != NULL &&
	    strnlen(path, RISK_CGI_PATH_MAX + 1) > RISK_CGI_PATH_MAX) ||
	    (q != NULL &&
	    strnlen(q, RISK_CGI_QUERY_MAX + 1) > RISK_CGI_QUERY_MAX)) {
		reject(req, 400, "invalid_id");
		return RISK_EINVAL;
	}
	r = q != NULL ? query_id(q, qid, sizeof qid) : 0;
	if (r < 0 || (r > 0 && !blank_path(path))) {
		reject(req, 400, "invalid_id");	/* bad, or given twice */
		return RISK_EINVAL;
	}
	if (r > 0)
		id = qid;
	else if (!blank_path(path))
		id = path[0] == '/' ? path + 1 : path;
	len = id != NULL ? strlen(id) : 0;
	if (id == NULL || !risk_id_valid(id, len)) {
		reject(req, 400, "invalid_id");
		return RISK_EINVAL;
	}
	memcpy(req->id, id, len + 1);

	if (env->if_none_match != NULL) {
		req->has_inm = true;
		len = strlen(env->if_none_match);
		if (len < sizeof req->if_none_match)
			memcpy(req->if_none_match, env->if_none_match,
			    len + 1);
		/* else: kept empty, which matches no ETag */
	}
	if (env->if_modified_since != NULL &&
	    risk_http_date_parse(env->if_modified_since,
	    &req->if_modified_since) != RISK_OK)
		req->if_modified_since = -1;	/* RFC 9110: ignore it */
	return RISK_OK;
}

/* ---- validators ------------------------------------------------------ */

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

void
risk_cgi_etag(const struct risk_record *rec, char out[RISK_CGI_ETAG_LEN])
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	char ms[24];

	snprintf(ms, sizeof ms, "%lld", (long long)rec->fetched_at);
	h = fnv1a(h, rec->id, strlen(rec->id) + 1);
	h = fnv1a(h, ms, strlen(ms) + 1);
	if (rec->found)		/* "" and not found differ: a NUL byte */
		h = fnv1a(h, rec->status, strlen(rec->status));
	else
		h = fnv1a(h, "", 1);
	snprintf(out, RISK_CGI_ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
}

/*
 * If-None-Match against etag by weak comparison (RFC 9110 13.1.2):
 * "*", or a comma-separated list of entity tags, each maybe W/.
 */
bool
risk_cgi_etag_match(const char *header, const char *etag)
{
	const char *p = header, *tag;
	size_t len, elen = strlen(etag);

	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '*') {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		return *p == '\0';
	}
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return false;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return false;		/* malformed: no match */
		tag = p;
		for (p++; *p != '\0' && *p != '"'; p++)
			;
		if (*p != '"')
			return false;
		len = (size_t)(++p - tag);
		if (len == elen && memcmp(tag, etag, len) == 0)
			return true;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return false;
	}
}

/* ---- the answer ------------------------------------------------------ */

static void
body(struct risk_cgi_resp *resp, int n)
{
	if (n < 0) {		/* cannot happen with sane sizes */
		n = snprintf(resp->body, sizeof resp->body,
		    "{\"error\":\"internal\"}");
		resp->status = 500;
	}
	resp->body_len = (size_t)n;
}

int
risk_cgi_answer(const struct risk_cgi_req *req, const struct risk_view *v,
    int dbstatus, struct risk_cgi_resp *resp)
{
	const struct risk_record *rec;
	int64_t age, left;
	bool notmod;

	memset(resp, 0, sizeof *resp);
	resp->head = req->head;
	resp->last_modified = resp->age = resp->retry_after = -1;
	resp->max_age = -1;		/* no-store unless a record says */
	resp->swr = resp->sie = -1;
	if (req->status != 0) {
		resp->status = req->status;
		resp->allow = req->status == 405;
		body(resp, risk_error_json(req->error, NULL, resp->body,
		    sizeof resp->body));
		return RISK_OK;
	}
	if (dbstatus != RISK_OK) {
		resp->status = 503;
		resp->retry_after = RISK_CGI_RETRY_BUSY;
		body(resp, risk_error_json("unavailable", req->id,
		    resp->body, sizeof resp->body));
		return RISK_OK;
	}
	if ((rec = v->rec) == NULL) {
		/* queued: the drainer will fetch it; not queued: it is a
		 * dead letter, and only an operator's redrive helps */
		resp->status = 502;
		if (v->queued)
			resp->retry_after = RISK_CGI_RETRY_QUEUED;
		body(resp, risk_view_json(v, resp->body, sizeof resp->body));
		return RISK_OK;
	}
	age = (v->now_ms - rec->fetched_at) / 1000;
	left = (rec->fetched_at + v->max_age_ms - v->now_ms) / 1000;
	resp->age = age > 0 ? age : 0;
	resp->max_age = left > 0 ? left : 0;
	resp->last_modified = rec->fetched_at / 1000;
	risk_cgi_etag(rec, resp->etag);
	if (!rec->found) {
		resp->status = 404;
		body(resp, risk_view_json(v, resp->body, sizeof resp->body));
		return RISK_OK;
	}
	if (req->has_inm)
		notmod = risk_cgi_etag_match(req->if_none_match, resp->etag);
	else
		notmod = req->if_modified_since >= 0 &&
		    resp->last_modified <= req->if_modified_since;
	/* a 304 refreshes the cached 200: the same Cache-Control */
	resp->swr = RISK_CGI_SWR;
	resp->sie = RISK_CGI_SIE;
	if (notmod) {
		resp->status = 304;
		return RISK_OK;
	}
	resp->status = 200;
	body(resp, risk_view_json(v, resp->body, sizeof resp->body));
	return RISK_OK;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

int
risk_cgi_write(FILE *fp, const struct risk_cgi_resp *resp, char *err)
{
	char date[32];
	bool hasbody = resp->status != 304;

	fprintf(fp, "Status: %d %s\r\n", resp->status, reason(resp->status));
	if (hasbody)
		fprintf(fp, "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n"
		    "X-Content-Type-Options: nosniff\r\n", resp->body_len + 1);
	if (resp->etag[0] != '\0')
		fprintf(fp, "ETag: %s\r\n", resp->etag);
	if (resp->last_modified >= 0) {
		risk_http_date(resp->last_modified, date);
		fprintf(fp, "Last-Modified: %s\r\n", date);
	}
	if (resp->max_age >= 0 && resp->swr >= 0)
		fprintf(fp, "Cache-Control: max-age=%lld, "
		    "stale-while-revalidate=%lld, stale-if-error=%lld\r\n",
		    (long long)resp->max_age, (long long)resp->swr,
		    (long long)resp->sie);
	else if (resp->max_age >= 0)
		fprintf(fp, "Cache-Control: max-age=%lld\r\n",
		    (long long)resp->max_age);
	else
		fputs("Cache-Control: no-store\r\n", fp);
	if (resp->age >= 0)
		fprintf(fp, "Age: %lld\r\n", (long long)resp->age);
	if (resp->retry_after >= 0)
		fprintf(fp, "Retry-After: %lld\r\n",
		    (long long)resp->retry_after);
	if (resp->allow)
		fputs("Allow: GET, HEAD\r\n", fp);
	fputs("\r\n", fp);
	if (hasbody && !resp->head) {
		fwrite(resp->body, 1, resp->body_len, fp);
		putc('\n', fp);
	}
	if (fflush(fp) != 0 || ferror(fp))
		return risk_seterr(err, RISK_EIO, "write error");
	return RISK_OK;
}

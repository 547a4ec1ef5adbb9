/*
 * map.c — a legacy body, or a line of a dump, to a record, in process.
 *
 * The default mapping is C over libjq's parser: an object with a string
 * "status" and an optional "changedAt" or "status_changed_at" (ISO 8601
 * or epoch seconds).  A user's jq program must yield such an object; its
 * first output counts.  mapper.c runs a user's program in a bounded
 * child and is what commands use; this file is private to the library.
 *
 * Invariants:
 * - A status is short printable text: 1..63 bytes, no NUL and no control
 *   character (C0, DEL, C1).  Anything else fails that attempt with a
 *   reason; it is never stored, shortened or cleaned.
 * - A dump line is parsed once: the ID comes out of the object, then the
 *   object goes through the mapping like a body, so a million lines with
 *   the default mapping never run jq.
 */
#include <stdlib.h>
#include <string.h>

#include "jqapi.h"

struct risk__map {
	struct risk_filter *filter;	/* NULL: the default, in C */
};

int
risk__map_new(struct risk__map **mp, const char *prog, char *err)
{
	struct risk__map *m;
	int r;

	*mp = NULL;
	if ((r = risk__jq_load(err)) != RISK_OK)
		return r;
	if ((m = calloc(1, sizeof *m)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	if (prog != NULL &&
	    (r = risk_filter_new(&m->filter, prog, err)) != RISK_OK) {
		free(m);
		return r;
	}
	*mp = m;
	return RISK_OK;
}

void
risk__map_free(struct risk__map *m)
{
	if (m == NULL)
		return;
	risk_filter_free(m->filter);
	free(m);
}

/* The status string (not consumed) into rec, if it is one. */
static int
status(jv st, struct risk_record *rec, char *err)
{
	int len;

	if (jv_get_kind(st) != JV_KIND_STRING)
		return risk_seterr(err, RISK_EJQ,
		    "mapping gave no string status");
	len = jv_string_length_bytes(jv_copy(st));
	if (len <= 0 || (size_t)len >= sizeof rec->status)
		return risk_seterr(err, RISK_EJQ,
		    "status is empty or longer than %zu bytes",
		    sizeof rec->status - 1);
	if (!risk_text_printable(jv_string_value(st), (size_t)len))
		return risk_seterr(err, RISK_EJQ,
		    "status holds a NUL or a control character");
	memcpy(rec->status, jv_string_value(st), (size_t)len + 1);
	return RISK_OK;
}

/* status_changed_at (not consumed) into rec->changed_at; 0 if absent. */
static int
changed(jv ch, struct risk_record *rec, char *err)
{
	int64_t sec;
	double d;

	rec->changed_at = 0;
	switch (jv_get_kind(ch)) {
	case JV_KIND_STRING:
		if (risk_time_parse(jv_string_value(ch), &sec) != RISK_OK)
			return risk_seterr(err, RISK_EJQ,
			    "status_changed_at is not a date");
		rec->changed_at = sec;
		return RISK_OK;
	case JV_KIND_NUMBER:
		d = jv_number_value(ch);
		/* written so that NaN (jq parses "nan") fails too */
		if (!(d >= 0 && d <= 253402300799.0))
			return risk_seterr(err, RISK_EJQ,
			    "status_changed_at is out of range");
		rec->changed_at = (int64_t)d;
		return RISK_OK;
	case JV_KIND_INVALID:
	case JV_KIND_NULL:
		return RISK_OK;
	default:
		return risk_seterr(err, RISK_EJQ,
		    "status_changed_at is not a date");
	}
}

/* A mapped object (consumed) into rec. */
static int
to_record(jv o, struct risk_record *rec, char *err)
{
	jv st, ch;
	int r;

	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		return risk_seterr(err, RISK_EJQ,
		    "mapping gave no object with a string status");
	}
	st = jv_object_get(jv_copy(o), jv_string("status"));
	ch = jv_object_get(jv_copy(o), jv_string("status_changed_at"));
	if (!jv_is_valid(ch) || jv_get_kind(ch) == JV_KIND_NULL) {
		jv_free(ch);
		ch = jv_object_get(jv_copy(o), jv_string("changedAt"));
	}
	jv_free(o);
	if ((r = status(st, rec, err)) == RISK_OK &&
	    (r = changed(ch, rec, err)) == RISK_OK)
		rec->found = true;
	jv_free(st);
	jv_free(ch);
	return r;
}

/* Parse a body or a line; code, and notjson with the parser's reason,
 * if it is not JSON. */
static int
parse(const char *body, size_t len, int code, const char *notjson, jv *out,
    char *err)
{
	jv v;

	if (len > INT32_MAX)
		return risk_seterr(err, code, "%s: too large", notjson);
	/* not JSON (RFC 8259), and libjq 1.6 leaks on some such input */
	if (memchr(body, '\0', len) != NULL)
		return risk_seterr(err, code, "%s: it holds a NUL byte",
		    notjson);
	v = jv_parse_sized(body, (int)len);
	if (!jv_is_valid(v)) {
		risk__jv_invalid(v, notjson, err);
		return code;
	}
	*out = v;
	return RISK_OK;
}

/* A parsed body (consumed) through the filter, or the default, to rec. */
static int
map_value(struct risk_filter *f, jv in, struct risk_record *rec, char *err)
{
	jv r;
	int ret;

	if (f == NULL)
		return to_record(in, rec, err);
	f->msg[0] = '\0';
	jq_start(f->jq, in, 0);
	r = risk__filter_next(f->jq);
	if (jv_is_valid(r)) {
		ret = to_record(r, rec, err);
		/* drain the rest so the next body starts clean */
		while (jv_is_valid(r = risk__filter_next(f->jq)))
			jv_free(r);
		jv_free(r);
		return ret;
	}
	if (jv_invalid_has_msg(jv_copy(r)))
		return risk__jv_invalid(r, "map", err);
	jv_free(r);
	return risk_seterr(err, RISK_EJQ, "map: filter gave no output");
}

int
risk__map_apply(struct risk__map *m, const char *body, size_t len,
    struct risk_record *rec, char *err)
{
	jv in;
	int ret;

	if ((ret = parse(body, len, RISK_ENOTJSON, "body is not JSON", &in,
	    err)) != RISK_OK)
		return ret;
	return map_value(m->filter, in, rec, err);
}

/* The ID under key (a string, or a whole number) into rec->id. */
static int
line_id(jv o, const char *key, struct risk_record *rec, char *err)
{
	jv v = jv_object_get(jv_copy(o), jv_string(key));
	int r = RISK_OK, len;
	double d;

	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		len = jv_string_length_bytes(jv_copy(v));
		if (len <= 0 || len > RISK_ID_MAX ||
		    !risk_id_valid(jv_string_value(v), (size_t)len))
			r = risk_seterr(err, RISK_EINVAL,
			    "\"%s\": invalid company id", key);
		else
			memcpy(rec->id, jv_string_value(v), (size_t)len + 1);
		break;
	case JV_KIND_NUMBER:
		d = jv_number_value(v);
		if (!(d >= 0 && d <= 9007199254740991.0) ||	/* NaN too */
		    d != (double)(int64_t)d)
			r = risk_seterr(err, RISK_EINVAL,
			    "\"%s\": not a whole number", key);
		else
			snprintf(rec->id, sizeof rec->id, "%lld",
			    (long long)d);
		break;
	case JV_KIND_INVALID:
	case JV_KIND_NULL:
		r = risk_seterr(err, RISK_EINVAL, "no \"%s\"", key);
		break;
	default:
		r = risk_seterr(err, RISK_EINVAL,
		    "\"%s\": not a string or a number", key);
	}
	jv_free(v);
	return r;
}

int
risk__map_line(struct risk__map *m, const char *line, size_t len,
    const char *idkey, struct risk_record *rec, char *err)
{
	jv o;
	int ret;

	if ((ret = parse(line, len, RISK_EINVAL, "not JSON", &o, err)) !=
	    RISK_OK)
		return ret;
	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		return risk_seterr(err, RISK_EINVAL, "not a JSON object");
	}
	if ((ret = line_id(o, idkey, rec, err)) != RISK_OK) {
		jv_free(o);
		return ret;
	}
	return map_value(m->filter, o, rec, err);
}

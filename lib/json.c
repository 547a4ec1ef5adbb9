/*
 * json.c — the only file that touches libjq's jv.
 *
 * Ownership follows jv.h: every jv_* call consumes its arguments except
 * jv_copy; jq_start consumes its input; every result of jq_next is freed,
 * the final invalid one too.  Nothing here keeps a jv past a call.
 *
 * Costs, and what they shape here:
 * - libjq 1.6 spends about 20 ms compiling its builtins on every
 *   jq_compile, so a program is compiled only when the user gave one; the
 *   default mapping from a legacy body to a record is done in C.
 * - Loading libjq and libonig costs every process about a millisecond,
 *   most of risk-get's budget for one answer.  So libjq is opened with
 *   dlopen on first use (jq_load) and the record lines that risk-get
 *   prints all day are written by fast_view below.  That writer prints
 *   only fixed keys, numbers, booleans and strings from an alphabet that
 *   JSON never escapes (IDs are validated; a status outside the alphabet
 *   sends the line through jv instead), and a unit test holds its bytes
 *   equal to jv's rendering of the same object.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jq.h>

#include "internal.h"

/* Every libjq function used below, resolved by jq_load. */
#define JQ_API(X) \
	X(jq_compile) X(jq_init) X(jq_next) X(jq_set_error_cb) X(jq_start) \
	X(jq_teardown) X(jv_array) X(jv_array_append) X(jv_array_get) \
	X(jv_array_length) X(jv_bool) X(jv_copy) X(jv_dump_string) \
	X(jv_dumpf) X(jv_false) X(jv_free) X(jv_get_kind) \
	X(jv_invalid_get_msg) X(jv_invalid_has_msg) X(jv_null) X(jv_number) \
	X(jv_number_value) X(jv_object) X(jv_object_get) X(jv_object_has) \
	X(jv_object_set) X(jv_parse_sized) X(jv_string) \
	X(jv_string_length_bytes) X(jv_string_value) X(jv_true)

static struct {
#define JQ_DECL(f) __typeof__(f) *p_##f;
	JQ_API(JQ_DECL)
#undef JQ_DECL
} J;

#define jq_compile (*J.p_jq_compile)
#define jq_init (*J.p_jq_init)
#define jq_next (*J.p_jq_next)
#define jq_set_error_cb (*J.p_jq_set_error_cb)
#define jq_start (*J.p_jq_start)
#define jq_teardown (*J.p_jq_teardown)
#define jv_array (*J.p_jv_array)
#define jv_array_append (*J.p_jv_array_append)
#define jv_array_get (*J.p_jv_array_get)
#define jv_array_length (*J.p_jv_array_length)
#define jv_bool (*J.p_jv_bool)
#define jv_copy (*J.p_jv_copy)
#define jv_dump_string (*J.p_jv_dump_string)
#define jv_dumpf (*J.p_jv_dumpf)
#define jv_false (*J.p_jv_false)
#define jv_free (*J.p_jv_free)
#define jv_get_kind (*J.p_jv_get_kind)
#define jv_invalid_get_msg (*J.p_jv_invalid_get_msg)
#define jv_invalid_has_msg (*J.p_jv_invalid_has_msg)
#define jv_null (*J.p_jv_null)
#define jv_number (*J.p_jv_number)
#define jv_number_value (*J.p_jv_number_value)
#define jv_object (*J.p_jv_object)
#define jv_object_get (*J.p_jv_object_get)
#define jv_object_has (*J.p_jv_object_has)
#define jv_object_set (*J.p_jv_object_set)
#define jv_parse_sized (*J.p_jv_parse_sized)
#define jv_string (*J.p_jv_string)
#define jv_string_length_bytes (*J.p_jv_string_length_bytes)
#define jv_string_value (*J.p_jv_string_value)
#define jv_true (*J.p_jv_true)
#undef jv_is_valid
#define jv_is_valid(x) (jv_get_kind(x) != JV_KIND_INVALID)

/* Open libjq once; RISK_OK, or why it cannot be had. */
static int
jq_load(char *err)
{
	static int state;	/* 0 not tried, 1 loaded, -1 failed */
	static char why[256];
	void *h;

	if (state == 0) {
		state = -1;
		if ((h = dlopen("libjq.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL) {
			snprintf(why, sizeof why, "cannot load libjq: %s",
			    dlerror());
			return risk_seterr(err, RISK_EJQ, "%s", why);
		}
#define JQ_SYM(f) \
		if ((*(void **)&J.p_##f = dlsym(h, #f)) == NULL) { \
			snprintf(why, sizeof why, "libjq has no %s", #f); \
			return risk_seterr(err, RISK_EJQ, "%s", why); \
		}
		JQ_API(JQ_SYM)
#undef JQ_SYM
		state = 1;
	}
	return state == 1 ? RISK_OK : risk_seterr(err, RISK_EJQ, "%s", why);
}

static int invalid_raw(jv v, const char *what, char *err);

struct risk_filter {
	jq_state *jq;
	char msg[RISK_ERRLEN];	/* last error libjq reported */
};

static void
on_error(void *arg, jv msg)
{
	struct risk_filter *f = arg;
	jv s;

	if (f->msg[0] != '\0') {	/* keep the first: the rest summarise */
		jv_free(msg);
		return;
	}
	if (jv_get_kind(msg) == JV_KIND_STRING) {
		snprintf(f->msg, sizeof f->msg, "%s", jv_string_value(msg));
		jv_free(msg);
		return;
	}
	s = jv_dump_string(msg, 0);
	snprintf(f->msg, sizeof f->msg, "%s", jv_string_value(s));
	jv_free(s);
}

/* "jq: error: syntax error, … (Unix shell quoting issues?) at <top-level>,
 * line 1:\n<program>" -> "syntax error, … at <top-level>, line 1" */
static void
tidy_compile(char *m)
{
	static const char pre[] = "jq: error: ", hint[] =
	    " (Unix shell quoting issues?)";
	char *p;
	size_t n;

	if (strncmp(m, pre, sizeof pre - 1) == 0)
		memmove(m, m + sizeof pre - 1, strlen(m) - sizeof pre + 2);
	if ((p = strstr(m, hint)) != NULL)
		memmove(p, p + sizeof hint - 1, strlen(p) - sizeof hint + 2);
	if ((p = strchr(m, '\n')) != NULL)
		*p = '\0';
	n = strlen(m);
	if (n > 0 && m[n - 1] == ':')
		m[n - 1] = '\0';
}

int
risk_filter_new(struct risk_filter **fp, const char *prog, char *err)
{
	static char *empty[] = { NULL };
	struct risk_filter *f;
	char **saved;
	int ok;

	*fp = NULL;
	if ((ok = jq_load(err)) != RISK_OK)
		return ok;
	if ((f = calloc(1, sizeof *f)) == NULL ||
	    (f->jq = jq_init()) == NULL) {
		free(f);
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	jq_set_error_cb(f->jq, on_error, f);
	/* libjq binds $ENV and env when it compiles: show it nothing, so no
	 * filter can read secrets from the environment. */
	saved = environ;
	environ = empty;
	ok = jq_compile(f->jq, prog);
	environ = saved;
	if (!ok) {
		tidy_compile(f->msg);
		risk_seterr(err, RISK_EJQ, "invalid jq filter: %s",
		    f->msg[0] != '\0' ? f->msg : "compile error");
		risk_filter_free(f);
		return RISK_EJQ;
	}
	*fp = f;
	return RISK_OK;
}

void
risk_filter_free(struct risk_filter *f)
{
	if (f == NULL)
		return;
	jq_teardown(&f->jq);
	free(f);
}

/*
 * jq 1.6's env builtin, unlike $ENV, reads environ each time it runs:
 * every filter runs with it empty too (the mapper child has none).
 */
static jv
filter_next(jq_state *jq)
{
	static char *empty[] = { NULL };
	char **saved = environ;
	jv r;

	environ = empty;
	r = jq_next(jq);
	environ = saved;
	return r;
}

/*
 * One line, no control bytes, and none of the body echoed back: reasons
 * end up in logs and terminals, and bodies come from outside.
 */
static void
tidy(char *s)
{
	char *p;

	if ((p = strstr(s, " (while parsing")) != NULL)
		*p = '\0';
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* The message of an invalid jv (consumed) into err. */
static int
invalid(jv v, const char *what, char *err)
{
	int r = invalid_raw(v, what, err);

	if (err != NULL)
		tidy(err);
	return r;
}

static int
invalid_raw(jv v, const char *what, char *err)
{
	jv msg = jv_invalid_get_msg(v);
	int r;

	if (jv_get_kind(msg) == JV_KIND_STRING) {
		r = risk_seterr(err, RISK_EJQ, "%s: %s", what,
		    jv_string_value(msg));
	} else if (jv_get_kind(msg) == JV_KIND_NULL) {
		r = risk_seterr(err, RISK_EJQ, "%s", what);
	} else {
		msg = jv_dump_string(msg, 0);
		r = risk_seterr(err, RISK_EJQ, "%s: %s", what,
		    jv_string_value(msg));
	}
	jv_free(msg);
	return r;
}

/* Write one value as a line: raw for strings, compact JSON otherwise. */
static int
emit(FILE *fp, jv v)
{
	if (jv_get_kind(v) == JV_KIND_STRING) {
		fwrite(jv_string_value(v), 1, (size_t)jv_string_length_bytes(
		    jv_copy(v)), fp);
		jv_free(v);
	} else {
		jv_dumpf(v, fp, 0);
	}
	putc_unlocked('\n', fp);
	return ferror(fp) ? RISK_EIO : RISK_OK;
}

static jv
view(const struct risk_view *v)
{
	const struct risk_record *rec = v->rec;
	char when[32];
	int64_t age;
	jv o = jv_object();

	o = jv_object_set(o, jv_string("id"), jv_string(v->id));
	if (rec == NULL) {
		o = jv_object_set(o, jv_string("error"),
		    jv_string("not_cached"));
		return jv_object_set(o, jv_string("queued"),
		    jv_bool(v->queued));
	}
	age = (v->now_ms - rec->fetched_at) / 1000;
	if (age < 0)
		age = 0;
	if (rec->found) {
		o = jv_object_set(o, jv_string("status"),
		    jv_string(rec->status));
		risk_time_format(rec->changed_at, when);
		o = jv_object_set(o, jv_string("status_changed_at"),
		    jv_string(when));
	} else {
		o = jv_object_set(o, jv_string("error"),
		    jv_string("not_found"));
	}
	risk_time_format(rec->fetched_at / 1000, when);
	o = jv_object_set(o, jv_string("fetched_at"), jv_string(when));
	o = jv_object_set(o, jv_string("age"), jv_number((double)age));
	o = jv_object_set(o, jv_string("fresh"),
	    jv_bool(v->now_ms - rec->fetched_at <= v->max_age_ms));
	if (v->queued)
		o = jv_object_set(o, jv_string("queued"), jv_true());
	return o;
}

/* ---- the fast writer for record lines -------------------------------- */

/* True if JSON prints s as it is, between quotes. */
static bool
plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' ||
		    (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

struct out {
	char *p, *end;
};

static void
put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(o->end - o->p) > n) {
		memcpy(o->p, s, n);
		o->p += n;
	} else {
		o->p = o->end;	/* marks overflow */
	}
}

static void
putnum(struct out *o, int64_t n)
{
	char d[24], *q = d + sizeof d;
	uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;

	*--q = '\0';
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (n < 0)
		*--q = '-';
	put(o, q);
}

/* A whole number prints the same from jv only below 1e17. */
#define FAST_NUM_MAX INT64_C(99999999999999999)

/*
 * The line jv would print for view(v), into buf without a newline; -1 if
 * it does not fit or needs escaping (then jv writes it).
 */
static int
fast_view(const struct risk_view *v, char *buf, size_t bufsz)
{
	const struct risk_record *rec = v->rec;
	struct out o = { buf, buf + bufsz };
	char when[32];
	int64_t age;

	if (!plain(v->id) || (rec != NULL && rec->found && !plain(rec->status)))
		return -1;
	put(&o, "{\"id\":\"");
	put(&o, v->id);
	if (rec == NULL) {
		put(&o, "\",\"error\":\"not_cached\",\"queued\":");
		put(&o, v->queued ? "true}" : "false}");
		goto done;
	}
	age = (v->now_ms - rec->fetched_at) / 1000;
	if (age < 0)
		age = 0;
	if (age > FAST_NUM_MAX)
		return -1;
	if (rec->found) {
		put(&o, "\",\"status\":\"");
		put(&o, rec->status);
		put(&o, "\",\"status_changed_at\":\"");
		risk_time_format(rec->changed_at, when);
		put(&o, when);
	} else {
		put(&o, "\",\"error\":\"not_found");
	}
	put(&o, "\",\"fetched_at\":\"");
	risk_time_format(rec->fetched_at / 1000, when);
	put(&o, when);
	put(&o, "\",\"age\":");
	putnum(&o, age);
	put(&o, ",\"fresh\":");
	put(&o, v->now_ms - rec->fetched_at <= v->max_age_ms ? "true" :
	    "false");
	put(&o, v->queued ? ",\"queued\":true}" : "}");
done:
	if (o.p >= o.end)
		return -1;
	*o.p = '\0';
	return (int)(o.p - buf);
}

int
risk_print_view(struct risk_printer *p, const struct risk_view *v,
    char *err)
{
	struct risk_filter *f = p->filter;
	char line[512];
	jv o, r;
	int ret = RISK_OK, n;

	if (f == NULL && (n = fast_view(v, line, sizeof line - 1)) >= 0) {
		line[n++] = '\n';
		fwrite(line, 1, (size_t)n, p->fp);
		goto out;
	}
	if ((ret = jq_load(err)) != RISK_OK)
		return ret;
	o = view(v);
	if (f == NULL) {
		jv_dumpf(o, p->fp, 0);
		putc_unlocked('\n', p->fp);
		goto out;
	}
	f->msg[0] = '\0';
	jq_start(f->jq, o, 0);
	while (jv_is_valid(r = filter_next(f->jq))) {
		if ((ret = emit(p->fp, r)) != RISK_OK)
			break;
	}
	if (ret == RISK_OK && jv_invalid_has_msg(jv_copy(r)))
		return invalid(r, "jq", err);
	jv_free(r);
out:
	if (ret == RISK_OK && ferror(p->fp))
		ret = RISK_EIO;
	if (ret == RISK_EIO)
		risk_seterr(err, RISK_EIO, "write error");
	return ret;
}

int
risk_filter_text(struct risk_filter *f, FILE *fp, const char *json,
    size_t len, long *lines, char *err)
{
	jv o, r;
	int ret = RISK_OK;

	if ((ret = jq_load(err)) != RISK_OK)
		return ret;
	o = jv_parse_sized(json, (int)len);
	if (!jv_is_valid(o))
		return invalid(o, "json", err);
	f->msg[0] = '\0';
	jq_start(f->jq, o, 0);
	while (jv_is_valid(r = filter_next(f->jq))) {
		if ((ret = emit(fp, r)) != RISK_OK)
			break;
		(*lines)++;
	}
	if (ret == RISK_OK && jv_invalid_has_msg(jv_copy(r)))
		return invalid(r, "jq", err);
	jv_free(r);
	if (ret == RISK_OK && ferror(fp))
		ret = RISK_EIO;
	if (ret == RISK_EIO)
		risk_seterr(err, RISK_EIO, "write error");
	return ret;
}

/* Copy a jv string (consumed) into buf; -1 if it does not fit. */
static int
tobuf(jv s, char *buf, size_t bufsz)
{
	int len = jv_string_length_bytes(jv_copy(s));

	if (len < 0 || (size_t)len >= bufsz) {
		jv_free(s);
		return -1;
	}
	memcpy(buf, jv_string_value(s), (size_t)len + 1);
	jv_free(s);
	return len;
}

int
risk_view_json(const struct risk_view *v, char *buf, size_t bufsz)
{
	int n;

	if ((n = fast_view(v, buf, bufsz)) >= 0)
		return n;
	return risk__view_json_jv(v, buf, bufsz);
}

int
risk__view_json_jv(const struct risk_view *v, char *buf, size_t bufsz)
{
	if (jq_load(NULL) != RISK_OK)
		return -1;
	return tobuf(jv_dump_string(view(v), 0), buf, bufsz);
}

int
risk_error_json(const char *code, const char *id, char *buf, size_t bufsz)
{
	jv o;

	if (jq_load(NULL) != RISK_OK)
		return -1;
	o = jv_object();
	if (id != NULL)
		o = jv_object_set(o, jv_string("id"), jv_string(id));
	o = jv_object_set(o, jv_string("error"), jv_string(code));
	return tobuf(jv_dump_string(o, 0), buf, bufsz);
}

/* ---- mapping a legacy body to a record ------------------------------ */

struct risk_map {
	struct risk_filter *filter;	/* NULL: the default, in C */
};

int
risk_map_new(struct risk_map **mp, const char *prog, char *err)
{
	struct risk_map *m;
	int r;

	*mp = NULL;
	if ((r = jq_load(err)) != RISK_OK)
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
risk_map_free(struct risk_map *m)
{
	if (m == NULL)
		return;
	risk_filter_free(m->filter);
	free(m);
}

/* A mapped object (consumed) into rec. */
static int
to_record(jv o, struct risk_record *rec, char *err)
{
	jv st, ch;
	int64_t sec;
	int r = RISK_OK;

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
	if (jv_get_kind(st) != JV_KIND_STRING) {
		r = risk_seterr(err, RISK_EJQ,
		    "mapping gave no string status");
	} else if (jv_string_length_bytes(jv_copy(st)) == 0 ||
	    (size_t)jv_string_length_bytes(jv_copy(st)) >= sizeof rec->status) {
		r = risk_seterr(err, RISK_EJQ,
		    "status is empty or longer than %zu bytes",
		    sizeof rec->status - 1);
	} else {
		snprintf(rec->status, sizeof rec->status, "%s",
		    jv_string_value(st));
		rec->found = true;
		rec->changed_at = 0;
		if (jv_get_kind(ch) == JV_KIND_STRING) {
			if (risk_time_parse(jv_string_value(ch), &sec) !=
			    RISK_OK)
				r = risk_seterr(err, RISK_EJQ,
				    "status_changed_at is not a date");
			else
				rec->changed_at = sec;
		} else if (jv_get_kind(ch) == JV_KIND_NUMBER) {
			double d = jv_number_value(ch);

			/* written so that NaN (jq parses "nan") fails too */
			if (!(d >= 0 && d <= 253402300799.0))
				r = risk_seterr(err, RISK_EJQ,
				    "status_changed_at is out of range");
			else
				rec->changed_at = (int64_t)d;
		} else if (jv_is_valid(ch) &&
		    jv_get_kind(ch) != JV_KIND_NULL) {
			r = risk_seterr(err, RISK_EJQ,
			    "status_changed_at is not a date");
		}
	}
	jv_free(st);
	jv_free(ch);
	return r;
}

/* Parse a body; RISK_EJQ with the parser's reason if it is not JSON. */
static int
parse(const char *body, size_t len, jv *out, char *err)
{
	jv v;

	if (len > INT32_MAX)
		return risk_seterr(err, RISK_EJQ, "body too large");
	/* not JSON (RFC 8259), and libjq 1.6 leaks on some such input */
	if (memchr(body, '\0', len) != NULL)
		return risk_seterr(err, RISK_ENOTJSON,
		    "body is not JSON: it holds a NUL byte");
	v = jv_parse_sized(body, (int)len);
	if (!jv_is_valid(v)) {
		invalid(v, "body is not JSON", err);
		return RISK_ENOTJSON;	/* a maintenance page: the service's */
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
	r = filter_next(f->jq);
	if (jv_is_valid(r)) {
		ret = to_record(r, rec, err);
		/* drain the rest so the next body starts clean */
		while (jv_is_valid(r = filter_next(f->jq)))
			jv_free(r);
		jv_free(r);
		return ret;
	}
	if (jv_invalid_has_msg(jv_copy(r)))
		return invalid(r, "map", err);
	jv_free(r);
	return risk_seterr(err, RISK_EJQ, "map: filter gave no output");
}

int
risk_map_apply(struct risk_map *m, const char *body, size_t len,
    struct risk_record *rec, char *err)
{
	jv in;
	int ret;

	if ((ret = jq_load(err)) != RISK_OK)
		return ret;
	if ((ret = parse(body, len, &in, err)) != RISK_OK)
		return ret;
	return map_value(m->filter, in, rec, err);
}

/* ---- lines of a dump (risk-load) ------------------------------------ */
/*
 * A dump line is parsed once: the ID comes out of the object, then the
 * object itself goes through the mapping like a legacy body.  The
 * default mapping stays in C, so a million lines never touch jq.
 */

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
risk_map_line(struct risk_map *m, const char *line, size_t len,
    const char *idkey, struct risk_record *rec, char *err)
{
	jv o;
	int ret;

	if ((ret = jq_load(err)) != RISK_OK)
		return ret;
	if (len > INT32_MAX)
		return risk_seterr(err, RISK_EINVAL, "line too long");
	if (memchr(line, '\0', len) != NULL)	/* as in parse() */
		return risk_seterr(err, RISK_EINVAL,
		    "not JSON: it holds a NUL byte");
	o = jv_parse_sized(line, (int)len);
	if (!jv_is_valid(o))
		return invalid(o, "not JSON", err);
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

int
risk_json_quote(FILE *fp, const char *s)
{
	jv d;

	if (jq_load(NULL) != RISK_OK)
		return RISK_EJQ;
	d = jv_dump_string(jv_string(s), 0);

	fputs(jv_string_value(d), fp);
	jv_free(d);
	return ferror(fp) ? RISK_EIO : RISK_OK;
}

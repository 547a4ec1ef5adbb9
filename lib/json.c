/*
 * json.c — a user's jq filters, and the record view as a jv for them.
 *
 * The only jv work besides map.c's; libjq is loaded on first use (jq.c).
 * libjq 1.6 spends about 20 ms compiling its builtins on every
 * jq_compile, so a filter is compiled only when the user gave one.  A
 * line printed without a filter never comes here (print.c).
 *
 * Invariants:
 * - No filter sees the environment: it is empty while a filter compiles
 *   and while it runs ($ENV and env).
 * - No program with a module directive reaches jq_compile: libjq 1.6
 *   aborts the process on import/include without a library path.
 * - A string a filter yields is printed raw, as jq -r does, but through
 *   the plain-text sanitiser: a status from outside never reaches a
 *   terminal as control bytes.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jqapi.h"

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

static bool
word_char(int c)
{
	return isalnum(c) || c == '_';
}

/*
 * The module directive (import, include, module) in prog outside strings
 * and comments, or NULL.  String interpolation \( … ) is code again.  A
 * field .import or a variable $import is not a directive.
 */
static const char *
module_directive(const char *prog)
{
	static const char *const words[] = { "import", "include", "module" };
	int depth[64], nest = 0;	/* open parens per interpolation */
	bool str = false;
	const char *p = prog;
	size_t i, n;

	while (*p != '\0') {
		if (str) {
			if (*p == '\\' && p[1] == '(') {
				if (nest == (int)(sizeof depth / sizeof *depth))
					return "(nested too deeply)";
				depth[nest++] = 0;
				str = false;
				p += 2;
			} else if (*p == '\\' && p[1] != '\0') {
				p += 2;
			} else {
				if (*p == '"')
					str = false;
				p++;
			}
			continue;
		}
		if (*p == '"') {
			str = true;
			p++;
		} else if (*p == '#') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (*p == '(' && nest > 0) {
			depth[nest - 1]++;
			p++;
		} else if (*p == ')' && nest > 0 && depth[nest - 1] == 0) {
			nest--;		/* back into the string */
			str = true;
			p++;
		} else if (*p == ')' && nest > 0) {
			depth[nest - 1]--;
			p++;
		} else if (word_char((unsigned char)*p)) {
			for (n = 0; word_char((unsigned char)p[n]); n++)
				;
			if (p == prog || (p[-1] != '.' && p[-1] != '$'))
				for (i = 0; i < sizeof words / sizeof *words;
				    i++)
					if (strlen(words[i]) == n &&
					    memcmp(p, words[i], n) == 0)
						return words[i];
			p += n;
		} else {
			p++;
		}
	}
	return NULL;
}

int
risk_filter_new(struct risk_filter **fp, const char *prog, char *err)
{
	static char *empty[] = { NULL };
	struct risk_filter *f;
	const char *dir;
	char **saved;
	int ok;

	*fp = NULL;
	if ((dir = module_directive(prog)) != NULL)
		return risk_seterr(err, RISK_EINVAL, "invalid jq filter: "
		    "module directives are not supported: %s", dir);
	if ((ok = risk__jq_load(err)) != RISK_OK)
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
jv
risk__filter_next(jq_state *jq)
{
	static char *empty[] = { NULL };
	char **saved = environ;
	jv r;

	environ = empty;
	r = jq_next(jq);
	environ = saved;
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

/*
 * One line, no control bytes, and none of the body echoed back: reasons
 * end up in logs and terminals, and bodies come from outside.
 */
int
risk__jv_invalid(jv v, const char *what, char *err)
{
	int r = invalid_raw(v, what, err);
	char *p;

	if (err == NULL)
		return r;
	if ((p = strstr(err, " (while parsing")) != NULL)
		*p = '\0';
	risk_text_clean(err);
	return r;
}

/* One value a filter yielded (consumed) as a line: a string as plain
 * text (sanitised), anything else as compact JSON. */
static int
emit(FILE *fp, jv v)
{
	if (jv_get_kind(v) == JV_KIND_STRING) {
		risk_text_write(fp, jv_string_value(v), (size_t)
		    jv_string_length_bytes(jv_copy(v)));
		jv_free(v);
	} else {
		jv_dumpf(v, fp, 0);
	}
	putc_unlocked('\n', fp);
	return ferror(fp) ? RISK_EIO : RISK_OK;
}

/* The object print.c writes for v, as a jv. */
static jv
view(const struct risk_view *v)
{
	const struct risk_record *rec = v->rec;
	char when[32];
	jv o = jv_object();

	o = jv_object_set(o, jv_string("id"), jv_string(v->id));
	if (rec == NULL) {
		o = jv_object_set(o, jv_string("error"),
		    jv_string("not_cached"));
		return jv_object_set(o, jv_string("queued"),
		    jv_bool(v->queued));
	}
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
	o = jv_object_set(o, jv_string("age"),
	    jv_number((double)risk__view_age(v)));
	o = jv_object_set(o, jv_string("fresh"), jv_bool(risk__view_fresh(v)));
	if (v->queued)
		o = jv_object_set(o, jv_string("queued"), jv_true());
	return o;
}

/* A view through a user's filter, each output a line. */
static int
filter_view(struct risk_filter *f, FILE *fp, const struct risk_view *v,
    char *err)
{
	jv r;
	int ret = RISK_OK;

	f->msg[0] = '\0';
	jq_start(f->jq, view(v), 0);
	while (jv_is_valid(r = risk__filter_next(f->jq))) {
		if ((ret = emit(fp, r)) != RISK_OK)
			break;
	}
	if (ret == RISK_OK && jv_invalid_has_msg(jv_copy(r)))
		return risk__jv_invalid(r, "jq", err);
	jv_free(r);
	return ret;
}

int
risk_print_view(struct risk_printer *p, const struct risk_view *v,
    char *err)
{
	int r;

	if (p->filter == NULL)	/* print.c, without libjq */
		return risk__view_print(p->fp, v, err);
	if ((r = filter_view(p->filter, p->fp, v, err)) != RISK_OK &&
	    r != RISK_EIO)
		return r;
	return ferror(p->fp) ? risk_seterr(err, RISK_EIO, "write error") :
	    RISK_OK;
}

int
risk_filter_text(struct risk_filter *f, FILE *fp, const char *json,
    size_t len, long *lines, char *err)
{
	jv o, r;
	int ret = RISK_OK;

	if (len > INT32_MAX)
		return risk_seterr(err, RISK_EINVAL, "json: too large");
	o = jv_parse_sized(json, (int)len);
	if (!jv_is_valid(o))
		return risk__jv_invalid(o, "json", err);
	f->msg[0] = '\0';
	jq_start(f->jq, o, 0);
	while (jv_is_valid(r = risk__filter_next(f->jq))) {
		if ((ret = emit(fp, r)) != RISK_OK)
			break;
		(*lines)++;
	}
	if (ret == RISK_OK && jv_invalid_has_msg(jv_copy(r)))
		return risk__jv_invalid(r, "jq", err);
	jv_free(r);
	if (ret == RISK_OK && ferror(fp))
		ret = RISK_EIO;
	if (ret == RISK_EIO)
		risk_seterr(err, RISK_EIO, "write error");
	return ret;
}

int
risk__view_json_jv(const struct risk_view *v, char *buf, size_t bufsz)
{
	jv s;
	int len;

	if (risk__jq_load(NULL) != RISK_OK)
		return -1;
	s = jv_dump_string(view(v), 0);
	len = jv_string_length_bytes(jv_copy(s));
	if (len < 0 || (size_t)len >= bufsz) {
		jv_free(s);
		return -1;
	}
	memcpy(buf, jv_string_value(s), (size_t)len + 1);
	jv_free(s);
	return len;
}

int
risk__json_quote_jv(const char *s, size_t len, char *buf, size_t bufsz)
{
	jv d;
	int n;

	if (risk__jq_load(NULL) != RISK_OK || len > INT32_MAX)
		return -1;
	d = jv_dump_string(jv_string_sized(s, (int)len), 0);
	n = jv_string_length_bytes(jv_copy(d));
	if (n < 0 || (size_t)n >= bufsz) {
		jv_free(d);
		return -1;
	}
	memcpy(buf, jv_string_value(d), (size_t)n + 1);
	jv_free(d);
	return n;
}

int
risk_change_print(struct risk_printer *p, const struct risk_change *c,
    long *lines, char *err)
{
	char line[RISK_CHANGE_LINE_MAX];
	int n;

	if ((n = risk__change_json(c, line, sizeof line - 1)) < 0)
		return risk_seterr(err, RISK_EINVAL, "%lld: change too long "
		    "to print", (long long)c->seq);
	if (p->filter != NULL)
		return risk_filter_text(p->filter, p->fp, line, (size_t)n,
		    lines, err);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, p->fp);
	(*lines)++;
	return ferror(p->fp) ? risk_seterr(err, RISK_EIO, "write error") :
	    RISK_OK;
}

/*
 * print.c — every line the programs print from data: records (risk-get,
 * risk-fetch, risk-purge), CGI bodies, dead letters, fetch-log rows and
 * status changes (risk-changes), and JSON quoting.
 *
 * Invariants:
 * - Nothing here needs libjq.  JSON is written in C, byte for byte what
 *   jq 1.6's jv_dump_string writes for the same object (a unit test holds
 *   the two equal): keys in insertion order, strings escaped as jv does
 *   (", \, \b \f \n \r \t, other C0 and DEL as \u00XX lowercase, bytes
 *   that are not UTF-8 as U+FFFD, everything else as it is), whole
 *   numbers in decimal.  Only a user's --jq filter goes through jv.
 * - Every string from outside that is printed as plain text (tab
 *   separated fields, IDs in lists) goes through text.c's sanitiser.
 */
#include <string.h>

#include "internal.h"

/* ---- a sink: a stream, or a buffer that remembers overflowing ------ */

struct out {
	FILE *fp;		/* NULL: the buffer */
	char *p, *end;
};

static void
putn(struct out *o, const char *s, size_t n)
{
	if (o->fp != NULL) {
		fwrite(s, 1, n, o->fp);
	} else if ((size_t)(o->end - o->p) > n) {
		memmove(o->p, s, n);	/* risk_text_clean works in place */
		o->p += n;
	} else {
		o->p = o->end;	/* marks overflow */
	}
}

static void
put(struct out *o, const char *s)
{
	putn(o, s, strlen(s));
}

static void
putnum(struct out *o, int64_t n)
{
	char d[24], *q = d + sizeof d;
	uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;

	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (n < 0)
		*--q = '-';
	putn(o, q, (size_t)(d + sizeof d - q));
}

/* s as a JSON string, quotes included, as jv writes it. */
static void
quote(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s), *run;
	char esc[8] = "\\u00";
	size_t n;
	long c;

	putn(o, "\"", 1);
	for (run = p; p < end; p += n) {
		n = risk__utf8_next(p, end, &c);
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;	/* as it is */
		putn(o, (const char *)run, (size_t)(p - run));
		run = p + n;
		switch (c) {
		case -1:
			putn(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			break;
		case '"':
			putn(o, "\\\"", 2);
			break;
		case '\\':
			putn(o, "\\\\", 2);
			break;
		case '\b':
			putn(o, "\\b", 2);
			break;
		case '\f':
			putn(o, "\\f", 2);
			break;
		case '\n':
			putn(o, "\\n", 2);
			break;
		case '\r':
			putn(o, "\\r", 2);
			break;
		case '\t':
			putn(o, "\\t", 2);
			break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			putn(o, esc, 6);
		}
	}
	putn(o, (const char *)run, (size_t)(p - run));
	putn(o, "\"", 1);
}

static int
done(FILE *fp, char *err)
{
	return ferror(fp) ? risk_seterr(err, RISK_EIO, "write error") :
	    RISK_OK;
}

int
risk_json_quote(FILE *fp, const char *s)
{
	struct out o = { .fp = fp };

	quote(&o, s);
	return ferror(fp) ? RISK_EIO : RISK_OK;
}

/* ---- record lines (risk-get, risk-fetch, CGI bodies) --------------- */

/* A whole number prints the same from jv up to 2^53. */
#define VIEW_AGE_MAX INT64_C(9007199254740991)

int64_t
risk__view_age(const struct risk_view *v)
{
	int64_t d;

	if (__builtin_sub_overflow(v->now_ms, v->rec->fetched_at, &d))
		return v->now_ms < 0 ? 0 : VIEW_AGE_MAX;
	d /= 1000;
	return d < 0 ? 0 : d > VIEW_AGE_MAX ? VIEW_AGE_MAX : d;
}

bool
risk__view_fresh(const struct risk_view *v)
{
	int64_t d;

	if (__builtin_sub_overflow(v->now_ms, v->rec->fetched_at, &d))
		return v->now_ms < 0;
	return d <= v->max_age_ms;
}

static void
view(struct out *o, const struct risk_view *v)
{
	const struct risk_record *rec = v->rec;
	char when[32];

	put(o, "{\"id\":");
	quote(o, v->id);
	if (rec == NULL) {
		put(o, ",\"error\":\"not_cached\",\"queued\":");
		put(o, v->queued ? "true}" : "false}");
		return;
	}
	if (rec->found) {
		put(o, ",\"status\":");
		quote(o, rec->status);
		put(o, ",\"status_changed_at\":\"");
		risk_time_format(rec->changed_at, when);
		put(o, when);
		put(o, "\"");
	} else {
		put(o, ",\"error\":\"not_found\"");
	}
	put(o, ",\"fetched_at\":\"");
	risk_time_format(rec->fetched_at / 1000, when);
	put(o, when);
	put(o, "\",\"age\":");
	putnum(o, risk__view_age(v));
	put(o, ",\"fresh\":");
	put(o, risk__view_fresh(v) ? "true" : "false");
	put(o, v->queued ? ",\"queued\":true}" : "}");
}

int
risk__view_print(FILE *fp, const struct risk_view *v, char *err)
{
	struct out o = { .fp = fp };

	view(&o, v);
	putc_unlocked('\n', fp);
	return done(fp, err);
}

int
risk_view_json(const struct risk_view *v, char *buf, size_t bufsz)
{
	struct out o = { .p = buf, .end = buf + bufsz };

	view(&o, v);
	if (o.p >= o.end)
		return -1;
	*o.p = '\0';
	return (int)(o.p - buf);
}

int
risk_error_json(const char *code, const char *id, char *buf, size_t bufsz)
{
	struct out o = { .p = buf, .end = buf + bufsz };

	put(&o, "{");
	if (id != NULL) {
		put(&o, "\"id\":");
		quote(&o, id);
		put(&o, ",");
	}
	put(&o, "\"error\":");
	quote(&o, code);
	put(&o, "}");
	if (o.p >= o.end)
		return -1;
	*o.p = '\0';
	return (int)(o.p - buf);
}

/* ---- risk-purge's list of records --------------------------------- */

int
risk_record_print(FILE *fp, const struct risk_record *rec, bool json,
    char *err)
{
	struct out o = { .fp = fp };
	char when[32];

	risk_time_format(rec->fetched_at / 1000, when);
	if (json) {
		put(&o, "{\"id\":");
		quote(&o, rec->id);
		put(&o, ",\"status\":");
		if (rec->found)
			quote(&o, rec->status);
		else
			put(&o, "null");
		put(&o, ",\"fetched_at\":\"");
		put(&o, when);
		put(&o, "\"}\n");
	} else {
		risk_text_print(fp, rec->id);
		put(&o, "\t");
		put(&o, when);
		put(&o, "\t");
		if (rec->found)
			risk_text_print(fp, rec->status);
		else
			put(&o, "-");
		put(&o, "\n");
	}
	return done(fp, err);
}

/* ---- dead letters (risk-stat --dead, risk-purge --dead) ------------ */

int
risk_dead_print(FILE *fp, const struct risk_dead *d, bool json, char *err)
{
	struct out o = { .fp = fp };
	char died[32], enq[32];

	risk_time_format(d->died_at / 1000, died);
	risk_time_format(d->enqueued_at / 1000, enq);
	if (json) {
		put(&o, "{\"id\":");
		quote(&o, d->id);
		put(&o, ",\"reason\":");
		quote(&o, d->reason);
		put(&o, ",\"attempts\":");
		putnum(&o, d->attempts);
		put(&o, ",\"redrives\":");
		putnum(&o, d->redrives);
		put(&o, ",\"enqueued_at\":\"");
		put(&o, enq);
		put(&o, "\",\"died_at\":\"");
		put(&o, died);
		put(&o, "\"}\n");
	} else {
		risk_text_print(fp, d->id);
		put(&o, "\t");
		put(&o, died);
		put(&o, "\t");
		putnum(&o, d->attempts);
		put(&o, "\t");
		putnum(&o, d->redrives);
		put(&o, "\t");
		put(&o, enq);
		put(&o, "\t");
		risk_text_print(fp, d->reason);
		put(&o, "\n");
	}
	return done(fp, err);
}

/* ---- fetch-log rows (risk-stat --log) ------------------------------ */

/* UTC with milliseconds: 2026-11-27T08:00:00.123Z */
static void
time_ms(int64_t ms, char out[32])
{
	int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;

	risk_time_format(sec, out);
	/* "....:SSZ" -> "....:SS.mmmZ"; the format is fixed width */
	snprintf(out + 19, 32 - 19, ".%03dZ", (int)(ms - sec * 1000));
}

int
risk_log_print(FILE *fp, const struct risk_log_entry *e, bool json,
    char *err)
{
	struct out o = { .fp = fp };
	char at[32];

	time_ms(e->at, at);
	if (json) {
		put(&o, "{\"at\":\"");
		put(&o, at);
		put(&o, "\",\"id\":");
		quote(&o, e->id);
		put(&o, ",\"outcome\":");
		quote(&o, risk_outcome_str(e->outcome));
		put(&o, ",\"http\":");
		if (e->http > 0)
			putnum(&o, e->http);
		else
			put(&o, "null");
		put(&o, ",\"ms\":");
		putnum(&o, e->ms);
		put(&o, ",\"reason\":");
		if (e->reason != NULL)
			quote(&o, e->reason);
		else
			put(&o, "null");
		put(&o, "}\n");
	} else {
		put(&o, at);
		put(&o, "\t");
		risk_text_print(fp, e->id);
		put(&o, "\t");
		put(&o, risk_outcome_str(e->outcome));
		put(&o, "\t");
		if (e->http > 0)
			putnum(&o, e->http);
		else
			put(&o, "-");
		put(&o, "\t");
		putnum(&o, e->ms);
		put(&o, "\t");
		if (e->reason != NULL)
			risk_text_print(fp, e->reason);
		else
			put(&o, "-");
		put(&o, "\n");
	}
	return done(fp, err);
}

/* ---- change lines (risk-changes) ------------------------------------ */

static void
change(struct out *o, const struct risk_change *c)
{
	char when[32];

	put(o, "{\"seq\":");
	putnum(o, c->seq);
	put(o, ",\"id\":");
	quote(o, c->id);
	put(o, ",\"status\":");
	quote(o, c->status != NULL ? c->status : RISK_NOT_FOUND_STATUS);
	put(o, ",\"previous\":");
	if (c->first)
		put(o, "null");
	else
		quote(o, c->previous != NULL ? c->previous :
		    RISK_NOT_FOUND_STATUS);
	put(o, ",\"changed_at\":\"");
	risk_time_format(c->changed_at, when);
	put(o, when);
	put(o, "\",\"fetched_at\":\"");
	risk_time_format(c->fetched_at / 1000, when);
	put(o, when);
	put(o, "\"}");
}

int
risk__change_json(const struct risk_change *c, char *buf, size_t bufsz)
{
	struct out o = { .p = buf, .end = buf + bufsz };

	change(&o, c);
	if (o.p >= o.end)
		return -1;
	*o.p = '\0';
	return (int)(o.p - buf);
}

/*
 * change.c — the one printer of a change line (risk-changes):
 *
 *   {"seq":7,"id":"123","status":"indebted","previous":"reliable",
 *    "changed_at":"2026-12-01T10:00:00Z","fetched_at":"2026-12-01T10:02:11Z"}
 *
 * Invariants:
 * - Written in C, without libjq: a feed of millions of lines costs a
 *   buffer copy each.  A status is quoted here as jq would, except that
 *   every control byte and DEL is escaped: a status came from outside.
 * - A not-found answer prints as the status RISK_NOT_FOUND_STATUS
 *   ("not_found"); previous is null only for a company's first answer.
 * - With a filter, the same text goes through jq (json.c).
 */
#include <string.h>

#include "internal.h"

#define LINE_MAX_LEN 1024	/* two statuses of 63 bytes, escaped: < 900 */

struct out {
	char *p, *end;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if ((size_t)(o->end - o->p) > n) {
		memcpy(o->p, s, n);
		o->p += n;
	} else {
		o->p = o->end;	/* marks overflow */
	}
}

#define PUTS(o, lit) put((o), (lit), sizeof (lit) - 1)

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
	put(o, q, (size_t)(d + sizeof d - q));
}

/* s as a JSON string, quotes included. */
static void
putstr(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[6];
	unsigned char c;

	PUTS(o, "\"");
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		put(o, run, (size_t)(s - run));
		run = s + 1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
			continue;
		}
		memcpy(esc, "\\u00", 4);
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 15];
		put(o, esc, 6);
	}
	put(o, run, (size_t)(s - run));
	PUTS(o, "\"");
}

static void
puttime(struct out *o, int64_t sec)
{
	char when[32];

	risk_time_format(sec, when);
	PUTS(o, "\"");
	put(o, when, strlen(when));
	PUTS(o, "\"");
}

int
risk_change_print(struct risk_printer *p, const struct risk_change *c,
    long *lines, char *err)
{
	char line[LINE_MAX_LEN];
	struct out o = { line, line + sizeof line };
	size_t n;

	PUTS(&o, "{\"seq\":");
	putnum(&o, c->seq);
	PUTS(&o, ",\"id\":");
	putstr(&o, c->id);
	PUTS(&o, ",\"status\":");
	putstr(&o, c->status != NULL ? c->status : RISK_NOT_FOUND_STATUS);
	PUTS(&o, ",\"previous\":");
	if (c->first)
		PUTS(&o, "null");
	else
		putstr(&o, c->previous != NULL ? c->previous :
		    RISK_NOT_FOUND_STATUS);
	PUTS(&o, ",\"changed_at\":");
	puttime(&o, c->changed_at);
	PUTS(&o, ",\"fetched_at\":");
	puttime(&o, c->fetched_at / 1000);
	PUTS(&o, "}\n");
	if (o.p >= o.end)
		return risk_seterr(err, RISK_EINVAL, "%lld: change too long "
		    "to print", (long long)c->seq);
	n = (size_t)(o.p - line);
	if (p->filter != NULL)
		return risk_filter_text(p->filter, p->fp, line, n - 1, lines,
		    err);
	if (fwrite(line, 1, n, p->fp) != n)
		return risk_seterr(err, RISK_EIO, "write error");
	(*lines)++;
	return RISK_OK;
}

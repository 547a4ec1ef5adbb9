/*
 * text.c — the one plain-text sanitiser, and UTF-8 as jq reads it.
 *
 * Every string from outside that a program prints as plain text (tab
 * separated fields, raw --jq strings, IDs in lists, every diagnostic)
 * and every reason the queue stores from a hostile row goes through
 * here: NUL, C0 (tab and newline too), DEL, C1, bytes that are not
 * UTF-8, and the Unicode line separators and bidirectional overrides
 * each become one '?'.  No byte the toolkit did not write can move a
 * terminal's cursor, recolour it or forge a second line, and the result
 * is never longer than its input.  A leaf: it needs nothing but risk.h.
 */
#include <string.h>

#include "internal.h"

/*
 * The length of the character at p (at least 1), and in *cp its code
 * point, or -1 when the bytes are not UTF-8 (a stray or missing
 * continuation, an overlong form, a surrogate, beyond U+10FFFF).
 */
size_t
risk__utf8_next(const unsigned char *p, const unsigned char *end, long *cp)
{
	static const long first[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	long c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] < 0xc2 || p[0] > 0xf4) {	/* continuation or never */
		*cp = -1;
		return 1;
	}
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if ((size_t)(end - p) < len) {
		*cp = -1;
		return (size_t)(end - p);
	}
	c = p[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*cp = -1;
			return i;
		}
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < first[len] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		c = -1;
	*cp = c;
	return len;
}

/* A code point a terminal may be shown as it is. */
static bool
printable(long c)
{
	return c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f) &&
	    c != 0x2028 && c != 0x2029 && !(c >= 0x202a && c <= 0x202e) &&
	    !(c >= 0x2066 && c <= 0x2069);
}

bool
risk_text_printable(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	long c;

	while (p < end) {
		p += risk__utf8_next(p, end, &c);
		if (!printable(c))
			return false;
	}
	return true;
}

/*
 * s sanitised: to fp, or into dst (which may be s itself: the output
 * never runs ahead of the input); the number of bytes made.
 */
static size_t
text(FILE *fp, char *dst, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *run = p;
	size_t n, j = 0;
	long c;

	for (; p < end; p += n) {
		n = risk__utf8_next(p, end, &c);
		if (printable(c))
			continue;
		if (fp != NULL) {
			fwrite(run, 1, (size_t)(p - run), fp);
			putc_unlocked('?', fp);
		} else {
			memmove(dst + j, run, (size_t)(p - run));
			dst[j + (size_t)(p - run)] = '?';
		}
		j += (size_t)(p - run) + 1;
		run = p + n;
	}
	if (fp != NULL)
		fwrite(run, 1, (size_t)(p - run), fp);
	else
		memmove(dst + j, run, (size_t)(p - run));
	return j + (size_t)(p - run);
}

int
risk_text_write(FILE *fp, const char *s, size_t len)
{
	text(fp, NULL, s, len);
	return ferror(fp) ? RISK_EIO : RISK_OK;
}

int
risk_text_print(FILE *fp, const char *s)
{
	return risk_text_write(fp, s, strlen(s));
}

void
risk_text_clean(char *s)
{
	s[text(NULL, s, s, strlen(s))] = '\0';
}

void
risk__printable(const unsigned char *s, size_t n, char *buf, size_t sz)
{
	size_t max = sz - 1, k;

	if (s == NULL) {
		s = (const unsigned char *)"";
		n = 0;
	}
	/* never longer than its input, so it fits */
	k = text(NULL, buf, (const char *)s, n < max ? n : max);
	buf[k] = '\0';
	if (n > max && k > 0) {
		/* the cut shows as '?' in place of the last whole
		 * character, never of a byte inside one */
		while (k > 1 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
			k--;
		buf[k - 1] = '?';
		buf[k] = '\0';
	}
}

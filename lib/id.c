/*
 * id.c — company IDs.
 *
 * A valid ID is 1..RISK_ID_MAX bytes of [A-Za-z0-9._:-] starting with a
 * letter or digit.  Validation is the only gate between user input and
 * SQL, URLs and output, so everything downstream may assume it.
 */
#include <string.h>

#include "internal.h"

static bool
idchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
	    c == '-';
}

static bool
alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

bool
risk_id_valid(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len > RISK_ID_MAX || !alnum((unsigned char)id[0]))
		return false;
	for (i = 1; i < len; i++)
		if (!idchar((unsigned char)id[i]))
			return false;
	return true;
}

int
risk_id_urlencode(const char *id, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; (c = (unsigned char)*id) != '\0'; id++) {
		if (alnum(c) || c == '.' || c == '_' || c == '-' || c == '~') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
risk_urldecode(char *s)
{
	char *w = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+') {
			*w++ = ' ';
		} else if (*s == '%') {
			if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
				return false;
			if (hi == 0 && lo == 0)
				return false;
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return true;
}

/* A stage's name (--stage): a file name's part or a schema's. */
bool
risk__stage_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_'))
			return false;
	return i > 0 && i <= 32;
}

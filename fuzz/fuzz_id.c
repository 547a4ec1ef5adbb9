/*
 * fuzz_id.c — company IDs: validation, URL encoding and decoding.
 *
 * Promises checked: risk_id_valid() reads only len bytes and accepts
 * only 1..64 of [A-Za-z0-9._:-] starting with a letter or digit; an
 * encoding either fits the buffer exactly as sized or says -1, and never
 * writes past it; decoding never grows a string, and decodes what
 * encoding made back to the original.
 */
#include <string.h>

#include "fuzz.h"
#include "risk.h"

static bool
idchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
	    c == '-';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *buf, *dec, *copy;
	size_t len, i, bufsz;
	bool valid, model;
	int n;

	/* the raw bytes, with no terminator: ASan sees any over-read */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	valid = risk_id_valid(copy, size);
	model = size >= 1 && size <= RISK_ID_MAX && idchar(data[0]) &&
	    data[0] != '.' && data[0] != '_' && data[0] != ':' &&
	    data[0] != '-';
	for (i = 1; model && i < size; i++)
		model = idchar(data[i]);
	CHECK(valid == model);
	free(copy);

	s = fuzz_str(data, size);
	len = strlen(s);
	/* encode into a buffer of every size the first byte picks, exact
	 * size allocated so that one byte too many is caught */
	bufsz = size > 0 ? (size_t)data[0] % (3 * len + 2) + 1 : 1;
	if ((buf = malloc(bufsz)) == NULL)
		abort();
	n = risk_id_urlencode(s, buf, bufsz);
	CHECK(n == -1 || ((size_t)n < bufsz && buf[n] == '\0'));
	free(buf);

	bufsz = 3 * len + 1;
	if ((buf = malloc(bufsz)) == NULL)
		abort();
	n = risk_id_urlencode(s, buf, bufsz);
	CHECK(n >= 0 && (size_t)n == strlen(buf));
	for (i = 0; buf[i] != '\0'; i++)
		CHECK(buf[i] != '/' && buf[i] != '?' && buf[i] != '#' &&
		    buf[i] != '{' && buf[i] != '}' && buf[i] != ' ' &&
		    (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f);
	if (len <= RISK_ID_MAX && risk_id_valid(s, len))
		CHECK(strcmp(buf, s) == 0 ||
		    strchr(s, ':') != NULL);	/* only ':' is escaped */
	/* decoding what encoding made gives the string back */
	CHECK(risk_urldecode(buf) == true);
	CHECK(strcmp(buf, s) == 0);
	free(buf);

	/* decoding arbitrary input: never longer, always terminated */
	dec = fuzz_str(data, size);
	if (risk_urldecode(dec))
		CHECK(strlen(dec) <= len);
	free(dec);
	free(s);
	return 0;
}

/*
 * err.c — errors into a caller-owned buffer.
 *
 * Invariant: a failing library call writes exactly one reason into err
 * (when err is not NULL) and returns its negative status code; nothing
 * is ever printed.  The buffer is always NUL-terminated.
 */
#include <stdarg.h>
#include <stdio.h>

#include "risk.h"

int
risk_seterr(char *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	if (vsnprintf(err, RISK_ERRLEN, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
	return code;
}

int
risk_exit_status(int code)
{
	switch (code) {
	case RISK_OK:
		return RISK_EXIT_OK;
	case RISK_EBUSY:
		return RISK_EXIT_TEMPFAIL;
	case RISK_ENOTFOUND:
		return RISK_EXIT_PARTIAL;
	default:
		return RISK_EXIT_ERROR;
	}
}

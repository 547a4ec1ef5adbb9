/*
 * time.c — durations and timestamps.
 *
 * Durations are integer milliseconds, bounded to ten years so that any
 * sum with "now" fits in int64_t.  Timestamps print as UTC ISO 8601.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "risk.h"

#define DUR_MAX (INT64_C(10) * 366 * 86400 * 1000)

int
risk_duration_parse(const char *s, int64_t *ms, char *err)
{
	char *end;
	unsigned long long n;
	int64_t unit;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end == '\0' || strcmp(end, "s") == 0)
		unit = 1000;
	else if (strcmp(end, "ms") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		unit = 86400 * 1000;
	else
		goto bad;
	if (n > (unsigned long long)(DUR_MAX / unit))
		return risk_seterr(err, RISK_EINVAL,
		    "%s: duration too long (at most 3660d)", s);
	*ms = (int64_t)n * unit;
	return RISK_OK;
bad:
	return risk_seterr(err, RISK_EINVAL,
	    "%s: invalid duration (use 90, 90s, 15m, 1h, 7d)",
	    s == NULL ? "" : s);
}

int64_t
risk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
risk_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void
risk_time_format(int64_t sec, char out[32])
{
	int64_t z, era, y;
	unsigned doe, yoe, doy, mp, d, m, sod;

	/* outside years 0000-9999 the answer is clamped anyway; clamping
	 * first keeps the arithmetic below far from overflow */
	if (sec < INT64_C(-62167219200))
		sec = INT64_C(-62167219200);
	if (sec > INT64_C(253402300799))
		sec = INT64_C(253402300799);
	z = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400;
	sod = (unsigned)(sec - z * 86400);
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 0 || y > 9999) {
		snprintf(out, 32, "%s", y < 0 ? "0000-01-01T00:00:00Z" :
		    "9999-12-31T23:59:59Z");
		return;
	}
	/* Fixed width: 20 characters, cannot truncate. */
	snprintf(out, 32, "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)y, m, d,
	    sod / 3600, sod / 60 % 60, sod % 60);
}

static int
digits(const char **p, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (*(*p)++ - '0');
	}
	return v;
}

int
risk_time_parse(const char *s, int64_t *sec)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, se = 0, oh, om, sign;
	int64_t t;
	char *end;
	long long n;

	if (*p == '\0')
		return RISK_EINVAL;
	if (strchr(s, '-') == NULL) {	/* epoch seconds */
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0 ||
		    n > INT64_C(253402300799))
			return RISK_EINVAL;
		*sec = n;
		return RISK_OK;
	}
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 1 || mo > 12 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 1 || d > 31)
		return RISK_EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' ||
		    (mi = digits(&p, 2)) < 0 || mi > 59)
			return RISK_EINVAL;
		if (*p == ':') {
			p++;
			if ((se = digits(&p, 2)) < 0 || se > 60)
				return RISK_EINVAL;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return RISK_EINVAL;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
	}
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + se;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if ((oh = digits(&p, 2)) < 0 || oh > 23)
			return RISK_EINVAL;
		if (*p == ':')
			p++;
		if ((om = digits(&p, 2)) < 0 || om > 59)
			return RISK_EINVAL;
		t -= sign * (oh * 3600 + om * 60);
	}
	if (*p != '\0' || t < 0)
		return RISK_EINVAL;
	*sec = t;
	return RISK_OK;
}

/* ---- HTTP dates ------------------------------------------------------ */

static const char wdays[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

void
risk_http_date(int64_t sec, char out[32])
{
	struct tm tm;
	time_t t = (time_t)sec;

	if (sec < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year > 8099) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* IMF-fixdate only, "Sun, 06 Nov 1994 08:49:37 GMT"; the obsolete
 * forms are rare enough to be ignored, as RFC 9110 allows. */
int
risk_http_date_parse(const char *s, int64_t *sec)
{
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	const char *p;
	int i, mon = -1, day, year, hh, mm, ss;

	if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    strcmp(s + 25, " GMT") != 0)
		return RISK_EINVAL;
	for (i = 0; i < 7 && strncmp(s, wdays[i], 3) != 0; i++)
		;
	if (i == 7)
		return RISK_EINVAL;
	for (i = 0; i < 12; i++)
		if (strncmp(s + 8, months[i], 3) == 0)
			mon = i;
	p = s + 5;
	day = digits(&p, 2);
	p = s + 12;
	year = digits(&p, 4);
	p = s + 17;
	hh = digits(&p, 2);
	p = s + 20;
	mm = digits(&p, 2);
	p = s + 23;
	ss = digits(&p, 2);
	if (mon < 0 || day < 1 || day > mdays[mon] || year < 1970 ||
	    hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return RISK_EINVAL;
	*sec = days_from_civil(year, (unsigned)mon + 1, (unsigned)day) *
	    86400 + hh * 3600 + mm * 60 + ss;
	return RISK_OK;
}

/*
 * cgi-minimal.c — the least a CGI program must do to answer what
 * risk-get answers for a cached record: open the database as risk-get
 * does (read-write, busy timeout), one primary-key SELECT, one response
 * with the same headers.  No validation, no enqueue, no JSON library.
 *   RISK_DB=path, PATH_INFO=/ID
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

int
main(void)
{
	const char *db = getenv("RISK_DB"), *p = getenv("PATH_INFO");
	sqlite3 *h;
	sqlite3_stmt *st;
	char lm[64], fa[32], ca[32];
	time_t t;
	long long fetched, age;

	if (db == NULL || p == NULL || *p++ != '/')
		return 1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return 1;
	sqlite3_busy_timeout(h, 10000);
	if (sqlite3_prepare_v2(h, "SELECT status, changed_at, fetched_at"
	    " FROM record WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return 1;
	sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		fputs("Status: 502 Bad Gateway\r\n\r\n", stdout);
		return 0;
	}
	fetched = sqlite3_column_int64(st, 2);
	t = (time_t)(fetched / 1000);
	strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	strftime(fa, sizeof fa, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	t = (time_t)sqlite3_column_int64(st, 1);
	strftime(ca, sizeof ca, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	age = (long long)time(NULL) - fetched / 1000;
	printf("Status: 200 OK\r\nContent-Type: application/json\r\n"
	    "ETag: \"%016llx\"\r\nLast-Modified: %s\r\n"
	    "Cache-Control: max-age=%lld\r\nAge: %lld\r\n\r\n"
	    "{\"id\":\"%s\",\"status\":\"%s\",\"status_changed_at\":\"%s\","
	    "\"fetched_at\":\"%s\",\"age\":%lld,\"fresh\":%s}\n",
	    (unsigned long long)fetched, lm, 3600 - age, age, p,
	    (const char *)sqlite3_column_text(st, 0), ca, fa, age,
	    age <= 3600 ? "true" : "false");
	sqlite3_finalize(st);
	sqlite3_close(h);
	return fflush(stdout) != 0;
}

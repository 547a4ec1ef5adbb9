/*
 * getn.c — baseline for `risk-get < ids`: one prepared statement stepped
 * once per line of standard input, one printf per answer.  The same
 * query risk-get runs; no trimming or validation beyond dropping the
 * newline; stdio buffering for input and output.
 *
 * usage: getn DB < ids
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

int
main(int argc, char *argv[])
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char line[256];
	size_t len;
	long hits = 0, misses = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: getn DB < ids\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "getn: %s: %s\n", argv[1], sqlite3_errmsg(db));
		return 2;
	}
	if (sqlite3_prepare_v2(db, "SELECT status, changed_at, fetched_at"
	    " FROM record WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "getn: %s\n", sqlite3_errmsg(db));
		return 2;
	}
	while (fgets(line, sizeof line, stdin) != NULL) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		sqlite3_bind_text(st, 1, line, (int)len, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			printf("{\"id\":\"%s\",\"status\":\"%s\","
			    "\"changed_at\":%lld,\"fetched_at\":%lld}\n", line,
			    (const char *)sqlite3_column_text(st, 0),
			    (long long)sqlite3_column_int64(st, 1),
			    (long long)sqlite3_column_int64(st, 2));
			hits++;
		} else if (rc == SQLITE_DONE) {
			printf("{\"id\":\"%s\",\"error\":\"not_cached\"}\n",
			    line);
			misses++;
		} else {
			fprintf(stderr, "getn: %s\n", sqlite3_errmsg(db));
			return 2;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (fflush(stdout) != 0)
		return 2;
	return misses > 0 ? 1 : 0;
}

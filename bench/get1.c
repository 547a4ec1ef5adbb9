/*
 * get1.c — baseline for `risk-get ID`: the least a C program must do to
 * answer one ID from the same file.  Open, prepare, bind, step, print
 * one line, close.  No options, no schema checks, no JSON library.
 *
 * usage: get1 DB ID
 */
#include <stdio.h>

#include <sqlite3.h>

int
main(int argc, char *argv[])
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: get1 DB ID\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "get1: %s: %s\n", argv[1], sqlite3_errmsg(db));
		return 2;
	}
	if (sqlite3_prepare_v2(db, "SELECT status, changed_at, fetched_at"
	    " FROM record WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "get1: %s\n", sqlite3_errmsg(db));
		return 2;
	}
	sqlite3_bind_text(st, 1, argv[2], -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		printf("{\"id\":\"%s\",\"status\":\"%s\",\"changed_at\":%lld,"
		    "\"fetched_at\":%lld}\n", argv[2],
		    (const char *)sqlite3_column_text(st, 0),
		    (long long)sqlite3_column_int64(st, 1),
		    (long long)sqlite3_column_int64(st, 2));
	else if (rc == SQLITE_DONE)
		printf("{\"id\":\"%s\",\"error\":\"not_cached\"}\n", argv[2]);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : 2;
}

/*
 * enq.c — baseline for `risk-enqueue < ids`: INSERT OR IGNORE of every
 * line of standard input into the queue table, all in one transaction.
 * The file must already hold risk's schema (risk-enqueue made it).
 *
 * usage: enq DB < ids
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fail(sqlite3 *db)
{
	fprintf(stderr, "enq: %s\n", sqlite3_errmsg(db));
	return 2;
}

int
main(int argc, char *argv[])
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char line[256];
	size_t len;
	long long now;

	if (argc != 2) {
		fprintf(stderr, "usage: enq DB < ids\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		return fail(db);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db);
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO queue"
	    " (id, due, enqueued_at) VALUES (?1, ?2, ?2)", -1, &st, NULL) !=
	    SQLITE_OK)
		return fail(db);
	while (fgets(line, sizeof line, stdin) != NULL) {
		len = strcspn(line, "\n");
		if (len == 0)
			continue;
		now = now_ms();
		sqlite3_bind_text(st, 1, line, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			return fail(db);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db);
	sqlite3_close(db);
	return 0;
}

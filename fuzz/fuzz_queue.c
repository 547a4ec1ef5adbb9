/*
 * fuzz_queue.c — the queue-row reader: one row as the web user could
 * write it into the queue file (any bytes in id and last_error, any
 * integers in attempts and due, a lease token or none), claimed by the
 * owner through the real library on a real split layout.
 *
 * Input: byte 0 flags (bit 0: a token is set; bits 1-3: --max-attempts
 * 1..8), then attempts and due as 8 bytes each (big-endian), then one
 * length byte n, n bytes of id, and the rest is last_error.
 *
 * Promises checked: the claim never fails on what a row holds; a row
 * that is due, or holds a lease no drainer grants, is either leased with
 * exactly its ID (valid, whole) and attempts within --max-attempts, or
 * buried and gone from the queue; what comes back is printable; the
 * holder's retry or ack settles a leased row; and a second claim at the
 * same instant finds nothing, so no row can make a drainer loop.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fuzz.h"
#include "risk.h"

#define NOW INT64_C(1800000000000)

static struct risk_db *db;
static sqlite3 *web;		/* the attacker's own connection */
static char dir[] = "/tmp/risk-fuzz-queue.XXXXXX";
static char path[64], qpath[64];

static void
cleanup(void)
{
	const char *sfx[] = { "", "-wal", "-shm" };
	char p[96];
	size_t i;

	risk_db_close(db);
	sqlite3_close(web);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
		snprintf(p, sizeof p, "%s%s", qpath, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void
setup(void)
{
	struct risk_db_opts o = { .busy_ms = 1000 };
	char err[RISK_ERRLEN];

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/risk.db", dir);
	snprintf(qpath, sizeof qpath, "%s/queue.db", dir);
	o.path = path;
	o.queue = qpath;
	if (risk_db_open(&db, &o, err) != RISK_OK) {
		fprintf(stderr, "open: %s\n", err);
		abort();
	}
	if (sqlite3_open(qpath, &web) != SQLITE_OK)
		abort();
	sqlite3_busy_timeout(web, 1000);
	atexit(cleanup);
}

static int64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* What the one plain-text sanitiser lets through (print.c). */
static bool
printable(const char *s)
{
	return risk_text_printable(s, strlen(s));
}

static int64_t
count(const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	CHECK(sqlite3_prepare_v2(web, sql, -1, &st, NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct risk_entry e[2];
	char err[RISK_ERRLEN];
	sqlite3_stmt *st;
	const uint8_t *id, *le;
	size_t idlen, lelen;
	int64_t attempts, due;
	int max, n, rc;
	bool token, visible, dead;

	if (db == NULL)
		setup();
	if (size < 18)
		return 0;
	token = data[0] & 1;
	max = ((data[0] >> 1) & 7) + 1;
	attempts = be64(data + 1);
	due = be64(data + 9);
	idlen = data[17];
	if (idlen > size - 18)
		idlen = size - 18;
	id = data + 18;
	le = id + idlen;
	lelen = size - 18 - idlen;

	CHECK(sqlite3_exec(web, "DELETE FROM queue", NULL, NULL, NULL) ==
	    SQLITE_OK);
	CHECK(risk_db_exec(db, "DELETE FROM main.dead", err) == RISK_OK);
	CHECK(sqlite3_prepare_v2(web, "INSERT INTO queue (id, due, token,"
	    " attempts, enqueued_at, last_error) VALUES (?1, ?2, ?3, ?4, 0,"
	    " ?5)", -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_text(st, 1, (const char *)id, (int)idlen,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, due);
	if (token)
		sqlite3_bind_int64(st, 3, 42);
	sqlite3_bind_int64(st, 4, attempts);
	sqlite3_bind_text(st, 5, (const char *)le, (int)lelen,
	    SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return 0;	/* the file itself refused it */
	visible = due <= NOW || (token && due > NOW + RISK_LEASE_MAX_MS);

	CHECK(risk_db_begin(db, err) == RISK_OK);
	rc = risk_claim(db, NOW, 30000, 2, 4, max, e, &n, err);
	if (rc != RISK_OK)
		fprintf(stderr, "claim: %s\n", err);
	CHECK(rc == RISK_OK);
	CHECK(n == (visible ? 1 : 0));
	if (n == 1) {
		CHECK(printable(e[0].id) && printable(e[0].last_error));
		CHECK(strlen(e[0].id) <= RISK_ID_MAX);
		if (e[0].buried == RISK_BURY_NO) {
			CHECK(strlen(e[0].id) == idlen &&
			    memcmp(e[0].id, id, idlen) == 0);
			CHECK(risk_id_valid(e[0].id, idlen));
			CHECK(e[0].attempts >= 1 && e[0].attempts <= max);
			if (lelen == 0 || le[0] % 2 == 0)
				CHECK(risk_ack(db, &e[0], err) == RISK_OK);
			else
				CHECK(risk_fail(db, &e[0], "boom", NOW, 1000,
				    0, max, &dead, err) == RISK_OK);
		} else {
			CHECK(!risk_id_valid(e[0].id, strlen(e[0].id)) ||
			    e[0].buried == RISK_BURY_DEAD);
		}
	}
	CHECK(risk_db_commit(db, err) == RISK_OK);
	if (n == 1 && e[0].buried != RISK_BURY_NO)
		CHECK(count("SELECT count(*) FROM queue") == 0);
	/* the same instant again: nothing is due any more */
	CHECK(risk_db_begin(db, err) == RISK_OK);
	CHECK(risk_claim(db, NOW, 30000, 2, 4, max, e, &n, err) == RISK_OK);
	CHECK(n == 0);
	risk_db_rollback(db);
	return 0;
}

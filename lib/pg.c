/*
 * pg.c — the PostgreSQL store: libpq opened on first use, the
 * connection, the schema and its migrations, transactions, and the
 * helpers pg_*.c run their SQL through (pg.h).
 *
 * Invariants:
 * - libpq is loaded only by a program that opens a PostgreSQL database
 *   (dl.c): risk-get on SQLite never pays for it.
 * - A password never leaves this file: messages name the database by its
 *   URI with the password masked (risk__pg_mask), and libpq's own
 *   messages name no password.  libpq's notices are swallowed: the
 *   library never prints.
 * - The schema is made and migrated under a transaction-level advisory
 *   lock, so processes starting at once on an empty database make it
 *   once.  meta.version newer than ours is refused, as on SQLite.
 * - A server that is down, restarting or gone, a lock timeout, a
 *   serialization failure or a deadlock is RISK_EBUSY: try again later.
 * - A statement runs unnamed the first time and is prepared the second:
 *   one round trip for a one-shot program, no parse in a loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "pg_schema.h"
#include "store.h"

/* Every libpq function used, resolved by load(). */
#define PQ_API(X) \
	X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) \
	X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQexecPrepared) \
	X(PQfinish) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) \
	X(PQntuples) X(PQprepare) X(PQresultErrorField) X(PQresultStatus) \
	X(PQsetNoticeProcessor) X(PQstatus) X(PQtransactionStatus)

static struct {
#define PQ_DECL(f) __typeof__(f) *p_##f;
	PQ_API(PQ_DECL)
#undef PQ_DECL
} P;

static int
load(char *err)
{
#define PQ_NAME(f) #f,
#define PQ_SLOT(f) (void **)&P.p_##f,
	static const char *const names[] = { PQ_API(PQ_NAME) };
	static void **const slots[] = { PQ_API(PQ_SLOT) };
#undef PQ_NAME
#undef PQ_SLOT
	static struct risk__dl dl = { .lib = "libpq.so.5", .what = "libpq",
	    .names = names, .slots = slots,
	    .n = sizeof names / sizeof names[0], .code = RISK_EDB };

	return risk__dl_load(&dl, err);
}

int64_t
risk__pg_lock(const struct risk_db *db, int64_t which)
{
	return which | db->pg->lockmix;
}

/* 24 bits of FNV-1a of the schema's name, above the lock's own byte */
static int64_t
lockmix(const char *schema)
{
	uint32_t h = 2166136261u;

	for (; *schema != '\0'; schema++)
		h = (h ^ (unsigned char)*schema) * 16777619u;
	return (int64_t)(h & 0xffffff) << 8;
}

bool
risk__pg_is_uri(const char *path)
{
	static const char *const prefix[] = { "postgresql://",
	    "postgres://", "service=", "host=", "hostaddr=", "dbname=",
	    "user=", "port=" };
	size_t i;

	for (i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
		if (strncmp(path, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

/*
 * Copy uri into out with every password replaced by ***: the user-info
 * part of a URI (user:PASSWORD@), a password= parameter of a URI's
 * query or of a keyword string.  Whatever else it holds is shown as
 * printable text.
 */
void
risk__pg_mask(const char *uri, char *out, size_t outsz)
{
	char buf[PATH_MAX];
	const char *p = uri, *at, *colon, *end;
	size_t n = 0, k;
	bool isuri = strstr(uri, "://") != NULL;

#define PUT(s, len) do { \
		k = (len); \
		if (n + k >= sizeof buf) \
			k = sizeof buf - 1 - n; \
		memcpy(buf + n, (s), k); \
		n += k; \
	} while (0)
	if (isuri) {
		p = strstr(uri, "://") + 3;
		PUT(uri, (size_t)(p - uri));
		end = p + strcspn(p, "/?");
		at = memchr(p, '@', (size_t)(end - p));
		if (at != NULL &&
		    (colon = memchr(p, ':', (size_t)(at - p))) != NULL) {
			PUT(p, (size_t)(colon - p) + 1);
			PUT("***", 3);
			p = at;
		}
	}
	while (*p != '\0') {
		if (strncmp(p, "password=", 9) == 0 &&
		    (p == uri || p[-1] == '?' || p[-1] == '&' ||
		    p[-1] == ' ')) {
			PUT("password=***", 12);
			p += 9;
			if (!isuri && *p == '\'') {
				for (p++; *p != '\0' && *p != '\''; p++)
					if (*p == '\\' && p[1] != '\0')
						p++;
				if (*p == '\'')
					p++;
			} else {
				p += strcspn(p, isuri ? "&" : " ");
			}
			continue;
		}
		PUT(p, 1);
		p++;
	}
#undef PUT
	buf[n] = '\0';
	risk__printable((const unsigned char *)buf, n, out, outsz);
}

/* A notice ("relation already exists, skipping") is nobody's business. */
static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* libpq's message, first line only, printable. */
static void
first_line(const char *m, char *buf, size_t sz)
{
	size_t n;

	if (m == NULL)
		m = "";
	if (strncmp(m, "ERROR:  ", 8) == 0 || strncmp(m, "FATAL:  ", 8) == 0)
		m += 8;
	n = strcspn(m, "\n");
	while (n > 0 && (m[n - 1] == ' ' || m[n - 1] == '\r'))
		n--;
	risk__printable((const unsigned char *)m, n, buf, sz);
}

/*
 * A failed result (res may be NULL: the connection's error) as a status
 * and a reason naming the database.
 */
static int
fail(struct risk_db *db, const PGresult *res, char *err)
{
	struct risk__pg *pg = db->pg;
	const char *state = res != NULL ?
	    P.p_PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res != NULL ?
	    P.p_PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char line[256];
	int code = RISK_EDB;

	if (msg == NULL)
		msg = P.p_PQerrorMessage(pg->c);
	first_line(msg, line, sizeof line);
	if (P.p_PQstatus(pg->c) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "53300") == 0)
		return risk_seterr(err, RISK_EBUSY,
		    "%s: database server unavailable: %s", pg->name,
		    line[0] != '\0' ? line : "connection lost");
	if (strcmp(state, "55P03") == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0)
		code = RISK_EBUSY;
	else if (strcmp(state, "42501") == 0 || strcmp(state, "25006") == 0)
		code = RISK_ERDONLY;
	return risk_seterr(err, code, "%s: %s", pg->name, line);
}

/*
 * A connection that failed: a server that is down or starting is
 * "try again later"; one that answered and refused (a wrong or missing
 * password, no such role or database), or a malformed URI or service,
 * needs a person.  libpq gives no
 * SQLSTATE for a failed connection: its message is all there is, and
 * the server's part of it is English unless lc_messages says otherwise.
 */
static int
refused(struct risk_db *db, char *err)
{
	static const char *const person[] = {
	    "password authentication failed", "no password supplied",
	    "does not exist", "authentication failed",
	    "no pg_hba.conf entry", "permission denied", "certificate",
	    "invalid", "missing", "unterminated quoted string",
	    "unrecognized", "definition of service" };
	const char *m = P.p_PQerrorMessage(db->pg->c), *q;
	char line[256], bare[1024];
	size_t i, n = 0;
	bool quoted = false;

	/* the words of libpq and the server, not the names quoted in them
	 * (a host called "x.invalid" is not an invalid URI) */
	for (q = m != NULL ? m : ""; *q != '\0' && n < sizeof bare - 1; q++)
		if (*q == '"')
			quoted = !quoted;
		else if (!quoted)
			bare[n++] = *q;
	bare[n] = '\0';
	for (i = 0; i < sizeof person / sizeof person[0]; i++)
		if (strstr(bare, person[i]) != NULL) {
			first_line(strstr(m, "FATAL:  ") != NULL ?
			    strstr(m, "FATAL:  ") : m, line, sizeof line);
			return risk_seterr(err, RISK_EDB, "%s: connection "
			    "rejected: %s", db->pg->name, line);
		}
	return fail(db, NULL, err);
}

static int
result(struct risk_db *db, PGresult *r, PGresult **res, long *changed,
    char *err)
{
	ExecStatusType s = P.p_PQresultStatus(r);
	int code;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		code = fail(db, r, err);
		P.p_PQclear(r);
		return code;
	}
	if (changed != NULL)
		*changed = strtol(P.p_PQcmdTuples(r), NULL, 10);
	if (res != NULL)
		*res = r;
	else
		P.p_PQclear(r);
	return RISK_OK;
}

int
risk__pg_run_once(struct risk_db *db, const char *sql, int n,
    const char *const *params, PGresult **res, long *changed, char *err)
{
	PGresult *r = P.p_PQexecParams(db->pg->c, sql, n, NULL, params, NULL,
	    NULL, 0);

	if (res != NULL)
		*res = NULL;
	if (r == NULL)
		return fail(db, NULL, err);
	return result(db, r, res, changed, err);
}

int
risk__pg_run(struct risk_db *db, const char *sql, int n,
    const char *const *params, PGresult **res, long *changed, char *err)
{
	struct risk__pg *pg = db->pg;
	char name[16];
	PGresult *r;
	int i;

	if (res != NULL)
		*res = NULL;
	for (i = 0; i < pg->nprep && pg->prep[i] != sql; i++)
		;
	snprintf(name, sizeof name, "risk%d", i);
	if (i < pg->nprep && pg->prepared[i]) {
		r = P.p_PQexecPrepared(pg->c, name, n, params, NULL, NULL, 0);
	} else if (i < pg->nprep) {
		/* the second time: prepare it for the rest of the run */
		r = P.p_PQprepare(pg->c, name, sql, n, NULL);
		if (r == NULL)
			return fail(db, NULL, err);
		if (P.p_PQresultStatus(r) != PGRES_COMMAND_OK)
			return result(db, r, NULL, NULL, err);
		P.p_PQclear(r);
		pg->prepared[i] = true;
		r = P.p_PQexecPrepared(pg->c, name, n, params, NULL, NULL, 0);
	} else {
		if (pg->nprep < RISK__PG_PREP)
			pg->prep[pg->nprep++] = sql;
		r = P.p_PQexecParams(pg->c, sql, n, NULL, params, NULL, NULL,
		    0);
	}
	if (r == NULL)
		return fail(db, NULL, err);
	return result(db, r, res, changed, err);
}

int
risk__pg_ntuples(const PGresult *r)
{
	return P.p_PQntuples(r);
}

const char *
risk__pg_get(const PGresult *r, int row, int col)
{
	return P.p_PQgetisnull(r, row, col) ? NULL :
	    P.p_PQgetvalue(r, row, col);
}

int64_t
risk__pg_i64(const PGresult *r, int row, int col)
{
	const char *v = risk__pg_get(r, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

bool
risk__pg_bool(const PGresult *r, int row, int col)
{
	const char *v = risk__pg_get(r, row, col);

	return v != NULL && v[0] == 't';
}

void
risk__pg_text(const PGresult *r, int row, int col, char *buf, size_t sz)
{
	const char *v = risk__pg_get(r, row, col);
	size_t n;

	if (sz == 0)
		return;
	n = v != NULL ? (size_t)P.p_PQgetlength(r, row, col) : 0;
	if (n >= sz)
		n = sz - 1;
	if (n > 0)
		memcpy(buf, v, n);
	buf[n] = '\0';
}

void
risk__pg_clear(PGresult *r)
{
	if (r != NULL)
		P.p_PQclear(r);
}

char *
risk__pg_i64s(char buf[RISK__I64LEN], int64_t v)
{
	snprintf(buf, RISK__I64LEN, "%lld", (long long)v);
	return buf;
}

/* Run SQL text (several statements, no parameters). */
static int
exec(struct risk_db *db, const char *sql, char *err)
{
	PGresult *r = P.p_PQexec(db->pg->c, sql);

	if (r == NULL)
		return fail(db, NULL, err);
	return result(db, r, NULL, NULL, err);
}

/*
 * The version the database's schema is at; 0: none yet.  Outside a
 * transaction a missing table is simply an error to read (one round
 * trip); inside, it would abort the transaction, so look first.
 */
static int
version(struct risk_db *db, int *v, bool intxn, char *err)
{
	PGresult *r;
	const char *state;
	int code;

	*v = 0;
	if (intxn) {
		r = P.p_PQexec(db->pg->c,
		    "SELECT to_regclass('meta') IS NOT NULL");
		if (r == NULL)
			return fail(db, NULL, err);
		if (P.p_PQresultStatus(r) != PGRES_TUPLES_OK)
			return result(db, r, NULL, NULL, err);
		code = P.p_PQgetvalue(r, 0, 0)[0] == 't';
		P.p_PQclear(r);
		if (!code)
			return RISK_OK;
	}
	r = P.p_PQexec(db->pg->c, "SELECT version FROM meta");
	if (r == NULL)
		return fail(db, NULL, err);
	if (P.p_PQresultStatus(r) == PGRES_TUPLES_OK) {
		if (P.p_PQntuples(r) == 1)
			*v = (int)strtol(P.p_PQgetvalue(r, 0, 0), NULL, 10);
		P.p_PQclear(r);
		return RISK_OK;
	}
	state = P.p_PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, "42P01") == 0) {
		/* undefined table: no schema yet */
		P.p_PQclear(r);
		return RISK_OK;
	}
	code = fail(db, r, err);
	P.p_PQclear(r);
	return code;
}

/* Make or migrate the schema, once, whoever else starts now. */
static int
prepare_schema(struct risk_db *db, char *err)
{
	char sql[160], key[RISK__I64LEN];
	const char *p[1] = { risk__pg_i64s(key, risk__pg_lock(db, RISK__PG_LOCK_SCHEMA)) };
	int r, v;

	const char *s[1] = { db->pg->schema };
	PGresult *res;
	bool have;

	snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", db->pg->schema);
	if ((r = exec(db, "BEGIN", err)) != RISK_OK)
		return r;
	if ((r = risk__pg_run_once(db, "SELECT pg_advisory_xact_lock($1)",
	    1, p, NULL, NULL, err)) != RISK_OK ||
	    (r = risk__pg_run_once(db, "SELECT 1 FROM pg_namespace"
	    " WHERE nspname = $1", 1, s, &res, NULL, err)) != RISK_OK)
		goto out;
	have = risk__pg_ntuples(res) == 1;
	risk__pg_clear(res);
	/* a schema made beforehand (risk-pg-roles) is migrated by its
	 * owner, who may not create schemas in the database */
	if ((!have && (r = exec(db, sql, err)) != RISK_OK) ||
	    (r = version(db, &v, true, err)) != RISK_OK)
		goto out;
	if (v == 0) {
		if ((r = exec(db, risk__pg_schema, err)) != RISK_OK)
			goto out;
		snprintf(sql, sizeof sql, "INSERT INTO meta (version) "
		    "VALUES (%d)", RISK__PG_VERSION);
		if ((r = exec(db, sql, err)) != RISK_OK)
			goto out;
	}
	/* forward migrations go here: if (v < 2) ... UPDATE meta */
	return exec(db, "COMMIT", err);
out:
	exec(db, "ROLLBACK", err + strlen(err));
	return r;
}

int
risk__pg_open(struct risk_db *db, const struct risk_db_opts *o, char *err)
{
	struct risk__pg *pg;
	char opts[128], tmo[16];	/* fit: schema[48], 10 digits */
	const char *kw[] = { "fallback_application_name", "connect_timeout",
	    "dbname", "options", NULL };
	const char *val[5];
	int r, v;
	int64_t busy = o->busy_ms >= 0 ? o->busy_ms : 10000;

	if ((r = load(err)) != RISK_OK)
		return r;
	if ((pg = db->pg = calloc(1, sizeof *pg)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	risk__pg_mask(o->path, pg->name, sizeof pg->name);
	if (o->queue != NULL)
		return risk_seterr(err, RISK_EINVAL, "%s: the queue lives in "
		    "the database on PostgreSQL: no --queue or RISK_QUEUE "
		    "(grant the web role its rights instead: risk.7)",
		    pg->name);
	if (o->stage != NULL && !risk__stage_valid(o->stage))
		return risk_seterr(err, RISK_EINVAL, "%s: invalid stage name "
		    "(1 to 32 of A-Z a-z 0-9 _ -)", o->stage);
	snprintf(pg->schema, sizeof pg->schema, "risk%s%s",
	    o->stage != NULL ? "_" : "", o->stage != NULL ? o->stage : "");
	pg->lockmix = lockmix(pg->schema);
	/* search_path: tables are named unqualified; lock_timeout: a lock
	 * held too long is "busy", as RISK_LOCK_TIMEOUT says */
	snprintf(opts, sizeof opts,
	    "-c search_path=\"%s\" -c lock_timeout=%d", pg->schema,
	    (int)(busy > INT32_MAX ? INT32_MAX : busy));
	snprintf(tmo, sizeof tmo, "%d", busy / 1000 > 2 ?
	    (int)(busy > INT32_MAX ? INT32_MAX / 1000 : busy / 1000) : 2);
	val[0] = "risk";
	val[1] = tmo;
	val[2] = o->path;
	val[3] = opts;
	val[4] = NULL;
	pg->c = P.p_PQconnectdbParams(kw, val, 1);
	if (pg->c == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	if (P.p_PQstatus(pg->c) != CONNECTION_OK)
		return refused(db, err);
	P.p_PQsetNoticeProcessor(pg->c, quiet, NULL);
	if ((r = version(db, &v, false, err)) != RISK_OK)
		return r;
	if (v == 0 && (db->readonly || db->nocreate) && !o->make_schema)
		return risk_seterr(err, RISK_ENOTFOUND,
		    "%s: no risk tables in schema %s", pg->name, pg->schema);
	if (v < RISK__PG_VERSION && (r = prepare_schema(db, err)) != RISK_OK)
		return r;
	if (v > RISK__PG_VERSION)
		return risk_seterr(err, RISK_EDB, "%s: schema %s is at version "
		    "%d, newer than this risk knows (%d)", pg->name,
		    pg->schema, v, RISK__PG_VERSION);
	return RISK_OK;
}

static void
pg_close(struct risk_db *db)
{
	if (db->pg == NULL)
		return;
	if (db->pg->c != NULL)
		P.p_PQfinish(db->pg->c);
	free(db->pg);
	db->pg = NULL;
}

static int
pg_begin(struct risk_db *db, char *err)
{
	int r = exec(db, "BEGIN", err);

	db->txn = r == RISK_OK;
	return r;
}

static int
pg_begin_read(struct risk_db *db, char *err)
{
	int r = exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    err);

	db->txn = r == RISK_OK;
	return r;
}

static void
pg_rollback(struct risk_db *db)
{
	PGresult *r;

	if (db->pg->c != NULL &&
	    P.p_PQtransactionStatus(db->pg->c) != PQTRANS_IDLE &&
	    (r = P.p_PQexec(db->pg->c, "ROLLBACK")) != NULL)
		P.p_PQclear(r);
	db->txn = false;
}

static int
pg_commit(struct risk_db *db, char *err)
{
	PGresult *r = P.p_PQexec(db->pg->c, "COMMIT");
	int code;

	db->txn = false;
	if (r == NULL)
		return fail(db, NULL, err);
	if (P.p_PQresultStatus(r) != PGRES_COMMAND_OK) {
		code = fail(db, r, err);
		P.p_PQclear(r);
		pg_rollback(db);
		return code;
	}
	/* COMMIT of a transaction that failed earlier is a ROLLBACK */
	if (strcmp(P.p_PQcmdStatus(r), "ROLLBACK") == 0) {
		P.p_PQclear(r);
		return risk_seterr(err, RISK_EDB, "%s: transaction rolled "
		    "back", db->pg->name);
	}
	P.p_PQclear(r);
	return RISK_OK;
}

static void
pg_settle(struct risk_db *db)
{
	pg_rollback(db);
}

/* A server is not replaced under us, but a connection can be lost
 * (a restart, a failover): a long-lived reader then connects again. */
static bool
pg_replaced(struct risk_db *db)
{
	return db->pg->c == NULL || P.p_PQstatus(db->pg->c) != CONNECTION_OK;
}

static int
pg_exec(struct risk_db *db, const char *sql, char *err)
{
	return exec(db, sql, err);
}

/* The server sizes its own caches. */
static int
pg_bulk(struct risk_db *db, char *err)
{
	(void)db;
	(void)err;
	return RISK_OK;
}

const struct risk__store risk__pg_store = {
	.engine = "postgresql",
	.close = pg_close,
	.begin = pg_begin,
	.begin_read = pg_begin_read,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.settle = pg_settle,
	.replaced = pg_replaced,
	.exec = pg_exec,
	.bulk = pg_bulk,
	.record_get = risk__pg_record_get,
	.record_get_many = risk__pg_record_get_many,
	.record_put_many = risk__pg_record_put_many,
	.record_put = risk__pg_record_put,
	.record_each = risk__pg_record_each,
	.history_each = risk__pg_history_each,
	.history_last = risk__pg_history_last,
	.history_stat = risk__pg_history_stat,
	.purge_history = risk__pg_purge_history,
	.enqueue_prio = risk__pg_enqueue_prio,
	.queue_next_due = risk__pg_queue_next_due,
	.queue_leased = risk__pg_queue_leased,
	.claim = risk__pg_claim,
	.ack = risk__pg_ack,
	.defer = risk__pg_defer,
	.release = risk__pg_release,
	.fail = risk__pg_fail,
	.dead_each = risk__pg_dead_each,
	.dead_get = risk__pg_dead_get,
	.redrive = risk__pg_redrive,
	.log_put = risk__pg_log_put,
	.run_put = risk__pg_run_put,
	.log_each = risk__pg_log_each,
	.stat_get = risk__pg_stat_get,
	.source_get = risk__pg_source_get,
	.source_put = risk__pg_source_put,
	.purge_records = risk__pg_purge_records,
	.purge_dead = risk__pg_purge_dead,
	.purge_log = risk__pg_purge_log,
	.vacuum = risk__pg_vacuum,
};

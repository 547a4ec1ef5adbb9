/*
 * db.c — opening, creating and migrating the database.
 *
 * Invariants:
 * - Every connection has busy_timeout and synchronous=NORMAL; the file is
 *   in WAL mode from the moment the schema is created, so readers never
 *   wait for the drainer and a crash loses at most uncommitted work.
 * - A file is ours only if its application_id says so.  A foreign SQLite
 *   file (or a non-SQLite file) is refused before anything is written.
 * - Schema changes happen under BEGIN IMMEDIATE and bump user_version, so
 *   two processes opening a new file at once create it exactly once.
 * - The queue tables may live in a file of their own (attached as "q"),
 *   so that a web user can queue fetches without write access to the
 *   records.  SQL names tables unqualified; only DDL names the schema.
 *   Work spanning both files is ordered so that a crash between the two
 *   commits leaves a company in both places, never in neither.
 * - A queue file of its own may be written by the web user, so it is
 *   hostile ground: at open its sqlite_schema must hold exactly what
 *   risk makes (no trigger, view, table or index besides, none changed),
 *   and for as long as the connection lives an authorizer refuses every
 *   statement that would run code from a trigger or view in it (one
 *   planted after the open).  trusted_schema=off and defensive=on stay
 *   on beneath, for what neither check sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "sqlite.h"

#define APP_ID_MAIN 0x5249534b	/* "RISK" */
#define APP_ID_QUEUE 0x5249534b	/* the same: a queue file is ours too */
/*
 * user_version of the main schema: 1 records, dead letters and logs; 2
 * the status history (history.c); 3 the legacy service's shared state
 * (source.c) and the fetch log's failure class; 4 the history as
 * chains (record.hseq, history.prev_seq, history_orphan), history_mark
 * and the triggers.  The queue's: 1 the
 * first; 2 queue.priority and its claim index.  A file that holds both
 * carries the main schema's number.
 */
#define SCHEMA_VERSION 4
#define QUEUE_VERSION 2
#define BUSY_DEFAULT_MS 10000
/*
 * The -wal file is kept (SQLITE_FCNTL_PERSIST_WAL, for readers that may
 * not create files in the folder), but never large: every process that
 * is the only one on a database rebuilds the WAL index from the whole
 * file, so a 30 MB WAL left by a big load made every risk-get 5x slower.
 * journal_size_limit makes SQLite empty it when the last connection
 * closes; a connection that wrote and leaves a WAL above WAL_KEEP behind
 * (because others were still connected) empties it with a TRUNCATE
 * checkpoint, waiting at most WAL_TRIM_WAIT_MS for readers to move on (a
 * writer still busy will do it on its own close).  While writers run,
 * the limit is above what the automatic checkpoint lets the log reach
 * (1000 pages of 4 KiB and their frame headers, 4 MiB): a smaller one
 * cut the file at each restart of the log, and each checkpoint then
 * paid for growing it again (new blocks, their metadata synced).
 */
#define WAL_KEEP 1048576
#define WAL_LIMIT_SQL(schema) \
	"PRAGMA " schema ".journal_size_limit=8388608"	/* 8 MiB */
#define WAL_TRIM_WAIT_MS 200

/*
 * The legacy service's state, one row shared by every drainer (see
 * source.c): the breaker, a throttle, rejected credentials, the token
 * bucket of --rate.
 */
#define SCHEMA_SOURCE \
    "CREATE TABLE IF NOT EXISTS main.source (" \
    "  id INTEGER PRIMARY KEY CHECK (id = 1)," \
    "  state TEXT NOT NULL,"	/* ok down throttled credentials */ \
    "  since INTEGER NOT NULL,"	/* ms: in this state since */ \
    "  until INTEGER NOT NULL,"	/* ms: no request before (0: none) */ \
    "  reason TEXT,"		/* the last failure's */ \
    "  window INTEGER NOT NULL,"	/* the last 32 answers, 1 = down */ \
    "  window_at INTEGER NOT NULL,"	/* ms: last shifted */ \
    "  probing INTEGER NOT NULL,"	/* a probe is out (half-open) */ \
    "  cred_fp TEXT,"		/* credentials file when rejected */ \
    "  tokens REAL NOT NULL,"	/* --rate's bucket */ \
    "  tokens_at INTEGER NOT NULL," \
    "  rate_n INTEGER NOT NULL,"	/* the rate last used; 0: none */ \
    "  rate_ms INTEGER NOT NULL" \
    ") STRICT;"
/* The queue's version 2; ALTER TABLE ADD COLUMN writes the same text into
 * sqlite_schema, so a migrated queue file reads as a new one does. */
#define SCHEMA_PRIORITY \
    "priority INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 2)"
#define SCHEMA_PICK \
    "CREATE INDEX IF NOT EXISTS %s.queue_pick ON queue(priority, due, id);"

/* Upgrades that IF NOT EXISTS cannot make: main to 3, the queue to 2 (a
 * file holding both: main to 3). */
static const char migrate3_main[] =
    "ALTER TABLE main.fetch_log ADD COLUMN class TEXT;";
static const char migrate2_queue[] =
    "ALTER TABLE %s.queue ADD COLUMN " SCHEMA_PRIORITY ";"
    "DROP INDEX IF EXISTS %s.queue_due;"
    SCHEMA_PICK;

static const char schema_main[] =
    "CREATE TABLE IF NOT EXISTS main.record ("
    "  id TEXT PRIMARY KEY,"
    "  status TEXT,"			/* NULL: legacy service said 404 */
    "  changed_at INTEGER,"		/* seconds */
    "  fetched_at INTEGER NOT NULL,"	/* milliseconds */
    "  hseq INTEGER"			/* its newest history row */
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS main.dead ("
    "  id TEXT PRIMARY KEY,"
    "  reason TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  redrives INTEGER NOT NULL DEFAULT 0,"
    "  enqueued_at INTEGER NOT NULL,"
    "  died_at INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS main.dead_died ON dead(died_at);"
    "CREATE TABLE IF NOT EXISTS main.fetch_log ("
    "  at INTEGER NOT NULL,"		/* milliseconds */
    "  id TEXT NOT NULL,"
    "  outcome TEXT NOT NULL,"		/* stored not_found retry dead ... */
    "  http INTEGER,"
    "  ms INTEGER,"
    "  reason TEXT, class TEXT"	/* company down throttled credentials */
    ") STRICT;"
    "CREATE INDEX IF NOT EXISTS main.fetch_log_at ON fetch_log(at);"
    "CREATE TABLE IF NOT EXISTS main.drain_run ("
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER NOT NULL,"
    "  claimed INTEGER NOT NULL, stored INTEGER NOT NULL,"
    "  not_found INTEGER NOT NULL, retried INTEGER NOT NULL,"
    "  dead INTEGER NOT NULL, released INTEGER NOT NULL,"
    "  exit_status INTEGER NOT NULL"
    ") STRICT;"
    SCHEMA_SOURCE;

/*
 * The status history (history.c), version 4.
 * - seq is the rowid, handed out by history.c (the largest + 1).  It is
 *   never handed out twice because the newest row is never deleted:
 *   retention keeps each company's newest row, and history_newest
 *   refuses a hand-made DELETE of it.
 * - A company's rows are a chain, newest first: record.hseq is its
 *   newest row, and each row's prev_seq the one before.  Once its record
 *   is deleted, history_orphan keeps where its chain begins.  There is
 *   no index on the company: each appended row cost an index entry and
 *   a page more per commit, where these are a column of the record row
 *   a put writes anyway (versions 2 and 3 had that index, an index on
 *   fetched_at and AUTOINCREMENT, whose counter was a page more again).
 * - history_total counts every change ever made, by status: Prometheus
 *   counters that a purge does not lower.  It counts the rows up to
 *   history_mark.counted; history.c folds the newer ones in now and
 *   then (readers add them up themselves), not at every commit, and one
 *   deleted first is counted as it goes (history_uncounted).
 */
#define HISTORY_TABLE \
    "CREATE TABLE IF NOT EXISTS main.history (" \
    "  seq INTEGER PRIMARY KEY,"	/* never reused (above) */ \
    "  id TEXT NOT NULL," \
    "  status TEXT,"			/* NULL: not found */ \
    "  previous TEXT,"			/* NULL: not found, or first */ \
    "  first INTEGER NOT NULL,"		/* 1: no previous answer */ \
    "  changed_at INTEGER NOT NULL,"	/* seconds */ \
    "  fetched_at INTEGER NOT NULL,"	/* milliseconds */ \
    "  prev_seq INTEGER"		/* the company's row before */ \
    ") STRICT;"
#define HISTORY_REST \
    "CREATE TABLE IF NOT EXISTS main.history_orphan (" \
    "  id TEXT PRIMARY KEY,"		/* a company without a record */ \
    "  seq INTEGER NOT NULL"		/* its newest row */ \
    ") STRICT, WITHOUT ROWID;" \
    "CREATE TABLE IF NOT EXISTS main.history_total (" \
    "  found INTEGER NOT NULL," \
    "  status TEXT NOT NULL,"		/* '' when not found */ \
    "  n INTEGER NOT NULL," \
    "  PRIMARY KEY (found, status)" \
    ") STRICT, WITHOUT ROWID;" \
    "CREATE TABLE IF NOT EXISTS main.history_mark (" \
    "  id INTEGER PRIMARY KEY CHECK (id = 1)," \
    "  counted INTEGER NOT NULL"	/* history_total has rows <= it */ \
    ") STRICT;" \
    "CREATE TRIGGER IF NOT EXISTS main.history_newest" \
    "  BEFORE DELETE ON history" \
    "  WHEN NOT EXISTS (SELECT 1 FROM history WHERE seq > old.seq)" \
    "  BEGIN SELECT RAISE(ABORT, 'the newest history row is kept:" \
    " its seq must never be handed out again'); END;" \
    "CREATE TRIGGER IF NOT EXISTS main.history_uncounted" \
    "  AFTER DELETE ON history" \
    "  WHEN old.seq > (SELECT counted FROM history_mark)" \
    "  BEGIN INSERT INTO history_total (found, status, n)" \
    "  VALUES (old.status IS NOT NULL, COALESCE(old.status, ''), 1)" \
    "  ON CONFLICT (found, status) DO UPDATE SET n = n + 1; END;" \
    "CREATE TRIGGER IF NOT EXISTS main.history_orphaned" \
    "  AFTER DELETE ON record WHEN old.hseq IS NOT NULL" \
    "  BEGIN INSERT OR REPLACE INTO history_orphan (id, seq)" \
    "  VALUES (old.id, old.hseq); END;"
#define HISTORY_COUNTED \
    "INSERT OR REPLACE INTO main.history_mark (id, counted)" \
    "  SELECT 1, COALESCE(max(seq), 0) FROM main.history;"

/* Versions 1 to 3: record.hseq. */
static const char migrate4_record[] =
    "ALTER TABLE main.record ADD COLUMN hseq INTEGER;";

/* Version 1 to 4 (and a new file): the history, seeded with one first
 * answer per record already stored, so that every record has its row. */
static const char schema_history[] =
    HISTORY_TABLE
    "INSERT INTO main.history (seq, id, status, previous, first,"
    "  changed_at, fetched_at)"
    "  SELECT row_number() OVER (ORDER BY fetched_at, id), id, status,"
    "  NULL, 1, COALESCE(changed_at, fetched_at / 1000), fetched_at"
    "  FROM main.record;"
    "UPDATE main.record SET hseq = h.seq FROM main.history h"
    "  WHERE h.id = record.id;"
    HISTORY_REST
    "INSERT INTO main.history_total (found, status, n)"
    "  SELECT status IS NOT NULL, COALESCE(status, ''), count(*)"
    "  FROM main.record GROUP BY 1, 2;"
    HISTORY_COUNTED;

/*
 * Version 2 or 3 to 4: the same rows, chained, in a table without
 * AUTOINCREMENT (the old indexes dropped first, or they would follow
 * the old table's new name); history_total was complete.  Where newest
 * rows were deleted by hand, AUTOINCREMENT's counter is past the
 * largest seq: the newest row left takes the counter's number (no row
 * points to it), so no seq is handed out twice (a cursor between the
 * two sees that row again: at least once, as ever).
 */
static const char migrate4_history[] =
    "DROP INDEX IF EXISTS main.history_id;"
    "DROP INDEX IF EXISTS main.history_fetched;"
    "ALTER TABLE main.history RENAME TO history_v3;"
    HISTORY_TABLE
    "INSERT INTO main.history (seq, id, status, previous, first,"
    "  changed_at, fetched_at, prev_seq)"
    "  SELECT seq, id, status, previous, first, changed_at, fetched_at,"
    "  lag(seq) OVER (PARTITION BY id ORDER BY seq)"
    "  FROM main.history_v3 ORDER BY seq;"
    "UPDATE main.history SET seq = (SELECT seq FROM main.sqlite_sequence"
    "  WHERE name = 'history_v3')"
    "  WHERE seq = (SELECT max(seq) FROM main.history) AND seq <"
    "  (SELECT seq FROM main.sqlite_sequence WHERE name = 'history_v3');"
    "DROP TABLE main.history_v3;"
    HISTORY_REST
    "UPDATE main.record SET hseq = m.seq FROM (SELECT id, max(seq) AS seq"
    "  FROM main.history GROUP BY id) m WHERE m.id = record.id;"
    "INSERT OR REPLACE INTO main.history_orphan (id, seq)"
    "  SELECT id, max(seq) FROM main.history"
    "  WHERE id NOT IN (SELECT id FROM main.record) GROUP BY id;"
    HISTORY_COUNTED;

/*
 * due: when the entry is next visible.  A claim sets token and moves due
 * to the end of the lease; an entry whose lease ran out is simply due.
 */
static const char schema_queue[] =
    "CREATE TABLE IF NOT EXISTS %s.queue ("
    "  id TEXT PRIMARY KEY,"
    "  due INTEGER NOT NULL,"		/* milliseconds */
    "  token INTEGER,"			/* lease holder; NULL when free */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  redrives INTEGER NOT NULL DEFAULT 0,"
    "  enqueued_at INTEGER NOT NULL,"
    "  last_error TEXT, " SCHEMA_PRIORITY
    ") STRICT, WITHOUT ROWID;"
    SCHEMA_PICK
    "CREATE INDEX IF NOT EXISTS %s.queue_lease ON queue(due)"
    "  WHERE token IS NOT NULL;";

/* A schema, one row per object; sql may be NULL (automatic indexes). */
static const char sql_schema_rows[] =
    "SELECT type, name, tbl_name, sql FROM %s.sqlite_schema ORDER BY name";

int
risk__dberr(struct risk_db *db, int rc, char *err, const char *what)
{
	const char *msg = db != NULL && db->h != NULL ?
	    sqlite3_errmsg(db->h) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return risk_seterr(err, RISK_EBUSY,
		    "%s: database is locked (waited %lld ms)", what,
		    db != NULL ? (long long)db->busy_ms : 0LL);
	case SQLITE_READONLY:
		if (rc == SQLITE_READONLY_CANTINIT ||
		    rc == SQLITE_READONLY_CANTLOCK)
			return risk_seterr(err, RISK_EDB, "%s: cannot read: "
			    "its -shm file is missing and cannot be made "
			    "(open it once read-write)", what);
		return risk_seterr(err, RISK_ERDONLY,
		    "%s: database is read-only", what);
	case SQLITE_CANTOPEN:
		return risk_seterr(err, RISK_EDB, "%s: cannot open database "
		    "(a reader needs its -wal and -shm files, or a folder "
		    "it may write)", what);
	case SQLITE_FULL:
		return risk_seterr(err, RISK_EDB, "%s: disk full", what);
	case SQLITE_IOERR:
		/* say why: "No space left on device" is the common one */
		if (db != NULL && db->h != NULL &&
		    sqlite3_system_errno(db->h) != 0)
			return risk_seterr(err, RISK_EDB,
			    "%s: disk I/O error: %s", what,
			    strerror(sqlite3_system_errno(db->h)));
		return risk_seterr(err, RISK_EDB, "%s: disk I/O error", what);
	case SQLITE_NOTADB:
		return risk_seterr(err, RISK_EDB,
		    "%s: not a risk database (not an SQLite file)", what);
	case SQLITE_CORRUPT:
		return risk_seterr(err, RISK_EDB,
		    "%s: database is corrupt", what);
	case SQLITE_AUTH:	/* the authorizer: see check_queue_schema */
		return risk_seterr(err, RISK_EDB, "%s: refused: the queue "
		    "file holds a trigger or view that risk did not make "
		    "(someone who may write the file added it; to repair, "
		    "see THREAT MODEL in risk(7))", db != NULL ? db->qpath :
		    what);
	case SQLITE_NOMEM:
		return risk_seterr(err, RISK_ENOMEM, "%s: out of memory", what);
	default:
		return risk_seterr(err, RISK_EDB, "%s: %s", what, msg);
	}
}

sqlite3_stmt *
risk__stmt(struct risk_db *db, enum risk_stmt s, const char *sql, char *err)
{
	int rc;

	if (db->st[s] == NULL) {
		rc = sqlite3_prepare_v3(db->h, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[s], NULL);
		if (rc != SQLITE_OK) {
			risk__dberr(db, rc, err, db->path);
			return NULL;
		}
	} else {
		sqlite3_reset(db->st[s]);
		sqlite3_clear_bindings(db->st[s]);
	}
	return db->st[s];
}

sqlite3_stmt *
risk__qstmt(struct risk_db *db, enum risk_stmt s, const char *fmt, char *err)
{
	char sql[2048];
	const char *schema = db->split ? "q" : "main";
	sqlite3_stmt *st;
	int n;

	if (db->st[s] != NULL)
		return risk__stmt(db, s, NULL, err);
	/* fmt names the schema by position only, as %1$s */
	n = snprintf(sql, sizeof sql, fmt, schema, schema, schema, schema);
	if (n < 0 || (size_t)n >= sizeof sql) {
		risk_seterr(err, RISK_EINVAL, "statement too long");
		return NULL;
	}
	if ((st = risk__stmt(db, s, sql, err)) == NULL && !db->split &&
	    sqlite3_table_column_metadata(db->h, "main", "queue", NULL, NULL,
	    NULL, NULL, NULL, NULL) != SQLITE_OK)
		/* a database made with its queue in a file of its own */
		risk_seterr(err, RISK_EDB, "%s: no queue in this file: it "
		    "lives in a file of its own (set RISK_QUEUE or --queue)",
		    db->path);
	return st;
}

int
risk_db_opts_env(struct risk_db_opts *o, char *err)
{
	const char *e;
	int64_t ms;

	if (o->path == NULL && (e = getenv("RISK_DB")) != NULL && *e != '\0')
		o->path = e;
	if (o->queue == NULL && (e = getenv("RISK_QUEUE")) != NULL &&
	    *e != '\0')
		o->queue = e;
	if (o->stage == NULL && (e = getenv("RISK_STAGE")) != NULL &&
	    *e != '\0')
		o->stage = e;
	if (o->busy_ms < 0 && (e = getenv("RISK_LOCK_TIMEOUT")) != NULL &&
	    *e != '\0') {
		if (risk_duration_parse(e, &ms, err) != RISK_OK)
			return risk_seterr(err, RISK_EINVAL,
			    "RISK_LOCK_TIMEOUT: %s: invalid duration", e);
		o->busy_ms = ms;
	}
	return RISK_OK;
}

/* path with "-stage" before its extension: risk.db -> risk-dev.db */
static int
staged(const char *path, const char *stage, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	int n;

	if (stage == NULL)
		n = snprintf(out, outsz, "%s", path);
	else if (dot == NULL || (slash != NULL && dot < slash) ||
	    dot == (slash != NULL ? slash + 1 : path))
		n = snprintf(out, outsz, "%s-%s", path, stage);
	else
		n = snprintf(out, outsz, "%.*s-%s%s", (int)(dot - path), path,
		    stage, dot);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
risk__sq_path(const struct risk_db_opts *o, char *out, size_t outsz,
    char *err)
{
	char def[PATH_MAX];
	const char *base, *home, *sep;
	int n;

	if (o->stage != NULL && !risk__stage_valid(o->stage))
		return risk_seterr(err, RISK_EINVAL,
		    "%s: invalid stage name (1 to 32 of A-Z a-z 0-9 _ -)",
		    o->stage);
	/* a URI of a scheme we do not know (postgresq://) is a typo, not
	 * a folder named "postgresq:" to make */
	if (o->path != NULL && (sep = strstr(o->path, "://")) != NULL) {
		risk__printable((const unsigned char *)o->path,
		    (size_t)(sep - o->path) + 3, def, 64);
		return risk_seterr(err, RISK_EINVAL, "%s...: not a database "
		    "risk knows (a file, or postgresql://...)", def);
	}
	if (o->path != NULL) {
		base = o->path;
	} else {
		if ((home = getenv("XDG_STATE_HOME")) != NULL &&
		    home[0] == '/')
			n = snprintf(def, sizeof def, "%s/risk/risk.db", home);
		else if ((home = getenv("HOME")) != NULL && home[0] == '/')
			n = snprintf(def, sizeof def,
			    "%s/.local/state/risk/risk.db", home);
		else
			return risk_seterr(err, RISK_EINVAL,
			    "no database: set --db, RISK_DB or HOME");
		if (n < 0 || (size_t)n >= sizeof def)
			return risk_seterr(err, RISK_EINVAL,
			    "default database path too long");
		base = def;
	}
	if (staged(base, o->stage, out, outsz) != 0)
		return risk_seterr(err, RISK_EINVAL, "%s: path too long", base);
	return RISK_OK;
}

/* mkdir -p of the folder holding path. */
static int
mkparent(const char *path, char *err)
{
	char buf[PATH_MAX];
	char *p;
	int n;

	n = snprintf(buf, sizeof buf, "%s", path);
	if (n < 0 || (size_t)n >= sizeof buf)
		return risk_seterr(err, RISK_EINVAL, "%s: path too long", path);
	if ((p = strrchr(buf, '/')) == NULL || p == buf)
		return RISK_OK;
	*p = '\0';
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return risk_seterr(err, RISK_EDB, "%s: %s", buf,
			    strerror(errno));
		if ((*p = c) == '\0')
			break;
	}
	return RISK_OK;
}

static int
pragma_int(struct risk_db *db, const char *sql, int *v, char *err,
    const char *what)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return risk__dberr(db, rc, err, what);
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, what);
	return RISK_OK;
}

static int
exec(struct risk_db *db, const char *sql, char *err, const char *what)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? RISK_OK : risk__dberr(db, rc, err, what);
}

/* The same for the statements of every transaction: parsed once. */
static int
step(struct risk_db *db, enum risk_stmt s, const char *sql, char *err,
    const char *what)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, s, sql, err)) == NULL)
		return RISK_EDB;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err, what);
}

/*
 * Check one schema (main or q) and create it when the file is new.
 * Reads the header fields first; writes only to an empty file or one
 * that is already ours.
 */
/* application_id, user_version and the number of schema objects. */
static int
read_header(struct risk_db *db, const char *schema, int *app, int *ver,
    int *nobj, const char *what, char *err)
{
	char sql[128];
	int r, n;

	n = snprintf(sql, sizeof sql, "PRAGMA %s.application_id", schema);
	if (n < 0 || (size_t)n >= sizeof sql)
		return risk_seterr(err, RISK_EINVAL, "schema name too long");
	if ((r = pragma_int(db, sql, app, err, what)) != RISK_OK)
		return r;
	snprintf(sql, sizeof sql, "PRAGMA %s.user_version", schema);
	if ((r = pragma_int(db, sql, ver, err, what)) != RISK_OK)
		return r;
	if (nobj == NULL)
		return RISK_OK;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.sqlite_master",
	    schema);
	return pragma_int(db, sql, nobj, err, what);
}

/*
 * Switch a new file to WAL.  That needs the file to itself, and SQLite
 * answers SQLITE_BUSY at once, without the busy handler, while another
 * process holds it (a reader that opened the new file a moment before):
 * six writers and a reader on a new file failed "database is locked"
 * about one round in forty.  Wait here as the busy timeout says.
 */
static int
to_wal(struct risk_db *db, const char *sql, char *err, const char *what)
{
	int64_t waited = 0;
	int rc, ms = 1;

	while ((rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL)) ==
	    SQLITE_BUSY && waited < db->busy_ms) {
		sqlite3_sleep(ms);
		waited += ms;
		if (ms < 64)
			ms *= 2;
	}
	return rc == SQLITE_OK ? RISK_OK : risk__dberr(db, rc, err, what);
}

/* Is a header ours, new, or something else?  RISK_OK for ours or new. */
static int
judge(int app, int ver, int nobj, const char *what, char *err)
{
	if (app != 0 && app != APP_ID_MAIN)
		return risk_seterr(err, RISK_EDB,
		    "%s: not a risk database (application_id %d)", what, app);
	if (app == 0 && (nobj != 0 || ver != 0))
		return risk_seterr(err, RISK_EDB,
		    "%s: not a risk database (it has other tables)", what);
	if (ver > SCHEMA_VERSION)
		return risk_seterr(err, RISK_EDB,
		    "%s: database schema %d is newer than this risk (%d)",
		    what, ver, SCHEMA_VERSION);
	return RISK_OK;
}

/* Does schema.table have col?  An upgrade adds a column only once. */
static bool
has_column(struct risk_db *db, const char *schema, const char *table,
    const char *col)
{
	sqlite3_stmt *st;
	char *sql;
	bool has = false;

	if ((sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q, %Q)"
	    " WHERE name = %Q", table, schema, col)) == NULL)
		return false;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK) {
		has = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	return has;
}

/*
 * Check one schema (main or q) and create or upgrade it.  Reads the
 * header first; writes only to an empty file or one that is already
 * ours.  Every decision past the fast path is taken on one snapshot:
 * read one field at a time, a file that another process is creating
 * this very moment would look half foreign.  A reader of an older
 * schema reads what it has (db->version says which).
 */
static int
prepare_schema(struct risk_db *db, const char *schema, bool withmain,
    bool withqueue, const char *what, char *err)
{
	char sql[2048];
	int want = withmain ? SCHEMA_VERSION : QUEUE_VERSION;
	int app, ver, nobj, r, n;
	bool old;

	if ((r = read_header(db, schema, &app, &ver, NULL, what, err)) !=
	    RISK_OK)
		return r;
	if (withmain)
		db->version = ver;
	if (app == APP_ID_MAIN && ver == want)
		return RISK_OK;		/* the fast, common path */
	if ((r = risk__sq_db_begin_read(db, err)) != RISK_OK)
		return r;
	r = read_header(db, schema, &app, &ver, &nobj, what, err);
	risk__sq_db_rollback(db);		/* ends the read snapshot */
	if (r != RISK_OK || (r = judge(app, ver, nobj, what, err)) != RISK_OK)
		return r;
	if (withmain)
		db->version = ver;
	if (app == APP_ID_MAIN && ver >= want)
		return RISK_OK;		/* made meanwhile by another process */
	if (db->readonly && app == APP_ID_MAIN && ver > 0)
		return RISK_OK;		/* older: read what it has */
	/* empty, or being made: as if not there (an older one of ours is
	 * migrated, never created) */
	if (db->readonly || (db->nocreate && app != APP_ID_MAIN))
		return risk_seterr(err, RISK_ENOTFOUND, "%s: no database yet",
		    what);
	snprintf(sql, sizeof sql, "PRAGMA %s.journal_mode=WAL", schema);
	if ((r = to_wal(db, sql, err, what)) != RISK_OK)
		goto fail;
	if ((r = exec(db, "BEGIN IMMEDIATE", err, what)) != RISK_OK)
		goto fail;
	db->txn = true;
	/* Again inside the write lock: another process may have won. */
	if ((r = read_header(db, schema, &app, &ver, &nobj, what, err)) !=
	    RISK_OK || (r = judge(app, ver, nobj, what, err)) != RISK_OK)
		goto fail;
	if (app == APP_ID_MAIN && ver >= want) {
		risk__sq_db_rollback(db);
		if (withmain)
			db->version = ver;
		return RISK_OK;
	}
	/* every CREATE is IF NOT EXISTS (the source table is new in 3);
	 * the history, seeded from the records, is new in version 2 and
	 * must be seeded once, and is made anew in version 4; columns come
	 * by ALTER TABLE */
	old = app == APP_ID_MAIN && ver > 0;
	if (withmain && (r = exec(db, schema_main, err, what)) != RISK_OK)
		goto fail;
	if (withmain && old && ver < 4 && !has_column(db, "main", "record",
	    "hseq") && (r = exec(db, migrate4_record, err, what)) != RISK_OK)
		goto fail;
	if (withmain && (r = exec(db, !old || ver < 2 ? schema_history :
	    ver < 4 ? migrate4_history : "", err, what)) != RISK_OK)
		goto fail;
	if (withmain && old && ver < 3 && !has_column(db, "main", "fetch_log",
	    "class") && (r = exec(db, migrate3_main, err, what)) != RISK_OK)
		goto fail;
	if (withqueue) {
		/* an older queue gains its priority; a new one is made */
		const char *tmpl = old && ver < (withmain ? 3 : 2) &&
		    !has_column(db, schema, "queue", "priority") ?
		    migrate2_queue : schema_queue;

		n = snprintf(sql, sizeof sql, tmpl, schema, schema, schema);
		if (n < 0 || (size_t)n >= sizeof sql) {
			r = risk_seterr(err, RISK_EINVAL, "schema too long");
			goto fail;
		}
		if ((r = exec(db, sql, err, what)) != RISK_OK)
			goto fail;
	}
	snprintf(sql, sizeof sql,
	    "PRAGMA %s.application_id=%d; PRAGMA %s.user_version=%d",
	    schema, APP_ID_MAIN, schema, want);
	if ((r = exec(db, sql, err, what)) != RISK_OK)
		goto fail;
	if ((r = risk__sq_db_commit(db, err)) == RISK_OK && withmain)
		db->version = want;
	return r;
fail:
	risk__sq_db_rollback(db);
	/* A user who may not write it (the web user's records, risk(7))
	 * reads an older schema as it is until a writer upgrades it. */
	if (r == RISK_ERDONLY && app == APP_ID_MAIN && ver > 0)
		return RISK_OK;
	return r;
}

#define SCHEMA_MAX_OBJECTS 8

/* One schema object as four strings ("" for NULL). */
struct schema_row {
	char *col[4];
};

static void
rows_free(struct schema_row *rows, int n)
{
	int i, c;

	for (i = 0; i < n; i++)
		for (c = 0; c < 4; c++)
			sqlite3_free(rows[i].col[c]);
}

/* Up to max rows of sql_schema_rows from connection h; *n how many,
 * *more whether there were others. */
static int
rows_read(sqlite3 *h, const char *schema, struct schema_row *rows, int max,
    int *n, bool *more)
{
	sqlite3_stmt *st;
	char *sql;
	int rc, c;

	*n = 0;
	*more = false;
	if ((sql = sqlite3_mprintf(sql_schema_rows, schema)) == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == max) {
			*more = true;
			break;
		}
		for (c = 0; c < 4; c++) {
			const unsigned char *t = sqlite3_column_text(st, c);

			rows[*n].col[c] = sqlite3_mprintf("%.*s",
			    sqlite3_column_bytes(st, c), t != NULL ?
			    (const char *)t : "");
		}
		(*n)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static bool
row_in(const struct schema_row *r, const struct schema_row *set, int n)
{
	int i, c;

	for (i = 0; i < n; i++) {
		for (c = 0; c < 4; c++)
			if (r->col[c] == NULL || set[i].col[c] == NULL ||
			    strcmp(r->col[c], set[i].col[c]) != 0)
				break;
		if (c == 4)
			return true;
	}
	return false;
}

/*
 * The queue's objects as SQLite stores them, taken from the same DDL: it
 * keeps a CREATE statement from the bare name of the object to its last
 * token, so "CREATE INDEX IF NOT EXISTS q.x ON t(c);" is stored as
 * "CREATE INDEX x ON t(c)".  No SQLite connection is needed (making one
 * in memory for this cost a CGI request about a millisecond).
 */
static int
expected_queue(struct schema_row *rows, int *n)
{
	static const char ine[] = " IF NOT EXISTS q.";
	char *all, *p, *semi, *name, *end, *on;
	bool table;
	int rc = SQLITE_OK;

	*n = 0;
	if ((all = sqlite3_mprintf(schema_queue, "q", "q", "q")) == NULL)
		return SQLITE_NOMEM;
	for (p = all; (semi = strchr(p, ';')) != NULL &&
	    *n < SCHEMA_MAX_OBJECTS; p = semi + 1) {
		*semi = '\0';
		table = strncmp(p, "CREATE TABLE", 12) == 0;
		if ((name = strstr(p, ine)) == NULL) {
			rc = SQLITE_INTERNAL;
			break;
		}
		name += sizeof ine - 1;
		end = name + strcspn(name, " (");
		on = table ? name : strstr(end, " ON ");
		if (on == NULL) {
			rc = SQLITE_INTERNAL;
			break;
		}
		if (!table)
			on += 4;
		rows[*n].col[0] = sqlite3_mprintf("%s", table ? "table" :
		    "index");
		rows[*n].col[1] = sqlite3_mprintf("%.*s", (int)(end - name),
		    name);
		rows[*n].col[2] = sqlite3_mprintf("%.*s",
		    (int)strcspn(on, " ("), on);
		rows[*n].col[3] = sqlite3_mprintf("CREATE %s %s", table ?
		    "TABLE" : "INDEX", name);
		if (rows[*n].col[0] == NULL || rows[*n].col[1] == NULL ||
		    rows[*n].col[2] == NULL || rows[*n].col[3] == NULL)
			rc = SQLITE_NOMEM;
		(*n)++;
		if (rc != SQLITE_OK)
			break;
	}
	sqlite3_free(all);
	return rc;
}

/*
 * Refuse a queue file whose schema is not exactly what risk makes: a
 * trigger there would run inside the owner's drainer.  It is compared
 * with rows derived from the same DDL (expected_queue), so a schema
 * change (a migration) must leave a file's sqlite_schema as a new file
 * has it, or be taught here.
 * How to repair a refused file is in risk.7, THREAT MODEL.
 */
static int
check_queue_schema(struct risk_db *db, char *err)
{
	struct schema_row want[SCHEMA_MAX_OBJECTS], have[SCHEMA_MAX_OBJECTS];
	const struct schema_row *bad = NULL;
	char type[32], name[72];
	int nwant = 0, nhave = 0, rc, i;
	bool more, missing = false;

	if ((rc = expected_queue(want, &nwant)) != SQLITE_OK ||
	    (rc = rows_read(db->h, "q", have, SCHEMA_MAX_OBJECTS, &nhave,
	    &more)) != SQLITE_OK) {
		rows_free(want, nwant);
		rows_free(have, nhave);
		return risk__dberr(db, rc, err, db->qpath);
	}
	for (i = 0; i < nhave && bad == NULL; i++)
		if (!row_in(&have[i], want, nwant))
			bad = &have[i];
	for (i = 0; i < nwant && bad == NULL; i++)
		if (!row_in(&want[i], have, nhave))
			bad = &want[i], missing = true;
	if (bad != NULL) {
		risk__printable((const unsigned char *)bad->col[0],
		    strlen(bad->col[0]), type, sizeof type);
		risk__printable((const unsigned char *)bad->col[1],
		    strlen(bad->col[1]), name, sizeof name);
	}
	rows_free(want, nwant);
	rows_free(have, nhave);
	if (bad != NULL)
		return risk_seterr(err, RISK_EDB, "%s: refused: the queue "
		    "file's %s \"%s\" %s (someone who may write the file "
		    "changed it; to repair, see THREAT MODEL in risk(7))",
		    db->qpath, type, name, missing ? "is missing" :
		    "was not made by risk");
	if (more)
		return risk_seterr(err, RISK_EDB, "%s: refused: the queue "
		    "file holds objects risk did not make (someone who may "
		    "write the file added them; to repair, see THREAT MODEL "
		    "in risk(7))", db->qpath);
	return RISK_OK;
}

/*
 * The authorizer of a split connection: no statement may run code that a
 * trigger or view in the queue file carries.  risk makes none there, so
 * any is hostile, even one planted while this connection is open.
 */
static int
authorize(void *arg, int action, const char *a3, const char *a4,
    const char *schema, const char *inner)
{
	(void)arg;
	(void)action;
	(void)a3;
	(void)a4;
	return inner != NULL && schema != NULL && strcmp(schema, "q") == 0 ?
	    SQLITE_DENY : SQLITE_OK;
}

static void
remember(const char *path, struct risk_fileid *id)
{
	struct stat sb;

	if (stat(path, &sb) == 0)
		*id = (struct risk_fileid){ sb.st_dev, sb.st_ino };
}

static bool
moved(const char *path, const struct risk_fileid *id)
{
	struct stat sb;

	return stat(path, &sb) != 0 || sb.st_dev != id->dev ||
	    sb.st_ino != id->ino;
}

/*
 * Is the folder holding path sticky and writable by anyone (/tmp)?
 * There, a name may have been planted by another user.
 */
static bool
shared_folder(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat sb;
	int n;

	if (slash == NULL)
		n = snprintf(dir, sizeof dir, ".");
	else
		n = snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof dir || stat(dir, &sb) != 0)
		return false;
	return (sb.st_mode & S_ISVTX) && (sb.st_mode & S_IWOTH);
}

/*
 * Check path before SQLite opens it, and remember which file it is.
 * Taken before the open, a replacement in between makes the next
 * risk_db_replaced() say so: a needless reopen, never a missed one.
 * Refuse what another user may have planted (as OpenSSH refuses loose
 * key files), and create a new file 0600 ourselves, so that its -wal and
 * -shm, which SQLite makes with the database's mode, are private too.
 * risk-setup-web sets the modes of the web layout afterwards.
 */
static int
open_file(struct risk_db *db, const char *path, struct risk_fileid *id,
    char *err)
{
	struct stat sb;
	bool shared = shared_folder(path);
	int fd;

	if (shared && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
		return risk_seterr(err, RISK_EDB, "%s: refused: a symbolic "
		    "link in a folder anyone may write; name the file "
		    "itself", path);
	if (stat(path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			return risk_seterr(err, RISK_EDB,
			    "%s: not a regular file", path);
		if (sb.st_mode & S_IWOTH)
			return risk_seterr(err, RISK_EDB, "%s: refused: "
			    "anyone may write it (mode %04o); chmod o-w it",
			    path, (unsigned)(sb.st_mode & 07777));
		if (shared && sb.st_uid != geteuid() && sb.st_uid != 0)
			return risk_seterr(err, RISK_EDB, "%s: refused: it "
			    "belongs to uid %ld, in a folder anyone may write",
			    path, (long)sb.st_uid);
		*id = (struct risk_fileid){ sb.st_dev, sb.st_ino };
		return RISK_OK;
	}
	if (errno != ENOENT)
		return risk_seterr(err, RISK_EDB, "%s: %s", path,
		    strerror(errno));
	/* A program that only reads or removes never creates a database:
	 * a mistyped path must not pass as an empty cache. */
	if (db->readonly || db->nocreate)
		return risk_seterr(err, RISK_EDB, "%s: no database yet", path);
	if (mkparent(path, err) != RISK_OK)
		return RISK_EDB;
	/* O_EXCL: never through a symbolic link; EEXIST: another process
	 * made it meanwhile, and prepare_schema judges it */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST)
		return risk_seterr(err, RISK_EDB, "%s: %s", path,
		    strerror(errno));
	return RISK_OK;
}

/* db, allocated and zero but for its common fields, opened on o. */
int
risk__sq_db_open(struct risk_db *db, const struct risk_db_opts *o, char *err)
{
	struct risk_db_opts qo;
	sqlite3_stmt *st;
	int r, rc, flags, persist;

	db->busy_ms = o->busy_ms >= 0 ? o->busy_ms : BUSY_DEFAULT_MS;
	if ((r = risk__sq_path(o, db->path, sizeof db->path, err)) != RISK_OK)
		return r;
	db->counted = INT64_MIN;	/* history_mark: not read yet */
	if (o->queue != NULL) {
		qo = *o;
		qo.path = o->queue;
		if ((r = risk__sq_path(&qo, db->qpath, sizeof db->qpath,
		    err)) != RISK_OK)
			goto fail;
		db->split = strcmp(db->qpath, db->path) != 0;
	}
	if ((r = open_file(db, db->path, &db->id, err)) != RISK_OK)
		goto fail;
	flags = (db->readonly ? SQLITE_OPEN_READONLY :
	    db->nocreate ? SQLITE_OPEN_READWRITE :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	rc = sqlite3_open_v2(db->path, &db->h, flags, risk__vfs());
	if (rc != SQLITE_OK) {
		r = rc == SQLITE_CANTOPEN ? risk_seterr(err, RISK_EDB,
		    "%s: cannot open database", db->path) :
		    risk__dberr(db, rc, err, db->path);
		goto fail;
	}
	sqlite3_busy_timeout(db->h, db->busy_ms > INT32_MAX ? INT32_MAX :
	    (int)db->busy_ms);
	/* The queue file may be writable by a web user: never run code its
	 * schema carries, and refuse writes that could corrupt the file. */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/* Keep -wal and -shm after the last close: a reader without write
	 * access to the folder can open a WAL database only if they exist. */
	persist = 1;
	sqlite3_file_control(db->h, "main", SQLITE_FCNTL_PERSIST_WAL,
	    &persist);
	if ((r = exec(db, "PRAGMA synchronous=NORMAL", err, db->path)) !=
	    RISK_OK)
		goto fail;
	if ((r = exec(db, WAL_LIMIT_SQL("main"), err, db->path)) != RISK_OK)
		goto fail;
	if (db->split) {
		if ((r = open_file(db, db->qpath, &db->qid, err)) != RISK_OK)
			goto fail;
		/* bind the path: no quoting trouble */
		rc = sqlite3_prepare_v2(db->h, "ATTACH ?1 AS q", -1, &st,
		    NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, db->qpath, -1,
			    SQLITE_STATIC);
			rc = sqlite3_step(st);
			sqlite3_finalize(st);
		}
		if (rc != SQLITE_DONE && rc != SQLITE_OK) {
			r = risk__dberr(db, rc, err, db->qpath);
			goto fail;
		}
		/* The same for the queue: the web user may write the queue
		 * file but not create files in its folder (risk.7). */
		sqlite3_file_control(db->h, "q", SQLITE_FCNTL_PERSIST_WAL,
		    &persist);
		if ((r = exec(db, WAL_LIMIT_SQL("q"), err, db->qpath)) !=
		    RISK_OK)
			goto fail;
		if ((r = prepare_schema(db, "main", true, false, db->path,
		    err)) != RISK_OK)
			goto fail;
		if ((r = prepare_schema(db, "q", false, true, db->qpath,
		    err)) != RISK_OK)
			goto fail;
		if ((r = check_queue_schema(db, err)) != RISK_OK)
			goto fail;
		sqlite3_set_authorizer(db->h, authorize, NULL);
	} else if ((r = prepare_schema(db, "main", true, true, db->path,
	    err)) != RISK_OK) {
		goto fail;
	}
	/* made by this open: the file SQLite just created */
	if (db->id.ino == 0)
		remember(db->path, &db->id);
	if (db->split && db->qid.ino == 0)
		remember(db->qpath, &db->qid);
	return RISK_OK;
fail:
	/* the caller closes db */
	return r;
}

/* Empty the WAL of schema if it grew past WAL_KEEP (see the top). */
static void
trim_wal(struct risk_db *db, const char *schema, const char *path)
{
	char wal[PATH_MAX + 8], sql[64];
	struct stat sb;
	int n;

	n = snprintf(wal, sizeof wal, "%s-wal", path);
	if (n < 0 || (size_t)n >= sizeof wal || stat(wal, &sb) != 0 ||
	    sb.st_size <= WAL_KEEP)
		return;
	snprintf(sql, sizeof sql, "PRAGMA %s.wal_checkpoint(TRUNCATE)",
	    schema);
	sqlite3_busy_timeout(db->h, WAL_TRIM_WAIT_MS);
	sqlite3_exec(db->h, sql, NULL, NULL, NULL);	/* best effort */
}

void
risk__sq_db_settle(struct risk_db *db)
{
	sqlite3_stmt *st = NULL;

	while ((st = sqlite3_next_stmt(db->h, st)) != NULL)
		if (sqlite3_stmt_busy(st))
			sqlite3_reset(st);
	risk__sq_db_rollback(db);
}

bool
risk__sq_db_replaced(struct risk_db *db)
{
	if (!moved(db->path, &db->id) &&
	    !(db->split && moved(db->qpath, &db->qid)))
		return false;
	/* The -wal and -shm files go by name: they are the new file's
	 * now.  Closing must not checkpoint them into the old one (and
	 * reset them under the new file's writers). */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	return true;
}

void
risk__sq_db_close(struct risk_db *db)
{
	int i;

	for (i = 0; i < S_NSTMT; i++)
		sqlite3_finalize(db->st[i]);
	if (db->txn)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	if (db->h != NULL && !db->readonly &&
	    sqlite3_total_changes64(db->h) > 0) {
		trim_wal(db, "main", db->path);
		if (db->split)
			trim_wal(db, "q", db->qpath);
	}
	sqlite3_close(db->h);
}

/*
 * BEGIN IMMEDIATE.  With the queue in its own file, the write locks are
 * taken one file at a time, main first as SQLite itself would, so that
 * a lock timeout names the file that was locked.  A DELETE that matches
 * nothing takes a file's write lock and writes nothing.  As in SQLite's
 * own BEGIN IMMEDIATE, a file opened read-only is skipped (the web user
 * writes only the queue).
 */
int
risk__sq_db_begin(struct risk_db *db, char *err)
{
	int r;

	if (!db->split) {
		r = step(db, S_BEGIN, "BEGIN IMMEDIATE", err, db->path);
		db->txn = r == RISK_OK;
		return r;
	}
	if ((r = exec(db, "BEGIN DEFERRED", err, db->path)) != RISK_OK)
		return r;
	db->txn = true;
	if ((sqlite3_db_readonly(db->h, "main") != 1 &&
	    (r = exec(db, "DELETE FROM main.record WHERE 0", err,
	    db->path)) != RISK_OK) ||
	    (sqlite3_db_readonly(db->h, "q") != 1 &&
	    (r = exec(db, "DELETE FROM q.queue WHERE 0", err, db->qpath)) !=
	    RISK_OK))
		risk__sq_db_rollback(db);
	return r;
}

int
risk__sq_db_begin_read(struct risk_db *db, char *err)
{
	int r = exec(db, "BEGIN DEFERRED", err, db->path);

	db->txn = r == RISK_OK;
	return r;
}

int
risk__sq_db_commit(struct risk_db *db, char *err)
{
	int r = risk__history_flush(db, err);

	if (r == RISK_OK)
		r = step(db, S_COMMIT, "COMMIT", err, db->path);

	if (r != RISK_OK)
		risk__sq_db_rollback(db);
	else
		risk__history_end(db, true);
	db->txn = false;
	return r;
}

void
risk__sq_db_rollback(struct risk_db *db)
{
	if (sqlite3_get_autocommit(db->h) == 0)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->txn = false;
	db->nhrow = 0;		/* the history rows not inserted yet */
	risk__history_end(db, false);
	db->counted = INT64_MIN;	/* a fold may be undone */
}

int
risk__sq_db_exec(struct risk_db *db, const char *sql, char *err)
{
	/* the caller's SQL may change what history.c read in this
	 * transaction (a record deleted): its rows go in first, and the
	 * next put reads again */
	int r = risk__history_flush(db, err);

	risk__history_end(db, false);
	return r != RISK_OK ? r : exec(db, sql, err, db->path);
}

/* A bulk load touches most pages: 64 MiB of page cache instead of 2 MiB
 * halves the time to load over a million records. */
int
risk__sq_db_bulk(struct risk_db *db, char *err)
{
	return exec(db, "PRAGMA cache_size=-65536", err, db->path);
}

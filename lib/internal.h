/*
 * internal.h — what the library's files share and commands need not see.
 */
#ifndef RISK_INTERNAL_H
#define RISK_INTERNAL_H

#include <limits.h>
#include <sqlite3.h>
#include <sys/types.h>

#include "risk.h"
#include "store.h"

/* Prepared statements, made on first use and kept for the connection. */
enum risk_stmt {
	S_RECORD_GET,
	S_RECORD_PUT,
	S_RECORD_EACH,
	S_ENQUEUE,
	S_DEAD_HAS,
	S_LEASED,
	S_SOURCE_GET,
	S_SOURCE_PUT,
	S_RAISE,
	S_DEFER,
	S_NEXT_DUE,
	S_CLAIM_PICK,
	S_CLAIM_TAKE,
	S_ACK,
	S_RELEASE,
	S_RETRY,
	S_DEAD_PUT,
	S_QUEUE_DEL,
	S_UNFORGE,
	S_FORGED,
	S_DEAD_EACH,
	S_DEAD_GET,
	S_REDRIVE_PUT,
	S_DEAD_DEL,
	S_QUEUE_HAS,
	S_LOG_PUT,
	S_RUN_PUT,
	/* purge.c */
	S_PURGE_REC_SCAN,
	S_PURGE_REC_DEL,
	S_PURGE_DEAD_SCAN,
	S_PURGE_DEAD_DEL,
	S_PURGE_LOG_DEL,
	S_PURGE_LOG_COUNT,
	S_PURGE_RUN_DEL,
	S_PURGE_RUN_COUNT,
	/* stat.c */
	S_STAT_Q_TOTAL,
	S_STAT_Q_DUE,
	S_STAT_DEAD,
	S_STAT_REC,
	S_STAT_RUN,
	S_STAT_OUT,
	S_STAT_CLASS,
	S_LOGR_SINCE,
	S_LOGR_AFTER,
	/* history.c */
	S_HIST_STATE,
	S_HIST_ORPHAN,
	S_HIST_UNORPHAN,
	S_HIST_ADD,
	S_HIST_ADD2,
	S_HIST_ADD4,
	S_HIST_ADD8,
	S_HIST_MARK,
	S_HIST_FOLD,
	S_HIST_COUNTED,
	S_HIST_AFTER,
	S_HIST_AFTER_IN,
	S_HIST_AFTER_IN3,
	S_HIST_MAX,
	S_HIST_DEL,
	S_HIST_COUNT_OLD,
	S_HIST_COUNT,
	S_HIST_TOTALS,
	S_HIST_TOTALS3,
	/* db.c */
	S_BEGIN,
	S_COMMIT,
	S_NSTMT
};

/* Which file a path named when it was opened (risk_db_replaced). */
struct risk_fileid {
	dev_t dev;
	ino_t ino;		/* 0: not known */
};

#define RISK__HROWS 8	/* history rows kept for one INSERT (history.c) */

struct risk_db {
	const struct risk__store *ops;	/* the engine (store.h) */
	struct risk__pg *pg;	/* PostgreSQL's connection, or NULL */
	sqlite3 *h;		/* SQLite's, or NULL */
	bool readonly;
	bool nocreate;		/* a missing (or empty) file is RISK_ENOTFOUND */
	bool split;		/* the queue lives in its own file, schema q */
	bool txn;
	int version;		/* user_version of the main schema */
	int64_t busy_ms;
	sqlite3_stmt *st[S_NSTMT];
	/* history.c: history_mark.counted as last read (INT64_MIN: not
	 * yet); the next seq (0: not known) and whether any company with
	 * rows has no record, good for this transaction once hready, and
	 * kept from the last while the file's data version is hversion */
	int64_t counted;
	int64_t hnext;
	bool orphans, hready;
	unsigned int hversion;
	/* the history rows of a risk_db_begin() transaction not yet
	 * inserted, in the order they were noted (history.c) */
	struct risk__hrow {
		char id[RISK_ID_MAX + 1];
		char status[sizeof ((struct risk_record *)0)->status];
		char prev[sizeof ((struct risk_record *)0)->status];
		bool found, prev_found, first;
		int64_t seq, prev_seq;	/* prev_seq 0: none */
		int64_t changed_at, fetched_at;
	} hrow[RISK__HROWS];
	int nhrow;
	char path[PATH_MAX];
	char qpath[PATH_MAX];
	struct risk_fileid id, qid;	/* of path and qpath */
};

/* The cached statement, reset and with bindings cleared; NULL on error. */
sqlite3_stmt *risk__stmt(struct risk_db *db, enum risk_stmt s,
    const char *sql, char *err);
/* The same for SQL naming the queue's schema as %1$s (main or q). */
sqlite3_stmt *risk__qstmt(struct risk_db *db, enum risk_stmt s,
    const char *fmt, char *err);
/* Turn a SQLite result code into a status and a reason in err.  what
 * names the file the statement works on (db->path, or risk__qfile() for
 * the queue), never a company: a locked, read-only or broken database is
 * a fact about a file. */
int risk__dberr(struct risk_db *db, int rc, char *err, const char *what);
/* id.c: a stage name, 1 to 32 of A-Z a-z 0-9 _ - */
bool risk__stage_valid(const char *s);
/*
 * End a transaction that a call began for itself (own; one the caller
 * began is the caller's to end): commit when r is RISK_OK, else roll
 * back.  Returns r, or the commit's failure.  Either engine's.
 */
static inline int
risk__txn_end(struct risk_db *db, bool own, int r, char *err)
{
	if (!own)
		return r;
	if (r == RISK_OK)
		return db->ops->commit(db, err);
	db->ops->rollback(db);
	return r;
}

/*
 * End a purge batch (purge.c, pg_purge.c): flush() unless the caller
 * already said stop (non-zero), then commit, or roll back on a stop; a
 * dry run began no transaction.  Returns the stop, or the commit's
 * status.
 */
static inline int
risk__purge_batch_end(struct risk_db *db, const struct risk_purge *p,
    int stop, char *err)
{
	if (stop == 0 && p->flush != NULL)
		stop = p->flush(p->arg);
	return risk__txn_end(db, !p->dry_run, stop, err);
}

/* v within [lo, hi], as an int: a count or a number of attempts read
 * from a row that may hold anything.  Either engine's. */
static inline int
risk__clamp(int64_t v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

/* The file that holds the queue: the queue file, or the main one. */
#define risk__qfile(db) ((db)->split ? (db)->qpath : (db)->path)

/*
 * history.c: before record.c stores rec (inside its transaction), append
 * a history row if rec's status differs from the one before: old, the
 * record it replaces, or when NULL (there is none) the company's newest
 * history row.  *head is the head of the company's chain: old's hseq
 * (0: none) on the way in, the row to store as the record's hseq on the
 * way out.
 */
int risk__history_note(struct risk_db *db, const struct risk_record *rec,
    const struct risk_record *old, int64_t *head, char *err);
/* history.c: a transaction ends (committed, or rolled back, or SQL run
 * by hand in it): what history.c read is kept only after a commit. */
void risk__history_end(struct risk_db *db, bool committed);
/* history.c: insert the rows noted so far, and fold them into
 * history_total once enough have gathered; risk_db_commit() calls it
 * just before COMMIT. */
int risk__history_flush(struct risk_db *db, char *err);

/* idset.c: the set as a JSON array of strings (malloc'd), or NULL. */
char *risk__idset_json(const struct risk_idset *s);

/* vfs.c: the VFS db.c opens files with (NULL: SQLite's default). */
const char *risk__vfs(void);

/* queue.c: column readers shared with purge.c and stat.c. */
void risk__column_text(sqlite3_stmt *st, int col, char *buf, size_t sz);
void risk__dead_fill(sqlite3_stmt *st, struct risk_dead *d);
/* queue.c: a random 64-bit value (lease tokens, jitter). */
uint64_t risk__rnd64(void);
/*
 * queue.c: one queue row as read from the file, checked column by column
 * into e: RISK_OK if it may be leased, else RISK_EINVAL with e->buried
 * and e->last_error saying what the claim does with it.  idtype is the
 * SQLite type of the id column.  e->id is always printable.
 */
int risk__queue_row(const unsigned char *id, size_t idlen, int idtype,
    int64_t attempts, int64_t redrives, const unsigned char *last_error,
    size_t errlen, int max_attempts, struct risk_entry *e);

/*
 * text.c: the character at p (at least 1 byte long), its code point in
 * *cp, or -1 where the bytes are not UTF-8, as jq 1.6 reads them.
 */
size_t risk__utf8_next(const unsigned char *p, const unsigned char *end,
    long *cp);
/*
 * text.c: n bytes of hostile text (NULL: none) through the plain-text
 * sanitiser into buf, cut to fit sz with a final '?' when cut.  What was
 * not a valid ID never comes out as one: every character it keeps is
 * kept as it was, every other becomes '?', which no ID holds.
 */
void risk__printable(const unsigned char *s, size_t n, char *buf, size_t sz);
/* print.c: a view's age in seconds (0 .. 2^53-1) and freshness. */
int64_t risk__view_age(const struct risk_view *v);
bool risk__view_fresh(const struct risk_view *v);

/* print.c: a view as its JSON line on fp (risk_print_view without a
 * filter). */
int risk__view_print(FILE *fp, const struct risk_view *v, char *err);
/* print.c: a change as its JSON object into buf (risk_change_print);
 * -1 if it does not fit. */
#define RISK_CHANGE_LINE_MAX 1024	/* two statuses of 63 bytes, each
					   escaped to at most 6 bytes a byte */
int risk__change_json(const struct risk_change *c, char *buf, size_t bufsz);
/* json.c: jv's own rendering of a view and of a string (quotes
 * included), the references print.c is tested against; -1 without
 * libjq or if it does not fit. */
int risk__view_json_jv(const struct risk_view *v, char *buf, size_t bufsz);
int risk__json_quote_jv(const char *s, size_t len, char *buf,
    size_t bufsz);

/*
 * map.c: a body or a dump line to a record, in this process; mapper.c
 * (public) runs a user's program in a bounded child over these.  prog
 * NULL is the default mapping (see map.c).
 */
struct risk__map;
int risk__map_new(struct risk__map **m, const char *prog, char *err);
/* Fill rec->status, rec->changed_at, rec->found from body. */
int risk__map_apply(struct risk__map *m, const char *body, size_t len,
    struct risk_record *rec, char *err);
/* The same from a dump line, and rec->id from its idkey. */
int risk__map_line(struct risk__map *m, const char *line, size_t len,
    const char *idkey, struct risk_record *rec, char *err);
void risk__map_free(struct risk__map *m);

/* tls.c: the CA file, client certificate and key of o, read and checked
 * (pass decrypts the key; NULL if the credentials gave none); with a
 * client certificate, its SHA-256 in md. */
#define RISK_TLS_MD_LEN 32
int risk__tls_check(const struct risk_fetch_opts *o, const char *pass,
    unsigned char md[RISK_TLS_MD_LEN], char *err);
/* What TLS saw during one transfer; reset before each. */
struct risk__tls_seen {
	int alert;		/* the fatal alert the server sent; -1: none */
	bool asked;		/* the server asked for a client certificate */
};
/* Record into seen what the TLS connections easy opens see. */
void risk__tls_watch(void *easy, struct risk__tls_seen *seen);
/* Whose failure a transfer that ended with curl code rc was, with a reason,
 * if TLS says; RISK_FAIL_NONE (reason untouched) if it does not. */
enum risk_fail_class risk__tls_failure(int rc,
    const struct risk__tls_seen *seen, bool have_cert, const char *errbuf,
    char *reason, size_t n);

/* ---- dl.c: a library opened on first use ----------------------------- */

/*
 * lib is opened once per process; names[i] is resolved into *slots[i].
 * A failure is code with "cannot load WHAT: ..." or "WHAT has no F",
 * and the same failure answers every later call.
 */
struct risk__dl {
	const char *lib;		/* "libjq.so.1" */
	const char *what;		/* "libjq", for reasons */
	const char *const *names;
	void **const *slots;
	size_t n;
	int code;			/* the status of a failure */
	int state;			/* 0 not tried, 1 loaded, -1 failed */
	char why[256];
};
int risk__dl_load(struct risk__dl *d, char *err);

#endif

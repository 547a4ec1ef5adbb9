/*
 * risk.h — the one public header of librisk.
 *
 * The library never prints and never exits.  Every fallible call returns
 * an int status (RISK_OK, or a negative RISK_E* code) and, on failure,
 * fills a caller-owned buffer of RISK_ERRLEN bytes with a reason that
 * names no program ("database is locked", "12/34: invalid company id").
 * Commands in cmd/ turn that into a diagnostic and an exit status.
 *
 * Declarations are grouped by the file that defines them.
 */
#ifndef RISK_H
#define RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RISK_VERSION "0.1.0"
#define RISK_ERRLEN 512

/* Exit statuses: one table for every program and every man page. */
enum {
	RISK_EXIT_OK = 0,	/* everything asked for was done */
	RISK_EXIT_PARTIAL = 1,	/* some IDs had no record / failed */
	RISK_EXIT_ERROR = 2,	/* usage, invalid input, broken database */
	RISK_EXIT_TEMPFAIL = 75,	/* try again later: database busy,
				   legacy service down (EX_TEMPFAIL) */
	RISK_EXIT_NOPERM = 77	/* the legacy service rejected the
				   credentials: a person must act (EX_NOPERM) */
};

/* Library status codes. */
enum {
	RISK_OK = 0,
	RISK_EINVAL = -1,	/* bad argument or input */
	RISK_EDB = -2,		/* database error (corrupt, foreign, I/O) */
	RISK_EBUSY = -3,	/* database locked past the busy timeout */
	RISK_ERDONLY = -4,	/* database may only be read */
	RISK_ENOMEM = -5,
	RISK_EIO = -6,		/* write error on an output stream */
	RISK_EPIPE = -7,	/* output stream closed by the reader */
	RISK_EJQ = -8,		/* jq filter failed */
	RISK_ENOTFOUND = -9,	/* no such entry */
	RISK_EFULL = -10,	/* no free slot */
	RISK_ELOST = -11,	/* lease lost: another worker owns it now */
	RISK_ENOTJSON = -12	/* a body that is not JSON at all */
};

/*
 * Whose failure a finished transfer was (SPEC, "The legacy service's
 * health").  Only a company's own failures move it towards the dead
 * letters; the others are the service's, and say what every drainer
 * should do next.  A 200 is RISK_FAIL_NONE here: whether its body maps
 * to a record is the caller's to judge (a body that is not JSON at all,
 * a maintenance page, is the service's; JSON that maps to no record is
 * the company's).
 */
enum risk_fail_class {
	RISK_FAIL_NONE,		/* an answer (200, 404), or aborted */
	RISK_FAIL_COMPANY,	/* other 4xx, a body over the size cap */
	RISK_FAIL_DOWN,		/* no connection, timeout, 408, 5xx, 3xx */
	RISK_FAIL_THROTTLED,	/* 429, or 503 with Retry-After */
	RISK_FAIL_CREDENTIALS	/* 401, 407 */
};

/* ---- err.c ---------------------------------------------------------- */

int risk_seterr(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map a status to the exit-status table. */
int risk_exit_status(int code);

/* ---- id.c ----------------------------------------------------------- */

#define RISK_ID_MAX 64
/* 1..64 of [A-Za-z0-9._:-], first a letter or digit. */
bool risk_id_valid(const char *id, size_t len);
/* Percent-encode for a URL path segment; -1 if it does not fit. */
int risk_id_urlencode(const char *id, char *out, size_t outsz);
/* Decode %XX and '+' in place; false on a malformed escape or NUL. */
bool risk_urldecode(char *s);

/* ---- time.c --------------------------------------------------------- */

/* "90", "90s", "15m", "1h", "7d" (also "250ms") into milliseconds. */
int risk_duration_parse(const char *s, int64_t *ms, char *err);
int64_t risk_now_ms(void);
/* A clock for intervals: never steps back, nor with the wall clock. */
int64_t risk_mono_ms(void);
/* UTC "2026-11-27T08:00:00Z" from seconds since the epoch. */
void risk_time_format(int64_t sec, char out[32]);
/* ISO 8601 date or date-time (Z or offset), or epoch seconds. */
int risk_time_parse(const char *s, int64_t *sec);
/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", both ways. */
void risk_http_date(int64_t sec, char out[32]);
int risk_http_date_parse(const char *s, int64_t *sec);

/* ---- loop.c --------------------------------------------------------- */

/*
 * Feed company IDs to id(): the arguments, or the lines of fd when there
 * are none or the only one is "-".  White space around an ID is trimmed
 * and blank lines skipped.  Invalid IDs go to bad() and the loop goes on.
 * idle() runs whenever reading fd would block (commit, flush), so a slow
 * producer never leaves work uncommitted.  A callback returning non-zero
 * stops the loop with that value.
 */
struct risk_loop {
	int (*id)(const char *id, void *arg);
	void (*bad)(const char *id, const char *reason, void *arg);
	int (*idle)(void *arg);		/* may be NULL */
	void *arg;
	int fd;				/* standard input: 0 */
};
int risk_loop(int argc, char **argv, const struct risk_loop *l, char *err);

/* ---- db.c ----------------------------------------------------------- */

struct risk_db;

struct risk_db_opts {
	const char *path;	/* --db or RISK_DB; NULL for the default */
	const char *queue;	/* --queue or RISK_QUEUE: a separate queue file */
	const char *stage;	/* --stage or RISK_STAGE */
	bool readonly;		/* never write (risk-get --no-enqueue) */
	bool nocreate;		/* may write, never create (risk-purge) */
	bool make_schema;	/* PostgreSQL: make or migrate the tables of
				   an empty database even when read-only
				   (risk-stat, an operator's first look) */
	int64_t busy_ms;	/* wait for a lock this long; <0 default */
};

/* Fill opts from the environment where the caller left fields NULL. */
int risk_db_opts_env(struct risk_db_opts *o, char *err);
/* The path that opts resolve to (for messages); out of PATH_MAX. */
int risk_db_path(const struct risk_db_opts *o, char *out, size_t outsz,
    char *err);
int risk_db_open(struct risk_db **db, const struct risk_db_opts *o,
    char *err);
void risk_db_close(struct risk_db *db);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int risk_db_begin(struct risk_db *db, char *err);
int risk_db_commit(struct risk_db *db, char *err);
void risk_db_rollback(struct risk_db *db);
bool risk_db_in_txn(struct risk_db *db);
/* "sqlite" or "postgresql". */
const char *risk_db_engine(const struct risk_db *db);
/*
 * Between the requests of a long-lived reader: reset every statement and
 * end any transaction, so that no read snapshot outlives a request (WAL
 * checkpoints are never held back, the next request sees every commit).
 */
void risk_db_settle(struct risk_db *db);
/*
 * Does a path now name another file than the one opened (restored from
 * a backup, moved into place) or none?  A long-lived reader then closes
 * and opens again: SQLite would go on reading the old file.  When true,
 * the close that follows leaves the -wal file alone: it is the new
 * file's.  On PostgreSQL: has the connection been lost?
 */
bool risk_db_replaced(struct risk_db *db);
/* A read snapshot for long read loops (BEGIN DEFERRED). */
int risk_db_begin_read(struct risk_db *db, char *err);
/* A bulk load follows: size what the engine keeps for it. */
int risk_db_bulk(struct risk_db *db, char *err);
/* Run SQL with no result rows (maintenance, tests). */
int risk_db_exec(struct risk_db *db, const char *sql, char *err);

/* ---- record.c ------------------------------------------------------- */

struct risk_record {
	char id[RISK_ID_MAX + 1];
	bool found;		/* false: the legacy service said 404 */
	char status[64];	/* after mapping; "" when !found */
	int64_t changed_at;	/* seconds; status_changed_at */
	int64_t fetched_at;	/* milliseconds */
};

/* RISK_OK and *rec, or RISK_ENOTFOUND. */
int risk_record_get(struct risk_db *db, const char *id,
    struct risk_record *rec, char *err);
/*
 * Look up n (at most RISK_GET_MANY) IDs at once: found[i] says whether
 * recs[i] is ids[i]'s record.  A server answers them in one round trip
 * (risk-get with IDs on standard input); a file, one probe each.
 */
#define RISK_GET_MANY 1000
int risk_record_get_many(struct risk_db *db, const char *const *ids,
    int n, struct risk_record *recs, bool *found, char *err);
/*
 * Store a fetch result.  changed_at > 0 is the legacy service's own date;
 * 0 means "keep the old one if the status did not change, else the time
 * of this fetch".  An older fetch never overwrites a newer one: then
 * *stored is false and RISK_OK is returned.
 */
int risk_record_put(struct risk_db *db, const struct risk_record *rec,
    bool *stored, char *err);
/*
 * Store n (at most RISK_PUT_MANY) fetch results as risk_record_put would,
 * one after the other, in one transaction (the caller's, or its own):
 * stored[i] for each.  A server takes them in a few statements
 * (risk-load); a file, one put each.
 */
#define RISK_PUT_MANY 1000
int risk_record_put_many(struct risk_db *db, const struct risk_record *recs,
    int n, bool *stored, char *err);
typedef int (*risk_record_fn)(const struct risk_record *rec, void *arg);
/* Every record in ID order. */
int risk_record_each(struct risk_db *db, risk_record_fn fn, void *arg,
    char *err);

/* ---- idset.c: a watch list ----------------------------------------- */

struct risk_idset;
int risk_idset_new(struct risk_idset **s, char *err);
/* Add a valid ID (twice is once); RISK_EINVAL for an invalid one. */
int risk_idset_add(struct risk_idset *s, const char *id, char *err);
bool risk_idset_has(const struct risk_idset *s, const char *id);
size_t risk_idset_count(const struct risk_idset *s);
void risk_idset_free(struct risk_idset *s);

/* ---- history.c: the status history and the change feed -------------- */

/*
 * One change of a company's stored status.  status NULL: the legacy
 * service said "not found"; previous NULL: not found before, or, with
 * first, no answer before.
 */
struct risk_change {
	int64_t seq;		/* grows; never reused */
	const char *id;
	const char *status;
	const char *previous;
	bool first;
	int64_t changed_at;	/* seconds: the record's status_changed_at */
	int64_t fetched_at;	/* milliseconds */
};
typedef int (*risk_change_fn)(const struct risk_change *c, void *arg);
/*
 * The changes after *seq, oldest first, of the companies in watch (NULL:
 * all).  *seq is left at the last row read, matched or not.  A callback
 * returning non-zero stops the walk with that value.
 */
int risk_history_each(struct risk_db *db, const struct risk_idset *watch,
    int64_t *seq, risk_change_fn fn, void *arg, char *err);
/* The seq of the newest change (0: none yet): "now" for a cursor. */
int risk_history_last(struct risk_db *db, int64_t *seq, char *err);
/* The status word a change line prints for a not-found answer. */
#define RISK_NOT_FOUND_STATUS "not_found"
/* One change as a JSON line, through p's filter when it has one;
 * *lines counts the lines written. */
struct risk_printer;
int risk_change_print(struct risk_printer *p, const struct risk_change *c,
    long *lines, char *err);

#define RISK_HISTORY_STATUSES 32
struct risk_history_stat {
	long rows;		/* rows kept */
	long last_hour, last_day;	/* changes fetched in the last ... */
	int nstatus;
	bool more;		/* statuses past RISK_HISTORY_STATUSES */
	struct {
		bool found;
		char status[64];
		int64_t n;	/* changes to it ever made */
	} total[RISK_HISTORY_STATUSES];
};
int risk_history_stat(struct risk_db *db, int64_t now_ms,
    struct risk_history_stat *hs, char *err);

/* ---- queue.c -------------------------------------------------------- */

/* What a claim did with an entry it would not lease. */
enum risk_bury {
	RISK_BURY_NO,		/* leased: fetch it */
	RISK_BURY_DEAD,		/* moved to the dead letters */
	RISK_BURY_DROP		/* removed: it is a dead letter already */
};

struct risk_entry {
	char id[RISK_ID_MAX + 1];	/* printable, even when buried */
	int64_t token;		/* lease token of this claim */
	int attempts;		/* counting this claim */
	int redrives;
	int64_t enqueued_at;	/* ms, first enqueued */
	int64_t due;		/* ms */
	char last_error[256];	/* when buried: why */
	enum risk_bury buried;	/* settled by the claim: do not fetch */
};

/* The longest lease a drainer may take; a longer one is a forgery. */
#define RISK_LEASE_MAX_MS (INT64_C(86400) * 1000)
/* The most entries one claim takes. */
#define RISK_CLAIM_MAX 256
/* A redrive count beyond this was not written by a redrive. */
#define RISK_REDRIVES_MAX 1000000

/* Claims take higher priority first, then the earliest due. */
enum risk_priority {
	RISK_PRIO_LOW = 0,	/* bulk loads (risk-enqueue --priority low) */
	RISK_PRIO_NORMAL = 1,	/* refreshes of stale records; the default */
	RISK_PRIO_HIGH = 2	/* someone is waiting (a risk-get miss) */
};

/*
 * Queue id to be due at due_ms.  One pending entry per company: an entry
 * already there keeps the earlier due time; a leased entry is left alone.
 * A dead-lettered company is not queued (redrive it).  *queued says
 * whether the company is now on the queue (new or already there).
 */
int risk_enqueue(struct risk_db *db, const char *id, int64_t due_ms,
    bool *isnew, bool *queued, char *err);
/* The same at a priority (risk_enqueue: normal).  An entry already
 * queued is raised to prio if lower, never lowered. */
int risk_enqueue_prio(struct risk_db *db, const char *id, int64_t due_ms,
    enum risk_priority prio, bool *isnew, bool *queued, char *err);
/* When the next entry no worker holds is due (INT64_MAX: none). */
int risk_queue_next_due(struct risk_db *db, int64_t *due, char *err);
/* Leases held now and not expired, by all workers. */
int risk_queue_leased(struct risk_db *db, int64_t now_ms, int *n, char *err);
/*
 * Claim up to max due entries, higher priority first, then earliest
 * due, leasing each until now+lease_ms and counting an attempt.  Claims
 * no more than cap minus the live leases (cap <= 0: no cap).  Call
 * inside risk_db_begin.
 *
 * The queue file may be written by hand, so every row is checked whole
 * before it is leased.  Entries come back with buried set, and are not
 * leased, when the claim settled them itself: an ID that is not valid
 * and an entry already claimed max_attempts times go to the dead
 * letters; a company that is in the dead letters (only a redrive may
 * queue it) is dropped from the queue.  last_error then says why.
 * A lease longer than RISK_LEASE_MAX_MS counts as expired.
 */
int risk_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms,
    int max, int cap, int max_attempts, struct risk_entry *out, int *n,
    char *err);
/* Done: delete the entry if this lease still holds it (else RISK_ELOST). */
int risk_ack(struct risk_db *db, const struct risk_entry *e, char *err);
/* Give the lease back without counting the attempt, due again at due_ms
 * with reason kept: the service failed, not the company. */
int risk_defer(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t due_ms, char *err);
/* Give the lease back without counting the attempt (shutdown). */
int risk_release(struct risk_db *db, const struct risk_entry *e, char *err);
/*
 * A failed attempt: after max_attempts the entry moves to the dead
 * letters (*dead = true), otherwise it is due again after base_ms *
 * 2^(attempts-1) with jitter, or retry_after_ms when longer.
 */
int risk_fail(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t now_ms, int64_t base_ms,
    int64_t retry_after_ms, int max_attempts, bool *dead, char *err);
/* Backoff delay for the n-th failed attempt, with jitter from rnd. */
int64_t risk_backoff_ms(int64_t base_ms, int attempts, uint64_t rnd);

struct risk_dead {
	char id[RISK_ID_MAX + 1];
	char reason[256];
	int attempts;
	int redrives;
	int64_t enqueued_at;	/* ms */
	int64_t died_at;	/* ms */
};
typedef int (*risk_dead_fn)(const struct risk_dead *d, void *arg);
int risk_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg,
    char *err);
int risk_dead_get(struct risk_db *db, const char *id, struct risk_dead *d,
    char *err);
/*
 * Move a dead letter back to the queue, due now, keeping its first
 * enqueued time and counting a redrive.  RISK_ENOTFOUND if id is not
 * dead; RISK_EFULL if it was redriven max_redrives times already.
 */
int risk_redrive(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, char *err);

/* ---- log.c: the fetch log and drain summaries ------------------------ */

/*
 * Outcomes of a fetch attempt.  They cross from the library to the
 * commands as this enum; risk_outcome_str() makes the text the fetch log
 * and the reports show ("other" for RISK_NOUTCOME).
 */
enum risk_outcome {
	RISK_OUT_STORED, RISK_OUT_NOT_FOUND, RISK_OUT_RETRY, RISK_OUT_DEAD,
	RISK_OUT_LOST, RISK_OUT_RELEASED,
	RISK_OUT_DEFERRED,	/* the service's failure: handed back uncounted */
	RISK_NOUTCOME
};
const char *risk_outcome_str(enum risk_outcome o);
/* The outcome a name stands for; RISK_NOUTCOME if none. */
enum risk_outcome risk_outcome_parse(const char *name);

/* One row per fetch attempt. */
struct risk_log_entry {
	int64_t at;		/* ms, when the attempt ended */
	const char *id;
	enum risk_outcome outcome;	/* RISK_NOUTCOME: a name read back
					   from the log that we do not know */
	enum risk_fail_class fail_class;	/* whose failure; NONE */
	long http;		/* 0: no response */
	int64_t ms;		/* how long the request took */
	const char *reason;	/* NULL on success */
};
int risk_log_put(struct risk_db *db, const struct risk_log_entry *e,
    char *err);

/* One row per risk-drain run. */
struct risk_run {
	int64_t started_at, ended_at;	/* ms */
	long claimed, stored, not_found, retried, dead, released;
	int exit_status;
};
int risk_run_put(struct risk_db *db, const struct risk_run *r, char *err);

/* ---- source.c: the legacy service's health, shared ------------------ */

/*
 * One row in the database that every drainer reads and writes inside
 * its claim transaction (see source.c for the invariants).
 */
enum risk_source_state {
	RISK_SRC_OK,		/* closed: requests flow */
	RISK_SRC_DOWN,		/* the breaker is open: a probe per cool-down */
	RISK_SRC_THROTTLED,	/* the service asked for a pause until `until` */
	RISK_SRC_CREDENTIALS	/* 401/407: a probe per cool-down, or when the
				   credentials file changes */
};

#define RISK_BREAKER_WINDOW 32	/* answers the breaker judges */
#define RISK_FP_LEN 17		/* a credentials fingerprint, hex, NUL */

struct risk_source {
	enum risk_source_state state;
	int64_t since;		/* ms: in this state since */
	int64_t until;		/* ms: no request (or probe) before this */
	char reason[256];	/* the last failure that moved it */
	uint32_t window;	/* the last 32 answers: bit set = failed */
	int64_t window_at;	/* ms: last failure shifted in */
	bool probing;		/* half-open: a probe is out */
	char cred_fp[RISK_FP_LEN];	/* credentials that were rejected */
	double tokens;		/* --rate: the bucket */
	int64_t tokens_at;	/* ms: last refilled */
	long rate_n;		/* the rate last used: rate_n per rate_ms */
	int64_t rate_ms;	/* (0: no --rate seen) */
};

/* A drainer's settings for the policy. */
struct risk_breaker {
	int trip;		/* failures among the last 32 that open it */
	int64_t cooldown_ms;	/* between probes while open or rejected */
	int64_t throttle_ms;	/* a 429 without Retry-After pauses this */
	long rate_n;		/* --rate N/DUR; 0: none */
	int64_t rate_ms;
};

enum risk_gate {
	RISK_GATE_OPEN,		/* claim as many as the slots allow */
	RISK_GATE_PROBE,	/* claim one: the probe, now ours */
	RISK_GATE_WAIT,		/* claim none; ask again after *wait_ms */
	RISK_GATE_STOP		/* claim none; the run should end */
};

/* The row as stored (all zero, "ok", when there is none yet). */
int risk_source_get(struct risk_db *db, struct risk_source *s, char *err);
int risk_source_put(struct risk_db *db, const struct risk_source *s,
    char *err);
/* Fold one finished answer in; true if the state changed.  fp is the
 * fingerprint of the credentials file ("" without one). */
bool risk_source_note(struct risk_source *s, const struct risk_breaker *b,
    enum risk_fail_class c, const char *reason, int64_t retry_after_ms,
    const char *fp, int64_t now);
/* May requests start now?  A PROBE is recorded in s (half-open). */
enum risk_gate risk_source_gate(struct risk_source *s,
    const struct risk_breaker *b, const char *fp, int64_t now,
    int64_t *wait_ms);
/* Take up to want tokens of --rate (all of them without one); when none,
 * *wait_ms says when the next is due.  untake gives unused ones back. */
int risk_source_take(struct risk_source *s, const struct risk_breaker *b,
    int want, int64_t now, int64_t *wait_ms);
void risk_source_untake(struct risk_source *s, int n);
/* Failures among the last 32 answers. */
int risk_source_failures(const struct risk_source *s);
/* "ok" "down" "throttled" "credentials_rejected" */
const char *risk_source_state_name(enum risk_source_state st);
/* "company" "down" "throttled" "credentials"; NULL for NONE. */
const char *risk_fail_class_name(enum risk_fail_class c);
enum risk_fail_class risk_fail_class_parse(const char *name);

/* ---- purge.c: retention --------------------------------------------- */

/*
 * Remove what is older than a cutoff, in transactions of at most batch
 * rows, so that a large purge never holds the write lock for long.  The
 * callback for the kind of row purged sees each row of a batch before
 * that batch commits; flush() then runs, and only if both return 0 is the
 * batch committed, so a caller that prints IDs never removes one it
 * failed to print.  With dry_run nothing is written and the callbacks
 * see every row that would go.
 */
struct risk_purge {
	int64_t before_ms;	/* rows older than this go */
	int batch;		/* rows per transaction; <= 0: 1000 */
	bool dry_run;
	risk_record_fn record;	/* may be NULL */
	risk_dead_fn dead;	/* may be NULL */
	int (*flush)(void *arg);	/* may be NULL */
	void *arg;
};
/* Records fetched before the cutoff (not-found answers too). */
int risk_purge_records(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
/* Dead letters that died before the cutoff. */
int risk_purge_dead(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
/* Fetch-log rows and drain summaries written before the cutoff. */
int risk_purge_log(struct risk_db *db, const struct risk_purge *p,
    long *nlog, long *nrun, char *err);
/*
 * History rows fetched before the cutoff, except the newest of each
 * company (history.c).  No callbacks: only counted.
 */
int risk_purge_history(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
/* Give free pages back to the file system (VACUUM, WAL truncated);
 * tick(arg), if not NULL, is called now and then while it runs. */
int risk_vacuum(struct risk_db *db, void (*tick)(void *), void *arg,
    char *err);

/* ---- stat.c: figures and the fetch log ------------------------------ */


struct risk_stat_opts {
	int64_t now_ms;
	int64_t max_age_ms;	/* records fresher than this are fresh */
	int64_t nf_max_age_ms;	/* the same for not-found answers */
	int64_t window_ms;	/* fetch outcomes counted over this */
};

struct risk_stat {
	long due, delayed, leased;	/* queue entries */
	int64_t oldest_due_ms;	/* how long the oldest due entry waited */
	long dead;
	long fresh, stale, not_found, not_found_stale;	/* records */
	bool have_run;		/* a drain summary exists */
	struct risk_run run;	/* the last one */
	long outcome[RISK_NOUTCOME];	/* fetch attempts in the window */
	long outcome_other;	/* with a name not in the list */
	int64_t fetch_ms;	/* time spent in those attempts */
	struct risk_history_stat history;
	struct risk_source source;	/* the legacy service's state */
	long failures[RISK_FAIL_CREDENTIALS + 1];	/* by class, window */
};
/* Every figure, from one read snapshot. */
int risk_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *st, char *err);

/* seq orders the rows: a later row has a larger seq. */
typedef int (*risk_log_fn)(int64_t seq, const struct risk_log_entry *e,
    void *arg);
/*
 * Fetch-log rows written at or after since_ms, or, when *seq > 0, the
 * rows after that one (to follow the log); of one company when id is not
 * NULL.  Oldest first.  *seq is left at the last row seen.
 */
int risk_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err);

/* ---- mapper.c: mapping legacy bodies to records, bounded ------------ */

/*
 * The default mapping (prog NULL), in process: a body is a JSON object
 * with a string "status" and an optional "changedAt" or
 * "status_changed_at" (ISO 8601 or epoch seconds).  A status is short
 * printable text: 1..63 bytes, no NUL, no control character (C0, DEL,
 * C1); anything else fails that body.  A user's jq program must yield
 * such an object (its first output counts); it runs in a child process
 * with mem bytes of data (0: 512 MiB) and an empty environment, and a
 * body not mapped within timeout_ms (0: 2 s) fails.  timeout_ms < 0
 * runs it in this process, unbounded: for a filter that is the
 * operator's own, over many small inputs (risk-load's lines, where a
 * round trip to the child costs about 9 times the load).
 */
struct risk_mapper;
int risk_mapper_new(struct risk_mapper **m, const char *prog,
    int64_t timeout_ms, size_t mem, char *err);
/* Fill rec->status, rec->changed_at, rec->found from body. */
int risk_mapper_apply(struct risk_mapper *m, const char *body, size_t len,
    struct risk_record *rec, char *err);
/*
 * One line of a legacy dump: a JSON object holding the company ID under
 * idkey (a string, or a whole number) beside the legacy body's fields.
 * The whole object goes through the mapping, as a body would.  Fills
 * rec->id and what risk_mapper_apply fills.
 */
int risk_mapper_line(struct risk_mapper *m, const char *line, size_t len,
    const char *idkey, struct risk_record *rec, char *err);
void risk_mapper_free(struct risk_mapper *m);

/* ---- fetch.c: libcurl, linked only into programs that fetch -------- */

/*
 * A fetcher owns a fixed number of slots; each slot is one transfer in
 * flight at most.  Callers add IDs while slots are free and call
 * risk_fetcher_run() to drive the transfers; each finished transfer is
 * reported once, through the callback, with an outcome.
 */
#define RISK_FETCH_TIMEOUT_MS 5000
#define RISK_FETCH_CONNECT_MS 3000
#define RISK_FETCH_MAX_BODY (1024 * 1024)
#define RISK_FETCH_MAX_BODY_CAP (1024 * 1024 * 1024)
#define RISK_FETCH_MAX_SLOTS 256
#define RISK_FETCH_URL_MAX 2048

struct risk_fetcher;

struct risk_fetch_opts {
	const char *url_template;	/* http(s) URL with {id} */
	int64_t timeout_ms;		/* whole request; <=0: 5000 */
	int64_t connect_timeout_ms;	/* <=0: min(timeout, 3000) */
	size_t max_body;		/* 0: 1 MiB; at most 1 GiB */
	int concurrency;		/* slots, 1..256; <=0: 4 */
	const char *credentials;	/* netrc or header file, or NULL */
	const char *cacert;		/* PEM CAs to trust instead of the
					   system's, or NULL */
	const char *cert;		/* PEM client certificate, or NULL */
	const char *key;		/* its PEM key; NULL: in cert */
};

enum risk_fetch_outcome {
	RISK_FETCH_OK,		/* HTTP 200 (the body may be anything) */
	RISK_FETCH_NOT_FOUND,	/* HTTP 404 */
	RISK_FETCH_RETRY,	/* anything else: try again later */
	RISK_FETCH_ABORTED	/* stopped by risk_fetcher_abort: no answer */
};


struct risk_fetch_result {
	const char *id;
	void *udata;			/* as given to risk_fetcher_add */
	enum risk_fetch_outcome outcome;
	enum risk_fail_class fail_class;	/* NONE unless RETRY */
	long http_status;		/* 0 without a response */
	const char *body;		/* NUL-terminated; during cb only */
	size_t body_len;
	int64_t retry_after_ms;		/* Retry-After of a 429/503, else 0 */
	int64_t elapsed_ms;
	char reason[256];		/* "HTTP 503", "connection refused" */
};

typedef void (*risk_fetch_cb)(const struct risk_fetch_result *r, void *arg);

/* RISK_OK if tmpl is an http or https URL with {id} and no user info. */
int risk_fetch_check_template(const char *tmpl, char *err);
int risk_fetcher_new(struct risk_fetcher **f, const struct risk_fetch_opts *o,
    char *err);
/* A fingerprint of the credentials file and the client certificate as
 * loaded ("" without either):
 * changes when the file does. */
const char *risk_fetcher_fingerprint(struct risk_fetcher *f);
/* Free slots now, and transfers in flight now. */
int risk_fetcher_slots(struct risk_fetcher *f);
int risk_fetcher_busy(struct risk_fetcher *f);
/* Start fetching id in a free slot; RISK_EFULL when there is none. */
int risk_fetcher_add(struct risk_fetcher *f, const char *id, void *udata,
    char *err);
/*
 * Drive the transfers, waiting up to wait_ms for something to happen;
 * cb runs once for each transfer that finished.  Returns how many
 * finished, or a negative status.  Returns 0 at once when none is busy.
 * cb may add IDs (the finishing slot is free only after cb returns) but
 * must not run, abort or free the fetcher.
 */
int risk_fetcher_run(struct risk_fetcher *f, int wait_ms, risk_fetch_cb cb,
    void *arg, char *err);
/* Stop every transfer in flight; cb gets RISK_FETCH_ABORTED. */
void risk_fetcher_abort(struct risk_fetcher *f, risk_fetch_cb cb, void *arg);
void risk_fetcher_free(struct risk_fetcher *f);

/* ---- text.c: the one plain-text sanitiser ---------------------------- */

/*
 * Plain text from outside goes through risk_text_*: NUL, C0 (tab and
 * newline too), DEL, C1, bytes that are not UTF-8 and Unicode line
 * separators and bidirectional overrides each print as '?'.
 */
bool risk_text_printable(const char *s, size_t len);
int risk_text_write(FILE *fp, const char *s, size_t len);
int risk_text_print(FILE *fp, const char *s);
/* The same in place (never longer). */
void risk_text_clean(char *s);

/* ---- print.c: every data line ---------------------------------------- */

/*
 * Nothing here needs libjq.  JSON is exact (what jq would print); plain
 * text goes through text.c.
 */
/* s as a JSON string, quotes included. */
int risk_json_quote(FILE *fp, const char *s);

struct risk_view {
	const struct risk_record *rec;	/* NULL for a miss */
	const char *id;
	int64_t now_ms;
	int64_t max_age_ms;		/* freshness window for this record */
	bool queued;			/* a fetch is queued (miss, stale) */
};
/* The JSON object of a cached record, a not_found entry or a miss into
 * buf (CGI bodies, risk_print_view); -1 if it does not fit. */
int risk_view_json(const struct risk_view *v, char *buf, size_t bufsz);
/* {"error":code,"id":id} or without id when id is NULL. */
int risk_error_json(const char *code, const char *id, char *buf,
    size_t bufsz);
/* A record listed by risk-purge: tab-separated, or a JSON object. */
int risk_record_print(FILE *fp, const struct risk_record *rec, bool json,
    char *err);
/* One dead letter as a line: tab-separated, or a JSON object. */
int risk_dead_print(FILE *fp, const struct risk_dead *d, bool json,
    char *err);
/* One fetch-log row as a line: tab-separated, or a JSON object. */
int risk_log_print(FILE *fp, const struct risk_log_entry *e, bool json,
    char *err);

/* ---- json.c: a user's jq filter ------------------------------------ */

struct risk_filter;
/*
 * Compile a jq program once (about 20 ms in libjq 1.6, loaded on first
 * use).  Module directives (import, include) are refused: RISK_EINVAL.
 */
int risk_filter_new(struct risk_filter **f, const char *prog, char *err);
void risk_filter_free(struct risk_filter *f);
/* Run f on one JSON text, writing its results as lines (strings as
 * sanitised plain text); *lines counts them. */
int risk_filter_text(struct risk_filter *f, FILE *fp, const char *json,
    size_t len, long *lines, char *err);

struct risk_printer {
	FILE *fp;
	struct risk_filter *filter;	/* NULL: print objects as they are */
};

/* The line for a cached record, a not_found entry or a miss: as JSON
 * (print.c, without libjq), or each output of the filter as a line. */
int risk_print_view(struct risk_printer *p, const struct risk_view *v,
    char *err);

/* ---- cgi.c: one HTTP request, as CGI hands it over ------------------ */

/*
 * Pure functions, so that a fuzzer can drive them: the parser takes the
 * CGI variables as strings (any may be NULL) and reads nothing else;
 * the answer is computed from the lookup; only risk_cgi_write() writes,
 * to the stream it is given.
 */
#define RISK_CGI_PATH_MAX 256		/* longer PATH_INFO: 400 */
#define RISK_CGI_QUERY_MAX 1024		/* longer QUERY_STRING: 400 */
#define RISK_CGI_INM_MAX 1024		/* longer If-None-Match: no match */
#define RISK_CGI_ETAG_LEN 24		/* "0123456789abcdef" and NUL */
#define RISK_CGI_BODY_MAX 1024
#define RISK_CGI_RETRY_QUEUED 60	/* Retry-After of a queued miss, s */
#define RISK_CGI_RETRY_BUSY 5		/* Retry-After of a 503, s */
/* RFC 5861, on every 200: a cache in front may answer with a stale copy
 * while it revalidates (about two drain periods: the refresh the stale
 * answer queued is stored by then), and while risk-get or its host is
 * down or failing (a day: the records themselves are kept far longer). */
#define RISK_CGI_SWR 120		/* stale-while-revalidate, s */
#define RISK_CGI_SIE 86400		/* stale-if-error, s */

struct risk_cgi_env {
	const char *method;		/* REQUEST_METHOD */
	const char *path_info;		/* PATH_INFO, decoded by the server */
	const char *query;		/* QUERY_STRING, still URL-encoded */
	const char *if_none_match;	/* HTTP_IF_NONE_MATCH */
	const char *if_modified_since;	/* HTTP_IF_MODIFIED_SINCE */
};

struct risk_cgi_req {
	int status;			/* 0: look id up; else 400 or 405 */
	const char *error;		/* the error code of a 400 or 405 */
	bool head;			/* HEAD: headers only */
	char id[RISK_ID_MAX + 1];	/* valid when status is 0 */
	bool has_inm;			/* If-None-Match was given */
	char if_none_match[RISK_CGI_INM_MAX + 1];
	int64_t if_modified_since;	/* seconds; -1: none or unreadable */
};

struct risk_cgi_resp {
	int status;			/* 200 304 400 404 405 502 503 */
	bool head;			/* write no body */
	bool allow;			/* Allow: GET, HEAD */
	char etag[RISK_CGI_ETAG_LEN];	/* "" for none */
	int64_t last_modified;		/* seconds; -1: none */
	int64_t max_age;		/* seconds; -1: Cache-Control: no-store */
	int64_t swr, sie;		/* stale-while-revalidate, stale-if-
					 * error, seconds; -1: none */
	int64_t age;			/* seconds; -1: none */
	int64_t retry_after;		/* seconds; -1: none */
	size_t body_len;
	char body[RISK_CGI_BODY_MAX];	/* JSON, without the final newline */
};

/*
 * GET or HEAD with an ID in PATH_INFO ("/ID") or in QUERY_STRING
 * ("id=ID", URL-encoded; other parameters ignored): RISK_OK and
 * req->id.  Otherwise RISK_EINVAL, with req->status 405 (method) or
 * 400 (no, bad, repeated or overlong ID, or an ID given both ways).
 */
int risk_cgi_parse(const struct risk_cgi_env *env, struct risk_cgi_req *req);
/*
 * The response to req.  dbstatus is RISK_OK when the lookup worked:
 * v->rec is the record (NULL for a miss) and v->queued says whether a
 * fetch is queued now.  Any other dbstatus answers 503.
 */
int risk_cgi_answer(const struct risk_cgi_req *req, const struct risk_view *v,
    int dbstatus, struct risk_cgi_resp *resp);
/* The CGI response: Status line, headers, blank line, body unless HEAD. */
int risk_cgi_write(FILE *fp, const struct risk_cgi_resp *resp, char *err);
/* A strong ETag from id, fetched_at and status, quotes included. */
void risk_cgi_etag(const struct risk_record *rec,
    char out[RISK_CGI_ETAG_LEN]);
/* If-None-Match (weak comparison, lists, W/, "*") against an ETag. */
bool risk_cgi_etag_match(const char *header, const char *etag);

/* ---- fcgi.c: the same requests over FastCGI (libfcgi, by dlopen) ---- */

struct risk_fcgi;
/* Is fd a listening socket (a web server started us for FastCGI)? */
bool risk_fcgi_listening(int fd);
/* Load libfcgi and get ready to accept on the listening socket fd. */
int risk_fcgi_open(struct risk_fcgi **f, int fd, char *err);
/*
 * Finish the request in hand, if any, and wait for the next one: RISK_OK
 * and env filled from its parameters (valid until the next call), or
 * RISK_EIO when accepting failed or a signal interrupted the wait.
 */
int risk_fcgi_accept(struct risk_fcgi *f, struct risk_cgi_env *env,
    char *err);
/* The stream for the response to the request in hand. */
FILE *risk_fcgi_out(struct risk_fcgi *f);
/* End the request in hand: the server gets the rest of its response. */
void risk_fcgi_finish(struct risk_fcgi *f);
void risk_fcgi_close(struct risk_fcgi *f);

#endif

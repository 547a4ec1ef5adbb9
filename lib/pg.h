/*
 * pg.h — what the PostgreSQL store's files share (see store.h).
 *
 * libpq is opened with dlopen on first use (pg.c, through dl.c): a
 * program on SQLite never loads it.  Its types come from libpq-fe.h; its
 * functions are called only through pg.c's helpers below.
 *
 * Invariants:
 * - Tables live in one schema per stage: "risk", or "risk_STAGE" with
 *   --stage; the connection's search_path names it, so SQL names tables
 *   unqualified.
 * - Times are epoch integers (bigint), as on SQLite: milliseconds, and
 *   seconds for a status's changed_at.
 * - No transaction stays open across an HTTP request: drainers claim,
 *   then fetch, then settle, each in a short transaction.
 * - Claims serialise on a transaction-level advisory lock (RISK__PG_LOCK_
 *   CLAIM), so counting live leases against the cap and leasing are one
 *   step for every drainer on every host; rows come FOR UPDATE SKIP
 *   LOCKED.  History rows serialise on RISK__PG_LOCK_HISTORY, taken
 *   just before the row is added, so seq grows in commit order and a
 *   feed reader that saw seq N never later finds a smaller one.
 */
#ifndef RISK_PG_H
#define RISK_PG_H

#include <libpq-fe.h>

#include "internal.h"

/* Keys of pg_advisory_xact_lock (int8): "RISK" in the high half, the
 * lock in the low byte; risk__pg_lock() adds the stage between. */
#define RISK__PG_LOCK_CLAIM	INT64_C(0x5249534b00000001)
#define RISK__PG_LOCK_HISTORY	INT64_C(0x5249534b00000002)
#define RISK__PG_LOCK_SCHEMA	INT64_C(0x5249534b00000003)
/*
 * A dead-letter purge batch holds it until it commits; an enqueue that
 * finds the company dead waits for it (shared) and looks again, so an ID
 * `risk-purge --dead --print` printed before its commit is queued by
 * the risk-enqueue it is piped to (on SQLite, the write lock does it).
 */
#define RISK__PG_LOCK_PURGE	INT64_C(0x5249534b00000004)
/* Transactions that add to the queue take turns (pg_queue.c). */
#define RISK__PG_LOCK_ENQUEUE	INT64_C(0x5249534b00000005)

#define RISK__PG_PREP 96	/* statements prepared per connection */

struct risk__pg {
	PGconn *c;
	char name[PATH_MAX];	/* the URI, password masked: for messages */
	char schema[48];	/* "risk" or "risk_STAGE", unquoted */
	int64_t lockmix;	/* the stage's part of every lock key */
	int nprep;
	const char *prep[RISK__PG_PREP];	/* by address */
	bool prepared[RISK__PG_PREP];	/* seen twice: prepared */
};

/* The key of lock `which` (RISK__PG_LOCK_*) for db's stage: stages
 * sharing a database never wait for each other's locks. */
int64_t risk__pg_lock(const struct risk_db *db, int64_t which);

/* Does path name a PostgreSQL database (a libpq URI or "service=...")? */
bool risk__pg_is_uri(const char *path);
/* uri with any password replaced by "***", into out. */
void risk__pg_mask(const char *uri, char *out, size_t outsz);

/*
 * Run sql with n text parameters ($1..$n; a NULL one is SQL NULL).
 * sql must be static (a string literal): it is prepared once per
 * connection, known by its address.  *res, when res is not NULL, is
 * the result (rows or not), freed by the caller with risk__pg_clear;
 * *changed, when not NULL, the rows the command changed.  A failure is
 * a status with a reason naming the database (never a password):
 * RISK_EBUSY for a server that is down, restarting, or gone
 * (try again later), a lock timeout, a serialization failure or a
 * deadlock; RISK_ERDONLY for a role without the privilege; RISK_EDB
 * for the rest.
 */
int risk__pg_run(struct risk_db *db, const char *sql, int n,
    const char *const *params, PGresult **res, long *changed, char *err);
/* The same for SQL made at run time: never prepared. */
int risk__pg_run_once(struct risk_db *db, const char *sql, int n,
    const char *const *params, PGresult **res, long *changed, char *err);
int risk__pg_ntuples(const PGresult *r);
/* A column's text; NULL for SQL NULL. */
const char *risk__pg_get(const PGresult *r, int row, int col);
/* A column as an integer (0 for NULL); as a boolean ('t'). */
int64_t risk__pg_i64(const PGresult *r, int row, int col);
bool risk__pg_bool(const PGresult *r, int row, int col);
/* A column's text into buf (cut to fit, "" for NULL), as it was. */
void risk__pg_text(const PGresult *r, int row, int col, char *buf,
    size_t sz);
void risk__pg_clear(PGresult *r);
/* v as text into buf (for a parameter); returns buf. */
#define RISK__I64LEN 24
char *risk__pg_i64s(char buf[RISK__I64LEN], int64_t v);

/* pg.c */
int risk__pg_open(struct risk_db *db, const struct risk_db_opts *o,
    char *err);

/* pg_record.c: records and the history */
int risk__pg_record_get(struct risk_db *db, const char *id,
    struct risk_record *rec, char *err);
int risk__pg_record_get_many(struct risk_db *db, const char *const *ids,
    int n, struct risk_record *recs, bool *found, char *err);
int risk__pg_record_put(struct risk_db *db, const struct risk_record *rec,
    bool *stored, char *err);
int risk__pg_record_put_many(struct risk_db *db,
    const struct risk_record *recs, int n, bool *stored, char *err);
int risk__pg_record_each(struct risk_db *db, risk_record_fn fn, void *arg,
    char *err);
int risk__pg_history_each(struct risk_db *db,
    const struct risk_idset *watch, int64_t *seq, risk_change_fn fn,
    void *arg, char *err);
int risk__pg_history_last(struct risk_db *db, int64_t *seq, char *err);
int risk__pg_history_stat(struct risk_db *db, int64_t now_ms,
    struct risk_history_stat *hs, char *err);
int risk__pg_purge_history(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);

/* pg_queue.c: the queue and the dead letters */
int risk__pg_enqueue_prio(struct risk_db *db, const char *id,
    int64_t due_ms, enum risk_priority prio, bool *isnew, bool *queued,
    char *err);
int risk__pg_queue_next_due(struct risk_db *db, int64_t *due, char *err);
int risk__pg_queue_leased(struct risk_db *db, int64_t now_ms, int *n,
    char *err);
int risk__pg_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms,
    int max, int cap, int max_attempts, struct risk_entry *out, int *n,
    char *err);
int risk__pg_ack(struct risk_db *db, const struct risk_entry *e,
    char *err);
int risk__pg_defer(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t due_ms, char *err);
int risk__pg_release(struct risk_db *db, const struct risk_entry *e,
    char *err);
int risk__pg_fail(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t now_ms, int64_t base_ms,
    int64_t retry_after_ms, int max_attempts, bool *dead, char *err);
int risk__pg_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg,
    char *err);
int risk__pg_dead_get(struct risk_db *db, const char *id,
    struct risk_dead *d, char *err);
int risk__pg_redrive(struct risk_db *db, const char *id, int64_t now_ms,
    int max_redrives, char *err);

/* pg_ops.c: the fetch log, figures, the service's state */
int risk__pg_log_put(struct risk_db *db, const struct risk_log_entry *e,
    char *err);
int risk__pg_run_put(struct risk_db *db, const struct risk_run *r,
    char *err);
int risk__pg_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err);
int risk__pg_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *st, char *err);
int risk__pg_source_get(struct risk_db *db, struct risk_source *s,
    char *err);
int risk__pg_source_put(struct risk_db *db, const struct risk_source *s,
    char *err);
/* pg_purge.c: retention */
int risk__pg_purge_records(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
int risk__pg_purge_dead(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
int risk__pg_purge_log(struct risk_db *db, const struct risk_purge *p,
    long *nlog, long *nrun, char *err);
int risk__pg_vacuum(struct risk_db *db, void (*tick)(void *), void *arg,
    char *err);

#endif

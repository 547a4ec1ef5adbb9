/*
 * store.h — the seam between the library and the engine that keeps its
 * tables.
 *
 * Everything that touches a table goes through one of these: the
 * public functions of the same names (store.c) pass the call to the
 * engine the database was opened on, after the checks and defaults that
 * are the same for both (an ID's validity, a purge's batch).  Two
 * engines implement it:
 * - SQLite (sqlite.c, db.c, record.c, history.c, queue.c, source.c,
 *   log.c, stat.c, purge.c, vfs.c), one file or two on this machine,
 *   the default;
 * - PostgreSQL (pg.c and pg_*.c), a server shared by many machines,
 *   chosen by a --db that is a libpq connection URI.
 * What is above the seam (backoff, the breaker's policy, classification,
 * mapping, printing) is written once and knows neither.  Each operation
 * has the contract of the public function it serves (risk.h).
 */
#ifndef RISK_STORE_H
#define RISK_STORE_H

#include "risk.h"

struct risk__store {
	const char *engine;		/* "sqlite", "postgresql" */
	void (*close)(struct risk_db *db);
	int (*begin)(struct risk_db *db, char *err);
	int (*begin_read)(struct risk_db *db, char *err);
	int (*commit)(struct risk_db *db, char *err);
	void (*rollback)(struct risk_db *db);
	void (*settle)(struct risk_db *db);
	bool (*replaced)(struct risk_db *db);
	int (*exec)(struct risk_db *db, const char *sql, char *err);
	int (*bulk)(struct risk_db *db, char *err);

	int (*record_get)(struct risk_db *db, const char *id,
	    struct risk_record *rec, char *err);
	/* NULL: record_get for each */
	int (*record_get_many)(struct risk_db *db, const char *const *ids,
	    int n, struct risk_record *recs, bool *found, char *err);
	int (*record_put)(struct risk_db *db, const struct risk_record *rec,
	    bool *stored, char *err);
	/* NULL: record_put for each */
	int (*record_put_many)(struct risk_db *db,
	    const struct risk_record *recs, int n, bool *stored, char *err);
	int (*record_each)(struct risk_db *db, risk_record_fn fn, void *arg,
	    char *err);

	int (*history_each)(struct risk_db *db,
	    const struct risk_idset *watch, int64_t *seq, risk_change_fn fn,
	    void *arg, char *err);
	int (*history_last)(struct risk_db *db, int64_t *seq, char *err);
	int (*history_stat)(struct risk_db *db, int64_t now_ms,
	    struct risk_history_stat *hs, char *err);
	/* p->batch > 0, here and in the purge_* below: store.c gives the
	 * default */
	int (*purge_history)(struct risk_db *db, const struct risk_purge *p,
	    long *n, char *err);

	int (*enqueue_prio)(struct risk_db *db, const char *id,
	    int64_t due_ms, enum risk_priority prio, bool *isnew,
	    bool *queued, char *err);
	int (*queue_next_due)(struct risk_db *db, int64_t *due, char *err);
	int (*queue_leased)(struct risk_db *db, int64_t now_ms, int *n,
	    char *err);
	int (*claim)(struct risk_db *db, int64_t now_ms, int64_t lease_ms,
	    int max, int cap, int max_attempts, struct risk_entry *out,
	    int *n, char *err);
	int (*ack)(struct risk_db *db, const struct risk_entry *e, char *err);
	int (*defer)(struct risk_db *db, const struct risk_entry *e,
	    const char *reason, int64_t due_ms, char *err);
	int (*release)(struct risk_db *db, const struct risk_entry *e,
	    char *err);
	int (*fail)(struct risk_db *db, const struct risk_entry *e,
	    const char *reason, int64_t now_ms, int64_t base_ms,
	    int64_t retry_after_ms, int max_attempts, bool *dead, char *err);
	int (*dead_each)(struct risk_db *db, risk_dead_fn fn, void *arg,
	    char *err);
	int (*dead_get)(struct risk_db *db, const char *id,
	    struct risk_dead *d, char *err);
	int (*redrive)(struct risk_db *db, const char *id, int64_t now_ms,
	    int max_redrives, char *err);

	int (*log_put)(struct risk_db *db, const struct risk_log_entry *e,
	    char *err);
	int (*run_put)(struct risk_db *db, const struct risk_run *r,
	    char *err);
	int (*log_each)(struct risk_db *db, int64_t since_ms, const char *id,
	    int64_t *seq, risk_log_fn fn, void *arg, char *err);
	int (*stat_get)(struct risk_db *db, const struct risk_stat_opts *o,
	    struct risk_stat *st, char *err);

	int (*source_get)(struct risk_db *db, struct risk_source *s,
	    char *err);
	int (*source_put)(struct risk_db *db, const struct risk_source *s,
	    char *err);

	int (*purge_records)(struct risk_db *db, const struct risk_purge *p,
	    long *n, char *err);
	int (*purge_dead)(struct risk_db *db, const struct risk_purge *p,
	    long *n, char *err);
	int (*purge_log)(struct risk_db *db, const struct risk_purge *p,
	    long *nlog, long *nrun, char *err);
	int (*vacuum)(struct risk_db *db, void (*tick)(void *), void *arg,
	    char *err);
};

extern const struct risk__store risk__sqlite_store;
extern const struct risk__store risk__pg_store;

#endif

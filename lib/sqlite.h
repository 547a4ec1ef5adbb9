/*
 * sqlite.h — the SQLite store's operations (store.h), defined in db.c,
 * record.c, history.c, queue.c, log.c, stat.c, source.c and purge.c.
 */
#ifndef RISK_SQLITE_H
#define RISK_SQLITE_H

#include "store.h"

/* The file opts name (risk_db_path for SQLite). */
int risk__sq_path(const struct risk_db_opts *o, char *out, size_t outsz,
    char *err);
/* db, allocated and zero but for its common fields, opened on o; on
 * failure the caller closes it. */
int risk__sq_db_open(struct risk_db *db, const struct risk_db_opts *o,
    char *err);
void risk__sq_db_close(struct risk_db *db);
int risk__sq_db_begin(struct risk_db *db, char *err);
int risk__sq_db_begin_read(struct risk_db *db, char *err);
int risk__sq_db_commit(struct risk_db *db, char *err);
void risk__sq_db_rollback(struct risk_db *db);
void risk__sq_db_settle(struct risk_db *db);
bool risk__sq_db_replaced(struct risk_db *db);
int risk__sq_db_exec(struct risk_db *db, const char *sql, char *err);
int risk__sq_db_bulk(struct risk_db *db, char *err);
int risk__sq_record_get(struct risk_db *db, const char *id,
    struct risk_record *rec, char *err);
int risk__sq_record_put(struct risk_db *db, const struct risk_record *rec,
    bool *stored, char *err);
int risk__sq_record_each(struct risk_db *db, risk_record_fn fn, void *arg,
    char *err);
int risk__sq_history_each(struct risk_db *db,
    const struct risk_idset *watch, int64_t *seq, risk_change_fn fn,
    void *arg, char *err);
int risk__sq_history_last(struct risk_db *db, int64_t *seq, char *err);
int risk__sq_history_stat(struct risk_db *db, int64_t now_ms,
    struct risk_history_stat *hs, char *err);
int risk__sq_purge_history(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
int risk__sq_enqueue_prio(struct risk_db *db, const char *id, int64_t
    due_ms, enum risk_priority prio, bool *isnew, bool *queued, char *err);
int risk__sq_queue_next_due(struct risk_db *db, int64_t *due, char *err);
int risk__sq_queue_leased(struct risk_db *db, int64_t now_ms, int *n,
    char *err);
int risk__sq_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms, int
    max, int cap, int max_attempts, struct risk_entry *out, int *n,
    char *err);
int risk__sq_ack(struct risk_db *db, const struct risk_entry *e, char *err);
int risk__sq_defer(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t due_ms, char *err);
int risk__sq_release(struct risk_db *db, const struct risk_entry *e,
    char *err);
int risk__sq_fail(struct risk_db *db, const struct risk_entry *e,
    const char *reason, int64_t now_ms, int64_t base_ms, int64_t
    retry_after_ms, int max_attempts, bool *dead, char *err);
int risk__sq_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg,
    char *err);
int risk__sq_dead_get(struct risk_db *db, const char *id,
    struct risk_dead *d, char *err);
int risk__sq_redrive(struct risk_db *db, const char *id, int64_t now_ms, int
    max_redrives, char *err);
int risk__sq_log_put(struct risk_db *db, const struct risk_log_entry *e,
    char *err);
int risk__sq_run_put(struct risk_db *db, const struct risk_run *r,
    char *err);
int risk__sq_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err);
int risk__sq_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *st, char *err);
int risk__sq_source_get(struct risk_db *db, struct risk_source *s,
    char *err);
int risk__sq_source_put(struct risk_db *db, const struct risk_source *s,
    char *err);
int risk__sq_purge_records(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
int risk__sq_purge_dead(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err);
int risk__sq_purge_log(struct risk_db *db, const struct risk_purge *p,
    long *nlog, long *nrun, char *err);
int risk__sq_vacuum(struct risk_db *db, void (*tick)(void *), void *arg,
    char *err);

#endif

/*
 * pg_todo.c — SCAFFOLDING, to be deleted: every PostgreSQL store
 * operation not written yet, failing with "not yet on PostgreSQL", so
 * that the programs link while pg_record.c, pg_queue.c and pg_ops.c are
 * written.  Whoever lands one of those files deletes its block here
 * (the blocks are far apart, so the deletions do not conflict); the
 * last one deletes this file.
 */
#include "pg.h"

#define TODO(db, err) risk_seterr((err), RISK_EDB, \
	"%s: not yet on PostgreSQL", (db)->pg->name)









/* ==== pg_ops.c: delete this block when pg_ops.c lands ==== */



int
risk__pg_log_put(struct risk_db *db, const struct risk_log_entry *e,
    char *err)
{
	(void)e;
	return TODO(db, err);
}

int
risk__pg_run_put(struct risk_db *db, const struct risk_run *r,
    char *err)
{
	(void)r;
	return TODO(db, err);
}

int
risk__pg_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err)
{
	(void)since_ms;
	(void)id;
	(void)seq;
	(void)fn;
	(void)arg;
	return TODO(db, err);
}

int
risk__pg_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *st, char *err)
{
	(void)o;
	(void)st;
	return TODO(db, err);
}

int
risk__pg_source_get(struct risk_db *db, struct risk_source *s,
    char *err)
{
	(void)s;
	return TODO(db, err);
}

int
risk__pg_source_put(struct risk_db *db, const struct risk_source *s,
    char *err)
{
	(void)s;
	return TODO(db, err);
}

int
risk__pg_purge_records(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err)
{
	(void)p;
	(void)n;
	return TODO(db, err);
}

int
risk__pg_purge_dead(struct risk_db *db, const struct risk_purge *p,
    long *n, char *err)
{
	(void)p;
	(void)n;
	return TODO(db, err);
}

int
risk__pg_purge_log(struct risk_db *db, const struct risk_purge *p,
    long *nlog, long *nrun, char *err)
{
	(void)p;
	(void)nlog;
	(void)nrun;
	return TODO(db, err);
}

int
risk__pg_vacuum(struct risk_db *db, void (*tick)(void *), void *arg,
    char *err)
{
	(void)tick;
	(void)arg;
	return TODO(db, err);
}


/* ==== end of pg_ops.c ==== */

/*
 * store.c — the public face of the store seam (store.h): open on the
 * engine a path names, then pass every call to it.  What a caller
 * passes is settled here, once, for both engines: an ID's validity, the
 * number of records at once, a purge's default batch.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pg.h"
#include "sqlite.h"

/* A purge's batch when it names none (risk.h: struct risk_purge). */
#define PURGE_BATCH 1000

int
risk_db_path(const struct risk_db_opts *o, char *out, size_t outsz,
    char *err)
{
	if (o->path == NULL || !risk__pg_is_uri(o->path))
		return risk__sq_path(o, out, outsz, err);
	if (o->stage != NULL && !risk__stage_valid(o->stage))
		return risk_seterr(err, RISK_EINVAL,
		    "%s: invalid stage name (1 to 32 of A-Z a-z 0-9 _ -)",
		    o->stage);
	risk__pg_mask(o->path, out, outsz);
	return RISK_OK;
}

int
risk_db_open(struct risk_db **dbp, const struct risk_db_opts *o, char *err)
{
	struct risk_db *db;
	int r;

	*dbp = NULL;
	if ((db = calloc(1, sizeof *db)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	db->readonly = o->readonly;
	db->nocreate = o->nocreate;
	if (o->path != NULL && risk__pg_is_uri(o->path)) {
		db->ops = &risk__pg_store;
		r = risk__pg_open(db, o, err);
	} else {
		db->ops = &risk__sqlite_store;
		r = risk__sq_db_open(db, o, err);
	}
	if (r != RISK_OK) {
		risk_db_close(db);
		return r;
	}
	*dbp = db;
	return RISK_OK;
}

void
risk_db_close(struct risk_db *db)
{
	if (db == NULL)
		return;
	db->ops->close(db);
	free(db);
}

bool
risk_db_in_txn(struct risk_db *db)
{
	/* NULL, like risk_db_close(): risk-get runs without a database
	 * when none exists yet */
	return db != NULL && db->txn;
}

const char *
risk_db_engine(const struct risk_db *db)
{
	return db->ops->engine;
}

int
risk_enqueue(struct risk_db *db, const char *id, int64_t due_ms,
    bool *isnew, bool *queued, char *err)
{
	return risk_enqueue_prio(db, id, due_ms, RISK_PRIO_NORMAL, isnew,
	    queued, err);
}

int
risk_db_begin(struct risk_db *db, char *err)
{
	return db->ops->begin(db, err);
}

int
risk_db_begin_read(struct risk_db *db, char *err)
{
	return db->ops->begin_read(db, err);
}

int
risk_db_commit(struct risk_db *db, char *err)
{
	return db->ops->commit(db, err);
}

void
risk_db_rollback(struct risk_db *db)
{
	db->ops->rollback(db);
}

void
risk_db_settle(struct risk_db *db)
{
	if (db != NULL)
		db->ops->settle(db);
}

bool
risk_db_replaced(struct risk_db *db)
{
	return db->ops->replaced(db);
}

int
risk_db_bulk(struct risk_db *db, char *err)
{
	return db->ops->bulk(db, err);
}

int
risk_db_exec(struct risk_db *db, const char *sql, char *err)
{
	return db->ops->exec(db, sql, err);
}

int
risk_record_get(struct risk_db *db, const char *id, struct risk_record *rec,
    char *err)
{
	return db->ops->record_get(db, id, rec, err);
}

int
risk_record_get_many(struct risk_db *db, const char *const *ids, int n,
    struct risk_record *recs, bool *found, char *err)
{
	int i, r;

	if (n < 0 || n > RISK_GET_MANY)
		return risk_seterr(err, RISK_EINVAL, "%d IDs at once: at most "
		    "%d", n, RISK_GET_MANY);
	if (db->ops->record_get_many != NULL)
		return db->ops->record_get_many(db, ids, n, recs, found, err);
	for (i = 0; i < n; i++) {
		r = db->ops->record_get(db, ids[i], &recs[i], err);
		if (r != RISK_OK && r != RISK_ENOTFOUND)
			return r;
		found[i] = r == RISK_OK;
	}
	return RISK_OK;
}

/* RISK_OK if rec's ID is valid, else RISK_EINVAL saying so. */
static int
put_id(const struct risk_record *rec, char *err)
{
	char shown[RISK_ID_MAX + 1];

	if (risk_id_valid(rec->id, strnlen(rec->id, sizeof rec->id)))
		return RISK_OK;
	risk__printable((const unsigned char *)rec->id,
	    strnlen(rec->id, sizeof rec->id), shown, sizeof shown);
	return risk_seterr(err, RISK_EINVAL, "%s: invalid company id", shown);
}

int
risk_record_put(struct risk_db *db, const struct risk_record *rec,
    bool *stored, char *err)
{
	int r;

	if ((r = put_id(rec, err)) != RISK_OK)
		return r;
	return db->ops->record_put(db, rec, stored, err);
}

int
risk_record_put_many(struct risk_db *db, const struct risk_record *recs,
    int n, bool *stored, char *err)
{
	bool own;
	int i, r;

	if (n < 0 || n > RISK_PUT_MANY)
		return risk_seterr(err, RISK_EINVAL, "%d records at once: at "
		    "most %d", n, RISK_PUT_MANY);
	for (i = 0; i < n; i++)
		if ((r = put_id(&recs[i], err)) != RISK_OK)
			return r;
	if (db->ops->record_put_many != NULL)
		return db->ops->record_put_many(db, recs, n, stored, err);
	/* one transaction for all, as the engines that batch them do */
	own = !risk_db_in_txn(db);
	if (own && (r = risk_db_begin(db, err)) != RISK_OK)
		return r;
	for (i = 0, r = RISK_OK; i < n && r == RISK_OK; i++)
		r = db->ops->record_put(db, &recs[i], &stored[i], err);
	return risk__txn_end(db, own, r, err);
}

int
risk_record_each(struct risk_db *db, risk_record_fn fn, void *arg, char *err)
{
	return db->ops->record_each(db, fn, arg, err);
}

int
risk_history_each(struct risk_db *db, const struct risk_idset *watch,
    int64_t *seq, risk_change_fn fn, void *arg, char *err)
{
	return db->ops->history_each(db, watch, seq, fn, arg, err);
}

int
risk_history_last(struct risk_db *db, int64_t *seq, char *err)
{
	return db->ops->history_last(db, seq, err);
}

int
risk_history_stat(struct risk_db *db, int64_t now_ms,
    struct risk_history_stat *hs, char *err)
{
	return db->ops->history_stat(db, now_ms, hs, err);
}

/* p with its batch resolved: the engines take p->batch as it is. */
static struct risk_purge
purge_opts(const struct risk_purge *p)
{
	struct risk_purge q = *p;

	if (q.batch <= 0)
		q.batch = PURGE_BATCH;
	return q;
}

int
risk_purge_history(struct risk_db *db, const struct risk_purge *p, long *n,
    char *err)
{
	struct risk_purge q = purge_opts(p);

	return db->ops->purge_history(db, &q, n, err);
}

int
risk_enqueue_prio(struct risk_db *db, const char *id, int64_t due_ms, enum
    risk_priority prio, bool *isnew, bool *queued, char *err)
{
	return db->ops->enqueue_prio(db, id, due_ms, prio, isnew, queued,
	    err);
}

int
risk_queue_next_due(struct risk_db *db, int64_t *due, char *err)
{
	return db->ops->queue_next_due(db, due, err);
}

int
risk_queue_leased(struct risk_db *db, int64_t now_ms, int *n, char *err)
{
	return db->ops->queue_leased(db, now_ms, n, err);
}

int
risk_claim(struct risk_db *db, int64_t now_ms, int64_t lease_ms, int max, int
    cap, int max_attempts, struct risk_entry *out, int *n, char *err)
{
	return db->ops->claim(db, now_ms, lease_ms, max, cap, max_attempts,
	    out, n, err);
}

int
risk_ack(struct risk_db *db, const struct risk_entry *e, char *err)
{
	return db->ops->ack(db, e, err);
}

int
risk_defer(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t due_ms, char *err)
{
	return db->ops->defer(db, e, reason, due_ms, err);
}

int
risk_release(struct risk_db *db, const struct risk_entry *e, char *err)
{
	return db->ops->release(db, e, err);
}

int
risk_fail(struct risk_db *db, const struct risk_entry *e, const char *reason,
    int64_t now_ms, int64_t base_ms, int64_t retry_after_ms, int max_attempts,
    bool *dead, char *err)
{
	return db->ops->fail(db, e, reason, now_ms, base_ms, retry_after_ms,
	    max_attempts, dead, err);
}

int
risk_dead_each(struct risk_db *db, risk_dead_fn fn, void *arg, char *err)
{
	return db->ops->dead_each(db, fn, arg, err);
}

int
risk_dead_get(struct risk_db *db, const char *id, struct risk_dead *d,
    char *err)
{
	return db->ops->dead_get(db, id, d, err);
}

int
risk_redrive(struct risk_db *db, const char *id, int64_t now_ms, int
    max_redrives, char *err)
{
	return db->ops->redrive(db, id, now_ms, max_redrives, err);
}

int
risk_log_put(struct risk_db *db, const struct risk_log_entry *e, char *err)
{
	return db->ops->log_put(db, e, err);
}

int
risk_run_put(struct risk_db *db, const struct risk_run *r, char *err)
{
	return db->ops->run_put(db, r, err);
}

int
risk_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err)
{
	return db->ops->log_each(db, since_ms, id, seq, fn, arg, err);
}

int
risk_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *st, char *err)
{
	return db->ops->stat_get(db, o, st, err);
}

int
risk_source_get(struct risk_db *db, struct risk_source *s, char *err)
{
	return db->ops->source_get(db, s, err);
}

int
risk_source_put(struct risk_db *db, const struct risk_source *s, char *err)
{
	return db->ops->source_put(db, s, err);
}

int
risk_purge_records(struct risk_db *db, const struct risk_purge *p, long *n,
    char *err)
{
	struct risk_purge q = purge_opts(p);

	return db->ops->purge_records(db, &q, n, err);
}

int
risk_purge_dead(struct risk_db *db, const struct risk_purge *p, long *n,
    char *err)
{
	struct risk_purge q = purge_opts(p);

	return db->ops->purge_dead(db, &q, n, err);
}

int
risk_purge_log(struct risk_db *db, const struct risk_purge *p, long *nlog,
    long *nrun, char *err)
{
	struct risk_purge q = purge_opts(p);

	return db->ops->purge_log(db, &q, nlog, nrun, err);
}

int
risk_vacuum(struct risk_db *db, void (*tick)(void *), void *arg, char *err)
{
	return db->ops->vacuum(db, tick, arg, err);
}

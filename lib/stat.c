/*
 * stat.c — figures about the queue, the cache and the drains, and the
 * fetch log read back.
 *
 * Invariants:
 * - Read only: nothing here writes, so risk-stat works on a read-only
 *   database and never waits for a drainer (WAL).  All figures come from
 *   one read snapshot, so they add up.
 * - Queue figures use the queue's indexes (due, and the partial lease
 *   index): cheap whatever the queue holds.  Record figures need one scan
 *   of the records (no index on fetched_at: it would tax every write for
 *   one report); about 0.2 s for a million records.
 * - The fetch log is read by its index on "at"; following it walks rowid
 *   forward, so a row is shown once even when writers' clocks disagree.
 */
#include <string.h>

#include "internal.h"
#include "sqlite.h"

static const char sql_q_total[] = "SELECT count(*) FROM %1$s.queue";
static const char sql_q_due[] =
    "SELECT count(*), min(due) FROM %1$s.queue WHERE due <= ?1";
static const char sql_dead[] = "SELECT count(*) FROM main.dead";
static const char sql_rec[] =
    "SELECT"
    " sum(status IS NOT NULL AND fetched_at >= ?1),"
    " sum(status IS NOT NULL AND fetched_at < ?1),"
    " sum(status IS NULL AND fetched_at >= ?2),"
    " sum(status IS NULL AND fetched_at < ?2)"
    " FROM main.record";
static const char sql_run[] =
    "SELECT started_at, ended_at, claimed, stored, not_found, retried,"
    " dead, released, exit_status FROM main.drain_run"
    " ORDER BY rowid DESC LIMIT 1";
static const char sql_out[] =
    "SELECT outcome, count(*), total(ms) FROM main.fetch_log"
    " WHERE at >= ?1 GROUP BY outcome";
static const char sql_class[] =
    "SELECT class, count(*) FROM main.fetch_log WHERE at >= ?1"
    " AND class IS NOT NULL GROUP BY class";
static const char sql_log_since[] =
    "SELECT rowid, at, id, outcome, http, ms, reason FROM main.fetch_log"
    " WHERE at >= ?1 AND (?2 IS NULL OR id = ?2) ORDER BY at, rowid";
static const char sql_log_after[] =
    "SELECT rowid, at, id, outcome, http, ms, reason FROM main.fetch_log"
    " WHERE rowid > ?1 AND (?2 IS NULL OR id = ?2) ORDER BY rowid";

/* A one-row query's integers into v[0..n-1]. */
static int
row(struct risk_db *db, sqlite3_stmt *st, int64_t *v, int n, char *err)
{
	int rc, i;

	if (st == NULL)
		return RISK_EDB;
	rc = sqlite3_step(st);
	for (i = 0; i < n; i++)
		v[i] = rc == SQLITE_ROW ? sqlite3_column_int64(st, i) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RISK_OK :
	    risk__dberr(db, rc, err, db->path);
}

/* The legacy service's state, and the failures by class. */
static int
source(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *s, char *err)
{
	sqlite3_stmt *st;
	int r, rc;
	enum risk_fail_class c;

	if ((r = risk__sq_source_get(db, &s->source, err)) != RISK_OK)
		return r;
	if ((st = risk__stmt(db, S_STAT_CLASS, sql_class, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, o->now_ms - o->window_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c = risk_fail_class_parse((const char *)sqlite3_column_text(st,
		    0));
		if (c != RISK_FAIL_NONE)
			s->failures[c] += (long)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

static int
figures(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *s, char *err)
{
	sqlite3_stmt *st;
	int64_t v[9];
	int r, rc, i, leased;

	if ((r = row(db, risk__qstmt(db, S_STAT_Q_TOTAL, sql_q_total, err), v,
	    1, err)) != RISK_OK)
		return r;
	s->delayed = (long)v[0];
	if ((st = risk__qstmt(db, S_STAT_Q_DUE, sql_q_due, err)) != NULL)
		sqlite3_bind_int64(st, 1, o->now_ms);
	if ((r = row(db, st, v, 2, err)) != RISK_OK)
		return r;
	s->due = (long)v[0];
	s->oldest_due_ms = s->due > 0 && o->now_ms > v[1] ? o->now_ms - v[1] :
	    0;
	if ((r = risk__sq_queue_leased(db, o->now_ms, &leased, err)) != RISK_OK)
		return r;
	s->leased = leased;
	s->delayed -= s->due + s->leased;
	if (s->delayed < 0)
		s->delayed = 0;

	if ((r = row(db, risk__stmt(db, S_STAT_DEAD, sql_dead, err), v, 1,
	    err)) != RISK_OK)
		return r;
	s->dead = (long)v[0];

	if ((st = risk__stmt(db, S_STAT_REC, sql_rec, err)) != NULL) {
		sqlite3_bind_int64(st, 1, o->now_ms - o->max_age_ms);
		sqlite3_bind_int64(st, 2, o->now_ms - o->nf_max_age_ms);
	}
	if ((r = row(db, st, v, 4, err)) != RISK_OK)
		return r;
	s->fresh = (long)v[0];
	s->stale = (long)v[1];
	s->not_found = (long)v[2];
	s->not_found_stale = (long)v[3];

	if ((st = risk__stmt(db, S_STAT_RUN, sql_run, err)) == NULL)
		return RISK_EDB;
	rc = sqlite3_step(st);
	if ((s->have_run = rc == SQLITE_ROW)) {
		for (i = 0; i < 9; i++)
			v[i] = sqlite3_column_int64(st, i);
		s->run.started_at = v[0];
		s->run.ended_at = v[1];
		s->run.claimed = (long)v[2];
		s->run.stored = (long)v[3];
		s->run.not_found = (long)v[4];
		s->run.retried = (long)v[5];
		s->run.dead = (long)v[6];
		s->run.released = (long)v[7];
		s->run.exit_status = (int)v[8];
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);

	if ((r = risk__sq_history_stat(db, o->now_ms, &s->history, err)) !=
	    RISK_OK)
		return r;

	if ((st = risk__stmt(db, S_STAT_OUT, sql_out, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, o->now_ms - o->window_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		i = risk_outcome_parse((const char *)sqlite3_column_text(st,
		    0));
		if (i < RISK_NOUTCOME)
			s->outcome[i] += (long)sqlite3_column_int64(st, 1);
		else
			s->outcome_other += (long)sqlite3_column_int64(st, 1);
		s->fetch_ms += (int64_t)sqlite3_column_double(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return risk__dberr(db, rc, err, db->path);
	return db->version < 3 ? RISK_OK : source(db, o, s, err);
}

int
risk__sq_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *s, char *err)
{
	bool own = !db->txn;
	int r;

	memset(s, 0, sizeof *s);
	if (own && (r = risk__sq_db_begin_read(db, err)) != RISK_OK)
		return r;
	r = figures(db, o, s, err);
	return risk__txn_end(db, own, r, err);
}

int
risk__sq_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err)
{
	struct risk_log_entry e;
	sqlite3_stmt *st;
	int rc, r;

	if (*seq > 0)
		st = risk__stmt(db, S_LOGR_AFTER, sql_log_after, err);
	else
		st = risk__stmt(db, S_LOGR_SINCE, sql_log_since, err);
	if (st == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, *seq > 0 ? *seq : since_ms);
	if (id != NULL)
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t rowid = sqlite3_column_int64(st, 0);

		if (rowid > *seq)
			*seq = rowid;
		e.at = sqlite3_column_int64(st, 1);
		e.id = (const char *)sqlite3_column_text(st, 2);
		e.outcome = risk_outcome_parse((const char *)
		    sqlite3_column_text(st, 3));
		e.http = (long)sqlite3_column_int64(st, 4);
		e.ms = sqlite3_column_int64(st, 5);
		e.reason = (const char *)sqlite3_column_text(st, 6);
		if (e.id == NULL)
			e.id = "";
		if ((r = fn(rowid, &e, arg)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

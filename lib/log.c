/*
 * log.c — the fetch log and the drain summaries.
 *
 * Append-only rows in the records file, written in the same transaction
 * as the outcome they describe, so the log never claims what did not
 * happen.  risk-purge trims them; nothing else deletes.
 */
#include <string.h>

#include "internal.h"
#include "sqlite.h"

static const char sql_log[] =
    "INSERT INTO main.fetch_log (at, id, outcome, http, ms, reason, class)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char sql_run[] =
    "INSERT INTO main.drain_run (started_at, ended_at, claimed, stored,"
    " not_found, retried, dead, released, exit_status)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

static const char *const outcome_name[RISK_NOUTCOME] = {
	"stored", "not_found", "retry", "dead", "lost", "released", "deferred"
};

const char *
risk_outcome_str(enum risk_outcome o)
{
	return o >= 0 && o < RISK_NOUTCOME ? outcome_name[o] : "other";
}

enum risk_outcome
risk_outcome_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < RISK_NOUTCOME; i++)
		if (strcmp(name, outcome_name[i]) == 0)
			return (enum risk_outcome)i;
	return RISK_NOUTCOME;
}

int
risk__sq_log_put(struct risk_db *db, const struct risk_log_entry *e, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_LOG_PUT, sql_log, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, e->at);
	sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, risk_outcome_str(e->outcome), -1,
	    SQLITE_STATIC);
	if (e->http > 0)
		sqlite3_bind_int64(st, 4, e->http);
	sqlite3_bind_int64(st, 5, e->ms);
	if (e->reason != NULL)
		sqlite3_bind_text(st, 6, e->reason, -1, SQLITE_STATIC);
	if (risk_fail_class_name(e->fail_class) != NULL)
		sqlite3_bind_text(st, 7, risk_fail_class_name(e->fail_class),
		    -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err, db->path);
}

int
risk__sq_run_put(struct risk_db *db, const struct risk_run *r, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_RUN_PUT, sql_run, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_int64(st, 1, r->started_at);
	sqlite3_bind_int64(st, 2, r->ended_at);
	sqlite3_bind_int64(st, 3, r->claimed);
	sqlite3_bind_int64(st, 4, r->stored);
	sqlite3_bind_int64(st, 5, r->not_found);
	sqlite3_bind_int64(st, 6, r->retried);
	sqlite3_bind_int64(st, 7, r->dead);
	sqlite3_bind_int64(st, 8, r->released);
	sqlite3_bind_int(st, 9, r->exit_status);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

/*
 * pg_ops.c — the PostgreSQL store's fetch log and drain summaries,
 * figures, and the legacy service's shared state (the SQLite side:
 * log.c, stat.c, source.c, whose contracts these keep; retention is
 * pg_purge.c).
 *
 * Invariants:
 * - Every figure of risk_stat_get comes from one snapshot: a REPEATABLE
 *   READ READ ONLY transaction of its own when the caller has none.  It
 *   takes no lock a writer waits for.
 * - Walks never fetch a whole table: the fetch log comes in pages of
 *   PAGE rows, by (at, seq) or by seq, and a callback may call other
 *   database functions between rows (no cursor stays open).
 * - The legacy service's row is read locked (FOR UPDATE) inside a
 *   transaction, as the drainer reads it before it settles and claims:
 *   drainers on every host see one sequence of states, as SQLite's
 *   BEGIN IMMEDIATE makes them.  risk-stat reads it unlocked.
 * - Text from this program that PostgreSQL would refuse (bytes that are
 *   not UTF-8) is stored through the sanitiser rather than failing the
 *   write: the log must never cost a drain its outcome.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PAGE 1000		/* rows per round trip of a walk */
#define STR(x) #x
#define LIMIT(n) " LIMIT " STR(n)

static int source_read(struct risk_db *db, struct risk_source *s,
    bool lock, char *err);

/* ---- the fetch log and the drain summaries --------------------------- */

static const char sql_log_put[] =
    "INSERT INTO fetch_log (at, id, outcome, http, ms, reason, class)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char sql_run_put[] =
    "INSERT INTO drain_run (started_at, ended_at, claimed, stored,"
    " not_found, retried, dead, released, exit_status)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/* The log read back: since a time, by (at, seq); after a seq, by seq. */
#define LOG_COLS "SELECT seq, at, id, outcome, http, ms, reason FROM fetch_log"
static const char sql_log_since[] = LOG_COLS
    " WHERE at >= $1 AND (at, seq) > ($1, $2) ORDER BY at, seq" LIMIT(PAGE);
static const char sql_log_since_id[] = LOG_COLS
    " WHERE id = $3 AND at >= $1 AND (at, seq) > ($1, $2)"
    " ORDER BY at, seq" LIMIT(PAGE);
static const char sql_log_after[] = LOG_COLS
    " WHERE seq > $1 ORDER BY seq" LIMIT(PAGE);
static const char sql_log_after_id[] = LOG_COLS
    " WHERE id = $2 AND seq > $1 ORDER BY seq" LIMIT(PAGE);

/* s if PostgreSQL takes it as UTF-8 text, else its sanitised copy. */
static const char *
utf8(const char *s, char *buf, size_t sz)
{
	const unsigned char *p, *end;
	long cp;

	if (s == NULL)
		return NULL;
	p = (const unsigned char *)s;
	end = p + strlen(s);
	while (p < end) {
		p += risk__utf8_next(p, end, &cp);
		if (cp < 0) {
			risk__printable((const unsigned char *)s, strlen(s),
			    buf, sz);
			return buf;
		}
	}
	return s;
}

int
risk__pg_log_put(struct risk_db *db, const struct risk_log_entry *e,
    char *err)
{
	char at[RISK__I64LEN], http[RISK__I64LEN], ms[RISK__I64LEN];
	char idb[RISK_ID_MAX * 4 + 1], reasonb[1024];
	const char *v[7];

	v[0] = risk__pg_i64s(at, e->at);
	v[1] = utf8(e->id != NULL ? e->id : "", idb, sizeof idb);
	v[2] = risk_outcome_str(e->outcome);
	v[3] = e->http > 0 ? risk__pg_i64s(http, e->http) : NULL;
	v[4] = risk__pg_i64s(ms, e->ms);
	v[5] = utf8(e->reason, reasonb, sizeof reasonb);
	v[6] = risk_fail_class_name(e->fail_class);
	return risk__pg_run(db, sql_log_put, 7, v, NULL, NULL, err);
}

int
risk__pg_run_put(struct risk_db *db, const struct risk_run *r, char *err)
{
	char b[9][RISK__I64LEN];
	const char *v[9];

	v[0] = risk__pg_i64s(b[0], r->started_at);
	v[1] = risk__pg_i64s(b[1], r->ended_at);
	v[2] = risk__pg_i64s(b[2], r->claimed);
	v[3] = risk__pg_i64s(b[3], r->stored);
	v[4] = risk__pg_i64s(b[4], r->not_found);
	v[5] = risk__pg_i64s(b[5], r->retried);
	v[6] = risk__pg_i64s(b[6], r->dead);
	v[7] = risk__pg_i64s(b[7], r->released);
	v[8] = risk__pg_i64s(b[8], r->exit_status);
	return risk__pg_run(db, sql_run_put, 9, v, NULL, NULL, err);
}

int
risk__pg_log_each(struct risk_db *db, int64_t since_ms, const char *id,
    int64_t *seq, risk_log_fn fn, void *arg, char *err)
{
	struct risk_log_entry e;
	char b1[RISK__I64LEN], b2[RISK__I64LEN];
	const char *v[3], *sql;
	PGresult *res;
	int64_t at = since_ms, last = INT64_MIN, rowseq;
	int r, i, n, np;
	bool follow = *seq > 0;

	do {
		if (follow) {
			v[0] = risk__pg_i64s(b1, *seq);
			v[1] = id;
			np = id != NULL ? 2 : 1;
			sql = id != NULL ? sql_log_after_id : sql_log_after;
		} else {
			v[0] = risk__pg_i64s(b1, at);
			v[1] = risk__pg_i64s(b2, last);
			v[2] = id;
			np = id != NULL ? 3 : 2;
			sql = id != NULL ? sql_log_since_id : sql_log_since;
		}
		r = risk__pg_run(db, sql, np, v, &res, NULL, err);
		if (r != RISK_OK)
			return r;
		n = risk__pg_ntuples(res);
		for (i = 0; i < n; i++) {
			rowseq = risk__pg_i64(res, i, 0);
			at = risk__pg_i64(res, i, 1);
			last = rowseq;
			if (rowseq > *seq)
				*seq = rowseq;
			e.at = at;
			e.id = risk__pg_get(res, i, 2);
			e.outcome = risk_outcome_parse(risk__pg_get(res, i, 3));
			e.fail_class = RISK_FAIL_NONE;
			e.http = (long)risk__pg_i64(res, i, 4);
			e.ms = risk__pg_i64(res, i, 5);
			e.reason = risk__pg_get(res, i, 6);
			if (e.id == NULL)
				e.id = "";
			if ((r = fn(rowseq, &e, arg)) != 0) {
				risk__pg_clear(res);
				return r;
			}
		}
		risk__pg_clear(res);
	} while (n == PAGE);
	return RISK_OK;
}

/* ---- figures ---------------------------------------------------------- */

/* The queue, the dead letters and the records in one row. */
static const char sql_figures[] =
    "SELECT (SELECT count(*) FROM queue),"
    " q.n, q.oldest, (SELECT count(*) FROM dead),"
    " r.fresh, r.stale, r.nf, r.nf_stale"
    " FROM (SELECT count(*) AS n, min(due) AS oldest FROM queue"
    "  WHERE due <= $1) q,"
    " (SELECT"
    "  count(*) FILTER (WHERE status IS NOT NULL AND fetched_at >= $2)"
    "   AS fresh,"
    "  count(*) FILTER (WHERE status IS NOT NULL AND fetched_at < $2)"
    "   AS stale,"
    "  count(*) FILTER (WHERE status IS NULL AND fetched_at >= $3) AS nf,"
    "  count(*) FILTER (WHERE status IS NULL AND fetched_at < $3)"
    "   AS nf_stale"
    "  FROM record) r";
static const char sql_stat_run[] =
    "SELECT started_at, ended_at, claimed, stored, not_found, retried,"
    " dead, released, exit_status FROM drain_run"
    " ORDER BY seq DESC LIMIT 1";
static const char sql_stat_out[] =
    "SELECT outcome, count(*), coalesce(sum(ms), 0)::bigint FROM fetch_log"
    " WHERE at >= $1 GROUP BY outcome";
static const char sql_stat_class[] =
    "SELECT class, count(*) FROM fetch_log WHERE at >= $1"
    " AND class IS NOT NULL GROUP BY class";

static int
figures(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *s, char *err)
{
	char b1[RISK__I64LEN], b2[RISK__I64LEN], b3[RISK__I64LEN];
	const char *v[3];
	PGresult *res;
	enum risk_fail_class c;
	int r, i, n, leased, k;

	v[0] = risk__pg_i64s(b1, o->now_ms);
	v[1] = risk__pg_i64s(b2, o->now_ms - o->max_age_ms);
	v[2] = risk__pg_i64s(b3, o->now_ms - o->nf_max_age_ms);
	if ((r = risk__pg_run(db, sql_figures, 3, v, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if (risk__pg_ntuples(res) == 1) {
		s->delayed = (long)risk__pg_i64(res, 0, 0);
		s->due = (long)risk__pg_i64(res, 0, 1);
		s->oldest_due_ms = s->due > 0 && o->now_ms >
		    risk__pg_i64(res, 0, 2) ? o->now_ms -
		    risk__pg_i64(res, 0, 2) : 0;
		s->dead = (long)risk__pg_i64(res, 0, 3);
		s->fresh = (long)risk__pg_i64(res, 0, 4);
		s->stale = (long)risk__pg_i64(res, 0, 5);
		s->not_found = (long)risk__pg_i64(res, 0, 6);
		s->not_found_stale = (long)risk__pg_i64(res, 0, 7);
	}
	risk__pg_clear(res);
	if ((r = risk__pg_queue_leased(db, o->now_ms, &leased, err)) !=
	    RISK_OK)
		return r;
	s->leased = leased;
	s->delayed -= s->due + s->leased;
	if (s->delayed < 0)
		s->delayed = 0;

	if ((r = risk__pg_run(db, sql_stat_run, 0, NULL, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	if ((s->have_run = risk__pg_ntuples(res) > 0)) {
		s->run.started_at = risk__pg_i64(res, 0, 0);
		s->run.ended_at = risk__pg_i64(res, 0, 1);
		s->run.claimed = (long)risk__pg_i64(res, 0, 2);
		s->run.stored = (long)risk__pg_i64(res, 0, 3);
		s->run.not_found = (long)risk__pg_i64(res, 0, 4);
		s->run.retried = (long)risk__pg_i64(res, 0, 5);
		s->run.dead = (long)risk__pg_i64(res, 0, 6);
		s->run.released = (long)risk__pg_i64(res, 0, 7);
		s->run.exit_status = (int)risk__pg_i64(res, 0, 8);
	}
	risk__pg_clear(res);

	if ((r = risk__pg_history_stat(db, o->now_ms, &s->history, err)) !=
	    RISK_OK)
		return r;

	v[0] = risk__pg_i64s(b1, o->now_ms - o->window_ms);
	if ((r = risk__pg_run(db, sql_stat_out, 1, v, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	n = risk__pg_ntuples(res);
	for (i = 0; i < n; i++) {
		k = risk_outcome_parse(risk__pg_get(res, i, 0));
		if (k < RISK_NOUTCOME)
			s->outcome[k] += (long)risk__pg_i64(res, i, 1);
		else
			s->outcome_other += (long)risk__pg_i64(res, i, 1);
		s->fetch_ms += risk__pg_i64(res, i, 2);
	}
	risk__pg_clear(res);

	if ((r = source_read(db, &s->source, false, err)) != RISK_OK)
		return r;
	if ((r = risk__pg_run(db, sql_stat_class, 1, v, &res, NULL, err)) !=
	    RISK_OK)
		return r;
	n = risk__pg_ntuples(res);
	for (i = 0; i < n; i++) {
		c = risk_fail_class_parse(risk__pg_get(res, i, 0));
		if (c != RISK_FAIL_NONE)
			s->failures[c] += (long)risk__pg_i64(res, i, 1);
	}
	risk__pg_clear(res);
	return RISK_OK;
}

int
risk__pg_stat_get(struct risk_db *db, const struct risk_stat_opts *o,
    struct risk_stat *s, char *err)
{
	bool own = !db->txn;
	int r;

	memset(s, 0, sizeof *s);
	/* REPEATABLE READ READ ONLY: one snapshot for every figure */
	if (own && (r = risk_db_begin_read(db, err)) != RISK_OK)
		return r;
	r = figures(db, o, s, err);
	return risk__txn_end(db, own, r, err);
}

/* ---- the legacy service's state --------------------------------------- */

#define SOURCE_GET \
    "SELECT state, since, until, reason, win, window_at, probing," \
    " cred_fp, tokens, tokens_at, rate_n, rate_ms FROM source" \
    " WHERE id = 1"
static const char sql_source_get[] = SOURCE_GET;
/* In a transaction: the row stays ours until it ends (it is the latest
 * version, even if the statement waited for another drainer's commit). */
static const char sql_source_lock[] = SOURCE_GET " FOR UPDATE";
/* The all-zero "ok" row, for there to be one to lock. */
static const char sql_source_init[] =
    "INSERT INTO source (id, state, since, until, win, window_at, probing,"
    " tokens, tokens_at, rate_n, rate_ms)"
    " VALUES (1, 'ok', 0, 0, 0, 0, false, 0, 0, 0, 0)"
    " ON CONFLICT (id) DO NOTHING";
static const char sql_source_put[] =
    "INSERT INTO source (id, state, since, until, reason, win, window_at,"
    " probing, cred_fp, tokens, tokens_at, rate_n, rate_ms)"
    " VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    " ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state,"
    " since = EXCLUDED.since, until = EXCLUDED.until,"
    " reason = EXCLUDED.reason, win = EXCLUDED.win,"
    " window_at = EXCLUDED.window_at, probing = EXCLUDED.probing,"
    " cred_fp = EXCLUDED.cred_fp, tokens = EXCLUDED.tokens,"
    " tokens_at = EXCLUDED.tokens_at, rate_n = EXCLUDED.rate_n,"
    " rate_ms = EXCLUDED.rate_ms";

/*
 * The row as stored; with lock, locked until the transaction ends.  On
 * SQLite the drainer's BEGIN IMMEDIATE makes its read, its policy and
 * its write one step; here a BEGIN is READ COMMITTED, and the row lock
 * does it: two drainers never both take the probe of a cool-down, nor
 * the same tokens of --rate.
 */
static int
source_read(struct risk_db *db, struct risk_source *s, bool lock,
    char *err)
{
	PGresult *res;
	const char *name, *t;
	char *end;
	int r, i;

	memset(s, 0, sizeof *s);
	r = risk__pg_run(db, lock ? sql_source_lock : sql_source_get, 0, NULL,
	    &res, NULL, err);
	if (r == RISK_OK && lock && risk__pg_ntuples(res) == 0) {
		/* none yet: make it, then lock it (a drainer that made it
		 * meanwhile has committed when the INSERT returns) */
		risk__pg_clear(res);
		if ((r = risk__pg_run(db, sql_source_init, 0, NULL, NULL,
		    NULL, err)) == RISK_OK)
			r = risk__pg_run(db, sql_source_lock, 0, NULL, &res,
			    NULL, err);
	}
	if (r != RISK_OK)
		return r;
	if (risk__pg_ntuples(res) > 0) {
		name = risk__pg_get(res, 0, 0);
		for (i = RISK_SRC_OK; i <= RISK_SRC_CREDENTIALS; i++)
			if (name != NULL && strcmp(name,
			    risk_source_state_name((enum risk_source_state)i))
			    == 0)
				s->state = (enum risk_source_state)i;
		s->since = risk__pg_i64(res, 0, 1);
		s->until = risk__pg_i64(res, 0, 2);
		risk__pg_text(res, 0, 3, s->reason, sizeof s->reason);
		s->window = (uint32_t)risk__pg_i64(res, 0, 4);
		s->window_at = risk__pg_i64(res, 0, 5);
		s->probing = risk__pg_bool(res, 0, 6);
		risk__pg_text(res, 0, 7, s->cred_fp, sizeof s->cred_fp);
		/* float8's text: "1.5", "NaN", "Infinity" (C locale) */
		if ((t = risk__pg_get(res, 0, 8)) != NULL) {
			s->tokens = strtod(t, &end);
			if (end == t || *end != '\0')
				s->tokens = 0;
		}
		s->tokens_at = risk__pg_i64(res, 0, 9);
		s->rate_n = (long)risk__pg_i64(res, 0, 10);
		s->rate_ms = risk__pg_i64(res, 0, 11);
	}
	risk__pg_clear(res);
	return RISK_OK;
}

/* Inside the drainer's transaction, locked; alone, as it is now. */
int
risk__pg_source_get(struct risk_db *db, struct risk_source *s, char *err)
{
	return source_read(db, s, db->txn, err);
}

int
risk__pg_source_put(struct risk_db *db, const struct risk_source *s,
    char *err)
{
	char b[8][RISK__I64LEN], tokens[40];
	char reasonb[sizeof s->reason], fpb[sizeof s->cred_fp];
	const char *v[12];
	int k;

	if (isnan(s->tokens))
		snprintf(tokens, sizeof tokens, "NaN");
	else if (isinf(s->tokens))
		snprintf(tokens, sizeof tokens, "%sInfinity",
		    s->tokens < 0 ? "-" : "");
	else if ((k = snprintf(tokens, sizeof tokens, "%.17g", s->tokens)) <
	    0 || (size_t)k >= sizeof tokens)
		return risk_seterr(err, RISK_EINVAL, "tokens: out of range");
	v[0] = risk_source_state_name(s->state);
	v[1] = risk__pg_i64s(b[0], s->since);
	v[2] = risk__pg_i64s(b[1], s->until);
	v[3] = s->reason[0] != '\0' ? utf8(s->reason, reasonb,
	    sizeof reasonb) : NULL;
	v[4] = risk__pg_i64s(b[2], s->window);
	v[5] = risk__pg_i64s(b[3], s->window_at);
	v[6] = s->probing ? "t" : "f";
	v[7] = s->cred_fp[0] != '\0' ? utf8(s->cred_fp, fpb, sizeof fpb) :
	    NULL;
	v[8] = tokens;
	v[9] = risk__pg_i64s(b[4], s->tokens_at);
	v[10] = risk__pg_i64s(b[5], s->rate_n);
	v[11] = risk__pg_i64s(b[6], s->rate_ms);
	return risk__pg_run(db, sql_source_put, 12, v, NULL, NULL, err);
}

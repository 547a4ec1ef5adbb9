/*
 * source.c — the legacy service's health, one row shared by every
 * drainer and every later run: the circuit breaker, a throttle, rejected
 * credentials, and the token bucket of --rate.
 *
 * Invariants:
 * - The row is read and written only inside the drainer's write
 *   transaction (BEGIN IMMEDIATE), the one that settles answers and
 *   claims entries, so every drainer sees one sequence of states and two
 *   drainers never both take the one probe of a cool-down.
 * - The breaker judges a rate, not a streak: the last 32 answers of the
 *   service, across all drainers, as bits of one integer (1: the service
 *   failed).  It opens when `trip` of them are failures.  An answer the
 *   company owns (a 4xx, JSON without a record) is the service working,
 *   a 0.  The window forgets answers older than WINDOW_AGE_MS.
 * - Open (down), rejected (credentials): no request but one probe per
 *   cool-down, taken by whichever drainer gets there first; while it is
 *   out the state is half-open.  A probe that gets an answer closes it;
 *   credentials rejected also allows a probe at once when the credentials
 *   file changed (its fingerprint).  Throttled: no request until `until`.
 * - The bucket holds at most rate_n tokens and refills at rate_n per
 *   rate_ms; each request takes one.
 * - Everything here but get/put is pure arithmetic on the struct, so the
 *   policy is tested without a service, and costs no write when nothing
 *   changes (a healthy drain without --rate never writes the row).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "sqlite.h"

#define WINDOW_AGE_MS (3600 * 1000)	/* older answers are forgotten */

static const char sql_get[] =
    "SELECT state, since, until, reason, window, window_at, probing,"
    " cred_fp, tokens, tokens_at, rate_n, rate_ms FROM main.source"
    " WHERE id = 1";
static const char sql_put[] =
    "INSERT OR REPLACE INTO main.source (id, state, since, until, reason,"
    " window, window_at, probing, cred_fp, tokens, tokens_at, rate_n,"
    " rate_ms) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
    " ?12)";

static const char *const state_name[] = {
	"ok", "down", "throttled", "credentials_rejected"
};

const char *
risk_source_state_name(enum risk_source_state st)
{
	return st >= RISK_SRC_OK && st <= RISK_SRC_CREDENTIALS ?
	    state_name[st] : "ok";
}

static const char *const class_name[] = {
	NULL, "company", "down", "throttled", "credentials"
};

const char *
risk_fail_class_name(enum risk_fail_class c)
{
	return c > RISK_FAIL_NONE && c <= RISK_FAIL_CREDENTIALS ?
	    class_name[c] : NULL;
}

enum risk_fail_class
risk_fail_class_parse(const char *name)
{
	int i;

	for (i = RISK_FAIL_COMPANY; name != NULL && i <= RISK_FAIL_CREDENTIALS;
	    i++)
		if (strcmp(name, class_name[i]) == 0)
			return (enum risk_fail_class)i;
	return RISK_FAIL_NONE;
}

int
risk__sq_source_get(struct risk_db *db, struct risk_source *s, char *err)
{
	sqlite3_stmt *st;
	const char *name;
	int rc, i;

	memset(s, 0, sizeof *s);
	if (db->version < 3)	/* an older file, read as it is: never seen */
		return RISK_OK;
	if ((st = risk__stmt(db, S_SOURCE_GET, sql_get, err)) == NULL)
		return RISK_EDB;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 0);
		for (i = RISK_SRC_OK; i <= RISK_SRC_CREDENTIALS; i++)
			if (name != NULL && strcmp(name, state_name[i]) == 0)
				s->state = (enum risk_source_state)i;
		s->since = sqlite3_column_int64(st, 1);
		s->until = sqlite3_column_int64(st, 2);
		risk__column_text(st, 3, s->reason, sizeof s->reason);
		s->window = (uint32_t)sqlite3_column_int64(st, 4);
		s->window_at = sqlite3_column_int64(st, 5);
		s->probing = sqlite3_column_int(st, 6) != 0;
		risk__column_text(st, 7, s->cred_fp, sizeof s->cred_fp);
		s->tokens = sqlite3_column_double(st, 8);
		s->tokens_at = sqlite3_column_int64(st, 9);
		s->rate_n = (long)sqlite3_column_int64(st, 10);
		s->rate_ms = sqlite3_column_int64(st, 11);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? RISK_OK :
	    risk__dberr(db, rc, err, db->path);
}

int
risk__sq_source_put(struct risk_db *db, const struct risk_source *s, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = risk__stmt(db, S_SOURCE_PUT, sql_put, err)) == NULL)
		return RISK_EDB;
	sqlite3_bind_text(st, 1, risk_source_state_name(s->state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, s->since);
	sqlite3_bind_int64(st, 3, s->until);
	if (s->reason[0] != '\0')
		sqlite3_bind_text(st, 4, s->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, s->window);
	sqlite3_bind_int64(st, 6, s->window_at);
	sqlite3_bind_int(st, 7, s->probing);
	if (s->cred_fp[0] != '\0')
		sqlite3_bind_text(st, 8, s->cred_fp, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 9, s->tokens);
	sqlite3_bind_int64(st, 10, s->tokens_at);
	sqlite3_bind_int64(st, 11, s->rate_n);
	sqlite3_bind_int64(st, 12, s->rate_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? RISK_OK : risk__dberr(db, rc, err,
	    db->path);
}

int
risk_source_failures(const struct risk_source *s)
{
	return __builtin_popcount(s->window);
}

static void
enter(struct risk_source *s, enum risk_source_state st, int64_t now)
{
	if (s->state != st)
		s->since = now;
	s->state = st;
	s->probing = false;
}

static void
shift(struct risk_source *s, bool down, int64_t now)
{
	if (now - s->window_at > WINDOW_AGE_MS)
		s->window = 0;
	s->window = s->window << 1 | (down ? 1u : 0u);
	if (s->window != 0)	/* a healthy run leaves the row alone */
		s->window_at = now;
}

bool
risk_source_note(struct risk_source *s, const struct risk_breaker *b,
    enum risk_fail_class c, const char *reason, int64_t retry_after_ms,
    const char *fp, int64_t now)
{
	enum risk_source_state was = s->state;
	int64_t until;

	switch (c) {
	case RISK_FAIL_NONE:
	case RISK_FAIL_COMPANY:		/* the service answered */
		shift(s, false, now);
		/* the probe's answer closes it; one sent before it opened
		 * proves less (the next failure would open it again) */
		if ((s->state == RISK_SRC_DOWN ||
		    s->state == RISK_SRC_CREDENTIALS) && s->probing) {
			enter(s, RISK_SRC_OK, now);
			s->until = 0;
			s->reason[0] = '\0';
			s->cred_fp[0] = '\0';
		}
		break;
	case RISK_FAIL_DOWN:
		shift(s, true, now);
		snprintf(s->reason, sizeof s->reason, "%s", reason);
		if (s->state == RISK_SRC_DOWN) {	/* a probe failed */
			s->probing = false;
			if (s->until < now + b->cooldown_ms)
				s->until = now + b->cooldown_ms;
		} else if (s->state == RISK_SRC_OK &&
		    risk_source_failures(s) >= b->trip) {
			enter(s, RISK_SRC_DOWN, now);
			s->until = now + b->cooldown_ms;
		}
		break;
	case RISK_FAIL_THROTTLED:
		if (s->state == RISK_SRC_CREDENTIALS)
			break;		/* only a person fixes that */
		until = now + (retry_after_ms > 0 ? retry_after_ms :
		    b->throttle_ms);
		if (s->state != RISK_SRC_THROTTLED || s->until < until)
			s->until = until;
		enter(s, RISK_SRC_THROTTLED, now);
		snprintf(s->reason, sizeof s->reason, "%s", reason);
		break;
	case RISK_FAIL_CREDENTIALS:
		enter(s, RISK_SRC_CREDENTIALS, now);
		s->until = now + b->cooldown_ms;
		snprintf(s->reason, sizeof s->reason, "%s", reason);
		snprintf(s->cred_fp, sizeof s->cred_fp, "%s", fp);
		break;
	}
	return s->state != was;
}

enum risk_gate
risk_source_gate(struct risk_source *s, const struct risk_breaker *b,
    const char *fp, int64_t now, int64_t *wait_ms)
{
	*wait_ms = 0;
	switch (s->state) {
	case RISK_SRC_THROTTLED:
		if (now < s->until) {
			*wait_ms = s->until - now;
			return RISK_GATE_WAIT;
		}
		enter(s, RISK_SRC_OK, now);	/* the pause is over */
		s->until = 0;
		s->reason[0] = '\0';
		return RISK_GATE_OPEN;
	case RISK_SRC_DOWN:
	case RISK_SRC_CREDENTIALS:
		/* a new credentials file deserves its probe at once */
		if (now < s->until && !(s->state == RISK_SRC_CREDENTIALS &&
		    strcmp(fp, s->cred_fp) != 0 && !s->probing))
			return RISK_GATE_STOP;
		s->probing = true;	/* half-open: one probe, ours */
		s->until = now + b->cooldown_ms;
		return RISK_GATE_PROBE;
	default:
		return RISK_GATE_OPEN;
	}
}

int
risk_source_take(struct risk_source *s, const struct risk_breaker *b,
    int want, int64_t now, int64_t *wait_ms)
{
	double per_ms, t;
	int n;

	*wait_ms = 0;
	if (b->rate_n <= 0 || b->rate_ms <= 0)
		return want;
	per_ms = (double)b->rate_n / (double)b->rate_ms;
	t = s->tokens;
	if (s->rate_n != b->rate_n || s->rate_ms != b->rate_ms) {
		s->rate_n = b->rate_n;	/* the rate in use, for risk-stat */
		s->rate_ms = b->rate_ms;
		if (s->tokens_at == 0)
			t = (double)b->rate_n;	/* a new bucket is full */
	}
	if (now > s->tokens_at && s->tokens_at > 0)
		t += (double)(now - s->tokens_at) * per_ms;
	if (t > (double)b->rate_n)
		t = (double)b->rate_n;
	if (t < 0 || isnan(t))
		t = 0;
	n = (int)floor(t);
	if (n > want)
		n = want;
	s->tokens = t - n;
	s->tokens_at = now;
	if (n == 0)
		*wait_ms = (int64_t)ceil((1.0 - s->tokens) / per_ms);
	return n;
}

void
risk_source_untake(struct risk_source *s, int n)
{
	s->tokens += n;
	if (s->rate_n > 0 && s->tokens > (double)s->rate_n)
		s->tokens = (double)s->rate_n;
}

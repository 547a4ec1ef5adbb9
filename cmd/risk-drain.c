/*
 * risk-drain — the queue worker that cron runs: claim, fetch, store,
 * retry, dead-letter.
 *
 * Invariants:
 * - Requests in flight never exceed --concurrency across every drainer:
 *   an entry is fetched only while this process holds its lease, and
 *   claims take no more than the cap minus all live leases.
 * - Each finished request is settled on its own (stored, not found,
 *   retried or dead-lettered) in the transaction that also claims its
 *   replacement; a failure never takes its batch siblings with it.
 * - Nothing is lost: a kill at any point leaves every entry queued (its
 *   lease runs out), stored, or dead-lettered with its reason.  A stop by
 *   signal aborts transfers and hands their leases back uncounted.
 * - Memory is bounded by the concurrency: the queue is never loaded.
 * - Only a company's own failures count an attempt.  The service's
 *   (down, throttled, credentials rejected) hand the entry back
 *   uncounted and move the shared state of the source (lib/source.c),
 *   read and written in the same transaction as the claims: no claim is
 *   made that the state forbids, whichever drainer changed it.
 * - A run that stops for the service says so in one line on stderr, even
 *   with -q, and exits 75 (down, throttled) or 77 (credentials).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

#define MAX_SLOTS RISK_FETCH_MAX_SLOTS
#define CAPFULL_MS 100		/* others hold the cap: look again then */
#define SOON_MS 1000		/* a retry due this soon is waited for */
/*
 * Group commit.  A transaction costs more than an answer from a service
 * that answers within about a millisecond (a cache, a stand-in), and
 * then one per answer or two is what limits the drain: while every
 * answer waiting to be settled came back within FAST_MS, the drainer
 * waits up to GATHER_MS at a time for the others in flight and settles
 * them together.  A slower service's answers are settled as they come:
 * waiting for them would leave their slots idle.
 */
#define FAST_MS 1
#define GATHER_MS 1

enum { OPT_BACKOFF = OPT_FETCH_END, OPT_BREAKER, OPT_COOLDOWN, OPT_LEASE,
	OPT_MAX_ATTEMPTS, OPT_MAX_TIME, OPT_RATE };

static const struct cmd_option options[] = {
	FETCH_OPTIONS,
	{ "backoff", OPT_BACKOFF, "DUR", "30s", "base of the exponential retry delay" },
	{ "breaker", OPT_BREAKER, "N", "28",
	    "open when N of the last 32 answers failed (0: never)" },
	{ "cooldown", OPT_COOLDOWN, "DUR", "1m",
	    "one probe per this while down or rejected" },
	{ "lease", OPT_LEASE, "DUR", "2 x timeout + 10s",
	    "claims hidden this long" },
	{ "max-attempts", OPT_MAX_ATTEMPTS, "N", "5",
	    "attempts before dead-lettering" },
	{ "max-time", OPT_MAX_TIME, "DUR", "10m", "time budget of the run" },
	{ "rate", OPT_RATE, "N/DUR", "none",
	    "at most N requests per DUR, all drainers together" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

/*
 * One fetch slot: the entry this process holds a lease on, and once its
 * request finished, the answer waiting to be settled in the next
 * transaction.  Slots are addressed by index; the fetcher's udata is
 * the slot itself.
 */
struct slot {
	bool used;		/* holds a claimed entry */
	bool done;		/* its request finished: settle it next */
	struct risk_entry e;
	enum risk_fetch_outcome outcome;
	enum risk_fail_class fail;
	enum risk_outcome result;	/* how it was settled */
	bool mapped;		/* rec holds the mapped answer */
	struct risk_record rec;
	long http;
	int64_t ms, retry_after;
	char reason[256];
};

struct drain {
	struct risk_db *db;
	struct risk_fetcher *f;
	struct risk_mapper *map;
	struct slot slot[MAX_SLOTS];
	int ndone;		/* slots done, waiting to be settled */
	bool fast;		/* each of them answered within FAST_MS */
	int concurrency, max_attempts;
	int64_t timeout, lease, backoff, deadline;
	struct risk_breaker brk;
	struct risk_source src;	/* as of the last transaction */
	const char *fp;		/* the credentials' fingerprint (file, cert) */
	const char *credfile;	/* its name, for the message */
	const char *certfile;	/* the client certificate's, too */
	bool stop;		/* the source's state ends the run */
	bool abort;		/* credentials rejected: stop what is out */
	bool tripped;		/* this run opened the breaker ... */
	int tripcount;		/* ... with this many failures of 32 */
	bool probed;		/* this run sent the probe */
	struct risk_run run;
	int64_t last_progress;
};

static volatile sig_atomic_t stopping;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-drain [-hqVv] [--db PATH] [--stage NAME] [--queue PATH]\n"
	    "                  [--source URL] [--concurrency N] [--timeout DUR]\n"
	    "                  [--max-time DUR] [--max-attempts N] [--lease DUR]\n"
	    "                  [--backoff DUR] [--breaker N] [--cooldown DUR]\n"
	    "                  [--rate N/DUR] [--map FILTER |\n"
	    "                  --map-file PATH] [--map-timeout DUR]\n"
	    "                  [--max-body BYTES] [--credentials FILE]\n"
	    "                  [--cacert FILE] [--cert FILE [--key FILE]]\n");
}

/* --rate N/DUR: at most N requests per DUR, N from 1. */
static void
rate(const char *arg, struct risk_breaker *b, void (*use)(FILE *))
{
	char n[32], sbuf[80];
	const char *slash = strchr(arg, '/');

	if (slash == NULL || (size_t)(slash - arg) >= sizeof n)
		cmd_badopt(use, "--rate: %s: not N/DUR (e.g. 600/5m)",
		    cmd_safe(arg, sbuf, sizeof sbuf));
	memcpy(n, arg, (size_t)(slash - arg));
	n[slash - arg] = '\0';
	b->rate_n = cmd_number("rate", n, 1, 1000000, use);
	b->rate_ms = cmd_duration("rate", slash + 1, use);
	if (b->rate_ms <= 0)
		cmd_badopt(use, "--rate: the period must be more than 0");
}

static void
onsignal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Called by the fetcher for each finished transfer: map, then leave
 * the answer in its slot for the next transaction.  The body is valid
 * only here. */
static void
finished(const struct risk_fetch_result *r, void *arg)
{
	struct drain *d = arg;
	struct slot *x = r->udata;
	char err[RISK_ERRLEN];
	int m;

	x->done = true;
	if (d->ndone++ == 0)
		d->fast = true;
	if (r->elapsed_ms > FAST_MS)
		d->fast = false;
	x->outcome = r->outcome;
	x->fail = r->fail_class;
	x->http = r->http_status;
	x->ms = r->elapsed_ms;
	x->retry_after = r->retry_after_ms;
	x->mapped = false;
	snprintf(x->reason, sizeof x->reason, "%s", r->reason);
	memset(&x->rec, 0, sizeof x->rec);
	snprintf(x->rec.id, sizeof x->rec.id, "%s", x->e.id);
	x->rec.fetched_at = risk_now_ms() - r->elapsed_ms;
	if (r->outcome == RISK_FETCH_OK) {
		if ((m = risk_mapper_apply(d->map, r->body, r->body_len,
		    &x->rec, err)) == RISK_OK) {
			x->mapped = true;
		} else {
			x->outcome = RISK_FETCH_RETRY;
			/* a page that is not JSON at all (maintenance) is
			 * the service's; JSON without a record, the company's */
			x->fail = m == RISK_ENOTJSON ? RISK_FAIL_DOWN :
			    RISK_FAIL_COMPANY;
			snprintf(x->reason, sizeof x->reason, "%.255s", err);
		}
	}
	if (x->fail == RISK_FAIL_CREDENTIALS)
		d->abort = true;	/* no new request, none left out */
}

static void
logrow(struct drain *d, struct slot *x)
{
	struct risk_log_entry l = { .at = risk_now_ms(), .id = x->e.id,
	    .outcome = x->result, .fail_class = x->fail, .http = x->http,
	    .ms = x->ms,
	    .reason = x->reason[0] != '\0' ? x->reason : NULL };
	char err[RISK_ERRLEN];

	/* the log is a record of what happened, not part of it */
	if (risk_log_put(d->db, &l, err) != RISK_OK)
		cmd_warn("fetch log: %s", err);
}

/* What an answer tells about the service, into the shared state. */
static void
note(struct drain *d, const struct slot *x, int64_t now)
{
	if (x->outcome == RISK_FETCH_ABORTED)
		return;
	if (risk_source_note(&d->src, &d->brk, x->fail, x->reason,
	    x->retry_after, d->fp, now) && d->src.state == RISK_SRC_DOWN &&
	    !d->tripped) {
		d->tripped = true;	/* the count that opened it, now */
		d->tripcount = risk_source_failures(&d->src);
	}
}

/* Settle one finished request; a lost lease changes nothing. */
static int
settle(struct drain *d, struct slot *x, char *err)
{
	bool dead;
	int r;

	int64_t now = risk_now_ms();

	if (x->outcome == RISK_FETCH_ABORTED) {
		x->result = RISK_OUT_RELEASED;
		snprintf(x->reason, sizeof x->reason, "%s", stopping ?
		    "stopped by signal" : "stopped: credentials rejected");
		r = risk_release(d->db, &x->e, err);
	} else if (x->fail == RISK_FAIL_COMPANY) {
		r = risk_fail(d->db, &x->e, x->reason, now, d->backoff,
		    x->retry_after, d->max_attempts, &dead, err);
		x->result = dead ? RISK_OUT_DEAD : RISK_OUT_RETRY;
	} else if (x->outcome == RISK_FETCH_RETRY) {
		/* the service's failure: back uncounted, due when the
		 * service may answer (a throttle's end, or a backoff) */
		x->result = RISK_OUT_DEFERRED;
		r = risk_defer(d->db, &x->e, x->reason, x->fail ==
		    RISK_FAIL_THROTTLED ? d->src.until : x->fail ==
		    RISK_FAIL_DOWN ? now + risk_backoff_ms(d->backoff,
		    x->e.attempts, (uint64_t)random()) : now, err);
	} else {
		/* ack first: a lease lost to another drainer stores nothing */
		x->rec.found = x->outcome != RISK_FETCH_NOT_FOUND;
		if ((r = risk_ack(d->db, &x->e, err)) == RISK_OK)
			r = risk_record_put(d->db, &x->rec, NULL, err);
		x->result = x->rec.found ? RISK_OUT_STORED :
		    RISK_OUT_NOT_FOUND;
		x->reason[0] = '\0';
	}
	if (r == RISK_ELOST) {
		cmd_warn("%s", err);
		x->result = RISK_OUT_LOST;
		snprintf(x->reason, sizeof x->reason, "lease lost");
		r = RISK_OK;
	}
	if (r == RISK_OK)
		logrow(d, x);
	return r;
}

/* After the commit: count what was settled. */
static void
count(struct drain *d, const struct slot *x)
{
	switch (x->result) {
	case RISK_OUT_STORED:
		d->run.stored++;
		break;
	case RISK_OUT_NOT_FOUND:
		d->run.not_found++;
		break;
	case RISK_OUT_RETRY:
		d->run.retried++;
		break;
	case RISK_OUT_RELEASED:
	case RISK_OUT_DEFERRED:		/* handed back uncounted */
		d->run.released++;
		break;
	case RISK_OUT_DEAD:
		d->run.dead++;
		cmd_info("%s: dead-lettered after %d attempt%s: %s", x->e.id,
		    x->e.attempts, x->e.attempts == 1 ? "" : "s", x->reason);
		break;
	default:
		break;
	}
}

static bool
may_claim(struct drain *d, int64_t now)
{
	return !stopping && !d->stop && !d->abort &&
	    now + d->timeout <= d->deadline;
}

/*
 * What the source's state and --rate allow to claim now, out of want;
 * *wait_ms when to ask again if nothing.  Marks the run to stop when the
 * service is down or rejects us, or throttles past the time budget.
 */
static int
allowed(struct drain *d, int want, int64_t now, int64_t *wait_ms,
    enum risk_gate *g)
{
	int64_t w;

	*g = risk_source_gate(&d->src, &d->brk, d->fp, now, &w);
	switch (*g) {
	case RISK_GATE_STOP:	/* unless it is our own probe that is out */
		if (!d->probed || risk_fetcher_busy(d->f) == 0)
			d->stop = true;
		return 0;
	case RISK_GATE_WAIT:		/* throttled */
		if (now + w + d->timeout > d->deadline)
			d->stop = true;
		else
			*wait_ms = w;
		return 0;
	case RISK_GATE_PROBE:
		d->probed = true;
		want = 1;
		break;
	default:
		break;
	}
	want = risk_source_take(&d->src, &d->brk, want, now, &w);
	if (want == 0 && now + w + d->timeout <= d->deadline)
		*wait_ms = w;		/* the next token of --rate */
	return want;
}

/*
 * One write transaction: settle what finished, then claim as many
 * entries as there are free slots and the source allows.  *claimed is
 * how many were claimed.  When none could be, *wait_ms says how long to
 * wait before trying again (other drainers hold the cap, a throttle or
 * --rate, or an entry due within SOON_MS), or 0 when there is no reason
 * to.  The claim reads the clock after settling, so a retry that
 * settling made due is visible to it.
 */
static int
tick(struct drain *d, int *claimed, int64_t *wait_ms, char *err)
{
	struct risk_entry got[MAX_SLOTS];
	struct risk_source was;
	enum risk_gate g = RISK_GATE_OPEN;
	int i, j, n = 0, r, want, leased;
	int64_t now, next;

	*claimed = 0;
	*wait_ms = 0;
	want = may_claim(d, risk_now_ms()) ? risk_fetcher_slots(d->f) : 0;
	if (d->ndone == 0 && want == 0)
		return RISK_OK;
	if ((r = risk_db_begin(d->db, err)) != RISK_OK)
		return r;
	if ((r = risk_source_get(d->db, &d->src, err)) != RISK_OK)
		goto fail;
	was = d->src;
	now = risk_now_ms();
	for (i = 0; i < d->concurrency && d->ndone > 0; i++)
		if (d->slot[i].done)
			note(d, &d->slot[i], now);
	for (i = 0; i < d->concurrency && d->ndone > 0; i++)
		if (d->slot[i].done &&
		    (r = settle(d, &d->slot[i], err)) != RISK_OK)
			goto fail;
	now = risk_now_ms();
	if (want > 0 && may_claim(d, now))
		want = allowed(d, want, now, wait_ms, &g);
	else
		want = 0;
	if (want > 0) {
		if ((r = risk_claim(d->db, now, d->lease, want, d->concurrency,
		    d->max_attempts, got, &n, err)) != RISK_OK)
			goto fail;
		risk_source_untake(&d->src, want - n);
		if (n == 0 && g == RISK_GATE_PROBE) {
			d->src.probing = was.probing;	/* nothing to probe */
			d->src.until = was.until;
			d->probed = false;
		}
		if (n == 0) {
			if ((r = risk_queue_leased(d->db, now, &leased, err)) !=
			    RISK_OK || (r = risk_queue_next_due(d->db, &next,
			    err)) != RISK_OK)
				goto fail;
			if (leased >= d->concurrency)
				*wait_ms = CAPFULL_MS;
			else if (next - now <= SOON_MS)
				*wait_ms = next > now ? next - now : 1;
		}
	}
	if (memcmp(&was, &d->src, sizeof was) != 0 &&
	    (r = risk_source_put(d->db, &d->src, err)) != RISK_OK)
		goto fail;
	if ((r = risk_db_commit(d->db, err)) != RISK_OK)
		goto undo;
	/* settled: count them and free their slots */
	for (i = 0; i < d->concurrency && d->ndone > 0; i++) {
		if (!d->slot[i].done)
			continue;
		count(d, &d->slot[i]);
		d->slot[i].done = d->slot[i].used = false;
		d->ndone--;
	}
	for (i = 0, j = 0; i < n; i++) {
		if (got[i].buried == RISK_BURY_DEAD) {
			d->run.dead++;
			cmd_info("%s: dead-lettered: %s", got[i].id,
			    got[i].last_error);
			continue;
		}
		if (got[i].buried == RISK_BURY_DROP) {
			cmd_info("%s: dropped from the queue: %s", got[i].id,
			    got[i].last_error);
			continue;
		}
		while (d->slot[j].used)
			j++;
		d->slot[j].e = got[i];
		d->slot[j].used = true;
		if ((r = risk_fetcher_add(d->f, d->slot[j].e.id, &d->slot[j],
		    err)) != RISK_OK) {
			/* cannot happen with a free slot; the lease runs out */
			d->slot[j].used = false;
			return r;
		}
	}
	d->run.claimed += n;
	*claimed = n;
	return RISK_OK;
fail:
	risk_db_rollback(d->db);
undo:
	return r;
}

static void
progress(struct drain *d, bool last)
{
	int64_t now = risk_now_ms();

	if (verbose < 1 || !isatty(2) || (!last && now - d->last_progress <
	    500))
		return;
	d->last_progress = now;
	fprintf(stderr, "\r%s: claimed %ld, stored %ld, not found %ld, "
	    "retried %ld, dead %ld%s", progname, d->run.claimed,
	    d->run.stored, d->run.not_found, d->run.retried, d->run.dead,
	    last ? "\r\033[K" : "");
}

/* The one line of a run that stops for the service, and its status. */
static int
report(struct drain *d)
{
	const struct risk_source *s = &d->src;
	char since[32], until[32], reason[sizeof s->reason];

	if (s->state == RISK_SRC_OK || !(d->stop || d->abort ||
	    d->tripped || d->probed))
		return RISK_EXIT_OK;
	memcpy(reason, s->reason, sizeof reason);
	risk_text_clean(reason);	/* a mapping's error may quote a body */
	risk_time_format(s->since / 1000, since);
	risk_time_format((s->until + 999) / 1000, until);
	switch (s->state) {
	case RISK_SRC_CREDENTIALS:
		if (d->credfile != NULL && d->certfile != NULL)
			cmd_err("source: credentials rejected (%s); check %s "
			    "and %s", reason, d->credfile, d->certfile);
		else if (d->credfile != NULL || d->certfile != NULL)
			cmd_err("source: credentials rejected (%s); check %s",
			    reason, d->credfile ? d->credfile : d->certfile);
		else
			cmd_err("source: credentials rejected (%s); give them "
			    "with --credentials FILE", reason);
		return RISK_EXIT_NOPERM;
	case RISK_SRC_THROTTLED:
		cmd_err("source: throttled until %s (%s)", until, reason);
		return RISK_EXIT_TEMPFAIL;
	default:
		if (d->tripped)
			cmd_err("source: legacy service down: %d of the last "
			    "%d answers failed (last: %s); next probe after %s",
			    d->tripcount, RISK_BREAKER_WINDOW, reason,
			    until);
		else
			cmd_err("source: legacy service down since %s (%s: "
			    "%s); next probe after %s", since, d->probed ?
			    "probe" : "last", reason, until);
		return RISK_EXIT_TEMPFAIL;
	}
}

/* Wait for the answers in flight while they come fast (FAST_MS). */
static int
gather(struct drain *d, char *err)
{
	int n;

	while (d->fast && d->ndone > 0 && risk_fetcher_busy(d->f) > 0 &&
	    !stopping && !d->abort)
		if ((n = risk_fetcher_run(d->f, GATHER_MS, finished, d,
		    err)) <= 0)
			return n;
	return 0;
}

static int
drain(struct drain *d)
{
	char err[RISK_ERRLEN];
	int claimed, r, fails = 0;
	int64_t wait;
	bool aborted = false;

	for (;;) {
		if ((stopping || d->abort) && !aborted &&
		    risk_fetcher_busy(d->f) > 0) {
			risk_fetcher_abort(d->f, finished, d);
			aborted = true;
		}
		r = tick(d, &claimed, &wait, err);
		if (r == RISK_EBUSY && ++fails < 3) {
			cmd_warn("%s; trying again", err);
			continue;	/* results stay pending */
		}
		if (r != RISK_OK) {
			cmd_err("%s", err);
			risk_fetcher_abort(d->f, NULL, NULL);
			return risk_exit_status(r);
		}
		fails = 0;
		progress(d, false);
		if (risk_fetcher_busy(d->f) == 0 && d->ndone == 0) {
			if (!may_claim(d, risk_now_ms()))
				break;
			if (claimed == 0 && wait == 0)
				break;		/* nothing due soon */
			if (claimed == 0) {	/* the cap, a pause, a retry */
				usleep((useconds_t)(wait < 1000 ? wait : 1000) *
				    1000);
				continue;
			}
		}
		if (risk_fetcher_run(d->f, 100, finished, d, err) < 0 ||
		    (d->fast && gather(d, err) < 0)) {
			cmd_err("%s", err);
			return RISK_EXIT_ERROR;
		}
	}
	progress(d, true);
	return report(d);
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1 };
	struct cmd_fetch fx;
	struct drain d = { .max_attempts = 5, .lease = -1, .backoff = 30000,
	    .brk = { .trip = 28, .cooldown_ms = 60000, .throttle_ms = 60000 } };
	char err[RISK_ERRLEN];
	struct sigaction sa;
	int64_t maxtime = 600000;
	int c, st;

	cmd_init("risk-drain");
	cmd_fetch_init(&fx);
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage) ||
		    cmd_fetch_opt(c, optarg, &fx, usage))
			continue;
		switch (c) {
		case OPT_BACKOFF:
			d.backoff = cmd_duration("backoff", optarg, usage);
			break;
		case OPT_BREAKER:
			d.brk.trip = (int)cmd_number("breaker", optarg, 0,
			    RISK_BREAKER_WINDOW, usage);
			break;
		case OPT_COOLDOWN:
			d.brk.cooldown_ms = cmd_duration("cooldown", optarg,
			    usage);
			break;
		case OPT_LEASE:
			d.lease = cmd_duration("lease", optarg, usage);
			break;
		case OPT_MAX_ATTEMPTS:
			d.max_attempts = (int)cmd_number("max-attempts",
			    optarg, 1, 1000, usage);
			break;
		case OPT_MAX_TIME:
			maxtime = cmd_duration("max-time", optarg, usage);
			break;
		case OPT_RATE:
			rate(optarg, &d.brk, usage);
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		cmd_badopt(usage, "%s: unexpected argument (risk-drain takes "
		    "IDs from the queue; see risk-enqueue)", argv[0]);
	cmd_fetch_done(&fx, usage);
	if (d.brk.trip == 0)
		d.brk.trip = RISK_BREAKER_WINDOW + 1;	/* never opens */
	d.credfile = fx.fo.credentials;
	d.certfile = fx.fo.cert;
	d.timeout = fx.fo.timeout_ms;
	d.concurrency = fx.fo.concurrency;
	d.map = fx.map;
	/* a result is settled after the request and its mapping: a lease
	 * shorter than both would lose good answers to "lease lost" */
	if (d.lease < 0)
		d.lease = 2 * d.timeout + fx.maptime + 10000;
	if (d.lease > RISK_LEASE_MAX_MS)
		cmd_badopt(usage, "--lease: longer than a day%s",
		    d.lease == 2 * d.timeout + fx.maptime + 10000 ?
		    " (twice --timeout, plus --map-timeout)" : "");
	if (d.lease <= d.timeout + fx.maptime)
		cmd_badopt(usage, "--lease must be longer than --timeout%s",
		    fx.maptime > 0 ? " plus --map-timeout" : "");
	cmd_env(&dbo);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onsignal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	srandom((unsigned)getpid() ^ (unsigned)risk_now_ms());	/* jitter */
	d.run.started_at = risk_now_ms();
	d.deadline = d.run.started_at + maxtime;
	d.db = cmd_open(&dbo);
	if (risk_fetcher_new(&d.f, &fx.fo, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	d.fp = risk_fetcher_fingerprint(d.f);

	st = drain(&d);

	d.run.ended_at = risk_now_ms();
	d.run.exit_status = st;
	if (risk_run_put(d.db, &d.run, err) != RISK_OK)
		cmd_warn("drain summary: %s", err);
	cmd_info("claimed %ld, stored %ld, not found %ld, retried %ld, "
	    "dead %ld, released %ld in %.1f s", d.run.claimed, d.run.stored,
	    d.run.not_found, d.run.retried, d.run.dead, d.run.released,
	    (double)(d.run.ended_at - d.run.started_at) / 1000);
	risk_fetcher_free(d.f);
	risk_mapper_free(d.map);
	risk_db_close(d.db);
	if (stopping && st == RISK_EXIT_OK)
		st = RISK_EXIT_TEMPFAIL;	/* stopped before the end */
	return cmd_fshut(st);
}

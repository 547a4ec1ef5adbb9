/*
 * risk-get — answer from the cache; queue misses and stale records.
 *
 * Never talks to the legacy service and never links libcurl: a lookup is
 * one primary-key probe.  Enqueues made while answering are batched in a
 * write transaction that is committed whenever input pauses, every
 * BATCH enqueues and at the end, so neither a long pipe nor a slow typist
 * holds the write lock for long.
 *
 * With GATEWAY_INTERFACE set it is a CGI program instead: one request
 * from the environment, one response (lib/cgi.c), argv never read.
 * Started on a listening socket (standard input), it is a FastCGI
 * server with the same answers, request after request (fastcgi()).
 */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define BATCH 10000
#define MAX_AGE (3600 * 1000)		/* --max-age, ms */
#define NF_MAX_AGE (900 * 1000)		/* --not-found-max-age, ms */

enum { OPT_ALL = OPT_COMMON_END, OPT_JQ, OPT_MAX_AGE, OPT_NF_MAX_AGE,
	OPT_NO_ENQUEUE };

static const struct cmd_option options[] = {
	{ "all", OPT_ALL, NULL, NULL, "print every cached record, in ID order" },
	{ "jq", OPT_JQ, "FILTER", NULL, "apply a jq filter to each output object" },
	{ "max-age", OPT_MAX_AGE, "DUR", "1h", "freshness window for records" },
	{ "no-enqueue", OPT_NO_ENQUEUE, NULL, NULL,
	    "never touch the queue (read-only use)" },
	{ "not-found-max-age", OPT_NF_MAX_AGE, "DUR", "15m",
	    "freshness of not_found answers" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

struct get {
	int status;		/* first: cmd_bad_id() sets it */
	struct risk_db *db;
	struct risk_printer out;
	int64_t now;
	int64_t max_age;
	int64_t nf_max_age;
	bool enqueue;
	struct cmd_batch w;	/* enqueues */
	struct lookups *ask;	/* IDs read, not answered yet */
};

/* IDs looked up together: one round trip to a server for all of them. */
struct lookups {
	int n;
	char id[RISK_GET_MANY][RISK_ID_MAX + 1];
	const char *ids[RISK_GET_MANY];
	struct risk_record rec[RISK_GET_MANY];
	bool found[RISK_GET_MANY];
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-get [-hqVv] [--db PATH] [--stage NAME] [--queue PATH]\n"
	    "                [--max-age DUR] [--not-found-max-age DUR]\n"
	    "                [--no-enqueue] [--jq FILTER] [--all | ID ...]\n");
}

static void answer_all(struct get *g);

static int
idle(void *arg)
{
	struct get *g = arg;

	answer_all(g);
	cmd_batch_commit(&g->w);
	fflush(stdout);
	return 0;
}

/* Queue a fetch; false (and enqueueing stops) on a database error. */
/* A miss is high priority (someone is waiting), a stale record normal. */
static bool
enqueue(struct get *g, const char *id, enum risk_priority prio)
{
	char err[RISK_ERRLEN];
	bool isnew, queued;
	int r;

	if (!g->enqueue || cmd_batch_begin(&g->w) != 0)
		return false;
	if ((r = risk_enqueue_prio(g->db, id, g->now, prio, &isnew, &queued,
	    err)) != RISK_OK) {
		cmd_batch_fail(&g->w, r, err);	/* enqueueing stops */
		return false;
	}
	cmd_batch_done(&g->w);
	return queued;
}

static int
print(struct get *g, struct risk_view *v)
{
	char err[RISK_ERRLEN];
	int r;

	if ((r = risk_print_view(&g->out, v, err)) == RISK_OK)
		return 0;
	if (r == RISK_EIO) {
		cmd_err("standard output: write error");
		exit(RISK_EXIT_ERROR);
	}
	cmd_err("%s: %s", v->id, err);
	cmd_worse(&g->status, RISK_EXIT_ERROR);
	return 0;
}

/* Answer for id, whose record is rec (NULL: none cached). */
static void
answer(struct get *g, const char *id, const struct risk_record *rec)
{
	struct risk_view v = { .id = id, .now_ms = g->now };

	if (rec != NULL) {
		v.rec = rec;
		v.max_age_ms = rec->found ? g->max_age : g->nf_max_age;
		if (g->now - rec->fetched_at > v.max_age_ms)
			v.queued = enqueue(g, id, RISK_PRIO_NORMAL);
		if (!rec->found)
			cmd_worse(&g->status, RISK_EXIT_PARTIAL);
	} else {
		v.queued = enqueue(g, id, RISK_PRIO_HIGH);
		cmd_worse(&g->status, RISK_EXIT_PARTIAL);
	}
	print(g, &v);
}

/* Look up the IDs read so far, all at once, and answer each in turn. */
static void
answer_all(struct get *g)
{
	struct lookups *a = g->ask;
	char err[RISK_ERRLEN];
	int i, r = RISK_OK;

	if (a->n == 0)
		return;
	if (g->db == NULL)
		memset(a->found, 0, sizeof a->found[0] * (size_t)a->n);
	else
		r = risk_record_get_many(g->db, a->ids, a->n, a->rec,
		    a->found, err);
	if (r != RISK_OK) {
		cmd_err("%s", err);	/* once, not once an ID */
		cmd_worse(&g->status, risk_exit_status(r));
	} else {
		for (i = 0; i < a->n; i++)
			answer(g, a->ids[i], a->found[i] ? &a->rec[i] : NULL);
	}
	a->n = 0;
}

static int
one(const char *id, void *arg)
{
	struct get *g = arg;
	struct lookups *a = g->ask;

	snprintf(a->id[a->n], sizeof a->id[a->n], "%s", id);
	a->ids[a->n] = a->id[a->n];
	if (++a->n == RISK_GET_MANY)
		answer_all(g);
	return 0;
}

static int
all(const struct risk_record *rec, void *arg)
{
	struct get *g = arg;
	struct risk_view v = { .id = rec->id, .rec = rec, .now_ms = g->now,
	    .max_age_ms = rec->found ? g->max_age : g->nf_max_age };

	return print(g, &v);
}

/* CGI: queue one fetch of id now, in its own transaction. */
static int
cgi_enqueue(struct risk_db *db, const char *id, int64_t now,
    enum risk_priority prio, bool *queued)
{
	char err[RISK_ERRLEN];
	bool isnew;
	int r;

	*queued = false;
	if ((r = risk_db_begin(db, err)) == RISK_OK &&
	    (r = risk_enqueue_prio(db, id, now, prio, &isnew, queued, err)) ==
	    RISK_OK &&
	    (r = risk_db_commit(db, err)) == RISK_OK)
		return RISK_OK;
	risk_db_rollback(db);
	*queued = false;
	cmd_err("%s", err);
	return r;
}

/*
 * One HTTP request, answered on out (lib/cgi.c has the table).  The
 * database is opened on the first request that needs it and kept in
 * *dbp; a database error closes it again, so that the next request tries
 * afresh; dbo NULL (a bad environment) answers 503.  Whatever goes wrong, the client gets a JSON error with a
 * fixed code; the reason goes to standard error, which the server logs.
 * RISK_OK, or RISK_EIO when the answer could not be written.
 */
static int
respond(const struct risk_cgi_env *env, const struct risk_db_opts *dbo,
    struct risk_db **dbp, FILE *out)
{
	struct risk_cgi_req req;
	struct risk_cgi_resp resp;
	struct risk_record rec;
	struct risk_view v = { .now_ms = risk_now_ms() };
	char err[RISK_ERRLEN];
	int r = RISK_OK;

	if (risk_cgi_parse(env, &req) == RISK_OK) {
		v.id = req.id;
		if (*dbp == NULL && dbo == NULL)
			r = RISK_EINVAL;	/* said once, by the caller */
		else if (*dbp == NULL &&
		    (r = risk_db_open(dbp, dbo, err)) != RISK_OK)
			cmd_err("%s", err);
		else if ((r = risk_record_get(*dbp, req.id, &rec, err)) ==
		    RISK_OK) {
			v.rec = &rec;
			v.max_age_ms = rec.found ? MAX_AGE : NF_MAX_AGE;
			/* a failed refresh still answers from the cache */
			if (v.now_ms - rec.fetched_at > v.max_age_ms)
				cgi_enqueue(*dbp, req.id, v.now_ms,
				    RISK_PRIO_NORMAL, &v.queued);
		} else if (r == RISK_ENOTFOUND) {
			r = cgi_enqueue(*dbp, req.id, v.now_ms,
			    RISK_PRIO_HIGH, &v.queued);
		} else {
			cmd_err("%s", err);
		}
		if (r != RISK_OK && r != RISK_EBUSY) {
			risk_db_close(*dbp);
			*dbp = NULL;
		}
	}
	risk_cgi_answer(&req, &v, r, &resp);
	return risk_cgi_write(out, &resp, err);
}

/*
 * CGI mode: one request from the environment, one response on standard
 * output.  The arguments are ignored: some servers turn a query string
 * into arguments, and those must never become options.  The database is
 * named by RISK_DB, RISK_QUEUE and RISK_STAGE as the server sets them.
 */
static int
cgi(void)
{
	struct risk_cgi_env env = {
		.method = getenv("REQUEST_METHOD"),
		.path_info = getenv("PATH_INFO"),
		.query = getenv("QUERY_STRING"),
		.if_none_match = getenv("HTTP_IF_NONE_MATCH"),
		.if_modified_since = getenv("HTTP_IF_MODIFIED_SINCE"),
	};
	/* never create: a web user makes no file (risk-setup-web makes
	 * them all beforehand), and a typo in RISK_DB must not pass */
	struct risk_db_opts dbo = { .busy_ms = -1, .nocreate = true };
	struct risk_db *db = NULL;
	char err[RISK_ERRLEN];
	bool envok;
	int r;

	if (!(envok = risk_db_opts_env(&dbo, err) == RISK_OK))
		cmd_err("%s", err);
	r = respond(&env, envok ? &dbo : NULL, &db, stdout);
	risk_db_close(db);
	if (r != RISK_OK) {
		cmd_err("standard output: write error");
		return RISK_EXIT_ERROR;
	}
	return RISK_EXIT_OK;
}

/*
 * FastCGI mode: the server started us on a listening socket (lighttpd's
 * bin-path, spawn-fcgi) and sends request after request.  The same
 * answers as CGI; what a long-lived process adds:
 * - The database is named by the process's environment, read once
 *   (lighttpd bin-environment, the unit's Environment=); no request
 *   parameter can point it elsewhere.  Opened once, kept open.
 * - Between requests every statement is reset and no transaction is
 *   open (risk_db_settle), so each request sees every commit made before
 *   it and no checkpoint waits for us.  A database file replaced under
 *   us (a restore, a file moved into place) is noticed by its inode
 *   before the next lookup and opened afresh.
 * - SIGTERM while waiting for a request ends the process at once (there
 *   is nothing in hand); during a request, after its answer.  A client
 *   gone away (EPIPE) only ends that request.
 */
static volatile sig_atomic_t stopping, waiting;

static void
on_term(int sig)
{
	(void)sig;
	if (waiting)
		_exit(RISK_EXIT_OK);
	stopping = 1;
}

static int
fastcgi(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	/* never create, as cgi() */
	struct risk_db_opts dbo = { .busy_ms = -1, .nocreate = true };
	struct risk_db *db = NULL;
	struct risk_fcgi *f;
	struct risk_cgi_env env;
	char err[RISK_ERRLEN], path[PATH_MAX];
	int r;

	if (risk_db_opts_env(&dbo, err) != RISK_OK ||
	    risk_db_path(&dbo, path, sizeof path, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	if (risk_fcgi_open(&f, 0, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: accept ends */
	while (!stopping) {
		risk_fcgi_finish(f);
		waiting = 1;
		if (stopping)
			break;
		r = risk_fcgi_accept(f, &env, err);
		waiting = 0;
		if (r != RISK_OK) {
			if (!stopping)
				cmd_err("%s", err);
			break;
		}
		if (db != NULL && risk_db_replaced(db)) {
			cmd_warn(strcmp(risk_db_engine(db), "sqlite") == 0 ?
			    "%s: file replaced: opening it again" :
			    "%s: connection lost: connecting again", path);
			risk_db_close(db);
			db = NULL;
		}
		/* a write error is a client gone: that request only */
		respond(&env, &dbo, &db, risk_fcgi_out(f));
		risk_db_settle(db);
	}
	waiting = 0;
	risk_fcgi_close(f);
	risk_db_close(db);
	return stopping ? RISK_EXIT_OK : RISK_EXIT_ERROR;
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1 };
	struct get g = { .max_age = MAX_AGE, .nf_max_age = NF_MAX_AGE,
	    .enqueue = true };
	struct risk_loop loop = { .id = one, .bad = cmd_bad_id, .idle = idle,
	    .arg = &g, .fd = 0 };
	const char *jq = NULL;
	char err[RISK_ERRLEN];
	bool listall = false;
	int c, r;

	cmd_init("risk-get");
	if (risk_fcgi_listening(0))
		return fastcgi();
	if (getenv("GATEWAY_INTERFACE") != NULL)
		return cgi();
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage))
			continue;
		switch (c) {
		case OPT_ALL:
			listall = true;
			break;
		case OPT_JQ:
			jq = optarg;
			break;
		case OPT_MAX_AGE:
			g.max_age = cmd_duration("max-age", optarg, usage);
			break;
		case OPT_NF_MAX_AGE:
			g.nf_max_age = cmd_duration("not-found-max-age",
			    optarg, usage);
			break;
		case OPT_NO_ENQUEUE:
			g.enqueue = false;
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (listall && argc > 0)
		cmd_badopt(usage, "--all takes no IDs");

	if (jq != NULL && risk_filter_new(&g.out.filter, jq, err) != RISK_OK)
		cmd_badopt(usage, "--jq: %s", err);
	g.out.fp = stdout;
	cmd_env(&dbo);
	dbo.readonly = !g.enqueue || listall;
	/* A reader never creates a database, and a missing one is an error
	 * (a typo in RISK_DB must not read as "not cached"); an empty file,
	 * one that another process is making, is all misses. */
	r = risk_db_open(&g.db, &dbo, err);
	if (r == RISK_ENOTFOUND)
		g.db = NULL;
	else if (r != RISK_OK)
		cmd_die(cmd_fatal_status(r), "%s", err);
	g.w = (struct cmd_batch){ .db = g.db, .status = &g.status,
	    .max = BATCH, .off = g.db == NULL,
	    .rdonly_hint = "use --no-enqueue to only read" };
	g.now = risk_now_ms();

	if (listall) {
		if (g.db != NULL &&
		    (r = risk_record_each(g.db, all, &g, err)) != RISK_OK) {
			cmd_err("%s", err);
			cmd_worse(&g.status, risk_exit_status(r));
		}
	} else {
		if ((g.ask = malloc(sizeof *g.ask)) == NULL)
			cmd_die(RISK_EXIT_ERROR, "out of memory");
		g.ask->n = 0;
		if ((r = risk_loop(argc, argv, &loop, err)) < 0) {
			cmd_err("%s", err);
			cmd_worse(&g.status, RISK_EXIT_ERROR);
		}
		answer_all(&g);
		free(g.ask);
	}
	cmd_batch_commit(&g.w);
	risk_db_close(g.db);
	risk_filter_free(g.out.filter);
	return cmd_fshut(g.status);
}

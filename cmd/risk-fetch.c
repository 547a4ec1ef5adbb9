/*
 * risk-fetch — ask the legacy service now and print the records.
 *
 * Requests run concurrently, never more than --concurrency at once, and
 * results print in input order: a finished record waits in a bounded
 * window until those before it are printed, and no new request starts
 * while the window is full, so memory stays flat for any input length.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

enum { OPT_JQ = OPT_FETCH_END, OPT_RAW, OPT_STORE };

static const struct cmd_option options[] = {
	FETCH_OPTIONS,
	{ "jq", OPT_JQ, "FILTER", NULL, "apply a jq filter to each output object" },
	{ "raw", OPT_RAW, NULL, NULL, "print each body as received" },
	{ "store", OPT_STORE, NULL, NULL, "also write the answers into the cache" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

#define WINDOW_PER_SLOT 8

/* One input ID, from the time it is read until its line is printed. */
struct item {
	char id[RISK_ID_MAX + 1];
	bool done, ok;
	struct risk_record rec;
	char *raw;		/* --raw: the body as received */
	size_t rawlen;
	char reason[256];
};

struct fetch {
	int status;		/* first: cmd_bad_id() sets it */
	struct risk_fetcher *f;
	struct risk_mapper *map;
	struct risk_db *db;
	struct risk_printer out;
	struct item *win;	/* ring of nwin items, in input order */
	size_t nwin, head, count;
	bool raw;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-fetch [-hqVv] [--source URL] [--concurrency N]\n"
	    "                  [--timeout DUR] [--map FILTER | --map-file PATH]\n"
	    "                  [--map-timeout DUR]\n"
	    "                  [--max-body BYTES] [--credentials FILE] [--raw]\n"
	    "                  [--cacert FILE] [--cert FILE [--key FILE]]\n"
	    "                  [--jq FILTER] [--store [--db PATH] [--stage NAME]\n"
	    "                  [--queue PATH]] [ID ...]\n");
}

static void
finished(const struct risk_fetch_result *r, void *arg)
{
	struct fetch *x = arg;
	struct item *it = r->udata;
	char err[RISK_ERRLEN];

	it->done = true;
	snprintf(it->rec.id, sizeof it->rec.id, "%s", it->id);
	it->rec.fetched_at = risk_now_ms() - r->elapsed_ms;
	if (r->outcome == RISK_FETCH_NOT_FOUND && x->raw) {
		snprintf(it->reason, sizeof it->reason, "not found (HTTP 404)");
	} else if (r->outcome == RISK_FETCH_NOT_FOUND) {
		it->ok = true;
		it->rec.found = false;
	} else if (r->outcome == RISK_FETCH_RETRY) {
		snprintf(it->reason, sizeof it->reason, "%s", r->reason);
	} else if (x->raw) {
		if ((it->raw = malloc(r->body_len + 1)) == NULL) {
			snprintf(it->reason, sizeof it->reason,
			    "out of memory");
			return;
		}
		memcpy(it->raw, r->body, r->body_len);
		it->rawlen = r->body_len;
		it->ok = true;
	} else if (risk_mapper_apply(x->map, r->body, r->body_len, &it->rec,
	    err) == RISK_OK) {
		it->ok = true;
	} else {
		snprintf(it->reason, sizeof it->reason, "%.255s", err);
	}
}

static void
emit(struct fetch *x, struct item *it)
{
	struct risk_view v = { .id = it->id, .rec = &it->rec,
	    .now_ms = it->rec.fetched_at, .max_age_ms = INT64_MAX / 2 };
	char err[RISK_ERRLEN];
	int r;

	if (it->ok && !x->raw && x->db != NULL) {
		/* print what the cache now holds (its status_changed_at);
		 * nothing when the store failed */
		if ((r = risk_record_put(x->db, &it->rec, NULL, err)) !=
		    RISK_OK || (r = risk_record_get(x->db, it->id, &it->rec,
		    err)) != RISK_OK) {
			cmd_err("%s", err);
			cmd_worse(&x->status, risk_exit_status(r));
			return;
		}
	} else if (it->rec.changed_at == 0) {
		it->rec.changed_at = it->rec.fetched_at / 1000;
	}
	if (!it->ok) {
		cmd_err("%s: %s", it->id, it->reason);
		cmd_worse(&x->status, RISK_EXIT_PARTIAL);
		return;
	}
	if (x->raw) {
		fwrite(it->raw, 1, it->rawlen, stdout);
		if (it->rawlen == 0 || it->raw[it->rawlen - 1] != '\n')
			putchar('\n');
		free(it->raw);
		it->raw = NULL;
	} else if ((r = risk_print_view(&x->out, &v, err)) != RISK_OK) {
		if (r == RISK_EIO)
			cmd_die(RISK_EXIT_ERROR, "standard output: %s",
			    strerror(errno ? errno : EIO));
		cmd_err("%s: %s", it->id, err);
		cmd_worse(&x->status, RISK_EXIT_ERROR);
	}
	if (ferror(stdout))
		cmd_die(RISK_EXIT_ERROR, "standard output: %s",
		    strerror(errno ? errno : EIO));
	if (!it->rec.found && !x->raw)
		cmd_worse(&x->status, RISK_EXIT_PARTIAL);
}

/* Print every finished item at the head of the window. */
static void
flush_window(struct fetch *x)
{
	struct item *it;

	while (x->count > 0 && (it = &x->win[x->head])->done) {
		emit(x, it);
		x->head = (x->head + 1) % x->nwin;
		x->count--;
	}
}

static int
step(struct fetch *x)
{
	char err[RISK_ERRLEN];

	if (risk_fetcher_run(x->f, 200, finished, x, err) < 0)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	flush_window(x);
	return 0;
}

static int
one(const char *id, void *arg)
{
	struct fetch *x = arg;
	struct item *it;
	char err[RISK_ERRLEN];

	while (risk_fetcher_slots(x->f) == 0 || x->count == x->nwin)
		step(x);
	it = &x->win[(x->head + x->count) % x->nwin];
	memset(it, 0, sizeof *it);
	snprintf(it->id, sizeof it->id, "%s", id);
	x->count++;
	if (risk_fetcher_add(x->f, it->id, it, err) != RISK_OK) {
		it->done = true;
		snprintf(it->reason, sizeof it->reason, "%.255s", err);
	}
	flush_window(x);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1 };
	struct cmd_fetch fx;
	struct fetch x = { 0 };
	struct risk_loop loop = { .id = one, .bad = cmd_bad_id, .arg = &x,
	    .fd = 0 };
	const char *jq = NULL;
	char err[RISK_ERRLEN];
	bool store = false;
	int c, r;

	cmd_init("risk-fetch");
	cmd_fetch_init(&fx);
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage) ||
		    cmd_fetch_opt(c, optarg, &fx, usage))
			continue;
		switch (c) {
		case OPT_JQ:
			jq = optarg;
			break;
		case OPT_RAW:
			x.raw = true;
			break;
		case OPT_STORE:
			store = true;
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (x.raw && (store || jq != NULL))
		cmd_badopt(usage, "--raw goes with neither --store nor --jq");
	cmd_fetch_done(&fx, usage);
	x.map = fx.map;
	if (jq != NULL && risk_filter_new(&x.out.filter, jq, err) != RISK_OK)
		cmd_badopt(usage, "--jq: %s", err);
	x.out.fp = stdout;
	cmd_env(&dbo);
	signal(SIGPIPE, SIG_DFL);	/* `risk-fetch … | head` ends quietly */
	if (store)
		x.db = cmd_open(&dbo);
	if (risk_fetcher_new(&x.f, &fx.fo, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	x.nwin = (size_t)fx.fo.concurrency * WINDOW_PER_SLOT;
	if ((x.win = calloc(x.nwin, sizeof *x.win)) == NULL)
		cmd_die(RISK_EXIT_ERROR, "out of memory");

	if ((r = risk_loop(argc, argv, &loop, err)) < 0) {
		cmd_err("%s", err);
		cmd_worse(&x.status, RISK_EXIT_ERROR);
	}
	while (x.count > 0)
		step(&x);

	risk_fetcher_free(x.f);
	risk_mapper_free(x.map);
	risk_filter_free(x.out.filter);
	risk_db_close(x.db);
	free(x.win);
	return cmd_fshut(x.status);
}

/*
 * risk-enqueue — put companies on the fetch queue, or redrive dead
 * letters back onto it.
 *
 * Idempotent: a company already queued keeps its entry (an earlier due
 * time wins for entries not yet tried; a retry keeps its backoff).  Work
 * is batched in write transactions committed whenever input pauses and
 * every BATCH IDs, so a million IDs cost one pass and memory stays flat.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define BATCH 10000
#define MAX_REDRIVES 3

enum { OPT_DELAY = OPT_COMMON_END, OPT_MAX_REDRIVES, OPT_PRIORITY,
	OPT_REDRIVE };

static const struct cmd_option options[] = {
	{ "delay", OPT_DELAY, "DUR", "0", "due this long from now" },
	{ "max-redrives", OPT_MAX_REDRIVES, "N", "3",
	    "refuse letters redriven N times" },
	{ "priority", OPT_PRIORITY, "LEVEL", "normal",
	    "high, normal or low; raises, never lowers" },
	{ "redrive", OPT_REDRIVE, NULL, NULL,
	    "move dead letters (all, or IDs) back to the queue" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

struct enq {
	int status;		/* first: cmd_bad_id() sets it */
	struct risk_db *db;
	int64_t due;
	enum risk_priority prio;
	int max_redrives;
	bool redrive;
	struct cmd_batch w;
	long added, already, dead, redriven;
	struct cmd_progress prog;	/* IDs handled */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-enqueue [-hqVv] [--db PATH] [--stage NAME] [--queue PATH]\n"
	    "                    [--delay DUR] [--priority high|normal|low]\n"
	    "                    [ID ...]\n"
	    "       risk-enqueue --redrive [--max-redrives N] [-hqVv] [--db PATH]\n"
	    "                    [--stage NAME] [--queue PATH] [ID ...]\n");
}

/* A database error ends the run: what was committed stays committed. */
static int
fatal(struct enq *q, int r, const char *err)
{
	cmd_batch_fail(&q->w, r, err);
	return 1;
}

static int
idle(void *arg)
{
	struct enq *q = arg;

	cmd_progress_add(&q->prog, 0);
	return cmd_batch_commit(&q->w) != 0;
}

static int
one(const char *id, void *arg)
{
	struct enq *q = arg;
	char err[RISK_ERRLEN];
	bool isnew, queued;
	int r;

	cmd_progress_add(&q->prog, 1);
	if (q->redrive) {
		r = risk_redrive(q->db, id, risk_now_ms(), q->max_redrives,
		    err);
		if (r == RISK_OK) {
			q->redriven++;
		} else if (r == RISK_ENOTFOUND || r == RISK_EFULL) {
			cmd_err("%s", err);
			cmd_worse(&q->status, RISK_EXIT_PARTIAL);
		} else {
			return fatal(q, r, err);
		}
		return 0;
	}
	if (cmd_batch_begin(&q->w) != 0)
		return 1;
	if ((r = risk_enqueue_prio(q->db, id, risk_now_ms() + q->due,
	    q->prio, &isnew, &queued, err)) != RISK_OK)
		return fatal(q, r, err);
	if (isnew)
		q->added++;
	else if (queued)
		q->already++;
	else {
		q->dead++;
		cmd_warn("%s: dead-lettered; not queued (use --redrive)", id);
		cmd_worse(&q->status, RISK_EXIT_PARTIAL);
	}
	return cmd_batch_done(&q->w) != 0;
}

static int
collect(const struct risk_dead *d, void *arg)
{
	FILE *fp = arg;

	fprintf(fp, "%s\n", d->id);
	return 0;
}

/* --redrive with no IDs: every dead letter (listed first, then moved). */
static void
redrive_all(struct enq *q)
{
	char err[RISK_ERRLEN], *buf = NULL, *line, *next;
	size_t len = 0;
	FILE *fp;
	int r;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		cmd_die(RISK_EXIT_ERROR, "out of memory");
	r = risk_dead_each(q->db, collect, fp, err);
	if (fclose(fp) != 0)
		cmd_die(RISK_EXIT_ERROR, "out of memory");
	if (r != RISK_OK) {
		free(buf);
		fatal(q, r, err);
		return;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		if (one(line, q) != 0)
			break;
	}
	free(buf);
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1 };
	struct enq q = { .max_redrives = MAX_REDRIVES,
	    .prio = RISK_PRIO_NORMAL };
	struct risk_loop loop = { .id = one, .bad = cmd_bad_id, .idle = idle,
	    .arg = &q, .fd = 0 };
	char err[RISK_ERRLEN];
	bool delay = false, prio = false;
	char sbuf[80];
	int c, r;

	cmd_init("risk-enqueue");
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage))
			continue;
		switch (c) {
		case OPT_DELAY:
			q.due = cmd_duration("delay", optarg, usage);
			delay = true;
			break;
		case OPT_MAX_REDRIVES:
			q.max_redrives = (int)cmd_number("max-redrives",
			    optarg, 0, 1000000, usage);
			break;
		case OPT_PRIORITY:
			if (strcmp(optarg, "high") == 0)
				q.prio = RISK_PRIO_HIGH;
			else if (strcmp(optarg, "normal") == 0)
				q.prio = RISK_PRIO_NORMAL;
			else if (strcmp(optarg, "low") == 0)
				q.prio = RISK_PRIO_LOW;
			else
				cmd_badopt(usage, "--priority: %s: not high, "
				    "normal or low", cmd_safe(optarg, sbuf,
				    sizeof sbuf));
			prio = true;
			break;
		case OPT_REDRIVE:
			q.redrive = true;
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (q.redrive && delay)
		cmd_badopt(usage, "--delay does not go with --redrive");
	if (q.redrive && prio)
		cmd_badopt(usage, "--priority does not go with --redrive");
	if (!q.redrive && q.max_redrives != MAX_REDRIVES)
		cmd_badopt(usage, "--max-redrives goes with --redrive");

	cmd_env(&dbo);
	q.db = q.w.db = cmd_open(&dbo);
	q.w.status = &q.status;
	q.w.max = BATCH;
	cmd_progress_init(&q.prog, "IDs");
	if (q.redrive && argc == 0)
		redrive_all(&q);
	else if ((r = risk_loop(argc, argv, &loop, err)) < 0) {
		cmd_err("%s", err);	/* the loop's own (input) error */
		cmd_worse(&q.status, RISK_EXIT_ERROR);
	}
	cmd_batch_commit(&q.w);
	cmd_progress_end(&q.prog);
	risk_db_close(q.db);
	if (q.redrive)
		cmd_info("%ld redriven", q.redriven);
	else
		cmd_info("%ld queued, %ld already queued, %ld dead-lettered",
		    q.added, q.already, q.dead);
	return cmd_fshut(q.status);
}

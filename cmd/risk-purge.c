/*
 * risk-purge — remove old records (or old dead letters), and trim the
 * fetch log, the drain summaries and the status history.
 *
 * Invariants:
 * - Deletes go in batches of --batch rows, each its own short write
 *   transaction: a purge of millions never keeps drainers or risk-enqueue
 *   waiting for more than a batch.
 * - What is printed for a batch is flushed before that batch commits, so
 *   `risk-purge --dead --print | risk-enqueue` never loses a company: a
 *   closed pipe (SIGPIPE) or a write error ends the run with the batch
 *   rolled back, still dead-lettered.
 * - --dry-run writes nothing at all, and takes no write lock.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define DAY (INT64_C(86400) * 1000)
#define RECORDS_AGE (30 * DAY)
#define DEAD_AGE (14 * DAY)
#define LOG_AGE (7 * DAY)
#define HISTORY_AGE (365 * DAY)

enum { OPT_BATCH = OPT_COMMON_END, OPT_DEAD, OPT_DRY_RUN,
	OPT_HISTORY_OLDER_THAN, OPT_JSON, OPT_LOG_OLDER_THAN, OPT_OLDER_THAN,
	OPT_PRINT, OPT_VACUUM };

static const struct cmd_option options[] = {
	{ "batch", OPT_BATCH, "N", "1000", "rows per transaction" },
	{ "dead", OPT_DEAD, NULL, NULL, "remove dead letters instead of records" },
	{ "dry-run", OPT_DRY_RUN, NULL, NULL, "list what would go, change nothing" },
	{ "history-older-than", OPT_HISTORY_OLDER_THAN, "DUR", "365d",
	    "trim status history older than this (never the newest)" },
	{ "json", OPT_JSON, NULL, NULL, "print each row removed as JSON" },
	{ "log-older-than", OPT_LOG_OLDER_THAN, "DUR", "7d",
	    "trim fetch-log rows older than this" },
	{ "older-than", OPT_OLDER_THAN, "DUR", "30d, dead 14d",
	    "remove what is older than this" },
	{ "print", OPT_PRINT, NULL, NULL, "print the IDs removed, one per line" },
	{ "vacuum", OPT_VACUUM, NULL, NULL,
	    "give the free space back to the file system" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

enum form { NONE, IDS, LIST, JSON };

struct purge {
	enum form form;
	int status;
	struct cmd_progress prog;	/* rows removed */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-purge [-hqVv] [--db PATH] [--stage NAME] [--queue PATH]\n"
	    "                  [--dead] [--older-than DUR] [--log-older-than DUR]\n"
	    "                  [--history-older-than DUR]\n"
	    "                  [--dry-run] [--print] [--json] [--batch N] [--vacuum]\n");
}

static int
flush(void *arg)
{
	(void)arg;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_err("standard output: %s", strerror(errno ? errno : EIO));
		return RISK_EXIT_ERROR;
	}
	return 0;
}

/*
 * A removed row: with --print its ID (from the queue file for a dead
 * letter: as plain text), with --dry-run its line, printed already with
 * status r; 0, or the exit status that stops the purge.
 */
static int
show(struct purge *p, const char *id, int r)
{
	cmd_progress_add(&p->prog, 1);
	if (p->form == IDS) {
		risk_text_print(stdout, id);
		putchar('\n');
	}
	return r != RISK_OK || ferror(stdout) ? flush(p) : 0;
}

static bool
listed(const struct purge *p)
{
	return p->form == LIST || p->form == JSON;
}

static int
record(const struct risk_record *rec, void *arg)
{
	struct purge *p = arg;
	char err[RISK_ERRLEN];

	return show(p, rec->id, listed(p) ? risk_record_print(stdout, rec,
	    p->form == JSON, err) : RISK_OK);
}

static int
dead(const struct risk_dead *d, void *arg)
{
	struct purge *p = arg;
	char err[RISK_ERRLEN];

	return show(p, d->id, listed(p) ? risk_dead_print(stdout, d,
	    p->form == JSON, err) : RISK_OK);
}

/* VACUUM goes on: the clock on the progress line moves. */
static void
tick(void *arg)
{
	cmd_progress_add(arg, 0);
}

/* A library error: message, and the status it maps to. */
static int
failed(int r, const char *err)
{
	if (r > 0)		/* a callback stopped it and said why */
		return r;
	cmd_err("%s", err);
	return cmd_fatal_status(r);
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1 };
	struct purge pu = { .form = NONE };
	struct risk_purge p = { .record = record, .dead = dead,
	    .flush = flush, .arg = &pu };
	struct risk_db *db;
	char err[RISK_ERRLEN];
	int64_t older = -1, log_older = LOG_AGE, hist_older = HISTORY_AGE, now;
	long n = 0, nlog = 0, nrun = 0, nhist = 0;
	bool dead_mode = false, print = false, json = false, vacuum = false;
	int c, r, st = RISK_EXIT_OK;

	cmd_init("risk-purge");
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage))
			continue;
		switch (c) {
		case OPT_BATCH:
			p.batch = (int)cmd_number("batch", optarg, 1, 1000000,
			    usage);
			break;
		case OPT_DEAD:
			dead_mode = true;
			break;
		case OPT_DRY_RUN:
			p.dry_run = true;
			break;
		case OPT_HISTORY_OLDER_THAN:
			hist_older = cmd_duration("history-older-than", optarg,
			    usage);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_LOG_OLDER_THAN:
			log_older = cmd_duration("log-older-than", optarg,
			    usage);
			break;
		case OPT_OLDER_THAN:
			older = cmd_duration("older-than", optarg, usage);
			break;
		case OPT_PRINT:
			print = true;
			break;
		case OPT_VACUUM:
			vacuum = true;
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		cmd_badopt(usage, "%s: unexpected argument (risk-purge takes "
		    "no IDs)", argv[0]);
	if (print && json)
		cmd_badopt(usage, "--print and --json exclude each other");
	if (older < 0)
		older = dead_mode ? DEAD_AGE : RECORDS_AGE;
	pu.form = json ? JSON : print ? IDS : p.dry_run ? LIST : NONE;
	/* `risk-purge --print | head` ends quietly, its batch rolled back */
	signal(SIGPIPE, SIG_DFL);

	cmd_env(&dbo);
	dbo.readonly = p.dry_run;
	dbo.nocreate = true;	/* a typo in RISK_DB must not pass as done */
	db = cmd_open(&dbo);
	cmd_progress_init(&pu.prog, p.dry_run ? "to remove" : "removed");
	now = risk_now_ms();
	p.before_ms = now - older;
	if (dead_mode)
		r = risk_purge_dead(db, &p, &n, err);
	else
		r = risk_purge_records(db, &p, &n, err);
	if (r != RISK_OK)
		st = failed(r, err);
	if (st == RISK_EXIT_OK) {
		p.before_ms = now - log_older;
		if ((r = risk_purge_log(db, &p, &nlog, &nrun, err)) != RISK_OK)
			st = failed(r, err);
	}
	/* the history: never a company's newest row */
	if (st == RISK_EXIT_OK && !dead_mode) {
		p.before_ms = now - hist_older;
		if ((r = risk_purge_history(db, &p, &nhist, err)) != RISK_OK)
			st = failed(r, err);
	}
	if (st == RISK_EXIT_OK && vacuum && !p.dry_run) {
		cmd_progress_phase(&pu.prog, "vacuuming");
		if ((r = risk_vacuum(db, tick, &pu.prog, err)) != RISK_OK)
			st = failed(r, err);
	}
	cmd_progress_end(&pu.prog);
	risk_db_close(db);
	cmd_info("%s %ld %s, %ld log rows, %ld drain summaries, %ld history "
	    "rows%s", p.dry_run ? "would remove" : "removed", n,
	    dead_mode ? "dead letters" : "records", nlog, nrun, nhist,
	    vacuum && !p.dry_run && st == RISK_EXIT_OK ? "; vacuumed" : "");
	return cmd_fshut(st);
}

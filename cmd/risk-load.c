/*
 * risk-load — import a dump of the legacy service into the cache, without
 * one request per company.
 *
 * The dump is JSON lines: each line one object holding the company ID
 * (under "id", or --id-key) beside the fields of the legacy service's
 * body, e.g. {"id":"123","status":"reliable","changedAt":"2025-01-04"}.
 * Each object goes through the same mapping as risk-drain's (--map,
 * --map-file; the default in C) and is stored with one fetch time.
 *
 * Invariants:
 * - A bad line is reported as "file:line: reason" and skipped; the good
 *   lines around it are stored.  Stored is stored: records are written in
 *   transactions of --batch lines, and an error in the database ends the
 *   run with everything before it committed.
 * - Storing follows risk_record_put: an older fetch time never overwrites
 *   a newer record, so loading an old dump never rolls the cache back.
 *   Records go to the store up to RISK_PUT_MANY at a time
 *   (risk_record_put_many: a few statements on a server, not several
 *   round trips a line), never across a transaction's end.
 * - Memory is bounded: one line buffer of MAX_LINE bytes and the records
 *   not stored yet; longer lines are reported and skipped, never split.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define BATCH 10000
#define MAX_LINE (1024 * 1024)

enum { OPT_BATCH = OPT_COMMON_END, OPT_FETCHED_AT, OPT_ID_KEY };

static const struct cmd_option options[] = {
	{ "batch", OPT_BATCH, "N", "10000", "lines per write transaction" },
	{ "fetched-at", OPT_FETCHED_AT, "TIME", "now",
	    "fetch time of every record" },
	{ "id-key", OPT_ID_KEY, "KEY", "id", "the member holding the company ID" },
	{ "map", OPT_MAP, "FILTER", "built in",
	    "jq filter from object to record" },
	{ "map-file", OPT_MAP_FILE, "PATH", NULL, "the same, read from a file" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

struct load {
	int status;		/* first: cmd_bad_id() sets it */
	struct risk_db *db;
	struct risk_mapper *map;
	const char *idkey;
	int64_t fetched_at;	/* ms */
	struct cmd_batch w;
	long loaded, older, failed;
	struct cmd_progress prog;	/* lines read */
	char *line;		/* MAX_LINE + 1 bytes */
	/* records mapped, stored together */
	struct risk_record pend[RISK_PUT_MANY];
	bool stored[RISK_PUT_MANY];
	int npend;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-load [-hqVv] [--db PATH] [--stage NAME] [--queue PATH]\n"
	    "                 [--map FILTER | --map-file PATH] [--id-key KEY]\n"
	    "                 [--fetched-at TIME] [--batch N] [FILE ...]\n");
}

/* A database error: the run ends, what was committed stays. */
static int
fatal(struct load *l, int r, const char *err)
{
	cmd_batch_fail(&l->w, r, err);
	return -1;
}

/* The next line of fp into l->line, without its newline: its length,
 * -1 at the end, -2 when it was too long or held a NUL (skipped). */
static long
next_line(FILE *fp, char *buf, bool *nul)
{
	size_t n = 0;
	bool big = false;
	int ch;

	*nul = false;
	while ((ch = getc_unlocked(fp)) != EOF && ch != '\n') {
		if (ch == '\0')
			*nul = true;
		if (n < MAX_LINE)
			buf[n++] = (char)ch;
		else
			big = true;
	}
	if (ch == EOF && n == 0 && !big)
		return -1;
	buf[n] = '\0';
	return big ? -2 : (long)n;
}

static bool
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Store the records mapped so far; 0, or -1 on a database error. */
static int
store(struct load *l)
{
	char err[RISK_ERRLEN];
	int i, r, n = l->npend;

	l->npend = 0;
	if (n == 0)
		return 0;
	if (cmd_batch_begin(&l->w) != 0)
		return -1;
	if ((r = risk_record_put_many(l->db, l->pend, n, l->stored, err)) !=
	    RISK_OK)
		return fatal(l, r, err);
	for (i = 0; i < n; i++) {
		if (l->stored[i])
			l->loaded++;
		else
			l->older++;
		if (cmd_batch_done(&l->w) != 0)
			return -1;
	}
	return 0;
}

/* One dump; 0, or -1 when a database error ends the run. */
static int
load(struct load *l, FILE *fp, const char *name)
{
	struct risk_record rec;
	char err[RISK_ERRLEN];
	long len, lineno = 0;
	bool nul;

	while ((len = next_line(fp, l->line, &nul)) != -1) {
		lineno++;
		cmd_progress_add(&l->prog, 1);
		if (len == -2 || nul) {
			cmd_err("%s:%ld: %s", name, lineno, len == -2 ?
			    "line longer than 1 MiB" : "line holds a NUL byte");
			l->failed++;
			cmd_worse(&l->status, RISK_EXIT_PARTIAL);
			continue;
		}
		if (blank(l->line, (size_t)len))
			continue;
		memset(&rec, 0, sizeof rec);
		if (risk_mapper_line(l->map, l->line, (size_t)len, l->idkey, &rec,
		    err) != RISK_OK) {
			cmd_err("%s:%ld: %s", name, lineno, err);
			l->failed++;
			cmd_worse(&l->status, RISK_EXIT_PARTIAL);
			continue;
		}
		rec.fetched_at = l->fetched_at;
		l->pend[l->npend++] = rec;
		/* a transaction still ends every --batch lines */
		if ((l->npend == RISK_PUT_MANY ||
		    l->w.pending + l->npend >= l->w.max) && store(l) != 0)
			return -1;
	}
	if (store(l) != 0)
		return -1;
	if (ferror(fp)) {
		cmd_err("%s: %s", name, strerror(errno ? errno : EIO));
		cmd_worse(&l->status, RISK_EXIT_ERROR);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1 };
	static struct load l = { .idkey = "id", .w.max = BATCH };
	struct cmd_map mo;
	char err[RISK_ERRLEN];
	int64_t sec;
	bool have_time = false;
	FILE *fp;
	int c, i, r;

	cmd_init("risk-load");
	cmd_map_init(&mo);
	mo.time = -1;		/* in process: see --map in risk-load(1) */
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage) ||
		    cmd_map_opt(c, optarg, &mo, usage))
			continue;
		switch (c) {
		case OPT_BATCH:
			l.w.max = (int)cmd_number("batch", optarg, 1, 1000000,
			    usage);
			break;
		case OPT_FETCHED_AT:
			if (risk_time_parse(optarg, &sec) != RISK_OK)
				cmd_badopt(usage, "--fetched-at: %s: not a "
				    "date, a date-time or epoch seconds",
				    optarg);
			l.fetched_at = sec * 1000;
			have_time = true;
			break;
		case OPT_ID_KEY:
			if (*optarg == '\0')
				cmd_badopt(usage, "--id-key: empty key");
			l.idkey = optarg;
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	l.map = cmd_map_new(&mo, usage);
	if (!have_time)
		l.fetched_at = risk_now_ms();
	if ((l.line = malloc(MAX_LINE + 1)) == NULL)
		cmd_die(RISK_EXIT_ERROR, "out of memory");

	cmd_env(&dbo);
	l.db = l.w.db = cmd_open(&dbo);
	l.w.status = &l.status;
	if (risk_db_bulk(l.db, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	cmd_progress_init(&l.prog, "lines");
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "-") == 0)) {
		load(&l, stdin, "standard input");
	} else {
		for (i = 0; i < argc; i++) {
			if (strcmp(argv[i], "-") == 0) {
				r = load(&l, stdin, "standard input");
			} else if ((fp = fopen(argv[i], "r")) == NULL) {
				cmd_err("%s: %s", argv[i], strerror(errno));
				cmd_worse(&l.status, RISK_EXIT_ERROR);
				continue;
			} else {
				r = load(&l, fp, argv[i]);
				fclose(fp);
			}
			if (r != 0)
				break;
		}
	}
	cmd_batch_commit(&l.w);
	cmd_progress_end(&l.prog);
	risk_db_close(l.db);
	risk_mapper_free(l.map);
	free(l.line);
	cmd_info("%ld loaded, %ld kept (the cache was newer), %ld failed",
	    l.loaded, l.older, l.failed);
	return cmd_fshut(l.status);
}

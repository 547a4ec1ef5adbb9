/*
 * risk-changes — the changes of companies' statuses, as JSON lines,
 * oldest first; a cursor file for cron jobs; --follow like tail -f.
 *
 * Invariants:
 * - Read only: the database is opened read-only and no read snapshot is
 *   held between pages (history.c), so drainers never wait for us.
 * - The cursor moves only after everything printed was flushed without
 *   error, and by an atomic rename: a consumer that fails (a closed pipe
 *   kills us with SIGPIPE first; a full disk is a write error) leaves it
 *   where it was, so each change reaches a cron job at least once.
 * - It moves to the last row read, matched by the watch list or not, so
 *   a small watch list does not rescan the whole history every run.
 * - --follow sleeps in poll(2) on standard output: it wakes when the
 *   reader of a pipe goes away, or a signal (SIGINT, SIGTERM) arrives,
 *   and otherwise reads the history once per --interval.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

#define INTERVAL_MS 250

enum { OPT_CURSOR = OPT_COMMON_END, OPT_INTERVAL, OPT_JQ, OPT_SINCE };

static const struct cmd_option options[] = {
	{ "cursor", OPT_CURSOR, "FILE", NULL,
	    "start after the seq in FILE; write it back after" },
	{ "follow", 'f', NULL, NULL, "keep printing changes as they come" },
	{ "interval", OPT_INTERVAL, "DUR", "250ms",
	    "with --follow, how often to look" },
	{ "jq", OPT_JQ, "FILTER", NULL, "jq filter for each change" },
	{ "since", OPT_SINCE, "SEQ", "0, or now with -f",
	    "the changes after SEQ" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

struct changes {
	int status;		/* first: cmd_bad_id raises it */
	struct risk_idset *watch;
	struct risk_printer out;
	long lines;		/* lines printed */
	int printerr;		/* why printing stopped */
	bool outfailed;		/* a write error was reported */
	char err[RISK_ERRLEN];
};

static volatile sig_atomic_t stopping;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-changes [-fhqVv] [--db PATH] [--stage NAME]\n"
	    "                    [--since SEQ | --cursor FILE] [--interval DUR]\n"
	    "                    [--jq FILTER] [ID ...]\n");
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
addid(const char *id, void *arg)
{
	struct changes *x = arg;
	char err[RISK_ERRLEN];
	int r;

	if ((r = risk_idset_add(x->watch, id, err)) == RISK_EINVAL)
		cmd_bad_id(id, "invalid company id", x);
	else if (r != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "watch list: %s", err);
	return 0;
}

static int
one(const struct risk_change *c, void *arg)
{
	struct changes *x = arg;

	x->printerr = risk_change_print(&x->out, c, &x->lines, x->err);
	return x->printerr != RISK_OK;
}

static int64_t
parse_seq(const char *s, const char *what)
{
	char *end;
	intmax_t n;

	errno = 0;
	n = strtoimax(s, &end, 10);
	if (errno == 0 && end != s && n >= 0 && n <= INT64_MAX)
		while (*end == '\n' || *end == ' ')
			end++;
	if (errno != 0 || end == s || n < 0 || n > INT64_MAX || *end != '\0')
		cmd_die(RISK_EXIT_ERROR, "%s: not a sequence number", what);
	return (int64_t)n;
}

/* The cursor's seq; false when the file does not exist. */
static bool
read_cursor(const char *path, int64_t *seq)
{
	char *s;

	if (access(path, F_OK) != 0 && errno == ENOENT)
		return false;
	s = cmd_slurp(path, 64);
	*seq = parse_seq(s, path);
	free(s);
	return true;
}

/* mkdir -p of the folder holding path (~/.cache/risk on a new account). */
static void
make_parent(const char *path)
{
	char buf[4096], *p;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		cmd_die(RISK_EXIT_ERROR, "%s: path too long", path);
	if ((p = strrchr(buf, '/')) == NULL || p == buf)
		return;
	*p = '\0';
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			cmd_die(RISK_EXIT_ERROR, "%s: %s", buf,
			    strerror(errno));
		if ((*p = c) == '\0')
			break;
	}
}

static int
write_cursor(const char *path, int64_t seq)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRId64 "\n", seq);

	return cmd_atomic_write(path, buf, (size_t)n);
}

/*
 * Print what is new after *seq and flush; 0, or the exit status of a
 * failure (already reported).
 */
static int
drain_feed(struct changes *x, struct risk_db *db, int64_t *seq)
{
	int r;

	r = risk_history_each(db, x->watch, seq, one, x, x->err);
	if (r > 0)
		r = x->printerr;
	if (r == RISK_OK && (fflush(stdout) != 0 || ferror(stdout)))
		r = RISK_EIO;
	if (r == RISK_EIO) {
		cmd_err("standard output: %s", strerror(errno ? errno : EIO));
		x->outfailed = true;
		return RISK_EXIT_ERROR;
	}
	if (r != RISK_OK) {
		cmd_err("%s", x->err);
		return cmd_fatal_status(r);
	}
	return 0;
}

/* Sleep ms, or less: false when it is time to stop. */
static bool
doze(int ms)
{
	struct pollfd p = { .fd = 1, .events = 0 };

	if (stopping)
		return false;
	if (poll(&p, 1, ms) > 0 && (p.revents & (POLLERR | POLLHUP)) != 0)
		return false;		/* the reader went away */
	return !stopping;
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1, .readonly = true };
	struct changes x = { .status = RISK_EXIT_OK };
	struct risk_loop loop = { .id = addid, .bad = cmd_bad_id, .arg = &x,
	    .fd = 0 };
	struct sigaction sa;
	struct risk_db *db;
	const char *jq = NULL, *cursor = NULL;
	char err[RISK_ERRLEN];
	int64_t since = -1, seq = 0, moved, interval = INTERVAL_MS;
	bool follow = false, have_cursor = false;
	int c, r, st;

	cmd_init("risk-changes");
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage))
			continue;
		switch (c) {
		case 'f':
			follow = true;
			break;
		case OPT_CURSOR:
			if (*optarg == '\0')
				cmd_badopt(usage, "--cursor: empty file name");
			cursor = optarg;
			break;
		case OPT_INTERVAL:
			interval = cmd_duration("interval", optarg, usage);
			if (interval < 10 || interval > 3600 * 1000)
				cmd_badopt(usage, "--interval: %s: not from "
				    "10ms to 1h", optarg);
			break;
		case OPT_JQ:
			jq = optarg;
			break;
		case OPT_SINCE:
			since = cmd_number("since", optarg, 0, LONG_MAX, usage);
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (since >= 0 && cursor != NULL)
		cmd_badopt(usage, "--since and --cursor exclude each other");
	if (jq != NULL && risk_filter_new(&x.out.filter, jq, err) != RISK_OK)
		cmd_badopt(usage, "--jq: %s", err);
	x.out.fp = stdout;

	/* the watch list: arguments, or standard input unless a terminal */
	if (risk_idset_new(&x.watch, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
	if ((argc > 0 || !isatty(0)) &&
	    (r = risk_loop(argc, argv, &loop, err)) < 0)
		cmd_die(RISK_EXIT_ERROR, "standard input: %s", err);
	if (risk_idset_count(x.watch) == 0 && x.status == RISK_EXIT_OK) {
		risk_idset_free(x.watch);	/* none given: every company */
		x.watch = NULL;
	}

	/* SIGPIPE kills: a closed pipe never moves the cursor */
	signal(SIGPIPE, SIG_DFL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	cmd_env(&dbo);
	r = risk_db_open(&db, &dbo, err);
	if (r == RISK_ENOTFOUND && !follow) {
		db = NULL;	/* an empty file being made: no changes */
	} else if (r != RISK_OK) {
		cmd_die(cmd_fatal_status(r), "%s", err);
	}

	if (cursor != NULL)
		have_cursor = read_cursor(cursor, &seq);
	if (since >= 0) {
		seq = since;
	} else if (!have_cursor && (cursor != NULL || follow) && db != NULL) {
		/* from now: a new cursor, or tail -f */
		if ((r = risk_history_last(db, &seq, err)) != RISK_OK)
			cmd_die(RISK_EXIT_ERROR, "%s", err);
	}
	moved = have_cursor ? seq : -1;

	st = 0;
	do {
		if (db != NULL && (st = drain_feed(&x, db, &seq)) != 0)
			break;
		if (cursor != NULL && seq != moved) {
			make_parent(cursor);
			if (write_cursor(cursor, seq) != 0) {
				st = RISK_EXIT_ERROR;
				break;
			}
			moved = seq;
		}
	} while (follow && doze((int)interval));

	risk_db_close(db);
	risk_filter_free(x.out.filter);
	risk_idset_free(x.watch);
	if (st != 0)
		cmd_worse(&x.status, st);
	else if (x.lines == 0)
		cmd_worse(&x.status, RISK_EXIT_PARTIAL);
	/* said once: a stdout that failed fails again at exit */
	return x.outfailed ? x.status : cmd_fshut(x.status);
}

/*
 * risk-stat — figures about the queue, the cache, the dead letters and the
 * drains; the dead letters and the fetch log themselves.
 *
 * Invariants:
 * - Read only: the database is opened read-only, so a monitoring user
 *   needs no write access and a drainer never waits for us.
 * - -o FILE replaces FILE atomically: the output is written to a temporary
 *   file in the same folder, flushed to disk and renamed over FILE, so a
 *   reader (node_exporter's textfile collector) sees the old file or the
 *   new one, never a part.  On any failure the temporary file is removed
 *   and FILE is left as it was.
 * - Prometheus text is version 0.0.4 of the exposition format: every
 *   family has # HELP and # TYPE; all are gauges (the figures are states
 *   or sliding windows, and purging makes any total go down).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

#define HOUR (INT64_C(3600) * 1000)

enum { OPT_DEAD = OPT_COMMON_END, OPT_ID, OPT_JSON, OPT_LOG,
	OPT_MAX_AGE, OPT_NF_MAX_AGE, OPT_PROMETHEUS, OPT_SINCE };

static const struct cmd_option options[] = {
	{ "dead", OPT_DEAD, NULL, NULL, "list the dead letters" },
	{ "follow", 'f', NULL, NULL, "with --log, keep printing new rows" },
	{ "id", OPT_ID, "ID", NULL, "with --log, only this company" },
	{ "json", OPT_JSON, NULL, NULL, "JSON instead of text" },
	{ "log", OPT_LOG, NULL, NULL, "print the fetch log" },
	{ "max-age", OPT_MAX_AGE, "DUR", "1h", "freshness window for records" },
	{ "not-found-max-age", OPT_NF_MAX_AGE, "DUR", "15m",
	    "freshness of not_found answers" },
	{ "output", 'o', "FILE", "stdout",
	    "write to FILE atomically" },
	{ "prometheus", OPT_PROMETHEUS, NULL, NULL,
	    "the figures as Prometheus text" },
	{ "since", OPT_SINCE, "DUR", "1h", "with --log, how far back to start" },
	COMMON_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL }
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: risk-stat [-hqVv] [--db PATH] [--stage NAME] [--queue PATH]\n"
	    "                 [--json | --prometheus] [-o FILE] [--max-age DUR]\n"
	    "                 [--not-found-max-age DUR]\n"
	    "       risk-stat --log [-f] [--since DUR] [--id ID] [--json] [-o FILE]\n"
	    "       risk-stat --dead [--json] [-o FILE]\n");
}

/* 42s, 3m12s, 2h5m, 4d3h */
static const char *
dur(int64_t ms, char *buf, size_t sz)
{
	int64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, sz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, sz, "%lldm%llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, sz, "%lldh%lldm", (long long)(s / 3600),
		    (long long)(s / 60 % 60));
	else
		snprintf(buf, sz, "%lldd%lldh", (long long)(s / 86400),
		    (long long)(s / 3600 % 24));
	return buf;
}

static void
table(FILE *fp, const struct risk_stat *s)
{
	char b[32], when[32];
	int i;

	fprintf(fp, "%-26s%ld\n", "queue due", s->due);
	fprintf(fp, "%-26s%ld\n", "queue delayed", s->delayed);
	fprintf(fp, "%-26s%ld\n", "queue leased", s->leased);
	fprintf(fp, "%-26s%s\n", "oldest due waited",
	    dur(s->oldest_due_ms, b, sizeof b));
	fprintf(fp, "%-26s%ld\n", "dead letters", s->dead);
	fprintf(fp, "%-26s%ld\n", "records fresh", s->fresh);
	fprintf(fp, "%-26s%ld\n", "records stale", s->stale);
	fprintf(fp, "%-26s%ld\n", "not found", s->not_found);
	fprintf(fp, "%-26s%ld\n", "not found stale", s->not_found_stale);
	if (s->have_run) {
		risk_time_format(s->run.ended_at / 1000, when);
		fprintf(fp, "%-26s%s, took %s, exit %d\n", "last drain ended",
		    when, dur(s->run.ended_at - s->run.started_at, b,
		    sizeof b), s->run.exit_status);
		fprintf(fp, "%-26s%ld claimed, %ld stored, %ld not found, "
		    "%ld retried, %ld dead, %ld released\n", "last drain",
		    s->run.claimed, s->run.stored, s->run.not_found,
		    s->run.retried, s->run.dead, s->run.released);
	} else {
		fprintf(fp, "%-26s%s\n", "last drain", "none");
	}
	fprintf(fp, "%-26s", "fetches in the last hour");
	for (i = 0; i < RISK_NOUTCOME; i++)
		fprintf(fp, "%s%ld %s", i > 0 ? ", " : "", s->outcome[i],
		    risk_outcome_str(i));
	if (s->outcome_other > 0)
		fprintf(fp, ", %ld other", s->outcome_other);
	fputc('\n', fp);
}

static void
json(FILE *fp, const struct risk_stat *s, int64_t now)
{
	char when[32], start[32];
	int i;

	risk_time_format(now / 1000, when);
	fprintf(fp, "{\"time\":\"%s\",\"queue\":{\"due\":%ld,\"delayed\":%ld,"
	    "\"leased\":%ld,\"oldest_due_age\":%lld},\"dead_letters\":%ld,"
	    "\"records\":{\"fresh\":%ld,\"stale\":%ld,\"not_found\":%ld,"
	    "\"not_found_stale\":%ld},\"last_drain\":", when, s->due,
	    s->delayed, s->leased, (long long)(s->oldest_due_ms / 1000),
	    s->dead, s->fresh, s->stale, s->not_found, s->not_found_stale);
	if (s->have_run) {
		risk_time_format(s->run.started_at / 1000, start);
		risk_time_format(s->run.ended_at / 1000, when);
		fprintf(fp, "{\"started_at\":\"%s\",\"ended_at\":\"%s\","
		    "\"seconds\":%.3f,\"claimed\":%ld,\"stored\":%ld,"
		    "\"not_found\":%ld,\"retried\":%ld,\"dead\":%ld,"
		    "\"released\":%ld,\"exit_status\":%d}", start, when,
		    (double)(s->run.ended_at - s->run.started_at) / 1000,
		    s->run.claimed, s->run.stored, s->run.not_found,
		    s->run.retried, s->run.dead, s->run.released,
		    s->run.exit_status);
	} else {
		fputs("null", fp);
	}
	fputs(",\"fetches_last_hour\":{", fp);
	for (i = 0; i < RISK_NOUTCOME; i++)
		fprintf(fp, "\"%s\":%ld,", risk_outcome_str(i),
		    s->outcome[i]);
	fprintf(fp, "\"other\":%ld,\"seconds\":%.3f}}\n", s->outcome_other,
	    (double)s->fetch_ms / 1000);
}

static void
family(FILE *fp, const char *name, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void
prometheus(FILE *fp, const struct risk_stat *s, int64_t now)
{
	int i;

	family(fp, "risk_queue_entries",
	    "Entries on the fetch queue, by state.");
	fprintf(fp, "risk_queue_entries{state=\"due\"} %ld\n", s->due);
	fprintf(fp, "risk_queue_entries{state=\"delayed\"} %ld\n",
	    s->delayed);
	fprintf(fp, "risk_queue_entries{state=\"leased\"} %ld\n", s->leased);
	family(fp, "risk_queue_oldest_due_seconds",
	    "How long the oldest due entry has waited since it fell due.");
	fprintf(fp, "risk_queue_oldest_due_seconds %.3f\n",
	    (double)s->oldest_due_ms / 1000);
	family(fp, "risk_dead_letters", "Companies on the dead-letter list.");
	fprintf(fp, "risk_dead_letters %ld\n", s->dead);
	family(fp, "risk_records", "Cached records, by freshness; not_found "
	    "are answers that the legacy service did not know the company.");
	fprintf(fp, "risk_records{state=\"fresh\"} %ld\n", s->fresh);
	fprintf(fp, "risk_records{state=\"stale\"} %ld\n", s->stale);
	fprintf(fp, "risk_records{state=\"not_found\"} %ld\n", s->not_found);
	fprintf(fp, "risk_records{state=\"not_found_stale\"} %ld\n",
	    s->not_found_stale);
	family(fp, "risk_fetch_attempts_last_hour",
	    "Requests to the legacy service in the last hour, by outcome.");
	for (i = 0; i < RISK_NOUTCOME; i++)
		fprintf(fp, "risk_fetch_attempts_last_hour{outcome=\"%s\"} "
		    "%ld\n", risk_outcome_str(i), s->outcome[i]);
	if (s->outcome_other > 0)
		fprintf(fp, "risk_fetch_attempts_last_hour{outcome=\"other\"} "
		    "%ld\n", s->outcome_other);
	family(fp, "risk_fetch_seconds_last_hour",
	    "Time spent in requests to the legacy service in the last hour.");
	fprintf(fp, "risk_fetch_seconds_last_hour %.3f\n",
	    (double)s->fetch_ms / 1000);
	if (s->have_run) {
		family(fp, "risk_last_drain_start_timestamp_seconds",
		    "When the last drain run started.");
		fprintf(fp, "risk_last_drain_start_timestamp_seconds %.3f\n",
		    (double)s->run.started_at / 1000);
		family(fp, "risk_last_drain_end_timestamp_seconds",
		    "When the last drain run ended.");
		fprintf(fp, "risk_last_drain_end_timestamp_seconds %.3f\n",
		    (double)s->run.ended_at / 1000);
		family(fp, "risk_last_drain_entries",
		    "Entries the last drain run handled, by result.");
		fprintf(fp, "risk_last_drain_entries{result=\"claimed\"} %ld\n"
		    "risk_last_drain_entries{result=\"stored\"} %ld\n"
		    "risk_last_drain_entries{result=\"not_found\"} %ld\n"
		    "risk_last_drain_entries{result=\"retried\"} %ld\n"
		    "risk_last_drain_entries{result=\"dead\"} %ld\n"
		    "risk_last_drain_entries{result=\"released\"} %ld\n",
		    s->run.claimed, s->run.stored, s->run.not_found,
		    s->run.retried, s->run.dead, s->run.released);
		family(fp, "risk_last_drain_exit_status",
		    "Exit status of the last drain run (0 ok, 75 try again).");
		fprintf(fp, "risk_last_drain_exit_status %d\n",
		    s->run.exit_status);
	}
	family(fp, "risk_stat_timestamp_seconds",
	    "When these figures were taken.");
	fprintf(fp, "risk_stat_timestamp_seconds %.3f\n", (double)now / 1000);
}

struct out {
	FILE *fp;
	bool json;
	char err[RISK_ERRLEN];
};

static int
logrow(int64_t seq, const struct risk_log_entry *e, void *arg)
{
	struct out *o = arg;

	(void)seq;
	return risk_log_print(o->fp, e, o->json, o->err) != RISK_OK;
}

static int
deadrow(const struct risk_dead *d, void *arg)
{
	struct out *o = arg;

	return risk_dead_print(o->fp, d, o->json, o->err) != RISK_OK;
}

/* Write len bytes of buf to path by temporary file and rename. */
static int
atomic_write(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX], dcopy[PATH_MAX], bcopy[PATH_MAX];
	const char *dir, *base, *what = tmp;
	mode_t mask;
	ssize_t w;
	size_t off;
	int fd, dfd, n, e;

	if (snprintf(dcopy, sizeof dcopy, "%s", path) >= (int)sizeof dcopy ||
	    snprintf(bcopy, sizeof bcopy, "%s", path) >= (int)sizeof bcopy) {
		cmd_err("%s: path too long", path);
		return -1;
	}
	dir = dirname(dcopy);
	base = basename(bcopy);
	/* hidden, and not *.prom: node_exporter skips it */
	n = snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		cmd_err("%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		cmd_err("%s: %s", path, strerror(errno));
		return -1;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0)
		goto fail;
	for (off = 0; off < len; off += (size_t)w) {
		if ((w = write(fd, buf + off, len - off)) < 0) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			goto fail;
		}
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	what = path;
	if (rename(tmp, path) != 0)
		goto fail;
	/* the rename itself reaches the disk */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	cmd_err("%s: %s", what == tmp ? path : what, strerror(e));
	return -1;
}

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1, .readonly = true };
	struct risk_stat_opts so = { .max_age_ms = HOUR,
	    .nf_max_age_ms = 15 * 60 * 1000, .window_ms = HOUR };
	struct risk_stat s;
	struct out o = { 0 };
	struct risk_db *db;
	const char *output = NULL, *id = NULL;
	char err[RISK_ERRLEN], *buf = NULL, sbuf[80];
	size_t len = 0;
	int64_t since = HOUR, seq = 0;
	bool log = false, follow = false, prom = false, dead = false,
	    sinceset = false;
	int c, r, st = RISK_EXIT_OK;

	cmd_init("risk-stat");
	while ((c = cmd_getopt(argc, argv, options)) != -1) {
		if (cmd_common(c, optarg, &dbo, usage))
			continue;
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_DEAD:
			dead = true;
			break;
		case OPT_ID:
			if (!risk_id_valid(optarg, strlen(optarg)))
				cmd_badopt(usage, "--id: %s: invalid company "
				    "id", cmd_safe(optarg, sbuf, sizeof sbuf));
			id = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_LOG:
			log = true;
			break;
		case OPT_MAX_AGE:
			so.max_age_ms = cmd_duration("max-age", optarg, usage);
			break;
		case OPT_NF_MAX_AGE:
			so.nf_max_age_ms = cmd_duration("not-found-max-age",
			    optarg, usage);
			break;
		case OPT_PROMETHEUS:
			prom = true;
			break;
		case OPT_SINCE:
			since = cmd_duration("since", optarg, usage);
			sinceset = true;
			break;
		default:
			cmd_optfail(c, argv, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		cmd_badopt(usage, "%s: unexpected argument",
		    cmd_safe(argv[0], sbuf, sizeof sbuf));
	if (log && dead)
		cmd_badopt(usage, "--log and --dead exclude each other");
	if (prom && (o.json || log || dead))
		cmd_badopt(usage, "--prometheus goes with the figures only");
	if (!log && (follow || sinceset || id != NULL))
		cmd_badopt(usage, "-f, --since and --id go with --log");
	if (follow && output != NULL)
		cmd_badopt(usage, "-f does not go with -o");
	if (output != NULL && *output == '\0')
		cmd_badopt(usage, "-o: empty file name");

	cmd_env(&dbo);
	db = cmd_open(&dbo);
	if (output != NULL) {
		if ((o.fp = open_memstream(&buf, &len)) == NULL)
			cmd_die(RISK_EXIT_ERROR, "out of memory");
	} else {
		o.fp = stdout;
		/* `risk-stat --log | head` ends quietly */
		signal(SIGPIPE, SIG_DFL);
	}

	if (log) {
		r = risk_log_each(db, risk_now_ms() - since, id, &seq, logrow,
		    &o, err);
		while (follow && r == RISK_OK) {
			if (fflush(o.fp) != 0)
				break;
			sleep(1);
			r = risk_log_each(db, 0, id, &seq, logrow, &o, err);
		}
	} else if (dead) {
		r = risk_dead_each(db, deadrow, &o, err);
	} else {
		so.now_ms = risk_now_ms();
		if ((r = risk_stat_get(db, &so, &s, err)) == RISK_OK) {
			if (prom)
				prometheus(o.fp, &s, so.now_ms);
			else if (o.json)
				json(o.fp, &s, so.now_ms);
			else
				table(o.fp, &s);
		}
	}
	if (r > 0) {		/* a write error in a callback */
		cmd_err("%s", o.fp == stdout ? "standard output: write error" :
		    "out of memory");
		st = RISK_EXIT_ERROR;
	} else if (r != RISK_OK) {
		cmd_err("%s", err);
		st = risk_exit_status(r) == RISK_EXIT_TEMPFAIL ?
		    RISK_EXIT_TEMPFAIL : RISK_EXIT_ERROR;
	}
	risk_db_close(db);
	if (output != NULL) {
		if (fclose(o.fp) != 0)
			cmd_die(RISK_EXIT_ERROR, "out of memory");
		if (st == RISK_EXIT_OK && atomic_write(output, buf, len) != 0)
			st = RISK_EXIT_ERROR;
		free(buf);
	}
	return cmd_fshut(st);
}

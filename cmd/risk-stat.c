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

/* --rate's period as the option would have it: 2s, 5m, 1h, 1d, 250ms */
static const char *
period(int64_t ms, char *buf, size_t sz)
{
	static const struct { int64_t ms; const char *unit; } u[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" },
		{ 1000, "s" }, { 1, "ms" }
	};
	size_t i;

	for (i = 0; i < sizeof u / sizeof u[0] - 1; i++)
		if (ms % u[i].ms == 0)
			break;
	snprintf(buf, sz, "%lld%s", (long long)(ms / u[i].ms), u[i].unit);
	return buf;
}

/* The source's state in words: "down since T (reason); next probe ..." */
static void
source_text(FILE *fp, const struct risk_source *src)
{
	char since[32], until[32];

	risk_time_format(src->since / 1000, since);
	risk_time_format((src->until + 999) / 1000, until);
	switch (src->state) {
	case RISK_SRC_DOWN:
		fprintf(fp, "down since %s (", since);
		risk_text_print(fp, src->reason);
		fprintf(fp, "); %s %s", src->probing ? "probing, next after" :
		    "next probe after", until);
		break;
	case RISK_SRC_THROTTLED:
		fprintf(fp, "throttled until %s (", until);
		risk_text_print(fp, src->reason);
		fputc(')', fp);
		break;
	case RISK_SRC_CREDENTIALS:
		fprintf(fp, "credentials rejected since %s (", since);
		risk_text_print(fp, src->reason);
		fprintf(fp, "); next probe after %s, or when the file changes",
		    until);
		break;
	default:
		fputs("ok", fp);
	}
	fputc('\n', fp);
}

static const char *const fail_label[] = {
	NULL, "company", "down", "throttled", "credentials"
};

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
	fprintf(fp, "%-26s", "source");
	source_text(fp, &s->source);
	if (s->source.rate_n > 0)
		fprintf(fp, "%-26s%ld/%s\n", "rate", s->source.rate_n,
		    period(s->source.rate_ms, b, sizeof b));
	else
		fprintf(fp, "%-26s%s\n", "rate", "none");
	fprintf(fp, "%-26s", "failures in the last hour");
	for (i = RISK_FAIL_COMPANY; i <= RISK_FAIL_CREDENTIALS; i++)
		fprintf(fp, "%s%ld %s", i > RISK_FAIL_COMPANY ? ", " : "",
		    s->failures[i], fail_label[i]);
	fputc('\n', fp);
	fprintf(fp, "%-26s%ld\n", "history rows", s->history.rows);
	fprintf(fp, "%-26s%ld in the last hour, %ld in the last day\n",
	    "status changes", s->history.last_hour, s->history.last_day);
}

/* A status as a Prometheus label value: escaped, control bytes as '?'. */
static void
label(FILE *fp, const struct risk_history_stat *h, int i)
{
	const char *p = h->total[i].found ? h->total[i].status :
	    RISK_NOT_FOUND_STATUS;

	for (; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', fp);
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, fp);
	}
}

static void
time_json(FILE *fp, int64_t ms)
{
	char t[32];

	if (ms <= 0) {
		fputs("null", fp);
		return;
	}
	risk_time_format((ms + 999) / 1000, t);
	fprintf(fp, "\"%s\"", t);
}

/* "source":{...},"failures_last_hour":{...} */
static void
source_json(FILE *fp, const struct risk_stat *s)
{
	const struct risk_source *src = &s->source;
	char b[32];
	int i;

	fprintf(fp, "\"source\":{\"state\":\"%s\",\"up\":%s,\"since\":",
	    risk_source_state_name(src->state),
	    src->state == RISK_SRC_OK ? "true" : "false");
	time_json(fp, src->state == RISK_SRC_OK ? 0 : src->since);
	fputs(",\"until\":", fp);
	time_json(fp, src->state == RISK_SRC_OK ? 0 : src->until);
	fputs(",\"reason\":", fp);
	if (src->state != RISK_SRC_OK && src->reason[0] != '\0')
		risk_json_quote(fp, src->reason);
	else
		fputs("null", fp);
	fprintf(fp, ",\"probing\":%s,\"failures_in_window\":%d,\"rate\":",
	    src->probing ? "true" : "false", risk_source_failures(src));
	if (src->rate_n > 0)
		fprintf(fp, "\"%ld/%s\"", src->rate_n, period(src->rate_ms, b,
		    sizeof b));
	else
		fputs("null", fp);
	fputs("},\"failures_last_hour\":{", fp);
	for (i = RISK_FAIL_COMPANY; i <= RISK_FAIL_CREDENTIALS; i++)
		fprintf(fp, "%s\"%s\":%ld", i > RISK_FAIL_COMPANY ? "," : "",
		    fail_label[i], s->failures[i]);
	fputc('}', fp);
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
	fprintf(fp, "\"other\":%ld,\"seconds\":%.3f},", s->outcome_other,
	    (double)s->fetch_ms / 1000);
	fprintf(fp, "\"history\":{\"rows\":%ld,\"changes_last_hour\":%ld,"
	    "\"changes_last_day\":%ld,\"changes_total\":{",
	    s->history.rows, s->history.last_hour, s->history.last_day);
	for (i = 0; i < s->history.nstatus; i++) {
		fputs(i > 0 ? "," : "", fp);
		risk_json_quote(fp, s->history.total[i].found ?
		    s->history.total[i].status : RISK_NOT_FOUND_STATUS);
		fprintf(fp, ":%lld", (long long)s->history.total[i].n);
	}
	fputs("}},", fp);
	source_json(fp, s);
	fputs("}\n", fp);
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
	family(fp, "risk_history_rows", "Rows kept in the status history.");
	fprintf(fp, "risk_history_rows %ld\n", s->history.rows);
	family(fp, "risk_status_changes_last_hour",
	    "Status changes fetched in the last hour.");
	fprintf(fp, "risk_status_changes_last_hour %ld\n",
	    s->history.last_hour);
	family(fp, "risk_status_changes_last_day",
	    "Status changes fetched in the last day.");
	fprintf(fp, "risk_status_changes_last_day %ld\n", s->history.last_day);
	/* a true counter: kept apart from the rows, a purge never lowers it */
	fprintf(fp, "# HELP risk_status_changes_total Status changes ever "
	    "stored, by new status.\n# TYPE risk_status_changes_total "
	    "counter\n");
	for (i = 0; i < s->history.nstatus; i++) {
		fputs("risk_status_changes_total{status=\"", fp);
		label(fp, &s->history, i);
		fprintf(fp, "\"} %lld\n", (long long)s->history.total[i].n);
	}
	family(fp, "risk_source_up",
	    "1 while the legacy service is taken as up (the breaker closed, "
	    "not throttled, credentials accepted).");
	fprintf(fp, "risk_source_up %d\n", s->source.state == RISK_SRC_OK);
	family(fp, "risk_source_state",
	    "The legacy service's state: 1 for the current one.");
	for (i = RISK_SRC_OK; i <= RISK_SRC_CREDENTIALS; i++)
		fprintf(fp, "risk_source_state{state=\"%s\"} %d\n",
		    risk_source_state_name(i), (int)s->source.state == i);
	family(fp, "risk_source_state_since_timestamp_seconds",
	    "When the legacy service entered its current state (0: never "
	    "left ok).");
	fprintf(fp, "risk_source_state_since_timestamp_seconds %.3f\n",
	    (double)s->source.since / 1000);
	family(fp, "risk_source_failures_last_hour",
	    "Failed requests to the legacy service in the last hour, by "
	    "whose failure: the company's, or the service's.");
	for (i = RISK_FAIL_COMPANY; i <= RISK_FAIL_CREDENTIALS; i++)
		fprintf(fp, "risk_source_failures_last_hour{class=\"%s\"} "
		    "%ld\n", fail_label[i], s->failures[i]);
	family(fp, "risk_source_rate_limit_per_second",
	    "The --rate in use, in requests a second (0: none).");
	fprintf(fp, "risk_source_rate_limit_per_second %.6g\n",
	    s->source.rate_n > 0 && s->source.rate_ms > 0 ?
	    (double)s->source.rate_n * 1000 / (double)s->source.rate_ms : 0);
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

int
main(int argc, char *argv[])
{
	struct risk_db_opts dbo = { .busy_ms = -1, .readonly = true,
	    .make_schema = true };
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
		st = cmd_fatal_status(r);
	}
	risk_db_close(db);
	if (output != NULL) {
		if (fclose(o.fp) != 0)
			cmd_die(RISK_EXIT_ERROR, "out of memory");
		if (st == RISK_EXIT_OK && cmd_atomic_write(output, buf, len) != 0)
			st = RISK_EXIT_ERROR;
		free(buf);
	}
	return cmd_fshut(st);
}

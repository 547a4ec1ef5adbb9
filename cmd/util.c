/*
 * util.c — diagnostics and exits for the command mains.
 *
 * Every message has one form, "risk-x: subject: reason", one line on
 * stderr.  Standard output carries data only, and its last flush is
 * checked so that a full disk changes the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

const char *progname = "risk";
int verbose;

void
cmd_init(const char *name)
{
	int fd;

	/* Under cron or a web server 0-2 may be closed: the first file we
	 * open must not become stdout. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	progname = name;
	opterr = 0;	/* cmd_optfail() says it, in the house form */
}

static void
vmsg(const char *fmt, va_list ap)
{
	char buf[2048];
	int n;

	n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (n < 0)
		return;
	/* IDs, reasons and errors come from files and services: one line,
	 * no control bytes, through the sanitiser every program uses */
	risk_text_clean(buf);
	cmd_progress_clear();
	/* one write: lines from concurrent processes do not interleave */
	fprintf(stderr, "%s: %s\n", progname, buf);
}

void
cmd_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
cmd_warn(const char *fmt, ...)
{
	va_list ap;

	if (verbose < 0)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
cmd_info(const char *fmt, ...)
{
	va_list ap;

	if (verbose < 1)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
cmd_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(status);
}

void
cmd_badopt(void (*usage)(FILE *), const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	usage(stderr);
	exit(RISK_EXIT_ERROR);
}

#define MAX_OPTIONS 64

static const struct cmd_option *optab;	/* the table cmd_getopt was given */

int
cmd_getopt(int argc, char *argv[], const struct cmd_option *opts)
{
	static struct option lo[MAX_OPTIONS + 1];
	static char shorts[2 * MAX_OPTIONS + 2];
	size_t i, k = 0, n = 0;

	if (optab != opts) {
		shorts[k++] = ':';	/* cmd_optfail() reports, not getopt */
		for (i = 0; opts[i].name != NULL || opts[i].val != 0; i++) {
			if (i == MAX_OPTIONS)
				cmd_die(RISK_EXIT_ERROR, "more than %d options: "
				    "raise MAX_OPTIONS in cmd/util.c",
				    MAX_OPTIONS);
			if (opts[i].val > 0 && opts[i].val < 256) {
				shorts[k++] = (char)opts[i].val;
				if (opts[i].arg != NULL)
					shorts[k++] = ':';
			}
			if (opts[i].name != NULL)
				lo[n++] = (struct option){ opts[i].name,
				    opts[i].arg != NULL ? required_argument :
				    no_argument, NULL, opts[i].val };
		}
		shorts[k] = '\0';
		lo[n] = (struct option){ NULL, 0, NULL, 0 };
		optab = opts;
	}
	return getopt_long(argc, argv, shorts, lo, NULL);
}

void
cmd_help(FILE *fp)
{
	const struct cmd_option *o;
	char left[64];
	bool dur = false;
	int n;

	if (optab == NULL)
		return;
	fputc('\n', fp);
	for (o = optab; o->name != NULL || o->val != 0; o++) {
		if (o->val > 0 && o->val < 256 && o->name != NULL)
			n = snprintf(left, sizeof left, "-%c, --%s", o->val,
			    o->name);
		else if (o->val > 0 && o->val < 256)
			n = snprintf(left, sizeof left, "-%c", o->val);
		else
			n = snprintf(left, sizeof left, "    --%s", o->name);
		if (n >= 0 && (size_t)n < sizeof left && o->arg != NULL)
			snprintf(left + n, sizeof left - (size_t)n, " %s",
			    o->arg);
		if (o->arg != NULL && strcmp(o->arg, "DUR") == 0)
			dur = true;
		fprintf(fp, "  %-26s  %s", left, o->help);
		if (o->def != NULL)
			fprintf(fp, " (default %s)", o->def);
		fputc('\n', fp);
	}
	if (dur)
		fprintf(fp, "\nDUR is seconds or has a suffix: 90, 90s, 15m, "
		    "1h, 7d.\n");
	fprintf(fp, "\nThe manual: man %s; the toolkit: man 7 risk.\n",
	    progname);
}

bool
cmd_common(int c, const char *arg, struct risk_db_opts *o,
    void (*usage)(FILE *))
{
	switch (c) {
	case OPT_DB:
		o->path = arg;
		return true;
	case OPT_QUEUE:
		o->queue = arg;
		return true;
	case OPT_STAGE:
		o->stage = arg;
		return true;
	case 'V':
		cmd_version();
	case 'h':
		usage(stdout);
		cmd_help(stdout);
		exit(cmd_fshut(RISK_EXIT_OK));
	case 'q':
		verbose = -1;
		return true;
	case 'v':
		if (verbose >= 0)
			verbose++;
		return true;
	default:
		return false;
	}
}

int64_t
cmd_duration(const char *opt, const char *s, void (*usage)(FILE *))
{
	char err[RISK_ERRLEN];
	int64_t ms;

	if (risk_duration_parse(s, &ms, err) != RISK_OK)
		cmd_badopt(usage, "--%s: %s", opt, err);
	return ms;
}

long
cmd_number(const char *opt, const char *s, long min, long max,
    void (*usage)(FILE *))
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < min || n > max)
		cmd_badopt(usage, "--%s: %s: not a number from %ld to %ld",
		    opt, s, min, max);
	return n;
}

int
cmd_fatal_status(int r)
{
	return risk_exit_status(r) == RISK_EXIT_TEMPFAIL ? RISK_EXIT_TEMPFAIL :
	    RISK_EXIT_ERROR;
}

void
cmd_worse(int *status, int st)
{
	if (st == RISK_EXIT_TEMPFAIL || *status == RISK_EXIT_TEMPFAIL)
		*status = RISK_EXIT_TEMPFAIL;
	else if (st > *status)
		*status = st;
}

void
cmd_bad_id(const char *id, const char *reason, void *arg)
{
	char buf[80];

	cmd_err("%s: %s", cmd_safe(id, buf, sizeof buf), reason);
	cmd_worse(arg, RISK_EXIT_ERROR);
}

const char *
cmd_safe(const char *s, char *buf, size_t sz)
{
	size_t n = strlen(s);

	if (n < sz) {
		memcpy(buf, s, n + 1);
	} else {
		memcpy(buf, s, sz - 1);
		buf[sz - 1] = '\0';
	}
	risk_text_clean(buf);	/* a cut character becomes a '?' too */
	if (n >= sz && sz > 4)
		memcpy(buf + strlen(buf) - (strlen(buf) < 3 ? strlen(buf) :
		    3), "...", 4);
	return buf;
}

int
cmd_batch_begin(struct cmd_batch *b)
{
	char err[RISK_ERRLEN];
	int r;

	if (b->off)
		return -1;
	if (risk_db_in_txn(b->db) ||
	    (r = risk_db_begin(b->db, err)) == RISK_OK)
		return 0;
	return cmd_batch_fail(b, r, err);
}

int
cmd_batch_done(struct cmd_batch *b)
{
	return ++b->pending >= b->max ? cmd_batch_commit(b) : 0;
}

int
cmd_batch_commit(struct cmd_batch *b)
{
	char err[RISK_ERRLEN];
	int r;

	b->pending = 0;
	if (b->off)
		return -1;
	if (!risk_db_in_txn(b->db) ||
	    (r = risk_db_commit(b->db, err)) == RISK_OK)
		return 0;
	return cmd_batch_fail(b, r, err);
}

int
cmd_batch_fail(struct cmd_batch *b, int r, const char *err)
{
	if (r == RISK_ERDONLY && b->rdonly_hint != NULL)
		cmd_err("%s (%s)", err, b->rdonly_hint);
	else
		cmd_err("%s", err);
	cmd_worse(b->status, cmd_fatal_status(r));
	risk_db_rollback(b->db);
	b->pending = 0;
	b->off = true;
	return -1;
}

int
cmd_fshut(int st)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_err("standard output: %s", strerror(errno ? errno : EIO));
		return RISK_EXIT_ERROR;
	}
	return st;
}

void
cmd_version(void)
{
	printf("%s %s\n", progname, RISK_VERSION);
	exit(cmd_fshut(RISK_EXIT_OK));
}

struct risk_db *
cmd_open(struct risk_db_opts *o)
{
	char err[RISK_ERRLEN];
	struct risk_db *db;
	int r;

	if ((r = risk_db_open(&db, o, err)) != RISK_OK)
		cmd_die(cmd_fatal_status(r), "%s", err);
	return db;
}

void
cmd_env(struct risk_db_opts *o)
{
	char err[RISK_ERRLEN];

	if (risk_db_opts_env(o, err) != RISK_OK)
		cmd_die(RISK_EXIT_ERROR, "%s", err);
}

void
cmd_optfail(int c, char **argv, void (*usage)(FILE *))
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		cmd_badopt(usage, "%s: needs a value", opt);
	if (optopt != 0 && strncmp(opt, "--", 2) != 0)
		cmd_badopt(usage, "-%c: unknown option", optopt);
	cmd_badopt(usage, "%s: unknown option", opt);
}

char *
cmd_slurp(const char *path, size_t max)
{
	char chunk[4096], *buf = NULL;
	size_t len = 0, n;
	FILE *fp, *mem;

	if ((fp = fopen(path, "r")) == NULL)
		cmd_die(RISK_EXIT_ERROR, "%s: %s", path, strerror(errno));
	if ((mem = open_memstream(&buf, &len)) == NULL)
		cmd_die(RISK_EXIT_ERROR, "out of memory");
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		if (len + n > max)
			cmd_die(RISK_EXIT_ERROR, "%s: larger than %zu bytes",
			    path, max);
		if (fwrite(chunk, 1, n, mem) != n || fflush(mem) != 0)
			cmd_die(RISK_EXIT_ERROR, "out of memory");
	}
	if (ferror(fp))
		cmd_die(RISK_EXIT_ERROR, "%s: %s", path, strerror(errno));
	fclose(fp);
	if (fclose(mem) != 0)
		cmd_die(RISK_EXIT_ERROR, "out of memory");
	return buf;
}

int
cmd_atomic_write(const char *path, const char *buf, size_t len)
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

void
cmd_map_init(struct cmd_map *m)
{
	memset(m, 0, sizeof *m);
	m->time = 2000;
}

bool
cmd_map_opt(int c, const char *arg, struct cmd_map *m, void (*usage)(FILE *))
{
	switch (c) {
	case OPT_MAP:
		m->prog = arg;
		return true;
	case OPT_MAP_FILE:
		m->file = arg;
		return true;
	case OPT_MAP_TIMEOUT:
		m->time = cmd_duration("map-timeout", arg, usage);
		return true;
	default:
		return false;
	}
}

struct risk_mapper *
cmd_map_new(struct cmd_map *m, void (*usage)(FILE *))
{
	struct risk_mapper *mp;
	char err[RISK_ERRLEN], *buf = NULL;
	const char *prog = m->prog;

	if (prog != NULL && m->file != NULL)
		cmd_badopt(usage, "--map and --map-file exclude each other");
	if (m->file != NULL)
		prog = buf = cmd_slurp(m->file, 1024 * 1024);
	if (prog == NULL)
		m->time = 0;		/* the default mapping is not bounded */
	if (risk_mapper_new(&mp, prog, m->time, 0, err) != RISK_OK)
		cmd_badopt(usage, "--map: %s", err);
	free(buf);
	return mp;
}

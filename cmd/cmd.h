/*
 * cmd.h — what the command mains share: diagnostics, option helpers and
 * careful exits.  Only cmd/ prints diagnostics or calls exit().
 */
#ifndef RISK_CMD_H
#define RISK_CMD_H

#include <getopt.h>
#include <stdnoreturn.h>

#include "risk.h"

extern const char *progname;
extern int verbose;		/* -1 with -q, 0 by default, 1+ with -v */

/*
 * One table per program, one row per option: getopt's long options and
 * optstring, the lines of --help and the bash completion (made from
 * --help by scripts/risk-completion) all come from it, so none of them
 * can drift from what the program parses.  tests/cli/man.sh checks that
 * every row is in the man page too.
 *
 * arg names the value in --help; NULL for a switch.  The completion
 * offers files for PATH and FILE, and the words of a list "a|b|c".
 * def is the default as a user would write it, or NULL.
 */
struct cmd_option {
	const char *name;	/* long name, or NULL for a letter only */
	int val;		/* the letter, or an OPT_ value above 255 */
	const char *arg;	/* "DUR", "PATH", "high|normal|low"; or NULL */
	const char *def;	/* "1h"; or NULL */
	const char *help;	/* what it does, a few words */
};

/* Options every program takes; values above any short option. */
enum {
	OPT_DB = 1000,
	OPT_QUEUE,
	OPT_STAGE,
	OPT_COMMON_END
};
#define COMMON_OPTIONS \
	{ "db", OPT_DB, "PATH", "$RISK_DB or per user", \
	    "file or PostgreSQL URI" }, \
	{ "help", 'h', NULL, NULL, "print this help and exit" }, \
	{ "queue", OPT_QUEUE, "PATH", "$RISK_QUEUE", \
	    "queue in a file of its own" }, \
	{ "quiet", 'q', NULL, NULL, "silence warnings (never errors)" }, \
	{ "stage", OPT_STAGE, "NAME", "$RISK_STAGE", \
	    "database per environment" }, \
	{ "verbose", 'v', NULL, NULL, "say more" }, \
	{ "version", 'V', NULL, NULL, "print the version and exit" }

/* getopt_long over the program's table (ended by a row of zeros), with
 * the optstring made from it; remembers the table for --help. */
int cmd_getopt(int argc, char *argv[], const struct cmd_option *opts);
/* The --help text after usage(): a line per option, the manual's name. */
void cmd_help(FILE *fp);

/* Make sure fds 0-2 are open (cron, CGI), remember our name, and keep
 * getopt quiet (bad options are reported by cmd_optfail). */
void cmd_init(const char *name);
/* Handle a common option; false if c is not one of them. */
bool cmd_common(int c, const char *arg, struct risk_db_opts *o,
    void (*usage)(FILE *));
/* "risk-x: " fmt on stderr (errors; never silenced). */
void cmd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, silenced by -q. */
void cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void cmd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void cmd_die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A bad option value: message, usage on stderr, exit 2. */
noreturn void cmd_badopt(void (*usage)(FILE *), const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int64_t cmd_duration(const char *opt, const char *s, void (*usage)(FILE *));
long cmd_number(const char *opt, const char *s, long min, long max,
    void (*usage)(FILE *));
/* Raise *status to st; "try again" (75) outranks the others. */
void cmd_worse(int *status, int st);
/* The exit status of a library error that ends the run: 75 when trying
 * again may help (a lock, a busy service), else 2. */
int cmd_fatal_status(int r);
/* risk_loop's bad(): name the ID, raise the status.  arg must point to a
 * struct whose first member is its int exit status. */
void cmd_bad_id(const char *id, const char *reason, void *arg);
/* An ID shown safely in a message: control bytes as '?', shortened. */
const char *cmd_safe(const char *s, char *buf, size_t sz);
/*
 * The batched writer of risk-enqueue, risk-get and risk-load: changes go
 * in write transactions of at most max, committed when a batch is full,
 * when input pauses (risk_loop's idle) and at the end.  A database error
 * is reported once, raises *status (75 or 2), rolls back what was not
 * committed and turns the writer off: what was committed stays.
 */
struct cmd_batch {
	struct risk_db *db;
	int *status;
	int max;
	int pending;		/* changes in the open transaction */
	bool off;		/* after a database error */
	const char *rdonly_hint;	/* added to a read-only error, or NULL */
};
/* Before a change: a transaction open.  0, or -1 when off. */
int cmd_batch_begin(struct cmd_batch *b);
/* After a change: commits a full batch.  0, or -1 when off. */
int cmd_batch_done(struct cmd_batch *b);
/* Commit what is pending.  0, or -1 when off. */
int cmd_batch_commit(struct cmd_batch *b);
/* A database error r of a change: report, raise, roll back, off; -1. */
int cmd_batch_fail(struct cmd_batch *b, int r, const char *err);
/* Flush and check stdout: RISK_EXIT_ERROR on a write error, else st. */
int cmd_fshut(int st);
/* A whole (small) file as a string, or die naming it. */
char *cmd_slurp(const char *path, size_t max);
/* Print the version and exit 0. */
noreturn void cmd_version(void);
/* Read the environment into o, or die with usage status. */
void cmd_env(struct risk_db_opts *o);
/* Open the database or die with the right status. */
struct risk_db *cmd_open(struct risk_db_opts *o);
/*
 * Replace path with len bytes of buf atomically: a temporary file in the
 * same folder, fsync, rename, fsync of the folder.  A reader sees the
 * old file or the new one, never a part; on failure path is left as it
 * was.  0, or -1 after saying why.
 */
int cmd_atomic_write(const char *path, const char *buf, size_t len);
/* getopt_long said '?' or ':' (optstring starts with ':'): exit 2. */
noreturn void cmd_optfail(int c, char **argv, void (*usage)(FILE *));

/* progress.c: one updating line on stderr for long work, only when
 * stderr is a terminal and without -q, once the work has run a second. */
struct cmd_progress {
	const char *what;	/* the unit counted: "lines", "IDs" */
	const char *phase;	/* a step of unknown length, or NULL */
	long count;
	int64_t start, drawn;	/* monotonic ms; drawn 0 before any line */
	size_t width;		/* of the line on screen */
	bool on;
};
void cmd_progress_init(struct cmd_progress *p, const char *what);
/* n more done (0: only the clock moved); redraws when it is time. */
void cmd_progress_add(struct cmd_progress *p, long n);
/* Announce a step of unknown length at once ("vacuuming"). */
void cmd_progress_phase(struct cmd_progress *p, const char *phase);
/* The last line and its newline, if any line was drawn. */
void cmd_progress_end(struct cmd_progress *p);
/* Blank the line on screen before a message (util.c's vmsg). */
void cmd_progress_clear(void);

/* The mapping options of risk-fetch, risk-drain and risk-load. */
enum {
	OPT_MAP = 1050,
	OPT_MAP_FILE,
	OPT_MAP_TIMEOUT
};

struct cmd_map {
	const char *prog, *file;
	int64_t time;		/* 2 s; 0 without a user mapping; < 0 in
				   process, unbounded (risk-load) */
};
void cmd_map_init(struct cmd_map *m);
/* Handle a mapping option; false if c is not one of them. */
bool cmd_map_opt(int c, const char *arg, struct cmd_map *m,
    void (*usage)(FILE *));
/* After the options: the mapper (a user's in a bounded child), or die. */
struct risk_mapper *cmd_map_new(struct cmd_map *m, void (*usage)(FILE *));

/* fetchutil.c: what the programs that fetch share. */
enum {
	OPT_CACERT = 1100,
	OPT_CERT,
	OPT_CONCURRENCY,
	OPT_CREDENTIALS,
	OPT_KEY,
	OPT_MAX_BODY,
	OPT_SOURCE,
	OPT_TIMEOUT,
	OPT_FETCH_END
};
#define FETCH_OPTIONS \
	{ "cacert", OPT_CACERT, "FILE", "$RISK_CACERT", \
	    "PEM CAs to trust instead of the system's" }, \
	{ "cert", OPT_CERT, "FILE", "$RISK_CERT", \
	    "PEM client certificate (mutual TLS)" }, \
	{ "concurrency", OPT_CONCURRENCY, "N", "4", \
	    "requests in flight (1 to 256)" }, \
	{ "credentials", OPT_CREDENTIALS, "FILE", "$RISK_CREDENTIALS_FILE", \
	    "credentials file" }, \
	{ "key", OPT_KEY, "FILE", "$RISK_KEY", \
	    "the certificate's PEM key, if not in its file" }, \
	{ "map", OPT_MAP, "FILTER", "built in", \
	    "jq filter from body to record" }, \
	{ "map-file", OPT_MAP_FILE, "PATH", NULL, \
	    "the same, read from a file" }, \
	{ "map-timeout", OPT_MAP_TIMEOUT, "DUR", "2s", \
	    "how long a user mapping may take" }, \
	{ "max-body", OPT_MAX_BODY, "BYTES", "1048576", \
	    "the cap on a body" }, \
	{ "source", OPT_SOURCE, "URL", "$RISK_SOURCE_URL", \
	    "URL template with {id}" }, \
	{ "timeout", OPT_TIMEOUT, "DUR", "5s", "one request's limit" }

struct cmd_fetch {
	struct risk_fetch_opts fo;	/* timeout 5 s, concurrency 4 */
	struct cmd_map mo;
	int64_t maptime;		/* mo.time, once the mapper is made */
	struct risk_mapper *map;
};

void cmd_fetch_init(struct cmd_fetch *f);
/* Handle a fetch option; false if c is not one of them. */
bool cmd_fetch_opt(int c, const char *arg, struct cmd_fetch *f,
    void (*usage)(FILE *));
/* After the options: the legacy URL, credentials and TLS files from the
 * environment where options left them unset, checked; the mapping made. */
void cmd_fetch_done(struct cmd_fetch *f, void (*usage)(FILE *));

#endif

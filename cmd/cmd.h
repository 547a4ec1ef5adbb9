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

/* Options every program takes; values above any short option. */
enum {
	OPT_DB = 1000,
	OPT_QUEUE,
	OPT_STAGE,
	OPT_COMMON_END
};
#define COMMON_LONGOPTS \
	{ "db", required_argument, NULL, OPT_DB }, \
	{ "queue", required_argument, NULL, OPT_QUEUE }, \
	{ "stage", required_argument, NULL, OPT_STAGE }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "version", no_argument, NULL, 'V' }

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
/* risk_loop's bad(): name the ID, raise the status.  arg must point to a
 * struct whose first member is its int exit status. */
void cmd_bad_id(const char *id, const char *reason, void *arg);
/* An ID shown safely in a message: control bytes as '?', shortened. */
const char *cmd_safe(const char *s, char *buf, size_t sz);
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
/* getopt_long said '?' or ':' (optstring starts with ':'): exit 2. */
noreturn void cmd_optfail(int c, char **argv, void (*usage)(FILE *));

/* fetchutil.c: what the programs that fetch share. */
enum {
	OPT_CONCURRENCY = 1100,
	OPT_CREDENTIALS,
	OPT_MAP,
	OPT_MAP_FILE,
	OPT_MAP_TIMEOUT,
	OPT_MAX_BODY,
	OPT_SOURCE,
	OPT_TIMEOUT,
	OPT_FETCH_END
};
#define FETCH_LONGOPTS \
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY }, \
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS }, \
	{ "map", required_argument, NULL, OPT_MAP }, \
	{ "map-file", required_argument, NULL, OPT_MAP_FILE }, \
	{ "map-timeout", required_argument, NULL, OPT_MAP_TIMEOUT }, \
	{ "max-body", required_argument, NULL, OPT_MAX_BODY }, \
	{ "source", required_argument, NULL, OPT_SOURCE }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }

struct cmd_fetch {
	struct risk_fetch_opts fo;	/* timeout 5 s, concurrency 4 */
	const char *mapprog, *mapfile;
	int64_t maptime;		/* 2 s; 0 without a user mapping */
	struct risk_mapper *map;
};

void cmd_fetch_init(struct cmd_fetch *f);
/* Handle a fetch option; false if c is not one of them. */
bool cmd_fetch_opt(int c, const char *arg, struct cmd_fetch *f,
    void (*usage)(FILE *));
/* After the options: the legacy URL and credentials from the environment
 * where options left them unset, checked; the mapping made. */
void cmd_fetch_done(struct cmd_fetch *f, void (*usage)(FILE *));

#endif

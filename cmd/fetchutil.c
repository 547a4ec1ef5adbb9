/*
 * fetchutil.c — option handling shared by the programs that talk to the
 * legacy service (risk-fetch, risk-drain).  Linked only into those, so
 * that no other program pulls in libcurl.
 */
#include <stdlib.h>

#include "cmd.h"

void
cmd_fetch_env(struct risk_fetch_opts *fo, void (*usage)(FILE *))
{
	char err[RISK_ERRLEN];
	const char *e;

	if (fo->url_template == NULL &&
	    (e = getenv("RISK_SOURCE_URL")) != NULL && *e != '\0')
		fo->url_template = e;
	if (fo->url_template == NULL)
		cmd_badopt(usage, "no legacy service: give --source URL or "
		    "set RISK_SOURCE_URL");
	if (fo->credentials == NULL &&
	    (e = getenv("RISK_CREDENTIALS_FILE")) != NULL && *e != '\0')
		fo->credentials = e;
	if (risk_fetch_check_template(fo->url_template, err) != RISK_OK)
		cmd_badopt(usage, "--source: %s", err);
}

struct risk_mapper *
cmd_mapper(const char *prog, const char *file, int64_t maptime,
    void (*usage)(FILE *))
{
	struct risk_mapper *m;
	char err[RISK_ERRLEN], *buf = NULL;

	if (prog != NULL && file != NULL)
		cmd_badopt(usage, "--map and --map-file exclude each other");
	if (file != NULL)
		prog = buf = cmd_slurp(file, 1024 * 1024);
	if (risk_mapper_new(&m, prog, maptime, 0, err) != RISK_OK)
		cmd_badopt(usage, "--map: %s", err);
	free(buf);
	return m;
}

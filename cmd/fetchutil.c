/*
 * fetchutil.c — option handling shared by the programs that talk to the
 * legacy service (risk-fetch, risk-drain).  Linked only into those, so
 * that no other program pulls in libcurl.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

void
cmd_fetch_init(struct cmd_fetch *f)
{
	memset(f, 0, sizeof *f);
	f->fo.timeout_ms = 5000;
	f->fo.concurrency = 4;
	cmd_map_init(&f->mo);
}

bool
cmd_fetch_opt(int c, const char *arg, struct cmd_fetch *f,
    void (*usage)(FILE *))
{
	if (cmd_map_opt(c, arg, &f->mo, usage))
		return true;
	switch (c) {
	case OPT_CACERT:
		f->fo.cacert = arg;
		return true;
	case OPT_CERT:
		f->fo.cert = arg;
		return true;
	case OPT_CONCURRENCY:
		f->fo.concurrency = (int)cmd_number("concurrency", arg, 1,
		    RISK_FETCH_MAX_SLOTS, usage);
		return true;
	case OPT_CREDENTIALS:
		f->fo.credentials = arg;
		return true;
	case OPT_KEY:
		f->fo.key = arg;
		return true;
	case OPT_MAX_BODY:
		f->fo.max_body = (size_t)cmd_number("max-body", arg, 1,
		    RISK_FETCH_MAX_BODY_CAP, usage);
		return true;
	case OPT_SOURCE:
		f->fo.url_template = arg;
		return true;
	case OPT_TIMEOUT:
		f->fo.timeout_ms = cmd_duration("timeout", arg, usage);
		if (f->fo.timeout_ms == 0)
			cmd_badopt(usage, "--timeout: must be more than 0");
		return true;
	default:
		return false;
	}
}

/* An option left unset takes the environment's value, if not empty. */
static void
fromenv(const char **opt, const char *name)
{
	const char *e;

	if (*opt == NULL && (e = getenv(name)) != NULL && *e != '\0')
		*opt = e;
}

void
cmd_fetch_done(struct cmd_fetch *f, void (*usage)(FILE *))
{
	char err[RISK_ERRLEN];

	fromenv(&f->fo.url_template, "RISK_SOURCE_URL");
	if (f->fo.url_template == NULL)
		cmd_badopt(usage, "no legacy service: give --source URL or "
		    "set RISK_SOURCE_URL");
	fromenv(&f->fo.credentials, "RISK_CREDENTIALS_FILE");
	fromenv(&f->fo.cacert, "RISK_CACERT");
	fromenv(&f->fo.cert, "RISK_CERT");
	fromenv(&f->fo.key, "RISK_KEY");
	if (risk_fetch_check_template(f->fo.url_template, err) != RISK_OK)
		cmd_badopt(usage, "--source: %s", err);
	f->map = cmd_map_new(&f->mo, usage);
	f->maptime = f->mo.time;
}

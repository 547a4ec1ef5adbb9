/*
 * jq.c — the dlopen shim for libjq (see jqapi.h for why), loaded by
 * dl.c: risk__jq is filled completely or the load failed.
 */
#include "internal.h"
#include "jqapi.h"

struct risk__jq risk__jq;

int
risk__jq_load(char *err)
{
#define RISK_JQ_NAME(f) #f,
#define RISK_JQ_SLOT(f) (void **)&risk__jq.p_##f,
	static const char *const names[] = { RISK_JQ_API(RISK_JQ_NAME) };
	static void **const slots[] = { RISK_JQ_API(RISK_JQ_SLOT) };
#undef RISK_JQ_NAME
#undef RISK_JQ_SLOT
	static struct risk__dl dl = { .lib = "libjq.so.1", .what = "libjq",
	    .names = names, .slots = slots,
	    .n = sizeof names / sizeof names[0], .code = RISK_EJQ };

	return risk__dl_load(&dl, err);
}

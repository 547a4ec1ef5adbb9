/*
 * jq.c — the dlopen shim for libjq (see jqapi.h for why).
 *
 * Invariant: risk__jq is filled completely or the load failed; the
 * outcome is decided once per process and its reason kept.
 */
#include <dlfcn.h>

#include "jqapi.h"

struct risk__jq risk__jq;

int
risk__jq_load(char *err)
{
	static int state;	/* 0 not tried, 1 loaded, -1 failed */
	static char why[256];
	const char *e;
	void *h;

	if (state == 0) {
		state = -1;
		if ((h = dlopen("libjq.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL) {
			e = dlerror();
			snprintf(why, sizeof why, "cannot load libjq: %s",
			    e != NULL ? e : "dlopen failed");
			return risk_seterr(err, RISK_EJQ, "%s", why);
		}
#define RISK_JQ_SYM(f) \
		if ((*(void **)&risk__jq.p_##f = dlsym(h, #f)) == NULL) { \
			snprintf(why, sizeof why, "libjq has no %s", #f); \
			return risk_seterr(err, RISK_EJQ, "%s", why); \
		}
		RISK_JQ_API(RISK_JQ_SYM)
#undef RISK_JQ_SYM
		state = 1;
	}
	return state == 1 ? RISK_OK : risk_seterr(err, RISK_EJQ, "%s", why);
}

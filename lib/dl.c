/*
 * dl.c — open a library with dlopen on first use and fill its function
 * slots (libjq for filters, libfcgi for FastCGI): a program that never
 * needs one never pays for loading it.
 *
 * Invariant: every slot is filled or the load failed; the outcome is
 * decided once per process and its reason kept for every later call.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "internal.h"

int
risk__dl_load(struct risk__dl *d, char *err)
{
	const char *e;
	void *h, *p;
	size_t i;

	if (d->state == 0) {
		d->state = -1;
		if ((h = dlopen(d->lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			e = dlerror();
			snprintf(d->why, sizeof d->why, "cannot load %s: %s",
			    d->what, e != NULL ? e : "dlopen failed");
			return risk_seterr(err, d->code, "%s", d->why);
		}
		for (i = 0; i < d->n; i++) {
			if ((p = dlsym(h, d->names[i])) == NULL) {
				snprintf(d->why, sizeof d->why, "%s has no %s",
				    d->what, d->names[i]);
				return risk_seterr(err, d->code, "%s", d->why);
			}
			*d->slots[i] = p;
		}
		d->state = 1;
	}
	return d->state == 1 ? RISK_OK :
	    risk_seterr(err, d->code, "%s", d->why);
}

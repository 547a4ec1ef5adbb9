/*
 * nojq.c — an LD_PRELOAD shim that makes libjq unloadable, for
 * tests/cli/print.sh: every dlopen of a name holding "libjq" fails as a
 * missing library does, so a test sees what a machine without libjq
 * sees.  Everything else is opened as usual.
 *
 *   cc -shared -fPIC -o nojq.so nojq.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

void *
dlopen(const char *file, int mode)
{
	static void *(*real)(const char *, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "dlopen");
	if (file != NULL && strstr(file, "libjq") != NULL)
		file = "libjq-made-unloadable-by-nojq.so.1";	/* sets dlerror */
	return real(file, mode);
}

/*
 * failwrite.c — an LD_PRELOAD shim that makes writes fail on demand,
 * for tests/cli/faults.sh (as jq's and SQLite's own tests do).
 *
 *   FAILWRITE_PATH=STR     only fds whose /proc/self/fd link contains
 *                          STR (default: every fd above 2)
 *   FAILWRITE_AFTER=N      let the first N matching calls through (0)
 *   FAILWRITE_ERRNO=NAME   ENOSPC (default) or EIO
 *   FAILWRITE_CALLS=LIST   which of write,pwrite,pwrite64,fsync,
 *                          fdatasync fail (default: all of them)
 *
 * Without FAILWRITE_PATH or FAILWRITE_AFTER set, nothing fails.  Each
 * failure is counted in the file FAILWRITE_LOG names, when set, so a
 * test can tell that the fault was really hit.
 *
 *   cc -shared -fPIC -o failwrite.so failwrite.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef int (*sync_fn)(int);

static long calls;

static bool
armed(const char *call, int fd)
{
	const char *path = getenv("FAILWRITE_PATH");
	const char *after = getenv("FAILWRITE_AFTER");
	const char *which = getenv("FAILWRITE_CALLS");
	char proc[64], link[4096];
	ssize_t n;

	if (path == NULL && after == NULL)
		return false;
	if (which != NULL) {
		size_t len = strlen(call);
		const char *p = which;

		while ((p = strstr(p, call)) != NULL) {
			if ((p == which || p[-1] == ',') &&
			    (p[len] == ',' || p[len] == '\0'))
				break;
			p += len;
		}
		if (p == NULL)
			return false;
	}
	if (path != NULL) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		if ((n = readlink(proc, link, sizeof link - 1)) < 0)
			return false;
		link[n] = '\0';
		if (strstr(link, path) == NULL)
			return false;
	} else if (fd <= 2) {
		return false;
	}
	return ++calls > (after != NULL ? atol(after) : 0);
}

static int
fail(void)
{
	const char *e = getenv("FAILWRITE_ERRNO");
	const char *log = getenv("FAILWRITE_LOG");
	int fd;

	if (log != NULL &&
	    (fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600)) >= 0) {
		/* the real write: this fd matches no pattern of ours
		 * unless the log is named like the target */
		write_fn w;

		*(void **)&w = dlsym(RTLD_NEXT, "write");
		if (w != NULL)
			(void)w(fd, "x\n", 2);
		close(fd);
	}
	errno = e != NULL && strcmp(e, "EIO") == 0 ? EIO : ENOSPC;
	return -1;
}

#define REAL(name, type) \
	static type real; \
	if (real == NULL) \
		*(void **)&real = dlsym(RTLD_NEXT, name)

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL("write", write_fn);
	if (armed("write", fd))
		return fail();
	return real(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL("pwrite", pwrite_fn);
	if (armed("pwrite", fd))
		return fail();
	return real(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL("pwrite64", pwrite64_fn);
	if (armed("pwrite64", fd))
		return fail();
	return real(fd, buf, n, off);
}

int
fsync(int fd)
{
	REAL("fsync", sync_fn);
	if (armed("fsync", fd))
		return fail();
	return real(fd);
}

int
fdatasync(int fd)
{
	REAL("fdatasync", sync_fn);
	if (armed("fdatasync", fd))
		return fail();
	return real(fd);
}

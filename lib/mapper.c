/*
 * mapper.c — a user's mapping filter, run where it cannot hurt.
 *
 * A jq program from the command line can loop forever or allocate
 * without end, and libjq has no way to interrupt it.  So a user filter
 * runs in a child process, forked once after the filter compiled, with a
 * memory limit (mem bytes of data beyond what it holds at the start) and
 * an empty environment ($ENV shows nothing).  Each body
 * goes over a socket pair; the answer must come back within the timeout
 * or the child is killed, the attempt fails with that reason, and a
 * fresh child takes over.  The default mapping needs none of this and
 * runs in the caller's process.
 *
 * Invariants: one request in flight at a time; a reply is one fixed-size
 * message; every failure of the child becomes an error for that body
 * alone, never for the caller's process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* A request: the body's length, the ID key's (0: a body, not a dump
 * line), the key, the body. */
struct request {
	uint32_t len;
	uint32_t keylen;
};

struct reply {
	int32_t status;
	char id[RISK_ID_MAX + 1];
	int64_t changed_at;
	char st[64];
	char err[RISK_ERRLEN];
};

struct risk_mapper {
	struct risk__map *map;
	bool child;		/* false: the default mapping, in process */
	pid_t pid;
	int fd;
	int64_t timeout_ms;
	size_t mem;
	char *buf;		/* the child's body buffer */
	size_t bufsz;
};

static bool
readfull(int fd, void *p, size_t n)
{
	char *c = p;
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, c, n)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		c += r;
		n -= (size_t)r;
	}
	return true;
}

static bool
sendfull(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t r;

	while (n > 0) {
		if ((r = send(fd, c, n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		c += r;
		n -= (size_t)r;
	}
	return true;
}

/* The child: read bodies, map them, answer; _exit on any trouble. */
static void
serve(struct risk_mapper *m, int fd)
{
	struct risk_record rec;
	struct request req;
	struct reply rep;
	char key[256];
	char *body = NULL;
	size_t cap = 0;

	for (;;) {
		if (!readfull(fd, &req, sizeof req) ||
		    req.keylen >= sizeof key ||
		    !readfull(fd, key, req.keylen))
			_exit(0);
		key[req.keylen] = '\0';
		if (req.len + 1 > cap) {
			free(body);
			cap = (size_t)req.len + 1;
			if ((body = malloc(cap)) == NULL)
				_exit(3);
		}
		if (!readfull(fd, body, req.len))
			_exit(0);
		body[req.len] = '\0';
		memset(&rep, 0, sizeof rep);
		memset(&rec, 0, sizeof rec);
		rep.status = req.keylen > 0 ?
		    risk__map_line(m->map, body, req.len, key, &rec, rep.err) :
		    risk__map_apply(m->map, body, req.len, &rec, rep.err);
		rep.changed_at = rec.changed_at;
		memcpy(rep.id, rec.id, sizeof rep.id);
		memcpy(rep.st, rec.status, sizeof rep.st);
		if (!sendfull(fd, &rep, sizeof rep))
			_exit(0);
	}
}

/*
 * The data this process holds now (VmData), in bytes; 0 if unknown.
 * Called in the child, so no stdio.  Under AddressSanitizer VmData is
 * terabytes of shadow already: a limit of mem alone would leave the
 * filter not one new page.
 */
static rlim_t
data_now(void)
{
	char buf[4096], *p;
	unsigned long long kb;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nVmData:")) == NULL ||
	    sscanf(p + 8, "%llu", &kb) != 1 || kb > RLIM_INFINITY / 2048)
		return 0;
	return (rlim_t)kb * 1024;
}

static int
spawn(struct risk_mapper *m, char *err)
{
	static char *noenv[] = { NULL };
	struct rlimit rl;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return risk_seterr(err, RISK_EIO, "map: socketpair: %s",
		    strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return risk_seterr(err, RISK_EIO, "map: fork: %s",
		    strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		signal(SIGINT, SIG_IGN);	/* the parent decides */
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		environ = noenv;	/* not clearenv(): jq's env walks it */
		/* mem bytes more than the child holds when it starts */
		rl.rlim_cur = rl.rlim_max = data_now() + m->mem;
		setrlimit(RLIMIT_DATA, &rl);
		serve(m, sv[1]);
		_exit(0);
	}
	close(sv[1]);
	m->pid = pid;
	m->fd = sv[0];
	return RISK_OK;
}

static void
reap(struct risk_mapper *m)
{
	if (m->pid <= 0)
		return;
	close(m->fd);
	kill(m->pid, SIGKILL);
	while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
		;
	m->pid = 0;
	m->fd = -1;
}

int
risk_mapper_new(struct risk_mapper **mp, const char *prog, int64_t timeout_ms,
    size_t mem, char *err)
{
	struct risk_mapper *m;
	int r;

	*mp = NULL;
	if ((m = calloc(1, sizeof *m)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	m->fd = -1;
	m->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	m->mem = mem > 0 ? mem : (size_t)512 << 20;
	if ((r = risk__map_new(&m->map, prog, err)) != RISK_OK) {
		free(m);
		return r;
	}
	m->child = prog != NULL && timeout_ms >= 0;
	if (m->child && (r = spawn(m, err)) != RISK_OK) {
		risk_mapper_free(m);
		return r;
	}
	*mp = m;
	return RISK_OK;
}

/* One body (idkey NULL) or dump line through the child. */
static int
ask(struct risk_mapper *m, const char *body, size_t len, const char *idkey,
    struct risk_record *rec, char *err)
{
	struct request req;
	struct reply rep;
	struct pollfd p;
	int64_t deadline, left;
	size_t keylen = idkey != NULL ? strlen(idkey) : 0;
	int r;

	if (len > UINT32_MAX - 1)
		return risk_seterr(err, RISK_EJQ, "body too large");
	if (keylen >= 256 || (idkey != NULL && keylen == 0))
		return risk_seterr(err, RISK_EINVAL, "bad ID key");
	if (m->pid <= 0 && (r = spawn(m, err)) != RISK_OK)
		return r;
	req.len = (uint32_t)len;
	req.keylen = (uint32_t)keylen;
	deadline = risk_now_ms() + m->timeout_ms;
	if (!sendfull(m->fd, &req, sizeof req) ||
	    !sendfull(m->fd, idkey, keylen) ||
	    !sendfull(m->fd, body, len))
		goto died;
	p.fd = m->fd;
	p.events = POLLIN;
	for (;;) {
		left = deadline - risk_now_ms();
		if (left <= 0) {
			reap(m);
			return risk_seterr(err, RISK_EJQ, "map: no answer "
			    "within %lld ms (filter stopped)",
			    (long long)m->timeout_ms);
		}
		r = poll(&p, 1, (int)left);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR)
			goto died;
	}
	if (!readfull(m->fd, &rep, sizeof rep))
		goto died;
	rep.err[sizeof rep.err - 1] = '\0';
	rep.st[sizeof rep.st - 1] = '\0';
	rep.id[sizeof rep.id - 1] = '\0';
	if (rep.status != RISK_OK)
		return risk_seterr(err, rep.status, "%s", rep.err);
	if (idkey != NULL)
		memcpy(rec->id, rep.id, sizeof rec->id);
	rec->found = true;
	rec->changed_at = rep.changed_at;
	memcpy(rec->status, rep.st, sizeof rec->status);
	return RISK_OK;
died:
	reap(m);
	return risk_seterr(err, RISK_EJQ, "map: filter failed (out of memory "
	    "or crashed)");
}

int
risk_mapper_apply(struct risk_mapper *m, const char *body, size_t len,
    struct risk_record *rec, char *err)
{
	if (!m->child)
		return risk__map_apply(m->map, body, len, rec, err);
	return ask(m, body, len, NULL, rec, err);
}

int
risk_mapper_line(struct risk_mapper *m, const char *line, size_t len,
    const char *idkey, struct risk_record *rec, char *err)
{
	if (!m->child)
		return risk__map_line(m->map, line, len, idkey, rec, err);
	return ask(m, line, len, idkey, rec, err);
}

void
risk_mapper_free(struct risk_mapper *m)
{
	if (m == NULL)
		return;
	reap(m);
	risk__map_free(m->map);
	free(m);
}

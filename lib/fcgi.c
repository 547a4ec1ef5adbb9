/*
 * fcgi.c — FastCGI requests, through Debian's libfcgi (fcgiapp.h).
 *
 * Invariants:
 * - Nothing links libfcgi.  risk_fcgi_listening() decides, with one
 *   fstat and one getpeername and no library, whether standard input is
 *   a listening socket (what FCGX_IsCGI tests); only then is libfcgi
 *   opened with dlopen (dl.c), as libjq is.  The one-shot command
 *   line and CGI starts never pay for it.
 * - One request at a time, one FCGX_Request for the process's life.
 *   risk_fcgi_accept() fills a struct risk_cgi_env with the request's
 *   parameters, valid until the next accept.  The environment of the
 *   process is never consulted for a request's variables.
 * - The response goes through one unbuffered stdio stream whose writes
 *   become FCGX_PutStr on the current request, so lib/cgi.c writes CGI
 *   and FastCGI answers alike.  Unbuffered, nothing of one answer can
 *   linger in a buffer and reach the next request's client.
 * - Never prints, never exits; a SIGPIPE is the caller's to ignore.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcgiapp.h>

#include "internal.h"

/* Every libfcgi function used below, resolved by load(). */
#define FCGI_API(X) \
	X(FCGX_Accept_r) X(FCGX_Finish_r) X(FCGX_GetParam) X(FCGX_Init) \
	X(FCGX_InitRequest) X(FCGX_IsCGI) X(FCGX_PutStr)

static struct {
#define FCGI_DECL(f) __typeof__(f) *p_##f;
	FCGI_API(FCGI_DECL)
#undef FCGI_DECL
} F;

struct risk_fcgi {
	FCGX_Request req;
	bool active;		/* accepted and not yet finished */
	FILE *out;
};

bool
risk_fcgi_listening(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	struct stat sb;

	if (fstat(fd, &sb) != 0 || !S_ISSOCK(sb.st_mode))
		return false;
	/* a listening socket has no peer; a connected one (inetd, ssh) does */
	return getpeername(fd, (struct sockaddr *)&sa, &len) != 0 &&
	    errno == ENOTCONN;
}

/* Open libfcgi once; RISK_OK, or why it cannot be had. */
static int
load(char *err)
{
#define FCGI_NAME(f) #f,
#define FCGI_SLOT(f) (void **)&F.p_##f,
	static const char *const names[] = { FCGI_API(FCGI_NAME) };
	static void **const slots[] = { FCGI_API(FCGI_SLOT) };
#undef FCGI_NAME
#undef FCGI_SLOT
	static struct risk__dl dl = { .lib = "libfcgi.so.0",
	    .what = "libfcgi", .names = names, .slots = slots,
	    .n = sizeof names / sizeof names[0], .code = RISK_EDB };

	return risk__dl_load(&dl, err);
}

static ssize_t
out_write(void *cookie, const char *buf, size_t n)
{
	struct risk_fcgi *f = cookie;

	if (!f->active || n > INT32_MAX) {
		errno = EPIPE;
		return -1;
	}
	if (F.p_FCGX_PutStr(buf, (int)n, f->req.out) != (int)n) {
		errno = EPIPE;		/* the server closed the connection */
		return -1;
	}
	return (ssize_t)n;
}

int
risk_fcgi_open(struct risk_fcgi **fp, int fd, char *err)
{
	cookie_io_functions_t io = { .write = out_write };
	struct risk_fcgi *f;
	int r;

	*fp = NULL;
	if ((r = load(err)) != RISK_OK)
		return r;
	if (F.p_FCGX_Init() != 0 || F.p_FCGX_IsCGI())
		return risk_seterr(err, RISK_EINVAL,
		    "standard input is not a FastCGI socket");
	if ((f = calloc(1, sizeof *f)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	if (F.p_FCGX_InitRequest(&f->req, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0 ||
	    (f->out = fopencookie(f, "w", io)) == NULL) {
		free(f);
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	setvbuf(f->out, NULL, _IONBF, 0);
	*fp = f;
	return RISK_OK;
}

int
risk_fcgi_accept(struct risk_fcgi *f, struct risk_cgi_env *env, char *err)
{
	FCGX_ParamArray p;
	int rc;

	risk_fcgi_finish(f);
	if ((rc = F.p_FCGX_Accept_r(&f->req)) < 0)
		return risk_seterr(err, RISK_EIO, "FastCGI accept: %s",
		    rc > -4096 ? strerror(-rc) : "protocol error");
	f->active = true;
	clearerr(f->out);
	p = f->req.envp;
	*env = (struct risk_cgi_env){
		.method = F.p_FCGX_GetParam("REQUEST_METHOD", p),
		.path_info = F.p_FCGX_GetParam("PATH_INFO", p),
		.query = F.p_FCGX_GetParam("QUERY_STRING", p),
		.if_none_match = F.p_FCGX_GetParam("HTTP_IF_NONE_MATCH", p),
		.if_modified_since = F.p_FCGX_GetParam(
		    "HTTP_IF_MODIFIED_SINCE", p),
	};
	return RISK_OK;
}

FILE *
risk_fcgi_out(struct risk_fcgi *f)
{
	return f->out;
}

void
risk_fcgi_finish(struct risk_fcgi *f)
{
	if (f->active)
		F.p_FCGX_Finish_r(&f->req);
	f->active = false;
}

void
risk_fcgi_close(struct risk_fcgi *f)
{
	if (f == NULL)
		return;
	risk_fcgi_finish(f);
	fclose(f->out);
	free(f);
}

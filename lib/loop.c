/*
 * loop.c — the one way every command reads company IDs.
 *
 * IDs come from argv, or from a file descriptor one per line when argv is
 * empty or just "-".  Each is trimmed of surrounding white space; blank
 * lines are skipped, but an empty (or blank) argument is an invalid ID:
 * `risk-get "$id"` with an unset $id must not succeed; a line longer than any valid ID is reported
 * (shortened) and skipped, never split.  Memory is one fixed buffer: input
 * of any length streams through.  Reading is done here rather than with
 * stdio so that the loop knows when the next read would block and can let
 * the caller commit and flush first (l->idle).
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "risk.h"

#define LINE_MAX_ID 4096
#define INBUF 65536

static int
one(const struct risk_loop *l, char *s, size_t len, bool isarg)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0) {
		if (isarg)
			l->bad("''", "invalid company id (empty argument)",
			    l->arg);
		return 0;
	}
	s[len] = '\0';
	if (!risk_id_valid(s, len)) {
		if (strlen(s) != len)
			l->bad("(contains NUL)", "invalid company id", l->arg);
		else
			l->bad(s, "invalid company id", l->arg);
		return 0;
	}
	return l->id(s, l->arg);
}

/* Read more input; run idle first when nothing is waiting. */
static ssize_t
fill(const struct risk_loop *l, char *buf, size_t sz, int *r)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	ssize_t n;

	*r = 0;
	if (l->idle != NULL && poll(&p, 1, 0) == 0 &&
	    (*r = l->idle(l->arg)) != 0)
		return 0;
	do
		n = read(l->fd, buf, sz);
	while (n < 0 && errno == EINTR);
	return n;
}

int
risk_loop(int argc, char **argv, const struct risk_loop *l, char *err)
{
	static char in[INBUF];
	char line[LINE_MAX_ID + 8];
	size_t len = 0, i;
	ssize_t n;
	bool toolong = false;
	int r;

	if (argc > 0 && !(argc == 1 && strcmp(argv[0], "-") == 0)) {
		for (; argc > 0; argc--, argv++)
			if ((r = one(l, *argv, strlen(*argv), true)) != 0)
				return r;
		return 0;
	}
	for (;;) {
		if ((n = fill(l, in, sizeof in, &r)) < 0)
			return risk_seterr(err, RISK_EIO, "standard input: %s",
			    strerror(errno));
		if (r != 0)
			return r;
		if (n == 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (in[i] != '\n') {
				if (len < LINE_MAX_ID)
					line[len++] = in[i];
				else
					toolong = true;
				continue;
			}
			if (toolong) {
				memcpy(line + 64, "...", 4);
				l->bad(line, "invalid company id (line too "
				    "long)", l->arg);
			} else if ((r = one(l, line, len, false)) != 0) {
				return r;
			}
			len = 0;
			toolong = false;
		}
	}
	if (toolong) {
		memcpy(line + 64, "...", 4);
		l->bad(line, "invalid company id (line too long)", l->arg);
	} else if (len > 0) {
		return one(l, line, len, false);
	}
	return 0;
}

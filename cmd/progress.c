/*
 * progress.c — one updating line on stderr for long work, as pv and curl
 * draw theirs: a count, a rate and the elapsed time,
 *
 *	risk-load: 1520000 lines  41081/s  0:00:37
 *
 * redrawn in place with a carriage return, and ended with a newline.
 *
 * Invariants:
 * - Only for a person: never unless stderr is a terminal (so never under
 *   cron, a pipe or a web server), never with -q.
 * - Only for long work: nothing is drawn before the work has run DELAY,
 *   so a short run prints exactly what it printed before.  A phase of
 *   unknown length (VACUUM) is announced at once instead.
 * - At most one redraw per REDRAW; a message printed meanwhile (vmsg in
 *   util.c) first blanks the line, so it never lands in the middle.
 */
#include <string.h>
#include <unistd.h>

#include "cmd.h"

#define DELAY 1000	/* ms before the first line */
#define REDRAW 250	/* ms between lines */

static struct cmd_progress *shown;	/* the one whose line is on screen */

void
cmd_progress_init(struct cmd_progress *p, const char *what)
{
	memset(p, 0, sizeof *p);
	p->what = what;
	p->on = verbose >= 0 && isatty(STDERR_FILENO);
	p->start = risk_mono_ms();
}

static void
draw(struct cmd_progress *p, int64_t now)
{
	char line[160];
	int64_t ms = now - p->start, s = ms / 1000;
	int n;

	n = snprintf(line, sizeof line,
	    "%s: %ld %s  %lld/s  %lld:%02lld:%02lld%s%s", progname, p->count, p->what,
	    (long long)(ms > 0 ? p->count * INT64_C(1000) / ms : 0),
	    (long long)(s / 3600), (long long)(s / 60 % 60),
	    (long long)(s % 60), p->phase != NULL ? "  " : "",
	    p->phase != NULL ? p->phase : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	/* blank what is left of a longer line before */
	fprintf(stderr, "\r%s%*s", line,
	    p->width > (size_t)n ? (int)(p->width - (size_t)n) : 0, "");
	fflush(stderr);
	p->width = (size_t)n;
	p->drawn = now;
	shown = p;
}

void
cmd_progress_add(struct cmd_progress *p, long n)
{
	int64_t now;

	p->count += n;
	if (!p->on)
		return;
	now = risk_mono_ms();
	if (p->drawn == 0 ? now - p->start >= DELAY : now - p->drawn >= REDRAW)
		draw(p, now);
}

void
cmd_progress_phase(struct cmd_progress *p, const char *phase)
{
	p->phase = phase;
	if (p->on)
		draw(p, risk_mono_ms());
}

void
cmd_progress_clear(void)
{
	if (shown == NULL)
		return;
	fprintf(stderr, "\r%*s\r", (int)shown->width, "");
	shown->drawn = 1;	/* redraw at the next step */
	shown = NULL;
}

void
cmd_progress_end(struct cmd_progress *p)
{
	if (!p->on || p->drawn == 0)
		return;
	p->phase = NULL;
	draw(p, risk_mono_ms());
	fputc('\n', stderr);
	fflush(stderr);
	shown = NULL;
}

#!/bin/bash
# tests/cli/progress.sh — the progress line of long work (risk-load,
# risk-enqueue, risk-purge --vacuum): drawn on a terminal, in place, with
# a count, a rate and the elapsed time, ended by a newline; absent when
# stderr is not a terminal (cron, pipes) and with -q; absent from short
# runs.
#
# "Long" is made certain, not hoped for: the input pauses 1.5 s (more
# than the 1 s a run must last before a line is drawn) whatever the
# machine's speed.  tests/pty-stderr gives the program a terminal as
# stderr and keeps stdout apart.

. "$(dirname "$0")/../lib.sh"
PTY=$ROOT/tests/pty-stderr

line() { printf '{"id":"%s","status":"reliable"}\n' "$1"; }
export -f line

# slow PROG ARGS...: PROG reads two items 1.5 s apart
slow() {
	local prog=$1; shift
	case $prog in
	risk-load) bash -c 'line P1; sleep 1.5; line P2' ;;
	*) bash -c 'echo P1; sleep 1.5; echo P2' ;;
	esac | "$prog" "$@"
}
export -f slow

# ---- risk-load on a terminal -----------------------------------------------
run "$PTY" "$T/tty" bash -c 'slow risk-load'
expect_rc 0
expect_out_empty
cp "$T/tty" "$T/err"
expect_err_re $'\rrisk-load: 2 lines  [0-9]+/s  0:00:0[1-9]'
expect "the last progress line ends with a newline" \
    [ "$(tail -c 1 "$T/tty" | od -An -c | tr -d ' ')" = '\n' ]
expect "one line, redrawn in place: a single newline" \
    [ "$(tr -cd '\n' <"$T/tty" | wc -c)" = 1 ]
run risk-get --no-enqueue P1 P2
expect_rc 0

# ---- not a terminal, or -q: nothing -----------------------------------------
run bash -c 'slow risk-load'
expect_rc 0
expect_err_empty
run "$PTY" "$T/tty" bash -c 'slow risk-load -q'
expect_rc 0
expect "-q: nothing on the terminal" [ ! -s "$T/tty" ]

# ---- a short run draws nothing -------------------------------------------------
run "$PTY" "$T/tty" bash -c 'line Q1 | risk-load'
expect_rc 0
expect "a short risk-load draws nothing" [ ! -s "$T/tty" ]

# ---- a message during the run starts on a line of its own --------------------
run "$PTY" "$T/tty" bash -c \
    '{ line P3; sleep 1.5; line P4; echo "{bad"; sleep 0.5; line P5; } | risk-load'
expect_rc 1
cp "$T/tty" "$T/err"
expect_err_re $'\r *\rrisk-load: standard input:3: '
expect_err_re $'\rrisk-load: 4 lines  [0-9]+/s  0:00:0[1-9] *\n$'

# ---- risk-enqueue ---------------------------------------------------------------
run "$PTY" "$T/tty" bash -c 'slow risk-enqueue'
expect_rc 0
cp "$T/tty" "$T/err"
expect_err_re $'\rrisk-enqueue: 2 IDs  [0-9]+/s  0:00:0[1-9] *\n$'
run bash -c 'slow risk-enqueue'
expect_rc 0
expect_err_empty
run "$PTY" "$T/tty" risk-enqueue E1 E2
expect_rc 0
expect "a short risk-enqueue draws nothing" [ ! -s "$T/tty" ]

# ---- risk-purge --vacuum: the step is announced at once ------------------------
run "$PTY" "$T/tty" risk-purge --vacuum
expect_rc 0
cp "$T/tty" "$T/err"
expect_err_re $'\rrisk-purge: 0 removed  [0-9]+/s  0:00:[0-9]{2}  vacuuming'
expect_err_re $'\n$'
run risk-purge --vacuum
expect_rc 0
expect_err_empty
run "$PTY" "$T/tty" risk-purge --vacuum -q
expect_rc 0
expect "risk-purge -q: nothing on the terminal" [ ! -s "$T/tty" ]

finish

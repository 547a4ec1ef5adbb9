#!/bin/bash
# tests/cli/man.sh — the manual pages: lint clean, complete, and in step
# with the code (like curl's test1139).
#
# For every program cmd/risk-X.c there must be a man/risk-X.1 that names
# every option the program parses: each long option of its longopts[]
# table (the *_LONGOPTS macros expanded from cmd/cmd.h) as "Fl -name", and each
# letter of its getopt optstring as "Fl x", in the mdoc source.  Grouped
# letters ("Fl hqVv" in a SYNOPSIS) do not count: each option needs an
# entry of its own.  risk.7 must .Xr every program.
#
# The checks read source files only, never the built binaries.
# MAN_ROOT=DIR checks a copy of the tree instead (used to test this test).

. "$(dirname "$0")/../lib.sh"
SRC=${MAN_ROOT:-$ROOT}

# Long option names of a longopts[] table, one per line.
longopts() {
	awk '
	/longopts\[\][[:space:]]*=/ { on = 1 }
	on && match($0, /[A-Z_]+_LONGOPTS/) {
		print "@" substr($0, RSTART, RLENGTH)
	}
	on {
		s = $0
		while (match(s, /\{[[:space:]]*"[^"]+"/)) {
			t = substr(s, RSTART, RLENGTH)
			sub(/^\{[[:space:]]*"/, "", t); sub(/"$/, "", t)
			print t
			s = substr(s, RSTART + RLENGTH)
		}
	}
	on && /\};/ { exit }
	' "$1"
}

# The long options of a NAME_LONGOPTS macro in cmd/cmd.h.
macro_longopts() {
	awk -v name="$1" '
	$1 == "#define" && $2 == name { on = 1 }
	on {
		s = $0
		while (match(s, /\{[[:space:]]*"[^"]+"/)) {
			t = substr(s, RSTART, RLENGTH)
			sub(/^\{[[:space:]]*"/, "", t); sub(/"$/, "", t)
			print t
			s = substr(s, RSTART + RLENGTH)
		}
		if ($0 !~ /\\[[:space:]]*$/) exit
	}
	' "$SRC/cmd/cmd.h"
}

# The letters of the optstring given to getopt_long / getopt.
shortopts() {
	tr '\n' ' ' <"$1" |
	    grep -Eo 'getopt(_long)?[[:space:]]*\([^"]*"[^"]*"' | head -n 1 |
	    sed 's/.*"\([^"]*\)"$/\1/' | tr -d ':+-' | fold -w 1
}

have_fl() {	# page option: "Fl -name" or "Fl x", not a prefix of more
	grep -Eq -- "(^\.|[[:space:]])Fl $2([^A-Za-z0-9_-]|\$)" "$1"
}

LAST="mandoc -Tlint -W warning"
if ! command -v mandoc >/dev/null; then
	: >"$T/out"; echo "mandoc not installed (apt-get install mandoc)" >"$T/err"
	fail "mandoc is installed"
fi

# (a) lint: nothing at level warning or above, one assertion per page
for page in "$SRC"/man/*.1 "$SRC"/man/*.7; do
	[ -f "$page" ] || continue
	command -v mandoc >/dev/null || break
	run mandoc -Tlint -W warning "$page"
	if [ "$rc" -eq 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then
		pass "lint ${page##*/}"
	else
		fail "mandoc -Tlint -W warning ${page##*/} is not clean"
	fi
done


# (b) drift: every option a program parses is in its page
for src in "$SRC"/cmd/risk-*.c; do
	[ -f "$src" ] || continue
	prog=${src##*/}; prog=${prog%.c}
	page=$SRC/man/$prog.1
	LAST="option drift: $prog"
	: >"$T/out"; : >"$T/err"
	if [ ! -f "$page" ]; then
		echo "no page man/$prog.1" >"$T/err"
		fail "$prog has a man page"
		continue
	fi
	longs=$(longopts "$src")
	shorts=$(shortopts "$src")
	if [ -z "$longs" ] || [ -z "$shorts" ]; then
		echo "cannot find the longopts[] table or the optstring in" \
		    "cmd/$prog.c" >"$T/err"
		fail "$prog: options found in the source"
		continue
	fi
	missing=
	for o in $longs; do
		if [ "${o#@}" != "$o" ]; then
			for c in $(macro_longopts "${o#@}"); do
				have_fl "$page" "-$c" || missing="$missing --$c"
			done
		else
			have_fl "$page" "-$o" || missing="$missing --$o"
		fi
	done
	for o in $shorts; do
		have_fl "$page" "$o" || missing="$missing -$o"
	done
	if [ -z "$missing" ]; then
		pass "every option of $prog is in its page"
	else
		echo "man/$prog.1 lacks:$missing" >"$T/err"
		fail "$prog: options missing from man/$prog.1"
	fi
done

# (c) every section a program page must have
for page in "$SRC"/man/*.1; do
	[ -f "$page" ] || continue
	LAST="sections of ${page##*/}"
	: >"$T/out"; : >"$T/err"
	for sh in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -Eq "^\.Sh \"?$sh\"?[[:space:]]*\$" "$page" ||
		    echo "no section $sh" >>"$T/err"
	done
	if [ ! -s "$T/err" ]; then pass "sections of ${page##*/}"
	else fail "${page##*/} lacks sections"; fi
done

# (d) the overview lists every program
for src in "$SRC"/cmd/risk-*.c; do
	[ -f "$src" ] || continue
	prog=${src##*/}; prog=${prog%.c}
	LAST="risk.7 lists $prog"
	: >"$T/out"; : >"$T/err"
	if grep -Eq "(^\.|[[:space:]])Xr $prog 1([^0-9]|\$)" "$SRC/man/risk.7" \
	    2>"$T/err"; then
		pass "risk.7 lists $prog"
	else
		echo "man/risk.7 has no .Xr $prog 1" >>"$T/err"
		fail "risk.7 lists $prog"
	fi
done

finish

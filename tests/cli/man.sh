#!/bin/bash
# tests/cli/man.sh — the manual pages: lint clean, complete, and in step
# with the code (like curl's test1139).
#
# For every program cmd/risk-X.c there must be a man/risk-X.1 that names
# every option the program parses: each row of its options[] table (the
# *_OPTIONS macros expanded from cmd/cmd.h), a long name as "Fl -name" and
# a letter as "Fl x", in the mdoc source.  Grouped letters ("Fl hqVv" in
# a SYNOPSIS) do not count: each option needs an entry of its own.  The
# same options must be in the program's --help (bin/risk-X --help), each
# at the start of a line of its own.  risk.7 must .Xr every program.
#
# The table is what getopt parses (cmd_getopt in cmd/util.c makes the
# long options and the optstring from it), so reading the table is
# reading the parser.
# MAN_ROOT=DIR checks a copy of the tree instead (used to test this test).

. "$(dirname "$0")/../lib.sh"
SRC=${MAN_ROOT:-$ROOT}

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
	opts=$(prog_options "$prog" "$SRC")
	if [ -z "$opts" ]; then
		echo "cannot find the options[] table in cmd/$prog.c" >"$T/err"
		fail "$prog: options found in the source"
		continue
	fi
	missing=
	for o in $opts; do
		have_fl "$page" "${o#-}" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then
		pass "every option of $prog is in its page"
	else
		echo "man/$prog.1 lacks:$missing" >"$T/err"
		fail "$prog: options missing from man/$prog.1"
	fi

	# ... and in its --help, one line each, with the page named
	LAST="$prog --help"
	if [ ! -x "$SRC/bin/$prog" ]; then
		echo "bin/$prog not built" >"$T/err"
		fail "$prog --help: the program is built"
		continue
	fi
	run "$SRC/bin/$prog" --help
	missing=
	for o in $opts; do
		grep -Eq -- "^  (-[A-Za-z], )?[[:space:]]*$o([ ,]|\$)" "$T/out" ||
		    missing="$missing $o"
	done
	grep -q "man $prog" "$T/out" || missing="$missing (the manual's name)"
	if [ "$rc" -eq 0 ] && [ -z "$missing" ]; then
		pass "every option of $prog is in its --help"
	else
		echo "$prog --help lacks:$missing" >>"$T/err"
		fail "$prog: options missing from --help"
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

# (e) no page sends users to the sqlite3 shell: closing a database last,
# it removes the -wal and -shm files a read-only reader needs (risk.7);
# risk-stat --dead, --log and the figures read what an operator needs
LAST="grep '\$ sqlite3' man/*"
grep -n '^\$ sqlite3 ' "$SRC"/man/*.[17] >"$T/out" 2>"$T/err"
if [ ! -s "$T/out" ]; then pass "no page suggests the sqlite3 shell"
else fail "a page suggests the sqlite3 shell (use risk-stat)"; fi

finish

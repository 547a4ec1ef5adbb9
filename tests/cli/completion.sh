#!/bin/bash
# tests/cli/completion.sh — the bash completion: installed by make install
# where bash-completion looks for it, loaded by bash-completion's own
# loader, and offering exactly the options each program parses.
#
# The expected options are read from the source (prog_options: the
# options[] table getopt is given), not from the completion's own input,
# so a completion that drifts from the programs fails here.

. "$(dirname "$0")/../lib.sh"

BC=/usr/share/bash-completion/bash_completion
if [ ! -f "$BC" ]; then
	skip "bash-completion not installed ($BC)"
	finish
	exit
fi

# make install into a scratch root
DEST=$T/inst
run make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr/local
expect_rc 0
CDIR=$DEST/usr/local/share/bash-completion/completions
for src in "$ROOT"/cmd/risk-*.c; do
	prog=${src##*/}; prog=${prog%.c}
	expect "make install puts a completion for $prog in $CDIR" \
	    [ -f "$CDIR/$prog" ]
done

# complete WORD...: COMPREPLY, one per line, for a command line whose
# last word is being completed, in a bash that loaded bash-completion and
# then, through its loader, our file from the installed tree.
complete_line() {
	XDG_DATA_DIRS=$DEST/usr/local/share bash --norc --noprofile -c '
		. "$0" || exit 3
		__load_completion "$1" || { echo "no completion for $1" >&2; exit 4; }
		spec=$(complete -p "$1") || exit 5
		fn=${spec#*-F }; fn=${fn%% *}
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		[ "${#COMPREPLY[@]}" -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
	' "$BC" "$@"
}

# every program: "-" completes to exactly the options in its table
for src in "$ROOT"/cmd/risk-*.c; do
	prog=${src##*/}; prog=${prog%.c}
	prog_options "$prog" | sort -u >"$T/want"
	LAST="complete: $prog -"
	complete_line "$prog" - >"$T/out" 2>"$T/err"; rc=$?
	sort -u "$T/out" >"$T/got"
	if [ "$rc" -eq 0 ] && [ -s "$T/want" ] && cmp -s "$T/want" "$T/got"; then
		pass "$prog: completion offers every option, and only those"
	else
		diff "$T/want" "$T/got" | sed 's/^/diff: /' >>"$T/err"
		fail "$prog: completion offers every option, and only those"
	fi
done

LAST="complete: risk-get --max"
complete_line risk-get --max >"$T/out" 2>"$T/err"; rc=$?
expect_out --max-age

# a value that is a file name completes files; a duration nothing
mkdir -p "$T/dir" && : >"$T/dir/risk-one.db"
LAST="complete: risk-stat -o $T/dir/risk-o"
complete_line risk-stat -o "$T/dir/risk-o" >"$T/out" 2>"$T/err"; rc=$?
expect_out "$T/dir/risk-one.db"
LAST="complete: risk-get --db $T/dir/risk-o"
complete_line risk-get --db "$T/dir/risk-o" >"$T/out" 2>"$T/err"; rc=$?
expect_out "$T/dir/risk-one.db"
LAST="complete: risk-get --max-age $T/dir/risk-o"
complete_line risk-get --max-age "$T/dir/risk-o" >"$T/out" 2>"$T/err"
rc=$?
expect_out_empty

# risk-load's arguments are dump files; risk-get's are company IDs
LAST="complete: risk-load $T/dir/risk-o"
complete_line risk-load "$T/dir/risk-o" >"$T/out" 2>"$T/err"; rc=$?
expect_out "$T/dir/risk-one.db"
LAST="complete: risk-get $T/dir/risk-o"
complete_line risk-get "$T/dir/risk-o" >"$T/out" 2>"$T/err"; rc=$?
expect_out_empty

# a value named as a list "a|b|c" completes to its words (the generator
# on a stand-in program, so this holds before any program has such a value)
mkdir -p "$T/fake"
cat >"$T/fake/risk-x" <<'EOS'
#!/bin/sh
printf '%s\n' 'usage: risk-x [--priority LEVEL] [ID ...]' '' \
    '      --priority high|normal|low  how soon (default normal)' \
    '  -h, --help                  print this help and exit' '' 'The manual.'
EOS
chmod +x "$T/fake/risk-x"
run "$ROOT/scripts/risk-completion" "$T/fake/risk-x"
expect_rc 0
LAST="complete: risk-x --priority n (generated from a stand-in's --help)"
bash --norc --noprofile -c '. "$0"; . "$1"
	COMP_WORDS=(risk-x --priority n); COMP_CWORD=2
	COMP_LINE="risk-x --priority n"; COMP_POINT=${#COMP_LINE}
	_risk risk-x n --priority; printf "%s\n" "${COMPREPLY[@]}"' \
    "$BC" "$T/out" >"$T/got" 2>"$T/err"; rc=$?
mv "$T/got" "$T/out"
expect_out normal

finish

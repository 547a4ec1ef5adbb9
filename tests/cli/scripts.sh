#!/bin/bash
# scripts/crontab and scripts/systemd/: parsed, their options known to the
# programs, and their jobs run for real against a test database.
#
# The crontab is checked by a parser of crontab(5) lines (environment
# settings, five time fields with ranges, steps, lists and names, or an
# @keyword; no unescaped % in a command).  The units are checked by
# `systemd-analyze verify` where it runs, else by a parser of unit files.
# Both checkers are also shown a broken file, which they must refuse.
. "$(dirname "$0")/../lib.sh"

CRONTAB=$ROOT/scripts/crontab
UNITS=$ROOT/scripts/systemd

# crontab(5) lines; prints "bad LINE: reason" for each bad one.
cron_check() {
	awk '
	function num(s, lo, hi, names,   i, n) {
		if (s ~ /^[0-9]+$/) return s + 0 >= lo && s + 0 <= hi
		if (names == "") return 0
		n = split(names, a, " ")
		for (i = 1; i <= n; i++) if (tolower(s) == a[i]) return 1
		return 0
	}
	function field(f, lo, hi, names,   parts, n, i, e, st, r) {
		n = split(f, parts, ",")
		for (i = 1; i <= n; i++) {
			e = parts[i]
			if (e == "") return 0
			if (split(e, st, "/") == 2) {
				if (st[2] !~ /^[0-9]+$/ || st[2] + 0 < 1) return 0
				e = st[1]
			} else if (e ~ /\//) return 0
			if (e == "*") continue
			if (split(e, r, "-") == 2) {
				if (!num(r[1], lo, hi, names) ||
				    !num(r[2], lo, hi, names)) return 0
			} else if (!num(e, lo, hi, names)) return 0
		}
		return 1
	}
	/^[[:space:]]*(#|$)/ { next }
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=/ { next }
	{
		cmd = $0
		if ($1 ~ /^@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)$/) {
			sub(/^[[:space:]]*@[a-z]+[[:space:]]+/, "", cmd)
		} else {
			if (NF < 6) { print "bad " NR ": fewer than six fields"; next }
			if (!field($1, 0, 59, "")) print "bad " NR ": minute " $1
			if (!field($2, 0, 23, "")) print "bad " NR ": hour " $2
			if (!field($3, 1, 31, "")) print "bad " NR ": day of month " $3
			if (!field($4, 1, 12, "jan feb mar apr may jun jul aug sep oct nov dec"))
				print "bad " NR ": month " $4
			if (!field($5, 0, 7, "sun mon tue wed thu fri sat"))
				print "bad " NR ": day of week " $5
			for (i = 1; i <= 5; i++)
				sub(/^[[:space:]]*[^[:space:]]+/, "", cmd)
			sub(/^[[:space:]]+/, "", cmd)
		}
		if (cmd ~ /(^|[^\\])%/) print "bad " NR ": unescaped % in the command"
		if (cmd == "") print "bad " NR ": no command"
	}' "$1"
}

# The commands of the job lines (time fields cut off).
cron_commands() {
	awk '/^[[:space:]]*(#|$)/ { next }
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=/ { next }
	{ c = $0; for (i = 1; i <= 5; i++) sub(/^[[:space:]]*[^[:space:]]+/, "", c)
	  sub(/^[[:space:]]+/, "", c); print c }' "$1"
}

# Every "risk-X --opt" in a command line names a program and an option it
# parses (its longopts[] table).
options_known() {
	local words w prog="" bad=""
	read -ra words <<<"$1"
	for w in "${words[@]}"; do
		case $w in
		risk-*|*/risk-*)
			[[ ${w##*/} == risk-* ]] || continue	# /run/risk-get/x
			prog=${w##*/}
			[ -f "$ROOT/cmd/$prog.c" ] || bad="$bad $prog" ;;
		--*)
			[ -n "$prog" ] && ! grep -q "{ \"${w#--}\"," "$ROOT/cmd/$prog.c" \
			    "$ROOT/cmd/cmd.h" && bad="$bad $prog:$w" ;;
		'&&'|'||'|';') prog="" ;;
		esac
	done
	[ -z "$bad" ] || { echo "unknown:$bad" >"$T/err"; return 1; }
}

# ---- the crontab ---------------------------------------------------------
LAST="crontab parser"
cron_check "$CRONTAB" >"$T/out"; : >"$T/err"
expect "scripts/crontab parses" [ ! -s "$T/out" ]
expect "it has the three jobs" [ "$(cron_commands "$CRONTAB" | grep -c -e risk-drain -e 'risk-purge -q &&' -e 'risk-stat --prometheus -o')" = 3 ]
expect "drain every minute" grep -Eq '^\* \* \* \* \*[[:space:]]+risk-drain' "$CRONTAB"
printf '%s\n' 'X=1' '61 * * * * a' '* 25 * * * a' '*/0 * * * * a' '* * * foo * a' \
    '* * * * 8 a' '* * * * * date +%s' '* * * *' '@daily b' '0-59/5 0,12 1-31 jan-dec mon-fri ok' >"$T/badcron"
cron_check "$T/badcron" >"$T/out"
expect "the parser refuses broken lines" [ "$(cut -d: -f1 "$T/out" | tr '\n' ' ')" = "bad 2 bad 3 bad 4 bad 5 bad 6 bad 7 bad 8 " ]

while IFS= read -r cmd; do
	LAST="options of: $cmd"; : >"$T/out"
	expect "options known: $cmd" options_known "$cmd"
done < <(cron_commands "$CRONTAB")

# The README's web layout, moved into $T: records and dead letters in one
# file, the queue in a file of its own (scripts/risk-setup-web makes both).
# On PostgreSQL the jobs run with RISK_DB the test's database instead,
# and no RISK_QUEUE (the queue lives in the database).
WEB=$T/web
web_paths() { sed "s|/var/lib/risk/|$WEB/var/lib/risk/|g; s|/var/lib/prometheus/node-exporter|$T/node-exporter|g"; }
mkdir -p "$WEB/var/lib/risk/queue" "$T/node-exporter"
WEB_DB=$WEB/var/lib/risk/risk.db
WEB_QUEUE=$WEB/var/lib/risk/queue/queue.db
web_enqueue() {
	if on_pg; then risk-enqueue "$@"
	else risk-enqueue --db "$WEB_DB" --queue "$WEB_QUEUE" "$@"; fi
}
# the environment a job gets, its database moved as said above
web_env() {
	local e
	while IFS= read -r e; do
		if on_pg; then
			case $e in
			RISK_DB=*) e=RISK_DB=$RISK_DB ;;
			RISK_QUEUE=*) continue ;;
			esac
		fi
		echo "$e"
	done
}
web_enqueue a1 a2	# to drain
web_count() {
	if on_pg; then q 'select count(*) from record'
	else RISK_DB=$WEB_DB q 'select count(*) from record'; fi
}

# The paths every shipped file names for the database and the queue
# (crontab, units, web server configurations) are the same.
path_in() {	# FILE VAR: the value FILE sets VAR to, one line per setting
	sed -n -E "s/^(Environment=)?$2=(.*)/\\2/p;
	    s/.*\"$2\" => \"([^\"]*)\".*/\\1/p;
	    s/.*fastcgi_param $2 ([^;]*);.*/\\1/p" "$1"
}
for v in RISK_DB RISK_QUEUE; do
	: >"$T/paths"
	for f in "$CRONTAB" "$UNITS"/risk-drain.service "$UNITS"/risk-purge.service \
	    "$UNITS"/risk-stat.service "$ROOT/scripts/lighttpd-risk.conf" \
	    "$ROOT/scripts/nginx-risk.conf"; do
		LAST="$v in ${f#"$ROOT"/}"; path_in "$f" "$v" >"$T/out"; : >"$T/err"
		expect "${f#"$ROOT"/} sets $v" [ -s "$T/out" ]
		cat "$T/out" >>"$T/paths"
	done
	for f in "$UNITS"/*.service "$ROOT"/scripts/*.conf; do
		path_in "$f" "$v" >>"$T/paths"
	done
	LAST="$v in the shipped files"; sort -u "$T/paths" >"$T/out"
	expect "every shipped file names the same $v" [ "$(wc -l <"$T/out")" = 1 ]
done

# the jobs, run as cron would: sh, and only the crontab's environment
# (paths moved into $T, the legacy service the stand-in)
standin --latency 0
cron_env=()
while IFS= read -r e; do
	case $e in
	SHELL=*|PATH=*) ;;
	RISK_SOURCE_URL=*) cron_env+=("RISK_SOURCE_URL=$SOURCE") ;;
	*) cron_env+=("$e") ;;
	esac
done < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$CRONTAB" | web_paths | web_env)
while IFS= read -r cmd; do
	run env -i HOME="$HOME" PATH="$BIN:/usr/bin:/bin" "${cron_env[@]}" \
	    /bin/sh -c "$cmd"
	expect_rc 0
	expect_out_empty
	expect_err_empty
done < <(cron_commands "$CRONTAB" | web_paths)
expect "the drain job drained the web layout's queue" [ "$(web_count)" = 2 ]
expect "the metrics job wrote its file" grep -q '^risk_records{state="fresh"} 2$' "$T/node-exporter/risk.prom"

# without the queue's path, the error says where the queue is
if on_sqlite; then
	run env -i PATH="$BIN:/usr/bin:/bin" RISK_DB="$WEB_DB" \
	    RISK_SOURCE_URL="$SOURCE" risk-drain -q
	expect_rc 2
	expect_err_re "^risk-drain: $WEB_DB: no queue in this file: it lives in a file of its own \(set RISK_QUEUE or --queue\)$"
	run env -i PATH="$BIN:/usr/bin:/bin" RISK_DB="$WEB_DB" risk-enqueue b0
	expect_rc 2
	expect_err_re 'lives in a file of its own \(set RISK_QUEUE'
fi

# ---- the systemd units -------------------------------------------------------
for u in risk-drain risk-purge risk-stat; do
	expect "$u.service and .timer exist" [ -f "$UNITS/$u.service" -a -f "$UNITS/$u.timer" ]
done
expect "risk-get-fcgi.service exists" [ -f "$UNITS/risk-get-fcgi.service" ]

# A unit-file parser for when systemd-analyze cannot run: sections and
# Key=Value lines, the keys each section needs, known calendar words.
unit_check() {
	awk '
	/^[[:space:]]*([#;]|$)/ { next }
	/^\[[A-Za-z]+\]$/ { sec = $0; seen[sec] = 1; next }
	!/^[A-Za-z][A-Za-z0-9]*=/ { print FILENAME ":" FNR ": not Key=Value"; next }
	sec == "" { print FILENAME ":" FNR ": outside a section"; next }
	{ k = $0; sub(/=.*/, "", k); v = $0; sub(/^[^=]*=/, "", v); key[sec, k] = v }
	sec == "[Timer]" && k == "OnCalendar" && v !~ /^(minutely|hourly|daily|weekly|monthly|\*-\*-\* [0-9*][0-9*]?:[0-9*][0-9*](:[0-9*][0-9*])?)$/ {
		print FILENAME ":" FNR ": OnCalendar " v
	}
	END {
		if (FILENAME ~ /\.service$/) {
			if (!seen["[Service]"]) print FILENAME ": no [Service]"
			if (key["[Service]", "ExecStart"] !~ /^\//) print FILENAME ": ExecStart not absolute"
			# a timer job runs and ends; a server (no timer) stays
			timer = FILENAME; sub(/\.service$/, ".timer", timer)
			if ((getline line < timer) > 0) {
				if (key["[Service]", "Type"] != "oneshot") print FILENAME ": not Type=oneshot"
			} else if (key["[Service]", "Type"] !~ /^(simple|exec|notify)$/ ||
			    key["[Service]", "Restart"] == "") {
				print FILENAME ": a server without Type=exec and Restart="
			}
		}
		if (FILENAME ~ /\.timer$/) {
			if (!seen["[Timer]"]) print FILENAME ": no [Timer]"
			if (key["[Timer]", "OnCalendar"] == "") print FILENAME ": no OnCalendar"
			if (key["[Install]", "WantedBy"] != "timers.target") print FILENAME ": not WantedBy=timers.target"
		}
	}' "$1"
}

# copies whose ExecStart points into bin/, so the commands exist
mkdir "$T/units"
cp "$UNITS"/*.service "$UNITS"/*.timer "$T/units/"
sed -i "s|/usr/local/bin/|$BIN/|" "$T/units"/*.service
cp "$T/units/risk-stat.timer" "$T/broken.timer"
sed -i 's/^OnCalendar=.*/OnCalendar=every minute please/' "$T/broken.timer"

if systemd-analyze --version >/dev/null 2>&1 &&
    systemd-analyze verify --man=no "$T/units/risk-drain.timer" >/dev/null 2>&1; then
	VERIFY="systemd-analyze verify --man=no"
else
	VERIFY=""
	skip "systemd-analyze verify: not installed or not working here"
fi
for f in "$T/units"/*; do
	if [ -n "$VERIFY" ]; then
		run $VERIFY "$f"
		expect_rc 0
		expect_err_empty
	fi
	LAST="unit parser: ${f##*/}"; : >"$T/err"
	unit_check "$f" >"$T/out"
	expect "unit parser: ${f##*/}" [ ! -s "$T/out" ]
done
if [ -n "$VERIFY" ]; then
	run $VERIFY "$T/broken.timer"
	expect "systemd-analyze refuses a broken timer" [ "$rc" -ne 0 -o -s "$T/err" ]
fi
unit_check "$T/broken.timer" >"$T/out"
expect "the unit parser refuses a broken timer" grep -q 'OnCalendar every minute' "$T/out"

# no unit lets systemd chown the shared folder (StateDirectory= and the
# like make /var/lib/risk User:Group with their own mode)
LAST="grep chowning directives in scripts/systemd"
grep -nE '^(StateDirectory|CacheDirectory|LogsDirectory|ConfigurationDirectory|DynamicUser)=' \
    "$UNITS"/*.service >"$T/out"; : >"$T/err"
expect "no unit makes systemd chown /var/lib/risk (it is risk:www-data, 2750)" \
    [ ! -s "$T/out" ]

# every service's commands, run with its own Environment= (paths moved
# into $T; RISK_SOURCE_URL is what /etc/default/risk gives)
web_enqueue b1
for f in "$UNITS"/risk-drain.service "$UNITS"/risk-purge.service \
    "$UNITS"/risk-stat.service; do
	unit_env=()
	while IFS= read -r e; do unit_env+=("$e"); done < <(
	    sed -n 's/^Environment=//p' "$f" | web_paths | web_env)
	while IFS= read -r cmd; do
		run env -i HOME="$HOME" PATH="/usr/bin:/bin" "${unit_env[@]}" \
		    RISK_SOURCE_URL="$SOURCE" ${cmd/\/usr\/local\/bin\//$BIN/}
		expect_rc 0
		expect_err_empty
	done < <(sed -n 's/^ExecStart=//p' "$f" | web_paths)
done
expect "risk-drain.service drained the web layout's queue" [ "$(web_count)" = 3 ]

for f in "$UNITS"/*.service; do
	cmdline=$(sed -n 's/^ExecStart=//p' "$f" | tr '\n' ';')
	LAST="options of ${f##*/}"; : >"$T/out"
	expect "options known: ${f##*/}" options_known "${cmdline//;/ ; }"
done

finish

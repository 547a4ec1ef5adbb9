#!/bin/sh
# bench/cgi.sh — risk-get as CGI behind lighttpd against a minimal C CGI
# (bench/cgi-minimal.c) doing the same SQLite read, with wrk.
#
# Invariants:
# - Self-contained: one mktemp folder, one lighttpd on a free port of
#   127.0.0.1 serving both programs, all removed on exit.
# - Fair: both programs read the same database (BENCH_N records, default
#   100k) in the least-privilege deployment of risk.7 (made by
#   scripts/risk-setup-web; the CGI runs as nobody when we are root),
#   through the same server, for the same fresh record.  Each gets a
#   warm-up, then `wrk -t2 -c16 -d10s --latency`, in alternating rounds
#   (BENCH_ROUNDS, default 2); the best round of each counts.
# - It reports; it does not judge by its exit status.  The limit
#   (risk-get >= 0.9 x the minimal CGI's requests/s) is marked PASS or
#   FAIL; the exit status is 0 unless the bench itself broke.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
N=${BENCH_N:-100000}
ROUNDS=${BENCH_ROUNDS:-2}
DUR=${BENCH_DURATION:-10s}

die() { echo "bench/cgi: $*" >&2; exit 2; }

for t in wrk lighttpd sqlite3 curl cc python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
[ -x bin/risk-get ] && [ -x bin/risk-enqueue ] || die "run make first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/risk-bench-cgi.XXXXXX")
LPID=
trap '[ -z "$LPID" ] || kill "$LPID" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
chmod 711 "$tmp"

# snapshots: a rebuild during the run must not change what is measured
mkdir "$tmp/bin"
cp bin/risk-get bin/risk-enqueue "$tmp/bin/"
# the baseline links SQLite as risk-get does (the Makefile's bench-bin)
make -s bench/bin/cgi-minimal >/dev/null ||
    die "cannot build bench/cgi-minimal.c"
cp bench/bin/cgi-minimal "$tmp/bin/"
chmod 755 "$tmp/bin" "$tmp/bin"/*

. bench/web.sh

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	echo 'server.modules = ( "mod_alias", "mod_cgi", "mod_setenv" )'
	echo 'server.bind = "127.0.0.1"'
	echo "server.port = $port"
	echo "server.document-root = \"$tmp/www\""
	[ "$(id -u)" -ne 0 ] ||
	    printf 'server.username = "%s"\nserver.groupname = "%s"\n' "$user" "$group"
	echo 'server.max-connections = 256'
	echo "setenv.set-environment = ( \"RISK_DB\" => \"$DB\", \"RISK_QUEUE\" => \"$Q\" )"
	echo '$HTTP["url"] =~ "^/risk-get(/|$)" {'
	echo "	alias.url = ( \"/risk-get\" => \"$tmp/bin/risk-get\" )"
	echo '	cgi.assign = ( "" => "" )'
	echo '}'
	echo '$HTTP["url"] =~ "^/minimal(/|$)" {'
	echo "	alias.url = ( \"/minimal\" => \"$tmp/bin/cgi-minimal\" )"
	echo '	cgi.assign = ( "" => "" )'
	echo '}'
} >"$tmp/lighttpd.conf"
lighttpd -D -f "$tmp/lighttpd.conf" 2>"$tmp/lighttpd.log" &
LPID=$!
base=http://127.0.0.1:$port
i=0
until curl -sf -o /dev/null "$base/risk-get/$ID"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$tmp/lighttpd.log" >&2; die "lighttpd did not answer"; }
	sleep 0.05
done
curl -sf "$base/minimal/$ID" | grep -q '"status"' || die "cgi-minimal does not answer"
curl -sf "$base/risk-get/$ID" | grep -q '"fresh":true' || die "risk-get does not answer"

# wrk NAME URL: one run; "rps p50_ms p99_ms" appended to $tmp/NAME
bench() {
	wrk -t2 -c16 -d"$DUR" --latency "$2" >"$tmp/wrk.out" 2>&1 ||
	    { cat "$tmp/wrk.out" >&2; die "wrk failed"; }
	if grep -q 'Non-2xx' "$tmp/wrk.out"; then
		cat "$tmp/wrk.out" >&2
		die "$1: errors during the run"
	fi
	awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	/Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' "$tmp/wrk.out" >>"$tmp/$1"
}

echo "risk bench/cgi  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
echo "host: $(uname -sr), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(lighttpd -v 2>&1 | head -n 1 | cut -d' ' -f1), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), sqlite $(sqlite3 --version | cut -d' ' -f1)"
echo "$N records, least-privilege files, CGI as $user; wrk -t2 -c16 -d$DUR --latency, $ROUNDS rounds, best counts"
wrk -t2 -c16 -d2s "$base/minimal/$ID" >/dev/null 2>&1 || true	# warm-up
wrk -t2 -c16 -d2s "$base/risk-get/$ID" >/dev/null 2>&1 || true
r=1
while [ "$r" -le "$ROUNDS" ]; do
	bench minimal "$base/minimal/$ID"
	bench riskget "$base/risk-get/$ID"
	r=$((r + 1))
done
best() { sort -k1,1nr "$tmp/$1" | head -n 1; }
set -- $(best minimal)
m_rps=$1 m_p50=$2 m_p99=$3
set -- $(best riskget)
g_rps=$1 g_p50=$2 g_p99=$3
ratio=$(awk "BEGIN { printf \"%.2f\", $g_rps / $m_rps }")
mark=$(awk "BEGIN { print ($ratio >= 0.9) ? \"PASS\" : \"FAIL\" }")
echo
printf '%-22s %10s %9s %9s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-22s %10s %9s %9s\n' "lighttpd + cgi-minimal" "$m_rps" "$m_p50" "$m_p99"
printf '%-22s %10s %9s %9s\n' "lighttpd + risk-get" "$g_rps" "$g_p50" "$g_p99"
echo "  (all rounds, req/s: minimal $(cut -d' ' -f1 "$tmp/minimal" | paste -sd' '); risk-get $(cut -d' ' -f1 "$tmp/riskget" | paste -sd' '))"
echo
echo "$mark  risk-get CGI vs minimal C CGI: ratio $ratio (need >= 0.9)"
if grep -q 'risk-get:' "$tmp/lighttpd.log"; then
	echo "WARNING: risk-get wrote to the server log:"
	grep 'risk-get:' "$tmp/lighttpd.log" | sort | uniq -c | head -n 5
fi
exit 0

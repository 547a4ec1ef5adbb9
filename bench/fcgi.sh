#!/bin/bash
# bench/fcgi.sh — risk-get as FastCGI against risk-get as CGI and against
# what a web team would use instead: a static file served by lighttpd
# and an nginx proxy_cache hit.  wrk, side by side in one run.
#
# Invariants:
# - Self-contained: one mktemp folder, one lighttpd and one nginx on free
#   ports of 127.0.0.1, one spawn-fcgi'd risk-get, all removed on exit.
# - The same answer everywhere: one fresh record of a BENCH_N-record
#   database (default 100k) in the least-privilege layout of risk.7
#   (scripts/risk-setup-web; the programs run as nobody when we are
#   root), through the shipped configurations (scripts/lighttpd-risk-
#   fcgi.conf with max-procs 2, scripts/nginx-risk-cache.conf); the
#   static file is that answer's body.
# - Each case: a 2 s warm-up, then `wrk -t2 -c16 -d10s --latency`; a run
#   with any non-2xx answer or socket error breaks the bench (a request
#   slower than wrk's 10 s timeout is only noted).
# - Memory: the RSS of one risk-get (spawn-fcgi -n) after 10,000 and
#   after 1,000,000 requests, sent by tests/fcgi-client, one connection
#   kept open (FCGI_KEEP_CONN), request after request: no web server in
#   between, so a million take a couple of minutes, not ten.
#   BENCH_MILLION=0 skips the million.
# - It reports; it does not judge by its exit status.  Targets are marked
#   PASS or FAIL: FastCGI >= 10x CGI, >= 0.25x the proxy_cache hit,
#   p99 < 5 ms, RSS flat.
set -eu

cd "$(dirname "$0")/.."
N=${BENCH_N:-100000}
DUR=${BENCH_DURATION:-10s}
MILLION=${BENCH_MILLION:-1}

die() { echo "bench/fcgi: $*" >&2; exit 2; }

for t in wrk lighttpd nginx spawn-fcgi sqlite3 curl python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
[ -x bin/risk-get ] && [ -x bin/risk-enqueue ] || die "run make first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/risk-bench-fcgi.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
chmod 711 "$tmp"

# snapshots: a rebuild during the run must not change what is measured
mkdir "$tmp/bin"
cp bin/risk-get bin/risk-enqueue "$tmp/bin/"
chmod 755 "$tmp/bin" "$tmp/bin"/*

. bench/web.sh
SRV=$tmp/srv
mkdir -p "$SRV/www" "$SRV/run" "$tmp/nginx"
chmod 755 "$SRV/www" "$tmp/nginx"
chown "$user:$group" "$SRV/run"
if [ "$(id -u)" -eq 0 ]; then
	asweb=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
else
	asweb=()
fi

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- lighttpd: CGI, FastCGI (the shipped file), a static file ------------

lport=$(freeport)
sed -e "s|/usr/local/bin/risk-get|$tmp/bin/risk-get|" \
    -e "s|/var/lib/risk/risk.db|$DB|" \
    -e "s|/var/lib/risk/queue/queue.db|$Q|" \
    -e "s|/run/lighttpd/risk-get.socket|$SRV/run/lighttpd.sock|" \
    scripts/lighttpd-risk-fcgi.conf >"$tmp/risk-fcgi.conf"
{
	echo 'server.modules = ( "mod_alias", "mod_cgi", "mod_setenv" )'
	echo 'server.bind = "127.0.0.1"'
	echo "server.port = $lport"
	echo "server.document-root = \"$SRV/www\""
	echo 'server.max-connections = 256'
	[ "$(id -u)" -ne 0 ] ||
	    printf 'server.username = "%s"\nserver.groupname = "%s"\n' "$user" "$group"
	echo '$HTTP["url"] =~ "^/cgi(/|$)" {'
	echo "	alias.url = ( \"/cgi\" => \"$tmp/bin/risk-get\" )"
	echo '	cgi.assign = ( "" => "" )'
	echo "	setenv.set-environment = ( \"RISK_DB\" => \"$DB\", \"RISK_QUEUE\" => \"$Q\" )"
	echo '}'
	echo "include \"$tmp/risk-fcgi.conf\""
} >"$tmp/lighttpd.conf"
lighttpd -D -f "$tmp/lighttpd.conf" </dev/null >/dev/null 2>"$tmp/lighttpd.log" &
pids="$pids $!"

# ---- nginx proxy_cache (the shipped file) before a spawn-fcgi risk-get ----

NG=$tmp/nginx
NS=$SRV/run/nginx.sock
cport=$(freeport)
iport=$(freeport)
cp /etc/nginx/fastcgi_params "$NG/" 2>/dev/null || : >"$NG/fastcgi_params"
sed -e "s|listen 80;|listen 127.0.0.1:$cport;|" -e '/listen \[::\]/d' \
    -e "s|127.0.0.1:8081|127.0.0.1:$iport|g" \
    -e "s|/var/cache/nginx/risk|$NG/cache|" \
    -e "s|unix:/run/risk-get/fcgi.sock|unix:$NS|" \
    scripts/nginx-risk-cache.conf >"$NG/cache.conf"
{
	[ "$(id -u)" -ne 0 ] || echo "user $user $group;"
	echo "worker_processes 1;"
	printf 'error_log %s/error.log;\npid %s/nginx.pid;\n' "$NG" "$NG"
	printf 'events { worker_connections 1024; }\nhttp {\n\taccess_log off;\n'
	printf '\tclient_body_temp_path %s/body;\n' "$NG"
	printf '\tfastcgi_temp_path %s/fcgi;\n\tproxy_temp_path %s/proxy;\n' "$NG" "$NG"
	printf '\tuwsgi_temp_path %s/uwsgi;\n\tscgi_temp_path %s/scgi;\n' "$NG" "$NG"
	printf '\tinclude %s/cache.conf;\n}\n' "$NG"
} >"$NG/nginx.conf"
"${asweb[@]}" env -i RISK_DB="$DB" RISK_QUEUE="$Q" spawn-fcgi -n -s "$NS" \
    -- "$tmp/bin/risk-get" </dev/null >/dev/null 2>"$tmp/spawn.log" &
pids="$pids $!"
nginx -p "$NG" -c "$NG/nginx.conf" -g 'daemon off; master_process on;' \
    </dev/null >/dev/null 2>"$tmp/nginx.log" &
pids="$pids $!"

base=http://127.0.0.1:$lport
cache=http://127.0.0.1:$cport/risk-get/$ID
i=0
until curl -sf -o /dev/null "$base/risk-get/$ID" && [ -S "$NS" ] &&
    curl -sf -o /dev/null "$cache"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$tmp/lighttpd.log" "$tmp/nginx.log" >&2; die "servers did not answer"; }
	sleep 0.05
done
curl -sf "$base/cgi/$ID" | grep -q '"fresh":true' || die "CGI does not answer"
curl -sf "$base/risk-get/$ID" >"$SRV/www/static.json"
grep -q '"fresh":true' "$SRV/www/static.json" || die "FastCGI does not answer"
curl -sfI "$cache" | tr -d '\r' | grep -qx 'X-Cache-Status: HIT' ||
    die "proxy_cache does not hit"

# wrk NAME URL: one run; "rps p50_ms p99_ms" into $tmp/NAME
bench() {
	wrk -t2 -c16 -d2s "$2" >/dev/null 2>&1 || true	# warm-up
	wrk -t2 -c16 -d"$DUR" --timeout 10s --latency "$2" >"$tmp/wrk.out" \
	    2>&1 || { cat "$tmp/wrk.out" >&2; die "wrk failed"; }
	if grep -q -e 'Non-2xx' -e 'Socket errors: connect [1-9]' \
	    -e 'read [1-9]' -e 'write [1-9]' "$tmp/wrk.out"; then
		cat "$tmp/wrk.out" >&2
		die "$1: errors during the run"
	fi
	grep -q 'timeout [1-9]' "$tmp/wrk.out" &&
	    echo "note: $1: $(grep -o 'timeout [0-9]*' "$tmp/wrk.out") requests over 10 s"
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
	END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' "$tmp/wrk.out" >"$tmp/$1"
}

echo "risk bench/fcgi  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
echo "host: $(uname -sr), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(lighttpd -v 2>&1 | head -n 1 | cut -d' ' -f1), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
echo "$N records, one fresh record asked; least-privilege files, servers as $user; wrk -t2 -c16 -d$DUR --latency"
bench cgi "$base/cgi/$ID"
bench fcgi "$base/risk-get/$ID"
bench static "$base/static.json"
bench cache "$cache"

read -r c_rps c_p50 c_p99 <"$tmp/cgi"
read -r f_rps f_p50 f_p99 <"$tmp/fcgi"
read -r s_rps s_p50 s_p99 <"$tmp/static"
read -r n_rps n_p50 n_p99 <"$tmp/cache"
echo
printf '%-36s %10s %9s %9s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-36s %10s %9s %9s\n' "risk-get CGI (lighttpd mod_cgi)" "$c_rps" "$c_p50" "$c_p99"
printf '%-36s %10s %9s %9s\n' "risk-get FastCGI (lighttpd, 2 procs)" "$f_rps" "$f_p50" "$f_p99"
printf '%-36s %10s %9s %9s\n' "static file (lighttpd)" "$s_rps" "$s_p50" "$s_p99"
printf '%-36s %10s %9s %9s\n' "nginx proxy_cache hit" "$n_rps" "$n_p50" "$n_p99"
echo
x_cgi=$(awk "BEGIN { printf \"%.1f\", $f_rps / $c_rps }")
x_cache=$(awk "BEGIN { printf \"%.2f\", $f_rps / $n_rps }")
mark() { awk "BEGIN { print ($1) ? \"PASS\" : \"FAIL\" }"; }
echo "$(mark "$x_cgi >= 10")  FastCGI vs CGI: ${x_cgi}x (need >= 10x)"
echo "$(mark "$x_cache >= 0.25")  FastCGI vs nginx proxy_cache hit: ${x_cache}x (need >= 0.25x)"
echo "$(mark "$f_p99 < 5")  FastCGI p99: $f_p99 ms (need < 5 ms)"

# ---- memory over many requests -------------------------------------------

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
MS=$SRV/run/mem.sock
"${asweb[@]}" env -i RISK_DB="$DB" RISK_QUEUE="$Q" spawn-fcgi -n -s "$MS" \
    -- "$tmp/bin/risk-get" </dev/null >/dev/null 2>"$tmp/mem.log" &
mpid=$!
pids="$pids $mpid"
i=0
until [ -S "$MS" ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || die "spawn-fcgi did not start"; sleep 0.05
done
client() {
	tests/fcgi-client "$MS" -n "$1" PATH_INFO="/$ID" | head -n 1 |
	    grep -q '^Status: 200' || die "fcgi-client: no 200"
}
client 10000
r10k=$(rss "$mpid")
echo
if [ "$MILLION" = 1 ]; then
	t0=$(date +%s)
	client 990000
	t1=$(date +%s)
	r1m=$(rss "$mpid")
	echo "RSS of one risk-get: $r10k KiB after 10,000 requests," \
	    "$r1m KiB after 1,000,000 (tests/fcgi-client, one kept" \
	    "connection, $(( 990000 / (t1 - t0 > 0 ? t1 - t0 : 1) )) req/s)"
	echo "$(mark "$r1m - $r10k <= 256")  memory flat: +$((r1m - r10k)) KiB over 990,000 requests (limit 256)"
else
	echo "RSS of one risk-get: $r10k KiB after 10,000 requests (BENCH_MILLION=0: no million)"
fi
if grep -q 'risk-get:' "$tmp/lighttpd.log" "$tmp/spawn.log" "$tmp/mem.log"; then
	echo "WARNING: risk-get wrote to a log:"
	grep -h 'risk-get:' "$tmp/lighttpd.log" "$tmp/spawn.log" "$tmp/mem.log" | sort | uniq -c | head -n 5
fi
exit 0

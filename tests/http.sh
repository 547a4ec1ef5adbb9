# tests/http.sh — sourced after tests/lib.sh by the tests that speak HTTP
# to risk-get (cgi.sh, fcgi.sh): response checks on $T/out, and the CGI
# table of SPEC.md run against a live server.

# Header NAME of the response in $T/out (CR stripped), and its body.
hdr() { tr -d '\r' <"$T/out" | sed -n "1,/^\$/s/^$1: //p" | head -n 1; }
body() { tr -d '\r' <"$T/out" | sed '1,/^$/d'; }
expect_hdr() {
	local v
	v=$(hdr "$1")
	if printf '%s\n' "$v" | grep -Eq -- "$2"; then pass "$1 ~ $2: $LAST"
	else fail "expected header $1 to match $2 (got '$v')"; fi
}
expect_no_hdr() {
	if [ -z "$(hdr "$1")" ]; then pass "no $1: $LAST"
	else fail "expected no header $1"; fi
}
expect_body() {
	if [ "$(body)" = "$1" ]; then pass "body: $LAST"
	else fail "expected body: $1"; fi
}
expect_body_re() {
	if body | grep -Eq -- "$1"; then pass "body ~ $1"
	else fail "expected body to match: $1"; fi
}
expect_body_empty() {
	if [ -z "$(body)" ]; then pass "no body: $LAST"
	else fail "expected no body"; fi
}
# Error bodies: one JSON object, and nothing about the inside.
expect_clean_body() {
	local b
	b=$(body)
	if printf '%s' "$b" | jq -e 'type == "object" and has("error")' \
	    >/dev/null 2>&1 && ! printf '%s' "$b" | grep -Eiq '/|sqlite|sql|\.db|risk-get:|database'
	then pass "clean error body: $LAST"
	else fail "error body leaks or is not a JSON error: $b"; fi
}
# The HTTP status: from "Status:" (direct) or the status line (curl).
expect_status() {
	local s
	s=$(tr -d '\r' <"$T/out" | sed -n '1{s/^Status: \([0-9]*\).*/\1/p;s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p}')
	if [ "$s" = "$1" ]; then pass "status $1: $LAST"
	else fail "expected status $1, got '$s'"; fi
}
# qcount DB ID: how often ID is on the queue of DB (a file or a URI)
qcount() { RISK_DB=$1 q -r "select count(*) from queue where id='$2'"; }
http() { run curl -s -i --max-time 10 "$@"; }

# lighttpd_up CONF LOG: check CONF (lighttpd -tt, one assertion), run
# lighttpd on it in the foreground with its stderr added to LOG, and stop
# it when the test ends; LPID is its PID.
lighttpd_up() {
	run lighttpd -tt -f "$1"
	expect_rc 0
	lighttpd -D -f "$1" </dev/null >/dev/null 2>>"$2" &
	LPID=$!
	CLEANUP="${CLEANUP:+$CLEANUP; }kill $LPID 2>/dev/null; wait $LPID 2>/dev/null"
}

# Wait until URL answers (anything), at most 5 s.
await_url() {
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 "$1" && return 0
		sleep 0.05
	done
	return 1
}

# The CGI table against a server: http_table URL QUEUE PREFIX.  Expects
# the records of cgi.sh: C1 fresh (age ~120 s), C2 stale, C3 not found,
# D1 a dead letter; PREFIX makes the misses' IDs unique per server.
http_table() {
	local url=$1 q=$2 x=$3 etag lastmod m p
	http "$url/C1"
	expect_rc 0
	expect_status 200
	expect_hdr Content-Type '^application/json$'
	expect_hdr ETag '^"[0-9a-f]{16}"$'
	expect_hdr Last-Modified 'GMT$'
	expect_hdr Cache-Control '^max-age=34[0-8][0-9], stale-while-revalidate=120, stale-if-error=86400$'
	expect_hdr Age '^1[2-9][0-9]$'
	expect_body_re '^\{"id":"C1","status":"reliable",.*"fresh":true\}$'
	expect "Content-Length is the body's" \
	    [ "$(hdr Content-Length)" = "$(body | wc -c)" ]
	etag=$(hdr ETag)
	lastmod=$(hdr Last-Modified)
	http "$url?id=C1"
	expect_status 200
	expect_hdr ETag "^$etag\$"
	http "$url?id=C%31&lang=en"
	expect_status 200
	http -I "$url/C1"
	expect_status 200
	expect_hdr ETag "^$etag\$"
	expect_body_empty
	http -H "If-None-Match: $etag" "$url/C1"
	expect_status 304
	expect_body_empty
	http -H "If-Modified-Since: $lastmod" "$url?id=C1"
	expect_status 304
	http -H 'If-None-Match: "other"' "$url/C1"
	expect_status 200

	http "$url/C2"
	expect_status 200
	expect_hdr Cache-Control '^max-age=0, stale-while-revalidate=120, stale-if-error=86400$'
	expect_body_re '"fresh":false,"queued":true\}$'
	expect "stale record queued by the web user" [ "$(qcount "$q" C2)" = 1 ]

	http "$url/C3"
	expect_status 404
	expect_hdr Cache-Control '^max-age=[0-9]+$'
	expect_body_re '^\{"id":"C3","error":"not_found"'

	for _ in 1 2 3; do http "$url/${x}M1"; done
	expect_status 502
	expect_hdr Retry-After '^[0-9]+$'
	expect_hdr Cache-Control '^no-store$'
	expect_body "{\"id\":\"${x}M1\",\"error\":\"not_cached\",\"queued\":true}"
	expect "miss queued once" [ "$(qcount "$q" "${x}M1")" = 1 ]
	http -I "$url/${x}M3"
	expect_status 502
	expect_body_empty

	http "$url/D1"
	expect_status 502
	expect_no_hdr Retry-After
	expect_body '{"id":"D1","error":"not_cached","queued":false}'

	for m in POST PUT DELETE; do
		http -X "$m" --data-binary x "$url/C1"
		expect_status 405
		expect_hdr Allow '^GET, HEAD$'
		expect_clean_body
	done
	for p in '%22q%22' 'a%2Fb' '%3Cscript%3E' 'a%20b' "C1'"; do
		http "$url/$p"
		expect_status 400
		expect_clean_body
	done
	for p in 'id=%2e%2e' 'id=C1&id=C2' ''; do
		http "$url?$p"
		expect_status 400
		expect_clean_body
	done
}

# nginx_main DIR INCLUDE...: on stdout, a main nginx.conf for a test
# server whose every file lives in DIR (workers as the web user when we
# are root), serving the server blocks of the INCLUDE files.
nginx_main() {
	local d=$1 f
	shift
	[ "$(id -u)" -ne 0 ] || echo "user $WEBUSER $WEBGROUP;"
	printf 'error_log stderr;\npid %s/nginx.pid;\nevents {}\nhttp {\n' "$d"
	printf '\taccess_log off;\n\tclient_body_temp_path %s/body;\n' "$d"
	printf '\tfastcgi_temp_path %s/fcgi;\n\tproxy_temp_path %s/proxy;\n' "$d" "$d"
	printf '\tuwsgi_temp_path %s/uwsgi;\n\tscgi_temp_path %s/scgi;\n' "$d" "$d"
	for f; do printf '\tinclude %s;\n' "$f"; done
	echo '}'
}

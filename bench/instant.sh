# bench/instant.sh — sourced by bench/drain.sh and bench/changes.sh: an
# instant upstream, lighttpd serving one static JSON answer per company
# F1..FN on 127.0.0.1, for runs where the drainer's own work is measured.
#
#   instant_setup N     files and config under $W (the caller's folder);
#                       sets $port and $src (the --source template)
#   lighttpd_start      a fresh server (the old one stopped); its PID is
#                       added to $PIDS for the caller's trap
#
# lighttpd 1.4.69 keeps a file descriptor per file it served until it
# cleans up, and answers 403 once it runs out (ulimit -n is 20000 here):
# a fresh server per run, and fewer files than that.

instant_setup() {
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$W/www/financial-risk"
	(cd "$W/www/financial-risk" && seq -f 'F%g' 1 "$1" | while read -r id; do
		echo '{"status":"reliable","changedAt":"2025-01-04T00:00:00Z"}' >"$id"
	done)
	cat >"$W/lighttpd.conf" <<CONF
server.document-root = "$W/www"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$W/lighttpd.err"
server.max-keep-alive-requests = 1000000
mimetype.assign = ( "" => "application/json" )
CONF
	src="http://127.0.0.1:$port/financial-risk/{id}"
	LPID=""
}

lighttpd_start() {
	[ -z "$LPID" ] || { kill "$LPID"; wait "$LPID" 2>/dev/null; }
	lighttpd -D -f "$W/lighttpd.conf" </dev/null >/dev/null 2>&1 &
	LPID=$!
	PIDS="$PIDS $LPID"
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.05
	done
}

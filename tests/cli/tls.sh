#!/bin/bash
# TLS as enterprise legacy services run it: a private CA (--cacert), mutual
# TLS (--cert/--key, the key's passphrase in the credentials file), TLS 1.2
# or later.  Against the stand-in speaking HTTPS on 127.0.0.1, with a
# throwaway CA, server and client certificates made here by openssl.
. "$(dirname "$0")/../lib.sh"

P=$T/pki
mkdir -p "$P"
# ca NAME: a self-signed CA; leaf NAME CA [SAN]: a key and a certificate
# signed by CA (a server certificate when SAN is given)
ca() {
	openssl req -x509 -new -nodes -newkey ec \
	    -pkeyopt ec_paramgen_curve:P-256 -days 2 -subj "/CN=$1" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -keyout "$P/$1.key" -out "$P/$1.crt" 2>/dev/null
}
leaf() {
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -subj "/CN=$1" -keyout "$P/$1.key" -out "$P/$1.csr" 2>/dev/null
	if [ -n "${3:-}" ]; then echo "subjectAltName=$3" >"$P/$1.ext"
	else echo "extendedKeyUsage=clientAuth" >"$P/$1.ext"; fi
	openssl x509 -req -days 2 -in "$P/$1.csr" -CA "$P/$2.crt" \
	    -CAkey "$P/$2.key" -CAcreateserial -extfile "$P/$1.ext" \
	    -out "$P/$1.crt" 2>/dev/null
}
ca ca
ca otherca
leaf server ca IP:127.0.0.1,DNS:localhost
leaf client ca
leaf stranger otherca
chmod 600 "$P"/*.key
expect "openssl made the certificates" [ -s "$P/server.crt" ] && \
    [ -s "$P/client.crt" ] && [ -s "$P/stranger.crt" ]

# https_standin OPTIONS: the stand-in over TLS; sets $URL
https_standin() {
	standin --latency 0 --tls-cert "$P/server.crt" \
	    --tls-key "$P/server.key" "$@"
	URL="https://127.0.0.1:$PORT/financial-risk/{id}"
}
https_standin
PLAIN_URL=$URL
https_standin --tls-client-ca "$P/ca.crt"
MTLS_URL=$URL
https_standin --tls-version 1.1
OLD_URL=$URL
https_standin --tls-version 1.2 --tls-client-ca "$P/ca.crt"
MTLS12_URL=$URL
unset RISK_SOURCE_URL

# --- a private CA -----------------------------------------------------

run risk-fetch --source "$PLAIN_URL" --cacert "$P/ca.crt" C1
expect_rc 0
expect_out_re '^\{"id":"C1","status":"(reliable|indebted)"'
expect_err_empty
run env RISK_CACERT="$P/ca.crt" risk-fetch --source "$PLAIN_URL" C1
expect_rc 0
expect_out_re '^\{"id":"C1","status":'

# a server certificate from a CA nobody trusts: the system's CAs, or
# another private CA
run risk-fetch --source "$PLAIN_URL" C1
expect_rc 1
expect_err_re '^risk-fetch: C1: server certificate not trusted: '
run risk-fetch --source "$PLAIN_URL" --cacert "$P/otherca.crt" C1
expect_rc 1
expect_err_re '^risk-fetch: C1: server certificate not trusted: '

# --- mutual TLS -------------------------------------------------------

run risk-fetch --source "$MTLS_URL" --cacert "$P/ca.crt" \
    --cert "$P/client.crt" --key "$P/client.key" C1 C2
expect_rc 0
expect "two records over mutual TLS" [ "$(grep -c '"status":' "$T/out")" = 2 ]
run env RISK_CACERT="$P/ca.crt" RISK_CERT="$P/client.crt" \
    RISK_KEY="$P/client.key" risk-fetch --source "$MTLS_URL" C1
expect_rc 0
expect_out_re '^\{"id":"C1","status":'
# the key in the certificate's file
cat "$P/client.crt" "$P/client.key" >"$P/both.pem"
chmod 600 "$P/both.pem"
run risk-fetch --source "$MTLS_URL" --cacert "$P/ca.crt" \
    --cert "$P/both.pem" C1
expect_rc 0

# no client certificate, or one from a CA the server does not know: the
# server refuses us, whatever TLS version; several requests each, so that
# every one is judged the same whichever way the server's close races
# our request
run risk-fetch --source "$MTLS_URL" --cacert "$P/ca.crt" C1 C2 C3 C4
expect_rc 1
expect "no client certificate: 4 times 'requires a client certificate'" \
    [ "$(grep -c '^risk-fetch: C[1-4]: the server requires a client certificate.*give one with --cert$' "$T/err")" = 4 ]
run risk-fetch --source "$MTLS12_URL" --cacert "$P/ca.crt" C1 C2
expect_rc 1
expect "TLS 1.2, no client certificate: 'requires a client certificate'" \
    [ "$(grep -c '^risk-fetch: C[1-2]: the server requires a client certificate' "$T/err")" = 2 ]
for url in "$MTLS_URL" "$MTLS12_URL"; do
	run risk-fetch --source "$url" --cacert "$P/ca.crt" \
	    --cert "$P/stranger.crt" --key "$P/stranger.key" C1 C2 C3 C4
	expect_rc 1
	expect "a stranger's certificate: 4 times 'client certificate refused'" \
	    [ "$(grep -c '^risk-fetch: C[1-4]: client certificate refused' "$T/err")" = 4 ]
done

# an encrypted key: its passphrase comes from the credentials file
openssl pkey -in "$P/client.key" -aes256 -passout pass:hunter2 \
    -out "$P/enc.key"
chmod 600 "$P/enc.key"
printf 'Key-Passphrase: hunter2\n' >"$T/creds"
chmod 600 "$T/creds"
run risk-fetch --source "$MTLS_URL" --cacert "$P/ca.crt" \
    --cert "$P/client.crt" --key "$P/enc.key" --credentials "$T/creds" C1
expect_rc 0
expect_out_re '^\{"id":"C1","status":'
expect "the passphrase is never sent as a header" not grep -q hunter2 \
    "$T/out" "$T/err"

# --- risk-drain: whose failure it was ----------------------------------

# An untrusted server certificate is the service's failure: however many
# runs, no company moves towards the dead letters.  A client certificate
# the server refuses is credentials rejected: the run stops (exit 77).
# Each case has a database of its own: the source's state lasts in it.
dead() { q 'SELECT count(*) FROM dead'; }
queued() { q 'SELECT count(*) FROM queue'; }
main_db=$RISK_DB
export RISK_DB=$(new_db untrusted)
run risk-enqueue D1 D2 D3
for _ in 1 2 3; do
	run risk-drain --source "$PLAIN_URL" --max-attempts 1 --backoff 0
done
expect "an untrusted server certificate dead-letters nobody" \
    [ "$(dead)" = 0 ]
expect "... and all three stay queued" [ "$(queued)" = 3 ]
run risk-stat --log
expect_out_re 'server certificate not trusted'

export RISK_DB=$(new_db refused)
run risk-enqueue D1 D2 D3
run risk-drain --source "$MTLS_URL" --cacert "$P/ca.crt" \
    --cert "$P/stranger.crt" --key "$P/stranger.key" --max-attempts 1 \
    --backoff 0
expect_rc 77
expect_err_re "^risk-drain: source: credentials rejected \\(client certificate refused.*\\); check $P/stranger.crt\$"
expect "a refused client certificate dead-letters nobody" [ "$(dead)" = 0 ]
expect "... and all three stay queued" [ "$(queued)" = 3 ]
# a new certificate is new credentials: tried at once, not after the
# cool-down that a rejection starts
run risk-drain --source "$MTLS_URL" --cacert "$P/ca.crt" \
    --cert "$P/client.crt" --key "$P/client.key" --max-attempts 1
expect_rc 0
expect "the right certificate at once: all three stored" [ "$(queued)" = 0 ]

export RISK_DB=$(new_db missing)
run risk-enqueue D1 D2 D3
run risk-drain --source "$MTLS_URL" --cacert "$P/ca.crt" --max-attempts 1
expect_rc 77
expect_err_re '^risk-drain: source: credentials rejected \(the server requires a client certificate'
expect "a missing client certificate dead-letters nobody" [ "$(dead)" = 0 ]

export RISK_DB=$(new_db right)
run risk-enqueue D1 D2 D3
run risk-drain --source "$MTLS_URL" --cacert "$P/ca.crt" \
    --cert "$P/client.crt" --key "$P/client.key" --max-attempts 1
expect_rc 0
expect "with the right certificate all are stored" \
    [ "$(q "SELECT count(*) FROM record WHERE id LIKE 'D%'")" = 3 ]
export RISK_DB=$main_db

# --- the files are checked at start, naming the file --------------------

tlsfail() {
	run risk-fetch --source "$MTLS_URL" "$@" C1
	expect_rc 2
	expect_out_empty
}
tlsfail --cacert "$P/nope.crt"
expect_err_re "^risk-fetch: $P/nope.crt: No such file or directory$"
tlsfail --cacert "$P/client.key"
expect_err_re "^risk-fetch: $P/client.key: no PEM certificate in the CA file$"
tlsfail --cert "$P/client.key" --key "$P/client.key"
expect_err_re "^risk-fetch: $P/client.key: no PEM certificate"
tlsfail --cert "$P/client.crt"
expect_err_re "^risk-fetch: $P/client.crt: no PEM private key"
tlsfail --cert "$P/client.crt" --key "$P/stranger.key"
expect_err_re "^risk-fetch: $P/stranger.key: the private key does not belong to the certificate in $P/client.crt$"
tlsfail --key "$P/client.key"
expect_err_re '^risk-fetch: a private key without a client certificate'
tlsfail --cert "$P/client.crt" --key "$P/enc.key"
expect_err_re "^risk-fetch: $P/enc.key: the private key is encrypted: put its passphrase in the credentials file"
printf 'Key-Passphrase: wrong\n' >"$T/badcreds"
chmod 600 "$T/badcreds"
tlsfail --cert "$P/client.crt" --key "$P/enc.key" --credentials "$T/badcreds"
expect_err_re "^risk-fetch: $P/enc.key: the passphrase in $T/badcreds does not decrypt the private key$"
expect "no passphrase in a message" not grep -q wrong "$T/err"
chmod 604 "$P/client.key"
tlsfail --cert "$P/client.crt" --key "$P/client.key"
expect_err_re "^risk-fetch: $P/client.key: private key is open to others"
chmod 600 "$P/client.key"
run risk-fetch --source 'http://127.0.0.1:1/{id}' --cacert "$P/ca.crt" C1
expect_rc 2
expect_err_re 'the source URL is not https'
run risk-drain --source "$MTLS_URL" --cert "$P/client.crt" \
    --key "$P/enc.key"
expect_rc 2
expect_err_re "^risk-drain: $P/enc.key: the private key is encrypted"

# --- TLS 1.2 or later, even where the system's OpenSSL allows less -------

# An OpenSSL configuration as a legacy crypto policy leaves it: TLS 1.0 and
# SHA-1 signatures allowed.  libcurl alone would then speak TLS 1.1.
cat >"$T/legacy.cnf" <<'EOF'
openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = sys
[sys]
MinProtocol = TLSv1
CipherString = DEFAULT@SECLEVEL=0
EOF
run env OPENSSL_CONF="$T/legacy.cnf" curl -sS --cacert "$P/ca.crt" \
    "${OLD_URL%\{id\}}C1"
expect "the old server does speak TLS 1.1 (to curl(1) under that policy)" \
    [ "$rc" -eq 0 ]
run env OPENSSL_CONF="$T/legacy.cnf" risk-fetch --source "$OLD_URL" \
    --cacert "$P/ca.crt" C1
expect_rc 1
expect_out_empty
expect_err_re '^risk-fetch: C1: the server speaks no TLS 1\.2 or later \(TLS alert: protocol version\)$'

finish

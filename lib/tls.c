/*
 * tls.c — the TLS files a fetcher is given, checked before the first
 * request, and TLS failures told apart once requests fail.
 *
 * Invariants:
 *  - Every file named by --cacert, --cert and --key is read and parsed
 *    here, with libcrypto, when the fetcher is made: a missing file, a
 *    file that holds no certificate or key, an encrypted key without
 *    its passphrase or with a wrong one, and a key that does not belong
 *    to the certificate are errors that name the file, before any
 *    request is sent.  Without this, libcurl would report each of them
 *    on every request, as if the service had failed.
 *  - The passphrase comes from the credentials file and is never part
 *    of a message (libcrypto clears the buffer it is copied into).
 *  - A private key readable or writable by others is refused, as the
 *    credentials file is (group access is allowed: Debian's ssl-cert
 *    group is how services share a key).
 *  - Whose failure a failed TLS transfer was is judged from what OpenSSL
 *    saw, not from libcurl's words: an info callback on each connection's
 *    SSL_CTX (libcurl makes one per connection, for the transfer that
 *    opens it) records the fatal alert the server sent and whether it
 *    asked for a client certificate.  A server certificate that does not
 *    verify is the service's failure (DOWN); a client certificate the
 *    server refuses, or one it requires and we lack, is CREDENTIALS,
 *    like HTTP 401.  When libcurl's TLS library is not the OpenSSL we
 *    were built with, nothing is watched and those failures are DOWN.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "internal.h"

struct pass {
	const char *pass;	/* NULL: none was given */
	bool asked;		/* the key is encrypted */
};

static int
on_pass(char *buf, int size, int rwflag, void *arg)
{
	struct pass *p = arg;
	size_t n;

	(void)rwflag;
	p->asked = true;
	if (!p->pass || size <= 0)
		return -1;
	n = strlen(p->pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, p->pass, n);
	return (int)n;
}

static FILE *
open_pem(const char *path, const char *what, mode_t *mode, char *err)
{
	struct stat st;
	FILE *fp;

	if (!(fp = fopen(path, "re"))) {
		risk_seterr(err, RISK_EINVAL, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		risk_seterr(err, RISK_EINVAL, "%s: %s is not a regular file",
		    path, what);
		fclose(fp);
		return NULL;
	}
	*mode = st.st_mode;
	return fp;
}

/* The first certificate in a PEM file, or NULL with err set. */
static X509 *
read_cert(const char *path, const char *what, char *err)
{
	mode_t mode;
	X509 *x;
	FILE *fp;

	if (!(fp = open_pem(path, what, &mode, err)))
		return NULL;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!x)
		risk_seterr(err, RISK_EINVAL, "%s: no PEM certificate in the "
		    "%s", path, what);
	return x;
}

static int
check_cacert(const char *path, char *err)
{
	X509 *x;

	if (!(x = read_cert(path, "CA file", err)))
		return RISK_EINVAL;
	X509_free(x);
	return RISK_OK;
}

static int
check_client(const struct risk_fetch_opts *o, const char *pass,
    const char *passfile, unsigned char md[RISK_TLS_MD_LEN], char *err)
{
	unsigned int mdlen = RISK_TLS_MD_LEN;
	const char *keypath = o->key ? o->key : o->cert;
	struct pass p = { .pass = pass };
	EVP_PKEY *k = NULL;
	mode_t mode;
	X509 *x;
	FILE *fp;
	int rc = RISK_OK;

	if (!(x = read_cert(o->cert, "client certificate", err)))
		return RISK_EINVAL;
	if (!(fp = open_pem(keypath, "private key", &mode, err))) {
		X509_free(x);
		return RISK_EINVAL;
	}
	k = PEM_read_PrivateKey(fp, NULL, on_pass, &p);
	fclose(fp);
	if (!k && p.asked && !pass)
		rc = risk_seterr(err, RISK_EINVAL, "%s: the private key is "
		    "encrypted: put its passphrase in the credentials file "
		    "(a \"Key-Passphrase: ...\" line)", keypath);
	else if (!k && p.asked)
		rc = risk_seterr(err, RISK_EINVAL, "%s: the passphrase in %s "
		    "does not decrypt the private key", keypath, passfile);
	else if (!k)
		rc = risk_seterr(err, RISK_EINVAL, "%s: no PEM private key%s",
		    keypath, o->key ? "" : " (give it with --key)");
	else if (mode & 007)
		rc = risk_seterr(err, RISK_EINVAL, "%s: private key is open "
		    "to others (mode %04o); chmod o= it", keypath,
		    (unsigned)(mode & 07777));
	else if (X509_check_private_key(x, k) != 1)
		rc = risk_seterr(err, RISK_EINVAL, "%s: the private key does "
		    "not belong to the certificate in %s", keypath, o->cert);
	else if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1)
		rc = risk_seterr(err, RISK_ENOMEM, "%s: cannot digest the "
		    "certificate", o->cert);
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

int
risk__tls_check(const struct risk_fetch_opts *o, const char *pass,
    unsigned char md[RISK_TLS_MD_LEN], char *err)
{
	int rc = RISK_OK;

	if (o->key && !o->cert)
		return risk_seterr(err, RISK_EINVAL, "a private key without "
		    "a client certificate: give the certificate too");
	if ((o->cacert || o->cert) &&
	    strncasecmp(o->url_template, "https://", 8) != 0)
		return risk_seterr(err, RISK_EINVAL, "a CA file or client "
		    "certificate is given, but the source URL is not https");
	if (o->cacert)
		rc = check_cacert(o->cacert, err);
	if (rc == RISK_OK && o->cert)
		rc = check_client(o, pass, o->credentials, md, err);
	ERR_clear_error();
	return rc;
}

/* ---- what the TLS layer saw ------------------------------------------ */

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_idx = -1;	/* our SSL_CTX ex_data slot; -1: cannot watch */

/*
 * Watching needs libcurl to hand us its OpenSSL SSL_CTX, and that SSL_CTX
 * to be of the OpenSSL we were built with: same major version.
 */
static void
watch_init(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	char want[32];

	snprintf(want, sizeof want, "OpenSSL/%d.", OPENSSL_VERSION_MAJOR);
	if (v && v->ssl_version &&
	    strncmp(v->ssl_version, want, strlen(want)) == 0)
		watch_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void
on_info(const SSL *ssl, int where, int ret)
{
	struct risk__tls_seen *seen;

	seen = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), watch_idx);
	if (!seen)
		return;
	if ((where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL)
		seen->alert = ret & 0xff;
	if ((where & SSL_CB_CONNECT_LOOP) &&
	    SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ)
		seen->asked = true;
}

/* libcurl makes an SSL_CTX for each new connection and shows it here. */
static CURLcode
on_ctx(CURL *easy, void *ctx, void *arg)
{
	(void)easy;
	SSL_CTX_set_ex_data(ctx, watch_idx, arg);
	SSL_CTX_set_info_callback(ctx, on_info);
	return CURLE_OK;
}

void
risk__tls_watch(void *easy, struct risk__tls_seen *seen)
{
	pthread_once(&watch_once, watch_init);
	if (watch_idx < 0)
		return;
	/* CURLE_NOT_BUILT_IN with another TLS library: then we are blind */
	if (curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, seen) == CURLE_OK)
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, on_ctx);
}

/* An alert that says the server did not take our client certificate. */
static bool
cert_alert(int alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* OpenSSL 3.0 has no words for certificate_required (TLS 1.3). */
static const char *
alert_name(int alert)
{
	if (alert < 0)
		return "";
	if (alert == SSL_AD_CERTIFICATE_REQUIRED)
		return "certificate required";
	return SSL_alert_desc_string_long(alert);
}

/* curl's message, without its "SSL certificate problem: " and with no
 * control byte (a certificate's names are the server's bytes). */
static void
curl_words(const char *errbuf, int rc, char *out, size_t n)
{
	static const char *const lead[] = { "SSL certificate problem: ",
	    "SSL: ", NULL };
	const char *p = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	size_t i;

	for (i = 0; lead[i]; i++)
		if (strncmp(p, lead[i], strlen(lead[i])) == 0) {
			p += strlen(lead[i]);
			break;
		}
	snprintf(out, n, "%s", p);
	for (; *out; out++)
		if ((unsigned char)*out < ' ' || *out == 0x7f)
			*out = '?';
}

enum risk_fail_class
risk__tls_failure(int rc, const struct risk__tls_seen *seen, bool have_cert,
    const char *errbuf, char *reason, size_t n)
{
	const char *alert = alert_name(seen->alert);
	const char *give = have_cert ? "" : "; give one with --cert";
	char words[CURL_ERROR_SIZE];

	if (rc == CURLE_PEER_FAILED_VERIFICATION) {
		curl_words(errbuf, rc, words, sizeof words);
		snprintf(reason, n, "server certificate not trusted: %s",
		    words);
		return RISK_FAIL_DOWN;
	}
	if (cert_alert(seen->alert) ||
	    (seen->alert == SSL_AD_HANDSHAKE_FAILURE && seen->asked &&
	    !have_cert)) {
		snprintf(reason, n, have_cert ? "client certificate refused "
		    "by the server (TLS alert: %s)" : "the server requires a "
		    "client certificate (TLS alert: %s)%s", alert, give);
		return RISK_FAIL_CREDENTIALS;
	}
	if (seen->alert == SSL_AD_PROTOCOL_VERSION ||
	    seen->alert == SSL_AD_INSUFFICIENT_SECURITY) {
		snprintf(reason, n, "the server speaks no TLS 1.2 or later "
		    "(TLS alert: %s)", alert);
		return RISK_FAIL_DOWN;
	}
	/*
	 * The server asked for a client certificate, then closed the
	 * connection before any answer: it did not take ours (or that we
	 * had none).  Its alert may be lost in the race between our request
	 * and its close, so this is judged without it.
	 */
	if (seen->alert < 0 && seen->asked && (rc == CURLE_SEND_ERROR ||
	    rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	    rc == CURLE_SSL_CONNECT_ERROR)) {
		snprintf(reason, n, "%s certificate and closed the "
		    "connection%s", have_cert ? "client certificate refused: "
		    "the server asked for a" : "the server requires a client",
		    give);
		return RISK_FAIL_CREDENTIALS;
	}
	if (seen->alert >= 0) {
		snprintf(reason, n, "TLS alert from the server: %s", alert);
		return RISK_FAIL_DOWN;
	}
	return RISK_FAIL_NONE;
}

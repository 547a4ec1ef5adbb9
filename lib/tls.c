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
 *  - Which TLS alert the server sent is read from the OpenSSL error code
 *    that libcurl puts in its error buffer ("error:0A00045C:..."), not
 *    from the words after it: an alert's reason code is 1000 plus the
 *    alert number (SSL_AD_REASON_OFFSET), in every OpenSSL since 1.0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
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
    const char *passfile, char *err)
{
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
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

int
risk__tls_check(const struct risk_fetch_opts *o, const char *pass,
    char *err)
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
		rc = check_client(o, pass, o->credentials, err);
	ERR_clear_error();
	return rc;
}

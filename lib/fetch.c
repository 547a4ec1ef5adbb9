/*
 * fetch.c — ask the legacy service, a bounded number of requests at once.
 *
 * A fetcher is a curl multi handle and a fixed array of slots, each with
 * its own easy handle, set up once.  Invariants:
 *
 *  - A slot is FREE, BUSY (its easy handle is in the multi handle) or
 *    DONE (finished, its callback is running).  Only BUSY slots are in
 *    the multi handle, so curl never holds a transfer it is not working
 *    on: risk_fetcher_add() refuses (RISK_EFULL) rather than queue, and
 *    the clock of CURLOPT_TIMEOUT_MS starts when the request can start.
 *    Transfers in flight never exceed the slots, whatever the caller does.
 *  - Every BUSY slot is reported exactly once: by risk_fetcher_run()
 *    when curl finishes it, or by risk_fetcher_abort().  The slot is
 *    FREE again only after its callback returns, so the body (the slot's
 *    own buffer) stays valid while the callback runs; the callback may
 *    add transfers to other slots but must not run, abort or free.
 *  - A body never grows past max_body: the write callback refuses the
 *    byte after the cap whether or not there is a Content-Length.  The
 *    buffer is kept from one request to the next (no allocation per
 *    request once it has grown), and so are the easy handles; the multi
 *    handle keeps the connections alive between them.
 *  - Redirects are never followed; only http and https are spoken.
 *  - Credentials live in a file the caller names, which must not be open
 *    to group or others.  Its content never reaches a reason, an error
 *    or a log: messages name the file and a line number only.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1	/* explicit_bzero, strncasecmp */
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"

#define CRED_MAX (64 * 1024)
/* The credentials line that is the client key's passphrase, not a header */
#define KEY_PASSPHRASE "Key-Passphrase"
#define RETRY_AFTER_MAX_S (24 * 3600)

enum { FREE, BUSY, DONE };

struct slot {
	struct risk_fetcher *f;
	CURL *easy;
	int state;
	char id[RISK_ID_MAX + 1];
	void *udata;
	char *buf;		/* body + NUL; kept from request to request */
	size_t len, cap;
	bool toobig, nomem;
	struct risk__tls_seen tls;
	int64_t start_ms;
	char errbuf[CURL_ERROR_SIZE];
};

struct risk_fetcher {
	CURLM *multi;
	struct slot *slot;
	int nslot;
	int busy;		/* slots BUSY */
	int nfree;		/* slots FREE */
	int64_t timeout_ms, connect_ms;
	size_t max_body;
	char *tmpl;
	char *url;		/* scratch for one URL; curl copies it */
	size_t urlmax;
	char *netrc;		/* path, when the credentials are a netrc */
	char fp[RISK_FP_LEN];	/* fingerprint of the credentials file
				   and client certificate; "": neither */
	uint64_t fph;		/* the same as a number */
	struct curl_slist *headers;
	char *keypass;		/* the client key's passphrase, or NULL */
	bool have_cert;		/* we present a client certificate */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the URL template ----------------------------------------------- */

int
risk_fetch_check_template(const char *tmpl, char *err)
{
	const char *p, *auth, *end;
	size_t n;

	if (!tmpl || !*tmpl)
		return risk_seterr(err, RISK_EINVAL, "no source URL given");
	n = strlen(tmpl);
	if (n > RISK_FETCH_URL_MAX)
		return risk_seterr(err, RISK_EINVAL,
		    "source URL longer than %d bytes", RISK_FETCH_URL_MAX);
	for (p = tmpl; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return risk_seterr(err, RISK_EINVAL,
			    "source URL contains white space or a control "
			    "character");
	if (strncasecmp(tmpl, "http://", 7) == 0)
		auth = tmpl + 7;
	else if (strncasecmp(tmpl, "https://", 8) == 0)
		auth = tmpl + 8;
	else
		return risk_seterr(err, RISK_EINVAL,
		    "source URL must start with http:// or https://");
	end = auth + strcspn(auth, "/?#");
	if (end == auth)
		return risk_seterr(err, RISK_EINVAL, "source URL has no host");
	if (memchr(auth, '@', end - auth))
		return risk_seterr(err, RISK_EINVAL, "source URL must not "
		    "carry user info: put credentials in a file");
	p = strstr(tmpl, "{id}");
	if (!p)
		return risk_seterr(err, RISK_EINVAL,
		    "source URL has no {id} placeholder");
	if (p < end)
		return risk_seterr(err, RISK_EINVAL,
		    "source URL has {id} in its host part");
	return RISK_OK;
}

/* Fill f->url from the template; -1 if the ID cannot go in. */
static int
build_url(struct risk_fetcher *f, const char *id)
{
	char enc[3 * RISK_ID_MAX + 1];
	const char *t, *ph;
	size_t left, n, elen;
	char *o;

	if (risk_id_urlencode(id, enc, sizeof enc) < 0)
		return -1;
	elen = strlen(enc);
	o = f->url;
	left = f->urlmax;
	for (t = f->tmpl; (ph = strstr(t, "{id}")); t = ph + 4) {
		n = ph - t;
		if (n + elen >= left)
			return -1;
		memcpy(o, t, n);
		memcpy(o + n, enc, elen);
		o += n + elen;
		left -= n + elen;
	}
	n = strlen(t);
	if (n >= left)
		return -1;
	memcpy(o, t, n + 1);
	return 0;
}

/* ---- credentials ---------------------------------------------------- */

static bool
is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Next line of buf at *pos, NUL-terminated in place, trimmed at the end. */
static char *
next_line(char *buf, size_t len, size_t *pos)
{
	char *s, *nl;
	size_t n;

	if (*pos >= len)
		return NULL;
	s = buf + *pos;
	nl = memchr(s, '\n', len - *pos);
	n = nl ? (size_t)(nl - s) : len - *pos;
	*pos += n + 1;
	s[n] = '\0';
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int
parse_headers(struct risk_fetcher *f, const char *path, char *buf,
    size_t len, char *err)
{
	struct curl_slist *l;
	size_t pos = 0;
	int lineno = 0;
	char *s, *c, *v;

	while ((s = next_line(buf, len, &pos))) {
		lineno++;
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			continue;
		for (c = s; is_tchar((unsigned char)*c); c++)
			;
		if (c == s || *c != ':')
			return risk_seterr(err, RISK_EINVAL, "%s: line %d: "
			    "not a \"Name: value\" header", path, lineno);
		for (v = c + 1; isspace((unsigned char)*v); v++)
			;
		if (!*v)
			return risk_seterr(err, RISK_EINVAL,
			    "%s: line %d: empty header value", path, lineno);
		for (c = v; *c; c++)
			if ((unsigned char)*c < ' ' && *c != '\t')
				return risk_seterr(err, RISK_EINVAL,
				    "%s: line %d: control character in "
				    "header", path, lineno);
		if (strncasecmp(s, KEY_PASSPHRASE ":",
		    sizeof KEY_PASSPHRASE) == 0) {
			if (f->keypass)
				return risk_seterr(err, RISK_EINVAL, "%s: line "
				    "%d: a second " KEY_PASSPHRASE, path,
				    lineno);
			if (!(f->keypass = strdup(v)))
				return risk_seterr(err, RISK_ENOMEM,
				    "out of memory");
			continue;
		}
		l = curl_slist_append(f->headers, s);
		if (!l)
			return risk_seterr(err, RISK_ENOMEM, "out of memory");
		f->headers = l;
	}
	return RISK_OK;
}

/* First word of the first line that is not blank or a comment. */
static void
first_word(const char *buf, size_t len, char *out, size_t outsz)
{
	size_t i = 0, n = 0;

	for (;;) {
		while (i < len && isspace((unsigned char)buf[i]))
			i++;
		if (i < len && buf[i] == '#') {
			while (i < len && buf[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	while (i < len && !isspace((unsigned char)buf[i]) && n + 1 < outsz)
		out[n++] = buf[i++];
	out[n] = '\0';
}

/*
 * FNV-1a, folded over the credentials file and the client certificate:
 * enough to notice that an operator changed either, and nothing to learn
 * the secret from in the 64 bits kept (the database holds it, never the
 * content).
 */
static void
fingerprint(struct risk_fetcher *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = f->fp[0] ? f->fph : UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	f->fph = h;
	snprintf(f->fp, RISK_FP_LEN, "%016llx", (unsigned long long)h);
}

static int
load_credentials(struct risk_fetcher *f, const char *path, char *err)
{
	char word[16];
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t r;
	int fd, rc;

	/* O_NONBLOCK: a FIFO must not hang the open before the fstat */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	    O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		return risk_seterr(err, RISK_EINVAL, "%s: credentials file "
		    "is a symbolic link; name the file itself", path);
	if (fd < 0)
		return risk_seterr(err, RISK_EINVAL, "%s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = risk_seterr(err, RISK_EINVAL, "%s: %s", path,
		    strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return risk_seterr(err, RISK_EINVAL,
		    "%s: credentials file is not a regular file", path);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return risk_seterr(err, RISK_EINVAL, "%s: credentials file "
		    "belongs to uid %ld, not to the user running this (uid "
		    "%ld); chown it", path, (long)st.st_uid, (long)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return risk_seterr(err, RISK_EINVAL, "%s: credentials file "
		    "is open to group or others (mode %04o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
	}
	buf = malloc(CRED_MAX + 1);
	if (!buf) {
		close(fd);
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	while (len <= CRED_MAX &&
	    (r = read(fd, buf + len, CRED_MAX + 1 - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = risk_seterr(err, RISK_EINVAL, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		len += r;
	}
	if (len > CRED_MAX) {
		rc = risk_seterr(err, RISK_EINVAL,
		    "%s: credentials file larger than %d bytes", path,
		    CRED_MAX);
		goto out;
	}
	first_word(buf, len, word, sizeof word);
	if (strcmp(word, "machine") == 0 || strcmp(word, "default") == 0) {
		f->netrc = strdup(path);
		rc = f->netrc ? RISK_OK
		    : risk_seterr(err, RISK_ENOMEM, "out of memory");
	} else if (strchr(word, ':')) {
		rc = parse_headers(f, path, buf, len, err);
	} else if (!*word) {
		rc = risk_seterr(err, RISK_EINVAL,
		    "%s: no credentials in file", path);
	} else {
		rc = risk_seterr(err, RISK_EINVAL, "%s: neither a netrc "
		    "file nor \"Name: value\" header lines", path);
	}
out:
	if (rc == RISK_OK)
		fingerprint(f, buf, len);
	explicit_bzero(buf, len < CRED_MAX + 1 ? len : CRED_MAX + 1);
	free(buf);
	close(fd);
	return rc;
}

static void
forget_keypass(struct risk_fetcher *f)
{
	if (f->keypass) {
		explicit_bzero(f->keypass, strlen(f->keypass));
		free(f->keypass);
		f->keypass = NULL;
	}
}

static void
free_headers(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* ---- transfers ------------------------------------------------------ */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t n = size * nmemb, cap;
	char *nb;

	if (n > s->f->max_body - s->len) {
		s->toobig = true;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > s->f->max_body + 1)
			cap = s->f->max_body + 1;
		nb = realloc(s->buf, cap);
		if (!nb) {
			s->nomem = true;
			return 0;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return n;
}

static int
setup_easy(struct risk_fetcher *f, const struct risk_fetch_opts *o,
    struct slot *s)
{
	CURL *e = s->easy;
	long lowtime = (long)((f->timeout_ms + 999) / 1000);
	CURLcode rc = CURLE_OK;

#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val)
	SET(CURLOPT_PRIVATE, s);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_USERAGENT, "risk/" RISK_VERSION);
	SET(CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_ms);
	/* A backstop: a stalled transfer never outlives the timeout. */
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, lowtime > 0 ? lowtime : 1L);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_body);
	SET(CURLOPT_HTTPHEADER, f->headers);
	risk__tls_watch(e, &s->tls);
	if (f->netrc) {
		SET(CURLOPT_NETRC, (long)CURL_NETRC_REQUIRED);
		SET(CURLOPT_NETRC_FILE, f->netrc);
	}
	/* TLS 1.2 or later, whatever the system's OpenSSL would allow */
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->cacert)
		SET(CURLOPT_CAINFO, o->cacert);
	if (o->cert) {
		SET(CURLOPT_SSLCERT, o->cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY, o->key ? o->key : o->cert);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
		if (f->keypass)
			SET(CURLOPT_KEYPASSWD, f->keypass);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

int
risk_fetcher_new(struct risk_fetcher **fp, const struct risk_fetch_opts *o,
    char *err)
{
	struct risk_fetcher *f;
	struct curl_slist *l;
	unsigned char certmd[RISK_TLS_MD_LEN];
	const char *p;
	size_t nid = 0;
	int i, rc;

	*fp = NULL;
	if ((rc = risk_fetch_check_template(o->url_template, err)) < 0)
		return rc;
	if (o->concurrency > RISK_FETCH_MAX_SLOTS)
		return risk_seterr(err, RISK_EINVAL, "concurrency over %d",
		    RISK_FETCH_MAX_SLOTS);
	if (o->max_body > RISK_FETCH_MAX_BODY_CAP)
		return risk_seterr(err, RISK_EINVAL, "body cap over %d bytes",
		    RISK_FETCH_MAX_BODY_CAP);
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return risk_seterr(err, RISK_ENOMEM, "curl_global_init: %s",
		    curl_easy_strerror(global_rc));

	if (!(f = calloc(1, sizeof *f)))
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	f->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms
	    : RISK_FETCH_TIMEOUT_MS;
	f->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
	    : RISK_FETCH_CONNECT_MS;
	if (f->connect_ms > f->timeout_ms)
		f->connect_ms = f->timeout_ms;
	f->max_body = o->max_body > 0 ? o->max_body : RISK_FETCH_MAX_BODY;
	f->nslot = o->concurrency > 0 ? o->concurrency : 4;

	for (p = o->url_template; (p = strstr(p, "{id}")); p += 4)
		nid++;
	f->urlmax = strlen(o->url_template) + nid * 3 * RISK_ID_MAX + 1;
	f->tmpl = strdup(o->url_template);
	f->url = malloc(f->urlmax);
	f->slot = calloc(f->nslot, sizeof *f->slot);
	f->multi = curl_multi_init();
	if (!f->tmpl || !f->url || !f->slot || !f->multi) {
		rc = risk_seterr(err, RISK_ENOMEM, "out of memory");
		goto fail;
	}
	if (o->credentials &&
	    (rc = load_credentials(f, o->credentials, err)) < 0)
		goto fail;
	if ((rc = risk__tls_check(o, f->keypass, certmd, err)) < 0)
		goto fail;
	if (o->cert)
		fingerprint(f, certmd, sizeof certmd);
	f->have_cert = o->cert != NULL;
	for (l = f->headers; l; l = l->next)
		if (strncasecmp(l->data, "Accept:", 7) == 0)
			break;
	if (!l) {
		l = curl_slist_append(f->headers, "Accept: application/json");
		if (!l) {
			rc = risk_seterr(err, RISK_ENOMEM, "out of memory");
			goto fail;
		}
		f->headers = l;
	}
	/* Keep one idle connection per slot for the next requests. */
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->nslot);

	for (i = 0; i < f->nslot; i++) {
		struct slot *s = &f->slot[i];

		s->f = f;
		s->state = FREE;
		if (!(s->easy = curl_easy_init()) ||
		    setup_easy(f, o, s) < 0) {
			rc = risk_seterr(err, RISK_ENOMEM,
			    "cannot set up curl");
			goto fail;
		}
	}
	f->nfree = f->nslot;
	forget_keypass(f);	/* curl keeps its own copy */
	*fp = f;
	return RISK_OK;
fail:
	risk_fetcher_free(f);
	return rc;
}

const char *
risk_fetcher_fingerprint(struct risk_fetcher *f)
{
	return f->fp;
}

int
risk_fetcher_slots(struct risk_fetcher *f)
{
	return f->nfree;
}

int
risk_fetcher_busy(struct risk_fetcher *f)
{
	return f->busy;
}

int
risk_fetcher_add(struct risk_fetcher *f, const char *id, void *udata,
    char *err)
{
	struct slot *s = NULL;
	size_t n;
	int i;

	n = id ? strlen(id) : 0;
	if (n == 0 || n > RISK_ID_MAX)
		return risk_seterr(err, RISK_EINVAL, "%.*s: invalid company id",
		    RISK_ID_MAX, id ? id : "");
	if (f->nfree == 0)
		return risk_seterr(err, RISK_EFULL, "%s: no free fetch slot",
		    id);
	for (i = 0; i < f->nslot; i++)
		if (f->slot[i].state == FREE) {
			s = &f->slot[i];
			break;
		}
	if (!s)
		return risk_seterr(err, RISK_EFULL, "%s: no free fetch slot",
		    id);
	if (build_url(f, id) < 0)
		return risk_seterr(err, RISK_EINVAL,
		    "%s: cannot put the id in the URL", id);
	if (curl_easy_setopt(s->easy, CURLOPT_URL, f->url) != CURLE_OK)
		return risk_seterr(err, RISK_ENOMEM, "%s: cannot set the URL",
		    id);
	memcpy(s->id, id, n + 1);
	s->udata = udata;
	s->len = 0;
	s->toobig = s->nomem = false;
	s->tls.alert = -1;
	s->tls.asked = false;
	s->errbuf[0] = '\0';
	s->start_ms = risk_mono_ms();
	if (curl_multi_add_handle(f->multi, s->easy) != CURLM_OK)
		return risk_seterr(err, RISK_ENOMEM,
		    "%s: cannot start a transfer", id);
	s->state = BUSY;
	f->busy++;
	f->nfree--;
	return RISK_OK;
}

static void
set_reason(struct risk_fetch_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct risk_fetch_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(r->reason, sizeof r->reason, fmt, ap) < 0)
		r->reason[0] = '\0';
	va_end(ap);
}

static void
fail_reason(struct slot *s, CURLcode rc, struct risk_fetch_result *r)
{
	struct risk_fetcher *f = s->f;
	curl_off_t pre = 0;
	enum risk_fail_class c;
	long oserr = 0;
	char msg[128];

	c = risk__tls_failure(rc, &s->tls, f->have_cert, s->errbuf,
	    r->reason, sizeof r->reason);
	if (c != RISK_FAIL_NONE) {
		r->fail_class = c;
		return;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(s->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
		if (pre == 0 && r->http_status == 0 &&
		    f->connect_ms < f->timeout_ms)
			set_reason(r, "connect timed out after %lld ms",
			    (long long)f->connect_ms);
		else
			set_reason(r, "timed out after %lld ms",
			    (long long)f->timeout_ms);
		break;
	case CURLE_FILESIZE_EXCEEDED:
		set_reason(r, "body over %zu bytes", f->max_body);
		break;
	case CURLE_WRITE_ERROR:
		if (s->toobig)
			set_reason(r, "body over %zu bytes", f->max_body);
		else
			set_reason(r, "out of memory");
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == 0) {
			set_reason(r, "cannot connect");
			break;
		}
		if (snprintf(msg, sizeof msg, "%s", strerror(oserr)) < 0)
			msg[0] = '\0';
		msg[0] = tolower((unsigned char)msg[0]);
		set_reason(r, "%s", msg);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		set_reason(r, "cannot resolve host");
		break;
	case CURLE_GOT_NOTHING:
		set_reason(r, "empty reply from server");
		break;
	default:
		set_reason(r, "%s", s->errbuf[0] ? s->errbuf
		    : curl_easy_strerror(rc));
		break;
	}
}

/*
 * The SPEC's table of whose failure an HTTP answer is.  A redirect, or a
 * status no legacy service should send (1xx, 2xx other than 200), says
 * nothing about one company: the source URL or the service is wrong.
 */
static enum risk_fail_class
classify(long code, bool retry_after)
{
	if (code == 200 || code == 404)
		return RISK_FAIL_NONE;
	if (code == 401 || code == 407)
		return RISK_FAIL_CREDENTIALS;
	if (code == 429 || (code == 503 && retry_after))
		return RISK_FAIL_THROTTLED;
	if (code == 408 || code >= 500 || code < 400)
		return RISK_FAIL_DOWN;
	return RISK_FAIL_COMPANY;	/* 400, 410, 422 and other 4xx */
}

static void
result(struct slot *s, CURLcode rc, struct risk_fetch_result *r)
{
	curl_off_t ra = 0;
	long code = 0;

	r->id = s->id;
	r->udata = s->udata;
	r->outcome = RISK_FETCH_RETRY;
	r->fail_class = RISK_FAIL_DOWN;
	r->retry_after_ms = 0;
	r->elapsed_ms = risk_mono_ms() - s->start_ms;
	r->reason[0] = '\0';
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	r->http_status = code;
	if (rc != CURLE_OK || !s->buf)
		s->len = 0;
	r->body = s->buf ? s->buf : "";
	r->body_len = s->len;
	if (s->buf)
		s->buf[s->len] = '\0';
	if (rc != CURLE_OK) {
		fail_reason(s, rc, r);
		/* a body over the cap is this company's answer; the rest
		 * (no connection, timeouts, resets) is the service's */
		if (s->toobig || rc == CURLE_FILESIZE_EXCEEDED)
			r->fail_class = RISK_FAIL_COMPANY;
		return;
	}
	if (code >= 300 && code < 400)
		set_reason(r, "redirect not followed (HTTP %ld)", code);
	else
		set_reason(r, "HTTP %ld", code);
	if ((code == 429 || code == 503) &&
	    curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra > 0)
		r->retry_after_ms = (int64_t)(ra < RETRY_AFTER_MAX_S ? ra
		    : RETRY_AFTER_MAX_S) * 1000;
	r->fail_class = classify(code, r->retry_after_ms > 0);
	if (code == 200)
		r->outcome = RISK_FETCH_OK;
	else if (code == 404)
		r->outcome = RISK_FETCH_NOT_FOUND;
}

/* Report a slot that left the multi handle, and free it. */
static void
report(struct risk_fetcher *f, struct slot *s,
    const struct risk_fetch_result *r, risk_fetch_cb cb, void *arg)
{
	s->state = DONE;
	f->busy--;
	if (cb)
		cb(r, arg);
	s->state = FREE;
	f->nfree++;
}

static int
drain(struct risk_fetcher *f, risk_fetch_cb cb, void *arg)
{
	struct risk_fetch_result r;
	struct slot *s;
	CURLMsg *m;
	CURLcode rc;
	CURL *e;
	int left, n = 0;

	while ((m = curl_multi_info_read(f->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		rc = m->data.result;
		s = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
		curl_multi_remove_handle(f->multi, e);
		if (!s || s->state != BUSY)
			continue;
		result(s, rc, &r);
		report(f, s, &r, cb, arg);
		n++;
	}
	return n;
}

int
risk_fetcher_run(struct risk_fetcher *f, int wait_ms, risk_fetch_cb cb,
    void *arg, char *err)
{
	CURLMcode mc;
	int running, n;

	if (f->busy == 0)
		return 0;
	if ((mc = curl_multi_perform(f->multi, &running)) != CURLM_OK)
		goto fail;
	if ((n = drain(f, cb, arg)) > 0 || wait_ms <= 0 || f->busy == 0)
		return n;
	if ((mc = curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL))
	    != CURLM_OK)
		goto fail;
	if ((mc = curl_multi_perform(f->multi, &running)) != CURLM_OK)
		goto fail;
	return drain(f, cb, arg);
fail:
	return risk_seterr(err, mc == CURLM_OUT_OF_MEMORY ? RISK_ENOMEM
	    : RISK_EIO, "curl: %s", curl_multi_strerror(mc));
}

void
risk_fetcher_abort(struct risk_fetcher *f, risk_fetch_cb cb, void *arg)
{
	struct risk_fetch_result r;
	struct slot *s;
	int i;

	for (i = 0; i < f->nslot; i++) {
		s = &f->slot[i];
		if (s->state != BUSY)
			continue;
		curl_multi_remove_handle(f->multi, s->easy);
		memset(&r, 0, sizeof r);
		r.id = s->id;
		r.udata = s->udata;
		r.outcome = RISK_FETCH_ABORTED;
		r.fail_class = RISK_FAIL_NONE;
		r.body = "";
		r.elapsed_ms = risk_mono_ms() - s->start_ms;
		set_reason(&r, "aborted");
		report(f, s, &r, cb, arg);
	}
}

void
risk_fetcher_free(struct risk_fetcher *f)
{
	int i;

	if (!f)
		return;
	if (f->slot) {
		risk_fetcher_abort(f, NULL, NULL);
		for (i = 0; i < f->nslot; i++) {
			if (f->slot[i].easy)
				curl_easy_cleanup(f->slot[i].easy);
			free(f->slot[i].buf);
		}
	}
	if (f->multi)
		curl_multi_cleanup(f->multi);
	free_headers(f->headers);
	forget_keypass(f);
	free(f->slot);
	free(f->netrc);
	free(f->url);
	free(f->tmpl);
	free(f);
}

/*
 * fuzz_map.c — a legacy body (or a dump line) to a record.
 *
 * The body goes through the default mapping (in C) and a fixed user jq
 * filter; the same bytes also go through risk__map_line() as a line of a
 * dump.  Promises checked: a mapping that succeeds gives a non-empty
 * status that fits, a change date from 1970 to 9999, and for a dump
 * line a valid ID; a mapping that fails says why.
 */
#include <string.h>

#include "fuzz.h"
#include "internal.h"

#define SEC_MAX INT64_C(253402300799)
#define USER_FILTER \
    "if type == \"object\" then {status: ((.status // .state // \"x\")" \
    " | tostring | .[0:40]), changedAt: (.changedAt // .date)}" \
    " else {status: (tojson | .[0:40])} end"

static void
check_rec(int r, const struct risk_record *rec, const char *err)
{
	if (r == RISK_OK) {
		CHECK(rec->found);
		CHECK(memchr(rec->status, '\0', sizeof rec->status) != NULL);
		CHECK(rec->status[0] != '\0');
		CHECK(risk_text_printable(rec->status, strlen(rec->status)));
		CHECK(rec->changed_at >= 0 && rec->changed_at <= SEC_MAX);
	} else {
		CHECK(r < 0);
		CHECK(memchr(err, '\0', RISK_ERRLEN) != NULL);
		CHECK(err[0] != '\0');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct risk__map *def, *user;
	struct risk_record rec;
	char err[RISK_ERRLEN];
	char *body;
	int r;

	if (def == NULL && (risk__map_new(&def, NULL, err) != RISK_OK ||
	    risk__map_new(&user, USER_FILTER, err) != RISK_OK)) {
		fprintf(stderr, "fuzz_map: %s\n", err);
		abort();
	}
	/* exactly size bytes: a read past the body is caught */
	if ((body = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(body, data, size);

	memset(&rec, 0, sizeof rec);
	memset(err, 0, sizeof err);
	r = risk__map_apply(def, body, size, &rec, err);
	check_rec(r, &rec, err);

	memset(&rec, 0, sizeof rec);
	memset(err, 0, sizeof err);
	r = risk__map_apply(user, body, size, &rec, err);
	check_rec(r, &rec, err);

	memset(&rec, 0, sizeof rec);
	memset(err, 0, sizeof err);
	r = risk__map_line(def, body, size, "id", &rec, err);
	check_rec(r, &rec, err);
	if (r == RISK_OK)
		CHECK(risk_id_valid(rec.id, strlen(rec.id)));
	free(body);
	return 0;
}

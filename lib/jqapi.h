/*
 * jqapi.h — libjq, opened with dlopen on first use (jq.c), for the files
 * that work in jv: json.c (filters) and map.c (bodies to records).
 *
 * Loading libjq and libonig costs every process about a millisecond,
 * most of risk-get's budget for one answer, so nothing links it: the
 * names below call through pointers that risk__jq_load() fills.  Call it
 * (it is cheap after the first time) before any jq_* or jv_* call.
 * Nothing that prints a line without a user's filter needs it (print.c).
 *
 * Ownership follows jv.h: every jv_* call consumes its arguments except
 * jv_copy; jq_start consumes its input; every result of jq_next is freed,
 * the final invalid one too.
 */
#ifndef RISK_JQAPI_H
#define RISK_JQAPI_H

#include <jq.h>

#include "internal.h"

/* Every libjq function the library uses. */
#define RISK_JQ_API(X) \
	X(jq_compile) X(jq_init) X(jq_next) X(jq_set_error_cb) X(jq_start) \
	X(jq_teardown) X(jv_array) X(jv_array_append) X(jv_array_get) \
	X(jv_array_length) X(jv_bool) X(jv_copy) X(jv_dump_string) \
	X(jv_dumpf) X(jv_false) X(jv_free) X(jv_get_kind) \
	X(jv_invalid_get_msg) X(jv_invalid_has_msg) X(jv_null) X(jv_number) \
	X(jv_number_value) X(jv_object) X(jv_object_get) X(jv_object_has) \
	X(jv_object_set) X(jv_parse_sized) X(jv_string) X(jv_string_sized) \
	X(jv_string_length_bytes) X(jv_string_value) X(jv_true)

struct risk__jq {
#define RISK_JQ_DECL(f) __typeof__(f) *p_##f;
	RISK_JQ_API(RISK_JQ_DECL)
#undef RISK_JQ_DECL
};
extern struct risk__jq risk__jq;

/* Open libjq once; RISK_OK, or RISK_EJQ and why it cannot be had. */
int risk__jq_load(char *err);

#define jq_compile (*risk__jq.p_jq_compile)
#define jq_init (*risk__jq.p_jq_init)
#define jq_next (*risk__jq.p_jq_next)
#define jq_set_error_cb (*risk__jq.p_jq_set_error_cb)
#define jq_start (*risk__jq.p_jq_start)
#define jq_teardown (*risk__jq.p_jq_teardown)
#define jv_array (*risk__jq.p_jv_array)
#define jv_array_append (*risk__jq.p_jv_array_append)
#define jv_array_get (*risk__jq.p_jv_array_get)
#define jv_array_length (*risk__jq.p_jv_array_length)
#define jv_bool (*risk__jq.p_jv_bool)
#define jv_copy (*risk__jq.p_jv_copy)
#define jv_dump_string (*risk__jq.p_jv_dump_string)
#define jv_dumpf (*risk__jq.p_jv_dumpf)
#define jv_false (*risk__jq.p_jv_false)
#define jv_free (*risk__jq.p_jv_free)
#define jv_get_kind (*risk__jq.p_jv_get_kind)
#define jv_invalid_get_msg (*risk__jq.p_jv_invalid_get_msg)
#define jv_invalid_has_msg (*risk__jq.p_jv_invalid_has_msg)
#define jv_null (*risk__jq.p_jv_null)
#define jv_number (*risk__jq.p_jv_number)
#define jv_number_value (*risk__jq.p_jv_number_value)
#define jv_object (*risk__jq.p_jv_object)
#define jv_object_get (*risk__jq.p_jv_object_get)
#define jv_object_has (*risk__jq.p_jv_object_has)
#define jv_object_set (*risk__jq.p_jv_object_set)
#define jv_parse_sized (*risk__jq.p_jv_parse_sized)
#define jv_string (*risk__jq.p_jv_string)
#define jv_string_length_bytes (*risk__jq.p_jv_string_length_bytes)
#define jv_string_sized (*risk__jq.p_jv_string_sized)
#define jv_string_value (*risk__jq.p_jv_string_value)
#define jv_true (*risk__jq.p_jv_true)
#undef jv_is_valid
#define jv_is_valid(x) (jv_get_kind(x) != JV_KIND_INVALID)

/* ---- json.c: what map.c shares of the filter machinery ---------------- */

struct risk_filter {
	jq_state *jq;
	char msg[RISK_ERRLEN];	/* first error libjq reported */
};
/* jq_next with an empty environment (jq 1.6's env reads environ). */
jv risk__filter_next(jq_state *jq);
/* The message of an invalid jv (consumed) into err: one line, no body. */
int risk__jv_invalid(jv v, const char *what, char *err);

#endif

/*
 * idset.c — a set of company IDs (a watch list), for filtering a feed
 * of millions of rows by a list of a hundred thousand companies.
 *
 * Invariants:
 * - Open addressing with linear probing over a power-of-two table kept
 *   at most half full; a probe is one hash and, usually, one strcmp.
 * - The IDs live in one growing arena; the table holds their offsets
 *   plus one (0: empty), so a set of 100,000 IDs takes about 3 MiB.
 * - Bounded: at most IDSET_MAX IDs; more is RISK_EFULL.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define IDSET_MAX (16 * 1024 * 1024)

struct risk_idset {
	uint32_t *slot;		/* arena offset + 1, or 0 */
	size_t mask;		/* table size - 1 */
	size_t n;
	char *arena;
	size_t used, cap;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

int
risk_idset_new(struct risk_idset **sp, char *err)
{
	struct risk_idset *s;

	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->slot = calloc(64, sizeof *s->slot)) == NULL) {
		free(s);
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	}
	s->mask = 63;
	*sp = s;
	return RISK_OK;
}

void
risk_idset_free(struct risk_idset *s)
{
	if (s == NULL)
		return;
	free(s->slot);
	free(s->arena);
	free(s);
}

size_t
risk_idset_count(const struct risk_idset *s)
{
	return s->n;
}

static size_t
find(const struct risk_idset *s, const char *id)
{
	size_t i = (size_t)hash(id) & s->mask;

	while (s->slot[i] != 0 && strcmp(s->arena + s->slot[i] - 1, id) != 0)
		i = (i + 1) & s->mask;
	return i;
}

bool
risk_idset_has(const struct risk_idset *s, const char *id)
{
	return s->slot[find(s, id)] != 0;
}

static int
grow(struct risk_idset *s, char *err)
{
	uint32_t *old = s->slot, *nw;
	size_t oldsz = s->mask + 1, i, j, mask = oldsz * 2 - 1;

	if ((nw = calloc(oldsz * 2, sizeof *nw)) == NULL)
		return risk_seterr(err, RISK_ENOMEM, "out of memory");
	for (i = 0; i < oldsz; i++) {
		if (old[i] == 0)
			continue;
		j = (size_t)hash(s->arena + old[i] - 1) & mask;
		while (nw[j] != 0)
			j = (j + 1) & mask;
		nw[j] = old[i];
	}
	s->slot = nw;
	s->mask = mask;
	free(old);
	return RISK_OK;
}

int
risk_idset_add(struct risk_idset *s, const char *id, char *err)
{
	size_t len = strlen(id), i, cap;
	char *a;
	int r;

	if (!risk_id_valid(id, len))
		return risk_seterr(err, RISK_EINVAL, "%s: invalid company id",
		    id);
	i = find(s, id);
	if (s->slot[i] != 0)
		return RISK_OK;		/* already there */
	if (s->n >= IDSET_MAX)
		return risk_seterr(err, RISK_EFULL, "more than %d IDs",
		    IDSET_MAX);
	if (s->used + len + 1 > s->cap) {
		cap = s->cap > 0 ? s->cap * 2 : 4096;
		while (cap < s->used + len + 1)
			cap *= 2;
		if ((a = realloc(s->arena, cap)) == NULL)
			return risk_seterr(err, RISK_ENOMEM, "out of memory");
		s->arena = a;
		s->cap = cap;
	}
	memcpy(s->arena + s->used, id, len + 1);
	s->slot[i] = (uint32_t)s->used + 1;
	s->used += len + 1;
	s->n++;
	if (s->n * 2 > s->mask + 1 && (r = grow(s, err)) != RISK_OK)
		return r;
	return RISK_OK;
}

char *
risk__idset_json(const struct risk_idset *s)
{
	char *out, *p;
	size_t off;

	/* IDs are validated: none needs escaping */
	if ((out = malloc(s->used + 2 * s->n + 3)) == NULL)
		return NULL;
	p = out;
	*p++ = '[';
	for (off = 0; off < s->used; off += strlen(s->arena + off) + 1) {
		if (p > out + 1)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, s->arena + off, strlen(s->arena + off));
		p += strlen(s->arena + off);
		*p++ = '"';
	}
	*p++ = ']';
	*p = '\0';
	return out;
}

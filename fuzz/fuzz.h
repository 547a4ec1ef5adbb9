/*
 * fuzz.h — what the fuzz targets share.
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput() and nothing else that
 * links: libFuzzer drives it under clang (make fuzz), and replay.c drives
 * the same function over the committed corpus and the regressions under
 * the ordinary compiler (make check), so a crash once found stays fixed.
 *
 * A target checks the library's promises as well as memory safety:
 * CHECK() aborts, which both drivers report as a failure.
 */
#ifndef RISK_FUZZ_H
#define RISK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #c); \
		abort(); \
	} \
} while (0)

/* data as a NUL-terminated string (cut at its first NUL); free it */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif

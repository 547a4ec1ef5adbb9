/*
 * replay.c — run a fuzz target over saved inputs, without libFuzzer.
 *
 *   replay-TARGET FILE|DIR ...
 *
 * Built with the ordinary compiler (and the sanitizers under
 * SANITIZE=1) by make check, so every committed seed and every crash
 * that fuzzing once found (fuzz/regressions/TARGET/) is run on every
 * check.  Exit 0 when each input ran; a failed check aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define INPUT_MAX (1024 * 1024)

static int
one(const char *path)
{
	static uint8_t buf[INPUT_MAX];
	uint8_t *copy;
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof buf, fp);
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	/* a copy of exactly n bytes, as libFuzzer passes it */
	if ((copy = malloc(n > 0 ? n : 1)) == NULL)
		abort();
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

int
main(int argc, char *argv[])
{
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int i, bad = 0, n = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) != 0) {
			if (errno == ENOENT)
				continue;	/* no regressions yet */
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			bad = 1;
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			bad |= one(argv[i]) != 0;
			n++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			bad = 1;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof path, "%s/%s", argv[i],
			    de->d_name) >= (int)sizeof path)
				continue;
			bad |= one(path) != 0;
			n++;
		}
		closedir(d);
	}
	printf("replayed %d inputs\n", n);
	return bad ? 2 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Corpus replay driver: a main() for the fuzz targets when they are built
 * without libFuzzer (any compiler), so that `make check` / ctest runs every
 * committed corpus file through the same checks.
 *
 *   replay_<name> PATH...
 *
 * Each PATH is a file or a directory whose regular files (not recursive,
 * names starting with '.' skipped) are run in name order. Each input is read
 * into a heap block of exactly its size so that ASan sees any overread.
 * Exit status: 0 when at least one input ran and none failed to load; a
 * failed check inside the target aborts the process.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path, unsigned long *ran)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0) {
		fprintf(stderr, "replay: %s: cannot seek\n", path);
		fclose(f);
		return -1;
	}
	long end = ftell(f);
	if (end < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: cannot size\n", path);
		fclose(f);
		return -1;
	}
	size_t size = (size_t)end;
	/* malloc(0) may return NULL; an empty input still gets a valid pointer. */
	uint8_t *buf = malloc(size ? size : 1u);
	if (buf == NULL || (size && fread(buf, 1, size, f) != size)) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	(*ran)++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, unsigned long *ran)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **nn = realloc(names, ncap * sizeof(*nn));
			if (nn == NULL) {
				rc = -1;
				break;
			}
			names = nn;
			cap = ncap;
		}
		size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
		names[n] = malloc(len);
		if (names[n] == NULL) {
			rc = -1;
			break;
		}
		snprintf(names[n], len, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    run_file(names[i], ran) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long ran = 0;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
		} else if (S_ISDIR(st.st_mode)) {
			failed |= run_dir(argv[i], &ran) != 0;
		} else {
			failed |= run_file(argv[i], &ran) != 0;
		}
	}
	printf("replay: %lu inputs ran\n", ran);
	if (ran == 0) {
		fprintf(stderr, "replay: no inputs (usage: %s DIR-OR-FILE...)\n", argv[0]);
		return 1;
	}
	return failed ? 1 : 0;
}

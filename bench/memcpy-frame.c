/*
 * vshm-memcpy-frame BYTES: the median time of one memcpy of BYTES between two buffers
 * already faulted in, in nanoseconds. The yardstick bench/viewer.sh holds the viewer's
 * per-frame cost against, measured in the same run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vshm/util.h>

#define RUNS 31

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long long bytes = argc == 2 ? strtoull(argv[1], &end, 10) : 0;
	if (argc != 2 || *end || bytes == 0 || bytes > (1ull << 32)) {
		fprintf(stderr, "usage: vshm-memcpy-frame BYTES (1 .. 4 GiB)\n");
		return 2;
	}
	uint8_t *source = malloc(bytes), *destination = malloc(bytes);
	if (!source || !destination) {
		fprintf(stderr, "vshm-memcpy-frame: cannot allocate 2 x %llu bytes\n", bytes);
		return 1;
	}
	memset(source, 1, bytes);
	memset(destination, 2, bytes);
	uint64_t times[RUNS];
	for (int i = 0; i < RUNS; i++) {
		uint64_t start = vshm_now_ns();
		memcpy(destination, source, bytes);
		times[i] = vshm_now_ns() - start;
		source[i] = destination[bytes - 1 - (unsigned)i]; /* keep the copies observable */
	}
	qsort(times, RUNS, sizeof(times[0]), compare);
	printf("%llu\n", (unsigned long long)times[RUNS / 2]);
	free(source);
	free(destination);
	return 0;
}

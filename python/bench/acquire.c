/*
 * vshm-python-bench-acquire NAME: the C figure the Python benchmark stands next to. A
 * reader attached to stream NAME (whose writer has published one frame and idles) takes
 * and gives back that frame in batches, exactly the loop bench.py times in Python, and
 * prints the median over the batches of the time of one acquire+release, in ns.
 */
#include <stdio.h>
#include <stdlib.h>

#include <vshm/vshm.h>

#define WARM_UP_PAIRS 20000
#define BATCH_PAIRS   10000
#define BATCHES       21

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Returns false if a pair failed: nothing may, the frame never changes. */
static bool pairs(struct vshm_reader *reader, unsigned count)
{
	bool ok = true;
	for (unsigned i = 0; i < count; i++) {
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0 || vshm_reader_release(reader) != 1)
			ok = false;
	}
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vshm-python-bench-acquire NAME\n");
		return 2;
	}
	struct vshm_reader *reader = vshm_reader_attach(argv[1], NULL);
	if (!reader) {
		fprintf(stderr, "vshm-python-bench-acquire: %s\n", vshm_error());
		return 1;
	}
	bool ok = pairs(reader, WARM_UP_PAIRS);
	double per_pair[BATCHES];
	for (unsigned batch = 0; batch < BATCHES; batch++) {
		uint64_t start = vshm_now_ns();
		ok = pairs(reader, BATCH_PAIRS) && ok;
		per_pair[batch] = (double)(vshm_now_ns() - start) / BATCH_PAIRS;
	}
	vshm_reader_detach(reader);
	if (!ok) {
		fprintf(stderr,
		        "vshm-python-bench-acquire: a pair failed on an unchanging frame\n");
		return 1;
	}
	qsort(per_pair, BATCHES, sizeof(per_pair[0]), compare);
	printf("%.1f\n", per_pair[BATCHES / 2]);
	return 0;
}

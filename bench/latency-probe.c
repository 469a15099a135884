/*
 * vshm-latency-probe NAME FRAMES: a reader that sleeps on the stream's futex, takes
 * each new frame, and records how long after its capture time it saw it (the capture
 * time travels unchanged through filters, so this is the whole chain's latency), and
 * how long after the last stage published it (the last hop alone: the rest of the
 * chain's latency is before that publish). Prints "frames p50_us p99_us hop_p50_us" on
 * standard output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <vshm/vshm.h>

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long count = argc == 3 ? strtoul(argv[2], &end, 10) : 0;
	if (argc != 3 || *end || count == 0 || count > 100000) {
		fprintf(stderr, "usage: vshm-latency-probe NAME FRAMES (1..100000)\n");
		return 2;
	}
	/* The stream's writer may still be starting: wait for it up to 10 s. */
	struct vshm_reader *reader = vshm_reader_attach_wait(argv[1], NULL, 10000, NULL, NULL);
	if (!reader) {
		fprintf(stderr, "vshm-latency-probe: cannot attach to '%s': %s\n", argv[1],
		        vshm_error());
		return 1;
	}
	uint64_t *latencies = calloc(count, sizeof(*latencies));
	uint64_t *hops = calloc(count, sizeof(*hops));
	if (!latencies || !hops) {
		fprintf(stderr, "vshm-latency-probe: out of memory\n");
		return 1;
	}
	unsigned long seen = 0;
	bool first = true;
	while (seen < count) {
		int result = vshm_reader_wait(reader, 5000);
		if (result == -ESTALE) {
			vshm_reader_reattach(reader);
			continue;
		}
		if (result < 0) {
			fprintf(stderr, "vshm-latency-probe: '%s': no frame for 5 s (%d)\n",
			        argv[1], result);
			return 1;
		}
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			continue;
		uint64_t now = vshm_now_ns();
		if (vshm_reader_release(reader) == 1 && !first && now > frame.capture_ns &&
		    now >= frame.publish_ns) {
			hops[seen] = now - frame.publish_ns;
			latencies[seen++] = now - frame.capture_ns;
		}
		first = false; /* the frame waiting at attach time is old: not a latency */
	}
	qsort(latencies, count, sizeof(*latencies), compare);
	qsort(hops, count, sizeof(*hops), compare);
	printf("%lu %.1f %.1f %.1f\n", count, latencies[count / 2] / 1e3,
	       latencies[count * 99 / 100] / 1e3, hops[count / 2] / 1e3);
	vshm_reader_detach(reader);
	free(latencies);
	free(hops);
	return 0;
}

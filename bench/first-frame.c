/*
 * Time to the first frame: vshm_writer_create() (which allocates and prefaults every
 * slot, so that no frame pays for page faults later) plus begin, one memcpy and
 * publish of the first frame. For comparison, the same memcpy into a fresh shared
 * mapping that nobody has touched yet: what each frame would cost on its first pass
 * through an unfaulted slot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

static int create_and_publish(const struct bench_frame_size *size, const uint8_t *source,
                              uint64_t frame_bytes, double *create_ms, double *first_frame_ms)
{
	char name[VSHM_NAME_MAX + 1];
	bench_stream_name(name, sizeof(name), "first-frame");
	struct vshm_writer_options options = {
		.max_format = size->format,
		.max_width = size->width,
		.max_height = size->height,
	};
	uint64_t start = vshm_now_ns();
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	if (!writer) {
		fprintf(stderr, "vshm-bench: cannot create stream '%s': %s\n", name, vshm_error());
		return -EIO;
	}
	uint64_t created = vshm_now_ns();
	struct vshm_frame frame;
	if (vshm_writer_begin(writer, size->format, size->width, size->height, &frame) < 0) {
		fprintf(stderr, "vshm-bench: cannot begin a frame on stream '%s': %s\n", name,
		        vshm_error());
		vshm_writer_destroy(writer);
		return -EIO;
	}
	memcpy(frame.plane[0], source, frame_bytes);
	vshm_writer_publish(writer, &frame);
	uint64_t published = vshm_now_ns();
	vshm_writer_destroy(writer);
	*create_ms = (double)(created - start) / 1e6;
	*first_frame_ms = (double)(published - start) / 1e6;
	return 0;
}

static int unfaulted_copy(const uint8_t *source, uint64_t frame_bytes, double *copy_ms)
{
	uint8_t *fresh =
	    mmap(NULL, frame_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED) {
		fprintf(stderr, "vshm-bench: cannot map %llu bytes: %s\n",
		        (unsigned long long)frame_bytes, strerror(errno));
		return -ENOMEM;
	}
	uint64_t start = vshm_now_ns();
	memcpy(fresh, source, frame_bytes);
	*copy_ms = (double)(vshm_now_ns() - start) / 1e6;
	munmap(fresh, frame_bytes);
	return 0;
}

int bench_first_frame(const struct bench_frame_size *size, struct bench_first_frame *result)
{
	uint64_t frame_bytes = bench_frame_bytes(size);
	uint8_t *source = mmap(NULL, frame_bytes, PROT_READ | PROT_WRITE,
	                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (source == MAP_FAILED) {
		fprintf(stderr, "vshm-bench: cannot map a %s source frame: %s\n", size->label,
		        strerror(errno));
		return -ENOMEM;
	}
	memset(source, 0x5a, frame_bytes);

	double create_ms[BENCH_RUNS], first_frame_ms[BENCH_RUNS], copy_ms[BENCH_RUNS];
	int error = 0;
	for (int run = 0; run < BENCH_RUNS && !error; run++) {
		error = create_and_publish(size, source, frame_bytes, &create_ms[run],
		                           &first_frame_ms[run]);
		if (!error)
			error = unfaulted_copy(source, frame_bytes, &copy_ms[run]);
		if (!error && bench_stopping())
			error = -EINTR;
	}
	munmap(source, frame_bytes);
	if (error)
		return error;
	result->first_run_ms = first_frame_ms[0];
	result->create_ms = bench_median(create_ms, BENCH_RUNS);
	result->first_frame_ms = bench_median(first_frame_ms, BENCH_RUNS);
	result->unfaulted_copy_ms = bench_median(copy_ms, BENCH_RUNS);
	return 0;
}

/*
 * What a reader pays to take a frame and give it back: vshm_reader_acquire() followed
 * by vshm_reader_release(), in a loop in a reader process, while the writer (this
 * process) has published one frame on each of two streams and waits. Nothing is copied,
 * so the cost must not depend on the frame's size: the reader is attached to a stream
 * of small frames and one of large frames and alternates short batches between them,
 * so that both sizes are measured at the same moments of a noisy machine.
 * One call is one run: fresh streams and a fresh reader process.
 */
#include <errno.h>
#include <stdio.h>

#include "bench.h"

#define BATCH_PAIRS      10000
#define BATCHES          10
#define WARM_UP_PAIRS    20000
#define CHILD_TIMEOUT_MS 10000

struct acquire_shared {
	char names[2][VSHM_NAME_MAX + 1];
	uint64_t elapsed_ns[2];
	uint64_t failures; /* acquires that failed or releases that found the frame torn */
	bool done;
};

/* Returns false if a pair failed (nothing may fail here: the frames never change). */
static bool pairs(struct vshm_reader *reader, uint32_t count)
{
	bool ok = true;
	for (uint32_t i = 0; i < count; i++) {
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			ok = false;
		else if (vshm_reader_release(reader) != 1)
			ok = false;
	}
	return ok;
}

static int acquire_reader(void *argument)
{
	struct acquire_shared *shared = argument;
	struct vshm_reader *readers[2] = { NULL, NULL };
	int status = 1;
	for (int i = 0; i < 2; i++) {
		readers[i] = vshm_reader_attach(shared->names[i], NULL);
		if (!readers[i]) {
			fprintf(stderr, "vshm-bench: cannot attach to stream '%s': %s\n",
			        shared->names[i], vshm_error());
			goto out;
		}
		if (!pairs(readers[i], WARM_UP_PAIRS))
			shared->failures++;
	}
	for (int batch = 0; batch < BATCHES && !bench_stopping(); batch++) {
		for (int i = 0; i < 2; i++) {
			uint64_t start = vshm_now_ns();
			if (!pairs(readers[i], BATCH_PAIRS))
				shared->failures++;
			shared->elapsed_ns[i] += vshm_now_ns() - start;
		}
	}
	shared->done = !bench_stopping();
	status = 0;
out:
	vshm_reader_detach(readers[1]);
	vshm_reader_detach(readers[0]);
	return status;
}

static struct vshm_writer *publish_one(const char *name, const struct bench_frame_size *size)
{
	struct vshm_writer_options options = {
		.max_format = size->format,
		.max_width = size->width,
		.max_height = size->height,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	struct vshm_frame frame;
	if (!writer ||
	    vshm_writer_begin(writer, size->format, size->width, size->height, &frame) < 0 ||
	    vshm_writer_publish(writer, &frame) < 0) {
		fprintf(stderr, "vshm-bench: cannot publish a %s frame on stream '%s': %s\n",
		        size->label, name, vshm_error());
		vshm_writer_destroy(writer);
		return NULL;
	}
	return writer;
}

int bench_acquire_release(const struct bench_frame_size *small,
                          const struct bench_frame_size *large, double *small_ns, double *large_ns)
{
	struct acquire_shared *shared = bench_shared_alloc(sizeof(*shared));
	if (!shared)
		return -ENOMEM;
	bench_stream_name(shared->names[0], sizeof(shared->names[0]), "acquire-small");
	bench_stream_name(shared->names[1], sizeof(shared->names[1]), "acquire-large");
	int result = 0;
	struct vshm_writer *writers[2] = { publish_one(shared->names[0], small),
		                           publish_one(shared->names[1], large) };
	if (!writers[0] || !writers[1]) {
		result = -EIO;
		goto error_destroy;
	}
	pid_t child = bench_spawn(acquire_reader, shared);
	if (child < 0) {
		result = child;
		goto error_destroy;
	}
	/* The writers have nothing to do while the reader measures; reaping is the wait. */
	result = bench_reap(child, CHILD_TIMEOUT_MS);
	if (result == 0 && !shared->done)
		result = -EINTR;
	if (result == 0 && shared->failures) {
		fprintf(stderr,
		        "vshm-bench: %llu acquire+release batches failed on an unchanging "
		        "frame\n",
		        (unsigned long long)shared->failures);
		result = -EPROTO;
	}
	if (result == 0) {
		*small_ns = (double)shared->elapsed_ns[0] / (BATCHES * BATCH_PAIRS);
		*large_ns = (double)shared->elapsed_ns[1] / (BATCHES * BATCH_PAIRS);
	}

error_destroy:
	vshm_writer_destroy(writers[1]);
	vshm_writer_destroy(writers[0]);
	bench_shared_free(shared, sizeof(*shared));
	return result;
}

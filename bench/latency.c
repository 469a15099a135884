/*
 * Publish-to-observe latency: the writer (this process) publishes a frame; a reader in
 * another process notes vshm_now_ns() as soon as vshm_reader_acquire() has handed it
 * the frame, and records that minus the frame's publish_ns (stamped by
 * vshm_writer_publish() on the same CLOCK_MONOTONIC, before it makes the frame visible).
 * The writer waits until the reader has seen each frame, then lets an interval pass
 * before the next, so every sample is one frame meeting an idle reader, not a queue.
 *
 * Two readers, as programs use vshm:
 *   spinning  spins on vshm_reader_poll(), then acquires;
 *   sleeping  sleeps in vshm_reader_wait(), then acquires.
 * Writer and reader are pinned to different CPUs, as the two sides of the ping-pongs
 * are, so that a wake-up always crosses CPUs in both the limit and the figure.
 * One call is one run: a fresh stream and reader, a warm-up, then the samples.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>

#include "bench.h"

#define SPINNING_SAMPLES_PER_RUN 5000
#define SPINNING_WARM_UP         500
#define SLEEPING_SAMPLES_PER_RUN 500
#define SLEEPING_WARM_UP         50
/* Far longer than any frame takes, even on a machine so busy that a process pinned to
 * one CPU waits seconds for it: only a reader that is gone takes this long. */
#define OBSERVE_TIMEOUT_NS 10000000000u
#define CHILD_TIMEOUT_MS   5000

/*
 * Time between an observed frame and the next publish. Spinning: enough for the reader
 * to be back in its polling loop. Sleeping: enough for the reader to be asleep in the
 * futex again (it needs a few microseconds), and of the order of the futex ping-pong's
 * own round trip, so that the reader's CPU has been idle about as long in both.
 */
#define SPINNING_INTERVAL_NS 5000u
#define SLEEPING_INTERVAL_NS 50000u

struct latency_shared {
	/* Publish number of the last frame the reader recorded. */
	alignas(64) _Atomic uint64_t observed;
	alignas(64) _Atomic uint64_t reader_ready;
	_Atomic uint32_t stop;
	enum bench_reader_style style;
	uint32_t capacity;
	uint32_t count;
	uint64_t torn;
	char name[VSHM_NAME_MAX + 1];
	double samples[]; /* nanoseconds from publish_ns to observation */
};

uint64_t bench_latency_interval_ns(enum bench_reader_style style)
{
	return style == BENCH_READER_SPINNING ? SPINNING_INTERVAL_NS : SLEEPING_INTERVAL_NS;
}

static bool reader_should_stop(const struct latency_shared *shared)
{
	return atomic_load_explicit(&shared->stop, memory_order_relaxed) || bench_stopping();
}

static int latency_reader(void *argument)
{
	struct latency_shared *shared = argument;
	bool spinning = shared->style == BENCH_READER_SPINNING;
	bench_pin(1);
	struct vshm_reader *reader = vshm_reader_attach(shared->name, NULL);
	if (!reader) {
		fprintf(stderr, "vshm-bench: cannot attach to stream '%s': %s\n", shared->name,
		        vshm_error());
		return 1;
	}
	atomic_store_explicit(&shared->reader_ready, 1, memory_order_release);
	uint64_t last = 0;
	unsigned spins = 0;
	while (shared->count < shared->capacity) {
		if (!spinning) {
			int result = vshm_reader_wait(reader, 100);
			if (result == -ETIMEDOUT || result == -EINTR) {
				if (reader_should_stop(shared))
					break;
				continue;
			}
			if (result < 0)
				break; /* the writer is gone: the measurement is over */
		}
		struct vshm_frame frame;
		/* A spinning reader polls, as the library asks, and acquires once there is
		 * something newer. */
		if ((!spinning || vshm_reader_poll(reader)) &&
		    vshm_reader_acquire(reader, &frame) == 0) {
			if (frame.sequence != last) {
				uint64_t observed = vshm_now_ns();
				if (vshm_reader_release(reader) != 1)
					shared->torn++;
				shared->samples[shared->count++] =
				    (double)(int64_t)(observed - frame.publish_ns);
				last = frame.sequence;
				/* Pairs with the writer's acquire load in bench_spin_until(). */
				atomic_store_explicit(&shared->observed, last,
				                      memory_order_release);
				continue;
			}
			vshm_reader_release(reader);
		}
		bench_cpu_relax();
		if (++spins % 4096 == 0 && reader_should_stop(shared))
			break;
	}
	vshm_reader_detach(reader);
	return 0;
}

int bench_publish_latency(enum bench_reader_style style, struct bench_latency *latency,
                          struct bench_samples *samples)
{
	bool spinning = style == BENCH_READER_SPINNING;
	uint32_t per_run = spinning ? SPINNING_SAMPLES_PER_RUN : SLEEPING_SAMPLES_PER_RUN;
	uint32_t warm_up = spinning ? SPINNING_WARM_UP : SLEEPING_WARM_UP;
	uint32_t total = warm_up + per_run;
	size_t shared_size = sizeof(struct latency_shared) + total * sizeof(double);
	struct latency_shared *shared = bench_shared_alloc(shared_size);
	if (!shared)
		return -ENOMEM;
	shared->style = style;
	shared->capacity = total;
	bench_stream_name(shared->name, sizeof(shared->name),
	                  spinning ? "latency-spinning" : "latency-sleeping");

	int result = 0;
	const struct bench_frame_size *size = &bench_frame_64_bytes;
	struct vshm_writer_options options = {
		.max_format = size->format,
		.max_width = size->width,
		.max_height = size->height,
	};
	struct vshm_writer *writer = vshm_writer_create(shared->name, &options);
	if (!writer) {
		result = -errno;
		fprintf(stderr, "vshm-bench: cannot create stream '%s': %s\n", shared->name,
		        vshm_error());
		goto error_free;
	}
	bench_pin(0);
	pid_t child = bench_spawn(latency_reader, shared);
	if (child < 0) {
		result = child;
		goto error_destroy;
	}
	if (!bench_spin_until(&shared->reader_ready, 1, OBSERVE_TIMEOUT_NS)) {
		result = bench_stopping() ? -EINTR : -ETIMEDOUT;
		goto error_stop;
	}
	uint64_t interval = bench_latency_interval_ns(style);
	for (uint32_t i = 0; i < total; i++) {
		struct vshm_frame frame;
		int published =
		    vshm_writer_begin(writer, size->format, size->width, size->height, &frame);
		if (published == 0)
			published = vshm_writer_publish(writer, &frame);
		if (published < 0) {
			result = -EIO;
			fprintf(stderr, "vshm-bench: cannot publish on stream '%s': %s\n",
			        shared->name, vshm_error());
			goto error_stop;
		}
		if (!bench_spin_until(&shared->observed, frame.sequence, OBSERVE_TIMEOUT_NS)) {
			result = bench_stopping() ? -EINTR : -ETIMEDOUT;
			goto error_stop;
		}
		bench_spin_for_ns(interval);
	}

error_stop:
	if (result == -ETIMEDOUT)
		fprintf(stderr, "vshm-bench: the reader of stream '%s' stopped answering\n",
		        shared->name);
	atomic_store_explicit(&shared->stop, 1, memory_order_relaxed);
	/* Destroying the stream also wakes a sleeping reader, which then detaches. */
	vshm_writer_destroy(writer);
	writer = NULL;
	if (bench_reap(child, CHILD_TIMEOUT_MS) < 0 && result == 0)
		result = -ECHILD;
	if (result == 0 && shared->count != total)
		result = -EINTR;
	if (result == 0) {
		result = bench_summarise(shared->samples + warm_up, per_run, latency, samples);
		latency->torn = shared->torn;
	}
error_destroy:
	vshm_writer_destroy(writer);
error_free:
	bench_unpin();
	bench_shared_free(shared, shared_size);
	return result;
}

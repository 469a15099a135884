/*
 * Frames per second a writer publishes when each frame costs one memcpy into the slot
 * (begin, memcpy of the whole frame from a private source buffer, publish), with
 * readers attached in other processes.
 *
 * Readers are of one of two kinds:
 *   sleeping  do what a viewer or a filter does between frames: sleep in
 *             vshm_reader_wait(), and on each wake-up acquire the latest frame and
 *             release it;
 *   idle      attach and then do nothing with the stream (a paused viewer): they sleep
 *             on a word of the benchmark's own until the end.
 * And, for the floor of the sleeping figures, a writer with no ring: it copies each
 * frame into one of three buffers of shared memory, bumps a futex word and, when a
 * process sleeps on it (a count, as the ring keeps its sleepers), wakes them with one
 * FUTEX_WAKE; its readers sleep on that word, and count each wake-up.
 * They do not read the pixels, so the figure is the writer's cost of the ring (slot
 * choice, publication, futex wake-ups, the readers' cache traffic on the control words)
 * and not a contest for memory bandwidth between the writer and its readers. Pinned
 * readers all run on the second CPU, so that what they do costs the writer, pinned to
 * the first by its caller, the ring's work and not its CPU.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define READERS_MAX       BENCH_READERS_MAX
#define READY_TIMEOUT_NS  5000000000u
#define WARM_UP_NS        50000000u
#define CHILD_TIMEOUT_MS  5000
#define READER_TIMEOUT_MS 100

struct reader_counter {
	/* One cache line per reader, so counting does not bounce lines between readers. */
	alignas(64) _Atomic uint64_t frames;
};

/* The no-ring writer's word and its sleepers, on a line of their own. */
struct bare_futex {
	alignas(64) _Atomic uint32_t word;
	_Atomic uint32_t sleepers;
};

struct rate_shared {
	alignas(64) _Atomic uint64_t readers_ready;
	_Atomic uint32_t stop; /* also the futex idle readers sleep on */
	enum bench_readers_style style;
	bool pinned;
	char name[VSHM_NAME_MAX + 1];
	unsigned next_reader;
	struct bare_futex bare;
	struct reader_counter counters[READERS_MAX];
};

struct bench_writer_rate {
	const struct bench_frame_size *size;
	uint64_t frame_bytes;
	struct vshm_writer *writer; /* NULL for the no-ring writer */
	uint8_t *bare_frames;       /* its three frames, in shared memory */
	uint64_t bare_published;
	struct rate_shared *shared;
	pid_t readers[READERS_MAX];
	unsigned reader_count;
	/* The slots seen while warming up (where begin put frames), for the memcpy limit. */
	uint8_t *slots[BENCH_SLOTS_MAX];
	unsigned slot_count;
	bool learning_slots;
};

static bool told_to_stop(struct rate_shared *shared)
{
	return atomic_load_explicit(&shared->stop, memory_order_relaxed) || bench_stopping();
}

/* An idle reader: attached, it sleeps until told to stop (woken by the stop word). */
static void idle(struct rate_shared *shared)
{
	while (!told_to_stop(shared)) {
		struct timespec timeout = { 1, 0 };
		syscall(SYS_futex, (uint32_t *)&shared->stop, FUTEX_WAIT, 0, &timeout, NULL, 0);
	}
}

/* A reader of the no-ring writer: asleep on its word, counting each change it wakes to. */
static int bare_reader(struct rate_shared *shared, unsigned index)
{
	struct bare_futex *bare = &shared->bare;
	atomic_fetch_add_explicit(&shared->readers_ready, 1, memory_order_release);
	uint64_t frames = 0;
	uint32_t seen = atomic_load_explicit(&bare->word, memory_order_acquire);
	while (!told_to_stop(shared)) {
		/* Counted before the word is looked at again (both sequentially consistent),
		 * so a writer that bumps it after our look sees us and wakes us. */
		atomic_fetch_add(&bare->sleepers, 1);
		if (atomic_load(&bare->word) == seen) {
			struct timespec timeout = { 0, READER_TIMEOUT_MS * 1000000L };
			syscall(SYS_futex, (uint32_t *)&bare->word, FUTEX_WAIT, seen, &timeout,
			        NULL, 0);
		}
		atomic_fetch_sub(&bare->sleepers, 1);
		uint32_t now = atomic_load_explicit(&bare->word, memory_order_acquire);
		if (now != seen) {
			seen = now;
			atomic_store_explicit(&shared->counters[index].frames, ++frames,
			                      memory_order_relaxed);
		}
	}
	return 0;
}

static int rate_reader(void *argument)
{
	struct rate_shared *shared = argument;
	/* Each child is forked after the previous one took its index. */
	unsigned index = shared->next_reader;
	if (shared->pinned)
		bench_pin(1);
	if (shared->style == BENCH_READERS_BARE_FUTEX)
		return bare_reader(shared, index);
	struct vshm_reader *reader = vshm_reader_attach(shared->name, NULL);
	if (!reader) {
		fprintf(stderr, "vshm-bench: cannot attach to stream '%s': %s\n", shared->name,
		        vshm_error());
		return 1;
	}
	atomic_fetch_add_explicit(&shared->readers_ready, 1, memory_order_release);
	if (shared->style == BENCH_READERS_IDLE) {
		idle(shared);
		vshm_reader_detach(reader);
		return 0;
	}
	uint64_t frames = 0;
	for (;;) {
		int result = vshm_reader_wait(reader, READER_TIMEOUT_MS);
		if (result == 0) {
			struct vshm_frame frame;
			if (vshm_reader_acquire(reader, &frame) == 0) {
				vshm_reader_release(reader);
				atomic_store_explicit(&shared->counters[index].frames, ++frames,
				                      memory_order_relaxed);
			}
			continue;
		}
		if (result != -ETIMEDOUT && result != -EINTR)
			break; /* -EPIPE: the writer destroyed the stream, we are done */
		if (told_to_stop(shared))
			break;
	}
	vshm_reader_detach(reader);
	return 0;
}

static void learn_slot(struct bench_writer_rate *rate, uint8_t *slot)
{
	for (unsigned i = 0; i < rate->slot_count; i++) {
		if (rate->slots[i] == slot)
			return;
	}
	if (rate->slot_count < BENCH_SLOTS_MAX)
		rate->slots[rate->slot_count++] = slot;
}

/* The no-ring writer's frame: the copy, then the word and, if anyone sleeps, the wake-up,
 * timed as the ring's begin and publish are. */
static void publish_bare(struct bench_writer_rate *writer_rate, const uint8_t *source,
                         struct bench_rate *rate)
{
	struct bare_futex *bare = &writer_rate->shared->bare;
	uint64_t frame = writer_rate->bare_published++ % 3;
	memcpy(writer_rate->bare_frames + frame * writer_rate->frame_bytes, source,
	       writer_rate->frame_bytes);
	uint64_t publish_start = vshm_now_ns();
	atomic_fetch_add(&bare->word, 1);
	if (atomic_load(&bare->sleepers) > 0)
		syscall(SYS_futex, (uint32_t *)&bare->word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	rate->frames++;
	rate->ring_ns += vshm_now_ns() - publish_start;
}

static int publish_for(struct bench_writer_rate *writer_rate, const uint8_t *source,
                       uint64_t duration_ns, struct bench_rate *rate)
{
	const struct bench_frame_size *size = writer_rate->size;
	uint64_t start = vshm_now_ns(), now = start;
	if (!writer_rate->writer) {
		do {
			publish_bare(writer_rate, source, rate);
			now = vshm_now_ns();
		} while (now - start < duration_ns);
		rate->elapsed_ns += now - start;
		return bench_stopping() ? -EINTR : 0;
	}
	do {
		/* The time in begin and publish is the ring's own cost, apart from the copy
		 * and from whatever else slows this CPU: two clock reads a frame more,
		 * tens of nanoseconds against the copy's tens of microseconds. */
		uint64_t begin_start = now;
		struct vshm_frame frame;
		int begun = vshm_writer_begin(writer_rate->writer, size->format, size->width,
		                              size->height, &frame);
		uint64_t begin_end = vshm_now_ns();
		if (begun < 0) {
			fprintf(stderr, "vshm-bench: cannot begin a frame on stream '%s': %s\n",
			        writer_rate->shared->name, vshm_error());
			return -EIO;
		}
		if (writer_rate->learning_slots)
			learn_slot(writer_rate, frame.plane[0]);
		/* The planes lie one after another from plane[0]: one copy fills the frame. */
		memcpy(frame.plane[0], source, writer_rate->frame_bytes);
		uint64_t publish_start = vshm_now_ns();
		vshm_writer_publish(writer_rate->writer, &frame);
		rate->frames++;
		now = vshm_now_ns();
		rate->ring_ns += (begin_end - begin_start) + (now - publish_start);
	} while (now - start < duration_ns);
	rate->elapsed_ns += now - start;
	return bench_stopping() ? -EINTR : 0;
}

struct bench_writer_rate *bench_writer_rate_start(const struct bench_frame_size *size,
                                                  const struct bench_readers *readers,
                                                  const char *what, const uint8_t *source)
{
	unsigned reader_count = readers->count;
	if (reader_count > READERS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	struct bench_writer_rate *rate = calloc(1, sizeof(*rate));
	if (!rate)
		return NULL;
	rate->size = size;
	rate->frame_bytes = bench_frame_bytes(size);
	rate->shared = bench_shared_alloc(sizeof(*rate->shared));
	if (!rate->shared)
		goto error_free;
	bench_stream_name(rate->shared->name, sizeof(rate->shared->name), what);
	rate->shared->style = readers->style;
	rate->shared->pinned = readers->pinned;
	struct vshm_writer_options options = {
		.max_format = size->format,
		.max_width = size->width,
		.max_height = size->height,
		/* The default capacity, or more when it would not hold them all. */
		.reader_capacity = reader_count > VSHM_READER_CAPACITY_DEFAULT ? reader_count : 0,
	};
	if (readers->style == BENCH_READERS_BARE_FUTEX) {
		rate->bare_frames = bench_shared_alloc(3 * rate->frame_bytes);
		if (!rate->bare_frames) {
			fprintf(stderr,
			        "vshm-bench: no memory for the futex-only writer's frames\n");
			goto error_shared;
		}
	} else {
		rate->writer = vshm_writer_create(rate->shared->name, &options);
	}
	if (!rate->writer && !rate->bare_frames) {
		fprintf(stderr, "vshm-bench: cannot create stream '%s': %s\n", rate->shared->name,
		        vshm_error());
		goto error_shared;
	}
	for (unsigned i = 0; i < reader_count; i++) {
		rate->shared->next_reader = i;
		pid_t pid = bench_spawn(rate_reader, rate->shared);
		if (pid < 0)
			goto error_stop;
		rate->readers[rate->reader_count++] = pid;
		/* The next child may only be forked once this one has read its index. */
		if (!bench_spin_until(&rate->shared->readers_ready, i + 1, READY_TIMEOUT_NS)) {
			fprintf(stderr, "vshm-bench: reader %u of stream '%s' did not attach\n", i,
			        rate->shared->name);
			goto error_stop;
		}
	}
	/* Let the readers settle into their wait loop and the caches fill. */
	struct bench_rate warm_up = { 0 };
	rate->learning_slots = true;
	if (publish_for(rate, source, WARM_UP_NS, &warm_up) < 0)
		goto error_stop;
	rate->learning_slots = false;
	return rate;

error_stop:
	bench_writer_rate_stop(rate);
	errno = EIO;
	return NULL;
error_shared:
	bench_shared_free(rate->shared, sizeof(*rate->shared));
error_free:
	free(rate);
	errno = EIO;
	return NULL;
}

int bench_writer_rate_run(struct bench_writer_rate *writer_rate, const uint8_t *source,
                          uint64_t duration_ns, struct bench_rate *rate)
{
	return publish_for(writer_rate, source, duration_ns, rate);
}

unsigned bench_writer_rate_slots(const struct bench_writer_rate *rate, uint8_t **slots,
                                 unsigned capacity)
{
	unsigned count = rate->slot_count < capacity ? rate->slot_count : capacity;
	for (unsigned i = 0; i < count; i++)
		slots[i] = rate->slots[i];
	return count;
}

uint64_t bench_writer_rate_frames_read(const struct bench_writer_rate *rate)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < rate->reader_count; i++)
		total +=
		    atomic_load_explicit(&rate->shared->counters[i].frames, memory_order_relaxed);
	return total;
}

int bench_writer_rate_stop(struct bench_writer_rate *rate)
{
	if (!rate)
		return 0;
	int result = 0;
	atomic_store_explicit(&rate->shared->stop, 1, memory_order_relaxed);
	/* Wakes the idle readers and the no-ring writer's; destroying the stream wakes the
	 * sleeping ones, which see it closed. The ring's readers detach. */
	syscall(SYS_futex, (uint32_t *)&rate->shared->stop, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	atomic_fetch_add(&rate->shared->bare.word, 1);
	syscall(SYS_futex, (uint32_t *)&rate->shared->bare.word, FUTEX_WAKE, INT32_MAX, NULL, NULL,
	        0);
	vshm_writer_destroy(rate->writer);
	for (unsigned i = 0; i < rate->reader_count; i++) {
		if (bench_reap(rate->readers[i], CHILD_TIMEOUT_MS) < 0)
			result = -ECHILD;
	}
	if (rate->bare_frames)
		bench_shared_free(rate->bare_frames, 3 * rate->frame_bytes);
	bench_shared_free(rate->shared, sizeof(*rate->shared));
	free(rate);
	return result;
}

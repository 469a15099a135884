/*
 * The vshm benchmark: the machine's limits measured next to vshm's figures, in one run.
 *
 * Each measurement lives in its own file (limits.c, latency.c, writer-rate.c,
 * acquire.c, first-frame.c); frames.c, process.c and stats.c hold what they share;
 * main.c pairs each vshm figure with its limit, run by run, and prints the report.
 * Every figure is measured BENCH_RUNS times and reported as the median, which a noisy
 * 2-CPU virtual machine needs.
 *
 * Functions that can fail return 0 or a negative errno after printing one line on
 * stderr that says what failed; they clean up what they made (streams, children).
 */
#ifndef VSHM_BENCH_H
#define VSHM_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vshm/vshm.h>

#define BENCH_RUNS 11

/* A frame the benchmark moves, with the label the report gives it. */
struct bench_frame_size {
	const char *label;
	uint32_t format;
	uint32_t width;
	uint32_t height;
};

extern const struct bench_frame_size bench_frame_480p_nv12;
extern const struct bench_frame_size bench_frame_720p_nv12;
extern const struct bench_frame_size bench_frame_1080p_nv12;
extern const struct bench_frame_size bench_frame_1080p_rgba;
extern const struct bench_frame_size bench_frame_2160p_nv12;
extern const struct bench_frame_size bench_frame_64_bytes;

/* Bytes of one frame of that size as vshm lays it out (all planes). */
uint64_t bench_frame_bytes(const struct bench_frame_size *size);

/* A frame to copy from, in private memory, faulted in. NULL after printing why. */
uint8_t *bench_frame_source_create(const struct bench_frame_size *size);
void bench_frame_source_free(uint8_t *source, const struct bench_frame_size *size);

/* Frames done in some time, added up over the batches of a run. */
struct bench_rate {
	uint64_t frames;
	uint64_t elapsed_ns;
	uint64_t ring_ns; /* of elapsed_ns, in vshm_writer_begin() and _publish() */
};

static inline double bench_rate_per_second(const struct bench_rate *rate)
{
	return rate->elapsed_ns ? (double)rate->frames * 1e9 / (double)rate->elapsed_ns : 0;
}

/*
 * --- stats.c: spinning, medians ---
 *
 * Every time is taken with vshm_now_ns(), the clock of vshm's own timestamps, so that a
 * limit and the vshm figure beside it are measured with the same call.
 */

/* Busy-waits for the given time; waiting this way keeps the CPU out of idle states. */
void bench_spin_for_ns(uint64_t duration_ns);

/*
 * Spins until *word is at least value. Returns false if timeout_ns passed first or
 * SIGINT/SIGTERM asked the benchmark to stop.
 */
bool bench_spin_until(const _Atomic uint64_t *word, uint64_t value, uint64_t timeout_ns);

/* What a spinning loop does between two looks at shared memory. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* Sorts values in place and returns the median (0 for no values). */
double bench_median(double *values, size_t count);

/* Sorts values in place and returns the nearest-rank percentile (fraction 0..1). */
double bench_percentile(double *values, size_t count, double fraction);

/* Every sample of one figure over all runs, kept for the report's distributions. */
struct bench_samples {
	double *values;
	size_t count;
	size_t capacity;
};

/* Appends count values. Returns 0 or -ENOMEM (then nothing was appended). */
int bench_samples_add(struct bench_samples *samples, const double *values, size_t count);
void bench_samples_free(struct bench_samples *samples);

/* A distribution in brief: its median and 99th percentile. */
struct bench_latency {
	double median_ns;
	double p99_ns;
	uint64_t torn; /* publish latency only: frames found torn at release (expected 0) */
};

/*
 * The median and 99th percentile of count values (left as they are), and, when samples is
 * not NULL, the values appended to it. Returns 0 or -ENOMEM.
 */
int bench_summarise(const double *values, size_t count, struct bench_latency *latency,
                    struct bench_samples *samples);

/* --- process.c: helper processes, shared memory, CPU pinning, stream names --- */

/* Remembers the CPUs we may run on and installs the SIGINT/SIGTERM handlers. */
int bench_process_init(void);

/* True once SIGINT, SIGTERM or SIGHUP asked the benchmark to stop. */
bool bench_stopping(void);

/* Number of CPUs this process may run on. */
int bench_cpu_count(void);

/*
 * Pins the calling process to the index-th CPU it may run on (0 or 1), so that the two
 * sides of a spinning measurement never share a CPU. Does nothing, and returns false,
 * when fewer than two CPUs are available. bench_unpin() restores the original set.
 */
bool bench_pin(unsigned index);
void bench_unpin(void);

/* Zeroed anonymous shared memory, already faulted in, visible to forked children. */
void *bench_shared_alloc(size_t size);
void bench_shared_free(void *memory, size_t size);

/*
 * Forks a child that runs child_main(argument) and exits with its return value. The
 * child is killed if the benchmark dies, so it never outlives it. Returns the pid or
 * a negative errno.
 */
pid_t bench_spawn(int (*child_main)(void *argument), void *argument);

/*
 * Waits up to timeout_ms for pid to exit, then kills it with SIGKILL and reaps it.
 * Returns 0 if it exited with status 0, -ECHILD otherwise (it failed or was killed).
 */
int bench_reap(pid_t pid, int timeout_ms);

/* "bench-<pid>-<what>": the stream name of one measurement. */
void bench_stream_name(char *out, size_t size, const char *what);

/* --- limits.c: what the machine allows --- */

#define BENCH_SLOTS_MAX 64

/*
 * memcpy of whole frames into already-faulted shared memory, in turn into each of the
 * given destinations. main.c gives it the slots of the very ring the writer fills: on a
 * virtual machine two allocations of the same size can differ by 15% in bandwidth (the
 * host backs them differently), so limit and writer must use the same physical pages.
 */
struct bench_memcpy_limit {
	uint64_t frame_bytes;
	uint8_t *slots[BENCH_SLOTS_MAX];
	unsigned slot_count;
	unsigned next_slot;
};

/* Copies frames from source for about duration_ns, adding to *rate. */
void bench_memcpy_limit_run(struct bench_memcpy_limit *limit, const uint8_t *source,
                            uint64_t duration_ns, struct bench_rate *rate);

/*
 * One run of a cache-line ping-pong between two processes: the one-way time of each
 * round trip, summarised in *one_way and appended to samples (which may be NULL).
 */
int bench_cache_line_pingpong(struct bench_latency *one_way, struct bench_samples *samples);

/*
 * One run of a cache line carrying a CLOCK_MONOTONIC timestamp from this process to a
 * spinning one, which subtracts it from its own clock: one-way times, as for the
 * publish latency, clock reads included.
 */
int bench_timestamped_handoff(struct bench_latency *one_way);

/* One run of a futex ping-pong between two processes: one way = round trip / 2. */
int bench_futex_pingpong(struct bench_latency *one_way, struct bench_samples *samples);

/*
 * A futex wake-up, one way, of a process that slept interval_ns between wake-ups (its
 * CPU idle meanwhile), as a filter sleeps between the frames of its input: the time from
 * the waker's clock read just before its store and FUTEX_WAKE to the woken process's
 * clock read. Neither process is pinned.
 */
int bench_futex_wake_after(uint64_t interval_ns, struct bench_latency *one_way);

/* --- pipe.c: the same frames through a pipe, to a reader in another process --- */

struct bench_pipe;

/* Makes the pipe and forks its reader. NULL after printing why. */
struct bench_pipe *bench_pipe_start(const struct bench_frame_size *size);

/* Writes whole frames from source for about duration_ns, adding to *rate. */
int bench_pipe_run(struct bench_pipe *bench_pipe, const uint8_t *source, uint64_t duration_ns,
                   struct bench_rate *rate);

/* Closes the pipe and reaps its reader. Accepts NULL. */
int bench_pipe_stop(struct bench_pipe *bench_pipe);

/* --- latency.c: publish to observe --- */

enum bench_reader_style {
	BENCH_READER_SPINNING, /* polls vshm_reader_poll(), then acquires */
	BENCH_READER_SLEEPING, /* sleeps in vshm_reader_wait() */
};

/*
 * One run: a fresh stream and reader process, a warm-up, then the samples, summarised in
 * *latency and appended to samples (which may be NULL).
 */
int bench_publish_latency(enum bench_reader_style style, struct bench_latency *latency,
                          struct bench_samples *samples);

/* How long the writer waits after a frame was observed before it publishes the next. */
uint64_t bench_latency_interval_ns(enum bench_reader_style style);

/* --- writer-rate.c: frames per second a writer publishes with readers attached --- */

struct bench_writer_rate;

#define BENCH_READERS_MAX 64

enum bench_readers_style {
	BENCH_READERS_SLEEPING, /* vshm_reader_wait(), then acquire and release, each frame */
	BENCH_READERS_IDLE,     /* attached, doing nothing with the stream */
	/* No ring at all: the writer copies each frame into shared memory and wakes, with
	 * one FUTEX_WAKE, processes asleep on a plain futex word. What waking a sleeping
	 * reader costs any design on this machine: the floor of the sleeping figures. */
	BENCH_READERS_BARE_FUTEX,
};

struct bench_readers {
	unsigned count; /* 0 .. BENCH_READERS_MAX */
	enum bench_readers_style style;
	bool pinned; /* all on the second CPU (the caller pins the writer to the first) */
};

/*
 * Creates a stream for frames of that size, forks the readers and waits until all have
 * attached, and publishes frames copied from source for a moment so that everything is
 * warm. Returns NULL after printing why.
 */
struct bench_writer_rate *bench_writer_rate_start(const struct bench_frame_size *size,
                                                  const struct bench_readers *readers,
                                                  const char *what, const uint8_t *source);

/*
 * Publishes frames (begin, one memcpy from source, publish) for about duration_ns,
 * adding to *rate. Returns 0, or a negative errno after printing why.
 */
int bench_writer_rate_run(struct bench_writer_rate *writer_rate, const uint8_t *source,
                          uint64_t duration_ns, struct bench_rate *rate);

/*
 * Where the ring's slots lie in the writer's mapping, as learnt from the frames
 * published while warming up. Returns how many were stored in slots.
 */
unsigned bench_writer_rate_slots(const struct bench_writer_rate *rate, uint8_t **slots,
                                 unsigned capacity);

/* Frames the readers acquired so far, over all of them. */
uint64_t bench_writer_rate_frames_read(const struct bench_writer_rate *rate);

/* Destroys the stream, lets the readers detach and reaps them. Accepts NULL. */
int bench_writer_rate_stop(struct bench_writer_rate *rate);

/* --- acquire.c: what one acquire + release costs a reader --- */

/*
 * One run in a fresh reader process attached to a stream of small frames and one of
 * large frames, alternating batches: nanoseconds per acquire + release pair on each.
 */
int bench_acquire_release(const struct bench_frame_size *small,
                          const struct bench_frame_size *large, double *small_ns, double *large_ns);

/* --- first-frame.c: from nothing to the first published frame --- */

struct bench_first_frame {
	double create_ms;         /* vshm_writer_create(), median */
	double first_frame_ms;    /* create + begin + memcpy + publish, median */
	double first_run_ms;      /* the same, the first time in this process */
	double unfaulted_copy_ms; /* one memcpy of the frame into a fresh, unfaulted mapping */
};

int bench_first_frame(const struct bench_frame_size *size, struct bench_first_frame *result);

#endif

/*
 * The machine's limits, which vshm's figures are compared with:
 *   - memcpy of one frame into already-faulted shared memory (the slots of the ring
 *     the writer fills, in turn, from the same source buffer, with no protocol around
 *     it): no writer can fill a slot faster;
 *   - a cache line bounced between two spinning processes: no spinning reader can see
 *     a store sooner. Each round trip is timed on its own (one way = (round trip - the
 *     cost of one clock read) / 2), so that the median and the 99th percentile compare
 *     with the publish latency's, sample for sample;
 *   - a cache line carrying a CLOCK_MONOTONIC timestamp from one spinning process to
 *     another, timed the way vshm's publish-to-observe latency is (stamp, store; load,
 *     stamp): the same handoff plus what the two clock reads cost;
 *   - a futex ping-pong between two processes: no sleeping reader can be woken sooner,
 *     each round trip timed on its own, one way = round trip / 2;
 *   - a futex wake-up of a process that slept a whole frame interval, as a filter or a
 *     viewer does between the frames of a 60 fps stream: its CPU has gone idle, which
 *     makes the wake-up slower than one between two busy processes.
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

#define CACHE_LINE_ROUND_TRIPS 20000
#define CACHE_LINE_WARM_UP     5000
#define HANDOFF_SAMPLES        5500
#define HANDOFF_WARM_UP        500
#define FUTEX_ROUND_TRIPS      1000
#define FUTEX_WARM_UP          100
#define IDLE_WAKE_SAMPLES      120
#define IDLE_WAKE_WARM_UP      10
#define CHILD_TIMEOUT_MS       5000
/* The longest one round trip may take before we give up on the other side: far longer
 * than any takes, even when a busy machine keeps a pinned process waiting for seconds. */
#define ROUND_TRIP_TIMEOUT_NS 10000000000u
/* Spinning loops look at the clock and the stop flag this often, not on every turn. */
#define SPINS_PER_CHECK 4096

void bench_memcpy_limit_run(struct bench_memcpy_limit *limit, const uint8_t *source,
                            uint64_t duration_ns, struct bench_rate *rate)
{
	uint64_t start = vshm_now_ns(), now;
	do {
		memcpy(limit->slots[limit->next_slot], source, limit->frame_bytes);
		limit->next_slot = (limit->next_slot + 1) % limit->slot_count;
		rate->frames++;
		now = vshm_now_ns();
	} while (now - start < duration_ns);
	rate->elapsed_ns += now - start;
}

/* --- cache-line ping-pong --- */

struct cache_line_shared {
	/* The parent stores 2i - 1, the child answers 2i: one line, bounced each way. */
	alignas(64) _Atomic uint64_t word;
	alignas(64) _Atomic uint64_t child_ready;
	_Atomic uint64_t stop;
	uint64_t total_round_trips;
};

static int cache_line_child(void *argument)
{
	struct cache_line_shared *shared = argument;
	bench_pin(1);
	atomic_store_explicit(&shared->child_ready, 1, memory_order_release);
	for (uint64_t i = 1; i <= shared->total_round_trips; i++) {
		unsigned spins = 0;
		/* Pairs with the parent's release store of the odd value. */
		while (atomic_load_explicit(&shared->word, memory_order_acquire) != 2 * i - 1) {
			bench_cpu_relax();
			if (++spins % SPINS_PER_CHECK == 0 &&
			    (atomic_load_explicit(&shared->stop, memory_order_relaxed) ||
			     bench_stopping()))
				return 1;
		}
		/* Pairs with the parent's acquire load. */
		atomic_store_explicit(&shared->word, 2 * i, memory_order_release);
	}
	return 0;
}

/*
 * Runs round trips first..last; false if the child stopped answering. With times, stores
 * the duration of each round trip (nanoseconds, including one clock read) in it.
 */
static bool cache_line_round_trips(struct cache_line_shared *shared, uint64_t first, uint64_t last,
                                   double *times)
{
	for (uint64_t i = first; i <= last; i++) {
		uint64_t start = times ? vshm_now_ns() : 0;
		atomic_store_explicit(&shared->word, 2 * i - 1, memory_order_release);
		unsigned spins = 0;
		uint64_t deadline = 0;
		while (atomic_load_explicit(&shared->word, memory_order_acquire) != 2 * i) {
			bench_cpu_relax();
			if (++spins % SPINS_PER_CHECK)
				continue;
			uint64_t now = vshm_now_ns();
			if (!deadline)
				deadline = now + ROUND_TRIP_TIMEOUT_NS;
			if (now > deadline || bench_stopping())
				return false;
		}
		if (times)
			times[i - first] = (double)(vshm_now_ns() - start);
	}
	return true;
}

/* What one vshm_now_ns() costs: the median of the gaps between back-to-back calls. */
static double clock_read_ns(void)
{
	double gaps[1001];
	for (int i = 0; i < 1001; i++) {
		uint64_t before = vshm_now_ns();
		gaps[i] = (double)(vshm_now_ns() - before);
	}
	return bench_median(gaps, 1001);
}

int bench_cache_line_pingpong(struct bench_latency *one_way, struct bench_samples *samples)
{
	struct cache_line_shared *shared = bench_shared_alloc(sizeof(*shared));
	double *times = calloc(CACHE_LINE_ROUND_TRIPS, sizeof(*times));
	if (!shared || !times) {
		bench_shared_free(shared, sizeof(*shared));
		free(times);
		return -ENOMEM;
	}
	shared->total_round_trips = CACHE_LINE_WARM_UP + CACHE_LINE_ROUND_TRIPS;
	int result = 0;
	bench_pin(0);
	double clock_ns = clock_read_ns();
	pid_t child = bench_spawn(cache_line_child, shared);
	if (child < 0) {
		result = child;
		goto error_unpin;
	}
	if (!bench_spin_until(&shared->child_ready, 1, ROUND_TRIP_TIMEOUT_NS)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	if (!cache_line_round_trips(shared, 1, CACHE_LINE_WARM_UP, NULL)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	if (!cache_line_round_trips(shared, CACHE_LINE_WARM_UP + 1,
	                            CACHE_LINE_WARM_UP + CACHE_LINE_ROUND_TRIPS, times)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	for (int i = 0; i < CACHE_LINE_ROUND_TRIPS; i++)
		times[i] = (times[i] - clock_ns) / 2;
	result = bench_summarise(times, CACHE_LINE_ROUND_TRIPS, one_way, samples);

error_stop:
	atomic_store_explicit(&shared->stop, 1, memory_order_relaxed);
	if (bench_reap(child, CHILD_TIMEOUT_MS) < 0 && result == 0)
		result = -ECHILD;
	if (result == -ETIMEDOUT && !bench_stopping())
		fprintf(stderr, "vshm-bench: the cache-line ping-pong partner stopped answering\n");
error_unpin:
	bench_unpin();
	bench_shared_free(shared, sizeof(*shared));
	free(times);
	return result;
}

/* --- timestamped cache-line handoff --- */

struct handoff_shared {
	/* The parent stores its clock; the child stamps when it sees it, records, answers. */
	alignas(64) _Atomic uint64_t stamp;
	alignas(64) _Atomic uint64_t answered;
	_Atomic uint64_t child_ready;
	_Atomic uint32_t stop;
	uint32_t count;
	double samples[HANDOFF_SAMPLES];
};

static int handoff_child(void *argument)
{
	struct handoff_shared *shared = argument;
	bench_pin(1);
	atomic_store_explicit(&shared->child_ready, 1, memory_order_release);
	uint64_t last = 0;
	unsigned spins = 0;
	while (shared->count < HANDOFF_SAMPLES) {
		/* Pairs with the parent's release store of the stamp. */
		uint64_t stamp = atomic_load_explicit(&shared->stamp, memory_order_acquire);
		if (stamp == last) {
			bench_cpu_relax();
			if (++spins % SPINS_PER_CHECK == 0 &&
			    (atomic_load_explicit(&shared->stop, memory_order_relaxed) ||
			     bench_stopping()))
				return 1;
			continue;
		}
		uint64_t seen = vshm_now_ns();
		shared->samples[shared->count++] = (double)(seen - stamp);
		last = stamp;
		/* Pairs with the parent's acquire load in bench_spin_until(). */
		atomic_store_explicit(&shared->answered, stamp, memory_order_release);
	}
	return 0;
}

int bench_timestamped_handoff(struct bench_latency *one_way)
{
	struct handoff_shared *shared = bench_shared_alloc(sizeof(*shared));
	if (!shared)
		return -ENOMEM;
	int result = 0;
	bench_pin(0);
	pid_t child = bench_spawn(handoff_child, shared);
	if (child < 0) {
		result = child;
		goto error_unpin;
	}
	if (!bench_spin_until(&shared->child_ready, 1, ROUND_TRIP_TIMEOUT_NS)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	for (int i = 0; i < HANDOFF_SAMPLES; i++) {
		uint64_t stamp = vshm_now_ns();
		atomic_store_explicit(&shared->stamp, stamp, memory_order_release);
		if (!bench_spin_until(&shared->answered, stamp, ROUND_TRIP_TIMEOUT_NS)) {
			result = -ETIMEDOUT;
			goto error_stop;
		}
		/* The same pause between frames as the spinning publish latency takes. */
		bench_spin_for_ns(bench_latency_interval_ns(BENCH_READER_SPINNING));
	}

error_stop:
	atomic_store_explicit(&shared->stop, 1, memory_order_relaxed);
	if (bench_reap(child, CHILD_TIMEOUT_MS) < 0 && result == 0)
		result = -ECHILD;
	if (result == -ETIMEDOUT && !bench_stopping())
		fprintf(stderr, "vshm-bench: the timestamped handoff partner stopped answering\n");
	if (result == 0)
		result = bench_summarise(shared->samples + HANDOFF_WARM_UP,
		                         HANDOFF_SAMPLES - HANDOFF_WARM_UP, one_way, NULL);
error_unpin:
	bench_unpin();
	bench_shared_free(shared, sizeof(*shared));
	return result;
}

/* --- futex ping-pong --- */

struct futex_shared {
	/* The parent stores i into ping and wakes; the child answers i in pong and wakes. */
	alignas(64) _Atomic uint32_t ping;
	alignas(64) _Atomic uint32_t pong;
	alignas(64) _Atomic uint64_t child_ready;
	_Atomic uint32_t stop;
	uint32_t total_round_trips;
};

/* No FUTEX_PRIVATE_FLAG: the two sides are different processes, as in vshm. */
static long futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
	struct timespec timeout = { 0, 100000000 };
	return syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &timeout, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int futex_child(void *argument)
{
	struct futex_shared *shared = argument;
	bench_pin(1);
	atomic_store_explicit(&shared->child_ready, 1, memory_order_release);
	for (uint32_t i = 1; i <= shared->total_round_trips; i++) {
		uint32_t seen;
		/* seq_cst pairs with the parent's store before its wake: the kernel
		 * re-checks the word under its lock, so no wake-up is lost. */
		while ((seen = atomic_load_explicit(&shared->ping, memory_order_seq_cst)) != i) {
			if (atomic_load_explicit(&shared->stop, memory_order_relaxed) ||
			    bench_stopping())
				return 1;
			futex_wait(&shared->ping, seen);
		}
		atomic_store_explicit(&shared->pong, i, memory_order_seq_cst);
		futex_wake(&shared->pong);
	}
	return 0;
}

/* Like cache_line_round_trips(), through the futex. */
static bool futex_round_trips(struct futex_shared *shared, uint32_t first, uint32_t last,
                              double *times)
{
	for (uint32_t i = first; i <= last; i++) {
		uint64_t start = vshm_now_ns();
		atomic_store_explicit(&shared->ping, i, memory_order_seq_cst);
		futex_wake(&shared->ping);
		uint64_t deadline = 0;
		uint32_t seen;
		while ((seen = atomic_load_explicit(&shared->pong, memory_order_seq_cst)) != i) {
			futex_wait(&shared->pong, seen);
			uint64_t now = vshm_now_ns();
			if (!deadline)
				deadline = now + ROUND_TRIP_TIMEOUT_NS;
			if (now > deadline || bench_stopping())
				return false;
		}
		if (times)
			times[i - first] = (double)(vshm_now_ns() - start);
	}
	return true;
}

int bench_futex_pingpong(struct bench_latency *one_way, struct bench_samples *samples)
{
	struct futex_shared *shared = bench_shared_alloc(sizeof(*shared));
	double *times = calloc(FUTEX_ROUND_TRIPS, sizeof(*times));
	if (!shared || !times) {
		bench_shared_free(shared, sizeof(*shared));
		free(times);
		return -ENOMEM;
	}
	shared->total_round_trips = FUTEX_WARM_UP + FUTEX_ROUND_TRIPS;
	int result = 0;
	bench_pin(0);
	pid_t child = bench_spawn(futex_child, shared);
	if (child < 0) {
		result = child;
		goto error_free;
	}
	if (!bench_spin_until(&shared->child_ready, 1, ROUND_TRIP_TIMEOUT_NS)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	if (!futex_round_trips(shared, 1, FUTEX_WARM_UP, NULL)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	if (!futex_round_trips(shared, FUTEX_WARM_UP + 1, FUTEX_WARM_UP + FUTEX_ROUND_TRIPS,
	                       times)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	/* A clock read is nothing next to a wake-up: not taken off. */
	for (int i = 0; i < FUTEX_ROUND_TRIPS; i++)
		times[i] /= 2;
	result = bench_summarise(times, FUTEX_ROUND_TRIPS, one_way, samples);

error_stop:
	atomic_store_explicit(&shared->stop, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&shared->ping, 1, memory_order_seq_cst);
	futex_wake(&shared->ping);
	if (bench_reap(child, CHILD_TIMEOUT_MS) < 0 && result == 0)
		result = -ECHILD;
	if (result == -ETIMEDOUT && !bench_stopping())
		fprintf(stderr, "vshm-bench: the futex ping-pong partner stopped answering\n");
error_free:
	bench_unpin();
	bench_shared_free(shared, sizeof(*shared));
	free(times);
	return result;
}

/* --- futex wake-up after a frame interval asleep --- */

struct idle_wake_shared {
	/* The parent stamps its clock, stores i and wakes; the child answers i in seen. */
	alignas(64) _Atomic uint32_t word;
	_Atomic uint64_t stamp;
	alignas(64) _Atomic uint32_t seen;
	_Atomic uint64_t child_ready;
	_Atomic uint32_t stop;
	uint32_t count;
	double samples[IDLE_WAKE_SAMPLES];
};

static int idle_wake_child(void *argument)
{
	struct idle_wake_shared *shared = argument;
	atomic_store_explicit(&shared->child_ready, 1, memory_order_release);
	uint32_t last = 0;
	while (shared->count < IDLE_WAKE_SAMPLES) {
		/* seq_cst pairs with the parent's store before its wake, as in futex_child(). */
		uint32_t word = atomic_load_explicit(&shared->word, memory_order_seq_cst);
		if (word == last) {
			if (atomic_load_explicit(&shared->stop, memory_order_relaxed) ||
			    bench_stopping())
				return 1;
			futex_wait(&shared->word, last);
			continue;
		}
		uint64_t now = vshm_now_ns();
		/* The stamp was stored before the word, which we have seen (seq_cst). */
		shared->samples[shared->count++] =
		    (double)(now - atomic_load_explicit(&shared->stamp, memory_order_relaxed));
		last = word;
		atomic_store_explicit(&shared->seen, word, memory_order_release);
	}
	return 0;
}

int bench_futex_wake_after(uint64_t interval_ns, struct bench_latency *one_way)
{
	struct idle_wake_shared *shared = bench_shared_alloc(sizeof(*shared));
	if (!shared)
		return -ENOMEM;
	int result = 0;
	/* Neither side is pinned: the scheduler places them as it does a chain's stages. */
	pid_t child = bench_spawn(idle_wake_child, shared);
	if (child < 0) {
		result = child;
		goto error_free;
	}
	if (!bench_spin_until(&shared->child_ready, 1, ROUND_TRIP_TIMEOUT_NS)) {
		result = -ETIMEDOUT;
		goto error_stop;
	}
	for (uint32_t i = 1; i <= IDLE_WAKE_SAMPLES && result == 0; i++) {
		struct timespec pause = { (time_t)(interval_ns / 1000000000u),
			                  (long)(interval_ns % 1000000000u) };
		nanosleep(&pause, NULL);
		/* Asleep for a whole interval: the child must have answered the last one. */
		if (atomic_load_explicit(&shared->seen, memory_order_acquire) != i - 1 ||
		    bench_stopping()) {
			result = bench_stopping() ? -EINTR : -ETIMEDOUT;
			break;
		}
		atomic_store_explicit(&shared->stamp, vshm_now_ns(), memory_order_relaxed);
		atomic_store_explicit(&shared->word, i, memory_order_seq_cst);
		futex_wake(&shared->word);
	}
	if (result == 0) {
		uint64_t deadline = vshm_now_ns() + ROUND_TRIP_TIMEOUT_NS;
		while (atomic_load_explicit(&shared->seen, memory_order_acquire) !=
		           IDLE_WAKE_SAMPLES &&
		       vshm_now_ns() < deadline) {
			struct timespec pause = { 0, 1000000 };
			nanosleep(&pause, NULL);
		}
		if (shared->count != IDLE_WAKE_SAMPLES)
			result = -ETIMEDOUT;
	}

error_stop:
	atomic_store_explicit(&shared->stop, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&shared->word, 1, memory_order_seq_cst);
	futex_wake(&shared->word);
	if (bench_reap(child, CHILD_TIMEOUT_MS) < 0 && result == 0)
		result = -ECHILD;
	if (result == -ETIMEDOUT && !bench_stopping())
		fprintf(stderr, "vshm-bench: the idle futex wake-up partner stopped answering\n");
	if (result == 0)
		result = bench_summarise(shared->samples + IDLE_WAKE_WARM_UP,
		                         IDLE_WAKE_SAMPLES - IDLE_WAKE_WARM_UP, one_way, NULL);
error_free:
	bench_shared_free(shared, sizeof(*shared));
	return result;
}

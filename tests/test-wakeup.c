/*
 * No lost wake-up: a reader sleeping in vshm_reader_wait() is woken for each
 * publish. Writer and reader are separate processes; the writer publishes frame n once
 * the reader has acknowledged n - 1, sometimes at once (the reader is often not asleep
 * yet: the race between "about to sleep" and "publish"), sometimes after a short random
 * delay (the reader is asleep on the futex). A lost wake-up is caught two ways:
 *  - vshm_reader_wait() returning -ETIMEDOUT although the frame was already published;
 *  - the writer finding the reader still asleep in the kernel's futex wait well after a
 *    publish (from /proc/<pid>/stat and wchan). The library's 50 ms liveness slice would
 *    otherwise hide a lost wake-up as a late one, so this is the check that bites.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "test-util.h"

#define PUBLISH_COUNT 100000
/* The reader's timeout: a wake-up that never comes shows as this, or as a slice timeout. */
#define WAIT_TIMEOUT_MS 1000
/* A reader still asleep this long after a publish has lost its wake-up. */
#define ASLEEP_SUSPICIOUS_NS (10 * UINT64_C(1000000))
#define ACK_TIMEOUT_NS       (3 * UINT64_C(1000000000))
#define START_TIMEOUT_NS     (10 * UINT64_C(1000000000))

/* The harness's state: the handshake between writer and reader, and their figures. */
struct shared {
	_Atomic uint64_t acknowledged; /* the last frame number the reader took */
	_Atomic uint64_t published;    /* the last frame number whose publish returned */
	_Atomic pid_t reader_pid;
	int cpu[2]; /* writer's and reader's CPU, -1 if there are not two */
	/* Writer's figures. */
	uint64_t immediate, short_delay, long_delay;
	uint64_t found_asleep; /* lost wake-ups seen from the writer's side */
	uint64_t ack_timeouts;
	int writer_error;
	/* Reader's figures. */
	uint64_t timeouts_with_frame; /* lost wake-ups seen from the reader's side */
	uint64_t wrong_frames;
	uint64_t reader_errors;
	uint64_t quick_returns;                 /* waits that returned within 2 us: reported only */
	uint64_t entered_before_out;            /* waits begun before their frame was published */
	uint64_t entered_after_out;             /* waits begun with their frame already published */
	_Atomic int pinned;                     /* processes that got a CPU of their own */
	uint64_t latency_ns[PUBLISH_COUNT + 1]; /* publish stamp to wait returning */
};

/*
 * Writer and reader each get a CPU of their own when there are two: then whether the
 * reader is still awake when a frame comes depends on the writer's delays, not on the
 * scheduler putting both on one CPU (where the reader would always be asleep first).
 */
static void choose_cpus(int cpu[2])
{
	cpu[0] = cpu[1] = -1;
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	int found = 0;
	for (int i = 0; i < CPU_SETSIZE && found < 2; i++) {
		if (CPU_ISSET(i, &allowed))
			cpu[found++] = i;
	}
	if (found < 2)
		cpu[0] = cpu[1] = -1;
}

static bool pin_to_cpu(int cpu)
{
	if (cpu < 0)
		return false;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/*
 * True if pid is asleep in a futex wait: state 'S' in /proc/<pid>/stat and a wait
 * channel naming the futex code. The reader never sleeps anywhere else.
 */
static bool asleep_on_futex(pid_t pid)
{
	char path[64], buffer[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *file = fopen(path, "r");
	if (!file)
		return false;
	size_t length = fread(buffer, 1, sizeof(buffer) - 1, file);
	fclose(file);
	buffer[length] = '\0';
	char *end_of_name = strrchr(buffer, ')');
	if (!end_of_name || end_of_name[1] != ' ' || end_of_name[2] != 'S')
		return false;
	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	file = fopen(path, "r");
	if (!file)
		return true; /* no wait channel to look at: a sleeping reader is enough */
	length = fread(buffer, 1, sizeof(buffer) - 1, file);
	fclose(file);
	buffer[length] = '\0';
	return length == 0 || strcmp(buffer, "0") == 0 || strstr(buffer, "futex") != NULL;
}

/* Waits for the reader to acknowledge n; watches for it sleeping through a publish. */
static bool wait_for_ack(struct shared *shared, uint64_t n, uint64_t published_at)
{
	pid_t reader = atomic_load(&shared->reader_pid);
	bool suspicious = false;
	for (unsigned spins = 0;; spins++) {
		if (atomic_load_explicit(&shared->acknowledged, memory_order_acquire) >= n)
			return true;
		if (spins % 256 != 255)
			continue;
		uint64_t waited = vshm_now_ns() - published_at;
		if (waited > ACK_TIMEOUT_NS) {
			shared->ack_timeouts++;
			return false;
		}
		if (waited < ASLEEP_SUSPICIOUS_NS)
			continue;
		/* Look at its state first, then at the acknowledgement: a reader that took
		 * frame n and went to sleep waiting for n + 1 has stored its ack before. */
		bool asleep = asleep_on_futex(reader);
		if (asleep && atomic_load(&shared->acknowledged) < n) {
			if (suspicious) {
				/* Twice, 1 ms apart: it sleeps although frame n is out. */
				shared->found_asleep++;
				fprintf(stderr,
				        "writer: reader asleep on the futex %.1f ms after frame "
				        "%llu was published: lost wake-up\n",
				        (double)waited / 1e6, (unsigned long long)n);
				suspicious = false;
				/* The library's liveness slice will wake it; go on waiting. */
				test_sleep_us(60000);
				continue;
			}
			suspicious = true;
			test_sleep_us(1000);
		} else {
			suspicious = false;
		}
	}
}

static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 64,
		.max_height = 64,
	};
	if (pin_to_cpu(shared->cpu[0]))
		atomic_fetch_add(&shared->pinned, 1);
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer) {
		shared->writer_error = 1;
		return 1;
	}
	if (!harness_wait_readers(harness, START_TIMEOUT_NS)) {
		shared->writer_error = 2;
		goto out;
	}

	uint64_t random_state = 0x3a4e0001;
	for (uint64_t n = 1; n <= PUBLISH_COUNT; n++) {
		/* Frame n - 1 is acknowledged: the reader is on its way to sleep, or asleep. */
		uint64_t choice = test_random(&random_state) % 4;
		if (choice < 2) {
			shared->immediate++;
		} else if (choice == 2) {
			shared->short_delay++;
			test_spin_ns(test_random(&random_state) % 10000);
		} else {
			shared->long_delay++;
			test_spin_ns(10000 + test_random(&random_state) % 50000);
		}
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame) < 0) {
			shared->writer_error = 3;
			break;
		}
		frame.frame_number = n;
		memset(frame.plane[0], (int)(n & 0xff), frame.plane_size[0]);
		if (vshm_writer_publish(writer, &frame) < 0) {
			shared->writer_error = 4;
			break;
		}
		atomic_store_explicit(&shared->published, n, memory_order_release);
		if (!wait_for_ack(shared, n, frame.publish_ns)) {
			shared->writer_error = 5;
			break;
		}
	}
out:
	harness_stop(harness);
	vshm_writer_destroy(writer);
	return shared->writer_error ? 1 : 0;
}

static int reader_main(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	atomic_store(&shared->reader_pid, getpid());
	if (pin_to_cpu(shared->cpu[1]))
		atomic_fetch_add(&shared->pinned, 1);
	struct vshm_reader *reader = harness_reader_attach(harness, index, 5000);
	if (!reader) {
		shared->reader_errors++;
		return 1;
	}

	uint64_t last = 0;
	while (last < PUBLISH_COUNT && !harness_stopping(harness)) {
		/* Every sixteenth wait begins only once its frame is out, so that the path
		 * which must not sleep is taken whatever the machine's speed; the others race
		 * the writer's publish as its delays make them. */
		if ((last + 1) % 16 == 0) {
			while (atomic_load_explicit(&shared->published, memory_order_acquire) <=
			           last &&
			       !harness_stopping(harness))
				sched_yield();
		}
		if (atomic_load_explicit(&shared->published, memory_order_acquire) > last)
			shared->entered_after_out++;
		else
			shared->entered_before_out++;
		uint64_t started = vshm_now_ns();
		int status = vshm_reader_wait(reader, WAIT_TIMEOUT_MS);
		uint64_t returned = vshm_now_ns();
		if (status == -ETIMEDOUT) {
			if (atomic_load_explicit(&shared->published, memory_order_acquire) > last) {
				shared->timeouts_with_frame++;
				fprintf(stderr,
				        "reader: wait timed out although frame %llu was "
				        "published: lost wake-up\n",
				        (unsigned long long)(last + 1));
			}
			continue;
		}
		if (status != 0) {
			fprintf(stderr, "reader: vshm_reader_wait: %s\n", strerror(-status));
			shared->reader_errors++;
			break;
		}
		struct vshm_frame frame;
		status = vshm_reader_acquire(reader, &frame);
		if (status < 0) {
			fprintf(stderr, "reader: vshm_reader_acquire: %s\n", strerror(-status));
			shared->reader_errors++;
			break;
		}
		/* The writer publishes n + 1 only after our ack of n: it must be exactly that. */
		if (frame.frame_number != last + 1 || frame.sequence != last + 1 ||
		    frame.plane[0][0] != (uint8_t)((last + 1) & 0xff))
			shared->wrong_frames++;
		if (vshm_reader_release(reader) != 1)
			shared->wrong_frames++;
		last = frame.frame_number;
		if (returned - started < 2000)
			shared->quick_returns++;
		if (last <= PUBLISH_COUNT)
			shared->latency_ns[last] =
			    returned > frame.publish_ns ? returned - frame.publish_ns : 0;
		atomic_store_explicit(&shared->acknowledged, last, memory_order_release);
	}
	vshm_reader_detach(reader);
	return shared->reader_errors ? 1 : 0;
}

static void test_every_publish_wakes_the_reader(void **state)
{
	(void)state;
	struct harness *harness = harness_create("wakeup", 1, sizeof(struct shared));
	struct shared *shared = harness->state;
	choose_cpus(shared->cpu);

	harness_start(harness, writer_main, reader_main);
	harness_wait_all(harness, 100000, 5000);
	double seconds = harness_seconds(harness);

	uint64_t acknowledged = atomic_load(&shared->acknowledged);
	static uint64_t latencies[PUBLISH_COUNT];
	size_t count = 0;
	for (uint64_t n = 1; n <= acknowledged && n <= PUBLISH_COUNT; n++)
		latencies[count++] = shared->latency_ns[n];
	test_sort_u64(latencies, count);
	if (count > 0)
		print_message(
		    "%llu publishes (%llu at once, %llu after 0-10 us, %llu after "
		    "10-60 us) in %.1f s; waits begun before their frame %llu, after it %llu; "
		    "%llu returned within 2 us (%s); "
		    "publish to wake-up: median %.1f us, p99 %.1f us, max %.1f us\n",
		    (unsigned long long)acknowledged, (unsigned long long)shared->immediate,
		    (unsigned long long)shared->short_delay, (unsigned long long)shared->long_delay,
		    seconds, (unsigned long long)shared->entered_before_out,
		    (unsigned long long)shared->entered_after_out,
		    (unsigned long long)shared->quick_returns,
		    atomic_load(&shared->pinned) == 2 ? "a CPU each" : "CPUs shared",
		    (double)latencies[count / 2] / 1e3, (double)latencies[count * 99 / 100] / 1e3,
		    (double)latencies[count - 1] / 1e3);
	print_message("lost wake-ups: %llu timeouts with the frame published, %llu times "
	              "found asleep after a publish\n",
	              (unsigned long long)shared->timeouts_with_frame,
	              (unsigned long long)shared->found_asleep);

	assert_int_equal(harness->writer_status, 0);
	assert_int_equal(harness->reader_status[0], 0);
	assert_int_equal(shared->writer_error, 0);
	assert_int_equal(shared->reader_errors, 0);
	assert_int_equal(shared->ack_timeouts, 0);
	assert_int_equal(acknowledged, PUBLISH_COUNT);
	assert_int_equal(shared->wrong_frames, 0);
	/* The assertions that matter: no lost wake-up, seen from either side. */
	assert_int_equal(shared->timeouts_with_frame, 0);
	assert_int_equal(shared->found_asleep, 0);
	/* Both paths were taken, judged by order, not by time: waits that had to wait for
	 * their frame, and waits that found it already out. */
	assert_true(shared->entered_before_out > 0);
	assert_true(shared->entered_after_out >= PUBLISH_COUNT / 16);
	/* The writer's exit removed its segment. */
	assert_false(harness->segment_left);
	harness_destroy(harness);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_publish_wakes_the_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * A writer that sends one bad frame and then stays quiet must cost its readers neither
 * CPU nor a flood of warnings, and must not hide its death from them. Before rejected
 * frames counted as consumed, one such frame made every reader's wait return at once
 * for ever: 100% CPU, millions of warning lines, and a writer's death never noticed.
 *
 * Each case: a forked writer publishes good frames, then one bad one (by writing into
 * its own segment, as a buggy writer in another language would), and stays alive and
 * quiet for three seconds; a forked reader waits, acquires and releases as any reader
 * does, counting its warning lines and its CPU time. Then the writer is killed, and the
 * reader must report it gone (-EPIPE) within 200 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "layout.h"
#include "test-util.h"

#define QUIET_SECONDS 3
#define GOOD_FRAMES   5
/* The reader's budget while the writer is quiet: 2% of a core. */
#define CPU_BUDGET_SECONDS (QUIET_SECONDS * 0.02)
#define WARNING_LINES_MAX  5
#define GONE_WITHIN_NS     200000000u

enum badness {
	BAD_FORMAT,    /* a format code this library does not know (a newer writer's) */
	BAD_SLOT,      /* latest names a slot past the slot count */
	STALLED_WRITE, /* latest's slot left odd, as a writer stuck mid-frame would */
};

struct shared {
	enum badness badness;
	bool lossless; /* the reader asks for every frame */
	_Atomic int bad_frame_sent;
	_Atomic uint64_t killed_ns;
	/* The reader's account. */
	_Atomic uint64_t gone_ns; /* when wait() said -EPIPE after the kill */
	_Atomic uint64_t frames_accepted, frames_rejected, warning_lines;
	_Atomic uint64_t waits, cpu_us;
	_Atomic bool demoted;
};

static _Atomic uint64_t warning_lines;

static void count_warnings(enum vshm_log_level level, const char *message, void *data)
{
	(void)message, (void)data;
	if (level <= VSHM_LOG_WARNING)
		atomic_fetch_add(&warning_lines, 1);
}

/* The writer's own segment, mapped writable, to break the protocol on purpose. */
static uint8_t *map_own_segment(const char *name, size_t *size)
{
	char path[128];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat status;
	fstat(fd, &status);
	*size = (size_t)status.st_size;
	uint8_t *base = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return base == MAP_FAILED ? NULL : base;
}

static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_GRAY8,
		                               .max_width = 64,
		                               .max_height = 16 };
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer)
		return 1;
	harness_writer_ready(harness);
	for (uint64_t n = 1; n <= GOOD_FRAMES; n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 16, &frame) < 0)
			return 1;
		memset(frame.plane[0], (int)n, frame.plane_size[0]);
		frame.frame_number = n;
		vshm_writer_publish(writer, &frame);
		test_sleep_us(20000);
	}
	size_t size;
	uint8_t *segment = map_own_segment(harness->name, &size);
	if (!segment)
		return 1;
	struct vshm_shm_header *header = (struct vshm_shm_header *)segment;
	struct vshm_shm_slot *slots = (struct vshm_shm_slot *)(segment + header->slot_table_offset);
	uint64_t latest = atomic_load(&header->latest);
	uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
	uint64_t next = ((latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK) + 1;
	/* One more frame, published by hand into the slot after the latest. */
	uint32_t target = (slot + 1) % header->slot_count;
	switch (shared->badness) {
	case BAD_FORMAT:
		slots[target].info = slots[slot].info;
		slots[target].info.format = VSHM_FOURCC('N', 'E', 'W', '!');
		atomic_store(&slots[target].sequence, 2 * next);
		atomic_store(&header->latest, next << VSHM_LATEST_SLOT_BITS | target);
		break;
	case BAD_SLOT:
		atomic_store(&header->latest, next << VSHM_LATEST_SLOT_BITS | 200);
		break;
	case STALLED_WRITE:
		slots[target].info = slots[slot].info;
		atomic_store(&header->latest, next << VSHM_LATEST_SLOT_BITS | target);
		atomic_store(&slots[target].sequence, 2 * next + 1);
		break;
	}
	atomic_store(&shared->bad_frame_sent, 1);
	/* Alive and quiet until killed. */
	for (;;)
		pause();
}

static int reader_main(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	vshm_log_set_handler(count_warnings, NULL);
	struct vshm_reader_options options = { .lossless = shared->lossless };
	struct vshm_reader *reader =
	    vshm_reader_attach_wait(harness->name, &options, 5000, NULL, NULL);
	if (!reader)
		return 1;
	(void)index;
	atomic_fetch_add(&harness->readers_ready, 1);
	/* The good frames are taken as they come: a lossless reader that left them would be
	 * demoted by the writer, and then read as a lossy one. */
	while (!atomic_load(&shared->bad_frame_sent)) {
		struct vshm_frame frame;
		if (vshm_reader_wait(reader, 1) != 0)
			continue;
		int acquired = vshm_reader_acquire(reader, &frame);
		if (acquired == 0) {
			vshm_reader_release(reader);
			atomic_fetch_add(&shared->frames_accepted, 1);
		} else if (acquired == -EBADMSG) {
			atomic_fetch_add(&shared->frames_rejected, 1);
		}
	}
	struct rusage before;
	getrusage(RUSAGE_SELF, &before);
	uint64_t quiet_end = vshm_now_ns() + QUIET_SECONDS * 1000000000ull;
	for (;;) {
		int result = vshm_reader_wait(reader, 200);
		atomic_fetch_add(&shared->waits, 1);
		if (result == -EPIPE) {
			atomic_store(&shared->gone_ns, vshm_now_ns());
			break;
		}
		if (result == 0) {
			struct vshm_frame frame;
			int acquired = vshm_reader_acquire(reader, &frame);
			if (acquired == 0) {
				vshm_reader_release(reader);
				atomic_fetch_add(&shared->frames_accepted, 1);
			} else if (acquired == -EBADMSG) {
				atomic_fetch_add(&shared->frames_rejected, 1);
			}
		}
		if (vshm_now_ns() >= quiet_end && !atomic_load(&shared->cpu_us)) {
			struct rusage after;
			getrusage(RUSAGE_SELF, &after);
			uint64_t used =
			    (uint64_t)(after.ru_utime.tv_sec - before.ru_utime.tv_sec +
			               after.ru_stime.tv_sec - before.ru_stime.tv_sec) *
			        1000000u +
			    (uint64_t)(after.ru_utime.tv_usec - before.ru_utime.tv_usec +
			               after.ru_stime.tv_usec - before.ru_stime.tv_usec);
			atomic_store(&shared->cpu_us, used ? used : 1);
		}
		if (vshm_now_ns() > quiet_end + 5000000000ull)
			break; /* the writer's death was never reported */
	}
	atomic_store(&shared->warning_lines, atomic_load(&warning_lines));
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	atomic_store(&shared->demoted, stats.demoted);
	vshm_reader_detach(reader);
	return 0;
}

static void run_case(enum badness badness, bool lossless, const char *what)
{
	struct harness *harness = harness_create("bad-frames", 1, sizeof(struct shared));
	struct shared *shared = harness->state;
	shared->badness = badness;
	shared->lossless = lossless;
	harness_start(harness, writer_main, reader_main);
	uint64_t deadline = vshm_now_ns() + 10000000000ull;
	while (!atomic_load(&shared->cpu_us) && vshm_now_ns() < deadline)
		test_sleep_us(10000);
	assert_true(atomic_load(&shared->cpu_us) != 0);
	atomic_store(&shared->killed_ns, vshm_now_ns());
	harness_kill_writer(harness);
	harness_wait_all(harness, 10000, 10000);
	uint64_t gone = atomic_load(&shared->gone_ns), killed = atomic_load(&shared->killed_ns);
	double cpu = (double)atomic_load(&shared->cpu_us) / 1e6;
	printf("%s: over %d s the reader used %.3f s of CPU in %llu waits, accepted %llu "
	       "frames, rejected %llu, printed %llu warning lines; writer gone reported after "
	       "%.1f ms; %s\n",
	       what, QUIET_SECONDS, cpu, (unsigned long long)atomic_load(&shared->waits),
	       (unsigned long long)atomic_load(&shared->frames_accepted),
	       (unsigned long long)atomic_load(&shared->frames_rejected),
	       (unsigned long long)atomic_load(&shared->warning_lines),
	       gone ? (double)(gone - killed) / 1e6 : -1.0,
	       !lossless                       ? "lossy"
	       : atomic_load(&shared->demoted) ? "demoted"
	                                       : "lossless throughout");
	fflush(stdout);
	assert_int_equal(harness->reader_status[0], 0);
	/* Demoted, it would read as a lossy reader does, and prove nothing new. */
	assert_false(atomic_load(&shared->demoted));
	assert_true(cpu < CPU_BUDGET_SECONDS);
	assert_true(atomic_load(&shared->warning_lines) < WARNING_LINES_MAX);
	assert_true(atomic_load(&shared->frames_rejected) >= 1);
	assert_true(gone != 0 && gone > killed && gone - killed < GONE_WITHIN_NS);
	harness_destroy(harness);
}

static void unknown_format_code(void **state)
{
	(void)state;
	run_case(BAD_FORMAT, false, "a frame with an unknown format code");
}

static void latest_names_no_slot(void **state)
{
	(void)state;
	run_case(BAD_SLOT, false, "latest naming slot 200 of 3");
}

static void writer_stalled_in_the_latest_slot(void **state)
{
	(void)state;
	run_case(STALLED_WRITE, false, "latest naming a slot left half written");
}

/* A lossless reader looks for its next frame among the slots rather than through the
 * slot latest names: the same bad frames must be rejected there too, not leave wait
 * saying a frame is there and acquire saying -EAGAIN for ever. */
static void lossless_unknown_format_code(void **state)
{
	(void)state;
	run_case(BAD_FORMAT, true, "a lossless reader, a frame with an unknown format code");
}

static void lossless_latest_names_no_slot(void **state)
{
	(void)state;
	run_case(BAD_SLOT, true, "a lossless reader, latest naming slot 200 of 3");
}

static void lossless_writer_stalled_in_the_latest_slot(void **state)
{
	(void)state;
	run_case(STALLED_WRITE, true, "a lossless reader, latest naming a slot left half written");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_format_code),
		cmocka_unit_test(latest_names_no_slot),
		cmocka_unit_test(writer_stalled_in_the_latest_slot),
		cmocka_unit_test(lossless_unknown_format_code),
		cmocka_unit_test(lossless_latest_names_no_slot),
		cmocka_unit_test(lossless_writer_stalled_in_the_latest_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Lossless readers (vshm_reader_options.lossless): a reader that asks for every frame
 * gets every frame, in order, however slow it is, because the writer waits for it
 * before it reuses a slot; but a lossless reader that stalls or dies is demoted after the
 * writer's lossless timeout, and the writer goes on. Without lossless readers the writer
 * never waits. A writer moving to bigger slots waits for its lossless readers to be done
 * attaching to the new segment. A reader that takes over the entry of one that died
 * while attaching is counted among the attached readers, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "layout.h"
#include "test-util.h"

#define WIDTH            64
#define HEIGHT           48
#define FRAMES           300
#define TIMEOUT_MS       300
#define READY_TIMEOUT_NS (10 * UINT64_C(1000000000))

struct shared {
	uint32_t lossless_timeout_ms;
	uint32_t frames;
	long reader_pause_us;  /* how slow each reader is per frame */
	bool lossy_second;     /* reader 1 attaches lossy, for comparison */
	bool all_lossy;        /* no lossless reader at all */
	_Atomic int published; /* the writer is done */
	_Atomic uint64_t longest_begin_ns;
	_Atomic uint64_t lossless_waits, demotions;
	/* per reader */
	_Atomic uint64_t taken[2], missing[2], out_of_order[2], torn[2], wrong[2];
	_Atomic int demoted[2];
	_Atomic int stop_after[2]; /* reader stops itself (SIGSTOP) after this many frames */
};

static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = WIDTH,
		.max_height = HEIGHT,
		.lossless_timeout_ms = shared->lossless_timeout_ms,
	};
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer)
		return 1;
	/* Frame 0 first, so that readers can attach to a stream with a latest frame. */
	for (uint32_t n = 0; n < shared->frames; n++) {
		uint64_t start = vshm_now_ns();
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame) < 0)
			return 1;
		uint64_t took = vshm_now_ns() - start;
		if (took > atomic_load(&shared->longest_begin_ns))
			atomic_store(&shared->longest_begin_ns, took);
		memset(frame.plane[0], (int)(n & 0xff), frame.plane_size[0]);
		frame.frame_number = n;
		if (n + 1 == shared->frames)
			frame.flags |= VSHM_FRAME_END_OF_STREAM;
		vshm_writer_publish(writer, &frame);
		if (n == 0) {
			harness_writer_ready(harness);
			/* The readers attach before the rest comes. */
			harness_wait_readers(harness, READY_TIMEOUT_NS);
		}
	}
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	atomic_store(&shared->lossless_waits, stats.lossless_waits);
	atomic_store(&shared->demotions, stats.demotions);
	atomic_store(&shared->published, 1);
	/* Stay until the readers are done: a gone writer is not what this is about. */
	while (!harness_stopping(harness))
		test_sleep_us(1000);
	vshm_writer_destroy(writer);
	return 0;
}

static int reader_main(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	if (!harness_wait_for(harness, &harness->writer_ready, 1, READY_TIMEOUT_NS))
		return 1;
	struct vshm_reader_options options = { .lossless = !shared->all_lossy &&
		                                           !(index == 1 && shared->lossy_second) };
	struct vshm_reader *reader = vshm_reader_attach(harness->name, &options);
	if (!reader)
		return 2;
	atomic_fetch_add(&harness->readers_ready, 1);
	uint64_t next = 0;
	bool first = true;
	for (;;) {
		int result = vshm_reader_wait(reader, 5000);
		if (result != 0)
			break;
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			continue;
		/* The first frame is the latest when we attached; from there, every one. */
		if (first)
			next = frame.frame_number;
		first = false;
		if (frame.frame_number > next)
			atomic_fetch_add(&shared->missing[index], frame.frame_number - next);
		if (frame.frame_number < next)
			atomic_fetch_add(&shared->out_of_order[index], 1);
		next = frame.frame_number + 1;
		bool right =
		    frame.plane[0][0] == (uint8_t)(frame.frame_number & 0xff) &&
		    frame.plane[0][frame.plane_size[0] - 1] == (uint8_t)(frame.frame_number & 0xff);
		test_sleep_us(shared->reader_pause_us);
		bool end = frame.flags & VSHM_FRAME_END_OF_STREAM;
		if (vshm_reader_release(reader) == 1)
			atomic_fetch_add(&shared->wrong[index], !right);
		else
			atomic_fetch_add(&shared->torn[index], 1);
		uint64_t taken = atomic_fetch_add(&shared->taken[index], 1) + 1;
		if (atomic_load(&shared->stop_after[index]) &&
		    taken == (uint64_t)atomic_load(&shared->stop_after[index]))
			raise(SIGSTOP); /* stalled, as a stuck process is, until SIGCONT */
		if (end)
			break;
	}
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	atomic_store(&shared->demoted[index], stats.demoted);
	vshm_reader_detach(reader);
	return 0;
}

static struct harness *run(struct shared *settings, int readers)
{
	struct harness *harness = harness_create("lossless", readers, sizeof(struct shared));
	struct shared *shared = harness->state;
	*shared = *settings;
	harness_start(harness, writer_main, reader_main);
	return harness;
}

static void every_frame_reaches_a_slow_reader(void **state)
{
	(void)state;
	struct shared settings = { .lossless_timeout_ms = 5000,
		                   .frames = FRAMES,
		                   .reader_pause_us = 500,
		                   .lossy_second = true };
	struct harness *harness = run(&settings, 2);
	struct shared *shared = harness->state;
	harness_wait_for(harness, &shared->published, 1, 60 * UINT64_C(1000000000));
	assert_int_equal(harness_wait_reader(harness, 0, 30000), 0);
	assert_int_equal(harness_wait_reader(harness, 1, 30000), 0);
	harness_stop(harness);
	harness_wait_all(harness, 10000, 10000);
	printf("lossless reader: %llu frames, %llu missing, %llu out of order, %llu torn, %llu "
	       "wrong; lossy reader beside it: %llu frames, %llu missing; the writer waited %llu "
	       "times, demoted %llu\n",
	       (unsigned long long)shared->taken[0], (unsigned long long)shared->missing[0],
	       (unsigned long long)shared->out_of_order[0], (unsigned long long)shared->torn[0],
	       (unsigned long long)shared->wrong[0], (unsigned long long)shared->taken[1],
	       (unsigned long long)shared->missing[1], (unsigned long long)shared->lossless_waits,
	       (unsigned long long)shared->demotions);
	fflush(stdout);
	assert_int_equal(shared->missing[0], 0);
	assert_int_equal(shared->out_of_order[0], 0);
	assert_int_equal(shared->torn[0], 0);
	assert_int_equal(shared->wrong[0], 0);
	assert_true(shared->taken[0] >= FRAMES - 1); /* all but frames before it attached */
	assert_int_equal(shared->demotions, 0);
	assert_false(shared->demoted[0]);
	/* The reader is slower than the writer: without waiting it could not keep up. */
	assert_true(shared->lossless_waits > 0);
	harness_destroy(harness);
}

/* A lossless reader that stops (SIGSTOP) is demoted after the timeout; the writer goes
 * on, and the reader, once it runs again, gets the latest frames. */
static void stalled_reader_is_demoted(void **state)
{
	(void)state;
	struct shared settings = { .lossless_timeout_ms = TIMEOUT_MS, .frames = 100 };
	settings.stop_after[0] = 5;
	struct harness *harness = run(&settings, 1);
	struct shared *shared = harness->state;
	bool published =
	    harness_wait_for(harness, &shared->published, 1, 20 * UINT64_C(1000000000));
	kill(harness->readers[0], SIGCONT);
	assert_true(published);
	assert_int_equal(harness_wait_reader(harness, 0, 30000), 0);
	harness_stop(harness);
	harness_wait_all(harness, 10000, 10000);
	printf("stalled lossless reader: demoted %d, %llu demotion, longest begin %.0f ms "
	       "(timeout %d ms), %llu frames taken, %llu missed after its demotion\n",
	       shared->demoted[0], (unsigned long long)shared->demotions,
	       (double)shared->longest_begin_ns / 1e6, TIMEOUT_MS,
	       (unsigned long long)shared->taken[0], (unsigned long long)shared->missing[0]);
	fflush(stdout);
	assert_int_equal(shared->demotions, 1);
	assert_true(shared->demoted[0]);
	/* It waited for the reader, then went on: never for ever. */
	assert_true(shared->longest_begin_ns >= (uint64_t)TIMEOUT_MS * 1000000 / 2);
	assert_true(shared->longest_begin_ns < (uint64_t)TIMEOUT_MS * 1000000 * 20);
	harness_destroy(harness);
}

/* A lossless reader killed mid-stream is demoted as soon as the writer needs a frame it
 * had not consumed: its lock is gone, nothing to wait for. */
static void dead_reader_is_demoted(void **state)
{
	(void)state;
	struct shared settings = { .lossless_timeout_ms = 60000, .frames = 200 };
	settings.stop_after[0] = 5;
	struct harness *harness = run(&settings, 1);
	struct shared *shared = harness->state;
	while (atomic_load(&shared->taken[0]) < 5)
		test_sleep_us(1000);
	test_sleep_us(50000);
	harness_kill_reader(harness, 0);
	bool published =
	    harness_wait_for(harness, &shared->published, 1, 20 * UINT64_C(1000000000));
	harness_stop(harness);
	harness_wait_all(harness, 10000, 10000);
	printf("killed lossless reader: the writer published all %d frames: %s, %llu demotion\n",
	       200, published ? "yes" : "no", (unsigned long long)shared->demotions);
	fflush(stdout);
	assert_true(published); /* long before the 60 s timeout */
	assert_int_equal(shared->demotions, 1);
	harness_destroy(harness);
}

/* The default: lossy readers only, the writer never waits, however slow they are. */
static void writer_never_waits_for_lossy_readers(void **state)
{
	(void)state;
	struct shared settings = { .frames = FRAMES, .reader_pause_us = 2000, .all_lossy = true };
	struct harness *harness = run(&settings, 2);
	struct shared *shared = harness->state;
	assert_true(harness_wait_for(harness, &shared->published, 1, 60 * UINT64_C(1000000000)));
	harness_stop(harness);
	harness_wait_all(harness, 10000, 10000);
	printf("two slow lossy readers: %llu and %llu of %d frames; the writer waited %llu "
	       "times\n",
	       (unsigned long long)shared->taken[0], (unsigned long long)shared->taken[1], FRAMES,
	       (unsigned long long)shared->lossless_waits);
	fflush(stdout);
	assert_int_equal(shared->lossless_waits, 0);
	assert_true(shared->missing[0] > 0 && shared->missing[1] > 0); /* they were left behind */
	harness_destroy(harness);
}

/*
 * In a child: once the name refers to a new segment, takes a reader entry in it (its
 * lock, then its state) and counts itself among its lossless readers, as a reader
 * moving over does first; then, if it finishes, 300 ms later, says it is done attaching
 * (counted in readers_attached, and noted in its entry), as such a reader does after
 * its last look at latest; else it dies there. Writes into the segment directly: no
 * reader can be stopped between those two steps from outside.
 */
static int arrive_slowly(const char *name, ino_t old_inode, bool finishes)
{
	char path[128];
	test_segment_path(name, path, sizeof(path));
	for (int tries = 0; tries < 10000; tries++, test_sleep_us(1000)) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct stat status;
		if (fd < 0 || fstat(fd, &status) < 0 || status.st_ino == old_inode ||
		    status.st_size < 4096) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		uint8_t *base =
		    mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (base == MAP_FAILED) {
			close(fd);
			return 1;
		}
		struct vshm_shm_header *header = (struct vshm_shm_header *)base;
		if (atomic_load(&header->magic) != VSHM_MAGIC) {
			munmap(base, (size_t)status.st_size);
			close(fd);
			continue; /* still being made */
		}
		/* Alive as a reader is: its entry's lock held (dropped when we exit). */
		struct flock lock = { .l_type = F_WRLCK,
			              .l_whence = SEEK_SET,
			              .l_start = (off_t)header->reader_table_offset,
			              .l_len = 1 };
		if (fcntl(fd, F_OFD_SETLK, &lock) < 0)
			return 1;
		struct vshm_shm_reader *entry =
		    (struct vshm_shm_reader *)(base + header->reader_table_offset);
		atomic_store(&entry->state, VSHM_READER_ACTIVE);
		atomic_store(&header->reader_high_water, 1);
		atomic_fetch_add(&header->lossless_readers, 1);
		if (!finishes)
			return 0; /* exiting drops the entry's lock: a reader dead while attaching
			           */
		test_sleep_us(300000);
		atomic_fetch_add(&header->readers_attached, 1);
		atomic_store(&entry->attached, 1);
		munmap(base, (size_t)status.st_size);
		return 0;
	}
	return 1;
}

/*
 * A writer with one lossless reader moves to bigger slots while a child arrives in the
 * new segment (arrive_slowly(), finishing its attach or dying in it). Fills *stats as
 * the writer's begin returned, and returns the child's exit status.
 */
static int move_with_an_arriving_reader(const char *tag, uint32_t lossless_timeout_ms,
                                        bool finishes, struct vshm_writer_stats *stats)
{
	char name[64], path[128];
	test_unique_name(name, sizeof(name), tag);
	test_segment_path(name, path, sizeof(path));
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_GRAY8,
		                               .max_width = WIDTH,
		                               .max_height = HEIGHT,
		                               .lossless_timeout_ms = lossless_timeout_ms };
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame), 0);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	const struct vshm_reader_options lossless = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach(name, &lossless);
	assert_non_null(reader);
	struct stat status;
	assert_int_equal(stat(path, &status), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(arrive_slowly(name, status.st_ino, finishes));
	uint64_t start = vshm_now_ns();
	int begun = vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH * 2, HEIGHT * 2, &frame);
	vshm_writer_get_stats(writer, stats);
	printf("moved to bigger slots in %.0f ms; readers done attaching by then: %u\n",
	       (double)(vshm_now_ns() - start) / 1e6, stats->readers_attached);
	int child_status = test_wait(child, 20000);
	vshm_writer_cancel(writer);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	assert_int_equal(begun, 0);
	return child_status;
}

/* A writer moving to bigger slots waits for its lossless reader to be done attaching in
 * the new segment, not only counted there: the first frame there is one it takes. */
static void a_move_waits_for_its_lossless_readers_to_finish_attaching(void **state)
{
	(void)state;
	struct vshm_writer_stats stats;
	assert_int_equal(move_with_an_arriving_reader("lossless-move", 10000, true, &stats), 0);
	assert_int_equal(stats.segments_created, 2);
	assert_int_equal(stats.readers_attached, 1);
}

/*
 * A reader that dies in the new segment while attaching, counted among its lossless
 * readers, never finishes: the move does not wait for it. The lossless timeout is long,
 * so a writer that waited for it would not be done before this test's own timeout.
 */
static void a_move_does_not_wait_for_a_reader_that_died_attaching(void **state)
{
	(void)state;
	struct vshm_writer_stats stats;
	assert_int_equal(move_with_an_arriving_reader("lossless-move-dead", 1000000, false, &stats),
	                 0);
	assert_int_equal(stats.segments_created, 2);
	assert_int_equal(stats.readers_attached, 0);
}

/*
 * A reader that died while attaching leaves its entry active; the next reader takes the
 * entry over (its lock is free) and must be counted in readers_attached once, whether
 * the dead one had counted itself or not: a writer waiting for one reader before its
 * first frame (--wait-readers 1) does no scan that would recount them, and would wait
 * for ever for a reader that is there.
 */
static void a_reader_taking_over_a_dead_readers_entry_is_counted_once(void **state)
{
	(void)state;
	for (int dead_counted = 0; dead_counted <= 1; dead_counted++) {
		char name[64], path[128];
		test_unique_name(name, sizeof(name), "lossless-dead-attach");
		test_segment_path(name, path, sizeof(path));
		struct vshm_writer_options options = { .max_format = VSHM_FORMAT_GRAY8,
			                               .max_width = WIDTH,
			                               .max_height = HEIGHT };
		struct vshm_writer *writer = vshm_writer_create(name, &options);
		assert_non_null(writer);
		/* The dead lossless reader, in entry 0: claimed, counted among the lossless
		 * readers, and, if dead_counted, done attaching. Nobody holds its lock. */
		int fd = open(path, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		struct stat status;
		assert_int_equal(fstat(fd, &status), 0);
		uint8_t *base =
		    mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		assert_true(base != MAP_FAILED);
		struct vshm_shm_header *header = (struct vshm_shm_header *)base;
		struct vshm_shm_reader *entry =
		    (struct vshm_shm_reader *)(base + header->reader_table_offset);
		atomic_store(&entry->state, VSHM_READER_ACTIVE);
		atomic_store(&header->reader_high_water, 1);
		atomic_store(&header->lossless_readers, 1);
		atomic_store(&entry->flags, VSHM_READER_LOSSLESS);
		if (dead_counted) {
			atomic_store(&header->readers_attached, 1);
			atomic_store(&entry->attached, 1);
		}
		const struct vshm_reader_options lossless = { .lossless = true };
		struct vshm_reader *reader = vshm_reader_attach(name, &lossless);
		assert_non_null(reader);
		struct vshm_writer_stats stats;
		vshm_writer_get_stats(writer, &stats);
		uint32_t lossless_readers = atomic_load(&header->lossless_readers);
		printf("the dead reader %s counted itself: %u readers attached, %u lossless\n",
		       dead_counted ? "had" : "had not", stats.readers_attached, lossless_readers);
		vshm_reader_detach(reader);
		uint32_t after_detach = atomic_load(&header->readers_attached);
		munmap(base, (size_t)status.st_size);
		vshm_writer_destroy(writer);
		assert_int_equal(stats.readers_attached, 1);
		assert_int_equal(lossless_readers, 1);
		assert_int_equal(after_detach, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_frame_reaches_a_slow_reader),
		cmocka_unit_test(stalled_reader_is_demoted),
		cmocka_unit_test(dead_reader_is_demoted),
		cmocka_unit_test(writer_never_waits_for_lossy_readers),
		cmocka_unit_test(a_move_waits_for_its_lossless_readers_to_finish_attaching),
		cmocka_unit_test(a_move_does_not_wait_for_a_reader_that_died_attaching),
		cmocka_unit_test(a_reader_taking_over_a_dead_readers_entry_is_counted_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

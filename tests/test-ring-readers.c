/*
 * The ring with readers coming and going: end of stream and the writer's exit, the
 * counters, reattach and detach, and the counts and slots of readers that were killed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "layout.h"
#include "ring-frames.h"
#include "test-util.h"

static void end_of_stream_and_writer_exit_reach_the_reader(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "eos");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame), 0);
	ring_fill_frame(&frame, 9);
	frame.frame_number = 9;
	frame.flags = VSHM_FRAME_END_OF_STREAM;
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_ALIVE);
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
	/* The last frame stays readable after the writer left. */
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.flags & VSHM_FRAME_END_OF_STREAM, VSHM_FRAME_END_OF_STREAM);
	ring_check_frame(&got, 9);
	assert_int_equal(vshm_reader_release(reader), 1);
	uint64_t start = vshm_now_ns();
	assert_int_equal(vshm_reader_wait(reader, 5000), -EPIPE);
	assert_true(vshm_now_ns() - start < 1000000000u); /* at once, not after the timeout */
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_GONE);
	/* Seen once: later waits sleep their timeout looking for a new writer. */
	assert_int_equal(vshm_reader_wait(reader, 30), -EPIPE);
	writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	assert_int_equal(vshm_reader_wait(reader, 1000), -ESTALE);
	assert_int_equal(vshm_reader_reattach(reader), 0);
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_ALIVE);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

static void counters_follow_readers_and_frames(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "counters");
	struct vshm_writer_options options = {
		.slot_count = 5,
		.reader_capacity = 2,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 16,
		.max_height = 16,
		.frame_interval_ns = 33333333,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	struct vshm_reader *first = ring_attach(name);
	struct vshm_reader *second = ring_attach(name);
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, EUSERS);
	struct vshm_frame frame;
	for (uint64_t n = 1; n <= 7; n++)
		ring_publish(writer, VSHM_FORMAT_GRAY8, 16, 16, n, &frame);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.readers_attached, 2);
	assert_int_equal(stats.slot_count, 5);
	assert_int_equal(stats.frames_published, 7);
	struct vshm_reader_stats reader_stats;
	assert_int_equal(vshm_reader_acquire(first, &frame), 0);
	vshm_reader_release(first);
	vshm_reader_get_stats(first, &reader_stats);
	assert_int_equal(reader_stats.frames_published, 7);
	assert_int_equal(reader_stats.frames_acquired, 1);
	assert_int_equal(reader_stats.slot_count, 5);
	assert_int_equal(reader_stats.writer_pid, (uint32_t)getpid());
	assert_int_equal(reader_stats.frame_interval_ns, 33333333);
	vshm_writer_count_dropped(writer, 3);
	vshm_reader_get_stats(first, &reader_stats);
	assert_int_equal(reader_stats.frames_dropped, 3);
	vshm_reader_detach(second);
	assert_int_equal(vshm_writer_scan_readers(writer), 1);
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.readers_attached, 1);
	/* The freed entry can be taken again. */
	second = ring_attach(name);
	vshm_reader_detach(second);
	vshm_reader_detach(first);
	vshm_writer_destroy(writer);
}

/* Regression: reattach freed the entry with the new segment's index in the old
 * segment, which could be another live reader's. */
static void reattach_frees_its_own_old_entry_only(void **state)
{
	(void)state;
	char name[64], path[256];
	test_unique_name(name, sizeof(name), "entries");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *first = ring_attach(name);  /* entry 0 */
	struct vshm_reader *second = ring_attach(name); /* entry 1 */
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat status;
	assert_int_equal(fstat(fd, &status), 0);
	const uint8_t *old = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(old != MAP_FAILED);
	close(fd);
	const struct vshm_shm_reader *entries =
	    (const struct vshm_shm_reader *)(old + ((const struct vshm_shm_header *)old)
	                                               ->reader_table_offset);

	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_RGBA, 640, 480, &frame), 0);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0); /* moved to a new segment */
	assert_int_equal(vshm_reader_wait(second, 1000), -ESTALE);
	assert_int_equal(vshm_reader_reattach(second), 0); /* entry 0 of the new segment */
	assert_int_equal(atomic_load(&entries[0].state), VSHM_READER_ACTIVE); /* first's */
	assert_int_equal(atomic_load(&entries[1].state), VSHM_READER_FREE);   /* second's */
	munmap((void *)old, (size_t)status.st_size);
	vshm_reader_detach(first);
	vshm_reader_detach(second);
	vshm_writer_destroy(writer);
}

static int write_one_frame_then_wait(void *argument)
{
	const char *name = argument;
	struct vshm_writer_options options = { .max_frame_bytes = 4096 };
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	if (!writer)
		return 1;
	struct vshm_frame frame;
	if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 8, 8, &frame) < 0)
		return 1;
	frame.frame_number = 7;
	vshm_writer_publish(writer, &frame);
	pause(); /* until SIGKILL */
	return 0;
}

/* Starts write_one_frame_then_wait() as *child, attaches to name and takes its frame (7),
 * then releases it: the reader has seen everything its writer will publish. */
static struct vshm_reader *take_the_frame_of_a_waiting_writer(const char *name, pid_t *child)
{
	*child = test_fork(write_one_frame_then_wait, (void *)name);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 1000, NULL, NULL);
	assert_non_null(reader);
	assert_int_equal(vshm_reader_wait(reader, 2000), 0);
	struct vshm_frame frame;
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	assert_int_equal(frame.frame_number, 7);
	vshm_reader_release(reader);
	return reader;
}

/* Regression: reattaching while the name still held the dead writer's own segment
 * attached to it again and handed its last frame out once more as new. */
static void reattach_to_the_same_dead_segment_changes_nothing(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "dead");
	pid_t child;
	struct vshm_reader *reader = take_the_frame_of_a_waiting_writer(name, &child);
	kill(child, SIGKILL);
	assert_int_equal(test_wait(child, 5000), 128 + SIGKILL);
	assert_int_equal(vshm_reader_wait(reader, 1000), -EPIPE);
	assert_int_equal(vshm_reader_reattach(reader), -EAGAIN);
	assert_int_equal(vshm_reader_wait(reader, 60), -EPIPE); /* not the old frame again */
	vshm_reader_detach(reader);
	test_segment_remove(name);
}

/* A reader that never lets wait sleep (a timeout of 0, in a loop, as a spinning reader
 * does now and then) still hears that its writer died. Without the check in the
 * no-sleep path every call says -ETIMEDOUT: the loop below ends at its deadline. */
static void a_wait_that_never_sleeps_hears_of_a_dead_writer(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "dead-spin");
	pid_t child;
	struct vshm_reader *reader = take_the_frame_of_a_waiting_writer(name, &child);
	assert_int_equal(vshm_reader_wait(reader, 0), -ETIMEDOUT); /* alive, nothing newer */
	kill(child, SIGKILL);
	assert_int_equal(test_wait(child, 5000), 128 + SIGKILL);
	/* A deadline far beyond the liveness slice, not a timing: the answer must come. */
	uint64_t deadline = vshm_now_ns() + 10 * UINT64_C(1000000000);
	int result = -ETIMEDOUT;
	unsigned long calls = 0;
	while (result == -ETIMEDOUT && vshm_now_ns() < deadline) {
		result = vshm_reader_wait(reader, 0);
		calls++;
	}
	int again = vshm_reader_wait(reader, 0); /* and keeps saying it */
	printf("wait(0) said %d after %lu calls, then %d\n", result, calls, again);
	/* The dead writer's segment goes before any assertion can end the test. */
	vshm_reader_detach(reader);
	test_segment_remove(name);
	assert_int_equal(result, -EPIPE);
	assert_int_equal(again, -EPIPE);
}

/* A reader that detaches holding a frame gives it back: the writer does not go on
 * avoiding that slot (and overwriting others) as if it were still held. */
static void detach_gives_back_a_held_frame(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "detach-held");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 48, 3);
	struct vshm_reader *gone = ring_attach(name);
	struct vshm_reader *staying = ring_attach(name);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 1, &frame);
	assert_int_equal(vshm_reader_acquire(gone, &got), 0);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 2, &frame);
	vshm_reader_detach(gone);                                /* holding frame 1 */
	assert_int_equal(vshm_reader_acquire(staying, &got), 0); /* holds frame 2 */
	/* Three slots: frame 2's is held, so frames 3 and 4 need frame 1's slot, free now. */
	for (uint64_t n = 3; n <= 6; n++)
		ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n, &frame);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.overwrites, 0);
	assert_int_equal(vshm_reader_release(staying), 1);
	vshm_reader_detach(staying);
	vshm_writer_destroy(writer);
}

/*
 * The latest word counts the readers in the current frame in 16 bits. A reader that
 * takes the same frame again and again (spinning on a slow stream) must leave it each
 * time through that word. A count left there grows past 16 bits and is moved into the
 * slot's holders as a wrong number, and the writer then takes the slot for unheld while
 * a later reader holds it.
 */
static void taking_the_same_frame_again_and_again_keeps_its_slot_counted(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "entered");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 48, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 1, &frame);
	uint32_t spun_slot = frame.slot;
	/* More times than 16 bits can count. */
	for (int i = 0; i < 70000; i++) {
		assert_int_equal(vshm_reader_acquire(reader, &got), 0);
		assert_int_equal(vshm_reader_release(reader), 1);
	}
	/* The next frame written into that slot, held while the writer goes on. */
	uint64_t n = 2;
	do
		ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n++, &frame);
	while (frame.slot != spun_slot && n < 10);
	assert_int_equal(frame.slot, spun_slot);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.slot, spun_slot);
	for (int i = 0; i < 4; i++)
		ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n++, &frame);
	ring_check_frame(&got, got.frame_number);
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/*
 * A reader killed between taking itself off a slot's holder count and clearing its
 * note (or the other way round) leaves a count no live reader stands behind. The writer
 * repairs such counts from the reader table, looking at most once a second and only at
 * a count that disagreed the same way twice: within a few seconds the slot is the
 * writer's again, and it stops overwriting.
 */
static void a_count_left_by_a_killed_reader_is_repaired(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "repair");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 48, 3);
	struct vshm_reader *reader = ring_attach(name); /* live, holding nothing */
	struct vshm_frame frame;
	uint64_t n = 1;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n++, &frame);
	uint32_t first_slot = frame.slot;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n++, &frame);
	uint32_t second_slot = frame.slot;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n++, &frame);
	/* What two killed readers would leave: both slots but the latest counted held. */
	size_t size;
	uint8_t *segment = test_segment_map(name, &size);
	struct vshm_shm_header *header = (struct vshm_shm_header *)segment;
	atomic_fetch_add(&header->slot_holders[first_slot], 1);
	atomic_fetch_add(&header->slot_holders[second_slot], 1);
	/* Every frame is now an overwrite, until the counts are repaired. */
	struct vshm_writer_stats stats;
	uint64_t overwrites_before = 0;
	for (int i = 0; i < 200; i++) { /* 4 s, four times what the repair needs */
		ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, n++, &frame);
		test_sleep_us(20000);
		if (i == 149) {
			vshm_writer_get_stats(writer, &stats);
			overwrites_before = stats.overwrites;
		}
	}
	vshm_writer_get_stats(writer, &stats);
	print_message("%llu overwrites before the repair, %llu in the last second\n",
	              (unsigned long long)overwrites_before,
	              (unsigned long long)(stats.overwrites - overwrites_before));
	assert_true(overwrites_before > 0);
	assert_int_equal(stats.overwrites, overwrites_before);
	for (uint32_t slot = 0; slot < 3; slot++)
		assert_true(atomic_load(&header->slot_holders[slot]) == 0);
	munmap(segment, size);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/*
 * A reader that dies holding a frame gives the slot back as soon as the writer finds
 * it dead (its lock free), not a second or two later when the counts are repaired: the
 * next frame goes into that slot, with no overwrite, while another reader holds the
 * only other candidate.
 */
static void a_dead_readers_slot_is_free_at_once(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "dead-hold");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 48, 3);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 1, &frame);
	uint32_t dead_slot = frame.slot;
	int to_child[2], from_child[2];
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(from_child), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Takes frame 1, and dies holding it once frame 2 is out. */
		struct vshm_reader *doomed = vshm_reader_attach(name, NULL);
		char byte = doomed && vshm_reader_acquire(doomed, &got) == 0 ? 'y' : 'n';
		if (write(from_child[1], &byte, 1) != 1 || read(to_child[0], &byte, 1) != 1)
			_exit(2);
		_exit(0);
	}
	char answer = 0;
	assert_int_equal(read(from_child[0], &answer, 1), 1);
	assert_int_equal(answer, 'y');
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 2, &frame);
	assert_int_equal(write(to_child[1], "x", 1), 1);
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* A live reader holds frame 2; frame 3 is the latest. */
	struct vshm_reader *holder = ring_attach(name);
	assert_int_equal(vshm_reader_acquire(holder, &got), 0);
	assert_int_equal(got.frame_number, 2);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 3, &frame);
	/* Both candidates look held; the writer looks at the reader table and finds the
	 * dead one. */
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 48, 4, &frame);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(frame.slot, dead_slot);
	assert_int_equal(stats.overwrites, 0);
	assert_int_equal(vshm_reader_release(holder), 1);
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
	vshm_reader_detach(holder);
	vshm_writer_destroy(writer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(end_of_stream_and_writer_exit_reach_the_reader),
		cmocka_unit_test(counters_follow_readers_and_frames),
		cmocka_unit_test(reattach_frees_its_own_old_entry_only),
		cmocka_unit_test(reattach_to_the_same_dead_segment_changes_nothing),
		cmocka_unit_test(a_wait_that_never_sleeps_hears_of_a_dead_writer),
		cmocka_unit_test(detach_gives_back_a_held_frame),
		cmocka_unit_test(taking_the_same_frame_again_and_again_keeps_its_slot_counted),
		cmocka_unit_test(a_count_left_by_a_killed_reader_is_repaired),
		cmocka_unit_test(a_dead_readers_slot_is_free_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Writers clean up: a writer process leaves no /dev/shm/vshm.<name> behind
 * when it exits normally, or on SIGINT, SIGTERM or SIGHUP (through
 * program_shutdown_install() and a loop that stops on program_shutdown_requested()), even
 * when a second signal comes during the cleanup. A
 * SIGKILLed writer cannot clean up: its segment stays, and the next writer of that
 * name replaces it (a new inode), which a reader of the old one learns (-ESTALE) and
 * follows (vshm_reader_reattach()).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "shutdown.h"
#include "test-util.h"

#define READY_TIMEOUT_NS (10 * UINT64_C(1000000000))

enum ending {
	END_NORMALLY,  /* when the parent says so, through vshm_writer_destroy() */
	END_ON_SIGNAL, /* loop until program_shutdown_requested(), then destroy */
	END_NEVER,     /* publish until killed */
};

/* The harness's state, set by the parent for each writer it starts. */
struct shared {
	enum ending ending;
	uint64_t first_frame;    /* frame numbers this writer uses start here */
	_Atomic int may_exit;    /* the parent lets a normally exiting writer go */
	_Atomic int signal_seen; /* program_shutdown_signal() when the loop stopped */
	_Atomic int cleaning_up; /* the loop stopped on a signal; destroy comes next */
	int cleanup_delay_us;    /* a slow cleanup, for the repeated-signal test */
	_Atomic int error;
};

/* Publishes a frame every millisecond, says it is ready after the first. */
static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	if (shared->ending == END_ON_SIGNAL && program_shutdown_install() < 0) {
		atomic_store(&shared->error, 1);
		harness_stop(harness);
		return 1;
	}
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 64,
		.max_height = 64,
	};
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer) {
		atomic_store(&shared->error, 2);
		return 1;
	}
	for (uint64_t n = shared->first_frame;; n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame) < 0) {
			atomic_store(&shared->error, 3);
			break;
		}
		frame.frame_number = n;
		memset(frame.plane[0], (int)(n & 0xff), frame.plane_size[0]);
		if (vshm_writer_publish(writer, &frame) < 0) {
			atomic_store(&shared->error, 4);
			break;
		}
		harness_writer_ready(harness);
		if (shared->ending == END_NORMALLY && atomic_load(&shared->may_exit))
			break;
		if (shared->ending == END_ON_SIGNAL && program_shutdown_requested()) {
			atomic_store(&shared->signal_seen, program_shutdown_signal());
			atomic_store(&shared->cleaning_up, 1);
			/* As a real program closes its source first: time for more signals. */
			if (shared->cleanup_delay_us)
				test_sleep_us(shared->cleanup_delay_us);
			break;
		}
		test_sleep_us(1000);
	}
	vshm_writer_destroy(writer);
	return atomic_load(&shared->error) ? 1 : 0;
}

static int setup(void **state)
{
	*state = harness_create("cleanup", 0, sizeof(struct shared));
	return 0;
}

/* Kills whatever a failed test left running and removes the segment. */
static int teardown(void **state)
{
	harness_destroy(*state);
	return 0;
}

/* Resets the shared flags and starts a writer; waits until it has published. */
static void start_writer(struct harness *harness, enum ending ending, uint64_t first_frame)
{
	struct shared *shared = harness->state;
	shared->ending = ending;
	shared->first_frame = first_frame;
	atomic_store(&shared->may_exit, 0);
	atomic_store(&shared->signal_seen, 0);
	atomic_store(&shared->cleaning_up, 0);
	atomic_store(&shared->error, 0);
	harness_start_writer(harness, writer_main);
	bool ready = harness_wait_for(harness, &harness->writer_ready, 1, READY_TIMEOUT_NS);
	assert_int_equal(atomic_load(&shared->error), 0);
	assert_true(ready);
}

static ino_t segment_inode(const char *name)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	struct stat status;
	assert_int_equal(stat(path, &status), 0);
	return status.st_ino;
}

/*
 * Takes the frames the writer published before it went away, then expects -EPIPE
 * within a second. Returns the last frame number seen.
 */
static uint64_t take_frames_until_gone(struct vshm_reader *reader, uint64_t last)
{
	uint64_t start = vshm_now_ns();
	int status;
	struct vshm_frame frame;
	for (int frames = 0; (status = vshm_reader_wait(reader, 1000)) == 0 && frames < 100;
	     frames++) {
		assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
		assert_true(frame.frame_number > last);
		last = frame.frame_number;
		assert_int_equal(vshm_reader_release(reader), 1);
	}
	assert_int_equal(status, -EPIPE);
	assert_true(vshm_now_ns() - start < UINT64_C(1000000000));
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_GONE);
	return last;
}

static void test_normal_exit_removes_segment(void **state)
{
	struct harness *harness = *state;
	struct shared *shared = harness->state;
	start_writer(harness, END_NORMALLY, 1);
	assert_true(test_segment_exists(harness->name));

	/* A reader keeps the last frame after the writer is gone. */
	struct vshm_reader *reader = vshm_reader_attach_wait(harness->name, NULL, 2000, NULL, NULL);
	assert_non_null(reader);
	atomic_store(&shared->may_exit, 1);
	assert_int_equal(harness_wait_writer(harness, 5000), 0);
	assert_false(test_segment_exists(harness->name));

	uint64_t last = take_frames_until_gone(reader, 0);
	struct vshm_frame frame;
	/* The last frame is still there, whole. */
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	assert_int_equal(frame.frame_number, last);
	assert_int_equal(frame.plane[0][0], (uint8_t)(frame.frame_number & 0xff));
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);
	assert_false(test_segment_exists(harness->name));
}

static void check_signal_removes_segment(struct harness *harness, int signal_number)
{
	struct shared *shared = harness->state;
	start_writer(harness, END_ON_SIGNAL, 1);
	assert_true(test_segment_exists(harness->name));
	assert_int_equal(kill(harness->writer, signal_number), 0);
	/* It exits by itself, normally: the handler only set a flag. */
	assert_int_equal(harness_wait_writer(harness, 5000), 0);
	assert_int_equal(atomic_load(&shared->signal_seen), signal_number);
	assert_false(test_segment_exists(harness->name));
}

static void test_sigint_removes_segment(void **state)
{
	check_signal_removes_segment(*state, SIGINT);
}

static void test_sigterm_removes_segment(void **state)
{
	check_signal_removes_segment(*state, SIGTERM);
}

static void test_sighup_removes_segment(void **state)
{
	check_signal_removes_segment(*state, SIGHUP);
}

/*
 * A second signal while the writer cleans up, as timeout(1) sends one, must not cut the
 * cleanup short: the handler used to give the signal its default action after the first,
 * and 2 runs in 100 left their segment behind.
 */
#define REPEATED_SIGNAL_RUNS 200

static void check_repeated_signals_remove_segment(struct harness *harness, int first, int second)
{
	struct shared *shared = harness->state;
	shared->cleanup_delay_us = 5000;
	for (int run = 0; run < REPEATED_SIGNAL_RUNS; run++) {
		start_writer(harness, END_ON_SIGNAL, 1);
		assert_int_equal(kill(harness->writer, first), 0);
		harness_wait_for(harness, &shared->cleaning_up, 1, READY_TIMEOUT_NS);
		assert_int_equal(kill(harness->writer, second), 0);
		int status = harness_wait_writer(harness, 5000);
		if (status != 0 || test_segment_exists(harness->name))
			printf("run %d of %d: the writer ended with status %d and %s its segment\n",
			       run + 1, REPEATED_SIGNAL_RUNS, status,
			       test_segment_exists(harness->name) ? "left" : "removed");
		assert_int_equal(status, 0);
		assert_false(test_segment_exists(harness->name));
	}
	printf("%d runs of signal %d then %d during cleanup: every writer removed its segment\n",
	       REPEATED_SIGNAL_RUNS, first, second);
	shared->cleanup_delay_us = 0;
}

static void test_two_sigterms_remove_segment(void **state)
{
	check_repeated_signals_remove_segment(*state, SIGTERM, SIGTERM);
}

static void test_sigint_then_sigterm_remove_segment(void **state)
{
	check_repeated_signals_remove_segment(*state, SIGINT, SIGTERM);
}

static void test_sigkill_leaves_segment_for_next_writer(void **state)
{
	struct harness *harness = *state;
	struct shared *shared = harness->state;
	start_writer(harness, END_NEVER, 1);
	ino_t old_inode = segment_inode(harness->name);

	struct vshm_reader *reader = vshm_reader_attach_wait(harness->name, NULL, 2000, NULL, NULL);
	assert_non_null(reader);
	struct vshm_frame frame;
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	assert_true(frame.frame_number < 1000000);
	assert_int_equal(vshm_reader_release(reader), 1);

	/* A killed writer removes nothing: the segment stays, stale. */
	assert_int_equal(harness_kill_writer(harness), 128 + SIGKILL);
	assert_true(test_segment_exists(harness->name));
	assert_int_equal(segment_inode(harness->name), old_inode);
	take_frames_until_gone(reader, frame.frame_number);

	/* The next writer of the name takes the stale segment over: a new file. */
	start_writer(harness, END_NEVER, 1000000);
	assert_true(test_segment_exists(harness->name));
	assert_true(segment_inode(harness->name) != old_inode);

	/* The reader of the old one is told, and follows. */
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_REPLACED);
	assert_int_equal(vshm_reader_wait(reader, 1000), -ESTALE);
	assert_int_equal(vshm_reader_reattach(reader), 0);
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_ALIVE);
	assert_int_equal(vshm_reader_wait(reader, 1000), 0);
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	assert_true(frame.frame_number >= 1000000);
	assert_int_equal(frame.plane[0][0], (uint8_t)(frame.frame_number & 0xff));
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);

	/* The second writer is killed too: its segment stays as well ... */
	assert_int_equal(harness_kill_writer(harness), 128 + SIGKILL);
	assert_true(test_segment_exists(harness->name));

	/* ... until a third writer replaces it and, exiting normally, removes it. */
	start_writer(harness, END_NORMALLY, 2000000);
	atomic_store(&shared->may_exit, 1);
	assert_int_equal(harness_wait_writer(harness, 5000), 0);
	assert_false(test_segment_exists(harness->name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_normal_exit_removes_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigint_removes_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_removes_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sighup_removes_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_sigterms_remove_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigint_then_sigterm_remove_segment, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_leaves_segment_for_next_writer, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

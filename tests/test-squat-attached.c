/*
 * A name squatted under readers that were attached: the stream's writer leaves (it
 * removes its segment, as every clean exit does) and another user, uid 65534, puts a
 * FIFO, a link to a FIFO, a directory or a world-writable file under the free name. A
 * library reader, a filter and the viewer were following the stream: each looks for a
 * new writer under the name, finds what is there and must refuse it without opening,
 * following or waiting on it. One FIFO used to freeze every reader of the name for
 * good (they opened it to see whether the name had been replaced).
 *
 * Each reader must keep running (a library reader's loop keeps turning; none spins),
 * hold no FIFO open, tell what it found (the library reader, through its reattach
 * error), and stop on SIGTERM within 2 s. Needs root (test-squat.c says why).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "squat.h"
#include "test-util.h"

#define STOP_SECONDS 2.0
#define WIDTH        64
#define HEIGHT       48

static struct squat_world world;
static pid_t xvfb;

/* What the library reader child reports. */
struct follower {
	char name[VSHM_NAME_MAX + 1];
	_Atomic int attached;
	_Atomic uint64_t turns; /* of its loop: it is not blocked while this grows */
	_Atomic int reattach_result;
	char reattach_error[512];
};

static volatile sig_atomic_t stop_requested;

static void on_sigterm(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

/* In a child: follows the stream as the README's reader loop does, until SIGTERM. */
static int follow_until_stopped(void *argument)
{
	struct follower *follower = argument;
	struct sigaction action = { .sa_handler = on_sigterm };
	sigaction(SIGTERM, &action, NULL);
	struct vshm_reader *reader =
	    vshm_reader_attach_wait(follower->name, NULL, 5000, NULL, NULL);
	if (!reader)
		return 1;
	atomic_store(&follower->attached, 1);
	while (!stop_requested) {
		int result = vshm_reader_wait(reader, 100);
		struct vshm_frame frame;
		if (result == 0 && vshm_reader_acquire(reader, &frame) == 0)
			vshm_reader_release(reader);
		if (result == -ESTALE) {
			int reattached = vshm_reader_reattach(reader);
			snprintf(follower->reattach_error, sizeof(follower->reattach_error), "%s",
			         vshm_error());
			atomic_store(&follower->reattach_result, reattached);
			if (reattached < 0)
				test_sleep_us(50000); /* as the filter helper does: no spinning */
		}
		atomic_fetch_add(&follower->turns, 1);
	}
	vshm_reader_detach(reader);
	return 0;
}

static void publish(struct vshm_writer *writer, uint64_t n)
{
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame), 0);
	memset(frame.plane[0], (int)(n & 0xff), frame.plane_size[0]);
	frame.frame_number = n;
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
}

struct victim {
	const char *label;
	pid_t pid;
	double cpu_before;
};

/* SIGTERM, then how long until it is gone; its status in *status. */
static double stop(pid_t pid, int *status)
{
	uint64_t start = vshm_now_ns();
	kill(pid, SIGTERM);
	*status = test_wait(pid, 10000);
	return (double)(vshm_now_ns() - start) / 1e9;
}

static void readers_survive(enum squat_kind kind)
{
	char name[VSHM_NAME_MAX + 1], output[VSHM_NAME_MAX + 16], filter[512];
	test_unique_name(name, sizeof(name), "squat-attached");
	snprintf(output, sizeof(output), "%s.out", name);
	snprintf(filter, sizeof(filter), "%s/vshm-filter-invert", program_path("VSHM_FILTERS"));
	struct follower *follower = world.shared;
	memset(follower, 0, sizeof(*follower));
	snprintf(follower->name, sizeof(follower->name), "%s", name);

	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, 3);
	uint64_t n = 0;
	publish(writer, n++);
	struct victim victims[3];
	int count = 0;
	victims[count++] = (struct victim){ .label = "library reader",
		                            .pid = test_fork_tied(follow_until_stopped, follower) };
	char *filter_argv[] = { filter, "--quiet", name, output, NULL };
	victims[count++] = (struct victim){ .label = "vshm-filter-invert",
		                            .pid = program_start(filter_argv, NULL, NULL) };
	if (xvfb > 0) {
		/* As in test-viewer: the X11 and GL stack keeps memory to the end, which
		 * LeakSanitizer would call leaks; ASan itself stays on. */
		char *asan = getenv("ASAN_OPTIONS") ? strdup(getenv("ASAN_OPTIONS")) : NULL;
		if (asan)
			setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0", 1);
		char *view_argv[] = { (char *)program_path("VSHM_VIEW"), "--quiet", name, NULL };
		victims[count++] = (struct victim){ .label = "vshm-view",
			                            .pid = program_start(view_argv, NULL, NULL) };
		if (asan)
			setenv("ASAN_OPTIONS", asan, 1);
		free(asan);
	}
	/* Frames flow until every reader is attached and the filter passes them on. */
	uint64_t deadline = vshm_now_ns() + 20 * UINT64_C(1000000000);
	struct vshm_writer_stats stats = { 0 };
	while (vshm_now_ns() < deadline &&
	       (stats.readers_attached < (uint32_t)count || !test_segment_exists(output))) {
		publish(writer, n++);
		test_sleep_us(10000);
		vshm_writer_scan_readers(writer);
		vshm_writer_get_stats(writer, &stats);
	}
	assert_int_equal(stats.readers_attached, count);
	/* A moment more, so that the viewer's start (its window, its first upload) is over
	 * before its CPU time is measured. */
	for (int i = 0; i < 50; i++) {
		publish(writer, n++);
		test_sleep_us(10000);
	}

	/* The writer leaves; the squatter takes the name at once. */
	vshm_writer_destroy(writer);
	struct squat squat;
	squat_make_named(&world, kind, name, &squat);
	for (int i = 0; i < count; i++)
		victims[i].cpu_before = program_cpu_seconds(victims[i].pid);
	test_sleep_us(500000);
	uint64_t turns = atomic_load(&follower->turns);
	test_sleep_us(500000);
	uint64_t later_turns = atomic_load(&follower->turns);

	print_message("%s under '%s' after its writer left:\n", squat_kind_label(kind), name);
	print_message("  library reader: %llu turns of its loop in the last 0.5 s; reattach "
	              "said %d: %s\n",
	              (unsigned long long)(later_turns - turns),
	              atomic_load(&follower->reattach_result), follower->reattach_error);
	char why[256];
	bool untouched = squat_untouched(&world, &squat, why, sizeof(why));
	bool running[3];
	double cpu[3];
	for (int i = 0; i < count; i++) {
		running[i] = waitpid(victims[i].pid, NULL, WNOHANG) == 0;
		cpu[i] = program_cpu_seconds(victims[i].pid) - victims[i].cpu_before;
	}
	int statuses[3];
	double stop_seconds[3];
	for (int i = 0; i < count; i++) {
		stop_seconds[i] = stop(victims[i].pid, &statuses[i]);
		print_message("  %-20s %s, %.3f s of CPU in the 1 s after the squat; SIGTERM: "
		              "status %d after %.3f s\n",
		              victims[i].label, running[i] ? "running" : "GONE", cpu[i],
		              statuses[i], stop_seconds[i]);
	}
	if (!untouched)
		fail_msg("%s", why);
	assert_true(later_turns > turns);
	assert_int_equal(atomic_load(&follower->attached), 1);
	assert_true(atomic_load(&follower->reattach_result) < 0);
	assert_true(squat_says_what(&squat, follower->reattach_error));
	assert_true(squat_says_whose(&world, follower->reattach_error));
	for (int i = 0; i < count; i++) {
		assert_true(running[i]);
		/* A reader that spins for a new writer would use the whole second. */
		assert_true(cpu[i] < 0.5);
		assert_true(stop_seconds[i] < STOP_SECONDS);
		assert_int_equal(statuses[i], i == 0 ? 0 : 128 + SIGTERM);
	}
	assert_false(test_segment_exists(output));
	squat_remove(&squat);
}

static void fifo(void **state)
{
	(void)state;
	readers_survive(SQUAT_FIFO);
}

static void symbolic_link_to_a_fifo(void **state)
{
	(void)state;
	readers_survive(SQUAT_LINK_TO_FIFO);
}

static void directory(void **state)
{
	(void)state;
	readers_survive(SQUAT_DIRECTORY);
}

static void world_writable_garbage(void **state)
{
	(void)state;
	readers_survive(SQUAT_GARBAGE);
}

static int group_setup(void **state)
{
	(void)state;
	squat_world_setup(&world, sizeof(struct follower));
	if (getenv("VSHM_VIEW") && getenv("VSHM_XVFB")) {
		xvfb = program_start_xvfb();
	} else {
		print_message("no viewer in this build, or no Xvfb: the viewer is left out\n");
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	program_stop_xvfb(xvfb);
	squat_world_teardown(&world);
	program_cleanup();
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP test-squat-attached: needs root, to squat names as uid %u\n",
		       SQUAT_ATTACKER);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo),
		cmocka_unit_test(symbolic_link_to_a_fifo),
		cmocka_unit_test(directory),
		cmocka_unit_test(world_writable_garbage),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * A segment truncated under a reader: a bug that only a writer of the same user (or
 * group) can commit, but that must not kill the readers. The file is cut down to its
 * control part (header, reader table, slot descriptors), and the writer then publishes a
 * frame without writing its pixels, so every reader that looks at the frame touches
 * pages past the end of the file: SIGBUS. With the guard (vshm_reader_options
 * guard_truncation, on in vshm-view and in every filter) the reader reads zeros instead,
 * release calls the frame torn, and wait answers -ESTALE; without it, it dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "program-util.h"
#include "test-util.h"

#define WIDTH  320
#define HEIGHT 240

static struct vshm_writer *create_writer(const char *name)
{
	return test_writer_create(name, VSHM_FORMAT_I420, WIDTH, HEIGHT, 3);
}

static void publish(struct vshm_writer *writer, uint8_t value, bool with_pixels)
{
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_I420, WIDTH, HEIGHT, &frame), 0);
	if (with_pixels) {
		for (uint32_t p = 0; p < frame.plane_count; p++)
			memset(frame.plane[p], value, frame.plane_size[p]);
	}
	frame.frame_number = value;
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
}

/* Cuts the stream's file down to its header, reader table and slot descriptors. */
static void truncate_payload(const char *name)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct vshm_shm_header header;
	assert_int_equal(pread(fd, &header, sizeof(header), 0), (ssize_t)sizeof(header));
	assert_int_equal(ftruncate(fd, (off_t)header.payload_offset), 0);
	close(fd);
}

/* Reads every byte of the frame's planes, as a filter or an upload does. */
static uint64_t read_all(const struct vshm_frame *frame)
{
	uint64_t sum = 0;
	for (uint32_t p = 0; p < frame->plane_count; p++)
		for (uint64_t i = 0; i < frame->plane_size[p]; i++)
			sum += frame->plane[p][i];
	return sum;
}

struct reader_run {
	const char *name;
	bool guard;
};

/* In a child: takes the frame published after the truncation and reads it. Exits 0 if
 * release then said torn and wait said -ESTALE. */
static int read_after_truncation(void *argument)
{
	const struct reader_run *run = argument;
	/* cmocka catches SIGBUS in the test process; a reader process has no such net. */
	signal(SIGBUS, SIG_DFL);
	struct vshm_reader_options options = { .guard_truncation = run->guard };
	struct vshm_reader *reader = vshm_reader_attach(run->name, &options);
	if (!reader)
		return 10;
	/* The frame from before the truncation first, then the one after it. */
	struct vshm_frame frame;
	if (vshm_reader_acquire(reader, &frame) != 0 || vshm_reader_release(reader) != 1)
		return 11;
	if (vshm_reader_wait(reader, 5000) != 0 || vshm_reader_acquire(reader, &frame) != 0)
		return 11;
	uint64_t sum = read_all(&frame);
	int intact = vshm_reader_release(reader);
	int waited = vshm_reader_wait(reader, 100);
	vshm_reader_detach(reader);
	printf("guarded reader: read %llu as the sum of the frame's bytes, release %d, wait %d\n",
	       (unsigned long long)sum, intact, waited);
	fflush(stdout);
	return intact == 0 && waited == -ESTALE && sum == 0 ? 0 : 12;
}

static int run_reader(const char *name, bool guard)
{
	struct reader_run run = { .name = name, .guard = guard };
	struct vshm_writer *writer = create_writer(name);
	publish(writer, 1, true);
	pid_t child = test_fork_tied(read_after_truncation, &run);
	test_sleep_us(200000); /* attached and asleep in wait */
	truncate_payload(name);
	publish(writer, 2, false);
	int status = test_wait(child, 10000);
	vshm_writer_destroy(writer);
	return status;
}

static void library_reader_survives_with_the_guard(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "truncated");
	assert_int_equal(run_reader(name, true), 0);
}

/* The repro, kept to prove the test sees the danger: without the guard, SIGBUS. */
static void library_reader_dies_without_the_guard(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "truncated");
	int status = run_reader(name, false);
	printf("unguarded reader: ended with status %d (128 + SIGBUS is %d)\n", status,
	       128 + SIGBUS);
	assert_int_equal(status, 128 + SIGBUS);
}

/* Cuts the stream's file down to length bytes. */
static void truncate_to(const char *name, off_t length)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, length), 0);
	close(fd);
}

/*
 * In a child about to truncate its own stream: makes the stream, publishes frame 1, and
 * attaches a guarded reader that has taken and given back that frame. Returns 0, or the
 * child's exit status for what failed.
 */
static int start_guarded_reader(const char *name, struct vshm_writer **writer,
                                struct vshm_reader **reader)
{
	/* cmocka catches these in the test process; a reader process has no such net. */
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	*writer = create_writer(name);
	publish(*writer, 1, true);
	struct vshm_reader_options options = { .guard_truncation = true };
	*reader = vshm_reader_attach(name, &options);
	if (!*reader)
		return 10;
	struct vshm_frame frame;
	if (vshm_reader_acquire(*reader, &frame) != 0 || vshm_reader_release(*reader) != 1)
		return 11;
	return 0;
}

/*
 * In a child, writer and guarded reader both: once the reader has read zeros from a
 * truncated segment, acquire has nothing to give (-EAGAIN) however many frames the
 * writer goes on publishing, so poll must not say there is a frame to take: a reader
 * spinning on poll would call acquire, in vain, for ever. Exits 0 if poll said 0 and
 * wait -ESTALE.
 */
static int poll_after_truncation(void *argument)
{
	const char *name = argument;
	struct vshm_writer *writer;
	struct vshm_reader *reader;
	int failed = start_guarded_reader(name, &writer, &reader);
	if (failed)
		return failed;
	struct vshm_frame frame;
	truncate_payload(name);
	publish(writer, 2, false);
	if (vshm_reader_poll(reader) != 1 || vshm_reader_acquire(reader, &frame) != 0)
		return 12;
	/* Past the file's end: the guard maps zeros, and the segment is broken. Volatile:
	 * the sum is not used, and the read must happen. */
	volatile uint64_t sum = read_all(&frame);
	(void)sum;
	int intact = vshm_reader_release(reader);
	publish(writer, 3, false);
	int polled = vshm_reader_poll(reader);
	int acquired = vshm_reader_acquire(reader, &frame);
	int waited = vshm_reader_wait(reader, 0);
	/* The writer lives and holds its lock, but the segment is no longer one to read. */
	enum vshm_writer_state state = vshm_reader_writer_state(reader);
	printf("after the truncation: release %d, then poll %d, acquire %d, wait %d, writer "
	       "state %d (replaced is %d)\n",
	       intact, polled, acquired, waited, state, VSHM_WRITER_REPLACED);
	fflush(stdout);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	return intact == 0 && polled == 0 && acquired == -EAGAIN && waited == -ESTALE &&
	               state == VSHM_WRITER_REPLACED
	           ? 0
	           : 13;
}

static void poll_says_nothing_once_truncated(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "truncated");
	int status = test_wait(test_fork_tied(poll_after_truncation, name), 10000);
	test_segment_remove(name); /* left behind if the child gave up early */
	assert_int_equal(status, 0);
}

/*
 * In a child: a guarded reader whose segment is cut down to nothing, header and reader
 * table included, while it waits. The zeros the guard maps in their place must take the
 * reader's writes too (its entry, the header's counters), or the guard turns SIGBUS into
 * SIGSEGV. Exits 0 if wait said -ESTALE, poll 0 and acquire -EAGAIN, and detach returned.
 */
static int wait_after_truncation_to_nothing(void *argument)
{
	const char *name = argument;
	struct vshm_writer *writer;
	struct vshm_reader *reader;
	int failed = start_guarded_reader(name, &writer, &reader);
	if (failed)
		return failed;
	struct vshm_frame frame;
	truncate_to(name, 0);
	int waited = vshm_reader_wait(reader, 100);
	int polled = vshm_reader_poll(reader);
	int acquired = vshm_reader_acquire(reader, &frame);
	vshm_reader_detach(reader);
	printf("after the truncation to nothing: wait %d, poll %d, acquire %d\n", waited, polled,
	       acquired);
	fflush(stdout);
	/* The writer's own mapping is not guarded: it is left as it is, and the child ends. */
	(void)writer;
	return waited == -ESTALE && polled == 0 && acquired == -EAGAIN ? 0 : 12;
}

static void reader_survives_truncation_to_nothing(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "truncated");
	int status = test_wait(test_fork_tied(wait_after_truncation_to_nothing, name), 10000);
	test_segment_remove(name);
	printf("the reader ended with status %d (128 + SIGSEGV is %d)\n", status, 128 + SIGSEGV);
	assert_int_equal(status, 0);
}

/* A program reads the stream; after the truncation it must still run, and stop
 * cleanly when asked (ending by the signal that asked it). */
static void program_survives(char *const argv[], const char *input)
{
	struct vshm_writer *writer = create_writer(input);
	publish(writer, 1, true);
	pid_t pid = program_start(argv, NULL, NULL);
	for (int i = 0; i < 20; i++) {
		publish(writer, (uint8_t)(10 + i), true);
		test_sleep_us(50000);
	}
	truncate_payload(input);
	for (int i = 0; i < 5; i++) {
		publish(writer, (uint8_t)(40 + i), false);
		test_sleep_us(100000);
	}
	int running = waitpid(pid, NULL, WNOHANG) == 0;
	kill(pid, SIGTERM);
	int status = test_wait(pid, 10000);
	printf("%s after the truncation: %s; after SIGTERM, status %d\n", argv[0],
	       running ? "still running" : "gone", status);
	fflush(stdout);
	vshm_writer_destroy(writer);
	assert_true(running);
	assert_int_equal(status, 128 + SIGTERM);
}

static void filter_survives(void **state)
{
	(void)state;
	char input[64], output[80], filter[4096];
	test_unique_name(input, sizeof(input), "truncated");
	snprintf(output, sizeof(output), "%s.out", input);
	snprintf(filter, sizeof(filter), "%s/vshm-filter-invert", program_path("VSHM_FILTERS"));
	char *argv[] = { filter, "--quiet", input, output, NULL };
	program_survives(argv, input);
	assert_false(test_segment_exists(output));
}

static void viewer_survives(void **state)
{
	(void)state;
	if (!getenv("VSHM_VIEW") || !getenv("VSHM_XVFB"))
		skip(); /* this build has no viewer, or this machine no Xvfb */
	/* As in test-viewer: the X11 and GL stack the viewer loads keeps memory to the end,
	 * which LeakSanitizer would call leaks; ASan itself stays on. */
	if (getenv("ASAN_OPTIONS"))
		setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0", 1);
	pid_t xvfb = program_start_xvfb();
	char input[64];
	test_unique_name(input, sizeof(input), "truncated");
	char *argv[] = { (char *)program_path("VSHM_VIEW"), "--quiet", input, NULL };
	program_survives(argv, input);
	program_stop_xvfb(xvfb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(library_reader_survives_with_the_guard),
		cmocka_unit_test(library_reader_dies_without_the_guard),
		cmocka_unit_test(poll_says_nothing_once_truncated),
		cmocka_unit_test(reader_survives_truncation_to_nothing),
		cmocka_unit_test(filter_survives),
		cmocka_unit_test(viewer_survives),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failed;
}

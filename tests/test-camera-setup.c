/*
 * Setting up a camera's stream, through the real vshm-capture on the preloaded fake
 * camera: however many buffers the driver grants, more or fewer than asked, they are
 * taken (up to what the ring can lend); a driver that refuses the ring's slots only when
 * they are queued or when streaming starts gets mmap instead, said once; and a driver
 * that fails while the stream is set up is reported once, with exit status 1, never
 * taken for an unplugged camera and waited for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "camera-run.h"
#include "program-util.h"

#define DEVICE "/dev/video44"

static int setup(void **state)
{
	(void)state;
	camera_run_plain_fake(DEVICE, "100");
	return 0;
}

static unsigned count_of(const char *text, const char *part)
{
	unsigned count = 0;
	for (const char *at = strstr(text, part); at; at = strstr(at + 1, part))
		count++;
	return count;
}

/* 30 frames with --io io; every one whole, exit 0, and it said summary. */
static void thirty_frames(const char *io, const char *summary, struct camera_run *run)
{
	*run = (struct camera_run){ .arguments = { "v4l2:" DEVICE, "--io", io, "--frames", "30" } };
	camera_run(run);
	assert_int_equal(run->status, 0);
	assert_int_equal(run->bad, 0);
	assert_true(run->frames >= 10);
	assert_non_null(strstr(run->errors, summary));
	assert_non_null(strstr(run->errors, "| 30 frames |"));
	assert_null(strstr(run->errors, "is gone"));
}

/*
 * Regression: a driver that granted more than 16 buffers made mmap fail with EIO, which
 * was taken for an unplug: "is gone", "is back", every second, forever.
 */
static void more_buffers_than_asked_are_taken(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_MIN_BUFFERS", "20", 1);
	struct camera_run run;
	thirty_frames("auto", "USERPTR: no copy", &run);
	thirty_frames("mmap", "mmap + one copy", &run);

	/* More than the ring can lend (it keeps three slots besides): mmap, and said. */
	setenv("FAKE_CAMERA_MIN_BUFFERS", "64", 1);
	thirty_frames("userptr", "mmap + one copy", &run);
	assert_non_null(strstr(run.errors, "no USERPTR (its driver wants more buffers"));
}

/* A driver that grants fewer buffers than asked for: what it grants is used. */
static void fewer_buffers_than_asked_are_taken(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_MIN_BUFFERS", "1", 1);
	setenv("FAKE_CAMERA_MAX_BUFFERS", "2", 1);
	struct camera_run run;
	thirty_frames("auto", "USERPTR: no copy", &run);
	thirty_frames("mmap", "mmap + one copy", &run);
}

/*
 * Regression: drivers built on vb2-dma-contig take USERPTR at REQBUFS and refuse the
 * memory at QBUF (EFAULT) or STREAMON (EINVAL); capture then stopped with "cannot start
 * streaming: Bad address". Now it goes on with mmap, and says so once.
 */
static void userptr_refused_late_falls_back_to_mmap(void **state)
{
	(void)state;
	const char *where[] = { "qbuf", "streamon" };
	const char *said[] = { "(VIDIOC_QBUF: Bad address)",
		               "(VIDIOC_STREAMON: Invalid argument)" };
	for (int i = 0; i < 2; i++) {
		setenv("FAKE_CAMERA_USERPTR_REFUSED_AT", where[i], 1);
		struct camera_run run;
		thirty_frames("auto", "refused the ring's slots", &run);
		assert_non_null(strstr(run.errors, said[i]));
		assert_int_equal(count_of(run.errors, "refused the ring's slots"), 1);
	}
}

/*
 * Regression: an error while the stream is set up (here STREAMON failing with EIO, as a
 * driver whose hardware does not answer does) was taken for an unplug and waited for.
 */
static void setup_errors_are_not_unplugs(void **state)
{
	(void)state;
	const char *io[] = { "auto", "mmap" };
	for (int i = 0; i < 2; i++) {
		setenv("FAKE_CAMERA_STREAMON_ERROR", "EIO", 1);
		struct camera_run run = {
			.arguments = { "v4l2:" DEVICE, "--io", io[i], "--frames", "30" },
			.timeout_ms = 8000,
			.no_reading = true,
		};
		camera_run(&run);
		assert_int_equal(run.status, 1);
		assert_null(strstr(run.errors, "is gone"));
		assert_int_equal(count_of(run.errors, "cannot start streaming: Input/output error"),
		                 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(more_buffers_than_asked_are_taken, setup),
		cmocka_unit_test_setup(fewer_buffers_than_asked_are_taken, setup),
		cmocka_unit_test_setup(userptr_refused_late_falls_back_to_mmap, setup),
		cmocka_unit_test_setup(setup_errors_are_not_unplugs, setup),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}

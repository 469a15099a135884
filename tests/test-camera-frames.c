/*
 * What a camera's frames may be, through the real vshm-capture on the preloaded fake
 * camera: MJPEG frames cut short with nothing flagging them (never published, counted
 * as skipped), timestamps that are not on CLOCK_MONOTONIC or go backwards (capture_ns
 * never goes backwards nor past the publish time), and a camera that sends nothing for
 * a while (said once, then frames again).
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

#define DEVICE "/dev/video46"

static int setup(void **state)
{
	(void)state;
	camera_run_plain_fake(DEVICE, "50");
	return 0;
}

/*
 * Regression: a UVC camera short of USB bandwidth delivers MJPEG frames cut short, with
 * no V4L2_BUF_FLAG_ERROR; libavcodec conceals the missing part, and vshm-capture
 * published half of one picture over the rest of an older one. Now such frames (no EOI
 * at their end, or decode errors) are skipped and counted, with the JPEG alone in its
 * buffer and with zeros after it to the end of the buffer.
 */
static void mjpeg_frames_cut_short_are_skipped(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_FORMATS", "MJPG", 1);
	setenv("FAKE_CAMERA_MJPEG_CUT_EVERY", "4", 1);
	for (int padded = 0; padded <= 1; padded++) {
		setenv("FAKE_CAMERA_MJPEG_WHOLE_BUFFER", padded ? "1" : "0", 1);
		struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "24" } };
		camera_run(&run);
		assert_int_equal(run.status, 0);
		assert_int_equal(run.bad, 0);
		assert_true(run.frames >= 10);
		/* 24 published of the first 32 at most, 1 in 4 cut: at least 6 skipped. */
		assert_true(run.skipped >= 6);
		assert_true(run.discontinuities >= 1);
	}
}

/*
 * Timestamps from a driver on the wall clock (flagged unknown), or flagged monotonic
 * and going backwards: capture_ns stays on CLOCK_MONOTONIC, in order, and never later
 * than the frame's publication.
 */
static void timestamps_that_are_not_monotonic(void **state)
{
	(void)state;
	const char *kinds[] = { "realtime", "backwards" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		setenv("FAKE_CAMERA_TIMESTAMPS", kinds[i], 1);
		struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "30" } };
		camera_run(&run);
		assert_int_equal(run.status, 0);
		assert_int_equal(run.bad, 0);
		assert_int_equal(run.capture_backwards, 0);
		assert_int_equal(run.captured_after_publish, 0);
	}
}

/* A camera that sends nothing for 6 s: said once after 5 s, then frames again. */
static void no_frame_for_five_seconds(void **state)
{
	(void)state;
	setenv("FAKE_CAMERA_STALL_AFTER", "10", 1);
	setenv("FAKE_CAMERA_STALL_MS", "6000", 1);
	struct camera_run run = { .arguments = { "v4l2:" DEVICE, "--frames", "20" },
		                  .timeout_ms = 30000 };
	camera_run(&run);
	assert_int_equal(run.status, 0);
	assert_int_equal(run.bad, 0);
	assert_non_null(strstr(run.errors, "| 20 frames |"));
	const char *said = strstr(run.errors, "has sent no frame for 5 s; still waiting");
	assert_non_null(said);
	assert_null(strstr(said + 1, "has sent no frame")); /* once */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(mjpeg_frames_cut_short_are_skipped, setup),
		cmocka_unit_test_setup(timestamps_that_are_not_monotonic, setup),
		cmocka_unit_test_setup(no_frame_for_five_seconds, setup),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}

/*
 * How vshmsrc lives: a writer killed with SIGKILL is followed to its successor, or
 * ends the stream with eos-when-gone; PTS follow a clock whose type changed; lossless
 * pushes every frame to a slow sink; bad settings fail with libvshm's sentence.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gst-test.h"
#include "pattern.h"
#include "program-util.h"
#include "src-probe.h"
#include "test-util.h"

static bool ten_buffers(struct seen *seen)
{
	return seen->buffers >= 10;
}

static bool ten_after_restart(struct seen *seen)
{
	return seen->restarts == 1 && seen->after_restart >= 10;
}

static void killed_writer_is_followed_to_the_next(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-kill");
	struct seen seen = { .format = VSHM_FORMAT_GRAY8 };
	g_mutex_init(&seen.lock);
	GstElement *pipeline = reading_pipeline(name, "", &seen);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	pid_t capture = start_capture(name, "gray8", "64x48", NULL);
	assert_true(wait_for(&seen, ten_buffers, 10000));
	kill(capture, SIGKILL);
	test_wait(capture, 5000);
	test_sleep_us(300000);
	unsigned before = buffers_seen(&seen);
	/* The killed writer's segment stays behind; the next writer of the name replaces
	 * it, and the source follows. */
	capture = start_capture(name, "gray8", "64x48", NULL);
	assert_true(wait_for(&seen, ten_after_restart, 10000));
	GstBus *bus = gst_element_get_bus(pipeline);
	GstMessage *error = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
	gst_object_unref(bus);
	assert_null(error);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	kill(capture, SIGTERM);
	assert_int_equal(test_wait(capture, 5000), 128 + SIGTERM);
	print_message("%u buffers before the kill, %u in all, %u wrong\n", before, seen.buffers,
	              seen.wrong);
	assert_int_equal(seen.wrong, 0);
	assert_false(test_segment_exists(name));
	seen_clear(&seen);
}

/*
 * PTS are running times under a clock whose type changed since the source last used
 * it. vshmsrc keeps, on the clock, whether it reads CLOCK_MONOTONIC: kept past the
 * change, the realtime clock's base time would be taken for a monotonic one, and every
 * PTS would come out 0.
 */
static void pts_follow_a_clock_that_changed_type(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-clock-type");
	pid_t capture = start_capture(name, "gray8", "64x48", NULL);
	GstClock *clock =
	    g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			g_object_set(clock, "clock-type", GST_CLOCK_TYPE_REALTIME, NULL);
		struct seen seen = { .format = VSHM_FORMAT_GRAY8 };
		g_mutex_init(&seen.lock);
		GstElement *pipeline = reading_pipeline(name, "", &seen);
		gst_pipeline_use_clock(GST_PIPELINE(pipeline), clock);
		gst_element_set_state(pipeline, GST_STATE_PLAYING);
		assert_true(wait_for(&seen, ten_buffers, 10000));
		gst_element_set_state(pipeline, GST_STATE_NULL);
		gst_object_unref(pipeline);
		print_message(
		    "round %d: %u buffers, %u PTS not rising, the last %" GST_TIME_FORMAT "\n",
		    round, seen.buffers, seen.pts_not_rising, GST_TIME_ARGS(seen.last_pts));
		assert_int_equal(seen.wrong, 0);
		/* The first buffer may come at running time 0; none after it. */
		assert_true(seen.pts_not_rising <= 1);
		assert_true(seen.last_pts > 0);
		seen_clear(&seen);
	}
	gst_object_unref(clock);
	kill(capture, SIGTERM);
	assert_int_equal(test_wait(capture, 5000), 128 + SIGTERM);
	assert_false(test_segment_exists(name));
}

static void killed_writer_ends_the_stream_with_eos_when_gone(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-gone");
	struct seen seen = { .format = VSHM_FORMAT_GRAY8 };
	g_mutex_init(&seen.lock);
	GstElement *pipeline = reading_pipeline(name, "eos-when-gone=true", &seen);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	pid_t capture = start_capture(name, "gray8", "64x48", NULL);
	assert_true(wait_for(&seen, ten_buffers, 10000));
	kill(capture, SIGKILL);
	test_wait(capture, 5000);
	assert_null(gst_test_wait_end(pipeline, 5000));
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	assert_int_equal(seen.wrong, 0);
	test_segment_remove(name);
	seen_clear(&seen);
}

/* The first error of "vshmsrc OPTIONS ! fakesink", as text. */
static char *failure_of(const char *options)
{
	char *launch = g_strdup_printf("vshmsrc %s ! fakesink", options);
	GstMessage *error = gst_test_run(launch, 10000);
	if (!error)
		fail_msg("'%s' did not fail", launch);
	g_free(launch);
	char *text = gst_test_error_text(error);
	gst_message_unref(error);
	print_message("%s\n", text);
	return text;
}

/* lossless=true: a source replayed as fast as it goes reaches a slow sink whole, every
 * frame in order (a lossy source would see a handful of the 150). */
static void lossless_pushes_every_frame_to_a_slow_sink(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-lossless");
	struct seen seen = { .format = VSHM_FORMAT_GRAY8, .delay_us = 2000 };
	g_mutex_init(&seen.lock);
	GstElement *pipeline = reading_pipeline(name, "lossless=true", &seen);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         "test",
		         "--format",
		         "gray8",
		         "--size",
		         "161x97",
		         "--fast",
		         "--frames",
		         "150",
		         "--wait-readers",
		         "1",
		         "--name",
		         name,
		         "--quiet",
		         NULL };
	pid_t capture = program_start(argv, NULL, NULL);
	GstMessage *error = gst_test_wait_end(pipeline, 30000);
	if (error)
		fail_msg("%s", gst_test_error_text(error));
	assert_int_equal(test_wait(capture, 10000), 0);
	guint64 pushed = counter(pipeline, "frames-pushed");
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	print_message("lossless: %u buffers, %u wrong, first %llu, last %llu\n", seen.buffers,
	              seen.wrong, (unsigned long long)seen.first_offset,
	              (unsigned long long)seen.last_offset);
	assert_int_equal(seen.buffers, 150);
	assert_int_equal(pushed, 150);
	assert_int_equal(seen.first_offset, 0);
	assert_int_equal(seen.last_offset, 149);
	assert_int_equal(seen.restarts, 0);
	assert_int_equal(seen.wrong, 0);
	assert_false(test_segment_exists(name));
	seen_clear(&seen);
}

static void bad_settings_fail_with_the_librarys_sentence(void **state)
{
	char *text = failure_of("stream-name=a/b");
	assert_non_null(strstr(text, "stream name 'a/b' contains '/'"));
	g_free(text);

	char name[64], options[128];
	test_unique_name(name, sizeof(name), "gst-never");
	snprintf(options, sizeof(options), "stream-name=%s timeout=300000000", name);
	text = failure_of(options);
	char expected[256];
	snprintf(expected, sizeof(expected),
	         "no frame from stream '%s' within 300 ms: no stream '%s'", name, name);
	assert_non_null(strstr(text, expected));
	g_free(text);

	text = failure_of("lossless=true copy=false");
	assert_non_null(strstr(text, "lossless=true needs copy=true"));
	g_free(text);

	/* Something in /dev/shm under a stream's name that is not a vshm stream. */
	test_unique_name(name, sizeof(name), "gst-foreign");
	char path[128];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	static uint8_t junk[8192];
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	snprintf(options, sizeof(options), "stream-name=%s timeout=2000000000", name);
	text = failure_of(options);
	assert_non_null(strstr(text, "is not a vshm stream"));
	g_free(text);
	/* It is left alone: it is not ours. */
	assert_true(test_segment_exists(name));
	test_segment_remove(name);
}

int main(int argc, char **argv)
{
	gst_test_init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(killed_writer_is_followed_to_the_next),
		cmocka_unit_test(pts_follow_a_clock_that_changed_type),
		cmocka_unit_test(killed_writer_ends_the_stream_with_eos_when_gone),
		cmocka_unit_test(lossless_pushes_every_frame_to_a_slow_sink),
		cmocka_unit_test(bad_settings_fail_with_the_librarys_sentence),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	gst_deinit();
	return failures;
}

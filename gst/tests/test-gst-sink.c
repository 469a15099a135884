/*
 * vshmsink, read by the C library's reader: every frame of a videotestsrc run arrives
 * in order, byte for byte what GStreamer itself makes of the same pattern (run again
 * into an appsink), with its colorimetry and its clock time as capture_ns; the end of
 * the stream arrives as a flagged frame; zero copy happens where it should; bad
 * settings fail with libvshm's sentence, and nothing is left in /dev/shm.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gst-test.h"
#include "program-util.h"
#include "test-util.h"

#define MAX_FRAMES 256

struct sink_case {
	const char *format;
	int width, height, frames;
	const char *colorimetry; /* NULL: none in the caps */
	const char *sink_options;
	uint8_t color_matrix, color_range;
	bool zero_copy; /* every frame published in place, none copied */
};

/*
 * The PTS of every buffer that reached the sink, in order; and a gate that keeps buffer
 * n from the sink until the reader has read frame n - 1. A reader of the ring gets the
 * latest frame, so one that the machine's load delays by a frame interval would miss a
 * frame; the gate makes "every frame, in order" a property of vshmsink alone.
 */
struct pts_log {
	GstClockTime pts[MAX_FRAMES];
	unsigned count;
	_Atomic unsigned read; /* frames the reader is done with */
};

static GstPadProbeReturn log_pts(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct pts_log *log = data;
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	for (int waited = 0; atomic_load(&log->read) < log->count && waited < 10000; waited++)
		g_usleep(1000);
	if (log->count < MAX_FRAMES)
		log->pts[log->count++] = GST_BUFFER_PTS(buffer);
	return GST_PAD_PROBE_OK;
}

static void run_case(const struct sink_case *c)
{
	char caps[256];
	snprintf(caps, sizeof(caps), "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1%s%s",
	         c->format, c->width, c->height, c->colorimetry ? ",colorimetry=" : "",
	         c->colorimetry ? c->colorimetry : "");
	char source[512];
	snprintf(source, sizeof(source),
	         "videotestsrc num-buffers=%d pattern=smpte horizontal-speed=3 ! %s", c->frames,
	         caps);
	struct gst_test_frames reference;
	gst_test_reference_frames(source, &reference);
	assert_int_equal(reference.count, c->frames);

	char name[64];
	test_unique_name(name, sizeof(name), "gst-sink");
	char *launch = g_strdup_printf("%s ! vshmsink name=sink stream-name=%s %s", source, name,
	                               c->sink_options ? c->sink_options : "");
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *sink = gst_test_element(pipeline, "sink");
	struct pts_log log = { 0 };
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, log_pts, &log, NULL);
	gst_object_unref(pad);

	/* Prerolled, the sink has its caps and the stream exists, but nothing is
	 * published until PLAYING: the reader misses no frame. */
	gst_test_set_state(pipeline, GST_STATE_PAUSED);
	/* Lossless: every frame, whatever the machine's load. */
	static const struct vshm_reader_options every_frame = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach(name, &every_frame);
	if (!reader)
		fail_msg("attach to %s: %s", name, vshm_error());
	gst_element_set_state(pipeline, GST_STATE_PLAYING);

	uint64_t numbers[MAX_FRAMES + 1], capture[MAX_FRAMES + 1];
	unsigned seen = 0;
	uint64_t wrong = 0, torn = 0;
	bool end = false;
	struct vshm_frame frame;
	while (!end && seen <= MAX_FRAMES) {
		int result = vshm_reader_wait(reader, 5000);
		if (result != 0)
			fail_msg("waiting for frame %u of %s: %d", seen, name, result);
		assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
		assert_int_equal(frame.format, vshm_format_from_name(c->format));
		assert_int_equal(frame.width, c->width);
		assert_int_equal(frame.height, c->height);
		assert_int_equal(frame.color_matrix, c->color_matrix);
		assert_int_equal(frame.color_range, c->color_range);
		uint64_t differences =
		    frame.frame_number < (uint64_t)c->frames
		        ? gst_test_compare(&reference, (unsigned)frame.frame_number, frame.format,
		                           frame.plane, frame.stride)
		        : 1;
		end = frame.flags & VSHM_FRAME_END_OF_STREAM;
		numbers[seen] = frame.frame_number;
		capture[seen] = frame.capture_ns;
		seen++;
		if (vshm_reader_release(reader) == 1)
			wrong += differences != 0;
		else
			torn++;
		atomic_store(&log.read, seen);
	}
	GstMessage *error = gst_test_wait_end(pipeline, 10000);
	if (error)
		fail_msg("%s", gst_test_error_text(error));
	GstClockTime base_time = gst_element_get_base_time(pipeline);
	guint64 in_place = 0, copied = 0;
	g_object_get(sink, "frames-in-place", &in_place, "frames-copied", &copied, NULL);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(pipeline);
	vshm_reader_detach(reader);
	print_message("%s %dx%d: %u frames read, %llu wrong, %llu torn, %llu in place, %llu "
	              "copied\n",
	              c->format, c->width, c->height, seen, (unsigned long long)wrong,
	              (unsigned long long)torn, (unsigned long long)in_place,
	              (unsigned long long)copied);

	/* Every frame, in order, then the last one again saying end-of-stream. */
	assert_int_equal(seen, c->frames + 1);
	for (unsigned i = 0; i < (unsigned)c->frames; i++)
		assert_int_equal(numbers[i], i);
	assert_int_equal(numbers[c->frames], c->frames - 1);
	assert_int_equal(wrong, 0);
	assert_int_equal(torn, 0);
	/* capture_ns is the buffer's clock time: the system clock reads CLOCK_MONOTONIC. */
	assert_int_equal(log.count, c->frames);
	for (unsigned i = 0; i < log.count; i++)
		assert_int_equal(capture[i], log.pts[i] + base_time);
	assert_int_equal(capture[c->frames], capture[c->frames - 1]);
	if (c->zero_copy) {
		assert_int_equal(in_place, c->frames);
		assert_int_equal(copied, 0);
	} else {
		assert_int_equal(in_place, 0);
		assert_int_equal(copied, c->frames);
	}
	assert_false(test_segment_exists(name));
	gst_test_frames_free(&reference);
}

static void nv12_frames_arrive_as_gstreamer_made_them(void **state)
{
	const struct sink_case c = { "NV12",
		                     320,
		                     240,
		                     120,
		                     "bt709",
		                     NULL,
		                     VSHM_COLOR_MATRIX_BT709,
		                     VSHM_COLOR_RANGE_LIMITED,
		                     true };
	run_case(&c);
}

static void i420_frames_arrive_as_gstreamer_made_them(void **state)
{
	const struct sink_case c = { "I420",
		                     320,
		                     240,
		                     120,
		                     "bt601",
		                     NULL,
		                     VSHM_COLOR_MATRIX_BT601,
		                     VSHM_COLOR_RANGE_LIMITED,
		                     true };
	run_case(&c);
}

static void rgba_frames_arrive_as_gstreamer_made_them(void **state)
{
	const struct sink_case c = { "RGBA",
		                     320,
		                     240,
		                     120,
		                     NULL,
		                     NULL,
		                     VSHM_COLOR_MATRIX_UNSPECIFIED,
		                     VSHM_COLOR_RANGE_FULL,
		                     true };
	run_case(&c);
}

/* An odd size: the ring's 64-byte strides are not GStreamer's, so videotestsrc must
 * draw into the lent slots by their GstVideoMeta. Full-range BT.2020 for the colour. */
static void odd_size_is_drawn_by_the_slots_layout(void **state)
{
	const struct sink_case c = { "I420",
		                     161,
		                     97,
		                     60,
		                     "1:6:5:7",
		                     NULL,
		                     VSHM_COLOR_MATRIX_BT2020,
		                     VSHM_COLOR_RANGE_FULL,
		                     true };
	run_case(&c);
}

/* The last sample holds each buffer past render, so the slot cannot be published in
 * place: every frame is copied, row by row between different strides. */
static void held_buffers_are_copied(void **state)
{
	const struct sink_case c = { "NV12",
		                     161,
		                     97,
		                     60,
		                     NULL,
		                     "enable-last-sample=true",
		                     VSHM_COLOR_MATRIX_BT601,
		                     VSHM_COLOR_RANGE_LIMITED,
		                     false };
	run_case(&c);
}

/* The first error message of a pipeline that fails, as text. */
static char *failure_of(const char *launch)
{
	GstMessage *error = gst_test_run(launch, 10000);
	if (!error)
		fail_msg("'%s' did not fail", launch);
	char *text = gst_test_error_text(error);
	gst_message_unref(error);
	return text;
}

static void bad_name_fails_with_the_librarys_sentence(void **state)
{
	char *text = failure_of("videotestsrc num-buffers=1 ! vshmsink stream-name=no/slash");
	print_message("%s\n", text);
	assert_non_null(strstr(text, "stream name 'no/slash' contains '/'"));
	g_free(text);
	text = failure_of("videotestsrc num-buffers=1 ! vshmsink stream-name=\"\"");
	assert_non_null(strstr(text, "stream name is empty"));
	g_free(text);
}

static void name_of_a_live_writer_fails_with_its_pid(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-busy");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 16, 16, 3);
	char *launch =
	    g_strdup_printf("videotestsrc num-buffers=1 ! vshmsink stream-name=%s", name);
	char *text = failure_of(launch);
	g_free(launch);
	print_message("%s\n", text);
	char pid[64];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_non_null(strstr(text, name));
	assert_non_null(strstr(text, pid));
	g_free(text);
	/* The other writer's stream is left alone. */
	assert_true(test_segment_exists(name));
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

/* Under a clock that is not CLOCK_MONOTONIC, capture_ns is still on CLOCK_MONOTONIC. */
static void capture_time_is_monotonic_under_any_clock(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-clock");
	char *launch = g_strdup_printf("videotestsrc num-buffers=10 ! "
	                               "video/x-raw,width=64,height=64,framerate=30/1 ! "
	                               "vshmsink stream-name=%s",
	                               name);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstClock *clock =
	    g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type", GST_CLOCK_TYPE_REALTIME, NULL);
	gst_pipeline_use_clock(GST_PIPELINE(pipeline), clock);
	gst_test_set_state(pipeline, GST_STATE_PAUSED);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	unsigned checked = 0;
	bool end = false;
	while (!end) {
		assert_int_equal(vshm_reader_wait(reader, 5000), 0);
		struct vshm_frame frame;
		assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
		end = frame.flags & VSHM_FRAME_END_OF_STREAM;
		/* Realtime would be decades away from the monotonic publish time. */
		assert_true(frame.capture_ns <= frame.publish_ns);
		assert_true(frame.publish_ns - frame.capture_ns < GST_SECOND);
		vshm_reader_release(reader);
		checked++;
	}
	assert_null(gst_test_wait_end(pipeline, 10000));
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	gst_object_unref(clock);
	vshm_reader_detach(reader);
	assert_int_equal(checked, 11);
	assert_false(test_segment_exists(name));
}

int main(int argc, char **argv)
{
	gst_test_init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nv12_frames_arrive_as_gstreamer_made_them),
		cmocka_unit_test(i420_frames_arrive_as_gstreamer_made_them),
		cmocka_unit_test(rgba_frames_arrive_as_gstreamer_made_them),
		cmocka_unit_test(odd_size_is_drawn_by_the_slots_layout),
		cmocka_unit_test(held_buffers_are_copied),
		cmocka_unit_test(bad_name_fails_with_the_librarys_sentence),
		cmocka_unit_test(name_of_a_live_writer_fails_with_its_pid),
		cmocka_unit_test(capture_time_is_monotonic_under_any_clock),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	gst_deinit();
	return failures;
}

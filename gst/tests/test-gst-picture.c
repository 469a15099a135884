/*
 * What caps say of pixels beyond format and size, both ways through the ring:
 *  - vshmsrc gives the frames' sample aspect ratio as pixel-aspect-ratio and their
 *    primaries and transfer in colorimetry (an HDR file stays HDR), for P010 and I444
 *    too (P010_10LE, Y444);
 *  - vshmsink puts pixel-aspect-ratio and colorimetry (BT.2100 HLG, P3) into every
 *    frame, and takes P010_10LE and Y444, with GStreamer's own pixels.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <gst/app/gstappsink.h>

#include "gst-test.h"
#include "program-util.h"
#include "test-util.h"

struct src_case {
	const char *sample;
	const char *format; /* GStreamer's name */
	int width, height, aspect_numerator, aspect_denominator;
	GstVideoColorPrimaries primaries;
	GstVideoTransferFunction transfer;
};

/* vshm-capture plays the sample; vshmsrc's first buffer's caps must describe it. */
static void src_caps_describe(const struct src_case *c)
{
	char name[64], path[512];
	test_unique_name(name, sizeof(name), "gst-picture");
	snprintf(path, sizeof(path), "%s/%s", program_path("VSHM_SAMPLES"), c->sample);
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 path,
		                 "--loop",
		                 "--quiet",
		                 "--name",
		                 name,
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	vshm_reader_detach(reader);

	char *launch =
	    g_strdup_printf("vshmsrc stream-name=%s num-buffers=2 ! appsink name=sink", name);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *sink = gst_test_element(pipeline, "sink");
	gst_test_set_state(pipeline, GST_STATE_PLAYING);
	GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND);
	assert_non_null(sample);
	GstVideoInfo info;
	assert_true(gst_video_info_from_caps(&info, gst_sample_get_caps(sample)));
	char *caps = gst_caps_to_string(gst_sample_get_caps(sample));
	print_message("%s: %s\n", c->sample, caps);
	g_free(caps);
	assert_string_equal(gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)), c->format);
	assert_int_equal(GST_VIDEO_INFO_WIDTH(&info), c->width);
	assert_int_equal(GST_VIDEO_INFO_HEIGHT(&info), c->height);
	assert_int_equal(GST_VIDEO_INFO_PAR_N(&info), c->aspect_numerator);
	assert_int_equal(GST_VIDEO_INFO_PAR_D(&info), c->aspect_denominator);
	assert_int_equal(info.colorimetry.primaries, c->primaries);
	assert_int_equal(info.colorimetry.transfer, c->transfer);
	gst_sample_unref(sample);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(pipeline);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
}

static void src_caps_carry_aspect_and_hdr(void **state)
{
	(void)state;
	static const struct src_case cases[] = {
		{ "anamorphic-16-9-h264.mp4", "I420", 180, 180, 16, 9,
		  GST_VIDEO_COLOR_PRIMARIES_SMPTE170M, GST_VIDEO_TRANSFER_BT601 },
		{ "hdr10-pq-hevc.mp4", "P010_10LE", 320, 180, 1, 1,
		  GST_VIDEO_COLOR_PRIMARIES_BT2020, GST_VIDEO_TRANSFER_SMPTE2084 },
		{ "hlg-vp9-10bit.webm", "P010_10LE", 320, 180, 1, 1,
		  GST_VIDEO_COLOR_PRIMARIES_BT2020, GST_VIDEO_TRANSFER_ARIB_STD_B67 },
		{ "testsrc2-h264-444.mp4", "Y444", 320, 180, 1, 1,
		  GST_VIDEO_COLOR_PRIMARIES_SMPTE170M, GST_VIDEO_TRANSFER_BT601 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		src_caps_describe(&cases[i]);
}

struct sink_case {
	const char *caps; /* after video/x-raw, */
	uint32_t format;
	struct vshm_ratio aspect;
	uint8_t matrix, range, primaries, transfer;
};

/* GStreamer's frames into the ring, every one, with what their caps say. */
static void sink_frames_carry(const struct sink_case *c)
{
	char source[256];
	snprintf(source, sizeof(source),
	         "videotestsrc num-buffers=5 pattern=smpte ! video/x-raw,width=64,height=48,"
	         "framerate=30/1,%s",
	         c->caps);
	struct gst_test_frames reference;
	gst_test_reference_frames(source, &reference);
	assert_int_equal(reference.count, 5);
	char name[64];
	test_unique_name(name, sizeof(name), "gst-picture");
	char *launch = g_strdup_printf("%s ! vshmsink stream-name=%s", source, name);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	gst_test_set_state(pipeline, GST_STATE_PAUSED);
	static const struct vshm_reader_options every_frame = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach(name, &every_frame);
	if (!reader)
		fail_msg("attach to %s: %s", name, vshm_error());
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	unsigned seen = 0;
	uint64_t wrong = 0;
	for (bool end = false; !end;) {
		assert_int_equal(vshm_reader_wait(reader, 5000), 0);
		struct vshm_frame frame;
		assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
		assert_int_equal(frame.format, c->format);
		assert_int_equal(frame.sample_aspect.numerator, c->aspect.numerator);
		assert_int_equal(frame.sample_aspect.denominator, c->aspect.denominator);
		assert_int_equal(frame.color_matrix, c->matrix);
		assert_int_equal(frame.color_range, c->range);
		assert_int_equal(frame.color_primaries, c->primaries);
		assert_int_equal(frame.color_transfer, c->transfer);
		end = frame.flags & VSHM_FRAME_END_OF_STREAM;
		if (!end)
			wrong += gst_test_compare(&reference, (unsigned)frame.frame_number,
			                          frame.format, frame.plane, frame.stride) != 0;
		assert_int_equal(vshm_reader_release(reader), 1);
		seen++;
	}
	assert_null(gst_test_wait_end(pipeline, 10000));
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	vshm_reader_detach(reader);
	gst_test_frames_free(&reference);
	print_message("%s: %u frames, %llu differ from GStreamer's\n", c->caps, seen,
	              (unsigned long long)wrong);
	assert_int_equal(seen, 6); /* five, then the last again saying end of stream */
	assert_int_equal(wrong, 0);
}

static void sink_frames_carry_aspect_and_hdr(void **state)
{
	(void)state;
	static const struct sink_case cases[] = {
		{ "format=P010_10LE,pixel-aspect-ratio=4/3,colorimetry=bt2100-hlg",
		  VSHM_FORMAT_P010,
		  { 4, 3 },
		  VSHM_COLOR_MATRIX_BT2020,
		  VSHM_COLOR_RANGE_LIMITED,
		  VSHM_COLOR_PRIMARIES_BT2020,
		  VSHM_COLOR_TRANSFER_HLG },
		{ "format=Y444,pixel-aspect-ratio=16/9,colorimetry=bt709",
		  VSHM_FORMAT_I444,
		  { 16, 9 },
		  VSHM_COLOR_MATRIX_BT709,
		  VSHM_COLOR_RANGE_LIMITED,
		  VSHM_COLOR_PRIMARIES_BT709,
		  VSHM_COLOR_TRANSFER_BT709 },
		{ "format=P010_10LE,colorimetry=bt2100-pq",
		  VSHM_FORMAT_P010,
		  { 1, 1 },
		  VSHM_COLOR_MATRIX_BT2020,
		  VSHM_COLOR_RANGE_LIMITED,
		  VSHM_COLOR_PRIMARIES_BT2020,
		  VSHM_COLOR_TRANSFER_PQ },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		sink_frames_carry(&cases[i]);
}

int main(int argc, char **argv)
{
	gst_test_init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(src_caps_carry_aspect_and_hdr),
		cmocka_unit_test(sink_frames_carry_aspect_and_hdr),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	gst_deinit();
	return failures;
}

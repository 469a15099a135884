/*
 * The plugin from the command line and next to vshm's own programs: gst-launch-1.0 -e
 * stops cleanly on Ctrl-C on either side of the ring (the sink's readers get the
 * end-of-stream frame), gst-inspect-1.0 documents every property, and a vshm filter
 * process works between vshmsink and vshmsrc.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gst/app/gstappsink.h>

#include "gst-test.h"
#include "program-util.h"
#include "test-util.h"

static void launch_e_stops_the_sink_cleanly_on_ctrl_c(void **state)
{
	char name[64], property[96];
	test_unique_name(name, sizeof(name), "gst-launch-sink");
	snprintf(property, sizeof(property), "stream-name=%s", name);
	char *argv[] = { (char *)program_path("VSHM_GST_LAUNCH"),
		         "-e",
		         "videotestsrc",
		         "is-live=true",
		         "!",
		         "video/x-raw,width=160,height=120,framerate=50/1",
		         "!",
		         "vshmsink",
		         property,
		         NULL };
	pid_t launch = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	struct vshm_frame frame;
	unsigned frames = 0;
	bool end = false;
	while (!end) {
		int result = vshm_reader_wait(reader, 5000);
		if (result != 0)
			fail_msg("waiting for frame %u: %d", frames, result);
		assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
		end = frame.flags & VSHM_FRAME_END_OF_STREAM;
		vshm_reader_release(reader);
		if (++frames == 10)
			kill(launch, SIGINT);
	}
	vshm_reader_detach(reader);
	/* -e turned Ctrl-C into EOS: the last frame said so, and the program ended well. */
	assert_int_equal(test_wait(launch, 10000), 0);
	assert_false(test_segment_exists(name));
}

/* Waits up to timeout_ms until the file at path holds text. */
static bool wait_for_text(const char *path, const char *text, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		size_t size = 0;
		char *content = (char *)program_read_file(path, &size);
		bool found = content && strstr(content, text);
		free(content);
		if (found)
			return true;
		test_sleep_us(20000);
	}
	return false;
}

static void launch_e_stops_the_source_cleanly_on_ctrl_c(void **state)
{
	char name[64], property[96];
	test_unique_name(name, sizeof(name), "gst-launch-src");
	snprintf(property, sizeof(property), "stream-name=%s", name);
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 "test",
		                 "--format",
		                 "nv12",
		                 "--size",
		                 "160x120",
		                 "--name",
		                 name,
		                 "--quiet",
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	vshm_reader_detach(vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL));
	char output[512];
	snprintf(output, sizeof(output), "%s/launch-src.txt", program_temporary_directory());
	char *argv[] = { (char *)program_path("VSHM_GST_LAUNCH"),
		         "-e",
		         "vshmsrc",
		         property,
		         "!",
		         "fakesink",
		         "silent=false",
		         "-v",
		         NULL };
	pid_t launch = program_start(argv, output, NULL);
	/* Ctrl-C once frames flow, however long gst-launch takes to start (a registry
	 * scan, a sanitizer's runtime): a fixed pause could end it before its first frame. */
	bool pushed = wait_for_text(output, "chain", 30000);
	kill(launch, SIGINT);
	assert_int_equal(test_wait(launch, 10000), 0); /* gst-launch -e: EOS, then exit 0 */
	assert_true(pushed);
	size_t size = 0;
	char *text = (char *)program_read_file(output, &size);
	assert_non_null(text);
	/* It had the stream's caps and pushed frames before it stopped. */
	assert_non_null(strstr(text, "format=(string)NV12, width=(int)160, height=(int)120"));
	assert_non_null(strstr(text, "chain"));
	free(text);
	kill(capture, SIGTERM);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGTERM);
	assert_false(test_segment_exists(name));
}

static void inspect_documents_every_property(void **state)
{
	static const char *const sink_properties[] = {
		"stream-name",   "slots",          "group", "frames-in-place",
		"frames-copied", "frames-dropped", NULL
	};
	static const char *const src_properties[] = {
		"stream-name", "timeout",          "copy", "eos-when-gone", "frames-pushed",
		"frames-torn", "frames-torn-late", NULL
	};
	const char *const *properties[] = { sink_properties, src_properties };
	const char *elements[] = { "vshmsink", "vshmsrc" };
	for (int e = 0; e < 2; e++) {
		char output[512];
		snprintf(output, sizeof(output), "%s/inspect-%s.txt", program_temporary_directory(),
		         elements[e]);
		char *argv[] = { (char *)program_path("VSHM_GST_INSPECT"), (char *)elements[e],
			         NULL };
		assert_int_equal(test_wait(program_start(argv, output, NULL), 20000), 0);
		size_t size = 0;
		char *text = (char *)program_read_file(output, &size);
		assert_non_null(text);
		for (const char *const *p = properties[e]; *p; p++) {
			/* "  name   : a description of more than a few words" */
			char needle[64];
			snprintf(needle, sizeof(needle), "\n  %s ", *p);
			char *at = strstr(text, needle);
			if (!at)
				fail_msg("gst-inspect-1.0 %s does not list %s", elements[e], *p);
			char *colon = strchr(at + 1, ':'), *end = strchr(at + 1, '\n');
			if (!colon || !end || end - colon < 30)
				fail_msg("gst-inspect-1.0 %s says too little about %s", elements[e],
				         *p);
		}
		free(text);
	}
}

/* videotestsrc -> vshmsink -> vshm-filter-invert -> vshmsrc -> appsink: GStreamer's own
 * frames, inverted, in order, ending with EOS. */
static void a_filter_process_works_between_sink_and_source(void **state)
{
	const char *source = "videotestsrc num-buffers=60 pattern=smpte horizontal-speed=3 ! "
	                     "video/x-raw,format=NV12,width=320,height=240,framerate=30/1";
	struct gst_test_frames reference;
	gst_test_reference_frames(source, &reference);
	for (unsigned i = 0; i < reference.count; i++)
		for (size_t b = 0; b < reference.frame_size; b++)
			reference.frames[i][b] = (uint8_t)(255 - reference.frames[i][b]);

	char input[64], output[64];
	test_unique_name(input, sizeof(input), "gst-filter-in");
	test_unique_name(output, sizeof(output), "gst-filter-out");
	char filter_path[512];
	snprintf(filter_path, sizeof(filter_path), "%s/vshm-filter-invert",
	         program_path("VSHM_FILTERS"));
	char *filter_argv[] = { filter_path, input, output, "--quiet", NULL };
	pid_t filter = program_start(filter_argv, NULL, NULL);

	char *launch = g_strdup_printf(
	    "vshmsrc stream-name=%s timeout=20000000000 ! appsink name=out sync=false", output);
	GstElement *reading = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *appsink = gst_test_element(reading, "out");
	gst_element_set_state(reading, GST_STATE_PLAYING);
	launch = g_strdup_printf("%s ! vshmsink stream-name=%s", source, input);
	GstElement *writing = gst_test_pipeline(launch);
	g_free(launch);
	gst_element_set_state(writing, GST_STATE_PLAYING);

	unsigned checked = 0;
	uint64_t wrong = 0, last = 0;
	GstSample *sample;
	while ((sample = gst_app_sink_try_pull_sample(GST_APP_SINK(appsink), 20 * GST_SECOND))) {
		GstBuffer *buffer = gst_sample_get_buffer(sample);
		GstVideoInfo info;
		assert_true(gst_video_info_from_caps(&info, gst_sample_get_caps(sample)));
		GstVideoFrame frame;
		assert_true(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
		uint8_t *planes[2] = { GST_VIDEO_FRAME_PLANE_DATA(&frame, 0),
			               GST_VIDEO_FRAME_PLANE_DATA(&frame, 1) };
		uint32_t strides[2] = { GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0),
			                GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 1) };
		last = GST_BUFFER_OFFSET(buffer);
		wrong += gst_test_compare(&reference, (unsigned)last, VSHM_FORMAT_NV12, planes,
		                          strides) != 0;
		checked++;
		gst_video_frame_unmap(&frame);
		gst_sample_unref(sample);
	}
	assert_true(gst_app_sink_is_eos(GST_APP_SINK(appsink)));
	assert_null(gst_test_wait_end(writing, 10000));
	gst_element_set_state(writing, GST_STATE_NULL);
	gst_element_set_state(reading, GST_STATE_NULL);
	gst_object_unref(appsink);
	gst_object_unref(writing);
	gst_object_unref(reading);
	/* The filter passed the end-of-stream frame on and stopped. */
	assert_int_equal(test_wait(filter, 10000), 0);
	print_message("%u inverted frames checked, %llu wrong, last %llu\n", checked,
	              (unsigned long long)wrong, (unsigned long long)last);
	assert_int_equal(wrong, 0);
	assert_true(checked >= 30);
	assert_int_equal(last, 59);
	assert_false(test_segment_exists(input));
	assert_false(test_segment_exists(output));
	gst_test_frames_free(&reference);
}

int main(int argc, char **argv)
{
	gst_test_init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(launch_e_stops_the_sink_cleanly_on_ctrl_c),
		cmocka_unit_test(launch_e_stops_the_source_cleanly_on_ctrl_c),
		cmocka_unit_test(inspect_documents_every_property),
		cmocka_unit_test(a_filter_process_works_between_sink_and_source),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	gst_deinit();
	return failures;
}

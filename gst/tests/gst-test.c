#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gst/app/gstappsink.h>
#include <vshm/vshm.h>

#include "gst-test.h"
#include "program-util.h"

void gst_test_init(int *argc, char ***argv)
{
	char registry[512];
	snprintf(registry, sizeof(registry), "%s/registry.bin", program_temporary_directory());
	setenv("GST_REGISTRY", registry, 1);
	setenv("GST_PLUGIN_PATH", program_path("VSHM_GST_PLUGIN_DIR"), 1);
	/* Scan plugins in this process, not in a helper: under the sanitizers the plugin
	 * can only be loaded into a process that has their runtime. */
	setenv("GST_REGISTRY_FORK", "no", 1);
	gst_init(argc, argv);
}

GstElement *gst_test_pipeline(const char *description)
{
	GError *error = NULL;
	GstElement *pipeline = gst_parse_launch(description, &error);
	if (!pipeline || error)
		fail_msg("cannot build '%s': %s", description, error ? error->message : "?");
	return pipeline;
}

GstElement *gst_test_element(GstElement *pipeline, const char *name)
{
	GstElement *element = gst_bin_get_by_name(GST_BIN(pipeline), name);
	if (!element)
		fail_msg("no element '%s' in the pipeline", name);
	return element;
}

void gst_test_set_state(GstElement *pipeline, GstState state)
{
	GstStateChangeReturn result = gst_element_set_state(pipeline, state);
	if (result == GST_STATE_CHANGE_ASYNC)
		result = gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND);
	if (result == GST_STATE_CHANGE_FAILURE) {
		GstMessage *error = gst_test_wait_end(pipeline, 1000);
		char *text = error ? gst_test_error_text(error) : g_strdup("no error message");
		fail_msg("cannot set the pipeline to %s: %s", gst_element_state_get_name(state),
		         text);
	}
	if (result == GST_STATE_CHANGE_ASYNC)
		fail_msg("the pipeline did not reach %s in 10 s",
		         gst_element_state_get_name(state));
}

GstMessage *gst_test_wait_end(GstElement *pipeline, int timeout_ms)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	GstMessage *message = gst_bus_timed_pop_filtered(
	    bus, (GstClockTime)timeout_ms * GST_MSECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	gst_object_unref(bus);
	if (!message)
		fail_msg("neither EOS nor an error within %d ms", timeout_ms);
	if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
		gst_message_unref(message);
		return NULL;
	}
	return message;
}

char *gst_test_error_text(GstMessage *error)
{
	GError *gerror = NULL;
	char *debug = NULL;
	gst_message_parse_error(error, &gerror, &debug);
	char *text = g_strdup_printf("%s (%s)", gerror->message, debug ? debug : "");
	g_error_free(gerror);
	g_free(debug);
	return text;
}

GstMessage *gst_test_run(const char *description, int timeout_ms)
{
	GstElement *pipeline = gst_test_pipeline(description);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	GstMessage *end = gst_test_wait_end(pipeline, timeout_ms);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	return end;
}

/* The ring's format for a GStreamer format, from the tests' own table. */
static uint32_t ring_format(GstVideoFormat format)
{
	switch (format) {
	case GST_VIDEO_FORMAT_NV12:
		return VSHM_FORMAT_NV12;
	case GST_VIDEO_FORMAT_I420:
		return VSHM_FORMAT_I420;
	case GST_VIDEO_FORMAT_RGBA:
		return VSHM_FORMAT_RGBA;
	case GST_VIDEO_FORMAT_GRAY8:
		return VSHM_FORMAT_GRAY8;
	case GST_VIDEO_FORMAT_YUY2:
		return VSHM_FORMAT_YUYV;
	case GST_VIDEO_FORMAT_P010_10LE:
		return VSHM_FORMAT_P010;
	case GST_VIDEO_FORMAT_Y444:
		return VSHM_FORMAT_I444;
	default:
		fail_msg("no ring format for %s in the tests", gst_video_format_to_string(format));
	}
	return VSHM_FORMAT_INVALID;
}

/* Rows and bytes per row of a plane, by libvshm's description of the format. */
static void plane_geometry(uint32_t format, uint32_t plane, uint32_t width, uint32_t height,
                           uint32_t *rows, uint32_t *row_bytes)
{
	struct vshm_format_plane description;
	assert_int_equal(vshm_format_plane(format, plane, &description), 0);
	*row_bytes = (width + description.horizontal_subsampling - 1) /
	             description.horizontal_subsampling * description.bytes_per_sample;
	*rows = (height + description.vertical_subsampling - 1) / description.vertical_subsampling;
}

void gst_test_reference_frames(const char *description, struct gst_test_frames *frames)
{
	char *launch = g_strdup_printf("%s ! appsink name=reference sync=false", description);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *sink = gst_test_element(pipeline, "reference");
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	memset(frames, 0, sizeof(*frames));
	unsigned capacity = 0;
	GstSample *sample;
	while ((sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND))) {
		if (frames->count == 0)
			assert_true(
			    gst_video_info_from_caps(&frames->info, gst_sample_get_caps(sample)));
		GstVideoFrame frame;
		assert_true(gst_video_frame_map(&frame, &frames->info,
		                                gst_sample_get_buffer(sample), GST_MAP_READ));
		uint32_t format = ring_format(GST_VIDEO_INFO_FORMAT(&frames->info));
		uint32_t width = GST_VIDEO_INFO_WIDTH(&frames->info);
		uint32_t height = GST_VIDEO_INFO_HEIGHT(&frames->info);
		size_t size = 0;
		for (uint32_t p = 0; p < vshm_format_plane_count(format); p++) {
			uint32_t rows, row_bytes;
			plane_geometry(format, p, width, height, &rows, &row_bytes);
			size += (size_t)rows * row_bytes;
		}
		uint8_t *packed = g_malloc(size), *at = packed;
		for (uint32_t p = 0; p < vshm_format_plane_count(format); p++) {
			uint32_t rows, row_bytes;
			plane_geometry(format, p, width, height, &rows, &row_bytes);
			const uint8_t *data = GST_VIDEO_FRAME_PLANE_DATA(&frame, p);
			for (uint32_t row = 0; row < rows; row++, at += row_bytes)
				memcpy(at,
				       data + (size_t)row * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p),
				       row_bytes);
		}
		gst_video_frame_unmap(&frame);
		gst_sample_unref(sample);
		if (frames->count == capacity) {
			capacity = capacity ? capacity * 2 : 64;
			frames->frames = g_realloc_n(frames->frames, capacity, sizeof(uint8_t *));
		}
		frames->frames[frames->count++] = packed;
		frames->frame_size = size;
	}
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(pipeline);
	assert_true(frames->count > 0);
}

void gst_test_frames_free(struct gst_test_frames *frames)
{
	for (unsigned i = 0; i < frames->count; i++)
		g_free(frames->frames[i]);
	g_free(frames->frames);
	memset(frames, 0, sizeof(*frames));
}

uint64_t gst_test_compare(const struct gst_test_frames *frames, unsigned n, uint32_t vshm_format,
                          uint8_t *const plane[], const uint32_t stride[])
{
	assert_true(n < frames->count);
	assert_int_equal(vshm_format, ring_format(GST_VIDEO_INFO_FORMAT(&frames->info)));
	uint32_t width = GST_VIDEO_INFO_WIDTH(&frames->info);
	uint32_t height = GST_VIDEO_INFO_HEIGHT(&frames->info);
	const uint8_t *expected = frames->frames[n];
	uint64_t wrong = 0;
	for (uint32_t p = 0; p < vshm_format_plane_count(vshm_format); p++) {
		uint32_t rows, row_bytes;
		plane_geometry(vshm_format, p, width, height, &rows, &row_bytes);
		for (uint32_t row = 0; row < rows; row++, expected += row_bytes) {
			const uint8_t *line = plane[p] + (size_t)row * stride[p];
			for (uint32_t byte = 0; byte < row_bytes; byte++) {
				if (line[byte] != expected[byte] && wrong++ == 0)
					print_error(
					    "frame %u plane %u row %u byte %u: %u, GStreamer "
					    "made %u\n",
					    n, p, row, byte, line[byte], expected[byte]);
			}
		}
	}
	return wrong;
}

/*
 * What the vshmsrc tests share (see src-probe.h): a pipeline from vshmsrc into a
 * fakesink whose probe checks every buffer against vshm-capture's test pattern, and
 * that writer started as a process.
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

/* Anonymous shared memory that forked children see: zero-filled, never freed. */
void *shared_alloc(size_t size)
{
	void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(memory != MAP_FAILED);
	return memory;
}

static uint8_t pattern_byte(uint32_t format, uint64_t n, uint32_t plane, uint32_t row,
                            uint32_t byte, uint32_t width, uint32_t height)
{
	if (format == VSHM_FORMAT_GRAY8)
		return pattern_gray(pattern_color_of(PATTERN_BARS, n, byte, row, width, height));
	if (plane == 0)
		return pattern_luma(pattern_color_of(PATTERN_BARS, n, byte, row, width, height));
	struct pattern_rgb c =
	    pattern_color_of(PATTERN_BARS, n, (byte / 2) * 2, row * 2, width, height);
	return byte % 2 ? pattern_chroma_v(c) : pattern_chroma_u(c);
}

/* True if address lies in a mapping of the file path in this process. */
static bool mapped_from(const void *address, const char *path)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	if (!maps)
		return false;
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long start, end;
		if (strstr(line, path) && sscanf(line, "%lx-%lx", &start, &end) == 2)
			found = (unsigned long)address >= start && (unsigned long)address < end;
	}
	fclose(maps);
	return found;
}

static GstPadProbeReturn check_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct seen *seen = data;
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	GstCaps *caps = gst_pad_get_current_caps(pad);
	GstVideoInfo video;
	bool ok = caps && gst_video_info_from_caps(&video, caps);
	unsigned wrong = 0;
	bool wrapped = true;
	GstVideoFrame frame;
	if (ok && seen->format && gst_video_frame_map(&frame, &video, buffer, GST_MAP_READ)) {
		uint64_t n = GST_BUFFER_OFFSET(buffer);
		uint32_t width = GST_VIDEO_INFO_WIDTH(&video),
		         height = GST_VIDEO_INFO_HEIGHT(&video);
		for (uint32_t p = 0; p < GST_VIDEO_FRAME_N_PLANES(&frame); p++) {
			const uint8_t *pixels = GST_VIDEO_FRAME_PLANE_DATA(&frame, p);
			uint32_t rows = p == 0 ? height : (height + 1) / 2;
			uint32_t bytes = p == 0 ? width : (width + 1) / 2 * 2;
			for (uint32_t row = 0; row < rows; row++)
				for (uint32_t byte = 0; byte < bytes; byte++)
					wrong +=
					    pixels[(size_t)row *
					               GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p) +
					           byte] != pattern_byte(seen->format, n, p, row,
					                                 byte, width, height);
		}
		if (seen->mapping)
			wrapped =
			    mapped_from(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0), seen->mapping) &&
			    GST_MEMORY_IS_READONLY(gst_buffer_peek_memory(buffer, 0)) &&
			    GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0) % 64 == 0;
		gst_video_frame_unmap(&frame);
	}
	g_mutex_lock(&seen->lock);
	if (!ok)
		seen->wrong++;
	if (wrong)
		seen->wrong++;
	if (!wrapped)
		seen->not_wrapped++;
	uint64_t offset = GST_BUFFER_OFFSET(buffer);
	if (seen->buffers == 0)
		seen->first_offset = offset;
	else if (offset < seen->last_offset)
		seen->restarts++;
	else if (seen->restarts)
		seen->after_restart++;
	seen->last_offset = offset;
	GstClockTime pts = GST_BUFFER_PTS(buffer);
	if (!GST_CLOCK_TIME_IS_VALID(pts) || (seen->buffers > 0 && pts <= seen->last_pts))
		seen->pts_not_rising++;
	seen->last_pts = pts;
	seen->buffers++;
	if (caps &&
	    (seen->caps_count == 0 || !gst_caps_is_equal(caps, seen->caps[seen->caps_count - 1])) &&
	    seen->caps_count < G_N_ELEMENTS(seen->caps))
		seen->caps[seen->caps_count++] = gst_caps_ref(caps);
	g_mutex_unlock(&seen->lock);
	if (caps)
		gst_caps_unref(caps);
	if (seen->delay_us)
		g_usleep(seen->delay_us);
	return GST_PAD_PROBE_OK;
}

unsigned buffers_seen(struct seen *seen)
{
	g_mutex_lock(&seen->lock);
	unsigned buffers = seen->buffers;
	g_mutex_unlock(&seen->lock);
	return buffers;
}

void seen_clear(struct seen *seen)
{
	for (unsigned i = 0; i < seen->caps_count; i++)
		gst_caps_unref(seen->caps[i]);
	g_mutex_clear(&seen->lock);
}

/* fakesink does not read GstVideoMeta; this says it does, as most video elements do. */
static GstPadProbeReturn accept_video_meta(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	GstQuery *query = GST_PAD_PROBE_INFO_QUERY(info);
	if (GST_QUERY_TYPE(query) == GST_QUERY_ALLOCATION)
		gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	return GST_PAD_PROBE_OK;
}

GstElement *probed_pipeline(const char *name, const char *options, GstPadProbeCallback probe,
                            void *data, bool lends)
{
	char *launch = g_strdup_printf("vshmsrc name=src stream-name=%s %s ! fakesink name=sink",
	                               name, options);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *sink = gst_test_element(pipeline, "sink");
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, probe, data, NULL);
	if (lends)
		gst_pad_add_probe(pad,
		                  GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM | GST_PAD_PROBE_TYPE_PUSH,
		                  accept_video_meta, NULL, NULL);
	gst_object_unref(pad);
	gst_object_unref(sink);
	return pipeline;
}

GstElement *reading_pipeline(const char *name, const char *options, struct seen *seen)
{
	return probed_pipeline(name, options, check_buffer, seen, seen->mapping != NULL);
}

guint64 counter(GstElement *pipeline, const char *property)
{
	GstElement *src = gst_test_element(pipeline, "src");
	guint64 value = 0;
	g_object_get(src, property, &value, NULL);
	gst_object_unref(src);
	return value;
}

pid_t start_capture(const char *name, const char *format, const char *size, const char *frames)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"), "test", "--format", (char *)format,
		         "--size", (char *)size, "--fps", "100",
		         /* Slots to spare for copy=false (see gst/README.md): vshmsrc holds two
		          * frames at most, the writer needs the latest and one to fill. */
		         "--slots", "5", "--name", (char *)name, "--quiet",
		         frames ? "--frames" : NULL, (char *)frames, NULL };
	return program_start(argv, NULL, NULL);
}

/* Waits up to timeout_ms until check(seen) holds. */
bool wait_for(struct seen *seen, bool (*check)(struct seen *seen), int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		g_mutex_lock(&seen->lock);
		bool done = check(seen);
		g_mutex_unlock(&seen->lock);
		if (done)
			return true;
		test_sleep_us(20000);
	}
	return false;
}

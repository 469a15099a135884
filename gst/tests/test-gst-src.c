/*
 * vshmsrc reading real writers: vshm-capture's test pattern arrives with the ring's
 * format as caps and every pixel right; frames a writer overwrites during the copy are
 * dropped, never pushed; a format change renegotiates; a writer killed with SIGKILL is
 * followed to its successor, or ends the stream with eos-when-gone; copy=false pushes
 * the slot itself; bad settings fail with libvshm's sentence.
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
#include "test-util.h"

/* Anonymous shared memory that forked children see: zero-filled, never freed. */
static void *shared_alloc(size_t size)
{
	void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(memory != MAP_FAILED);
	return memory;
}

/* What a probe on the fakesink saw; written by the streaming thread, read under lock. */
struct seen {
	GMutex lock;
	uint32_t format; /* the ring's format the test expects, for the pixel check */
	unsigned buffers, wrong, not_wrapped;
	uint64_t first_offset, last_offset;
	unsigned restarts; /* frame numbers that went back: a new writer */
	unsigned after_restart;
	GstCaps *caps[8];
	unsigned caps_count;
	const char *mapping; /* with copy=false: the /dev/shm file the data must lie in */
	unsigned delay_us;   /* a slow sink: time each buffer takes */
	GstClockTime last_pts;
	unsigned pts_not_rising; /* buffers whose PTS did not come after the one before */
};

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

static unsigned buffers_seen(struct seen *seen)
{
	g_mutex_lock(&seen->lock);
	unsigned buffers = seen->buffers;
	g_mutex_unlock(&seen->lock);
	return buffers;
}

static void seen_clear(struct seen *seen)
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

/* "vshmsrc name=src stream-name=NAME OPTIONS ! fakesink name=sink", probed. */
static GstElement *reading_pipeline(const char *name, const char *options, struct seen *seen)
{
	char *launch = g_strdup_printf("vshmsrc name=src stream-name=%s %s ! fakesink name=sink",
	                               name, options);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *sink = gst_test_element(pipeline, "sink");
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, check_buffer, seen, NULL);
	if (seen->mapping)
		gst_pad_add_probe(pad,
		                  GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM | GST_PAD_PROBE_TYPE_PUSH,
		                  accept_video_meta, NULL, NULL);
	gst_object_unref(pad);
	gst_object_unref(sink);
	return pipeline;
}

static guint64 counter(GstElement *pipeline, const char *property)
{
	GstElement *src = gst_test_element(pipeline, "src");
	guint64 value = 0;
	g_object_get(src, property, &value, NULL);
	gst_object_unref(src);
	return value;
}

static pid_t start_capture(const char *name, const char *format, const char *size,
                           const char *frames)
{
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"), "test", "--format", (char *)format,
		         "--size", (char *)size, "--fps", "100",
		         /* Slots to spare for copy=false (see gst/README.md): vshmsrc holds two
		          * frames at most, the writer needs the latest and one to fill. */
		         "--slots", "5", "--name", (char *)name, "--quiet",
		         frames ? "--frames" : NULL, (char *)frames, NULL };
	return program_start(argv, NULL, NULL);
}

static void capture_pattern_arrives_with_the_rings_caps(const char *format, uint32_t ring_format,
                                                        const char *options)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-src");
	struct seen seen = { .format = ring_format };
	g_mutex_init(&seen.lock);
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/vshm.%s", name);
	if (strstr(options, "copy=false"))
		seen.mapping = path;
	GstElement *pipeline = reading_pipeline(name, options, &seen);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	pid_t capture = start_capture(name, format, "161x97", "150");
	GstMessage *error = gst_test_wait_end(pipeline, 20000);
	if (error)
		fail_msg("%s", gst_test_error_text(error));
	assert_int_equal(test_wait(capture, 10000), 0);
	guint64 pushed = counter(pipeline, "frames-pushed");
	guint64 torn_late = counter(pipeline, "frames-torn-late");
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	print_message("%s %s: %u buffers, %u wrong, last %llu, %llu torn while held\n", format,
	              options, seen.buffers, seen.wrong, (unsigned long long)seen.last_offset,
	              (unsigned long long)torn_late);

	assert_int_equal(seen.caps_count, 1);
	GstVideoInfo info;
	assert_true(gst_video_info_from_caps(&info, seen.caps[0]));
	assert_string_equal(gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)),
	                    ring_format == VSHM_FORMAT_NV12 ? "NV12" : "GRAY8");
	assert_int_equal(GST_VIDEO_INFO_WIDTH(&info), 161);
	assert_int_equal(GST_VIDEO_INFO_HEIGHT(&info), 97);
	assert_int_equal(GST_VIDEO_INFO_FPS_N(&info), 100);
	assert_int_equal(GST_VIDEO_INFO_FPS_D(&info), 1);
	assert_int_equal(seen.wrong, 0);
	assert_int_equal(seen.not_wrapped, 0);
	assert_int_equal(torn_late, 0);
	assert_int_equal(pushed, seen.buffers);
	assert_true(seen.buffers >= 30);
	/* The writer's last frame says end-of-stream: the source ended after it. */
	assert_int_equal(seen.last_offset, 149);
	assert_false(test_segment_exists(name));
	seen_clear(&seen);
}

static void nv12_pattern_arrives_whole(void **state)
{
	capture_pattern_arrives_with_the_rings_caps("nv12", VSHM_FORMAT_NV12, "");
}

static void gray8_pattern_arrives_whole(void **state)
{
	capture_pattern_arrives_with_the_rings_caps("gray8", VSHM_FORMAT_GRAY8, "");
}

/* With copy=false the buffers are the slots themselves, read-only, laid out by the
 * ring's 64-byte strides through GstVideoMeta (for a width of 161, GStreamer's own
 * stride would be 164), when downstream reads GstVideoMeta. */
static void copy_false_pushes_the_slot_itself(void **state)
{
	capture_pattern_arrives_with_the_rings_caps("nv12", VSHM_FORMAT_NV12, "copy=false");
}

/* Tearing: a writer that overwrites frames while vshmsrc copies them. */
#define TEAR_SIZE  1024 /* GRAY8 1024x1024: 256 pattern pages */
#define TEAR_BYTES ((size_t)TEAR_SIZE * TEAR_SIZE)
#define TEAR_SALT  0x9e57

struct tear_writer {
	char name[64];
	_Atomic int stop;
	_Atomic int ready;
};

static int tear_writer_main(void *argument)
{
	struct tear_writer *shared = argument;
	struct vshm_writer *writer =
	    test_writer_create(shared->name, VSHM_FORMAT_GRAY8, TEAR_SIZE, TEAR_SIZE, 3);
	atomic_store(&shared->ready, 1);
	for (uint64_t n = 1; !atomic_load(&shared->stop); n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, TEAR_SIZE, TEAR_SIZE, &frame) < 0)
			return 1;
		struct test_pattern pattern;
		test_pattern_begin(&pattern, n, TEAR_SALT);
		for (size_t page = 0; page < TEAR_BYTES / TEST_PATTERN_PAGE_SIZE; page++)
			test_pattern_fill_page(&pattern, frame.plane[0], TEAR_BYTES, page);
		test_pattern_seal(&pattern, frame.plane[0], TEAR_BYTES);
		frame.frame_number = n;
		vshm_writer_publish(writer, &frame);
	}
	vshm_writer_destroy(writer);
	return 0;
}

static _Atomic unsigned tear_checked, tear_bad;

static GstPadProbeReturn check_tear_pattern(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	GstMapInfo map;
	if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
		atomic_fetch_add(&tear_bad, 1);
		return GST_PAD_PROBE_OK;
	}
	if (map.size < TEAR_BYTES ||
	    test_pattern_check(map.data, TEAR_BYTES, GST_BUFFER_OFFSET(buffer), TEAR_SALT) !=
	        TEST_PATTERN_OK)
		atomic_fetch_add(&tear_bad, 1);
	atomic_fetch_add(&tear_checked, 1);
	gst_buffer_unmap(buffer, &map);
	return GST_PAD_PROBE_OK;
}

static void torn_frames_are_dropped_never_pushed(void **state)
{
	struct tear_writer *shared = shared_alloc(sizeof(*shared));
	test_unique_name(shared->name, sizeof(shared->name), "gst-tear");
	pid_t writer = test_fork_tied(tear_writer_main, shared);
	while (!atomic_load(&shared->ready))
		test_sleep_us(1000);
	/* A reader that holds one slot for good: with three slots the writer then has to
	 * overwrite the one vshmsrc is copying from, now and then. */
	struct vshm_reader *hog = vshm_reader_attach_wait(shared->name, NULL, 5000, NULL, NULL);
	assert_non_null(hog);
	struct vshm_frame held;
	assert_int_equal(vshm_reader_wait(hog, 5000), 0);
	assert_int_equal(vshm_reader_acquire(hog, &held), 0);

	char *launch =
	    g_strdup_printf("vshmsrc name=src stream-name=%s ! fakesink name=sink", shared->name);
	GstElement *pipeline = gst_test_pipeline(launch);
	g_free(launch);
	GstElement *sink = gst_test_element(pipeline, "sink");
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, check_tear_pattern, NULL, NULL);
	gst_object_unref(pad);
	gst_object_unref(sink);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	uint64_t deadline = vshm_now_ns() + 30 * UINT64_C(1000000000);
	guint64 torn = 0;
	while (vshm_now_ns() < deadline && (torn < 3 || atomic_load(&tear_checked) < 50)) {
		test_sleep_us(50000);
		torn = counter(pipeline, "frames-torn");
	}
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	atomic_store(&shared->stop, 1);
	vshm_reader_release(hog);
	vshm_reader_detach(hog);
	assert_int_equal(test_wait(writer, 10000), 0);
	print_message("%u frames pushed and checked, %u bad; %llu torn copies dropped\n",
	              atomic_load(&tear_checked), atomic_load(&tear_bad), (unsigned long long)torn);
	assert_int_equal(atomic_load(&tear_bad), 0);
	assert_true(atomic_load(&tear_checked) >= 50);
	assert_true(torn >= 3);
	assert_false(test_segment_exists(shared->name));
}

/* A writer that changes format twice, the second time to frames larger than its slots. */
struct phase {
	uint32_t format, width, height;
};
static const struct phase phases[] = {
	{ VSHM_FORMAT_NV12, 320, 240 },
	{ VSHM_FORMAT_RGBA, 640, 480 },
	{ VSHM_FORMAT_GRAY8, 100, 50 },
};
#define PHASE_FRAMES 20

struct changing_writer {
	char name[64];
};

static int changing_writer_main(void *argument)
{
	struct changing_writer *shared = argument;
	struct vshm_writer *writer =
	    test_writer_create(shared->name, VSHM_FORMAT_NV12, 320, 240, 3);
	/* Start once the source is there, so that it can see every phase. */
	struct vshm_writer_stats stats;
	for (int i = 0; i < 1000; i++) {
		vshm_writer_get_stats(writer, &stats);
		if (stats.readers_attached > 0)
			break;
		vshm_writer_scan_readers(writer);
		test_sleep_us(10000);
	}
	uint64_t n = 0;
	for (size_t p = 0; p < G_N_ELEMENTS(phases); p++) {
		for (int i = 0; i < PHASE_FRAMES; i++, n++) {
			struct vshm_frame frame;
			if (vshm_writer_begin(writer, phases[p].format, phases[p].width,
			                      phases[p].height, &frame) < 0)
				return 1;
			for (uint32_t plane = 0; plane < frame.plane_count; plane++)
				memset(frame.plane[plane], (int)(n * 3 + plane),
				       frame.plane_size[plane]);
			frame.frame_number = n;
			if (p + 1 == G_N_ELEMENTS(phases) && i + 1 == PHASE_FRAMES)
				frame.flags = VSHM_FRAME_END_OF_STREAM;
			vshm_writer_publish(writer, &frame);
			test_sleep_us(10000);
		}
	}
	vshm_writer_destroy(writer);
	return 0;
}

static _Atomic unsigned change_checked, change_bad;

/* Each buffer has the caps of its phase and the bytes its writer put in. */
static GstPadProbeReturn check_phase(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	uint64_t n = GST_BUFFER_OFFSET(buffer);
	const struct phase *phase = &phases[MIN(n / PHASE_FRAMES, G_N_ELEMENTS(phases) - 1)];
	GstCaps *caps = gst_pad_get_current_caps(pad);
	GstVideoInfo video;
	GstVideoFrame frame;
	bool good = caps && gst_video_info_from_caps(&video, caps) &&
	            GST_VIDEO_INFO_WIDTH(&video) == (int)phase->width &&
	            GST_VIDEO_INFO_HEIGHT(&video) == (int)phase->height &&
	            GST_VIDEO_INFO_N_PLANES(&video) == vshm_format_plane_count(phase->format) &&
	            gst_video_frame_map(&frame, &video, buffer, GST_MAP_READ);
	if (good) {
		for (uint32_t p = 0; p < GST_VIDEO_FRAME_N_PLANES(&frame); p++) {
			const uint8_t *pixels = GST_VIDEO_FRAME_PLANE_DATA(&frame, p);
			good = good && pixels[0] == (uint8_t)(n * 3 + p);
		}
		gst_video_frame_unmap(&frame);
	}
	if (caps)
		gst_caps_unref(caps);
	atomic_fetch_add(good ? &change_checked : &change_bad, 1);
	return GST_PAD_PROBE_OK;
}

static void format_change_renegotiates(void **state)
{
	struct changing_writer *shared = shared_alloc(sizeof(*shared));
	test_unique_name(shared->name, sizeof(shared->name), "gst-change");
	struct seen seen = { 0 };
	g_mutex_init(&seen.lock);
	GstElement *pipeline = reading_pipeline(shared->name, "timeout=10000000000", &seen);
	GstElement *sink = gst_test_element(pipeline, "sink");
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, check_phase, NULL, NULL);
	gst_object_unref(pad);
	gst_object_unref(sink);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	pid_t writer = test_fork_tied(changing_writer_main, shared);
	GstMessage *error = gst_test_wait_end(pipeline, 30000);
	if (error)
		fail_msg("%s", gst_test_error_text(error));
	assert_int_equal(test_wait(writer, 10000), 0);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	print_message("%u buffers in %u caps, %u checked, %u bad, last %llu\n", seen.buffers,
	              seen.caps_count, atomic_load(&change_checked), atomic_load(&change_bad),
	              (unsigned long long)seen.last_offset);
	assert_int_equal(atomic_load(&change_bad), 0);
	assert_int_equal(seen.caps_count, 3);
	static const char *const formats[] = { "NV12", "RGBA", "GRAY8" };
	for (unsigned i = 0; i < 3; i++) {
		GstVideoInfo info;
		assert_true(gst_video_info_from_caps(&info, seen.caps[i]));
		assert_string_equal(gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)),
		                    formats[i]);
		assert_int_equal(GST_VIDEO_INFO_WIDTH(&info), phases[i].width);
	}
	assert_int_equal(seen.last_offset, G_N_ELEMENTS(phases) * PHASE_FRAMES - 1);
	assert_true(atomic_load(&change_checked) >= 30);
	assert_false(test_segment_exists(shared->name));
	seen_clear(&seen);
}

/* Waits up to timeout_ms until check(seen) holds. */
static bool wait_for(struct seen *seen, bool (*check)(struct seen *seen), int timeout_ms)
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
		cmocka_unit_test(nv12_pattern_arrives_whole),
		cmocka_unit_test(gray8_pattern_arrives_whole),
		cmocka_unit_test(copy_false_pushes_the_slot_itself),
		cmocka_unit_test(torn_frames_are_dropped_never_pushed),
		cmocka_unit_test(format_change_renegotiates),
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

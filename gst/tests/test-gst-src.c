/*
 * What vshmsrc pushes from real writers: vshm-capture's test pattern arrives with the
 * ring's format as caps and every pixel right; copy=false pushes the slot itself and
 * takes each frame once, skipping none; frames a writer overwrites during the copy are
 * dropped, never pushed; a format change renegotiates; a writer's frame interval comes
 * back as the rate it was. How it lives through writers that die, clocks, slow sinks
 * and bad settings is test-gst-src-life.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include "layout.h"
#include "pattern.h"
#include "program-util.h"
#include "src-probe.h"
#include "test-util.h"

static void capture_pattern_arrives_with_the_rings_caps(const char *format, uint32_t ring_format,
                                                        const char *options)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-src");
	struct seen seen = { .format = ring_format };
	g_mutex_init(&seen.lock);
	char path[128];
	test_segment_path(name, path, sizeof(path));
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

/* The sink keeps its last buffer until the next one comes (fakesink's default, made
 * sure of): with copy=false, one of the source's readers is always lent. */
static void keep_last_buffer(GstElement *pipeline)
{
	GstElement *sink = gst_test_element(pipeline, "sink");
	g_object_set(sink, "enable-last-sample", TRUE, NULL);
	gst_object_unref(sink);
}

/* The frames the stream's readers have taken, from their entries in the segment. */
static uint64_t frames_taken_by_readers(const char *name, unsigned *readers)
{
	size_t size;
	uint8_t *map = test_segment_map(name, &size);
	assert_non_null(map);
	const struct vshm_shm_header *header = (const struct vshm_shm_header *)map;
	const struct vshm_shm_reader *entries =
	    (const struct vshm_shm_reader *)(map + header->reader_table_offset);
	uint64_t taken = 0;
	*readers = 0;
	for (uint32_t i = 0; i < header->reader_capacity; i++) {
		if (atomic_load(&entries[i].state) != VSHM_READER_ACTIVE)
			continue;
		taken += atomic_load(&entries[i].frames_acquired);
		++*readers;
	}
	munmap(map, size);
	return taken;
}

/*
 * With copy=false, a sink keeps the last buffer until the next one comes, so the source
 * reads through two readers in turn. Each frame is taken once: the reader whose frame
 * came back waits for a newer one, instead of waking for the frame the other reader
 * took (and entering and leaving it on the writer's busiest cache line).
 */
static void copy_false_takes_each_frame_once(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-once");
	struct seen seen = { .format = VSHM_FORMAT_NV12 };
	g_mutex_init(&seen.lock);
	char path[128];
	test_segment_path(name, path, sizeof(path));
	seen.mapping = path;
	GstElement *pipeline = reading_pipeline(name, "copy=false", &seen);
	keep_last_buffer(pipeline);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	pid_t capture = start_capture(name, "nv12", "161x97", NULL);
	for (int waited = 0; waited < 20000 && buffers_seen(&seen) < 60; waited += 10)
		test_sleep_us(10000);
	unsigned readers;
	uint64_t taken = frames_taken_by_readers(name, &readers);
	guint64 pushed = counter(pipeline, "frames-pushed");
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	print_message("%llu frames pushed, %llu taken by %u readers, %u not lent\n",
	              (unsigned long long)pushed, (unsigned long long)taken, readers,
	              seen.not_wrapped);
	assert_true(pushed >= 60);
	assert_int_equal(seen.wrong, 0);
	assert_int_equal(seen.not_wrapped, 0);
	assert_int_equal(readers, 2); /* the source's two: one lent, one taking */
	/* Taken is read before pushed: each reader may hold one frame not pushed yet. */
	assert_true(taken <= pushed + 2);
	seen_clear(&seen);
}

/* A writer in this process whose next frame is published by the sink's probe, while
 * the frame before it is downstream. */
struct frame_by_frame {
	struct vshm_writer *writer;
	_Atomic unsigned buffers;
	_Atomic uint64_t offsets[3];
};

static void publish_gray(struct vshm_writer *writer, uint64_t n)
{
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame), 0);
	memset(frame.plane[0], (int)n, frame.plane_size[0]);
	frame.frame_number = n;
	vshm_writer_publish(writer, &frame);
}

static GstPadProbeReturn publish_the_next(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct frame_by_frame *state = data;
	unsigned n = atomic_fetch_add(&state->buffers, 1) + 1;
	if (n <= 3)
		atomic_store(&state->offsets[n - 1],
		             GST_BUFFER_OFFSET(GST_PAD_PROBE_INFO_BUFFER(info)));
	if (n < 3)
		publish_gray(state->writer, n + 1);
	return GST_PAD_PROBE_OK;
}

/*
 * The other side of taking each frame once: the reader whose frame came back takes the
 * frame published while the one before it was downstream, and does not skip it. Frame
 * 2 is published as frame 1 reaches the sink, frame 3 as frame 2 does, and no more: a
 * source that counted the newest frame as taken would wait for a fourth for ever.
 */
static void copy_false_takes_the_frame_published_meanwhile(void **state)
{
	char name[64];
	test_unique_name(name, sizeof(name), "gst-next");
	struct frame_by_frame *shared = g_new0(struct frame_by_frame, 1);
	shared->writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	publish_gray(shared->writer, 1);
	GstElement *pipeline = probed_pipeline(name, "copy=false", publish_the_next, shared, true);
	keep_last_buffer(pipeline);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	for (int waited = 0; waited < 5000 && atomic_load(&shared->buffers) < 3; waited += 10)
		test_sleep_us(10000);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	vshm_writer_destroy(shared->writer);
	print_message("%u buffers: frames %llu, %llu, %llu\n", atomic_load(&shared->buffers),
	              (unsigned long long)atomic_load(&shared->offsets[0]),
	              (unsigned long long)atomic_load(&shared->offsets[1]),
	              (unsigned long long)atomic_load(&shared->offsets[2]));
	assert_int_equal(atomic_load(&shared->buffers), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&shared->offsets[i]), i + 1);
	g_free(shared);
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

/*
 * The ring keeps a writer's frame interval in whole nanoseconds: vshmsrc's caps give back
 * the rate it came from (vshmsink stores 30000/1001 as 33366666 ns), not the nearest
 * fraction of a truncated interval (699999997/23333333 for 30/1).
 */
static void a_frame_interval_comes_back_as_its_framerate(void **state)
{
	static const struct {
		uint64_t interval_ns;
		int numerator, denominator;
	} rates[] = { { 33333333, 30, 1 },  { 33366666, 30000, 1001 }, { 41708333, 24000, 1001 },
		      { 40000000, 25, 1 },  { 16683333, 60000, 1001 }, { 33366700, 2997, 100 },
		      { 1000000000, 1, 1 }, { 123456789, 0, 0 } };
	for (size_t i = 0; i < G_N_ELEMENTS(rates); i++) {
		char name[64];
		test_unique_name(name, sizeof(name), "gst-src-rate");
		struct vshm_writer_options options = { .max_format = VSHM_FORMAT_GRAY8,
			                               .max_width = 16,
			                               .max_height = 16,
			                               .frame_interval_ns = rates[i].interval_ns };
		struct vshm_writer *writer = vshm_writer_create(name, &options);
		assert_non_null(writer);
		struct seen seen = { .format = VSHM_FORMAT_GRAY8 };
		g_mutex_init(&seen.lock);
		GstElement *pipeline = reading_pipeline(name, "", &seen);
		gst_element_set_state(pipeline, GST_STATE_PLAYING);
		struct vshm_writer_stats stats = { 0 };
		for (int waited = 0; waited < 10000 && !stats.readers_attached; waited += 10) {
			test_sleep_us(10000);
			vshm_writer_get_stats(writer, &stats);
		}
		struct vshm_frame frame;
		assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 16, 16, &frame), 0);
		memset(frame.plane[0], 0x80, 16 * frame.stride[0]);
		frame.flags |= VSHM_FRAME_END_OF_STREAM;
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
		GstMessage *error = gst_test_wait_end(pipeline, 20000);
		if (error)
			fail_msg("%s", gst_test_error_text(error));
		gst_element_set_state(pipeline, GST_STATE_NULL);
		gst_object_unref(pipeline);
		vshm_writer_destroy(writer);
		assert_int_equal(seen.caps_count, 1);
		GstVideoInfo info;
		assert_true(gst_video_info_from_caps(&info, seen.caps[0]));
		print_message("%llu ns: framerate %d/%d\n",
		              (unsigned long long)rates[i].interval_ns, GST_VIDEO_INFO_FPS_N(&info),
		              GST_VIDEO_INFO_FPS_D(&info));
		if (rates[i].numerator) {
			assert_int_equal(GST_VIDEO_INFO_FPS_N(&info), rates[i].numerator);
			assert_int_equal(GST_VIDEO_INFO_FPS_D(&info), rates[i].denominator);
		} else { /* no usual rate: the nearest fraction */
			double rate =
			    (double)GST_VIDEO_INFO_FPS_N(&info) / GST_VIDEO_INFO_FPS_D(&info);
			assert_true(fabs(rate * (double)rates[i].interval_ns / 1e9 - 1) < 1e-6);
		}
		seen_clear(&seen);
	}
}

int main(int argc, char **argv)
{
	gst_test_init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nv12_pattern_arrives_whole),
		cmocka_unit_test(gray8_pattern_arrives_whole),
		cmocka_unit_test(copy_false_pushes_the_slot_itself),
		cmocka_unit_test(copy_false_takes_each_frame_once),
		cmocka_unit_test(copy_false_takes_the_frame_published_meanwhile),
		cmocka_unit_test(torn_frames_are_dropped_never_pushed),
		cmocka_unit_test(format_change_renegotiates),
		cmocka_unit_test(a_frame_interval_comes_back_as_its_framerate),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	gst_deinit();
	return failures;
}

/*
 * vshmsrc against writers that do what libvshm's writer never does but the protocol
 * allows or a bug can: a frame whose planes lie in another order than the canonical one
 * (docs/protocol.md 4.3: readers take the layout from the metadata), and a segment cut
 * short while a frame of it is still downstream. What must hold: every buffer says what
 * it holds and no more, and nothing the writer does kills the process vshmsrc is in.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gst-test.h"
#include "layout.h"
#include "program-util.h"
#include "src-probe.h"
#include "test-util.h"

#define SIDE      64 /* NV12 64x64: Y 4096 bytes, UV 2048 */
#define Y_BYTE    0x21
#define UV_BYTE   0x9c
#define Y_SIZE    (SIDE * SIDE)
#define UV_SIZE   (SIDE * SIDE / 2)
#define FRAMES    20
#define WAIT_MS   10000
#define SECOND_US 1000000

struct reordering_writer {
	char name[64];
	_Atomic int published;
	_Atomic int stop;
};

/*
 * Publishes NV12 frames by hand, as a writer in another language may lay them out: the
 * chroma plane first, at offset 0, and the luma plane after it. Both fit the slot and
 * do not overlap, so a reader must accept them (protocol 4.3).
 */
static int reordering_writer_main(void *argument)
{
	struct reordering_writer *shared = argument;
	struct vshm_writer *writer =
	    test_writer_create(shared->name, VSHM_FORMAT_NV12, SIDE, SIDE, 4);
	size_t size;
	uint8_t *segment = test_segment_map(shared->name, &size);
	if (!segment)
		return 1;
	struct vshm_shm_header *header = (struct vshm_shm_header *)segment;
	struct vshm_shm_slot *slots = (struct vshm_shm_slot *)(segment + header->slot_table_offset);
	for (uint64_t n = 1; n <= FRAMES && !atomic_load(&shared->stop); n++) {
		uint32_t slot = (uint32_t)(n % header->slot_count);
		uint8_t *payload =
		    segment + header->payload_offset + slot * header->slot_payload_size;
		atomic_store(&slots[slot].sequence, 2 * n - 1);
		slots[slot].info = (struct vshm_shm_frame_info){
			.format = VSHM_FORMAT_NV12,
			.width = SIDE,
			.height = SIDE,
			.plane_count = 2,
			.stride = { SIDE, SIDE },
			.plane_offset = { UV_SIZE, 0 },
			.plane_size = { Y_SIZE, UV_SIZE },
			.frame_number = n,
			.capture_ns = vshm_now_ns(),
			.publish_ns = vshm_now_ns(),
		};
		memset(payload, UV_BYTE, UV_SIZE);
		memset(payload + UV_SIZE, Y_BYTE, Y_SIZE);
		atomic_store(&slots[slot].sequence, 2 * n);
		atomic_store(&header->latest, n << VSHM_LATEST_SLOT_BITS | slot);
		atomic_store(&shared->published, (int)n);
		test_sleep_us(20000);
	}
	while (!atomic_load(&shared->stop))
		test_sleep_us(10000);
	vshm_writer_destroy(writer);
	return 0;
}

struct lent_seen {
	_Atomic unsigned buffers, oversized, wrong;
	_Atomic size_t largest;
};

/* The buffer holds the frame's bytes and no others, and each plane where the meta says. */
static GstPadProbeReturn check_lent(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct lent_seen *seen = data;
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	gsize size = gst_buffer_get_size(buffer);
	if (size > atomic_load(&seen->largest))
		atomic_store(&seen->largest, size);
	if (size != Y_SIZE + UV_SIZE)
		atomic_fetch_add(&seen->oversized, 1);
	GstCaps *caps = gst_pad_get_current_caps(pad);
	GstVideoInfo video;
	GstVideoFrame frame;
	bool good = caps && gst_video_info_from_caps(&video, caps) &&
	            gst_video_frame_map(&frame, &video, buffer, GST_MAP_READ);
	if (good) {
		const uint8_t *y = GST_VIDEO_FRAME_PLANE_DATA(&frame, 0);
		const uint8_t *uv = GST_VIDEO_FRAME_PLANE_DATA(&frame, 1);
		good = y[0] == Y_BYTE && y[Y_SIZE - 1] == Y_BYTE && uv[0] == UV_BYTE &&
		       uv[UV_SIZE - 1] == UV_BYTE;
		gst_video_frame_unmap(&frame);
	}
	if (caps)
		gst_caps_unref(caps);
	if (!good)
		atomic_fetch_add(&seen->wrong, 1);
	atomic_fetch_add(&seen->buffers, 1);
	return GST_PAD_PROBE_OK;
}

/* Planes in another order are lent as they lie: a buffer over the frame's bytes only,
 * its GstVideoMeta finding each plane. Before, the chroma plane's offset from the luma
 * plane was taken as unsigned and the buffer claimed 2^64 - 4 KiB bytes. */
static void planes_in_any_order_are_lent_as_they_lie(void **state)
{
	struct reordering_writer *shared = shared_alloc(sizeof(*shared));
	test_unique_name(shared->name, sizeof(shared->name), "gst-order");
	pid_t writer = test_fork_tied(reordering_writer_main, shared);
	struct lent_seen *seen = g_new0(struct lent_seen, 1);
	GstElement *pipeline = probed_pipeline(shared->name, "copy=false", check_lent, seen, true);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	for (int waited = 0; waited < WAIT_MS && atomic_load(&seen->buffers) < 5; waited += 10)
		test_sleep_us(10000);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	atomic_store(&shared->stop, 1);
	assert_int_equal(test_wait(writer, 10000), 0);
	print_message("%u buffers, %u oversized (largest %zu bytes), %u wrong\n",
	              atomic_load(&seen->buffers), atomic_load(&seen->oversized),
	              atomic_load(&seen->largest), atomic_load(&seen->wrong));
	assert_true(atomic_load(&seen->buffers) >= 5);
	assert_int_equal(atomic_load(&seen->oversized), 0);
	assert_int_equal(atomic_load(&seen->wrong), 0);
	assert_false(test_segment_exists(shared->name));
	g_free(seen);
}

/* A probe that holds the first lent buffer until the test has cut the segment short,
 * then reads all of it, as any element downstream may. */
struct truncation {
	char name[64];
	_Atomic int holding, truncated;
	_Atomic unsigned buffers;
	_Atomic unsigned long long sum;
	char ending[512]; /* the child's: the error that ended the pipeline, or "(EOS)" */
};

static GstPadProbeReturn read_after_truncation(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct truncation *truncation = data;
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	if (atomic_fetch_add(&truncation->buffers, 1) == 0) {
		atomic_store(&truncation->holding, 1);
		for (int waited = 0; waited < WAIT_MS && !atomic_load(&truncation->truncated);
		     waited += 5)
			test_sleep_us(5000);
	}
	GstMapInfo map;
	if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
		unsigned long long sum = 0;
		for (gsize i = 0; i < map.size; i++)
			sum += map.data[i];
		atomic_fetch_add(&truncation->sum, sum);
		gst_buffer_unmap(buffer, &map);
	}
	return GST_PAD_PROBE_OK;
}

/* The pipeline, in a process of its own whose SIGBUS is the system's: cmocka catches
 * SIGBUS in the test process, which would hide a death, and a handler installed over
 * the guard's would take the faults from it. */
static int truncated_reader_main(void *argument)
{
	struct truncation *truncation = argument;
	signal(SIGBUS, SIG_DFL);
	GstElement *pipeline = probed_pipeline(truncation->name, "copy=false",
	                                       read_after_truncation, truncation, true);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	GstMessage *error = gst_test_wait_end(pipeline, WAIT_MS);
	char *text = error ? gst_test_error_text(error) : g_strdup("(EOS)");
	g_strlcpy(truncation->ending, text, sizeof(truncation->ending));
	g_free(text);
	if (error)
		gst_message_unref(error);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	return 0;
}

/* A writer's bug truncates the segment while a lent frame of it is downstream: the
 * process survives (the pixels read as zeros), and the source ends with an error that
 * names the stream, instead of SIGBUS killing whatever application it was loaded in.
 * It runs first: the process it forks must not inherit a guard already installed (and
 * since replaced by cmocka's handler) from an earlier test. */
static void truncated_segment_does_not_kill_the_process(void **state)
{
	struct truncation *truncation = shared_alloc(sizeof(*truncation));
	test_unique_name(truncation->name, sizeof(truncation->name), "gst-trunc");
	pid_t capture = start_capture(truncation->name, "gray8", "640x480", NULL);
	pid_t reader = test_fork_tied(truncated_reader_main, truncation);
	for (int waited = 0; waited < WAIT_MS && !atomic_load(&truncation->holding); waited += 10)
		test_sleep_us(10000);
	assert_true(atomic_load(&truncation->holding));
	char path[128];
	test_segment_path(truncation->name, path, sizeof(path));
	assert_int_equal(truncate(path, 4096), 0);
	atomic_store(&truncation->truncated, 1);
	int status = test_wait(reader, 2 * WAIT_MS);
	/* The writer touched its slots after the cut: it may have died of SIGBUS itself. */
	kill(capture, SIGKILL);
	test_wait(capture, 10000);
	test_segment_remove(truncation->name);
	print_message("the reader's process ended with %d (128 + SIGBUS is %d): %s\n", status,
	              128 + SIGBUS, truncation->ending);
	assert_int_equal(status, 0);
	assert_non_null(strstr(truncation->ending, truncation->name));
}

int main(int argc, char **argv)
{
	gst_test_init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(truncated_segment_does_not_kill_the_process),
		cmocka_unit_test(planes_in_any_order_are_lent_as_they_lie),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	gst_deinit();
	return failures;
}

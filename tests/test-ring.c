/*
 * Round trips through the ring in one process, what a reader gets: every pixel format,
 * latest-frame semantics (and polling for it), holds that the writer respects, torn
 * frames reported at release, format changes, growing to a bigger segment, cancel (all
 * begun frames or one), and the metadata publish writes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "layout.h"
#include "ring-frames.h"
#include "test-util.h"

static void every_format_round_trips_with_its_metadata(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "formats");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_RGBA, 643, 361, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	assert_int_equal(vshm_reader_acquire(reader, &got), -EAGAIN);

	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++) {
		uint32_t format = vshm_format_at(i);
		uint64_t n = 100 + i;
		ring_publish(writer, format, 643, 361, n, &frame);
		assert_int_equal(vshm_reader_wait(reader, 1000), 0);
		assert_int_equal(vshm_reader_acquire(reader, &got), 0);
		assert_int_equal(got.format, format);
		assert_int_equal(got.width, 643);
		assert_int_equal(got.height, 361);
		assert_int_equal(got.plane_count, frame.plane_count);
		assert_int_equal(got.frame_number, n);
		assert_int_equal(got.capture_ns, 1000 + n);
		assert_int_equal(got.publish_ns, frame.publish_ns);
		assert_true(got.publish_ns > 0);
		assert_int_equal(got.sequence, frame.sequence);
		assert_int_equal(got.slot, frame.slot);
		assert_int_equal(got.color_matrix, VSHM_COLOR_MATRIX_BT709);
		assert_int_equal(got.color_range, VSHM_COLOR_RANGE_FULL);
		for (uint32_t p = 0; p < got.plane_count; p++) {
			assert_int_equal(got.stride[p], frame.stride[p]);
			assert_int_equal(got.plane_size[p], frame.plane_size[p]);
		}
		ring_check_frame(&got, n);
		assert_int_equal(vshm_reader_release(reader), 1);
	}
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

static void reader_gets_the_latest_frame_and_one_at_a_time(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "latest");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got, again;
	assert_int_equal(vshm_reader_poll(reader), 0); /* nothing published yet */
	for (uint64_t n = 1; n <= 5; n++) {
		ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, n, &frame);
		assert_int_equal(vshm_reader_poll(reader), 1);
	}
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 5);
	assert_int_equal(got.sequence, 5);
	assert_int_equal(vshm_reader_poll(reader), 0); /* holding the newest */
	assert_int_equal(vshm_reader_acquire(reader, &again), -EBUSY);
	assert_int_equal(vshm_reader_release(reader), 1);
	assert_int_equal(vshm_reader_release(reader), -EINVAL);
	/* Nothing newer: poll says so, wait times out, and acquire gives the same frame
	 * again. */
	assert_int_equal(vshm_reader_poll(reader), 0);
	assert_int_equal(vshm_reader_wait(reader, 20), -ETIMEDOUT);
	assert_int_equal(vshm_reader_acquire(reader, &again), 0);
	assert_int_equal(again.sequence, 5);
	assert_int_equal(vshm_reader_release(reader), 1);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 6, &frame);
	assert_int_equal(vshm_reader_poll(reader), 1);
	assert_int_equal(vshm_reader_poll(reader), 1); /* polling takes nothing */
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.sequence, 6);
	assert_int_equal(vshm_reader_release(reader), 1);
	assert_int_equal(vshm_reader_poll(reader), 0);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/* A reader told that another of its program's readers took frames waits past them, and
 * no further than the stream's latest frame; a lossless reader may not skip. */
static void skip_looks_past_frames_taken_elsewhere_and_no_further(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "skip");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	for (uint64_t n = 1; n <= 3; n++)
		ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, n, &frame);
	/* Another reader took frame 3: nothing is new for this one. */
	assert_int_equal(vshm_reader_skip(reader, 3), 0);
	assert_int_equal(vshm_reader_poll(reader), 0);
	assert_int_equal(vshm_reader_wait(reader, 20), -ETIMEDOUT);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 4, &frame);
	assert_int_equal(vshm_reader_wait(reader, 0), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.sequence, 4);
	assert_int_equal(vshm_reader_release(reader), 1);
	/* Skipping back changes nothing. */
	assert_int_equal(vshm_reader_skip(reader, 2), 0);
	assert_int_equal(vshm_reader_poll(reader), 0);
	/* A number from another segment, far past this one's latest (4), skips frame 4
	 * at most: frame 5 wakes the reader. */
	assert_int_equal(vshm_reader_skip(reader, 1000), 0);
	assert_int_equal(vshm_reader_poll(reader), 0);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 5, &frame);
	assert_int_equal(vshm_reader_poll(reader), 1);
	assert_int_equal(vshm_reader_wait(reader, 0), 0);
	vshm_reader_detach(reader);

	const struct vshm_reader_options lossless = { .lossless = true };
	reader = vshm_reader_attach(name, &lossless);
	assert_non_null(reader);
	assert_int_equal(vshm_reader_skip(reader, 5), -EINVAL);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/* A process that may write the segment forges latest far ahead: the reader rejects
 * that frame, and still wakes for the writer's next honest one, rather than sleep until
 * the numbers catch up with the forged one. */
static void a_forged_number_ahead_does_not_silence_the_reader(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "forged");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 1, &frame);
	size_t size;
	uint8_t *map = test_segment_map(name, &size);
	struct vshm_shm_header *header = (struct vshm_shm_header *)map;
	uint64_t forged = (VSHM_LATEST_NUMBER_MASK << VSHM_LATEST_SLOT_BITS) | frame.slot;
	atomic_store(&header->latest, forged);
	assert_int_equal(vshm_reader_wait(reader, 0), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), -EBADMSG);
	assert_int_equal(vshm_reader_poll(reader), 0); /* the forged number, rejected */
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 2, &frame);
	assert_int_equal(vshm_reader_poll(reader), 1);
	assert_int_equal(vshm_reader_wait(reader, 100), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 2);
	assert_int_equal(vshm_reader_release(reader), 1);
	munmap(map, size);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

static void writer_avoids_a_held_slot_and_the_frame_stays_intact(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "held");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 256, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, held;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 256, 64, 1, &frame);
	assert_int_equal(vshm_reader_acquire(reader, &held), 0);
	for (uint64_t n = 2; n <= 50; n++) {
		ring_publish(writer, VSHM_FORMAT_GRAY8, 256, 64, n, &frame);
		assert_int_not_equal(frame.slot, held.slot);
	}
	ring_check_frame(&held, 1);
	assert_int_equal(vshm_reader_release(reader), 1);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.overwrites, 0);
	assert_int_equal(stats.frames_published, 50);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/* With 3 slots, two readers holding the two non-latest slots leave the writer nothing
 * free: it overwrites the oldest, counts it, and that reader's release says torn. */
static void overwritten_frame_is_reported_torn_and_counted(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "torn");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *first = ring_attach(name);
	struct vshm_reader *second = ring_attach(name);
	struct vshm_frame frame, a, b;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 1, &frame);
	assert_int_equal(vshm_reader_acquire(first, &a), 0);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 2, &frame);
	assert_int_equal(vshm_reader_acquire(second, &b), 0);
	assert_int_not_equal(a.slot, b.slot);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 3, &frame);
	/* Slot of frame 2 is the latest... until frame 3; frame 3 went into the only
	 * non-latest, non-held slot there was. Frame 4 finds none free. */
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 4, &frame);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.overwrites, 1);
	int first_intact = vshm_reader_release(first);
	int second_intact = vshm_reader_release(second);
	assert_int_equal(first_intact + second_intact, 1);
	struct vshm_reader_stats reader_stats;
	vshm_reader_get_stats(first_intact ? second : first, &reader_stats);
	assert_int_equal(reader_stats.frames_torn, 1);
	vshm_reader_detach(first);
	vshm_reader_detach(second);
	vshm_writer_destroy(writer);
}

static void format_and_size_changes_travel_with_the_frame(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "change");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_NV12, 640, 480, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_NV12, 640, 480, 1, &frame);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.format, VSHM_FORMAT_NV12);
	assert_int_equal(vshm_reader_release(reader), 1);
	ring_publish(writer, VSHM_FORMAT_RGB24, 320, 200, 2, &frame);
	assert_int_equal(vshm_reader_wait(reader, 1000), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.format, VSHM_FORMAT_RGB24);
	assert_int_equal(got.width, 320);
	assert_int_equal(got.plane_count, 1);
	ring_check_frame(&got, 2);
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

static void a_frame_too_big_moves_the_stream_and_readers_follow(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "grow");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 1, &frame);
	ring_publish(writer, VSHM_FORMAT_RGBA, 1280, 720, 2, &frame);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.segments_created, 2);
	assert_true(stats.slot_size >= 1280u * 720 * 4);
	/* The old segment still holds frame 1 for whoever has it mapped. */
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 1);
	assert_int_equal(vshm_reader_release(reader), 1);
	assert_int_equal(vshm_reader_wait(reader, 1000), -ESTALE);
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_REPLACED);
	assert_int_equal(vshm_reader_reattach(reader), 0);
	assert_int_equal(vshm_reader_wait(reader, 1000), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 2);
	assert_int_equal(got.width, 1280);
	ring_check_frame(&got, 2);
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

static void cancel_leaves_the_latest_frame_alone(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "cancel");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 1, &frame);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame), -EBUSY);
	memset(frame.plane[0], 0xee, frame.plane_size[0]);
	assert_int_equal(vshm_writer_cancel(writer), 0);
	assert_int_equal(vshm_writer_cancel(writer), -EINVAL);
	assert_int_equal(vshm_writer_publish(writer, &frame), -EINVAL);
	assert_int_equal(vshm_reader_wait(reader, 0), 0); /* frame 1 not yet acquired */
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 1);
	ring_check_frame(&got, 1);
	assert_int_equal(vshm_reader_release(reader), 1);
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 2, &frame);
	assert_int_equal(frame.sequence, 2);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/* A pool lends several begun frames and may get one back unused: only that one goes. */
static void cancel_frame_gives_up_one_begun_frame_only(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "cancel-one");
	struct vshm_writer_options options = {
		.slot_count = 5,
		.frames_in_flight = 3,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 64,
		.max_height = 64,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame latest, a, b, c, got;
	ring_publish(writer, VSHM_FORMAT_GRAY8, 64, 64, 1, &latest);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &a), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &b), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &c), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &got), -EBUSY);
	ring_fill_frame(&a, 2);
	ring_fill_frame(&b, 3);
	memset(c.plane[0], 0xee, c.plane_size[0]);

	/* c goes, a and b stay begun; the same frame cannot go twice. */
	assert_int_equal(vshm_writer_cancel_frame(writer, &c), 0);
	assert_int_equal(vshm_writer_cancel_frame(writer, &c), -EINVAL);
	assert_int_equal(vshm_writer_publish(writer, &c), -EINVAL);
	struct vshm_frame stranger = a;
	stranger.slot = 99;
	assert_int_equal(vshm_writer_cancel_frame(writer, &stranger), -EINVAL);
	stranger.slot = latest.slot;
	assert_int_equal(vshm_writer_cancel_frame(writer, &stranger), -EINVAL);

	/* The latest frame was never touched, and is still what readers get. */
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 1);
	ring_check_frame(&got, 1);
	assert_int_equal(vshm_reader_release(reader), 1);

	/* The freed place can be begun again while a and b are still in flight. */
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &c), 0);
	assert_int_equal(vshm_writer_cancel_frame(writer, &c), 0);

	/* b is published whole, with the next publish number; a was left alone. */
	b.frame_number = 3;
	assert_int_equal(vshm_writer_publish(writer, &b), 0);
	assert_int_equal(b.sequence, 2);
	assert_int_equal(vshm_reader_wait(reader, 0), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 3);
	ring_check_frame(&got, 3);
	assert_int_equal(vshm_reader_release(reader), 1);
	ring_check_frame(&a, 2);
	assert_int_equal(vshm_writer_cancel_frame(writer, &a), 0);
	assert_int_equal(vshm_writer_cancel(writer), -EINVAL);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);

	/* One at a time: like publish, it gives up the one begun frame, whatever the slot. */
	struct vshm_writer *single = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	assert_int_equal(vshm_writer_cancel_frame(single, &a), -EINVAL);
	assert_int_equal(vshm_writer_begin(single, VSHM_FORMAT_GRAY8, 64, 64, &a), 0);
	a.slot = 99;
	assert_int_equal(vshm_writer_cancel_frame(single, &a), 0);
	assert_int_equal(vshm_writer_cancel(single), -EINVAL);
	assert_int_equal(vshm_writer_begin(single, VSHM_FORMAT_GRAY8, 64, 64, &a), 0);
	vshm_writer_destroy(single);
	assert_false(test_segment_exists(name));
}

/* Regression: publish once took format and size from the caller's frame, which could
 * then disagree with the layout begin made in the slot. */
static void publish_describes_what_begin_laid_out(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "geometry");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 64, 64, 3);
	struct vshm_reader *reader = ring_attach(name);
	struct vshm_frame frame, got;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 64, &frame), 0);
	frame.width = 1000;
	frame.format = VSHM_FORMAT_RGBA;
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.width, 64);
	assert_int_equal(got.format, VSHM_FORMAT_GRAY8);
	vshm_reader_release(reader);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/*
 * A cancelled slot must never pass for a frame. With two frames in flight, one is
 * cancelled and the other published as frame n: a lossless reader looking for frame n by
 * its count must take the published one, not the cancelled slot, whose old frame is
 * partly overwritten.
 */
static void a_cancelled_slot_is_never_a_lossless_readers_next_frame(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "cancel-lossless");
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 64,
		.max_height = 48,
		.slot_count = 4,
		.frames_in_flight = 2,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	const struct vshm_reader_options lossless = { .lossless = true };
	struct vshm_reader *reader = vshm_reader_attach(name, &lossless);
	assert_non_null(reader);
	struct vshm_frame frame, got;
	/* Frames 1..4 fill the four slots; the reader takes each. */
	for (uint64_t n = 1; n <= 4; n++) {
		assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 48, &frame), 0);
		memset(frame.plane[0], (int)n, frame.plane_size[0]);
		frame.frame_number = 100 + n;
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
		assert_int_equal(vshm_reader_acquire(reader, &got), 0);
		assert_int_equal(got.frame_number, 100 + n);
		assert_int_equal(vshm_reader_release(reader), 1);
	}
	/* Two frames begun; the first is cancelled after being partly written, the second
	 * published as the fifth frame. */
	struct vshm_frame cancelled, published;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 48, &cancelled), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 48, &published), 0);
	memset(cancelled.plane[0], 0xee, cancelled.plane_size[0] / 2);
	assert_int_equal(vshm_writer_cancel_frame(writer, &cancelled), 0);
	memset(published.plane[0], 5, published.plane_size[0]);
	published.frame_number = 105;
	assert_int_equal(vshm_writer_publish(writer, &published), 0);

	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.slot, published.slot);
	assert_int_equal(got.frame_number, 105);
	for (uint64_t i = 0; i < got.plane_size[0]; i++)
		if (got.plane[0][i] != 5)
			fail_msg("byte %llu of frame 5 is 0x%02x", (unsigned long long)i,
			         got.plane[0][i]);
	assert_int_equal(vshm_reader_release(reader), 1);
	assert_int_equal(vshm_reader_acquire(reader, &got), -EAGAIN);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/* A wait to attach that gives up says why the stream was not there, when it was there
 * in some form: here a file its writer died making, empty. */
static void attach_wait_says_why_it_gave_up(void **state)
{
	(void)state;
	char name[64], path[128];
	test_unique_name(name, sizeof(name), "attach-why");
	assert_null(vshm_reader_attach_wait(name, NULL, 100, NULL, NULL));
	assert_int_equal(errno, ETIMEDOUT);
	assert_non_null(strstr(vshm_error(), "did not appear within 0.1 s"));
	assert_null(strstr(vshm_error(), "s:")); /* nothing there: nothing more to say */

	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 100, NULL, NULL);
	int error = errno;
	unlink(path);
	assert_null(reader);
	assert_int_equal(error, ETIMEDOUT);
	print_message("%s\n", vshm_error());
	assert_non_null(strstr(vshm_error(), "did not appear within 0.1 s: "));
	assert_non_null(strstr(vshm_error(), "is 0 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_format_round_trips_with_its_metadata),
		cmocka_unit_test(reader_gets_the_latest_frame_and_one_at_a_time),
		cmocka_unit_test(skip_looks_past_frames_taken_elsewhere_and_no_further),
		cmocka_unit_test(a_forged_number_ahead_does_not_silence_the_reader),
		cmocka_unit_test(writer_avoids_a_held_slot_and_the_frame_stays_intact),
		cmocka_unit_test(overwritten_frame_is_reported_torn_and_counted),
		cmocka_unit_test(format_and_size_changes_travel_with_the_frame),
		cmocka_unit_test(a_frame_too_big_moves_the_stream_and_readers_follow),
		cmocka_unit_test(cancel_leaves_the_latest_frame_alone),
		cmocka_unit_test(cancel_frame_gives_up_one_begun_frame_only),
		cmocka_unit_test(publish_describes_what_begin_laid_out),
		cmocka_unit_test(a_cancelled_slot_is_never_a_lossless_readers_next_frame),
		cmocka_unit_test(attach_wait_says_why_it_gave_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

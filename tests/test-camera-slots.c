/*
 * Frames in flight (vshm_writer_options.frames_in_flight), the writer API a camera's
 * USERPTR path stands on: several slots begun at once, each invisible to readers until it
 * is published, never chosen for another frame (not even to overwrite a held slot),
 * published in any order with growing publish numbers, and all given up by cancel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"

#define WIDTH  64
#define HEIGHT 32
#define SLOTS  7
#define FLIGHT 4

static struct vshm_writer *create(const char *name, uint32_t slots, uint32_t in_flight)
{
	struct vshm_writer_options options = {
		.slot_count = slots,
		.frames_in_flight = in_flight,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = WIDTH,
		.max_height = HEIGHT,
	};
	return vshm_writer_create(name, &options);
}

static void too_many_in_flight_for_the_slots(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-slots");
	/* Four in flight need six slots: the latest and one to turn over. */
	assert_null(create(name, 5, 4));
	assert_int_equal(errno, EINVAL);
	assert_false(test_segment_exists(name));
	struct vshm_writer *writer = create(name, 6, 4);
	assert_non_null(writer);
	vshm_writer_destroy(writer);
}

static void one_at_a_time_by_default(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-default");
	struct vshm_writer *writer = create(name, 3, 0);
	assert_non_null(writer);
	struct vshm_frame a, b;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &a), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &b), -EBUSY);
	/* With one frame begun, publish takes it whatever frame->slot says. */
	a.slot = 99;
	assert_int_equal(vshm_writer_publish(writer, &a), 0);
	assert_int_equal(a.sequence, 1);
	vshm_writer_destroy(writer);
}

static void begun_slots_are_distinct_and_invisible(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-invisible");
	struct vshm_writer *writer = create(name, SLOTS, FLIGHT);
	assert_non_null(writer);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);

	struct vshm_frame frames[FLIGHT], extra, seen;
	uint64_t slots = 0;
	for (int i = 0; i < FLIGHT; i++) {
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frames[i]), 0);
		assert_false(slots & (UINT64_C(1) << frames[i].slot));
		slots |= UINT64_C(1) << frames[i].slot;
		memset(frames[i].plane[0], 0x10 + i, frames[i].plane_size[0]);
	}
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &extra),
	                 -EBUSY);
	/* Nothing published: the reader finds nothing, begun slots are not frames. */
	assert_int_equal(vshm_reader_acquire(reader, &seen), -EAGAIN);

	/* Publish out of order: 2, 0, 3, 1. Each becomes the latest with the next number. */
	static const int order[FLIGHT] = { 2, 0, 3, 1 };
	for (int k = 0; k < FLIGHT; k++) {
		struct vshm_frame *frame = &frames[order[k]];
		frame->frame_number = 100 + (uint64_t)order[k];
		assert_int_equal(vshm_writer_publish(writer, frame), 0);
		assert_int_equal(frame->sequence, (uint64_t)k + 1);
		assert_int_equal(vshm_reader_acquire(reader, &seen), 0);
		assert_int_equal(seen.sequence, (uint64_t)k + 1);
		assert_int_equal(seen.frame_number, 100 + (uint64_t)order[k]);
		assert_int_equal(seen.slot, frame->slot);
		assert_int_equal(seen.plane[0][0], 0x10 + order[k]);
		assert_int_equal(seen.plane[0][seen.plane_size[0] - 1], 0x10 + order[k]);
		assert_int_equal(vshm_reader_release(reader), 1);
	}
	/* Publishing a slot that is not begun, when several could be, is refused. */
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frames[0]),
	                 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frames[1]),
	                 0);
	extra = frames[0];
	extra.slot = seen.slot; /* the latest, not begun */
	assert_int_equal(vshm_writer_publish(writer, &extra), -EINVAL);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/*
 * Regression: with frames in flight and one frame begun, publish took that one whatever
 * frame->slot said, so a stale frame (a slot lent earlier, already published) published
 * the wrong slot. With frames_in_flight > 1, frame->slot must name the begun frame.
 */
static void one_begun_of_several_needs_its_slot(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-one");
	struct vshm_writer *writer = create(name, SLOTS, FLIGHT);
	assert_non_null(writer);
	struct vshm_frame frame, stale;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame), 0);
	stale = frame;
	stale.slot = (frame.slot + 1) % SLOTS; /* not begun */
	assert_int_equal(vshm_writer_publish(writer, &stale), -EINVAL);
	stale.slot = 99; /* not a slot at all */
	assert_int_equal(vshm_writer_publish(writer, &stale), -EINVAL);
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_int_equal(stats.frames_published, 0); /* nothing changed */
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	assert_int_equal(frame.sequence, 1);
	/* Published: the same frame again is refused too. */
	assert_int_equal(vshm_writer_publish(writer, &frame), -EINVAL);
	vshm_writer_destroy(writer);
}

static void begun_slots_are_never_overwritten(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-overwrite");
	struct vshm_writer *writer = create(name, 6, 4);
	assert_non_null(writer);
	struct vshm_frame lent[4], frame, held;
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &lent[i]), 0);
	uint64_t lent_slots = 0;
	for (int i = 0; i < 4; i++)
		lent_slots |= UINT64_C(1) << lent[i].slot;

	/* Publish one, then lend a new slot in its place, many times over, while readers
	 * hold every frame they can: the writer must overwrite held slots, never lent ones. */
	struct vshm_reader *readers[3];
	for (int r = 0; r < 3; r++) {
		readers[r] = vshm_reader_attach(name, NULL);
		assert_non_null(readers[r]);
	}
	for (int round = 0; round < 40; round++) {
		int i = round % 4;
		memset(lent[i].plane[0], round, lent[i].plane_size[0]);
		assert_int_equal(vshm_writer_publish(writer, &lent[i]), 0);
		lent_slots &= ~(UINT64_C(1) << lent[i].slot);
		struct vshm_reader *reader = readers[round % 3];
		vshm_reader_release(reader);
		assert_int_equal(vshm_reader_acquire(reader, &held), 0);
		assert_int_equal(held.plane[0][0], (uint8_t)round);
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame), 0);
		/* Never a slot another in-flight frame has, never the latest. */
		assert_false(lent_slots & (UINT64_C(1) << frame.slot));
		assert_int_not_equal(frame.slot, lent[i].slot);
		lent[i] = frame;
		lent_slots |= UINT64_C(1) << frame.slot;
	}
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	assert_true(stats.overwrites > 0); /* the readers did force overwrites */
	for (int r = 0; r < 3; r++)
		vshm_reader_detach(readers[r]);
	vshm_writer_destroy(writer);
}

static void cancel_gives_up_every_begun_frame(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-cancel");
	struct vshm_writer *writer = create(name, SLOTS, FLIGHT);
	assert_non_null(writer);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	struct vshm_frame frames[FLIGHT], seen;
	for (int i = 0; i < FLIGHT; i++)
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frames[i]), 0);
	memset(frames[1].plane[0], 7, frames[1].plane_size[0]);
	assert_int_equal(vshm_writer_publish(writer, &frames[1]), 0);
	assert_int_equal(vshm_writer_cancel(writer), 0);
	assert_int_equal(vshm_writer_cancel(writer), -EINVAL);
	/* The published frame stays the latest, intact; the cancelled ones never show. */
	assert_int_equal(vshm_reader_acquire(reader, &seen), 0);
	assert_int_equal(seen.sequence, 1);
	assert_int_equal(seen.plane[0][0], 7);
	assert_int_equal(vshm_reader_release(reader), 1);
	/* All four can be begun again, and the next publish is number 2. */
	for (int i = 0; i < FLIGHT; i++)
		assert_int_equal(
		    vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frames[i]), 0);
	assert_int_equal(vshm_writer_publish(writer, &frames[3]), 0);
	assert_int_equal(frames[3].sequence, 2);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

static void no_move_to_bigger_slots_while_frames_are_begun(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "flight-grow");
	struct vshm_writer *writer = create(name, SLOTS, FLIGHT);
	assert_non_null(writer);
	struct vshm_frame small, big;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &small), 0);
	/* Growing would unmap the slot a device may still be writing. */
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_RGBA, 1024, 1024, &big), -EBUSY);
	assert_int_equal(vshm_writer_publish(writer, &small), 0);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_RGBA, 1024, 1024, &big), 0);
	assert_int_equal(vshm_writer_publish(writer, &big), 0);
	vshm_writer_destroy(writer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(too_many_in_flight_for_the_slots),
		cmocka_unit_test(one_at_a_time_by_default),
		cmocka_unit_test(begun_slots_are_distinct_and_invisible),
		cmocka_unit_test(one_begun_of_several_needs_its_slot),
		cmocka_unit_test(begun_slots_are_never_overwritten),
		cmocka_unit_test(cancel_gives_up_every_begun_frame),
		cmocka_unit_test(no_move_to_bigger_slots_while_frames_are_begun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

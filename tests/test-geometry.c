/*
 * Frame geometry at its limits: for every format and for odd and extreme sizes, a
 * layout whose strides, plane sizes and offsets are exactly as small as the frame
 * allows is accepted, and one byte or one row less is refused, both by
 * vshm_format_check_layout() and by a reader taking such a frame from a live segment.
 * A reader that accepted a plane one row short would read past it: the check is the
 * only thing between metadata written by another process and an out-of-bounds read.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "test-util.h"

/* Odd sizes, the smallest, and the longest rows and columns the ring takes. */
static const uint32_t sizes[][2] = {
	{ 1, 1 },    { 3, 5 },     { 5, 3 },     { 2, 2 },
	{ 161, 97 }, { 16384, 2 }, { 2, 16384 }, { 16384, 16384 },
};
#define SIZE_COUNT (sizeof(sizes) / sizeof(sizes[0]))

/* The largest frame the live part writes into a slot; 16384 x 16384 is checked only by
 * vshm_format_check_layout(), which reads no pixel. */
#define LIVE_BYTES_MAX (UINT64_C(64) << 20)

/*
 * What one plane of a width x height frame must hold, worked out here from the
 * definition in format.h (a row is ceil(width / horizontal) samples of bytes_per_sample
 * bytes, there are ceil(height / vertical) rows), not by the code under test.
 */
struct extent {
	uint64_t row_bytes;
	uint64_t rows;
};

static struct extent plane_extent(uint32_t format, uint32_t plane, uint32_t width, uint32_t height)
{
	struct vshm_format_plane description;
	assert_int_equal(vshm_format_plane(format, plane, &description), 0);
	uint32_t horizontal = description.horizontal_subsampling;
	uint32_t vertical = description.vertical_subsampling;
	struct extent extent = {
		.row_bytes =
		    ((uint64_t)width + horizontal - 1) / horizontal * description.bytes_per_sample,
		.rows = ((uint64_t)height + vertical - 1) / vertical,
	};
	return extent;
}

/*
 * The tightest layout with the given padding after each row: plane sizes exactly
 * stride * (rows - 1) + row_bytes (the last row need hold only its own bytes), planes
 * one after another from start, in reverse order if asked. *end is where the last byte
 * lies plus one.
 */
static struct vshm_format_layout tight_layout(uint32_t format, uint32_t width, uint32_t height,
                                              uint32_t padding, bool reversed, uint64_t start,
                                              uint64_t *end)
{
	struct vshm_format_layout layout = { .plane_count = vshm_format_plane_count(format) };
	uint64_t offset = start;
	for (uint32_t k = 0; k < layout.plane_count; k++) {
		uint32_t i = reversed ? layout.plane_count - 1 - k : k;
		struct extent extent = plane_extent(format, i, width, height);
		layout.stride[i] = (uint32_t)(extent.row_bytes + padding);
		layout.size[i] = (uint64_t)layout.stride[i] * (extent.rows - 1) + extent.row_bytes;
		layout.offset[i] = offset;
		offset += layout.size[i];
	}
	layout.total_size = offset - start;
	*end = offset;
	return layout;
}

/* One layout and whether a reader must take it. */
struct geometry_case {
	char what[96];
	struct vshm_format_layout layout;
	bool acceptable;
};

#define CASES_MAX 64

static void add_case(struct geometry_case *cases, unsigned *count, const char *what, uint32_t plane,
                     const struct vshm_format_layout *layout, bool acceptable)
{
	assert_true(*count < CASES_MAX);
	struct geometry_case *c = &cases[(*count)++];
	snprintf(c->what, sizeof(c->what), "%s (plane %u)", what, plane);
	c->layout = *layout;
	c->acceptable = acceptable;
}

/*
 * Every layout at the limit and just past it, for a frame that must end exactly at
 * capacity: returns how many cases were written. Layouts just past the limit change one
 * thing only, so that no other check can be what refuses them.
 */
static unsigned limit_cases(uint32_t format, uint32_t width, uint32_t height, uint64_t capacity,
                            struct geometry_case *cases)
{
	unsigned count = 0;
	uint32_t planes = vshm_format_plane_count(format);
	/* Strides exactly one row, and strides with an odd padding that makes the last row
	 * shorter than the stride; planes in order and in reverse. */
	for (int variant = 0; variant < 4; variant++) {
		uint32_t padding = variant & 1 ? 7 : 0;
		bool reversed = variant & 2;
		uint64_t end, total;
		tight_layout(format, width, height, padding, reversed, 0, &total);
		struct vshm_format_layout exact =
		    tight_layout(format, width, height, padding, reversed, capacity - total, &end);
		assert_int_equal(end, capacity);
		add_case(cases, &count, padding ? "exact, padded strides" : "exact, tight strides",
		         0, &exact, true);

		struct vshm_format_layout bad;
		for (uint32_t i = 0; i < planes; i++) {
			struct extent extent = plane_extent(format, i, width, height);
			/* A stride one byte short of a row, the plane as large as before. */
			bad = exact;
			bad.stride[i] = (uint32_t)(extent.row_bytes - 1);
			add_case(cases, &count, "stride one byte short", i, &bad, false);
			/* The plane one byte short of its last row. */
			bad = exact;
			bad.size[i] -= 1;
			bad.offset[i] += 1; /* still ending at the same place */
			add_case(cases, &count, "plane one byte short", i, &bad, false);
			/* The plane one row short: the size a check forgetting a row would want. */
			if (extent.rows >= 2) {
				bad = exact;
				bad.size[i] -= exact.stride[i];
				bad.offset[i] += exact.stride[i];
				add_case(cases, &count, "plane one row short", i, &bad, false);
			}
		}
		if (padding || reversed)
			continue;
		/* Each plane moved one byte back over the one before it. */
		for (uint32_t i = 1; i < planes; i++) {
			bad = exact;
			bad.offset[i] -= 1;
			add_case(cases, &count, "overlapping the previous plane by one byte", i,
			         &bad, false);
			bad = exact;
			bad.offset[i - 1] += 1;
			bad.size[i - 1] = exact.size[i - 1]; /* its end now one byte into plane i */
			add_case(cases, &count, "overlapping the next plane by one byte", i - 1,
			         &bad, false);
		}
		/* The last plane one byte past capacity, and one whose end wraps around. */
		bad = exact;
		bad.offset[planes - 1] += 1;
		add_case(cases, &count, "ending one byte past capacity", planes - 1, &bad, false);
		bad = exact;
		bad.offset[0] = UINT64_MAX; /* offset + size wraps to size - 1 */
		add_case(cases, &count, "wrapping around the end of memory", 0, &bad, false);
		/* One plane too few or too many. */
		bad = exact;
		bad.plane_count = planes - 1;
		add_case(cases, &count, "one plane too few", planes - 1, &bad, false);
		if (planes < VSHM_FORMAT_PLANES_MAX) {
			bad = exact;
			bad.plane_count = planes + 1;
			add_case(cases, &count, "one plane too many", planes, &bad, false);
		}
	}
	return count;
}

/*
 * The bytes the largest layout of limit_cases() needs: the padded one. A capacity of
 * exactly this puts that layout's first plane at offset 0.
 */
static uint64_t padded_total(uint32_t format, uint32_t width, uint32_t height)
{
	uint64_t end;
	tight_layout(format, width, height, 7, false, 0, &end);
	return end;
}

static void check_layout_accepts_the_limit_and_refuses_one_byte_less(void **state)
{
	(void)state;
	static struct geometry_case cases[CASES_MAX];
	unsigned checked = 0;
	for (unsigned f = 0; vshm_format_at(f) != VSHM_FORMAT_INVALID; f++) {
		uint32_t format = vshm_format_at(f);
		for (unsigned s = 0; s < SIZE_COUNT; s++) {
			uint32_t width = sizes[s][0], height = sizes[s][1];
			/* The first plane at offset 0, and the last one ending far out. */
			uint64_t capacities[] = { padded_total(format, width, height),
				                  (uint64_t)1 << 40 };
			for (unsigned c = 0; c < 2; c++) {
				unsigned count =
				    limit_cases(format, width, height, capacities[c], cases);
				for (unsigned i = 0; i < count; i++) {
					int result = vshm_format_check_layout(
					    format, width, height, &cases[i].layout, capacities[c]);
					if (result != (cases[i].acceptable ? 0 : -EINVAL))
						fail_msg("%s %ux%u, %s: %s",
						         vshm_format_name(format), width, height,
						         cases[i].what,
						         result == 0 ? "accepted" : "refused");
					checked++;
				}
			}
			/* The size itself at its limits. */
			uint64_t end;
			struct vshm_format_layout layout =
			    tight_layout(format, width, height, 0, false, 0, &end);
			assert_int_equal(
			    vshm_format_check_layout(format, width, height, &layout, end - 1),
			    -EINVAL);
			assert_int_equal(vshm_format_check_layout(format, 0, height, &layout, end),
			                 -EINVAL);
			assert_int_equal(vshm_format_check_layout(format, width, 0, &layout, end),
			                 -EINVAL);
		}
		struct vshm_format_layout big;
		assert_int_equal(vshm_format_layout(format, VSHM_FORMAT_DIMENSION_MAX, 1, &big), 0);
		assert_int_equal(vshm_format_check_layout(format, VSHM_FORMAT_DIMENSION_MAX + 1, 1,
		                                          &big, UINT64_MAX),
		                 -EINVAL);
	}
	print_message("%u layouts at and just past the limits, every format and size\n", checked);
}

/*
 * The same layouts written into the slot of a published frame: a reader takes the ones
 * at the limit (planes ending exactly at the end of the slot) and refuses the others
 * with -EBADMSG, and the stream goes on.
 */
static void readers_take_the_limit_and_refuse_one_byte_less_from_a_live_slot(void **state)
{
	(void)state;
	static struct geometry_case cases[CASES_MAX];
	unsigned taken = 0, refused = 0;
	for (unsigned s = 0; s < SIZE_COUNT; s++) {
		uint32_t width = sizes[s][0], height = sizes[s][1];
		/* Slots that hold the writer's own layout and the padded ones. */
		uint64_t largest = 0;
		for (unsigned f = 0; vshm_format_at(f) != VSHM_FORMAT_INVALID; f++) {
			uint32_t format = vshm_format_at(f);
			struct vshm_format_layout layout;
			assert_int_equal(vshm_format_layout(format, width, height, &layout), 0);
			uint64_t padded = padded_total(format, width, height);
			largest = layout.total_size > largest ? layout.total_size : largest;
			largest = padded > largest ? padded : largest;
		}
		if (largest > LIVE_BYTES_MAX)
			continue;
		char name[64];
		test_unique_name(name, sizeof(name), "geometry");
		struct vshm_writer_options options = { .slot_count = 3,
			                               .max_frame_bytes = largest };
		struct vshm_writer *writer = vshm_writer_create(name, &options);
		assert_non_null(writer);
		struct vshm_reader *reader = vshm_reader_attach(name, NULL);
		assert_non_null(reader);
		size_t segment_size;
		uint8_t *base = test_segment_map(name, &segment_size);
		const struct vshm_shm_header *header = (const struct vshm_shm_header *)base;
		struct vshm_shm_slot *slots =
		    (struct vshm_shm_slot *)(base + header->slot_table_offset);
		uint64_t capacity = header->slot_payload_size;

		for (unsigned f = 0; vshm_format_at(f) != VSHM_FORMAT_INVALID; f++) {
			uint32_t format = vshm_format_at(f);
			struct vshm_frame frame, got;
			assert_int_equal(vshm_writer_begin(writer, format, width, height, &frame),
			                 0);
			assert_int_equal(vshm_writer_publish(writer, &frame), 0);
			struct vshm_shm_frame_info *info = &slots[frame.slot].info;
			const struct vshm_shm_frame_info published = *info;
			unsigned count = limit_cases(format, width, height, capacity, cases);
			for (unsigned i = 0; i < count; i++) {
				/* What another process would write over the frame's metadata. */
				const struct vshm_format_layout *layout = &cases[i].layout;
				info->plane_count = layout->plane_count;
				for (uint32_t p = 0; p < VSHM_PLANES_MAX; p++) {
					info->stride[p] = layout->stride[p];
					info->plane_offset[p] = layout->offset[p];
					info->plane_size[p] = layout->size[p];
				}
				int result = vshm_reader_acquire(reader, &got);
				if (result != (cases[i].acceptable ? 0 : -EBADMSG))
					fail_msg("%s %ux%u in a live slot, %s: acquire said %d",
					         vshm_format_name(format), width, height,
					         cases[i].what, result);
				if (result == 0) {
					/* The planes it hands out end exactly at the slot's end. */
					uint32_t last = got.plane_count - 1;
					uint64_t end = 0;
					for (uint32_t p = 0; p <= last; p++) {
						uint64_t plane_end =
						    layout->offset[p] + layout->size[p];
						end = plane_end > end ? plane_end : end;
					}
					assert_int_equal(end, capacity);
					assert_int_equal(vshm_reader_release(reader), 1);
					taken++;
				} else {
					refused++;
				}
			}
			*info = published;
		}
		/* The stream is unharmed: the next frame is taken as usual. */
		struct vshm_frame frame, got;
		assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_I420, width, height, &frame),
		                 0);
		assert_int_equal(vshm_writer_publish(writer, &frame), 0);
		assert_int_equal(vshm_reader_acquire(reader, &got), 0);
		assert_int_equal(vshm_reader_release(reader), 1);
		munmap(base, segment_size);
		vshm_reader_detach(reader);
		vshm_writer_destroy(writer);
		assert_false(test_segment_exists(name));
	}
	print_message("live slots: %u layouts at the limit taken, %u just past it refused\n", taken,
	              refused);
	assert_true(taken > 0 && refused > taken);
}

/* The reader's warning for each refused frame: expected here by the thousand. */
static void quiet(enum vshm_log_level level, const char *message, void *data)
{
	(void)level;
	(void)message;
	(void)data;
}

int main(void)
{
	vshm_log_set_handler(quiet, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_layout_accepts_the_limit_and_refuses_one_byte_less),
		cmocka_unit_test(readers_take_the_limit_and_refuse_one_byte_less_from_a_live_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The pixel format table: plane counts, strides, sizes, names and layout checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <vshm/format.h>

static unsigned format_count(void)
{
	unsigned count = 0;
	while (vshm_format_at(count) != VSHM_FORMAT_INVALID)
		count++;
	return count;
}

static void every_listed_format_is_named_and_found_by_name(void **state)
{
	(void)state;
	assert_int_equal(format_count(), 12);
	for (unsigned i = 0; i < format_count(); i++) {
		uint32_t format = vshm_format_at(i);
		const char *name = vshm_format_name(format);
		assert_non_null(name);
		assert_true(vshm_format_is_valid(format));
		assert_int_equal(vshm_format_from_name(name), format);
	}
	assert_int_equal(vshm_format_from_name("NV12"), VSHM_FORMAT_NV12);
	assert_int_equal(vshm_format_from_name("nv13"), VSHM_FORMAT_INVALID);
	assert_int_equal(vshm_format_from_name(NULL), VSHM_FORMAT_INVALID);
	assert_null(vshm_format_name(0x12345678));
	assert_false(vshm_format_is_valid(VSHM_FORMAT_INVALID));
}

/* Layout invariants every format must keep, at even, odd and tiny sizes. */
static void layouts_are_aligned_contiguous_and_large_enough(void **state)
{
	(void)state;
	const uint32_t sizes[][2] = {
		{ 1, 1 }, { 2, 2 }, { 641, 481 }, { 1920, 1080 }, { 3840, 2160 }
	};
	for (unsigned i = 0; i < format_count(); i++) {
		uint32_t format = vshm_format_at(i);
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			uint32_t width = sizes[s][0], height = sizes[s][1];
			struct vshm_format_layout layout;
			assert_int_equal(vshm_format_layout(format, width, height, &layout), 0);
			assert_int_equal(layout.plane_count, vshm_format_plane_count(format));
			uint64_t offset = 0;
			for (uint32_t p = 0; p < layout.plane_count; p++) {
				struct vshm_format_plane plane;
				assert_int_equal(vshm_format_plane(format, p, &plane), 0);
				uint64_t row = (width + plane.horizontal_subsampling - 1) /
				               plane.horizontal_subsampling *
				               plane.bytes_per_sample;
				uint64_t rows = (height + plane.vertical_subsampling - 1) /
				                plane.vertical_subsampling;
				assert_int_equal(layout.stride[p] % VSHM_FORMAT_STRIDE_ALIGN, 0);
				assert_true(layout.stride[p] >= row);
				assert_true(layout.stride[p] < row + VSHM_FORMAT_STRIDE_ALIGN);
				assert_int_equal(layout.offset[p], offset);
				assert_int_equal(layout.size[p], (uint64_t)layout.stride[p] * rows);
				offset += layout.size[p];
			}
			assert_int_equal(layout.total_size, offset);
			assert_int_equal(vshm_format_check_layout(format, width, height, &layout,
			                                          layout.total_size),
			                 0);
		}
	}
}

static void known_sizes_match_hand_computed_values(void **state)
{
	(void)state;
	struct vshm_format_layout layout;
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_NV12, 1920, 1080, &layout), 0);
	assert_int_equal(layout.stride[0], 1920);
	assert_int_equal(layout.stride[1], 1920);
	assert_int_equal(layout.size[1], 1920 * 540);
	assert_int_equal(layout.total_size, 1920 * 1080 * 3 / 2);

	/* Odd sizes round chroma up: 641 wide is 321 chroma samples. */
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_I420, 641, 481, &layout), 0);
	assert_int_equal(layout.stride[0], 704);
	assert_int_equal(layout.stride[1], 384);
	assert_int_equal(layout.size[1], 384 * 241);
	assert_int_equal(layout.offset[2], 704 * 481 + 384 * 241);

	assert_int_equal(vshm_format_layout(VSHM_FORMAT_YUYV, 641, 2, &layout), 0);
	assert_int_equal(layout.stride[0], 1344); /* 321 pairs of 4 bytes = 1284 */
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_RGB24, 100, 1, &layout), 0);
	assert_int_equal(layout.stride[0], 320);
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_XRGB8888, 3840, 2160, &layout), 0);
	assert_int_equal(layout.total_size, 3840u * 4 * 2160);

	/* P010: NV12 with two bytes a sample; 641 wide is 321 chroma pairs of 4 bytes. */
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_P010, 641, 481, &layout), 0);
	assert_int_equal(layout.stride[0], 1344); /* 1282 bytes of luma */
	assert_int_equal(layout.stride[1], 1344); /* 1284 bytes of chroma */
	assert_int_equal(layout.size[1], 1344 * 241);
	assert_int_equal(layout.total_size, 1344 * 481 + 1344 * 241);
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_I444, 1920, 1080, &layout), 0);
	assert_int_equal(layout.offset[2], 2 * 1920 * 1080);
	assert_int_equal(layout.total_size, 3 * 1920 * 1080);
	const struct vshm_format_description *p010 = vshm_format_describe(VSHM_FORMAT_P010);
	assert_int_equal(p010->depth, 10);
	assert_int_equal(p010->sample_bytes, 2);
	assert_int_equal(p010->sample_shift, 6);
	assert_int_equal(vshm_format_describe(VSHM_FORMAT_I444)->depth, 8);
}

static void bad_formats_and_sizes_are_refused_without_touching_the_result(void **state)
{
	(void)state;
	struct vshm_format_layout layout = { .plane_count = 77 };
	assert_int_equal(vshm_format_layout(0x31313131, 64, 64, &layout), -EINVAL);
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_NV12, 0, 64, &layout), -EINVAL);
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_NV12, 64, 0, &layout), -EINVAL);
	assert_int_equal(
	    vshm_format_layout(VSHM_FORMAT_NV12, VSHM_FORMAT_DIMENSION_MAX + 1, 64, &layout),
	    -EINVAL);
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_RGBA, 64, UINT32_MAX, &layout), -EINVAL);
	assert_int_equal(layout.plane_count, 77);
	struct vshm_format_plane plane;
	assert_int_equal(vshm_format_plane(VSHM_FORMAT_NV12, 2, &plane), -EINVAL);
	assert_int_equal(vshm_format_plane_count(0), 0);
}

/* Layouts read from shared memory: every way they can lie must be caught. */
static void check_layout_rejects_lies(void **state)
{
	(void)state;
	struct vshm_format_layout good;
	assert_int_equal(vshm_format_layout(VSHM_FORMAT_NV12, 640, 480, &good), 0);
	uint64_t capacity = good.total_size;
	struct vshm_format_layout bad;

	bad = good;
	bad.stride[0] = 639; /* a row does not fit */
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &bad, capacity),
	                 -EINVAL);
	bad = good;
	bad.offset[1] = 100; /* overlaps the Y plane */
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &bad, capacity),
	                 -EINVAL);
	bad = good;
	bad.offset[1] = UINT64_MAX - 10; /* would wrap around */
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &bad, capacity),
	                 -EINVAL);
	bad = good;
	bad.size[1] = UINT64_MAX;
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &bad, capacity),
	                 -EINVAL);
	bad = good;
	bad.size[0] = 10; /* smaller than its rows */
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &bad, capacity),
	                 -EINVAL);
	bad = good;
	bad.plane_count = 3;
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &bad, capacity),
	                 -EINVAL);
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &good, capacity - 1),
	                 -EINVAL);
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 0, &good, capacity),
	                 -EINVAL);
	assert_int_equal(vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &good, capacity), 0);
	/* Planes in another order, with padding between them, are fine. */
	struct vshm_format_layout swapped = good;
	swapped.offset[1] = 0;
	swapped.offset[0] = good.size[1] + 4096;
	assert_int_equal(
	    vshm_format_check_layout(VSHM_FORMAT_NV12, 640, 480, &swapped, capacity + 4096), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_listed_format_is_named_and_found_by_name),
		cmocka_unit_test(layouts_are_aligned_contiguous_and_large_enough),
		cmocka_unit_test(known_sizes_match_hand_computed_values),
		cmocka_unit_test(bad_formats_and_sizes_are_refused_without_touching_the_result),
		cmocka_unit_test(check_layout_rejects_lies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

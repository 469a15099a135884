/* The frames the ring tests publish and check, and how they attach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ring-frames.h"

/* The byte expected at (plane, row, column) of frame number n: cheap, and different
 * for every frame, plane and position. */
static uint8_t pattern_byte(uint64_t n, uint32_t plane, uint32_t row, uint32_t column)
{
	return (uint8_t)(n * 31 + plane * 71 + row * 7 + column * 13);
}

void ring_fill_frame(struct vshm_frame *frame, uint64_t n)
{
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		uint32_t rows = (uint32_t)(frame->plane_size[p] / frame->stride[p]);
		for (uint32_t row = 0; row < rows; row++) {
			uint8_t *line = frame->plane[p] + (uint64_t)row * frame->stride[p];
			for (uint32_t column = 0; column < frame->stride[p]; column++)
				line[column] = pattern_byte(n, p, row, column);
		}
	}
}

void ring_check_frame(const struct vshm_frame *frame, uint64_t n)
{
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		uint32_t rows = (uint32_t)(frame->plane_size[p] / frame->stride[p]);
		for (uint32_t row = 0; row < rows; row++) {
			const uint8_t *line = frame->plane[p] + (uint64_t)row * frame->stride[p];
			for (uint32_t column = 0; column < frame->stride[p]; column++) {
				if (line[column] != pattern_byte(n, p, row, column))
					fail_msg("frame %llu plane %u row %u column %u: %u != %u",
					         (unsigned long long)n, p, row, column,
					         line[column], pattern_byte(n, p, row, column));
			}
		}
	}
}

void ring_publish(struct vshm_writer *writer, uint32_t format, uint32_t width, uint32_t height,
                  uint64_t n, struct vshm_frame *frame)
{
	int result = vshm_writer_begin(writer, format, width, height, frame);
	if (result < 0)
		fail_msg("begin: %d %s", result, vshm_error());
	ring_fill_frame(frame, n);
	frame->frame_number = n;
	frame->capture_ns = 1000 + n;
	frame->color_matrix = VSHM_COLOR_MATRIX_BT709;
	frame->color_range = VSHM_COLOR_RANGE_FULL;
	assert_int_equal(vshm_writer_publish(writer, frame), 0);
}

struct vshm_reader *ring_attach(const char *name)
{
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	if (!reader)
		fail_msg("attach %s: %s", name, vshm_error());
	return reader;
}

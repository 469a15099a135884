/*
 * vshm-capture's test pattern, read back through the ring from the real program, is
 * exactly what pattern_color_at() says, for every pixel format, byte by byte. The
 * expected bytes are packed here independently of pattern.c's span drawing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "follow.h"
#include "pattern.h"
#include "program-util.h"
#include "test-util.h"

#define WIDTH  161 /* odd sizes exercise the rounding of subsampled chroma */
#define HEIGHT 97

/* The pattern the current run draws. */
static enum pattern_kind kind = PATTERN_BARS;

/* The byte format must have at (plane, row, byte) for frame n. */
static uint8_t expected_byte(uint32_t format, uint64_t n, uint32_t plane, uint32_t row,
                             uint32_t byte)
{
	struct pattern_rgb c;
	switch (format) {
	case VSHM_FORMAT_GRAY8:
		return pattern_gray(pattern_color_of(kind, n, byte, row, WIDTH, HEIGHT));
	case VSHM_FORMAT_I444:
		c = pattern_color_of(kind, n, byte, row, WIDTH, HEIGHT);
		return plane == 0   ? pattern_luma(c)
		       : plane == 1 ? pattern_chroma_u(c)
		                    : pattern_chroma_v(c);
	case VSHM_FORMAT_P010:
		/* NV12's samples as 10-bit values (times 4) at the top of little-endian words:
		 * the low byte is 0, the high byte the 8-bit value. */
		if (byte % 2 == 0)
			return 0;
		return expected_byte(VSHM_FORMAT_NV12, n, plane, row, byte / 2);
	case VSHM_FORMAT_I420:
		if (plane == 0)
			return pattern_luma(pattern_color_of(kind, n, byte, row, WIDTH, HEIGHT));
		c = pattern_color_of(kind, n, byte * 2, row * 2, WIDTH, HEIGHT);
		return plane == 1 ? pattern_chroma_u(c) : pattern_chroma_v(c);
	case VSHM_FORMAT_NV12:
		if (plane == 0)
			return pattern_luma(pattern_color_of(kind, n, byte, row, WIDTH, HEIGHT));
		c = pattern_color_of(kind, n, (byte / 2) * 2, row * 2, WIDTH, HEIGHT);
		return byte % 2 ? pattern_chroma_v(c) : pattern_chroma_u(c);
	case VSHM_FORMAT_YUYV:
	case VSHM_FORMAT_UYVY: {
		uint32_t pair = byte / 4, position = byte % 4;
		/* YUYV: Y0 U Y1 V; UYVY: U Y0 V Y1 */
		static const char yuyv[] = "YUyV", uyvy[] = "UYVy";
		char what = (format == VSHM_FORMAT_YUYV ? yuyv : uyvy)[position];
		uint32_t x = pair * 2 + (what == 'y');
		if (x >= WIDTH) /* the padding pixel of an odd width repeats nothing */
			x = WIDTH - 1;
		c = pattern_color_of(kind, n, what == 'y' ? x : pair * 2, row, WIDTH, HEIGHT);
		return what == 'U'   ? pattern_chroma_u(c)
		       : what == 'V' ? pattern_chroma_v(c)
		                     : pattern_luma(c);
	}
	default:
		break;
	}
	uint32_t size = format == VSHM_FORMAT_RGB24 || format == VSHM_FORMAT_BGR24 ? 3 : 4;
	c = pattern_color_of(kind, n, byte / size, row, WIDTH, HEIGHT);
	uint32_t channel = byte % size;
	if (channel == 3)
		return 255;
	bool rgb_order = format == VSHM_FORMAT_RGB24 || format == VSHM_FORMAT_RGBA;
	uint8_t values[3] = { c.r, c.g, c.b };
	return values[rgb_order ? channel : 2 - channel];
}

/* Returns how many bytes differ; prints the first. */
static uint64_t compare_frame(const struct vshm_frame *frame)
{
	uint64_t wrong = 0;
	for (uint32_t plane = 0; plane < frame->plane_count; plane++) {
		struct vshm_format_plane description;
		assert_int_equal(vshm_format_plane(frame->format, plane, &description), 0);
		uint32_t samples = (WIDTH + description.horizontal_subsampling - 1) /
		                   description.horizontal_subsampling;
		uint32_t bytes = samples * description.bytes_per_sample;
		uint32_t rows = (HEIGHT + description.vertical_subsampling - 1) /
		                description.vertical_subsampling;
		for (uint32_t row = 0; row < rows; row++) {
			const uint8_t *line =
			    frame->plane[plane] + (uint64_t)row * frame->stride[plane];
			for (uint32_t byte = 0; byte < bytes; byte++) {
				/* YUYV of an odd width: the last pair's second luma is padding. */
				if ((frame->format == VSHM_FORMAT_YUYV ||
				     frame->format == VSHM_FORMAT_UYVY) &&
				    (byte / 4) * 2 + 1 >= WIDTH &&
				    byte % 4 == (frame->format == VSHM_FORMAT_YUYV ? 2u : 3u))
					continue;
				uint8_t want = expected_byte(frame->format, frame->frame_number,
				                             plane, row, byte);
				if (line[byte] != want && wrong++ == 0)
					print_error("%s frame %llu plane %u row %u byte %u: %u, "
					            "expected %u\n",
					            vshm_format_name(frame->format),
					            (unsigned long long)frame->frame_number, plane,
					            row, byte, line[byte], want);
			}
		}
	}
	return wrong;
}

static void pattern_arrives_exactly(uint32_t format)
{
	char source[32];
	snprintf(source, sizeof(source), "test:%s", pattern_name(kind));
	char name[64];
	test_unique_name(name, sizeof(name), vshm_format_name(format));
	char size[32];
	snprintf(size, sizeof(size), "%dx%d", WIDTH, HEIGHT);
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         source,
		         "--format",
		         (char *)vshm_format_name(format),
		         "--size",
		         size,
		         "--fps",
		         "200",
		         "--frames",
		         "60",
		         "--name",
		         name,
		         "--quiet",
		         NULL };
	pid_t capture = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(name, NULL, 10000, NULL, NULL);
	assert_non_null(reader);

	uint64_t checked = 0, wrong = 0;
	struct follow follow = { .reader = reader, .wait_ms = 2000 };
	struct vshm_frame frame;
	while (follow_next(&follow, &frame)) {
		assert_int_equal(frame.format, format);
		assert_int_equal(frame.width, WIDTH);
		assert_int_equal(frame.height, HEIGHT);
		uint64_t differences = compare_frame(&frame);
		if (follow.end_of_stream)
			assert_int_equal(frame.frame_number, 59);
		if (follow_release(&follow)) {
			checked++;
			wrong += differences != 0;
		}
	}
	vshm_reader_detach(reader);
	assert_int_equal(test_wait(capture, 10000), 0);
	assert_false(test_segment_exists(name));
	print_message("%-9s %-9s %llu frames checked byte by byte, %llu wrong\n",
	              pattern_name(kind), vshm_format_name(format), (unsigned long long)checked,
	              (unsigned long long)wrong);
	assert_int_equal(wrong, 0);
	assert_true(checked >= 10);
	assert_true(follow.end_of_stream);
}

static void every_format(void **state)
{
	(void)state;
	kind = PATTERN_BARS;
	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++)
		pattern_arrives_exactly(vshm_format_at(i));
}

/* The other patterns, in a planar YUV and a packed RGB format. */
static void every_pattern(void **state)
{
	(void)state;
	for (kind = PATTERN_GRADIENT; kind < PATTERN_KIND_COUNT; kind++) {
		pattern_arrives_exactly(VSHM_FORMAT_NV12);
		pattern_arrives_exactly(VSHM_FORMAT_RGBA);
	}
	kind = PATTERN_BARS;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_format),
		cmocka_unit_test(every_pattern),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}

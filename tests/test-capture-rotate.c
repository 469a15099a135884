/*
 * capture/rotate.c on its own: the eight rotations against their definition in
 * rotate.h, sample by sample, at an odd size that crosses tile boundaries, for every
 * kind of plane it takes (bytes, 16-bit words, pairs, packed pixels; full and
 * subsampled); the formats it must refuse; and display matrices made by FFmpeg's own
 * libavutil (av_display_rotation_set, av_display_matrix_flip) read as FFmpeg's program
 * reads them. The files test-capture-hifi plays show the same against FFmpeg's output.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/common.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>

#include "rotate.h"

#define WIDTH  67 /* odd, and more than two tiles of 32 */
#define HEIGHT 35

/* The byte a source sample holds: its plane, row, column and byte within the sample
 * mixed, so that any misplaced sample shows. */
static uint8_t source_byte(int plane, int row, int column, int byte)
{
	return (uint8_t)(plane * 97 + row * 31 + column * 7 + byte * 3 + (row * column) / 5);
}

static void check_format(enum AVPixelFormat format, const struct capture_rotation *rotation)
{
	const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
	uint8_t *source[4], *destination[4];
	int source_stride[4], destination_stride[4];
	int out_width = rotation->transpose ? HEIGHT : WIDTH;
	int out_height = rotation->transpose ? WIDTH : HEIGHT;
	assert_true(av_image_alloc(source, source_stride, WIDTH, HEIGHT, format, 64) > 0);
	assert_true(
	    av_image_alloc(destination, destination_stride, out_width, out_height, format, 64) > 0);
	int planes = av_pix_fmt_count_planes(format);
	uint64_t checked = 0;
	for (int p = 0; p < planes; p++) {
		/* The plane's samples: chroma planes of YUV are subsampled, the rest full. */
		bool chroma = !(descriptor->flags & AV_PIX_FMT_FLAG_RGB) && p > 0 && p < 3;
		int shift = chroma ? descriptor->log2_chroma_w : 0;
		int bytes = 0;
		for (int c = 0; c < descriptor->nb_components; c++)
			if (descriptor->comp[c].plane == p)
				bytes = descriptor->comp[c].step;
		int width = AV_CEIL_RSHIFT(WIDTH, shift), height = AV_CEIL_RSHIFT(HEIGHT, shift);
		for (int y = 0; y < height; y++)
			for (int x = 0; x < width; x++)
				for (int b = 0; b < bytes; b++)
					source[p][y * source_stride[p] + x * bytes + b] =
					    source_byte(p, y, x, b);
		capture_rotation_apply(rotation, format, (const uint8_t *const *)source,
		                       source_stride, WIDTH, HEIGHT, destination,
		                       destination_stride);
		int plane_out_width = rotation->transpose ? height : width;
		int plane_out_height = rotation->transpose ? width : height;
		for (int y = 0; y < plane_out_height; y++) {
			for (int x = 0; x < plane_out_width; x++) {
				/* rotate.h: output (x, y) is input (x, y), or input column y of
				 * row x when transposed, each counted from the far side when
				 * reversed. */
				int row = rotation->transpose ? x : y;
				int column = rotation->transpose ? y : x;
				if (rotation->reverse_rows)
					row = height - 1 - row;
				if (rotation->reverse_columns)
					column = width - 1 - column;
				for (int b = 0; b < bytes; b++) {
					uint8_t got = destination[p][y * destination_stride[p] +
					                             x * bytes + b];
					if (got != source_byte(p, row, column, b))
						fail_msg(
						    "%s, %s: plane %d (%d, %d) byte %d is %u, not "
						    "input (%d, %d)",
						    descriptor->name,
						    capture_rotation_describe(rotation), p, x, y, b,
						    got, column, row);
					checked++;
				}
			}
		}
	}
	assert_true(checked > 0);
	av_freep(&source[0]);
	av_freep(&destination[0]);
}

static void every_rotation_of_every_kind_of_plane(void **state)
{
	(void)state;
	static const enum AVPixelFormat formats[] = {
		AV_PIX_FMT_YUV420P,  AV_PIX_FMT_NV12,     AV_PIX_FMT_P010LE, AV_PIX_FMT_YUV420P10LE,
		AV_PIX_FMT_YUV444P,  AV_PIX_FMT_RGB24,    AV_PIX_FMT_BGR0,   AV_PIX_FMT_GRAY8,
		AV_PIX_FMT_RGBA64LE, AV_PIX_FMT_YUVA420P,
	};
	unsigned count = 0;
	for (int bits = 0; bits < 8; bits++) {
		struct capture_rotation rotation = { bits & 4, bits & 2, bits & 1 };
		for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++, count++) {
			assert_true(capture_rotation_supports(formats[f]));
			check_format(formats[f], &rotation);
		}
	}
	print_message("%u rotations of %ux%u pictures match their definition\n", count, WIDTH,
	              HEIGHT);
	/* Packed 4:2:2 shares chroma between pixels of a row; 4:2:2 planar has chroma that
	 * a turn would make 4:4:0; palettes and bits are not samples. */
	assert_false(capture_rotation_supports(AV_PIX_FMT_YUYV422));
	assert_false(capture_rotation_supports(AV_PIX_FMT_YUV422P));
	assert_false(capture_rotation_supports(AV_PIX_FMT_PAL8));
	assert_false(capture_rotation_supports(AV_PIX_FMT_MONOBLACK));
	assert_false(capture_rotation_supports(AV_PIX_FMT_NONE));
}

static void expect(const int32_t matrix[9], const char *description)
{
	struct capture_rotation rotation;
	double degrees;
	assert_int_equal(capture_rotation_from_display_matrix(matrix, &rotation, &degrees), 0);
	assert_string_equal(capture_rotation_describe(&rotation), description);
}

/*
 * Matrices as FFmpeg's libavutil makes them: av_display_rotation_set() turns clockwise
 * (av_display_rotation_get() reads anticlockwise: the sample whose matrix FFmpeg reads
 * as "rotation of 90 degrees" is shown turned anticlockwise, as test-capture-hifi
 * checks against FFmpeg's output).
 */
static void display_matrices_read_as_ffmpeg_reads_them(void **state)
{
	(void)state;
	int32_t matrix[9];
	av_display_rotation_set(matrix, 0);
	expect(matrix, "as stored");
	av_display_rotation_set(matrix, 90);
	expect(matrix, "turned 90° clockwise");
	av_display_rotation_set(matrix, -90);
	expect(matrix, "turned 90° anticlockwise");
	av_display_rotation_set(matrix, 270.4); /* within a degree counts */
	expect(matrix, "turned 90° anticlockwise");
	av_display_rotation_set(matrix, 180);
	expect(matrix, "turned 180°");
	av_display_rotation_set(matrix, 0);
	av_display_matrix_flip(matrix, 1, 0);
	expect(matrix, "mirrored left to right");
	av_display_rotation_set(matrix, 0);
	av_display_matrix_flip(matrix, 0, 1);
	expect(matrix, "mirrored top to bottom");
	/* Turns and mirrors together, as FFmpeg's program from 6.1 on turns them
	 * (transpose=cclock_flip and clock_flip). */
	av_display_rotation_set(matrix, 90);
	av_display_matrix_flip(matrix, 1, 0);
	expect(matrix, "mirrored about its diagonal");
	av_display_rotation_set(matrix, -90);
	av_display_matrix_flip(matrix, 1, 0);
	expect(matrix, "turned 90° clockwise and mirrored top to bottom");

	struct capture_rotation rotation;
	double degrees;
	av_display_rotation_set(matrix, 45);
	assert_int_equal(capture_rotation_from_display_matrix(matrix, &rotation, &degrees),
	                 -ENOTSUP);
	assert_true(capture_rotation_is_none(&rotation));
	assert_true(degrees > 314.5 && degrees < 315.5); /* 45 clockwise, anticlockwise */
	memset(matrix, 0, sizeof(matrix));
	assert_int_equal(capture_rotation_from_display_matrix(matrix, &rotation, &degrees),
	                 -EINVAL);
	assert_true(capture_rotation_is_none(&rotation));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_rotation_of_every_kind_of_plane),
		cmocka_unit_test(display_matrices_read_as_ffmpeg_reads_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

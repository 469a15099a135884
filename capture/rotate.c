/*
 * Turning pictures upright (see rotate.h). The display matrix maps a stored pixel
 * (x, y) to where it is shown: x' = a x + c y, y' = b x + d y (FFmpeg's convention,
 * libavutil/display.h, with the translation that brings the picture back into view left
 * out). With b = c = 0 it keeps rows as rows, mirrored where a or d is negative; with
 * a = d = 0 it transposes, shown column x' being stored row c x' and shown row y'
 * stored column b y', counted from the far side where the sign is negative.
 *
 * Where the pixels go: picture.c calls capture_rotation_apply() straight from the
 * decoder's buffers into the ring's slot when the slot takes the decoder's format at
 * the turned size, so the rotation is the one copy that brings the pixels in.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "rotate.h"

/* Samples per side of the square tiles a transposition walks: 32 rows of 32 samples of
 * up to 8 bytes stay within a 32 KiB first-level cache. */
#define TILE 32

int capture_rotation_from_display_matrix(const int32_t display_matrix[9],
                                         struct capture_rotation *rotation, double *degrees)
{
	*rotation = (struct capture_rotation){ 0 };
	double a = display_matrix[0], b = display_matrix[1];
	double c = display_matrix[3], d = display_matrix[4];
	/* av_display_rotation_get() measures anticlockwise, and sees a mirror image as a
	 * turn by 180 degrees of its other axis; any multiple of 90 is one of our eight.
	 * Within a degree of one counts, as FFmpeg's program counts it. */
	double angle = av_display_rotation_get(display_matrix);
	*degrees = 0;
	if (isnan(angle))
		return -EINVAL; /* all zeros: says nothing */
	if (fabs(fmod(fabs(angle) + 45.0, 90.0) - 45.0) >= 1.0) {
		*degrees = fmod(angle + 360.0, 360.0);
		return -ENOTSUP;
	}
	if (fabs(b) + fabs(c) > fabs(a) + fabs(d)) {
		rotation->transpose = true;
		rotation->reverse_rows = c < 0;
		rotation->reverse_columns = b < 0;
	} else {
		rotation->reverse_columns = a < 0;
		rotation->reverse_rows = d < 0;
	}
	return 0;
}

bool capture_rotation_is_none(const struct capture_rotation *rotation)
{
	return !rotation->transpose && !rotation->reverse_rows && !rotation->reverse_columns;
}

const char *capture_rotation_describe(const struct capture_rotation *rotation)
{
	/* Indexed by transpose, reverse_rows, reverse_columns as bits 2, 1, 0. */
	static const char *const names[] = {
		"as stored",
		"mirrored left to right",
		"mirrored top to bottom",
		"turned 180°",
		"mirrored about its diagonal",
		"turned 90° anticlockwise",
		"turned 90° clockwise",
		"turned 90° clockwise and mirrored top to bottom",
	};
	return names[rotation->transpose << 2 | rotation->reverse_rows << 1 |
	             rotation->reverse_columns];
}

/* The bytes a sample of plane takes, or 0 if its components disagree (packed 4:2:2). */
static int sample_bytes(const AVPixFmtDescriptor *descriptor, int plane)
{
	int bytes = 0;
	for (int c = 0; c < descriptor->nb_components; c++) {
		const AVComponentDescriptor *component = &descriptor->comp[c];
		if (component->plane != plane)
			continue;
		if (bytes && component->step != bytes)
			return 0;
		bytes = component->step;
	}
	return bytes;
}

/* True if plane holds subsampled chroma (U or V of a YUV format, and nothing else). */
static bool is_chroma_plane(const AVPixFmtDescriptor *descriptor, int plane)
{
	if ((descriptor->flags & AV_PIX_FMT_FLAG_RGB) || descriptor->nb_components < 3)
		return false;
	return plane != descriptor->comp[0].plane &&
	       (plane == descriptor->comp[1].plane || plane == descriptor->comp[2].plane);
}

bool capture_rotation_supports(enum AVPixelFormat format)
{
	const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
	if (!descriptor ||
	    (descriptor->flags &
	     (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) ||
	    descriptor->log2_chroma_w != descriptor->log2_chroma_h)
		return false;
	int planes = av_pix_fmt_count_planes(format);
	for (int p = 0; p < planes; p++) {
		int bytes = sample_bytes(descriptor, p);
		if (bytes < 1 || bytes > 8)
			return false;
	}
	return planes > 0;
}

/* One sample, with a size the compiler sees as a constant in each case. */
static inline void copy_sample(uint8_t *to, const uint8_t *from, int bytes)
{
	switch (bytes) {
	case 1:
		*to = *from;
		break;
	case 2:
		memcpy(to, from, 2);
		break;
	case 4:
		memcpy(to, from, 4);
		break;
	case 8:
		memcpy(to, from, 8);
		break;
	default:
		memcpy(to, from, (size_t)bytes);
		break;
	}
}

/* Rows stay rows: each is copied, or reversed sample by sample. */
static void mirror_plane(const struct capture_rotation *rotation, const uint8_t *source,
                         ptrdiff_t source_stride, int width, int height, int bytes,
                         uint8_t *destination, ptrdiff_t destination_stride)
{
	for (int y = 0; y < height; y++) {
		int row = rotation->reverse_rows ? height - 1 - y : y;
		const uint8_t *in = source + row * source_stride;
		uint8_t *out = destination + y * destination_stride;
		if (!rotation->reverse_columns) {
			memcpy(out, in, (size_t)width * (size_t)bytes);
			continue;
		}
		for (int x = 0; x < width; x++)
			copy_sample(out + (ptrdiff_t)x * bytes,
			            in + (ptrdiff_t)(width - 1 - x) * bytes, bytes);
	}
}

/* Rows become columns, a tile at a time: output row y is input column y (or its
 * mirror), output column x input row x (or its mirror). */
static void transpose_plane(const struct capture_rotation *rotation, const uint8_t *source,
                            ptrdiff_t source_stride, int width, int height, int bytes,
                            uint8_t *destination, ptrdiff_t destination_stride)
{
	int out_width = height, out_height = width;
	for (int tile_y = 0; tile_y < out_height; tile_y += TILE) {
		int end_y = tile_y + TILE < out_height ? tile_y + TILE : out_height;
		for (int tile_x = 0; tile_x < out_width; tile_x += TILE) {
			int end_x = tile_x + TILE < out_width ? tile_x + TILE : out_width;
			for (int y = tile_y; y < end_y; y++) {
				int column = rotation->reverse_columns ? width - 1 - y : y;
				const uint8_t *in = source + (ptrdiff_t)column * bytes;
				uint8_t *out = destination + y * destination_stride +
				               (ptrdiff_t)tile_x * bytes;
				for (int x = tile_x; x < end_x; x++, out += bytes) {
					int row = rotation->reverse_rows ? height - 1 - x : x;
					copy_sample(out, in + row * source_stride, bytes);
				}
			}
		}
	}
}

void capture_rotation_apply(const struct capture_rotation *rotation, enum AVPixelFormat format,
                            const uint8_t *const source[4], const int source_stride[4], int width,
                            int height, uint8_t *const destination[4],
                            const int destination_stride[4])
{
	const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
	int planes = av_pix_fmt_count_planes(format);
	for (int p = 0; p < planes; p++) {
		bool chroma = is_chroma_plane(descriptor, p);
		/* The shifts are equal (capture_rotation_supports()), so a turned chroma
		 * plane is the chroma plane of the turned picture. */
		int plane_width = chroma ? AV_CEIL_RSHIFT(width, descriptor->log2_chroma_w) : width;
		int plane_height =
		    chroma ? AV_CEIL_RSHIFT(height, descriptor->log2_chroma_h) : height;
		int bytes = sample_bytes(descriptor, p);
		if (rotation->transpose)
			transpose_plane(rotation, source[p], source_stride[p], plane_width,
			                plane_height, bytes, destination[p], destination_stride[p]);
		else
			mirror_plane(rotation, source[p], source_stride[p], plane_width,
			             plane_height, bytes, destination[p], destination_stride[p]);
	}
}

/*
 * Turning pictures upright, as a video's display matrix asks: phones store portrait
 * video sideways and say in the container (an MP4 track's matrix) how to turn it, and
 * FFmpeg's programs apply it by default. Only turns by multiples of 90 degrees and
 * mirror images: the eight ways of laying a rectangle back onto itself, each a plain
 * rearrangement of samples that needs no arithmetic on them.
 *
 * All functions are pure and thread-safe.
 */
#ifndef VSHM_CAPTURE_ROTATE_H
#define VSHM_CAPTURE_ROTATE_H

#include <stdbool.h>
#include <stdint.h>

#include <libavutil/pixfmt.h>

/*
 * How the output picture is read from the input, of width w and height h: without
 * transpose, output pixel (x, y) is input pixel (x, y) with its column counted from the
 * right when reverse_columns and its row from the bottom when reverse_rows; with
 * transpose, the output is h wide and w high and output pixel (x, y) is input column y
 * of row x, counted from the right or bottom in the same way.
 */
struct capture_rotation {
	bool transpose;
	bool reverse_rows;
	bool reverse_columns;
};

/*
 * The rotation that shows a picture as display_matrix (FFmpeg's AV_PKT_DATA_DISPLAYMATRIX:
 * nine 32-bit numbers, 16.16 and 2.30 fixed point) says to. Returns 0; -ENOTSUP for a
 * turn that is not a multiple of 90 degrees (*degrees then says the turn, anticlockwise,
 * for the message); -EINVAL for a matrix that maps everything to a point. On failure
 * *rotation is no rotation.
 */
int capture_rotation_from_display_matrix(const int32_t display_matrix[9],
                                         struct capture_rotation *rotation, double *degrees);

/* True for the rotation that leaves a picture as it is. */
bool capture_rotation_is_none(const struct capture_rotation *rotation);

/* What the rotation does to the stored picture, for the user: "turned 90° clockwise". */
const char *capture_rotation_describe(const struct capture_rotation *rotation);

/*
 * True if capture_rotation_apply() can rearrange pictures of this format: every plane
 * made of samples of one size (not packed 4:2:2, where a chroma sample spans two
 * pixels of a row), the same subsampling across and down (so that a chroma plane stays
 * one when turned), no bitstream or palette formats.
 */
bool capture_rotation_supports(enum AVPixelFormat format);

/*
 * Writes the picture (planes source, rows source_stride bytes apart, width x height
 * pixels of a format capture_rotation_supports()) into destination as rotation says:
 * each sample is read once and written once, in tiles so that the transposing
 * rotations stay in the cache. The destination is height x width pixels when the
 * rotation transposes, width x height otherwise. Strides may be negative.
 */
void capture_rotation_apply(const struct capture_rotation *rotation, enum AVPixelFormat format,
                            const uint8_t *const source[4], const int source_stride[4], int width,
                            int height, uint8_t *const destination[4],
                            const int destination_stride[4]);

#endif

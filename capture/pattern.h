/*
 * The test pattern: a deterministic picture for every frame number, drawn straight
 * into a slot in any pixel format the ring carries. Tests and benchmarks compute what
 * a frame must hold with pattern_color_at() and the conversions below.
 *
 * Picture: the top two thirds are seven colour bars (white, yellow, cyan, green,
 * magenta, red, blue); the bottom third is black, with a white square that moves right
 * by `step` pixels per frame and the frame number in white digits at the bottom left.
 */
#ifndef VSHM_CAPTURE_PATTERN_H
#define VSHM_CAPTURE_PATTERN_H

#include <stdint.h>

#include <vshm/frame.h>

struct pattern_rgb {
	uint8_t r, g, b;
};

/* The colour of pixel (x, y) of frame n at width x height. */
struct pattern_rgb pattern_color_at(uint64_t n, uint32_t x, uint32_t y, uint32_t width,
                                    uint32_t height);

/*
 * Draws frame n into frame (its format, size, planes and strides as vshm_writer_begin
 * laid them out). Chroma of subsampled formats takes the colour of the top-left pixel of
 * its block. Also sets the frame's colour matrix and range.
 */
void pattern_draw(struct vshm_frame *frame, uint64_t n);

/* BT.601 limited-range conversion used for every YUV format (integer, exact). */
uint8_t pattern_luma(struct pattern_rgb color);
uint8_t pattern_chroma_u(struct pattern_rgb color);
uint8_t pattern_chroma_v(struct pattern_rgb color);
/* Full-range luma, used for GRAY8. */
uint8_t pattern_gray(struct pattern_rgb color);

#endif

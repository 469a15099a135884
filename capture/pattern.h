/*
 * The test pattern: a deterministic picture for every frame number, drawn straight
 * into a slot in any pixel format the ring carries. Tests and benchmarks compute what
 * a frame must hold with pattern_color_at() and the conversions below.
 *
 * Picture: the top two thirds are, by kind, seven colour bars (white, yellow, cyan,
 * green, magenta, red, blue), a 64-step colour ramp, or a gray checkerboard moving
 * right; the bottom third is black, with a white square that moves right by `step`
 * pixels per frame and the frame number in white digits at the bottom left.
 */
#ifndef VSHM_CAPTURE_PATTERN_H
#define VSHM_CAPTURE_PATTERN_H

#include <stdint.h>

#include <vshm/frame.h>

struct pattern_rgb {
	uint8_t r, g, b;
};

enum pattern_kind {
	PATTERN_BARS,
	PATTERN_GRADIENT,
	PATTERN_CHECKERS,
	PATTERN_KIND_COUNT,
};

/* The kind called name ("bars", "gradient", "checkers"), or -1. */
int pattern_from_name(const char *name);
const char *pattern_name(enum pattern_kind kind);

/* The colour of pixel (x, y) of frame n at width x height, for a kind of pattern. */
struct pattern_rgb pattern_color_of(enum pattern_kind kind, uint64_t n, uint32_t x, uint32_t y,
                                    uint32_t width, uint32_t height);

/* The same for the colour bars. */
struct pattern_rgb pattern_color_at(uint64_t n, uint32_t x, uint32_t y, uint32_t width,
                                    uint32_t height);

/*
 * Draws frame n into frame (its format, size, planes and strides as vshm_writer_begin
 * laid them out). Chroma of subsampled formats takes the colour of the top-left pixel of
 * its block. Also sets the frame's colour matrix and range.
 */
void pattern_draw_kind(struct vshm_frame *frame, uint64_t n, enum pattern_kind kind);

/* BT.601 limited-range conversion used for every YUV format (integer, exact). */
uint8_t pattern_luma(struct pattern_rgb color);
uint8_t pattern_chroma_u(struct pattern_rgb color);
uint8_t pattern_chroma_v(struct pattern_rgb color);
/* Full-range luma, used for GRAY8. */
uint8_t pattern_gray(struct pattern_rgb color);

#endif

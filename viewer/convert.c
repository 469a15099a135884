/*
 * Fallback conversions (see convert.h). Integer arithmetic throughout; each output
 * pixel is computed once from the slot, the only pass over the frame.
 */
#include <stdbool.h>

#include "convert.h"

#define FIXED_ONE 65536

static uint8_t clamp_byte(int32_t value)
{
	return (uint8_t)(value < 0 ? 0 : value > 255 ? 255 : value);
}

struct yuv_coefficients convert_coefficients(const struct vshm_frame *frame)
{
	int matrix = frame->color_matrix;
	if (matrix == VSHM_COLOR_MATRIX_UNSPECIFIED)
		matrix = frame->height >= 720 ? VSHM_COLOR_MATRIX_BT709 : VSHM_COLOR_MATRIX_BT601;
	/* Kr and Kb of each matrix; the rest follows from them. */
	double kr = 0.299, kb = 0.114;
	if (matrix == VSHM_COLOR_MATRIX_BT709)
		kr = 0.2126, kb = 0.0722;
	else if (matrix == VSHM_COLOR_MATRIX_BT2020)
		kr = 0.2627, kb = 0.0593;
	double kg = 1.0 - kr - kb;
	bool full = frame->color_range == VSHM_COLOR_RANGE_FULL;
	double luma_gain = full ? 1.0 : 255.0 / 219.0;
	double chroma_gain = full ? 1.0 : 255.0 / 224.0;
	struct yuv_coefficients c = {
		.luma_offset = full ? 0 : 16,
		.luma_gain = (int32_t)(luma_gain * FIXED_ONE + 0.5),
		.v_to_r = (int32_t)(2.0 * (1.0 - kr) * chroma_gain * FIXED_ONE + 0.5),
		.u_to_g = (int32_t)(2.0 * (1.0 - kb) * kb / kg * chroma_gain * FIXED_ONE + 0.5),
		.v_to_g = (int32_t)(2.0 * (1.0 - kr) * kr / kg * chroma_gain * FIXED_ONE + 0.5),
		.u_to_b = (int32_t)(2.0 * (1.0 - kb) * chroma_gain * FIXED_ONE + 0.5),
	};
	return c;
}

static void put_xrgb(uint8_t *pixel, const struct yuv_coefficients *c, int luma, int u, int v)
{
	int32_t y = (luma - c->luma_offset) * c->luma_gain + FIXED_ONE / 2;
	u -= 128;
	v -= 128;
	pixel[0] = clamp_byte((y + c->u_to_b * u) >> 16);
	pixel[1] = clamp_byte((y - c->u_to_g * u - c->v_to_g * v) >> 16);
	pixel[2] = clamp_byte((y + c->v_to_r * v) >> 16);
	pixel[3] = 255;
}

/* The start of component c's samples in row y of the frame (see vshm/format.h). */
static const uint8_t *component_row(const struct vshm_frame *frame,
                                    const struct vshm_format_description *format, int c, uint32_t y)
{
	const struct vshm_format_component *component = &format->components[c];
	bool chroma = format->family == VSHM_FORMAT_FAMILY_YUV && c > 0;
	uint32_t row = chroma ? y >> format->chroma_shift_y : y;
	return frame->plane[component->plane] + (uint64_t)row * frame->stride[component->plane] +
	       component->offset;
}

/*
 * The 8 most significant bits of a sample in a 16-bit little-endian word (P010): the
 * display has 8 bits a channel, so the deeper bits go, without dithering.
 */
static int top_8_bits(const uint8_t *sample, uint32_t shift)
{
	return (int)(((uint32_t)sample[0] | (uint32_t)sample[1] << 8) >> shift) & 0xff;
}

static void convert_deep_yuv_to_xrgb(const struct vshm_frame *frame,
                                     const struct vshm_format_description *format,
                                     const struct yuv_coefficients *c, uint8_t *destination,
                                     int pitch)
{
	uint32_t luma_step = format->components[0].step;
	uint32_t u_step = format->components[1].step, v_step = format->components[2].step;
	uint32_t shift = format->chroma_shift_x;
	uint32_t value_shift = format->sample_shift + format->depth - 8u;
	for (uint32_t y = 0; y < frame->height; y++) {
		uint8_t *out = destination + (int64_t)y * pitch;
		const uint8_t *luma = component_row(frame, format, 0, y);
		const uint8_t *u = component_row(frame, format, 1, y);
		const uint8_t *v = component_row(frame, format, 2, y);
		for (uint32_t x = 0; x < frame->width; x++)
			put_xrgb(out + 4 * x, c,
			         top_8_bits(luma + (size_t)x * luma_step, value_shift),
			         top_8_bits(u + (size_t)(x >> shift) * u_step, value_shift),
			         top_8_bits(v + (size_t)(x >> shift) * v_step, value_shift));
	}
}

void convert_yuv_to_xrgb(const struct vshm_frame *frame, const struct yuv_coefficients *c,
                         uint8_t *destination, int pitch)
{
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	if (format->sample_bytes != 1) {
		convert_deep_yuv_to_xrgb(frame, format, c, destination, pitch);
		return;
	}
	uint32_t luma_step = format->components[0].step;
	uint32_t u_step = format->components[1].step, v_step = format->components[2].step;
	uint32_t shift = format->chroma_shift_x;
	for (uint32_t y = 0; y < frame->height; y++) {
		uint8_t *out = destination + (int64_t)y * pitch;
		const uint8_t *luma = component_row(frame, format, 0, y);
		const uint8_t *u = component_row(frame, format, 1, y);
		const uint8_t *v = component_row(frame, format, 2, y);
		for (uint32_t x = 0; x < frame->width; x++)
			put_xrgb(out + 4 * x, c, luma[(size_t)x * luma_step],
			         u[(size_t)(x >> shift) * u_step],
			         v[(size_t)(x >> shift) * v_step]);
	}
}

void convert_rgb_to_xrgb(const struct vshm_frame *frame, uint8_t *destination, int pitch)
{
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	uint32_t step = format->components[0].step;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *red = component_row(frame, format, 0, y);
		const uint8_t *green = component_row(frame, format, 1, y);
		const uint8_t *blue = component_row(frame, format, 2, y);
		uint8_t *out = destination + (int64_t)y * pitch;
		for (size_t x = 0; x < frame->width; x++, out += 4) {
			out[0] = blue[x * step];
			out[1] = green[x * step];
			out[2] = red[x * step];
			out[3] = 255;
		}
	}
}

void convert_gray_to_xrgb(const struct vshm_frame *frame, uint8_t *destination, int pitch)
{
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	uint32_t step = format->components[0].step;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *in = component_row(frame, format, 0, y);
		uint8_t *out = destination + (int64_t)y * pitch;
		for (size_t x = 0; x < frame->width; x++, out += 4) {
			out[0] = out[1] = out[2] = in[x * step];
			out[3] = 255;
		}
	}
}

void convert_packed_422_to_iyuv(const struct vshm_frame *frame, uint8_t *destination, int pitch)
{
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	uint32_t luma_step = format->components[0].step;
	uint32_t u_step = format->components[1].step, v_step = format->components[2].step;
	uint32_t chroma_width = (frame->width + 1) / 2, chroma_height = (frame->height + 1) / 2;
	/* SDL lays a locked IYUV texture out with chroma rows of (pitch + 1) / 2 bytes. */
	int chroma_pitch = (pitch + 1) / 2;
	uint8_t *u_plane = destination + (int64_t)pitch * frame->height;
	uint8_t *v_plane = u_plane + (int64_t)chroma_pitch * chroma_height;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *luma = component_row(frame, format, 0, y);
		uint8_t *out = destination + (int64_t)y * pitch;
		for (size_t x = 0; x < frame->width; x++)
			out[x] = luma[x * luma_step];
		if (y % 2)
			continue;
		const uint8_t *u = component_row(frame, format, 1, y);
		const uint8_t *v = component_row(frame, format, 2, y);
		uint8_t *u_out = u_plane + (int64_t)(y / 2) * chroma_pitch;
		uint8_t *v_out = v_plane + (int64_t)(y / 2) * chroma_pitch;
		for (size_t k = 0; k < chroma_width; k++) {
			u_out[k] = u[k * u_step];
			v_out[k] = v[k * v_step];
		}
	}
}

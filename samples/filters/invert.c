/*
 * vshm-filter-invert: the photographic negative, in the input's own format: every
 * colour sample v becomes 255 - v; alpha and padding bytes are kept. Works on every
 * format of one-byte samples the ring carries, planar or packed, in one pass, driven by
 * the format's description (which bytes hold which component).
 */
#include <vshm/vshm.h>

/* Room for every format of the table and the terminating VSHM_FORMAT_INVALID. */
#define FORMATS_MAX 64
static uint32_t inputs[FORMATS_MAX + 1];

/* The formats it takes: those whose samples are single bytes, from the format table
 * (P010's 16-bit words are not). */
static void find_inputs(void)
{
	unsigned count = 0;
	for (unsigned i = 0; vshm_format_at(i) && count < FORMATS_MAX; i++) {
		if (vshm_format_describe(vshm_format_at(i))->sample_bytes == 1)
			inputs[count++] = vshm_format_at(i);
	}
	inputs[count] = VSHM_FORMAT_INVALID;
}

/*
 * Bit i set when byte i of a packed pixel is a colour sample, for the pixel size of
 * plane 0. Alpha and padding bytes (RGBA's A, XRGB8888's X) are the ones left clear.
 */
static uint32_t colour_bytes(const struct vshm_format_description *format)
{
	uint32_t step = format->components[0].step;
	if (format->family != VSHM_FORMAT_FAMILY_RGB)
		return UINT32_MAX; /* every byte of YUV and gray is a sample */
	uint32_t mask = 0;
	for (uint32_t c = 0; c < 3; c++)
		mask |= 1u << format->components[c].offset;
	return step == 4 ? mask : UINT32_MAX;
}

/*
 * One row of bytes. The loops are written so that the compiler vectorises them (GCC's
 * -fopt-info-vec reports both): size_t indices, restrict pointers (input and output
 * are different slots) and, for 4-byte pixels, the four bytes of a pixel at constant
 * offsets, each with its own pattern byte.
 */
static void invert_row(const uint8_t *restrict from, uint8_t *restrict to, size_t bytes,
                       const uint8_t flip[4], bool every_byte)
{
	if (every_byte) {
		for (size_t i = 0; i < bytes; i++)
			to[i] = (uint8_t)~from[i];
		return;
	}
	uint8_t flip0 = flip[0], flip1 = flip[1], flip2 = flip[2], flip3 = flip[3];
	for (size_t i = 0; i < bytes / 4; i++) {
		to[4 * i] = from[4 * i] ^ flip0;
		to[4 * i + 1] = from[4 * i + 1] ^ flip1;
		to[4 * i + 2] = from[4 * i + 2] ^ flip2;
		to[4 * i + 3] = from[4 * i + 3] ^ flip3;
	}
}

static int invert(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	const struct vshm_format_description *format = vshm_format_describe(in->format);
	uint32_t colour = colour_bytes(format);
	/* XOR with 0xff is 255 - v; a 0 byte in the pattern keeps alpha and padding. A
	 * pattern other than all ones only comes with 4-byte pixels (colour_bytes()). */
	uint8_t flip[4];
	for (uint32_t i = 0; i < 4; i++)
		flip[i] = (colour >> i) & 1 ? 0xff : 0x00;
	for (uint32_t p = 0; p < in->plane_count; p++) {
		uint64_t bytes;
		uint32_t rows;
		vshm_format_plane_extent(in->format, p, in->width, in->height, &bytes, &rows);
		/* The one pass over the pixels: read from the input slot, written straight
		 * into the output slot. */
		for (uint32_t y = 0; y < rows; y++)
			invert_row(in->plane[p] + (uint64_t)y * in->stride[p],
			           out->plane[p] + (uint64_t)y * out->stride[p], (size_t)bytes,
			           flip, colour == UINT32_MAX);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vshm_filter filter = {
		.name = "invert",
		.description = "Inverts every colour sample (255 - v), in any 8-bit format.",
		.input_formats = inputs,
		.process = invert,
	};
	find_inputs();
	return vshm_filter_main(argc, argv, &filter);
}

/*
 * vshm-filter-grayscale: any 8-bit frame to a full-range GRAY8 frame.
 * YUV input gives its luma (expanded from limited range when it is limited); RGB input
 * gives BT.601 luma. Reads each input pixel once and writes each output pixel once.
 * Where each component lies comes from the format's description, so every format of
 * one-byte samples the ring carries is taken, including ones added later.
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

static uint32_t output_format(uint32_t input, uint32_t requested, void *data)
{
	(void)input, (void)data;
	return requested == VSHM_FORMAT_INVALID || requested == VSHM_FORMAT_GRAY8
	           ? VSHM_FORMAT_GRAY8
	           : VSHM_FORMAT_INVALID;
}

/*
 * Limited-range luma (16..235) to full range (0..255), rounded: ((luma - 16) * 255 + 109)
 * / 219, clamped to 0..255. Clamping the input to 16..235 first gives the same results
 * and keeps every step within 16 bits, so the loops below vectorise (GCC's
 * -fopt-info-vec reports them); a lookup table would not.
 */
static inline uint8_t expand(uint8_t luma)
{
	uint16_t clamped = luma < 16 ? 16 : luma > 235 ? 235 : luma;
	return (uint8_t)((uint16_t)((clamped - 16) * 255 + 109) / 219);
}

/* Luma samples `step` bytes apart. Inlined with a constant step (see luma_row()), so
 * that the compiler knows how far apart the samples lie and vectorises the loop. */
static inline void luma_row_by(const uint8_t *restrict luma, size_t step, size_t width,
                               bool limited, uint8_t *restrict gray)
{
	if (limited) {
		for (size_t x = 0; x < width; x++)
			gray[x] = expand(luma[x * step]);
	} else {
		for (size_t x = 0; x < width; x++)
			gray[x] = luma[x * step];
	}
}

/* Luma samples `step` bytes apart (1 in planes, 2 in packed 4:2:2), through expand()
 * when the range is limited. */
static void luma_row(const uint8_t *restrict luma, size_t step, size_t width, bool limited,
                     uint8_t *restrict gray)
{
	if (step == 1)
		luma_row_by(luma, 1, width, limited, gray);
	else if (step == 2)
		luma_row_by(luma, 2, width, limited, gray);
	else
		luma_row_by(luma, step, width, limited, gray);
}

/*
 * BT.601 luma, (77 R + 150 G + 29 B + 128) >> 8, of packed pixels `step` bytes apart
 * (3 or 4), weight[i] being the weight of byte i of a pixel (0 for alpha or padding).
 * The bytes of a pixel are read at constant offsets, which lets the compiler vectorise
 * the loop; the weights add up to 256, so every sum fits 16 bits.
 */
static inline void rgb_row_by(const uint8_t *restrict row, size_t step, const uint16_t weight[4],
                              size_t width, uint8_t *restrict gray)
{
	uint16_t w0 = weight[0], w1 = weight[1], w2 = weight[2], w3 = step == 4 ? weight[3] : 0;
	for (size_t x = 0; x < width; x++) {
		const uint8_t *pixel = row + x * step;
		uint16_t sum = (uint16_t)(w0 * pixel[0] + w1 * pixel[1] + w2 * pixel[2] + 128);
		if (step == 4)
			sum = (uint16_t)(sum + w3 * pixel[3]);
		gray[x] = (uint8_t)(sum >> 8);
	}
}

static void rgb_row(const uint8_t *restrict row, const struct vshm_format_component *components,
                    size_t width, uint8_t *restrict gray)
{
	uint16_t weight[4] = { 0, 0, 0, 0 };
	weight[components[0].offset] = 77;
	weight[components[1].offset] = 150;
	weight[components[2].offset] = 29;
	if (components[0].step == 4)
		rgb_row_by(row, 4, weight, width, gray);
	else
		rgb_row_by(row, 3, weight, width, gray);
}

static int grayscale(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	const struct vshm_format_description *format = vshm_format_describe(in->format);
	/* Y, or R, the first component: its plane is the one every row reads from (packed
	 * RGB has all three in one plane). */
	const struct vshm_format_component *first = &format->components[0];
	bool rgb = format->family == VSHM_FORMAT_FAMILY_RGB;
	bool limited =
	    format->family == VSHM_FORMAT_FAMILY_YUV && in->color_range != VSHM_COLOR_RANGE_FULL;
	for (uint32_t y = 0; y < in->height; y++) {
		const uint8_t *row =
		    in->plane[first->plane] + (uint64_t)y * in->stride[first->plane];
		uint8_t *gray = out->plane[0] + (uint64_t)y * out->stride[0];
		/* The one pass over the pixels: read from the input slot, written straight
		 * into the output slot. */
		if (rgb)
			rgb_row(row, format->components, in->width, gray);
		else
			luma_row(row + first->offset, first->step, in->width, limited, gray);
	}
	out->color_matrix = VSHM_COLOR_MATRIX_UNSPECIFIED;
	out->color_range = VSHM_COLOR_RANGE_FULL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vshm_filter filter = {
		.name = "grayscale",
		.description = "Turns any 8-bit frame into a full-range gray8 frame.",
		.input_formats = inputs,
		.output_format = output_format,
		.process = grayscale,
	};
	find_inputs();
	return vshm_filter_main(argc, argv, &filter);
}

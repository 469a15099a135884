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

/* Limited-range luma (16..235) to full range (0..255), as a table made once. */
static uint8_t expand[256];

static void make_expand_table(void)
{
	for (int luma = 0; luma < 256; luma++) {
		int value = ((luma - 16) * 255 + 109) / 219;
		expand[luma] = (uint8_t)(value < 0 ? 0 : value > 255 ? 255 : value);
	}
}

/* Luma samples `step` bytes apart, through the table when the range is limited. */
static void luma_row(const uint8_t *luma, uint32_t step, uint32_t width, bool limited,
                     uint8_t *gray)
{
	if (limited) {
		for (uint32_t x = 0; x < width; x++)
			gray[x] = expand[luma[(size_t)x * step]];
	} else {
		for (uint32_t x = 0; x < width; x++)
			gray[x] = luma[(size_t)x * step];
	}
}

/* BT.601 luma of packed RGB pixels `step` bytes apart, with red and blue where given. */
static void rgb_row(const uint8_t *row, const struct vshm_format_component *components,
                    uint32_t width, uint8_t *gray)
{
	uint32_t step = components[0].step;
	const uint8_t *red = row + components[0].offset, *green = row + components[1].offset,
	              *blue = row + components[2].offset;
	for (size_t x = 0; x < width; x++)
		gray[x] = (uint8_t)((77 * red[x * step] + 150 * green[x * step] +
		                     29 * blue[x * step] + 128) >>
		                    8);
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
	make_expand_table();
	return vshm_filter_main(argc, argv, &filter);
}

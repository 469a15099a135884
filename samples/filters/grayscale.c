/*
 * vshm-filter-grayscale: any frame to a full-range GRAY8 frame.
 * YUV input gives its luma (expanded from limited range when it is limited); RGB input
 * gives BT.601 luma. Reads each input pixel once and writes each output pixel once.
 */
#include <vshm/vshm.h>

static const uint32_t inputs[] = {
	VSHM_FORMAT_NV12,     VSHM_FORMAT_I420,  VSHM_FORMAT_YUYV,    VSHM_FORMAT_UYVY,
	VSHM_FORMAT_RGB24,    VSHM_FORMAT_BGR24, VSHM_FORMAT_RGBA,    VSHM_FORMAT_BGRA,
	VSHM_FORMAT_XRGB8888, VSHM_FORMAT_GRAY8, VSHM_FORMAT_INVALID,
};

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

/* Luma every `step` bytes from `first`, through the table when the range is limited. */
static void luma_row(const uint8_t *row, uint32_t first, uint32_t step, uint32_t width,
                     bool limited, uint8_t *gray)
{
	const uint8_t *luma = row + first;
	if (limited) {
		for (uint32_t x = 0; x < width; x++)
			gray[x] = expand[luma[(size_t)x * step]];
	} else {
		for (uint32_t x = 0; x < width; x++)
			gray[x] = luma[(size_t)x * step];
	}
}

/* BT.601 luma of packed RGB pixels of `size` bytes with red at `red`, blue at `blue`. */
static void rgb_row(const uint8_t *row, uint32_t size, uint32_t red, uint32_t blue, uint32_t width,
                    uint8_t *gray)
{
	for (uint32_t x = 0; x < width; x++, row += size)
		gray[x] = (uint8_t)((77 * row[red] + 150 * row[1] + 29 * row[blue] + 128) >> 8);
}

static int grayscale(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	bool limited = in->color_range != VSHM_COLOR_RANGE_FULL && in->format != VSHM_FORMAT_GRAY8;
	for (uint32_t y = 0; y < in->height; y++) {
		const uint8_t *row = in->plane[0] + (uint64_t)y * in->stride[0];
		uint8_t *gray = out->plane[0] + (uint64_t)y * out->stride[0];
		switch (in->format) {
		case VSHM_FORMAT_NV12:
		case VSHM_FORMAT_I420:
		case VSHM_FORMAT_GRAY8:
			luma_row(row, 0, 1, in->width, limited, gray);
			break;
		case VSHM_FORMAT_YUYV:
			luma_row(row, 0, 2, in->width, limited, gray);
			break;
		case VSHM_FORMAT_UYVY:
			luma_row(row, 1, 2, in->width, limited, gray);
			break;
		case VSHM_FORMAT_RGB24:
			rgb_row(row, 3, 0, 2, in->width, gray);
			break;
		case VSHM_FORMAT_BGR24:
			rgb_row(row, 3, 2, 0, in->width, gray);
			break;
		case VSHM_FORMAT_RGBA:
			rgb_row(row, 4, 0, 2, in->width, gray);
			break;
		default: /* BGRA, XRGB8888: B G R A/X in memory */
			rgb_row(row, 4, 2, 0, in->width, gray);
			break;
		}
	}
	out->color_matrix = VSHM_COLOR_MATRIX_UNSPECIFIED;
	out->color_range = VSHM_COLOR_RANGE_FULL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vshm_filter filter = {
		.name = "grayscale",
		.description = "Turns any frame into a full-range gray8 frame.",
		.input_formats = inputs,
		.output_format = output_format,
		.process = grayscale,
	};
	make_expand_table();
	return vshm_filter_main(argc, argv, &filter);
}

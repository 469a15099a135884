/*
 * vshm-filter-edges: Sobel edge detection on the luma of gray and planar or semi-planar
 * YUV frames (gray8, nv12, i420, ...), written as GRAY8: each output pixel is
 * min(255, |Gx| + |Gy|) over its 3x3 neighbourhood; the outermost pixels, which have no
 * full neighbourhood, are black.
 */
#include <string.h>

#include <vshm/vshm.h>

/* Room for every format of the table and the terminating VSHM_FORMAT_INVALID. */
#define FORMATS_MAX 64
static uint32_t inputs[FORMATS_MAX + 1];

/* The formats with a plane of one-byte luma samples side by side, from the format
 * table. */
static void find_inputs(void)
{
	unsigned count = 0;
	for (unsigned i = 0; vshm_format_at(i) && count < FORMATS_MAX; i++) {
		const struct vshm_format_description *format =
		    vshm_format_describe(vshm_format_at(i));
		if (format->family != VSHM_FORMAT_FAMILY_RGB && format->components[0].step == 1 &&
		    format->sample_bytes == 1)
			inputs[count++] = format->format;
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

static int edges(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	uint32_t width = in->width, height = in->height;
	const struct vshm_format_component *y_component =
	    &vshm_format_describe(in->format)->components[0];
	const uint8_t *luma = in->plane[y_component->plane] + y_component->offset;
	size_t stride = in->stride[y_component->plane];
	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = out->plane[0] + (uint64_t)y * out->stride[0];
		if (y == 0 || y + 1 >= height || width < 3) {
			memset(row, 0, width);
			continue;
		}
		const uint8_t *above = luma + (y - 1) * stride, *here = luma + y * stride,
		              *below = luma + (y + 1) * stride;
		row[0] = row[width - 1] = 0;
		for (uint32_t x = 1; x + 1 < width; x++) {
			int gx = (above[x + 1] + 2 * here[x + 1] + below[x + 1]) -
			         (above[x - 1] + 2 * here[x - 1] + below[x - 1]);
			int gy = (below[x - 1] + 2 * below[x] + below[x + 1]) -
			         (above[x - 1] + 2 * above[x] + above[x + 1]);
			int magnitude = (gx < 0 ? -gx : gx) + (gy < 0 ? -gy : gy);
			row[x] = (uint8_t)(magnitude > 255 ? 255 : magnitude);
		}
	}
	out->color_matrix = VSHM_COLOR_MATRIX_UNSPECIFIED;
	out->color_range = VSHM_COLOR_RANGE_FULL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vshm_filter filter = {
		.name = "edges",
		.description = "Sobel edges of the luma of gray or planar YUV frames, as gray8.",
		.input_formats = inputs,
		.output_format = output_format,
		.process = edges,
	};
	find_inputs();
	return vshm_filter_main(argc, argv, &filter);
}

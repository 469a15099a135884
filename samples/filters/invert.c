/*
 * vshm-filter-invert: the photographic negative, in the input's own format: every
 * sample byte v becomes 255 - v (alpha and padding bytes are kept). Works on every
 * format the ring carries, planar or packed, in one pass.
 */
#include <vshm/vshm.h>

/* The byte of each 4-byte pixel that is alpha or padding, or -1. */
static int untouched_byte(uint32_t format)
{
	switch (format) {
	case VSHM_FORMAT_RGBA:
	case VSHM_FORMAT_BGRA:
	case VSHM_FORMAT_XRGB8888:
		return 3;
	default:
		return -1;
	}
}

static int invert(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	int keep = untouched_byte(in->format);
	for (uint32_t p = 0; p < in->plane_count; p++) {
		struct vshm_format_plane plane;
		vshm_format_plane(in->format, p, &plane);
		uint32_t bytes = (in->width + plane.horizontal_subsampling - 1) /
		                 plane.horizontal_subsampling * plane.bytes_per_sample;
		uint32_t rows =
		    (in->height + plane.vertical_subsampling - 1) / plane.vertical_subsampling;
		for (uint32_t y = 0; y < rows; y++) {
			/* restrict: input and output are different slots, so the loop vectorizes.
			 */
			const uint8_t *restrict from = in->plane[p] + (uint64_t)y * in->stride[p];
			uint8_t *restrict to = out->plane[p] + (uint64_t)y * out->stride[p];
			for (uint32_t i = 0; i < bytes; i++)
				to[i] = (keep >= 0 && (int)(i % 4) == keep)
				            ? from[i]
				            : (uint8_t)(255 - from[i]);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vshm_filter filter = {
		.name = "invert",
		.description = "Inverts every sample (255 - v), in any format.",
		.process = invert,
	};
	return vshm_filter_main(argc, argv, &filter);
}

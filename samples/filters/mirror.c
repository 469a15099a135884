/*
 * vshm-filter-mirror: flips frames left to right, in any format. Planes are mirrored
 * sample by sample; packed 4:2:2 (YUYV, UYVY) mirrors pairs and swaps the two lumas of
 * each pair, so chroma stays with its pixels.
 */
#include <string.h>

#include <vshm/vshm.h>

static int mirror(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	bool packed_422 = in->format == VSHM_FORMAT_YUYV || in->format == VSHM_FORMAT_UYVY;
	for (uint32_t p = 0; p < in->plane_count; p++) {
		struct vshm_format_plane plane;
		vshm_format_plane(in->format, p, &plane);
		uint32_t samples =
		    (in->width + plane.horizontal_subsampling - 1) / plane.horizontal_subsampling;
		uint32_t size = plane.bytes_per_sample;
		uint32_t rows =
		    (in->height + plane.vertical_subsampling - 1) / plane.vertical_subsampling;
		for (uint32_t y = 0; y < rows; y++) {
			const uint8_t *from = in->plane[p] + (uint64_t)y * in->stride[p];
			uint8_t *to = out->plane[p] + (uint64_t)y * out->stride[p];
			for (uint32_t i = 0; i < samples; i++) {
				const uint8_t *sample = from + (uint64_t)(samples - 1 - i) * size;
				uint8_t *target = to + (uint64_t)i * size;
				memcpy(target, sample, size);
				if (packed_422) {
					/* Y0 and Y1 trade places: bytes 0/2 (YUYV) or 1/3 (UYVY).
					 */
					int first = in->format == VSHM_FORMAT_YUYV ? 0 : 1;
					target[first] = sample[first + 2];
					target[first + 2] = sample[first];
				}
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vshm_filter filter = {
		.name = "mirror",
		.description = "Mirrors frames left to right, in any format.",
		.process = mirror,
	};
	return vshm_filter_main(argc, argv, &filter);
}

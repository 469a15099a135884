/*
 * vshm-filter-mirror: flips frames left to right, in any format. Planes are mirrored
 * sample by sample; packed 4:2:2 (YUYV, UYVY) pixel by pixel, so chroma stays with its
 * pixels.
 */
#include <string.h>

#include <vshm/vshm.h>

/* Reverses a row of count samples of size bytes each (1, 2, 3 or 4). */
static void reverse_row(const uint8_t *restrict from, uint8_t *restrict to, uint32_t count,
                        uint32_t size)
{
	const uint8_t *sample = from + (uint64_t)(count - 1) * size;
	if (size == 1) {
		/* Eight bytes at a time, byte-swapped: the same as reversing them one by one. */
		uint32_t i = 0;
		for (; i + 8 <= count; i += 8) {
			uint64_t word;
			memcpy(&word, from + count - i - 8, 8);
			word = __builtin_bswap64(word);
			memcpy(to + i, &word, 8);
		}
		for (; i < count; i++)
			to[i] = from[count - 1 - i];
		return;
	}
	for (uint32_t i = 0; i < count; i++, to += size, sample -= size)
		memcpy(to, sample, size);
}

/*
 * Packed 4:2:2, pixel by pixel: output pixel x takes the luma of input pixel
 * width - 1 - x, and each output pair the chroma of the input pair its first pixel came
 * from. Right for odd widths too, where the last pair has only one real pixel.
 */
static void mirror_packed_422(const struct vshm_frame *in, struct vshm_frame *out)
{
	int luma = in->format == VSHM_FORMAT_YUYV ? 0 : 1; /* YUYV: Y0 U Y1 V; UYVY: U Y0 V Y1 */
	int chroma = 1 - luma;
	for (uint32_t y = 0; y < in->height; y++) {
		const uint8_t *from = in->plane[0] + (uint64_t)y * in->stride[0];
		uint8_t *to = out->plane[0] + (uint64_t)y * out->stride[0];
		for (uint32_t x = 0; x < in->width; x++) {
			uint32_t source = in->width - 1 - x;
			to[(x / 2) * 4 + luma + (x % 2) * 2] =
			    from[(source / 2) * 4 + luma + (source % 2) * 2];
			if (x % 2 == 0) {
				to[(x / 2) * 4 + chroma] = from[(source / 2) * 4 + chroma];
				to[(x / 2) * 4 + chroma + 2] = from[(source / 2) * 4 + chroma + 2];
			}
		}
	}
}

static int mirror(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	if (in->format == VSHM_FORMAT_YUYV || in->format == VSHM_FORMAT_UYVY) {
		mirror_packed_422(in, out);
		return 0;
	}
	for (uint32_t p = 0; p < in->plane_count; p++) {
		struct vshm_format_plane plane;
		vshm_format_plane(in->format, p, &plane);
		uint32_t samples =
		    (in->width + plane.horizontal_subsampling - 1) / plane.horizontal_subsampling;
		uint32_t rows =
		    (in->height + plane.vertical_subsampling - 1) / plane.vertical_subsampling;
		for (uint32_t y = 0; y < rows; y++)
			reverse_row(in->plane[p] + (uint64_t)y * in->stride[p],
			            out->plane[p] + (uint64_t)y * out->stride[p], samples,
			            plane.bytes_per_sample);
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

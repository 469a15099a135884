/*
 * vshm-filter-mirror: flips frames left to right, in any format. Planes are mirrored
 * sample by sample; packed 4:2:2 (YUYV, UYVY) mirrors pairs and swaps the two lumas of
 * each pair, so chroma stays with its pixels.
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

static int mirror(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	bool packed_422 = in->format == VSHM_FORMAT_YUYV || in->format == VSHM_FORMAT_UYVY;
	int first_luma = in->format == VSHM_FORMAT_YUYV ? 0 : 1;
	for (uint32_t p = 0; p < in->plane_count; p++) {
		struct vshm_format_plane plane;
		vshm_format_plane(in->format, p, &plane);
		uint32_t samples =
		    (in->width + plane.horizontal_subsampling - 1) / plane.horizontal_subsampling;
		uint32_t rows =
		    (in->height + plane.vertical_subsampling - 1) / plane.vertical_subsampling;
		for (uint32_t y = 0; y < rows; y++) {
			const uint8_t *from = in->plane[p] + (uint64_t)y * in->stride[p];
			uint8_t *to = out->plane[p] + (uint64_t)y * out->stride[p];
			reverse_row(from, to, samples, plane.bytes_per_sample);
			/* In packed 4:2:2 a sample is a pair: its two lumas trade places too. */
			for (uint32_t i = 0; packed_422 && i < samples; i++) {
				uint8_t *pair = to + (uint64_t)i * 4;
				uint8_t luma = pair[first_luma];
				pair[first_luma] = pair[first_luma + 2];
				pair[first_luma + 2] = luma;
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

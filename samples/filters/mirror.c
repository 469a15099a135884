/*
 * vshm-filter-mirror: flips frames left to right, in any format. Planes are mirrored
 * sample by sample; packed 4:2:2 (YUYV, UYVY) pixel by pixel, so chroma stays with its
 * pixels.
 */
#include <vshm/vshm.h>

/*
 * The row loops below are plain loops over bytes at constant offsets, which the
 * compiler vectorises (GCC's -fopt-info-vec reports them). Reversing the order of bytes
 * in a vector takes a byte shuffle that the x86-64 baseline (SSE2) lacks, so on x86-64
 * the compiler also makes copies of the row function for SSSE3 and AVX2, and the
 * dynamic loader picks the best one for the CPU (GCC's and Clang's target_clones).
 */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define ROW_CLONES __attribute__((target_clones("avx2", "ssse3", "default")))
#endif
#endif
#ifndef ROW_CLONES
#define ROW_CLONES
#endif

/*
 * Reverses count samples of size bytes each: inlined below with a constant size, so
 * that the compiler knows each sample's bytes lie at fixed offsets. The input is read
 * forwards and the output written backwards: the input was just written by another
 * process, and read in order, row after row, it is one long stream that the CPU's
 * prefetcher fetches ahead; read backwards, every row starts a new stream, which cost
 * 1.4x the time of a copy where this costs the same as one.
 */
static inline void reverse_by(const uint8_t *restrict from, uint8_t *restrict to, size_t count,
                              size_t size)
{
	for (size_t i = 0; i < count; i++)
		for (size_t b = 0; b < size; b++)
			to[(count - 1 - i) * size + b] = from[i * size + b];
}

/* Reverses a row of count samples of size bytes each (1, 2, 3 or 4). */
ROW_CLONES static void reverse_row(const uint8_t *restrict from, uint8_t *restrict to, size_t count,
                                   size_t size)
{
	switch (size) {
	case 1:
		reverse_by(from, to, count, 1);
		break;
	case 2:
		reverse_by(from, to, count, 2);
		break;
	case 3:
		reverse_by(from, to, count, 3);
		break;
	case 4:
		reverse_by(from, to, count, 4);
		break;
	default:
		reverse_by(from, to, count, size);
		break;
	}
}

/*
 * Packed 4:2:2, pixel by pixel: output pixel x takes the luma of input pixel
 * width - 1 - x, and each output pair the chroma of the input pair its first pixel came
 * from. Right for odd widths too, where the last pair has only one real pixel. Where
 * Y, U and V lie in a pair comes from the format's description.
 */
static void mirror_packed_422(const struct vshm_frame *in, struct vshm_frame *out,
                              const struct vshm_format_description *format)
{
	uint32_t luma = format->components[0].offset;
	uint32_t u = format->components[1].offset, v = format->components[2].offset;
	for (uint32_t y = 0; y < in->height; y++) {
		const uint8_t *from = in->plane[0] + (uint64_t)y * in->stride[0];
		uint8_t *to = out->plane[0] + (uint64_t)y * out->stride[0];
		for (uint32_t x = 0; x < in->width; x++) {
			uint32_t source = in->width - 1 - x;
			to[(x / 2) * 4 + luma + (x % 2) * 2] =
			    from[(source / 2) * 4 + luma + (source % 2) * 2];
			if (x % 2 == 0) {
				to[(x / 2) * 4 + u] = from[(source / 2) * 4 + u];
				to[(x / 2) * 4 + v] = from[(source / 2) * 4 + v];
			}
		}
	}
}

static int mirror(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	const struct vshm_format_description *format = vshm_format_describe(in->format);
	/* One plane holding Y, U and V: pairs of pixels share their chroma. */
	if (format->family == VSHM_FORMAT_FAMILY_YUV && format->plane_count == 1) {
		mirror_packed_422(in, out, format);
		return 0;
	}
	for (uint32_t p = 0; p < in->plane_count; p++) {
		uint64_t bytes;
		uint32_t rows;
		vshm_format_plane_extent(in->format, p, in->width, in->height, &bytes, &rows);
		uint32_t sample = format->planes[p].bytes_per_sample;
		/* The one pass over the pixels: read from the input slot, written straight
		 * into the output slot. */
		for (uint32_t y = 0; y < rows; y++)
			reverse_row(in->plane[p] + (uint64_t)y * in->stride[p],
			            out->plane[p] + (uint64_t)y * out->stride[p],
			            (size_t)(bytes / sample), sample);
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

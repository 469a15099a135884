/*
 * The format table (common/format.c) against an independent description of the same
 * layouts: FFmpeg's pixel format descriptors, for the FFmpeg name each row gives. A
 * component in the wrong place, a wrong subsampling or plane count, or a missing alpha
 * would make every program that trusts the table read the wrong bytes; FFmpeg's
 * descriptors are what every other video tool reads these layouts with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include <vshm/format.h>

/* The FFmpeg format of a row, which must exist. */
static enum AVPixelFormat ffmpeg_format(const struct vshm_format_description *description)
{
	enum AVPixelFormat format = av_get_pix_fmt(description->ffmpeg_name);
	if (format == AV_PIX_FMT_NONE)
		fail_msg("%s: FFmpeg has no pixel format '%s'", description->name,
		         description->ffmpeg_name);
	return format;
}

static void every_row_matches_ffmpegs_descriptor(void **state)
{
	(void)state;
	unsigned rows = 0;
	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++, rows++) {
		const struct vshm_format_description *ours =
		    vshm_format_describe(vshm_format_at(i));
		assert_non_null(ours);
		const AVPixFmtDescriptor *theirs = av_pix_fmt_desc_get(ffmpeg_format(ours));
		assert_non_null(theirs);
		const char *name = ours->name;

		if (ours->plane_count != av_pix_fmt_count_planes(ffmpeg_format(ours)))
			fail_msg("%s: %u planes, FFmpeg's %s has %d", name, ours->plane_count,
			         theirs->name, av_pix_fmt_count_planes(ffmpeg_format(ours)));
		if (ours->component_count != theirs->nb_components)
			fail_msg("%s: %u components, FFmpeg's %s has %d", name,
			         ours->component_count, theirs->name, theirs->nb_components);
		bool alpha = theirs->flags & AV_PIX_FMT_FLAG_ALPHA;
		if ((ours->component_count == 4) != alpha)
			fail_msg("%s: alpha %s, FFmpeg's %s %s", name,
			         ours->component_count == 4 ? "yes" : "no", theirs->name,
			         alpha ? "has alpha" : "has none");
		if (ours->chroma_shift_x != theirs->log2_chroma_w ||
		    ours->chroma_shift_y != theirs->log2_chroma_h)
			fail_msg("%s: chroma shifts %u,%u, FFmpeg's %s %u,%u", name,
			         ours->chroma_shift_x, ours->chroma_shift_y, theirs->name,
			         theirs->log2_chroma_w, theirs->log2_chroma_h);
		/* The family: FFmpeg lists R, G, B (and A) or Y, U, V (or Y alone) in that
		 * order, as vshm does. */
		bool rgb = theirs->flags & AV_PIX_FMT_FLAG_RGB;
		uint8_t family = rgb                         ? VSHM_FORMAT_FAMILY_RGB
		                 : theirs->nb_components < 3 ? VSHM_FORMAT_FAMILY_GRAY
		                                             : VSHM_FORMAT_FAMILY_YUV;
		if (ours->family != family)
			fail_msg("%s: family %u, FFmpeg's %s says %u", name, ours->family,
			         theirs->name, family);
		assert_false(theirs->flags & (AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL |
		                              AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT));

		static const char *const yuv_names[] = { "Y", "U", "V", "A" };
		static const char *const rgb_names[] = { "R", "G", "B", "A" };
		for (unsigned c = 0; c < ours->component_count; c++) {
			const struct vshm_format_component *mine = &ours->components[c];
			const AVComponentDescriptor *other = &theirs->comp[c];
			const char *component = rgb ? rgb_names[c] : yuv_names[c];
			if (mine->plane != other->plane || mine->step != other->step ||
			    mine->offset != other->offset)
				fail_msg("%s %s: plane %u step %u offset %u, FFmpeg's %s: plane %d "
				         "step %d offset %d",
				         name, component, mine->plane, mine->step, mine->offset,
				         theirs->name, other->plane, other->step, other->offset);
			/* Samples are one byte, or 16-bit little-endian words (FFmpeg's
			 * LE formats) with the value `shift` bits up. */
			if (mine->step % ours->sample_bytes != 0 || other->depth != ours->depth ||
			    other->shift != ours->sample_shift)
				fail_msg(
				    "%s %s: %u-byte samples of %u bits shifted by %u, FFmpeg's "
				    "%s: step %d, %d bits shifted by %d",
				    name, component, ours->sample_bytes, ours->depth,
				    ours->sample_shift, theirs->name, other->step, other->depth,
				    other->shift);
		}
		assert_true(ours->sample_bytes == 1 || ours->sample_bytes == 2);
		assert_true(ours->depth + ours->sample_shift <= 8u * ours->sample_bytes);
		assert_true(ours->depth > 8 * (ours->sample_bytes - 1u));
	}
	print_message("%u rows of the format table agree with FFmpeg's pixel format "
	              "descriptors\n",
	              rows);
	assert_int_equal(rows, 12);
}

/*
 * The bytes of a row and the rows of each plane, for odd and even sizes, against
 * FFmpeg's own arithmetic for an unpadded image (av_image_fill_linesizes and
 * av_image_fill_plane_sizes): odd sizes are where rounding of subsampled planes goes
 * wrong.
 */
static void plane_extents_match_ffmpeg(void **state)
{
	(void)state;
	static const uint32_t sizes[][2] = { { 1, 1 },    { 2, 2 },       { 3, 5 },
		                             { 161, 97 }, { 1920, 1080 }, { 16384, 3 } };
	unsigned checked = 0;
	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++) {
		uint32_t format = vshm_format_at(i);
		const struct vshm_format_description *ours = vshm_format_describe(format);
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			uint32_t width = sizes[s][0], height = sizes[s][1];
			int linesizes[4];
			size_t plane_sizes[4];
			ptrdiff_t strides[4];
			assert_true(av_image_fill_linesizes(linesizes, ffmpeg_format(ours),
			                                    (int)width) >= 0);
			for (int p = 0; p < 4; p++)
				strides[p] = linesizes[p];
			assert_true(av_image_fill_plane_sizes(plane_sizes, ffmpeg_format(ours),
			                                      (int)height, strides) >= 0);
			for (uint32_t p = 0; p < ours->plane_count; p++) {
				uint64_t row_bytes;
				uint32_t rows;
				assert_int_equal(vshm_format_plane_extent(format, p, width, height,
				                                          &row_bytes, &rows),
				                 0);
				uint64_t ffmpeg_rows = plane_sizes[p] / (uint64_t)linesizes[p];
				if (row_bytes != (uint64_t)linesizes[p] || rows != ffmpeg_rows)
					fail_msg(
					    "%s %ux%u plane %u: %llu bytes x %u rows, FFmpeg's "
					    "%s: %d x %llu",
					    ours->name, width, height, p,
					    (unsigned long long)row_bytes, rows, ours->ffmpeg_name,
					    linesizes[p], (unsigned long long)ffmpeg_rows);
				checked++;
			}
		}
	}
	print_message("%u plane extents agree with FFmpeg's\n", checked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_row_matches_ffmpegs_descriptor),
		cmocka_unit_test(plane_extents_match_ffmpeg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

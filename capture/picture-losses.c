/*
 * What converting a picture into a ring format loses, said once when the stream is
 * announced: a 10-bit HDR file cut to 8 bits, 4:4:4 chroma halved, alpha dropped. Each
 * is visible (banding, colour fringes, lost transparency) and none should pass without
 * a word.
 */
#include <stdio.h>
#include <string.h>

#include <libavutil/pixdesc.h>

#include "picture.h"

/* The usual name of a chroma subsampling: 4:2:0 for halved both ways. */
static void subsampling_name(int shift_x, int shift_y, char *text, size_t size)
{
	if (shift_x == 0 && shift_y == 0)
		snprintf(text, size, "4:4:4");
	else if (shift_x == 1 && shift_y == 0)
		snprintf(text, size, "4:2:2");
	else if (shift_x == 1 && shift_y == 1)
		snprintf(text, size, "4:2:0");
	else if (shift_x == 2 && shift_y == 0)
		snprintf(text, size, "4:1:1");
	else if (shift_x == 0 && shift_y == 1)
		snprintf(text, size, "4:4:0");
	else
		snprintf(text, size, "1/%d x 1/%d", 1 << shift_x, 1 << shift_y);
}

/* Adds ", item" to text, or "lost in FORMAT: item" for the first. */
static void add(char *text, size_t size, const char *ring_name, const char *item)
{
	size_t used = strlen(text);
	if (used == 0)
		snprintf(text, size, "lost in %s: %s", ring_name, item);
	else if (used + 1 < size)
		snprintf(text + used, size - used, ", %s", item);
}

void capture_picture_describe_losses(enum AVPixelFormat format, uint32_t ring_format, char *text,
                                     size_t size)
{
	text[0] = '\0';
	const AVPixFmtDescriptor *from = av_pix_fmt_desc_get(format);
	const struct vshm_format_description *to = vshm_format_describe(ring_format);
	if (!from || !to || (from->flags & AV_PIX_FMT_FLAG_HWACCEL))
		return;
	char item[96];
	int depth = 0;
	for (int c = 0; c < from->nb_components; c++)
		depth = from->comp[c].depth > depth ? from->comp[c].depth : depth;
	if (from->flags & AV_PIX_FMT_FLAG_PAL)
		depth = 8; /* the palette's entries; the indexes are no depth */
	if (depth > to->depth) {
		snprintf(item, sizeof(item), "depth %d -> %u bits", depth, to->depth);
		add(text, size, to->name, item);
	}
	bool colour = from->nb_components >= 3;
	if (colour && to->family == VSHM_FORMAT_FAMILY_GRAY) {
		add(text, size, to->name, "colour");
	} else if (colour && to->family == VSHM_FORMAT_FAMILY_YUV) {
		/* RGB has a sample of every colour at every pixel: 4:4:4. */
		bool rgb = from->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL);
		int shift_x = rgb ? 0 : from->log2_chroma_w,
		    shift_y = rgb ? 0 : from->log2_chroma_h;
		if (to->chroma_shift_x > shift_x || to->chroma_shift_y > shift_y) {
			char before[16], after[16];
			subsampling_name(shift_x, shift_y, before, sizeof(before));
			subsampling_name(to->chroma_shift_x, to->chroma_shift_y, after,
			                 sizeof(after));
			snprintf(item, sizeof(item), "chroma %s -> %s", before, after);
			add(text, size, to->name, item);
		}
	}
	if ((from->flags & AV_PIX_FMT_FLAG_ALPHA) && to->component_count < 4)
		add(text, size, to->name, "alpha");
}

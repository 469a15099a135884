/*
 * The pixel format table. Every rule about planes, subsampling, strides and where each
 * component lies lives in the table below; everything else, here and in the programs,
 * is computed from it.
 */
#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "vshm/format.h"

/* Shorthands that keep each row of the table on a few lines. */
#define PLANE(bytes, horizontal, vertical)                                                         \
	{                                                                                          \
		(bytes), (horizontal), (vertical)                                                  \
	}
#define COMPONENT(plane, step, offset)                                                             \
	{                                                                                          \
		(plane), (step), (offset)                                                          \
	}
/* Depth, bytes and shift of the samples: one byte, or 10 bits at the top of a word. */
#define BITS_8        8, 1, 0
#define BITS_10_IN_16 10, 2, 6
#define YUV           VSHM_FORMAT_FAMILY_YUV
#define RGB           VSHM_FORMAT_FAMILY_RGB
#define GRAY          VSHM_FORMAT_FAMILY_GRAY

/* clang-format off */
static const struct vshm_format_description formats[] = {
	{ VSHM_FORMAT_NV12, "nv12", "nv12", "NV12", VSHM_FOURCC('N', 'V', '1', '2'),
	  YUV, 2, 3, 1, 1, { PLANE(1, 1, 1), PLANE(2, 2, 2) },
	  { COMPONENT(0, 1, 0), COMPONENT(1, 2, 0), COMPONENT(1, 2, 1) }, BITS_8 },
	{ VSHM_FORMAT_I420, "i420", "yuv420p", "I420", VSHM_FOURCC('Y', 'U', '1', '2'),
	  YUV, 3, 3, 1, 1, { PLANE(1, 1, 1), PLANE(1, 2, 2), PLANE(1, 2, 2) },
	  { COMPONENT(0, 1, 0), COMPONENT(1, 1, 0), COMPONENT(2, 1, 0) }, BITS_8 },
	/* Packed 4:2:2: one plane sample is a pair of pixels, four bytes. */
	{ VSHM_FORMAT_YUYV, "yuyv", "yuyv422", "YUY2", VSHM_FOURCC('Y', 'U', 'Y', 'V'),
	  YUV, 1, 3, 1, 0, { PLANE(4, 2, 1) },
	  { COMPONENT(0, 2, 0), COMPONENT(0, 4, 1), COMPONENT(0, 4, 3) }, BITS_8 },
	{ VSHM_FORMAT_UYVY, "uyvy", "uyvy422", "UYVY", VSHM_FOURCC('U', 'Y', 'V', 'Y'),
	  YUV, 1, 3, 1, 0, { PLANE(4, 2, 1) },
	  { COMPONENT(0, 2, 1), COMPONENT(0, 4, 0), COMPONENT(0, 4, 2) }, BITS_8 },
	{ VSHM_FORMAT_RGB24, "rgb24", "rgb24", "RGB", VSHM_FOURCC('R', 'G', 'B', '3'),
	  RGB, 1, 3, 0, 0, { PLANE(3, 1, 1) },
	  { COMPONENT(0, 3, 0), COMPONENT(0, 3, 1), COMPONENT(0, 3, 2) }, BITS_8 },
	{ VSHM_FORMAT_BGR24, "bgr24", "bgr24", "BGR", VSHM_FOURCC('B', 'G', 'R', '3'),
	  RGB, 1, 3, 0, 0, { PLANE(3, 1, 1) },
	  { COMPONENT(0, 3, 2), COMPONENT(0, 3, 1), COMPONENT(0, 3, 0) }, BITS_8 },
	/* V4L2 names 32-bit formats by their word, so its "ABGR32" is R G B A in memory. */
	{ VSHM_FORMAT_RGBA, "rgba", "rgba", "RGBA", VSHM_FOURCC('A', 'B', '2', '4'),
	  RGB, 1, 4, 0, 0, { PLANE(4, 1, 1) },
	  { COMPONENT(0, 4, 0), COMPONENT(0, 4, 1), COMPONENT(0, 4, 2), COMPONENT(0, 4, 3) }, BITS_8 },
	{ VSHM_FORMAT_BGRA, "bgra", "bgra", "BGRA", VSHM_FOURCC('A', 'R', '2', '4'),
	  RGB, 1, 4, 0, 0, { PLANE(4, 1, 1) },
	  { COMPONENT(0, 4, 2), COMPONENT(0, 4, 1), COMPONENT(0, 4, 0), COMPONENT(0, 4, 3) }, BITS_8 },
	/* B G R and a padding byte: three components, no alpha. */
	{ VSHM_FORMAT_XRGB8888, "xrgb8888", "bgr0", "BGRx", VSHM_FOURCC('X', 'R', '2', '4'),
	  RGB, 1, 3, 0, 0, { PLANE(4, 1, 1) },
	  { COMPONENT(0, 4, 2), COMPONENT(0, 4, 1), COMPONENT(0, 4, 0) }, BITS_8 },
	{ VSHM_FORMAT_GRAY8, "gray8", "gray", "GRAY8", VSHM_FOURCC('G', 'R', 'E', 'Y'),
	  GRAY, 1, 1, 0, 0, { PLANE(1, 1, 1) },
	  { COMPONENT(0, 1, 0) }, BITS_8 },
	/* NV12's layout with 16-bit words, the 10 bits at the top (V4L2's and DRM's P010). */
	{ VSHM_FORMAT_P010, "p010", "p010le", "P010_10LE", VSHM_FOURCC('P', '0', '1', '0'),
	  YUV, 2, 3, 1, 1, { PLANE(2, 1, 1), PLANE(4, 2, 2) },
	  { COMPONENT(0, 2, 0), COMPONENT(1, 4, 0), COMPONENT(1, 4, 2) }, BITS_10_IN_16 },
	/* V4L2 has this layout only as multi-planar YM24, which vshm's camera source does not
	 * use: no V4L2 code. */
	{ VSHM_FORMAT_I444, "i444", "yuv444p", "Y444", 0,
	  YUV, 3, 3, 0, 0, { PLANE(1, 1, 1), PLANE(1, 1, 1), PLANE(1, 1, 1) },
	  { COMPONENT(0, 1, 0), COMPONENT(1, 1, 0), COMPONENT(2, 1, 0) }, BITS_8 },
};
/* clang-format on */

#define FORMAT_COUNT (sizeof(formats) / sizeof(formats[0]))

static const struct vshm_format_description *find(uint32_t format)
{
	for (unsigned i = 0; i < FORMAT_COUNT; i++) {
		if (formats[i].format == format)
			return &formats[i];
	}
	return NULL;
}

const struct vshm_format_description *vshm_format_describe(uint32_t format)
{
	return find(format);
}

bool vshm_format_is_valid(uint32_t format)
{
	return find(format) != NULL;
}

const char *vshm_format_name(uint32_t format)
{
	const struct vshm_format_description *description = find(format);
	return description ? description->name : NULL;
}

uint32_t vshm_format_from_name(const char *name)
{
	if (!name)
		return VSHM_FORMAT_INVALID;
	for (unsigned i = 0; i < FORMAT_COUNT; i++) {
		if (strcasecmp(formats[i].name, name) == 0)
			return formats[i].format;
	}
	return VSHM_FORMAT_INVALID;
}

uint32_t vshm_format_at(unsigned index)
{
	return index < FORMAT_COUNT ? formats[index].format : VSHM_FORMAT_INVALID;
}

uint32_t vshm_format_plane_count(uint32_t format)
{
	const struct vshm_format_description *description = find(format);
	return description ? description->plane_count : 0;
}

int vshm_format_plane(uint32_t format, uint32_t index, struct vshm_format_plane *plane)
{
	const struct vshm_format_description *description = find(format);
	if (!description || index >= description->plane_count)
		return -EINVAL;
	*plane = description->planes[index];
	return 0;
}

static uint64_t divide_round_up(uint64_t value, uint64_t divisor)
{
	return (value + divisor - 1) / divisor;
}

static uint64_t row_bytes(const struct vshm_format_plane *plane, uint32_t width)
{
	return divide_round_up(width, plane->horizontal_subsampling) * plane->bytes_per_sample;
}

static uint64_t row_count(const struct vshm_format_plane *plane, uint32_t height)
{
	return divide_round_up(height, plane->vertical_subsampling);
}

static bool size_is_valid(uint32_t width, uint32_t height)
{
	return width >= 1 && height >= 1 && width <= VSHM_FORMAT_DIMENSION_MAX &&
	       height <= VSHM_FORMAT_DIMENSION_MAX;
}

int vshm_format_plane_extent(uint32_t format, uint32_t index, uint32_t width, uint32_t height,
                             uint64_t *row_bytes_out, uint32_t *rows_out)
{
	const struct vshm_format_description *description = find(format);
	if (!description || index >= description->plane_count || !size_is_valid(width, height))
		return -EINVAL;
	*row_bytes_out = row_bytes(&description->planes[index], width);
	*rows_out = (uint32_t)row_count(&description->planes[index], height);
	return 0;
}

int vshm_format_layout(uint32_t format, uint32_t width, uint32_t height,
                       struct vshm_format_layout *layout)
{
	const struct vshm_format_description *description = find(format);
	if (!description || !size_is_valid(width, height))
		return -EINVAL;

	/* With dimensions capped at 16384 nothing below can overflow 64 bits. */
	struct vshm_format_layout result = { .plane_count = description->plane_count };
	uint64_t offset = 0;
	for (uint32_t i = 0; i < description->plane_count; i++) {
		const struct vshm_format_plane *plane = &description->planes[i];
		uint64_t stride =
		    divide_round_up(row_bytes(plane, width), VSHM_FORMAT_STRIDE_ALIGN) *
		    VSHM_FORMAT_STRIDE_ALIGN;
		result.stride[i] = (uint32_t)stride;
		result.offset[i] = offset;
		result.size[i] = stride * row_count(plane, height);
		offset += result.size[i];
	}
	result.total_size = offset;
	*layout = result;
	return 0;
}

int vshm_format_check_layout(uint32_t format, uint32_t width, uint32_t height,
                             const struct vshm_format_layout *layout, uint64_t capacity)
{
	const struct vshm_format_description *description = find(format);
	if (!description || !size_is_valid(width, height) ||
	    layout->plane_count != description->plane_count)
		return -EINVAL;

	for (uint32_t i = 0; i < description->plane_count; i++) {
		const struct vshm_format_plane *plane = &description->planes[i];
		uint64_t rows = row_count(plane, height);
		uint64_t stride = layout->stride[i];
		if (stride < row_bytes(plane, width))
			return -EINVAL;
		/* The last row need only hold its own bytes, so stride * rows may exceed size. */
		uint64_t needed = stride * (rows - 1) + row_bytes(plane, width);
		if (layout->size[i] < needed)
			return -EINVAL;
		if (layout->offset[i] > capacity || layout->size[i] > capacity - layout->offset[i])
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++) {
			bool apart = layout->offset[i] >= layout->offset[j] + layout->size[j] ||
			             layout->offset[j] >= layout->offset[i] + layout->size[i];
			if (!apart)
				return -EINVAL;
		}
	}
	return 0;
}

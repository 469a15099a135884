/*
 * The pixel format table. Every rule about planes, subsampling and strides lives in
 * the table below; everything else is computed from it.
 */
#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "vshm/format.h"

struct format_description {
	uint32_t format;
	const char *name;
	uint32_t plane_count;
	struct vshm_format_plane planes[3];
};

static const struct format_description formats[] = {
	{ VSHM_FORMAT_NV12, "nv12", 2, { { 1, 1, 1 }, { 2, 2, 2 } } },
	{ VSHM_FORMAT_I420, "i420", 3, { { 1, 1, 1 }, { 1, 2, 2 }, { 1, 2, 2 } } },
	/* Packed 4:2:2: one sample is a pair of pixels, four bytes. */
	{ VSHM_FORMAT_YUYV, "yuyv", 1, { { 4, 2, 1 } } },
	{ VSHM_FORMAT_UYVY, "uyvy", 1, { { 4, 2, 1 } } },
	{ VSHM_FORMAT_RGB24, "rgb24", 1, { { 3, 1, 1 } } },
	{ VSHM_FORMAT_BGR24, "bgr24", 1, { { 3, 1, 1 } } },
	{ VSHM_FORMAT_RGBA, "rgba", 1, { { 4, 1, 1 } } },
	{ VSHM_FORMAT_BGRA, "bgra", 1, { { 4, 1, 1 } } },
	{ VSHM_FORMAT_XRGB8888, "xrgb8888", 1, { { 4, 1, 1 } } },
	{ VSHM_FORMAT_GRAY8, "gray8", 1, { { 1, 1, 1 } } },
};

#define FORMAT_COUNT (sizeof(formats) / sizeof(formats[0]))

static const struct format_description *find(uint32_t format)
{
	for (unsigned i = 0; i < FORMAT_COUNT; i++) {
		if (formats[i].format == format)
			return &formats[i];
	}
	return NULL;
}

bool vshm_format_is_valid(uint32_t format)
{
	return find(format) != NULL;
}

const char *vshm_format_name(uint32_t format)
{
	const struct format_description *description = find(format);
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
	const struct format_description *description = find(format);
	return description ? description->plane_count : 0;
}

int vshm_format_plane(uint32_t format, uint32_t index, struct vshm_format_plane *plane)
{
	const struct format_description *description = find(format);
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

int vshm_format_layout(uint32_t format, uint32_t width, uint32_t height,
                       struct vshm_format_layout *layout)
{
	const struct format_description *description = find(format);
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
	const struct format_description *description = find(format);
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

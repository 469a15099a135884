/*
 * Pixel formats the ring carries, and how a frame of each lies in a slot.
 *
 * This is the one place that knows plane counts, subsampling and stride rules; the
 * writer lays frames out with it and readers check what they are given against it.
 * All functions are pure and thread-safe.
 */
#ifndef VSHM_FORMAT_H
#define VSHM_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/export.h>

#define VSHM_FOURCC(a, b, c, d)                                                                    \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

/*
 * Format codes are fourccs. NV12, YU12, YUYV, UYVY, RGB3, BGR3, GREY and P010 are V4L2's
 * codes for the same layouts; YU24 is DRM's; RGBA, BGRA and XR24 are vshm's own. The
 * comment gives the bytes in memory order.
 */
enum vshm_format {
	VSHM_FORMAT_INVALID = 0,
	VSHM_FORMAT_NV12 = VSHM_FOURCC('N', 'V', '1', '2'),  /* Y plane, then interleaved U,V 2x2 */
	VSHM_FORMAT_I420 = VSHM_FOURCC('Y', 'U', '1', '2'),  /* Y, U, V planes, U/V 2x2 */
	VSHM_FORMAT_YUYV = VSHM_FOURCC('Y', 'U', 'Y', 'V'),  /* Y0 U Y1 V */
	VSHM_FORMAT_UYVY = VSHM_FOURCC('U', 'Y', 'V', 'Y'),  /* U Y0 V Y1 */
	VSHM_FORMAT_RGB24 = VSHM_FOURCC('R', 'G', 'B', '3'), /* R G B */
	VSHM_FORMAT_BGR24 = VSHM_FOURCC('B', 'G', 'R', '3'), /* B G R */
	VSHM_FORMAT_RGBA = VSHM_FOURCC('R', 'G', 'B', 'A'),  /* R G B A */
	VSHM_FORMAT_BGRA = VSHM_FOURCC('B', 'G', 'R', 'A'),  /* B G R A */
	VSHM_FORMAT_XRGB8888 = VSHM_FOURCC('X', 'R', '2', '4'), /* B G R X: 0xXXRRGGBB words */
	VSHM_FORMAT_GRAY8 = VSHM_FOURCC('G', 'R', 'E', 'Y'),    /* Y */
	/* Layout 2.1 added these two; a reader of layout 2.0 drops their frames. */
	VSHM_FORMAT_P010 = VSHM_FOURCC('P', '0', '1', '0'), /* as NV12, 16-bit samples, see below */
	VSHM_FORMAT_I444 = VSHM_FOURCC('Y', 'U', '2', '4'), /* Y, U, V planes, all full size */
};

#define VSHM_FORMAT_PLANES_MAX    4
#define VSHM_FORMAT_DIMENSION_MAX 16384
/* Every stride is a multiple of this, for SIMD loads and texture uploads. */
#define VSHM_FORMAT_STRIDE_ALIGN 64

struct vshm_format_layout {
	uint32_t plane_count;
	uint32_t stride[VSHM_FORMAT_PLANES_MAX];
	uint64_t offset[VSHM_FORMAT_PLANES_MAX]; /* from the start of the frame's memory */
	uint64_t size[VSHM_FORMAT_PLANES_MAX];
	uint64_t total_size; /* bytes the whole frame needs */
};

/*
 * Describes one plane: a row of the plane is ceil(width / horizontal_subsampling)
 * samples of bytes_per_sample bytes, and the plane has
 * ceil(height / vertical_subsampling) rows.
 */
struct vshm_format_plane {
	uint8_t bytes_per_sample;
	uint8_t horizontal_subsampling;
	uint8_t vertical_subsampling;
};

/*
 * Where the samples of one component (Y, U, V or R, G, B, A) lie, the way FFmpeg's
 * AVComponentDescriptor says it: in plane `plane`, the sample of pixel column x (after
 * subsampling, see below) starts `offset + x * step` bytes into its row. A sample is
 * sample_bytes bytes (see struct vshm_format_description): one byte, or a little-endian
 * 16-bit word.
 */
struct vshm_format_component {
	uint8_t plane;
	uint8_t step;
	uint8_t offset;
};

enum vshm_format_family {
	VSHM_FORMAT_FAMILY_YUV = 1,  /* components Y, U (Cb), V (Cr) */
	VSHM_FORMAT_FAMILY_RGB = 2,  /* components R, G, B, and A when there are four */
	VSHM_FORMAT_FAMILY_GRAY = 3, /* component Y only, full range */
};

/*
 * Everything known about a format, in one table (format.c): adding a format is one row
 * there, and the short list of places in docs/formats.md that no table can drive.
 *
 * Sample (x, y) of component c is at
 *     plane[c.plane] + (y >> shift_y) * stride[c.plane] + c.offset + (x >> shift_x) * c.step
 * where shift_x and shift_y are chroma_shift_x/y for U and V of a YUV format and 0
 * otherwise.
 */
struct vshm_format_description {
	uint32_t format;            /* enum vshm_format */
	const char *name;           /* vshm's name, as options take it: "nv12" */
	const char *ffmpeg_name;    /* FFmpeg's pixel format of the same layout: "yuv420p" */
	const char *gstreamer_name; /* GStreamer's video format of the same layout: "I420" */
	uint32_t v4l2_fourcc;       /* V4L2's pixel format of the same layout, 0 if none */
	uint8_t family;             /* enum vshm_format_family */
	uint8_t plane_count;
	uint8_t component_count; /* 1 (gray), 3, or 4 with alpha */
	uint8_t chroma_shift_x;  /* log2 of the horizontal subsampling of U and V */
	uint8_t chroma_shift_y;  /* log2 of the vertical subsampling of U and V */
	struct vshm_format_plane planes[VSHM_FORMAT_PLANES_MAX];
	struct vshm_format_component components[4];
	/*
	 * The samples' size and precision, the same for every component: sample_bytes is 1
	 * (a byte holds the value) or 2 (a little-endian 16-bit word); the value has depth
	 * bits and starts sample_shift bits up in its word. 8, 1, 0 for the 8-bit formats;
	 * P010's 10 bits are the top of their word: 10, 2, 6, so (word >> 6) is the value
	 * and (word >> 8) its 8 most significant bits. Code written for one-byte samples
	 * checks sample_bytes == 1.
	 */
	uint8_t depth;
	uint8_t sample_bytes;
	uint8_t sample_shift;
};

/* The description of format, or NULL for an unknown code. */
VSHM_EXPORT const struct vshm_format_description *vshm_format_describe(uint32_t format);

/* Returns true for the formats listed in enum vshm_format (not INVALID). */
VSHM_EXPORT bool vshm_format_is_valid(uint32_t format);

/* Returns the short name ("nv12", "rgba", ...) or NULL for an unknown code. */
VSHM_EXPORT const char *vshm_format_name(uint32_t format);

/* Returns the format with that name (case-insensitive) or VSHM_FORMAT_INVALID. */
VSHM_EXPORT uint32_t vshm_format_from_name(const char *name);

/* Returns the format at index (0 ... count-1), for listing; INVALID past the end. */
VSHM_EXPORT uint32_t vshm_format_at(unsigned index);

/* Number of planes, 0 for an unknown format. */
VSHM_EXPORT uint32_t vshm_format_plane_count(uint32_t format);

/* Fills *plane for plane index of format. Returns 0 or -EINVAL. */
VSHM_EXPORT int vshm_format_plane(uint32_t format, uint32_t index, struct vshm_format_plane *plane);

/*
 * The extent of plane index of a width x height frame: the bytes one row of it holds
 * (without padding) and its number of rows. This is the area a filter reads or writes;
 * the plane's stride may be larger. Returns 0, or -EINVAL for an unknown format, plane
 * or a size outside 1..VSHM_FORMAT_DIMENSION_MAX (then *row_bytes and *rows are left
 * untouched).
 */
VSHM_EXPORT int vshm_format_plane_extent(uint32_t format, uint32_t index, uint32_t width,
                                         uint32_t height, uint64_t *row_bytes, uint32_t *rows);

/*
 * Computes the layout of a width x height frame with the smallest strides that are
 * multiples of VSHM_FORMAT_STRIDE_ALIGN, planes one after another. Returns 0, or
 * -EINVAL for an unknown format or a size outside 1..VSHM_FORMAT_DIMENSION_MAX;
 * *layout is left untouched on failure.
 */
VSHM_EXPORT int vshm_format_layout(uint32_t format, uint32_t width, uint32_t height,
                                   struct vshm_format_layout *layout);

/*
 * Checks that a layout given by someone else (strides and offsets read from shared
 * memory) is sound for the format and size, and fits in capacity bytes: every stride
 * holds a row, planes do not overlap and lie within capacity. 64-bit arithmetic
 * throughout. Returns 0 or -EINVAL.
 */
VSHM_EXPORT int vshm_format_check_layout(uint32_t format, uint32_t width, uint32_t height,
                                         const struct vshm_format_layout *layout,
                                         uint64_t capacity);

#endif

/* Raw video in GStreamer's terms and in the ring's: formats, colour, layouts, plane copies. */
#include <string.h>

#include "vshm-gst.h"

static const struct {
	uint32_t ring;
	GstVideoFormat video;
} formats[] = {
	{ VSHM_FORMAT_NV12, GST_VIDEO_FORMAT_NV12 },
	{ VSHM_FORMAT_I420, GST_VIDEO_FORMAT_I420 },
	{ VSHM_FORMAT_YUYV, GST_VIDEO_FORMAT_YUY2 },
	{ VSHM_FORMAT_UYVY, GST_VIDEO_FORMAT_UYVY },
	{ VSHM_FORMAT_RGB24, GST_VIDEO_FORMAT_RGB },
	{ VSHM_FORMAT_BGR24, GST_VIDEO_FORMAT_BGR },
	{ VSHM_FORMAT_RGBA, GST_VIDEO_FORMAT_RGBA },
	{ VSHM_FORMAT_BGRA, GST_VIDEO_FORMAT_BGRA },
	/* Both are the bytes B G R X in memory. */
	{ VSHM_FORMAT_XRGB8888, GST_VIDEO_FORMAT_BGRx },
	{ VSHM_FORMAT_GRAY8, GST_VIDEO_FORMAT_GRAY8 },
};

uint32_t vshm_gst_format_from_video(GstVideoFormat format)
{
	for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
		if (formats[i].video == format)
			return formats[i].ring;
	}
	return VSHM_FORMAT_INVALID;
}

GstVideoFormat vshm_gst_video_format(uint32_t format)
{
	for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
		if (formats[i].ring == format)
			return formats[i].video;
	}
	return GST_VIDEO_FORMAT_UNKNOWN;
}

void vshm_gst_color_from_info(const GstVideoInfo *info, uint8_t *color_matrix, uint8_t *color_range)
{
	switch (info->colorimetry.matrix) {
	case GST_VIDEO_COLOR_MATRIX_BT601:
		*color_matrix = VSHM_COLOR_MATRIX_BT601;
		break;
	case GST_VIDEO_COLOR_MATRIX_BT709:
		*color_matrix = VSHM_COLOR_MATRIX_BT709;
		break;
	case GST_VIDEO_COLOR_MATRIX_BT2020:
		*color_matrix = VSHM_COLOR_MATRIX_BT2020;
		break;
	default:
		*color_matrix = VSHM_COLOR_MATRIX_UNSPECIFIED;
		break;
	}
	switch (info->colorimetry.range) {
	case GST_VIDEO_COLOR_RANGE_0_255:
		*color_range = VSHM_COLOR_RANGE_FULL;
		break;
	case GST_VIDEO_COLOR_RANGE_16_235:
		*color_range = VSHM_COLOR_RANGE_LIMITED;
		break;
	default:
		*color_range = VSHM_COLOR_RANGE_UNSPECIFIED;
		break;
	}
}

bool vshm_gst_info_from_frame(const struct vshm_frame *frame, uint64_t frame_interval_ns,
                              GstVideoInfo *info)
{
	GstVideoFormat format = vshm_gst_video_format(frame->format);
	if (format == GST_VIDEO_FORMAT_UNKNOWN ||
	    !gst_video_info_set_format(info, format, frame->width, frame->height))
		return false;
	if (GST_VIDEO_INFO_IS_YUV(info)) {
		/* The presets bring the transfer function and primaries that go with each
		 * matrix; the range is the frame's own. */
		const char *preset = "bt601";
		uint8_t matrix = frame->color_matrix;
		if (matrix == VSHM_COLOR_MATRIX_UNSPECIFIED)
			matrix = frame->height >= 720 ? VSHM_COLOR_MATRIX_BT709
			                              : VSHM_COLOR_MATRIX_BT601;
		if (matrix == VSHM_COLOR_MATRIX_BT709)
			preset = "bt709";
		else if (matrix == VSHM_COLOR_MATRIX_BT2020)
			preset = "bt2020";
		gst_video_colorimetry_from_string(&info->colorimetry, preset);
		info->colorimetry.range = frame->color_range == VSHM_COLOR_RANGE_FULL
		                              ? GST_VIDEO_COLOR_RANGE_0_255
		                              : GST_VIDEO_COLOR_RANGE_16_235;
	}
	if (frame_interval_ns > 0) {
		int numerator, denominator;
		gst_util_double_to_fraction(1e9 / (double)frame_interval_ns, &numerator,
		                            &denominator);
		GST_VIDEO_INFO_FPS_N(info) = numerator;
		GST_VIDEO_INFO_FPS_D(info) = denominator;
	} else {
		GST_VIDEO_INFO_FPS_N(info) = 0;
		GST_VIDEO_INFO_FPS_D(info) = 1;
	}
	return true;
}

bool vshm_gst_layout_is_default(const GstVideoInfo *info, const struct vshm_format_layout *layout)
{
	if (GST_VIDEO_INFO_N_PLANES(info) != layout->plane_count)
		return false;
	for (uint32_t i = 0; i < layout->plane_count; i++) {
		if ((uint64_t)GST_VIDEO_INFO_PLANE_STRIDE(info, i) != layout->stride[i] ||
		    (uint64_t)GST_VIDEO_INFO_PLANE_OFFSET(info, i) != layout->offset[i])
			return false;
	}
	return true;
}

void vshm_gst_add_video_meta(GstBuffer *buffer, const GstVideoInfo *info,
                             const struct vshm_format_layout *layout)
{
	gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
	gint stride[GST_VIDEO_MAX_PLANES] = { 0 };
	for (uint32_t i = 0; i < layout->plane_count && i < GST_VIDEO_MAX_PLANES; i++) {
		offset[i] = layout->offset[i];
		stride[i] = (gint)layout->stride[i];
	}
	gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE,
	                               GST_VIDEO_INFO_FORMAT(info), GST_VIDEO_INFO_WIDTH(info),
	                               GST_VIDEO_INFO_HEIGHT(info), layout->plane_count, offset,
	                               stride);
}

void vshm_gst_copy_planes(uint32_t format, uint32_t width, uint32_t height,
                          uint8_t *const destination[], const uint32_t destination_stride[],
                          const uint8_t *const source[], const uint32_t source_stride[])
{
	uint32_t planes = vshm_format_plane_count(format);
	for (uint32_t p = 0; p < planes; p++) {
		struct vshm_format_plane plane;
		if (vshm_format_plane(format, p, &plane) < 0)
			return;
		uint64_t row_bytes = (uint64_t)(width + plane.horizontal_subsampling - 1) /
		                     plane.horizontal_subsampling * plane.bytes_per_sample;
		uint32_t rows =
		    (height + plane.vertical_subsampling - 1) / plane.vertical_subsampling;
		if (destination_stride[p] == source_stride[p]) {
			/* Same rows on both sides: one call, which also copies the padding
			 * between rows, but never past the last row's pixels. */
			memcpy(destination[p], source[p],
			       (uint64_t)(rows - 1) * source_stride[p] + row_bytes);
			continue;
		}
		for (uint32_t row = 0; row < rows; row++)
			memcpy(destination[p] + (uint64_t)row * destination_stride[p],
			       source[p] + (uint64_t)row * source_stride[p], row_bytes);
	}
}

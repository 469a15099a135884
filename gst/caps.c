/* Raw video in GStreamer's terms and in the ring's: formats, colour, layouts, plane copies. */
#include <math.h>
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
	{ VSHM_FORMAT_P010, GST_VIDEO_FORMAT_P010_10LE },
	{ VSHM_FORMAT_I444, GST_VIDEO_FORMAT_Y444 },
};

/* The colour primaries and transfer functions both sides name. */
static const struct {
	uint8_t ring;
	GstVideoColorPrimaries video;
} primaries[] = {
	{ VSHM_COLOR_PRIMARIES_BT709, GST_VIDEO_COLOR_PRIMARIES_BT709 },
	{ VSHM_COLOR_PRIMARIES_BT601_625, GST_VIDEO_COLOR_PRIMARIES_BT470BG },
	{ VSHM_COLOR_PRIMARIES_BT601_525, GST_VIDEO_COLOR_PRIMARIES_SMPTE170M },
	{ VSHM_COLOR_PRIMARIES_BT2020, GST_VIDEO_COLOR_PRIMARIES_BT2020 },
	{ VSHM_COLOR_PRIMARIES_DISPLAY_P3, GST_VIDEO_COLOR_PRIMARIES_SMPTEEG432 },
};

static const struct {
	uint8_t ring;
	GstVideoTransferFunction video;
} transfers[] = {
	/* The first of each ring value is what it becomes in caps. */
	{ VSHM_COLOR_TRANSFER_BT709, GST_VIDEO_TRANSFER_BT709 },
	{ VSHM_COLOR_TRANSFER_BT709, GST_VIDEO_TRANSFER_BT601 },
	{ VSHM_COLOR_TRANSFER_BT709, GST_VIDEO_TRANSFER_BT2020_10 },
	{ VSHM_COLOR_TRANSFER_BT709, GST_VIDEO_TRANSFER_BT2020_12 },
	{ VSHM_COLOR_TRANSFER_SRGB, GST_VIDEO_TRANSFER_SRGB },
	{ VSHM_COLOR_TRANSFER_PQ, GST_VIDEO_TRANSFER_SMPTE2084 },
	{ VSHM_COLOR_TRANSFER_HLG, GST_VIDEO_TRANSFER_ARIB_STD_B67 },
	{ VSHM_COLOR_TRANSFER_LINEAR, GST_VIDEO_TRANSFER_GAMMA10 },
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

void vshm_gst_picture_from_info(const GstVideoInfo *info, struct vshm_gst_picture *picture)
{
	*picture = (struct vshm_gst_picture){ 0 };
	switch (info->colorimetry.matrix) {
	case GST_VIDEO_COLOR_MATRIX_BT601:
		picture->color_matrix = VSHM_COLOR_MATRIX_BT601;
		break;
	case GST_VIDEO_COLOR_MATRIX_BT709:
		picture->color_matrix = VSHM_COLOR_MATRIX_BT709;
		break;
	case GST_VIDEO_COLOR_MATRIX_BT2020:
		picture->color_matrix = VSHM_COLOR_MATRIX_BT2020;
		break;
	default:
		break;
	}
	switch (info->colorimetry.range) {
	case GST_VIDEO_COLOR_RANGE_0_255:
		picture->color_range = VSHM_COLOR_RANGE_FULL;
		break;
	case GST_VIDEO_COLOR_RANGE_16_235:
		picture->color_range = VSHM_COLOR_RANGE_LIMITED;
		break;
	default:
		break;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(primaries); i++)
		if (primaries[i].video == info->colorimetry.primaries)
			picture->color_primaries = primaries[i].ring;
	for (size_t i = 0; i < G_N_ELEMENTS(transfers); i++)
		if (transfers[i].video == info->colorimetry.transfer)
			picture->color_transfer = transfers[i].ring;
	if (GST_VIDEO_INFO_PAR_N(info) > 0 && GST_VIDEO_INFO_PAR_D(info) > 0)
		picture->sample_aspect =
		    (struct vshm_ratio){ (uint32_t)GST_VIDEO_INFO_PAR_N(info),
			                 (uint32_t)GST_VIDEO_INFO_PAR_D(info) };
}

void vshm_gst_picture_to_frame(const struct vshm_gst_picture *picture, struct vshm_frame *frame)
{
	frame->color_matrix = picture->color_matrix;
	frame->color_range = picture->color_range;
	frame->color_primaries = picture->color_primaries;
	frame->color_transfer = picture->color_transfer;
	frame->sample_aspect = picture->sample_aspect;
}

/* The primaries and transfer the frame names, over what the colorimetry said so far. */
static void name_primaries_and_transfer(const struct vshm_frame *frame, GstVideoInfo *info)
{
	for (size_t i = 0; i < G_N_ELEMENTS(primaries); i++)
		if (primaries[i].ring == frame->color_primaries)
			info->colorimetry.primaries = primaries[i].video;
	for (size_t i = 0; i < G_N_ELEMENTS(transfers); i++) {
		if (transfers[i].ring == frame->color_transfer) {
			info->colorimetry.transfer = transfers[i].video;
			break;
		}
	}
}

/*
 * The frame rate whose interval, in whole nanoseconds, is interval_ns. The ring keeps
 * the interval truncated to the nanosecond (vshmsink stores GstVideoInfo's rate that
 * way, vshm-capture its --fps), so a rate is found again by the smallest of the usual
 * denominators whose interval truncates to it within a nanosecond: 30/1, 30000/1001 and
 * 2997/100 come back as they went. Others get the nearest fraction GStreamer finds,
 * where 33333333 ns would come back as 699999997/23333333, which encoders dislike.
 */
static void framerate_of_interval(uint64_t interval_ns, int *numerator, int *denominator)
{
	static const int denominators[] = { 1, 1001, 10, 100, 1000 };
	for (size_t i = 0; i < G_N_ELEMENTS(denominators); i++) {
		double rate = 1e9 * denominators[i] / (double)interval_ns;
		if (rate < 0.5 || rate > G_MAXINT)
			continue;
		double whole = floor(rate + 0.5);
		double exact = 1e9 * denominators[i] / whole;
		if (fabs(exact - (double)interval_ns) <= 1.0) {
			*numerator = (int)whole;
			*denominator = denominators[i];
			return;
		}
	}
	gst_util_double_to_fraction(1e9 / (double)interval_ns, numerator, denominator);
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
	name_primaries_and_transfer(frame, info);
	if (frame->sample_aspect.numerator && frame->sample_aspect.denominator &&
	    frame->sample_aspect.numerator <= G_MAXINT &&
	    frame->sample_aspect.denominator <= G_MAXINT) {
		GST_VIDEO_INFO_PAR_N(info) = (gint)frame->sample_aspect.numerator;
		GST_VIDEO_INFO_PAR_D(info) = (gint)frame->sample_aspect.denominator;
	}
	if (frame_interval_ns > 0) {
		int numerator, denominator;
		framerate_of_interval(frame_interval_ns, &numerator, &denominator);
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

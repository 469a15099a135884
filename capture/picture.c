/*
 * A decoded picture into a slot (see picture.h for the rules). The pixels reach the slot
 * in one pass, the one copy that brings them in:
 *   - a picture whose bytes are already the slot's format, at the slot's size, is copied
 *     plane by plane: a copy is needed because the decoder keeps its output buffers as
 *     references for the pictures that follow, so it cannot decode into slots that
 *     readers then hold;
 *   - anything else is converted or scaled by libswscale straight from the decoder's
 *     buffers into the slot, with no intermediate picture.
 */
#include <errno.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdbool.h>

#include "picture.h"

enum AVPixelFormat capture_picture_av_format(uint32_t format)
{
	const struct vshm_format_description *description = vshm_format_describe(format);
	return description ? av_get_pix_fmt(description->ffmpeg_name) : AV_PIX_FMT_NONE;
}

/* The ring format with the same bytes as an FFmpeg pixel format, or INVALID. */
static uint32_t ring_format_of(enum AVPixelFormat format)
{
	for (unsigned i = 0; vshm_format_at(i); i++) {
		if (capture_picture_av_format(vshm_format_at(i)) == format)
			return vshm_format_at(i);
	}
	return VSHM_FORMAT_INVALID;
}

/* The full-range (JPEG) YUV formats are the same bytes as their twins in the usual range. */
static enum AVPixelFormat without_jpeg_range(enum AVPixelFormat format)
{
	switch (format) {
	case AV_PIX_FMT_YUVJ420P:
		return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P:
		return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P:
		return AV_PIX_FMT_YUV444P;
	case AV_PIX_FMT_YUVJ440P:
		return AV_PIX_FMT_YUV440P;
	case AV_PIX_FMT_YUVJ411P:
		return AV_PIX_FMT_YUV411P;
	default:
		return format;
	}
}

uint32_t capture_picture_ring_format(enum AVPixelFormat format)
{
	uint32_t own = ring_format_of(without_jpeg_range(format));
	if (own)
		return own;
	const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
	if (!descriptor)
		return VSHM_FORMAT_I420;
	if (descriptor->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL))
		return VSHM_FORMAT_XRGB8888;
	if (descriptor->nb_components <= 2)
		return VSHM_FORMAT_GRAY8;
	if (descriptor->log2_chroma_w == 1 && descriptor->log2_chroma_h == 0)
		return VSHM_FORMAT_YUYV; /* 4:2:2 keeps its chroma, packed */
	return VSHM_FORMAT_I420;
}

static enum vshm_color_matrix matrix_of(enum AVColorSpace space)
{
	switch (space) {
	case AVCOL_SPC_BT709:
		return VSHM_COLOR_MATRIX_BT709;
	case AVCOL_SPC_BT470BG:
	case AVCOL_SPC_SMPTE170M:
		return VSHM_COLOR_MATRIX_BT601;
	case AVCOL_SPC_BT2020_NCL:
	case AVCOL_SPC_BT2020_CL:
		return VSHM_COLOR_MATRIX_BT2020;
	default:
		return VSHM_COLOR_MATRIX_UNSPECIFIED;
	}
}

/* What kind of samples a FFmpeg format holds, as the rules of picture.h tell them apart. */
enum family { FAMILY_YUV, FAMILY_RGB, FAMILY_GRAY };

static enum family family_of(enum AVPixelFormat format)
{
	const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
	if (descriptor->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL))
		return FAMILY_RGB;
	return descriptor->nb_components <= 2 ? FAMILY_GRAY : FAMILY_YUV;
}

/* The one copy, when the bytes are already the slot's: each plane, row by row. */
static void copy_planes(const AVFrame *picture, struct vshm_frame *frame)
{
	for (uint32_t plane = 0; plane < frame->plane_count; plane++) {
		uint64_t row_bytes;
		uint32_t rows;
		vshm_format_plane_extent(frame->format, plane, frame->width, frame->height,
		                         &row_bytes, &rows);
		av_image_copy_plane(frame->plane[plane], (int)frame->stride[plane],
		                    picture->data[plane], picture->linesize[plane], (int)row_bytes,
		                    (int)rows);
	}
}

/* The one pass, when they are not: libswscale from the decoder's buffers into the slot. */
static int convert(struct capture_picture *converter, const AVFrame *picture,
                   enum AVPixelFormat input, enum AVPixelFormat output, bool input_full,
                   bool output_full, enum vshm_color_matrix matrix, struct vshm_frame *frame)
{
	bool scaling =
	    (uint32_t)picture->width != frame->width || (uint32_t)picture->height != frame->height;
	converter->scaler = sws_getCachedContext(
	    converter->scaler, picture->width, picture->height, input, (int)frame->width,
	    (int)frame->height, output, scaling ? SWS_BICUBIC : SWS_POINT, NULL, NULL, NULL);
	if (!converter->scaler)
		return AVERROR(EINVAL);
	const int *coefficients =
	    sws_getCoefficients(matrix == VSHM_COLOR_MATRIX_BT709    ? SWS_CS_ITU709
	                        : matrix == VSHM_COLOR_MATRIX_BT2020 ? SWS_CS_BT2020
	                                                             : SWS_CS_ITU601);
	sws_setColorspaceDetails(converter->scaler, coefficients, input_full, coefficients,
	                         output_full, 0, 1 << 16, 1 << 16);
	int strides[VSHM_FORMAT_PLANES_MAX];
	for (int i = 0; i < VSHM_FORMAT_PLANES_MAX; i++)
		strides[i] = (int)frame->stride[i];
	sws_scale(converter->scaler, (const uint8_t *const *)picture->data, picture->linesize, 0,
	          picture->height, frame->plane, strides);
	return 0;
}

int capture_picture_write(struct capture_picture *converter, const AVFrame *picture,
                          uint8_t fallback_matrix, struct vshm_frame *frame)
{
	enum AVPixelFormat input = without_jpeg_range((enum AVPixelFormat)picture->format);
	enum AVPixelFormat output = capture_picture_av_format(frame->format);
	if (input == AV_PIX_FMT_NONE || output == AV_PIX_FMT_NONE || !av_pix_fmt_desc_get(input))
		return AVERROR(EINVAL);
	enum family from = family_of(input), to = family_of(output);
	bool input_full = input != (enum AVPixelFormat)picture->format ||
	                  picture->color_range == AVCOL_RANGE_JPEG || from != FAMILY_YUV;
	bool output_full = to != FAMILY_YUV || (from == FAMILY_YUV && input_full);
	enum vshm_color_matrix matrix = matrix_of(picture->colorspace);
	if (matrix == VSHM_COLOR_MATRIX_UNSPECIFIED)
		matrix = (enum vshm_color_matrix)fallback_matrix;
	if (from == FAMILY_RGB)
		matrix = VSHM_COLOR_MATRIX_BT601; /* what libswscale makes RGB into */

	if (input == output && (uint32_t)picture->width == frame->width &&
	    (uint32_t)picture->height == frame->height) {
		copy_planes(picture, frame);
	} else {
		int result = convert(converter, picture, input, output, input_full, output_full,
		                     matrix, frame);
		if (result < 0)
			return result;
	}

	frame->color_matrix = (uint8_t)(to == FAMILY_YUV ? matrix : VSHM_COLOR_MATRIX_UNSPECIFIED);
	if (output_full)
		frame->color_range = VSHM_COLOR_RANGE_FULL;
	else if (from != FAMILY_YUV || picture->color_range == AVCOL_RANGE_MPEG)
		frame->color_range = VSHM_COLOR_RANGE_LIMITED;
	else
		frame->color_range = VSHM_COLOR_RANGE_UNSPECIFIED;
	return 0;
}

void capture_picture_finish(struct capture_picture *converter)
{
	sws_freeContext(converter->scaler);
	converter->scaler = NULL;
}

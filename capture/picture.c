/*
 * A decoded picture into a slot (see picture.h for the rules). The pixels reach the slot
 * in one pass, the one copy that brings them in:
 *   - a picture whose bytes are already the slot's format, at the slot's size, is copied
 *     plane by plane: a copy is needed because the decoder keeps its output buffers as
 *     references for the pictures that follow, so it cannot decode into slots that
 *     readers then hold;
 *   - the same picture turned upright (rotate.c) is rearranged straight into the slot:
 *     the rotation is that copy;
 *   - anything else is converted or scaled by libswscale straight from the decoder's
 *     buffers into the slot, with no intermediate picture.
 * Only a picture that must be both turned and converted (or scaled) takes a second
 * pass, through a temporary picture: libswscale cannot turn, and the rotation cannot
 * convert. It is turned first, in the decoder's format, then converted into the slot;
 * a format the rotation cannot rearrange (packed 4:2:2, palettes) is converted first.
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
	/* Depth first: banding from 8-bit HDR shows more than halved chroma does. */
	if (descriptor->comp[0].depth > 8)
		return VSHM_FORMAT_P010;
	if (descriptor->log2_chroma_w == 0 && descriptor->log2_chroma_h == 0)
		return VSHM_FORMAT_I444;
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

static enum vshm_color_primaries primaries_of(enum AVColorPrimaries primaries)
{
	switch (primaries) {
	case AVCOL_PRI_BT709:
		return VSHM_COLOR_PRIMARIES_BT709;
	case AVCOL_PRI_BT470BG:
		return VSHM_COLOR_PRIMARIES_BT601_625;
	case AVCOL_PRI_SMPTE170M:
	case AVCOL_PRI_SMPTE240M:
		return VSHM_COLOR_PRIMARIES_BT601_525;
	case AVCOL_PRI_BT2020:
		return VSHM_COLOR_PRIMARIES_BT2020;
	case AVCOL_PRI_SMPTE432:
		return VSHM_COLOR_PRIMARIES_DISPLAY_P3;
	default:
		return VSHM_COLOR_PRIMARIES_UNSPECIFIED;
	}
}

static enum vshm_color_transfer transfer_of(enum AVColorTransferCharacteristic transfer)
{
	switch (transfer) {
	case AVCOL_TRC_BT709:
	case AVCOL_TRC_SMPTE170M:
	case AVCOL_TRC_BT2020_10:
	case AVCOL_TRC_BT2020_12:
		return VSHM_COLOR_TRANSFER_BT709;
	case AVCOL_TRC_IEC61966_2_1:
		return VSHM_COLOR_TRANSFER_SRGB;
	case AVCOL_TRC_SMPTE2084:
		return VSHM_COLOR_TRANSFER_PQ;
	case AVCOL_TRC_ARIB_STD_B67:
		return VSHM_COLOR_TRANSFER_HLG;
	case AVCOL_TRC_LINEAR:
		return VSHM_COLOR_TRANSFER_LINEAR;
	default:
		return VSHM_COLOR_TRANSFER_UNSPECIFIED;
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

/* The picture's sample aspect: the container's when it has one (as FFmpeg's program
 * takes it), else the codec's; 0/0 when neither says. */
static AVRational aspect_of(const struct capture_picture *converter, const AVFrame *picture)
{
	AVRational aspect = converter->stream_aspect;
	if (aspect.num <= 0 || aspect.den <= 0)
		aspect = picture->sample_aspect_ratio;
	if (aspect.num <= 0 || aspect.den <= 0)
		return (AVRational){ 0, 0 };
	return converter->rotation.transpose ? (AVRational){ aspect.den, aspect.num } : aspect;
}

void capture_picture_output_size(const struct capture_picture *converter, const AVFrame *picture,
                                 uint32_t width, uint32_t height, uint32_t *output_width,
                                 uint32_t *output_height)
{
	if (width && height) {
		*output_width = width;
		*output_height = height;
		return;
	}
	bool transpose = converter->rotation.transpose;
	uint64_t upright_width = (uint32_t)(transpose ? picture->height : picture->width);
	*output_height = (uint32_t)(transpose ? picture->width : picture->height);
	AVRational aspect = aspect_of(converter, picture);
	if (converter->square_pixels && aspect.num > 0) {
		/* Keep the height and stretch the width, as FFmpeg's scale=iw*sar:ih does. */
		upright_width = (upright_width * (uint64_t)aspect.num + (uint64_t)aspect.den / 2) /
		                (uint64_t)aspect.den;
		if (upright_width < 1)
			upright_width = 1;
	}
	*output_width = upright_width > UINT32_MAX ? UINT32_MAX : (uint32_t)upright_width;
}

/* The aspect of the frame's pixels: the picture's, turned, and changed by any scaling
 * so that the picture keeps its shape on screen. */
static struct vshm_ratio frame_aspect(const struct capture_picture *converter,
                                      const AVFrame *picture, const struct vshm_frame *frame)
{
	AVRational aspect = aspect_of(converter, picture);
	if (converter->square_pixels)
		return (struct vshm_ratio){ 1, 1 };
	if (aspect.num <= 0)
		return (struct vshm_ratio){ 0, 0 };
	bool transpose = converter->rotation.transpose;
	int64_t upright_width = transpose ? picture->height : picture->width;
	int64_t upright_height = transpose ? picture->width : picture->height;
	int numerator, denominator;
	av_reduce(&numerator, &denominator,
	          (int64_t)aspect.num * upright_width * (int64_t)frame->height,
	          (int64_t)aspect.den * upright_height * (int64_t)frame->width, UINT32_MAX / 2);
	return (struct vshm_ratio){ (uint32_t)numerator, (uint32_t)denominator };
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

/*
 * The one pass, when a decoder's planar 10-bit 4:2:0 goes into a P010 slot of the same
 * size: each sample moved to the top of its 16-bit word, U and V interleaved. libswscale
 * has no special case for this pair, and its general path made replaying HEVC 10-bit
 * into the ring a third slower than decoding alone; these loops vectorise. The result
 * is what libswscale makes (the low six bits zero), which test-capture-hifi checks
 * against FFmpeg's own conversion.
 */
static void p010_from_yuv420p10(const AVFrame *picture, struct vshm_frame *frame)
{
	/* Locals, not frame->width: we build with -fno-strict-aliasing, so a bound read
	 * through the frame would be loaded again after every store, and the loop would
	 * not vectorise. */
	uint32_t width = frame->width, height = frame->height;
	uint32_t chroma_width = (width + 1) / 2, chroma_height = (height + 1) / 2;
	for (uint32_t y = 0; y < height; y++) {
		const uint16_t *from =
		    (const uint16_t *)(picture->data[0] + (ptrdiff_t)y * picture->linesize[0]);
		uint16_t *to = (uint16_t *)(frame->plane[0] + (uint64_t)y * frame->stride[0]);
		for (uint32_t x = 0; x < width; x++)
			to[x] = (uint16_t)(from[x] << 6);
	}
	for (uint32_t y = 0; y < chroma_height; y++) {
		const uint16_t *u =
		    (const uint16_t *)(picture->data[1] + (ptrdiff_t)y * picture->linesize[1]);
		const uint16_t *v =
		    (const uint16_t *)(picture->data[2] + (ptrdiff_t)y * picture->linesize[2]);
		uint16_t *to = (uint16_t *)(frame->plane[1] + (uint64_t)y * frame->stride[1]);
		for (uint32_t x = 0; x < chroma_width; x++) {
			to[2 * x] = (uint16_t)(u[x] << 6);
			to[2 * x + 1] = (uint16_t)(v[x] << 6);
		}
	}
}

/* A picture's planes, or a slot's, as libswscale and the rotation take them. */
struct planes {
	uint8_t *data[4];
	int stride[4];
	int width, height;
	enum AVPixelFormat format;
};

static struct planes planes_of_picture(const AVFrame *picture, enum AVPixelFormat format)
{
	struct planes planes = { .width = picture->width,
		                 .height = picture->height,
		                 .format = format };
	for (int i = 0; i < 4; i++) {
		planes.data[i] = picture->data[i];
		planes.stride[i] = picture->linesize[i];
	}
	return planes;
}

/* How a conversion treats colour: the ranges on each side and the YUV matrix. */
struct colour {
	bool input_full, output_full;
	enum vshm_color_matrix matrix;
};

/* One pass of libswscale, from planes to planes, converting and scaling as needed. */
static int convert(struct SwsContext **scaler, const struct planes *from, const struct planes *to,
                   const struct colour *colour)
{
	bool scaling = from->width != to->width || from->height != to->height;
	*scaler = sws_getCachedContext(*scaler, from->width, from->height, from->format, to->width,
	                               to->height, to->format, scaling ? SWS_BICUBIC : SWS_POINT,
	                               NULL, NULL, NULL);
	if (!*scaler)
		return AVERROR(EINVAL);
	const int *coefficients =
	    sws_getCoefficients(colour->matrix == VSHM_COLOR_MATRIX_BT709    ? SWS_CS_ITU709
	                        : colour->matrix == VSHM_COLOR_MATRIX_BT2020 ? SWS_CS_BT2020
	                                                                     : SWS_CS_ITU601);
	sws_setColorspaceDetails(*scaler, coefficients, colour->input_full, coefficients,
	                         colour->output_full, 0, 1 << 16, 1 << 16);
	sws_scale(*scaler, (const uint8_t *const *)from->data, from->stride, 0, from->height,
	          to->data, to->stride);
	return 0;
}

/* A temporary picture of that format and size, kept for the next picture. */
static int temporary(AVFrame **picture, enum AVPixelFormat format, int width, int height,
                     struct planes *planes)
{
	if (!*picture || (*picture)->format != format || (*picture)->width != width ||
	    (*picture)->height != height) {
		av_frame_free(picture);
		*picture = av_frame_alloc();
		if (!*picture)
			return AVERROR(ENOMEM);
		(*picture)->format = format;
		(*picture)->width = width;
		(*picture)->height = height;
		int result = av_frame_get_buffer(*picture, 64);
		if (result < 0) {
			av_frame_free(picture);
			return result;
		}
	}
	*planes = planes_of_picture(*picture, format);
	return 0;
}

/*
 * The picture turned upright into the slot (see the top of this file): straight in when
 * nothing else changes, else with one more pass through a temporary, two in the rare
 * case that neither the decoder's format nor the slot's can be rearranged.
 */
static int turn(struct capture_picture *converter, const AVFrame *picture, enum AVPixelFormat input,
                const struct planes *slot, const struct colour *colour)
{
	const struct capture_rotation *rotation = &converter->rotation;
	struct planes from = planes_of_picture(picture, input);
	struct colour rest = *colour; /* colour is converted in the first conversion only */
	int result;
	if (!capture_rotation_supports(input)) {
		/* First into a format that turns: the slot's, or else planar 4:4:4 in the
		 * slot's range, which libswscale then packs into the slot. */
		enum AVPixelFormat format =
		    capture_rotation_supports(slot->format) ? slot->format : AV_PIX_FMT_YUV444P;
		struct planes converted;
		result =
		    temporary(&converter->converted, format, from.width, from.height, &converted);
		if (result < 0 ||
		    (result = convert(&converter->first_scaler, &from, &converted, colour)) < 0)
			return result;
		from = converted;
		rest.input_full = rest.output_full;
	}
	int upright_width = rotation->transpose ? from.height : from.width;
	int upright_height = rotation->transpose ? from.width : from.height;
	if (from.format == slot->format && upright_width == slot->width &&
	    upright_height == slot->height) {
		capture_rotation_apply(rotation, from.format, (const uint8_t *const *)from.data,
		                       from.stride, from.width, from.height, slot->data,
		                       slot->stride);
		return 0;
	}
	struct planes turned;
	result = temporary(&converter->turned, from.format, upright_width, upright_height, &turned);
	if (result < 0)
		return result;
	capture_rotation_apply(rotation, from.format, (const uint8_t *const *)from.data,
	                       from.stride, from.width, from.height, turned.data, turned.stride);
	return convert(&converter->scaler, &turned, slot, &rest);
}

int capture_picture_write(struct capture_picture *converter, const AVFrame *picture,
                          uint8_t fallback_matrix, struct vshm_frame *frame)
{
	enum AVPixelFormat input = without_jpeg_range((enum AVPixelFormat)picture->format);
	enum AVPixelFormat output = capture_picture_av_format(frame->format);
	if (input == AV_PIX_FMT_NONE || output == AV_PIX_FMT_NONE || !av_pix_fmt_desc_get(input))
		return AVERROR(EINVAL);
	enum family from = family_of(input), to = family_of(output);
	struct colour colour = {
		.input_full = input != (enum AVPixelFormat)picture->format ||
		              picture->color_range == AVCOL_RANGE_JPEG || from != FAMILY_YUV,
	};
	colour.output_full = to != FAMILY_YUV || (from == FAMILY_YUV && colour.input_full);
	colour.matrix = matrix_of(picture->colorspace);
	if (colour.matrix == VSHM_COLOR_MATRIX_UNSPECIFIED)
		colour.matrix = (enum vshm_color_matrix)fallback_matrix;
	if (from == FAMILY_RGB)
		colour.matrix = VSHM_COLOR_MATRIX_BT601; /* what libswscale makes RGB into */

	struct planes slot = { .width = (int)frame->width,
		               .height = (int)frame->height,
		               .format = output };
	for (int i = 0; i < VSHM_FORMAT_PLANES_MAX; i++) {
		slot.data[i] = frame->plane[i];
		slot.stride[i] = (int)frame->stride[i];
	}
	int result = 0;
	if (!capture_rotation_is_none(&converter->rotation)) {
		result = turn(converter, picture, input, &slot, &colour);
	} else if ((uint32_t)picture->width == frame->width &&
	           (uint32_t)picture->height == frame->height && input == output) {
		copy_planes(picture, frame);
	} else if ((uint32_t)picture->width == frame->width &&
	           (uint32_t)picture->height == frame->height && input == AV_PIX_FMT_YUV420P10LE &&
	           output == AV_PIX_FMT_P010LE) {
		p010_from_yuv420p10(picture, frame);
	} else {
		struct planes planes = planes_of_picture(picture, input);
		result = convert(&converter->scaler, &planes, &slot, &colour);
	}
	if (result < 0)
		return result;

	frame->color_matrix =
	    (uint8_t)(to == FAMILY_YUV ? colour.matrix : VSHM_COLOR_MATRIX_UNSPECIFIED);
	if (colour.output_full)
		frame->color_range = VSHM_COLOR_RANGE_FULL;
	else if (from != FAMILY_YUV || picture->color_range == AVCOL_RANGE_MPEG)
		frame->color_range = VSHM_COLOR_RANGE_LIMITED;
	else
		frame->color_range = VSHM_COLOR_RANGE_UNSPECIFIED;
	/* Converting between YUV and RGB changes how colours are coded, not which colours
	 * the values mean: primaries and transfer stay the picture's. */
	frame->color_primaries = (uint8_t)primaries_of(picture->color_primaries);
	frame->color_transfer = (uint8_t)transfer_of(picture->color_trc);
	frame->sample_aspect = frame_aspect(converter, picture, frame);
	return 0;
}

void capture_picture_output(const struct capture_picture *converter, const AVFrame *picture,
                            uint32_t format, uint32_t width, uint32_t height,
                            uint32_t *output_format, uint32_t *output_width,
                            uint32_t *output_height)
{
	*output_format =
	    format ? format : capture_picture_ring_format((enum AVPixelFormat)picture->format);
	capture_picture_output_size(converter, picture, width, height, output_width, output_height);
}

int capture_picture_begin(struct capture_picture *converter, const AVFrame *picture,
                          const char *location, uint32_t format, uint32_t width, uint32_t height,
                          struct vshm_writer *writer, struct vshm_frame *frame)
{
	int result = vshm_writer_begin(writer, format, width, height, frame);
	if (result < 0) {
		fprintf(stderr,
		        "vshm-capture: '%s': cannot put a %ux%u %s frame in the stream: %s\n",
		        location, width, height, vshm_format_name(format), vshm_error());
		return result;
	}
	result = capture_picture_write(converter, picture, VSHM_COLOR_MATRIX_UNSPECIFIED, frame);
	if (result < 0) {
		char reason[AV_ERROR_MAX_STRING_SIZE];
		av_strerror(result, reason, sizeof(reason));
		fprintf(stderr, "vshm-capture: '%s': cannot convert %s to %s: %s\n", location,
		        av_get_pix_fmt_name((enum AVPixelFormat)picture->format),
		        vshm_format_name(format), reason);
		vshm_writer_cancel(writer);
		return -EINVAL;
	}
	return 0;
}

void capture_picture_finish(struct capture_picture *converter)
{
	sws_freeContext(converter->scaler);
	converter->scaler = NULL;
	sws_freeContext(converter->first_scaler);
	converter->first_scaler = NULL;
	av_frame_free(&converter->converted);
	av_frame_free(&converter->turned);
}

/* Slots into encoder frames: in place, copied or converted (see picture.h). */
#include <errno.h>
#include <stdio.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "options.h"
#include "picture.h"

/* Rows of every plane start on this boundary in pooled frames, for SIMD. */
#define POOL_ALIGN 64
/* Room past the last plane: some SIMD converters write a little beyond a row's end. */
#define POOL_PADDING 64

/* The slot is the buffer; nothing is freed when the encoder lets go of it. */
static void keep_slot(void *opaque, uint8_t *data)
{
	(void)opaque;
	(void)data;
}

static int wrap_slot(const struct vshm_frame *slot, AVFrame *picture)
{
	uint8_t *start = slot->plane[0], *end = slot->plane[0];
	for (uint32_t i = 0; i < slot->plane_count; i++) {
		picture->data[i] = slot->plane[i];
		picture->linesize[i] = (int)slot->stride[i];
		if (slot->plane[i] < start)
			start = slot->plane[i];
		if (slot->plane[i] + slot->plane_size[i] > end)
			end = slot->plane[i] + slot->plane_size[i];
	}
	/* A reference-counted frame, so that libavcodec takes a reference to the slot's
	 * memory rather than copying it (av_frame_ref() copies frames without buffers).
	 * Read-only: the slot is mapped read-only, and no encoder writes its input. */
	picture->buf[0] = av_buffer_create(start, (size_t)(end - start), keep_slot, NULL,
	                                   AV_BUFFER_FLAG_READONLY);
	return picture->buf[0] ? 0 : AVERROR(ENOMEM);
}

/* A pooled frame of the encoder's format and size, its buffer from the pool. */
static int pooled_frame(struct picture_maker *maker, const struct encoder *encoder,
                        AVFrame *picture)
{
	int bytes =
	    av_image_get_buffer_size(encoder->format, encoder->width, encoder->height, POOL_ALIGN);
	if (bytes < 0)
		return bytes;
	size_t size = (size_t)bytes + POOL_PADDING;
	if (!maker->pool || maker->pool_size != size) {
		/* The encoder changed (a new file after --split): frames still out keep the
		 * old pool until they come back. */
		av_buffer_pool_uninit(&maker->pool);
		maker->pool = av_buffer_pool_init(size, NULL);
		maker->pool_size = size;
		if (!maker->pool)
			return AVERROR(ENOMEM);
	}
	picture->buf[0] = av_buffer_pool_get(maker->pool);
	if (!picture->buf[0])
		return AVERROR(ENOMEM);
	int result =
	    av_image_fill_arrays(picture->data, picture->linesize, picture->buf[0]->data,
	                         encoder->format, encoder->width, encoder->height, POOL_ALIGN);
	return result < 0 ? result : 0;
}

static int sws_space(enum AVColorSpace space)
{
	switch (space) {
	case AVCOL_SPC_BT709:
		return SWS_CS_ITU709;
	case AVCOL_SPC_BT2020_NCL:
		return SWS_CS_BT2020;
	default:
		return SWS_CS_ITU601;
	}
}

/* Converts or scales the slot into picture, straight from shared memory. */
static int convert(struct picture_maker *maker, const struct encoder *encoder,
                   const struct vshm_frame *slot, enum AVPixelFormat slot_format, AVFrame *picture)
{
	bool scaling = (int)slot->width != encoder->width || (int)slot->height != encoder->height;
	maker->scaler =
	    sws_getCachedContext(maker->scaler, (int)slot->width, (int)slot->height, slot_format,
	                         encoder->width, encoder->height, encoder->format,
	                         scaling ? SWS_BICUBIC : SWS_BILINEAR, NULL, NULL, NULL);
	if (!maker->scaler)
		return AVERROR(EINVAL);
	/* The slot's matrix and range in, the encoder's out: between YUV layouts only the
	 * range may change; from RGB or gray, the matrix the encoder was told. */
	sws_setColorspaceDetails(maker->scaler,
	                         sws_getCoefficients(sws_space(encoder_colorspace_of(slot))),
	                         encoder_range_of(slot) == AVCOL_RANGE_JPEG,
	                         sws_getCoefficients(sws_space(encoder->colorspace)),
	                         encoder->color_range == AVCOL_RANGE_JPEG, 0, 1 << 16, 1 << 16);
	int strides[VSHM_FORMAT_PLANES_MAX];
	for (int i = 0; i < VSHM_FORMAT_PLANES_MAX; i++)
		strides[i] = (int)slot->stride[i];
	int rows = sws_scale(maker->scaler, (const uint8_t *const *)slot->plane, strides, 0,
	                     (int)slot->height, picture->data, picture->linesize);
	return rows > 0 ? 0 : AVERROR(EINVAL);
}

int picture_make(struct picture_maker *maker, const struct encoder *encoder,
                 const struct vshm_frame *slot, AVFrame *picture)
{
	enum AVPixelFormat slot_format = encoder_av_format_of(slot->format);
	bool same = slot_format == encoder->format && (int)slot->width == encoder->width &&
	            (int)slot->height == encoder->height;
	picture->format = encoder->format;
	picture->width = encoder->width;
	picture->height = encoder->height;
	picture->colorspace = encoder->colorspace;
	picture->color_range = encoder->color_range;
	int result;
	if (same && encoder->in_place) {
		result = wrap_slot(slot, picture);
		if (result == 0) {
			maker->in_place++;
			return PICTURE_IN_PLACE;
		}
	} else {
		result = pooled_frame(maker, encoder, picture);
		if (result == 0 && same) {
			/* The one copy: the encoder keeps frames past the slot's release. */
			int strides[VSHM_FORMAT_PLANES_MAX];
			for (int i = 0; i < VSHM_FORMAT_PLANES_MAX; i++)
				strides[i] = (int)slot->stride[i];
			av_image_copy(picture->data, picture->linesize,
			              (const uint8_t **)slot->plane, strides, encoder->format,
			              encoder->width, encoder->height);
			maker->copied++;
			return PICTURE_COPIED;
		}
		if (result == 0) {
			result = convert(maker, encoder, slot, slot_format, picture);
			if (result == 0) {
				maker->converted++;
				return PICTURE_COPIED;
			}
			program_say("cannot convert %ux%u %s frames to %dx%d %s for the encoder",
			            slot->width, slot->height, vshm_format_name(slot->format),
			            encoder->width, encoder->height,
			            av_get_pix_fmt_name(encoder->format));
			av_frame_unref(picture);
			return result;
		}
	}
	program_say("out of memory for a %dx%d frame", encoder->width, encoder->height);
	av_frame_unref(picture);
	return result;
}

void picture_maker_finish(struct picture_maker *maker)
{
	sws_freeContext(maker->scaler);
	maker->scaler = NULL;
	av_buffer_pool_uninit(&maker->pool);
	maker->pool_size = 0;
}

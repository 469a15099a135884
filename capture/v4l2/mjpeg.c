/*
 * MJPEG cameras: each frame is a JPEG, decoded with libavcodec from the driver's buffer
 * and put into a slot by capture/picture.c (4:2:2 as YUYV, 4:2:0 as I420, or the asked
 * format), which is the one pass that brings its pixels in. A JPEG whose colour space
 * the decoder does not know is BT.601, as JFIF defines it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camera.h"

#ifdef VSHM_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavutil/mem.h>

#include "picture.h"

struct camera_mjpeg {
	AVCodecContext *decoder;
	AVPacket *packet;
	AVFrame *picture;
	struct capture_picture converter;
	bool seen_end;        /* a JPEG of this camera ended with EOI */
	uint32_t without_end; /* JPEGs in a row without EOI, before any had one */
	bool end_not_checked; /* this camera never sends EOI: frames are not checked for it */
	uint8_t *padded;      /* a JPEG copied when the driver's buffer has no room for padding */
	unsigned int padded_size;
};

void camera_mjpeg_close(struct capture_source *source)
{
	struct camera_mjpeg *mjpeg = source->mjpeg;
	if (!mjpeg)
		return;
	capture_picture_finish(&mjpeg->converter);
	av_frame_free(&mjpeg->picture);
	av_packet_free(&mjpeg->packet);
	avcodec_free_context(&mjpeg->decoder);
	av_freep(&mjpeg->padded);
	free(mjpeg);
	source->mjpeg = NULL;
}

int camera_mjpeg_open(struct capture_source *source)
{
	if (source->mjpeg)
		return 0;
	av_log_set_level(getenv("VSHM_DEBUG") ? AV_LOG_INFO : AV_LOG_FATAL);
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	if (!codec)
		return -ENOSYS;
	struct camera_mjpeg *mjpeg = calloc(1, sizeof(*mjpeg));
	if (!mjpeg)
		return -ENOMEM;
	source->mjpeg = mjpeg;
	mjpeg->decoder = avcodec_alloc_context3(codec);
	mjpeg->packet = av_packet_alloc();
	mjpeg->picture = av_frame_alloc();
	if (!mjpeg->decoder || !mjpeg->packet || !mjpeg->picture) {
		camera_mjpeg_close(source);
		return -ENOMEM;
	}
	/* One thread: frame threading would hold frames back and add latency. */
	mjpeg->decoder->thread_count = 1;
	if (avcodec_open2(mjpeg->decoder, codec, NULL) < 0) {
		camera_mjpeg_close(source);
		return -ENOSYS;
	}
	return 0;
}

/* A JPEG ends with EOI (FF D9); drivers may pad the buffer after it with zeros. */
static bool ends_whole(const uint8_t *data, uint32_t size)
{
	while (size > 2 && data[size - 1] == 0)
		size--;
	return size >= 4 && data[size - 2] == 0xff && data[size - 1] == 0xd9;
}

/*
 * Whether a JPEG is there whole. A UVC camera short of USB bandwidth delivers frames cut
 * short without V4L2_BUF_FLAG_ERROR, and libavcodec conceals the missing part with what
 * its buffer held: half of one picture over the rest of an older one. Such a frame has
 * no EOI. A camera that never sends EOI (a few do) would have every frame refused:
 * after FRAMES_WITHOUT_END_MAX in a row, and none with it, EOI is no longer asked for,
 * and that is said once (libavcodec's decode errors still are).
 */
#define FRAMES_WITHOUT_END_MAX 30

static bool is_whole(struct capture_source *source, const uint8_t *data, uint32_t size)
{
	struct camera_mjpeg *mjpeg = source->mjpeg;
	if (mjpeg->end_not_checked)
		return true;
	if (ends_whole(data, size)) {
		mjpeg->seen_end = true;
		return true;
	}
	if (!mjpeg->seen_end && ++mjpeg->without_end >= FRAMES_WITHOUT_END_MAX) {
		mjpeg->end_not_checked = true;
		fprintf(stderr,
		        "vshm-capture: '%s' sends JPEGs without their end marker; frames cut short "
		        "are now found only when they do not decode cleanly\n",
		        source->path);
		return true;
	}
	return false;
}

int camera_mjpeg_decode(struct capture_source *source, uint8_t *data, uint32_t size,
                        size_t capacity, struct vshm_frame *frame)
{
	struct camera_mjpeg *mjpeg = source->mjpeg;
	if (!is_whole(source, data, size))
		return 0;
	/* libavcodec may read AV_INPUT_BUFFER_PADDING_SIZE bytes past the data, and wants
	 * them zero. The driver's buffer is ours until it is queued again: zero them there
	 * if they fit; if not, copy the compressed data into a padded buffer kept from frame
	 * to frame (a copy of the JPEG, not of the pixels, and only for such drivers). */
	if ((uint64_t)size + AV_INPUT_BUFFER_PADDING_SIZE <= capacity) {
		memset(data + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	} else {
		av_fast_padded_malloc(&mjpeg->padded, &mjpeg->padded_size, size);
		if (!mjpeg->padded) {
			fprintf(stderr, "vshm-capture: out of memory\n");
			return -ENOMEM;
		}
		memcpy(mjpeg->padded, data, size);
		data = mjpeg->padded;
	}
	AVPacket *packet = mjpeg->packet;
	packet->data = data;
	packet->size = (int)size;
	int result = avcodec_send_packet(mjpeg->decoder, packet);
	av_packet_unref(packet);
	if (result < 0)
		return 0;
	AVFrame *picture = mjpeg->picture;
	if (avcodec_receive_frame(mjpeg->decoder, picture) < 0)
		return 0;
	if ((picture->flags & AV_FRAME_FLAG_CORRUPT) || picture->decode_error_flags) {
		av_frame_unref(picture); /* concealed by libavcodec: not the camera's picture */
		return 0;
	}
	uint32_t format = source->settings.format
	                      ? source->settings.format
	                      : capture_picture_ring_format((enum AVPixelFormat)picture->format);
	if (picture->width <= 0 || picture->height <= 0 ||
	    picture->width > VSHM_FORMAT_DIMENSION_MAX ||
	    picture->height > VSHM_FORMAT_DIMENSION_MAX) {
		av_frame_unref(picture);
		return 0;
	}
	result = vshm_writer_begin(source->writer, format, (uint32_t)picture->width,
	                           (uint32_t)picture->height, frame);
	if (result < 0) {
		fprintf(stderr,
		        "vshm-capture: cannot put a decoded %dx%d frame in the stream: %s\n",
		        picture->width, picture->height, vshm_error());
		av_frame_unref(picture);
		return result;
	}
	result = capture_picture_write(&mjpeg->converter, picture, VSHM_COLOR_MATRIX_BT601, frame);
	av_frame_unref(picture);
	if (result < 0) {
		vshm_writer_cancel(source->writer);
		return 0;
	}
	return 1;
}

#else

void camera_mjpeg_close(struct capture_source *source)
{
	(void)source;
}

int camera_mjpeg_open(struct capture_source *source)
{
	(void)source;
	return -ENOSYS;
}

int camera_mjpeg_decode(struct capture_source *source, uint8_t *data, uint32_t size,
                        size_t capacity, struct vshm_frame *frame)
{
	(void)source, (void)data, (void)size, (void)capacity, (void)frame;
	return 0;
}

#endif

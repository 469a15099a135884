/*
 * What the fake camera's frames hold: a deterministic picture of each sequence number, in
 * the V4L2 layout of each format, or compressed as JPEG by libavcodec.
 */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fake-camera-private.h"

static uint8_t luma(uint32_t x, uint32_t y, uint64_t s)
{
	return (uint8_t)(16 + (x + y + 3 * s) % 220);
}

static uint8_t chroma_u(uint32_t x, uint32_t y, uint64_t s)
{
	(void)y;
	return (uint8_t)(64 + (x / 4 + 2 * s) % 128);
}

static uint8_t chroma_v(uint32_t x, uint32_t y, uint64_t s)
{
	(void)x;
	return (uint8_t)(64 + (y / 4 + s) % 128);
}

bool fake_is_jpeg(uint32_t pixelformat)
{
	return pixelformat == V4L2_PIX_FMT_MJPEG || pixelformat == V4L2_PIX_FMT_JPEG;
}

/* Bytes a row of the first plane holds, before any padding. */
static uint32_t row_bytes(uint32_t pixelformat, uint32_t width)
{
	switch (pixelformat) {
	case V4L2_PIX_FMT_YUYV:
	case V4L2_PIX_FMT_UYVY:
		return width * 2;
	case V4L2_PIX_FMT_RGB24:
	case V4L2_PIX_FMT_BGR24:
		return width * 3;
	default: /* NV12, YU12, YV12, GREY */
		return width;
	}
}

uint32_t fake_camera_bytesperline(uint32_t pixelformat, uint32_t width)
{
	if (fake_is_jpeg(pixelformat))
		return 0;
	uint32_t bytes = row_bytes(pixelformat, width);
	uint32_t align = fake.config.bytesperline_align;
	/* Padded as drivers pad for their DMA engines (a multiple of 2, for the chroma). */
	return align ? (bytes + align - 1) / align * align : bytes;
}

uint32_t fake_camera_sizeimage(uint32_t pixelformat, uint32_t width, uint32_t height)
{
	uint32_t bpl = fake_camera_bytesperline(pixelformat, width);
	switch (pixelformat) {
	case V4L2_PIX_FMT_NV12:
		return bpl * height + bpl * (height / 2);
	case V4L2_PIX_FMT_YUV420:
	case V4L2_PIX_FMT_YVU420:
		return bpl * height + 2 * (bpl / 2) * (height / 2);
	case V4L2_PIX_FMT_MJPEG:
	case V4L2_PIX_FMT_JPEG:
		return width * height * 2 + 4096;
	default:
		return bpl * height;
	}
}

void fake_camera_fill(uint32_t pixelformat, uint32_t width, uint32_t height, uint64_t s,
                      uint8_t *buffer)
{
	uint32_t bpl = fake_camera_bytesperline(pixelformat, width);
	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = buffer + (size_t)y * bpl;
		for (uint32_t x = 0; x < width; x++) {
			switch (pixelformat) {
			case V4L2_PIX_FMT_YUYV:
				row[2 * x] = luma(x, y, s);
				row[2 * x + 1] = x % 2 ? chroma_v(x - 1, y, s) : chroma_u(x, y, s);
				break;
			case V4L2_PIX_FMT_UYVY:
				row[2 * x + 1] = luma(x, y, s);
				row[2 * x] = x % 2 ? chroma_v(x - 1, y, s) : chroma_u(x, y, s);
				break;
			case V4L2_PIX_FMT_RGB24:
			case V4L2_PIX_FMT_BGR24: {
				uint8_t r = (uint8_t)(2 * x + s), g = (uint8_t)(2 * y + 2 * s),
				        b = (uint8_t)(x + y);
				row[3 * x] = pixelformat == V4L2_PIX_FMT_RGB24 ? r : b;
				row[3 * x + 1] = g;
				row[3 * x + 2] = pixelformat == V4L2_PIX_FMT_RGB24 ? b : r;
				break;
			}
			default: /* the luma plane of NV12, YU12 and YV12, GREY */
				row[x] = luma(x, y, s);
				break;
			}
		}
	}
	uint8_t *chroma = buffer + (size_t)bpl * height;
	if (pixelformat == V4L2_PIX_FMT_NV12) {
		for (uint32_t y = 0; y < height / 2; y++)
			for (uint32_t x = 0; x < width / 2; x++) {
				chroma[(size_t)y * bpl + 2 * x] = chroma_u(2 * x, 2 * y, s);
				chroma[(size_t)y * bpl + 2 * x + 1] = chroma_v(2 * x, 2 * y, s);
			}
	} else if (pixelformat == V4L2_PIX_FMT_YUV420 || pixelformat == V4L2_PIX_FMT_YVU420) {
		/* YU12: U then V; YV12: V then U. */
		uint8_t *second = chroma + (size_t)(bpl / 2) * (height / 2);
		uint8_t *u = pixelformat == V4L2_PIX_FMT_YUV420 ? chroma : second;
		uint8_t *v = pixelformat == V4L2_PIX_FMT_YUV420 ? second : chroma;
		for (uint32_t y = 0; y < height / 2; y++)
			for (uint32_t x = 0; x < width / 2; x++) {
				u[(size_t)y * (bpl / 2) + x] = chroma_u(2 * x, 2 * y, s);
				v[(size_t)y * (bpl / 2) + x] = chroma_v(2 * x, 2 * y, s);
			}
	}
	for (int i = 0; i < 8; i++)
		buffer[i] = (uint8_t)(s >> (8 * i));
}

void fake_free_encoder(void)
{
	avcodec_free_context(&fake.encoder);
	av_frame_free(&fake.picture);
	av_packet_free(&fake.packet);
}

static int open_encoder(uint32_t width, uint32_t height)
{
	if (fake.encoder && (uint32_t)fake.encoder->width == width &&
	    (uint32_t)fake.encoder->height == height)
		return 0;
	fake_free_encoder();
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	if (!codec)
		return -1;
	fake.encoder = avcodec_alloc_context3(codec);
	fake.picture = av_frame_alloc();
	fake.packet = av_packet_alloc();
	if (!fake.encoder || !fake.picture || !fake.packet)
		goto error;
	fake.encoder->width = (int)width;
	fake.encoder->height = (int)height;
	fake.encoder->pix_fmt = AV_PIX_FMT_YUVJ422P;
	fake.encoder->color_range = AVCOL_RANGE_JPEG;
	fake.encoder->time_base = (AVRational){ 1, 30 };
	fake.encoder->thread_count = 1;
	fake.encoder->flags |= AV_CODEC_FLAG_QSCALE;
	fake.encoder->global_quality = FF_QP2LAMBDA * 3;
	if (avcodec_open2(fake.encoder, codec, NULL) < 0)
		goto error;
	fake.picture->format = AV_PIX_FMT_YUVJ422P;
	fake.picture->width = (int)width;
	fake.picture->height = (int)height;
	if (av_frame_get_buffer(fake.picture, 0) < 0)
		goto error;
	return 0;
error:
	fake_free_encoder();
	return -1;
}

size_t fake_camera_jpeg(uint32_t width, uint32_t height, uint64_t s, uint8_t *buffer,
                        size_t capacity)
{
	if (open_encoder(width, height) < 0 || av_frame_make_writable(fake.picture) < 0)
		return 0;
	AVFrame *picture = fake.picture;
	for (uint32_t y = 0; y < height; y++) {
		/* Full-range samples: the same picture, spread as JPEG's YUV is. */
		for (uint32_t x = 0; x < width; x++)
			picture->data[0][(size_t)y * (size_t)picture->linesize[0] + x] =
			    luma(x, y, s);
		for (uint32_t x = 0; x < width / 2; x++) {
			picture->data[1][(size_t)y * (size_t)picture->linesize[1] + x] =
			    chroma_u(2 * x, y, s);
			picture->data[2][(size_t)y * (size_t)picture->linesize[2] + x] =
			    chroma_v(2 * x, y, s);
		}
	}
	picture->quality = fake.encoder->global_quality;
	/* Encoders want growing timestamps; the picture itself depends on s only. */
	picture->pts = fake.encoded++;
	size_t size = 0;
	if (avcodec_send_frame(fake.encoder, picture) < 0)
		return 0;
	if (avcodec_receive_packet(fake.encoder, fake.packet) == 0) {
		if ((size_t)fake.packet->size <= capacity) {
			memcpy(buffer, fake.packet->data, (size_t)fake.packet->size);
			size = (size_t)fake.packet->size;
		}
		av_packet_unref(fake.packet);
	}
	return size;
}

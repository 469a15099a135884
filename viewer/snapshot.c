/*
 * PNG snapshots. libavcodec already has a PNG encoder and is a dependency of the
 * project, so the viewer uses it rather than carrying its own zlib and PNG writer.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"

static int encode(const uint8_t *rgb, int width, int height, AVPacket *packet)
{
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
	if (!codec)
		return AVERROR_ENCODER_NOT_FOUND;
	AVCodecContext *context = avcodec_alloc_context3(codec);
	AVFrame *frame = av_frame_alloc();
	int result = AVERROR(ENOMEM);
	if (!context || !frame)
		goto out;
	context->width = width;
	context->height = height;
	context->pix_fmt = AV_PIX_FMT_RGB24;
	context->time_base = (AVRational){ 1, 1 };
	result = avcodec_open2(context, codec, NULL);
	if (result < 0)
		goto out;
	frame->format = AV_PIX_FMT_RGB24;
	frame->width = width;
	frame->height = height;
	/* The encoder reads the rows where they are; it only needs to be told where. */
	frame->data[0] = (uint8_t *)rgb;
	frame->linesize[0] = width * 3;
	result = avcodec_send_frame(context, frame);
	if (result >= 0)
		result = avcodec_send_frame(context, NULL);
	if (result >= 0)
		result = avcodec_receive_packet(context, packet);
out:
	av_frame_free(&frame);
	avcodec_free_context(&context);
	return result;
}

int snapshot_save_png(const char *path, const uint8_t *rgb, int width, int height)
{
	AVPacket *packet = av_packet_alloc();
	if (!packet)
		return -1;
	int result = encode(rgb, width, height, packet);
	if (result < 0) {
		char text[AV_ERROR_MAX_STRING_SIZE];
		av_strerror(result, text, sizeof(text));
		fprintf(stderr, "vshm-view: cannot encode the snapshot as PNG: %s\n", text);
		av_packet_free(&packet);
		return -1;
	}
	char temporary[4096];
	snprintf(temporary, sizeof(temporary), "%s.%d.partial", path, (int)getpid());
	FILE *file = fopen(temporary, "wb");
	bool written =
	    file && fwrite(packet->data, 1, (size_t)packet->size, file) == (size_t)packet->size;
	if (file && fclose(file) != 0)
		written = false;
	av_packet_free(&packet);
	if (!written || rename(temporary, path) != 0) {
		fprintf(stderr, "vshm-view: cannot write snapshot '%s': %s\n", path,
		        strerror(errno));
		unlink(temporary);
		return -1;
	}
	return 0;
}

/*
 * vshm-record's encoder: the FFmpeg video encoder the command line asks for, set up for
 * the first frame's size and format, and the choice of how frames reach it (see
 * picture.h): read straight from the slot, or copied out of it first.
 *
 * Not thread-safe (one recording thread); FFmpeg may run encoder threads of its own.
 */
#ifndef VSHM_RECORD_ENCODER_H
#define VSHM_RECORD_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <vshm/vshm.h>

/* What the user asked for; 0, -1 and NULL mean the codec's default as vshm-record sets it. */
struct encoder_settings {
	const char *codec;  /* h264, ffv1, rawvideo, mjpeg, or any FFmpeg video encoder */
	int64_t bitrate;    /* bits per second; 0: constant quality */
	int crf;            /* constant rate factor; -1: the codec's default */
	int gop;            /* frames from one keyframe to the next; 0: the default */
	const char *preset; /* NULL: veryfast for libx264, the codec's own for others */
	bool low_latency;   /* no B-frames nor lookahead (x264 tune zerolatency) */
	bool network;       /* the output is a stream: keyframes every second */
};

/*
 * Finds the encoder for settings->codec and checks that the other settings apply to it
 * (--crf and --preset exist only for some codecs). Returns NULL after printing one line
 * on stderr naming the codec or option and what to use instead.
 */
const AVCodec *encoder_find(const struct encoder_settings *settings);

struct encoder {
	AVCodecContext *context;
	/* The encoder's pixel format and size; frames of other formats and sizes are
	 * converted and scaled to these (picture.c). */
	enum AVPixelFormat format;
	int width, height;
	/*
	 * Frames whose format and size are the encoder's may be handed to it as they lie
	 * in the slot, without a copy: the encoder is intra-only, outputs each frame's
	 * packet before it returns and keeps no reference to the frame (checked after each
	 * frame), so a frame found torn at release can be dropped as a whole by dropping its
	 * packet. Otherwise (libx264 and any encoder with delay or references between
	 * frames) frames are copied out of the slot before it is released, and only intact
	 * copies reach the encoder.
	 */
	bool in_place;
	/* The colour the encoder is told: the slot's, or what a conversion makes. */
	enum AVColorSpace colorspace;
	enum AVColorRange color_range;
};

/*
 * Opens codec for frames like first (its format, size and colour), with timestamps in
 * time_base and frame_interval_ns (0 if unknown) as the nominal rate for rate
 * control. global_header: the container wants codec headers apart from the frames (mp4,
 * mkv). Returns 0, or a negative AVERROR after printing one line on stderr; *encoder is
 * then empty.
 */
int encoder_open(struct encoder *encoder, const AVCodec *codec,
                 const struct encoder_settings *settings, const struct vshm_frame *first,
                 AVRational time_base, uint64_t frame_interval_ns, bool global_header);

/* Frees the encoder (without draining it). Accepts an empty one. */
void encoder_close(struct encoder *encoder);

/* The colour of a frame as vshm says it, defaults resolved (frame.h). */
enum AVColorSpace encoder_colorspace_of(const struct vshm_frame *frame);
enum AVColorRange encoder_range_of(const struct vshm_frame *frame);

/* FFmpeg's pixel format with the bytes of a ring format (the format table). */
enum AVPixelFormat encoder_av_format_of(uint32_t format);

#endif

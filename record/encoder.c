/*
 * The encoder (encoder.h): codec names, the pixel format frames are encoded in, rate
 * control and latency settings, and whether frames may be read straight from the slot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "encoder.h"
#include "ffmpeg-error.h"
#include "options.h"

/* The names the usage text promises, and the encoders behind them. */
static const struct {
	const char *name;
	const char *encoder;
} aliases[] = {
	{ "h264", "libx264" },
	{ "x264", "libx264" },
	{ "hevc", "libx265" },
	{ "h265", "libx265" },
};

/* libx264's default speed: real time at 1080p30 on a few cores, with good quality. */
#define X264_PRESET_DEFAULT "veryfast"
/* Without --bitrate or --crf, codecs without a constant rate factor use this quantiser
 * (MJPEG's scale is 2 best .. 31 worst): visually lossless for most pictures. */
#define QUANTISER_DEFAULT 3

/* libx264's presets (x264_preset_names): checked here, since libx264 itself says what is
 * wrong with one straight on stderr, around our own message. */
#define X264_PRESETS "ultrafast superfast veryfast faster fast medium slow slower veryslow placebo"

static bool is_x264_preset(const char *name)
{
	const char *list = X264_PRESETS;
	size_t length = strlen(name);
	for (const char *at = strstr(list, name); length && at; at = strstr(at + 1, name)) {
		bool starts = at == list || at[-1] == ' ';
		bool ends = at[length] == ' ' || at[length] == '\0';
		if (starts && ends)
			return true;
	}
	return false;
}

static bool has_option(const AVCodec *codec, const char *name)
{
	return codec->priv_class &&
	       av_opt_find((void *)&codec->priv_class, name, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ);
}

static bool is_lossless_only(const AVCodec *codec)
{
	const AVCodecDescriptor *descriptor = avcodec_descriptor_get(codec->id);
	return descriptor && (descriptor->props & AV_CODEC_PROP_LOSSLESS) &&
	       !(descriptor->props & AV_CODEC_PROP_LOSSY);
}

const AVCodec *encoder_find(const struct encoder_settings *settings)
{
	const char *name = settings->codec;
	const char *wanted = name;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(name, aliases[i].name) == 0)
			wanted = aliases[i].encoder;
	}
	const AVCodec *codec = avcodec_find_encoder_by_name(wanted);
	if (!codec) {
		if (wanted != name)
			program_say("--codec %s: this FFmpeg has no %s encoder; install an FFmpeg "
			            "built with it (Debian's has it) or choose another codec",
			            name, wanted);
		else
			program_say("--codec '%s' is not an encoder this FFmpeg knows: use h264, "
			            "ffv1, rawvideo or mjpeg (or any video encoder that "
			            "'ffmpeg -encoders' lists)",
			            name);
		return NULL;
	}
	if (codec->type != AVMEDIA_TYPE_VIDEO) {
		program_say("--codec '%s' is not a video encoder: use h264, ffv1, rawvideo or "
		            "mjpeg",
		            name);
		return NULL;
	}
	if (settings->crf >= 0 && settings->bitrate > 0) {
		program_say("--crf and --bitrate exclude each other: constant quality, or a "
		            "bit rate");
		return NULL;
	}
	if ((settings->crf >= 0 || settings->bitrate > 0) && is_lossless_only(codec)) {
		program_say("%s: %s is lossless, so its size follows the pictures; drop the "
		            "option, or use h264 or mjpeg",
		            settings->crf >= 0 ? "--crf" : "--bitrate", name);
		return NULL;
	}
	if (settings->crf >= 0 && !has_option(codec, "crf")) {
		program_say("--crf: the %s encoder has no constant rate factor; use --bitrate",
		            codec->name);
		return NULL;
	}
	if (settings->preset && codec->id == AV_CODEC_ID_H264 &&
	    !is_x264_preset(settings->preset)) {
		program_say("--preset '%s' is not one of h264's: " X264_PRESETS, settings->preset);
		return NULL;
	}
	if (settings->preset && !has_option(codec, "preset")) {
		program_say("--preset: the %s encoder has no presets (h264 has: " X264_PRESETS ")",
		            codec->name);
		return NULL;
	}
	return codec;
}

enum AVPixelFormat encoder_av_format_of(uint32_t format)
{
	const struct vshm_format_description *description = vshm_format_describe(format);
	return description ? av_get_pix_fmt(description->ffmpeg_name) : AV_PIX_FMT_NONE;
}

static bool is_yuv(enum AVPixelFormat format)
{
	const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
	return descriptor && !(descriptor->flags & AV_PIX_FMT_FLAG_RGB) &&
	       descriptor->nb_components >= 3;
}

enum AVColorSpace encoder_colorspace_of(const struct vshm_frame *frame)
{
	if (!is_yuv(encoder_av_format_of(frame->format)))
		return AVCOL_SPC_RGB;
	switch (frame->color_matrix) {
	case VSHM_COLOR_MATRIX_BT601:
		return AVCOL_SPC_SMPTE170M;
	case VSHM_COLOR_MATRIX_BT709:
		return AVCOL_SPC_BT709;
	case VSHM_COLOR_MATRIX_BT2020:
		return AVCOL_SPC_BT2020_NCL;
	default:
		/* What readers assume for an unspecified matrix (frame.h). */
		return frame->height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
	}
}

enum AVColorRange encoder_range_of(const struct vshm_frame *frame)
{
	if (!is_yuv(encoder_av_format_of(frame->format)))
		return AVCOL_RANGE_JPEG; /* RGB and gray8 are full range */
	return frame->color_range == VSHM_COLOR_RANGE_FULL ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
}

static bool is_jpeg_range_format(enum AVPixelFormat format)
{
	return format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P ||
	       format == AV_PIX_FMT_YUVJ444P || format == AV_PIX_FMT_YUVJ440P ||
	       format == AV_PIX_FMT_YUVJ411P;
}

/*
 * The pixel format to encode in: the slot's own when the encoder takes it (no
 * conversion), else the one of the encoder's that loses least. The YUVJ formats are left
 * out (the range travels as color_range), and H.264 is kept to 8-bit 4:2:0, the one
 * layout every player decodes.
 */
static enum AVPixelFormat choose_format(const AVCodec *codec, enum AVPixelFormat slot)
{
	if (!codec->pix_fmts)
		return slot; /* rawvideo takes anything */
	enum AVPixelFormat candidates[128];
	size_t count = 0;
	for (const enum AVPixelFormat *format = codec->pix_fmts;
	     *format != AV_PIX_FMT_NONE && count + 1 < sizeof(candidates) / sizeof(candidates[0]);
	     format++) {
		if (is_jpeg_range_format(*format))
			continue;
		if (codec->id == AV_CODEC_ID_H264 && *format != AV_PIX_FMT_YUV420P &&
		    *format != AV_PIX_FMT_NV12)
			continue;
		candidates[count++] = *format;
	}
	if (count == 0)
		return codec->pix_fmts[0];
	candidates[count] = AV_PIX_FMT_NONE;
	for (size_t i = 0; i < count; i++) {
		if (candidates[i] == slot)
			return slot;
	}
	return avcodec_find_best_pix_fmt_of_list(candidates, slot, 0, NULL);
}

static void set_color(AVCodecContext *context, enum AVColorSpace space, enum AVColorRange range)
{
	context->colorspace = space;
	context->color_range = range;
	if (space == AVCOL_SPC_BT709) {
		context->color_primaries = AVCOL_PRI_BT709;
		context->color_trc = AVCOL_TRC_BT709;
	} else if (space == AVCOL_SPC_SMPTE170M) {
		context->color_primaries = AVCOL_PRI_SMPTE170M;
		context->color_trc = AVCOL_TRC_SMPTE170M;
	} else if (space == AVCOL_SPC_BT2020_NCL) {
		context->color_primaries = AVCOL_PRI_BT2020;
		context->color_trc = AVCOL_TRC_BT709;
	}
}

/* The private options of the codec: speed, quality and latency. */
static void codec_options(const AVCodec *codec, const struct encoder_settings *settings,
                          AVDictionary **options)
{
	if (codec->id == AV_CODEC_ID_H264 && has_option(codec, "preset")) {
		av_dict_set(options, "preset",
		            settings->preset ? settings->preset : X264_PRESET_DEFAULT, 0);
		if (settings->low_latency)
			av_dict_set(options, "tune", "zerolatency", 0);
		/* A keyframe asked for (a receiver that reconnected) is one it can start at. */
		av_dict_set(options, "forced-idr", "1", 0);
	} else if (settings->preset) {
		av_dict_set(options, "preset", settings->preset, 0);
	}
	if (settings->crf >= 0)
		av_dict_set_int(options, "crf", settings->crf, 0);
	if (codec->id == AV_CODEC_ID_FFV1) {
		/* Version 3: slices coded in parallel, each with a CRC, so damage stays local. */
		av_dict_set(options, "level", "3", 0);
		av_dict_set(options, "slicecrc", "1", 0);
	}
}

/* Keyframe spacing: 2 s in files, 1 s on the network (a receiver that joins late waits
 * at most that long), every frame for FFV1 (each frame stands alone: a damaged one
 * harms no other, and any can be seeked to, for a few percent in size). */
static int default_gop(const AVCodec *codec, const struct encoder_settings *settings,
                       AVRational rate)
{
	if (codec->id == AV_CODEC_ID_FFV1)
		return 1;
	double per_second = av_q2d(rate);
	int seconds = settings->network || settings->low_latency ? 1 : 2;
	int gop = (int)(per_second * seconds + 0.5);
	return gop < 1 ? 1 : gop;
}

int encoder_open(struct encoder *encoder, const AVCodec *codec,
                 const struct encoder_settings *settings, const struct vshm_frame *first,
                 AVRational time_base, uint64_t frame_interval_ns, bool global_header)
{
	*encoder = (struct encoder){ 0 };
	AVCodecContext *context = avcodec_alloc_context3(codec);
	if (!context) {
		program_say("out of memory for the %s encoder", codec->name);
		return AVERROR(ENOMEM);
	}
	enum AVPixelFormat slot = encoder_av_format_of(first->format);
	context->width = (int)first->width;
	context->height = (int)first->height;
	context->pix_fmt = choose_format(codec, slot);
	context->time_base = time_base;
	/* The nominal rate guides rate control only; each frame's own timestamp says when
	 * it was captured. */
	context->framerate = frame_interval_ns ? av_d2q(1e9 / (double)frame_interval_ns, 100000)
	                                       : (AVRational){ 30, 1 };
	context->gop_size =
	    settings->gop ? settings->gop : default_gop(codec, settings, context->framerate);
	if (settings->low_latency)
		context->max_b_frames = 0;
	if (settings->bitrate > 0) {
		context->bit_rate = settings->bitrate;
		if (settings->low_latency) {
			/* A steady rate on the network: at most a second's worth in flight. */
			context->rc_max_rate = settings->bitrate;
			context->rc_buffer_size =
			    (int)(settings->bitrate > INT32_MAX ? INT32_MAX : settings->bitrate);
		}
	} else if (!has_option(codec, "crf") && !is_lossless_only(codec)) {
		context->flags |= AV_CODEC_FLAG_QSCALE;
		context->global_quality = FF_QP2LAMBDA * QUANTISER_DEFAULT;
	}
	if (codec->id == AV_CODEC_ID_MJPEG)
		context->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL; /* limited-range YUV */
	if (global_header)
		context->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

	/* The colour the encoder's frames carry: the slot's when it stays YUV or RGB, and
	 * for RGB or gray made into YUV, what picture.c converts to. */
	bool slot_yuv = is_yuv(slot);
	bool encoded_yuv = is_yuv(context->pix_fmt);
	if (encoded_yuv == slot_yuv) {
		encoder->colorspace = encoder_colorspace_of(first);
		encoder->color_range = encoder_range_of(first);
	} else if (encoded_yuv) {
		encoder->colorspace = first->height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
		encoder->color_range = AVCOL_RANGE_MPEG;
	} else {
		encoder->colorspace = AVCOL_SPC_RGB;
		encoder->color_range = AVCOL_RANGE_JPEG;
	}
	if (context->pix_fmt == AV_PIX_FMT_GRAY8)
		encoder->colorspace = AVCOL_SPC_UNSPECIFIED;
	set_color(context, encoder->colorspace, encoder->color_range);

	/*
	 * Reading frames in place needs an encoder that is done with a frame when it
	 * returns its packet, and a packet that can be dropped alone: rawvideo and mjpeg,
	 * intra-only encoders without delay, whose only threads are slice threads (frame
	 * threads would keep frames for later). encode.c checks after every frame that
	 * the encoder let go of it. Every other encoder gets a copy: libx264 keeps frames
	 * for its lookahead, and even FFV1, which has no delay, keeps a reference to each
	 * frame until the next one comes.
	 */
	encoder->in_place = (codec->id == AV_CODEC_ID_RAWVIDEO || codec->id == AV_CODEC_ID_MJPEG) &&
	                    !(codec->capabilities & AV_CODEC_CAP_DELAY) && context->pix_fmt == slot;
	context->thread_count = 0; /* as many as the machine has cores */
	if (encoder->in_place)
		context->thread_type = FF_THREAD_SLICE;

	AVDictionary *options = NULL;
	codec_options(codec, settings, &options);
	capture_ffmpeg_log_forget();
	int result = avcodec_open2(context, codec, &options);
	av_dict_free(&options);
	if (result < 0) {
		char why[512];
		program_say("cannot open the %s encoder for %dx%d %s: %s", codec->name,
		            context->width, context->height, av_get_pix_fmt_name(context->pix_fmt),
		            ffmpeg_error_explain(result, why, sizeof(why)));
		avcodec_free_context(&context);
		return result;
	}
	encoder->context = context;
	encoder->format = context->pix_fmt;
	encoder->width = context->width;
	encoder->height = context->height;
	return 0;
}

void encoder_close(struct encoder *encoder)
{
	avcodec_free_context(&encoder->context);
	*encoder = (struct encoder){ 0 };
}

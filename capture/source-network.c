/*
 * The network source: a live stream that a sender pushes (srt://, udp://, rtp:// through
 * its session description FILE.sdp, rtsp://, tcp://, rtmp://), received for the lowest
 * latency, where the file source is made to play files faithfully:
 *   - the demuxer keeps nothing it read while probing the stream (fflags nobuffer), so
 *     playback starts at the frames arriving then, not a probe's worth behind them;
 *   - the decoder runs slice threads only and low delay: frame threads hold pictures
 *     back, one per thread;
 *   - each picture is published as soon as it is decoded (a live source: no pacing by
 *     its timestamps, no decoding ahead), stamped with the time its last packet arrived;
 *   - when the sender goes away (the stream ends, an error, or 5 s without data) the
 *     input is opened again every second, readers keeping the last frame meanwhile, and
 *     the first frame after it is flagged a discontinuity; --no-reconnect ends instead.
 * Pictures go into the slots through picture.c, as the file source's do: that is the one
 * copy (or conversion) that brings them in.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ffmpeg-log.h"
#include "picture.h"
#include "shutdown.h"
#include "source.h"

/* A sender that has said nothing this long has gone away. */
#define SILENCE_NS      5000000000u
#define SILENCE_US      "5000000"
#define RECONNECT_PAUSE 1 /* seconds between attempts */
/* Probing for the stream's parameters: at most this many bytes and this long. */
#define PROBE_BYTES     "1000000"
#define PROBE_US        "1000000"
#define CONSECUTIVE_MAX 500

struct capture_source {
	const char *location;
	struct capture_settings settings;
	bool listener; /* waits for its sender to connect (srt mode=listener, tcp listen) */
	AVFormatContext *input;
	AVCodecContext *decoder;
	int stream_index;
	uint64_t frame_interval_ns;
	AVPacket *packet;
	AVFrame *picture;
	bool has_picture;     /* decoded and not handed out yet (the first, sizing the ring) */
	uint64_t arrival_ns;  /* when the latest packet of the stream arrived */
	uint64_t deadline_ns; /* 0, or when a blocking read gives up */
	struct capture_picture converter;
	uint64_t next_frame_number;
	uint64_t frames_skipped;
	uint64_t frames_damaged;
	bool discontinuity; /* the next frame follows a reconnection */
};

bool capture_network_is_location(const char *location)
{
	static const char *const schemes[] = { "srt://",   "udp://", "rtp://", "rtsp://",
		                               "rtsps://", "tcp://", "rtmp://" };
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(location, schemes[i], strlen(schemes[i])) == 0)
			return true;
	}
	size_t length = strlen(location);
	return length > 4 && strcmp(location + length - 4, ".sdp") == 0;
}

static const char *error_text(int error)
{
	static char text[AV_ERROR_MAX_STRING_SIZE];
	av_strerror(error, text, sizeof(text));
	return text;
}

/* FFmpeg's blocking calls poll this: Ctrl-C stops them, and so does a silent sender. */
static int interrupted(void *opaque)
{
	const struct capture_source *source = opaque;
	return program_shutdown_requested() ||
	       (source->deadline_ns && vshm_now_ns() > source->deadline_ns);
}

static void close_input(struct capture_source *source)
{
	avcodec_free_context(&source->decoder);
	avformat_close_input(&source->input);
}

/* The video stream's decoder: slice threads and low delay, for no picture held back. */
static int open_decoder(struct capture_source *source, bool quiet)
{
	const AVCodec *codec = NULL;
	int index = av_find_best_stream(source->input, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (index < 0 || !codec) {
		if (!quiet)
			fprintf(stderr, "vshm-capture: '%s': %s\n", source->location,
			        index == AVERROR_STREAM_NOT_FOUND
			            ? "no video stream in it"
			            : "its video codec is not supported by this FFmpeg");
		return index < 0 ? index : AVERROR_DECODER_NOT_FOUND;
	}
	source->stream_index = index;
	AVStream *stream = source->input->streams[index];
	for (unsigned i = 0; i < source->input->nb_streams; i++)
		if ((int)i != index)
			source->input->streams[i]->discard = AVDISCARD_ALL;
	source->decoder = avcodec_alloc_context3(codec);
	if (!source->decoder)
		return AVERROR(ENOMEM);
	int result = avcodec_parameters_to_context(source->decoder, stream->codecpar);
	if (result < 0)
		return result;
	source->decoder->thread_count = 0;
	source->decoder->thread_type = FF_THREAD_SLICE;
	source->decoder->flags |= AV_CODEC_FLAG_LOW_DELAY;
	result = avcodec_open2(source->decoder, codec, NULL);
	if (result < 0 && !quiet)
		fprintf(stderr, "vshm-capture: '%s': cannot open the %s decoder: %s\n",
		        source->location, codec->name, error_text(result));
	AVRational rate = stream->avg_frame_rate;
	source->frame_interval_ns =
	    rate.num > 0 && rate.den > 0 ? (uint64_t)av_rescale(1000000000, rate.den, rate.num) : 0;
	return result;
}

/*
 * Opens the stream and its decoder. A listener waits for its sender as long as it
 * takes; a caller gives up after SILENCE_NS. quiet: a reconnection attempt, whose
 * failure is not news. Returns 0 or a negative AVERROR.
 */
static int open_input(struct capture_source *source, bool quiet)
{
	source->input = avformat_alloc_context();
	if (!source->input)
		return AVERROR(ENOMEM);
	source->input->interrupt_callback = (AVIOInterruptCB){ interrupted, source };
	AVDictionary *options = NULL;
	av_dict_set(&options, "fflags", "nobuffer", 0);
	av_dict_set(&options, "probesize", PROBE_BYTES, 0);
	av_dict_set(&options, "analyzeduration", PROBE_US, 0);
	av_dict_set(&options, "rw_timeout", SILENCE_US, 0);
	if (strncmp(source->location, "rtsp", 4) == 0)
		av_dict_set(&options, "timeout", SILENCE_US, 0); /* RTSP's own socket timeout */
	size_t length = strlen(source->location);
	if (length > 4 && strcmp(source->location + length - 4, ".sdp") == 0)
		/* A session description names the RTP streams to open: allow them. */
		av_dict_set(&options, "protocol_whitelist", "file,udp,rtp,crypto,data", 0);
	if (source->listener && !quiet && !source->settings.quiet)
		fprintf(stderr, "vshm-capture: waiting for the sender of '%s'\n", source->location);
	source->deadline_ns = source->listener ? 0 : vshm_now_ns() + SILENCE_NS;
	capture_ffmpeg_log_forget();
	int result = avformat_open_input(&source->input, source->location, NULL, &options);
	av_dict_free(&options);
	if (result == 0) {
		source->deadline_ns = vshm_now_ns() + SILENCE_NS;
		result = avformat_find_stream_info(source->input, NULL);
	}
	bool timed_out = source->deadline_ns && vshm_now_ns() > source->deadline_ns;
	source->deadline_ns = 0;
	if (result < 0) {
		char cause[256];
		capture_ffmpeg_log_last(cause, sizeof(cause));
		if (!quiet && !program_shutdown_requested())
			fprintf(stderr,
			        "vshm-capture: cannot receive '%s': %s; is the sender running%s?\n",
			        source->location,
			        timed_out  ? "no answer within 5 s"
			        : cause[0] ? cause
			                   : error_text(result),
			        source->listener ? "" : ", and listening there");
		close_input(source);
		return result;
	}
	result = open_decoder(source, quiet);
	if (result < 0)
		close_input(source);
	return result;
}

/*
 * The next picture into source->picture. Returns 1, 0 when the sender went away (the
 * stream ended, failed, or fell silent), or a negative AVERROR that ends capture.
 */
static int receive_picture(struct capture_source *source)
{
	int failures = 0;
	for (;;) {
		int result = avcodec_receive_frame(source->decoder, source->picture);
		if (result == 0) {
			bool damaged = (source->picture->flags & AV_FRAME_FLAG_CORRUPT) ||
			               source->picture->decode_error_flags;
			if (!damaged || !source->settings.skip_damaged) {
				source->frames_damaged += damaged;
				return 1;
			}
			source->frames_skipped++; /* lost packets: --skip-damaged drops it */
			av_frame_unref(source->picture);
			continue;
		}
		if (result != AVERROR(EAGAIN)) {
			if (result == AVERROR_EOF)
				return 0;
			if (++failures > CONSECUTIVE_MAX) {
				fprintf(stderr,
				        "vshm-capture: '%s': %d pictures in a row failed to decode "
				        "(%s); giving up\n",
				        source->location, CONSECUTIVE_MAX, error_text(result));
				return result;
			}
			source->frames_skipped++;
			continue;
		}
		source->deadline_ns = vshm_now_ns() + SILENCE_NS;
		result = av_read_frame(source->input, source->packet);
		source->deadline_ns = 0;
		if (result < 0)
			return 0;
		if (source->packet->stream_index != source->stream_index) {
			av_packet_unref(source->packet);
			continue;
		}
		/* A picture's last packet has arrived when the decoder gives the picture. */
		source->arrival_ns = vshm_now_ns();
		result = avcodec_send_packet(source->decoder, source->packet);
		av_packet_unref(source->packet);
		if (result < 0 && result != AVERROR(EAGAIN))
			source->frames_skipped++;
	}
}

/* The sender went away: opens the stream again every second until it is back. Returns
 * 0 when it is, or -EINTR when a signal asked to stop meanwhile. */
static int reconnect(struct capture_source *source)
{
	char cause[256];
	capture_ffmpeg_log_last(cause, sizeof(cause));
	close_input(source);
	fprintf(stderr,
	        "vshm-capture: '%s': the sender went away%s%s%s; receiving again as soon as it "
	        "is back (readers keep the last frame)\n",
	        source->location, cause[0] ? " (" : "", cause, cause[0] ? ")" : "");
	while (!program_shutdown_requested()) {
		if (open_input(source, true) == 0) {
			fprintf(stderr, "vshm-capture: '%s': the sender is back\n",
			        source->location);
			source->discontinuity = true;
			return 0;
		}
		struct timespec pause = { RECONNECT_PAUSE, 0 };
		nanosleep(&pause, NULL);
	}
	return -EINTR;
}

static void describe_output(const struct capture_source *source, uint32_t *format, uint32_t *width,
                            uint32_t *height)
{
	capture_picture_output(&source->converter, source->picture, source->settings.format,
	                       source->settings.width, source->settings.height, format, width,
	                       height);
}

static void network_close(struct capture_source *source)
{
	if (!source)
		return;
	close_input(source);
	capture_picture_finish(&source->converter);
	av_frame_free(&source->picture);
	av_packet_free(&source->packet);
	free(source);
}

static struct capture_source *network_open(const char *location,
                                           const struct capture_settings *settings,
                                           struct capture_description *description)
{
	capture_ffmpeg_log_start();
	avformat_network_init();
	struct capture_source *source = calloc(1, sizeof(*source));
	if (!source)
		return NULL;
	source->location = location;
	source->settings = *settings;
	/* Waits for its sender: an SRT or TCP listener, and UDP and RTP, which receive what
	 * comes to their port. */
	size_t length = strlen(location);
	source->listener = strstr(location, "mode=listener") || strstr(location, "listen=1") ||
	                   strstr(location, "listen=2") || strncmp(location, "udp://", 6) == 0 ||
	                   strncmp(location, "rtp://", 6) == 0 ||
	                   (length > 4 && strcmp(location + length - 4, ".sdp") == 0);
	source->packet = av_packet_alloc();
	source->picture = av_frame_alloc();
	if (!source->packet || !source->picture || open_input(source, false) < 0)
		goto error;
	/* The first picture sizes the ring; a stream that never gives one fails here,
	 * before any stream is created. */
	int result = receive_picture(source);
	if (result <= 0) {
		if (!program_shutdown_requested())
			fprintf(stderr, "vshm-capture: '%s': no picture could be received\n",
			        location);
		goto error;
	}
	source->has_picture = true;
	describe_output(source, &description->format, &description->width, &description->height);
	if (!vshm_format_is_valid(description->format) || description->width == 0 ||
	    description->height == 0 || description->width > VSHM_FORMAT_DIMENSION_MAX ||
	    description->height > VSHM_FORMAT_DIMENSION_MAX) {
		fprintf(stderr,
		        "vshm-capture: '%s': its %ux%u pictures are beyond what vshm carries\n",
		        location, description->width, description->height);
		goto error;
	}
	description->live = true;
	description->frame_interval_ns = source->frame_interval_ns;
	const char *pixels = av_get_pix_fmt_name((enum AVPixelFormat)source->picture->format);
	snprintf(description->summary, sizeof(description->summary), "'%s' (live: %s in %s, %s)",
	         location, source->decoder->codec->name, source->input->iformat->name,
	         pixels ? pixels : "?");
	return source;

error:
	network_close(source);
	return NULL;
}

static int network_next(struct capture_source *source, struct vshm_writer *writer,
                        struct vshm_frame *frame, uint64_t *media_ns)
{
	while (!source->has_picture) {
		if (program_shutdown_requested())
			return CAPTURE_END;
		int result = receive_picture(source);
		if (result < 0)
			return result;
		if (result > 0) {
			source->has_picture = true;
		} else if (source->settings.no_reconnect) {
			fprintf(stderr,
			        "vshm-capture: '%s': the sender went away; stopping "
			        "(--no-reconnect)\n",
			        source->location);
			return CAPTURE_END;
		} else if (reconnect(source) < 0) {
			return CAPTURE_END;
		}
	}
	AVFrame *picture = source->picture;
	uint32_t format, width, height;
	describe_output(source, &format, &width, &height);
	int result = capture_picture_begin(&source->converter, picture, source->location, format,
	                                   width, height, writer, frame);
	if (result < 0)
		return result;
	bool damaged = (picture->flags & AV_FRAME_FLAG_CORRUPT) || picture->decode_error_flags;
	frame->frame_number = source->next_frame_number++;
	frame->capture_ns = source->arrival_ns;
	if (source->discontinuity)
		frame->flags |= VSHM_FRAME_DISCONTINUITY;
	if (damaged)
		frame->flags |= VSHM_FRAME_DAMAGED;
	source->discontinuity = false;
	source->has_picture = false;
	av_frame_unref(picture);
	*media_ns = 0; /* live: published at once */
	return CAPTURE_FRAME;
}

static void network_get_stats(const struct capture_source *source,
                              struct capture_source_stats *stats)
{
	stats->frames_skipped = source->frames_skipped;
	stats->frames_damaged = source->frames_damaged;
	stats->loops = 0;
}

const struct capture_source_ops capture_source_network = {
	.name = "network",
	.open = network_open,
	.next = network_next,
	.get_stats = network_get_stats,
	.close = network_close,
};

/*
 * The file source: libavformat demuxes, libavcodec decodes (threaded), and each
 * decoded picture goes into a ring slot in one pass, by picture.c: a plane copy when the
 * ring carries the decoder's format at the source size, else libswscale straight into
 * the slot.
 *
 * The source decodes one picture ahead, so the picture it writes knows whether it is
 * the last one and can carry the end-of-stream flag.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ffmpeg-log.h"
#include "picture.h"
#include "shutdown.h"
#include "source.h"

/* This many undecodable packets in a row means the file is not worth going on with. */
#define CONSECUTIVE_ERRORS_MAX 500
/* Network reads that stall this long fail instead of hanging. */
#define NETWORK_TIMEOUT_US  "5000000"
#define JUMP_LIMIT_NS       1000000000
#define IO_TIMEOUT_NS       10000000000u
#define DEFAULT_INTERVAL_NS 33333333u

struct capture_source {
	const char *location;
	struct capture_settings settings;
	AVFormatContext *format_context;
	AVCodecContext *decoder;
	AVStream *stream;
	AVPacket *packet;
	AVFrame *pending; /* the next picture to write, decoded ahead */
	bool has_pending;
	uint64_t pending_media_ns;
	bool pending_discontinuity; /* its timestamps jumped: it starts a new stretch */
	struct capture_picture converter;
	bool input_done; /* the demuxer is at its end and the decoder was told so */
	int64_t first_pts;
	bool have_first_pts;
	int64_t offset_ns; /* media time of the first timestamp of this pass (shifted at jumps) */
	uint64_t last_media_ns;
	uint64_t frame_interval_ns;
	uint64_t pictures_this_pass;
	uint64_t next_frame_number;
	uint64_t frames_skipped;
	uint64_t frames_damaged;
	uint64_t loops;
	uint64_t io_deadline_ns; /* 0, or when blocking I/O gives up */

	/* Damaged video (see take_picture()). */
	bool pending_damaged; /* the pending picture was decoded with errors */
	bool skipped_damaged; /* damaged pictures were skipped since the last one handed out */
	bool said_damaged;
};

static const char *error_text(int error)
{
	static char text[AV_ERROR_MAX_STRING_SIZE];
	av_strerror(error, text, sizeof(text));
	return text;
}

/*
 * FFmpeg calls this while it blocks in I/O: stop on Ctrl-C, and when a network source
 * has said nothing for IO_TIMEOUT_NS (protocols such as udp ignore rw_timeout).
 */
static int interrupted(void *opaque)
{
	const struct capture_source *source = opaque;
	return program_shutdown_requested() ||
	       (source->io_deadline_ns && vshm_now_ns() > source->io_deadline_ns);
}

static void arm_io_deadline(struct capture_source *source)
{
	source->io_deadline_ns = vshm_now_ns() + IO_TIMEOUT_NS;
}

static bool io_timed_out(struct capture_source *source)
{
	bool timed_out = source->io_deadline_ns && vshm_now_ns() > source->io_deadline_ns;
	source->io_deadline_ns = 0;
	return timed_out;
}

/*
 * The time, from the start of the stream, at which a picture is due. A jump of more
 * than a second (and ten frames) away from where the next picture should be - a cut, a
 * broken file, timestamps that restart - is a discontinuity: the picture follows one
 * interval after the previous one, and later ones keep their spacing from it, so
 * pacing neither sleeps through a jump forward nor races through a jump back.
 */
static uint64_t media_time_of(struct capture_source *source, const AVFrame *picture,
                              bool *discontinuity)
{
	int64_t pts = picture->best_effort_timestamp;
	int64_t interval = (int64_t)source->frame_interval_ns;
	int64_t last = (int64_t)source->last_media_ns;
	int64_t media;
	*discontinuity = false;
	if (pts == AV_NOPTS_VALUE) {
		media = source->pictures_this_pass ? last + interval : source->offset_ns;
	} else {
		if (!source->have_first_pts) {
			source->first_pts = pts;
			source->have_first_pts = true;
		}
		int64_t since = av_rescale_q(pts - source->first_pts, source->stream->time_base,
		                             (AVRational){ 1, 1000000000 });
		media = source->offset_ns + since;
	}
	if (source->pictures_this_pass) {
		int64_t expected = last + interval;
		int64_t distance = media > expected ? media - expected : expected - media;
		int64_t limit = 10 * interval > JUMP_LIMIT_NS ? 10 * interval : JUMP_LIMIT_NS;
		if (distance > limit) {
			source->offset_ns += expected - media;
			media = expected;
			*discontinuity = true;
		} else if (media < last) {
			media = last; /* small jitter backwards: never pace backwards */
		}
	}
	if (media < 0)
		media = 0;
	source->last_media_ns = (uint64_t)media;
	return (uint64_t)media;
}

/*
 * Opens the decoder of source->stream, in one thread. A damaged picture is concealed
 * with whatever the decoder has at hand: with frame threads (several pictures at once)
 * that depends on how far its other threads have got, so which pictures come out
 * damaged, and how, changes from run to run (FFmpeg's own program's output does too);
 * with slice threads the concealed pictures are the same every time but not those that
 * FFmpeg's program makes. One thread decodes a damaged file exactly as `ffmpeg -threads
 * 1` does, every time, and costs nothing on pictures that play in real time; the price
 * is --fast replay of large pictures, which frame threads would spread over the cores.
 */
static int start_decoder(struct capture_source *source, const AVCodec *codec)
{
	source->decoder = avcodec_alloc_context3(codec);
	if (!source->decoder)
		return AVERROR(ENOMEM);
	int result = avcodec_parameters_to_context(source->decoder, source->stream->codecpar);
	if (result < 0)
		return result;
	source->decoder->thread_count = 1;
	return avcodec_open2(source->decoder, codec, NULL);
}

/* Says once that the video is damaged, when the first damaged picture comes. */
static void say_damaged(struct capture_source *source)
{
	if (source->said_damaged)
		return;
	source->said_damaged = true;
	char cause[256];
	fprintf(stderr,
	        "vshm-capture: '%s': the video is damaged from picture %llu on (FFmpeg: %s); "
	        "pictures with decode errors are %s\n",
	        source->location, (unsigned long long)source->next_frame_number,
	        capture_ffmpeg_log_last(cause, sizeof(cause))[0] ? cause : "decoding errors",
	        source->settings.skip_damaged
	            ? "dropped (--skip-damaged)"
	            : "published as FFmpeg decodes them, flagged damaged (--skip-damaged "
	              "drops them)");
}

/*
 * A picture the decoder gave, or failed to give (error < 0). Returns 1 to hand the
 * picture out, 0 to go on decoding.
 */
static int take_picture(struct capture_source *source, int error)
{
	AVFrame *picture = source->pending;
	if (error < 0) {
		/* A picture that failed to decode: nothing to hand out (FFmpeg skips it too). */
		source->frames_skipped++;
		return 0;
	}
	bool damaged = (picture->flags & AV_FRAME_FLAG_CORRUPT) || picture->decode_error_flags;
	source->pending_damaged = damaged;
	if (damaged)
		say_damaged(source);
	if (damaged && source->settings.skip_damaged) {
		/* Counted, and its number is not given to another: readers see the gap. */
		source->frames_skipped++;
		source->next_frame_number++;
		source->skipped_damaged = true;
		av_frame_unref(picture);
		return 0;
	}
	source->frames_damaged += damaged;
	return 1;
}

/*
 * Decodes the next picture into source->pending: every picture the decoder outputs,
 * as FFmpeg does, those with decode errors too (flagged damaged), unless asked to skip
 * them. Only the video stream is read: the demuxer discards the others
 * (AVDISCARD_ALL), so a damaged audio track cannot end the video. Returns 1, 0 at the
 * end of the input, or a negative AVERROR for a failure that ends the stream.
 */
static int decode_picture(struct capture_source *source)
{
	int consecutive_errors = 0;
	for (;;) {
		int result = avcodec_receive_frame(source->decoder, source->pending);
		if (result == AVERROR_EOF)
			return 0;
		if (result == 0 || result != AVERROR(EAGAIN)) {
			if (result < 0 && ++consecutive_errors > CONSECUTIVE_ERRORS_MAX) {
				fprintf(stderr,
				        "vshm-capture: '%s': %d pictures in a row failed to decode "
				        "(%s); giving up\n",
				        source->location, CONSECUTIVE_ERRORS_MAX,
				        error_text(result));
				return result;
			}
			int taken = take_picture(source, result);
			if (taken != 0)
				return taken;
			continue;
		}
		if (source->input_done)
			return 0;
		arm_io_deadline(source);
		result = av_read_frame(source->format_context, source->packet);
		bool timed_out = io_timed_out(source);
		if (result < 0) {
			if (program_shutdown_requested())
				return 0;
			if (timed_out)
				fprintf(stderr, "vshm-capture: '%s': no data for %u s; ending\n",
				        source->location, (unsigned)(IO_TIMEOUT_NS / 1000000000u));
			if (result != AVERROR_EOF) {
				char cause[256];
				capture_ffmpeg_log_last(cause, sizeof(cause));
				fprintf(stderr,
				        "vshm-capture: '%s': read error (%s%s%s); playing what was "
				        "read\n",
				        source->location, cause, cause[0] ? ": " : "",
				        error_text(result));
			}
			source->input_done = true;
			avcodec_send_packet(source->decoder, NULL); /* drain what is buffered */
			continue;
		}
		if (source->packet->stream_index != source->stream->index) {
			av_packet_unref(source->packet);
			continue;
		}
		result = avcodec_send_packet(source->decoder, source->packet);
		av_packet_unref(source->packet);
		if (result < 0 && result != AVERROR(EAGAIN)) {
			source->frames_skipped++;
			if (++consecutive_errors > CONSECUTIVE_ERRORS_MAX) {
				fprintf(stderr,
				        "vshm-capture: '%s': %d packets in a row failed to decode "
				        "(%s); giving up\n",
				        source->location, CONSECUTIVE_ERRORS_MAX,
				        error_text(result));
				return result;
			}
		} else {
			consecutive_errors = 0;
		}
	}
}

/* Starts the file over for --loop; returns 0 or a negative AVERROR. */
static int rewind_input(struct capture_source *source)
{
	int result = avformat_seek_file(
	    source->format_context, source->stream->index, INT64_MIN,
	    source->stream->start_time != AV_NOPTS_VALUE ? source->stream->start_time : 0,
	    INT64_MAX, AVSEEK_FLAG_BACKWARD);
	if (result < 0)
		result = av_seek_frame(source->format_context, source->stream->index, 0,
		                       AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_BYTE);
	if (result < 0)
		return result;
	avcodec_flush_buffers(source->decoder);
	source->input_done = false;
	source->have_first_pts = false;
	source->offset_ns = (int64_t)(source->last_media_ns + source->frame_interval_ns);
	source->pictures_this_pass = 0;
	source->loops++;
	return 0;
}

/* Decodes ahead, starting over at the end when looping. Returns 1, 0 at the end, <0. */
static int decode_ahead(struct capture_source *source)
{
	int result = decode_picture(source);
	if (result == 0 && source->settings.loop && source->pictures_this_pass > 0 &&
	    !program_shutdown_requested()) {
		result = rewind_input(source);
		if (result < 0) {
			fprintf(stderr, "vshm-capture: '%s': cannot start over for --loop: %s\n",
			        source->location, error_text(result));
			return result;
		}
		result = decode_picture(source);
	}
	if (result > 0) {
		source->pending_media_ns =
		    media_time_of(source, source->pending, &source->pending_discontinuity);
		source->pending_discontinuity |= source->skipped_damaged;
		source->skipped_damaged = false;
		source->pictures_this_pass++;
	}
	source->has_pending = result > 0;
	return result;
}

static void describe_output(const struct capture_source *source, uint32_t *format, uint32_t *width,
                            uint32_t *height)
{
	capture_picture_output(&source->converter, source->pending, source->settings.format,
	                       source->settings.width, source->settings.height, format, width,
	                       height);
}

/* How pictures are shown: turned as the display matrix says (unless --no-autorotate),
 * and the container's pixel aspect. */
static void turn_upright(struct capture_source *source)
{
	source->converter.stream_aspect = source->stream->sample_aspect_ratio;
	source->converter.square_pixels = source->settings.square_pixels;
	const int32_t *matrix = (const int32_t *)av_stream_get_side_data(
	    source->stream, AV_PKT_DATA_DISPLAYMATRIX, NULL);
	if (!matrix || source->settings.no_autorotate)
		return;
	double degrees;
	if (capture_rotation_from_display_matrix(matrix, &source->converter.rotation, &degrees) ==
	    -ENOTSUP)
		fprintf(stderr,
		        "vshm-capture: '%s': its display matrix turns the picture by %.0f degrees "
		        "anticlockwise; only multiples of 90 are turned, so it is published as "
		        "stored\n",
		        source->location, degrees);
}

static int open_decoder(struct capture_source *source)
{
	const AVCodec *codec = NULL;
	int index =
	    av_find_best_stream(source->format_context, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (index == AVERROR_STREAM_NOT_FOUND) {
		fprintf(stderr, "vshm-capture: '%s' has no video stream\n", source->location);
		return index;
	}
	if (index == AVERROR_DECODER_NOT_FOUND || !codec) {
		int stream = av_find_best_stream(source->format_context, AVMEDIA_TYPE_VIDEO, -1, -1,
		                                 NULL, 0);
		const AVCodecParameters *parameters =
		    stream >= 0 ? source->format_context->streams[stream]->codecpar : NULL;
		char tag[AV_FOURCC_MAX_STRING_SIZE] = "?";
		if (parameters)
			av_fourcc_make_string(tag, parameters->codec_tag);
		if (parameters && parameters->codec_id != AV_CODEC_ID_NONE)
			fprintf(stderr,
			        "vshm-capture: '%s': video codec '%s' is not supported by this "
			        "FFmpeg\n",
			        source->location, avcodec_get_name(parameters->codec_id));
		else
			fprintf(
			    stderr,
			    "vshm-capture: '%s': its video codec (tag '%s') is not supported by "
			    "this FFmpeg\n",
			    source->location, tag);
		return AVERROR_DECODER_NOT_FOUND;
	}
	source->stream = source->format_context->streams[index];
	turn_upright(source);
	/* The demuxer skips every other stream: their packets are never read, so that
	 * nothing in them (a damaged audio track) can end the video. */
	for (unsigned i = 0; i < source->format_context->nb_streams; i++)
		if ((int)i != index)
			source->format_context->streams[i]->discard = AVDISCARD_ALL;
	int result = start_decoder(source, codec);
	if (result < 0) {
		fprintf(stderr, "vshm-capture: '%s': cannot open the %s decoder: %s\n",
		        source->location, codec->name, error_text(result));
		return result;
	}
	AVRational rate = source->stream->avg_frame_rate;
	if (rate.num <= 0 || rate.den <= 0)
		rate = source->stream->r_frame_rate;
	source->frame_interval_ns = rate.num > 0 && rate.den > 0
	                                ? (uint64_t)av_rescale(1000000000, rate.den, rate.num)
	                                : DEFAULT_INTERVAL_NS;
	return 0;
}

/* The line that announces the stream: what the file holds, how it is turned, and what
 * the ring format loses of it. */
static void summarise(const struct capture_source *source, struct capture_description *description)
{
	enum AVPixelFormat format = (enum AVPixelFormat)source->pending->format;
	const char *format_name = av_get_pix_fmt_name(format);
	char turned[96] = "", losses[160];
	if (!capture_rotation_is_none(&source->converter.rotation))
		snprintf(turned, sizeof(turned),
		         "; %s as its display matrix says (--no-autorotate "
		         "keeps it as stored)",
		         capture_rotation_describe(&source->converter.rotation));
	capture_picture_describe_losses(format, description->format, losses, sizeof(losses));
	snprintf(description->summary, sizeof(description->summary), "'%s' (%s in %s, %s%s%s%s)",
	         source->location, source->decoder->codec->name,
	         source->format_context->iformat->name, format_name ? format_name : "?", turned,
	         losses[0] ? "; " : "", losses);
}

static void file_close(struct capture_source *source)
{
	if (!source)
		return;
	capture_picture_finish(&source->converter);
	av_frame_free(&source->pending);
	av_packet_free(&source->packet);
	avcodec_free_context(&source->decoder);
	avformat_close_input(&source->format_context);
	free(source);
}

static struct capture_source *file_open(const char *location,
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
	source->packet = av_packet_alloc();
	source->pending = av_frame_alloc();
	source->format_context = avformat_alloc_context();
	if (!source->packet || !source->pending || !source->format_context) {
		fprintf(stderr, "vshm-capture: out of memory\n");
		goto error;
	}
	source->format_context->interrupt_callback.callback = interrupted;
	source->format_context->interrupt_callback.opaque = source;

	AVDictionary *open_options = NULL;
	av_dict_set(&open_options, "rw_timeout", NETWORK_TIMEOUT_US, 0);
	arm_io_deadline(source);
	capture_ffmpeg_log_forget();
	int result = avformat_open_input(&source->format_context, location, NULL, &open_options);
	av_dict_free(&open_options);
	bool timed_out = io_timed_out(source);
	char cause[256];
	capture_ffmpeg_log_last(cause, sizeof(cause));
	if (result < 0) {
		/* avformat_open_input() frees the context on failure. */
		source->format_context = NULL;
		if (program_shutdown_requested())
			; /* stopped by the user: nothing to report */
		else if (timed_out)
			fprintf(stderr, "vshm-capture: '%s': no answer within %u s\n", location,
			        (unsigned)(IO_TIMEOUT_NS / 1000000000u));
		else if (result == AVERROR(ENOENT))
			fprintf(stderr, "vshm-capture: '%s': no such file\n", location);
		else if (result == AVERROR_INVALIDDATA)
			/* FFmpeg's own words say more than its error code: "moov atom not
			 * found" where the code says "Invalid data found". */
			fprintf(stderr,
			        "vshm-capture: '%s' is not a video file FFmpeg can read (%s)\n",
			        location, cause[0] ? cause : error_text(result));
		else
			fprintf(stderr, "vshm-capture: cannot open '%s': %s\n", location,
			        cause[0] ? cause : error_text(result));
		goto error;
	}
	arm_io_deadline(source);
	capture_ffmpeg_log_forget();
	result = avformat_find_stream_info(source->format_context, NULL);
	timed_out = io_timed_out(source);
	if (result < 0 || program_shutdown_requested()) {
		if (!program_shutdown_requested())
			fprintf(stderr, "vshm-capture: '%s': cannot read its streams: %s\n",
			        location,
			        timed_out ? "no answer in time"
			        : capture_ffmpeg_log_last(cause, sizeof(cause))[0]
			            ? cause
			            : error_text(result));
		goto error;
	}
	if (open_decoder(source) < 0)
		goto error;

	/* Decode the first picture now: it sizes the ring, and a file with none fails
	 * here, before any stream is created. */
	capture_ffmpeg_log_forget();
	result = decode_ahead(source);
	if (result <= 0) {
		capture_ffmpeg_log_last(cause, sizeof(cause));
		if (!program_shutdown_requested())
			fprintf(stderr,
			        "vshm-capture: '%s': no video frame could be decoded (%s)\n",
			        location,
			        cause[0]     ? cause
			        : result < 0 ? error_text(result)
			                     : "corrupt or empty video stream");
		goto error;
	}
	describe_output(source, &description->format, &description->width, &description->height);
	if (!vshm_format_is_valid(description->format) || description->width == 0 ||
	    description->height == 0 || description->width > VSHM_FORMAT_DIMENSION_MAX ||
	    description->height > VSHM_FORMAT_DIMENSION_MAX) {
		fprintf(stderr,
		        "vshm-capture: '%s': its %ux%u pictures are beyond what vshm carries\n",
		        location, description->width, description->height);
		goto error;
	}
	description->frame_interval_ns = source->frame_interval_ns;
	summarise(source, description);
	return source;

error:
	file_close(source);
	return NULL;
}

static int file_next(struct capture_source *source, struct vshm_writer *writer,
                     struct vshm_frame *frame, uint64_t *media_ns)
{
	if (!source->has_pending)
		return CAPTURE_END;
	AVFrame *picture = source->pending;
	uint32_t format, width, height;
	describe_output(source, &format, &width, &height);
	int result = capture_picture_begin(&source->converter, picture, source->location, format,
	                                   width, height, writer, frame);
	if (result < 0)
		return result;
	/* --fps plays the pictures at that rate, whatever their own timestamps say. */
	*media_ns = source->settings.fps > 0
	                ? (uint64_t)((double)source->next_frame_number * 1e9 / source->settings.fps)
	                : source->pending_media_ns;
	frame->frame_number = source->next_frame_number++;
	if (source->pending_discontinuity)
		frame->flags |= VSHM_FRAME_DISCONTINUITY;
	if (source->pending_damaged)
		frame->flags |= VSHM_FRAME_DAMAGED;
	av_frame_unref(picture);

	/* Decode the next picture now, so this one knows whether it is the last. */
	result = decode_ahead(source);
	if (result < 0) {
		vshm_writer_cancel(writer);
		return -EIO;
	}
	if (result == 0)
		frame->flags |= VSHM_FRAME_END_OF_STREAM;
	return CAPTURE_FRAME;
}

static void file_get_stats(const struct capture_source *source, struct capture_source_stats *stats)
{
	stats->frames_skipped = source->frames_skipped;
	stats->frames_damaged = source->frames_damaged;
	stats->loops = source->loops;
}

const struct capture_source_ops capture_source_file = {
	.name = "file",
	.open = file_open,
	.next = file_next,
	.get_stats = file_get_stats,
	.close = file_close,
};

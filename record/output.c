/* Files and network outputs through libavformat (see output.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/opt.h>
#include <vshm/vshm.h>

#include "ffmpeg-error.h"
#include "options.h"
#include "output.h"
#include "shutdown.h"

/* A network write or a trailer may block this long at the end before it is given up. */
#define FINISH_TIMEOUT_NS 3000000000u
/* A connected receiver that takes nothing for this long has gone away. */
#define NETWORK_TIMEOUT_US "5000000"
/* MPEG-TS over UDP: seven 188-byte packets a datagram, the size receivers expect. */
#define UDP_PACKET_SIZE "1316"
/*
 * MP4 and MOV are written fragmented: a small header first, then self-contained
 * fragments, one from each keyframe. A recording cut short by a full disk, a crash or
 * SIGKILL stays playable up to its last fragment; a plain MP4 needs its index, written
 * at the very end, to be playable at all.
 */
#define MOV_FLAGS "frag_keyframe+empty_moov+default_base_moof"

/* The URL's scheme ("srt" for "srt://..."), or "" for a file. */
static void scheme_of(const char *location, char *scheme, size_t size)
{
	const char *separator = strstr(location, "://");
	size_t length = separator ? (size_t)(separator - location) : 0;
	if (length >= size)
		length = size - 1;
	memcpy(scheme, location, length);
	scheme[length] = '\0';
	if (strcmp(scheme, "file") == 0)
		scheme[0] = '\0';
}

bool output_is_network(const char *location)
{
	char scheme[32];
	scheme_of(location, scheme, sizeof(scheme));
	return scheme[0] != '\0';
}

/* FFmpeg's blocking network calls poll this: Ctrl-C stops them, and at the end a
 * deadline does, so a receiver that stopped reading cannot hold vshm-record up. */
static int interrupted(void *opaque)
{
	const struct output *output = opaque;
	if (output->deadline_ns)
		return vshm_now_ns() > output->deadline_ns;
	return program_shutdown_requested();
}

static void fill_path(struct output *output)
{
	if (output->settings.split)
		av_get_frame_filename2(output->path, sizeof(output->path),
		                       output->settings.location, (int)output->file_index, 0);
	else
		snprintf(output->path, sizeof(output->path), "%s", output->settings.location);
}

static const AVOutputFormat *resolve_format(const struct output *output, const char *scheme)
{
	const char *location = output->settings.location;
	if (output->settings.format) {
		const AVOutputFormat *format = av_guess_format(output->settings.format, NULL, NULL);
		if (!format)
			program_say(
			    "--format '%s' is not a container this FFmpeg writes (e.g. mp4, "
			    "matroska, mov, avi, mpegts; 'ffmpeg -muxers' lists them)",
			    output->settings.format);
		return format;
	}
	if (strcmp(scheme, "rtsp") == 0 || strcmp(scheme, "rtp") == 0)
		return av_guess_format(scheme, NULL, NULL);
	if (scheme[0])
		return av_guess_format("mpegts", NULL, NULL); /* srt, udp, tcp ...: a stream */
	const AVOutputFormat *format = av_guess_format(NULL, location, NULL);
	if (!format)
		program_say("cannot tell the container from '%s': end its name in .mp4, .mkv, "
		            ".mov, .avi or .ts, or give --format",
		            location);
	return format;
}

int output_prepare(struct output *output, const struct output_settings *settings,
                   const AVCodec *codec, bool low_latency)
{
	*output = (struct output){ .settings = *settings, .low_latency = low_latency };
	char scheme[32];
	scheme_of(settings->location, scheme, sizeof(scheme));
	output->network = scheme[0] != '\0';
	/* Listeners wait for their receiver, and wait again when it goes away. */
	output->listener = output->network && (strstr(settings->location, "mode=listener") ||
	                                       strstr(settings->location, "listen=1") ||
	                                       strstr(settings->location, "listen=2"));
	if (settings->split) {
		char probe[PATH_MAX];
		if (output->network) {
			program_say("--split writes files; '%s' is a URL", settings->location);
			return -1;
		}
		if (av_get_frame_filename2(probe, sizeof(probe), settings->location, 0, 0) < 0) {
			program_say(
			    "--split: OUTPUT must hold one %%d where the file's number goes "
			    "(e.g. part-%%d.mkv); '%s' does not",
			    settings->location);
			return -1;
		}
	}
	output->format = resolve_format(output, scheme);
	if (!output->format)
		return -1;
	int fits = avformat_query_codec(output->format, codec->id, FF_COMPLIANCE_NORMAL);
	if (fits == 0) {
		program_say("%s cannot hold %s video: choose another --codec, or another container "
		            "(.mkv holds them all)",
		            output->format->name, avcodec_get_name(codec->id));
		return -1;
	}
	fill_path(output);
	return 0;
}

int output_connect(struct output *output)
{
	if (output->format->flags & AVFMT_NOFILE)
		return 0; /* the muxer connects by itself (rtsp), in output_begin() */
	struct stat status;
	if (!output->network && !output->settings.overwrite && stat(output->path, &status) == 0 &&
	    S_ISREG(status.st_mode)) {
		program_say("'%s' exists: remove it, choose another name, or pass --overwrite",
		            output->path);
		return AVERROR(EEXIST);
	}
	AVDictionary *options = NULL;
	char scheme[32];
	scheme_of(output->path, scheme, sizeof(scheme));
	if (strcmp(scheme, "udp") == 0)
		av_dict_set(&options, "pkt_size", UDP_PACKET_SIZE, 0);
	if (output->network && !output->listener)
		av_dict_set(&options, "rw_timeout", NETWORK_TIMEOUT_US, 0);
	const AVIOInterruptCB interrupt = { interrupted, output };
	if (output->listener && !output->settings.quiet)
		program_say("waiting for a receiver to connect to %s", output->path);
	capture_ffmpeg_log_forget();
	int result = avio_open2(&output->io, output->path, AVIO_FLAG_WRITE, &interrupt, &options);
	av_dict_free(&options);
	if (result < 0) {
		if (program_shutdown_requested())
			return AVERROR_EXIT;
		char why[512];
		ffmpeg_error_explain(result, why, sizeof(why));
		if (output->network)
			program_say("cannot reach %s: %s; is the receiver running, and listening "
			            "there?",
			            output->path, why);
		else
			program_say("cannot write '%s': %s", output->path, why);
		return result;
	}
	output->opened_file = !output->network;
	if (output->listener && !output->settings.quiet)
		program_say("a receiver connected to %s", output->path);
	return 0;
}

static bool has_muxer_option(const AVOutputFormat *format, const char *name)
{
	return format->priv_class &&
	       av_opt_find((void *)&format->priv_class, name, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ);
}

/* For rtp: the session description a receiver opens (ffplay, vshm-capture x.sdp). */
static int write_session_description(struct output *output)
{
	char description[4096];
	int result = av_sdp_create(&output->context, 1, description, sizeof(description));
	if (result < 0) {
		program_say("cannot describe the RTP session of %s", output->path);
		return result;
	}
	if (!output->settings.sdp_path) {
		printf("%s\n", description);
		fflush(stdout);
		return 0;
	}
	FILE *file = fopen(output->settings.sdp_path, "w");
	if (!file || fprintf(file, "%s\n", description) < 0 || fclose(file) != 0) {
		program_say("cannot write the session description to '%s': %s",
		            output->settings.sdp_path, strerror(errno));
		return AVERROR(errno ? errno : EIO);
	}
	return 0;
}

int output_begin(struct output *output, const struct encoder *encoder)
{
	char why[512];
	int result =
	    avformat_alloc_output_context2(&output->context, output->format, NULL, output->path);
	if (result < 0) {
		program_say("cannot set up %s for %s: %s", output->format->name, output->path,
		            ffmpeg_error_explain(result, why, sizeof(why)));
		return result;
	}
	AVFormatContext *context = output->context;
	context->pb = output->io;
	context->interrupt_callback = (AVIOInterruptCB){ interrupted, output };
	if (output->network || output->low_latency) {
		/* Every packet leaves at once: nothing waits in the muxer or in AVIO's buffer. */
		context->flags |= AVFMT_FLAG_FLUSH_PACKETS;
		context->max_delay = 0;
	}
	output->stream = avformat_new_stream(context, NULL);
	if (!output->stream)
		return AVERROR(ENOMEM);
	result = avcodec_parameters_from_context(output->stream->codecpar, encoder->context);
	if (result < 0)
		return result;
	output->stream->time_base = encoder->context->time_base;
	AVDictionary *options = NULL;
	if (has_muxer_option(context->oformat, "movflags"))
		av_dict_set(&options, "movflags", MOV_FLAGS, 0);
	/* MPEG-TS gives video packets no length by default, so that a demuxer knows a
	 * frame is whole only when the next one begins: one frame interval of latency at
	 * every receiver. With the length said, the frame leaves the demuxer as it ends. */
	if (output->low_latency && has_muxer_option(context->oformat, "omit_video_pes_length"))
		av_dict_set(&options, "omit_video_pes_length", "0", 0);
	capture_ffmpeg_log_forget();
	result = avformat_write_header(context, &options);
	av_dict_free(&options);
	if (result < 0) {
		if (program_shutdown_requested())
			return AVERROR_EXIT;
		program_say("cannot start %s in %s: %s", output->path, output->format->name,
		            ffmpeg_error_explain(result, why, sizeof(why)));
		return result;
	}
	output->header_written = true;
	if (strcmp(output->format->name, "rtp") == 0)
		return write_session_description(output);
	return 0;
}

int output_write(struct output *output, AVPacket *packet, AVRational time_base)
{
	if (!output->context)
		return AVERROR(EPIPE); /* a listener stopped waiting for a new receiver */
	av_packet_rescale_ts(packet, time_base, output->stream->time_base);
	packet->stream_index = output->stream->index;
	int size = packet->size;
	int result = av_interleaved_write_frame(output->context, packet);
	if (result < 0)
		return result;
	output->packets++;
	output->packet_bytes += (uint64_t)size;
	return 0;
}

bool output_is_full(int error)
{
	return error == AVERROR(ENOSPC) || error == AVERROR(EFBIG) || error == AVERROR(EDQUOT);
}

uint64_t output_bytes(const struct output *output)
{
	if (output->format && (output->format->flags & AVFMT_NOFILE))
		return output->packet_bytes;
	return output->finished_bytes + (output->io ? (uint64_t)output->io->bytes_written : 0);
}

void output_finish_soon(struct output *output)
{
	output->deadline_ns = vshm_now_ns() + FINISH_TIMEOUT_NS;
}

int output_end(struct output *output, bool trailer)
{
	int first_error = 0;
	char why[512];
	if (!output->deadline_ns)
		output_finish_soon(output);
	if (output->context && output->header_written && trailer) {
		capture_ffmpeg_log_forget();
		int result = av_write_trailer(output->context);
		if (result < 0) {
			first_error = result;
			if (!output->failed)
				program_say("cannot finish %s: %s", output->path,
				            ffmpeg_error_explain(result, why, sizeof(why)));
		}
	}
	if (output->context)
		output->context->pb = NULL; /* ours, closed below */
	avformat_free_context(output->context);
	if (output->io) {
		output->finished_bytes += (uint64_t)output->io->bytes_written;
		int result = avio_closep(&output->io);
		if (result < 0 && !first_error && trailer && !output->failed) {
			first_error = result;
			program_say("cannot finish %s: %s", output->path,
			            ffmpeg_error_explain(result, why, sizeof(why)));
		}
	}
	/* A file without a single frame is no recording: nothing is left behind. */
	struct stat status;
	if (output->opened_file && output->packets == 0 && stat(output->path, &status) == 0 &&
	    S_ISREG(status.st_mode) && unlink(output->path) == 0 && !output->settings.quiet)
		program_say("no frame was recorded into '%s'; removed it", output->path);
	output->context = NULL;
	output->stream = NULL;
	output->header_written = false;
	output->packets = 0;
	output->opened_file = false;
	output->failed = false;
	output->deadline_ns = 0;
	return first_error;
}

void output_next_file(struct output *output)
{
	output->file_index++;
	fill_path(output);
}

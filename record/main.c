/*
 * vshm-record: encodes the frames of a vshm stream into a video file, or sends them to
 * another machine over the network, with FFmpeg's encoders, muxers and protocols.
 * This file parses options and wires the parts: recorder.c runs the recording and
 * encode.c records each frame, picture.c takes frames out of the slots, encoder.c and
 * output.c drive FFmpeg.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "ffmpeg-error.h"
#include "options.h"
#include "recorder.h"
#include "shutdown.h"

#define GOP_MAX     100000
#define CRF_MAX     63
#define BITRATE_MIN 1000.0
#define BITRATE_MAX 10e9

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: vshm-record [options] NAME OUTPUT\n"
	    "\n"
	    "Encodes the frames of the vshm stream NAME into OUTPUT, a video file or a network\n"
	    "stream that another machine receives (with vshm-capture URL, ffplay, OBS ...).\n"
	    "\n"
	    "OUTPUT is one of:\n"
	    "  FILE                 .mp4 .mkv .mov .avi .ts ...: the extension says the\n"
	    "                       container (or --format); mp4 and mov are written\n"
	    "                       fragmented, so a recording cut short stays playable\n"
	    "  srt://HOST:PORT?mode=listener\n"
	    "                       SRT, waiting for the receiver to connect (it runs\n"
	    "                       vshm-capture 'srt://HOST:PORT?mode=caller'); when it goes\n"
	    "                       away, vshm-record waits for the next one\n"
	    "  srt://HOST:PORT      SRT to a receiver that listens (?mode=listener there)\n"
	    "  udp://HOST:PORT      MPEG-TS over UDP (the receiver: vshm-capture udp://@:PORT)\n"
	    "  tcp://HOST:PORT      MPEG-TS over TCP (?listen=1 waits for the receiver)\n"
	    "  rtp://HOST:PORT      RTP; the session description (SDP) a receiver opens goes to\n"
	    "                       standard output, or to --sdp FILE\n"
	    "  rtsp://HOST:PORT/PATH  publishes to an RTSP server\n"
	    "  Network streams are MPEG-TS (but rtp and rtsp); SRT and FFmpeg's other protocol\n"
	    "  options go in the URL, e.g. srt://...?latency=200000 (microseconds).\n"
	    "\n"
	    "Encoding:\n"
	    "  -c, --codec CODEC   h264 (libx264, the default); ffv1 or rawvideo, lossless;\n"
	    "                      mjpeg; or any video encoder of 'ffmpeg -encoders'\n"
	    "  -b, --bitrate RATE  bits per second, e.g. 4M or 800k (default: constant quality)\n"
	    "      --crf N         h264's constant rate factor, 0 (lossless) .. 51 (default 23)\n"
	    "  -g, --gop N         frames from one keyframe to the next (default: 2 s of frames\n"
	    "                      in files, 1 s on the network; 1 for ffv1)\n"
	    "      --preset NAME   h264's speed: ultrafast superfast veryfast faster fast medium\n"
	    "                      slow slower veryslow (default veryfast)\n"
	    "      --low-latency   no B-frames nor lookahead (x264 tune zerolatency), and every\n"
	    "                      packet sent at once: the default for network outputs\n"
	    "      --no-low-latency  the file settings on the network too\n"
	    "      --format NAME   the container: mp4, matroska, mov, avi, mpegts ...\n"
	    "\n"
	    "Frames:\n"
	    "      --lossless      take every frame: the stream's writer waits for vshm-record\n"
	    "                      (for at most its lossless timeout, 1 s by default), so that a\n"
	    "                      file replayed with vshm-capture --fast is recorded whole\n"
	    "      --split         start a new file when the frames change size or format\n"
	    "                      (OUTPUT holds a %%d for the file's number: part-%%d.mkv);\n"
	    "                      without it they are scaled to the first frame's size\n"
	    "      --frames N      stop after N frames\n"
	    "      --duration SEC  stop after SEC seconds of the stream, by its timestamps\n"
	    "      --stop-when-gone  end when the stream's writer goes away (default: wait for\n"
	    "                      the next writer of NAME and record on)\n"
	    "      --timeout SEC   give up if NAME does not appear in time (default: wait)\n"
	    "\n"
	    "Other options:\n"
	    "  -y, --overwrite     replace OUTPUT if it exists (default: refuse)\n"
	    "      --sdp FILE      rtp: write the session description to FILE\n"
	    "      --allow-foreign accept a stream owned by another user\n" PROGRAM_COMMON_HELP "\n"
	    "Timestamps are the frames' capture times: a stream whose rate varies is recorded\n"
	    "with its real timing. Prints a status line every second (fps, frames, frames\n"
	    "dropped because they came faster than they were encoded, bit rate, size).\n"
	    "The end of the stream, --frames, --duration, Ctrl-C and SIGTERM finish the file\n"
	    "properly (trailer written) and stop. A full disk stops the recording and keeps\n"
	    "what was written. A file that got no frame is removed.\n"
	    "Exit status: 0 done, 1 the stream, the encoder or the output failed, 2 bad usage.\n");
}

/* A bit rate: a number with an optional k, M or G after it. */
static int parse_bitrate(const char *text, int64_t *bitrate)
{
	char *end;
	double value = strtod(text, &end);
	double scale = 1;
	if (end != text && (*end == 'k' || *end == 'K'))
		scale = 1e3, end++;
	else if (end != text && *end == 'M')
		scale = 1e6, end++;
	else if (end != text && *end == 'G')
		scale = 1e9, end++;
	value *= scale;
	if (end == text || *end != '\0' || !isfinite(value) || value < BITRATE_MIN ||
	    value > BITRATE_MAX) {
		program_say("--bitrate '%s' is not a bit rate from 1k to 10G (e.g. 4M or 800k)",
		            text);
		return -1;
	}
	*bitrate = (int64_t)value;
	return 0;
}

enum {
	OPTION_CRF = 256,
	OPTION_PRESET,
	OPTION_LOW_LATENCY,
	OPTION_NO_LOW_LATENCY,
	OPTION_FORMAT,
	OPTION_LOSSLESS,
	OPTION_SPLIT,
	OPTION_FRAMES,
	OPTION_DURATION,
	OPTION_STOP_WHEN_GONE,
	OPTION_TIMEOUT,
	OPTION_SDP,
	OPTION_ALLOW_FOREIGN,
};

static int parse_options(int argc, char **argv, struct recorder_options *options)
{
	static const struct option long_options[] = {
		{ "codec", required_argument, NULL, 'c' },
		{ "bitrate", required_argument, NULL, 'b' },
		{ "crf", required_argument, NULL, OPTION_CRF },
		{ "gop", required_argument, NULL, 'g' },
		{ "preset", required_argument, NULL, OPTION_PRESET },
		{ "low-latency", no_argument, NULL, OPTION_LOW_LATENCY },
		{ "no-low-latency", no_argument, NULL, OPTION_NO_LOW_LATENCY },
		{ "format", required_argument, NULL, OPTION_FORMAT },
		{ "lossless", no_argument, NULL, OPTION_LOSSLESS },
		{ "split", no_argument, NULL, OPTION_SPLIT },
		{ "frames", required_argument, NULL, OPTION_FRAMES },
		{ "duration", required_argument, NULL, OPTION_DURATION },
		{ "stop-when-gone", no_argument, NULL, OPTION_STOP_WHEN_GONE },
		{ "timeout", required_argument, NULL, OPTION_TIMEOUT },
		{ "overwrite", no_argument, NULL, 'y' },
		{ "sdp", required_argument, NULL, OPTION_SDP },
		{ "allow-foreign", no_argument, NULL, OPTION_ALLOW_FOREIGN },
		PROGRAM_COMMON_LONG_OPTIONS,
		{ 0 },
	};
	options->encoder.codec = "h264";
	options->encoder.crf = -1;
	options->timeout_ms = -1;
	int low_latency = -1; /* -1: as the output's kind says */
	uint64_t value;
	double seconds;
	int option;
	while ((option = getopt_long(argc, argv, "c:b:g:y" PROGRAM_COMMON_SHORT_OPTIONS,
	                             long_options, NULL)) != -1) {
		switch (option) {
		case 'c':
			options->encoder.codec = optarg;
			break;
		case 'b':
			if (parse_bitrate(optarg, &options->encoder.bitrate) < 0)
				return -1;
			break;
		case OPTION_CRF:
			if (program_parse_count("--crf", optarg, 0, CRF_MAX, &value) < 0)
				return -1;
			options->encoder.crf = (int)value;
			break;
		case 'g':
			if (program_parse_count("--gop", optarg, 1, GOP_MAX, &value) < 0)
				return -1;
			options->encoder.gop = (int)value;
			break;
		case OPTION_PRESET:
			options->encoder.preset = optarg;
			break;
		case OPTION_LOW_LATENCY:
			low_latency = 1;
			break;
		case OPTION_NO_LOW_LATENCY:
			low_latency = 0;
			break;
		case OPTION_FORMAT:
			options->output.format = optarg;
			break;
		case OPTION_LOSSLESS:
			options->lossless = true;
			break;
		case OPTION_SPLIT:
			options->output.split = true;
			break;
		case OPTION_FRAMES:
			if (program_parse_count("--frames", optarg, 1, UINT64_MAX,
			                        &options->frame_limit) < 0)
				return -1;
			break;
		case OPTION_DURATION:
			if (program_parse_seconds("--duration", optarg, 0.001, &seconds) < 0)
				return -1;
			options->duration_ns = (uint64_t)(seconds * 1e9);
			break;
		case OPTION_STOP_WHEN_GONE:
			options->stop_when_gone = true;
			break;
		case OPTION_TIMEOUT:
			if (program_parse_timeout("--timeout", optarg, &options->timeout_ms) < 0)
				return -1;
			break;
		case 'y':
			options->output.overwrite = true;
			break;
		case OPTION_SDP:
			options->output.sdp_path = optarg;
			break;
		case OPTION_ALLOW_FOREIGN:
			options->allow_foreign = true;
			break;
		default: {
			int common = program_common_option(option, &options->quiet, usage);
			if (common > 0)
				exit(0);
			if (common < 0)
				return -1;
		}
		}
	}
	if (argc - optind != 2) {
		program_say("%s; try 'vshm-record --help'",
		            argc - optind < 2 ? "say which stream to record and where: NAME OUTPUT"
		                              : "give exactly NAME and OUTPUT");
		return -1;
	}
	options->name = argv[optind];
	options->output.location = argv[optind + 1];
	options->output.quiet = options->quiet;
	if (vshm_name_check(options->name) < 0) {
		program_say("%s", vshm_error());
		return -1;
	}
	if (options->output.location[0] == '\0') {
		program_say("OUTPUT is empty: give a file name or a URL");
		return -1;
	}
	options->encoder.network = output_is_network(options->output.location);
	options->encoder.low_latency = low_latency < 0 ? options->encoder.network : low_latency;
	return 0;
}

int main(int argc, char **argv)
{
	program_set_name("vshm-record");
	struct recorder_options options = { 0 };
	if (parse_options(argc, argv, &options) < 0)
		return 2;
	/* A receiver that closes a pipe, or a file at its size limit, is an error to report
	 * and survive (the file is finished), not a signal that kills. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	capture_ffmpeg_log_start();
	avformat_network_init();
	program_shutdown_install();
	int status = recorder_run(&options);
	avformat_network_deinit();
	program_shutdown_finish();
	return status;
}

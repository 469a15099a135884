/*
 * vshm-capture: reads frames from a source (test pattern, video file or URL, camera) and
 * publishes them into a vshm stream, paced in real time or as fast as possible (a
 * camera paces itself).
 * This file parses options and wires the parts; sources live in source-*.c.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "readers.h"
#include "shutdown.h"
#include "source.h"
#include "status.h"

#define STATUS_INTERVAL_NS 1000000000u
/* Falling this far behind the clock (the process was stopped, say) re-anchors pacing. */
#define RESYNC_THRESHOLD_NS 1000000000u

struct options {
	const char *source;
	char name[VSHM_NAME_MAX + 1];
	struct capture_settings settings;
	uint32_t slot_count;
	uint64_t frame_limit; /* 0: no limit */
	uint32_t wait_readers;
	bool fast;
	bool quiet;
	bool group_access;
	const char *list_formats; /* --list-formats DEVICE */
	bool list_devices;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: vshm-capture [options] SOURCE\n"
	    "\n"
	    "Publishes frames from SOURCE into a vshm shared-memory stream, for vshm-view,\n"
	    "filters or your own readers.\n"
	    "\n"
	    "SOURCE is one of:\n"
	    "  test             a test pattern: colour bars, a moving square, the frame number;\n"
	    "                   test:gradient and test:checkers are the other patterns\n"
	    "  FILE             a video file (anything FFmpeg reads: mp4, webm, mkv, avi, ts, "
	    "...)\n"
	    "  URL              a live stream a sender pushes: srt://, udp://, rtp:// (open\n"
	    "                   its session description, FILE.sdp), rtsp://, tcp://, rtmp://;\n"
	    "                   received for low latency, each frame published as it\n"
	    "                   arrives, stamped with its arrival, and received again when\n"
	    "                   the sender comes back after going away; other URLs\n"
	    "                   (http://, ...) play like files\n"
	    "  /dev/videoN      a camera (V4L2, through libv4l2); also v4l2:PATH\n"
	    "\n"
	    "Options:\n"
	    "  -n, --name NAME     stream name (default: from the source, e.g. 'clip' for\n"
	    "                      clip.mp4, 'test' for the pattern); [A-Za-z0-9._-], 1..64\n"
	    "  -s, --size WxH      scale frames to this size (default: the source's); for a\n"
	    "                      camera, the size it offers nearest to this (default:\n"
	    "                      its largest)\n"
	    "  -r, --fps FPS       frame rate of the test pattern (default 30); for files,\n"
	    "                      play at this rate instead of by timestamps; for a camera,\n"
	    "                      the rate it offers nearest to this (default: its fastest)\n"
	    "  -f, --format FMT    pixel format in the ring (default: the source's own when\n"
	    "                      the ring carries it, else the nearest that keeps its\n"
	    "                      depth and chroma: 10-bit as p010, 4:4:4 as i444; what a\n"
	    "                      format loses is said when the stream starts): %s\n"
	    "      --slots N       slots in the ring, %d..%d (default %d; at least 7 when a\n"
	    "                      camera writes straight into them)\n"
	    "      --frames N      stop after N frames (the last carries end-of-stream)\n"
	    "      --fast          publish as fast as possible, not in real "
	    "time\n" PROGRAM_WAIT_READERS_HELP

	    "      --group         let the owner's group read the stream (mode 0660)\n"
	    "\n",
	    program_format_names(), VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX,
	    VSHM_SLOT_COUNT_DEFAULT);
	fputs("Files and URLs:\n"
	      "  -l, --loop          start files over at the end, forever\n"
	      "      --no-autorotate keep pictures as stored; by default they are turned and\n"
	      "                      mirrored as the file's display matrix says (phone video\n"
	      "                      stored sideways comes out upright), as FFmpeg does\n"
	      "      --square-pixels scale anamorphic video (pixels that are not square: DV,\n"
	      "                      HDV, broadcast) to square pixels at its height, for\n"
	      "                      readers that ignore the frames' sample aspect ratio\n"
	      "      --skip-damaged  drop the pictures of a damaged file that decode with\n"
	      "                      errors (by default they are published as FFmpeg decodes\n"
	      "                      them, flagged damaged)\n"
	      "\n"
	      "Cameras:\n"
	      "      --list-devices  list the video devices, their stable /dev/v4l names and\n"
	      "                      the formats they offer\n"
	      "      --list-formats DEVICE\n"
	      "                      list a device's formats, frame sizes and frame rates,\n"
	      "                      and mark the one taken by default\n"
	      "      --input-format FOURCC\n"
	      "                      take the camera's frames in this format, as --list-formats\n"
	      "                      names it (MJPG, YUYV, ...); by default, the format that\n"
	      "                      reaches --fps (or goes fastest) at the size, preferring\n"
	      "                      those the ring carries as they are\n"
	      "      --io MODE       auto (default): the camera writes straight into the\n"
	      "                      stream's slots (USERPTR) when its driver allows it, else\n"
	      "                      mmap; mmap: copy each frame from the driver's buffers;\n"
	      "                      userptr: ask for USERPTR (falls back to mmap, and says so)\n"
	      "      --no-reconnect  exit when the camera vanishes (or a network sender goes\n"
	      "                      away), instead of reopening it every second while\n"
	      "                      readers keep the last frame\n"
	      "  Formats the ring carries come as they are; MJPEG is decoded into the slot\n"
	      "  (yuyv or i420, or --format).\n"
	      "\n"
	      "Other options:\n" PROGRAM_COMMON_HELP "\n"
	      "Prints a status line every second (fps, frames, skipped, damaged, overwrites,\n"
	      "readers).\n"
	      "Ctrl-C, SIGTERM or the end of the source stop it; the stream is removed.\n"
	      "Exit status: 0 done, 1 the source or the stream failed, 2 bad usage.\n",
	      out);
}

/* "path/to/My Clip.final.mp4" -> "My-Clip.final": a valid stream name from a file. */
static void name_from_source(const char *source, char *name)
{
	if (strcmp(source, "test") == 0 || strncmp(source, "test:", 5) == 0) {
		strcpy(name, "test");
		return;
	}
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", source);
	/* For URLs, the last path element names the stream too. */
	char *slash = strrchr(copy, '/');
	while (slash && slash[1] == '\0') {
		*slash = '\0';
		slash = strrchr(copy, '/');
	}
	const char *base = slash ? slash + 1 : copy;
	size_t length = 0;
	for (const char *c = base; *c && length < VSHM_NAME_MAX; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		         (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
		name[length++] = ok ? *c : '-';
	}
	name[length] = '\0';
	char *dot = strrchr(name, '.');
	if (dot && dot != name)
		*dot = '\0';
	/* Leading dots and ".." are not allowed in names. */
	while (name[0] == '.')
		memmove(name, name + 1, strlen(name));
	for (char *twin = strstr(name, ".."); twin; twin = strstr(name, ".."))
		*twin = '-';
	if (name[0] == '\0')
		strcpy(name, "capture");
}

/* A V4L2 fourcc as --list-formats shows it: 1 to 4 characters, padded with spaces. */
static int parse_fourcc(const char *option, const char *text, uint32_t *fourcc)
{
	size_t length = strlen(text);
	bool printable = length >= 1 && length <= 4;
	for (size_t i = 0; printable && i < length; i++)
		printable = text[i] > ' ' && text[i] <= '~';
	if (!printable) {
		program_say("%s '%s' is not a fourcc such as MJPG or YUYV (see --list-formats)",
		            option, text);
		return -1;
	}
	char code[4] = { ' ', ' ', ' ', ' ' };
	for (size_t i = 0; i < length; i++)
		code[i] = text[i];
	*fourcc = VSHM_FOURCC(code[0], code[1], code[2], code[3]);
	return 0;
}

static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "fps", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "slots", required_argument, NULL, 'S' },
		{ "loop", no_argument, NULL, 'l' },
		{ "frames", required_argument, NULL, 'F' },
		{ "wait-readers", required_argument, NULL, 'W' },
		{ "fast", no_argument, NULL, 'x' },
		{ "group", no_argument, NULL, 'g' },
		{ "list-devices", no_argument, NULL, 'D' },
		{ "list-formats", required_argument, NULL, 'L' },
		{ "io", required_argument, NULL, 'I' },
		{ "no-reconnect", no_argument, NULL, 'R' },
		{ "skip-damaged", no_argument, NULL, 'K' },
		{ "no-autorotate", no_argument, NULL, 'O' },
		{ "square-pixels", no_argument, NULL, 'Q' },
		{ "input-format", required_argument, NULL, 'i' },
		PROGRAM_COMMON_LONG_OPTIONS,
		{ 0 },
	};
	const char *name = NULL;
	int option;
	while ((option = getopt_long(argc, argv, "n:s:r:f:l" PROGRAM_COMMON_SHORT_OPTIONS,
	                             long_options, NULL)) != -1) {
		switch (option) {
		case 'n':
			name = optarg;
			break;
		case 's':
			if (program_parse_size("--size", optarg, &options->settings.width,
			                       &options->settings.height) < 0)
				return -1;
			break;
		case 'r':
			if (program_parse_rate("--fps", optarg, &options->settings.fps) < 0)
				return -1;
			break;
		case 'f':
			if (program_parse_format("--format", optarg, &options->settings.format) < 0)
				return -1;
			break;
		case 'S':
			if (program_parse_slots("--slots", optarg, &options->slot_count) < 0)
				return -1;
			break;
		case 'l':
			options->settings.loop = true;
			break;
		case 'W':
			if (program_parse_wait_readers(optarg, &options->wait_readers) < 0)
				return -1;
			break;
		case 'F':
			if (program_parse_count("--frames", optarg, 1, UINT64_MAX,
			                        &options->frame_limit) < 0)
				return -1;
			break;
		case 'x':
			options->fast = true;
			break;
		case 'g':
			options->group_access = true;
			break;
		case 'D':
			options->list_devices = true;
			break;
		case 'L':
			options->list_formats = optarg;
			break;
		case 'I':
			if (strcmp(optarg, "auto") == 0) {
				options->settings.io = CAPTURE_IO_AUTO;
			} else if (strcmp(optarg, "mmap") == 0) {
				options->settings.io = CAPTURE_IO_MMAP;
			} else if (strcmp(optarg, "userptr") == 0) {
				options->settings.io = CAPTURE_IO_USERPTR;
			} else {
				program_say("--io '%s' is not auto, mmap or userptr", optarg);
				return -1;
			}
			break;
		case 'R':
			options->settings.no_reconnect = true;
			break;
		case 'K':
			options->settings.skip_damaged = true;
			break;
		case 'O':
			options->settings.no_autorotate = true;
			break;
		case 'Q':
			options->settings.square_pixels = true;
			break;
		case 'i':
			if (parse_fourcc("--input-format", optarg,
			                 &options->settings.input_format) < 0)
				return -1;
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
	if ((options->list_devices || options->list_formats) && optind == argc)
		return 0;
	if (options->settings.square_pixels && options->settings.width) {
		program_say("--square-pixels and --size both choose the size: give one");
		return -1;
	}
	if (optind != argc - 1) {
		program_say("%s; try 'vshm-capture --help'",
		            optind == argc
		                ? "say what to capture: test, a video file, a URL or a camera"
		                : "give exactly one SOURCE");
		return -1;
	}
	options->source = argv[optind];
	if (!options->source[0]) {
		program_say(
		    "the SOURCE is empty; say what to capture: test, a video file, a URL or "
		    "a camera");
		return -1;
	}
	if (name) {
		if (vshm_name_check(name) < 0) {
			program_say("%s", vshm_error());
			return -1;
		}
		snprintf(options->name, sizeof(options->name), "%s", name);
	} else {
		name_from_source(options->source, options->name);
	}
	return 0;
}

static const struct capture_source_ops *source_for(const char *location)
{
	if (strcmp(location, "test") == 0 || strncmp(location, "test:", 5) == 0)
		return &capture_source_test;
#ifdef VSHM_HAVE_V4L2
	if (capture_v4l2_is_location(location))
		return &capture_source_v4l2;
#else
	if (strncmp(location, "v4l2:", 5) == 0 || strncmp(location, "/dev/video", 10) == 0) {
		program_say("'%s': this vshm-capture was built without libv4l2, so it has no "
		            "camera source; install libv4l-dev and rebuild",
		            location);
		return NULL;
	}
#endif
#ifdef VSHM_HAVE_FFMPEG
	if (capture_network_is_location(location))
		return &capture_source_network;
	return &capture_source_file;
#else
	program_say("'%s': this vshm-capture was built without FFmpeg, so it only has the "
	            "'test' source; install libavformat-dev libavcodec-dev libswscale-dev and "
	            "rebuild",
	            location);
	return NULL;
#endif
}

/* Sleeps until the absolute CLOCK_MONOTONIC time; returns early on a signal. */
static void sleep_until(uint64_t deadline_ns)
{
	struct timespec until = { (time_t)(deadline_ns / 1000000000u),
		                  (long)(deadline_ns % 1000000000u) };
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
}

/* A running capture: the source, the stream it feeds, and what the status line shows. */
struct capture {
	const struct options *options;
	const struct capture_source_ops *ops;
	struct capture_source *source;
	struct capture_description description;
	struct vshm_writer *writer;
	struct program_status status;
	uint64_t start_ns;
	uint64_t status_published; /* frames published at the previous status */
	uint64_t published;
	uint64_t anchor_ns; /* CLOCK_MONOTONIC time of media time 0 */
};

static void print_status(struct capture *capture, const struct vshm_frame *frame, bool final,
                         uint64_t elapsed_ns)
{
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(capture->writer, &stats);
	struct capture_source_stats source_stats = { 0 };
	capture->ops->get_stats(capture->source, &source_stats);
	char damaged[48] = "";
	if (source_stats.frames_damaged)
		snprintf(damaged, sizeof(damaged), " | %llu damaged",
		         (unsigned long long)source_stats.frames_damaged);
	uint64_t frames = stats.frames_published - capture->status_published;
	if (final) {
		frames = stats.frames_published;
		elapsed_ns = vshm_now_ns() - capture->start_ns;
	}
	capture->status_published = stats.frames_published;
	const char *format = vshm_format_name(frame->format);
	program_status_print(&capture->status, final,
	                     "%s'%s' %ux%u %s | %5.1f fps | %llu frames | %llu skipped%s | %llu "
	                     "overwrites | %u reader%s",
	                     final ? "done: " : "", capture->options->name, frame->width,
	                     frame->height, format ? format : "?",
	                     (double)frames * 1e9 / (double)(elapsed_ns + 1),
	                     (unsigned long long)stats.frames_published,
	                     (unsigned long long)source_stats.frames_skipped, damaged,
	                     (unsigned long long)stats.overwrites, stats.readers_attached,
	                     stats.readers_attached == 1 ? "" : "s");
}

/*
 * Waits until the frame at media_ns is due, unless the source paces itself (a camera)
 * or --fast. Returns false if a signal asked to stop meanwhile.
 */
static bool wait_until_due(struct capture *capture, struct vshm_frame *frame, uint64_t media_ns)
{
	if (capture->description.live)
		return true; /* it stamped frame->capture_ns when the camera took the frame */
	uint64_t now = vshm_now_ns();
	if (capture->published == 0 || now > capture->anchor_ns + media_ns + RESYNC_THRESHOLD_NS)
		capture->anchor_ns = now - (capture->published == 0 ? 0 : media_ns);
	uint64_t due = capture->anchor_ns + media_ns;
	if (!capture->options->fast && due > now)
		sleep_until(due);
	frame->capture_ns = capture->options->fast ? vshm_now_ns() : due;
	return !program_shutdown_requested();
}

/*
 * Publishes the frame the source produced. A refusal means the source handed over a frame
 * the writer did not begin (a bug): said once, and capture stops. Returns 0 or -errno.
 */
static int publish(struct capture *capture, struct vshm_frame *frame)
{
	const struct options *options = capture->options;
	if (options->frame_limit && capture->published + 1 >= options->frame_limit)
		frame->flags |= VSHM_FRAME_END_OF_STREAM;
	int result = program_publish(capture->writer, frame);
	if (result < 0) {
		program_say("cannot publish a frame into '%s': %s (slot %u)",
		            vshm_writer_name(capture->writer), strerror(-result), frame->slot);
		return result;
	}
	capture->published++;
	return 0;
}

/* Frames from the source into the stream until the end, an error or a signal. */
static int run(struct capture *capture)
{
	struct vshm_frame frame = { .format = capture->description.format,
		                    .width = capture->description.width,
		                    .height = capture->description.height };
	int exit_code = 0;
	if (!program_wait_for_readers(capture->writer, capture->options->wait_readers,
	                              capture->options->quiet))
		return 0; /* stopped by a signal while waiting */
	while (!program_shutdown_requested()) {
		uint64_t media_ns = 0;
		int result =
		    capture->ops->next(capture->source, capture->writer, &frame, &media_ns);
		if (result < 0) {
			exit_code = 1;
			break;
		}
		if (result == CAPTURE_END)
			break;
		if (!wait_until_due(capture, &frame, media_ns)) {
			vshm_writer_cancel(capture->writer);
			break;
		}
		if (publish(capture, &frame) < 0) {
			exit_code = 1;
			break;
		}
		if (frame.flags & VSHM_FRAME_END_OF_STREAM)
			break;
		uint64_t elapsed_ns;
		if (program_status_due(&capture->status, &elapsed_ns))
			print_status(capture, &frame, false, elapsed_ns);
	}
	if (program_shutdown_requested() && !capture->options->quiet) {
		program_status_break(&capture->status);
		program_say("stopped by %s", strsignal(program_shutdown_signal()));
	}
	print_status(capture, &frame, true, 0);
	return exit_code;
}

/* Creates the stream, sized for what the source said it will produce. */
static struct vshm_writer *create_stream(const struct options *options,
                                         const struct capture_description *description)
{
	/* Frames in flight (camera buffers lent to the driver) each hold a slot; keep the
	 * latest, one to turn over and one for a reader to hold besides them. */
	uint32_t in_flight = description->frames_in_flight ? description->frames_in_flight : 1;
	uint32_t slot_count = options->slot_count ? options->slot_count : VSHM_SLOT_COUNT_DEFAULT;
	if (in_flight > 1 && slot_count < in_flight + 3)
		slot_count = in_flight + 3;
	struct vshm_writer_options writer_options = {
		.slot_count = slot_count,
		.frames_in_flight = in_flight,
		.max_format = description->format,
		.max_width = description->width,
		.max_height = description->height,
		.max_frame_bytes = description->max_frame_bytes,
		.frame_interval_ns = description->frame_interval_ns,
		.group_access = options->group_access,
	};
	struct vshm_writer *writer = vshm_writer_create(options->name, &writer_options);
	if (!writer)
		program_say("cannot create stream '%s': %s%s", options->name, vshm_error(),
		            errno == EBUSY ? " (or pass --name)" : "");
	return writer;
}

int main(int argc, char **argv)
{
	program_set_name("vshm-capture");
	struct options options = { 0 };
	if (parse_options(argc, argv, &options) < 0)
		return 2;
	if (options.list_devices || options.list_formats) {
#ifdef VSHM_HAVE_V4L2
		if (options.list_devices)
			return capture_v4l2_list_devices();
		return capture_v4l2_list_formats(options.list_formats);
#else
		program_say("built without libv4l2, so it knows no cameras; install libv4l-dev "
		            "and rebuild");
		return 1;
#endif
	}
	options.settings.quiet = options.quiet;
	struct capture capture = { .options = &options };
	capture.ops = source_for(options.source);
	if (!capture.ops)
		return 2;
	program_shutdown_install();

	capture.source = capture.ops->open(options.source, &options.settings, &capture.description);
	if (!capture.source) {
		program_shutdown_finish(); /* Ctrl-C while opening: a quiet stop */
		return 1;
	}
	capture.writer = create_stream(&options, &capture.description);
	if (!capture.writer) {
		capture.ops->close(capture.source);
		return 1;
	}
	if (!options.quiet)
		program_say("streaming %s into '%s' (%ux%u %s); watch it with: vshm-view %s",
		            capture.description.summary, options.name, capture.description.width,
		            capture.description.height,
		            vshm_format_name(capture.description.format), options.name);
	program_status_init(&capture.status, options.quiet, STATUS_INTERVAL_NS);
	capture.start_ns = vshm_now_ns();
	int exit_code = run(&capture);
	/* The source first: a camera must stop writing into slots lent to it before the
	 * segment goes. Destroying marks the stream closed and removes the segment. */
	capture.ops->close(capture.source);
	vshm_writer_destroy(capture.writer);
	program_shutdown_finish();
	return exit_code;
}

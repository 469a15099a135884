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

#include "source.h"

#define STATUS_INTERVAL_NS 1000000000u
/* Falling this far behind the clock (the process was stopped, say) re-anchors pacing. */
#define RESYNC_THRESHOLD_NS 1000000000u

struct options {
	const char *source;
	char name[VSHM_NAME_MAX + 1];
	struct capture_settings settings;
	uint32_t slot_count;
	uint64_t frame_limit; /* 0: no limit */
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
	    "  URL              a stream FFmpeg opens (rtsp://, http://, udp://, ...)\n"
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
	    "                      the ring carries it): nv12 i420 yuyv uyvy rgb24 bgr24\n"
	    "                      rgba bgra xrgb8888 gray8\n"
	    "      --slots N       slots in the ring, 3..64 (default 3; at least 7 when a\n"
	    "                      camera writes straight into them)\n"
	    "  -l, --loop          start files over at the end, forever\n"
	    "      --frames N      stop after N frames (the last carries end-of-stream)\n"
	    "      --fast          publish as fast as possible, not in real time\n"
	    "      --group         let the owner's group read the stream (mode 0660)\n"
	    "\n"
	    "Cameras:\n"
	    "      --list-devices  list the video devices and the formats they offer\n"
	    "      --list-formats DEVICE\n"
	    "                      list a device's formats, frame sizes and frame rates\n"
	    "      --io MODE       auto (default): the camera writes straight into the\n"
	    "                      stream's slots (USERPTR) when its driver allows it, else\n"
	    "                      mmap; mmap: copy each frame from the driver's buffers;\n"
	    "                      userptr: ask for USERPTR (falls back to mmap, and says so)\n"
	    "      --no-reconnect  exit when the camera vanishes, instead of reopening it\n"
	    "                      every second while readers keep the last frame\n"
	    "  Formats the ring carries (yuyv uyvy nv12 i420 rgb24 bgr24 gray8) come as they\n"
	    "  are; MJPEG is decoded into the slot (yuyv or i420, or --format).\n"
	    "\n"
	    "Other options:\n"
	    "  -q, --quiet         no status line\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n"
	    "\n"
	    "Prints a status line every second (fps, frames, skipped, overwrites, readers).\n"
	    "Ctrl-C, SIGTERM or the end of the source stop it; the stream is removed.\n"
	    "Exit status: 0 done, 1 the source or the stream failed, 2 bad usage.\n");
}

static int parse_size(const char *text, uint32_t *width, uint32_t *height)
{
	char *end;
	unsigned long w = strtoul(text, &end, 10);
	if (end == text || (*end != 'x' && *end != 'X'))
		return -1;
	const char *rest = end + 1;
	unsigned long h = strtoul(rest, &end, 10);
	if (end == rest || *end || w < 1 || h < 1 || w > VSHM_FORMAT_DIMENSION_MAX ||
	    h > VSHM_FORMAT_DIMENSION_MAX)
		return -1;
	*width = (uint32_t)w;
	*height = (uint32_t)h;
	return 0;
}

static int parse_count(const char *text, uint64_t minimum, uint64_t maximum, uint64_t *value)
{
	char *end;
	errno = 0;
	unsigned long long parsed = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || parsed < minimum || parsed > maximum)
		return -1;
	*value = parsed;
	return 0;
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
		{ "fast", no_argument, NULL, 'x' },
		{ "group", no_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "list-devices", no_argument, NULL, 'D' },
		{ "list-formats", required_argument, NULL, 'L' },
		{ "io", required_argument, NULL, 'I' },
		{ "no-reconnect", no_argument, NULL, 'R' },
		{ 0 },
	};
	const char *name = NULL;
	uint64_t value;
	int option;
	while ((option = getopt_long(argc, argv, "n:s:r:f:lqhV", long_options, NULL)) != -1) {
		switch (option) {
		case 'n':
			name = optarg;
			break;
		case 's':
			if (parse_size(optarg, &options->settings.width,
			               &options->settings.height)) {
				fprintf(stderr,
				        "vshm-capture: --size '%s' is not WIDTHxHEIGHT with sizes "
				        "1..%d (e.g. 1280x720)\n",
				        optarg, VSHM_FORMAT_DIMENSION_MAX);
				return -1;
			}
			break;
		case 'r': {
			char *end;
			double fps = strtod(optarg, &end);
			if (end == optarg || *end || !(fps > 0 && fps <= 1000)) {
				fprintf(
				    stderr,
				    "vshm-capture: --fps '%s' is not a rate between 0 and 1000\n",
				    optarg);
				return -1;
			}
			options->settings.fps = fps;
			break;
		}
		case 'f':
			options->settings.format = vshm_format_from_name(optarg);
			if (!options->settings.format) {
				fprintf(
				    stderr,
				    "vshm-capture: unknown pixel format '%s'; the ring carries "
				    "nv12 i420 yuyv uyvy rgb24 bgr24 rgba bgra xrgb8888 gray8\n",
				    optarg);
				return -1;
			}
			break;
		case 'S':
			if (parse_count(optarg, VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX, &value)) {
				fprintf(stderr,
				        "vshm-capture: --slots '%s' is not a number %d..%d\n",
				        optarg, VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX);
				return -1;
			}
			options->slot_count = (uint32_t)value;
			break;
		case 'l':
			options->settings.loop = true;
			break;
		case 'F':
			if (parse_count(optarg, 1, UINT64_MAX, &options->frame_limit)) {
				fprintf(stderr,
				        "vshm-capture: --frames '%s' is not a positive number\n",
				        optarg);
				return -1;
			}
			break;
		case 'x':
			options->fast = true;
			break;
		case 'g':
			options->group_access = true;
			break;
		case 'q':
			options->quiet = true;
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
				fprintf(stderr,
				        "vshm-capture: --io '%s' is not auto, mmap or userptr\n",
				        optarg);
				return -1;
			}
			break;
		case 'R':
			options->settings.no_reconnect = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vshm-capture %s\n", VSHM_VERSION_STRING);
			exit(0);
		default:
			fprintf(stderr, "Try 'vshm-capture --help'.\n");
			return -1;
		}
	}
	if ((options->list_devices || options->list_formats) && optind == argc)
		return 0;
	if (optind != argc - 1) {
		fprintf(stderr, "vshm-capture: %s; try 'vshm-capture --help'\n",
		        optind == argc
		            ? "say what to capture: test, a video file, a URL or a camera"
		            : "give exactly one SOURCE");
		return -1;
	}
	options->source = argv[optind];
	if (name) {
		if (vshm_name_check(name) < 0) {
			fprintf(stderr, "vshm-capture: %s\n", vshm_error());
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
		fprintf(stderr,
		        "vshm-capture: '%s': this vshm-capture was built without libv4l2, so it "
		        "has no camera source; install libv4l-dev and rebuild\n",
		        location);
		return NULL;
	}
#endif
#ifdef VSHM_HAVE_FFMPEG
	return &capture_source_file;
#else
	fprintf(stderr,
	        "vshm-capture: '%s': this vshm-capture was built without FFmpeg, so it only "
	        "has the 'test' source; install libavformat-dev libavcodec-dev libswscale-dev "
	        "and rebuild\n",
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

struct status {
	uint64_t start_ns;
	uint64_t last_ns;
	uint64_t last_published;
	double fps;
	bool tty;
	bool printed;
};

static void print_status(const struct options *options, struct vshm_writer *writer,
                         const struct capture_source_ops *ops, struct capture_source *source,
                         struct status *status, const struct vshm_frame *frame, bool final)
{
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	struct capture_source_stats source_stats;
	ops->get_stats(source, &source_stats);
	uint64_t now = vshm_now_ns();
	if (now > status->last_ns)
		status->fps = (double)(stats.frames_published - status->last_published) * 1e9 /
		              (double)(now - status->last_ns);
	status->last_ns = now;
	status->last_published = stats.frames_published;
	if (options->quiet)
		return;
	fprintf(stderr,
	        "%s%s '%s' %ux%u %s | %5.1f fps | %llu frames | %llu skipped | %llu overwrites | "
	        "%u reader%s%s",
	        status->tty ? "\r\033[K" : "",
	        final ? "vshm-capture: done:" : "vshm-capture:", options->name, frame->width,
	        frame->height,
	        vshm_format_name(frame->format) ? vshm_format_name(frame->format) : "?",
	        final ? (double)stats.frames_published * 1e9 / (double)(now - status->start_ns + 1)
	              : status->fps,
	        (unsigned long long)stats.frames_published,
	        (unsigned long long)source_stats.frames_skipped,
	        (unsigned long long)stats.overwrites, stats.readers_attached,
	        stats.readers_attached == 1 ? "" : "s", status->tty && !final ? "" : "\n");
	status->printed = true;
}

/*
 * Publishes the frame the source produced. A refusal means the source handed over a frame
 * the writer did not begin (a bug): said once, and capture stops. Returns 0 or -errno.
 */
static int publish(struct vshm_writer *writer, struct vshm_frame *frame)
{
	int result = vshm_writer_publish(writer, frame);
	if (result < 0)
		fprintf(stderr, "vshm-capture: cannot publish a frame into '%s': %s (slot %u)\n",
		        vshm_writer_name(writer), strerror(-result), frame->slot);
	return result;
}

int main(int argc, char **argv)
{
	struct options options = { 0 };
	if (parse_options(argc, argv, &options) < 0)
		return 2;
	if (options.list_devices || options.list_formats) {
#ifdef VSHM_HAVE_V4L2
		if (options.list_devices)
			return capture_v4l2_list_devices();
		return capture_v4l2_list_formats(options.list_formats);
#else
		fprintf(stderr, "vshm-capture: built without libv4l2, so it knows no cameras; "
		                "install libv4l-dev and rebuild\n");
		return 1;
#endif
	}
	const struct capture_source_ops *ops = source_for(options.source);
	if (!ops)
		return 2;
	vshm_shutdown_install();

	struct capture_description description = { 0 };
	struct capture_source *source = ops->open(options.source, &options.settings, &description);
	if (!source)
		return vshm_shutdown_requested() ? 0 : 1; /* Ctrl-C while opening: a quiet stop */

	/* Frames in flight (camera buffers lent to the driver) each hold a slot; keep the
	 * latest, one to turn over and one for a reader to hold besides them. */
	uint32_t in_flight = description.frames_in_flight ? description.frames_in_flight : 1;
	uint32_t slot_count = options.slot_count ? options.slot_count : VSHM_SLOT_COUNT_DEFAULT;
	if (in_flight > 1 && slot_count < in_flight + 3)
		slot_count = in_flight + 3;
	struct vshm_writer_options writer_options = {
		.slot_count = slot_count,
		.frames_in_flight = in_flight,
		.max_format = description.format,
		.max_width = description.width,
		.max_height = description.height,
		.max_frame_bytes = description.max_frame_bytes,
		.frame_interval_ns = description.frame_interval_ns,
		.group_access = options.group_access,
	};
	struct vshm_writer *writer = vshm_writer_create(options.name, &writer_options);
	if (!writer) {
		fprintf(stderr, "vshm-capture: cannot create stream '%s': %s%s\n", options.name,
		        vshm_error(), errno == EBUSY ? " (or pass --name)" : "");
		ops->close(source);
		return 1;
	}
	if (!options.quiet)
		fprintf(stderr,
		        "vshm-capture: streaming %s into '%s' (%ux%u %s); watch it with: vshm-view "
		        "%s\n",
		        description.summary, options.name, description.width, description.height,
		        vshm_format_name(description.format), options.name);

	struct status status = { .last_ns = vshm_now_ns(), .tty = isatty(STDERR_FILENO) };
	status.start_ns = status.last_ns;
	uint64_t anchor_ns = 0; /* CLOCK_MONOTONIC time of media time 0 */
	uint64_t next_status_ns = status.last_ns + STATUS_INTERVAL_NS;
	uint64_t published = 0;
	uint64_t fixed_interval =
	    options.settings.fps > 0 ? (uint64_t)(1e9 / options.settings.fps) : 0;
	struct vshm_frame frame = { .format = description.format,
		                    .width = description.width,
		                    .height = description.height };
	int exit_code = 0;

	while (!vshm_shutdown_requested()) {
		uint64_t media_ns = 0;
		int result = ops->next(source, writer, &frame, &media_ns);
		if (result < 0) {
			exit_code = 1;
			break;
		}
		if (result == CAPTURE_END)
			break;
		if (description.live) {
			/* A camera paces itself and stamped the frame when it was captured. */
			if (options.frame_limit && published + 1 >= options.frame_limit)
				frame.flags |= VSHM_FRAME_END_OF_STREAM;
			if (publish(writer, &frame) < 0) {
				exit_code = 1;
				break;
			}
			published++;
			if (frame.flags & VSHM_FRAME_END_OF_STREAM)
				break;
			uint64_t now = vshm_now_ns();
			if (now >= next_status_ns) {
				print_status(&options, writer, ops, source, &status, &frame, false);
				next_status_ns = now + STATUS_INTERVAL_NS;
			}
			continue;
		}
		/* A file played at a forced rate ignores its own timestamps. */
		if (fixed_interval && ops != &capture_source_test)
			media_ns = published * fixed_interval;
		uint64_t now = vshm_now_ns();
		if (published == 0 || (now > anchor_ns + media_ns + RESYNC_THRESHOLD_NS))
			anchor_ns = now - (published == 0 ? 0 : media_ns);
		uint64_t due = anchor_ns + media_ns;
		if (!options.fast && due > now)
			sleep_until(due);
		if (vshm_shutdown_requested()) {
			vshm_writer_cancel(writer);
			break;
		}
		frame.capture_ns = options.fast ? vshm_now_ns() : due;
		if (options.frame_limit && published + 1 >= options.frame_limit)
			frame.flags |= VSHM_FRAME_END_OF_STREAM;
		if (publish(writer, &frame) < 0) {
			exit_code = 1;
			break;
		}
		published++;
		if (frame.flags & VSHM_FRAME_END_OF_STREAM)
			break;
		now = vshm_now_ns();
		if (now >= next_status_ns) {
			print_status(&options, writer, ops, source, &status, &frame, false);
			next_status_ns = now + STATUS_INTERVAL_NS;
		}
	}

	if (vshm_shutdown_requested() && !options.quiet)
		fprintf(stderr, "%svshm-capture: stopped by %s\n", status.tty ? "\r\033[K" : "",
		        strsignal(vshm_shutdown_signal()));
	print_status(&options, writer, ops, source, &status, &frame, true);
	/* The source first: a camera must stop writing into slots lent to it before the
	 * segment goes. Destroying marks the stream closed and removes the segment. */
	ops->close(source);
	vshm_writer_destroy(writer);
	return exit_code;
}

/*
 * vshm-view: shows the latest frame of a vshm stream in a window, straight from the
 * shared slot (display.c says where pixels go). This file parses options and runs the
 * loop: wait on the stream's futex, take the newest frame, upload, give it back, and
 * present it only if it stayed intact.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL2/SDL.h>
#include <vshm/vshm.h>

#include "display.h"
#include "options.h"
#include "shutdown.h"
#include "snapshot.h"

/* Capture-to-present latencies are counted in 0.1 ms buckets up to 1 s, for p50/p99. */
#define LATENCY_BUCKETS   10000
#define LATENCY_BUCKET_NS 100000u

/* Short enough to keep the window responsive, long enough to cost nothing when idle. */
#define WAIT_SLICE_MS     20
#define TITLE_INTERVAL_NS 500000000u

struct options {
	const char *name;
	const char *snapshot_path;
	uint64_t snapshot_after; /* frames shown before the snapshot is taken */
	int timeout_ms;          /* < 0: wait for ever */
	uint32_t width, height;
	bool fullscreen;
	bool overlay;
	bool quiet;
	struct vshm_reader_options reader_options;
};

enum source_state { SOURCE_LIVE, SOURCE_LOST, SOURCE_ENDED };

struct viewer {
	struct options options;
	struct vshm_reader *reader;
	struct display *display;
	struct vshm_frame shown; /* metadata of the frame on screen (pointers unused) */
	enum source_state source;
	bool paused;
	bool quit;
	bool redraw;
	uint64_t frames_shown, frames_torn, frames_invalid;
	uint64_t fps_frames, fps_since_ns;
	double fps;
	double latency_ms; /* capture to present, smoothed */
	uint32_t latency_histogram[LATENCY_BUCKETS];
	uint64_t latency_count;
	uint64_t next_title_ns;
	int exit_code;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: vshm-view [options] NAME\n"
	        "\n"
	        "Shows the vshm stream NAME in a window: the newest frame, straight from shared\n"
	        "memory. Waits for the stream if it does not exist yet, keeps the last frame when\n"
	        "its writer goes away, and picks it up again when a writer comes back.\n"
	        "\n"
	        "Options:\n"
	        "      --fullscreen    start full screen\n"
	        "      --size WxH      window size (default: the frame's)\n"
	        "      --overlay       start with the info overlay shown\n"
	        "      --snapshot FILE save the frame as displayed as a PNG after --after\n"
	        "                      frames, then exit; works without a display too\n"
	        "      --after N       frames to show before --snapshot (default 1)\n"
	        "      --timeout SEC   give up if no frame arrives in time (default: wait)\n"
	        "      --allow-foreign accept a stream owned by another user\n" PROGRAM_COMMON_HELP
	        "\n"
	        "Frames are drawn at their display aspect: pixels that are not square\n"
	        "(anamorphic video) are stretched as their sample aspect ratio says, in the\n"
	        "window and in snapshots. Formats the renderer cannot take are converted in\n"
	        "one pass for display: 10-bit (p010) to 8 bits, 4:4:4 (i444) and the colour\n"
	        "matrices SDL lacks (BT.2020) to RGB. HDR frames (PQ, HLG transfer) are shown\n"
	        "without tone mapping, so they look dim and pale on an SDR screen.\n"
	        "\n"
	        "Keys: q or Esc quit, f full screen, space pause, s save a snapshot (PNG in the\n"
	        "current directory), i toggle the info overlay.\n"
	        "Exit status: 0 done, 1 the stream could not be shown, 2 bad usage.\n");
}

static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
		{ "fullscreen", no_argument, NULL, 'F' },
		{ "size", required_argument, NULL, 's' },
		{ "overlay", no_argument, NULL, 'o' },
		{ "snapshot", required_argument, NULL, 'S' },
		{ "after", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "allow-foreign", no_argument, NULL, 'A' },
		PROGRAM_COMMON_LONG_OPTIONS,
		{ 0 },
	};
	options->snapshot_after = 1;
	options->timeout_ms = -1;
	int option;
	while ((option = getopt_long(argc, argv, PROGRAM_COMMON_SHORT_OPTIONS, long_options,
	                             NULL)) != -1) {
		switch (option) {
		case 'F':
			options->fullscreen = true;
			break;
		case 's':
			if (program_parse_size("--size", optarg, &options->width,
			                       &options->height) < 0)
				return -1;
			break;
		case 'o':
			options->overlay = true;
			break;
		case 'S':
			options->snapshot_path = optarg;
			break;
		case 'a':
			if (program_parse_count("--after", optarg, 1, UINT64_MAX,
			                        &options->snapshot_after) < 0)
				return -1;
			break;
		case 't':
			if (program_parse_timeout("--timeout", optarg, &options->timeout_ms) < 0)
				return -1;
			break;
		case 'A':
			options->reader_options.allow_foreign_owner = true;
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
	if (optind != argc - 1) {
		program_say("%s; try 'vshm-view --help'",
		            optind == argc ? "say which stream to show (its NAME)"
		                           : "give exactly one stream NAME");
		return -1;
	}
	options->name = argv[optind];
	if (vshm_name_check(options->name) < 0) {
		program_say("%s", vshm_error());
		return -1;
	}
	return 0;
}

static bool timed_out(const struct options *options, uint64_t start_ns)
{
	return options->timeout_ms >= 0 &&
	       vshm_now_ns() - start_ns > (uint64_t)options->timeout_ms * 1000000u;
}

/* Says once what is awaited; stops waiting when the viewer is asked to stop. */
static bool keep_waiting(const char *name, unsigned attempt, void *data)
{
	const struct options *options = data;
	if (attempt == 0 && !options->quiet)
		program_say(
		    "waiting for stream '%s' (start its writer, e.g. vshm-capture --name %s "
		    "test)",
		    name, name);
	return !program_shutdown_requested();
}

/* Attaches, waiting for the stream to appear. Returns NULL after saying why. */
static struct vshm_reader *attach_waiting(const struct options *options)
{
	struct vshm_reader *reader =
	    vshm_reader_attach_wait(options->name, &options->reader_options, options->timeout_ms,
	                            keep_waiting, (void *)options);
	if (!reader && errno != EINTR)
		program_say("cannot show stream '%s': %s", options->name, vshm_error());
	return reader;
}

static const char *source_words(const struct viewer *viewer)
{
	if (viewer->source == SOURCE_LOST)
		return "source lost";
	if (viewer->source == SOURCE_ENDED)
		return "end of stream";
	return viewer->paused ? "paused" : "live";
}

static void update_title(struct viewer *viewer)
{
	char title[256];
	const struct vshm_frame *frame = &viewer->shown;
	if (!display_has_frame(viewer->display))
		snprintf(title, sizeof(title), "%s - waiting for frames - vshm-view",
		         viewer->options.name);
	else
		snprintf(title, sizeof(title), "%s - %ux%u %s - %.1f fps - latency %.1f ms - %s",
		         viewer->options.name, frame->width, frame->height,
		         vshm_format_name(frame->format), viewer->fps, viewer->latency_ms,
		         source_words(viewer));
	display_set_title(viewer->display, title);
}

static void render(struct viewer *viewer, struct display_picture *snapshot)
{
	char lines[8][96];
	const char *pointers[8];
	int count = 0;
	if (viewer->options.overlay) {
		const struct vshm_frame *frame = &viewer->shown;
		static const char *const matrices[] = { "auto", "bt601", "bt709", "bt2020" };
		static const char *const ranges[] = { "auto", "limited", "full" };
		char aspect[32] = "";
		if (frame->sample_aspect.numerator &&
		    frame->sample_aspect.numerator != frame->sample_aspect.denominator)
			snprintf(aspect, sizeof(aspect), " sar %u:%u",
			         frame->sample_aspect.numerator, frame->sample_aspect.denominator);
		snprintf(lines[count++], sizeof(lines[0]), "%s", viewer->options.name);
		snprintf(lines[count++], sizeof(lines[0]), "%ux%u%s %s %s %s", frame->width,
		         frame->height, aspect,
		         vshm_format_name(frame->format) ? vshm_format_name(frame->format) : "-",
		         matrices[frame->color_matrix & 3],
		         ranges[frame->color_range < 3 ? frame->color_range : 0]);
		if (frame->color_primaries || frame->color_transfer) {
			const char *primaries = vshm_color_primaries_name(frame->color_primaries);
			const char *transfer = vshm_color_transfer_name(frame->color_transfer);
			bool hdr = frame->color_transfer == VSHM_COLOR_TRANSFER_PQ ||
			           frame->color_transfer == VSHM_COLOR_TRANSFER_HLG;
			snprintf(lines[count++], sizeof(lines[0]), "primaries %s, transfer %s%s",
			         primaries ? primaries : "?", transfer ? transfer : "?",
			         hdr ? " (HDR, not tone mapped)" : "");
		}
		snprintf(lines[count++], sizeof(lines[0]), "%.1f fps  latency %.1f ms", viewer->fps,
		         viewer->latency_ms);
		snprintf(lines[count++], sizeof(lines[0]), "frame %llu  shown %llu  torn %llu",
		         (unsigned long long)frame->frame_number,
		         (unsigned long long)viewer->frames_shown,
		         (unsigned long long)viewer->frames_torn);
		snprintf(lines[count++], sizeof(lines[0]), "%s, %s",
		         display_renderer_name(viewer->display),
		         display_upload_method(viewer->display));
		snprintf(lines[count++], sizeof(lines[0]), "%s", source_words(viewer));
		for (int i = 0; i < count; i++)
			pointers[i] = lines[i];
	}
	display_render(viewer->display, pointers, count, snapshot);
	viewer->redraw = false;
}

/* Takes the newest frame and shows it if it stayed intact while uploaded. */
static void show_latest(struct viewer *viewer)
{
	struct vshm_frame frame;
	int result = vshm_reader_acquire(viewer->reader, &frame);
	if (result == -EBADMSG) {
		viewer->frames_invalid++;
		return;
	}
	if (result < 0)
		return;
	int uploaded = display_upload(viewer->display, &frame);
	/* The upload has read the slot; only now can we know if it was torn meanwhile. */
	int intact = vshm_reader_release(viewer->reader);
	if (uploaded < 0) {
		viewer->exit_code = 1;
		viewer->quit = true;
		return;
	}
	if (intact != 1) {
		viewer->frames_torn++; /* the previous frame stays on screen */
		return;
	}
	display_commit(viewer->display);
	viewer->shown = frame;
	viewer->frames_shown++;
	viewer->fps_frames++;
	viewer->source = frame.flags & VSHM_FRAME_END_OF_STREAM ? SOURCE_ENDED : SOURCE_LIVE;
	render(viewer, NULL);
	uint64_t now = vshm_now_ns();
	if (frame.capture_ns && now > frame.capture_ns) {
		uint64_t bucket = (now - frame.capture_ns) / LATENCY_BUCKET_NS;
		viewer
		    ->latency_histogram[bucket < LATENCY_BUCKETS ? bucket : LATENCY_BUCKETS - 1]++;
		viewer->latency_count++;
		double latency = (double)(now - frame.capture_ns) / 1e6;
		viewer->latency_ms =
		    viewer->frames_shown == 1 ? latency : viewer->latency_ms * 0.9 + latency * 0.1;
	}
}

/* The latency below which the given share of frames were presented, in ms. */
static double latency_percentile(const struct viewer *viewer, double share)
{
	uint64_t wanted = (uint64_t)((double)viewer->latency_count * share + 0.5), seen = 0;
	for (uint32_t i = 0; i < LATENCY_BUCKETS; i++) {
		seen += viewer->latency_histogram[i];
		if (seen >= wanted && seen > 0)
			return (i + 1) * (LATENCY_BUCKET_NS / 1e6);
	}
	return 0;
}

static void save_snapshot(struct viewer *viewer, const char *path)
{
	struct display_picture picture;
	render(viewer, &picture);
	if (!picture.rgb) {
		viewer->exit_code = 1;
		return;
	}
	if (snapshot_save_png(path, picture.rgb, picture.width, picture.height) == 0) {
		if (!viewer->options.quiet)
			program_say("saved %dx%d snapshot of frame %llu to %s", picture.width,
			            picture.height, (unsigned long long)viewer->shown.frame_number,
			            path);
	} else {
		viewer->exit_code = 1;
	}
	free(picture.rgb);
}

static void handle_events(struct viewer *viewer)
{
	SDL_Event event;
	while (SDL_PollEvent(&event)) {
		if (event.type == SDL_QUIT) {
			viewer->quit = true;
		} else if (event.type == SDL_WINDOWEVENT) {
			viewer->redraw = true;
		} else if (event.type == SDL_KEYDOWN) {
			switch (event.key.keysym.sym) {
			case SDLK_q:
			case SDLK_ESCAPE:
				viewer->quit = true;
				break;
			case SDLK_f:
				display_toggle_fullscreen(viewer->display);
				break;
			case SDLK_SPACE:
				viewer->paused = !viewer->paused;
				viewer->redraw = true;
				break;
			case SDLK_i:
				viewer->options.overlay = !viewer->options.overlay;
				viewer->redraw = true;
				break;
			case SDLK_s: {
				char path[256];
				snprintf(path, sizeof(path), "%s-%llu.png", viewer->options.name,
				         (unsigned long long)viewer->shown.frame_number);
				save_snapshot(viewer, path);
				break;
			}
			default:
				break;
			}
		}
	}
}

/* One turn of the loop: sleep on the stream (or on events when paused), then react. */
static void step(struct viewer *viewer)
{
	if (viewer->paused || !viewer->reader) {
		SDL_WaitEventTimeout(NULL, 100);
		if (!viewer->reader) {
			viewer->reader = vshm_reader_attach(viewer->options.name,
			                                    &viewer->options.reader_options);
			if (viewer->reader)
				viewer->source = SOURCE_LIVE;
		}
		return;
	}
	int result = vshm_reader_wait(viewer->reader, WAIT_SLICE_MS);
	if (result == 0) {
		show_latest(viewer);
	} else if (result == -EPIPE) {
		if (viewer->source != SOURCE_ENDED)
			viewer->source = SOURCE_LOST;
		viewer->redraw = true;
	} else if (result == -ESTALE) {
		/* A new writer took the name (or the stream moved to bigger slots). */
		int reattached = vshm_reader_reattach(viewer->reader);
		if (reattached == -EAGAIN || reattached == -ENOENT) {
			/* The new segment is still being made: wait a moment, not spin. */
			SDL_WaitEventTimeout(NULL, 30);
		} else if (reattached < 0) {
			vshm_reader_detach(viewer->reader);
			viewer->reader = NULL; /* attach again from scratch next turn */
		}
	}
}

int main(int argc, char **argv)
{
	program_set_name("vshm-view");
	/* A writer's bug that truncates the stream must not kill the viewer too. */
	struct viewer viewer = { .options.reader_options.guard_truncation = true };
	if (parse_options(argc, argv, &viewer.options) < 0)
		return 2;
	const struct options *options = &viewer.options;

	bool has_display = getenv("DISPLAY") || getenv("WAYLAND_DISPLAY");
	if (!has_display && !getenv("SDL_VIDEODRIVER")) {
		if (!options->snapshot_path) {
			program_say("no display (DISPLAY is not set): run it on a desktop, under "
			            "Xvfb, or with --snapshot FILE to save a frame without one");
			return 1;
		}
		/* SDL's offscreen driver renders without any display, for snapshots. */
		setenv("SDL_VIDEODRIVER", "offscreen", 1);
	}
	program_shutdown_install();
	uint64_t start = vshm_now_ns();
	viewer.reader = attach_waiting(options);
	if (!viewer.reader) {
		program_shutdown_finish();
		return 1;
	}

	char title[128];
	snprintf(title, sizeof(title), "%s - vshm-view", options->name);
	struct display_options display_options = {
		.title = title,
		.fullscreen = options->fullscreen,
		.width = options->width,
		.height = options->height,
	};
	viewer.display = display_create(&display_options);
	if (!viewer.display) {
		vshm_reader_detach(viewer.reader);
		return 1;
	}
	viewer.fps_since_ns = vshm_now_ns();
	/* The first rate is shown after a whole interval, not after one frame. */
	viewer.next_title_ns = viewer.fps_since_ns + TITLE_INTERVAL_NS;

	while (!viewer.quit && !program_shutdown_requested()) {
		step(&viewer);
		handle_events(&viewer);
		if (viewer.redraw)
			render(&viewer, NULL);
		uint64_t now = vshm_now_ns();
		if (now >= viewer.next_title_ns) {
			viewer.fps =
			    (double)viewer.fps_frames * 1e9 / (double)(now - viewer.fps_since_ns);
			viewer.fps_frames = 0;
			viewer.fps_since_ns = now;
			update_title(&viewer);
			viewer.next_title_ns = now + TITLE_INTERVAL_NS;
		}
		if (options->snapshot_path && viewer.frames_shown >= options->snapshot_after) {
			save_snapshot(&viewer, options->snapshot_path);
			break;
		}
		if (options->snapshot_path && timed_out(options, start)) {
			program_say("only %llu of %llu frames arrived within %g s; no snapshot",
			            (unsigned long long)viewer.frames_shown,
			            (unsigned long long)options->snapshot_after,
			            options->timeout_ms / 1000.0);
			viewer.exit_code = 1;
			break;
		}
	}

	if (!options->quiet)
		program_say("'%s': %llu frames shown, %llu torn frames dropped, %llu invalid; "
		            "capture-to-present latency p50 %.1f ms, p99 %.1f ms; renderer %s, %s",
		            options->name, (unsigned long long)viewer.frames_shown,
		            (unsigned long long)viewer.frames_torn,
		            (unsigned long long)viewer.frames_invalid,
		            latency_percentile(&viewer, 0.5), latency_percentile(&viewer, 0.99),
		            display_renderer_name(viewer.display),
		            display_upload_method(viewer.display));
	display_destroy(viewer.display);
	vshm_reader_detach(viewer.reader);
	program_shutdown_finish();
	return viewer.exit_code;
}

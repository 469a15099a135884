/*
 * vshm-ls: the vshm streams on this machine, whether their writer is alive, what they
 * carry and how they are doing. Looks without attaching: it takes no reader entry.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vshm/vshm.h>

#include "options.h"
#include "shutdown.h"

#define MAX_TRACKED 256
/* Refreshing faster than this would only measure the listing itself. */
#define WATCH_SECONDS_MIN 0.1

struct options {
	bool json;
	bool clean;
	double watch_seconds; /* 0: list once */
};

/* Frames published at the previous refresh, to measure the rate in --watch. */
struct rate_memory {
	char name[VSHM_NAME_MAX + 1];
	uint64_t frames;
	uint64_t when_ns;
	double fps;
};

struct listing {
	const struct options *options;
	struct rate_memory rates[MAX_TRACKED];
	unsigned rate_count;
	unsigned shown;
	unsigned removed;
	int failures;
	bool first_json;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: vshm-ls [options]\n"
	        "\n"
	        "Lists the vshm streams on this machine (/dev/shm/vshm.*): their state (live\n"
	        "with the writer's pid, or stale: left by a writer that died), the latest\n"
	        "frame's format and size, the frame rate, frames published, live readers, slots\n"
	        "overwritten under a reader, and how long ago the latest frame came.\n"
	        "Segments that are not vshm streams, or are damaged, are listed as such.\n"
	        "\n"
	        "Options:\n"
	        "  -w, --watch[=SEC]   refresh every SEC seconds (default 1), like top\n"
	        "  -j, --json          one JSON array, for scripts\n"
	        "      --clean         remove stale streams (never a live one, never a foreign\n"
	        "                      file), saying which\n" PROGRAM_INFO_HELP);
}

static const char *state_name(enum vshm_stream_status status)
{
	static const char *const names[] = {
		[VSHM_STREAM_LIVE] = "live",         [VSHM_STREAM_STALE] = "stale",
		[VSHM_STREAM_CREATING] = "creating", [VSHM_STREAM_FOREIGN] = "foreign",
		[VSHM_STREAM_DAMAGED] = "damaged",   [VSHM_STREAM_UNREADABLE] = "unreadable",
	};
	return names[status];
}

static double measured_fps(struct listing *listing, const struct vshm_stream_info *info)
{
	uint64_t now = vshm_now_ns();
	for (unsigned i = 0; i < listing->rate_count; i++) {
		struct rate_memory *memory = &listing->rates[i];
		if (strcmp(memory->name, info->name) != 0)
			continue;
		if (now > memory->when_ns && info->frames_published >= memory->frames)
			memory->fps = (double)(info->frames_published - memory->frames) * 1e9 /
			              (double)(now - memory->when_ns);
		memory->frames = info->frames_published;
		memory->when_ns = now;
		return memory->fps;
	}
	if (listing->rate_count < MAX_TRACKED) {
		struct rate_memory *memory = &listing->rates[listing->rate_count++];
		snprintf(memory->name, sizeof(memory->name), "%s", info->name);
		memory->frames = info->frames_published;
		memory->when_ns = now;
		memory->fps = -1;
	}
	return -1;
}

static void format_age(const struct vshm_stream_info *info, char *out, size_t size)
{
	if (!info->has_frame) {
		snprintf(out, size, "-");
		return;
	}
	uint64_t now = vshm_now_ns();
	double age = now > info->publish_ns ? (double)(now - info->publish_ns) / 1e9 : 0;
	if (age < 1)
		snprintf(out, size, "%.0fms", age * 1e3);
	else if (age < 120)
		snprintf(out, size, "%.1fs", age);
	else if (age < 7200)
		snprintf(out, size, "%.0fm", age / 60);
	else
		snprintf(out, size, "%.0fh", age / 3600);
}

/*
 * A string as JSON. Stream names and problems are ASCII, but a file under our prefix
 * may be named by anyone who can write to the shm directory, with any bytes: a byte
 * outside ASCII is written as the code point of the same value, so that the output
 * stays valid UTF-8 (the name is not a valid stream name anyway, and says so).
 */
static void print_json_string(const char *text)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

/* A colour field's name, or its number when this vshm-ls does not know it. */
static void print_json_color(const char *key, const char *name, uint8_t value)
{
	if (name)
		printf(", \"%s\": \"%s\"", key, name);
	else
		printf(", \"%s\": %u", key, value);
}

/* What the latest frame's pixels mean: depth, subsampling, colour and pixel shape. */
static void print_json_picture(const struct vshm_stream_info *info)
{
	const struct vshm_format_description *format = vshm_format_describe(info->format);
	if (format) {
		printf(", \"depth\": %u", format->depth);
		if (format->family == VSHM_FORMAT_FAMILY_YUV)
			printf(", \"chroma\": \"%s\"", format->chroma_shift_x == 0   ? "4:4:4"
			                               : format->chroma_shift_y == 0 ? "4:2:2"
			                                                             : "4:2:0");
	}
	print_json_color("color_matrix", vshm_color_matrix_name(info->color_matrix),
	                 info->color_matrix);
	print_json_color("color_range", vshm_color_range_name(info->color_range),
	                 info->color_range);
	print_json_color("color_primaries", vshm_color_primaries_name(info->color_primaries),
	                 info->color_primaries);
	print_json_color("color_transfer", vshm_color_transfer_name(info->color_transfer),
	                 info->color_transfer);
	/* The aspect as a pair, and the size the picture is meant to be shown at. */
	const struct vshm_ratio *aspect = &info->sample_aspect;
	if (aspect->numerator && aspect->denominator)
		printf(", \"sample_aspect\": [%u, %u], \"display_width\": %llu", aspect->numerator,
		       aspect->denominator,
		       (unsigned long long)(((uint64_t)info->width * aspect->numerator +
		                             aspect->denominator / 2) /
		                            aspect->denominator));
	else
		printf(", \"sample_aspect\": null");
}

static void print_json(struct listing *listing, const struct vshm_stream_info *info, double fps)
{
	printf("%s\n  {\"name\": ", listing->first_json ? "" : ",");
	listing->first_json = false;
	print_json_string(info->name);
	printf(", \"state\": \"%s\"", state_name(info->status));
	if (info->status != VSHM_STREAM_LIVE && info->status != VSHM_STREAM_STALE) {
		printf(", \"problem\": ");
		print_json_string(info->problem);
		printf(", \"owner_uid\": %u}", info->owner_uid);
		return;
	}
	printf(", \"layout\": \"%u.%u\"", info->layout_major, info->layout_minor);
	printf(", \"writer_pid\": %u, \"slots\": %u, \"slot_bytes\": %llu, \"readers\": %u, "
	       "\"reader_capacity\": %u, \"frames_published\": %llu, \"overwrites\": %llu, "
	       "\"frames_dropped\": %llu, \"nominal_fps\": %.3f",
	       info->writer_pid, info->slot_count, (unsigned long long)info->slot_size,
	       info->readers_alive, info->reader_capacity,
	       (unsigned long long)info->frames_published, (unsigned long long)info->overwrites,
	       (unsigned long long)info->frames_dropped,
	       info->frame_interval_ns ? 1e9 / (double)info->frame_interval_ns : 0.0);
	if (fps >= 0)
		printf(", \"measured_fps\": %.2f", fps);
	if (info->has_frame) {
		uint64_t now = vshm_now_ns();
		printf(
		    ", \"format\": \"%s\", \"width\": %u, \"height\": %u, \"frame_number\": %llu, "
		    "\"end_of_stream\": %s, \"age_ms\": %.1f",
		    vshm_format_name(info->format) ? vshm_format_name(info->format) : "?",
		    info->width, info->height, (unsigned long long)info->frame_number,
		    info->flags & VSHM_FRAME_END_OF_STREAM ? "true" : "false",
		    now > info->publish_ns ? (double)(now - info->publish_ns) / 1e6 : 0.0);
		print_json_picture(info);
	}
	printf("}");
}

/*
 * A name as the terminal shows it. Anyone who can write to the shm directory can name a
 * file under our prefix with escape sequences or line breaks, which printed as they are
 * would clear the screen or forge lines of the listing in the terminal of whoever runs
 * vshm-ls: every byte outside printable ASCII is shown as \xNN.
 */
static void printable_name(const char *name, char *out, size_t size)
{
	size_t used = 0;
	for (const unsigned char *c = (const unsigned char *)name; *c && used + 5 <= size; c++) {
		if (*c >= 0x20 && *c < 0x7f && *c != '\\')
			out[used++] = (char)*c;
		else
			used += (size_t)snprintf(out + used, size - used, "\\x%02x", *c);
	}
	out[used] = '\0';
}

static void print_row(const struct vshm_stream_info *info, double fps)
{
	char state[32], format[48], rate[16], age[16];
	char name[4 * sizeof(info->name) + 1];
	printable_name(info->name, name, sizeof(name));
	if (info->status == VSHM_STREAM_LIVE)
		snprintf(state, sizeof(state), "live %u", info->writer_pid);
	else if (info->status == VSHM_STREAM_STALE)
		snprintf(state, sizeof(state), "stale %u", info->writer_pid); /* the dead writer */
	else
		snprintf(state, sizeof(state), "%s", state_name(info->status));
	if (info->status != VSHM_STREAM_LIVE && info->status != VSHM_STREAM_STALE) {
		printf("%-24s %-12s %s\n", name, state, info->problem);
		return;
	}
	if (info->has_frame)
		snprintf(format, sizeof(format), "%s %ux%u%s",
		         vshm_format_name(info->format) ? vshm_format_name(info->format) : "?",
		         info->width, info->height,
		         info->flags & VSHM_FRAME_END_OF_STREAM ? " eos" : "");
	else
		snprintf(format, sizeof(format), "-");
	if (fps >= 0)
		snprintf(rate, sizeof(rate), "%.1f", fps);
	else if (info->frame_interval_ns)
		snprintf(rate, sizeof(rate), "%.1f*", 1e9 / (double)info->frame_interval_ns);
	else
		snprintf(rate, sizeof(rate), "-");
	format_age(info, age, sizeof(age));
	printf("%-24s %-12s %-22s %7s %10llu %7u %10llu %7s\n", name, state, format, rate,
	       (unsigned long long)info->frames_published, info->readers_alive,
	       (unsigned long long)info->overwrites, age);
}

static int visit(const struct vshm_stream_info *info, void *data)
{
	struct listing *listing = data;
	if (listing->options->clean) {
		if (info->status != VSHM_STREAM_STALE && info->status != VSHM_STREAM_DAMAGED)
			return 0;
		int result = vshm_stream_remove_stale(info->name);
		if (result == 0) {
			printf("removed stale stream '%s' (writer pid %u is gone)\n", info->name,
			       info->writer_pid);
			listing->removed++;
		} else if (result != -ENOENT && result != -EBUSY) { /* live: never removed */
			program_say("left '%s': %s", info->name, vshm_error());
			listing->failures++;
		}
		return 0;
	}
	double fps = listing->options->watch_seconds > 0 ? measured_fps(listing, info) : -1;
	if (listing->options->json)
		print_json(listing, info, fps);
	else
		print_row(info, fps);
	listing->shown++;
	return 0;
}

static int list_once(struct listing *listing)
{
	listing->shown = 0;
	listing->first_json = true;
	if (listing->options->json)
		printf("[");
	else if (!listing->options->clean)
		printf("%-24s %-12s %-22s %7s %10s %7s %10s %7s\n", "NAME", "STATE", "FRAME", "FPS",
		       "FRAMES", "READERS", "OVERWRITES", "AGE");
	int result = vshm_stream_list(visit, listing);
	if (listing->options->json)
		printf("%s]\n", listing->shown ? "\n" : "");
	if (result < 0) {
		program_say("%s", vshm_error());
		return 1;
	}
	if (!listing->options->json && !listing->options->clean && listing->shown == 0)
		printf("(no vshm streams)\n");
	if (listing->options->clean && listing->removed == 0 && listing->failures == 0)
		printf("no stale streams\n");
	fflush(stdout);
	return listing->failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "watch", optional_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "clean", no_argument, NULL, 'c' },
		PROGRAM_INFO_LONG_OPTIONS,
		{ 0 },
	};
	program_set_name("vshm-ls");
	struct options options = { 0 };
	int option;
	while ((option = getopt_long(argc, argv, "w::j" PROGRAM_INFO_SHORT_OPTIONS, long_options,
	                             NULL)) != -1) {
		switch (option) {
		case 'w':
			options.watch_seconds = 1.0;
			if (optarg && program_parse_seconds("--watch", optarg, WATCH_SECONDS_MIN,
			                                    &options.watch_seconds) < 0)
				return 2;
			break;
		case 'j':
			options.json = true;
			break;
		case 'c':
			options.clean = true;
			break;
		default: {
			int common = program_common_option(option, NULL, usage);
			return common > 0 ? 0 : 2;
		}
		}
	}
	/* `-w 2` as well as `-w2`: a number right after --watch is its interval. */
	if (options.watch_seconds > 0 && optind < argc &&
	    strspn(argv[optind], "0123456789.") == strlen(argv[optind])) {
		if (program_parse_seconds("--watch", argv[optind], WATCH_SECONDS_MIN,
		                          &options.watch_seconds) < 0)
			return 2;
		optind++;
	}
	if (optind != argc) {
		program_say("unexpected argument '%s'; try 'vshm-ls --help'", argv[optind]);
		return 2;
	}
	if (options.clean && (options.json || options.watch_seconds > 0)) {
		program_say("--clean goes alone, without --json or --watch");
		return 2;
	}
	static struct listing listing;
	listing.options = &options;
	if (options.watch_seconds <= 0)
		return list_once(&listing);

	program_shutdown_install();
	bool tty = isatty(STDOUT_FILENO);
	while (!program_shutdown_requested()) {
		if (tty && !options.json)
			printf("\033[H\033[2J"); /* home and clear, like top */
		if (list_once(&listing))
			return 1;
		struct timespec pause = { (time_t)options.watch_seconds,
			                  (long)((options.watch_seconds -
			                          (double)(time_t)options.watch_seconds) *
			                         1e9) };
		nanosleep(&pause, NULL);
	}
	program_shutdown_finish();
	return 0;
}

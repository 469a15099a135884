/*
 * vshm_filter_main(): everything a filter process needs around its one transform
 * function (see vshm/filter.h). The only pass over pixels is the filter's own, from the
 * input slot to the output slot; this file moves no pixel.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "options.h"
#include "readers.h"
#include "shutdown.h"
#include "status.h"
#include "vshm/filter.h"
#include "vshm/reader.h"
#include "vshm/util.h"
#include "vshm/vshm.h"
#include "vshm/writer.h"

#define WAIT_MS            500
#define RETRY_NS           50000000
#define STATUS_INTERVAL_NS 5000000000u
/* The per-frame times the median in the status line is taken over: the latest ones. */
#define RECENT_FRAMES 1024

struct filter_run {
	const struct vshm_filter *filter;
	const char *input_name;
	char output_name[VSHM_NAME_MAX + 1];
	uint32_t requested_format;
	uint32_t slot_count;
	int timeout_ms; /* < 0: wait for the input for ever */
	bool group_access;
	bool lossless;
	uint32_t wait_readers;
	bool quiet;
	struct vshm_reader *reader;
	struct vshm_writer *writer;
	uint64_t frames, torn, invalid, process_ns;
	uint64_t recent_ns[RECENT_FRAMES]; /* process() of the latest frames, a ring */
	/* And the time each of them spent in the filter, from its input's publish to its
	 * output's: the latency the stage adds to a chain, wake-up and bookkeeping included,
	 * measured on the frame itself rather than as the difference of two runs. */
	uint64_t recent_stage_ns[RECENT_FRAMES];
	uint64_t status_frames;
	struct program_status status;
	bool ended;
};

/* getopt_long() calls usage with the output only; the filter it describes is this one. */
static const struct vshm_filter *described_filter;

static void usage(FILE *out)
{
	const struct vshm_filter *filter = described_filter;
	char formats[256];
	program_format_list(filter->input_formats, formats, sizeof(formats));
	fprintf(out,
	        "Usage: %s [options] INPUT [OUTPUT]\n"
	        "\n"
	        "%s%s"
	        "Reads the vshm stream INPUT, applies the %s filter to each new frame, and\n"
	        "publishes the result as the stream OUTPUT (default: INPUT.%s).\n"
	        "Input formats: %s.\n"
	        "\n"
	        "Options:\n"
	        "  -f, --format FMT    pixel format of the output, if the filter can make it\n"
	        "      --slots N       slots in the output ring, %d..%d (default %d)\n"
	        "      --timeout SEC   give up if INPUT does not appear in time (default: wait)\n"
	        "      --group         let the owner's group read the output (mode "
	        "0660)\n"
	        "      --lossless      take every frame of INPUT: its writer waits for this\n"
	        "                      filter (for at most its lossless timeout, 1 s by\n"
	        "                      default) instead of going on without "
	        "it\n" PROGRAM_WAIT_READERS_HELP PROGRAM_COMMON_HELP "\n"
	        "Follows INPUT when its writer restarts; stops after passing on INPUT's end of\n"
	        "stream, or on Ctrl-C or SIGTERM, and then removes OUTPUT.\n"
	        "Exit status: 0 stopped, 1 stream or format error, 2 bad usage.\n",
	        program_name(), filter->description ? filter->description : "",
	        filter->description ? "\n\n" : "", filter->name, filter->name,
	        filter->input_formats ? formats : "all", VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX,
	        VSHM_SLOT_COUNT_DEFAULT);
}

static int parse_options(struct filter_run *run, int argc, char **argv)
{
	static const struct option options[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "slots", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "group", no_argument, NULL, 'g' },
		{ "lossless", no_argument, NULL, 'L' },
		{ "wait-readers", required_argument, NULL, 'W' },
		PROGRAM_COMMON_LONG_OPTIONS,
		{ 0 },
	};
	program_set_name(argv[0]);
	described_filter = run->filter;
	run->timeout_ms = -1;
	optind = 1;
	int option;
	while ((option = getopt_long(argc, argv, "f:" PROGRAM_COMMON_SHORT_OPTIONS, options,
	                             NULL)) != -1) {
		switch (option) {
		case 'f':
			if (program_parse_format("--format", optarg, &run->requested_format) < 0)
				return -1;
			if (!run->filter->output_format) {
				program_say("--format: this filter writes frames in its input's "
				            "format");
				return -1;
			}
			break;
		case 'S':
			if (program_parse_slots("--slots", optarg, &run->slot_count) < 0)
				return -1;
			break;
		case 't':
			if (program_parse_timeout("--timeout", optarg, &run->timeout_ms) < 0)
				return -1;
			break;
		case 'L':
			run->lossless = true;
			break;
		case 'W':
			if (program_parse_wait_readers(optarg, &run->wait_readers) < 0)
				return -1;
			break;
		case 'g':
			run->group_access = true;
			break;
		default: {
			int common = program_common_option(option, &run->quiet, usage);
			if (common != 0)
				return common;
		}
		}
	}
	int positional = argc - optind;
	if (positional < 1 || positional > 2) {
		program_say("%s; try '%s --help'",
		            positional < 1 ? "name the INPUT stream" : "give INPUT and OUTPUT only",
		            program_name());
		return -1;
	}
	run->input_name = argv[optind];
	if (vshm_name_check(run->input_name) < 0) {
		program_say("input: %s", vshm_error());
		return -1;
	}
	if (positional == 2) {
		snprintf(run->output_name, sizeof(run->output_name), "%s", argv[optind + 1]);
	} else {
		/* "<input>.<filter>", the input part shortened if the whole would be too long. */
		size_t suffix = strlen(run->filter->name) + 1;
		int keep = (int)(VSHM_NAME_MAX - (suffix < VSHM_NAME_MAX ? suffix : 0));
		snprintf(run->output_name, sizeof(run->output_name), "%.*s.%s", keep,
		         run->input_name, run->filter->name);
	}
	if (vshm_name_check(run->output_name) < 0) {
		program_say("output: %s", vshm_error());
		return -1;
	}
	if (strcmp(run->output_name, run->input_name) == 0) {
		program_say("INPUT and OUTPUT are both '%s': they must differ", run->input_name);
		return -1;
	}
	return 0;
}

static void sleep_ns(long nanoseconds)
{
	struct timespec duration = { 0, nanoseconds };
	nanosleep(&duration, NULL);
}

/* Says once that the input is awaited; stops waiting when the filter is asked to stop. */
static bool keep_waiting(const char *name, unsigned attempt, void *data)
{
	const struct filter_run *run = data;
	if (attempt == 0 && !run->quiet)
		program_say("waiting for input stream '%s'", name);
	return !program_shutdown_requested();
}

/* Attaches to the input, waiting for it to appear. Returns 0 (attached, or stopped by a
 * signal first: run->reader is NULL then), or 1 after saying why. */
static int attach_input(struct filter_run *run)
{
	/* A writer's bug that truncates the input must not kill the filter too. */
	struct vshm_reader_options options = { .guard_truncation = true,
		                               .lossless = run->lossless };
	run->reader =
	    vshm_reader_attach_wait(run->input_name, &options, run->timeout_ms, keep_waiting, run);
	if (run->reader || errno == EINTR)
		return 0;
	program_say("cannot read input stream '%s': %s", run->input_name, vshm_error());
	return 1;
}

static bool takes(const struct vshm_filter *filter, uint32_t format)
{
	if (!filter->input_formats)
		return true;
	for (const uint32_t *f = filter->input_formats; *f; f++) {
		if (*f == format)
			return true;
	}
	return false;
}

/* Creates the output stream, sized for the first output frame. Returns 0 or 1. */
static int create_output(struct filter_run *run, uint32_t format, const struct vshm_frame *input)
{
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(run->reader, &stats);
	struct vshm_writer_options options = {
		.slot_count = run->slot_count,
		.max_format = format,
		.max_width = input->width,
		.max_height = input->height,
		.frame_interval_ns = stats.frame_interval_ns,
		.group_access = run->group_access,
	};
	run->writer = vshm_writer_create(run->output_name, &options);
	if (!run->writer) {
		program_say("cannot create output stream '%s': %s", run->output_name, vshm_error());
		return 1;
	}
	if (!run->quiet)
		program_say("'%s' (%s) -> '%s' (%s), %ux%u", run->input_name,
		            vshm_format_name(input->format), run->output_name,
		            vshm_format_name(format), input->width, input->height);
	return 0;
}

/* Takes the newest input frame and makes one output frame of it. Returns 0 or 1. */
static int process_one(struct filter_run *run)
{
	const struct vshm_filter *filter = run->filter;
	struct vshm_frame input, output;
	int result = vshm_reader_acquire(run->reader, &input);
	if (result == -EBADMSG)
		run->invalid++;
	if (result < 0)
		return 0;
	if (!takes(filter, input.format)) {
		char formats[256];
		program_format_list(filter->input_formats, formats, sizeof(formats));
		program_say("input '%s' carries %s frames; this filter takes %s", run->input_name,
		            vshm_format_name(input.format), formats);
		vshm_reader_release(run->reader);
		return 1;
	}
	uint32_t format =
	    filter->output_format
	        ? filter->output_format(input.format, run->requested_format, filter->data)
	        : input.format;
	if (!format) {
		program_say("cannot make %s frames from %s input",
		            run->requested_format ? vshm_format_name(run->requested_format) : "any",
		            vshm_format_name(input.format));
		vshm_reader_release(run->reader);
		return 1;
	}
	bool first = !run->writer;
	if ((!run->writer && create_output(run, format, &input)) ||
	    vshm_writer_begin(run->writer, format, input.width, input.height, &output) < 0) {
		if (run->writer)
			program_say("output '%s': %s", run->output_name, vshm_error());
		vshm_reader_release(run->reader);
		return 1;
	}
	/* The output has the input's size, so its pixels keep their shape too. */
	output.color_matrix = input.color_matrix;
	output.color_range = input.color_range;
	output.color_primaries = input.color_primaries;
	output.color_transfer = input.color_transfer;
	output.sample_aspect = input.sample_aspect;
	uint64_t start = vshm_now_ns();
	result = filter->process(&input, &output, filter->data);
	uint64_t took = vshm_now_ns() - start;
	run->process_ns += took;
	run->recent_ns[run->frames % RECENT_FRAMES] = took;
	/* Only now do we know whether the input stayed whole while we read it. */
	int intact = vshm_reader_release(run->reader);
	if (result < 0) {
		vshm_writer_cancel(run->writer);
		return 1;
	}
	if (intact != 1) {
		vshm_writer_cancel(run->writer);
		run->torn++;
		return 0;
	}
	/* The input's number and capture time travel on, so a chain's latency shows. */
	output.frame_number = input.frame_number;
	output.capture_ns = input.capture_ns;
	output.flags = input.flags;
	if (first && !program_wait_for_readers(run->writer, run->wait_readers, run->quiet)) {
		vshm_writer_cancel(run->writer);
		return 0; /* stopped by a signal while waiting */
	}
	program_publish(run->writer, &output);
	/* Both stamps are CLOCK_MONOTONIC, which all processes share. */
	run->recent_stage_ns[run->frames % RECENT_FRAMES] =
	    output.publish_ns > input.publish_ns ? output.publish_ns - input.publish_ns : 0;
	run->frames++;
	/* The source has nothing more: the filter is done too (its readers keep the
	 * last frame, which says end-of-stream). */
	if (input.flags & VSHM_FRAME_END_OF_STREAM)
		run->ended = true;
	return 0;
}

static int compare_times(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The median of per-frame times (recent_ns or recent_stage_ns) over the latest frames,
 * in microseconds. */
static double recent_median_us(const struct filter_run *run, const uint64_t *times)
{
	uint64_t sorted[RECENT_FRAMES];
	size_t count = run->frames < RECENT_FRAMES ? (size_t)run->frames : RECENT_FRAMES;
	if (count == 0)
		return 0;
	memcpy(sorted, times, count * sizeof(sorted[0]));
	qsort(sorted, count, sizeof(sorted[0]), compare_times);
	return (double)sorted[count / 2] / 1e3;
}

/*
 * The status line, and with final the summary: frames, drops and the work per frame,
 * its mean over all frames and its median over the latest (a busy machine's
 * preemptions lengthen a few frames a lot, which moves the mean and not the median),
 * then the median time from input to output, which is what the filter adds to a
 * chain's latency: its work, its wake-up and its bookkeeping.
 */
static void print_status(struct filter_run *run, bool final, uint64_t elapsed_ns)
{
	char rate[32] = "";
	if (!final)
		snprintf(rate, sizeof(rate), ", %.1f fps",
		         (double)(run->frames - run->status_frames) * 1e9 /
		             (double)(elapsed_ns + 1));
	run->status_frames = run->frames;
	program_status_print(&run->status, final,
	                     "%s'%s' -> '%s': %llu frames, %llu torn inputs dropped, %llu invalid, "
	                     "%.1f us per frame (median %.1f us), %.1f us input to output "
	                     "(median)%s",
	                     final ? "done: " : "", run->input_name, run->output_name,
	                     (unsigned long long)run->frames, (unsigned long long)run->torn,
	                     (unsigned long long)run->invalid,
	                     run->frames ? (double)run->process_ns / 1e3 / (double)run->frames
	                                 : 0.0,
	                     recent_median_us(run, run->recent_ns),
	                     recent_median_us(run, run->recent_stage_ns), rate);
}

static int run_loop(struct filter_run *run)
{
	bool lost = false;
	while (!program_shutdown_requested() && !run->ended) {
		int result = vshm_reader_wait(run->reader, WAIT_MS);
		if (result == 0) {
			lost = false;
			if (process_one(run))
				return 1;
		} else if (result == -EPIPE && !lost) {
			lost = true;
			if (!run->quiet) {
				program_status_break(&run->status);
				program_say("input '%s' lost its writer; waiting for a new one",
				            run->input_name);
			}
		} else if (result == -ESTALE) {
			/* A new writer has the input's name: follow it. */
			if (vshm_reader_reattach(run->reader) < 0)
				sleep_ns(RETRY_NS);
		}
		uint64_t elapsed_ns;
		if (program_status_due(&run->status, &elapsed_ns))
			print_status(run, false, elapsed_ns);
	}
	return 0;
}

int vshm_filter_main(int argc, char **argv, const struct vshm_filter *filter)
{
	struct filter_run run = { .filter = filter };
	int parsed = parse_options(&run, argc, argv);
	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	program_shutdown_install();
	program_status_init(&run.status, run.quiet, STATUS_INTERVAL_NS);
	int status = attach_input(&run);
	if (status == 0 && run.reader)
		status = run_loop(&run);
	/* The summary, also after a failure: it says how far the filter got. */
	run.status.quiet = run.quiet && status == 0;
	print_status(&run, true, 0);
	/* Removes the output stream; its readers keep their last frame. */
	vshm_writer_destroy(run.writer);
	vshm_reader_detach(run.reader);
	/* Stopped by a signal rather than by the end of its input: a launcher must tell. */
	program_shutdown_finish();
	return status;
}

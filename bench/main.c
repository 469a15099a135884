/*
 * vshm-bench: measures the machine's limits and vshm's figures in the same run and
 * prints each vshm figure with its ratio to the limit that bounds it and whether it
 * meets its target (figures.h). Not a test: it never fails on a figure, only when it
 * cannot measure. This file measures; report.c prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "figures.h"

/* Time each side of a paired throughput run gets, in batches of the given length. */
#define WRITER_RUN_NS    200000000u
#define WRITER_BATCH_NS  2000000u
#define PIPE_RUN_NS      100000000u
#define READERS_RUN_NS   300000000u
#define READERS_BATCH_NS 20000000u

const struct bench_frame_size *const bench_writer_sizes[WRITER_SIZE_COUNT] = {
	&bench_frame_480p_nv12,  &bench_frame_720p_nv12,  &bench_frame_1080p_nv12,
	&bench_frame_1080p_rgba, &bench_frame_2160p_nv12,
};

static void progress(const char *step)
{
	/* Only on a terminal: a log of the run should hold the report and nothing else. */
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[Kvshm-bench: %s ...", step);
}

static void progress_done(void)
{
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
}

static double load_average(void)
{
	double load = 0;
	FILE *file = fopen("/proc/loadavg", "r");
	if (file) {
		if (fscanf(file, "%lf", &load) != 1)
			load = 0;
		fclose(file);
	}
	return load;
}

/* A pipe carrying frames of the size, in runs of its own: frames/s, run by run. */
static int measure_pipe(const struct bench_frame_size *size, const uint8_t *source,
                        double runs[BENCH_RUNS])
{
	struct bench_pipe *pipe = bench_pipe_start(size);
	if (!pipe)
		return -EIO;
	int result = 0;
	for (int run = 0; run < BENCH_RUNS && result == 0; run++) {
		struct bench_rate rate = { 0 };
		result = bench_pipe_run(pipe, source, PIPE_RUN_NS, &rate);
		runs[run] = bench_rate_per_second(&rate);
	}
	if (bench_pipe_stop(pipe) < 0 && result == 0)
		result = -ECHILD;
	return result;
}

/*
 * Alternates short batches of the memcpy limit and of the writer, from the same source
 * buffer, so that both see the same moments of a noisy machine; then the pipe.
 */
static int measure_writer(size_t index, struct figures *figures)
{
	const struct bench_frame_size *size = bench_writer_sizes[index];
	struct size_figures *out = &figures->sizes[index];
	uint8_t *source = bench_frame_source_create(size);
	if (!source)
		return -ENOMEM;
	int result = 0;
	struct bench_readers one_reader = { .count = 1, .style = BENCH_READERS_SLEEPING };
	struct bench_writer_rate *writer =
	    bench_writer_rate_start(size, &one_reader, "writer", source);
	if (!writer) {
		result = -EIO;
		goto error_source;
	}
	/* Between the writer's batches its sleeping reader looks at no pixel, so the
	 * limit may copy into the ring's slots without the protocol around it. */
	struct bench_memcpy_limit limit = { .frame_bytes = bench_frame_bytes(size) };
	limit.slot_count = bench_writer_rate_slots(writer, limit.slots, BENCH_SLOTS_MAX);
	if (limit.slot_count == 0) {
		fprintf(stderr, "vshm-bench: the writer published no frame while warming up\n");
		result = -EIO;
		goto error_writer;
	}
	double limit_runs[BENCH_RUNS], writer_runs[BENCH_RUNS], ratios[BENCH_RUNS];
	for (int run = 0; run < BENCH_RUNS && result == 0; run++) {
		struct bench_rate limit_rate = { 0 }, writer_rate = { 0 };
		while (result == 0 && limit_rate.elapsed_ns < WRITER_RUN_NS) {
			bench_memcpy_limit_run(&limit, source, WRITER_BATCH_NS, &limit_rate);
			result =
			    bench_writer_rate_run(writer, source, WRITER_BATCH_NS, &writer_rate);
		}
		limit_runs[run] = bench_rate_per_second(&limit_rate);
		writer_runs[run] = bench_rate_per_second(&writer_rate);
		ratios[run] = writer_runs[run] / limit_runs[run];
	}
	double pipe_runs[BENCH_RUNS];
	if (result == 0)
		result = measure_pipe(size, source, pipe_runs);
	if (result == 0) {
		out->memcpy_fps = bench_median(limit_runs, BENCH_RUNS);
		out->writer_fps = bench_median(writer_runs, BENCH_RUNS);
		out->writer_ratio = bench_median(ratios, BENCH_RUNS);
		out->pipe_fps = bench_median(pipe_runs, BENCH_RUNS);
		out->pipe_ratio = out->pipe_fps / out->memcpy_fps;
		out->memcpy_slots = limit.slot_count;
	}
error_writer:
	if (bench_writer_rate_stop(writer) < 0 && result == 0)
		result = -ECHILD;
error_source:
	bench_frame_source_free(source, size);
	return result;
}

/*
 * The writer at 1080p on four streams: with no reader, with 64 idle readers, with one
 * sleeping reader and with 64; and, for the floor, on two more with no ring at all,
 * whose writer wakes 1 or 64 processes asleep on a plain futex each frame; all in
 * alternating batches. The writer runs on the first CPU and every reader on the
 * second, so that the readers' own work (waking, acquiring) is not taken from the
 * writer's CPU. The batches are long enough that the readers of one stream have gone
 * back to sleep long before the batch ends, so their work is not counted against
 * another stream.
 * Frames per second say what the readers cost the writer in all; the time in begin and
 * publish says what the ring costs it (the rest is the copy, which the readers' work on
 * the other CPU can slow through the machine). One sleeping reader against 64 says
 * what each more reader costs, apart from what waking a sleeper costs at all; the floors
 * say what waking 1 and 64 sleepers costs on this machine with no ring.
 */
static int measure_readers(struct figures *figures)
{
	const struct bench_frame_size *size = &bench_frame_1080p_nv12;
	static const char *const names[READERS_STREAM_COUNT] = {
		[READERS_NONE] = "no-reader",
		[READERS_IDLE] = "idle-readers",
		[READERS_ONE_SLEEPING] = "one-sleeping-reader",
		[READERS_SLEEPING] = "sleeping-readers",
		[READERS_FUTEX_FLOOR] = "futex-floor",
		[READERS_FUTEX_FLOOR_MANY] = "futex-floor-many",
	};
	const struct bench_readers configs[READERS_STREAM_COUNT] = {
		[READERS_NONE] = { .count = 0, .pinned = true },
		[READERS_IDLE] = { .count = MANY_READERS,
		                   .style = BENCH_READERS_IDLE,
		                   .pinned = true },
		[READERS_ONE_SLEEPING] = { .count = 1,
		                           .style = BENCH_READERS_SLEEPING,
		                           .pinned = true },
		[READERS_SLEEPING] = { .count = MANY_READERS,
		                       .style = BENCH_READERS_SLEEPING,
		                       .pinned = true },
		[READERS_FUTEX_FLOOR] = { .count = 1,
		                          .style = BENCH_READERS_BARE_FUTEX,
		                          .pinned = true },
		[READERS_FUTEX_FLOOR_MANY] = { .count = MANY_READERS,
		                               .style = BENCH_READERS_BARE_FUTEX,
		                               .pinned = true },
	};
	struct bench_writer_rate *streams[READERS_STREAM_COUNT] = { NULL };
	int result = 0;
	uint8_t *source = bench_frame_source_create(size);
	if (!source)
		return -ENOMEM;
	for (int i = 0; i < READERS_STREAM_COUNT && result == 0; i++) {
		streams[i] = bench_writer_rate_start(size, &configs[i], names[i], source);
		if (!streams[i])
			result = -EIO;
	}
	/* Per run; the figures are their medians, ratios taken within a run. */
	double fps[READERS_STREAM_COUNT][BENCH_RUNS], fps_ratio[READERS_STREAM_COUNT][BENCH_RUNS];
	double ring_ns[READERS_STREAM_COUNT][BENCH_RUNS],
	    ring_ratio[READERS_STREAM_COUNT][BENCH_RUNS], sleeping_to_one[BENCH_RUNS],
	    sleeping_to_one_fps[BENCH_RUNS], one_to_floor_fps[BENCH_RUNS],
	    sleeping_to_floor_fps[BENCH_RUNS];
	uint64_t published = 0;
	uint64_t read_before =
	    result == 0 ? bench_writer_rate_frames_read(streams[READERS_SLEEPING]) : 0;
	bench_pin(0);
	for (int run = 0; run < BENCH_RUNS && result == 0; run++) {
		struct bench_rate rates[READERS_STREAM_COUNT] = { { 0 } };
		while (result == 0 && rates[READERS_NONE].elapsed_ns < READERS_RUN_NS) {
			for (int i = 0; i < READERS_STREAM_COUNT && result == 0; i++)
				result = bench_writer_rate_run(streams[i], source, READERS_BATCH_NS,
				                               &rates[i]);
		}
		for (int i = 0; i < READERS_STREAM_COUNT; i++) {
			fps[i][run] = bench_rate_per_second(&rates[i]);
			ring_ns[i][run] = rates[i].frames
			                      ? (double)rates[i].ring_ns / (double)rates[i].frames
			                      : 0;
		}
		for (int i = 0; i < READERS_STREAM_COUNT; i++) {
			fps_ratio[i][run] = fps[i][run] / fps[READERS_NONE][run];
			ring_ratio[i][run] = ring_ns[i][run] / ring_ns[READERS_NONE][run];
		}
		sleeping_to_one[run] =
		    ring_ns[READERS_SLEEPING][run] / ring_ns[READERS_ONE_SLEEPING][run];
		sleeping_to_one_fps[run] =
		    fps[READERS_SLEEPING][run] / fps[READERS_ONE_SLEEPING][run];
		one_to_floor_fps[run] =
		    fps[READERS_ONE_SLEEPING][run] / fps[READERS_FUTEX_FLOOR][run];
		sleeping_to_floor_fps[run] =
		    fps[READERS_SLEEPING][run] / fps[READERS_FUTEX_FLOOR_MANY][run];
		published += rates[READERS_SLEEPING].frames;
	}
	bench_unpin();
	uint64_t read = result == 0
	                    ? bench_writer_rate_frames_read(streams[READERS_SLEEPING]) - read_before
	                    : 0;
	for (int i = READERS_STREAM_COUNT - 1; i >= 0; i--) {
		if (bench_writer_rate_stop(streams[i]) < 0 && result == 0)
			result = -ECHILD;
	}
	if (result == 0) {
		struct readers_figures *out = &figures->readers;
		for (int i = 0; i < READERS_STREAM_COUNT; i++) {
			out->fps[i] = bench_median(fps[i], BENCH_RUNS);
			out->fps_ratio[i] = bench_median(fps_ratio[i], BENCH_RUNS);
			out->ring_ns[i] = bench_median(ring_ns[i], BENCH_RUNS);
			out->ring_ratio[i] = bench_median(ring_ratio[i], BENCH_RUNS);
		}
		out->sleeping_to_one_ratio = bench_median(sleeping_to_one, BENCH_RUNS);
		out->sleeping_to_one_fps_ratio = bench_median(sleeping_to_one_fps, BENCH_RUNS);
		out->one_to_floor_fps_ratio = bench_median(one_to_floor_fps, BENCH_RUNS);
		out->sleeping_to_floor_fps_ratio = bench_median(sleeping_to_floor_fps, BENCH_RUNS);
		out->sleeping_share = (double)read / MANY_READERS / (double)published;
	}
	bench_frame_source_free(source, size);
	return result;
}

/*
 * Runs of the ping-pong (and, for the spinning reader, the timestamped handoff), each
 * followed by a run of the publish latency they bound.
 */
static int measure_latency(enum bench_reader_style style, struct latency_figures *figures)
{
	bool spinning = style == BENCH_READER_SPINNING;
	double limits[BENCH_RUNS], limit_p99s[BENCH_RUNS], handoffs[BENCH_RUNS];
	double medians[BENCH_RUNS], p99s[BENCH_RUNS];
	double ratios[BENCH_RUNS], p99_ratios[BENCH_RUNS], handoff_ratios[BENCH_RUNS];
	uint64_t torn = 0;
	for (int run = 0; run < BENCH_RUNS; run++) {
		struct bench_latency limit, handoff = { 0 }, one;
		int result = spinning ? bench_cache_line_pingpong(&limit, &figures->limit_samples)
		                      : bench_futex_pingpong(&limit, &figures->limit_samples);
		if (result == 0 && spinning)
			result = bench_timestamped_handoff(&handoff);
		if (result == 0)
			result = bench_publish_latency(style, &one, &figures->latency_samples);
		if (result < 0)
			return result;
		limits[run] = limit.median_ns;
		limit_p99s[run] = limit.p99_ns;
		handoffs[run] = handoff.median_ns;
		medians[run] = one.median_ns;
		p99s[run] = one.p99_ns;
		ratios[run] = one.median_ns / limit.median_ns;
		p99_ratios[run] = one.p99_ns / limit.p99_ns;
		handoff_ratios[run] = spinning ? one.median_ns / handoff.median_ns : 0;
		torn += one.torn;
	}
	figures->limit.median_ns = bench_median(limits, BENCH_RUNS);
	figures->limit.p99_ns = bench_median(limit_p99s, BENCH_RUNS);
	figures->handoff.median_ns = bench_median(handoffs, BENCH_RUNS);
	figures->latency.median_ns = bench_median(medians, BENCH_RUNS);
	figures->latency.p99_ns = bench_median(p99s, BENCH_RUNS);
	figures->latency.torn = torn;
	figures->ratio = bench_median(ratios, BENCH_RUNS);
	figures->p99_ratio = bench_median(p99_ratios, BENCH_RUNS);
	figures->handoff_ratio = bench_median(handoff_ratios, BENCH_RUNS);
	return 0;
}

static int measure_acquire(struct figures *figures)
{
	double small[BENCH_RUNS], large[BENCH_RUNS], spread[BENCH_RUNS];
	for (int run = 0; run < BENCH_RUNS; run++) {
		int result = bench_acquire_release(&bench_frame_64_bytes, &bench_frame_2160p_nv12,
		                                   &small[run], &large[run]);
		if (result < 0)
			return result;
		spread[run] = large[run] / small[run];
	}
	figures->acquire_small_ns = bench_median(small, BENCH_RUNS);
	figures->acquire_large_ns = bench_median(large, BENCH_RUNS);
	figures->acquire_spread = bench_median(spread, BENCH_RUNS);
	return 0;
}

static int measure(struct figures *figures)
{
	int result;
	progress("cache-line ping-pong and spinning reader");
	if ((result = measure_latency(BENCH_READER_SPINNING, &figures->spinning)) < 0)
		return result;
	progress("futex ping-pong and sleeping reader");
	if ((result = measure_latency(BENCH_READER_SLEEPING, &figures->sleeping)) < 0)
		return result;
	progress("acquire+release");
	if ((result = measure_acquire(figures)) < 0)
		return result;
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		char step[64];
		snprintf(step, sizeof(step), "memcpy, writer and pipe, %s",
		         bench_writer_sizes[i]->label);
		progress(step);
		if ((result = measure_writer(i, figures)) < 0)
			return result;
	}
	progress("writer with no reader, 64 idle and 64 sleeping readers, and the futex floor");
	if ((result = measure_readers(figures)) < 0)
		return result;
	progress("time to first frame");
	if ((result = bench_first_frame(&bench_frame_2160p_nv12, &figures->first_frame)) < 0)
		return result;
	progress_done();
	return 0;
}

/*
 * --futex: the futex wake-ups alone, for the scripts that hold figures against them:
 * the ping-pong's, and that of a process asleep for a 60 fps frame interval.
 */
static int print_futex_wake_up(void)
{
	double medians[BENCH_RUNS], p99s[BENCH_RUNS];
	for (int run = 0; run < BENCH_RUNS; run++) {
		struct bench_latency one_way;
		int result = bench_futex_pingpong(&one_way, NULL);
		if (result < 0) {
			fprintf(stderr, "vshm-bench: the futex ping-pong failed (%s)\n",
			        strerror(-result));
			return 1;
		}
		medians[run] = one_way.median_ns;
		p99s[run] = one_way.p99_ns;
	}
	struct bench_latency idle;
	int result = bench_futex_wake_after(1000000000u / 60, &idle);
	if (result < 0) {
		fprintf(stderr,
		        "vshm-bench: the futex wake-up after a frame interval failed (%s)\n",
		        strerror(-result));
		return 1;
	}
	printf("%.0f %.0f %.0f %.0f\n", bench_median(medians, BENCH_RUNS),
	       bench_median(p99s, BENCH_RUNS), idle.median_ns, idle.p99_ns);
	return 0;
}

/*
 * --spinning: the spinning reader's latency alone, next to the ping-pong and the
 * timestamped handoff of the same runs: the figure a change to acquire or publish
 * moves, in half a minute instead of the whole benchmark's minutes.
 */
static int print_spinning(void)
{
	struct latency_figures spinning = { 0 };
	int result = measure_latency(BENCH_READER_SPINNING, &spinning);
	bench_samples_free(&spinning.limit_samples);
	bench_samples_free(&spinning.latency_samples);
	if (result < 0) {
		fprintf(stderr, "vshm-bench: the spinning reader's latency failed (%s)\n",
		        strerror(-result));
		return 1;
	}
	printf("publish->observe, spinning reader: median %.0f ns (%.2fx the cache-line "
	       "ping-pong's %.0f ns, %.2fx the stamped handoff's %.0f ns), p99 %.0f ns "
	       "(%.2fx); %llu torn\n",
	       spinning.latency.median_ns, spinning.ratio, spinning.limit.median_ns,
	       spinning.handoff_ratio, spinning.handoff.median_ns, spinning.latency.p99_ns,
	       spinning.p99_ratio, (unsigned long long)spinning.latency.torn);
	return 0;
}

/*
 * --readers: the writer with many readers alone, the figure a change to waking or to
 * the reader table moves, in seconds instead of minutes.
 */
static int print_readers(void)
{
	struct figures figures = { 0 };
	int result = measure_readers(&figures);
	if (result < 0) {
		fprintf(stderr, "vshm-bench: the writer with many readers failed (%s)\n",
		        strerror(-result));
		return 1;
	}
	const struct readers_figures *readers = &figures.readers;
	printf("writer frames/s at 1080p NV12: no reader %.0f; %d idle readers %.0f (%.2fx); "
	       "1 sleeping reader %.0f (%.2fx); %d sleeping readers %.0f (%.2fx; %.2fx 1 "
	       "sleeping), each took %.0f%% of the frames\n",
	       readers->fps[READERS_NONE], MANY_READERS, readers->fps[READERS_IDLE],
	       readers->fps_ratio[READERS_IDLE], readers->fps[READERS_ONE_SLEEPING],
	       readers->fps_ratio[READERS_ONE_SLEEPING], MANY_READERS,
	       readers->fps[READERS_SLEEPING], readers->fps_ratio[READERS_SLEEPING],
	       readers->sleeping_to_one_fps_ratio, 100 * readers->sleeping_share);
	printf("of which in begin + publish, per frame: no reader %.0f ns; %d idle %.0f ns; "
	       "1 sleeping %.0f ns; %d sleeping %.0f ns (%.2fx 1 sleeping)\n",
	       readers->ring_ns[READERS_NONE], MANY_READERS, readers->ring_ns[READERS_IDLE],
	       readers->ring_ns[READERS_ONE_SLEEPING], MANY_READERS,
	       readers->ring_ns[READERS_SLEEPING], readers->sleeping_to_one_ratio);
	printf("floors, no ring: a futex wake of 1 sleeping process each frame %.0f frames/s "
	       "(%.2fx no reader; %.0f ns a wake), of %d %.0f frames/s (%.2fx; %.0f ns); 1 "
	       "sleeping reader %.2fx the first, %d sleeping %.2fx the second\n",
	       readers->fps[READERS_FUTEX_FLOOR], readers->fps_ratio[READERS_FUTEX_FLOOR],
	       readers->ring_ns[READERS_FUTEX_FLOOR], MANY_READERS,
	       readers->fps[READERS_FUTEX_FLOOR_MANY], readers->fps_ratio[READERS_FUTEX_FLOOR_MANY],
	       readers->ring_ns[READERS_FUTEX_FLOOR_MANY], readers->one_to_floor_fps_ratio,
	       MANY_READERS, readers->sleeping_to_floor_fps_ratio);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: vshm-bench [--data DIR]\n"
	        "       vshm-bench --futex\n"
	        "       vshm-bench --readers\n"
	        "       vshm-bench --spinning\n"
	        "\n"
	        "Measures the machine's limits (memcpy into shared memory, a pipe, cache-line\n"
	        "and futex ping-pongs) and vshm's figures in the same run, and prints each\n"
	        "figure with its ratio to its limit and its target. Takes a minute or two;\n"
	        "run it on an idle machine (scripts/bench.sh builds and runs it).\n"
	        "\n"
	        "  --data DIR   also write the report's tables (summary.md) and the data of\n"
	        "               its plots (*.tsv) into DIR, which must exist\n"
	        "  --futex      only measure futex wake-ups between two processes, one way:\n"
	        "               print the median and 99th percentile of the ping-pong's, then\n"
	        "               of a process asleep for 1/60 s, in nanoseconds\n"
	        "  --readers    only measure the writer with no reader, 64 idle readers, 1\n"
	        "               and 64 sleeping readers, and its time in begin + publish;\n"
	        "               and the floor: no ring, a futex wake of 1 sleeper a frame\n"
	        "  --spinning   only measure the spinning reader's latency, next to the\n"
	        "               cache-line ping-pong and the stamped handoff\n"
	        "  --help       show this help\n"
	        "\n"
	        "Exit status: 0 measured, 1 a measurement failed or was interrupted, 2 bad "
	        "usage.\n");
}

int main(int argc, char **argv)
{
	const char *data_directory = NULL;
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--futex") == 0) {
		if (bench_process_init() < 0)
			return 1;
		return print_futex_wake_up();
	}
	if (argc == 2 && strcmp(argv[1], "--readers") == 0) {
		if (bench_process_init() < 0)
			return 1;
		return print_readers();
	}
	if (argc == 2 && strcmp(argv[1], "--spinning") == 0) {
		if (bench_process_init() < 0)
			return 1;
		return print_spinning();
	}
	if (argc == 3 && strcmp(argv[1], "--data") == 0) {
		data_directory = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "vshm-bench: unknown arguments; try 'vshm-bench --help'\n");
		return 2;
	}
	/* Said now, not after the minutes of measuring. */
	if (data_directory && access(data_directory, W_OK) < 0) {
		fprintf(stderr,
		        "vshm-bench: cannot write into '%s': %s; make the directory first\n",
		        data_directory, strerror(errno));
		return 1;
	}
	if (bench_process_init() < 0)
		return 1;
	struct figures *figures = calloc(1, sizeof(*figures));
	if (!figures) {
		fprintf(stderr, "vshm-bench: out of memory\n");
		return 1;
	}
	figures->load_before = load_average();
	int result = measure(figures);
	figures->load_after = load_average();
	if (result < 0) {
		progress_done();
		if (bench_stopping())
			fprintf(stderr,
			        "vshm-bench: interrupted; streams removed, helpers reaped\n");
		else
			fprintf(stderr, "vshm-bench: measurement failed (%s); see above\n",
			        strerror(-result));
	} else {
		report_print(figures);
		if (data_directory && report_write(figures, data_directory) < 0)
			result = -EIO;
	}
	bench_samples_free(&figures->spinning.limit_samples);
	bench_samples_free(&figures->spinning.latency_samples);
	bench_samples_free(&figures->sleeping.limit_samples);
	bench_samples_free(&figures->sleeping.latency_samples);
	free(figures);
	return result < 0 ? 1 : 0;
}

/*
 * vshm-bench: measures the machine's limits and vshm's figures in the same run and
 * prints each vshm figure with its ratio to the limit that bounds it and whether it
 * meets its target (below). Not a test: it never fails on a figure, only when it cannot
 * measure. Takes no options.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

/* Time each side of a paired throughput run gets, in batches of the given length. */
#define WRITER_RUN_NS         200000000u
#define WRITER_BATCH_NS       2000000u
#define READER_COUNT_RUN_NS   300000000u
#define READER_COUNT_BATCH_NS 20000000u
#define MANY_READERS          8

/*
 * What vshm must reach, each figure against the limit measured beside it: latency within
 * a small factor of the fastest cross-process signal the machine has (a spinning reader
 * against a cache-line ping-pong, a sleeping one against a futex ping-pong), a writer
 * close to memcpy into shared memory, a reader whose acquire + release costs the same
 * for any frame size (nothing is copied), and readers that cost the writer little.
 */
#define SPINNING_TARGET     2.0 /* x the cache-line ping-pong */
#define SLEEPING_TARGET     1.3 /* x the futex ping-pong */
#define WRITER_TARGET       0.9 /* x memcpy at 2160p NV12 */
#define ACQUIRE_TARGET_NS   200.0
#define ACQUIRE_SPREAD      0.2 /* 2160p within 20% of 64 B */
#define MANY_READERS_TARGET 0.9 /* fps with 8 readers / fps with 1 */

static const struct bench_frame_size *const writer_sizes[] = {
	&bench_frame_1080p_nv12,
	&bench_frame_1080p_rgba,
	&bench_frame_2160p_nv12,
};
#define WRITER_SIZE_COUNT (sizeof(writer_sizes) / sizeof(writer_sizes[0]))

/*
 * Each ratio is the median of per-run ratios, a run measuring the limit and the vshm
 * figure back to back: on a virtual machine whose CPUs the host moves around, the
 * limit itself changes from minute to minute, and pairing keeps like with like.
 */
struct latency_figures {
	double limit_ns;   /* cache-line or futex ping-pong, one way */
	double handoff_ns; /* timestamped cache-line handoff (spinning only) */
	struct bench_latency latency;
	double ratio;         /* latency median / limit */
	double p99_ratio;     /* latency p99 / limit */
	double handoff_ratio; /* latency median / handoff */
};

struct figures {
	struct latency_figures spinning;
	struct latency_figures sleeping;
	double memcpy_fps[WRITER_SIZE_COUNT];
	double writer_fps[WRITER_SIZE_COUNT];
	double writer_ratio[WRITER_SIZE_COUNT];
	unsigned memcpy_slots[WRITER_SIZE_COUNT];
	double acquire_small_ns;
	double acquire_large_ns;
	double acquire_spread; /* 2160p over 64 B */
	double one_reader_fps;
	double many_readers_fps;
	double many_readers_ratio;
	double many_readers_share; /* frames acquired per reader / frames published */
	struct bench_first_frame first_frame;
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

/*
 * Alternates short batches of the memcpy limit and of the writer, from the same source
 * buffer, so that both see the same moments of a noisy machine.
 */
static int measure_writer(size_t index, struct figures *figures)
{
	const struct bench_frame_size *size = writer_sizes[index];
	uint8_t *source = bench_frame_source_create(size);
	if (!source)
		return -ENOMEM;
	int result = 0;
	struct bench_writer_rate *writer = bench_writer_rate_start(size, 1, "writer", source);
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
	if (result == 0) {
		figures->memcpy_fps[index] = bench_median(limit_runs, BENCH_RUNS);
		figures->writer_fps[index] = bench_median(writer_runs, BENCH_RUNS);
		figures->writer_ratio[index] = bench_median(ratios, BENCH_RUNS);
		figures->memcpy_slots[index] = limit.slot_count;
	}
error_writer:
	if (bench_writer_rate_stop(writer) < 0 && result == 0)
		result = -ECHILD;
error_source:
	bench_frame_source_free(source, size);
	return result;
}

/*
 * Alternates batches on a stream with one reader and on one with eight. The batches are
 * long enough that the readers of one stream have gone back to sleep long before the
 * batch ends, so their work is not counted against the other stream.
 */
static int measure_reader_count(struct figures *figures)
{
	const struct bench_frame_size *size = &bench_frame_1080p_nv12;
	int result = 0;
	uint8_t *source = bench_frame_source_create(size);
	if (!source)
		return -ENOMEM;
	struct bench_writer_rate *one = bench_writer_rate_start(size, 1, "one-reader", source);
	if (!one) {
		result = -EIO;
		goto error_source;
	}
	struct bench_writer_rate *many =
	    bench_writer_rate_start(size, MANY_READERS, "readers", source);
	if (!many) {
		result = -EIO;
		goto error_one;
	}
	double one_runs[BENCH_RUNS], many_runs[BENCH_RUNS], ratios[BENCH_RUNS];
	uint64_t published = 0;
	uint64_t read_before = bench_writer_rate_frames_read(many);
	for (int run = 0; run < BENCH_RUNS && result == 0; run++) {
		struct bench_rate one_rate = { 0 }, many_rate = { 0 };
		while (result == 0 && one_rate.elapsed_ns < READER_COUNT_RUN_NS) {
			result =
			    bench_writer_rate_run(one, source, READER_COUNT_BATCH_NS, &one_rate);
			if (result == 0)
				result = bench_writer_rate_run(many, source, READER_COUNT_BATCH_NS,
				                               &many_rate);
		}
		one_runs[run] = bench_rate_per_second(&one_rate);
		many_runs[run] = bench_rate_per_second(&many_rate);
		ratios[run] = many_runs[run] / one_runs[run];
		published += many_rate.frames;
	}
	uint64_t read = bench_writer_rate_frames_read(many) - read_before;
	if (bench_writer_rate_stop(many) < 0 && result == 0)
		result = -ECHILD;
	if (result == 0) {
		figures->one_reader_fps = bench_median(one_runs, BENCH_RUNS);
		figures->many_readers_fps = bench_median(many_runs, BENCH_RUNS);
		figures->many_readers_ratio = bench_median(ratios, BENCH_RUNS);
		figures->many_readers_share = (double)read / MANY_READERS / (double)published;
	}
error_one:
	if (bench_writer_rate_stop(one) < 0 && result == 0)
		result = -ECHILD;
error_source:
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
	double limits[BENCH_RUNS], handoffs[BENCH_RUNS], medians[BENCH_RUNS], p99s[BENCH_RUNS];
	double ratios[BENCH_RUNS], p99_ratios[BENCH_RUNS], handoff_ratios[BENCH_RUNS];
	uint64_t torn = 0;
	for (int run = 0; run < BENCH_RUNS; run++) {
		struct bench_latency one;
		int result = spinning ? bench_cache_line_pingpong(&limits[run])
		                      : bench_futex_pingpong(&limits[run]);
		handoffs[run] = 0;
		if (result == 0 && spinning)
			result = bench_timestamped_handoff(&handoffs[run]);
		if (result == 0)
			result = bench_publish_latency(style, &one);
		if (result < 0)
			return result;
		medians[run] = one.median_ns;
		p99s[run] = one.p99_ns;
		ratios[run] = one.median_ns / limits[run];
		p99_ratios[run] = one.p99_ns / limits[run];
		handoff_ratios[run] = spinning ? one.median_ns / handoffs[run] : 0;
		torn += one.torn;
	}
	figures->limit_ns = bench_median(limits, BENCH_RUNS);
	figures->handoff_ns = bench_median(handoffs, BENCH_RUNS);
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
		snprintf(step, sizeof(step), "memcpy and writer, %s", writer_sizes[i]->label);
		progress(step);
		if ((result = measure_writer(i, figures)) < 0)
			return result;
	}
	progress("writer with 1 and 8 readers");
	if ((result = measure_reader_count(figures)) < 0)
		return result;
	progress("time to first frame");
	if ((result = bench_first_frame(&bench_frame_2160p_nv12, &figures->first_frame)) < 0)
		return result;
	progress_done();
	return 0;
}

/* --- the report --- */

static const char *format_time(char *out, size_t size, double ns)
{
	if (ns < 1e3)
		snprintf(out, size, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(out, size, "%.2f us", ns / 1e3);
	else
		snprintf(out, size, "%.2f ms", ns / 1e6);
	return out;
}

struct verdicts {
	int met;
	int total;
	char missed[256];
};

static const char *judge(struct verdicts *verdicts, bool pass, const char *what)
{
	verdicts->total++;
	if (pass) {
		verdicts->met++;
		return "PASS";
	}
	size_t used = strlen(verdicts->missed);
	snprintf(verdicts->missed + used, sizeof(verdicts->missed) - used, "%s%s", used ? ", " : "",
	         what);
	return "MISS";
}

/* One vshm row: what, figure, ratio and what it is to, target, verdict. */
static void row(const char *what, const char *figure, double ratio, const char *ratio_to,
                const char *target, const char *verdict)
{
	char ratio_text[48] = "", line[160];
	if (ratio_to)
		snprintf(ratio_text, sizeof(ratio_text), "%6.2fx %s", ratio, ratio_to);
	snprintf(line, sizeof(line), "  %-30s %10s  %-26s %-18s %s", what, figure, ratio_text,
	         target, verdict ? verdict : "");
	/* Rows without a target or verdict end in padding; keep the report free of it. */
	size_t end = strlen(line);
	while (end > 0 && line[end - 1] == ' ')
		line[--end] = '\0';
	printf("%s\n", line);
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

static void print_header(double load_at_start)
{
	struct utsname system;
	char cpu[128] = "unknown CPU";
	FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
	if (cpuinfo) {
		char line[256];
		while (fgets(line, sizeof(line), cpuinfo)) {
			char *colon = strchr(line, ':');
			if (strncmp(line, "model name", 10) == 0 && colon) {
				snprintf(cpu, sizeof(cpu), "%s", colon + 2);
				cpu[strcspn(cpu, "\n")] = '\0';
				break;
			}
		}
		fclose(cpuinfo);
	}
	uname(&system);
	printf("vshm %s benchmark on %d CPUs (%s), Linux %s\n", VSHM_VERSION_STRING,
	       bench_cpu_count(), cpu, system.release);
	printf("Load average %.2f before the run and %.2f after (other work on these CPUs "
	       "adds noise).\n",
	       load_at_start, load_average());
	printf("Each figure is the median of %d runs. Each ratio is the median of per-run "
	       "ratios,\nthe limit and the vshm figure being measured back to back in every "
	       "run. The two\nprocesses of a latency measurement are pinned to different "
	       "CPUs%s;\nthroughput runs are not pinned.\n",
	       BENCH_RUNS, bench_cpu_count() >= 2 ? "" : " (not possible: one CPU)");
}

static void print_limits(const struct figures *figures)
{
	char text[32];
	printf("\nMachine limits\n");
	printf("  memcpy of a frame into the already-faulted slots of a ring (shared memory),\n"
	       "  in turn, with no protocol around it:\n");
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		double bytes = (double)bench_frame_bytes(writer_sizes[i]);
		printf("    %-12s %6.2f MiB %7.2f GB/s %8.0f frames/s  (%u slots)\n",
		       writer_sizes[i]->label, bytes / (1 << 20),
		       figures->memcpy_fps[i] * bytes / 1e9, figures->memcpy_fps[i],
		       figures->memcpy_slots[i]);
	}
	printf("  cache-line ping-pong, 2 spinning processes, one way       %10s\n",
	       format_time(text, sizeof(text), figures->spinning.limit_ns));
	printf("  that line carrying a CLOCK_MONOTONIC stamp, stamp->seen   %10s\n",
	       format_time(text, sizeof(text), figures->spinning.handoff_ns));
	printf("  futex wake-up, 2 processes, one way (round trip / 2)      %10s\n",
	       format_time(text, sizeof(text), figures->sleeping.limit_ns));
}

static void print_latency(struct verdicts *verdicts, const struct figures *figures)
{
	char figure[32], target[32];
	const struct latency_figures *spin = &figures->spinning, *sleep = &figures->sleeping;
	printf("  publish->observe, spinning reader (polls vshm_reader_acquire())\n");
	snprintf(target, sizeof(target), "<= %.1fx", SPINNING_TARGET);
	row("  median", format_time(figure, sizeof(figure), spin->latency.median_ns), spin->ratio,
	    "ping-pong", target,
	    judge(verdicts, spin->ratio <= SPINNING_TARGET, "spinning latency"));
	row("", "", spin->handoff_ratio, "stamped handoff", "", NULL);
	row("  p99", format_time(figure, sizeof(figure), spin->latency.p99_ns), spin->p99_ratio,
	    "ping-pong", "", NULL);

	printf("  publish->observe, sleeping reader (vshm_reader_wait(), then acquire)\n");
	snprintf(target, sizeof(target), "<= %.1fx", SLEEPING_TARGET);
	row("  median", format_time(figure, sizeof(figure), sleep->latency.median_ns), sleep->ratio,
	    "futex wake-up", target,
	    judge(verdicts, sleep->ratio <= SLEEPING_TARGET, "sleeping latency"));
	row("  p99", format_time(figure, sizeof(figure), sleep->latency.p99_ns), sleep->p99_ratio,
	    "futex wake-up", "", NULL);
}

static void print_writer(struct verdicts *verdicts, const struct figures *figures)
{
	char figure[32], target[32];
	printf("  writer frames/s: begin, one memcpy, publish; 1 sleeping reader in another "
	       "process\n");
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		char what[48];
		snprintf(what, sizeof(what), "  %s", writer_sizes[i]->label);
		snprintf(figure, sizeof(figure), "%.0f/s", figures->writer_fps[i]);
		double ratio = figures->writer_ratio[i];
		bool targeted = writer_sizes[i] == &bench_frame_2160p_nv12;
		snprintf(target, sizeof(target), ">= %.1fx", WRITER_TARGET);
		row(what, figure, ratio, "memcpy", targeted ? target : "",
		    targeted ? judge(verdicts, ratio >= WRITER_TARGET, "writer at 2160p NV12")
		             : NULL);
	}
}

static void print_acquire(struct verdicts *verdicts, const struct figures *figures)
{
	char figure[32], what[48];
	double small = figures->acquire_small_ns, large = figures->acquire_large_ns;
	double spread = figures->acquire_spread;
	bool pass = small <= ACQUIRE_TARGET_NS && large <= ACQUIRE_TARGET_NS &&
	            spread >= 1 - ACQUIRE_SPREAD && spread <= 1 + ACQUIRE_SPREAD;
	printf("  reader acquire+release, in a loop in another process than the idle writer\n");
	snprintf(what, sizeof(what), "  %s (64 B)", bench_frame_64_bytes.label);
	row(what, format_time(figure, sizeof(figure), small), small / ACQUIRE_TARGET_NS, "200 ns",
	    "<= 200 ns", NULL);
	snprintf(what, sizeof(what), "  %s", bench_frame_2160p_nv12.label);
	row(what, format_time(figure, sizeof(figure), large), spread, "64 B", "<= 200 ns, 0.8-1.2x",
	    judge(verdicts, pass, "acquire+release"));
}

static void print_reader_count(struct verdicts *verdicts, const struct figures *figures)
{
	char figure[32], what[48], target[32];
	double ratio = figures->many_readers_ratio;
	printf("  writer frames/s, 1080p NV12, readers sleeping in other processes, each\n"
	       "  acquiring and releasing every frame it is woken for\n");
	snprintf(figure, sizeof(figure), "%.0f/s", figures->one_reader_fps);
	row("  1 reader", figure, 0, NULL, "", NULL);
	snprintf(figure, sizeof(figure), "%.0f/s", figures->many_readers_fps);
	snprintf(what, sizeof(what), "  %d readers", MANY_READERS);
	snprintf(target, sizeof(target), ">= %.1fx", MANY_READERS_TARGET);
	row(what, figure, ratio, "1 reader", target,
	    judge(verdicts, ratio >= MANY_READERS_TARGET, "8 readers"));
}

static void print_notes(const struct figures *figures)
{
	char spinning[32], sleeping[32];
	printf(
	    "  Latency frames are %s; after a frame is observed the writer waits %s\n"
	    "  (spinning) or %s (sleeping) before the next. Frames found torn: %llu. Each\n"
	    "  of the %d readers acquired %.0f%% of the frames published.\n",
	    bench_frame_64_bytes.label,
	    format_time(spinning, sizeof(spinning),
	                (double)bench_latency_interval_ns(BENCH_READER_SPINNING)),
	    format_time(sleeping, sizeof(sleeping),
	                (double)bench_latency_interval_ns(BENCH_READER_SLEEPING)),
	    (unsigned long long)(figures->spinning.latency.torn + figures->sleeping.latency.torn),
	    MANY_READERS, 100 * figures->many_readers_share);
}

static void print_first_frame(const struct figures *figures)
{
	const struct bench_first_frame *first = &figures->first_frame;
	double steady_ms = 1e3 / figures->writer_fps[WRITER_SIZE_COUNT - 1];
	printf("\nTime to the first frame, 2160p NV12 (slots are prefaulted at creation)\n");
	printf("  create the stream, then begin + memcpy + publish   %8.2f ms  (first time "
	       "%.2f ms)\n",
	       first->first_frame_ms, first->first_run_ms);
	printf("    of which vshm_writer_create()                    %8.2f ms\n", first->create_ms);
	printf("  a frame in steady state, for comparison            %8.2f ms\n", steady_ms);
	printf("  one memcpy into a fresh, unfaulted shared mapping  %8.2f ms\n",
	       first->unfaulted_copy_ms);
}

static void print_report(const struct figures *figures, double load_at_start)
{
	struct verdicts verdicts = { 0 };
	print_header(load_at_start);
	print_limits(figures);
	printf("\nvshm%39s  %-26s %-18s %s\n", "figure", "ratio to its limit", "target", "verdict");
	print_latency(&verdicts, figures);
	print_writer(&verdicts, figures);
	print_acquire(&verdicts, figures);
	print_reader_count(&verdicts, figures);
	print_notes(figures);
	print_first_frame(figures);
	printf("\nTargets met: %d of %d%s%s\n", verdicts.met, verdicts.total,
	       verdicts.missed[0] ? "; missed: " : "", verdicts.missed);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usage: %s (no options; see scripts/bench.sh)\n", argv[0]);
		return 2;
	}
	if (bench_process_init() < 0)
		return 1;
	double load_at_start = load_average();
	struct figures figures;
	memset(&figures, 0, sizeof(figures));
	int result = measure(&figures);
	if (result < 0) {
		progress_done();
		if (bench_stopping())
			fprintf(stderr,
			        "vshm-bench: interrupted; streams removed, helpers reaped\n");
		else
			fprintf(stderr, "vshm-bench: measurement failed (%s); see above\n",
			        strerror(-result));
		return 1;
	}
	print_report(&figures, load_at_start);
	return 0;
}

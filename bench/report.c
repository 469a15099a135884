/*
 * The report of one vshm-bench run: on the terminal, and as files for
 * scripts/bench.sh --report (summary.md with the same tables in Markdown, and the data
 * of the plots). The vshm figures are gathered once into rows (what, figure, ratio to
 * its limit, target, verdict), which both forms print.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "figures.h"

#define ROWS_MAX 48

struct row {
	const char *section; /* a heading printed before the row, or NULL */
	char what[48];
	char figure[32];
	char ratio[48];
	char target[24];
	const char *verdict; /* "PASS", "MISS" or NULL for a row without a target */
};

struct rows {
	struct row row[ROWS_MAX];
	int count;
	int met;
	int judged;
	char missed[256];
};

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

static struct row *add_row(struct rows *rows, const char *section, const char *what, ...)
    __attribute__((format(printf, 3, 4)));
static struct row *add_row(struct rows *rows, const char *section, const char *what, ...)
{
	struct row *row = &rows->row[rows->count < ROWS_MAX - 1 ? rows->count++ : ROWS_MAX - 1];
	memset(row, 0, sizeof(*row));
	row->section = section;
	va_list arguments;
	va_start(arguments, what);
	vsnprintf(row->what, sizeof(row->what), what, arguments);
	va_end(arguments);
	return row;
}

/* Sets the row's ratio text: "1.23x what". */
static void set_ratio(struct row *row, double ratio, const char *to)
{
	snprintf(row->ratio, sizeof(row->ratio), "%.2fx %s", ratio, to);
}

static void judge(struct rows *rows, struct row *row, bool pass, const char *target,
                  const char *name)
{
	snprintf(row->target, sizeof(row->target), "%s", target);
	row->verdict = pass ? "PASS" : "MISS";
	rows->judged++;
	if (pass) {
		rows->met++;
		return;
	}
	size_t used = strlen(rows->missed);
	snprintf(rows->missed + used, sizeof(rows->missed) - used, "%s%s", used ? ", " : "", name);
}

static void latency_rows(struct rows *rows, const struct figures *figures)
{
	const struct latency_figures *spin = &figures->spinning, *sleep = &figures->sleeping;
	char target[24];
	struct row *row =
	    add_row(rows, "publish->observe, spinning reader (polls vshm_reader_poll())", "median");
	format_time(row->figure, sizeof(row->figure), spin->latency.median_ns);
	set_ratio(row, spin->ratio, "ping-pong");
	snprintf(target, sizeof(target), "<= %.1fx", SPINNING_TARGET);
	judge(rows, row, spin->ratio <= SPINNING_TARGET, target, "spinning latency");
	row = add_row(rows, NULL, "median");
	set_ratio(row, spin->handoff_ratio, "stamped handoff");
	row = add_row(rows, NULL, "p99");
	format_time(row->figure, sizeof(row->figure), spin->latency.p99_ns);
	set_ratio(row, spin->p99_ratio, "ping-pong p99");

	row = add_row(rows, "publish->observe, sleeping reader (vshm_reader_wait(), then acquire)",
	              "median");
	format_time(row->figure, sizeof(row->figure), sleep->latency.median_ns);
	set_ratio(row, sleep->ratio, "futex wake-up");
	snprintf(target, sizeof(target), "<= %.1fx", SLEEPING_TARGET);
	judge(rows, row, sleep->ratio <= SLEEPING_TARGET, target, "sleeping latency");
	row = add_row(rows, NULL, "p99");
	format_time(row->figure, sizeof(row->figure), sleep->latency.p99_ns);
	set_ratio(row, sleep->p99_ratio, "futex wake-up p99");
}

static void writer_rows(struct rows *rows, const struct figures *figures)
{
	const char *section =
	    "writer frames/s: begin, one memcpy, publish; 1 sleeping reader in another process";
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		const struct size_figures *size = &figures->sizes[i];
		struct row *row =
		    add_row(rows, i == 0 ? section : NULL, "%s", bench_writer_sizes[i]->label);
		snprintf(row->figure, sizeof(row->figure), "%.0f/s", size->writer_fps);
		set_ratio(row, size->writer_ratio, "memcpy");
		if (i == WRITER_TARGET_SIZE) {
			char target[24];
			snprintf(target, sizeof(target), ">= %.1fx", WRITER_TARGET);
			judge(rows, row, size->writer_ratio >= WRITER_TARGET, target,
			      "writer at 2160p NV12");
		}
	}
}

static void acquire_rows(struct rows *rows, const struct figures *figures)
{
	double small = figures->acquire_small_ns, large = figures->acquire_large_ns;
	double spread = figures->acquire_spread;
	bool pass = small <= ACQUIRE_TARGET_NS && large <= ACQUIRE_TARGET_NS &&
	            spread >= 1 - ACQUIRE_SPREAD && spread <= 1 + ACQUIRE_SPREAD;
	struct row *row = add_row(
	    rows, "reader acquire+release, in a loop in another process than the idle writer",
	    "%s (64 B)", bench_frame_64_bytes.label);
	format_time(row->figure, sizeof(row->figure), small);
	set_ratio(row, small / ACQUIRE_TARGET_NS, "200 ns");
	row = add_row(rows, NULL, "%s", bench_frame_2160p_nv12.label);
	format_time(row->figure, sizeof(row->figure), large);
	set_ratio(row, spread, "64 B");
	judge(rows, row, pass, "<= 200 ns, 0.8-1.2x", "acquire+release");
}

static void readers_rows(struct rows *rows, const struct figures *figures)
{
	const struct readers_figures *readers = &figures->readers;
	char target[24];
	snprintf(target, sizeof(target), ">= %.2fx", READERS_TARGET);
	struct row *row = add_row(rows,
	                          "writer frames/s at 1080p NV12, the writer on one CPU and the "
	                          "readers on the other",
	                          "no reader");
	snprintf(row->figure, sizeof(row->figure), "%.0f/s", readers->fps[READERS_NONE]);
	row = add_row(rows, NULL, "%d idle readers", MANY_READERS);
	snprintf(row->figure, sizeof(row->figure), "%.0f/s", readers->fps[READERS_IDLE]);
	set_ratio(row, readers->fps_ratio[READERS_IDLE], "no reader");
	judge(rows, row, readers->fps_ratio[READERS_IDLE] >= READERS_TARGET, target,
	      "64 idle readers");
	row = add_row(rows, NULL, "1 sleeping reader");
	snprintf(row->figure, sizeof(row->figure), "%.0f/s", readers->fps[READERS_ONE_SLEEPING]);
	set_ratio(row, readers->fps_ratio[READERS_ONE_SLEEPING], "no reader");
	row = add_row(rows, NULL, "%d sleeping readers", MANY_READERS);
	snprintf(row->figure, sizeof(row->figure), "%.0f/s", readers->fps[READERS_SLEEPING]);
	set_ratio(row, readers->fps_ratio[READERS_SLEEPING], "no reader");
	judge(rows, row, readers->fps_ratio[READERS_SLEEPING] >= READERS_TARGET, target,
	      "64 sleeping readers");
	row = add_row(rows, NULL, "%d sleeping readers, against 1", MANY_READERS);
	set_ratio(row, readers->sleeping_to_one_fps_ratio, "1 sleeping reader");
	/* What waking a sleeper costs at all here, with no ring: what the target is held
	 * against, too. */
	row = add_row(rows, NULL, "floor: no ring, 1 futex sleeper woken a frame");
	snprintf(row->figure, sizeof(row->figure), "%.0f/s", readers->fps[READERS_FUTEX_FLOOR]);
	set_ratio(row, readers->fps_ratio[READERS_FUTEX_FLOOR], "no reader");
	row = add_row(rows, NULL, "floor: no ring, %d futex sleepers", MANY_READERS);
	snprintf(row->figure, sizeof(row->figure), "%.0f/s",
	         readers->fps[READERS_FUTEX_FLOOR_MANY]);
	set_ratio(row, readers->fps_ratio[READERS_FUTEX_FLOOR_MANY], "no reader");
	row = add_row(rows, NULL, "1 sleeping reader, against its floor");
	set_ratio(row, readers->one_to_floor_fps_ratio, "1-sleeper floor");
	row = add_row(rows, NULL, "%d sleeping readers, against theirs", MANY_READERS);
	set_ratio(row, readers->sleeping_to_floor_fps_ratio, "64-sleeper floor");
	/* The ring's own part of each frame, apart from the copy. */
	row = add_row(rows, "of those frames' time, in begin + publish", "no reader");
	snprintf(row->figure, sizeof(row->figure), "%.0f ns", readers->ring_ns[READERS_NONE]);
	row = add_row(rows, NULL, "%d idle readers", MANY_READERS);
	snprintf(row->figure, sizeof(row->figure), "%.0f ns", readers->ring_ns[READERS_IDLE]);
	set_ratio(row, readers->ring_ratio[READERS_IDLE], "no reader");
	row = add_row(rows, NULL, "1 sleeping reader");
	snprintf(row->figure, sizeof(row->figure), "%.0f ns",
	         readers->ring_ns[READERS_ONE_SLEEPING]);
	set_ratio(row, readers->ring_ratio[READERS_ONE_SLEEPING], "no reader");
	row = add_row(rows, NULL, "%d sleeping readers", MANY_READERS);
	snprintf(row->figure, sizeof(row->figure), "%.0f ns", readers->ring_ns[READERS_SLEEPING]);
	set_ratio(row, readers->sleeping_to_one_ratio, "1 sleeping reader");
	row = add_row(rows, NULL, "floor: the futex wake of 1 sleeper");
	snprintf(row->figure, sizeof(row->figure), "%.0f ns",
	         readers->ring_ns[READERS_FUTEX_FLOOR]);
	row = add_row(rows, NULL, "floor: the futex wake of %d", MANY_READERS);
	snprintf(row->figure, sizeof(row->figure), "%.0f ns",
	         readers->ring_ns[READERS_FUTEX_FLOOR_MANY]);
}

static void gather(struct rows *rows, const struct figures *figures)
{
	memset(rows, 0, sizeof(*rows));
	latency_rows(rows, figures);
	writer_rows(rows, figures);
	acquire_rows(rows, figures);
	readers_rows(rows, figures);
}

/* --- the terminal --- */

static void print_header(const struct figures *figures)
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
	       figures->load_before, figures->load_after);
	printf("Each figure is the median of %d runs. Each ratio is the median of per-run "
	       "ratios,\nthe limit and the vshm figure being measured back to back in every "
	       "run. The two\nprocesses of a latency measurement are pinned to different "
	       "CPUs%s.\n",
	       BENCH_RUNS, bench_cpu_count() >= 2 ? "" : " (not possible: one CPU)");
}

static void print_limits(const struct figures *figures)
{
	char median[32], p99[32];
	printf("\nMachine limits\n");
	printf("  memcpy of a frame into the already-faulted slots of a ring (shared memory),\n"
	       "  in turn, with no protocol around it; a pipe carrying the same frames to a\n"
	       "  reader in another process:\n");
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		const struct size_figures *size = &figures->sizes[i];
		double bytes = (double)bench_frame_bytes(bench_writer_sizes[i]);
		printf("    %-12s %6.2f MiB %6.2f GB/s %7.0f frames/s   pipe %6.0f frames/s "
		       "(%.2fx)\n",
		       bench_writer_sizes[i]->label, bytes / (1 << 20),
		       size->memcpy_fps * bytes / 1e9, size->memcpy_fps, size->pipe_fps,
		       size->pipe_ratio);
	}
	printf("  one way, median and p99:\n");
	printf("  cache-line ping-pong, 2 spinning processes          %10s %10s\n",
	       format_time(median, sizeof(median), figures->spinning.limit.median_ns),
	       format_time(p99, sizeof(p99), figures->spinning.limit.p99_ns));
	printf("  that line carrying a CLOCK_MONOTONIC stamp           %10s\n",
	       format_time(median, sizeof(median), figures->spinning.handoff.median_ns));
	printf("  futex wake-up, 2 processes (round trip / 2)          %10s %10s\n",
	       format_time(median, sizeof(median), figures->sleeping.limit.median_ns),
	       format_time(p99, sizeof(p99), figures->sleeping.limit.p99_ns));
}

static void print_rows(const struct rows *rows)
{
	printf("\nvshm%39s  %-26s %-18s %s\n", "figure", "ratio to its limit", "target", "verdict");
	for (int i = 0; i < rows->count; i++) {
		const struct row *row = &rows->row[i];
		if (row->section)
			printf("  %s\n", row->section);
		char line[200];
		snprintf(line, sizeof(line), "    %-28s %10s  %-26s %-18s %s", row->what,
		         row->figure, row->ratio, row->target, row->verdict ? row->verdict : "");
		/* Rows without a target or verdict end in padding; keep the report free of it. */
		size_t end = strlen(line);
		while (end > 0 && line[end - 1] == ' ')
			line[--end] = '\0';
		printf("%s\n", line);
	}
}

static void print_notes(const struct figures *figures)
{
	char spinning[32], sleeping[32];
	printf(
	    "  Latency frames are %s; after a frame is observed the writer waits %s\n"
	    "  (spinning) or %s (sleeping) before the next. Frames found torn: %llu. Each\n"
	    "  of the %d sleeping readers acquired %.0f%% of the frames published.\n",
	    bench_frame_64_bytes.label,
	    format_time(spinning, sizeof(spinning),
	                (double)bench_latency_interval_ns(BENCH_READER_SPINNING)),
	    format_time(sleeping, sizeof(sleeping),
	                (double)bench_latency_interval_ns(BENCH_READER_SLEEPING)),
	    (unsigned long long)(figures->spinning.latency.torn + figures->sleeping.latency.torn),
	    MANY_READERS, 100 * figures->readers.sleeping_share);
}

static void print_first_frame(const struct figures *figures)
{
	const struct bench_first_frame *first = &figures->first_frame;
	double steady_ms = 1e3 / figures->sizes[WRITER_TARGET_SIZE].writer_fps;
	printf("\nTime to the first frame, 2160p NV12 (slots are prefaulted at creation)\n");
	printf("  create the stream, then begin + memcpy + publish   %8.2f ms  (first time "
	       "%.2f ms)\n",
	       first->first_frame_ms, first->first_run_ms);
	printf("    of which vshm_writer_create()                    %8.2f ms\n", first->create_ms);
	printf("  a frame in steady state, for comparison            %8.2f ms\n", steady_ms);
	printf("  one memcpy into a fresh, unfaulted shared mapping  %8.2f ms\n",
	       first->unfaulted_copy_ms);
}

void report_print(const struct figures *figures)
{
	struct rows rows;
	gather(&rows, figures);
	print_header(figures);
	print_limits(figures);
	print_rows(&rows);
	print_notes(figures);
	print_first_frame(figures);
	printf("\nTargets met: %d of %d%s%s\n", rows.met, rows.judged,
	       rows.missed[0] ? "; missed: " : "", rows.missed);
}

/* --- the files of scripts/bench.sh --report --- */

static FILE *open_in(const char *directory, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", directory, name);
	FILE *file = fopen(path, "w");
	if (!file)
		fprintf(stderr, "vshm-bench: cannot write '%s': %s\n", path, strerror(errno));
	return file;
}

static int close_file(FILE *file, const char *directory, const char *name)
{
	if (fclose(file) == 0)
		return 0;
	fprintf(stderr, "vshm-bench: cannot write '%s/%s': %s\n", directory, name, strerror(errno));
	return -EIO;
}

static void write_markdown(FILE *out, const struct figures *figures, const struct rows *rows)
{
	char median[32], p99[32];
	fprintf(out, "### Machine limits\n\n");
	fprintf(out, "| limit | median | p99 |\n| --- | ---: | ---: |\n");
	fprintf(out, "| cache-line ping-pong between 2 spinning processes, one way | %s | %s |\n",
	        format_time(median, sizeof(median), figures->spinning.limit.median_ns),
	        format_time(p99, sizeof(p99), figures->spinning.limit.p99_ns));
	fprintf(out, "| that cache line carrying a CLOCK_MONOTONIC stamp, stamp to seen | %s | |\n",
	        format_time(median, sizeof(median), figures->spinning.handoff.median_ns));
	fprintf(out, "| futex wake-up between 2 processes, one way (round trip / 2) | %s | %s |\n",
	        format_time(median, sizeof(median), figures->sleeping.limit.median_ns),
	        format_time(p99, sizeof(p99), figures->sleeping.limit.p99_ns));
	fprintf(out, "\n| frame | size | memcpy into shared memory | vshm writer | writer / memcpy "
	             "| pipe to another process | pipe / memcpy |\n");
	fprintf(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		const struct size_figures *size = &figures->sizes[i];
		double bytes = (double)bench_frame_bytes(bench_writer_sizes[i]);
		fprintf(
		    out,
		    "| %s | %.2f MiB | %.0f frames/s (%.1f GB/s) | %.0f frames/s | %.2fx | %.0f "
		    "frames/s | %.2fx |\n",
		    bench_writer_sizes[i]->label, bytes / (1 << 20), size->memcpy_fps,
		    size->memcpy_fps * bytes / 1e9, size->writer_fps, size->writer_ratio,
		    size->pipe_fps, size->pipe_ratio);
	}
	fprintf(out, "\n### vshm against those limits\n\n");
	fprintf(out, "| figure | value | ratio to its limit | target | verdict |\n");
	fprintf(out, "| --- | ---: | --- | --- | --- |\n");
	for (int i = 0; i < rows->count; i++) {
		const struct row *row = &rows->row[i];
		if (row->section)
			fprintf(out, "| **%s** | | | | |\n", row->section);
		fprintf(out, "| %s | %s | %s | %s | %s |\n", row->what, row->figure, row->ratio,
		        row->target, row->verdict ? row->verdict : "");
	}
	fprintf(out, "\nTargets met: %d of %d%s%s.\n", rows->met, rows->judged,
	        rows->missed[0] ? "; missed: " : "", rows->missed);
	const struct bench_first_frame *first = &figures->first_frame;
	fprintf(out,
	        "\nTime to the first 2160p NV12 frame (stream creation, which prefaults every "
	        "slot, then begin, memcpy and publish): %.2f ms, of which %.2f ms creating; "
	        "one memcpy into a fresh, unfaulted mapping takes %.2f ms.\n",
	        first->first_frame_ms, first->create_ms, first->unfaulted_copy_ms);
}

/* The distribution as 999 quantiles, "fraction<TAB>nanoseconds", for a plot of it. */
static int write_quantiles(const char *directory, const char *name,
                           const struct bench_samples *samples)
{
	double *sorted = malloc((samples->count ? samples->count : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, samples->values, samples->count * sizeof(*sorted));
	/* Sorts them once; each quantile below is then a look-up. */
	bench_median(sorted, samples->count);
	FILE *out = open_in(directory, name);
	if (!out) {
		free(sorted);
		return -EIO;
	}
	fprintf(out, "# fraction\tnanoseconds (of %zu samples)\n", samples->count);
	for (size_t step = 1; step < 1000 && samples->count; step++) {
		/* Nearest rank, as bench_percentile(). */
		size_t rank = (step * samples->count + 999) / 1000;
		fprintf(out, "%.3f\t%.1f\n", (double)step / 1000, sorted[rank ? rank - 1 : 0]);
	}
	free(sorted);
	return close_file(out, directory, name);
}

int report_write(const struct figures *figures, const char *directory)
{
	struct rows rows;
	gather(&rows, figures);
	FILE *out = open_in(directory, "summary.md");
	if (!out)
		return -EIO;
	write_markdown(out, figures, &rows);
	if (close_file(out, directory, "summary.md") < 0)
		return -EIO;

	out = open_in(directory, "throughput.tsv");
	if (!out)
		return -EIO;
	fprintf(out, "# MiB\tmemcpy frames/s\twriter frames/s\tpipe frames/s\tframe\n");
	for (size_t i = 0; i < WRITER_SIZE_COUNT; i++) {
		const struct size_figures *size = &figures->sizes[i];
		fprintf(out, "%.3f\t%.1f\t%.1f\t%.1f\t%s\n",
		        (double)bench_frame_bytes(bench_writer_sizes[i]) / (1 << 20),
		        size->memcpy_fps, size->writer_fps, size->pipe_fps,
		        bench_writer_sizes[i]->label);
	}
	if (close_file(out, directory, "throughput.tsv") < 0)
		return -EIO;

	int result = write_quantiles(directory, "pingpong.tsv", &figures->spinning.limit_samples);
	if (result == 0)
		result =
		    write_quantiles(directory, "spinning.tsv", &figures->spinning.latency_samples);
	if (result == 0)
		result = write_quantiles(directory, "futex.tsv", &figures->sleeping.limit_samples);
	if (result == 0)
		result =
		    write_quantiles(directory, "sleeping.tsv", &figures->sleeping.latency_samples);
	return result;
}

/*
 * What one run of vshm-bench measured, as main.c gathers it and report.c prints it (on
 * the terminal, and as Markdown and data files for scripts/bench.sh --report), with the
 * targets each figure is judged against.
 */
#ifndef VSHM_BENCH_FIGURES_H
#define VSHM_BENCH_FIGURES_H

#include "bench.h"

/*
 * What vshm must reach, each figure against the limit measured beside it: latency within
 * a small factor of the fastest cross-process signal the machine has (a spinning reader
 * against a cache-line ping-pong, a sleeping one against a futex ping-pong), a writer
 * close to memcpy into shared memory, a reader whose acquire + release costs the same
 * for any frame size (nothing is copied), and readers that cost the writer nothing
 * however many are attached, idle or sleeping.
 */
#define SPINNING_TARGET   2.0 /* x the cache-line ping-pong, median */
#define SLEEPING_TARGET   1.3 /* x the futex ping-pong, median */
#define WRITER_TARGET     0.9 /* x memcpy at 2160p NV12 */
#define ACQUIRE_TARGET_NS 200.0
#define ACQUIRE_SPREAD    0.2  /* 2160p within 20% of 64 B */
#define READERS_TARGET    0.97 /* fps with 64 readers / fps with none */
#define MANY_READERS      64

/* The frame sizes the writer, memcpy and the pipe are measured at, smallest first. */
extern const struct bench_frame_size *const bench_writer_sizes[];
#define WRITER_SIZE_COUNT 5
/* The one the writer's target is about. */
#define WRITER_TARGET_SIZE 4

/*
 * Each ratio is the median of per-run ratios, a run measuring the limit and the vshm
 * figure back to back: on a virtual machine whose CPUs the host moves around, the
 * limit itself changes from minute to minute, and pairing keeps like with like.
 */
struct latency_figures {
	struct bench_latency limit;   /* cache-line or futex ping-pong, one way */
	struct bench_latency handoff; /* timestamped cache-line handoff (spinning only) */
	struct bench_latency latency; /* publish to observe */
	double ratio;                 /* latency median / limit median */
	double p99_ratio;             /* latency p99 / limit p99 */
	double handoff_ratio;         /* latency median / handoff median */
	struct bench_samples limit_samples;
	struct bench_samples latency_samples;
};

struct size_figures {
	double memcpy_fps;
	double writer_fps;
	double pipe_fps;
	double writer_ratio; /* writer / memcpy */
	double pipe_ratio;   /* pipe / memcpy */
	unsigned memcpy_slots;
};

/* The streams of the many-readers figure, each with its own readers. */
enum readers_stream {
	READERS_NONE,
	READERS_IDLE,         /* MANY_READERS attached, never acquiring */
	READERS_ONE_SLEEPING, /* 1 reader in vshm_reader_wait() */
	READERS_SLEEPING,     /* MANY_READERS in vshm_reader_wait() */
	/* No ring: 1 process asleep on a plain futex word, woken each frame. The floor of
	 * any writer whose readers sleep, as a reader that sleeps needs waking. */
	READERS_FUTEX_FLOOR,
	READERS_FUTEX_FLOOR_MANY, /* the same with MANY_READERS asleep, all woken each frame */
	READERS_STREAM_COUNT
};

struct readers_figures {
	double fps[READERS_STREAM_COUNT];
	double fps_ratio[READERS_STREAM_COUNT]; /* to READERS_NONE */
	/* Of each frame's time, nanoseconds in vshm_writer_begin() and _publish(): what the
	 * ring itself costs the writer, apart from the copy, which the readers' work on the
	 * other CPU can slow too. */
	double ring_ns[READERS_STREAM_COUNT];
	double ring_ratio[READERS_STREAM_COUNT]; /* to READERS_NONE */
	double sleeping_to_one_ratio;            /* ring_ns: MANY_READERS sleeping over 1 */
	double sleeping_to_one_fps_ratio;        /* fps: MANY_READERS sleeping over 1 */
	double one_to_floor_fps_ratio;           /* fps: 1 sleeping over the 1-sleeper floor */
	double sleeping_to_floor_fps_ratio;      /* fps: MANY_READERS sleeping over theirs */
	double sleeping_share; /* frames each sleeping reader acquired / frames published */
};

struct figures {
	double load_before;
	double load_after;
	struct latency_figures spinning;
	struct latency_figures sleeping;
	struct size_figures sizes[WRITER_SIZE_COUNT];
	double acquire_small_ns;
	double acquire_large_ns;
	double acquire_spread; /* 2160p over 64 B */
	struct readers_figures readers;
	struct bench_first_frame first_frame;
};

/* The report on standard output, as the terminal shows it. */
void report_print(const struct figures *figures);

/*
 * The report as files in directory: summary.md (the tables, in Markdown), throughput.tsv
 * (frames/s against frame size) and one .tsv per latency distribution (its quantiles),
 * which scripts/bench.sh --report turns into docs/benchmarks.md and its plots. Returns 0
 * or a negative errno after printing why.
 */
int report_write(const struct figures *figures, const char *directory);

#endif

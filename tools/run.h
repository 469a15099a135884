/*
 * vshm-run's pipeline: its stages, as run.c builds them from the command line and
 * run-stages.c starts, watches and stops them.
 */
#ifndef VSHM_TOOLS_RUN_H
#define VSHM_TOOLS_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <vshm/vshm.h>

#define STAGES_MAX    16
#define ARGUMENTS_MAX 64
/* --restart restarts a stage at most this often within its window (--restart-window):
 * a stage that keeps dying stops the pipeline, one that dies now and then over days
 * does not. */
#define RESTARTS_MAX 10
/* A filter whose upstream finished gets this long to pass the end on by itself. */
#define UPSTREAM_GONE_GRACE_MS 2000

struct stage {
	char program[PATH_MAX];
	char *arguments[ARGUMENTS_MAX]; /* argv, with the stream names added */
	int argument_count;
	char label[64]; /* "1 grayscale", for messages */
	/* The stream it writes, "" for a viewer: PREFIX.N, at most 61 + 1 + 2 characters; the
	 * room beyond keeps the compiler's truncation check quiet. */
	char output[VSHM_NAME_MAX + 16];
	pid_t pid;
	int restarts;                         /* in all */
	uint64_t restart_times[RESTARTS_MAX]; /* the latest ones, a ring */
	bool viewer;
	uint64_t stop_at_ns; /* when its upstream finished: stop it then if still running */
	bool stopped_by_us;  /* we stopped it after its upstream finished */
};

struct pipeline {
	struct stage stages[STAGES_MAX];
	int count;
	char prefix[VSHM_NAME_MAX + 1];
	bool restart;
	uint64_t restart_window_ns;
	bool verbose;
	bool dry_run;
	bool lossless;
};

/*
 * Starts every stage, then watches them until the last one ends, a stage fails (and
 * may not restart), or a signal asks vshm-run to stop; then stops the stages still
 * running, last first, and removes the streams that killed ones left. Returns the exit
 * code: 1 if a stage could not start or failed, else 0 (also when a signal stopped the
 * pipeline: the caller then ends by that signal).
 */
int run_pipeline(struct pipeline *pipeline);

#endif
